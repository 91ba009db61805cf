//! Any graph: arcs in compressed adjacency arrays (each node's outgoing arcs contiguous,
//! each arc knowing its reverse), plus one terminal capacity per node stored as a single
//! signed residual (positive: from the source, negative: to the sink).
use super::network::{sealed, Network, Residuals};
use std::ops::Range;

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
        let mut arcs = vec![Arc { head: 0, sister: 0 }; m];
        let mut caps = vec![0f64; m];
        for &(u, v, c, rc) in &self.edges {
            let a = fill[u as usize];
            fill[u as usize] += 1;
            let b = fill[v as usize];
            fill[v as usize] += 1;
            arcs[a] = Arc {
                head: v,
                sister: b as u32,
            };
            arcs[b] = Arc {
                head: u,
                sister: a as u32,
            };
            (caps[a], caps[b]) = (c, rc);
        }
        FlowGraph {
            first: first.into_iter().map(|f| f as u32).collect(),
            arcs,
            residuals: Residuals::with_original(caps, self.source, self.sink),
        }
    }
}

/// One direction of an edge: its head and its reverse arc.
#[derive(Clone, Copy, Debug)]
struct Arc {
    head: u32,
    sister: u32,
}

/// A packed graph; [`Network::maxflow`] turns its capacities into residuals.
#[derive(Clone, Debug)]
pub struct FlowGraph {
    /// Node `u`'s arcs are `arcs[first[u]..first[u + 1]]`.
    first: Vec<u32>,
    arcs: Vec<Arc>,
    residuals: Residuals,
}

impl sealed::Arcs for FlowGraph {
    #[inline]
    fn arcs_of(&self, p: usize) -> Range<usize> {
        self.first[p] as usize..self.first[p + 1] as usize
    }
    #[inline]
    fn head(&self, a: usize) -> usize {
        self.arcs[a].head as usize
    }
    #[inline]
    fn sister(&self, a: usize) -> usize {
        self.arcs[a].sister as usize
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
        self.residuals.tr.len()
    }
    #[inline]
    fn internal(&self, u: usize) -> usize {
        u
    }
    fn external(&self, p: usize) -> Option<usize> {
        Some(p)
    }
}

impl Network for FlowGraph {}
