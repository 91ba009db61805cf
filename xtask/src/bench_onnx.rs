//! `cargo xtask bench` (and `bench --onnx` alone): the exported models of
//! `shared/reference/onnx/` through our ONNX interpreter (`benches/onnx.rs`) beside the
//! PyTorch modules they were exported from (`xtask/peers/onnx_peer.py`), peer before and
//! after ours so both see the same machine, and onnxruntime's forward pass for scale.
use anyhow::bail;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

use super::bench::{criterion_ms, peer_json, root, shared};

/// The models measured: the chain-shaped Lite0 (fused path), two inverted-residual
/// networks (squeeze-excitation and SiLU; ReLU6) and a residual network.
const MODELS: &str = "lite0,mobilenet_v2,efficientnet_b0,tinyresnet";

fn peer(python: &Path) -> anyhow::Result<Option<Value>> {
    if !python.exists() {
        return Ok(None);
    }
    Ok(Some(peer_json(
        Command::new(python)
            .arg(root().join("xtask/peers/onnx_peer.py"))
            .arg(shared())
            .args(["--threads", "2", "--models", MODELS]),
    )?))
}

pub fn run(peer_python: &Path) -> anyhow::Result<()> {
    if !shared().join("reference/onnx").is_dir() {
        eprintln!("ONNX benchmark skipped: no shared/reference/onnx (set DEEPINSIDE_SHARED)");
        return Ok(());
    }
    let before = peer(peer_python)?;
    let status = Command::new("cargo")
        .current_dir(root())
        .args(["bench", "--bench", "onnx", "--", "--noplot"])
        .env("RAYON_NUM_THREADS", "2")
        .env("DEEPINSIDE_SHARED", shared())
        .env("DEEPINSIDE_BENCH_ONNX", MODELS)
        .status()?;
    if !status.success() {
        bail!("cargo bench --bench onnx failed");
    }
    let after = peer(peer_python)?;
    let best = |model: &str, key: &str| {
        [&before, &after]
            .iter()
            .filter_map(|v| v.as_ref()?.get(model)?.get(key)?.as_f64())
            .reduce(f64::min)
    };
    println!(
        "\n| ONNX model, ms per image | ours | PyTorch | ratio | onnxruntime |\n|---|---|---|---|---|"
    );
    let mut rows = Vec::new();
    for model in MODELS.split(',') {
        for (id, batch, key, label) in [
            ("forward", 16, "forward_b16", "forward, batch 16"),
            ("gradient", 1, "gradient_b1", "gradient, batch 1"),
            ("guided", 1, "guided_b1", "guided backprop, batch 1"),
        ] {
            let ours = criterion_ms(&format!("onnx-{model}"), id, batch)?;
            let theirs = best(model, key);
            let ort = (id == "forward")
                .then(|| best(model, "ort_forward_b16"))
                .flatten();
            let ratio = theirs.map_or(String::new(), |t| format!("{:.2}", ours / t));
            let fmt = |v: Option<f64>| v.map_or("–".to_string(), |t| format!("{t:.1}"));
            println!(
                "| {model}: {label} | {ours:.1} | {} | {ratio} | {} |",
                fmt(theirs),
                fmt(ort)
            );
            rows.push(json!({"model": model, "work": key, "ours_ms": ours,
                "pytorch_ms": theirs, "onnxruntime_ms": ort}));
        }
    }
    let dir = root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("onnx.json"), serde_json::to_string_pretty(&rows)?)?;
    Ok(())
}
