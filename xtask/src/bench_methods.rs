//! `cargo xtask bench` (and `bench --methods` alone): the attribution methods beyond the paper
//! against Captum on one image, alternating peer and ours so both see the same machine:
//! integrated gradients (50 Gauss–Legendre steps), occlusion (window 16, stride 8),
//! SmoothGrad (50 samples) by criterion (`benches/methods.rs`), and RISE (4000 masks) as
//! one run of `deepinside saliency --method rise` (model load and PNGs included) against
//! one run of the peer's RISE, since ten criterion samples would take ten minutes. Then the
//! whole attribution eval per image against Quantus 0.6 (`xtask/peers/quantus_peer.py`),
//! on the metrics Quantus has.
use anyhow::{bail, Context};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

use super::bench::{peer_json, root, run_cmd, shared};

fn criterion_ms(id: &str) -> anyhow::Result<f64> {
    let path = root()
        .join("target/criterion/methods")
        .join(id)
        .join("new/estimates.json");
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).with_context(|| path.display().to_string())?,
    )?;
    Ok(v["median"]["point_estimate"]
        .as_f64()
        .context("no median")?
        / 1e6)
}

fn peer(python: &Path, only: &str, runs: usize) -> anyhow::Result<Option<Value>> {
    if !python.exists() {
        return Ok(None);
    }
    Ok(Some(peer_json(
        Command::new(python)
            .arg(root().join("xtask/peers/methods_peer.py"))
            .args(["--only", only, "--runs", &runs.to_string()]),
    )?))
}

pub fn run(peer_python: &Path) -> anyhow::Result<()> {
    let gradients = "integrated-gradients,occlusion,smoothgrad";
    let before = peer(peer_python, gradients, 3)?;
    let status = Command::new("cargo")
        .current_dir(root())
        .args(["bench", "--bench", "methods", "--", "--noplot"])
        .env("RAYON_NUM_THREADS", "2")
        .env("DEEPINSIDE_BENCH_METHODS", gradients)
        .status()?;
    if !status.success() {
        bail!("cargo bench --bench methods failed");
    }
    let after = peer(peer_python, gradients, 3)?;
    let mut rows = Vec::new();
    println!("\n| method, one 224² image | ours ms | Captum ms | ratio (goal ≤ 0.7) |\n|---|---|---|---|");
    for (id, label) in [
        (
            "integrated-gradients",
            "integrated gradients, 50 Gauss–Legendre steps",
        ),
        ("occlusion", "occlusion, window 16, stride 8 (729 windows)"),
        ("smoothgrad", "SmoothGrad, 50 samples"),
    ] {
        let ours = criterion_ms(id)?;
        let theirs = [&before, &after]
            .iter()
            .filter_map(|v| v.as_ref()?.get(id)?.get("median_ms")?.as_f64())
            .reduce(f64::min);
        print_row(label, ours, theirs);
        rows.push(json!({"method": id, "ours_ms": ours, "peer_ms": theirs}));
    }
    // RISE: one run each, peer first.
    let theirs = peer(peer_python, "rise", 1)?.and_then(|v| v["rise"]["median_ms"].as_f64());
    let bin = super::bench::cli()?;
    let image = root().join("tests/data/samples/chelsea.png");
    let out = std::env::temp_dir().join("deepinside-rise-bench");
    let t = std::time::Instant::now();
    run_cmd(
        Command::new(&bin)
            .env("RAYON_NUM_THREADS", "2")
            .args(["saliency", "--method", "rise", "--out"])
            .arg(&out)
            .arg(&image),
    )?;
    let ours = t.elapsed().as_secs_f64() * 1e3;
    print_row("RISE, 4000 masks (ours: the whole command)", ours, theirs);
    rows.push(json!({"method": "rise", "ours_ms": ours, "peer_ms": theirs}));
    rows.extend(attribution_eval(peer_python)?);
    let dir = root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("methods.json"),
        serde_json::to_string_pretty(&rows)?,
    )?;
    Ok(())
}

fn print_row(label: &str, ours: f64, theirs: Option<f64>) {
    match theirs {
        Some(t) => println!("| {label} | {ours:.0} | {t:.0} | {:.2} |", ours / t),
        None => println!("| {label} | {ours:.0} | (no peer: cargo xtask bench --setup-peer) | |"),
    }
}

/// Images and methods of the eval comparison: two dev images, the gradient (the cheapest
/// map, so the metrics' own cost shows) and integrated gradients at the settings Quantus's
/// `explain` hard-codes for Captum (10 steps, the trapezoid rule).
const EVAL_IMAGES: usize = 2;
const EVAL_METHODS: [(&str, &[&str]); 2] = [
    ("gradient", &[]),
    (
        "integrated-gradients",
        &["--steps", "10", "--quadrature", "riemann-trapezoid"],
    ),
];

/// `deepinside eval --task attribution` per image and method (map, pointing game,
/// MaxBoxAccV2, deletion and insertion at 16 steps, the randomisation cascade with Spearman
/// and SSIM) beside Quantus's PointingGame + PixelFlipping (16 steps) + MPRT on the same
/// images, explanation included on both sides. Quantus is run only when the peer
/// environment has it (`cargo xtask bench --setup-peer` installs it).
fn attribution_eval(python: &Path) -> anyhow::Result<Vec<Value>> {
    let data = shared().join("data/ilsvrc-dev");
    if !data.is_dir() {
        eprintln!("attribution eval benchmark skipped: no shared/data/ilsvrc-dev");
        return Ok(Vec::new());
    }
    let has_quantus = python.exists()
        && Command::new(python)
            .args(["-c", "import quantus"])
            .output()
            .is_ok_and(|o| o.status.success());
    let theirs: Option<Value> = if has_quantus {
        Some(peer_json(
            Command::new(python)
                .arg(root().join("xtask/peers/quantus_peer.py"))
                .arg(shared())
                .args(["--images", &EVAL_IMAGES.to_string()])
                .args(["--methods", &EVAL_METHODS.map(|(m, _)| m).join(",")]),
        )?)
    } else {
        None
    };
    let bin = super::bench::cli()?;
    println!(
        "\n| whole eval, per image | ours s | Quantus s (PointingGame + PixelFlipping + MPRT) | ratio | Quantus MPRT layers (ours 19) |\n|---|---|---|---|---|"
    );
    let mut rows = Vec::new();
    for (method, settings) in EVAL_METHODS {
        let out = std::env::temp_dir().join(format!("deepinside-eval-bench-{method}"));
        run_cmd(
            Command::new(&bin)
                .env("RAYON_NUM_THREADS", "2")
                .args(["eval", "--task", "attribution", "--methods", method])
                .args(settings)
                .arg("--data")
                .arg(&data)
                .args(["--limit", &EVAL_IMAGES.to_string(), "--auc-steps", "16"])
                .args(["--sanity-images", &EVAL_IMAGES.to_string(), "--out"])
                .arg(&out),
        )?;
        let summary: Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json"))?)?;
        let ours = summary["seconds"]
            .as_f64()
            .context("no seconds in summary")?
            / EVAL_IMAGES as f64;
        let peer = theirs.as_ref().and_then(|t| t.get(method));
        let total = peer.and_then(|p| p["total"].as_f64());
        let layers = peer.and_then(|p| p["mprt_layers"].as_u64());
        match total {
            Some(t) => println!(
                "| {method} | {ours:.2} | {t:.2} | {:.2} | {} |",
                ours / t,
                layers.unwrap_or(0)
            ),
            None => println!(
                "| {method} | {ours:.2} | (no Quantus: cargo xtask bench --setup-peer) | | |"
            ),
        }
        rows.push(json!({"method": format!("eval {method}"), "ours_s": ours, "quantus": peer}));
    }
    Ok(rows)
}
