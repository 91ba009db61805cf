//! Explaining a model of one's own: a small candle-nn network implements
//! `convnet::ImageModel`, and `attribution` explains it under the three backward rules.
//!
//! Two things make the rules act on a user's model:
//! - each ReLU goes through `convnet::ops::activation`, the one place where the gradient,
//!   DeconvNet and guided backprop differ (candle's own `relu` would give the gradient under
//!   every rule, as Captum's module hooks do on a functional ReLU);
//! - max-pooling goes through `convnet::ops::max_pool2d`, which routes the gradient to the
//!   arg-max under every rule (candle 0.11.1's own `max_pool2d` backward divides it by the
//!   kernel's area).
//!
//! Everything else is plain candle-nn: `Conv2d`, `Linear`, and a `VarBuilder` that hands
//! them their weights by name.
//!
//! ```text
//! cargo run --release --example custom_model
//! ```
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{conv2d, linear, Conv2d, Conv2dConfig, Linear, VarBuilder};
use deepinside::attribution::{attribute, Method, Reduction, Target};
use deepinside::convnet::ops::{activation, max_pool2d, ActivationKind, MaxPool2d};
use deepinside::convnet::{
    Capture, ClassNames, ForwardOptions, ForwardOutput, ImageModel, LayerInfo, ModelInfo,
    Preprocessing, Result,
};

/// conv 3→8 (3×3) → ReLU → max-pool 2 → conv 8→16 (3×3) → ReLU → global mean → linear → 3
/// classes, on 32 × 32 inputs.
struct TinyNet {
    conv1: Conv2d,
    conv2: Conv2d,
    fc: Linear,
    info: ModelInfo,
}

const SIZE: u32 = 32;

impl TinyNet {
    fn new(vb: VarBuilder) -> candle_core::Result<Self> {
        let same = Conv2dConfig {
            padding: 1,
            ..Default::default()
        };
        let classes = ClassNames::parse_synset_words(
            "n01440764 tench\nn02102040 English springer\nn02979186 cassette player\n",
        )
        .map_err(candle_core::Error::msg)?;
        let preprocessing = Preprocessing {
            width: SIZE,
            height: SIZE,
            ..Preprocessing::torchvision_imagenet()
        };
        let layers = [
            ("relu1", vec![8, 32, 32]),
            ("pool1", vec![8, 16, 16]),
            ("relu2", vec![16, 16, 16]),
            ("logits", vec![3]),
        ]
        .map(|(name, shape)| LayerInfo {
            name: name.into(),
            shape,
        });
        Ok(TinyNet {
            conv1: conv2d(3, 8, 3, same, vb.pp("conv1"))?,
            conv2: conv2d(8, 16, 3, same, vb.pp("conv2"))?,
            fc: linear(16, 3, vb.pp("fc"))?,
            info: ModelInfo {
                name: "tiny-net".into(),
                preprocessing,
                classes,
                layers: layers.to_vec(),
                device: vb.device().clone(),
                graph: None,
            },
        })
    }
}

impl ImageModel for TinyNet {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn forward_with(&self, x: &Tensor, opts: &ForwardOptions) -> Result<ForwardOutput> {
        self.info.preprocessing.check_input(&self.info.name, x)?;
        let mut cap = Capture::new(self, opts)?;
        let relu = |t: &Tensor| activation(t, ActivationKind::Relu, opts.rule);
        let h = cap.keep("relu1", relu(&self.conv1.forward(x)?)?)?;
        let pool = MaxPool2d {
            kernel: 2,
            stride: 2,
            padding: 0,
        };
        let h = cap.keep("pool1", max_pool2d(&h, pool)?)?;
        let h = cap.keep("relu2", relu(&self.conv2.forward(&h)?)?)?;
        let logits = self.fc.forward(&h.mean((2, 3))?)?;
        let logits = cap.keep("logits", logits)?;
        Ok(cap.output(logits))
    }
}

/// The model with fixed pseudo-random weights (He-scaled), given to candle-nn by name as a
/// trained checkpoint's would be: `VarBuilder::from_mmaped_safetensors` takes a file of the
/// same names.
fn tiny_net() -> candle_core::Result<TinyNet> {
    let device = Device::Cpu;
    let shapes: [(&str, &[usize]); 6] = [
        ("conv1.weight", &[8, 3, 3, 3]),
        ("conv1.bias", &[8]),
        ("conv2.weight", &[16, 8, 3, 3]),
        ("conv2.bias", &[16]),
        ("fc.weight", &[3, 16]),
        ("fc.bias", &[3]),
    ];
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut weights = std::collections::HashMap::new();
    for (name, shape) in shapes {
        let n: usize = shape.iter().product();
        let fan_in = if shape.len() > 1 { n / shape[0] } else { 4 };
        let scale = (2.0 / fan_in as f32).sqrt();
        let values: Vec<f32> = (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
            })
            .collect();
        weights.insert(name.to_string(), Tensor::from_vec(values, shape, &device)?);
    }
    TinyNet::new(VarBuilder::from_tensors(weights, DType::F32, &device))
}

/// A smooth test image: a bright disc on a gradient.
fn picture() -> image::RgbImage {
    image::RgbImage::from_fn(SIZE, SIZE, |x, y| {
        let (dx, dy) = (x as f32 - 20.0, y as f32 - 12.0);
        let disc = if dx * dx + dy * dy < 40.0 { 150 } else { 0 };
        image::Rgb([(x * 7) as u8, disc + (y * 3) as u8, 90])
    })
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let model = tiny_net()?;
    let x = model.preprocessing().batch(&[picture()], model.device())?;
    for rule in Method::ALL {
        let a = &attribute(&model, &x, &[Target::Top1], rule)?[0][0];
        let map = a.map(Reduction::MaxAbs);
        let (max, mean) = (map.fold(0f32, |m, &v| m.max(v)), map.mean().unwrap_or(0.0));
        println!(
            "{rule:>15}: {} score {:.4}, map max {max:.2e}, mean {mean:.2e}",
            a.target.label, a.score
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    /// The same network with candle's own ReLU (no rule at all): its input gradient is what
    /// the `Gradient` rule must give. The max-pool stays convnet's: candle 0.11.1's
    /// `max_pool2d` backward scales the gradient by 1/k² (here exactly a quarter of the
    /// finite-difference slope, measured on this network).
    fn plain_gradient(model: &TinyNet, x: &Tensor, class: usize) -> Vec<f32> {
        let v = Var::from_tensor(x).unwrap();
        let h = model.conv1.forward(v.as_tensor()).unwrap().relu().unwrap();
        let pool = MaxPool2d {
            kernel: 2,
            stride: 2,
            padding: 0,
        };
        let h = max_pool2d(&h, pool).unwrap();
        let h = model.conv2.forward(&h).unwrap().relu().unwrap();
        let logits = model.fc.forward(&h.mean((2, 3)).unwrap()).unwrap();
        let s = logits.narrow(1, class, 1).unwrap().sum_all().unwrap();
        let g = s.backward().unwrap();
        g.get(v.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    fn rel_l2(a: &[f32], b: &[f32]) -> f32 {
        let d: f32 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
        let n: f32 = b.iter().map(|y| y * y).sum();
        (d / n).sqrt()
    }

    #[test]
    fn the_three_rules_act_at_the_models_relus() {
        let model = tiny_net().unwrap();
        let x = model
            .preprocessing()
            .batch(&[picture()], model.device())
            .unwrap();
        let raw = |rule| {
            let a = &attribute(&model, &x, &[Target::Class(1)], rule).unwrap()[0][0];
            a.raw.iter().copied().collect::<Vec<f32>>()
        };
        let (grad, deconv, guided) = (
            raw(Method::Gradient),
            raw(Method::DeconvNet),
            raw(Method::GuidedBackprop),
        );
        // The gradient rule is the exact gradient of the same candle-nn network.
        let exact = plain_gradient(&model, &x, 1);
        assert!(rel_l2(&grad, &exact) < 1e-5, "{}", rel_l2(&grad, &exact));
        // DeconvNet and guided backprop change the map at the ReLUs.
        assert!(rel_l2(&deconv, &grad) > 0.05, "{}", rel_l2(&deconv, &grad));
        assert!(rel_l2(&guided, &grad) > 0.05, "{}", rel_l2(&guided, &grad));
        assert!(
            rel_l2(&guided, &deconv) > 0.05,
            "{}",
            rel_l2(&guided, &deconv)
        );
    }

    #[test]
    fn its_layers_are_targets_and_grad_cam_layers() {
        let model = tiny_net().unwrap();
        let x = model
            .preprocessing()
            .batch(&[picture()], model.device())
            .unwrap();
        let channel = Target::Channel {
            layer: "relu2".into(),
            channel: 3,
        };
        let a = &attribute(&model, &x, &[channel], Method::GuidedBackprop).unwrap()[0][0];
        assert_eq!(a.map(Reduction::MaxAbs).dim(), (32, 32));
        let layer = deepinside::attribution::last_spatial_layer(&model).unwrap();
        assert_eq!(layer, "relu2");
        let cam = deepinside::attribution::grad_cam(&model, &x, &[Target::Top1], &layer).unwrap();
        assert_eq!(cam[0][0].map.dim(), (32, 32));
    }
}
