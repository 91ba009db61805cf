//! Occlusion (Zeiler & Fergus 2014): slide a square patch of the baseline over the image and
//! attribute to each pixel the mean drop of the score over the patches that covered it.
//! Window placement follows Captum's `Occlusion`: starts at multiples of the stride, one more
//! start whenever the last full window leaves pixels uncovered, windows clipped at the edge.
use crate::attribute::Attribution;
use crate::baseline::Baseline;
use crate::error::{AttributionError, Result};
use crate::host::{fix_target, scores, HostImage, Score};
use convnet::{ImageModel, Target};
use ndarray::Array3;

/// Settings of occlusion.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Occlusion {
    /// Side of the square patch, in input pixels (16).
    pub window: usize,
    /// Step between patches (8).
    pub stride: usize,
    pub baseline: Baseline,
}

impl Default for Occlusion {
    fn default() -> Self {
        Occlusion {
            window: 16,
            stride: 8,
            baseline: Baseline::Zero,
        }
    }
}

impl Occlusion {
    /// Checks the settings against an `h × w` input.
    pub fn validate(&self, h: usize, w: usize) -> Result<()> {
        if self.stride == 0 {
            return Err(AttributionError::Input(
                "occlusion needs --stride ≥ 1, got 0".into(),
            ));
        }
        if self.window == 0 || self.window > h.min(w) {
            return Err(AttributionError::Input(format!(
                "occlusion --window {} does not fit the {h} × {w} input (1..={})",
                self.window,
                h.min(w)
            )));
        }
        Ok(())
    }

    /// Window starts along a side of `n` pixels.
    pub fn starts(&self, n: usize) -> Vec<usize> {
        let count = (n - self.window).div_ceil(self.stride) + 1;
        (0..count).map(|i| i * self.stride).collect()
    }
}

/// Occlusion of `target` for one normalised image: `[3, h, w]` (the same value in each
/// channel, as the patch covers all of them), `score` = S(x).
pub fn occlusion(
    model: &dyn ImageModel,
    image: &HostImage,
    target: &Target,
    settings: &Occlusion,
) -> Result<Attribution> {
    let (h, w) = (image.height, image.width);
    settings.validate(h, w)?;
    let target = fix_target(model, image, target)?;
    let base = settings.baseline.of(image, model.preprocessing());
    let windows: Vec<(usize, usize)> = settings
        .starts(h)
        .into_iter()
        .flat_map(|y| settings.starts(w).into_iter().map(move |x| (y, x)))
        .collect();
    let k = settings.window;
    let plane = image.plane();
    let occluded = |&(y0, x0): &(usize, usize)| {
        let mut v = image.data.clone();
        for c in 0..image.channels {
            for y in y0..(y0 + k).min(h) {
                let row = c * plane + y * w;
                let span = row + x0..row + (x0 + k).min(w);
                v[span.clone()].copy_from_slice(&base.data[span]);
            }
        }
        v
    };
    let original = scores(
        model,
        image,
        1,
        |_| image.data.clone(),
        &target,
        Score::Logit,
    )?[0];
    let s = scores(
        model,
        image,
        windows.len(),
        |i| occluded(&windows[i]),
        &target,
        Score::Logit,
    )?;
    let mut total = vec![0f32; plane];
    let mut count = vec![0f32; plane];
    for (&(y0, x0), s) in windows.iter().zip(s) {
        let drop = original - s;
        for y in y0..(y0 + k).min(h) {
            for x in x0..(x0 + k).min(w) {
                total[y * w + x] += drop;
                count[y * w + x] += 1.0;
            }
        }
    }
    let map: Vec<f32> = total.iter().zip(&count).map(|(t, c)| t / c).collect();
    let raw: Vec<f32> = (0..image.channels)
        .flat_map(|_| map.iter().copied())
        .collect();
    Ok(Attribution {
        raw: Array3::from_shape_vec((image.channels, h, w), raw).expect("sizes match"),
        target: target.resolved(model),
        score: original,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_every_pixel_as_captum_places_them() {
        let o = Occlusion::default();
        assert_eq!(o.starts(224).len(), 27);
        assert_eq!(*o.starts(224).last().unwrap(), 208);
        // 20 − 16 = 4 is not a multiple of 8: a second, clipped window covers the rest.
        assert_eq!(o.starts(20), vec![0, 8]);
        assert_eq!(o.starts(16), vec![0]);
        assert!(o
            .validate(15, 224)
            .unwrap_err()
            .to_string()
            .contains("--window 16"));
        let zero = Occlusion { stride: 0, ..o };
        assert!(zero
            .validate(224, 224)
            .unwrap_err()
            .to_string()
            .contains("--stride"));
    }
}
