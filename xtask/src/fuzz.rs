//! `cargo xtask fuzz [--runs N] [TARGET...]`: runs each cargo-fuzz target of `fuzz/` for N
//! executions (default one million) on the nightly toolchain, starting from the committed
//! seeds in `fuzz/seeds/<target>` and keeping the grown corpus in `fuzz/corpus/<target>`,
//! then prints a table of executions, seconds and corpus size per target. A crash stops
//! with libFuzzer's artifact path.
use anyhow::{bail, Context};
use std::path::Path;
use std::process::Command;

const TARGETS: [&str; 6] = [
    "wsol_metadata",
    "devkit",
    "voc_xml",
    "kaggle_csv",
    "synset_words",
    "decode_preprocess",
];

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let mut runs: u64 = 1_000_000;
    let mut targets: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => {
                runs = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .context("--runs needs a count")?
            }
            t if TARGETS.contains(&t) => targets.push(t.to_string()),
            other => bail!("unknown fuzz option or target `{other}`; targets: {TARGETS:?}"),
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| t.to_string()).collect();
    }
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .join("fuzz");
    let mut table = Vec::new();
    for t in &targets {
        let corpus = fuzz.join("corpus").join(t);
        std::fs::create_dir_all(&corpus)?;
        eprintln!("fuzzing {t} for {runs} executions");
        let out = Command::new("cargo")
            .current_dir(&fuzz)
            .args(["+nightly", "fuzz", "run", "-s", "none", "-O", t])
            .arg(&corpus)
            .arg(fuzz.join("seeds").join(t))
            .args([
                "--",
                &format!("-runs={runs}"),
                "-rss_limit_mb=4096",
                "-max_len=65536",
                "-print_final_stats=1",
            ])
            .output()
            .context("running cargo +nightly fuzz (cargo install cargo-fuzz; rustup toolchain install nightly)")?;
        let log = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            eprintln!("{log}");
            bail!(
                "{t}: the fuzzer failed ({}); see the artifact above",
                out.status
            );
        }
        let stat = |name: &str| {
            log.lines()
                .find_map(|l| l.strip_prefix(&format!("stat::{name}:")))
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| "?".into())
        };
        let corpus_files = std::fs::read_dir(&corpus)?.count();
        table.push(format!(
            "| {t} | {} | {} | {corpus_files} | {} |",
            stat("number_of_executed_units"),
            stat("average_exec_per_sec"),
            stat("peak_rss_mb")
        ));
    }
    println!(
        "| target | executions | exec/s | corpus files | peak RSS MB |\n|---|---|---|---|---|"
    );
    for row in table {
        println!("{row}");
    }
    Ok(())
}
