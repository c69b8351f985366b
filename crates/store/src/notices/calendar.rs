//! The business calendar and the deadline policy as the admin keeps them.
//! Both start as the shipped data; edits are audited, and a notice keeps
//! the spans it was issued with.

use std::sync::Arc;

use jiff::civil::Date;
use shouwang_workflow::calendar::{DEFAULT_DAYS, parse_days};
use shouwang_workflow::{Calendar, CalendarDay, DayKind, Policy};
use sqlx::Row;

use crate::access::{Perm, Principal};
use crate::audit::audit;
use crate::{Result, Store, StoreError, now_micros};

const POLICY_KEY: &str = "deadline_policy";

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("calendar day: {e}"))
}

impl Store {
    /// Seeds the calendar with the shipped days, once: an admin's later
    /// removals stay removed.
    pub(crate) async fn seed_calendar(&self) -> Result<()> {
        let mut tx = self.write().await?;
        let seeded: Option<i64> =
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'calendar_seeded'").fetch_optional(&mut *tx).await?;
        if seeded.is_none() {
            let days = parse_days(DEFAULT_DAYS).map_err(corrupt)?;
            for d in days {
                sqlx::query("INSERT INTO calendar_days (day, kind, name) VALUES ($1, $2, $3) ON CONFLICT (day) DO NOTHING")
                    .bind(d.date.to_string())
                    .bind(d.kind.as_str())
                    .bind(d.name)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("INSERT INTO meta (key, value) VALUES ('calendar_seeded', 1)").execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The listed days, in date order.
    async fn listed_days(&self) -> Result<Vec<CalendarDay>> {
        sqlx::query("SELECT day, kind, name FROM calendar_days ORDER BY day")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                let day: String = r.try_get("day")?;
                Ok(CalendarDay {
                    date: day.parse().map_err(corrupt)?,
                    kind: DayKind::parse(&r.try_get::<String, _>("kind")?).map_err(corrupt)?,
                    name: r.try_get("name")?,
                })
            })
            .collect()
    }

    /// The calendar deadlines count on. Read once per process and kept
    /// until this store edits it: calendar edits go through the server.
    pub async fn calendar(&self) -> Result<Arc<Calendar>> {
        if let Some(c) = self.calendar.load_full() {
            return Ok(c);
        }
        let c = Arc::new(Calendar::new(self.listed_days().await?.into_iter().map(|d| (d.date, d.kind))));
        self.calendar.store(Some(c.clone()));
        Ok(c)
    }

    /// The listed days (holidays and make-up working days).
    pub async fn calendar_days(&self, p: &Principal) -> Result<Vec<CalendarDay>> {
        p.require(Perm::ReadNotices)?;
        self.listed_days().await
    }

    /// Lists `date` as a holiday or a worked day, or (`kind` None) removes
    /// it so its weekday decides again. Running clocks keep their due times.
    pub async fn set_calendar_day(&self, p: &Principal, date: Date, kind: Option<DayKind>, name: &str, reason: &str) -> Result<()> {
        p.require(Perm::ManageWorkflow)?;
        if reason.trim().is_empty() {
            return Err(StoreError::Invalid("a calendar change needs a reason".into()));
        }
        if name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(StoreError::Invalid("a day's name is one line of at most 100 characters".into()));
        }
        let mut tx = self.write().await?;
        match kind {
            Some(k) => {
                sqlx::query(
                    "INSERT INTO calendar_days (day, kind, name) VALUES ($1, $2, $3) \
                     ON CONFLICT (day) DO UPDATE SET kind = excluded.kind, name = excluded.name",
                )
                .bind(date.to_string())
                .bind(k.as_str())
                .bind(name.trim())
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM calendar_days WHERE day = $1").bind(date.to_string()).execute(&mut *tx).await?;
            }
        }
        let detail = serde_json::json!({ "kind": kind, "name": name.trim() });
        audit(&mut tx, p, "calendar.set", &date.to_string(), reason.trim(), &detail).await?;
        tx.commit().await?;
        self.calendar.store(None);
        Ok(())
    }

    /// The per-level deadline policy: the admin's, or the shipped one.
    pub async fn deadline_policy(&self) -> Result<Policy> {
        let text: Option<String> =
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1").bind(POLICY_KEY).fetch_optional(&self.pool).await?;
        match text {
            Some(t) => Policy::parse(&t).map_err(|e| StoreError::Corrupt(format!("stored deadline policy: {e}"))),
            None => Ok(Policy::default_policy()),
        }
    }

    /// Replaces the deadline policy (`level,acknowledge,answer` lines);
    /// notices already drafted keep their spans.
    pub async fn set_deadline_policy(&self, p: &Principal, text: &str, reason: &str) -> Result<Policy> {
        p.require(Perm::ManageWorkflow)?;
        if reason.trim().is_empty() {
            return Err(StoreError::Invalid("a policy change needs a reason".into()));
        }
        let policy = Policy::parse(text).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut tx = self.write().await?;
        put_setting(&mut tx, POLICY_KEY, text, &p.username).await?;
        audit(&mut tx, p, "policy.deadlines", POLICY_KEY, reason.trim(), &serde_json::to_value(&policy).unwrap_or_default()).await?;
        tx.commit().await?;
        Ok(policy)
    }
}

/// Writes setting `key` in the caller's transaction.
pub(crate) async fn put_setting(tx: &mut sqlx::Transaction<'_, sqlx::Any>, key: &str, value: &str, by: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
    )
    .bind(key)
    .bind(value)
    .bind(now_micros())
    .bind(by)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Setting `key` as JSON, or `T::default()` when unset. `what` names it
    /// in the error if the stored text does not parse.
    pub(crate) async fn json_setting<T: serde::de::DeserializeOwned + Default>(&self, key: &str, what: &str) -> Result<T> {
        let text: Option<String> =
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1").bind(key).fetch_optional(&self.pool).await?;
        match text {
            Some(t) => serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("stored {what}: {e}"))),
            None => Ok(T::default()),
        }
    }

    /// Writes setting `key` as JSON, audited as `action` with `reason`
    /// (required). The caller has checked the value and the permission.
    pub(crate) async fn set_json_setting<T: serde::Serialize>(
        &self,
        p: &Principal,
        key: &str,
        value: &T,
        action: &str,
        reason: &str,
    ) -> Result<()> {
        if reason.trim().is_empty() {
            return Err(StoreError::Invalid("a policy change needs a reason".into()));
        }
        let json = serde_json::to_value(value).expect("settings serialise");
        let mut tx = self.write().await?;
        put_setting(&mut tx, key, &json.to_string(), &p.username).await?;
        audit(&mut tx, p, action, key, reason.trim(), &json).await?;
        tx.commit().await?;
        Ok(())
    }
}
