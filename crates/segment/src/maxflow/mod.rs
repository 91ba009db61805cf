//! Maximum flow / minimum cut by the Boykov–Kolmogorov augmenting-path algorithm
//! ("An Experimental Comparison of Min-Cut/Max-Flow Algorithms for Energy Minimization in
//! Vision", PAMI 2004), written from the paper: two search trees grown from the source and
//! the sink, augmentation when they touch, and adoption of the orphans an augmentation
//! creates, with the paper's distance/timestamp heuristic for choosing new parents.
//! Works on any graph; [`GraphBuilder`] makes the compact adjacency arrays it runs on.
mod bk;
mod graph;

pub use graph::{FlowGraph, GraphBuilder};

/// Which side of the minimum cut a node is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Reachable from the source in the residual graph.
    Source,
    Sink,
}
