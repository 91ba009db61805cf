//! Dense convolution through matrix products: im2col + gemm forward, gemm + col2im for
//! the input gradient (instead of candle's direct-loop transposed convolution).
use super::buffers::{assume_init, fill, written, Scratch};
use super::conv::{valid_range, Conv2dParams};
use super::threads;
use gemm::Parallelism;
use rayon::prelude::*;
use std::mem::MaybeUninit;

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
    assert!(dst.len() >= m * n);
    // SAFETY: `dst` holds `m·n` initialised floats, so reading it to accumulate is sound.
    unsafe { gemm_into(dst.as_mut_ptr(), m, n, k, lhs, rhs, accumulate, parallel) }
}

/// `dst[m×n] (row-major) = lhs[m×k] · rhs[k×n]` into uninitialised memory, which it fills.
pub(crate) fn matmul_uninit(
    dst: &mut [MaybeUninit<f32>],
    m: usize,
    n: usize,
    k: usize,
    lhs: MatRef<'_>,
    rhs: MatRef<'_>,
    parallel: bool,
) {
    assert!(dst.len() >= m * n);
    // SAFETY: without `accumulate`, gemm writes every element of `dst` and reads none.
    unsafe { gemm_into(dst.as_mut_ptr().cast(), m, n, k, lhs, rhs, false, parallel) }
}

/// # Safety
/// `dst` must point to `m·n` writable floats that alias neither operand, initialised
/// when `accumulate` is set.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_into(
    dst: *mut f32,
    m: usize,
    n: usize,
    k: usize,
    lhs: MatRef<'_>,
    rhs: MatRef<'_>,
    accumulate: bool,
    parallel: bool,
) {
    assert!(lhs.fits(m, k) && rhs.fits(k, n));
    let par = if parallel && threads() > 1 {
        Parallelism::Rayon(threads())
    } else {
        Parallelism::None
    };
    // SAFETY: the assert above keeps every index the strides reach inside the operands,
    // and the caller vouches for `dst`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
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

/// The polyphase view of one plane `[h, w]` for a stride `s`: `s·s` planes of
/// `⌈h/s⌉ × ⌈w/s⌉`, phase `(py, px)` holding the pixels `(i·s + py, j·s + px)`. A strided
/// convolution tap reads one phase at unit stride, so im2col and col2im become row copies
/// instead of strided gathers and scatters (the stride-2 gather was half of a ResNet stem's
/// forward pass). With `s = 1` there is one phase, the plane itself.
struct Phases {
    s: usize,
    hp: usize,
    wp: usize,
}

impl Phases {
    fn new(h: usize, w: usize, s: usize) -> Self {
        Phases {
            s,
            hp: h.div_ceil(s),
            wp: w.div_ceil(s),
        }
    }
    fn len(&self) -> usize {
        self.s * self.s * self.hp * self.wp
    }
    /// Where the tap at kernel offset `k` (after `pad`) lands: its phase and the shift
    /// from an output index to that phase's index (`i = o + shift`).
    fn tap(&self, k: usize, pad: usize) -> (usize, isize) {
        let d = k as isize - pad as isize;
        let s = self.s as isize;
        (d.rem_euclid(s) as usize, d.div_euclid(s))
    }
    fn plane_offset(&self, py: usize, px: usize) -> usize {
        (py * self.s + px) * self.hp * self.wp
    }
    /// Splits `plane [h, w]` into the phases.
    fn split(&self, plane: &[f32], w: usize, out: &mut [f32]) {
        let h = plane.len() / w;
        for py in 0..self.s {
            for px in 0..self.s {
                let dst = &mut out[self.plane_offset(py, px)..][..self.hp * self.wp];
                for (i, row) in dst.chunks_mut(self.wp).enumerate() {
                    let y = i * self.s + py;
                    if y >= h {
                        row.fill(0.0);
                        continue;
                    }
                    let src = plane[y * w..(y + 1) * w].iter().skip(px).step_by(self.s);
                    let n = src.len();
                    for (d, v) in row.iter_mut().zip(src) {
                        *d = *v;
                    }
                    row[n..].fill(0.0);
                }
            }
        }
    }
    /// The inverse of `split`: writes the phases back onto every pixel of `plane [h, w]`.
    fn merge(&self, phases: &[f32], w: usize, plane: &mut [MaybeUninit<f32>]) {
        for (y, row) in plane.chunks_mut(w).enumerate() {
            let (i, py) = (y / self.s, y % self.s);
            for (x, d) in row.iter_mut().enumerate() {
                let (j, px) = (x / self.s, x % self.s);
                d.write(phases[self.plane_offset(py, px) + i * self.wp + j]);
            }
        }
    }
}

/// Unrolls one image `[c, h, w]` into columns `[c·k·k, ho·wo]`.
fn im2col(p: &Conv2dParams, x: &[f32], h: usize, w: usize, ho: usize, wo: usize, cols: &mut [f32]) {
    let k = p.kernel;
    let s = p.stride;
    let hw_out = ho * wo;
    let ph = Phases::new(h, w, s);
    let scratch = if s == 1 { 0 } else { ph.len() };
    cols.par_chunks_mut(k * k * hw_out)
        .enumerate()
        .for_each_init(
            || vec![0f32; scratch],
            |split, (ci, block)| {
                let plane = &x[ci * h * w..(ci + 1) * h * w];
                let src = if s == 1 {
                    plane
                } else {
                    ph.split(plane, w, split);
                    &split[..]
                };
                for ky in 0..k {
                    let (oy_lo, oy_hi) = valid_range(ho, h, s, ky, p.padding.top);
                    let (py, shift_y) = ph.tap(ky, p.padding.top);
                    for kx in 0..k {
                        let (ox_lo, ox_hi) = valid_range(wo, w, s, kx, p.padding.left);
                        let (px, shift_x) = ph.tap(kx, p.padding.left);
                        let phase = &src[ph.plane_offset(py, px)..][..ph.hp * ph.wp];
                        let row = &mut block[(ky * k + kx) * hw_out..(ky * k + kx + 1) * hw_out];
                        for oy in 0..ho {
                            let out = &mut row[oy * wo..(oy + 1) * wo];
                            if oy < oy_lo || oy >= oy_hi || ox_lo >= ox_hi {
                                out.fill(0.0);
                                continue;
                            }
                            out[..ox_lo].fill(0.0);
                            out[ox_hi..].fill(0.0);
                            let i = (oy as isize + shift_y) as usize;
                            let j0 = (ox_lo as isize + shift_x) as usize;
                            out[ox_lo..ox_hi]
                                .copy_from_slice(&phase[i * ph.wp + j0..][..ox_hi - ox_lo]);
                        }
                    }
                }
            },
        );
}

/// Folds columns `[c·k·k, ho·wo]` back onto an image `[c, h, w]`, summing overlaps; every
/// element of `dx` is written.
fn col2im(
    p: &Conv2dParams,
    cols: &[f32],
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
    dx: &mut [MaybeUninit<f32>],
) {
    let k = p.kernel;
    let s = p.stride;
    let hw_out = ho * wo;
    let ph = Phases::new(h, w, s);
    let scratch = if s == 1 { 0 } else { ph.len() };
    dx.par_chunks_mut(h * w).enumerate().for_each_init(
        || vec![0f32; scratch],
        |split, (ci, plane)| {
            let (plane, acc): (Option<&mut [MaybeUninit<f32>]>, &mut [f32]) = if s == 1 {
                (None, fill(plane, 0.0))
            } else {
                split.fill(0.0);
                (Some(plane), &mut split[..])
            };
            let block = &cols[ci * k * k * hw_out..(ci + 1) * k * k * hw_out];
            for ky in 0..k {
                let (oy_lo, oy_hi) = valid_range(ho, h, s, ky, p.padding.top);
                let (py, shift_y) = ph.tap(ky, p.padding.top);
                for kx in 0..k {
                    let (ox_lo, ox_hi) = valid_range(wo, w, s, kx, p.padding.left);
                    if ox_lo >= ox_hi {
                        continue;
                    }
                    let (px, shift_x) = ph.tap(kx, p.padding.left);
                    let phase = &mut acc[ph.plane_offset(py, px)..][..ph.hp * ph.wp];
                    let row = &block[(ky * k + kx) * hw_out..(ky * k + kx + 1) * hw_out];
                    for oy in oy_lo..oy_hi {
                        let i = (oy as isize + shift_y) as usize;
                        let j0 = (ox_lo as isize + shift_x) as usize;
                        let dst = &mut phase[i * ph.wp + j0..][..ox_hi - ox_lo];
                        for (d, v) in dst.iter_mut().zip(&row[oy * wo + ox_lo..oy * wo + ox_hi]) {
                            *d += v;
                        }
                    }
                }
            }
            if let Some(plane) = plane {
                ph.merge(split, w, plane);
            }
        },
    );
}

/// Runs `f(input chunk, output chunk, parallel)` over a batch: images in parallel when
/// there are enough of them, otherwise one after the other with a parallel gemm inside.
/// `f` must write every element of its output chunk.
fn per_image<F>(n: usize, x: &[f32], in_len: usize, out_len: usize, f: F) -> Vec<f32>
where
    F: Fn(&[f32], &mut [MaybeUninit<f32>], bool) + Sync,
{
    let write = |out: &mut [MaybeUninit<f32>]| {
        if n >= threads() && n > 1 {
            out.par_chunks_mut(out_len)
                .zip(x.par_chunks(in_len))
                .for_each(|(o, x)| f(x, o, false));
        } else {
            for (o, x) in out.chunks_mut(out_len).zip(x.chunks(in_len)) {
                f(x, o, true);
            }
        }
    };
    // SAFETY: `f` writes every element of each chunk, and the chunks cover the output.
    unsafe { written(n * out_len, write) }
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
    let weight = MatRef::rows(&p.weight, kk);
    per_image(n, x, cin * h * w, cout * hw_out, |x, y, parallel| {
        let mut cols = (!is_pointwise(p)).then(|| Scratch::take(kk * hw_out));
        let rhs = match &mut cols {
            Some(cols) => {
                let cols = cols.get(kk * hw_out);
                im2col(p, x, h, w, ho, wo, cols);
                MatRef::rows(cols, hw_out)
            }
            None => MatRef::rows(x, hw_out),
        };
        match &p.bias {
            Some(b) => {
                assert_eq!(b.len(), cout, "one bias per output channel");
                for (row, &bv) in y.chunks_mut(hw_out).zip(b) {
                    fill(row, bv);
                }
                // SAFETY: every row was just filled with its bias.
                let y = unsafe { assume_init(y) };
                matmul(y, cout, hw_out, kk, weight, rhs, true, parallel);
            }
            None => matmul_uninit(y, cout, hw_out, kk, weight, rhs, parallel),
        }
        if let Some(cols) = cols {
            cols.give_back();
        }
    })
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
    // Wᵀ [kk × cout] read from W [cout × kk] through strides.
    let weight_t = MatRef::transposed(&p.weight, kk);
    per_image(n, g, cout * hw_out, cin * h * w, |g, dx, parallel| {
        let rhs = MatRef::rows(g, hw_out);
        if is_pointwise(p) {
            matmul_uninit(dx, kk, hw_out, cout, weight_t, rhs, parallel);
        } else {
            let mut cols = Scratch::take(kk * hw_out);
            let c = cols.get(kk * hw_out);
            matmul(c, kk, hw_out, cout, weight_t, rhs, false, parallel);
            col2im(p, c, h, w, ho, wo, dx);
            cols.give_back();
        }
    })
}
