//! Grad-CAM on EfficientNet-Lite0: its head ends in global average pooling and one linear
//! layer, so ∂S_c/∂A_k(i, j) = W_ck / (h·w) and Grad-CAM must equal CAM, ReLU(Σ_k W_ck A_k)
//! / (h·w), computed here from the checkpoint's own classifier weights and the head's
//! activations — a closed form that does not go through the gradient code.
mod common;

use attribution::{grad_cam, last_spatial_layer, Target};
use convnet::weights::StateDict;
use convnet::{load_model, ForwardOptions, ModelKind};

#[test]
fn grad_cam_at_the_head_equals_cam_from_the_classifier_weights() {
    let model = load_model(
        ModelKind::EfficientNetLite0,
        Some(&common::effnet_weights()),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    assert_eq!(last_spatial_layer(&*model).as_deref(), Some("head"));
    let img = common::repo_data("samples/chelsea.png");
    let x = model.preprocessing().load(&img, model.device()).unwrap();
    let classes = [285usize, 281]; // Egyptian cat (top-1) and tabby: both light the cat up
    let targets: Vec<Target> = classes.iter().map(|&c| Target::Class(c)).collect();
    let cams = grad_cam(&*model, &x, &targets, "head").unwrap().remove(0);

    let sd = StateDict::load(&common::effnet_weights()).unwrap();
    let w = common::values(sd.tensor("_fc.weight").unwrap());
    let head = model
        .forward_with(
            &x,
            &ForwardOptions {
                capture: vec!["head".into()],
                ..Default::default()
            },
        )
        .unwrap()
        .activations["head"]
        .clone();
    let (_, k, h, wd) = head.dims4().unwrap();
    let a = common::values(&head);
    for (cam, &c) in cams.iter().zip(&classes) {
        let mut want = vec![0f32; h * wd];
        for (p, v) in want.iter_mut().enumerate() {
            let s: f64 = (0..k)
                .map(|ch| w[c * k + ch] as f64 * a[ch * h * wd + p] as f64)
                .sum();
            *v = (s / (h * wd) as f64).max(0.0) as f32;
        }
        let got: Vec<f32> = cam.coarse.iter().copied().collect();
        let err = common::rel_l2(&got, &want);
        assert!(
            err < 1e-4,
            "class {c}: Grad-CAM vs CAM relative error {err}"
        );
        assert_eq!(cam.map.dim(), (224, 224));
        assert_eq!(cam.target.class, Some(c));
    }
    // The panda image's own class covers a region; the maps differ between classes.
    assert!(cams[0].coarse.iter().any(|&v| v > 0.0));
    assert!(
        common::rel_l2(
            &cams[0].coarse.iter().copied().collect::<Vec<_>>(),
            &cams[1].coarse.iter().copied().collect::<Vec<_>>()
        ) > 0.1
    );
}
