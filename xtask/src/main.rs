//! `cargo xtask <task>`: project chores that need more than one cargo command.
//!
//! - `bench [--peer-python PATH] [--setup-peer] [--methods] [--onnx]`: runs our criterion
//!   benchmarks and, when the PyTorch peer environment exists, the peer script on the same
//!   machine in the same run, then prints times and ratios (ours / peer); `--methods` runs
//!   only the attribution methods against Captum, `--onnx` only the ONNX models against the
//!   PyTorch modules they were exported from.
//! - `repro [--data DIR] [--out DIR] [...]`: regenerates the paper's figures and tables
//!   (`deepinside repro`, built in release mode); options are passed through.
//! - `fuzz [--runs N] [TARGET...]`: every cargo-fuzz target for N executions (default 10⁶).
//! - `graph [--check]`: the crate graph of docs/architecture.md, from `cargo metadata`.
//! - `gpu-check [--peer-path DIR]`: on an NVIDIA GPU machine, build with `--features cuda`
//!   (installing nvcc from PyPI if needed), compare with the CPU, time against PyTorch.
mod bench;
mod bench_methods;
mod bench_onnx;
mod fuzz;
mod gpu_check;
mod graph;

const USAGE: &str =
    "usage: cargo xtask bench [--peer-python PATH] [--setup-peer] [--methods] [--onnx]
       cargo xtask repro [--data DIR] [--out DIR] [--limit N] [--steps N] [--resume]
       cargo xtask fuzz [--runs N] [TARGET...]
       cargo xtask graph [--check]
       cargo xtask gpu-check [--peer-path DIR]";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let is_flag = |a: &String| a == "--help" || a == "-h";
    match args.first().map(String::as_str) {
        // `repro` passes its options on to `deepinside repro`, which has a `--help` of its own.
        Some(task) if task == "help" || (task != "repro" && args.iter().any(is_flag)) => {
            println!("{USAGE}");
            Ok(())
        }
        Some("bench") => bench::run(&args[1..]),
        Some("repro") => repro(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("gpu-check") => gpu_check::run(&args[1..]),
        Some("graph") => graph::run(&args[1..]),
        Some(other) => {
            eprintln!("unknown task {other}\n{USAGE}");
            std::process::exit(2);
        }
        None => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

/// `--speed target/bench/speed.png` when `cargo xtask bench` left one and no `--speed` is given.
fn speed_chart(args: &[String]) -> Vec<String> {
    let chart = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench/speed.png");
    if chart.exists() && !args.iter().any(|a| a == "--speed") {
        vec!["--speed".into(), chart.display().to_string()]
    } else {
        Vec::new()
    }
}

/// `deepinside repro` from the workspace root, release build, options passed through.
fn repro(args: &[String]) -> anyhow::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace");
    let status = std::process::Command::new("cargo")
        .current_dir(root)
        .args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "deepinside-cli",
            "--",
            "repro",
        ])
        .args(args)
        .args(speed_chart(args))
        .status()?;
    if !status.success() {
        anyhow::bail!("deepinside repro failed ({status})");
    }
    Ok(())
}
