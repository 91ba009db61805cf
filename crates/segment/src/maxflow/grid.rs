//! An 8-connected `w × h` pixel grid as a flow network, with no arc stored but its
//! capacity: arc `8·p + d` leaves node `p` in direction `d`, its head is `p + offset[d]` and
//! its reverse is arc `7 − d` of the head. A ring of padding nodes (no capacity in or
//! out) around the image keeps every head in range, so the search needs no border tests.
//! No head or reverse is stored per arc, so the parent walks of the search (augmenting
//! paths, adoption) need no arc lookups.
use super::bands;
use super::network::{sealed, Network, Residuals};
use rayon::prelude::*;
use std::ops::Range;

/// The eight neighbour offsets (dy, dx); direction `d` and `7 − d` are opposite.
pub(super) const DIRS: [(isize, isize); 8] = [
    (-1, -1),
    (-1, 0),
    (-1, 1),
    (0, -1),
    (0, 1),
    (1, -1),
    (1, 0),
    (1, 1),
];

/// Directions 4..8 point forward (right or down): each neighbour pair has one.
const FORWARD: [usize; 4] = [4, 5, 6, 7];

/// The user node next to `(y, x)` in direction `d`, if inside the `w × h` grid.
#[inline]
fn neighbour(w: usize, h: usize, y: usize, x: usize, d: usize) -> Option<usize> {
    let (ny, nx) = (y as isize + DIRS[d].0, x as isize + DIRS[d].1);
    (ny >= 0 && nx >= 0 && ny < h as isize && nx < w as isize)
        .then(|| ny as usize * w + nx as usize)
}

#[inline]
fn is_diagonal(d: usize) -> bool {
    DIRS[d].0 != 0 && DIRS[d].1 != 0
}

/// A grid network; build it with [`GridGraph::eight_connected`].
#[derive(Clone, Debug)]
pub struct GridGraph {
    w: usize,
    h: usize,
    /// Padded width `w + 2`.
    stride: usize,
    /// Node offset of each direction in the padded grid.
    offset: [isize; 8],
    residuals: Residuals,
}

impl GridGraph {
    /// A `w × h` 8-connected grid (user node `y·w + x`). `weight(p, q, diagonal)` is the
    /// symmetric capacity between neighbours `p` and `q`, asked once per pair; `source` and
    /// `sink` are the terminal capacities per node.
    pub fn eight_connected(
        w: usize,
        h: usize,
        mut weight: impl FnMut(usize, usize, bool) -> f64,
        source: &[f64],
        sink: &[f64],
    ) -> GridGraph {
        let forward: Vec<[f64; 4]> = (0..w * h)
            .map(|u| {
                let (y, x) = (u / w, u % w);
                std::array::from_fn(|i| {
                    let d = FORWARD[i];
                    neighbour(w, h, y, x, d).map_or(0.0, |v| weight(u, v, is_diagonal(d)))
                })
            })
            .collect();
        GridGraph::from_forward(w, h, &forward, source, sink)
    }

    /// A `w × h` 8-connected grid from each node's capacities towards its four forward
    /// neighbours (right, down-left, down, down-right: directions 4..8, in that order) and
    /// its terminal capacities; see [`pairwise`](Self::pairwise).
    pub fn from_forward(
        w: usize,
        h: usize,
        forward: &[[f64; 4]],
        source: &[f64],
        sink: &[f64],
    ) -> GridGraph {
        let mut g = GridGraph::pairwise(w, h, forward);
        g.set_terminals(source, sink);
        g
    }

    /// A `w × h` 8-connected grid with no terminal capacities yet, from each node's
    /// capacities towards its four forward neighbours (right, down-left, down, down-right:
    /// directions 4..8, in that order); an arc's reverse gets the same capacity. Entries
    /// that point out of the grid are ignored. The padded arrays are filled one row per
    /// rayon task. Built apart from the terminals because a segmentation knows its pairwise
    /// terms (from the image) before its unary terms (from the fitted colour models).
    pub fn pairwise(w: usize, h: usize, forward: &[[f64; 4]]) -> GridGraph {
        assert_eq!(forward.len(), w * h, "one forward quadruple per node");
        let stride = w + 2;
        let padded = stride * (h + 2);
        assert!(8 * padded < u32::MAX as usize - 4, "grid too large");
        let mut caps = vec![0.0; 8 * padded];
        // Padded row y + 1 holds image row y; the padding rows stay zero.
        caps.par_chunks_mut(8 * stride)
            .skip(1)
            .take(h)
            .enumerate()
            .for_each(|(y, row)| {
                for x in 0..w {
                    let (u, p) = (y * w + x, x + 1);
                    let arcs = &mut row[8 * p..8 * p + 8];
                    for d in 0..8 {
                        let Some(v) = neighbour(w, h, y, x, d) else {
                            continue;
                        };
                        // A backward arc carries the capacity its head gives the reverse.
                        arcs[d] = if d >= 4 {
                            forward[u][d - 4]
                        } else {
                            forward[v][3 - d]
                        };
                    }
                }
            });
        let zeros = vec![0.0; padded];
        GridGraph::from_residuals(w, h, Residuals::new(caps, zeros.clone(), zeros))
    }

    /// Sets the terminal capacities (source and sink, one per user node) of a grid that has
    /// not been solved yet.
    pub fn set_terminals(&mut self, source: &[f64], sink: &[f64]) {
        let n = self.w * self.h;
        assert!(
            source.len() == n && sink.len() == n,
            "one terminal capacity pair per node"
        );
        assert!(
            self.residuals.side.is_empty(),
            "terminal capacities are set before the max-flow"
        );
        let r = &mut self.residuals;
        r.flow = 0.0;
        for u in 0..n {
            let p = (u / self.w + 1) * self.stride + u % self.w + 1;
            let (s, t) = (source[u], sink[u]);
            (r.source[p], r.sink[p], r.tr[p]) = (s, t, s - t);
            r.flow += s.min(t);
        }
    }

    /// A `w × h` grid over residual arrays already laid out on its padded nodes.
    pub(super) fn from_residuals(w: usize, h: usize, residuals: Residuals) -> GridGraph {
        let stride = w + 2;
        GridGraph {
            w,
            h,
            stride,
            offset: DIRS.map(|(dy, dx)| dy * stride as isize + dx),
            residuals,
        }
    }

    /// Nodes per padded row.
    pub(super) fn stride(&self) -> usize {
        self.stride
    }

    pub fn width(&self) -> usize {
        self.w
    }

    pub fn height(&self) -> usize {
        self.h
    }
}

impl sealed::Arcs for GridGraph {
    #[inline]
    fn arcs_of(&self, p: usize) -> Range<usize> {
        8 * p..8 * p + 8
    }
    #[inline]
    fn head(&self, a: usize) -> usize {
        ((a >> 3) as isize + self.offset[a & 7]) as usize
    }
    #[inline]
    fn sister(&self, a: usize) -> usize {
        8 * self.head(a) + 7 - (a & 7)
    }
    #[inline]
    fn residuals(&self) -> &Residuals {
        &self.residuals
    }
    #[inline]
    fn residuals_mut(&mut self) -> &mut Residuals {
        &mut self.residuals
    }
    fn nodes(&self) -> usize {
        self.w * self.h
    }
    #[inline]
    fn internal(&self, u: usize) -> usize {
        (u / self.w + 1) * self.stride + u % self.w + 1
    }
    /// A grid's arc pairs have one capacity, and a flow moves as much from one residual of
    /// the pair to the other: the capacity is their mean.
    fn original(&self, a: usize) -> f64 {
        0.5 * (self.cap(a) + self.cap(self.sister(a)))
    }
    fn external(&self, p: usize) -> Option<usize> {
        let (y, x) = (p / self.stride, p % self.stride);
        (y >= 1 && y <= self.h && x >= 1 && x <= self.w).then(|| (y - 1) * self.w + x - 1)
    }
}

impl Network for GridGraph {
    /// Uses every thread of the current rayon pool on grids tall enough to split into row
    /// bands (see `bands`); the flow and the cut are those of the one-thread search.
    fn maxflow(&mut self) -> f64 {
        let bands = bands::band_count(self.h, rayon::current_num_threads());
        bands::solve_in_bands(self, bands);
        self.residuals.flow
    }
}

impl GridGraph {
    /// The max-flow found with exactly `bands` row bands (1: the plain one-thread search).
    /// For tests and measurements; [`Network::maxflow`] picks the count itself.
    pub fn maxflow_in_bands(&mut self, bands: usize) -> f64 {
        bands::solve_in_bands(self, bands.clamp(1, self.h.max(1)));
        self.residuals.flow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "before the max-flow")]
    fn terminals_are_set_before_the_cut() {
        // Two pixels joined by capacity 1; one tied to the source, one to the sink.
        let mut g = GridGraph::pairwise(2, 1, &[[1.0, 0.0, 0.0, 0.0], [0.0; 4]]);
        g.set_terminals(&[1.0, 0.0], &[0.0, 1.0]);
        assert_eq!(g.maxflow(), 1.0);
        g.set_terminals(&[0.0, 0.0], &[0.0, 0.0]);
    }
}
