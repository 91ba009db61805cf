//! torchvision's VGG16 (`features.N` / `classifier.N` state-dict layout): thirteen 3×3
//! convolutions with ReLU, five 2×2/2 max-pools with switches, three linear layers, no
//! ReLU on the logits. Layer names are torchvision's module indices.
use super::{
    randomise_state_dict, Capture, ForwardOptions, ForwardOutput, ImageModel, LayerTable,
    ModelInfo, WeightGroup,
};
use crate::classes::ClassNames;
use crate::error::Result;
use crate::layers::{Activation, Conv2d, Linear};
use crate::ops::{self, max_pool2d, ActivationKind, Chain, MaxPool2d, Padding, Stage};
use crate::preprocess::Preprocessing;
use crate::weights::StateDict;
use candle_core::{Device, Tensor};
use std::path::Path;
use std::sync::Arc;

/// Channels of the convolutions, `0` for a max-pool ("M" in torchvision's config "D").
const CONFIG: [usize; 18] = [
    64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0,
];
const POOL: MaxPool2d = MaxPool2d {
    kernel: 2,
    stride: 2,
    padding: 0,
};

/// Names and shapes of all 32 parameter tensors, in `state_dict()` order.
pub fn parameter_shapes() -> Vec<(String, Vec<usize>)> {
    let mut out = Vec::new();
    let (mut idx, mut cin) = (0usize, 3usize);
    for &c in &CONFIG {
        if c == 0 {
            idx += 1;
        } else {
            out.push((format!("features.{idx}.weight"), vec![c, cin, 3, 3]));
            out.push((format!("features.{idx}.bias"), vec![c]));
            cin = c;
            idx += 2;
        }
    }
    for (i, (o, n)) in [
        (0usize, (4096usize, 25088usize)),
        (3, (4096, 4096)),
        (6, (1000, 4096)),
    ] {
        out.push((format!("classifier.{i}.weight"), vec![o, n]));
        out.push((format!("classifier.{i}.bias"), vec![o]));
    }
    out
}

enum Feature {
    Conv(usize, Conv2d),
    Pool(usize),
}

/// VGG16 in evaluation mode (dropout is the identity).
pub struct Vgg16 {
    features: Vec<Feature>,
    fc: [Linear; 3],
    act: Activation,
    /// The same layers as one fused CPU pass, for forward passes that capture nothing.
    fused: Arc<Chain>,
    /// The state dict it was built from, for randomised copies (tensors are shared).
    weights: StateDict,
    info: ModelInfo,
}

impl Vgg16 {
    /// The same model computing on `device`: its weights live in the custom ops, which
    /// copy them to a CUDA device on first use, so only the reported device changes.
    pub fn on(mut self, device: &Device) -> Self {
        self.info.device = device.clone();
        self
    }

    /// Loads torchvision weights from a `.pth` or `.safetensors` file.
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_state_dict(&StateDict::load(path)?)
    }

    pub fn from_state_dict(sd: &StateDict) -> Result<Self> {
        let mut table = LayerTable::default();
        let mut features = Vec::new();
        let (mut idx, mut cin, mut size) = (0usize, 3usize, 224usize);
        for &c in &CONFIG {
            if c == 0 {
                size /= 2;
                table.map(format!("features.{idx}"), cin, size, size);
                features.push(Feature::Pool(idx));
                idx += 1;
            } else {
                let conv = Conv2d::load(
                    sd,
                    &format!("features.{idx}"),
                    [c, cin, 3, 3],
                    true,
                    1,
                    Padding::symmetric(1),
                    false,
                )?;
                table.map(format!("features.{idx}"), c, size, size);
                table.map(format!("features.{}", idx + 1), c, size, size);
                features.push(Feature::Conv(idx, conv));
                cin = c;
                idx += 2;
            }
        }
        table.vector("classifier.0", 4096);
        table.vector("classifier.1", 4096);
        table.vector("classifier.3", 4096);
        table.vector("classifier.4", 4096);
        table.vector("classifier.6", 1000);
        table.vector("logits", 1000);
        let fc = [
            Linear::load(sd, "classifier.0", 4096, 25088)?,
            Linear::load(sd, "classifier.3", 4096, 4096)?,
            Linear::load(sd, "classifier.6", 1000, 4096)?,
        ];
        let fused = Arc::new(fuse(&features, &fc)?);
        Ok(Vgg16 {
            features,
            fc,
            fused,
            act: Activation(ActivationKind::Relu),
            weights: sd.clone(),
            info: ModelInfo {
                name: "vgg16".into(),
                preprocessing: Preprocessing::torchvision_imagenet(),
                classes: ClassNames::imagenet(),
                layers: table.0,
                device: Device::Cpu,
                graph: None,
            },
        })
    }
}

/// The network as stages of one [`Chain`]: each convolution with its ReLU, the max-pools,
/// and the classifier's linear layers with a ReLU after the first two (dropout is the
/// identity in evaluation; at 224 × 224 the adaptive pool is too, and a linear stage reads
/// the `[c, h, w]` map in flattening order).
fn fuse(features: &[Feature], fc: &[Linear; 3]) -> Result<Chain> {
    let relu = ActivationKind::Relu;
    let mut stages: Vec<Stage> = features
        .iter()
        .map(|f| match f {
            Feature::Conv(_, conv) => conv.stage(Some(relu)),
            Feature::Pool(_) => Stage::MaxPool(POOL),
        })
        .collect();
    for (j, l) in fc.iter().enumerate() {
        stages.push(l.stage());
        if j < 2 {
            stages.push(Stage::Activation(relu));
        }
    }
    Ok(Chain::new(stages)?)
}

impl ImageModel for Vgg16 {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The three classifier layers, then the thirteen convolutions from the top.
    fn weight_groups(&self) -> Vec<WeightGroup> {
        let mut g: Vec<WeightGroup> = [6, 3, 0]
            .iter()
            .map(|i| WeightGroup::new(format!("classifier.{i}"), &[&format!("classifier.{i}.")]))
            .collect();
        for f in self.features.iter().rev() {
            if let Feature::Conv(i, _) = f {
                g.push(WeightGroup::new(
                    format!("features.{i}"),
                    &[&format!("features.{i}.")],
                ));
            }
        }
        g
    }

    fn randomised(&self, depth: usize, seed: u64) -> Result<Box<dyn ImageModel>> {
        let groups = self.weight_groups();
        let sd = randomise_state_dict(&self.weights, &groups[..depth.min(groups.len())], seed)?;
        Ok(Box::new(Vgg16::from_state_dict(&sd)?.on(&self.info.device)))
    }

    fn forward_with(&self, x: &Tensor, opts: &ForwardOptions) -> Result<ForwardOutput> {
        self.info.preprocessing.check_input(self.name(), x)?;
        let mut cap = Capture::new(self, opts)?;
        let active = cap.active();
        let rule = opts.rule;
        if !active && x.device().is_cpu() {
            return Ok(ForwardOutput {
                logits: ops::chain(x, &self.fused, rule)?,
                activations: Default::default(),
                probes: Default::default(),
            });
        }
        let name = |i: usize| {
            if active {
                format!("features.{i}")
            } else {
                String::new()
            }
        };
        let mut h = x.clone();
        for f in &self.features {
            match f {
                Feature::Conv(i, conv) => {
                    h = conv.forward(&h)?;
                    h = cap.keep(&name(*i), h)?;
                    h = self.act.forward(&h, rule)?;
                    h = cap.keep(&name(i + 1), h)?;
                }
                Feature::Pool(i) => {
                    h = max_pool2d(&h, POOL)?;
                    h = cap.keep(&name(*i), h)?;
                }
            }
        }
        // At 224×224 the adaptive average pool to 7×7 is the identity.
        let mut v = h.flatten_from(1)?;
        for (j, fc) in self.fc.iter().enumerate() {
            v = fc.forward(&v)?;
            v = cap.keep(&format!("classifier.{}", 3 * j), v)?;
            if j < 2 {
                v = self.act.forward(&v, rule)?;
                v = cap.keep(&format!("classifier.{}", 3 * j + 1), v)?;
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
