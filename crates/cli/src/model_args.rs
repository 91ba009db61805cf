//! The `--model`, `--weights`, `--device`, `--labels` and `--preprocessor` options every
//! model-running command takes.
use anyhow::Context;
use deepinside::convnet::onnx::parse_preprocessor_config;
use deepinside::convnet::{
    load_model, parse_device, ImageModel, ModelKind, OnnxModel, OnnxOptions,
};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Model: efficientnet-lite0, vgg16, paper-net, or an ONNX file (`FILE.onnx`).
    #[arg(long, default_value = "efficientnet-lite0")]
    pub model: String,
    /// Weight file (.pth or .safetensors) instead of the model's default weights.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// ONNX models: class names, one a line, or a Hugging Face config.json with id2label
    /// (default: ImageNet for 1000 outputs, indices otherwise).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// ONNX models: a preprocessor_config.json to use instead of the one beside the model
    /// (default: that one, else torchvision's ImageNet convention).
    #[arg(long)]
    pub preprocessor: Option<PathBuf>,
}

/// Whether `--model` names a graph file rather than a built-in model.
pub fn is_onnx(model: &str) -> bool {
    Path::new(model)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
}

impl ModelArgs {
    /// Loads the chosen model, fetching default weights on first use.
    pub fn load(&self) -> anyhow::Result<Box<dyn ImageModel>> {
        let device = parse_device(&self.device)?;
        if is_onnx(&self.model) {
            if self.weights.is_some() {
                anyhow::bail!("--weights is for built-in models; an ONNX file carries its weights");
            }
            let preprocessing = match &self.preprocessor {
                Some(p) => {
                    let text = std::fs::read_to_string(p)
                        .with_context(|| format!("reading {}", p.display()))?;
                    Some(parse_preprocessor_config(&text, p)?)
                }
                None => None,
            };
            let opts = OnnxOptions {
                labels: self.labels.clone(),
                preprocessing,
            };
            let model = OnnxModel::load_with(Path::new(&self.model), &opts)
                .with_context(|| format!("loading ONNX model {}", self.model))?;
            for note in model.info().graph.iter().flat_map(|g| &g.notes) {
                eprintln!("note: {note}");
            }
            return Ok(Box::new(model.on(&device)));
        }
        if self.labels.is_some() || self.preprocessor.is_some() {
            anyhow::bail!("--labels and --preprocessor are for ONNX models (--model FILE.onnx)");
        }
        let kind: ModelKind = self.model.parse()?;
        load_model(kind, self.weights.as_deref(), &device)
            .with_context(|| format!("loading model {kind}"))
    }
}
