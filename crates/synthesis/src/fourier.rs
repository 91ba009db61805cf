//! The decorrelated-colour Fourier parameterisation of feature visualisation (Olah et al.,
//! Distill 2017; Lucid/Lucent): the optimiser moves Fourier coefficients whose scale falls
//! as 1/frequency, so every frequency is equally easy to change and gradient ascent stops
//! preferring the high-frequency patterns it otherwise produces (the paper's Fig. 1 images
//! are dominated by them). Colours are mixed through the square root of ImageNet's colour
//! covariance, and a sigmoid keeps pixels inside 0..255.
//!
//! The basis is the orthonormal *real* Fourier basis (DC, cos k, sin k, ..., Nyquist) in each
//! axis; separable products of these span the same space as the complex 2-D DFT, each
//! product has a definite frequency `√(k_y² + k_x²)` (cycles per image), and rendering is two
//! matrix products, which candle differentiates.
use candle_core::{Device, Tensor};
use std::f64::consts::PI;

/// Square root of ImageNet's RGB colour correlation as published with Lucid
/// (`color_correlation_svd_sqrt`), normalised by its largest column norm.
pub const COLOUR_SQRT: [[f32; 3]; 3] =
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]];

/// `COLOUR_SQRT` divided by its largest column norm, so no colour direction is amplified.
pub fn colour_matrix() -> [[f32; 3]; 3] {
    let norm = (0..3)
        .map(|j| {
            (0..3)
                .map(|i| COLOUR_SQRT[i][j].powi(2))
                .sum::<f32>()
                .sqrt()
        })
        .fold(0.0f32, f32::max);
    COLOUR_SQRT.map(|row| row.map(|v| v / norm))
}

/// The orthonormal real Fourier basis of length `n` as an `n × n` row-major matrix
/// (`[sample][basis function]`), and the frequency of each basis function in cycles per
/// signal. Column 0 is the constant, columns `2k−1`/`2k` are cos/sin of frequency `k`, and
/// for even `n` the last column is the Nyquist alternation. The column of a frequency does
/// not depend on `n`, which is what lets an octave schedule copy coefficients across sizes.
pub fn real_basis(n: usize) -> (Vec<f32>, Vec<f32>) {
    let mut m = vec![0f32; n * n];
    for j in 0..n {
        let k = j.div_ceil(2);
        for s in 0..n {
            let v = if j == 0 {
                1.0 / (n as f64).sqrt()
            } else if n.is_multiple_of(2) && j == n - 1 {
                (if s.is_multiple_of(2) { 1.0 } else { -1.0 }) / (n as f64).sqrt()
            } else {
                let phase = 2.0 * PI * (k * s) as f64 / n as f64;
                let trig = if j % 2 == 1 { phase.cos() } else { phase.sin() };
                trig * (2.0 / n as f64).sqrt()
            };
            m[s * n + j] = v as f32;
        }
    }
    (m, frequencies(n))
}

/// Per-coefficient scale `√(hw)/4 / max(f, 1)^decay` for an `h × w` image: with it one unit
/// of a low-frequency coefficient moves pixels (before the sigmoid) by about ¼, as in Lucid.
pub fn spectrum_scale(h: usize, w: usize, decay: f32) -> Vec<f32> {
    let (fy, fx) = (frequencies(h), frequencies(w));
    let base = ((h * w) as f32).sqrt() / 4.0;
    let mut s = Vec::with_capacity(h * w);
    for &a in &fy {
        for &b in &fx {
            s.push(base / (a.hypot(b)).max(1.0).powf(decay));
        }
    }
    s
}

/// Frequency (cycles per signal) of each column of [`real_basis`].
fn frequencies(n: usize) -> Vec<f32> {
    (0..n).map(|j| j.div_ceil(2) as f32).collect()
}

/// Per-coefficient damping of a circular Gaussian blur with standard deviation `sigma`
/// pixels: blurring the rendered image (before the colour mix and sigmoid) is exactly this
/// product in the coefficient domain.
pub fn blur_damping(h: usize, w: usize, sigma: f32) -> Vec<f32> {
    let (fy, fx) = (frequencies(h), frequencies(w));
    let c = -2.0 * std::f32::consts::PI.powi(2) * sigma * sigma;
    let mut d = Vec::with_capacity(h * w);
    for &a in &fy {
        for &b in &fx {
            d.push((c * ((a / h as f32).powi(2) + (b / w as f32).powi(2))).exp());
        }
    }
    d
}

/// Renders `[batch, 3, h, w]` coefficients into pre-sigmoid decorrelated-then-mixed colour
/// planes, differentiably: `C · (B_h (s ⊙ q) B_wᵀ)` per image.
pub struct FourierRenderer {
    basis_h: Tensor,
    basis_w_t: Tensor,
    scale: Tensor,
    colour: Tensor,
    h: usize,
    w: usize,
}

impl FourierRenderer {
    pub fn new(h: usize, w: usize, decay: f32, device: &Device) -> candle_core::Result<Self> {
        let (bh, _) = real_basis(h);
        let (bw, _) = real_basis(w);
        let basis_w_t = Tensor::from_vec(bw, (w, w), device)?.t()?.contiguous()?;
        let colour: Vec<f32> = colour_matrix().iter().flatten().copied().collect();
        Ok(FourierRenderer {
            basis_h: Tensor::from_vec(bh, (h, h), device)?,
            basis_w_t,
            scale: Tensor::from_vec(spectrum_scale(h, w, decay), (h, w), device)?,
            colour: Tensor::from_vec(colour, (3, 3), device)?,
            h,
            w,
        })
    }

    /// Pre-sigmoid colour planes `[batch, 3, h, w]` of coefficients `q`.
    pub fn render(&self, q: &Tensor) -> candle_core::Result<Tensor> {
        let b = q.dim(0)?;
        let spectrum = q.broadcast_mul(&self.scale)?;
        let planes = self
            .basis_h
            .broadcast_matmul(&spectrum)?
            .broadcast_matmul(&self.basis_w_t)?;
        let flat = planes.reshape((b, 3, self.h * self.w))?;
        self.colour
            .broadcast_matmul(&flat)?
            .reshape((b, 3, self.h, self.w))
    }
}

/// Copies coefficients of an `h0 × w0` image into an `h1 × w1` one (frequencies keep their
/// columns, new ones start at zero): with the size-dependent scale of [`spectrum_scale`]
/// and the orthonormal basis the rendered picture is the same, only finer.
pub fn upsample_coefficients(
    q: &[f32],
    planes: usize,
    h0: usize,
    w0: usize,
    h1: usize,
    w1: usize,
) -> Vec<f32> {
    let mut out = vec![0f32; planes * h1 * w1];
    for p in 0..planes {
        for y in 0..h0.min(h1) {
            for x in 0..w0.min(w1) {
                out[(p * h1 + y) * w1 + x] = q[(p * h0 + y) * w0 + x];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basis_is_orthonormal() {
        for n in [5usize, 8, 14] {
            let (m, _) = real_basis(n);
            for a in 0..n {
                for b in 0..n {
                    let dot: f32 = (0..n).map(|s| m[s * n + a] * m[s * n + b]).sum();
                    let want = if a == b { 1.0 } else { 0.0 };
                    assert!((dot - want).abs() < 1e-5, "n={n} ({a},{b}) {dot}");
                }
            }
        }
    }

    #[test]
    fn frequency_columns_do_not_depend_on_size() {
        let (_, f8) = real_basis(8);
        let (_, f16) = real_basis(16);
        assert_eq!(&f8[..], &f16[..8]);
    }

    #[test]
    fn damping_of_dc_is_one_and_falls_with_frequency() {
        let d = blur_damping(8, 8, 1.0);
        assert_eq!(d[0], 1.0);
        assert!(d[1] < 1.0 && d[3] < d[1]);
    }

    #[test]
    fn colour_matrix_has_unit_largest_column() {
        let m = colour_matrix();
        let max = (0..3)
            .map(|j| (0..3).map(|i| m[i][j].powi(2)).sum::<f32>().sqrt())
            .fold(0.0f32, f32::max);
        assert!((max - 1.0).abs() < 1e-6);
    }
}
