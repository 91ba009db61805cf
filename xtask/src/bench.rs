//! Benchmarks with the PyTorch peer beside them, so every speed claim is a ratio measured
//! in one run on one machine.
use anyhow::{bail, Context};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub(crate) fn shared() -> PathBuf {
    std::env::var_os("DEEPINSIDE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared"))
}

/// Median time in milliseconds per element of one criterion benchmark.
pub(crate) fn criterion_ms(group: &str, id: &str, param: usize) -> anyhow::Result<f64> {
    let path = root()
        .join("target/criterion")
        .join(group)
        .join(id)
        .join(param.to_string())
        .join("new/estimates.json");
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).with_context(|| path.display().to_string())?,
    )?;
    let ns = v["median"]["point_estimate"]
        .as_f64()
        .context("no median in estimates.json")?;
    Ok(ns / 1e6 / param as f64)
}

/// Runs a peer script and parses the JSON object on its last JSON line (the scripts'
/// libraries print lines of their own before it).
pub(crate) fn peer_json(cmd: &mut Command) -> anyhow::Result<Value> {
    let out = run_cmd(cmd)?;
    let json = out
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .with_context(|| format!("no JSON from {cmd:?}"))?;
    Ok(serde_json::from_str(json)?)
}

pub(crate) fn run_cmd(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let mut peer_python = std::env::var_os("DEEPINSIDE_PEER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".peer-venv/bin/python"));
    let mut only_methods = false;
    let mut only_onnx = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--methods" => only_methods = true,
            "--onnx" => only_onnx = true,
            "--peer-python" => {
                peer_python = PathBuf::from(it.next().context("--peer-python needs a path")?)
            }
            "--setup-peer" => {
                let venv = root().join(".peer-venv");
                let status = Command::new("bash")
                    .arg(shared().join("peers/setup.sh"))
                    .arg(&venv)
                    .status()?;
                if !status.success() {
                    bail!("peer setup failed");
                }
                peer_python = venv.join("bin/python");
                // The metrics peer of the attribution eval (not in the shared setup).
                let status = Command::new(venv.join("bin/pip"))
                    .args(["install", "--quiet", "quantus==0.6.0"])
                    .status()?;
                if !status.success() {
                    bail!("installing Quantus into the peer environment failed");
                }
            }
            other => bail!("unknown option {other}"),
        }
    }
    if only_methods {
        return crate::bench_methods::run(&peer_python);
    }
    if only_onnx {
        return crate::bench_onnx::run(&peer_python);
    }
    let images = shared().join("data/ilsvrc-dev/images");
    let peer = |only: &str| -> anyhow::Result<Option<Value>> {
        if !peer_python.exists() {
            return Ok(None);
        }
        let out = run_cmd(
            Command::new(&peer_python)
                .arg(shared().join("peers/bench_torch.py"))
                .arg(&images)
                .args(["--threads", "2", "--only", only]),
        )?;
        // The peer's model package prints a line before the JSON.
        let json = out.find('{').map_or(out.as_str(), |i| &out[i..]);
        Ok(Some(
            serde_json::from_str(json).context("peer output is not JSON")?,
        ))
    };
    // Alternate: peer, ours, so both see the same machine state.
    let before = peer("forward,saliency,tencrop")?;
    let status = Command::new("cargo")
        .current_dir(root())
        .args(["bench", "--bench", "effnet", "--", "--noplot"])
        .env("RAYON_NUM_THREADS", "2")
        .status()?;
    if !status.success() {
        bail!("cargo bench failed");
    }
    let after = peer("forward,saliency,tencrop")?;
    let rows = [
        ("forward, batch 1", "forward", 1, "forward_b1"),
        (
            "forward, batch 16 (per image)",
            "forward",
            16,
            "forward_b16",
        ),
        ("saliency, batch 1", "forward+input-grad", 1, "saliency_b1"),
        (
            "saliency, batch 16 (per image)",
            "forward+input-grad",
            16,
            "saliency_b16",
        ),
        (
            "10-crop saliency (per image)",
            "ten-crop-saliency",
            1,
            "tencrop",
        ),
    ];
    println!("\n| work | ours ms/image | PyTorch ms/image | ratio |");
    println!("|---|---|---|---|");
    let mut chart: Vec<(String, f64, Option<f64>)> = Vec::new();
    for (label, id, batch, key) in rows {
        let ours = criterion_ms("efficientnet-lite0", id, batch)?;
        let theirs: Option<f64> = [&before, &after]
            .iter()
            .filter_map(|v| v.as_ref()?.get(key)?.get("median_ms")?.as_f64())
            .reduce(f64::min);
        chart.push((label.replace(" (per image)", ""), ours, theirs));
        match theirs {
            Some(t) => println!("| {label} | {ours:.1} | {t:.1} | {:.2} |", ours / t),
            None => {
                println!("| {label} | {ours:.1} | (no peer: cargo xtask bench --setup-peer) | |")
            }
        }
    }
    chart.push(class_model(&peer)?);
    speed_chart(&chart)?;
    segmentation(&peer_python)?;
    crate::bench_methods::run(&peer_python)?;
    crate::bench_onnx::run(&peer_python)?;
    if !Path::new(&peer_python).exists() {
        eprintln!(
            "peer environment not found at {}; ratios need it",
            peer_python.display()
        );
    }
    Ok(())
}

/// Builds the release CLI and returns its path (the timed runs use the whole command).
pub(crate) fn cli() -> anyhow::Result<PathBuf> {
    let status = Command::new("cargo")
        .current_dir(root())
        .args(["build", "--quiet", "--release", "-p", "deepinside-cli"])
        .status()?;
    if !status.success() {
        bail!("building the CLI failed");
    }
    Ok(root().join("target/release/deepinside"))
}

/// 200 steps of the paper's class-model ascent for class 949, as the peer's `classmodel`:
/// ours is the whole `deepinside visualise` command (model load and PNG included), median
/// of three runs, right after the peer's (which times three runs after three warm-ups).
fn class_model(
    peer: &dyn Fn(&str) -> anyhow::Result<Option<Value>>,
) -> anyhow::Result<(String, f64, Option<f64>)> {
    let bin = cli()?;
    let out = std::env::temp_dir().join("deepinside-classmodel-bench");
    let theirs = peer("classmodel")?.and_then(|v| v["classmodel_200_steps"]["median_ms"].as_f64());
    let mut ours = Vec::new();
    for _ in 0..3 {
        let t = std::time::Instant::now();
        run_cmd(
            Command::new(&bin)
                .env("RAYON_NUM_THREADS", "2")
                .args([
                    "visualise",
                    "--class",
                    "949",
                    "--mode",
                    "paper",
                    "--steps",
                    "200",
                ])
                .args(["--no-robustness", "--out"])
                .arg(&out),
        )?;
        ours.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let ours = median(ours);
    println!("\n| class model, 200 steps, one class | ours s | PyTorch s | ratio |");
    println!("|---|---|---|---|");
    match theirs {
        None => println!(
            "| paper mode, class 949 | {:.1} | (no peer) | |",
            ours / 1e3
        ),
        Some(t) => println!(
            "| paper mode, class 949 | {:.1} | {:.1} | {:.2} |",
            ours / 1e3,
            t / 1e3,
            ours / t
        ),
    }
    Ok(("class model, 200 steps".into(), ours, theirs))
}

/// The network rows as bars beside the peer's: `target/bench/speed.png` (and `.json`), which
/// `cargo xtask repro` puts in its report.
fn speed_chart(rows: &[(String, f64, Option<f64>)]) -> anyhow::Result<()> {
    use deepinside::plots::{bar_chart, BarChart};
    let dir = root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let chart = BarChart {
        title: "EfficientNet-Lite0 on this machine's 2 cores (lower is faster)".into(),
        y_label: "ms per image (log scale)".into(),
        groups: rows.iter().map(|r| r.0.clone()).collect(),
        series: vec![
            ("deepinside".into(), rows.iter().map(|r| r.1).collect()),
            (
                "PyTorch (same run)".into(),
                rows.iter().map(|r| r.2.unwrap_or(f64::NAN)).collect(),
            ),
        ],
        log_y: true,
    };
    let png = dir.join("speed.png");
    bar_chart(&chart, 1100, 440)?
        .save(&png)
        .with_context(|| png.display().to_string())?;
    let json: Vec<Value> = rows
        .iter()
        .map(|(w, o, t)| serde_json::json!({"work": w, "ours_ms": o, "pytorch_ms": t}))
        .collect();
    std::fs::write(dir.join("speed.json"), serde_json::to_string_pretty(&json)?)?;
    println!("\nspeed chart: {}", png.display());
    Ok(())
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Per-image times printed by the segment crate's example (`ID: 69.4 ms, box ...`), and its
/// whole output. With `unaries`, the example also writes each graph's unaries there and
/// prints its max-flow time alone (`ID: max-flow 21.3 ms`).
fn segment_example(
    fixtures: &[String],
    threads: usize,
    scikit_fit: bool,
    unaries: Option<&Path>,
) -> anyhow::Result<(Vec<(String, f64)>, String)> {
    let mut cmd = Command::new("cargo");
    if let Some(dir) = unaries {
        cmd.env("DEEPINSIDE_UNARIES", dir);
    }
    cmd.current_dir(root())
        .env("RAYON_NUM_THREADS", threads.to_string())
        .env("DEEPINSIDE_SHARED", shared())
        .args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "deepinside-segment",
            "--example",
            "segment_fixture",
        ])
        .arg(std::env::temp_dir().join("deepinside-segment-bench"));
    if scikit_fit {
        cmd.arg("--scikit-fit");
    }
    let out = run_cmd(cmd.args(fixtures))?;
    let mut times: Vec<(String, f64)> = out
        .lines()
        .filter_map(|l| {
            let (id, rest) = l.split_once(": ")?;
            Some((id.to_string(), rest.split(" ms").next()?.parse().ok()?))
        })
        .collect();
    times.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((times, out))
}

/// The segmentation stage on the fixtures' pixels and saliency: ours (the segment crate's
/// example; its default fit on one and two threads, and the `paper` preset's scikit-learn
/// fit on two) and the Python peer's functions (one thread: PyMaxflow has no other), same
/// inputs, best of three each.
fn segmentation(peer_python: &Path) -> anyhow::Result<()> {
    let mut fixtures: Vec<String> = std::fs::read_dir(shared().join("reference/fixtures"))?
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "safetensors")
                .then(|| p.file_stem().unwrap().to_string_lossy().to_string())
        })
        .collect();
    fixtures.sort();
    let unaries = std::env::temp_dir().join("deepinside-segment-unaries");
    let (one, out) = segment_example(&fixtures, 1, false, Some(&unaries))?;
    let (two, _) = segment_example(&fixtures, 2, false, None)?;
    let (paper, _) = segment_example(&fixtures, 2, true, None)?;
    let peer: Option<Value> = if peer_python.exists() {
        Some(serde_json::from_str(&run_cmd(
            Command::new(peer_python)
                .arg(root().join("xtask/peers/segment_peer.py"))
                .arg(shared()),
        )?)?)
    } else {
        None
    };
    println!("\n| segmentation stage (seeds, GMMs, graph, cut, component, box), fixtures' pixels and saliency | ours, default fit, 1 thread ms | ours, default fit, 2 threads ms | ours, scikit-learn fit (`paper`), 2 threads ms | peer (1 thread) ms | ratios (1 thr / 2 thr / paper) |");
    println!("|---|---|---|---|---|---|");
    let mut cols: [Vec<f64>; 4] = Default::default();
    for (((id, a), (_, b)), (_, c)) in one.iter().zip(&two).zip(&paper) {
        let p = peer.as_ref().and_then(|v| v.get(id)?.as_f64());
        let ratios = p.map_or(String::new(), |p| {
            format!("{:.2} / {:.2} / {:.2}", a / p, b / p, c / p)
        });
        let shown = p.map_or("(no peer)".to_string(), |p| format!("{p:.0}"));
        println!("| {id} | {a:.0} | {b:.0} | {c:.0} | {shown} | {ratios} |");
        for (col, v) in cols.iter_mut().zip([Some(*a), Some(*b), Some(*c), p]) {
            col.extend(v);
        }
    }
    let [a, b, c, p] = cols.map(median);
    println!(
        "| median | {a:.0} | {b:.0} | {c:.0} | {p:.0} | {:.2} / {:.2} / {:.2} |",
        a / p,
        b / p,
        c / p
    );
    if peer.is_none() {
        return Ok(());
    }
    same_graph_maxflow(peer_python, &out, &unaries)
}

/// Our BK and PyMaxflow on the identical graph of each fixture (our unaries, written by the
/// example; the peer's own pairwise terms and graph construction), max-flow alone.
fn same_graph_maxflow(peer_python: &Path, ours_out: &str, unaries: &Path) -> anyhow::Result<()> {
    // Lines look like "ILSVRC2012_val_00000560: max-flow 21.3 ms".
    let ours: Vec<(String, f64)> = ours_out
        .lines()
        .filter_map(|l| {
            let (id, rest) = l.split_once(": max-flow ")?;
            Some((id.to_string(), rest.split(" ms").next()?.parse().ok()?))
        })
        .collect();
    let peer: Value = serde_json::from_str(&run_cmd(
        Command::new(peer_python)
            .arg(root().join("xtask/peers/segment_peer.py"))
            .arg(shared())
            .arg("--same-graph")
            .arg(unaries),
    )?)?;
    println!("\n| max-flow alone, the same 224×224 8-connected graph | ours (BK) ms | PyMaxflow ms | ratio |");
    println!("|---|---|---|---|");
    let (mut mine, mut theirs) = (Vec::new(), Vec::new());
    for (id, ms) in &ours {
        if let Some(p) = peer.get(id).and_then(Value::as_f64) {
            println!("| {id} | {ms:.1} | {p:.1} | {:.2} |", ms / p);
            mine.push(*ms);
            theirs.push(p);
        }
    }
    let (a, b) = (median(mine), median(theirs));
    println!("| median | {a:.1} | {b:.1} | {:.2} |", a / b);
    Ok(())
}
