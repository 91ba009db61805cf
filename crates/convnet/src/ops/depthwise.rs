//! Depthwise convolution (one k×k filter per channel) over each plane.
//!
//! candle runs a grouped convolution as one convolution per group, which is seconds per
//! layer pair for EfficientNet. Here each plane is first split into its `stride²` *phases*
//! (phase (py, px) holds the zero-padded input at rows `s·r + py`, columns `s·j + px`), all
//! laid out with one row stride `wq`. Tap (ky, kx) of every output then reads phase
//! (ky mod s, kx mod s) at one fixed offset from the output's own index, so each tap is a
//! single contiguous multiply-add over the whole plane — no border tests, no strided
//! gathers, long vectors even for 7×7 planes. The `wq − wo` extra columns per row are
//! computed and dropped. The input gradient is the same walk with the roles swapped:
//! every tap scatters the (zero-extended) output gradient into the phases, which are then
//! interleaved back and the padding cut off. Per output (input) value the taps are summed
//! in the same (ky, kx) order as a direct loop.
use super::activation::{masked_copy, ActivationKind, UnitMask};
use super::buffers::{copy, fill, written};
use super::conv::{valid_range, Conv2dParams};
use crate::rule::BackwardRule;
use multiversion::multiversion;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// The phase layout of one plane for a given layer and input size.
struct Phases {
    s: usize,
    /// Rows and columns of each phase.
    hq: usize,
    wq: usize,
    /// Output columns (the first `wo` of each phase row).
    wo: usize,
    /// Values per phase, including `tail` zeros so that the last tap's overrun stays inside.
    len: usize,
    h: usize,
    w: usize,
    pt: usize,
    pl: usize,
}

impl Phases {
    fn new(p: &Conv2dParams, h: usize, w: usize, ho: usize, wo: usize) -> Self {
        let (k, s) = (p.kernel, p.stride);
        let reach = (k - 1) / s;
        let (hq, wq) = (ho + reach, wo + reach);
        Phases {
            s,
            hq,
            wq,
            wo,
            len: hq * wq + reach,
            h,
            w,
            pt: p.padding.top,
            pl: p.padding.left,
        }
    }

    /// Scratch values needed for all phases of one plane.
    fn scratch(&self) -> usize {
        self.s * self.s * self.len
    }

    /// Phase index and offset (from the output index `oy·wq + ox`) read by tap (ky, kx).
    #[inline]
    fn tap(&self, ky: usize, kx: usize) -> (usize, usize) {
        let s = self.s;
        ((ky % s) * s + kx % s, (ky / s) * self.wq + kx / s)
    }

    /// For every input row the phases hold: the input row and the index of its row in
    /// phase (py, 0); phase (py, px) follows `px·len` values later.
    #[inline]
    fn for_each_row(&self, mut f: impl FnMut(usize, usize)) {
        let s = self.s;
        for py in 0..s {
            let (lo_r, hi_r) = valid_range(self.hq, self.h, s, py, self.pt);
            for rq in lo_r..hi_r {
                f(rq * s + py - self.pt, py * s * self.len + rq * self.wq);
            }
        }
    }

    /// For each column phase `px`, the phase columns `[lo, hi)` whose input column
    /// `s·j + px − pl` lies inside the image (the same for every row).
    fn column_ranges(&self) -> Vec<(usize, usize)> {
        (0..self.s)
            .map(|px| valid_range(self.wq, self.w, self.s, px, self.pl))
            .collect()
    }

    /// For stride 2, the phase columns `[lo, hi)` where both column phases read the image:
    /// there input columns `2j − pl` and `2j + 1 − pl` sit side by side, so a row splits
    /// (merges) as one de-interleaving (interleaving) loop, which vectorises; the columns
    /// outside take the general loop.
    fn paired(cols: &[(usize, usize)]) -> (usize, usize) {
        let (lo, hi) = (cols[0].0.max(cols[1].0), cols[0].1.min(cols[1].1));
        (lo, hi.max(lo))
    }

    /// Splits one input plane into its phases. Only the image's own positions are written:
    /// `phases` must start zeroed, and then its padding stays 0 for every later plane of
    /// the same layout (zeroing it for each plane was a third of the split's time).
    #[inline]
    fn split(&self, plane: &[f32], phases: &mut [f32]) {
        let (s, pl, len) = (self.s, self.pl, self.len);
        let cols = self.column_ranges();
        self.for_each_row(|iy, base| {
            let row = &plane[iy * self.w..(iy + 1) * self.w];
            if s == 1 {
                let (lo, hi) = cols[0];
                phases[base + lo..base + hi].copy_from_slice(&row[lo - pl..hi - pl]);
                return;
            }
            let (plo, phi) = if s == 2 { Self::paired(&cols) } else { (0, 0) };
            if plo < phi {
                let (even, odd) = phases[base..].split_at_mut(len);
                let pairs = row[2 * plo - pl..2 * phi - pl].chunks_exact(2);
                for ((e, o), pair) in even[plo..phi].iter_mut().zip(&mut odd[plo..phi]).zip(pairs) {
                    *e = pair[0];
                    *o = pair[1];
                }
            }
            for (px, &(lo, hi)) in cols.iter().enumerate() {
                let dst = &mut phases[base + px * len..];
                for j in (lo..hi).filter(|j| !(plo..phi).contains(j)) {
                    dst[j] = row[j * s + px - pl];
                }
            }
        });
    }

    /// Interleaves the phases back into one input-sized plane, dropping the padding; input
    /// pixels the convolution never reads get 0. Every pixel of `plane` is written.
    #[inline]
    fn merge(&self, phases: &[f32], plane: &mut [MaybeUninit<f32>]) {
        let plane = fill(plane, 0.0);
        let (s, pl, len) = (self.s, self.pl, self.len);
        let cols = self.column_ranges();
        self.for_each_row(|iy, base| {
            let row = &mut plane[iy * self.w..(iy + 1) * self.w];
            if s == 1 {
                let (lo, hi) = cols[0];
                row[lo - pl..hi - pl].copy_from_slice(&phases[base + lo..base + hi]);
                return;
            }
            let (plo, phi) = if s == 2 { Self::paired(&cols) } else { (0, 0) };
            if plo < phi {
                let (even, odd) = (
                    &phases[base + plo..base + phi],
                    &phases[base + len + plo..base + len + phi],
                );
                let pairs = row[2 * plo - pl..2 * phi - pl].chunks_exact_mut(2);
                for ((pair, &e), &o) in pairs.zip(even).zip(odd) {
                    pair[0] = e;
                    pair[1] = o;
                }
            }
            for (px, &(lo, hi)) in cols.iter().enumerate() {
                let src = &phases[base + px * len..];
                for j in (lo..hi).filter(|j| !(plo..phi).contains(j)) {
                    row[j * s + px - pl] = src[j];
                }
            }
        });
    }
}

/// The convolution of `x`, followed by the unit `act` when given (applied as each plane is
/// written, saving a pass over the output).
#[allow(clippy::too_many_arguments)]
pub(super) fn forward(
    p: &Conv2dParams,
    x: &[f32],
    act: Option<ActivationKind>,
    _n: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
) -> Vec<f32> {
    let c = p.out_channels;
    let k = p.kernel;
    let geo = Phases::new(p, h, w, ho, wo);
    let span = ho * geo.wq;
    let write = |y: &mut [MaybeUninit<f32>]| {
        y.par_chunks_mut(ho * wo)
            .zip(x.par_chunks(h * w))
            .enumerate()
            .for_each_init(
                // Zeroed here once: `split` leaves the phases' padding as it finds it.
                || vec![0f32; geo.scratch() + span],
                |scratch, (plane_idx, (out, plane))| {
                    let ch = plane_idx % c;
                    let wk = &p.weight[ch * k * k..(ch + 1) * k * k];
                    let bias = p.bias.as_ref().map_or(0.0, |b| b[ch]);
                    forward_plane(&geo, k, wk, bias, act, plane, scratch, out);
                },
            );
    };
    // SAFETY: every output row of every plane is copied from the accumulator.
    unsafe { written(x.len() / (h * w) * ho * wo, write) }
}

/// The input gradient from the output gradient `g`; with `mask`, `g` first goes through
/// the backward rule of the unit that followed the convolution, plane by plane as it is
/// read.
#[allow(clippy::too_many_arguments)]
pub(super) fn input_grad(
    p: &Conv2dParams,
    g: &[f32],
    mask: Option<UnitMask>,
    _n: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
) -> Vec<f32> {
    let c = p.out_channels;
    let k = p.kernel;
    let geo = Phases::new(p, h, w, ho, wo);
    let span = ho * geo.wq;
    if let Some(m) = &mask {
        assert_eq!(m.at.len(), g.len(), "the mask covers the gradient");
    }
    let write = |dx: &mut [MaybeUninit<f32>]| {
        dx.par_chunks_mut(h * w)
            .zip(g.par_chunks(ho * wo))
            .enumerate()
            .for_each_init(
                || vec![0f32; geo.scratch() + span],
                |scratch, (plane_idx, (dplane, gplane))| {
                    let ch = plane_idx % c;
                    let wk = &p.weight[ch * k * k..(ch + 1) * k * k];
                    let plane_mask = mask.map(|m| {
                        let at = &m.at[plane_idx * ho * wo..(plane_idx + 1) * ho * wo];
                        (m.kind, m.rule, at)
                    });
                    input_grad_plane(&geo, k, wk, gplane, plane_mask, scratch, dplane);
                },
            );
    };
    // SAFETY: `merge` writes every pixel of every plane.
    unsafe { written(g.len() / (ho * wo) * h * w, write) }
}

/// One output plane: split `plane` into its phases, then one multiply-add over the whole
/// plane per tap. Compiled for AVX2 as well, chosen at run time: the taps are long
/// element-wise loops that vectorise twice as wide (the sums are the same, element by
/// element, so both versions give identical values).
#[allow(clippy::too_many_arguments)]
#[multiversion(targets("x86_64+avx2+fma"))]
fn forward_plane(
    geo: &Phases,
    k: usize,
    wk: &[f32],
    bias: f32,
    act: Option<ActivationKind>,
    plane: &[f32],
    scratch: &mut [f32],
    out: &mut [MaybeUninit<f32>],
) {
    let span = out.len() / geo.wo * geo.wq;
    let (phases, acc) = scratch.split_at_mut(geo.scratch());
    let acc = &mut acc[..span];
    geo.split(plane, phases);
    acc.fill(bias);
    for ky in 0..k {
        for kx in 0..k {
            let wv = wk[ky * k + kx];
            let (ph, off) = geo.tap(ky, kx);
            let src = &phases[ph * geo.len + off..ph * geo.len + off + span];
            for (a, v) in acc.iter_mut().zip(src) {
                *a += wv * v;
            }
        }
    }
    for (dst, src) in out.chunks_exact_mut(geo.wo).zip(acc.chunks_exact(geo.wq)) {
        match act {
            None => copy(dst, &src[..geo.wo]),
            Some(kind) => kind.write(dst, &src[..geo.wo]),
        }
    }
}

/// One input-gradient plane: every tap scatters the zero-extended output gradient `gplane`
/// into the phases, which are then interleaved back into `dplane` (dispatched as
/// [`forward_plane`]).
#[multiversion(targets("x86_64+avx2+fma"))]
fn input_grad_plane(
    geo: &Phases,
    k: usize,
    wk: &[f32],
    gplane: &[f32],
    mask: Option<(ActivationKind, BackwardRule, &[f32])>,
    scratch: &mut [f32],
    dplane: &mut [MaybeUninit<f32>],
) {
    let span = gplane.len() / geo.wo * geo.wq;
    let (phases, grad) = scratch.split_at_mut(geo.scratch());
    let grad = &mut grad[..span];
    // The output gradient in the phases' row stride; the extra columns stay 0 so that what
    // they scatter adds nothing.
    grad.fill(0.0);
    let rows = grad
        .chunks_exact_mut(geo.wq)
        .zip(gplane.chunks_exact(geo.wo));
    match mask {
        None => rows.for_each(|(dst, src)| dst[..geo.wo].copy_from_slice(src)),
        Some((kind, rule, at)) => {
            for ((dst, src), x) in rows.zip(at.chunks_exact(geo.wo)) {
                masked_copy(kind, rule, x, src, &mut dst[..geo.wo]);
            }
        }
    }
    phases.fill(0.0);
    for ky in 0..k {
        for kx in 0..k {
            let wv = wk[ky * k + kx];
            let (ph, off) = geo.tap(ky, kx);
            let dst = &mut phases[ph * geo.len + off..ph * geo.len + off + span];
            for (d, v) in dst.iter_mut().zip(&*grad) {
                *d += wv * v;
            }
        }
    }
    geo.merge(phases, dplane);
}
