//! Dense convolution through matrix products: im2col + gemm forward, gemm + col2im for
//! the input gradient (instead of candle's direct-loop transposed convolution).
use super::conv::{valid_range, Conv2dParams};
use super::threads;
use gemm::Parallelism;
use rayon::prelude::*;

/// A read-only matrix view: element (i, j) is `data[i·rs + j·cs]`.
#[derive(Clone, Copy)]
pub(crate) struct MatRef<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> MatRef<'a> {
    /// A row-major matrix with `cols` columns.
    pub fn rows(data: &'a [f32], cols: usize) -> Self {
        MatRef {
            data,
            rs: cols,
            cs: 1,
        }
    }
    /// The transpose of a row-major matrix that has `cols` columns.
    pub fn transposed(data: &'a [f32], cols: usize) -> Self {
        MatRef {
            data,
            rs: 1,
            cs: cols,
        }
    }
    fn fits(&self, r: usize, c: usize) -> bool {
        r == 0 || c == 0 || self.data.len() > (r - 1) * self.rs + (c - 1) * self.cs
    }
}

/// `dst[m×n] (row-major) = (accumulate ? dst : 0) + lhs[m×k] · rhs[k×n]`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul(
    dst: &mut [f32],
    m: usize,
    n: usize,
    k: usize,
    lhs: MatRef<'_>,
    rhs: MatRef<'_>,
    accumulate: bool,
    parallel: bool,
) {
    assert!(dst.len() >= m * n && lhs.fits(m, k) && rhs.fits(k, n));
    let par = if parallel && threads() > 1 {
        Parallelism::Rayon(threads())
    } else {
        Parallelism::None
    };
    // SAFETY: the assert above keeps every index the strides reach inside the slices,
    // and `dst` does not alias `lhs` or `rhs` (a unique borrow against shared ones).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

fn is_pointwise(p: &Conv2dParams) -> bool {
    p.kernel == 1 && p.stride == 1 && p.padding == Default::default()
}

/// Unrolls one image `[c, h, w]` into columns `[c·k·k, ho·wo]`.
fn im2col(p: &Conv2dParams, x: &[f32], h: usize, w: usize, ho: usize, wo: usize, cols: &mut [f32]) {
    let k = p.kernel;
    let s = p.stride;
    let hw_out = ho * wo;
    cols.par_chunks_mut(k * k * hw_out)
        .enumerate()
        .for_each(|(ci, block)| {
            let plane = &x[ci * h * w..(ci + 1) * h * w];
            for ky in 0..k {
                let (oy_lo, oy_hi) = valid_range(ho, h, s, ky, p.padding.top);
                for kx in 0..k {
                    let (ox_lo, ox_hi) = valid_range(wo, w, s, kx, p.padding.left);
                    let row = &mut block[(ky * k + kx) * hw_out..(ky * k + kx + 1) * hw_out];
                    for oy in 0..ho {
                        let out = &mut row[oy * wo..(oy + 1) * wo];
                        if oy < oy_lo || oy >= oy_hi || ox_lo >= ox_hi {
                            out.fill(0.0);
                            continue;
                        }
                        let iy = oy * s + ky - p.padding.top;
                        out[..ox_lo].fill(0.0);
                        out[ox_hi..].fill(0.0);
                        let src = &plane[iy * w..(iy + 1) * w];
                        if s == 1 {
                            let x0 = ox_lo + kx - p.padding.left;
                            out[ox_lo..ox_hi].copy_from_slice(&src[x0..x0 + ox_hi - ox_lo]);
                        } else {
                            for ox in ox_lo..ox_hi {
                                out[ox] = src[ox * s + kx - p.padding.left];
                            }
                        }
                    }
                }
            }
        });
}

/// Folds columns `[c·k·k, ho·wo]` back onto an image `[c, h, w]`, summing overlaps.
fn col2im(
    p: &Conv2dParams,
    cols: &[f32],
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
    dx: &mut [f32],
) {
    let k = p.kernel;
    let s = p.stride;
    let hw_out = ho * wo;
    dx.par_chunks_mut(h * w)
        .enumerate()
        .for_each(|(ci, plane)| {
            plane.fill(0.0);
            let block = &cols[ci * k * k * hw_out..(ci + 1) * k * k * hw_out];
            for ky in 0..k {
                let (oy_lo, oy_hi) = valid_range(ho, h, s, ky, p.padding.top);
                for kx in 0..k {
                    let (ox_lo, ox_hi) = valid_range(wo, w, s, kx, p.padding.left);
                    if ox_lo >= ox_hi {
                        continue;
                    }
                    let row = &block[(ky * k + kx) * hw_out..(ky * k + kx + 1) * hw_out];
                    for oy in oy_lo..oy_hi {
                        let iy = oy * s + ky - p.padding.top;
                        let dst = &mut plane[iy * w..(iy + 1) * w];
                        let src = &row[oy * wo..(oy + 1) * wo];
                        if s == 1 {
                            let x0 = ox_lo + kx - p.padding.left;
                            for (d, v) in dst[x0..x0 + ox_hi - ox_lo]
                                .iter_mut()
                                .zip(&src[ox_lo..ox_hi])
                            {
                                *d += v;
                            }
                        } else {
                            for ox in ox_lo..ox_hi {
                                dst[ox * s + kx - p.padding.left] += src[ox];
                            }
                        }
                    }
                }
            }
        });
}

/// Runs `f(image index, input chunk, output chunk)` over a batch: images in parallel when
/// there are enough of them, otherwise one after the other with a parallel gemm inside.
fn per_image<F>(n: usize, x: &[f32], in_len: usize, out: &mut [f32], out_len: usize, f: F)
where
    F: Fn(&[f32], &mut [f32], bool) + Sync,
{
    if n >= threads() && n > 1 {
        out.par_chunks_mut(out_len)
            .zip(x.par_chunks(in_len))
            .for_each(|(o, x)| f(x, o, false));
    } else {
        for (o, x) in out.chunks_mut(out_len).zip(x.chunks(in_len)) {
            f(x, o, true);
        }
    }
}

pub(super) fn forward(
    p: &Conv2dParams,
    x: &[f32],
    n: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
) -> Vec<f32> {
    let (cin, cout) = (p.in_channels, p.out_channels);
    let kk = cin * p.kernel * p.kernel;
    let hw_out = ho * wo;
    let mut y = vec![0f32; n * cout * hw_out];
    per_image(
        n,
        x,
        cin * h * w,
        &mut y,
        cout * hw_out,
        |x, y, parallel| {
            if let Some(b) = &p.bias {
                for (row, &bv) in y.chunks_mut(hw_out).zip(b) {
                    row.fill(bv);
                }
            }
            if is_pointwise(p) {
                matmul(
                    y,
                    cout,
                    hw_out,
                    kk,
                    MatRef::rows(&p.weight, kk),
                    MatRef::rows(x, hw_out),
                    p.bias.is_some(),
                    parallel,
                );
            } else {
                let mut cols = vec![0f32; kk * hw_out];
                im2col(p, x, h, w, ho, wo, &mut cols);
                matmul(
                    y,
                    cout,
                    hw_out,
                    kk,
                    MatRef::rows(&p.weight, kk),
                    MatRef::rows(&cols, hw_out),
                    p.bias.is_some(),
                    parallel,
                );
            }
        },
    );
    y
}

pub(super) fn input_grad(
    p: &Conv2dParams,
    g: &[f32],
    n: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
) -> Vec<f32> {
    let (cin, cout) = (p.in_channels, p.out_channels);
    let kk = cin * p.kernel * p.kernel;
    let hw_out = ho * wo;
    let mut dx = vec![0f32; n * cin * h * w];
    // Wᵀ [kk × cout] read from W [cout × kk] through strides.
    per_image(
        n,
        g,
        cout * hw_out,
        &mut dx,
        cin * h * w,
        |g, dx, parallel| {
            if is_pointwise(p) {
                matmul(
                    dx,
                    kk,
                    hw_out,
                    cout,
                    MatRef::transposed(&p.weight, kk),
                    MatRef::rows(g, hw_out),
                    false,
                    parallel,
                );
            } else {
                let mut cols = vec![0f32; kk * hw_out];
                matmul(
                    &mut cols,
                    kk,
                    hw_out,
                    cout,
                    MatRef::transposed(&p.weight, kk),
                    MatRef::rows(g, hw_out),
                    false,
                    parallel,
                );
                col2im(p, &cols, h, w, ho, wo, dx);
            }
        },
    );
    dx
}
