//! The network of Simonyan, Vedaldi & Zisserman (2013), Sect. 2:
//! conv64-conv256-conv256-conv256-conv256-full4096-full4096-full1000, "similar to
//! Krizhevsky et al. (2012)". The paper gives only the widths; the rest follows Zeiler &
//! Fergus (2013), which the paper's network resembles most closely:
//!
//! | layer | op | output (224² input) |
//! |---|---|---|
//! | conv1 | 7×7/2, pad 1, 64, ReLU | 64×110×110 |
//! | pool1 | max 3×3/2, pad 1 (overlapping) | 64×55×55 |
//! | norm1 | LRN (size 5, α 1e-4, β 0.75, k 2) | |
//! | conv2 | 5×5/2, 256, ReLU | 256×26×26 |
//! | pool2 | max 3×3/2, pad 1 | 256×13×13 |
//! | norm2 | LRN | |
//! | conv3–5 | 3×3/1, pad 1, 256, ReLU | 256×13×13 |
//! | pool5 | max 3×3/2 | 256×6×6 |
//! | fc6, fc7 | 4096, ReLU (dropout in training only) | 4096 |
//! | fc8 | 1000 (logits) | 1000 |
//!
//! Input: 224×224, mean-subtracted 0..255 RGB. Weights: He-normal random initialisation
//! from a seed, or a safetensors file with the same key names.
use super::{Capture, ForwardOptions, ForwardOutput, ImageModel, LayerTable, ModelInfo};
use crate::classes::ClassNames;
use crate::error::Result;
use crate::layers::{Activation, Conv2d, Linear, LocalResponseNorm};
use crate::ops::{max_pool2d, ActivationKind, MaxPool2d, Padding};
use crate::preprocess::Preprocessing;
use crate::weights::StateDict;
use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::path::Path;

/// (name, out, in, kernel, stride, pad) of the five convolutions.
const CONVS: [(&str, usize, usize, usize, usize, usize); 5] = [
    ("conv1", 64, 3, 7, 2, 1),
    ("conv2", 256, 64, 5, 2, 0),
    ("conv3", 256, 256, 3, 1, 1),
    ("conv4", 256, 256, 3, 1, 1),
    ("conv5", 256, 256, 3, 1, 1),
];
/// (name, out, in) of the three fully connected layers.
const FCS: [(&str, usize, usize); 3] = [
    ("fc6", 4096, 256 * 6 * 6),
    ("fc7", 4096, 4096),
    ("fc8", 1000, 4096),
];
const POOL_PADDED: MaxPool2d = MaxPool2d {
    kernel: 3,
    stride: 2,
    padding: 1,
};
const POOL5: MaxPool2d = MaxPool2d {
    kernel: 3,
    stride: 2,
    padding: 0,
};
const LRN: LocalResponseNorm = LocalResponseNorm {
    size: 5,
    alpha: 1e-4,
    beta: 0.75,
    k: 2.0,
};

/// A deterministic normal sampler (SplitMix64 + Box–Muller), so random weights are the
/// same on every platform and need no extra dependency.
struct Normal(u64);

impl Normal {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn sample(&mut self) -> f64 {
        (-2.0 * self.uniform().ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
    }
}

/// The paper's network in evaluation mode.
pub struct PaperNet {
    convs: Vec<Conv2d>,
    fcs: Vec<Linear>,
    act: Activation,
    info: ModelInfo,
}

impl PaperNet {
    /// He-normal weights (std √(2 / fan-in)) and zero biases from `seed`.
    pub fn random_state_dict(seed: u64) -> Result<StateDict> {
        let mut rng = Normal(seed);
        let mut m = HashMap::new();
        let mut put = |name: &str, shape: Vec<usize>, fan_in: usize| -> Result<()> {
            let n: usize = shape.iter().product();
            let std = (2.0 / fan_in as f64).sqrt();
            let w: Vec<f32> = (0..n).map(|_| (rng.sample() * std) as f32).collect();
            m.insert(
                format!("{name}.weight"),
                Tensor::from_vec(w, shape.as_slice(), &Device::Cpu)?,
            );
            m.insert(
                format!("{name}.bias"),
                Tensor::zeros(shape[0], candle_core::DType::F32, &Device::Cpu)?,
            );
            Ok(())
        };
        for (name, o, i, k, _, _) in CONVS {
            put(name, vec![o, i, k, k], i * k * k)?;
        }
        for (name, o, i) in FCS {
            put(name, vec![o, i], i)?;
        }
        Ok(StateDict::from_tensors(
            format!("paper-net random weights (seed {seed})"),
            m,
        ))
    }

    /// A randomly initialised network.
    pub fn random(seed: u64) -> Result<Self> {
        Self::from_state_dict(&Self::random_state_dict(seed)?)
    }

    /// Loads weights saved with [`StateDict::save`].
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_state_dict(&StateDict::load(path)?)
    }

    pub fn from_state_dict(sd: &StateDict) -> Result<Self> {
        let mut table = LayerTable::default();
        let mut convs = Vec::new();
        let mut size = 224usize;
        for (i, (name, o, cin, k, s, p)) in CONVS.into_iter().enumerate() {
            let conv = Conv2d::load(
                sd,
                name,
                [o, cin, k, k],
                true,
                s,
                Padding::symmetric(p),
                false,
            )?;
            size = conv.params().output_size(size, size)?.0;
            table.map(name, o, size, size);
            table.map(format!("relu{}", i + 1), o, size, size);
            let pool = match i {
                0 | 1 => Some(POOL_PADDED),
                4 => Some(POOL5),
                _ => None,
            };
            if let Some(pool) = pool {
                size = pool.output_size(size, size)?.0;
                table.map(format!("pool{}", i + 1), o, size, size);
                if i < 2 {
                    table.map(format!("norm{}", i + 1), o, size, size);
                }
            }
            convs.push(conv);
        }
        let mut fcs = Vec::new();
        for (j, (name, o, i)) in FCS.into_iter().enumerate() {
            fcs.push(Linear::load(sd, name, o, i)?);
            table.vector(name, o);
            if j < 2 {
                table.vector(format!("relu{}", j + 6), o);
            }
        }
        table.vector("logits", 1000);
        Ok(PaperNet {
            convs,
            fcs,
            act: Activation(ActivationKind::Relu),
            info: ModelInfo {
                name: "paper-net".into(),
                preprocessing: Preprocessing::mean_subtraction(),
                classes: ClassNames::imagenet(),
                layers: table.0,
                device: Device::Cpu,
                graph: None,
            },
        })
    }
}

impl ImageModel for PaperNet {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn forward_with(&self, x: &Tensor, opts: &ForwardOptions) -> Result<ForwardOutput> {
        self.info.preprocessing.check_input(self.name(), x)?;
        let mut cap = Capture::new(self, opts)?;
        let rule = opts.rule;
        let mut h = x.clone();
        for (i, conv) in self.convs.iter().enumerate() {
            let n = i + 1;
            h = conv.forward(&h)?;
            h = cap.keep(CONVS[i].0, h)?;
            h = self.act.forward(&h, rule)?;
            h = cap.keep(&format!("relu{n}"), h)?;
            if i < 2 {
                h = max_pool2d(&h, POOL_PADDED)?;
                h = cap.keep(&format!("pool{n}"), h)?;
                h = LRN.forward(&h)?;
                h = cap.keep(&format!("norm{n}"), h)?;
            } else if i == 4 {
                h = max_pool2d(&h, POOL5)?;
                h = cap.keep("pool5", h)?;
            }
        }
        let mut v = h.flatten_from(1)?;
        for (j, fc) in self.fcs.iter().enumerate() {
            v = fc.forward(&v)?;
            v = cap.keep(FCS[j].0, v)?;
            if j < 2 {
                v = self.act.forward(&v, rule)?;
                v = cap.keep(&format!("relu{}", j + 6), v)?;
            }
        }
        v = cap.keep("logits", v)?;
        Ok(ForwardOutput {
            logits: v,
            activations: cap.found,
            probes: cap.probes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_the_documented_table() {
        let net = PaperNet::random(1).unwrap();
        let shape = |n: &str| net.layer(n).unwrap().shape.clone();
        assert_eq!(shape("conv1"), vec![64, 110, 110]);
        assert_eq!(shape("pool1"), vec![64, 55, 55]);
        assert_eq!(shape("conv2"), vec![256, 26, 26]);
        assert_eq!(shape("pool2"), vec![256, 13, 13]);
        assert_eq!(shape("pool5"), vec![256, 6, 6]);
        assert_eq!(shape("fc8"), vec![1000]);
        let e = net.layer("conv9").unwrap_err().to_string();
        assert!(
            e.contains("conv9") && e.contains("conv5") && e.contains("fc7"),
            "{e}"
        );
    }

    #[test]
    fn random_weights_are_deterministic_and_round_trip_through_safetensors() {
        let a = PaperNet::random_state_dict(7).unwrap();
        let b = PaperNet::random_state_dict(7).unwrap();
        assert_eq!(
            a.values("conv1.weight", &[64, 3, 7, 7]).unwrap(),
            b.values("conv1.weight", &[64, 3, 7, 7]).unwrap()
        );
        let w = a.values("conv3.weight", &[256, 256, 3, 3]).unwrap();
        let var = w.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / w.len() as f64;
        assert!(
            (var - 2.0 / 2304.0).abs() < 0.05 * 2.0 / 2304.0,
            "He variance {var}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paper.safetensors");
        a.save(&path).unwrap();
        let x = Tensor::randn(0f32, 50.0, (1, 3, 224, 224), &Device::Cpu).unwrap();
        let l1 = PaperNet::from_state_dict(&a).unwrap().forward(&x).unwrap();
        let l2 = PaperNet::load(&path).unwrap().forward(&x).unwrap();
        let d = (l1 - l2)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert_eq!(d, 0.0);
    }
}
