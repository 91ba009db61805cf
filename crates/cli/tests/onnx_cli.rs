//! The commands with `--model FILE.onnx`: the exported EfficientNet-Lite0 and a random
//! ResNet of `shared/reference/onnx/` (skipped without `shared/`), as a user runs them.
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{deepinside, dev_image, shared};

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn onnx(model: &str) -> Option<PathBuf> {
    shared(&format!("reference/onnx/{model}/model.onnx"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `classify --model` gives the native model's top-1 (PyTorch's 388 on this image), and
/// the saliency JSON says what the rules acted on.
#[test]
fn classify_and_saliency_run_an_onnx_model() {
    let (Some(model), Some(img)) = (onnx("lite0"), dev_image("ILSVRC2012_val_00000657")) else {
        return;
    };
    let out = deepinside(&["classify", "--json", "--model", s(&model), s(&img)], &[]);
    ok(&out);
    assert_eq!(json_lines(&out)[0]["top5"][0]["index"], 388);
    let dir = tempfile::tempdir().unwrap();
    let saliency = |extra: &[&str]| {
        let mut args = vec!["saliency", "--model", s(&model), "--out", s(dir.path())];
        args.extend_from_slice(extra);
        args.push(s(&img));
        deepinside(&args, &[])
    };
    let out = saliency(&["--method", "guided", "--crops", "10"]);
    ok(&out);
    let line = &json_lines(&out)[0];
    let graph = &line["graph"];
    assert!(graph["rule_units"].as_u64().unwrap() > 0, "{graph}");
    assert_eq!(graph["plain_units"], 0, "Lite0 has ReLU6 only: {graph}");
    let (shape, _) =
        attribution::npy::read_f32(&dir.path().join("ILSVRC2012_val_00000657.npy")).unwrap();
    // The paper's 10 crops are taken from the image at 256 on the shorter side.
    assert_eq!(shape, vec![256, 256]);
    assert_eq!(line["map_shape"], serde_json::json!([256, 256]));
    // A channel of a named node output.
    let out = saliency(&["--layer", "/_blocks.4/Add_output_0", "--channel", "3"]);
    ok(&out);
    // An unknown layer is an error listing the graph's layers.
    let out = saliency(&["--layer", "nope", "--channel", "0"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nope") && err.contains("/_conv_stem/Conv_output_0"),
        "{err}"
    );
}

/// With a centre-cropping preprocessor (torchvision's Resize(256) + CenterCrop(224)) the
/// model sees the middle of a 227 × 227 image, x and y from 16·227/256 ≈ 14.2 to
/// 240·227/256 ≈ 212.8: every box `localise` and `eval` report lies inside that window, in
/// the image's pixels.
#[test]
fn boxes_of_a_centre_cropped_input_lie_inside_the_crop() {
    let (Some(model), Some(img)) = (onnx("lite0"), dev_image("ILSVRC2012_val_00000657")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("preprocessor_config.json");
    std::fs::write(
        &config,
        r#"{"do_resize": true, "size": {"shortest_edge": 256}, "resample": 2,
            "do_center_crop": true, "crop_size": {"height": 224, "width": 224},
            "do_rescale": false, "do_normalize": true,
            "image_mean": [127.0, 127.0, 127.0], "image_std": [128.0, 128.0, 128.0]}"#,
    )
    .unwrap();
    let (lo, hi) = (16.0 * 227.0 / 256.0, 240.0 * 227.0 / 256.0 - 1.0);
    let inside = |b: &serde_json::Value| {
        ["x0", "y0", "x1", "y1"].iter().all(|k| {
            let v = b[k].as_f64().unwrap();
            v >= lo - 1e-6 && v <= hi + 1e-6
        })
    };
    let cropping = ["--model", s(&model), "--preprocessor", s(&config)];
    let run = |command: &[&str], out: &Path| {
        let mut args = command.to_vec();
        args.extend_from_slice(&cropping);
        args.extend_from_slice(&["--out", s(out)]);
        deepinside(&args, &[])
    };
    let out = run(&["localise", "--top", "2", s(&img)], dir.path());
    ok(&out);
    for c in json_lines(&out)[0]["classes"].as_array().unwrap() {
        assert!(inside(&c["box"]), "{c}");
    }
    let data = common::shared_dir().join("data/ilsvrc-dev");
    let eval_out = dir.path().join("eval");
    let out = run(&["eval", "--data", s(&data), "--limit", "2"], &eval_out);
    ok(&out);
    let text = std::fs::read_to_string(eval_out.join("results.jsonl")).unwrap();
    let mut boxes = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for b in v["boxes"].as_array().unwrap() {
            if !b.is_null() {
                assert!(inside(b), "{b}");
                boxes += 1;
            }
        }
    }
    assert!(boxes >= 5, "{text}");
}

/// A residual ONNX network (not chain-shaped: the node-by-node interpreter) through
/// `visualise`, whose class-model ascent differentiates the whole graph.
#[test]
fn visualise_runs_a_residual_onnx_network() {
    let Some(model) = onnx("tinyresnet") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = deepinside(
        &[
            "visualise",
            "--model",
            s(&model),
            "--class",
            "3",
            "--steps",
            "5",
            "--no-robustness",
            "--out",
            s(dir.path()),
        ],
        &[],
    );
    ok(&out);
    let pngs = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "png")
        })
        .count();
    assert!(pngs >= 1, "no PNG written");
}
