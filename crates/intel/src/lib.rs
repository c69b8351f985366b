//! Threat indicators shared by peers: addresses and networks, domains and
//! host names, URLs, file hashes and email addresses, each with its source,
//! confidence, TLP marking and validity. Importers ([`import`]) read the
//! formats feeds use and report every record they cannot use; [`Intel`] is
//! the immutable index events are looked up in, built once per feed load
//! and swapped whole, so matching never waits for a reload.

pub mod import;
mod index;
mod model;
mod observe;

pub use index::{Intel, IntelBuilder, Matches, Observable};
pub use model::{Indicator, IndicatorRef, Kind, Tlp, canonical};
pub use observe::{Sighting, observables};
