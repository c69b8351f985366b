//! Fetches the console's front-end packages (htmx, ECharts) with `npm ci`
//! from `assets/package-lock.json` into OUT_DIR and copies the files the
//! binary embeds. Nothing third-party is kept in the repository, and
//! nothing is fetched at run time. Set SHOUWANG_NPM to use another npm.

use std::path::{Path, PathBuf};
use std::process::Command;

/// (file in node_modules, name the console serves it under)
const FILES: [(&str, &str); 2] = [("htmx.org/dist/htmx.min.js", "htmx.min.js"), ("echarts/dist/echarts.min.js", "echarts.min.js")];

fn main() {
    let here = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let assets = here.join("assets");
    for f in ["package.json", "package-lock.json"] {
        println!("cargo:rerun-if-changed={}", assets.join(f).display());
    }
    println!("cargo:rerun-if-env-changed=SHOUWANG_NPM");
    let npm_dir = out.join("npm");
    let lock = std::fs::read(assets.join("package-lock.json")).expect("crates/web/assets/package-lock.json");
    let stamp = npm_dir.join("installed-lock.json");
    let vendor = out.join("vendor");
    let fresh = std::fs::read(&stamp).is_ok_and(|s| s == lock) && FILES.iter().all(|(_, name)| vendor.join(name).exists());
    if !fresh {
        std::fs::create_dir_all(&npm_dir).unwrap();
        for f in ["package.json", "package-lock.json"] {
            std::fs::copy(assets.join(f), npm_dir.join(f)).unwrap();
        }
        npm_ci(&npm_dir);
        std::fs::create_dir_all(&vendor).unwrap();
        for (from, name) in FILES {
            let src = npm_dir.join("node_modules").join(from);
            std::fs::copy(&src, vendor.join(name)).unwrap_or_else(|e| panic!("{} is missing after npm ci: {e}", src.display()));
        }
        std::fs::write(&stamp, &lock).unwrap();
    }
}

fn npm_ci(dir: &Path) {
    let npm = std::env::var("SHOUWANG_NPM").unwrap_or_else(|_| "npm".into());
    // --ignore-scripts: no package runs code on this machine at install.
    let status = Command::new(&npm)
        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "the web console's front-end packages come from npm, and `{npm}` could not be run ({e}). \
                 Install Node.js and npm (Debian: apt-get install -y npm) or set SHOUWANG_NPM."
            )
        });
    assert!(status.success(), "`{npm} ci` failed in {} ({status}); see its output above", dir.display());
}
