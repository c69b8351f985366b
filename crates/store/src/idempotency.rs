//! Idempotency keys for POST requests (the IETF httpapi draft's
//! `Idempotency-Key`). The first request with a key claims it; its
//! response is kept for a day, and a retry with the same key and the same
//! request gets that response again instead of a second effect. The same
//! key on a different request is refused, as is a retry while the first is
//! still running. Keys belong to the caller: one user's key never answers
//! another's request.

use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::access::Principal;
use crate::{Result, Store, StoreError};

/// How long a key's outcome is kept.
pub const KEEP_SECS: i64 = 24 * 3600;
/// Longest key, in bytes.
pub const MAX_KEY: usize = 255;

/// What a key means for the request presenting it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Never seen (or expired): the request runs, then `finish_request`.
    New,
    /// Seen with this very request: here is the response it got.
    Replay { status: u16, content_type: String, body: Vec<u8> },
    /// Seen with a different request.
    Mismatch,
    /// The first request with this key has not finished (or was cut off).
    InFlight,
}

/// What a key must be: 1 to 255 visible ASCII characters.
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(StoreError::Invalid(format!("an Idempotency-Key is 1 to {MAX_KEY} visible ASCII characters")));
    }
    Ok(())
}

fn fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    for part in [method.as_bytes(), path.as_bytes(), body] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    crate::hex(&h.finalize())
}

impl Store {
    /// Claims `key` for the request `method path body` of `p`.
    pub async fn claim_request(
        &self,
        p: &Principal,
        key: &str,
        method: &str,
        path: &str,
        body: &[u8],
        now: jiff::Timestamp,
    ) -> Result<Claim> {
        check_key(key)?;
        let print = fingerprint(method, path, body);
        let at = now.as_microsecond();
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM request_keys WHERE created_at < $1").bind(at - KEEP_SECS * 1_000_000).execute(&mut *tx).await?;
        let inserted = sqlx::query(
            "INSERT INTO request_keys (actor, key, fingerprint, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (actor, key) DO NOTHING",
        )
        .bind(&p.username)
        .bind(key)
        .bind(&print)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let claim = if inserted == 1 {
            Claim::New
        } else {
            let r = sqlx::query("SELECT fingerprint, status, content_type, body FROM request_keys WHERE actor = $1 AND key = $2")
                .bind(&p.username)
                .bind(key)
                .fetch_one(&mut *tx)
                .await?;
            let (stored, status): (String, Option<i64>) = (r.try_get("fingerprint")?, r.try_get("status")?);
            match status {
                _ if stored != print => Claim::Mismatch,
                None => Claim::InFlight,
                Some(s) => Claim::Replay {
                    status: u16::try_from(s).map_err(|_| StoreError::Corrupt(format!("stored status {s}")))?,
                    content_type: r.try_get::<Option<String>, _>("content_type")?.unwrap_or_default(),
                    body: r.try_get::<Option<Vec<u8>>, _>("body")?.unwrap_or_default(),
                },
            }
        };
        tx.commit().await?;
        Ok(claim)
    }

    /// Keeps the response of the request that claimed `key`.
    pub async fn finish_request(&self, p: &Principal, key: &str, status: u16, content_type: &str, body: &[u8]) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE request_keys SET status = $1, content_type = $2, body = $3 WHERE actor = $4 AND key = $5 AND status IS NULL")
            .bind(i64::from(status))
            .bind(content_type)
            .bind(body)
            .bind(&p.username)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Lets `key` go without a kept response: the request failed on our
    /// side (5xx) and may be tried again with the same key.
    pub async fn release_request(&self, p: &Principal, key: &str) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM request_keys WHERE actor = $1 AND key = $2 AND status IS NULL")
            .bind(&p.username)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
