//! The attribution methods beyond the paper against Captum 0.9 on EfficientNet-Lite0
//! (`shared/reference/methods/`, made by `peers/method_fixtures.py`): input × gradient and
//! integrated gradients against their float64 keys (median within max(1e-3, 2× Captum
//! float32's median), largest within max(1e-2, 3× Captum's largest)), occlusion, Grad-CAM
//! (7 × 7 and upsampled) and guided Grad-CAM within 1e-3 relative L2, and integrated
//! gradients' completeness gap against Captum's `ig_delta`.
mod common;

use attribution::{explain, AttributionMethod, CamWeighting, MethodSettings, Values};
use common::{fixtures, median, rel_l2, shared, values};
use convnet::{ImageModel, Target};

fn model() -> Box<dyn ImageModel> {
    common::effnet_model()
}

fn flat(v: &Values) -> Vec<f32> {
    match v {
        Values::Pixels(a) => a.iter().copied().collect(),
        Values::Spatial(m) => m.iter().copied().collect(),
    }
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}

#[test]
fn methods_match_captum_on_the_reference_images() {
    let (Some(fx), Some(dir)) = (fixtures("methods"), shared("reference/methods")) else {
        return;
    };
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let m = model();
    let settings = MethodSettings {
        layer: Some("head".into()),
        ..MethodSettings::default()
    };
    let mut ours = std::collections::BTreeMap::<&str, Vec<f64>>::new();
    let mut captum = std::collections::BTreeMap::<&str, Vec<f64>>::new();
    for (id, f) in fx {
        let x = &f["input"];
        let target = Target::Class(f["top1"].to_scalar::<i64>().unwrap() as usize);
        let run = |method| {
            explain(&*m, x, &target, method, &settings)
                .unwrap()
                .remove(0)
        };

        for (method, key) in [
            (AttributionMethod::InputXGradient, "input_x_gradient"),
            (
                AttributionMethod::IntegratedGradients,
                "integrated_gradients",
            ),
        ] {
            let e = run(method);
            let err = rel_l2(&flat(&e.values), &values(&f[&format!("{key}_f64")]));
            let theirs = summary["images"][&id]["f32_vs_f64"][key].as_f64().unwrap();
            println!("{id}: {key} vs float64 {err:.2e} (Captum float32 {theirs:.2e})");
            ours.entry(key).or_default().push(err);
            captum.entry(key).or_default().push(theirs);
            if method == AttributionMethod::IntegratedGradients {
                let gap = e.completeness_gap.unwrap() as f64;
                let want = f["ig_delta"].to_scalar::<f32>().unwrap() as f64;
                let sum = summary["images"][&id]["ig_sum"].as_f64().unwrap();
                println!("{id}: ig completeness gap {gap:.4} (Captum {want:.4}, Σ {sum:.3})");
                // The gap is a difference of sums of ~9: judge it on that scale.
                assert!(
                    (gap - want).abs() < 1e-3 * sum.abs().max(1.0) + 2e-3,
                    "{id}: completeness gap {gap} vs Captum's {want}"
                );
            }
        }

        let occ = run(AttributionMethod::Occlusion);
        let err = rel_l2(&flat(&occ.values), &values(&f["occlusion"]));
        println!("{id}: occlusion {err:.2e}");
        assert!(err < 1e-3, "{id}: occlusion rel L2 {err}");

        let cam = run(AttributionMethod::GradCam(CamWeighting::GradCam));
        let coarse: Vec<f32> = cam.coarse.as_ref().unwrap().iter().copied().collect();
        let err7 = rel_l2(&coarse, &values(&f["gradcam_7x7"]));
        let err = rel_l2(&flat(&cam.values), &values(&f["gradcam"]));
        println!("{id}: gradcam 7x7 {err7:.2e}, upsampled {err:.2e}");
        assert!(err7 < 1e-3 && err < 1e-3, "{id}: Grad-CAM {err7} / {err}");

        let ggc = run(AttributionMethod::GuidedGradCam);
        let err = rel_l2(&flat(&ggc.values), &values(&f["guided_gradcam"]));
        println!("{id}: guided gradcam {err:.2e}");
        assert!(err < 1e-3, "{id}: guided Grad-CAM rel L2 {err}");
    }
    for (key, errs) in &ours {
        let theirs = &captum[key];
        let (mo, mt) = (median(errs.clone()), median(theirs.clone()));
        let (xo, xt) = (max(errs), max(theirs));
        println!("{key}: median {mo:.2e} (Captum {mt:.2e}), largest {xo:.2e} (Captum {xt:.2e})");
        assert!(
            mo <= (2.0 * mt).max(1e-3),
            "{key}: median {mo} vs Captum's {mt}"
        );
        assert!(
            xo <= (3.0 * xt).max(1e-2),
            "{key}: largest {xo} vs Captum's {xt}"
        );
    }
}
