//! Which algorithm runs dense 3 × 3 stride-1 convolutions on the CPU.
//!
//! Winograd's F(2 × 2, 3 × 3) is faster (ResNet-18's batch-16 saliency pass 1.03 s a batch
//! against 1.26 s on im2col + gemm) but rounds a little worse: 1.2–1.8× im2col's error
//! layer by layer on real activations (the winograd module's note). On the VGG16 of
//! `shared/reference/vgg16-formula` its logits are 1.9e-4 … 1.9e-3 from float64 against
//! PyTorch's 3.9e-5 … 3.0e-4 and im2col's 1.8e-4 … 2.9e-4 (tests/vgg16_reference.rs), and
//! the gradient's median error grows from 1e-4 to 5e-2 as flipped ReLU masks follow.
//! Correctness comes first, so im2col is the default and Winograd is chosen explicitly, as
//! oneDNN's `convolution_winograd` is.
//!
//! The choice is per process, read once from [`ConvAlgorithm::ENV`], so that every model,
//! loader and test in a process computes the same numbers.
use std::sync::OnceLock;

/// The CPU algorithm of dense 3 × 3 stride-1 convolutions (all others run im2col + gemm,
/// and depthwise ones their own loop).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConvAlgorithm {
    /// im2col + gemm: rounds like a direct convolution.
    #[default]
    Im2col,
    /// Winograd F(2 × 2, 3 × 3) on layers with at least 16 input and output channels.
    Winograd,
}

impl ConvAlgorithm {
    /// The environment variable that selects the algorithm: `im2col` or `winograd`.
    pub const ENV: &'static str = "DEEPINSIDE_CONV_ALGORITHM";

    /// The algorithm a value of [`Self::ENV`] names (unset or empty: the default).
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value.map(str::trim).map(str::to_ascii_lowercase).as_deref() {
            None | Some("") | Some("im2col") => Ok(Self::Im2col),
            Some("winograd") => Ok(Self::Winograd),
            Some(other) => Err(format!(
                "{}={other:?} is not an algorithm: use im2col or winograd",
                Self::ENV
            )),
        }
    }

    /// This process's algorithm. An unknown value is reported once on stderr and the
    /// default is used: a convolution deep inside a pass has no error to return it by.
    pub fn current() -> Self {
        static CURRENT: OnceLock<ConvAlgorithm> = OnceLock::new();
        *CURRENT.get_or_init(|| {
            let value = std::env::var(Self::ENV).ok();
            Self::parse(value.as_deref()).unwrap_or_else(|e| {
                eprintln!("warning: {e}; using im2col");
                Self::Im2col
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ConvAlgorithm;

    #[test]
    fn values_name_the_algorithms_and_a_bad_one_is_named_back() {
        assert_eq!(ConvAlgorithm::parse(None), Ok(ConvAlgorithm::Im2col));
        assert_eq!(ConvAlgorithm::parse(Some("")), Ok(ConvAlgorithm::Im2col));
        assert_eq!(
            ConvAlgorithm::parse(Some(" Winograd ")),
            Ok(ConvAlgorithm::Winograd)
        );
        let e = ConvAlgorithm::parse(Some("fft")).unwrap_err();
        assert!(
            e.contains("\"fft\"") && e.contains(ConvAlgorithm::ENV),
            "{e}"
        );
    }
}
