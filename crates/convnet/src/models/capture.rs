//! Bookkeeping shared by the models: which activations to keep during a forward pass, and
//! the table of layer names and shapes.
use super::{ImageModel, LayerInfo};
use crate::error::Result;
use candle_core::Tensor;
use std::collections::BTreeMap;

/// Collects the activations a caller asked for, by layer name.
pub(crate) struct Capture<'a> {
    wanted: &'a [String],
    pub found: BTreeMap<String, Tensor>,
}

impl<'a> Capture<'a> {
    /// Validates the requested names against the model's layers.
    pub fn new(model: &dyn ImageModel, wanted: &'a [String]) -> Result<Self> {
        for w in wanted {
            model.layer(w)?;
        }
        Ok(Capture {
            wanted,
            found: BTreeMap::new(),
        })
    }

    /// Whether anything was asked for (lets models skip building names).
    pub fn active(&self) -> bool {
        !self.wanted.is_empty()
    }

    pub fn keep(&mut self, name: &str, t: &Tensor) {
        if self.wanted.iter().any(|w| w == name) {
            self.found.insert(name.to_string(), t.clone());
        }
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
