//! The situation board's figures (态势): open and overdue notices by level,
//! the units most at risk, the region tree coloured by what is open, and
//! the last day's alerts by level and category.
//!
//! One pass over the `notices_board` index yields per-(unit, state, level)
//! counts; everything else about notices is summed here from those rows, so
//! the board costs the same few queries however many people watch it.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::Serialize;
use sqlx::Row;

use crate::access::{Perm, Principal, Visibility};
use crate::{Result, Store, StoreError};

/// Levels from most to least severe (特别重大 … 一般).
const LEVELS: [&str; 4] = ["I", "II", "III", "IV"];

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Board {
    pub at: Timestamp,
    /// Open notices (issued, not yet closed or cancelled) per level, I to IV.
    pub open: [i64; 4],
    /// Of those, past a deadline now.
    pub overdue: [i64; 4],
    /// Open notices per state.
    pub by_state: Vec<(String, i64)>,
    /// Alerts seen in the last 24 hours per level, I to IV.
    pub alerts_by_level: [i64; 4],
    /// Alerts seen in the last 24 hours per GB/T 20986 subcategory code
    /// ('' when none was mapped), most first.
    pub alerts_by_category: Vec<(String, i64)>,
    /// The units with the most severe open notices, worst first (at most 10).
    pub units_at_risk: Vec<UnitRisk>,
    /// Every region with open notices counted in it and below it.
    pub regions: Vec<RegionRisk>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UnitRisk {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub open: [i64; 4],
    pub overdue: i64,
    /// Weighted: a level I notice counts 1,000, II 100, III 10, IV 1; overdue doubles.
    pub score: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RegionRisk {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub parent: Option<String>,
    /// Open notices of units in this region and the regions below it.
    pub open: [i64; 4],
    pub overdue: i64,
}

fn level_index(l: &str) -> Option<usize> {
    LEVELS.iter().position(|x| *x == l)
}

fn weight(level: usize) -> i64 {
    [1000, 100, 10, 1][level]
}

impl Store {
    /// The board as of `now`. It shows the whole region, so only roles that
    /// see every unit may read it.
    pub async fn board(&self, p: &Principal, now: Timestamp) -> Result<Board> {
        p.require(Perm::ReadNotices)?;
        if self.visibility(p).await? != Visibility::All {
            return Err(StoreError::Forbidden("the situation board is the centre's".into()));
        }
        let due = now.as_microsecond();
        // Open notices only: the index's leading `state` column skips the
        // closed ones, most of a year's notices.
        let rows = sqlx::query(
            "SELECT state, unit, level, COUNT(*) AS n,
                SUM(CASE WHEN state IN ('issued', 'acknowledged', 'in_progress', 'returned')
                     AND ((state = 'issued' AND acknowledge_due < $1) OR answer_due < $1) THEN 1 ELSE 0 END) AS late
             FROM notices WHERE state IN ('issued', 'acknowledged', 'in_progress', 'answered', 'returned')
             GROUP BY state, unit, level",
        )
        .bind(due)
        .fetch_all(&self.pool)
        .await?;
        let mut board = Board { at: now, ..Board::default() };
        let mut states: HashMap<String, i64> = HashMap::new();
        let mut units: HashMap<String, ([i64; 4], i64)> = HashMap::new();
        for r in &rows {
            let (state, unit, level): (String, String, String) = (r.try_get("state")?, r.try_get("unit")?, r.try_get("level")?);
            let (n, late): (i64, i64) = (r.try_get("n")?, r.try_get::<Option<i64>, _>("late")?.unwrap_or(0));
            *states.entry(state.clone()).or_default() += n;
            if let Some(i) = level_index(&level) {
                board.open[i] += n;
                board.overdue[i] += late;
                let u = units.entry(unit).or_default();
                u.0[i] += n;
                u.1 += late;
            }
        }
        board.by_state = states.into_iter().collect();
        board.by_state.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));

        let since = (now - jiff::SignedDuration::from_hours(24)).as_microsecond();
        let rows = sqlx::query("SELECT level, category, COUNT(*) AS n FROM alerts WHERE last_seen >= $1 GROUP BY level, category")
            .bind(since)
            .fetch_all(&self.pool)
            .await?;
        let mut categories: HashMap<String, i64> = HashMap::new();
        for r in &rows {
            let (level, category, n): (String, String, i64) = (r.try_get("level")?, r.try_get("category")?, r.try_get("n")?);
            if let Some(i) = level_index(&level) {
                board.alerts_by_level[i] += n;
            }
            *categories.entry(category).or_default() += n;
        }
        board.alerts_by_category = categories.into_iter().collect();
        board.alerts_by_category.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));

        self.rank_and_roll_up(&mut board, units).await?;
        Ok(board)
    }

    /// Names the riskiest units and sums every unit's open notices into its
    /// region and each region above it.
    async fn rank_and_roll_up(&self, board: &mut Board, units: HashMap<String, ([i64; 4], i64)>) -> Result<()> {
        let mut ranked: Vec<(String, [i64; 4], i64, i64)> = units
            .iter()
            .map(|(code, (open, late))| {
                let score: i64 = open.iter().enumerate().map(|(i, n)| n * weight(i)).sum::<i64>() + late * 1000;
                (code.clone(), *open, *late, score)
            })
            .collect();
        ranked.sort_by(|a, b| b.3.cmp(&a.3).then(a.0.cmp(&b.0)));
        ranked.truncate(10);
        let unit_rows = sqlx::query("SELECT code, name_zh, name_en, region FROM units").fetch_all(&self.pool).await?;
        let mut names: HashMap<String, (String, String, String)> = HashMap::with_capacity(unit_rows.len());
        for r in &unit_rows {
            names.insert(r.try_get("code")?, (r.try_get("name_zh")?, r.try_get("name_en")?, r.try_get("region")?));
        }
        for (code, open, overdue, score) in ranked {
            let (name_zh, name_en) = names.get(&code).map(|n| (n.0.clone(), n.1.clone())).unwrap_or_default();
            board.units_at_risk.push(UnitRisk { code, name_zh, name_en, open, overdue, score });
        }

        let region_rows = sqlx::query("SELECT code, name_zh, name_en, parent FROM regions ORDER BY code").fetch_all(&self.pool).await?;
        let mut regions: Vec<RegionRisk> = Vec::with_capacity(region_rows.len());
        let mut at: HashMap<String, usize> = HashMap::with_capacity(region_rows.len());
        for r in &region_rows {
            at.insert(r.try_get("code")?, regions.len());
            regions.push(RegionRisk {
                code: r.try_get("code")?,
                name_zh: r.try_get("name_zh")?,
                name_en: r.try_get("name_en")?,
                parent: r.try_get("parent")?,
                open: [0; 4],
                overdue: 0,
            });
        }
        for (code, (open, late)) in &units {
            let mut next = names.get(code).map(|n| n.2.clone());
            // Bounded walk: a cycle in stored parents cannot loop forever.
            for _ in 0..regions.len() {
                let Some(i) = next.as_ref().and_then(|c| at.get(c)).copied() else { break };
                for (sum, n) in regions[i].open.iter_mut().zip(open) {
                    *sum += n;
                }
                regions[i].overdue += late;
                next = regions[i].parent.clone();
            }
        }
        board.regions = regions;
        Ok(())
    }
}
