//! The image being optimised, held as the parameters the optimiser moves, and rendered into
//! the model's normalised input space differentiably.
use crate::fourier::{blur_damping, upsample_coefficients, FourierRenderer};
use crate::rng::Rng;
use crate::settings::Parameterisation;
use crate::warp::{warp, View};
use candle_core::{Device, Tensor, Var};
use convnet::blur::gaussian_blur;
use convnet::Preprocessing;

pub(crate) struct ImageParam {
    kind: Parameterisation,
    var: Var,
    batch: usize,
    h: usize,
    w: usize,
    /// Fourier rendering at the current size (None for pixels).
    renderer: Option<FourierRenderer>,
    /// Per-channel `a·sigmoid + b` taking the sigmoid's 0..1 to the normalised input space.
    to_input: (Tensor, Tensor),
    device: Device,
}

impl ImageParam {
    pub fn new(
        kind: Parameterisation,
        batch: usize,
        h: usize,
        w: usize,
        prep: &Preprocessing,
        device: &Device,
        rng: &mut Rng,
    ) -> candle_core::Result<Self> {
        let n = batch * 3 * h * w;
        let init: Vec<f32> = match kind {
            // The paper starts from the zero image, i.e. the mean image.
            Parameterisation::Pixels => vec![0.0; n],
            // Lucid's start: small random coefficients (a faint grey haze).
            Parameterisation::Fourier { .. } => (0..n).map(|_| 0.01 * rng.normal()).collect(),
        };
        let a: Vec<f32> = (0..3)
            .map(|c| 255.0 / (prep.pixel_scale * prep.std[c]))
            .collect();
        let b: Vec<f32> = (0..3).map(|c| -prep.mean[c] / prep.std[c]).collect();
        let mut p = ImageParam {
            kind,
            var: Var::from_tensor(&Tensor::from_vec(init, (batch, 3, h, w), device)?)?,
            batch,
            h,
            w,
            renderer: None,
            to_input: (
                Tensor::from_vec(a, (1, 3, 1, 1), device)?,
                Tensor::from_vec(b, (1, 3, 1, 1), device)?,
            ),
            device: device.clone(),
        };
        p.make_renderer()?;
        Ok(p)
    }

    fn make_renderer(&mut self) -> candle_core::Result<()> {
        self.renderer = match self.kind {
            Parameterisation::Pixels => None,
            Parameterisation::Fourier { decay } => {
                Some(FourierRenderer::new(self.h, self.w, decay, &self.device)?)
            }
        };
        Ok(())
    }

    pub fn size(&self) -> (usize, usize) {
        (self.h, self.w)
    }

    pub fn var(&self) -> &Var {
        &self.var
    }

    /// The normalised input images `[batch, 3, h, w]`, differentiable in the parameters.
    pub fn render(&self) -> candle_core::Result<Tensor> {
        match &self.renderer {
            None => Ok(self.var.as_tensor().clone()),
            Some(r) => {
                let planes = r.render(self.var.as_tensor())?;
                let sig = candle_nn::ops::sigmoid(&planes)?;
                sig.broadcast_mul(&self.to_input.0)?
                    .broadcast_add(&self.to_input.1)
            }
        }
    }

    pub fn values(&self) -> candle_core::Result<Vec<f32>> {
        self.var.as_tensor().flatten_all()?.to_vec1::<f32>()
    }

    pub fn set(&mut self, v: Vec<f32>) -> candle_core::Result<()> {
        let t = Tensor::from_vec(v, (self.batch, 3, self.h, self.w), &self.device)?;
        self.var.set(&t)
    }

    /// Moves to a larger image side for the next octave, keeping the picture.
    pub fn resize(&mut self, h: usize, w: usize) -> candle_core::Result<()> {
        let next = match self.kind {
            Parameterisation::Pixels => warp(
                self.var.as_tensor(),
                &vec![View::identity(self.w, self.h); self.batch],
                w,
                h,
            )?,
            Parameterisation::Fourier { .. } => {
                let q =
                    upsample_coefficients(&self.values()?, self.batch * 3, self.h, self.w, h, w);
                Tensor::from_vec(q, (self.batch, 3, h, w), &self.device)?
            }
        };
        self.var = Var::from_tensor(&next)?;
        self.h = h;
        self.w = w;
        self.make_renderer()
    }

    /// Gaussian blur of the image with standard deviation `sigma` pixels: in the pixel
    /// domain for pixels, as the exact coefficient damping for the Fourier basis.
    pub fn blur(&mut self, sigma: f32) -> candle_core::Result<()> {
        let mut v = self.values()?;
        let plane = self.h * self.w;
        match self.kind {
            Parameterisation::Pixels => {
                for p in v.chunks_mut(plane) {
                    gaussian_blur(p, self.h, self.w, sigma);
                }
            }
            Parameterisation::Fourier { .. } => {
                let d = blur_damping(self.h, self.w, sigma);
                for p in v.chunks_mut(plane) {
                    p.iter_mut().zip(&d).for_each(|(x, d)| *x *= d);
                }
            }
        }
        self.set(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourier_render_is_in_range_and_octave_keeps_the_picture() {
        let mut rng = Rng::new(1);
        let prep = Preprocessing::efficientnet_lite();
        let mut p = ImageParam::new(
            Parameterisation::Fourier { decay: 1.0 },
            1,
            16,
            16,
            &prep,
            &Device::Cpu,
            &mut rng,
        )
        .unwrap();
        // Only low frequencies, so the larger grid renders the same smooth picture.
        let mut q = vec![0f32; 3 * 16 * 16];
        q[16 + 1] = 0.3;
        q[256 + 2] = -0.2;
        p.set(q).unwrap();
        let small = p.render().unwrap();
        let lo = prep.normalised_value(0, 0.0);
        let hi = prep.normalised_value(0, 255.0);
        let v = small.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(v.iter().all(|&x| x >= lo && x <= hi));
        p.resize(32, 32).unwrap();
        let big = p.render().unwrap();
        // Sample the big image at the small image's pixel centres (every other pixel,
        // offset ½): a low-frequency picture is the same picture.
        let big = big.squeeze(0).unwrap().to_vec3::<f32>().unwrap();
        let small = small.squeeze(0).unwrap().to_vec3::<f32>().unwrap();
        let mut worst = 0f32;
        for c in 0..3 {
            for y in 0..16 {
                for x in 0..16 {
                    let b = (big[c][2 * y][2 * x] + big[c][2 * y + 1][2 * x + 1]) / 2.0;
                    worst = worst.max((b - small[c][y][x]).abs());
                }
            }
        }
        assert!(worst < 0.05, "{worst}");
    }
}
