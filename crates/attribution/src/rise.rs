//! RISE (Petsiuk et al. 2018): score the image under thousands of random smooth masks and
//! attribute to each pixel the mask-weighted mean of the class probability. It needs only
//! forward passes, so it explains any black box; its cost is the number of masks.
//!
//! Masks as in the authors' code: an s × s grid of cells kept with probability p, upsampled
//! bilinearly to (s + 1) cells of ⌈h / s⌉ pixels and cropped at a random shift of up to one
//! cell, so that mask edges fall anywhere. Masked inputs fade to the baseline:
//! x′ = b + M ⊙ (x − b) (the authors multiply the normalised input, b = 0).
use crate::baseline::Baseline;
use crate::error::{AttributionError, Result};
use crate::host::{fix_target, scores, HostImage, Score};
use convnet::rng::Rng;
use convnet::{ImageModel, ResolvedTarget, Target};
use ndarray::Array2;

/// Settings of RISE.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Rise {
    /// Random masks (4000, the paper's ResNet-50 setting).
    pub masks: usize,
    /// Cells per side of the mask grid (7).
    pub grid: usize,
    /// Probability that a cell is kept (0.5).
    pub keep: f32,
    pub seed: u64,
    pub baseline: Baseline,
}

impl Default for Rise {
    fn default() -> Self {
        Rise {
            masks: 4000,
            grid: 7,
            keep: 0.5,
            seed: 0,
            baseline: Baseline::Zero,
        }
    }
}

impl Rise {
    pub fn validate(&self, h: usize, w: usize) -> Result<()> {
        if self.masks == 0 {
            return Err(AttributionError::Input(
                "RISE needs --masks ≥ 1, got 0".into(),
            ));
        }
        if self.grid == 0 || self.grid > h.min(w) {
            return Err(AttributionError::Input(format!(
                "RISE's mask grid of {} cells does not fit the {h} × {w} input",
                self.grid
            )));
        }
        if !(self.keep > 0.0 && self.keep <= 1.0) {
            return Err(AttributionError::Input(format!(
                "RISE's keep probability must lie in (0, 1], got {}",
                self.keep
            )));
        }
        Ok(())
    }
}

/// Draws mask after mask, the same sequence for the same seed.
pub struct MaskSampler {
    rng: Rng,
    settings: Rise,
    h: usize,
    w: usize,
}

impl MaskSampler {
    pub fn new(settings: &Rise, h: usize, w: usize) -> Self {
        MaskSampler {
            rng: Rng::new(settings.seed),
            settings: *settings,
            h,
            w,
        }
    }

    /// The next `h × w` mask, values in [0, 1].
    pub fn next_mask(&mut self) -> Vec<f32> {
        let s = self.settings.grid;
        let cells: Vec<f32> = (0..s * s)
            .map(|_| (self.rng.uniform() < self.settings.keep) as u8 as f32)
            .collect();
        let (cell_h, cell_w) = (self.h.div_ceil(s), self.w.div_ceil(s));
        let dy = (self.rng.uniform() * cell_h as f32) as usize;
        let dx = (self.rng.uniform() * cell_w as f32) as usize;
        // Bilinear upsampling of the grid to (s + 1) cells, half-pixel centres, edges
        // clamped, evaluated only on the crop.
        let (up_h, up_w) = ((s + 1) * cell_h, (s + 1) * cell_w);
        let coord = |o: usize, n_out: usize| {
            let t = ((o as f32 + 0.5) * s as f32 / n_out as f32 - 0.5).max(0.0);
            let i0 = (t.floor() as usize).min(s - 1);
            (i0, (i0 + 1).min(s - 1), t - i0 as f32)
        };
        let xs: Vec<_> = (0..self.w).map(|x| coord(x + dx, up_w)).collect();
        let mut m = Vec::with_capacity(self.h * self.w);
        for y in 0..self.h {
            let (y0, y1, fy) = coord(y + dy, up_h);
            for &(x0, x1, fx) in &xs {
                let top = cells[y0 * s + x0] * (1.0 - fx) + cells[y0 * s + x1] * fx;
                let bottom = cells[y1 * s + x0] * (1.0 - fx) + cells[y1 * s + x1] * fx;
                m.push(top * (1.0 - fy) + bottom * fy);
            }
        }
        m
    }
}

/// The RISE map `[h, w]` of `target` for one normalised image, its resolved target, and the
/// class probability of the unmasked image.
pub fn rise(
    model: &dyn ImageModel,
    image: &HostImage,
    target: &Target,
    settings: &Rise,
) -> Result<(Array2<f32>, ResolvedTarget, f32)> {
    let (h, w) = (image.height, image.width);
    settings.validate(h, w)?;
    let target = fix_target(model, image, target)?;
    let base = settings.baseline.of(image, model.preprocessing());
    let diff: Vec<f32> = image
        .data
        .iter()
        .zip(&base.data)
        .map(|(x, b)| x - b)
        .collect();
    let plane = image.plane();
    let mut sampler = MaskSampler::new(settings, h, w);
    let mut masks: Vec<Vec<f32>> = Vec::new();
    let mut sal = vec![0f64; plane];
    let mut done = 0;
    while done < settings.masks {
        // One batch of masks at a time: 4000 masks would hold 800 MB.
        let n = crate::host::BATCH.min(settings.masks - done);
        masks.clear();
        masks.extend((0..n).map(|_| sampler.next_mask()));
        let p = scores(
            model,
            image,
            n,
            |i| {
                let m = &masks[i];
                // x′ = b + M ⊙ (x − b), the mask shared by the channels.
                let mut v = base.data.clone();
                for (v, d) in v.chunks_mut(plane).zip(diff.chunks(plane)) {
                    for ((v, d), m) in v.iter_mut().zip(d).zip(m) {
                        *v += m * d;
                    }
                }
                v
            },
            &target,
            Score::Probability,
        )?;
        for (m, p) in masks.iter().zip(p) {
            for (s, &mv) in sal.iter_mut().zip(m) {
                *s += p as f64 * mv as f64;
            }
        }
        done += n;
    }
    let norm = settings.masks as f64 * settings.keep as f64;
    let map = Array2::from_shape_vec((h, w), sal.iter().map(|s| (s / norm) as f32).collect())
        .expect("sizes match");
    let p = scores(
        model,
        image,
        1,
        |_| image.data.clone(),
        &target,
        Score::Probability,
    )?[0];
    Ok((map, target.resolved(model), p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_are_reproducible_smooth_and_keep_about_p() {
        let r = Rise::default();
        let mut a = MaskSampler::new(&r, 224, 224);
        let mut b = MaskSampler::new(&r, 224, 224);
        let mut mean = 0.0;
        for _ in 0..200 {
            let m = a.next_mask();
            assert_eq!(m, b.next_mask());
            assert!(m.iter().all(|v| (0.0..=1.0).contains(v)));
            mean += m.iter().sum::<f32>() as f64 / m.len() as f64;
        }
        mean /= 200.0;
        assert!((mean - 0.5).abs() < 0.03, "mean mask {mean}");
        let other = MaskSampler::new(&Rise { seed: 1, ..r }, 224, 224).next_mask();
        assert_ne!(other, MaskSampler::new(&r, 224, 224).next_mask());
        assert!(Rise { masks: 0, ..r }.validate(224, 224).is_err());
    }
}
