//! Who may do what, and which units they can see.

use std::collections::HashSet;

use serde::Serialize;
use shouwang_registry::UnitCode;

use crate::{Result, Store, StoreError};

/// The six roles of a coordination centre's platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 中心管理员: manages the registry and users.
    CentreAdmin,
    /// 分析员/值班员: triages, maintains the registry, attributes.
    Analyst,
    /// 领导: reads everything, changes nothing here.
    Leader,
    /// 成员单位: sees only its own unit.
    UnitOperator,
    /// 主管单位: sees the units it supervises, territorially and by sector.
    Supervisor,
    /// 审计: reads the audit trail, nothing else.
    Auditor,
    /// 探针/传感器: a machine that sends events, bound to a unit or to the centre; nothing else.
    Sensor,
}

impl Role {
    pub const ALL: [Role; 7] =
        [Role::CentreAdmin, Role::Analyst, Role::Leader, Role::UnitOperator, Role::Supervisor, Role::Auditor, Role::Sensor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::CentreAdmin => "centre_admin",
            Role::Analyst => "analyst",
            Role::Leader => "leader",
            Role::UnitOperator => "unit_operator",
            Role::Supervisor => "supervisor",
            Role::Auditor => "auditor",
            Role::Sensor => "sensor",
        }
    }

    pub fn parse(s: &str) -> Result<Role> {
        let s = s.trim().replace('-', "_");
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            StoreError::Invalid(format!("unknown role `{s}` (centre_admin, analyst, leader, unit_operator, supervisor, auditor, sensor)"))
        })
    }

    /// Unit operators and supervisors act for one unit; the rest for the centre.
    pub fn unit_scoped(self) -> bool {
        matches!(self, Role::UnitOperator | Role::Supervisor)
    }

    fn allows(self, perm: Perm) -> bool {
        use Perm::*;
        match self {
            // Approving is a leader's act and answering a unit's: an admin,
            // who can do everything else, does neither in their name.
            Role::CentreAdmin => !matches!(perm, ApproveNotices | RespondNotices),
            Role::Analyst => matches!(
                perm,
                ReadRegistry
                    | WriteRegistry
                    | Attribute
                    | ReadEvents
                    | ManageIngest
                    | ReadAlerts
                    | TriageAlerts
                    | ReadNotices
                    | ManageNotices
            ),
            Role::Leader => matches!(perm, ReadRegistry | Attribute | ReadEvents | ReadAlerts | ReadNotices | ApproveNotices),
            Role::UnitOperator => matches!(perm, ReadRegistry | Attribute | ReadEvents | ReadAlerts | ReadNotices | RespondNotices),
            Role::Supervisor => matches!(perm, ReadRegistry | Attribute | ReadEvents | ReadAlerts | ReadNotices),
            Role::Auditor => matches!(perm, ReadAudit),
            Role::Sensor => matches!(perm, Ingest),
        }
    }
}

/// An action class that roles are granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perm {
    ReadRegistry,
    WriteRegistry,
    Attribute,
    ManageUsers,
    ReadAudit,
    /// Send events (`POST /api/v1/ingest`).
    Ingest,
    /// Search stored events (scoped by visibility).
    ReadEvents,
    /// Dead letters, their replay, pipeline status, detection content.
    ManageIngest,
    /// Read alerts (scoped by visibility).
    ReadAlerts,
    /// Override an alert's level, with a reason.
    TriageAlerts,
    /// Read notices (scoped: units see theirs once issued).
    ReadNotices,
    /// Draft, issue, verify, return, close, reopen and cancel notices.
    ManageNotices,
    /// Approve or reject level I and II notices before they are issued.
    ApproveNotices,
    /// Acknowledge and answer the caller's own unit's notices.
    RespondNotices,
    /// Edit the business calendar and the deadline policy.
    ManageWorkflow,
}

/// Who is acting: from an API token, a password login, or the local CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub username: String,
    pub role: Role,
    /// The unit acted for, for unit-scoped roles.
    pub unit: Option<UnitCode>,
}

impl Principal {
    /// The operator at the server's console: full rights, audited by name.
    pub fn local(name: &str) -> Principal {
        Principal { username: format!("local:{name}"), role: Role::CentreAdmin, unit: None }
    }

    pub fn require(&self, perm: Perm) -> Result<()> {
        if self.role.allows(perm) { Ok(()) } else { Err(StoreError::Forbidden(format!("role {} may not {:?}", self.role.as_str(), perm))) }
    }
}

/// The units a principal can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    All,
    Units(HashSet<String>),
}

impl Visibility {
    pub fn sees(&self, unit: &str) -> bool {
        match self {
            Visibility::All => true,
            Visibility::Units(s) => s.contains(unit),
        }
    }
}

/// A unit's own code, every unit below it on the sector line (transitively
/// by `supervisor`), and every unit in the region it has jurisdiction over
/// (transitively by region `parent`). `UNION` (not `UNION ALL`) stops a
/// cycle in stored data from recursing forever.
pub(crate) const SUPERVISED_UNITS_SQL: &str = "
WITH RECURSIVE
  sector(code) AS (
    SELECT code FROM units WHERE code = $1
    UNION SELECT u.code FROM units u JOIN sector s ON u.supervisor = s.code),
  area(code) AS (
    SELECT jurisdiction FROM units WHERE code = $1 AND jurisdiction IS NOT NULL
    UNION SELECT r.code FROM regions r JOIN area a ON r.parent = a.code)
SELECT code FROM sector
UNION SELECT u.code FROM units u JOIN area a ON u.region = a.code";

impl Store {
    /// Which units `p` may see.
    pub async fn visibility(&self, p: &Principal) -> Result<Visibility> {
        match (p.role, &p.unit) {
            (Role::UnitOperator, Some(u)) => Ok(Visibility::Units(HashSet::from([u.to_string()]))),
            (Role::Supervisor, Some(u)) => {
                let codes: Vec<String> = sqlx::query_scalar(SUPERVISED_UNITS_SQL).bind(u.as_str()).fetch_all(&self.pool).await?;
                Ok(Visibility::Units(codes.into_iter().collect()))
            }
            (r, None) if !r.unit_scoped() => Ok(Visibility::All),
            _ => Err(StoreError::Forbidden("a unit-scoped role without a unit sees nothing".into())),
        }
    }
}
