//! `cargo xtask graph [--check]`: the workspace's crate graph, drawn from `cargo metadata`
//! (normal dependencies only) as a Mermaid diagram between the markers of
//! docs/architecture.md. Each crate's box also names the libraries of the design card it
//! builds on. `--check` fails when the file is out of date instead of rewriting it.
use anyhow::{bail, Context};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const BEGIN: &str = "<!-- crate-graph:begin (cargo xtask graph) -->";
const END: &str = "<!-- crate-graph:end -->";

/// The field's libraries worth naming in a crate's box.
const NOTABLE: [&str; 12] = [
    "candle-core",
    "candle-nn",
    "ndarray",
    "petgraph",
    "linfa",
    "linfa-clustering",
    "image",
    "mozjpeg-sys",
    "safetensors",
    "plotters",
    "clap",
    "indicatif",
];

/// Workspace packages (but xtask) and their normal dependencies, as declared.
fn packages(root: &Path) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let out = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root)
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    }
    let meta: Value = serde_json::from_slice(&out.stdout)?;
    let mut map = BTreeMap::new();
    for p in meta["packages"].as_array().into_iter().flatten() {
        let name = p["name"].as_str().unwrap_or_default().to_string();
        if name == "xtask" {
            continue;
        }
        let deps = p["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str().map(str::to_string))
            .collect();
        map.insert(name, deps);
    }
    Ok(map)
}

/// Short node id and label of a package: `deepinside-segment` → `segment`.
fn short(name: &str) -> &str {
    name.strip_prefix("deepinside-").unwrap_or(name)
}

/// The Mermaid block.
pub fn mermaid(root: &Path) -> anyhow::Result<String> {
    let pkgs = packages(root)?;
    let mut s = String::from("```mermaid\nflowchart TD\n");
    for (name, deps) in &pkgs {
        let libs: Vec<&str> = deps
            .iter()
            .map(String::as_str)
            .filter(|d| NOTABLE.contains(d))
            .collect();
        let id = short(name).replace('-', "_");
        s += &format!(
            "    {id}[\"<b>{name}</b><br/><small>{}</small>\"]\n",
            libs.join(", ")
        );
    }
    for (name, deps) in &pkgs {
        for d in deps.iter().filter(|d| pkgs.contains_key(*d)) {
            s += &format!(
                "    {} --> {}\n",
                short(name).replace('-', "_"),
                short(d).replace('-', "_")
            );
        }
    }
    s += "```";
    Ok(s)
}

/// docs/architecture.md with its crate graph drawn afresh, and the file's text as it is.
fn fresh_and_current(root: &Path) -> anyhow::Result<(String, String)> {
    let path = root.join("docs/architecture.md");
    let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    let (Some(a), Some(b)) = (text.find(BEGIN), text.find(END)) else {
        bail!("{} has no {BEGIN} … {END} markers", path.display());
    };
    let fresh = format!("{}{BEGIN}\n{}\n{}", &text[..a], mermaid(root)?, &text[b..]);
    Ok((fresh, text))
}

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let check = args.iter().any(|a| a == "--check");
    let root = workspace_root();
    let path = root.join("docs/architecture.md");
    let (fresh, text) = fresh_and_current(root)?;
    if fresh == text {
        println!("{}: crate graph up to date", path.display());
    } else if check {
        bail!(
            "{}: the crate graph is out of date; run `cargo xtask graph`",
            path.display()
        );
    } else {
        std::fs::write(&path, fresh).with_context(|| path.display().to_string())?;
        println!("{}: crate graph written", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// `cargo xtask graph --check` as a test, so that the workspace's test run keeps the
    /// picture current without building xtask's binary a second time (its release build
    /// unifies features differently from the test build's and recompiled candle in CI).
    #[test]
    fn docs_architecture_crate_graph_is_current() {
        let (fresh, text) = super::fresh_and_current(super::workspace_root()).unwrap();
        assert!(
            fresh == text,
            "docs/architecture.md: the crate graph is out of date; run `cargo xtask graph`"
        );
    }
}
