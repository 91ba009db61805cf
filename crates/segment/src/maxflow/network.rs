//! What the search needs of a network, and what every network answers after a max-flow.
//! Two layouts implement it: [`FlowGraph`](super::FlowGraph) (any graph, arcs in adjacency
//! arrays) and [`GridGraph`](super::GridGraph) (an 8-connected pixel grid whose arcs are
//! found by arithmetic, not stored).
use super::Side;
use std::ops::Range;

/// What a max-flow changes and reports, whatever the layout: arc residuals (indexed by the
/// layout's arc ids) and their capacities before the flow, terminal capacities and residuals
/// per internal node, the flow value and the cut.
#[derive(Clone, Debug, Default)]
pub struct Residuals {
    pub(super) caps: Vec<f64>,
    /// Arc capacities before the flow, kept by layouts whose arc pairs may differ in
    /// capacity ([`FlowGraph`](super::FlowGraph)); empty for a grid, whose pairs are
    /// symmetric, so that a capacity is the mean of the two residuals of its pair.
    pub(super) original: Vec<f64>,
    pub(super) source: Vec<f64>,
    pub(super) sink: Vec<f64>,
    /// Residual terminal capacity: > 0 from the source, < 0 to the sink.
    pub(super) tr: Vec<f64>,
    pub(super) flow: f64,
    pub(super) side: Vec<Side>,
}

impl Residuals {
    /// Flow through s → u → t needs no search: `min(s, t)` is pushed at once and the rest
    /// kept as one signed residual.
    pub(super) fn new(caps: Vec<f64>, source: Vec<f64>, sink: Vec<f64>) -> Self {
        let mut flow = 0.0;
        let tr = source
            .iter()
            .zip(&sink)
            .map(|(&s, &t)| {
                flow += s.min(t);
                s - t
            })
            .collect();
        Residuals {
            original: Vec::new(),
            caps,
            source,
            sink,
            tr,
            flow,
            side: Vec::new(),
        }
    }

    /// [`new`](Self::new), keeping a copy of the arc capacities before the flow.
    pub(super) fn with_original(caps: Vec<f64>, source: Vec<f64>, sink: Vec<f64>) -> Self {
        Residuals {
            original: caps.clone(),
            ..Residuals::new(caps, source, sink)
        }
    }
}

pub(super) mod sealed {
    use super::*;

    /// The layout of a network as the search sees it: internal node ids, arcs out of a node,
    /// each arc's head and reverse. Arcs of the search are `usize` ids.
    pub trait Arcs {
        fn arcs_of(&self, p: usize) -> Range<usize>;
        fn head(&self, a: usize) -> usize;
        fn sister(&self, a: usize) -> usize;
        fn residuals(&self) -> &Residuals;
        fn residuals_mut(&mut self) -> &mut Residuals;
        /// The user's node count and the internal id of user node `u`, and back.
        fn nodes(&self) -> usize;
        fn internal(&self, u: usize) -> usize;
        fn external(&self, p: usize) -> Option<usize>;

        /// Internal nodes (a grid has a padding ring around the user's nodes).
        #[inline]
        fn internal_nodes(&self) -> usize {
            self.residuals().tr.len()
        }
        #[inline]
        fn cap(&self, a: usize) -> f64 {
            self.residuals().caps[a]
        }
        #[inline]
        fn cap_mut(&mut self, a: usize) -> &mut f64 {
            &mut self.residuals_mut().caps[a]
        }
        /// Capacity before the flow.
        fn original(&self, a: usize) -> f64 {
            self.residuals().original[a]
        }
    }
}

/// A flow network the Boykov–Kolmogorov search runs on, and its results. Node ids are the
/// user's (`0..nodes()`), whatever the layout stores inside.
pub trait Network: sealed::Arcs + Sized {
    /// Computes the maximum flow and the minimum cut; returns the flow value.
    fn maxflow(&mut self) -> f64 {
        super::bk::solve(self);
        self.residuals().flow
    }

    /// The max-flow value (valid after [`maxflow`](Self::maxflow)).
    fn flow(&self) -> f64 {
        self.residuals().flow
    }

    /// The side of the minimum cut user node `u` is on (valid after
    /// [`maxflow`](Self::maxflow)).
    fn side(&self, u: usize) -> Side {
        let side = &self.residuals().side;
        side.get(self.internal(u)).copied().unwrap_or(Side::Sink)
    }

    /// Arcs with a capacity in either direction as `(from, to, capacity, flow)`, one per
    /// direction of every edge.
    fn arc_flows(&self) -> Vec<(usize, usize, f64, f64)> {
        let mut out = Vec::new();
        for u in 0..self.nodes() {
            let p = self.internal(u);
            for a in self.arcs_of(p) {
                let Some(v) = self.external(self.head(a)) else {
                    continue;
                };
                let o = self.original(a);
                if o == 0.0 && self.original(self.sister(a)) == 0.0 {
                    continue;
                }
                out.push((u, v, o, o - self.cap(a)));
            }
        }
        out
    }

    /// Flow from the source into `u` and from `u` into the sink.
    fn terminal_flows(&self, u: usize) -> (f64, f64) {
        let (t, p) = (self.residuals(), self.internal(u));
        let r = t.tr[p];
        (t.source[p] - r.max(0.0), t.sink[p] - (-r).max(0.0))
    }

    /// Capacity of the cut that [`side`](Self::side) describes: source-side to sink-side
    /// arcs plus the terminal edges that the cut separates.
    fn cut_capacity(&self) -> f64 {
        let t = self.residuals();
        let mut c = 0.0;
        for u in 0..self.nodes() {
            let p = self.internal(u);
            match self.side(u) {
                Side::Source => {
                    c += t.sink[p];
                    for a in self.arcs_of(p) {
                        if self.external(self.head(a)).map(|v| self.side(v)) == Some(Side::Sink) {
                            c += self.original(a);
                        }
                    }
                }
                Side::Sink => c += t.source[p],
            }
        }
        c
    }
}
