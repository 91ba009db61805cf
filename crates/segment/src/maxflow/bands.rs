//! Max-flow on a grid using every core: the rows are split into bands, each band's max-flow
//! is found on its own thread with the arcs between bands held at zero, and one search on
//! the whole grid then finishes from the bands' residuals (Liu & Sun, "Parallel graph-cuts
//! by adaptive bottom-up merging", CVPR 2010, with a fresh search instead of reused trees).
//!
//! Why it is exact: a band's flow is a feasible flow of the whole network (the arcs between
//! bands carry none), and the final search augments from any feasible flow to a maximum one.
//! The flow value of a network is unique, and so is the cut the search reports (the nodes
//! reachable from the source in the final residual network), so bands change neither, only
//! the order of the floating-point additions.
use super::bk;
use super::grid::GridGraph;
use super::network::{sealed::Arcs, Residuals};
use rayon::prelude::*;

/// Fewer rows than this per band are not worth a thread.
const MIN_BAND_ROWS: usize = 32;

/// How many bands an `h`-row grid is split into when `threads` threads are available.
pub(super) fn band_count(h: usize, threads: usize) -> usize {
    threads.min(h / MIN_BAND_ROWS).max(1)
}

/// One band's rows of the whole grid's residual arrays (padded rows, contiguous), and
/// whether it has a band above and below.
struct Band<'a> {
    rows: usize,
    above: bool,
    below: bool,
    caps: &'a mut [f64],
    tr: &'a mut [f64],
}

/// Solves `g` in `bands` row bands, then whole; adds the flow to `g`'s and records the cut.
pub(super) fn solve_in_bands(g: &mut GridGraph, bands: usize) {
    let (w, h, stride) = (g.width(), g.height(), g.stride());
    if bands > 1 {
        let bounds: Vec<usize> = (0..=bands).map(|i| i * h / bands).collect();
        let residuals = g.residuals_mut();
        // Skip the top padding row; each band then takes its rows in turn.
        let (_, mut caps) = residuals.caps.split_at_mut(8 * stride);
        let (_, mut tr) = residuals.tr.split_at_mut(stride);
        let mut parts = Vec::with_capacity(bands);
        for i in 0..bands {
            let rows = bounds[i + 1] - bounds[i];
            let (c, rest) = std::mem::take(&mut caps).split_at_mut(8 * rows * stride);
            let (t, rest_t) = std::mem::take(&mut tr).split_at_mut(rows * stride);
            (caps, tr) = (rest, rest_t);
            parts.push(Band {
                rows,
                above: i > 0,
                below: i + 1 < bands,
                caps: c,
                tr: t,
            });
        }
        let flow: f64 = parts
            .into_par_iter()
            .map(|band| solve_band(w, stride, band))
            .sum();
        g.residuals_mut().flow += flow;
    }
    bk::solve(g);
}

/// Arcs of a band's top row that lead up (directions 0..3) and of its bottom row that lead
/// down (5..8), as offsets into the band's own padded arrays.
fn crossing_arcs(w: usize, stride: usize, band: &Band) -> Vec<usize> {
    let mut arcs = Vec::new();
    for x in 1..=w {
        if band.above {
            let p = stride + x;
            arcs.extend((0..3).map(|d| 8 * p + d));
        }
        if band.below {
            let p = band.rows * stride + x;
            arcs.extend((5..8).map(|d| 8 * p + d));
        }
    }
    arcs
}

/// Finds the max-flow of one band alone and writes its residuals back; returns its flow.
fn solve_band(w: usize, stride: usize, band: Band) -> f64 {
    let nodes = stride * (band.rows + 2);
    let mut caps = vec![0.0; 8 * nodes];
    let mut tr = vec![0.0; nodes];
    let inner = stride..stride * (band.rows + 1);
    caps[8 * inner.start..8 * inner.end].copy_from_slice(band.caps);
    tr[inner.clone()].copy_from_slice(band.tr);
    let crossing = crossing_arcs(w, stride, &band);
    for &a in &crossing {
        caps[a] = 0.0;
    }
    let residuals = Residuals {
        caps,
        tr,
        ..Residuals::default()
    };
    let mut sub = GridGraph::from_residuals(w, band.rows, residuals);
    bk::solve(&mut sub);
    let r = sub.residuals_mut();
    // The arcs between bands carried nothing: they keep the whole grid's values.
    for &a in &crossing {
        r.caps[a] = band.caps[a - 8 * stride];
    }
    band.caps
        .copy_from_slice(&r.caps[8 * inner.start..8 * inner.end]);
    band.tr.copy_from_slice(&r.tr[inner]);
    r.flow
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_grids_stay_whole_and_large_ones_use_the_threads() {
        assert_eq!(band_count(40, 2), 1);
        assert_eq!(band_count(64, 2), 2);
        assert_eq!(band_count(224, 2), 2);
        assert_eq!(band_count(224, 16), 7);
        assert_eq!(band_count(224, 1), 1);
    }
}
