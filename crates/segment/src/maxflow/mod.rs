//! Maximum flow / minimum cut by the Boykov–Kolmogorov augmenting-path algorithm
//! ("An Experimental Comparison of Min-Cut/Max-Flow Algorithms for Energy Minimization in
//! Vision", PAMI 2004), written from the paper: two search trees grown from the source and
//! the sink, augmentation when they touch, and adoption of the orphans an augmentation
//! creates, with the paper's distance/timestamp heuristic for choosing new parents.
//! Works on any graph ([`GraphBuilder`] packs one into [`FlowGraph`]); pixel grids have
//! their own compact layout, [`GridGraph`]. Both answer through the [`Network`] trait.
mod bands;
mod bk;
mod graph;
mod grid;
mod network;

pub use graph::{FlowGraph, GraphBuilder};
pub use grid::GridGraph;
pub use network::Network;

/// Which side of the minimum cut a node is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Reachable from the source in the residual graph.
    Source,
    Sink,
}
