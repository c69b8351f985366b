//! Attribution: "who owns this address, name or URL?", answered from memory.
//!
//! The registry's claims are compiled into one immutable [`Index`]: IPv4 and
//! IPv6 prefixes and ranges are flattened into disjoint intervals (most
//! specific claim wins, then the admin's precedence) and stored in a poptrie
//! ([`lpm`]), which answers a lookup with one table read and a few popcounts
//! and costs tens of bytes per prefix; domains, URLs and AS numbers are hash
//! maps walked from the most specific key outwards. The index knows nothing
//! of units or time: its payload type is the caller's, and callers build one
//! index per registry version (or per past instant) and swap it atomically.

mod domains;
mod index;
pub mod lpm;
mod query;
mod target;

pub use index::{Hit, Index, IndexBuilder, MatchKind, Overlap, Target};
pub use query::Query;
pub use target::{Asn, DomainName, DomainPattern, IpNet, IpRange, TargetError, UrlPrefix};
