//! Grading: which GB/T 20986-2023 category a detection falls in, and which
//! level (I–IV) it proposes for whom. Both are data, versioned: the
//! category table of the standard's edition, a mapping from what detections
//! carry (rule tags, Suricata categories, Shadowserver report types,
//! indicator tags) to categories, and a rule table for levels (the
//! importance × loss matrix and the CAC-2025 quantitative triggers). Every
//! answer carries the reasons that produced it, so an analyst can see why
//! and overrule it.

mod categories;
mod classify;
mod level;

pub use categories::{Categories, Category};
pub use classify::{CategoryMap, Classified, Label, LabelSource};
pub use level::{Graded, GradingTable, Impact, Importance, Level, Loss};

#[derive(Debug, thiserror::Error)]
pub enum GradeError {
    #[error("{what}: {why}")]
    Data { what: String, why: String },
}
