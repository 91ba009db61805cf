//! Where the tests' data lives, and how a test that needs what a user's clone lacks says so.
//!
//! Included with `#[path]` by the test crates of every workspace member, so that one file
//! holds the rule: a test that needs `../shared` (the ILSVRC images, the reference outputs,
//! the weights copy) or an optional program (Chromium) prints one line, `skipped: TEST:
//! needs …`, straight to the terminal (past the test harness's capture) and passes. With
//! `DEEPINSIDE_REQUIRE_ALL=1`, as `.ci/run` sets it, the same test fails instead, so CI
//! cannot lose a test to a missing file.
#![allow(dead_code)]
use std::io::Write;
use std::path::{Path, PathBuf};

/// The variable that turns every skip into a failure.
pub const REQUIRE_ALL: &str = "DEEPINSIDE_REQUIRE_ALL";

/// The workspace root: the first folder above this crate's manifest holding `Cargo.lock`.
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|d| d.join("Cargo.lock").is_file())
        .unwrap_or(manifest)
        .to_path_buf()
}

/// The read-only `shared/` folder: `$DEEPINSIDE_SHARED`, else `../shared` beside the checkout.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("DEEPINSIDE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared"))
}

/// Test data that lives in the repository (`tests/data/`): the scikit-image sample photos
/// and their PyTorch reference.
pub fn repo_data(rel: &str) -> PathBuf {
    workspace_root().join("tests/data").join(rel)
}

/// Reports a skip (or, under [`REQUIRE_ALL`], fails): `needs` says what is missing and how to
/// get it.
pub fn skip(needs: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    if std::env::var_os(REQUIRE_ALL).is_some_and(|v| v != "0" && !v.is_empty()) {
        panic!("{test} needs {needs}, and {REQUIRE_ALL} is set");
    }
    // Straight to stderr: the harness captures print macros of passing tests, not this.
    let _ = writeln!(std::io::stderr(), "skipped: {test}: needs {needs}");
}

/// `shared/<rel>` when it exists; otherwise the test is skipped (see [`skip`]).
pub fn shared(rel: &str) -> Option<PathBuf> {
    shared_paths([rel]).map(|[p]| p)
}

/// Several paths under `shared/`, all present, or one skip line naming the missing ones.
pub fn shared_paths<const N: usize>(rels: [&str; N]) -> Option<[PathBuf; N]> {
    let paths = rels.map(|r| shared_dir().join(r));
    let missing: Vec<String> = paths
        .iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some(paths);
    }
    skip(&format!(
        "{} (the project's shared data; set DEEPINSIDE_SHARED)",
        missing.join(", ")
    ));
    None
}

/// The first of `candidates` that is an executable file; otherwise the test is skipped.
pub fn program(candidates: &[&str], install: &str) -> Option<PathBuf> {
    if let Some(p) = candidates.iter().map(PathBuf::from).find(|p| p.is_file()) {
        return Some(p);
    }
    skip(&format!("{} ({install})", candidates.join(" or ")));
    None
}
