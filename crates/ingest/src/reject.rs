//! Why a record was not turned into an event. The reason is a closed set,
//! so dead letters can be counted per reason with bounded label values; the
//! detail says exactly what was wrong with this record.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Not valid UTF-8 (GBK from a legacy device, binary noise).
    NotUtf8,
    /// Not parseable in the declared format (truncated JSON, broken header).
    Malformed,
    /// Parseable, but a required field is absent.
    MissingField,
    /// A field holds a value of the wrong shape (an IP that is not one).
    BadValue,
    /// A timestamp that cannot be read or lies outside 1970–2100.
    BadTimestamp,
    /// Over the size limit for one record.
    TooLarge,
    /// A NUL byte inside a text record.
    NulByte,
    /// Valid, but not a record type this parser handles.
    Unsupported,
}

impl Reason {
    pub const ALL: [Reason; 8] = [
        Reason::NotUtf8,
        Reason::Malformed,
        Reason::MissingField,
        Reason::BadValue,
        Reason::BadTimestamp,
        Reason::TooLarge,
        Reason::NulByte,
        Reason::Unsupported,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NotUtf8 => "not_utf8",
            Reason::Malformed => "malformed",
            Reason::MissingField => "missing_field",
            Reason::BadValue => "bad_value",
            Reason::BadTimestamp => "bad_timestamp",
            Reason::TooLarge => "too_large",
            Reason::NulByte => "nul_byte",
            Reason::Unsupported => "unsupported",
        }
    }
}

/// A rejected record: the class and the specifics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", reason.as_str())]
pub struct Reject {
    pub reason: Reason,
    pub detail: String,
}

impl Reject {
    pub fn new(reason: Reason, detail: impl Into<String>) -> Reject {
        Reject { reason, detail: detail.into() }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
