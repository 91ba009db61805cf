//! # deepinside-ilsvrc
//!
//! ImageNet (ILSVRC-2012) data and evaluation without any model code: the class list keyed
//! on WordNet ids, readers for the annotation layouts users have (wsolevaluation metadata,
//! the official devkit with PASCAL VOC XML boxes, Kaggle's CSV), one [`Dataset`] type they
//! all produce, boxes with the devkit's IoU convention, and the challenge's metrics.
pub mod boxes;
pub mod dataset;
pub mod devkit;
mod error;
pub mod kaggle;
pub mod metrics;
pub mod synsets;
mod text;
pub mod voc;
pub mod wsol;

pub use boxes::BoxF;
pub use dataset::{Dataset, Format, Sample};
pub use error::{IlsvrcError, Result};
pub use synsets::{ClassInfo, ClassNames};
