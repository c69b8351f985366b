//! Transports for the outbox. One [`Sender`] takes a claimed message and
//! tries once; whether and when to try again is the outbox's business. The
//! answer sorts failures into worth-retrying ([`Attempt::Failed`]: time-outs,
//! connection errors, HTTP 408/429/5xx, SMTP 4xx, robot rate limits) and
//! not ([`Attempt::Refused`]: other HTTP 4xx, SMTP 5xx, robot errors that
//! name a bad request), so a receiver that rejects a message for good is
//! not hammered.

mod http;
pub mod sign;
mod smtp;

use std::time::Duration;

use shouwang_store::{Attempt, Outgoing};
use shouwang_workflow::Via;

pub use smtp::{SmtpConfig, TlsMode};

/// What can go wrong setting a sender up.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("SMTP settings: {0}")]
    Smtp(String),
    #[error("HTTP client: {0}")]
    Http(String),
}

/// Transport settings.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// `None`: e-mail is not configured and e-mail messages fail (visibly).
    pub smtp: Option<SmtpConfig>,
    /// Per HTTP request and per SMTP command.
    pub timeout: Duration,
}

impl Default for SenderConfig {
    fn default() -> SenderConfig {
        SenderConfig { smtp: None, timeout: Duration::from_secs(10) }
    }
}

/// Sends messages; cheap to share between tasks.
pub struct Sender {
    http: reqwest::Client,
    smtp: Option<smtp::Mailer>,
    /// The whole attempt's limit. lettre's time-out covers each command
    /// but not a server that accepts and never greets.
    deadline: Duration,
}

impl Sender {
    pub fn new(cfg: &SenderConfig) -> Result<Sender, DeliverError> {
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout)
            // A webhook that redirects is misconfigured; following it would
            // send the signed message somewhere nobody set up.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("shouwang/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| DeliverError::Http(e.to_string()))?;
        let smtp = cfg.smtp.as_ref().map(|c| smtp::Mailer::new(c, cfg.timeout)).transpose()?;
        Ok(Sender { http, smtp, deadline: cfg.timeout * 3 })
    }

    /// One attempt at `m`.
    pub async fn send(&self, m: &Outgoing) -> Attempt {
        match tokio::time::timeout(self.deadline, self.try_send(m)).await {
            Ok(a) => a,
            Err(_) => Attempt::Failed(format!("no answer within {} s", self.deadline.as_secs())),
        }
    }

    async fn try_send(&self, m: &Outgoing) -> Attempt {
        match m.kind {
            Via::Email => match &self.smtp {
                Some(s) => s.send(m).await,
                None => Attempt::Failed("e-mail is not configured ([delivery.smtp] in the config)".into()),
            },
            Via::Webhook => http::webhook(&self.http, m).await,
            Via::Wecom | Via::Dingtalk | Via::Feishu => http::robot(&self.http, m).await,
        }
    }
}
