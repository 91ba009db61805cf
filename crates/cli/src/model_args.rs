//! The `--model`, `--weights` and `--device` options every model-running command takes.
use anyhow::Context;
use deepinside::convnet::{load_model, parse_device, ImageModel, ModelKind};
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Model: efficientnet-lite0, vgg16 or paper-net.
    #[arg(long, default_value = "efficientnet-lite0")]
    pub model: String,
    /// Weight file (.pth or .safetensors) instead of the model's default weights.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

impl ModelArgs {
    /// Loads the chosen model, fetching default weights on first use.
    pub fn load(&self) -> anyhow::Result<Box<dyn ImageModel>> {
        let kind: ModelKind = self.model.parse()?;
        let device = parse_device(&self.device)?;
        load_model(kind, self.weights.as_deref(), &device)
            .with_context(|| format!("loading model {kind}"))
    }
}
