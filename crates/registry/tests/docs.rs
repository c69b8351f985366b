//! The documented formats and examples are the real ones.

use std::path::Path;

use shouwang_registry::io::{Limits, read_path, schema_markdown};
use shouwang_registry::{Known, validate};

fn repo(p: &str) -> std::path::PathBuf {
    // Read at run time: a test binary reused from a build cache shared between
    // checkouts would carry another checkout's path if it were compiled in.
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../..").join(p)
}

#[test]
fn format_doc_matches_the_columns_the_reader_accepts() {
    let doc = std::fs::read_to_string(repo("docs/registry-format.md")).unwrap();
    let generated = schema_markdown();
    assert!(doc.contains(&generated), "docs/registry-format.md is stale: paste the output of `shouwang registry schema` into it");
}

#[test]
fn example_files_import_cleanly_in_both_formats() {
    for p in ["examples/registry", "examples/registry/registry.json"] {
        let b = read_path(&repo(p), Limits::default()).unwrap_or_else(|e| panic!("{p}: {e:?}"));
        assert_eq!(b.units.len(), 5, "{p}");
        assert_eq!(b.assets.len(), 13, "{p}");
        let errs = validate(&b, &Known::default());
        assert!(errs.is_empty(), "{p}: {errs:?}");
    }
}
