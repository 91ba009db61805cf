//! Sect. 5 of the paper: the DeconvNet reconstruction equals the gradient through
//! convolution and max-pooling (the switches are the arg-max the gradient routes through),
//! and differs only at ReLU. Checked on the paper's network (random weights) and on VGG16
//! (closed-form weights): neurons reached without crossing a ReLU whose rules disagree give
//! bit-identical results under every rule; neurons deeper in the network do not.
use attribution::{attribute, Attribution, Method, Target};
use candle_core::{Device, Tensor};
use convnet::weights::vgg16_formula_state_dict;
use convnet::{ImageModel, PaperNet, Vgg16};

fn image() -> Tensor {
    let v: Vec<f32> = (0..3 * 224 * 224)
        .map(|i| ((i as f32) * 0.0071).sin() * 1.7 + ((i % 224) as f32 * 0.05).cos())
        .collect();
    Tensor::from_vec(v, (1, 3, 224, 224), &Device::Cpu).unwrap()
}

fn all_rules(model: &dyn ImageModel, x: &Tensor, t: &Target) -> Vec<Attribution> {
    [Method::Gradient, Method::DeconvNet, Method::GuidedBackprop]
        .into_iter()
        .map(|m| {
            attribute(model, x, std::slice::from_ref(t), m)
                .unwrap()
                .remove(0)
                .remove(0)
        })
        .collect()
}

/// The unit of `layer` (channel `c`) with the largest activation: positive, so the ReLU below
/// it passes the gradient under every rule.
fn strongest_unit(model: &dyn ImageModel, x: &Tensor, layer: &str, c: usize) -> Vec<usize> {
    let out = model
        .forward_with(
            x,
            &convnet::ForwardOptions {
                capture: vec![layer.into()],
                ..Default::default()
            },
        )
        .unwrap();
    let a = out.activations[layer].get(0).unwrap().get(c).unwrap();
    let (h, w) = a.dims2().unwrap();
    let v: Vec<f32> = a.flatten_all().unwrap().to_vec1().unwrap();
    let (i, best) = v
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap();
    assert!(*best > 0.0, "{layer} channel {c} has no positive unit");
    assert_eq!(v.len(), h * w);
    vec![c, i / w, i % w]
}

fn check(model: &dyn ImageModel, conv1: &str, after_relu_and_pool: &str) {
    let x = image();
    // 1. A unit of the first convolution: no ReLU on the way back, all rules identical.
    let r = all_rules(
        model,
        &x,
        &Target::Neuron {
            layer: conv1.into(),
            index: vec![3, 20, 30],
        },
    );
    assert_eq!(
        r[0].raw, r[1].raw,
        "{conv1}: DeconvNet differs from the gradient"
    );
    assert_eq!(
        r[0].raw, r[2].raw,
        "{conv1}: guided backprop differs from the gradient"
    );
    // 2. Back through a max-pool and one ReLU from a positive unit: the switch sends a positive
    //    signal to the arg-max, where the ReLU is open, so all rules agree bit for bit.
    let unit = strongest_unit(model, &x, after_relu_and_pool, 5);
    let r = all_rules(
        model,
        &x,
        &Target::Neuron {
            layer: after_relu_and_pool.into(),
            index: unit,
        },
    );
    assert_eq!(
        r[0].raw, r[1].raw,
        "{after_relu_and_pool}: DeconvNet differs from the gradient"
    );
    assert_eq!(r[0].raw, r[2].raw);
    assert!(r[0].raw.iter().any(|v| *v != 0.0));
    // 3. A class score: the signal crosses ReLUs with mixed signs, and the rules differ.
    let r = all_rules(model, &x, &Target::Class(1));
    let d = r[1].relative_difference(&r[0]);
    let g = r[2].relative_difference(&r[0]);
    println!(
        "{}: class score, DeconvNet vs gradient {d:.3}, guided vs gradient {g:.3}",
        model.name()
    );
    assert!(
        d > 0.1 && g > 0.01,
        "rules should differ at the logits: {d}, {g}"
    );
}

#[test]
fn paper_net_deconvnet_equals_gradient_except_at_relu() {
    check(&PaperNet::random(3).unwrap(), "conv1", "pool1");
}

#[test]
fn vgg16_deconvnet_equals_gradient_except_at_relu() {
    let vgg = Vgg16::from_state_dict(&vgg16_formula_state_dict().unwrap()).unwrap();
    // VGG16's first max-pool (features.4) lies behind two ReLUs, so the unit check uses the
    // ReLU after conv1_1 (features.1); its switches are checked against Captum in
    // tests/vgg16_reference.rs, and the paper's network checks a pool here.
    check(&vgg, "features.0", "features.1");
}
