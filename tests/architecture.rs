//! The design card's crate boundaries, read from `cargo metadata` (normal dependencies,
//! transitively): `segment` and `ilsvrc` stand alone and know nothing of candle; the two
//! method crates sit side by side over `convnet`; the CLI reaches the algorithms through
//! the `deepinside` library.
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// The host's target triple, as rustc reports it.
fn host() -> String {
    let out = std::process::Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_string()
}

/// Each package's normal (non-dev, non-build) dependencies, by package name, for this host
/// (other platforms' packages need not be downloaded).
fn graph() -> &'static HashMap<String, Vec<String>> {
    static GRAPH: std::sync::OnceLock<HashMap<String, Vec<String>>> = std::sync::OnceLock::new();
    GRAPH.get_or_init(read_graph)
}

fn read_graph() -> HashMap<String, Vec<String>> {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--filter-platform"])
        .arg(host())
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let name_of: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let deps = n["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| {
                    d["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|k| k["kind"].is_null())
                })
                .map(|d| name_of[d["pkg"].as_str().unwrap()].to_string())
                .collect();
            (name_of[n["id"].as_str().unwrap()].to_string(), deps)
        })
        .collect()
}

/// Every package `name` depends on, directly or not.
fn closure(g: &HashMap<String, Vec<String>>, name: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![name.to_string()];
    while let Some(p) = todo.pop() {
        for d in &g[&p] {
            if seen.insert(d.clone()) {
                todo.push(d.clone());
            }
        }
    }
    seen
}

fn workspace(deps: &BTreeSet<String>) -> Vec<&String> {
    deps.iter()
        .filter(|d| d.starts_with("deepinside"))
        .collect()
}

#[test]
fn segment_and_ilsvrc_stand_alone_without_candle() {
    let g = graph();
    for krate in ["deepinside-segment", "deepinside-ilsvrc"] {
        let deps = closure(g, krate);
        assert!(
            workspace(&deps).is_empty(),
            "{krate}: {:?}",
            workspace(&deps)
        );
        let candle: Vec<_> = deps.iter().filter(|d| d.contains("candle")).collect();
        assert!(candle.is_empty(), "{krate} pulls in {candle:?}");
    }
}

#[test]
fn the_method_crates_are_siblings_over_convnet() {
    let g = graph();
    for (krate, other) in [
        ("deepinside-attribution", "deepinside-synthesis"),
        ("deepinside-synthesis", "deepinside-attribution"),
    ] {
        let deps = closure(g, krate);
        assert!(deps.contains("deepinside-convnet"), "{krate}");
        assert!(!deps.contains(other), "{krate} depends on {other}");
        assert!(!deps.contains("deepinside-segment"), "{krate}");
    }
}

#[test]
fn the_facade_reexports_all_five_and_the_cli_uses_it() {
    let g = graph();
    let facade: BTreeSet<_> = g["deepinside"].iter().cloned().collect();
    for krate in ["convnet", "attribution", "synthesis", "segment", "ilsvrc"] {
        assert!(facade.contains(&format!("deepinside-{krate}")), "{krate}");
    }
    assert!(g["deepinside-cli"].contains(&"deepinside".to_string()));
}
