//! End-to-end tests through the public surface: the `shouwang` binary and
//! the HTTP API. One test binary (see Cargo.toml) to keep link time down.

mod alerts_api;
mod api;
mod attachments_api;
mod cli;
mod crash;
mod delivery_api;
mod detect_cli;
mod helpers;
mod idempotency_api;
mod ingest_api;
mod ingest_cli;
mod notices_api;
mod syslog;
mod syslog_tls;
mod web_console;
