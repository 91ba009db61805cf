//! Local response normalisation across channels (Krizhevsky et al. 2012), as in
//! PyTorch's `nn.LocalResponseNorm`: `b = a / (k + α/n · Σ_{window} a²)^β`.
//! Built from candle ops, so its gradient is the ordinary one under every backward rule.
use crate::error::Result;
use candle_core::Tensor;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LocalResponseNorm {
    pub size: usize,
    pub alpha: f64,
    pub beta: f64,
    pub k: f64,
}

impl LocalResponseNorm {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let c = x.dim(1)?;
        let sq = x.sqr()?;
        // PyTorch pads size/2 channels before and (size−1)/2 after.
        let padded = sq.pad_with_zeros(1, self.size / 2, (self.size - 1) / 2)?;
        let mut sum = padded.narrow(1, 0, c)?;
        for i in 1..self.size {
            sum = (sum + padded.narrow(1, i, c)?)?;
        }
        let denom = ((sum * (self.alpha / self.size as f64))? + self.k)?.powf(self.beta)?;
        Ok((x / denom)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn matches_the_formula_by_hand() {
        let lrn = LocalResponseNorm {
            size: 3,
            alpha: 0.3,
            beta: 0.75,
            k: 2.0,
        };
        let x = Tensor::from_slice(&[1f32, 2.0, 3.0, 4.0], (1, 4, 1, 1), &Device::Cpu).unwrap();
        let y: Vec<f32> = lrn
            .forward(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let a = [1f64, 2.0, 3.0, 4.0];
        for c in 0..4 {
            let s: f64 = (c.max(1) - 1..=(c + 1).min(3)).map(|j| a[j] * a[j]).sum();
            let want = a[c] / (2.0 + 0.1 * s).powf(0.75);
            assert!(
                (y[c] as f64 - want).abs() < 1e-6,
                "channel {c}: {} vs {want}",
                y[c]
            );
        }
    }
}
