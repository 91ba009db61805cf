//! Degenerate and hostile image sizes through classify, saliency (1 and 10 crops) and
//! localise, as a user would pass them: no panic, every box valid and inside its image, every
//! output bounded, and images past the 10-crop limits refused by name.
use proptest::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

mod common;
use common::deepinside;

/// The 10-crop limits (`attribution::MAX_ASPECT_RATIO`, `MAX_MAP_PIXELS`).
const MAX_ASPECT: u32 = attribution::MAX_ASPECT_RATIO as u32;
const MAX_MAP_PIXELS: u64 = attribution::MAX_MAP_PIXELS;

/// A PNG of `w × h` pixels: a smooth gradient with a bright square, so the model sees an
/// image and the cut has an object to find.
fn write_png(dir: &Path, (w, h): (u32, u32)) -> PathBuf {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let inside = x > w / 4 && x < w / 2 && y > h / 4 && y < h / 2;
        let v = |a: u32, n: u32| (a * 255 / n.max(1)) as u8;
        if inside {
            image::Rgb([250, 240, 30])
        } else {
            image::Rgb([v(x, w), v(y, h), 90])
        }
    });
    let p = dir.join(format!("img_{w}x{h}.png"));
    img.save(&p).unwrap();
    p
}

fn lines(out: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs one command over all images and returns its JSON lines, one per image; the command
/// may fail an image (exit 1) but never panic (101) or refuse to run (2).
fn run(args: &[&str], images: &[PathBuf]) -> Vec<Value> {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(images.iter().map(|p| p.to_str().unwrap()));
    let out = deepinside(&all, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0 | 1)) && !stderr.contains("panicked"),
        "{args:?}: {:?}\n{stderr}",
        out.status
    );
    let l = lines(&out);
    assert_eq!(l.len(), images.len(), "{args:?}: one JSON line per image");
    l
}

fn size_of(v: &Value) -> (u32, u32) {
    let name = Path::new(v["image"].as_str().unwrap())
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .to_string();
    let (w, h) = name.trim_start_matches("img_").split_once('x').unwrap();
    (w.parse().unwrap(), h.parse().unwrap())
}

fn over_aspect((w, h): (u32, u32)) -> bool {
    w.max(h) > MAX_ASPECT * w.min(h)
}

/// Pixels of a PNG the command wrote, checked to be at most `max`.
fn png_pixels_at_most(path: &str, max: u64) {
    let (w, h) = image::image_dimensions(path).unwrap();
    assert!(
        (w as u64) * (h as u64) <= max,
        "{path}: {w} × {h} is over {max}"
    );
}

fn check_all(sizes: &[(u32, u32)]) {
    let dir = tempfile::tempdir().unwrap();
    let images: Vec<PathBuf> = sizes.iter().map(|&s| write_png(dir.path(), s)).collect();
    let out = |name: &str| dir.path().join(name).display().to_string();

    for l in run(&["classify", "--json"], &images) {
        assert_eq!(l["top5"].as_array().map(Vec::len), Some(5), "{l}");
    }

    for l in run(&["saliency", "--out", &out("s1")], &images) {
        assert!(l["error"].is_null(), "{l}");
        let (shape, _) =
            attribution::npy::read_f32(Path::new(l["files"]["npy"].as_str().unwrap())).unwrap();
        assert_eq!(shape, vec![224, 224], "{l}");
        png_pixels_at_most(l["files"]["heatmap"].as_str().unwrap(), 224 * 224);
    }

    for l in run(
        &["saliency", "--crops", "10", "--out", &out("s10")],
        &images,
    ) {
        let size = size_of(&l);
        if over_aspect(size) {
            let e = l["error"].as_str().unwrap_or_else(|| panic!("{l}"));
            assert!(e.contains("aspect-ratio limit"), "{l}");
            continue;
        }
        let npy = l["files"]["npy"].as_str().unwrap_or_else(|| panic!("{l}"));
        let (shape, _) = attribution::npy::read_f32(Path::new(npy)).unwrap();
        assert!((shape[0] * shape[1]) as u64 <= MAX_MAP_PIXELS, "{l}");
        assert!(std::fs::metadata(npy).unwrap().len() <= 4 * MAX_MAP_PIXELS + 1024);
        png_pixels_at_most(l["files"]["heatmap"].as_str().unwrap(), MAX_MAP_PIXELS);
        png_pixels_at_most(l["files"]["overlay"].as_str().unwrap(), MAX_MAP_PIXELS);
    }

    for l in run(&["localise", "--top", "1", "--out", &out("loc")], &images) {
        let (w, h) = size_of(&l);
        assert!(l["error"].is_null(), "{l}");
        for c in l["classes"].as_array().unwrap() {
            let b = &c["box"];
            if b.is_null() {
                continue; // "no object"
            }
            let f = |k: &str| b[k].as_f64().unwrap();
            let (x0, y0, x1, y1) = (f("x0"), f("y0"), f("x1"), f("y1"));
            assert!(
                0.0 <= x0 && x0 <= x1 && x1 <= (w - 1) as f64,
                "{w} × {h}: {b}"
            );
            assert!(
                0.0 <= y0 && y0 <= y1 && y1 <= (h - 1) as f64,
                "{w} × {h}: {b}"
            );
        }
        png_pixels_at_most(l["files"]["boxes"].as_str().unwrap(), w as u64 * h as u64);
    }
}

#[test]
fn extreme_sizes_give_valid_boxes_and_bounded_outputs() {
    check_all(&[(1, 1), (1, 5000), (5000, 1), (2, 3), (16, 256), (17, 256)]);
}

fn size() -> impl Strategy<Value = (u32, u32)> {
    prop_oneof![
        (1u32..=2000, 1u32..=2000),
        (1u32..=4, 1u32..=2000),
        (1u32..=2000, 1u32..=4),
        (1u32..=64, 1u32..=64),
    ]
}

proptest! {
    // Each case runs the four commands over eight images (a model load each), so few cases.
    #![proptest_config(ProptestConfig::with_cases(3))]
    #[test]
    fn random_sizes_give_valid_boxes_and_bounded_outputs(sizes in prop::collection::vec(size(), 8)) {
        check_all(&sizes);
    }
}
