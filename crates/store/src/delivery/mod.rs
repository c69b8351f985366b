//! Delivery: the channels messages go out on, the message templates, the
//! transactional outbox and the in-app inbox. Messages are written here, in
//! the transaction of the move that causes them; a sender (the server's
//! dispatcher) works the outbox off. Transports live in `shouwang-deliver`.

mod channels;
pub(crate) mod enqueue;
mod outbox;

use std::sync::Arc;

use serde::Serialize;
use shouwang_workflow::{Event, Lang, Messages, Rendered, Template, TemplateName};
use sqlx::Row;

use crate::access::{Perm, Principal};
use crate::audit::audit;
use crate::{Result, Store, StoreError, now_micros, ts};

pub use channels::{Channel, NewChannel};
pub use outbox::{Attempt, OutboxQuery, OutboxRecord, Outgoing, Retry};

/// The settings key of the console's public address, used in message links.
const PUBLIC_URL_KEY: &str = "public_url";

/// The templates in force and the link base, cached like the calendar.
pub(crate) struct Outbound {
    pub messages: Messages,
    pub public_url: String,
}

/// A template as the admin sees it: the default, and their edit if any.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateEntry {
    pub name: String,
    pub lang: Lang,
    pub default: Option<Template>,
    pub custom: Option<Template>,
    pub updated_at: Option<jiff::Timestamp>,
    pub updated_by: Option<String>,
}

/// An in-app notification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InboxItem {
    pub id: i64,
    pub notice_id: Option<i64>,
    pub event: Event,
    pub subject: String,
    pub body: String,
    pub created_at: jiff::Timestamp,
    pub read_at: Option<jiff::Timestamp>,
}

impl Store {
    /// The templates in force (cached until an edit).
    pub(crate) async fn outbound(&self) -> Result<Arc<Outbound>> {
        if let Some(o) = self.outbound.load_full() {
            return Ok(o);
        }
        let rows = sqlx::query("SELECT name, lang, subject, body FROM templates").fetch_all(&self.pool).await?;
        let mut overrides = Vec::with_capacity(rows.len());
        for r in &rows {
            let (name, lang): (String, String) = (r.try_get("name")?, r.try_get("lang")?);
            let corrupt = |e: shouwang_workflow::WorkflowError| StoreError::Corrupt(format!("stored template {name}.{lang}: {e}"));
            overrides.push((
                TemplateName::parse(&name).map_err(corrupt)?,
                Lang::parse(&lang).map_err(corrupt)?,
                Template { subject: r.try_get("subject")?, body: r.try_get("body")? },
            ));
        }
        let messages = Messages::new(overrides).map_err(|e| StoreError::Corrupt(format!("stored templates: {e}")))?;
        let public_url: Option<String> =
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1").bind(PUBLIC_URL_KEY).fetch_optional(&self.pool).await?;
        let o = Arc::new(Outbound { messages, public_url: public_url.unwrap_or_default() });
        self.outbound.store(Some(o.clone()));
        Ok(o)
    }

    /// Every template: the shipped default and the admin's edit, by name.
    pub async fn templates(&self, p: &Principal) -> Result<Vec<TemplateEntry>> {
        p.require(Perm::ManageWorkflow)?;
        let mut out: std::collections::BTreeMap<(String, &'static str), TemplateEntry> = shouwang_workflow::messages::defaults()
            .into_iter()
            .map(|((name, lang), t)| {
                let e = TemplateEntry { name: name.to_string(), lang, default: Some(t), custom: None, updated_at: None, updated_by: None };
                ((name.to_string(), lang.as_str()), e)
            })
            .collect();
        let rows = sqlx::query("SELECT name, lang, subject, body, updated_at, updated_by FROM templates").fetch_all(&self.pool).await?;
        for r in &rows {
            let name: String = r.try_get("name")?;
            let lang = Lang::parse(&r.try_get::<String, _>("lang")?).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let e = out.entry((name.clone(), lang.as_str())).or_insert_with(|| TemplateEntry {
                name,
                lang,
                default: None,
                custom: None,
                updated_at: None,
                updated_by: None,
            });
            e.custom = Some(Template { subject: r.try_get("subject")?, body: r.try_get("body")? });
            e.updated_at = Some(ts(r.try_get("updated_at")?));
            e.updated_by = Some(r.try_get("updated_by")?);
        }
        Ok(out.into_values().collect())
    }

    /// Saves the admin's version of template `name` (`issued` or
    /// `issued.rectification`) in `lang`, after checking that it compiles
    /// and renders a sample: the sample's rendering.
    pub async fn set_template(&self, p: &Principal, name: &str, lang: &str, t: &Template, reason: &str) -> Result<Rendered> {
        p.require(Perm::ManageWorkflow)?;
        let invalid = |e: shouwang_workflow::WorkflowError| StoreError::Invalid(e.to_string());
        let (name, lang) = (TemplateName::parse(name).map_err(invalid)?, Lang::parse(lang).map_err(invalid)?);
        if reason.trim().is_empty() {
            return Err(StoreError::Invalid("a template change needs a reason".into()));
        }
        let sample = Messages::check(name, lang, t).map_err(invalid)?;
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO templates (name, lang, subject, body, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (name, lang) DO UPDATE SET subject = excluded.subject, body = excluded.body, \
             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(name.to_string())
        .bind(lang.as_str())
        .bind(&t.subject)
        .bind(&t.body)
        .bind(now_micros())
        .bind(&p.username)
        .execute(&mut *tx)
        .await?;
        let detail = serde_json::json!({ "subject": t.subject, "body": t.body });
        audit(&mut tx, p, "template.set", &format!("{name}.{lang}"), reason.trim(), &detail).await?;
        tx.commit().await?;
        self.outbound.store(None);
        Ok(sample)
    }

    /// Drops the admin's version of a template: the default applies again.
    pub async fn reset_template(&self, p: &Principal, name: &str, lang: &str, reason: &str) -> Result<()> {
        p.require(Perm::ManageWorkflow)?;
        if reason.trim().is_empty() {
            return Err(StoreError::Invalid("a template change needs a reason".into()));
        }
        let mut tx = self.write().await?;
        let gone = sqlx::query("DELETE FROM templates WHERE name = $1 AND lang = $2").bind(name).bind(lang).execute(&mut *tx).await?;
        if gone.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no edited template {name}.{lang}")));
        }
        audit(&mut tx, p, "template.reset", &format!("{name}.{lang}"), reason.trim(), &serde_json::Value::Null).await?;
        tx.commit().await?;
        self.outbound.store(None);
        Ok(())
    }

    /// Sets the console address message links start with (`https://…`).
    pub async fn set_public_url(&self, p: &Principal, url: &str, reason: &str) -> Result<()> {
        p.require(Perm::ManageWorkflow)?;
        let url = url.trim().trim_end_matches('/');
        let http = url.is_empty() || url.starts_with("https://") || url.starts_with("http://");
        if !http || url.chars().any(char::is_control) {
            return Err(StoreError::Invalid(format!("`{url}` is not an http(s) address")));
        }
        let mut tx = self.write().await?;
        crate::notices::put_setting(&mut tx, PUBLIC_URL_KEY, url, &p.username).await?;
        audit(&mut tx, p, "settings.public_url", PUBLIC_URL_KEY, reason.trim(), &serde_json::json!({ "url": url })).await?;
        tx.commit().await?;
        self.outbound.store(None);
        Ok(())
    }

    /// The caller's in-app notifications, newest first.
    pub async fn inbox(&self, p: &Principal, unread_only: bool, limit: i64) -> Result<Vec<InboxItem>> {
        let user = self.user_id(p).await?;
        let rows = sqlx::query(&format!(
            "SELECT id, notice_id, event, subject, body, created_at, read_at FROM inbox WHERE user_id = $1{} ORDER BY id DESC LIMIT $2",
            if unread_only { " AND read_at IS NULL" } else { "" }
        ))
        .bind(user)
        .bind(limit.clamp(1, 1_000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(InboxItem {
                    id: r.try_get("id")?,
                    notice_id: r.try_get("notice_id")?,
                    event: Event::parse(&r.try_get::<String, _>("event")?).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    subject: r.try_get("subject")?,
                    body: r.try_get("body")?,
                    created_at: ts(r.try_get("created_at")?),
                    read_at: r.try_get::<Option<i64>, _>("read_at")?.map(ts),
                })
            })
            .collect()
    }

    /// Marks the caller's notification `id` read. Another user's is "not found".
    pub async fn read_inbox(&self, p: &Principal, id: i64) -> Result<()> {
        let user = self.user_id(p).await?;
        let done = sqlx::query("UPDATE inbox SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND user_id = $3")
            .bind(now_micros())
            .bind(id)
            .bind(user)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("notification {id}")));
        }
        Ok(())
    }

    async fn user_id(&self, p: &Principal) -> Result<i64> {
        p.require(Perm::ReadNotices)?;
        sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(&p.username)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("{} has no inbox (not a user account)", p.username)))
    }
}
