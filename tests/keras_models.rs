//! Models exported from Keras with tf2onnx (`xtask/peers/keras_export.py`, the command
//! docs/onnx.md gives Keras users) against TensorFlow: logits within 1e-4 relative L2 and
//! the input gradient of the top logit within 1e-3.
//!
//! `tests/data/keras` holds a 32 × 32 network with the layers a Keras classifier commonly
//! has (ZeroPadding2D, ReLU6, swish, squeeze-excitation, a residual Add, LeakyReLU, pooling,
//! Dense and Softmax), small enough to live in the repository, exported with tf2onnx's
//! `--inputs-as-nchw` (`tiny`) and without it (`tiny_nhwc`, a channels-last input). `DEEPINSIDE_KERAS_REFERENCE`
//! points the test at another folder the script wrote (its `applications` set:
//! MobileNetV2 and EfficientNetB0 from `tf.keras.applications`).
mod common;

use candle_core::Device;
use common::{rel_l2, repo_data, rule_map, values};
use convnet::{BackwardRule, ImageModel, OnnxModel};
use std::path::PathBuf;

#[test]
fn keras_exports_match_tensorflow() {
    let dir = std::env::var_os("DEEPINSIDE_KERAS_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_data("keras"));
    let mut stems: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    stems.sort();
    assert!(!stems.is_empty(), "no models in {}", dir.display());
    let mut failures = Vec::new();
    for onnx in &stems {
        let stem = onnx.file_stem().unwrap().to_string_lossy().to_string();
        let model = OnnxModel::load(onnx).unwrap_or_else(|e| panic!("{stem}: {e}"));
        let summary = model.info().graph.clone().unwrap();
        // Every Keras classifier ends in a softmax, explained as the logits before it.
        assert_eq!(
            summary.stripped_output.as_deref(),
            Some("Softmax"),
            "{stem}"
        );
        assert_eq!(
            summary.channels_last_input,
            stem.ends_with("_nhwc"),
            "{stem}"
        );
        if stem.starts_with("tiny") {
            // ReLU6 (Clip from 0), the excitation's ReLU and the LeakyReLU.
            assert_eq!(summary.rule_units, 3, "{stem}: {summary:?}");
        }
        let refs = candle_core::safetensors::load(onnx.with_extension("safetensors"), &Device::Cpu)
            .unwrap();
        for i in 0.. {
            let Some(x) = refs.get(&format!("input_{i}")) else {
                break;
            };
            let logits = rel_l2(
                &values(&model.forward(x).unwrap()),
                &values(&refs[&format!("logits_{i}")]),
            );
            let top = refs[&format!("top1_{i}")].to_vec1::<i64>().unwrap()[0] as usize;
            let grad = rel_l2(
                &rule_map(&model, x, top, BackwardRule::Gradient),
                &values(&refs[&format!("grad_{i}")]),
            );
            eprintln!("{stem} {i}: logits {logits:.2e}, gradient {grad:.2e}");
            if logits > 1e-4 {
                failures.push(format!("{stem} {i}: logits {logits:.2e} > 1e-4"));
            }
            if grad > 1e-3 {
                failures.push(format!("{stem} {i}: gradient {grad:.2e} > 1e-3"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
