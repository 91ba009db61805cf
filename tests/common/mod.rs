//! Helpers shared by the integration tests: where `shared/` is and how to compare arrays.
#![allow(dead_code)]
use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::path::PathBuf;

/// The read-only `shared/` folder beside the checkout (or `$DEEPINSIDE_SHARED`).
pub fn shared() -> PathBuf {
    let p = std::env::var_os("DEEPINSIDE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    assert!(
        p.join("reference").is_dir(),
        "shared data not found at {} (set DEEPINSIDE_SHARED)",
        p.display()
    );
    p
}

/// The EfficientNet-Lite0 checkpoint from `shared/models`.
pub fn effnet_weights() -> PathBuf {
    shared().join("models/efficientnet-lite0-57934424.pth")
}

/// The reference fixtures, by image id, sorted.
pub fn fixtures(folder: &str) -> Vec<(String, HashMap<String, Tensor>)> {
    let dir = shared().join("reference").join(folder);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .map(|p| {
            let id = p.file_stem().unwrap().to_string_lossy().to_string();
            (
                id,
                candle_core::safetensors::load(&p, &Device::Cpu).unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!out.is_empty(), "no fixtures in {}", dir.display());
    out
}

pub fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all()
        .unwrap()
        .to_dtype(candle_core::DType::F32)
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// ‖a − b‖₂ / ‖b‖₂ in float64.
pub fn rel_l2(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "compared arrays differ in length");
    let (mut num, mut den) = (0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        num += (*x as f64 - *y as f64).powi(2);
        den += (*y as f64).powi(2);
    }
    (num / den).sqrt()
}
