//! Max-pooling whose gradient goes, whole, to the arg-max of each window: the DeconvNet's
//! "switches". Works for overlapping windows (kernel > stride) and implicit -inf padding,
//! and breaks ties on the first maximum in scan order, as PyTorch does.
use super::{f32_data, nchw};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

/// A 2-D max-pooling window: square kernel, stride and symmetric zero-cost (-inf) padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxPool2d {
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

impl MaxPool2d {
    /// Output height and width for an input of `h × w` (floor mode, as PyTorch's default).
    pub fn output_size(&self, h: usize, w: usize) -> candle_core::Result<(usize, usize)> {
        let (hp, wp) = (h + 2 * self.padding, w + 2 * self.padding);
        if hp < self.kernel || wp < self.kernel || self.stride == 0 {
            candle_core::bail!(
                "max-pool {}x{}/{} does not fit a {h}x{w} input",
                self.kernel,
                self.kernel,
                self.stride
            );
        }
        Ok((
            (hp - self.kernel) / self.stride + 1,
            (wp - self.kernel) / self.stride + 1,
        ))
    }

    /// `planes, h, w, ho, wo, k, s, p` as the kernels take them.
    #[cfg(feature = "cuda")]
    fn kernel_args(
        &self,
        planes: usize,
        h: usize,
        w: usize,
        ho: usize,
        wo: usize,
    ) -> candle_core::Result<[i32; 8]> {
        use super::cuda::int;
        Ok([
            int(planes)?,
            int(h)?,
            int(w)?,
            int(ho)?,
            int(wo)?,
            int(self.kernel)?,
            int(self.stride)?,
            int(self.padding)?,
        ])
    }

    /// The input range `[lo, hi)` each of `out_len` windows covers along a side of `len`
    /// (the padding clipped off).
    fn window_ranges(&self, out_len: usize, len: usize) -> Vec<(usize, usize)> {
        let (k, s, p) = (self.kernel, self.stride, self.padding);
        (0..out_len)
            .map(|o| {
                (
                    (o * s).saturating_sub(p),
                    (o * s + k).saturating_sub(p).min(len),
                )
            })
            .collect()
    }

    /// The window maxima of one plane, separably: the maximum over each row's window
    /// columns (into `rows`, `h × wo`), then over the window rows, whose inner loop runs
    /// along contiguous memory. `cols` and `row_ranges` are [`Self::window_ranges`] of the
    /// two sides, the same for every plane. The values are those of `argmax` (a maximum
    /// does not depend on the order it is taken in, and a NaN anywhere in the window wins
    /// both ways); only the backward pass needs the position. Per window this reads
    /// `k + k·k/s` values instead of `k·k`, with no bounds test inside the loops.
    fn max_values(
        plane: &[f32],
        w: usize,
        cols: &[(usize, usize)],
        row_ranges: &[(usize, usize)],
        rows: &mut [f32],
        out: &mut [f32],
    ) {
        let wo = cols.len();
        for (src, dst) in plane.chunks(w).zip(rows.chunks_mut(wo)) {
            for (d, &(lo, hi)) in dst.iter_mut().zip(cols) {
                *d = src[lo..hi].iter().copied().fold(f32::NEG_INFINITY, nan_max);
            }
        }
        for (dst, &(lo, hi)) in out.chunks_mut(wo).zip(row_ranges) {
            dst.fill(f32::NEG_INFINITY);
            for src in rows[lo * wo..hi * wo].chunks(wo) {
                for (d, &v) in dst.iter_mut().zip(src) {
                    *d = nan_max(*d, v);
                }
            }
        }
    }

    /// Flat index into a plane `w` wide of the maximum of the window whose rows and columns
    /// are `rows` and `cols` (from [`Self::window_ranges`], so the padding is already clipped
    /// off and no tap needs a bounds test): the first maximum in scan order, or the last
    /// NaN, as PyTorch's `(val > max) || isnan(val)`.
    #[inline]
    fn argmax(plane: &[f32], w: usize, rows: (usize, usize), cols: (usize, usize)) -> usize {
        let mut best = rows.0 * w + cols.0;
        let mut best_v = f32::NEG_INFINITY;
        for y in rows.0..rows.1 {
            let row = &plane[y * w..][cols.0..cols.1];
            for (x, &v) in row.iter().enumerate() {
                // Selects, not a branch: which tap wins is data, and mispredicted jumps
                // were most of the backward pass's time.
                let wins = v > best_v || v.is_nan();
                best = if wins { y * w + cols.0 + x } else { best };
                best_v = if wins { v } else { best_v };
            }
        }
        best
    }

    /// The window maxima of planes `h × w` (all of `x`) into planes `ho × wo`.
    pub(super) fn forward_cpu(
        &self,
        x: &[f32],
        h: usize,
        w: usize,
        ho: usize,
        wo: usize,
    ) -> Vec<f32> {
        let (cols, row_ranges) = (self.window_ranges(wo, w), self.window_ranges(ho, h));
        let mut y = vec![0f32; x.len() / (h * w) * ho * wo];
        y.par_chunks_mut(ho * wo)
            .zip(x.par_chunks(h * w))
            .for_each_init(
                || vec![0f32; h * wo],
                |rows, (out, plane)| Self::max_values(plane, w, &cols, &row_ranges, rows, out),
            );
        y
    }

    /// The window maxima and, for each, its arg-max's index within its plane (the
    /// switches a backward pass routes the gradient through, so that it need not keep the
    /// input). The values are the input's at the arg-max, which are the maxima.
    pub(super) fn forward_with_switches(
        &self,
        x: &[f32],
        h: usize,
        w: usize,
        ho: usize,
        wo: usize,
    ) -> (Vec<f32>, Vec<u32>) {
        let (cols, rows) = (self.window_ranges(wo, w), self.window_ranges(ho, h));
        let planes = x.len() / (h * w);
        let mut switches = vec![0u32; planes * ho * wo];
        let mut y = vec![0f32; planes * ho * wo];
        switches
            .par_chunks_mut(ho * wo)
            .zip(y.par_chunks_mut(ho * wo))
            .zip(x.par_chunks(h * w))
            .for_each(|((sw, out), plane)| {
                let windows = rows.iter().flat_map(|&r| cols.iter().map(move |&c| (r, c)));
                for ((s, o), (r, c)) in sw.iter_mut().zip(out.iter_mut()).zip(windows) {
                    let at = Self::argmax(plane, w, r, c);
                    *s = at as u32;
                    *o = plane[at];
                }
            });
        (y, switches)
    }

    /// The input gradient, planes of `h × w`, of [`Self::forward_with_switches`] for the
    /// output gradient `g` (planes of `out_plane` values, as `switches`): each output's
    /// gradient added at its window's arg-max.
    pub(super) fn backward_cpu(
        switches: &[u32],
        g: &[f32],
        out_plane: usize,
        h: usize,
        w: usize,
    ) -> Vec<f32> {
        let mut dx = vec![0f32; g.len() / out_plane * h * w];
        dx.par_chunks_mut(h * w)
            .zip(switches.par_chunks(out_plane).zip(g.par_chunks(out_plane)))
            .for_each(|(d, (sw, g))| {
                for (&at, &gv) in sw.iter().zip(g) {
                    d[at as usize] += gv;
                }
            });
        dx
    }
}

/// `max(a, b)` where a NaN in either wins, as in PyTorch's max-pool.
#[inline]
fn nan_max(a: f32, b: f32) -> f32 {
    if b > a || b.is_nan() {
        b
    } else {
        a
    }
}

impl CustomOp1 for MaxPool2d {
    fn name(&self) -> &'static str {
        "deepinside-max-pool2d"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = f32_data(s, l, self.name())?;
        let (n, c, h, w) = nchw(l, self.name())?;
        let (ho, wo) = self.output_size(h, w)?;
        let y = self.forward_cpu(x, h, w, ho, wo);
        Ok((CpuStorage::F32(y), Shape::from((n, c, ho, wo))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s: &candle_core::CudaStorage,
        l: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        use super::cuda::{self, launch};
        use candle_core::cuda_backend::cudarc::driver::PushKernelArg;
        let (x, dev) = cuda::input(s, l, self.name())?;
        let (n, c, h, w) = nchw(l, self.name())?;
        let (ho, wo) = self.output_size(h, w)?;
        let len = n * c * ho * wo;
        let mut y = cuda::output(&dev, len)?;
        let args = self.kernel_args(n * c, h, w, ho, wo)?;
        launch!(&dev, &cuda::OPS, "maxpool_fwd", len; &x, &mut y, &args[0], &args[1], &args[2], &args[3],
            &args[4], &args[5], &args[6], &args[7])?;
        Ok((cuda::storage(y, &dev), Shape::from((n, c, ho, wo))))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let grad = grad.contiguous()?;
        Ok(Some(arg.apply_op2_no_bwd(&grad, &MaxPoolBackward(*self))?))
    }
}

struct MaxPoolBackward(MaxPool2d);

impl CustomOp2 for MaxPoolBackward {
    fn name(&self) -> &'static str {
        "deepinside-max-pool2d-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = f32_data(s1, l1, self.name())?;
        let g = f32_data(s2, l2, self.name())?;
        let (_, _, h, w) = nchw(l1, self.name())?;
        let (_, _, ho, wo) = nchw(l2, self.name())?;
        let (cols, rows) = (self.0.window_ranges(wo, w), self.0.window_ranges(ho, h));
        let mut dx = vec![0f32; x.len()];
        dx.par_chunks_mut(h * w)
            .zip(x.par_chunks(h * w).zip(g.par_chunks(ho * wo)))
            .for_each(|(dplane, (plane, gplane))| {
                for (&r, grow) in rows.iter().zip(gplane.chunks(wo)) {
                    for (&c, &gv) in cols.iter().zip(grow) {
                        dplane[MaxPool2d::argmax(plane, w, r, c)] += gv;
                    }
                }
            });
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        use super::cuda::{self, launch};
        use candle_core::cuda_backend::cudarc::driver::PushKernelArg;
        let (x, dev) = cuda::input(s1, l1, self.name())?;
        let (g, _) = cuda::input(s2, l2, self.name())?;
        let (n, c, h, w) = nchw(l1, self.name())?;
        let (_, _, ho, wo) = nchw(l2, self.name())?;
        let len = n * c * h * w;
        let mut dx = cuda::output(&dev, len)?;
        let args = self.0.kernel_args(n * c, h, w, ho, wo)?;
        launch!(&dev, &cuda::OPS, "maxpool_bwd", len; &x, &g, &mut dx, &args[0], &args[1], &args[2],
            &args[3], &args[4], &args[5], &args[6], &args[7])?;
        Ok((cuda::storage(dx, &dev), l1.shape().clone()))
    }
}

/// Max-pools an NCHW tensor; the gradient goes to each window's arg-max.
pub fn max_pool2d(x: &Tensor, pool: MaxPool2d) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1(pool)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn run(xs: &[f32], h: usize, w: usize, pool: MaxPool2d, gs: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let x =
            Var::from_tensor(&Tensor::from_slice(xs, (1, 1, h, w), &Device::Cpu).unwrap()).unwrap();
        let y = max_pool2d(x.as_tensor(), pool).unwrap();
        let gt = Tensor::from_slice(gs, y.shape(), &Device::Cpu).unwrap();
        let grads = (&y * gt).unwrap().sum_all().unwrap().backward().unwrap();
        (
            y.flatten_all().unwrap().to_vec1().unwrap(),
            grads
                .get(x.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap(),
        )
    }

    /// PyTorch's scan over the padded window, tap by tap with bounds tests: the first
    /// maximum, or the last NaN.
    fn scan_argmax(
        p: &MaxPool2d,
        plane: &[f32],
        h: usize,
        w: usize,
        oy: usize,
        ox: usize,
    ) -> usize {
        let (mut best, mut best_v) = (usize::MAX, f32::NEG_INFINITY);
        for ky in 0..p.kernel {
            for kx in 0..p.kernel {
                let y = (oy * p.stride + ky) as isize - p.padding as isize;
                let x = (ox * p.stride + kx) as isize - p.padding as isize;
                if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
                    continue;
                }
                let i = y as usize * w + x as usize;
                if best == usize::MAX || plane[i] > best_v || plane[i].is_nan() {
                    (best, best_v) = (i, plane[i]);
                }
            }
        }
        best
    }

    #[test]
    fn separable_maxima_equal_the_window_argmax() {
        for (h, w, k, st, pad) in [
            (7, 9, 3, 2, 1),
            (8, 8, 2, 2, 0),
            (6, 11, 3, 1, 1),
            (9, 5, 5, 3, 2),
        ] {
            let pool = MaxPool2d {
                kernel: k,
                stride: st,
                padding: pad,
            };
            let mut plane: Vec<f32> = (0..h * w)
                .map(|i| ((i * 37 % 23) as f32) * 0.13 - 1.0)
                .collect();
            plane[w + 2] = f32::NAN;
            plane[2 * w + 1] = f32::NAN;
            // Ties: the first maximum in scan order wins.
            plane[3 * w + 3] = plane[3 * w + 4];
            let (ho, wo) = pool.output_size(h, w).unwrap();
            let mut got = vec![0f32; ho * wo];
            let (cols, row_ranges) = (pool.window_ranges(wo, w), pool.window_ranges(ho, h));
            let mut rows = vec![0f32; h * wo];
            MaxPool2d::max_values(&plane, w, &cols, &row_ranges, &mut rows, &mut got);
            for oy in 0..ho {
                for ox in 0..wo {
                    let at = scan_argmax(&pool, &plane, h, w, oy, ox);
                    let index = MaxPool2d::argmax(&plane, w, row_ranges[oy], cols[ox]);
                    assert_eq!(index, at, "{pool:?} ({oy}, {ox}): arg-max");
                    let want = plane[at];
                    let v = got[oy * wo + ox];
                    assert!(
                        v == want || (v.is_nan() && want.is_nan()),
                        "{pool:?} ({oy}, {ox}): {v} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn non_overlapping_gradient_is_one_at_the_argmax() {
        // candle's built-in gives 0.25 here.
        let xs = [1.0, 4.0, 2.0, 3.0];
        let (y, g) = run(
            &xs,
            2,
            2,
            MaxPool2d {
                kernel: 2,
                stride: 2,
                padding: 0,
            },
            &[1.0],
        );
        assert_eq!(y, vec![4.0]);
        assert_eq!(g, vec![0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn overlapping_windows_accumulate_at_shared_maxima() {
        // 3x3/2 on a 5x5 plane: the centre maximum is in all four windows.
        let mut xs = vec![0.0f32; 25];
        xs[12] = 9.0;
        xs[0] = 5.0;
        let pool = MaxPool2d {
            kernel: 3,
            stride: 2,
            padding: 0,
        };
        let (y, g) = run(&xs, 5, 5, pool, &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(y, vec![9.0; 4]);
        let mut expected = vec![0.0f32; 25];
        expected[12] = 10.0;
        assert_eq!(g, expected);
    }

    #[test]
    fn ties_go_to_the_first_maximum_and_padding_is_never_chosen() {
        let xs = [-3.0, -3.0, -3.0, -3.0];
        let pool = MaxPool2d {
            kernel: 3,
            stride: 2,
            padding: 1,
        };
        let (y, g) = run(&xs, 2, 2, pool, &[1.0]);
        assert_eq!(y, vec![-3.0]);
        assert_eq!(g, vec![1.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn finite_differences_agree_away_from_ties() {
        let xs: Vec<f32> = (0..36)
            .map(|i| ((i * 37 % 23) as f32) * 0.13 - 1.0)
            .collect();
        let pool = MaxPool2d {
            kernel: 3,
            stride: 2,
            padding: 1,
        };
        let gs: Vec<f32> = (0..9).map(|i| 0.5 + i as f32).collect();
        let (_, g) = run(&xs, 6, 6, pool, &gs);
        let f = |xs: &[f32]| -> f32 {
            let (y, _) = run(xs, 6, 6, pool, &gs);
            y.iter().zip(&gs).map(|(a, b)| a * b).sum()
        };
        for i in 0..36 {
            let mut p = xs.clone();
            p[i] += 1e-3;
            let mut m = xs.clone();
            m[i] -= 1e-3;
            let fd = (f(&p) - f(&m)) / 2e-3;
            assert!((fd - g[i]).abs() < 1e-2, "element {i}: fd {fd} vs {}", g[i]);
        }
    }
}
