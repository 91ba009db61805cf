//! Helpers of the CLI tests: where `shared/` is, and the binary run as a user runs it.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn shared() -> PathBuf {
    std::env::var_os("DEEPINSIDE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

pub fn dev_image(id: &str) -> PathBuf {
    shared().join(format!("data/ilsvrc-dev/images/{id}.JPEG"))
}

pub fn deepinside(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deepinside"));
    cmd.args(args)
        .env("DEEPINSIDE_MODELS", shared().join("models"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}
