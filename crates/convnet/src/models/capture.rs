//! Bookkeeping shared by the models: which activations to keep during a forward pass, and
//! the table of layer names and shapes.
use super::{ForwardOutput, ImageModel, LayerInfo};
use crate::error::Result;
use candle_core::{Tensor, Var};
use std::collections::BTreeMap;

/// Collects the activations a caller asked for, by layer name, and adds a zero-valued probe
/// variable to the layers whose gradient was asked for: candle keeps gradients of variables
/// only, and ∂S/∂probe is ∂S/∂activation. A model of one's own calls [`Capture::keep`] on each
/// named layer's output in `forward_with` and ends with [`Capture::output`]
/// (`examples/custom_model.rs`).
pub struct Capture<'a> {
    wanted: &'a [String],
    probe: &'a [String],
    pub found: BTreeMap<String, Tensor>,
    pub probes: BTreeMap<String, Var>,
}

impl<'a> Capture<'a> {
    /// Validates the requested names against the model's layers.
    pub fn new(model: &dyn ImageModel, opts: &'a super::ForwardOptions) -> Result<Self> {
        for w in opts.capture.iter().chain(&opts.probe) {
            model.layer(w)?;
        }
        Ok(Capture {
            wanted: &opts.capture,
            probe: &opts.probe,
            found: BTreeMap::new(),
            probes: BTreeMap::new(),
        })
    }

    /// Whether anything was asked for (lets models skip building names).
    pub fn active(&self) -> bool {
        !self.wanted.is_empty() || !self.probe.is_empty()
    }

    /// The forward pass's result: `logits` and what was captured and probed.
    pub fn output(self, logits: Tensor) -> ForwardOutput {
        ForwardOutput {
            logits,
            activations: self.found,
            probes: self.probes,
        }
    }

    /// Records layer `name`'s output `t` if it was asked for, and returns what the network
    /// continues with: `t`, plus a zero probe variable if the layer's gradient was asked for.
    pub fn keep(&mut self, name: &str, t: Tensor) -> Result<Tensor> {
        let t = if self.probe.iter().any(|w| w == name) {
            let zero = Var::zeros(t.shape(), t.dtype(), t.device())?;
            let probed = (&t + zero.as_tensor())?;
            self.probes.insert(name.to_string(), zero);
            probed
        } else {
            t
        };
        if self.wanted.iter().any(|w| w == name) {
            self.found.insert(name.to_string(), t.clone());
        }
        Ok(t)
    }
}

/// Builds the layer table while a model is assembled.
#[derive(Default)]
pub(crate) struct LayerTable(pub Vec<LayerInfo>);

impl LayerTable {
    pub fn map(&mut self, name: impl Into<String>, c: usize, h: usize, w: usize) {
        self.0.push(LayerInfo {
            name: name.into(),
            shape: vec![c, h, w],
        });
    }
    pub fn vector(&mut self, name: impl Into<String>, n: usize) {
        self.0.push(LayerInfo {
            name: name.into(),
            shape: vec![n],
        });
    }
}
