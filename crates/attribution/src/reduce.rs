//! Reductions of a 3-channel attribution to one value per pixel.
use ndarray::{Array2, ArrayView3, Axis};
use std::str::FromStr;

/// How the colour channels of an attribution become one map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reduction {
    /// `max_c |w_c|`: the paper's saliency map `M_ij` (the default).
    #[default]
    MaxAbs,
    /// `Σ_c |w_c|`.
    SumAbs,
    /// `√(Σ_c w_c²)`.
    L2,
}

impl Reduction {
    /// Reduces a `[3, h, w]` attribution to `[h, w]`.
    pub fn apply(self, raw: ArrayView3<f32>) -> Array2<f32> {
        match self {
            Reduction::MaxAbs => {
                raw.map_axis(Axis(0), |v| v.iter().fold(0f32, |m, x| m.max(x.abs())))
            }
            Reduction::SumAbs => raw.map_axis(Axis(0), |v| v.iter().map(|x| x.abs()).sum()),
            Reduction::L2 => raw.map_axis(Axis(0), |v| v.iter().map(|x| x * x).sum::<f32>().sqrt()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Reduction::MaxAbs => "max-abs",
            Reduction::SumAbs => "sum-abs",
            Reduction::L2 => "l2",
        }
    }
}

impl FromStr for Reduction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "max-abs" | "maxabs" => Ok(Reduction::MaxAbs),
            "sum-abs" | "sumabs" => Ok(Reduction::SumAbs),
            "l2" => Ok(Reduction::L2),
            _ => Err(format!(
                "unknown reduction `{s}`; expected max-abs, sum-abs or l2"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn reductions_by_hand() {
        let raw = Array3::from_shape_vec((3, 1, 2), vec![1.0, -3.0, -2.0, 0.0, 2.0, 4.0]).unwrap();
        assert_eq!(
            Reduction::MaxAbs
                .apply(raw.view())
                .into_raw_vec_and_offset()
                .0,
            vec![2.0, 4.0]
        );
        assert_eq!(
            Reduction::SumAbs
                .apply(raw.view())
                .into_raw_vec_and_offset()
                .0,
            vec![5.0, 7.0]
        );
        assert_eq!(
            Reduction::L2.apply(raw.view()).into_raw_vec_and_offset().0,
            vec![3.0, 5.0]
        );
    }
}
