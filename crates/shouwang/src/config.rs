//! Configuration in two phases: a TOML file (optional) and `SHOUWANG_*`
//! environment variables are read into typed settings that only validate;
//! opening the store and binding the socket happen later, in `main`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

/// A string that never prints: database URLs can carry passwords.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the SQLite file (and later spools) live; created on first run.
    pub data_dir: PathBuf,
    pub database: Database,
    pub server: Server,
    pub log: Log,
    pub import: Import,
    pub ingest: Ingest,
    /// JSON field maps by name (`[formats.NAME]`), used as `json:NAME`.
    pub formats: std::collections::BTreeMap<String, FormatConfig>,
    /// Live detection: rules, indicators, allow-lists, aggregation window.
    pub detection: shouwang_alerts::DetectionConfig,
    /// The outbox's transports and retries, and the deadline sweep.
    pub delivery: Delivery,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Delivery {
    /// `[delivery.smtp]`; without it e-mail messages fail, visibly, in the outbox.
    pub smtp: Option<shouwang_deliver::SmtpConfig>,
    /// Attempts before a message is marked failed.
    pub max_attempts: i64,
    /// The wait after a first failure, doubling each time up to the longest.
    pub first_retry_secs: u64,
    pub longest_retry_secs: u64,
    /// Messages in flight at once.
    pub concurrency: usize,
    /// Per HTTP request and per SMTP command.
    pub timeout_secs: u64,
    /// How often reminders and escalations are looked for.
    pub sweep_secs: u64,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            smtp: None,
            max_attempts: 8,
            first_retry_secs: 30,
            longest_retry_secs: 3_600,
            concurrency: 64,
            timeout_secs: 10,
            sweep_secs: 60,
        }
    }
}

impl Delivery {
    pub fn dispatch(&self) -> shouwang_server::Dispatch {
        shouwang_server::Dispatch {
            retry: shouwang_store::Retry {
                max_attempts: self.max_attempts,
                first: std::time::Duration::from_secs(self.first_retry_secs),
                longest: std::time::Duration::from_secs(self.longest_retry_secs),
                // Long enough for a send that runs to its time-out, and then some.
                lease: std::time::Duration::from_secs(self.timeout_secs * 4 + 30),
            },
            concurrency: self.concurrency,
            poll: std::time::Duration::from_secs(1),
        }
    }

    pub fn sender(&self) -> shouwang_deliver::SenderConfig {
        shouwang_deliver::SenderConfig { smtp: self.smtp.clone(), timeout: std::time::Duration::from_secs(self.timeout_secs) }
    }
}

/// A declarative field map for JSON lines from one kind of sensor.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatConfig {
    /// `event.dataset` of its events, e.g. `acme.waf`.
    pub dataset: String,
    /// Offset of times written without a zone (`+08:00`); UTC if unset.
    pub utc_offset: Option<String>,
    /// Source field (dotted path into nested objects) → ECS field.
    pub fields: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    /// `postgres://…` to use PostgreSQL; unset for the embedded SQLite file.
    pub url: Option<Secret>,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    pub listen: SocketAddr,
    /// How often to look for registry changes made by other processes.
    pub index_refresh_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// A tracing filter, e.g. `info` or `shouwang_store=debug,info`.
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Import {
    /// Largest registry file or request body accepted, in bytes.
    pub max_bytes: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ingest {
    /// Days of events kept (by event time); older day partitions are dropped.
    pub retention_days: u32,
    /// Largest single record, in bytes; larger ones become dead letters.
    pub max_record_bytes: usize,
    /// Unprocessed bytes the spool may hold before senders are told to retry (HTTP 503).
    pub spool_max_bytes: u64,
    /// Largest `POST /api/v1/ingest` body, after gzip decompression.
    pub http_max_body_bytes: usize,
    /// Ingest requests in flight at once before HTTP 429.
    pub http_max_in_flight: usize,
    /// Syslog listeners (`[[ingest.syslog]]`).
    pub syslog: Vec<SyslogConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    /// Source name recorded on every event from this listener.
    pub name: String,
    pub listen: SocketAddr,
    /// `udp`, `tcp` or `tls`.
    pub transport: String,
    /// For `tls`: the PEM certificate chain (leaf first) and its private key.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// `syslog` or `cef`.
    #[serde(default = "default_syslog_format")]
    pub format: String,
    /// The sensor or member unit the senders on this port belong to.
    pub sensor: Option<String>,
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    #[serde(default = "default_idle_secs")]
    pub idle_timeout_secs: u64,
}

fn default_syslog_format() -> String {
    "syslog".into()
}
fn default_max_connections() -> usize {
    1024
}
fn default_idle_secs() -> u64 {
    300
}

impl SyslogConfig {
    pub fn listener(&self) -> anyhow::Result<shouwang_server::syslog::SyslogListener> {
        use shouwang_server::syslog::Transport;
        let transport = match (self.transport.as_str(), &self.tls_cert, &self.tls_key) {
            ("udp", None, None) => Transport::Udp,
            ("tcp", None, None) => Transport::Tcp,
            ("tls", Some(cert), Some(key)) => {
                shouwang_server::syslog::tls_transport(cert, key).map_err(|e| anyhow::anyhow!("ingest.syslog `{}`: {e}", self.name))?
            }
            ("tls", _, _) => bail!("ingest.syslog `{}`: transport `tls` needs tls_cert and tls_key", self.name),
            ("udp" | "tcp", _, _) => bail!("ingest.syslog `{}`: tls_cert and tls_key apply only to transport `tls`", self.name),
            (other, _, _) => bail!("ingest.syslog `{}`: transport `{other}` is not udp, tcp or tls", self.name),
        };
        let format = match shouwang_ingest::Format::from_name(&self.format) {
            Ok(f @ (shouwang_ingest::Format::Syslog | shouwang_ingest::Format::Cef)) => f,
            _ => bail!("ingest.syslog `{}`: format `{}` is not syslog or cef", self.name, self.format),
        };
        if self.max_connections == 0 || self.idle_timeout_secs == 0 {
            bail!("ingest.syslog `{}`: max_connections and idle_timeout_secs must be at least 1", self.name);
        }
        Ok(shouwang_server::syslog::SyslogListener {
            name: self.name.clone(),
            listen: self.listen,
            transport,
            format,
            sensor: self.sensor.clone(),
            max_connections: self.max_connections,
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout_secs),
        })
    }
}

impl Default for Ingest {
    fn default() -> Self {
        Ingest {
            retention_days: 180,
            max_record_bytes: 1024 * 1024,
            spool_max_bytes: 1024 * 1024 * 1024,
            http_max_body_bytes: 32 * 1024 * 1024,
            http_max_in_flight: 64,
            syslog: Vec::new(),
        }
    }
}

impl Config {
    /// The `[formats.NAME]` tables, validated.
    pub fn field_maps(&self) -> anyhow::Result<shouwang_ingest::parse::FieldMaps> {
        let mut maps = shouwang_ingest::parse::FieldMaps::default();
        for (name, f) in &self.formats {
            let bad = |e: String| anyhow::anyhow!("formats.{name}: {e}");
            let mut map = shouwang_ingest::parse::FieldMap::new(&f.dataset, &f.fields).map_err(bad)?;
            if let Some(o) = &f.utc_offset {
                map = map.with_utc_offset(o).map_err(bad)?;
            }
            maps.insert(name, map).map_err(bad)?;
        }
        Ok(maps)
    }

    /// Where events, checkpoints and dead letters live (always embedded).
    pub fn events_dir(&self) -> PathBuf {
        self.data_dir.join("events")
    }

    /// The durable spool of network sources.
    pub fn spool_dir(&self) -> PathBuf {
        self.data_dir.join("spool")
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("data"),
            database: Database::default(),
            server: Server::default(),
            log: Log::default(),
            import: Import::default(),
            ingest: Ingest::default(),
            formats: Default::default(),
            detection: Default::default(),
            delivery: Delivery::default(),
        }
    }
}

impl Default for Database {
    fn default() -> Self {
        Database { url: None, max_connections: 8 }
    }
}

impl Default for Server {
    fn default() -> Self {
        Server { listen: SocketAddr::from(([127, 0, 0, 1], 8080)), index_refresh_secs: 2 }
    }
}

impl Default for Log {
    fn default() -> Self {
        Log { level: "info".into(), format: LogFormat::Text }
    }
}

impl Default for Import {
    fn default() -> Self {
        Import { max_bytes: 256 * 1024 * 1024 }
    }
}

pub const EXAMPLE: &str = include_str!("../../../shouwang.example.toml");

impl Config {
    /// Reads `path` (or `./shouwang.toml` if present), then applies the environment.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let file = match path {
            Some(p) => Some(p.to_path_buf()),
            None => Some(PathBuf::from("shouwang.toml")).filter(|p| p.exists()),
        };
        let mut cfg = match &file {
            Some(p) => {
                let text = std::fs::read_to_string(p).with_context(|| format!("cannot read config {}", p.display()))?;
                Config::parse(&text).with_context(|| format!("invalid config {}", p.display()))?
            }
            None => Config::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok())?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn parse(text: &str) -> anyhow::Result<Config> {
        Ok(toml::from_str(text)?)
    }

    /// `SHOUWANG_DATA_DIR`, `SHOUWANG_DATABASE_URL`, `SHOUWANG_LISTEN`,
    /// `SHOUWANG_LOG`, `SHOUWANG_LOG_FORMAT`, `SHOUWANG_IMPORT_MAX_BYTES`,
    /// `SHOUWANG_SMTP_PASSWORD`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        if let Some(v) = get("SHOUWANG_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = get("SHOUWANG_DATABASE_URL") {
            self.database.url = Some(Secret(v)).filter(|s| !s.0.is_empty());
        }
        if let Some(v) = get("SHOUWANG_LISTEN") {
            self.server.listen = v.parse().with_context(|| format!("SHOUWANG_LISTEN=`{v}` is not an address:port"))?;
        }
        if let Some(v) = get("SHOUWANG_LOG") {
            self.log.level = v;
        }
        if let Some(v) = get("SHOUWANG_LOG_FORMAT") {
            self.log.format = match v.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => bail!("SHOUWANG_LOG_FORMAT must be text or json"),
            };
        }
        if let (Some(v), Some(smtp)) = (get("SHOUWANG_SMTP_PASSWORD"), self.delivery.smtp.as_mut()) {
            smtp.password = Some(v);
        }
        if let Some(v) = get("SHOUWANG_IMPORT_MAX_BYTES") {
            self.import.max_bytes = v.parse().with_context(|| format!("SHOUWANG_IMPORT_MAX_BYTES=`{v}` is not a number"))?;
        }
        Ok(())
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.database.max_connections == 0 {
            bail!("database.max_connections must be at least 1");
        }
        if self.ingest.retention_days == 0 {
            bail!("ingest.retention_days must be at least 1");
        }
        if !(1024..=256 * 1024 * 1024).contains(&self.ingest.max_record_bytes) {
            bail!("ingest.max_record_bytes must be between 1 KiB and 256 MiB");
        }
        if self.ingest.http_max_in_flight == 0 || self.ingest.http_max_body_bytes < self.ingest.max_record_bytes {
            bail!("ingest.http_max_in_flight must be at least 1 and ingest.http_max_body_bytes at least ingest.max_record_bytes");
        }
        for l in &self.ingest.syslog {
            l.listener()?;
        }
        self.field_maps()?;
        let d = &self.delivery;
        if d.max_attempts < 1 || d.concurrency == 0 || d.timeout_secs == 0 || d.sweep_secs == 0 || d.first_retry_secs == 0 {
            bail!("delivery: max_attempts, concurrency, timeout_secs, sweep_secs and first_retry_secs must be at least 1");
        }
        if d.longest_retry_secs < d.first_retry_secs {
            bail!("delivery.longest_retry_secs must be at least delivery.first_retry_secs");
        }
        if let Some(smtp) = &d.smtp {
            shouwang_deliver::Sender::new(&self.delivery.sender()).map_err(|e| anyhow::anyhow!("delivery.smtp ({}): {e}", smtp.host))?;
        }
        if self.server.index_refresh_secs == 0 {
            bail!("server.index_refresh_secs must be at least 1");
        }
        if let Some(url) = &self.database.url
            && !(url.0.starts_with("postgres://") || url.0.starts_with("postgresql://") || url.0.starts_with("sqlite:"))
        {
            bail!("database.url must start with postgres:// or sqlite:");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_round_trips_to_the_defaults_it_documents() {
        let cfg = Config::parse(EXAMPLE).unwrap();
        let d = Config::default();
        assert_eq!(cfg.data_dir, d.data_dir);
        assert_eq!(cfg.server.listen, d.server.listen);
        assert_eq!(cfg.import.max_bytes, d.import.max_bytes);
        assert_eq!(cfg.log.level, d.log.level);
        assert_eq!(cfg.ingest.retention_days, d.ingest.retention_days);
        assert_eq!(cfg.ingest.max_record_bytes, d.ingest.max_record_bytes);
        cfg.validate().unwrap();
    }

    #[test]
    fn field_maps_are_validated_when_the_config_is_read() {
        let text = "[formats.waf_acme]\ndataset = \"acme.waf\"\nutc_offset = \"+08:00\"\n\
                    fields = { time = \"@timestamp\", \"client.ip\" = \"source.ip\", rule = \"rule.name\" }\n";
        let cfg = Config::parse(text).unwrap();
        let maps = cfg.field_maps().unwrap();
        assert_eq!(maps.names().collect::<Vec<_>>(), ["waf_acme"]);
        for (bad, why) in [
            (text.replace("source.ip", "source.ipp"), "formats.waf_acme: `source.ipp` is not a supported ECS field"),
            (text.replace("+08:00", "Beijing"), "utc_offset `Beijing`"),
            (text.replace("waf_acme", "\"WAF Acme\""), "lower-case"),
            (text.replace("acme.waf", ""), "dataset"),
        ] {
            let e = Config::parse(&bad).unwrap().validate().unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
        assert!(Config::parse(&text.replace("dataset", "datset")).is_err(), "unknown keys are errors here too");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = Config::parse("[server]\nlisten = \"127.0.0.1:1\"\nlistn = 2\n").unwrap_err();
        assert!(e.to_string().contains("unknown field `listn`"), "{e}");
    }

    #[test]
    fn env_overrides_and_secrets_stay_hidden() {
        let mut cfg = Config::default();
        cfg.apply_env(|k| (k == "SHOUWANG_DATABASE_URL").then(|| "postgres://u:hunter2@db/x".to_string())).unwrap();
        assert!(!format!("{cfg:?}").contains("hunter2"));
        assert_eq!(cfg.database.url.as_ref().unwrap().expose(), "postgres://u:hunter2@db/x");
        assert!(cfg.apply_env(|k| (k == "SHOUWANG_LISTEN").then(|| "nope".to_string())).is_err());
    }
}
