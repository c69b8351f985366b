//! E-mail over SMTP with lettre: STARTTLS, implicit TLS, or (for a relay on
//! loopback) none.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use shouwang_store::{Attempt, Outgoing};

use crate::DeliverError;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// STARTTLS, required (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// Plain text: only for a relay on the same host.
    None,
}

/// `[delivery.smtp]`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// The sender, e.g. `通报中心 <cert@example.gov.cn>`.
    pub from: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// Extra CA certificate (PEM) to trust, for a server with a private CA.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for SmtpConfig {
    // Never the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("from", &self.from)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    pub(crate) fn new(c: &SmtpConfig, timeout: Duration) -> Result<Mailer, DeliverError> {
        let bad = |m: String| DeliverError::Smtp(m);
        let from: Mailbox = c.from.parse().map_err(|e| bad(format!("from `{}` is not a mailbox: {e}", c.from)))?;
        let params = || -> Result<TlsParameters, DeliverError> {
            let mut b = TlsParameters::builder(c.host.clone());
            if let Some(path) = &c.ca_file {
                let pem = std::fs::read(path).map_err(|e| bad(format!("cannot read ca_file {}: {e}", path.display())))?;
                b = b.add_root_certificate(Certificate::from_pem(&pem).map_err(|e| bad(format!("ca_file {}: {e}", path.display())))?);
            }
            b.build_rustls().map_err(|e| bad(format!("TLS settings: {e}")))
        };
        let tls = match c.tls {
            TlsMode::Starttls => Tls::Required(params()?),
            TlsMode::Tls => Tls::Wrapper(params()?),
            TlsMode::None => Tls::None,
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host).port(c.port).tls(tls).timeout(Some(timeout));
        match (&c.username, &c.password) {
            (Some(u), Some(p)) => b = b.credentials(Credentials::new(u.clone(), p.clone())),
            (None, None) => {}
            _ => return Err(bad("give both username and password, or neither".into())),
        }
        Ok(Mailer { transport: b.build(), from })
    }

    pub(crate) async fn send(&self, m: &Outgoing) -> Attempt {
        let to: Mailbox = match m.target.parse() {
            Ok(t) => t,
            Err(e) => return Attempt::Refused(format!("`{}` is not an address: {e}", m.target)),
        };
        // The outbox key, hashed into Message-ID's allowed characters: a
        // message sent twice (a lapsed claim) carries the same ID.
        let digest = Sha256::digest(m.key.as_bytes());
        let id = crate::sign::hex(&digest[..16]);
        let msg = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&m.subject)
            .message_id(Some(format!("<{id}@shouwang>")))
            .header(ContentType::TEXT_PLAIN)
            .body(m.body.clone());
        let msg = match msg {
            Ok(msg) => msg,
            Err(e) => return Attempt::Refused(format!("cannot build the message: {e}")),
        };
        match self.transport.send(msg).await {
            Ok(_) => Attempt::Sent,
            Err(e) if e.is_permanent() => Attempt::Refused(format!("the SMTP server refused it: {e}")),
            Err(e) => Attempt::Failed(format!("SMTP: {e}")),
        }
    }
}
