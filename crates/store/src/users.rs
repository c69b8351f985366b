//! Users, API tokens and the append-only audit trail.
//!
//! Passwords are Argon2id (PHC strings). API tokens are 256 random bits,
//! shown once; only their SHA-256 is stored, which is enough for a secret
//! with that much entropy and keeps per-request checks cheap.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use serde::Serialize;
use sha2::{Digest, Sha256};
use shouwang_registry::UnitCode;
use sqlx::Row;

use crate::access::{Perm, Principal, Role};
use crate::audit::audit;
use crate::{Result, Store, StoreError, now_micros, ts};

pub const TOKEN_PREFIX: &str = "sw_";

pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub unit: Option<UnitCode>,
    /// None: token-only account (a sensor, a script).
    pub password: Option<String>,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password.
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("role", &self.role)
            .field("unit", &self.unit)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub created_at: jiff::Timestamp,
    pub revoked_at: Option<jiff::Timestamp>,
}

/// An account as the administrators' list shows it (no secrets).
#[derive(Debug, Clone, Serialize)]
pub struct UserInfo {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub unit: Option<String>,
    pub disabled: bool,
    /// Signs in with a password (else token-only: a sensor, a script).
    pub password: bool,
    pub totp: bool,
    pub created_at: jiff::Timestamp,
    /// The last request of any of the user's console sessions.
    pub last_seen: Option<jiff::Timestamp>,
}

fn hash_token(token: &str) -> String {
    crate::hex(&Sha256::digest(token.as_bytes()))
}

fn valid_username(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

impl Store {
    pub async fn user_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await?)
    }

    pub async fn create_user(&self, p: &Principal, u: NewUser) -> Result<()> {
        p.require(Perm::ManageUsers)?;
        if !valid_username(&u.username) {
            return Err(StoreError::Invalid("username must be 1-64 of letters, digits, . _ - @".into()));
        }
        match (u.role.unit_scoped(), &u.unit) {
            (true, None) => return Err(StoreError::Invalid(format!("role {} needs a unit", u.role.as_str()))),
            // A sensor may be bound to the member unit that runs it.
            (false, Some(_)) if u.role != Role::Sensor => {
                return Err(StoreError::Invalid(format!("role {} acts for the centre, not a unit", u.role.as_str())));
            }
            _ => {}
        }
        let hash = match &u.password {
            Some(pw) => {
                crate::sessions::check_password(&u.username, pw)?;
                Some(crate::sessions::hash_password(pw)?)
            }
            None => None,
        };
        let mut tx = self.write().await?;
        if let Some(unit) = &u.unit {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM units WHERE code = $1").bind(unit.as_str()).fetch_one(&mut *tx).await?;
            if n == 0 {
                return Err(StoreError::Invalid(format!("unknown unit `{unit}`")));
            }
        }
        let exists: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE username = $1").bind(&u.username).fetch_one(&mut *tx).await?;
        if exists > 0 {
            return Err(StoreError::Conflict(format!("user `{}` exists", u.username)));
        }
        sqlx::query("INSERT INTO users (username, display_name, password_hash, role, unit, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&u.username)
            .bind(&u.display_name)
            .bind(hash)
            .bind(u.role.as_str())
            .bind(u.unit.as_ref().map(|c| c.to_string()))
            .bind(now_micros())
            .execute(&mut *tx)
            .await?;
        let detail = serde_json::json!({ "role": u.role.as_str(), "unit": u.unit.as_ref().map(|c| c.as_str()) });
        audit(&mut tx, p, "user.create", &u.username, "user management", &detail).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn principal_of(&self, user_id: i64) -> Result<Option<Principal>> {
        let Some(r) =
            sqlx::query("SELECT username, role, unit, disabled FROM users WHERE id = $1").bind(user_id).fetch_optional(&self.pool).await?
        else {
            return Ok(None);
        };
        principal_in(&r)
    }

    /// Checks a password; the same error for an unknown user and a wrong password.
    pub async fn login(&self, username: &str, password: &str) -> Result<Principal> {
        let denied = || StoreError::Forbidden("wrong username or password".into());
        let row = sqlx::query("SELECT id, password_hash FROM users WHERE username = $1").bind(username).fetch_optional(&self.pool).await?;
        let (id, hash): (i64, Option<String>) = match &row {
            Some(r) => (r.try_get("id")?, r.try_get("password_hash")?),
            None => (0, None),
        };
        if password.len() > crate::sessions::PASSWORD_MAX || !crate::sessions::password_matches(hash.as_deref(), password) {
            return Err(denied());
        }
        self.principal_of(id).await?.ok_or_else(denied)
    }

    /// Issues an API token for `username`. The token is returned once and
    /// never stored; admins may issue for anyone, users for themselves.
    pub async fn create_token(&self, p: &Principal, username: &str, name: &str) -> Result<String> {
        if p.username != username {
            p.require(Perm::ManageUsers)?;
        }
        let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user `{username}`")))?;
        let mut raw = [0u8; 32];
        OsRng.fill_bytes(&mut raw);
        let token = format!("{TOKEN_PREFIX}{}", crate::hex(&raw));
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(name)
            .bind(hash_token(&token))
            .bind(now_micros())
            .execute(&mut *tx)
            .await?;
        audit(&mut tx, p, "token.create", username, name, &serde_json::json!({ "name": name })).await?;
        tx.commit().await?;
        Ok(token)
    }

    /// A user's tokens (never the secrets): id, name, created, revoked.
    pub async fn list_tokens(&self, p: &Principal, username: &str) -> Result<Vec<TokenInfo>> {
        if p.username != username {
            p.require(Perm::ManageUsers)?;
        }
        let rows = sqlx::query(
            "SELECT t.id, t.name, t.created_at, t.revoked_at FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE u.username = $1 ORDER BY t.id",
        )
        .bind(username)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenInfo {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    created_at: ts(r.try_get("created_at")?),
                    revoked_at: r.try_get::<Option<i64>, _>("revoked_at")?.map(ts),
                })
            })
            .collect()
    }

    /// Revokes a token at once: the next request with it gets 401.
    pub async fn revoke_token(&self, p: &Principal, id: i64, reason: &str) -> Result<()> {
        let mut tx = self.write().await?;
        let owner: Option<String> = sqlx::query_scalar(
            "SELECT u.username FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1 AND t.revoked_at IS NULL",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let owner = owner.ok_or_else(|| StoreError::NotFound(format!("active token {id}")))?;
        if owner != p.username {
            p.require(Perm::ManageUsers)?;
        }
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2").bind(now_micros()).bind(id).execute(&mut *tx).await?;
        audit(&mut tx, p, "token.revoke", &owner, reason, &serde_json::json!({ "token_id": id })).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Disables a user: password and every token stop working at once, and
    /// their console sessions end for good (enabling the user later does not
    /// bring them back).
    pub async fn disable_user(&self, p: &Principal, username: &str, reason: &str) -> Result<()> {
        p.require(Perm::ManageUsers)?;
        let mut tx = self.write().await?;
        let n = sqlx::query("UPDATE users SET disabled = 1 WHERE username = $1 AND disabled = 0").bind(username).execute(&mut *tx).await?;
        if n.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("enabled user `{username}`")));
        }
        crate::sessions::end_sessions(&mut tx, username, None, now_micros()).await?;
        audit(&mut tx, p, "user.disable", username, reason, &serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every account, for the administrators' user list.
    pub async fn users(&self, p: &Principal) -> Result<Vec<UserInfo>> {
        p.require(Perm::ManageUsers)?;
        let rows = sqlx::query(
            "SELECT u.username, u.display_name, u.role, u.unit, u.disabled, u.created_at,
                CASE WHEN u.password_hash IS NULL THEN 0 ELSE 1 END AS has_password,
                CASE WHEN u.totp_secret IS NULL THEN 0 ELSE 1 END AS has_totp,
                (SELECT MAX(s.seen_at) FROM sessions s WHERE s.user_id = u.id) AS last_seen
             FROM users u ORDER BY u.username",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(UserInfo {
                    username: r.try_get("username")?,
                    display_name: r.try_get("display_name")?,
                    role: Role::parse(&r.try_get::<String, _>("role")?)?,
                    unit: r.try_get("unit")?,
                    disabled: r.try_get::<i64, _>("disabled")? != 0,
                    password: r.try_get::<i64, _>("has_password")? != 0,
                    totp: r.try_get::<i64, _>("has_totp")? != 0,
                    created_at: ts(r.try_get("created_at")?),
                    last_seen: r.try_get::<Option<i64>, _>("last_seen")?.map(ts),
                })
            })
            .collect()
    }

    /// Enables a disabled user again.
    pub async fn enable_user(&self, p: &Principal, username: &str, reason: &str) -> Result<()> {
        p.require(Perm::ManageUsers)?;
        let mut tx = self.write().await?;
        let n = sqlx::query("UPDATE users SET disabled = 0 WHERE username = $1 AND disabled <> 0").bind(username).execute(&mut *tx).await?;
        if n.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("disabled user `{username}`")));
        }
        audit(&mut tx, p, "user.enable", username, reason, &serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(())
    }

    /// An administrator sets a new password for a user who lost theirs:
    /// the rules apply, every session of the user ends, and the user's
    /// sign-in failures are forgotten. The password is never audited.
    pub async fn reset_password(&self, p: &Principal, username: &str, new: &str, reason: &str, now: jiff::Timestamp) -> Result<()> {
        p.require(Perm::ManageUsers)?;
        crate::sessions::check_password(username, new)?;
        let hash = crate::sessions::hash_password(new)?;
        let mut tx = self.write().await?;
        let n = sqlx::query("UPDATE users SET password_hash = $1 WHERE username = $2").bind(hash).bind(username).execute(&mut *tx).await?;
        if n.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("user `{username}`")));
        }
        crate::sessions::end_sessions(&mut tx, username, None, now.as_microsecond()).await?;
        sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(format!("user:{}", username.to_lowercase()))
            .execute(&mut *tx)
            .await?;
        audit(&mut tx, p, "user.password_reset", username, reason, &serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The principal behind an API token, if it is valid and not revoked.
    pub async fn principal_for_token(&self, token: &str) -> Result<Option<Principal>> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() != TOKEN_PREFIX.len() + 64 {
            return Ok(None);
        }
        let user_id: Option<i64> = sqlx::query_scalar("SELECT user_id FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL")
            .bind(hash_token(token))
            .fetch_optional(&self.pool)
            .await?;
        match user_id {
            Some(id) => self.principal_of(id).await,
            None => Ok(None),
        }
    }
}

/// The principal in a row with a user's `username`, `role`, `unit` and
/// `disabled` columns; `None` for a disabled user.
pub(crate) fn principal_in(r: &sqlx::any::AnyRow) -> Result<Option<Principal>> {
    if r.try_get::<i64, _>("disabled")? != 0 {
        return Ok(None);
    }
    let unit: Option<String> = r.try_get("unit")?;
    Ok(Some(Principal {
        username: r.try_get("username")?,
        role: Role::parse(&r.try_get::<String, _>("role")?)?,
        unit: unit.map(|u| UnitCode::parse(&u)).transpose().map_err(StoreError::Corrupt)?,
    }))
}
