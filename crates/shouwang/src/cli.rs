//! The command line: every subcommand and flag, with its help text.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "shouwang", version, about = "守望 Shouwang: registry, attribution and response for a cybersecurity coordination centre")]
pub struct Cli {
    /// Config file (default: ./shouwang.toml if it exists). SHOUWANG_* variables override it.
    #[arg(short, long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP API.
    Serve {
        /// Address to listen on (overrides config).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// On an empty registry: load the demo region and create an admin user and token.
        #[arg(long)]
        demo: bool,
    },
    /// Who owns an address, domain, URL, email address or AS number. One JSON object per line.
    Attribute {
        /// Values to look up; without any, reads one per line from stdin.
        values: Vec<String>,
        /// Answer as of this RFC 3339 instant instead of now.
        #[arg(long)]
        at: Option<jiff::Timestamp>,
    },
    /// Hunt offline: run Sigma rules over files of events, without a server.
    /// Each hit is a JSON line on stdout (rule, level, input, line); rules that
    /// cannot be used and records that cannot be read are listed on stderr.
    Detect {
        /// Sigma rule files or directories (rules, correlations, filters). Repeatable.
        #[arg(long, required = true)]
        rules: Vec<PathBuf>,
        /// Field-name pipeline: sysmon, ecs_windows, fibratus_windows, or a
        /// pySigma processing-pipeline YAML file. Repeatable; applied in order.
        #[arg(long)]
        pipeline: Vec<String>,
        /// Threat indicators: CSV files, STIX 2.1 bundles, MISP events or
        /// MISP feed directories. Repeatable.
        #[arg(long)]
        indicators: Vec<PathBuf>,
        /// A registry (directory of CSV files or a JSON document, as
        /// `registry import` reads): each hit then names the units and
        /// assets its record touches, with the level proposed for each.
        #[arg(long)]
        registry: Option<PathBuf>,
        /// Event files or directories (every file below): JSON lines, JSON
        /// exports spread over lines (evtx dumps), or text lines; `-` for stdin.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
    /// Registry import, export and checks.
    #[command(subcommand)]
    Registry(RegistryCmd),
    /// Units: list, show, history.
    #[command(subcommand)]
    Units(UnitsCmd),
    /// Users.
    #[command(subcommand)]
    User(UserCmd),
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// The newest audit entries, as JSON lines; `audit verify` checks the chain.
    #[command(args_conflicts_with_subcommands = true)]
    Audit {
        #[command(subcommand)]
        cmd: Option<AuditCmd>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Ingest events from files, directories (recursively) or stdin (`-`).
    /// Files resume from where the last run stopped.
    Ingest {
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// eve, json, json:MAP (a configured [formats.MAP] field map), syslog, cef,
        /// shadowserver or shadowserver:REPORT; recognised per file when not given.
        #[arg(long)]
        format: Option<String>,
        /// Source name recorded on every event and dead letter.
        #[arg(long, default_value = "file")]
        source: String,
        /// The sensor or member unit these records come from.
        #[arg(long)]
        sensor: Option<String>,
        /// Read files from the beginning; records already stored are not stored again.
        #[arg(long)]
        from_start: bool,
        /// Print each input's report as a JSON line instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Stored events: search, retention.
    #[command(subcommand)]
    Events(EventsCmd),
    /// Stored alerts, most recently seen first, as JSON lines.
    Alerts {
        /// Alerts of this unit.
        #[arg(long)]
        unit: Option<String>,
        /// A level (I, II, III, IV) or a comma-separated list.
        #[arg(long)]
        level: Option<String>,
        /// A GB/T 20986-2023 category (MP) or subcategory (MPRANS) code.
        #[arg(long)]
        category: Option<String>,
        /// A rule id (`suricata:SID`, `indicator:ip:VALUE`, a Sigma rule's id).
        #[arg(long)]
        rule: Option<String>,
        /// sigma, correlation, indicator, sensor or report.
        #[arg(long)]
        source: Option<String>,
        /// Seen at or after this instant (RFC 3339).
        #[arg(long)]
        from: Option<jiff::Timestamp>,
        /// First seen before this instant (RFC 3339).
        #[arg(long)]
        to: Option<jiff::Timestamp>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Notices (通报): list, show, move; as the local operator (centre admin).
    #[command(subcommand)]
    Notices(NoticesCmd),
    /// The business calendar deadlines count on: list or set days.
    #[command(subcommand)]
    Calendar(CalendarCmd),
    /// The per-level deadline policy: show or replace.
    #[command(subcommand)]
    Deadlines(DeadlinesCmd),
    /// Messages waiting, sent and failed (e-mail, webhooks, robots).
    #[command(subcommand)]
    Outbox(OutboxCmd),
    /// Records that could not be parsed: list, count, replay.
    #[command(subcommand, name = "dead-letters")]
    DeadLetters(DeadLettersCmd),
    /// Ingest state: streams and their positions, partitions, dead letters, spool backlog. JSON.
    Status,
    /// Run the demo: the demo region, one account per role (printed), live
    /// events, and the web console on 127.0.0.1:8080. `demo generate`
    /// writes the demo region as CSV files instead.
    #[command(args_conflicts_with_subcommands = true)]
    Demo {
        #[command(subcommand)]
        cmd: Option<DemoCmd>,
        /// Address to listen on (overrides config).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Suricata alerts replayed per second (0: none).
        #[arg(long, default_value_t = 5)]
        events_per_second: u32,
    },
    /// Print the example configuration with every key documented.
    ConfigExample,
}

#[derive(Subcommand)]
pub enum NoticesCmd {
    /// Notices, most recently changed first, as JSON lines.
    List {
        #[arg(long)]
        unit: Option<String>,
        /// A state or a comma-separated list (issued,acknowledged).
        #[arg(long)]
        state: Option<String>,
        /// A level or a comma-separated list (I,II).
        #[arg(long)]
        level: Option<String>,
        /// incident, rectification or verification.
        #[arg(long)]
        kind: Option<String>,
        /// Only notices past a deadline now.
        #[arg(long)]
        overdue: bool,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// One notice with its alerts, answers and timeline, as JSON.
    Show { id: i64 },
    /// Takes an action (issue, return, close, reopen, cancel, …) on a notice.
    Move {
        id: i64,
        action: String,
        /// Why; required for return, reopen, cancel and reject.
        #[arg(long, default_value = "")]
        reason: String,
        /// The version you read (`shouwang notices show`); refused if it
        /// changed since. Without it, the current version is used.
        #[arg(long)]
        version: Option<i64>,
    },
}

#[derive(Subcommand)]
pub enum CalendarCmd {
    /// The listed days (holidays and 调休 working days), as JSON lines.
    List,
    /// Lists a day as a holiday or a working day, or clears it.
    Set {
        /// YYYY-MM-DD.
        date: jiff::civil::Date,
        /// holiday, workday, or clear (the weekday decides again).
        kind: String,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
pub enum DeadlinesCmd {
    /// The policy in force, as JSON.
    Show,
    /// Replaces the policy with a CSV file (level,acknowledge,answer).
    Set {
        file: std::path::PathBuf,
        #[arg(long)]
        reason: String,
    },
    /// Raise the reminders and escalation steps due now (the server does
    /// this every delivery.sweep_secs); prints what was raised, as JSON.
    Sweep,
    /// The escalation ladder in force, as JSON.
    Ladder,
}

#[derive(Subcommand)]
pub enum OutboxCmd {
    /// Messages, newest first, as JSON lines.
    List {
        /// pending, sending, sent or failed.
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        notice: Option<i64>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Put a failed message back in line with fresh attempts.
    Retry {
        id: i64,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Walk the hash chain of the whole audit trail: reports every edited,
    /// deleted or cut-off entry and exits 1, or prints the entry count and
    /// head hash (keep it elsewhere to catch a rewrite of the whole chain).
    Verify {
        /// Fail unless the chain ends in this hash (one you kept earlier)
        /// or contains it as an entry's hash.
        #[arg(long)]
        expect_head: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum RegistryCmd {
    /// Import a JSON document, one CSV file, or a directory of CSV files. All or nothing.
    Import {
        path: PathBuf,
        /// Why: recorded with every change this import makes.
        #[arg(long)]
        reason: String,
        /// Show what would change; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the outcome as JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Export the registry as CSV files (a directory) or one JSON document.
    Export {
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
        /// Directory for CSV; file for JSON (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Claims by different units that overlap, and who wins. JSON lines.
    Overlaps,
    /// Print the column reference of the CSV and JSON formats (Markdown).
    Schema,
}

#[derive(Subcommand)]
pub enum EventsCmd {
    /// Newest first, as JSON lines (the stored ECS document).
    Search {
        #[command(flatten)]
        filter: EventFilter,
    },
    /// Drop partitions older than the retention period now.
    Retain,
}

#[derive(clap::Args, Debug, Clone, Default)]
pub struct EventFilter {
    /// From this instant (RFC 3339), inclusive.
    #[arg(long)]
    pub from: Option<jiff::Timestamp>,
    /// Up to this instant, exclusive.
    #[arg(long)]
    pub to: Option<jiff::Timestamp>,
    /// Events attributed to this unit.
    #[arg(long)]
    pub unit: Option<String>,
    /// Source or destination address in this IP or CIDR block.
    #[arg(long)]
    pub ip: Option<String>,
    /// This domain or any subdomain, in any name the event carries.
    #[arg(long)]
    pub domain: Option<String>,
    /// Rule name substring or exact rule id.
    #[arg(long)]
    pub rule: Option<String>,
    /// Substring anywhere in the event (ASCII case-insensitive).
    #[arg(long)]
    pub text: Option<String>,
    /// Exact `event.dataset`, e.g. suricata.alert.
    #[arg(long)]
    pub dataset: Option<String>,
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

#[derive(Subcommand)]
pub enum DeadLettersCmd {
    /// Open dead letters, oldest first, as JSON lines.
    List {
        #[arg(long)]
        source: Option<String>,
        #[arg(long)]
        reason: Option<String>,
        /// Include replayed ones.
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Counts per source and reason.
    Counts,
    /// Parse open dead letters again; those that parse now are stored.
    Replay {
        #[arg(long)]
        source: Option<String>,
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

#[derive(Subcommand)]
pub enum UnitsCmd {
    List {
        /// Substring of code or name.
        #[arg(long)]
        query: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    Show {
        code: String,
    },
    History {
        code: String,
    },
}

#[derive(Subcommand)]
pub enum UserCmd {
    /// Create a user. Unit operators and supervisors need --unit.
    Add {
        username: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        unit: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// Read a password from the first line of stdin (otherwise: token-only user).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable a user: their password and every token stop working at once.
    Disable {
        username: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Issue an API token; it is printed once and stored only as a hash.
    Create {
        username: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List a user's tokens (ids and names; secrets are never stored).
    List { username: String },
    /// Revoke a token by id: the next request with it gets 401.
    Revoke {
        id: i64,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
pub enum DemoCmd {
    /// Write the demo region as CSV files into a directory.
    Generate {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        #[arg(long, default_value_t = 2000)]
        units: usize,
        #[arg(long, default_value_t = 50_000)]
        assets: usize,
    },
}
