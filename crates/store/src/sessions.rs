//! Browser sessions of the web console: password sign-in with rate limits,
//! an optional TOTP second factor, CSRF tokens, listing and revocation.
//!
//! The cookie carries 256 random bits; only their SHA-256 is stored, as for
//! API tokens. Every sign-in and every passed second factor mints a new
//! token, so a token planted in a browser before sign-in (session fixation)
//! never becomes a signed-in session.

use argon2::Argon2;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use sqlx::{Any, Row, Transaction};

use crate::access::{Perm, Principal, Role};
use crate::audit::audit;
use crate::{Result, Store, StoreError};

/// Prefix of session tokens, so a leaked one is recognisable in a scan.
pub const SESSION_PREFIX: &str = "ss_";
/// A session lasts at most this long after sign-in…
pub const SESSION_LIFETIME: SignedDuration = SignedDuration::from_hours(12);
/// …and ends sooner when unused for this long.
pub const SESSION_IDLE: SignedDuration = SignedDuration::from_hours(2);
/// Failed sign-ins (and second factors) counted over this window.
pub const LOGIN_WINDOW: SignedDuration = SignedDuration::from_mins(15);
/// Attempts per account in the window before it is refused outright.
pub const LOGIN_PER_ACCOUNT: i64 = 5;
/// Attempts per client address in the window: a guesser spraying many
/// accounts from one place is stopped too.
pub const LOGIN_PER_ADDRESS: i64 = 50;
/// Longest password taken: Argon2 of a megabyte is a denial of service.
pub const PASSWORD_MAX: usize = 256;
/// Languages of the console.
pub const LANGUAGES: [&str; 2] = ["zh-CN", "en"];

/// A session just made: the cookie's token (shown once) and its CSRF token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf: String,
    /// Signed in with the password, but the TOTP code is still owed.
    pub needs_totp: bool,
}

/// A live session, as a request sees it.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub principal: Principal,
    pub display_name: String,
    pub csrf: String,
    pub lang: String,
    pub pending_totp: bool,
    pub totp_enrolled: bool,
}

/// One of a user's sessions, for the list they can revoke from.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    pub id: i64,
    pub ip: String,
    pub user_agent: String,
    pub created_at: Timestamp,
    pub seen_at: Timestamp,
    pub expires_at: Timestamp,
}

/// The password rules, in one place: length, three kinds of character,
/// and not the username. The message says which rule failed.
pub fn check_password(username: &str, password: &str) -> Result<()> {
    let n = password.chars().count();
    if n < 12 {
        return Err(StoreError::Invalid("password must be at least 12 characters".into()));
    }
    if password.len() > PASSWORD_MAX {
        return Err(StoreError::Invalid(format!("password must be at most {PASSWORD_MAX} bytes")));
    }
    let kinds = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    if kinds.iter().filter(|k| **k).count() < 3 {
        return Err(StoreError::Invalid(
            "password must mix at least three of: lower-case letters, upper-case letters, digits, other characters".into(),
        ));
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        return Err(StoreError::Invalid("password must not contain the username".into()));
    }
    Ok(())
}

pub(crate) fn hash_password(password: &str) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Invalid(format!("cannot hash password: {e}")))
}

/// Checks `password` against a stored PHC string. With no stored hash (an
/// unknown user, a token-only account) it still spends one Argon2 run, so
/// timing does not tell which usernames exist.
pub(crate) fn password_matches(stored: Option<&str>, password: &str) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("dummy Password 1 for timing").unwrap_or_default());
    let (hash, real) = match stored {
        Some(h) => (h, true),
        None => (dummy.as_str(), false),
    };
    let ok = PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok());
    ok && real
}

/// 256 random bits from the OS, as hex: session and CSRF tokens.
pub fn random_token() -> String {
    let mut raw = [0u8; 32];
    OsRng.fill_bytes(&mut raw);
    crate::hex(&raw)
}

fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    crate::hex(&Sha256::digest(token.as_bytes()))
}

/// The audit trail's actor for a sign-in attempt: who it claimed to be, from where.
fn visitor(username: &str, ip: &str) -> Principal {
    Principal { username: format!("web:{}@{ip}", crate::clip(username, 64)), role: Role::Auditor, unit: None }
}

fn totp(secret_b32: &str) -> Result<totp_rs::TOTP> {
    let bytes =
        totp_rs::Secret::Encoded(secret_b32.to_string()).to_bytes().map_err(|_| StoreError::Invalid("malformed TOTP secret".into()))?;
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes).map_err(|e| StoreError::Invalid(format!("TOTP secret: {e}")))
}

/// Whether `code` is the TOTP of `secret` at `now`, one 30 s step either side.
fn totp_ok(secret_b32: &str, code: &str, now: Timestamp) -> bool {
    let code = code.trim();
    code.len() == 6 && totp(secret_b32).is_ok_and(|t| t.check(code, now.as_second().max(0) as u64))
}

/// A fresh TOTP secret and the `otpauth://` URL an authenticator app takes.
pub fn new_totp_secret(username: &str) -> (String, String) {
    let mut raw = [0u8; 20];
    OsRng.fill_bytes(&mut raw);
    let secret = totp_rs::Secret::Raw(raw.to_vec()).to_encoded().to_string();
    let mut url = url::Url::parse("otpauth://totp/").expect("static URL");
    url.set_path(&format!("Shouwang:{username}"));
    url.query_pairs_mut().append_pair("secret", &secret).append_pair("issuer", "Shouwang");
    (secret, url.to_string())
}

impl Store {
    /// Counts an attempt against the account and the address before the
    /// password is checked, so parallel guesses cannot slip past the limit.
    async fn reserve_attempt(&self, account: &str, ip: &str, now: Timestamp) -> Result<()> {
        let (at, since) = (now.as_microsecond(), (now - LOGIN_WINDOW).as_microsecond());
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM login_failures WHERE at < $1").bind(since).execute(&mut *tx).await?;
        let count = |key: String| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM login_failures WHERE key = $1").bind(key);
        let by_account = count(format!("user:{account}")).fetch_one(&mut *tx).await?;
        let by_address = count(format!("ip:{ip}")).fetch_one(&mut *tx).await?;
        if by_account >= LOGIN_PER_ACCOUNT || by_address >= LOGIN_PER_ADDRESS {
            let first: Option<i64> = sqlx::query_scalar("SELECT MIN(at) FROM login_failures WHERE key = $1 OR key = $2")
                .bind(format!("user:{account}"))
                .bind(format!("ip:{ip}"))
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            let retry = first.map_or(LOGIN_WINDOW.as_secs(), |f| (f + LOGIN_WINDOW.as_micros() as i64 - at) / 1_000_000).max(1);
            return Err(StoreError::Limited { message: "too many sign-in attempts; try again later".into(), retry_after: retry as u32 });
        }
        sqlx::query("INSERT INTO login_failures (key, at) VALUES ($1, $2), ($3, $2)")
            .bind(format!("user:{account}"))
            .bind(at)
            .bind(format!("ip:{ip}"))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A successful attempt clears the account's count and takes back its
    /// own mark on the address (one office signing in all day is not a guesser).
    async fn clear_attempt(&self, account: &str, ip: &str, now: Timestamp) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM login_failures WHERE key = $1").bind(format!("user:{account}")).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM login_failures WHERE key = $1 AND at = $2")
            .bind(format!("ip:{ip}"))
            .bind(now.as_microsecond())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Signs in with a password. Wrong username and wrong password give
    /// the same answer; past the limits every attempt is refused unchecked.
    pub async fn sign_in(&self, username: &str, password: &str, ip: &str, user_agent: &str, now: Timestamp) -> Result<NewSession> {
        let account = crate::clip(username.trim(), 64).to_lowercase();
        self.reserve_attempt(&account, ip, now).await?;
        let row = sqlx::query("SELECT id, password_hash, disabled, totp_secret FROM users WHERE lower(username) = $1")
            .bind(&account)
            .fetch_optional(&self.pool)
            .await?;
        let hash: Option<String> = row.as_ref().map(|r| r.try_get("password_hash")).transpose()?.flatten();
        let long = password.len() > PASSWORD_MAX;
        let matched = !long && password_matches(hash.as_deref(), if long { "" } else { password });
        let live = row.as_ref().map(|r| r.try_get::<i64, _>("disabled")).transpose()?.is_some_and(|d| d == 0);
        let Some(row) = row.filter(|_| matched && live) else {
            let mut tx = self.write().await?;
            audit(&mut tx, &visitor(&account, ip), "session.refused", &account, "wrong username or password", &serde_json::json!({}))
                .await?;
            tx.commit().await?;
            return Err(StoreError::Forbidden("wrong username or password".into()));
        };
        self.clear_attempt(&account, ip, now).await?;
        let user_id: i64 = row.try_get("id")?;
        let needs_totp = row.try_get::<Option<String>, _>("totp_secret")?.is_some();
        self.open_session(user_id, needs_totp, ip, user_agent, now).await
    }

    async fn open_session(&self, user_id: i64, needs_totp: bool, ip: &str, user_agent: &str, now: Timestamp) -> Result<NewSession> {
        let p = self.principal_of(user_id).await?.ok_or_else(|| StoreError::Forbidden("wrong username or password".into()))?;
        let (token, csrf) = (format!("{SESSION_PREFIX}{}", random_token()), random_token());
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf, pending_totp, ip, user_agent, created_at, seen_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
        )
        .bind(token_hash(&token))
        .bind(user_id)
        .bind(&csrf)
        .bind(i64::from(needs_totp))
        .bind(crate::clip(ip, 64))
        .bind(crate::clip(user_agent, 256))
        .bind(now.as_microsecond())
        .bind((now + SESSION_LIFETIME).as_microsecond())
        .execute(&mut *tx)
        .await?;
        let action = if needs_totp { "session.password" } else { "session.create" };
        audit(&mut tx, &p, action, &p.username, "signed in", &serde_json::json!({ "ip": crate::clip(ip, 64) })).await?;
        tx.commit().await?;
        Ok(NewSession { token, csrf, needs_totp })
    }

    /// The live session behind a cookie's token, if any. Expired, idle,
    /// revoked and disabled users' sessions are all simply absent.
    pub async fn session(&self, token: &str, now: Timestamp) -> Result<Option<Session>> {
        if !token.starts_with(SESSION_PREFIX) || token.len() != SESSION_PREFIX.len() + 64 {
            return Ok(None);
        }
        let at = now.as_microsecond();
        let row = sqlx::query(
            "SELECT s.id, s.csrf, s.pending_totp, s.seen_at, u.username, u.role, u.unit, u.disabled, u.display_name, u.lang, u.totp_secret
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND s.seen_at > $3",
        )
        .bind(token_hash(token))
        .bind(at)
        .bind((now - SESSION_IDLE).as_microsecond())
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let Some(principal) = crate::users::principal_in(&r)? else { return Ok(None) };
        let id: i64 = r.try_get("id")?;
        // Marking use costs a write: once a minute is precise enough for an idle limit of hours.
        if r.try_get::<i64, _>("seen_at")? < at - 60_000_000 {
            let mut tx = self.write().await?;
            sqlx::query("UPDATE sessions SET seen_at = $1 WHERE id = $2").bind(at).bind(id).execute(&mut *tx).await?;
            tx.commit().await?;
        }
        Ok(Some(Session {
            id,
            principal,
            display_name: r.try_get("display_name")?,
            csrf: r.try_get("csrf")?,
            lang: r.try_get("lang")?,
            pending_totp: r.try_get::<i64, _>("pending_totp")? != 0,
            totp_enrolled: r.try_get::<Option<String>, _>("totp_secret")?.is_some(),
        }))
    }

    /// The second factor: a right code ends the half-open session and opens
    /// a full one under a new token. Wrong codes count like wrong passwords.
    pub async fn second_factor(&self, token: &str, code: &str, ip: &str, user_agent: &str, now: Timestamp) -> Result<NewSession> {
        let s = self.session(token, now).await?.filter(|s| s.pending_totp).ok_or_else(|| StoreError::Forbidden("sign in first".into()))?;
        let account = s.principal.username.to_lowercase();
        self.reserve_attempt(&account, ip, now).await?;
        let row =
            sqlx::query("SELECT id, totp_secret FROM users WHERE username = $1").bind(&s.principal.username).fetch_one(&self.pool).await?;
        let secret: Option<String> = row.try_get("totp_secret")?;
        if !secret.is_some_and(|sec| totp_ok(&sec, code, now)) {
            let mut tx = self.write().await?;
            audit(&mut tx, &s.principal, "session.refused", &account, "wrong TOTP code", &serde_json::json!({ "ip": ip })).await?;
            tx.commit().await?;
            return Err(StoreError::Forbidden("wrong code".into()));
        }
        self.clear_attempt(&account, ip, now).await?;
        self.end_session(s.id, now, None).await?;
        self.open_session(row.try_get("id")?, false, ip, user_agent, now).await
    }

    /// Ends session `id`; when it was live and `audit_as` names the act
    /// (who, action, target, reason), that is recorded in the same
    /// transaction. Whether it was live.
    async fn end_session(&self, id: i64, now: Timestamp, audit_as: Option<(&Principal, &str, &str, &str)>) -> Result<bool> {
        let mut tx = self.write().await?;
        let n = sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now.as_microsecond())
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if let (1, Some((p, action, target, reason))) = (n, audit_as) {
            audit(&mut tx, p, action, target, reason, &serde_json::json!({ "session": id })).await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Signing out: the token stops working at once.
    pub async fn sign_out(&self, token: &str, now: Timestamp) -> Result<()> {
        if let Some(s) = self.session(token, now).await? {
            self.end_session(s.id, now, Some((&s.principal, "session.end", &s.principal.username, "signed out"))).await?;
        }
        Ok(())
    }

    /// The caller's own live sessions, newest first.
    pub async fn sessions(&self, p: &Principal, now: Timestamp) -> Result<Vec<SessionInfo>> {
        let rows = sqlx::query(
            "SELECT s.id, s.ip, s.user_agent, s.created_at, s.seen_at, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE u.username = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND s.seen_at > $3 ORDER BY s.id DESC LIMIT 100",
        )
        .bind(&p.username)
        .bind(now.as_microsecond())
        .bind((now - SESSION_IDLE).as_microsecond())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SessionInfo {
                    id: r.try_get("id")?,
                    ip: r.try_get("ip")?,
                    user_agent: r.try_get("user_agent")?,
                    created_at: crate::ts(r.try_get("created_at")?),
                    seen_at: crate::ts(r.try_get("seen_at")?),
                    expires_at: crate::ts(r.try_get("expires_at")?),
                })
            })
            .collect()
    }

    /// Ends one session: the caller's own, or anyone's for a user manager.
    /// Another user's session is "not found" to everyone else.
    pub async fn revoke_session(&self, p: &Principal, id: i64, now: Timestamp) -> Result<()> {
        let owner: Option<String> = sqlx::query_scalar(
            "SELECT u.username FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1 AND s.revoked_at IS NULL",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let owner = owner.filter(|o| *o == p.username || p.require(Perm::ManageUsers).is_ok());
        let owner = owner.ok_or_else(|| StoreError::NotFound(format!("session {id}")))?;
        self.end_session(id, now, Some((p, "session.revoke", &owner, "revoked"))).await?;
        Ok(())
    }

    /// The console's language for the caller.
    pub async fn set_language(&self, p: &Principal, lang: &str) -> Result<()> {
        if !LANGUAGES.contains(&lang) {
            return Err(StoreError::Invalid(format!("unknown language `{}` (zh-CN, en)", crate::clip(lang, 16))));
        }
        let mut tx = self.write().await?;
        sqlx::query("UPDATE users SET lang = $1 WHERE username = $2").bind(lang).bind(&p.username).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes the caller's password after checking the current one; every
    /// other session of theirs ends.
    pub async fn change_password(&self, s: &Session, current: &str, new: &str, now: Timestamp) -> Result<()> {
        let p = &s.principal;
        let hash: Option<String> =
            sqlx::query_scalar("SELECT password_hash FROM users WHERE username = $1").bind(&p.username).fetch_one(&self.pool).await?;
        if current.len() > PASSWORD_MAX || !password_matches(hash.as_deref(), current) {
            return Err(StoreError::Forbidden("the current password is wrong".into()));
        }
        check_password(&p.username, new)?;
        let hash = hash_password(new)?;
        let mut tx = self.write().await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE username = $2").bind(hash).bind(&p.username).execute(&mut *tx).await?;
        end_sessions(&mut tx, &p.username, Some(s.id), now.as_microsecond()).await?;
        audit(&mut tx, p, "user.password", &p.username, "changed own password", &serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Turns on the TOTP second factor once the user proves their app has
    /// the secret by giving its current code.
    pub async fn enable_totp(&self, p: &Principal, secret_b32: &str, code: &str, now: Timestamp) -> Result<()> {
        totp(secret_b32)?;
        if !totp_ok(secret_b32, code, now) {
            return Err(StoreError::Invalid("the code does not match; check the authenticator's clock".into()));
        }
        let mut tx = self.write().await?;
        sqlx::query("UPDATE users SET totp_secret = $1 WHERE username = $2").bind(secret_b32).bind(&p.username).execute(&mut *tx).await?;
        audit(&mut tx, p, "user.totp", &p.username, "second factor enabled", &serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Turns the second factor off, given a current code.
    pub async fn disable_totp(&self, p: &Principal, code: &str, now: Timestamp) -> Result<()> {
        let secret: Option<String> =
            sqlx::query_scalar("SELECT totp_secret FROM users WHERE username = $1").bind(&p.username).fetch_one(&self.pool).await?;
        if !secret.is_some_and(|s| totp_ok(&s, code, now)) {
            return Err(StoreError::Invalid("the code does not match".into()));
        }
        let mut tx = self.write().await?;
        sqlx::query("UPDATE users SET totp_secret = NULL WHERE username = $1").bind(&p.username).execute(&mut *tx).await?;
        audit(&mut tx, p, "user.totp", &p.username, "second factor disabled", &serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Ends every live console session of `username` (but `except`): after a
/// password change or reset, or when the user is disabled.
pub(crate) async fn end_sessions(tx: &mut Transaction<'_, Any>, username: &str, except: Option<i64>, now_us: i64) -> Result<()> {
    sqlx::query(
        "UPDATE sessions SET revoked_at = $1 WHERE revoked_at IS NULL AND id <> $2
         AND user_id = (SELECT id FROM users WHERE username = $3)",
    )
    .bind(now_us)
    .bind(except.unwrap_or(0))
    .bind(username)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The current TOTP code of a secret: for tests and the demo's printout.
pub fn totp_code(secret_b32: &str, now: Timestamp) -> Result<String> {
    Ok(totp(secret_b32)?.generate(now.as_second().max(0) as u64))
}
