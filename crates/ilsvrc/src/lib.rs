//! # deepinside-ilsvrc
//!
//! ImageNet (ILSVRC-2012) data and evaluation without any model code: the class list keyed
//! on WordNet ids, readers for annotation layouts, boxes with the devkit's IoU convention,
//! and the classification and localisation metrics of the challenge.
pub mod boxes;
mod error;
pub mod metrics;
pub mod synsets;
pub mod wsol;

pub use boxes::BoxF;
pub use error::{IlsvrcError, Result};
pub use synsets::{ClassInfo, ClassNames};
