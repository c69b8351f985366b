//! Evidence attachments: files the centre or the unit adds to a notice.
//!
//! An upload is judged by its bytes, never by its name or declared type:
//! PDF, PNG, JPEG, GIF, plain UTF-8 text, and ZIP containers (which covers
//! docx and xlsx). A ZIP's central directory is read, never unpacked, to
//! refuse bombs and entries named to escape a directory. Names are stripped
//! to a safe display name; content is kept with its SHA-256 and handed back
//! only as a download, so nothing uploaded is ever run or rendered.

use std::io::Cursor;

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::Stored;
use crate::access::{Perm, Principal};
use crate::{Result, Store, StoreError, now_micros, ts};

/// Largest upload, in bytes.
pub const MAX_ATTACHMENT: usize = 20 * 1024 * 1024;
/// Most files on one notice.
const MAX_PER_NOTICE: i64 = 50;
/// A ZIP may unpack to at most this, in total …
const MAX_UNPACKED: u64 = 512 * 1024 * 1024;
/// … and no entry may unpack to more than this many times its packed size.
const MAX_RATIO: u64 = 200;
const MAX_ENTRIES: usize = 10_000;

/// An attachment as listed (no content).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attachment {
    pub id: i64,
    pub notice_id: i64,
    pub name: String,
    pub media_type: String,
    pub size: i64,
    pub sha256: String,
    pub uploaded_by: String,
    pub uploaded_at: jiff::Timestamp,
}

fn invalid(m: impl Into<String>) -> StoreError {
    StoreError::Invalid(m.into())
}

/// The name to show: the last path component, without control characters
/// or leading dots, at most 200 characters; `attachment` if nothing is left.
pub fn safe_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = last.chars().filter(|c| !c.is_control()).take(200).collect();
    let clean = clean.trim().trim_start_matches('.').trim().to_string();
    if clean.is_empty() { "attachment".into() } else { clean }
}

/// What the bytes are, from their first bytes; `None` for anything not on
/// the list.
fn sniff(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if b.starts_with(b"PK\x03\x04") || b.starts_with(b"PK\x05\x06") {
        Some("application/zip")
    } else if std::str::from_utf8(b).is_ok() && !b.contains(&0) {
        Some("text/plain")
    } else {
        None
    }
}

/// Refuses a ZIP that would unpack too large, too compressed, to too many
/// files, or outside its directory, by reading its directory only.
fn check_zip(b: &[u8]) -> Result<()> {
    let bad = |m: String| invalid(format!("the ZIP file is refused: {m}"));
    let mut z = zip::ZipArchive::new(Cursor::new(b)).map_err(|e| bad(format!("it does not read as a ZIP ({e})")))?;
    if z.len() > MAX_ENTRIES {
        return Err(bad(format!("{} entries (at most {MAX_ENTRIES})", z.len())));
    }
    let mut total: u64 = 0;
    for i in 0..z.len() {
        let f = z.by_index_raw(i).map_err(|e| bad(format!("entry {}: {e}", i + 1)))?;
        let name: String = f.name().map(|n| n.chars().take(200).collect()).unwrap_or_else(|_| format!("#{}", i + 1));
        if f.enclosed_name().is_none() {
            return Err(bad(format!("entry `{name}` points outside its directory")));
        }
        let (packed, unpacked) = (f.compressed_size(), f.size());
        total = total.saturating_add(unpacked);
        if unpacked > packed.max(1).saturating_mul(MAX_RATIO) && unpacked > 1024 * 1024 {
            return Err(bad(format!("entry `{name}` unpacks {unpacked} bytes from {packed}: a compression bomb")));
        }
    }
    if total > MAX_UNPACKED {
        return Err(bad(format!("it unpacks to {total} bytes (at most {MAX_UNPACKED})")));
    }
    Ok(())
}

fn attachment_of(r: &sqlx::any::AnyRow) -> Result<Attachment> {
    Ok(Attachment {
        id: r.try_get("id")?,
        notice_id: r.try_get("notice_id")?,
        name: r.try_get("name")?,
        media_type: r.try_get("media_type")?,
        size: r.try_get("size")?,
        sha256: r.try_get("sha256")?,
        uploaded_by: r.try_get("uploaded_by")?,
        uploaded_at: ts(r.try_get("uploaded_at")?),
    })
}

const COLUMNS: &str = "id, notice_id, name, media_type, size, sha256, uploaded_by, uploaded_at";

impl Store {
    /// Adds `content` to notice `id` as evidence. The centre may attach to
    /// any notice it manages; a unit to its own notice while it holds it.
    /// The same content twice on one notice is the same attachment.
    pub async fn attach(&self, p: &Principal, id: i64, name: &str, content: &[u8]) -> Result<Attachment> {
        let Stored { notice: n, .. } = self.visible_notice(p, id).await?;
        let may = p.require(Perm::ManageNotices).is_ok() || (p.require(Perm::RespondNotices).is_ok() && n.state.unit_holds());
        if !may {
            return Err(StoreError::Forbidden(format!("{} may not add files to notice {id} while it is {}", p.username, n.state)));
        }
        if content.is_empty() {
            return Err(invalid("the file is empty"));
        }
        if content.len() > MAX_ATTACHMENT {
            return Err(StoreError::TooLarge(format!("the file is {} bytes; at most {MAX_ATTACHMENT}", content.len())));
        }
        let media_type = sniff(content)
            .ok_or_else(|| StoreError::Unsupported("only PDF, PNG, JPEG, GIF, plain text and ZIP (docx, xlsx) files are taken".into()))?;
        if media_type == "application/zip" {
            check_zip(content)?;
        }
        let sha256 = crate::hex(&Sha256::digest(content));
        let name = safe_name(name);
        let mut tx = self.write().await?;
        if let Some(r) = sqlx::query(&format!("SELECT {COLUMNS} FROM attachments WHERE notice_id = $1 AND sha256 = $2"))
            .bind(id)
            .bind(&sha256)
            .fetch_optional(&mut *tx)
            .await?
        {
            return attachment_of(&r);
        }
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attachments WHERE notice_id = $1").bind(id).fetch_one(&mut *tx).await?;
        if count >= MAX_PER_NOTICE {
            return Err(invalid(format!("notice {id} has {count} files; at most {MAX_PER_NOTICE}")));
        }
        let row = sqlx::query(&format!(
            "INSERT INTO attachments (notice_id, name, media_type, size, sha256, uploaded_by, uploaded_at, content) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
        ))
        .bind(id)
        .bind(&name)
        .bind(media_type)
        .bind(content.len() as i64)
        .bind(&sha256)
        .bind(&p.username)
        .bind(now_micros())
        .bind(content.to_vec())
        .fetch_one(&mut *tx)
        .await?;
        let a = attachment_of(&row)?;
        let detail = serde_json::json!({ "name": a.name, "media_type": a.media_type, "size": a.size, "sha256": a.sha256 });
        crate::audit::audit(&mut tx, p, "notice.attach", &format!("notice:{id}"), "", &detail).await?;
        tx.commit().await?;
        Ok(a)
    }

    /// The files on notice `id`, oldest first.
    pub async fn attachments(&self, p: &Principal, id: i64) -> Result<Vec<Attachment>> {
        self.visible_notice(p, id).await?;
        self.attachments_of(id).await
    }

    pub(super) async fn attachments_of(&self, id: i64) -> Result<Vec<Attachment>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM attachments WHERE notice_id = $1 ORDER BY id"))
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(attachment_of).collect()
    }

    /// One file and its content, for download. A TLP:RED notice's file is
    /// audited as a read of TLP:RED material.
    pub async fn attachment(&self, p: &Principal, id: i64, file: i64) -> Result<(Attachment, Vec<u8>)> {
        let Stored { notice: n, .. } = self.visible_notice(p, id).await?;
        let row = sqlx::query(&format!("SELECT {COLUMNS}, content FROM attachments WHERE notice_id = $1 AND id = $2"))
            .bind(id)
            .bind(file)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("file {file} on notice {id}")))?;
        if n.tlp == "TLP:RED" {
            let target = format!("notice:{id}/file:{file}");
            self.record(p, "notice.download", &target, "TLP:RED material read", &serde_json::json!({})).await?;
        }
        Ok((attachment_of(&row)?, row.try_get("content")?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_controls_and_leading_dots() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("C:\\Users\\a\\报告.pdf"), "报告.pdf");
        assert_eq!(safe_name(".htaccess"), "htaccess");
        assert_eq!(safe_name("a\u{0}b\r\n.txt"), "ab.txt");
        assert_eq!(safe_name("../"), "attachment");
        assert_eq!(safe_name(&"长".repeat(500)).chars().count(), 200);
    }

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff("日志 2026-11-22 ok\n".as_bytes()), Some("text/plain"));
        assert_eq!(sniff(b"MZ\x90\x00\x03"), None, "a Windows executable");
        assert_eq!(sniff(b"\x7fELF\x02\x01\x01\x00"), None);
        assert_eq!(sniff(b"text with a \x00 NUL"), None);
        assert_eq!(sniff(b"\xff\xfe<\x00h\x00"), None, "UTF-16 is not taken as text");
    }
}
