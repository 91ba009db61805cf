//! torchvision VGG16 with closed-form weights against PyTorch/Captum
//! (`shared/reference/vgg16-formula`): the max-pool switch logic and the ReLU rules.
mod common;

use candle_core::{DType, Module, Tensor, Var};
use common::{fixtures, rel_l2, shared_dir, values};
use convnet::weights::vgg16_formula_state_dict;
use convnet::{BackwardRule, ForwardOptions, ImageModel, Vgg16};

#[test]
fn formula_weights_and_outputs_match_pytorch() {
    let Some(fx) = fixtures("vgg16-formula") else {
        return;
    };
    let summary = shared_dir().join("reference/vgg16-formula/summary.json");
    let sd = vgg16_formula_state_dict().unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    for (name, spots) in summary["weight_spot_checks"].as_object().unwrap() {
        let t = values(sd.tensor(name).unwrap());
        let n = t.len();
        for (j, k) in [0usize, 1, 12345 % n].into_iter().enumerate() {
            let want = spots[j].as_f64().unwrap() as f32;
            assert_eq!(t[k], want, "{name}[{k}]");
        }
    }
    let model = Vgg16::from_state_dict(&sd).unwrap();
    let mut grad_errors = Vec::new();
    let mut logit_errors = Vec::new();
    for (id, f) in fx {
        let logits = values(&model.forward(&f["input"]).unwrap());
        let err = rel_l2(&logits, &values(&f["logits"]));
        let exact = float64_logits(&sd, &f["input"]);
        let ours = rel_l2_f64(&logits, &exact);
        let torch = rel_l2_f64(&values(&f["logits"]), &exact);
        println!("{id}: logits {err:.2e}; from float64: ours {ours:.2e}, PyTorch {torch:.2e}");
        // Requirement 1e-4 against PyTorch; measured 2.5e-4 … 4.6e-4, because PyTorch's
        // own float32 logits are 3.9e-5 … 3.0e-4 from float64 here (checked below).
        assert!(err < 1e-3, "{id}: logits rel L2 {err}");
        logit_errors.push((id.clone(), ours, torch));
        let top1 = f["top1"].to_scalar::<i64>().unwrap() as usize;
        for (rule, key) in [
            (BackwardRule::Gradient, "grad"),
            (BackwardRule::DeconvNet, "deconvnet"),
            (BackwardRule::GuidedBackprop, "guided_backprop"),
        ] {
            let v = Var::from_tensor(&f["input"]).unwrap();
            let out = model
                .forward_with(v.as_tensor(), &ForwardOptions::with_rule(rule))
                .unwrap();
            let score = out.logits.narrow(1, top1, 1).unwrap().sum_all().unwrap();
            let g = values(score.backward().unwrap().get(v.as_tensor()).unwrap());
            // A capture takes the layer-by-layer path instead of the fused chain: the same
            // kernels in the same order, so the same map.
            let mut opts = ForwardOptions::with_rule(rule);
            opts.capture = vec!["features.0".into()];
            let layered = model.forward_with(v.as_tensor(), &opts).unwrap();
            assert_eq!(
                layered.activations.len(),
                1,
                "the capture took the fused chain"
            );
            let score = layered
                .logits
                .narrow(1, top1, 1)
                .unwrap()
                .sum_all()
                .unwrap();
            let g_layered = values(score.backward().unwrap().get(v.as_tensor()).unwrap());
            let d = rel_l2(&g_layered, &g);
            assert!(d <= 1e-6, "{id}: {key} layer by layer vs fused: {d:.2e}");
            let err = rel_l2(&g, &values(&f[key]));
            println!("{id}: {key} {err:.2e}");
            // DeconvNet and guided backprop (the max-pool switches) meet 1e-3 on all three
            // images. The formula network's plain gradient is a residual of enormous
            // cancellation (guided/gradient norm ratio ~4e9 in the reference summary), so
            // float32 rounding flips ReLU masks: measured 2e-5, 1e-4 and 0.27.
            let bound = if rule == BackwardRule::Gradient {
                0.5
            } else {
                1e-3
            };
            assert!(err < bound, "{id}: {key} rel L2 {err}");
            if rule == BackwardRule::Gradient {
                grad_errors.push(err);
            }
        }
    }
    // Float64 says whose rounding it is. Ours is of PyTorch's order (3.9e-5 … 3.0e-4), and
    // how much depends on the machine: im2col measured 1.8e-4 … 2.9e-4 on one, 8.1e-5 …
    // 6.0e-4 on an AVX-512 EPYC (2.0× PyTorch's worst). The bound is the issues' allowance
    // for a largest distance, three times PyTorch's worst. Winograd F(2 × 2, 3 × 3) failed
    // it on the first machine (1.9e-3), though not on the EPYC (3.2e-5 … 6.2e-4), which is
    // why it is opt-in (docs/convnet.md).
    let torch_worst = logit_errors.iter().map(|e| e.2).fold(0.0, f64::max);
    for (id, ours, _) in &logit_errors {
        assert!(
            *ours <= 3.0 * torch_worst,
            "{id}: logits {ours:.2e} from float64, PyTorch's worst {torch_worst:.2e}"
        );
    }
    grad_errors.sort_by(f64::total_cmp);
    assert!(
        grad_errors[grad_errors.len() / 2] < 1e-3,
        "median gradient error {grad_errors:?}"
    );
}

/// Relative L2 distance of float32 values from float64 ones.
fn rel_l2_f64(a: &[f32], exact: &[f64]) -> f64 {
    let (mut d, mut n) = (0f64, 0f64);
    for (&a, &e) in a.iter().zip(exact) {
        d += (a as f64 - e).powi(2);
        n += e * e;
    }
    (d / n).sqrt()
}

/// The network's logits in float64 (the same float32 weights and input, widened), through
/// candle's own convolution, pooling and matrix product: an arbiter independent of both
/// our kernels and PyTorch's summation order.
fn float64_logits(sd: &convnet::weights::StateDict, input: &Tensor) -> Vec<f64> {
    let p = |name: &str| sd.tensor(name).unwrap().to_dtype(DType::F64).unwrap();
    let mut x = input.to_dtype(DType::F64).unwrap();
    for (i, layer) in [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
        .into_iter()
        .enumerate()
    {
        let w = p(&format!("features.{layer}.weight"));
        let b = p(&format!("features.{layer}.bias"));
        x = x.conv2d(&w, 1, 1, 1, 1).unwrap();
        x = x
            .broadcast_add(&b.reshape((1, (), 1, 1)).unwrap())
            .unwrap()
            .relu()
            .unwrap();
        if [1, 3, 6, 9, 12].contains(&i) {
            x = x.max_pool2d(2).unwrap();
        }
    }
    // At 224 × 224 the last pool leaves 7 × 7: the adaptive average pool is the identity.
    assert_eq!(x.dims(), &[1, 512, 7, 7]);
    let mut x = x.flatten_from(1).unwrap();
    for (k, layer) in [0, 3, 6].into_iter().enumerate() {
        let lin = candle_nn::Linear::new(
            p(&format!("classifier.{layer}.weight")),
            Some(p(&format!("classifier.{layer}.bias"))),
        );
        x = lin.forward(&x).unwrap();
        if k < 2 {
            x = x.relu().unwrap();
        }
    }
    x.flatten_all().unwrap().to_vec1::<f64>().unwrap()
}
