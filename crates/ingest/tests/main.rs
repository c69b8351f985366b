//! Parser behaviour through the public API: one test binary.

mod cef;
mod eve;
mod json;
mod shadowserver;
mod syslog;

use shouwang_ingest::parse::Ctx;

pub fn ctx() -> Ctx {
    let mut c = Ctx::new("test");
    c.received = "2026-11-22T08:00:00Z".parse().unwrap();
    c
}
