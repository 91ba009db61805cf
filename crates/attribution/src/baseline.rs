//! Reference inputs: what integrated gradients integrate from, what occlusion and deletion
//! paint over pixels with, what RISE's masks fade to.
use crate::host::HostImage;
use convnet::Preprocessing;
use std::fmt;
use std::str::FromStr;

/// The blur of the `blur` baseline, in pixels of the model's input: Petsiuk et al.'s
/// insertion substrate (σ = 5), which removes object detail but keeps the colours.
pub const BLUR_SIGMA: f32 = 5.0;

/// A reference input built from the image being explained.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Baseline {
    /// Zero in the model's normalised input (Captum's default): the normalisation's mean
    /// colour, mid-grey for most models.
    #[default]
    Zero,
    /// The black image (pixel value 0 before normalisation).
    Black,
    /// The image blurred with σ = [`BLUR_SIGMA`] pixels.
    Blur,
    /// The image's own mean colour, each channel constant.
    Mean,
}

impl Baseline {
    pub const ALL: [Baseline; 4] = [
        Baseline::Zero,
        Baseline::Black,
        Baseline::Blur,
        Baseline::Mean,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Baseline::Zero => "zero",
            Baseline::Black => "black",
            Baseline::Blur => "blur",
            Baseline::Mean => "mean",
        }
    }

    /// The baseline of `image`, same layout.
    pub fn of(self, image: &HostImage, prep: &Preprocessing) -> HostImage {
        let plane = image.plane();
        let mut data = vec![0f32; image.data.len()];
        for c in 0..image.channels {
            let src = &image.data[c * plane..(c + 1) * plane];
            let dst = &mut data[c * plane..(c + 1) * plane];
            match self {
                Baseline::Zero => {}
                Baseline::Black => dst.fill(prep.normalised_value(c.min(2), 0.0)),
                Baseline::Mean => {
                    let m = src.iter().map(|&v| v as f64).sum::<f64>() / plane as f64;
                    dst.fill(m as f32);
                }
                Baseline::Blur => {
                    dst.copy_from_slice(src);
                    convnet::blur::gaussian_blur(dst, image.height, image.width, BLUR_SIGMA);
                }
            }
        }
        image.with_data(data)
    }
}

impl fmt::Display for Baseline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Baseline {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Baseline::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| format!("unknown baseline `{s}`; expected zero, black, blur or mean"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines_by_hand() {
        let img = HostImage {
            data: (0..12).map(|v| v as f32).collect(),
            channels: 3,
            height: 2,
            width: 2,
        };
        let prep = Preprocessing::efficientnet_lite();
        assert!(Baseline::Zero
            .of(&img, &prep)
            .data
            .iter()
            .all(|&v| v == 0.0));
        let black = Baseline::Black.of(&img, &prep).data;
        assert!((black[0] - prep.normalised_value(0, 0.0)).abs() < 1e-7);
        let mean = Baseline::Mean.of(&img, &prep).data;
        assert_eq!(&mean[..4], &[1.5; 4]);
        assert_eq!(&mean[8..], &[9.5; 4]);
        // A blur keeps each channel's total (edges repeated, kernel normalised) only
        // approximately, but keeps constants exactly.
        let flat = img.with_data(vec![2.0; 12]);
        assert!(Baseline::Blur
            .of(&flat, &prep)
            .data
            .iter()
            .all(|&v| (v - 2.0).abs() < 1e-6));
        assert!("white"
            .parse::<Baseline>()
            .unwrap_err()
            .contains("zero, black"));
    }
}
