//! Ingestion: every format a coordination centre receives becomes one
//! normalised [`Event`] (ECS field names, the original record kept), or a
//! typed [`Reject`] whose reason can be counted and whose detail says what
//! was wrong. Parsers share one shape ([`parse::Parser`]); sources, the
//! durable spool and event storage build on them.

pub mod event;
pub mod format;
pub mod framing;
pub mod parse;
pub mod reject;

pub use event::Event;
pub use format::Format;
pub use reject::{Reason, Reject};
