//! Helpers of the CLI tests: the test data, the weights, and the binary run as a user runs it.
#![allow(dead_code, unused_imports)]
#[path = "../../../../tests/support/mod.rs"]
mod support;
pub use support::fixtures::effnet_weights as weights;
pub use support::shared::{program, repo_data, shared, shared_dir, shared_paths, skip};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A dev image of `shared/` (the test is skipped without it).
pub fn dev_image(id: &str) -> Option<PathBuf> {
    shared(&format!("data/ilsvrc-dev/images/{id}.JPEG"))
}

/// A sample photo that lives in the repository (`tests/data/samples`).
pub fn sample(name: &str) -> PathBuf {
    repo_data(&format!("samples/{name}"))
}

/// Runs the binary with the weights' folder as `DEEPINSIDE_MODELS`, then `env`.
pub fn deepinside(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deepinside"));
    cmd.args(args)
        .env("DEEPINSIDE_MODELS", weights().parent().unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}
