//! # deepinside-attribution
//!
//! Image-specific saliency (Simonyan, Vedaldi & Zisserman 2013, Sect. 3) and its relatives:
//! the gradient of any class score, neuron or channel with respect to the input image,
//! taken through one of the backward rules of [`convnet`] (gradient, DeconvNet, guided
//! backprop — Sect. 5 of the paper), reduced to a map, optionally averaged over the paper's
//! ten crops.
//!
//! ```no_run
//! use attribution::{attribute, Reduction, Target};
//! use convnet::{load_model, BackwardRule, ModelKind};
//! let model = load_model(ModelKind::EfficientNetLite0, None, &candle_core::Device::Cpu)?;
//! let x = model.preprocessing().load("cat.jpg".as_ref(), model.device())?;
//! let maps = attribute(&*model, &x, &[Target::Top1], BackwardRule::Gradient)?;
//! let saliency = maps[0][0].map(Reduction::MaxAbs); // 224×224, the paper's M_ij
//! # Ok::<(), attribution::AttributionError>(())
//! ```
mod attribute;
mod baseline;
pub mod caption;
mod error;
pub mod faithfulness;
mod gradcam;
pub mod host;
mod integrated;
mod method;
pub mod npy;
mod occlusion;
pub mod quadrature;
mod reduce;
pub mod render;
mod rise;
pub mod similarity;
mod smoothgrad;
mod tencrop;

pub use attribute::{attribute, Attribution};
pub use baseline::{Baseline, BLUR_SIGMA};
pub use convnet::BackwardRule;
pub use convnet::BackwardRule as Method;
pub use convnet::{top_k, ResolvedTarget, Target};
pub use error::{AttributionError, Result};
pub use faithfulness::{pixel_curves, Curves, PixelCurves};
pub use gradcam::{
    check_cam_layer, grad_cam, grad_cam_ten_crop, grad_cam_weighted, guided_grad_cam,
    last_spatial_layer, upsample_bilinear, upsample_nearest, CamMap, CamWeighting,
};
pub use host::Score;
pub use integrated::{integrated_gradients, IntegratedGradients, IntegratedResult};
pub use method::{
    explain, explain_ten_crop, AttributionMethod, Explanation, MethodSettings, Values,
};
pub use occlusion::{occlusion, Occlusion};
pub use quadrature::Quadrature;
pub use reduce::Reduction;
pub use rise::{rise, MaskSampler, Rise};
pub use smoothgrad::{smooth_grad, SmoothGrad, SmoothVariant};
pub use tencrop::{ten_crop, TenCrop, TenCropResult, MAX_ASPECT_RATIO, MAX_MAP_PIXELS};
