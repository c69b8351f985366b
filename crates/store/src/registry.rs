//! Registry persistence: transactional import with a dry-run diff, export,
//! unit views and ownership history.

use std::collections::HashMap;

use serde::Serialize;
use shouwang_attribution::{IndexBuilder, Target};
use shouwang_registry::{self as reg, AssetValue, Bundle, Current, Known, Moved, Origin, RegionCode, UnitCode};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::access::{Perm, Principal};
use crate::{Result, Store, StoreError, now_micros, ts};

/// What an import did, or would do on a dry run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportOutcome {
    /// True when the changes were committed.
    pub applied: bool,
    pub dry_run: bool,
    /// `file:line:field: reason` for every rejected record; non-empty means nothing was applied.
    pub errors: Vec<String>,
    pub summary: ImportSummary,
    /// Assets whose claim ends at one unit and opens at another.
    pub moved: Vec<Moved>,
    /// Overlaps between units that involve a claim this import opens
    /// (`shouwang registry overlaps` lists all current ones).
    pub overlaps: Vec<OverlapReport>,
    /// Units named by the import that have no contact with a phone or email.
    pub unreachable_units: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    pub records: usize,
    pub unchanged: usize,
    pub regions_added: Vec<String>,
    pub regions_changed: Vec<String>,
    pub units_added: Vec<String>,
    pub units_changed: Vec<String>,
    pub contacts_replaced_for: Vec<String>,
    pub claims_opened: Vec<ClaimChange>,
    pub claims_ended: Vec<ClaimChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimChange {
    pub unit: String,
    pub kind: &'static str,
    pub value: String,
}

/// Two units' claims that overlap, and who wins where they do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverlapReport {
    pub a_unit: String,
    pub a_asset: String,
    pub b_unit: String,
    pub b_asset: String,
    /// `nested`: one contains the other and the more specific wins;
    /// `equal`/`partial`: resolved by precedence (`winner`), or a tie.
    pub relation: &'static str,
    /// The unit that wins the shared space, if one does.
    pub winner: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnitSummary {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub kind: String,
    pub region: String,
    pub supervisor: Option<String>,
    pub sector: String,
    pub status: String,
    pub assets: i64,
    /// Has at least one contact with a phone or email.
    pub reachable: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnitDetail {
    #[serde(flatten)]
    pub summary: UnitSummary,
    pub jurisdiction: Option<String>,
    pub uscc: Option<String>,
    pub contacts: Vec<serde_json::Value>,
    pub assets: Vec<ClaimRecord>,
}

/// One ownership interval, as stored.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimRecord {
    pub id: i64,
    pub unit: String,
    pub kind: String,
    pub value: String,
    pub system: Option<String>,
    pub precedence: i64,
    pub criticality: reg::Criticality,
    pub note: String,
    pub valid_from: jiff::Timestamp,
    pub valid_to: Option<jiff::Timestamp>,
    pub opened_by: String,
    pub open_reason: String,
    pub ended_by: Option<String>,
    pub end_reason: Option<String>,
}

const CLAIM_COLUMNS: &str =
    "id, unit, kind, value, system, precedence, criticality, note, valid_from, valid_to, opened_by, open_reason, ended_by, end_reason";

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

pub(crate) fn claim_from_row(r: &AnyRow) -> Result<ClaimRecord> {
    let crit: String = r.try_get("criticality")?;
    Ok(ClaimRecord {
        id: r.try_get("id")?,
        unit: r.try_get("unit")?,
        kind: r.try_get("kind")?,
        value: r.try_get("value")?,
        system: r.try_get("system")?,
        precedence: r.try_get("precedence")?,
        criticality: serde_json::from_str(&crit).map_err(|e| corrupt("claim criticality", e))?,
        note: r.try_get("note")?,
        valid_from: ts(r.try_get("valid_from")?),
        valid_to: r.try_get::<Option<i64>, _>("valid_to")?.map(ts),
        opened_by: r.try_get("opened_by")?,
        open_reason: r.try_get("open_reason")?,
        ended_by: r.try_get("ended_by")?,
        end_reason: r.try_get("end_reason")?,
    })
}

impl ClaimRecord {
    pub(crate) fn to_asset(&self) -> Result<reg::Asset> {
        let kind = reg::AssetKind::parse(&self.kind).map_err(|e| corrupt("claim kind", e))?;
        Ok(reg::Asset {
            unit: UnitCode::parse(&self.unit).map_err(|e| corrupt("claim unit", e))?,
            value: AssetValue::parse(kind, &self.value).map_err(|e| corrupt("claim value", e))?,
            system: self.system.clone(),
            precedence: self.precedence,
            criticality: self.criticality.clone(),
            note: self.note.clone(),
            valid_from: Some(self.valid_from),
        })
    }
}

fn opt_code<T>(v: Option<String>, parse: fn(&str) -> Result<T, String>) -> Result<Option<T>> {
    v.map(|s| parse(&s).map_err(|e| corrupt("stored code", e))).transpose()
}

fn region_from_row(r: &AnyRow) -> Result<reg::Region> {
    Ok(reg::Region {
        code: RegionCode::parse(&r.try_get::<String, _>("code")?).map_err(|e| corrupt("region code", e))?,
        name_zh: r.try_get("name_zh")?,
        name_en: r.try_get("name_en")?,
        level: reg::RegionLevel::parse(&r.try_get::<String, _>("level")?).map_err(|e| corrupt("region level", e))?,
        parent: opt_code(r.try_get("parent")?, RegionCode::parse)?,
    })
}

fn unit_from_row(r: &AnyRow) -> Result<reg::Unit> {
    let text = |c: &str| r.try_get::<String, _>(c);
    Ok(reg::Unit {
        code: UnitCode::parse(&text("code")?).map_err(|e| corrupt("unit code", e))?,
        name_zh: text("name_zh")?,
        name_en: text("name_en")?,
        kind: reg::UnitKind::parse(&text("kind")?).map_err(|e| corrupt("unit kind", e))?,
        region: RegionCode::parse(&text("region")?).map_err(|e| corrupt("unit region", e))?,
        supervisor: opt_code(r.try_get("supervisor")?, UnitCode::parse)?,
        jurisdiction: opt_code(r.try_get("jurisdiction")?, RegionCode::parse)?,
        sector: text("sector")?,
        uscc: opt_code(r.try_get("uscc")?, reg::Uscc::parse)?,
        status: reg::UnitStatus::parse(&text("status")?).map_err(|e| corrupt("unit status", e))?,
    })
}

fn contact_from_row(r: &AnyRow) -> Result<reg::Contact> {
    Ok(reg::Contact {
        unit: UnitCode::parse(&r.try_get::<String, _>("unit")?).map_err(|e| corrupt("contact unit", e))?,
        role: reg::ContactRole::parse(&r.try_get::<String, _>("role")?).map_err(|e| corrupt("contact role", e))?,
        name: r.try_get("name")?,
        phone: r.try_get("phone")?,
        email: r.try_get("email")?,
        pgp_key: r.try_get("pgp_key")?,
    })
}

type Tx<'a> = Transaction<'a, Any>;

async fn load_current(tx: &mut Tx<'_>) -> Result<Current> {
    let mut cur = Current::default();
    for r in sqlx::query("SELECT * FROM regions").fetch_all(&mut **tx).await? {
        let region = region_from_row(&r)?;
        cur.regions.insert(region.code.clone(), region);
    }
    for r in sqlx::query("SELECT * FROM units").fetch_all(&mut **tx).await? {
        let unit = unit_from_row(&r)?;
        cur.units.insert(unit.code.clone(), unit);
    }
    for r in sqlx::query("SELECT * FROM contacts ORDER BY id").fetch_all(&mut **tx).await? {
        let c = contact_from_row(&r)?;
        cur.contacts.entry(c.unit.clone()).or_default().push(c);
    }
    let sql = format!("SELECT {CLAIM_COLUMNS} FROM claims WHERE valid_to IS NULL ORDER BY id");
    for r in sqlx::query(&sql).fetch_all(&mut **tx).await? {
        let a = claim_from_row(&r)?.to_asset()?;
        cur.assets.entry(a.unit.clone()).or_default().push(a);
    }
    Ok(cur)
}

fn known_of(cur: &Current) -> Known {
    Known {
        regions: cur.regions.values().map(|r| (r.code.clone(), (r.level, r.parent.clone()))).collect(),
        units: cur.units.values().map(|u| (u.code.clone(), u.supervisor.clone())).collect(),
    }
}

fn change(unit: &UnitCode, v: &AssetValue) -> ClaimChange {
    ClaimChange { unit: unit.to_string(), kind: v.kind().as_str(), value: v.value() }
}

impl Store {
    /// Validates, plans and (unless `dry_run`) applies an import in one
    /// transaction. Any error means nothing is applied.
    pub async fn import(&self, p: &Principal, bundle: &Bundle, reason: &str, dry_run: bool) -> Result<ImportOutcome> {
        p.require(Perm::WriteRegistry)?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(StoreError::Invalid("an import needs a reason (who asked for it, and why)".into()));
        }
        let mut tx = self.write().await?;
        // Write first: this takes the row lock (PostgreSQL) or the write
        // lock (SQLite) before reading, so concurrent imports run one after
        // the other and each plans against what the previous one committed.
        sqlx::query("UPDATE meta SET value = value WHERE key = 'registry_version'").execute(&mut *tx).await?;
        let current = load_current(&mut tx).await?;
        let mut out = ImportOutcome { dry_run, ..Default::default() };
        out.summary.records = bundle.record_count();
        let errs = reg::validate(bundle, &known_of(&current));
        if !errs.is_empty() {
            out.errors = errs.iter().map(ToString::to_string).collect();
            return Ok(out);
        }
        let plan = reg::plan(bundle, &current);
        let s = &mut out.summary;
        s.unchanged = plan.unchanged;
        s.regions_added = plan.regions_added.iter().map(|r| r.code.to_string()).collect();
        s.regions_changed = plan.regions_changed.iter().map(|r| r.code.to_string()).collect();
        s.units_added = plan.units_added.iter().map(|u| u.code.to_string()).collect();
        s.units_changed = plan.units_changed.iter().map(|u| u.code.to_string()).collect();
        s.contacts_replaced_for = plan.contacts_replaced.iter().map(|(u, _)| u.to_string()).collect();
        s.claims_opened = plan.claims_opened.iter().map(|a| change(&a.unit, &a.value)).collect();
        s.claims_ended = plan.claims_ended.iter().map(|(u, v)| change(u, v)).collect();
        out.moved = plan.moved();
        out.overlaps = overlaps_after(&current, &plan);
        out.unreachable_units = unreachable_after(bundle, &current, &plan);
        if dry_run || plan.is_empty() {
            return Ok(out); // dropping the transaction rolls it back
        }
        apply(&mut tx, p, &plan, &current, reason).await?;
        let detail = serde_json::json!({
            "records": out.summary.records,
            "regions_added": out.summary.regions_added.len(),
            "units_added": out.summary.units_added,
            "units_changed": out.summary.units_changed,
            "contacts_replaced_for": out.summary.contacts_replaced_for,
            "claims_opened": out.summary.claims_opened.len(),
            "claims_ended": out.summary.claims_ended,
            "moved": out.moved,
        });
        crate::audit::audit(&mut tx, p, "registry.import", "registry", reason, &detail).await?;
        sqlx::query("UPDATE meta SET value = value + 1 WHERE key = 'registry_version'").execute(&mut *tx).await?;
        tx.commit().await?;
        out.applied = true;
        Ok(out)
    }

    /// Everything `p` can see, as a bundle ready to write out. Sorted, so
    /// the same registry always exports the same bytes.
    pub async fn export(&self, p: &Principal) -> Result<Bundle> {
        p.require(Perm::ReadRegistry)?;
        let vis = self.visibility(p).await?;
        let mut tx = self.write().await?;
        let cur = load_current(&mut tx).await?;
        drop(tx);
        let origin = Origin { file: "store".into(), loc: reg::Loc::Line(0) };
        let mut b = Bundle { has_contacts: true, has_assets: true, ..Default::default() };
        b.regions = cur.regions.into_values().map(|r| (origin.clone(), r)).collect();
        b.regions.sort_by(|a, b| a.1.code.cmp(&b.1.code));
        b.units = cur.units.into_values().filter(|u| vis.sees(u.code.as_str())).map(|u| (origin.clone(), u)).collect();
        b.units.sort_by(|a, b| a.1.code.cmp(&b.1.code));
        for (_, contacts) in cur.contacts.into_iter().filter(|(u, _)| vis.sees(u.as_str())) {
            b.contacts.extend(contacts.into_iter().map(|c| (origin.clone(), c)));
        }
        b.contacts.sort_by(|a, b| (&a.1.unit, a.1.role, &a.1.name).cmp(&(&b.1.unit, b.1.role, &b.1.name)));
        for (_, assets) in cur.assets.into_iter().filter(|(u, _)| vis.sees(u.as_str())) {
            b.assets.extend(assets.into_iter().map(|a| (origin.clone(), a)));
        }
        b.assets.sort_by(|a, b| (&a.1.unit, a.1.value.kind(), a.1.value.value()).cmp(&(&b.1.unit, b.1.value.kind(), b.1.value.value())));
        Ok(b)
    }

    /// Units `p` can see, optionally filtered by a text match on code or name.
    pub async fn list_units(&self, p: &Principal, q: Option<&str>, limit: i64, offset: i64) -> Result<Vec<UnitSummary>> {
        p.require(Perm::ReadRegistry)?;
        let vis = self.visibility(p).await?;
        let pattern = format!("%{}%", q.unwrap_or_default().replace(['%', '_'], ""));
        let (limit, offset) = (limit.clamp(0, 10_000), offset.max(0));
        let filter = "WHERE u.code LIKE $1 OR u.name_zh LIKE $1 OR u.name_en LIKE $1 ORDER BY u.code";
        if vis == crate::access::Visibility::All {
            // The page in SQL, so the per-unit counts run for its rows only.
            let sql = format!("{UNIT_SUMMARY_SELECT} {filter} LIMIT $2 OFFSET $3");
            let rows = sqlx::query(&sql).bind(pattern).bind(limit).bind(offset).fetch_all(&self.pool).await?;
            return rows.iter().map(summary_from_row).collect();
        }
        let rows = sqlx::query(&format!("{UNIT_SUMMARY_SELECT} {filter}")).bind(pattern).fetch_all(&self.pool).await?;
        let mut out = Vec::new();
        for r in rows.iter() {
            let code: String = r.try_get("code")?;
            if vis.sees(&code) {
                out.push(summary_from_row(r)?);
            }
        }
        Ok(out.into_iter().skip(offset as usize).take(limit as usize).collect())
    }

    /// One unit's row, without its contacts and assets (a data centre has
    /// thousands): for naming it.
    pub async fn unit_summary(&self, p: &Principal, code: &str) -> Result<UnitSummary> {
        summary_from_row(&self.unit_row(p, code).await?)
    }

    async fn unit_row(&self, p: &Principal, code: &str) -> Result<AnyRow> {
        p.require(Perm::ReadRegistry)?;
        if !self.visibility(p).await?.sees(code) {
            return Err(StoreError::NotFound(format!("unit `{code}`")));
        }
        let sql = format!("{UNIT_SUMMARY_SELECT} WHERE u.code = $1");
        sqlx::query(&sql).bind(code).fetch_optional(&self.pool).await?.ok_or_else(|| StoreError::NotFound(format!("unit `{code}`")))
    }

    /// One unit with its contacts and current assets.
    pub async fn unit(&self, p: &Principal, code: &str) -> Result<UnitDetail> {
        let r = self.unit_row(p, code).await?;
        let contacts = sqlx::query("SELECT * FROM contacts WHERE unit = $1 ORDER BY role, name")
            .bind(code)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                let c = contact_from_row(r)?;
                Ok(serde_json::json!({
                    "role": c.role.as_str(), "role_zh": c.role.label_zh(), "name": c.name,
                    "phone": c.phone, "email": c.email, "pgp_key": c.pgp_key, "reachable": c.reachable(),
                }))
            })
            .collect::<Result<Vec<_>>>()?;
        let sql = format!("SELECT {CLAIM_COLUMNS} FROM claims WHERE unit = $1 AND valid_to IS NULL ORDER BY kind, value");
        let assets = sqlx::query(&sql).bind(code).fetch_all(&self.pool).await?.iter().map(claim_from_row).collect::<Result<_>>()?;
        Ok(UnitDetail {
            summary: summary_from_row(&r)?,
            jurisdiction: r.try_get("jurisdiction")?,
            uscc: r.try_get("uscc")?,
            contacts,
            assets,
        })
    }

    /// Every claim the unit has ever held, oldest first, with who and why.
    pub async fn unit_history(&self, p: &Principal, code: &str) -> Result<Vec<ClaimRecord>> {
        p.require(Perm::ReadRegistry)?;
        if !self.visibility(p).await?.sees(code) {
            return Err(StoreError::NotFound(format!("unit `{code}`")));
        }
        let sql = format!("SELECT {CLAIM_COLUMNS} FROM claims WHERE unit = $1 ORDER BY valid_from, id");
        sqlx::query(&sql).bind(code).fetch_all(&self.pool).await?.iter().map(claim_from_row).collect()
    }

    /// Claims in force at `at` (all units; callers filter by visibility).
    pub(crate) async fn claims_at(&self, at: i64) -> Result<Vec<(ClaimRecord, String, String)>> {
        let sql = format!(
            "SELECT {}, u.name_zh AS unit_name_zh, u.name_en AS unit_name_en FROM claims c JOIN units u ON u.code = c.unit
             WHERE c.valid_from <= $1 AND (c.valid_to IS NULL OR c.valid_to > $1) ORDER BY c.id",
            CLAIM_COLUMNS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ")
        );
        let rows = sqlx::query(&sql).bind(at).fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((claim_from_row(r)?, r.try_get("unit_name_zh")?, r.try_get("unit_name_en")?))).collect()
    }

    /// A key that changes whenever the set of claims in force at `at` can differ.
    pub(crate) async fn claims_epoch(&self, at: i64) -> Result<(i64, i64)> {
        let r = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM claims WHERE valid_from <= $1) AS a,
                    (SELECT COUNT(*) FROM claims WHERE valid_to IS NOT NULL AND valid_to <= $1) AS b",
        )
        .bind(at)
        .fetch_one(&self.pool)
        .await?;
        Ok((r.try_get("a")?, r.try_get("b")?))
    }

    /// Current overlaps between units' claims, visible to `p`.
    pub async fn overlaps(&self, p: &Principal) -> Result<Vec<OverlapReport>> {
        p.require(Perm::ReadRegistry)?;
        let vis = self.visibility(p).await?;
        let mut tx = self.write().await?;
        let cur = load_current(&mut tx).await?;
        drop(tx);
        let assets: Vec<reg::Asset> = cur.assets.into_values().flatten().collect();
        Ok(overlap_reports(&assets).into_iter().filter(|o| vis.sees(&o.a_unit) && vis.sees(&o.b_unit)).collect())
    }
}

/// A unit with its open-claim count and reachable-contact count, for [`summary_from_row`].
const UNIT_SUMMARY_SELECT: &str = "SELECT u.*,
    (SELECT COUNT(*) FROM claims c WHERE c.unit = u.code AND c.valid_to IS NULL) AS n_assets,
    (SELECT COUNT(*) FROM contacts k WHERE k.unit = u.code AND (k.phone IS NOT NULL OR k.email IS NOT NULL)) AS n_reach
    FROM units u";

fn summary_from_row(r: &AnyRow) -> Result<UnitSummary> {
    Ok(UnitSummary {
        code: r.try_get("code")?,
        name_zh: r.try_get("name_zh")?,
        name_en: r.try_get("name_en")?,
        kind: r.try_get("kind")?,
        region: r.try_get("region")?,
        supervisor: r.try_get("supervisor")?,
        sector: r.try_get("sector")?,
        status: r.try_get("status")?,
        assets: r.try_get("n_assets")?,
        reachable: r.try_get::<i64, _>("n_reach")? > 0,
    })
}

async fn apply(tx: &mut Tx<'_>, p: &Principal, plan: &reg::Plan, current: &Current, reason: &str) -> Result<()> {
    let now = now_micros();
    for r in plan.regions_added.iter().chain(&plan.regions_changed) {
        sqlx::query(
            "INSERT INTO regions (code, name_zh, name_en, level, parent) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (code) DO UPDATE SET name_zh = $2, name_en = $3, level = $4, parent = $5",
        )
        .bind(r.code.as_str())
        .bind(&r.name_zh)
        .bind(&r.name_en)
        .bind(r.level.as_str())
        .bind(r.parent.as_ref().map(|c| c.to_string()))
        .execute(&mut **tx)
        .await?;
    }
    for u in plan.units_added.iter().chain(&plan.units_changed) {
        sqlx::query(
            "INSERT INTO units (code, name_zh, name_en, kind, region, supervisor, jurisdiction, sector, uscc, status, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
             ON CONFLICT (code) DO UPDATE SET name_zh = $2, name_en = $3, kind = $4, region = $5, supervisor = $6,
               jurisdiction = $7, sector = $8, uscc = $9, status = $10, updated_at = $11",
        )
        .bind(u.code.as_str())
        .bind(&u.name_zh)
        .bind(&u.name_en)
        .bind(u.kind.as_str())
        .bind(u.region.as_str())
        .bind(u.supervisor.as_ref().map(|c| c.to_string()))
        .bind(u.jurisdiction.as_ref().map(|c| c.to_string()))
        .bind(&u.sector)
        .bind(u.uscc.as_ref().map(|c| c.as_str().to_string()))
        .bind(u.status.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        if let Some(old) = current.units.get(&u.code) {
            let detail = serde_json::json!({ "before": format!("{old:?}"), "after": format!("{u:?}") });
            crate::audit::audit(tx, p, "unit.update", u.code.as_str(), reason, &detail).await?;
        }
    }
    for (unit, contacts) in &plan.contacts_replaced {
        let before: Vec<String> = current.contacts.get(unit).map(|v| v.iter().map(|c| format!("{c:?}")).collect()).unwrap_or_default();
        sqlx::query("DELETE FROM contacts WHERE unit = $1").bind(unit.as_str()).execute(&mut **tx).await?;
        for c in contacts {
            sqlx::query("INSERT INTO contacts (unit, role, name, phone, email, pgp_key) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(unit.as_str())
                .bind(c.role.as_str())
                .bind(&c.name)
                .bind(c.phone.clone())
                .bind(c.email.clone())
                .bind(c.pgp_key.clone())
                .execute(&mut **tx)
                .await?;
        }
        let detail = serde_json::json!({ "before": before, "after": contacts.len() });
        crate::audit::audit(tx, p, "contacts.replace", unit.as_str(), reason, &detail).await?;
    }
    for (unit, value) in &plan.claims_ended {
        sqlx::query(
            "UPDATE claims SET valid_to = $1, ended_by = $2, end_reason = $3, ended_at = $1
             WHERE unit = $4 AND kind = $5 AND value = $6 AND valid_to IS NULL",
        )
        .bind(now)
        .bind(&p.username)
        .bind(reason)
        .bind(unit.as_str())
        .bind(value.kind().as_str())
        .bind(value.value())
        .execute(&mut **tx)
        .await?;
    }
    for a in &plan.claims_opened {
        let crit = serde_json::to_string(&a.criticality).map_err(|e| StoreError::Invalid(e.to_string()))?;
        sqlx::query(
            "INSERT INTO claims (unit, kind, value, system, precedence, criticality, note, valid_from, opened_by, open_reason, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(a.unit.as_str())
        .bind(a.value.kind().as_str())
        .bind(a.value.value())
        .bind(a.system.clone())
        .bind(a.precedence)
        .bind(crit)
        .bind(&a.note)
        .bind(a.valid_from.map_or(now, |t| t.as_microsecond()))
        .bind(&p.username)
        .bind(reason)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Overlaps between units after applying `plan` that involve a claim it opens.
fn overlaps_after(current: &Current, plan: &reg::Plan) -> Vec<OverlapReport> {
    let ended: std::collections::HashSet<(&UnitCode, &AssetValue)> = plan.claims_ended.iter().map(|(u, v)| (u, v)).collect();
    let assets: Vec<reg::Asset> =
        current.assets.values().flatten().filter(|a| !ended.contains(&(&a.unit, &a.value))).chain(&plan.claims_opened).cloned().collect();
    let opened: std::collections::HashSet<(String, String)> =
        plan.claims_opened.iter().map(|a| (a.unit.to_string(), a.value.value())).collect();
    let new = |unit: &String, asset: &String| opened.contains(&(unit.clone(), asset.clone()));
    overlap_reports(&assets).into_iter().filter(|o| new(&o.a_unit, &o.a_asset) || new(&o.b_unit, &o.b_asset)).collect()
}

pub(crate) fn overlap_reports(assets: &[reg::Asset]) -> Vec<OverlapReport> {
    let mut b = IndexBuilder::with_capacity(assets.len());
    for a in assets {
        if let AssetValue::Target(t) = &a.value {
            b.add(t.clone(), a.precedence, a);
        }
    }
    let targets: Vec<(&Target, &reg::Asset)> = assets
        .iter()
        .filter_map(|a| match &a.value {
            AssetValue::Target(t) => Some((t, a)),
            AssetValue::System(_) => None,
        })
        .collect();
    let mut out: Vec<OverlapReport> = b
        .overlaps()
        .into_iter()
        .filter_map(|o| {
            let (ta, a) = targets[o.a];
            let (tb, bb) = targets[o.b];
            if a.unit == bb.unit {
                return None;
            }
            let equal = ta == tb;
            let (relation, winner) = if o.nested {
                ("nested", Some(bb.unit.to_string()))
            } else {
                let rel = if equal { "equal" } else { "partial" };
                match a.precedence.cmp(&bb.precedence) {
                    std::cmp::Ordering::Greater => (rel, Some(a.unit.to_string())),
                    std::cmp::Ordering::Less => (rel, Some(bb.unit.to_string())),
                    std::cmp::Ordering::Equal => (rel, None),
                }
            };
            Some(OverlapReport {
                a_unit: a.unit.to_string(),
                a_asset: ta.to_string(),
                b_unit: bb.unit.to_string(),
                b_asset: tb.to_string(),
                relation,
                winner,
            })
        })
        .collect();
    out.sort_by(|x, y| (&x.a_unit, &x.a_asset, &x.b_unit, &x.b_asset).cmp(&(&y.a_unit, &y.a_asset, &y.b_unit, &y.b_asset)));
    out
}

fn unreachable_after(bundle: &Bundle, current: &Current, plan: &reg::Plan) -> Vec<String> {
    let replaced: HashMap<&UnitCode, &Vec<reg::Contact>> = plan.contacts_replaced.iter().map(|(u, c)| (u, c)).collect();
    let mut out: Vec<String> = bundle
        .units
        .iter()
        .map(|(_, u)| &u.code)
        .filter(|code| {
            let contacts = replaced.get(code).copied().or_else(|| current.contacts.get(*code));
            !contacts.is_some_and(|cs| cs.iter().any(reg::Contact::reachable))
        })
        .map(ToString::to_string)
        .collect();
    out.sort();
    out
}
