//! `cargo xtask bench` (and `bench --onnx` alone): ONNX models through our interpreter
//! (`benches/onnx.rs`) beside the PyTorch modules they were exported from
//! (`xtask/peers/onnx_peer.py`), peer before and after ours so both see the same machine,
//! onnxruntime's forward pass for scale, and the ONNX Lite0 beside the native one. The
//! models are those of `shared/reference/onnx/` and torchvision's resnet18 and resnet50,
//! which are too big for `shared/` and are exported here once, with the peer environment.
use anyhow::{bail, Context};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::bench::{criterion_ms, peer_json, root, shared};

/// The models measured: the chain-shaped Lite0 (fused path), the architectures the speed
/// requirement names (mobilenet_v2, resnet18, resnet50), and two that exercise the
/// node-by-node path (squeeze-excitation and SiLU; a small residual network).
const MODELS: &str = "lite0,mobilenet_v2,resnet18,resnet50,efficientnet_b0,tinyresnet";

/// The architectures exported by `peers/onnx_fixtures.py` for the benchmark alone.
const EXPORTED: [&str; 2] = ["resnet18", "resnet50"];

/// The rows of the table: criterion id, batch, the peer's key, and the label.
const WORK: [(&str, usize, &str, &str); 4] = [
    ("forward", 16, "forward_b16", "forward, batch 16"),
    ("gradient", 1, "gradient_b1", "saliency (gradient), batch 1"),
    (
        "gradient",
        16,
        "gradient_b16",
        "saliency (gradient), batch 16",
    ),
    ("guided", 1, "guided_b1", "guided backprop, batch 1"),
];

fn exports_dir() -> PathBuf {
    std::env::var_os("DEEPINSIDE_ONNX_EXPORTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/onnx-bench"))
}

/// Exports the torchvision models that are not in `shared/` yet, with the peer's PyTorch
/// (random weights with calibrated batch norm: speed does not depend on their values).
fn export_missing(python: &Path, exports: &Path) -> anyhow::Result<()> {
    let missing: Vec<&str> = EXPORTED
        .into_iter()
        .filter(|m| !exports.join(m).join("model.onnx").is_file())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !python.exists() {
        eprintln!(
            "no peer environment at {}: {} not exported, so not measured \
             (cargo xtask bench --setup-peer)",
            python.display(),
            missing.join(", ")
        );
        return Ok(());
    }
    eprintln!("exporting {} to {}", missing.join(", "), exports.display());
    let status = Command::new(python)
        .arg(shared().join("peers/onnx_fixtures.py"))
        .arg(exports)
        .arg(missing.join(","))
        .env("THREADS", "2")
        .status()
        .context("running peers/onnx_fixtures.py")?;
    if !status.success() {
        bail!(
            "peers/onnx_fixtures.py failed to export {}",
            missing.join(",")
        );
    }
    Ok(())
}

fn peer(python: &Path, exports: &Path) -> anyhow::Result<Option<Value>> {
    if !python.exists() {
        return Ok(None);
    }
    Ok(Some(peer_json(
        Command::new(python)
            .arg(root().join("xtask/peers/onnx_peer.py"))
            .arg(shared())
            .arg("--exports")
            .arg(exports)
            .args(["--threads", "2", "--models", MODELS]),
    )?))
}

pub fn run(peer_python: &Path) -> anyhow::Result<()> {
    if !shared().join("reference/onnx").is_dir() {
        eprintln!("ONNX benchmark skipped: no shared/reference/onnx (set DEEPINSIDE_SHARED)");
        return Ok(());
    }
    let exports = exports_dir();
    export_missing(peer_python, &exports)?;
    let before = peer(peer_python, &exports)?;
    let status = Command::new("cargo")
        .current_dir(root())
        .args(["bench", "--bench", "onnx", "--", "--noplot"])
        .env("RAYON_NUM_THREADS", "2")
        .env("DEEPINSIDE_SHARED", shared())
        .env("DEEPINSIDE_ONNX_EXPORTS", &exports)
        .env("DEEPINSIDE_BENCH_ONNX", MODELS)
        .status()?;
    if !status.success() {
        bail!("cargo bench --bench onnx failed");
    }
    let after = peer(peer_python, &exports)?;
    let best = |model: &str, key: &str| {
        [&before, &after]
            .iter()
            .filter_map(|v| v.as_ref()?.get(model)?.get(key)?.as_f64())
            .reduce(f64::min)
    };
    let fmt = |v: Option<f64>| v.map_or("–".to_string(), |t| format!("{t:.1}"));
    println!(
        "\n| ONNX model, ms per image | ours | PyTorch | ratio | onnxruntime |\n|---|---|---|---|---|"
    );
    let mut rows = Vec::new();
    for model in MODELS.split(',') {
        let Ok(load) = criterion_ms(&format!("onnx-{model}"), "load", 1) else {
            println!("| {model}: not measured (no model file) | | | | |");
            continue;
        };
        let ort_load = best(model, "ort_load");
        println!(
            "| {model}: loading the file (ms) | {load:.1} | | | {} |",
            fmt(ort_load)
        );
        rows.push(json!({"model": model, "work": "load", "ours_ms": load,
            "onnxruntime_ms": ort_load}));
        for (id, batch, key, label) in WORK {
            let ours = criterion_ms(&format!("onnx-{model}"), id, batch)?;
            let theirs = best(model, key);
            let ort = (id == "forward")
                .then(|| best(model, "ort_forward_b16"))
                .flatten();
            let ratio = theirs.map_or(String::new(), |t| format!("{:.2}", ours / t));
            println!(
                "| {model}: {label} | {ours:.1} | {} | {ratio} | {} |",
                fmt(theirs),
                fmt(ort)
            );
            rows.push(json!({"model": model, "work": key, "ours_ms": ours,
                "pytorch_ms": theirs, "onnxruntime_ms": ort}));
        }
    }
    println!("\n| Lite0, ms per image | ONNX | native | ONNX / native |\n|---|---|---|---|");
    for (id, batch, key, label) in WORK {
        let (Ok(onnx), Ok(native)) = (
            criterion_ms("onnx-lite0", id, batch),
            criterion_ms("native-lite0", id, batch),
        ) else {
            continue;
        };
        println!(
            "| {label} | {onnx:.1} | {native:.1} | {:.2} |",
            onnx / native
        );
        rows.push(json!({"model": "lite0 (ONNX / native)", "work": key,
            "onnx_ms": onnx, "native_ms": native}));
    }
    let dir = root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("onnx.json"), serde_json::to_string_pretty(&rows)?)?;
    Ok(())
}
