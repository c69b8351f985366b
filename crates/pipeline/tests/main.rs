//! The pipeline through its public surface, on real SQLite files and the
//! example registry.

mod alerts;
mod files;
mod spool;

use std::path::Path;
use std::sync::Arc;

use shouwang_eventstore::{EventStore, Scope, Search, SqliteEvents};
use shouwang_pipeline::Pipeline;
use shouwang_store::{Attributor, Principal, Store};

pub struct Env {
    pub dir: tempfile::TempDir,
    pub pipeline: Pipeline,
    pub events: Arc<SqliteEvents>,
}

pub fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let attributor = rt.block_on(async {
        let store = Store::open_sqlite_dir(&dir.path().join("db")).await.unwrap();
        let examples = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../examples/registry");
        let bundle = shouwang_registry::io::read_path(&examples.join("registry.json"), Default::default()).unwrap();
        assert!(store.import(&Principal::local("test"), &bundle, "examples", false).await.unwrap().applied);
        Attributor::new(store).await.unwrap()
    });
    let events = Arc::new(SqliteEvents::open(&dir.path().join("events")).unwrap());
    let pipeline = Pipeline::new(events.clone(), Arc::new(attributor));
    Env { dir, pipeline, events }
}

impl Env {
    pub fn all(&self) -> Vec<serde_json::Value> {
        let hits = self.events.search(&Search { limit: 10_000, ..Default::default() }, &Scope::All).unwrap();
        hits.iter().map(|h| serde_json::from_str(&h.doc).unwrap()).collect()
    }
}
