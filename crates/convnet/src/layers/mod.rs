//! Small layer modules with an explicit `forward`, in the style of candle-nn, built on the
//! custom ops of [`crate::ops`].
mod lrn;

pub use lrn::LocalResponseNorm;

use crate::error::Result;
use crate::ops::{self, ActivationKind, Conv2dParams, LinearParams, Padding};
use crate::rule::BackwardRule;
use crate::weights::StateDict;
use candle_core::Tensor;
use std::sync::Arc;

/// A convolution with constant weights (batch norm already folded in, if any).
#[derive(Clone, Debug)]
pub struct Conv2d {
    params: Arc<Conv2dParams>,
}

impl Conv2d {
    /// Reads `{prefix}.weight` (and `{prefix}.bias` if `with_bias`) from a state dict.
    pub fn load(
        sd: &StateDict,
        prefix: &str,
        shape: [usize; 4],
        with_bias: bool,
        stride: usize,
        padding: Padding,
        depthwise: bool,
    ) -> Result<Self> {
        let w = sd.values(&format!("{prefix}.weight"), &shape)?;
        let b = if with_bias {
            Some(sd.values(&format!("{prefix}.bias"), &[shape[0]])?)
        } else {
            None
        };
        Ok(Conv2d {
            params: Arc::new(Conv2dParams::new(w, shape, b, stride, padding, depthwise)?),
        })
    }

    /// Folds the eval-mode batch norm stored under `bn` (weight, bias, running mean and
    /// variance) into this convolution.
    pub fn fold_batch_norm(mut self, sd: &StateDict, bn: &str, eps: f64) -> Result<Self> {
        let c = [self.params.out_channels];
        let g = sd.values(&format!("{bn}.weight"), &c)?;
        let b = sd.values(&format!("{bn}.bias"), &c)?;
        let m = sd.values(&format!("{bn}.running_mean"), &c)?;
        let v = sd.values(&format!("{bn}.running_var"), &c)?;
        Arc::make_mut(&mut self.params).fold_batch_norm(&g, &b, &m, &v, eps);
        Ok(self)
    }

    pub fn params(&self) -> &Conv2dParams {
        &self.params
    }

    /// This layer as a stage of a fused [`ops::Chain`], sharing its weights.
    pub(crate) fn stage(&self, act: Option<ActivationKind>) -> ops::Stage {
        ops::Stage::Conv {
            params: self.params.clone(),
            act,
        }
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(ops::conv2d(x, &self.params)?)
    }
}

/// A fully connected layer with constant weights.
#[derive(Clone, Debug)]
pub struct Linear {
    params: Arc<LinearParams>,
}

impl Linear {
    /// Reads `{prefix}.weight` `[out, in]` and `{prefix}.bias` `[out]`.
    pub fn load(
        sd: &StateDict,
        prefix: &str,
        out_features: usize,
        in_features: usize,
    ) -> Result<Self> {
        let w = sd.values(&format!("{prefix}.weight"), &[out_features, in_features])?;
        let b = sd.values(&format!("{prefix}.bias"), &[out_features])?;
        Ok(Linear {
            params: Arc::new(LinearParams::new(w, out_features, in_features, Some(b))?),
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(ops::linear(x, &self.params)?)
    }

    /// This layer as a stage of a fused [`ops::Chain`], sharing its weights.
    pub(crate) fn stage(&self) -> ops::Stage {
        ops::Stage::Linear(self.params.clone())
    }
}

/// A ReLU-like unit; the backward rule is chosen per forward pass.
#[derive(Clone, Copy, Debug)]
pub struct Activation(pub ActivationKind);

impl Activation {
    pub fn forward(&self, x: &Tensor, rule: BackwardRule) -> Result<Tensor> {
        Ok(ops::activation(x, self.0, rule)?)
    }
}
