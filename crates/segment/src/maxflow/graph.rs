//! The graph a max-flow runs on: arcs in compressed adjacency arrays (each node's outgoing
//! arcs contiguous, each arc knowing its reverse), plus one terminal capacity per node
//! stored as a single signed residual (positive: from the source, negative: to the sink).
use super::Side;

/// Collects nodes, edges and terminal capacities; [`build`](Self::build) packs them.
#[derive(Clone, Debug, Default)]
pub struct GraphBuilder {
    n: usize,
    edges: Vec<(u32, u32, f64, f64)>,
    source: Vec<f64>,
    sink: Vec<f64>,
}

impl GraphBuilder {
    /// A graph with `n` nodes and no edges.
    pub fn new(n: usize) -> Self {
        assert!(n < u32::MAX as usize - 4, "too many nodes");
        GraphBuilder {
            n,
            edges: Vec::new(),
            source: vec![0.0; n],
            sink: vec![0.0; n],
        }
    }

    pub fn with_edge_capacity(n: usize, edges: usize) -> Self {
        let mut b = Self::new(n);
        b.edges.reserve(edges);
        b
    }

    pub fn nodes(&self) -> usize {
        self.n
    }

    /// An edge `u → v` with capacity `cap` and `v → u` with `rev_cap` (both ≥ 0).
    pub fn add_edge(&mut self, u: usize, v: usize, cap: f64, rev_cap: f64) {
        assert!(
            u < self.n && v < self.n && u != v,
            "edge ({u}, {v}) in a graph of {} nodes",
            self.n
        );
        debug_assert!(cap >= 0.0 && rev_cap >= 0.0);
        self.edges.push((u as u32, v as u32, cap, rev_cap));
    }

    /// Adds capacity from the source to `u` and from `u` to the sink.
    pub fn add_terminal(&mut self, u: usize, source_cap: f64, sink_cap: f64) {
        self.source[u] += source_cap;
        self.sink[u] += sink_cap;
    }

    /// Packs the graph into adjacency arrays.
    pub fn build(self) -> FlowGraph {
        let n = self.n;
        let mut first = vec![0usize; n + 1];
        for &(u, v, _, _) in &self.edges {
            first[u as usize + 1] += 1;
            first[v as usize + 1] += 1;
        }
        for i in 0..n {
            first[i + 1] += first[i];
        }
        let m = first[n];
        let mut fill = first.clone();
        let mut arcs = vec![
            Arc {
                head: 0,
                sister: 0,
                cap: 0.0
            };
            m
        ];
        let mut original = vec![0f64; m];
        for &(u, v, c, rc) in &self.edges {
            let a = fill[u as usize];
            fill[u as usize] += 1;
            let b = fill[v as usize];
            fill[v as usize] += 1;
            arcs[a] = Arc {
                head: v,
                sister: b as u32,
                cap: c,
            };
            arcs[b] = Arc {
                head: u,
                sister: a as u32,
                cap: rc,
            };
            original[a] = c;
            original[b] = rc;
        }
        // Flow through s → u → t needs no search: push min(s, t) at once.
        let mut flow = 0.0;
        let tr: Vec<f64> = (0..n)
            .map(|u| {
                flow += self.source[u].min(self.sink[u]);
                self.source[u] - self.sink[u]
            })
            .collect();
        FlowGraph {
            first: first.into_iter().map(|f| f as u32).collect(),
            arcs,
            original,
            source: self.source,
            sink: self.sink,
            tr,
            flow,
            side: Vec::new(),
        }
    }
}

/// One direction of an edge. Head, reverse arc and residual capacity sit together: the
/// search reads all three at once, and one cache line beats three.
#[derive(Clone, Copy, Debug)]
pub(super) struct Arc {
    pub head: u32,
    pub sister: u32,
    pub cap: f64,
}

/// The eight neighbour offsets (dy, dx); direction `d` and `7 − d` are opposite.
const DIRS: [(isize, isize); 8] = [
    (-1, -1),
    (-1, 0),
    (-1, 1),
    (0, -1),
    (0, 1),
    (1, -1),
    (1, 0),
    (1, 1),
];

impl FlowGraph {
    /// A `w × h` 8-connected grid built straight into adjacency arrays (node `y·w + x`).
    /// `weight(p, q, diagonal)` is the symmetric capacity between neighbours `p` and `q`,
    /// asked once per pair; `source` and `sink` are the terminal capacities per node.
    pub fn grid8(
        w: usize,
        h: usize,
        mut weight: impl FnMut(usize, usize, bool) -> f64,
        source: &[f64],
        sink: &[f64],
    ) -> FlowGraph {
        let n = w * h;
        assert!(
            source.len() == n && sink.len() == n,
            "one terminal capacity per node"
        );
        let inside = |y: usize, x: usize, d: usize| {
            let (ny, nx) = (y as isize + DIRS[d].0, x as isize + DIRS[d].1);
            (ny >= 0 && nx >= 0 && ny < h as isize && nx < w as isize)
                .then(|| ny as usize * w + nx as usize)
        };
        // slot[p·8 + d]: index of p's arc in direction d.
        let mut first = Vec::with_capacity(n + 1);
        let mut slot = vec![u32::MAX; 8 * n];
        let mut m = 0u32;
        for y in 0..h {
            for x in 0..w {
                first.push(m);
                for d in 0..8 {
                    if inside(y, x, d).is_some() {
                        slot[(y * w + x) * 8 + d] = m;
                        m += 1;
                    }
                }
            }
        }
        first.push(m);
        let mut arcs = vec![
            Arc {
                head: 0,
                sister: 0,
                cap: 0.0
            };
            m as usize
        ];
        for y in 0..h {
            for x in 0..w {
                let p = y * w + x;
                // Directions 4..8 point forward (right or down): each pair is visited once.
                for d in 4..8 {
                    if let Some(q) = inside(y, x, d) {
                        let c = weight(p, q, DIRS[d].0 != 0 && DIRS[d].1 != 0);
                        let (a, b) = (slot[p * 8 + d], slot[q * 8 + 7 - d]);
                        arcs[a as usize] = Arc {
                            head: q as u32,
                            sister: b,
                            cap: c,
                        };
                        arcs[b as usize] = Arc {
                            head: p as u32,
                            sister: a,
                            cap: c,
                        };
                    }
                }
            }
        }
        let mut flow = 0.0;
        let tr = (0..n)
            .map(|u| {
                flow += source[u].min(sink[u]);
                source[u] - sink[u]
            })
            .collect();
        FlowGraph {
            original: arcs.iter().map(|a| a.cap).collect(),
            first,
            arcs,
            source: source.to_vec(),
            sink: sink.to_vec(),
            tr,
            flow,
            side: Vec::new(),
        }
    }
}

/// A packed graph; [`maxflow`](Self::maxflow) turns its capacities into residuals.
#[derive(Clone, Debug)]
pub struct FlowGraph {
    /// Node `u`'s arcs are `arcs[first[u]..first[u + 1]]`.
    pub(super) first: Vec<u32>,
    pub(super) arcs: Vec<Arc>,
    pub(super) original: Vec<f64>,
    pub(super) source: Vec<f64>,
    pub(super) sink: Vec<f64>,
    /// Residual terminal capacity: > 0 from the source, < 0 to the sink.
    pub(super) tr: Vec<f64>,
    pub(super) flow: f64,
    pub(super) side: Vec<Side>,
}

impl FlowGraph {
    pub fn nodes(&self) -> usize {
        self.tr.len()
    }

    /// The max-flow value (valid after [`maxflow`](Self::maxflow)).
    pub fn flow(&self) -> f64 {
        self.flow
    }

    /// The side of the minimum cut `u` is on (valid after [`maxflow`](Self::maxflow)).
    pub fn side(&self, u: usize) -> Side {
        self.side.get(u).copied().unwrap_or(Side::Sink)
    }

    /// Arcs as `(from, to, capacity, flow)`, one per direction of every edge.
    pub fn arc_flows(&self) -> Vec<(usize, usize, f64, f64)> {
        let mut out = Vec::with_capacity(self.arcs.len());
        for u in 0..self.nodes() {
            for a in self.first[u] as usize..self.first[u + 1] as usize {
                out.push((
                    u,
                    self.arcs[a].head as usize,
                    self.original[a],
                    self.original[a] - self.arcs[a].cap,
                ));
            }
        }
        out
    }

    /// Flow from the source into `u` and from `u` into the sink.
    pub fn terminal_flows(&self, u: usize) -> (f64, f64) {
        let r = self.tr[u];
        (self.source[u] - r.max(0.0), self.sink[u] - (-r).max(0.0))
    }

    /// Capacity of the cut that [`side`](Self::side) describes: source-side to sink-side arcs
    /// plus the terminal edges that the cut separates.
    pub fn cut_capacity(&self) -> f64 {
        let mut c = 0.0;
        for u in 0..self.nodes() {
            match self.side(u) {
                Side::Source => {
                    c += self.sink[u];
                    for a in self.first[u] as usize..self.first[u + 1] as usize {
                        if self.side(self.arcs[a].head as usize) == Side::Sink {
                            c += self.original[a];
                        }
                    }
                }
                Side::Sink => c += self.source[u],
            }
        }
        c
    }
}
