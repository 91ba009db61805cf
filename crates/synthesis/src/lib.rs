//! # deepinside-synthesis
//!
//! Class model visualisation (Simonyan, Vedaldi & Zisserman 2013, Sect. 2): find an image I
//! maximising S_c(I) − λ‖I‖²₂ by gradient ascent on the input of a [`convnet`] model, from the
//! zero (= mean) image — and feature visualisation beyond it: any neuron or channel as the
//! target, the softmax-posterior control, and the regularisers and parameterisations of
//! Lucid/Lucent (transformation robustness, blur, total variation, L1, decorrelated colour in
//! a 1/f Fourier basis, Adam, octaves).
//!
//! ```no_run
//! use convnet::Target;
//! use convnet::{load_model, ModelKind};
//! use synthesis::{visualise, Settings};
//! let model = load_model(ModelKind::EfficientNetLite0, None, &candle_core::Device::Cpu)?;
//! let flamingo = visualise(&*model, &[Target::Class(130)], &Settings::paper(), &mut |_| {})?;
//! flamingo[0].image.save("flamingo.png")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
mod ascent;
mod error;
pub mod fourier;
mod objective;
mod optimiser;
mod param;
use convnet::rng;
mod robustness;
mod settings;
pub mod warp;

pub use ascent::{visualise, Progress, StepRecord, Visualisation};
pub use error::{Result, SynthesisError};
pub use robustness::{augmentation_robustness, Augmentations, Robustness};
pub use settings::{Blur, Objective, Optimiser, Parameterisation, Penalties, Settings, Transforms};
