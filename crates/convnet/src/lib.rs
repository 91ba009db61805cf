//! # deepinside-convnet
//!
//! ImageNet classifiers on [candle](https://github.com/huggingface/candle) that the rest of
//! deepinside differentiates through: EfficientNet-Lite0 (loaded from the published PyTorch
//! checkpoint), torchvision's VGG16 and the network of Simonyan, Vedaldi & Zisserman (2013).
//!
//! What sets it apart from a plain candle model is the backward pass: every ReLU-like unit
//! goes through one switchable [`BackwardRule`] (gradient, DeconvNet, guided backprop),
//! max-pooling routes gradients through its switches, and convolutions compute input
//! gradients only — all matched to PyTorch to float32 precision.
pub mod error;
pub mod ops;
pub mod rule;

pub use error::{ConvnetError, Result};
pub use rule::BackwardRule;
