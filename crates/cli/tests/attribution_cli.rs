//! The attribution methods through the binary, as the interface states it:
//! `saliency --method M --reduce none` shapes and JSON, bad settings named, and
//! `eval --task attribution` with its summary keys, maps, plots, page and resume.
use std::path::Path;

mod common;
use common::{deepinside, sample, shared};

fn lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn saliency_methods_write_raw_attributions_of_the_stated_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let img = sample("coffee.png");
    for (method, extra, shape) in [
        ("input-x-gradient", vec![], vec![3, 224, 224]),
        (
            "integrated-gradients",
            vec!["--steps", "4"],
            vec![3, 224, 224],
        ),
        ("smoothgrad", vec!["--samples", "3"], vec![3, 224, 224]),
        ("gradcam", vec![], vec![224, 224]),
        ("guided-gradcam", vec!["--layer", "head"], vec![3, 224, 224]),
        (
            "occlusion",
            vec!["--window", "112", "--stride", "112"],
            vec![3, 224, 224],
        ),
        ("rise", vec!["--masks", "8"], vec![224, 224]),
    ] {
        let out_dir = dir.path().join(method);
        let mut args = vec![
            "saliency",
            "--method",
            method,
            "--reduce",
            "none",
            "--out",
            out_dir.to_str().unwrap(),
        ];
        args.extend(extra);
        args.push(img.to_str().unwrap());
        let out = deepinside(&args, &[]);
        assert!(
            out.status.success(),
            "{method}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = &lines(&out)[0];
        assert_eq!(line["method"], method);
        assert_eq!(line["reduction"], "none");
        let (got, values) = attribution::npy::read_f32(&out_dir.join("coffee.npy")).unwrap();
        assert_eq!(got, shape, "{method}");
        assert!(
            values.iter().all(|v| v.is_finite()) && values.iter().any(|&v| v != 0.0),
            "{method}"
        );
        if method == "integrated-gradients" {
            assert!(line["completeness_gap"].as_f64().is_some(), "{line}");
            assert_eq!(line["settings"]["steps"], 4);
        }
        assert!(out_dir.join("coffee_overlay.png").is_file());
    }
}

#[test]
fn bad_method_settings_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let img = sample("coffee.png");
    for (args, want) in [
        (
            vec!["--method", "integrated-gradients", "--steps", "0"],
            "--steps",
        ),
        (
            vec!["--method", "smoothgrad", "--samples", "0"],
            "--samples",
        ),
        (vec!["--method", "smoothgrad", "--noise", "-0.5"], "-0.5"),
        (
            vec!["--method", "occlusion", "--window", "500"],
            "--window 500",
        ),
        (vec!["--method", "occlusion", "--stride", "0"], "--stride"),
        (vec!["--method", "gradcam", "--layer", "pool"], "pool"),
        (vec!["--method", "lime"], "integrated-gradients"),
    ] {
        let mut a = vec!["saliency", "--out", dir.path().to_str().unwrap()];
        a.extend(&args);
        a.push(img.to_str().unwrap());
        let out = deepinside(&a, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn eval_attribution_writes_the_summary_keys_maps_and_page_and_resumes() {
    let Some(data) = shared("data/ilsvrc-dev") else {
        return;
    };
    let run = |out: &Path, resume: bool| {
        let mut a = vec![
            "eval",
            "--task",
            "attribution",
            "--methods",
            "gradient,gradcam,integrated-gradients",
            "--steps",
            "4",
            "--auc-steps",
            "5",
            "--limit",
            "3",
            "--sanity-images",
            "1",
            "--save-maps",
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        if resume {
            a.push("--resume");
        }
        let status = deepinside(&a, &[]);
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                .unwrap();
        s
    };
    let dir = tempfile::tempdir().unwrap();
    let s = run(dir.path(), false);
    for m in ["gradient", "gradcam", "integrated-gradients"] {
        let a = &s["attribution"][m];
        for key in [
            "pointing_game",
            "maxboxacc_v2",
            "deletion_auc",
            "insertion_auc",
        ] {
            let v = a[key].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&v), "{m}.{key} = {v}");
        }
        assert_eq!(a["sanity_spearman"].as_array().unwrap().len(), 19, "{m}");
        assert!(a["sanity_spearman_full"].as_f64().is_some());
        let maps = dir.path().join("maps").join(m);
        let n = std::fs::read_dir(&maps).unwrap().count();
        assert_eq!(n, 3, "{m}: {n} maps");
        let first = std::fs::read_dir(&maps)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        assert_eq!(
            attribution::npy::read_f32(&first).unwrap().0,
            vec![224, 224]
        );
    }
    for f in [
        "curves.png",
        "sanity.png",
        "index.html",
        "gallery/gradcam.png",
    ] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    let page = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    assert!(
        page.contains("integrated-gradients: pointing game"),
        "one gallery row per method"
    );
    // Cut the run after one image and resume: the same summary.
    let part = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(dir.path().join("results.jsonl")).unwrap();
    std::fs::write(
        part.path().join("results.jsonl"),
        format!("{}\n", text.lines().next().unwrap()),
    )
    .unwrap();
    let mut resumed = run(part.path(), true);
    let mut whole = s.clone();
    for m in ["gradient", "gradcam", "integrated-gradients"] {
        // Timing is the one thing a re-run changes.
        for v in [&mut whole, &mut resumed] {
            v["attribution"][m]
                .as_object_mut()
                .unwrap()
                .remove("seconds_per_map");
        }
    }
    assert_eq!(resumed["attribution"], whole["attribution"]);
}

#[test]
fn attribution_shards_merge_into_the_whole_runs_metrics() {
    let Some(data) = shared("data/ilsvrc-dev") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let eval = |out: &Path, shard: Option<&str>| {
        let mut a = vec![
            "eval",
            "--task",
            "attribution",
            "--methods",
            "gradient,gradcam",
            "--sanity-images",
            "0",
            "--auc-steps",
            "5",
            "--limit",
            "4",
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        if let Some(s) = shard {
            a.extend(["--shard", s]);
        }
        assert!(deepinside(&a, &[]).status.success());
    };
    let (whole, one, two, merged) = (
        dir.path().join("w"),
        dir.path().join("1"),
        dir.path().join("2"),
        dir.path().join("m"),
    );
    eval(&whole, None);
    eval(&one, Some("1/2"));
    eval(&two, Some("2/2"));
    let out = deepinside(
        &[
            "eval",
            "merge",
            one.to_str().unwrap(),
            two.to_str().unwrap(),
            "--out",
            merged.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |d: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(d.join("summary.json")).unwrap()).unwrap()
    };
    let (w, m) = (read(&whole), read(&merged));
    assert_eq!(m["images"], 4);
    for method in ["gradient", "gradcam"] {
        for key in [
            "pointing_game",
            "maxboxacc_v2",
            "deletion_auc",
            "insertion_auc",
        ] {
            let (a, b) = (
                w["attribution"][method][key].as_f64().unwrap(),
                m["attribution"][method][key].as_f64().unwrap(),
            );
            assert!((a - b).abs() < 1e-12, "{method}.{key}: {a} vs {b}");
        }
    }
}
