//! The constituency registry (台账): who the member units are, where they
//! sit in the territorial and sectoral hierarchies, how to reach them, and
//! which network assets they own, with what criticality.
//!
//! This crate is the model and its file formats; it does no I/O beyond
//! reading and writing registry files. The store persists it with history,
//! and the attribution index is compiled from it.

pub mod bundle;
pub mod io;
pub mod model;
pub mod plan;
pub mod records;

pub use bundle::{Bundle, ImportError, Known, validate};
pub use model::*;
pub use plan::{Current, Moved, Plan, plan};
pub use records::{Asset, Contact, Loc, Origin, Region, Unit};
