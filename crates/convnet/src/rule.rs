//! The switchable backward rule of ReLU-like units: the single place where the
//! gradient, the DeconvNet and guided backpropagation differ (Simonyan et al. 2013, Sect. 5).
use std::fmt;
use std::str::FromStr;

/// How the backward pass crosses a ReLU-like unit. Every other layer (convolution,
/// batch norm, pooling with switches, linear, skip connections) always uses its ordinary
/// gradient, whatever the rule.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum BackwardRule {
    /// The exact subgradient PyTorch uses: ReLU `1[x > 0]`, ReLU6 `1[0 < x < 6]`.
    #[default]
    Gradient,
    /// Zeiler & Fergus' DeconvNet: `relu(grad_out)`, ignoring the forward input.
    DeconvNet,
    /// Springenberg et al.'s guided backprop: `relu(grad_out)` times the gradient mask.
    GuidedBackprop,
}

impl BackwardRule {
    /// All rules, in a fixed order.
    pub const ALL: [BackwardRule; 3] = [
        BackwardRule::Gradient,
        BackwardRule::DeconvNet,
        BackwardRule::GuidedBackprop,
    ];

    /// The short name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            BackwardRule::Gradient => "gradient",
            BackwardRule::DeconvNet => "deconvnet",
            BackwardRule::GuidedBackprop => "guided",
        }
    }

    /// The kernel's code for this rule (`ops/kernels.cu`).
    #[cfg(feature = "cuda")]
    pub(crate) fn code(self) -> i32 {
        match self {
            BackwardRule::Gradient => 0,
            BackwardRule::DeconvNet => 1,
            BackwardRule::GuidedBackprop => 2,
        }
    }

    /// The gradient that flows into a ReLU-like unit, given the gradient `g` at its output
    /// and whether the ordinary gradient passes at this point (`passes` = the unit's mask).
    #[inline(always)]
    pub fn apply(self, g: f32, passes: bool) -> f32 {
        match self {
            BackwardRule::Gradient => {
                if passes {
                    g
                } else {
                    0.0
                }
            }
            BackwardRule::DeconvNet => g.max(0.0),
            BackwardRule::GuidedBackprop => {
                if passes {
                    g.max(0.0)
                } else {
                    0.0
                }
            }
        }
    }
}

impl fmt::Display for BackwardRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BackwardRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "gradient" | "grad" | "saliency" => Ok(BackwardRule::Gradient),
            "deconvnet" | "deconv" => Ok(BackwardRule::DeconvNet),
            "guided" | "guided-backprop" | "guided_backprop" | "guidedbackprop" => {
                Ok(BackwardRule::GuidedBackprop)
            }
            other => Err(format!(
                "unknown backward rule `{other}`; expected gradient, deconvnet or guided"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_follow_their_definitions() {
        // g > 0 and g < 0, unit open and closed.
        assert_eq!(BackwardRule::Gradient.apply(2.0, true), 2.0);
        assert_eq!(BackwardRule::Gradient.apply(-2.0, true), -2.0);
        assert_eq!(BackwardRule::Gradient.apply(2.0, false), 0.0);
        assert_eq!(BackwardRule::DeconvNet.apply(2.0, false), 2.0);
        assert_eq!(BackwardRule::DeconvNet.apply(-2.0, true), 0.0);
        assert_eq!(BackwardRule::GuidedBackprop.apply(2.0, true), 2.0);
        assert_eq!(BackwardRule::GuidedBackprop.apply(2.0, false), 0.0);
        assert_eq!(BackwardRule::GuidedBackprop.apply(-2.0, true), 0.0);
    }

    #[test]
    fn parses_names_and_rejects_others() {
        for r in BackwardRule::ALL {
            assert_eq!(r.as_str().parse::<BackwardRule>().unwrap(), r);
        }
        assert!("relu"
            .parse::<BackwardRule>()
            .unwrap_err()
            .contains("gradient"));
    }
}
