//! Registry integration tests: one binary.

mod bad_input;
mod docs;
