//! Channels: webhooks, group robots and mailing lists, the centre's or a
//! unit's. Their secrets go in and never come out.

use serde::{Deserialize, Serialize};
use shouwang_workflow::{Event, Lang, Via};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::access::{Perm, Principal};
use crate::audit::audit;
use crate::{Result, Store, StoreError, now_micros, ts};

/// A channel as the API shows it: whether it has a secret, never the secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Channel {
    pub id: i64,
    pub name: String,
    pub kind: Via,
    pub target: String,
    pub has_secret: bool,
    /// `None`: the centre's own channel.
    pub unit: Option<String>,
    pub lang: Lang,
    /// The events it is sent; empty means all.
    pub events: Vec<Event>,
    pub enabled: bool,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

/// A channel to create, or its new settings.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewChannel {
    pub name: String,
    pub kind: Via,
    /// The URL; for `email`, the address.
    pub target: String,
    /// HMAC key (webhook, required) or signing secret (DingTalk, Feishu).
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub lang: Option<Lang>,
    #[serde(default)]
    pub events: Vec<Event>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl std::fmt::Debug for NewChannel {
    // Never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewChannel")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("unit", &self.unit)
            .field("has_secret", &self.secret.is_some())
            .finish_non_exhaustive()
    }
}

fn yes() -> bool {
    true
}

fn invalid(m: impl Into<String>) -> StoreError {
    StoreError::Invalid(m.into())
}

/// An e-mail address as far as a sender cares: one `@`, no spaces or
/// control characters, within SMTP's length limit.
pub(crate) fn check_address(a: &str) -> Result<()> {
    let ok = a.len() <= 254
        && a.split('@').count() == 2
        && a.split('@').all(|p| !p.is_empty())
        && !a.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"'));
    if ok { Ok(()) } else { Err(invalid(format!("`{a}` is not an e-mail address"))) }
}

fn check(c: &NewChannel) -> Result<()> {
    let name = c.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(invalid("a channel needs a one-line name of at most 100 characters"));
    }
    match c.kind {
        Via::Email => check_address(&c.target)?,
        _ => {
            let u = url::Url::parse(&c.target).map_err(|e| invalid(format!("`{}` is not a URL: {e}", c.target)))?;
            if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
                return Err(invalid(format!("`{}` is not an http(s) URL", c.target)));
            }
            if c.target.len() > 2_000 {
                return Err(invalid("the URL is over 2,000 characters"));
            }
        }
    }
    let secret = c.secret.as_deref().unwrap_or("");
    if secret.len() > 512 || secret.chars().any(char::is_control) {
        return Err(invalid("the secret is over 512 bytes or holds control characters"));
    }
    if c.kind == Via::Webhook && secret.is_empty() {
        return Err(invalid("a webhook needs a secret: its messages are signed (HMAC-SHA256)"));
    }
    Ok(())
}

fn events_text(events: &[Event]) -> String {
    if events.is_empty() { "*".into() } else { events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(",") }
}

pub(crate) const CHANNEL_COLUMNS: &str = "id, name, kind, target, secret, unit, lang, events, enabled, created_at, updated_at";

pub(crate) fn channel_of(r: &AnyRow) -> Result<Channel> {
    let corrupt = |e: shouwang_workflow::WorkflowError| StoreError::Corrupt(format!("stored channel: {e}"));
    let events: String = r.try_get("events")?;
    Ok(Channel {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        kind: Via::parse(&r.try_get::<String, _>("kind")?).map_err(corrupt)?,
        target: r.try_get("target")?,
        has_secret: !r.try_get::<String, _>("secret")?.is_empty(),
        unit: r.try_get("unit")?,
        lang: Lang::parse(&r.try_get::<String, _>("lang")?).map_err(corrupt)?,
        events: if events == "*" {
            Vec::new()
        } else {
            events.split(',').map(Event::parse).collect::<std::result::Result<_, _>>().map_err(corrupt)?
        },
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        created_at: ts(r.try_get("created_at")?),
        updated_at: ts(r.try_get("updated_at")?),
    })
}

impl Store {
    /// Every channel.
    pub async fn channels(&self, p: &Principal) -> Result<Vec<Channel>> {
        p.require(Perm::ManageWorkflow)?;
        let rows = sqlx::query(&format!("SELECT {CHANNEL_COLUMNS} FROM channels ORDER BY id")).fetch_all(&self.pool).await?;
        rows.iter().map(channel_of).collect()
    }

    /// Creates a channel.
    pub async fn create_channel(&self, p: &Principal, c: &NewChannel) -> Result<Channel> {
        self.save_channel(p, None, c).await
    }

    /// Replaces channel `id`'s settings. A secret left out is kept.
    pub async fn update_channel(&self, p: &Principal, id: i64, c: &NewChannel) -> Result<Channel> {
        self.save_channel(p, Some(id), c).await
    }

    async fn save_channel(&self, p: &Principal, id: Option<i64>, c: &NewChannel) -> Result<Channel> {
        p.require(Perm::ManageWorkflow)?;
        let mut tx = self.write().await?;
        let mut c = c.clone();
        if let Some(id) = id {
            let old: Option<String> =
                sqlx::query_scalar("SELECT secret FROM channels WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?;
            let Some(old_secret) = old else { return Err(StoreError::NotFound(format!("channel {id}"))) };
            c.secret = c.secret.or(Some(old_secret));
        }
        check(&c)?;
        self.check_unit(&mut tx, c.unit.as_deref()).await?;
        let sql = match id {
            None => format!(
                "INSERT INTO channels (name, kind, target, secret, unit, lang, events, enabled, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING {CHANNEL_COLUMNS}"
            ),
            Some(_) => format!(
                "UPDATE channels SET name = $1, kind = $2, target = $3, secret = $4, unit = $5, lang = $6, events = $7, \
                 enabled = $8, updated_at = $9 WHERE id = $10 RETURNING {CHANNEL_COLUMNS}"
            ),
        };
        let mut q = sqlx::query(&sql)
            .bind(c.name.trim())
            .bind(c.kind.as_str())
            .bind(&c.target)
            .bind(c.secret.clone().unwrap_or_default())
            .bind(c.unit.clone())
            .bind(c.lang.unwrap_or(Lang::Zh).as_str())
            .bind(events_text(&c.events))
            .bind(i64::from(c.enabled))
            .bind(now_micros());
        if let Some(id) = id {
            q = q.bind(id);
        }
        let row = q.fetch_one(&mut *tx).await.map_err(|e| unique_name(e, &c.name))?;
        let ch = channel_of(&row)?;
        let action = if id.is_some() { "channel.update" } else { "channel.create" };
        audit(&mut tx, p, action, &ch.id.to_string(), "", &serde_json::to_value(&ch).unwrap_or_default()).await?;
        tx.commit().await?;
        Ok(ch)
    }

    async fn check_unit(&self, tx: &mut sqlx::Transaction<'_, sqlx::Any>, unit: Option<&str>) -> Result<()> {
        if let Some(u) = unit {
            let known: Option<String> =
                sqlx::query_scalar("SELECT code FROM units WHERE code = $1").bind(u).fetch_optional(&mut **tx).await?;
            if known.is_none() {
                return Err(invalid(format!("unit `{u}` is not in the registry")));
            }
        }
        Ok(())
    }
}

fn unique_name(e: sqlx::Error, name: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => invalid(format!("a channel named `{}` exists", name.trim())),
        _ => e.into(),
    }
}
