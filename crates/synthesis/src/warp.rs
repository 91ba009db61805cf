//! A differentiable geometric transform (crop, zoom, flip, rotation, shift) with bilinear
//! sampling: the "transformation robustness" of feature visualisation, applied to the image
//! before the network sees it at every step, and the same augmentations used to test whether
//! a synthesised image stays recognisable.
//!
//! candle has no differentiable resampling, so this is a custom op whose backward pass
//! scatters the output gradient through the same bilinear taps (the exact adjoint).
use crate::rng::Rng;
use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use convnet::ops::f32_data;
use rayon::prelude::*;

/// Where each output pixel samples the input: the output shows a square window of `crop`
/// times the input size centred at (`cx`, `cy`) (input pixels), mirrored if `flip`, rotated
/// by `angle` radians about its centre. Samples outside the input repeat its edge pixels.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct View {
    pub cx: f32,
    pub cy: f32,
    /// Window side as a fraction of the input side (1 = whole image, 0.8 = an 80 % crop).
    pub crop: f32,
    pub angle: f32,
    pub flip: bool,
}

impl View {
    /// The whole image, unchanged (a plain resize when output and input sizes differ).
    pub fn identity(width: usize, height: usize) -> Self {
        View {
            cx: width as f32 / 2.0,
            cy: height as f32 / 2.0,
            crop: 1.0,
            angle: 0.0,
            flip: false,
        }
    }

    /// A random view: crop side uniform in `crop`, window centre uniform where the
    /// unrotated window stays inside the image, then shifted by up to `jitter` pixels,
    /// rotation uniform in ±`degrees`, mirrored with probability ½ if `flip`.
    pub fn random(
        rng: &mut Rng,
        width: usize,
        height: usize,
        crop: (f32, f32),
        degrees: f32,
        flip: bool,
        jitter: f32,
    ) -> Self {
        let (w, h) = (width as f32, height as f32);
        let c = if crop.1 > crop.0 {
            rng.range(crop.0, crop.1)
        } else {
            crop.0
        };
        let free = |side: f32| ((1.0 - c) * side / 2.0).max(0.0);
        let cx = w / 2.0 + rng.range(-free(w), free(w)) + rng.range(-jitter, jitter);
        let cy = h / 2.0 + rng.range(-free(h), free(h)) + rng.range(-jitter, jitter);
        let angle = rng.range(-degrees, degrees).to_radians();
        View {
            cx,
            cy,
            crop: c,
            angle,
            flip: flip && rng.coin(),
        }
    }
}

/// Four bilinear taps: flat input indices and their weights.
#[derive(Clone, Copy)]
struct Taps {
    idx: [u32; 4],
    w: [f32; 4],
}

fn taps(view: &View, in_w: usize, in_h: usize, out_w: usize, out_h: usize) -> Vec<Taps> {
    let kx = view.crop * in_w as f32 / out_w as f32;
    let ky = view.crop * in_h as f32 / out_h as f32;
    let (sin, cos) = view.angle.sin_cos();
    let mut out = Vec::with_capacity(out_w * out_h);
    for y in 0..out_h {
        for x in 0..out_w {
            let mut px = (x as f32 + 0.5 - out_w as f32 / 2.0) * kx;
            let py = (y as f32 + 0.5 - out_h as f32 / 2.0) * ky;
            if view.flip {
                px = -px;
            }
            let sx = (view.cx + cos * px - sin * py - 0.5).clamp(0.0, (in_w - 1) as f32);
            let sy = (view.cy + sin * px + cos * py - 0.5).clamp(0.0, (in_h - 1) as f32);
            let (x0, y0) = (sx.floor() as usize, sy.floor() as usize);
            let (x1, y1) = ((x0 + 1).min(in_w - 1), (y0 + 1).min(in_h - 1));
            let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
            out.push(Taps {
                idx: [
                    (y0 * in_w + x0) as u32,
                    (y0 * in_w + x1) as u32,
                    (y1 * in_w + x0) as u32,
                    (y1 * in_w + x1) as u32,
                ],
                w: [
                    (1.0 - fx) * (1.0 - fy),
                    fx * (1.0 - fy),
                    (1.0 - fx) * fy,
                    fx * fy,
                ],
            });
        }
    }
    out
}

struct Warp {
    /// One view per image of the batch.
    views: Vec<View>,
    out_w: usize,
    out_h: usize,
}

/// The taps of every view, `[view][output pixel]`.
fn view_taps(
    views: &[View],
    in_w: usize,
    in_h: usize,
    out_w: usize,
    out_h: usize,
) -> Vec<Vec<Taps>> {
    views
        .iter()
        .map(|v| taps(v, in_w, in_h, out_w, out_h))
        .collect()
}

impl Warp {
    /// The input's `[batch, channels, h, w]`, one view per image.
    fn input_dims(&self, l: &Layout) -> candle_core::Result<(usize, usize, usize, usize)> {
        let (b, c, h, w) = dims(l, "deepinside-warp")?;
        if b != self.views.len() {
            candle_core::bail!(
                "deepinside-warp: {} views for a batch of {b}",
                self.views.len()
            );
        }
        Ok((b, c, h, w))
    }
}

fn dims(l: &Layout, name: &str) -> candle_core::Result<(usize, usize, usize, usize)> {
    match l.shape().dims() {
        &[b, c, h, w] => Ok((b, c, h, w)),
        d => candle_core::bail!("{name}: expected [batch, channels, h, w], got {d:?}"),
    }
}

impl CustomOp1 for Warp {
    fn name(&self) -> &'static str {
        "deepinside-warp"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = self.input_dims(l)?;
        let x = f32_data(s, l, self.name())?;
        let taps = view_taps(&self.views, w, h, self.out_w, self.out_h);
        let plane_out = self.out_w * self.out_h;
        let mut y = vec![0f32; b * c * plane_out];
        y.par_chunks_mut(plane_out)
            .enumerate()
            .for_each(|(p, out)| {
                let src = &x[p * h * w..(p + 1) * h * w];
                for (o, t) in out.iter_mut().zip(&taps[p / c]) {
                    *o = (0..4).map(|k| t.w[k] * src[t.idx[k] as usize]).sum();
                }
            });
        Ok((
            CpuStorage::F32(y),
            Shape::from((b, c, self.out_h, self.out_w)),
        ))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s: &candle_core::CudaStorage,
        l: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        let (b, c, h, w) = self.input_dims(l)?;
        let (x, dev) = gpu::input(s, l, self.name())?;
        let mut y = gpu::output(&dev, b * c * self.out_w * self.out_h)?;
        let taps = view_taps(&self.views, w, h, self.out_w, self.out_h);
        run_kernel(
            "warp_fwd",
            &dev,
            &taps,
            &x,
            &mut y,
            [b, c, h * w, self.out_w * self.out_h],
        )?;
        Ok((
            gpu::storage(y, &dev),
            Shape::from((b, c, self.out_h, self.out_w)),
        ))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let (_, _, h, w) = arg.dims4()?;
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&WarpAdjoint {
            views: self.views.clone(),
            in_w: w,
            in_h: h,
        })?))
    }
}

/// The adjoint of [`Warp`]: output gradients scattered back through the same taps.
struct WarpAdjoint {
    views: Vec<View>,
    in_w: usize,
    in_h: usize,
}

impl CustomOp1 for WarpAdjoint {
    fn name(&self) -> &'static str {
        "deepinside-warp-adjoint"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (b, c, out_h, out_w) = dims(l, self.name())?;
        let g = f32_data(s, l, self.name())?;
        let (h, w) = (self.in_h, self.in_w);
        let taps = view_taps(&self.views, w, h, out_w, out_h);
        let plane_out = out_w * out_h;
        let mut gx = vec![0f32; b * c * h * w];
        gx.par_chunks_mut(h * w).enumerate().for_each(|(p, dst)| {
            let src = &g[p * plane_out..(p + 1) * plane_out];
            for (&go, t) in src.iter().zip(&taps[p / c]) {
                for k in 0..4 {
                    dst[t.idx[k] as usize] += t.w[k] * go;
                }
            }
        });
        Ok((CpuStorage::F32(gx), Shape::from((b, c, h, w))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s: &candle_core::CudaStorage,
        l: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        let (b, c, out_h, out_w) = dims(l, self.name())?;
        let (h, w) = (self.in_h, self.in_w);
        let (g, dev) = gpu::input(s, l, self.name())?;
        let mut dx = gpu::output(&dev, b * c * h * w)?;
        let taps = view_taps(&self.views, w, h, out_w, out_h);
        run_kernel(
            "warp_bwd",
            &dev,
            &taps,
            &g,
            &mut dx,
            [b, c, h * w, out_w * out_h],
        )?;
        Ok((gpu::storage(dx, &dev), Shape::from((b, c, h, w))))
    }
}

#[cfg(feature = "cuda")]
use convnet::ops::cuda as gpu;

#[cfg(feature = "cuda")]
static KERNELS: gpu::KernelModule =
    gpu::KernelModule::new("deepinside-warp", include_str!("warp.cu"));

/// Runs `warp_fwd` or `warp_bwd` with the taps uploaded (`[view][pixel][4]` indices and
/// weights); `dims` = views, channels, input plane size, output plane size. One thread per
/// output element either way.
#[cfg(feature = "cuda")]
fn run_kernel(
    name: &str,
    dev: &candle_core::cuda_backend::CudaDevice,
    taps: &[Vec<Taps>],
    src: &candle_core::cuda_backend::cudarc::driver::CudaView<'_, f32>,
    dst: &mut candle_core::cuda_backend::cudarc::driver::CudaSlice<f32>,
    dims: [usize; 4],
) -> candle_core::Result<()> {
    use candle_core::cuda_backend::cudarc::driver::PushKernelArg;
    use candle_core::cuda_backend::WrapErr;
    let idx: Vec<u32> = taps.iter().flatten().flat_map(|t| t.idx).collect();
    let wts: Vec<f32> = taps.iter().flatten().flat_map(|t| t.w).collect();
    let stream = dev.cuda_stream();
    let (idx, wts) = (stream.clone_htod(&idx).w()?, stream.clone_htod(&wts).w()?);
    let [views, channels, in_plane, out_plane] = dims;
    let (a0, a1, a2, a3) = (
        gpu::int(views)?,
        gpu::int(channels)?,
        gpu::int(in_plane)?,
        gpu::int(out_plane)?,
    );
    gpu::launch!(dev, &KERNELS, name, views * channels * out_plane;
        src, &idx, &wts, dst, &a0, &a1, &a2, &a3)
}

/// Resamples each image of a `[batch, channels, h, w]` batch through its own [`View`] into
/// `out_h × out_w`, differentiably.
pub fn warp(x: &Tensor, views: &[View], out_w: usize, out_h: usize) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1(Warp {
        views: views.to_vec(),
        out_w,
        out_h,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn ramp(b: usize, c: usize, h: usize, w: usize) -> Tensor {
        let v: Vec<f32> = (0..b * c * h * w)
            .map(|i| ((i * 37) % 101) as f32 / 10.0)
            .collect();
        Tensor::from_vec(v, (b, c, h, w), &Device::Cpu).unwrap()
    }

    #[test]
    fn identity_view_is_the_identity() {
        let x = ramp(2, 3, 5, 7);
        let y = warp(&x, &[View::identity(7, 5); 2], 7, 5).unwrap();
        let d = (x - y).unwrap().abs().unwrap().max_all().unwrap();
        assert!(d.to_scalar::<f32>().unwrap() < 1e-5);
    }

    #[test]
    fn flip_mirrors_columns() {
        let x = ramp(1, 1, 4, 6);
        let mut v = View::identity(6, 4);
        v.flip = true;
        let y = warp(&x, &[v], 6, 4)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec3::<f32>()
            .unwrap();
        let x = x.squeeze(0).unwrap().to_vec3::<f32>().unwrap();
        for r in 0..4 {
            for col in 0..6 {
                assert!((y[0][r][col] - x[0][r][5 - col]).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn quarter_turn_rotates() {
        let x = ramp(1, 1, 5, 5);
        let mut v = View::identity(5, 5);
        v.angle = std::f32::consts::FRAC_PI_2;
        let y = warp(&x, &[v], 5, 5)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec3::<f32>()
            .unwrap();
        let x = x.squeeze(0).unwrap().to_vec3::<f32>().unwrap();
        // Output (r, c) samples input at (cx + cos·px − sin·py, ...) = column 4 − r, row c.
        for r in 0..5 {
            for c in 0..5 {
                assert!((y[0][r][c] - x[0][c][4 - r]).abs() < 1e-4, "{r} {c}");
            }
        }
    }

    /// ⟨warp(x), g⟩ = ⟨x, warpᵀ(g)⟩ for random views: the backward pass is the adjoint.
    #[test]
    fn backward_is_the_adjoint() {
        let mut rng = Rng::new(3);
        let views: Vec<View> = (0..3)
            .map(|_| View::random(&mut rng, 9, 8, (0.6, 1.0), 30.0, true, 2.0))
            .collect();
        let x = Var::from_tensor(&ramp(3, 2, 8, 9)).unwrap();
        let g = ramp(3, 2, 6, 5).affine(0.3, -1.0).unwrap();
        let y = warp(x.as_tensor(), &views, 5, 6).unwrap();
        let lhs = (y * &g)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let grads = (warp(x.as_tensor(), &views, 5, 6).unwrap() * &g)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let gx = grads.get(x.as_tensor()).unwrap();
        let rhs = (x.as_tensor() * gx)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(
            (lhs - rhs).abs() < 1e-3 * lhs.abs().max(1.0),
            "{lhs} vs {rhs}"
        );
    }
}
