//! Properties of our Boykov–Kolmogorov max-flow on random graphs (general, and grids in both
//! the general and the compact grid layout): the flow value equals an independent Dinic's (petgraph) and the capacity of the returned cut,
//! flows respect capacities and are conserved at every node.
use petgraph::graph::DiGraph;
use proptest::prelude::*;
use segment::maxflow::{FlowGraph, GraphBuilder, GridGraph, Network, Side};

#[derive(Clone, Debug)]
struct Net {
    n: usize,
    edges: Vec<(usize, usize, f64, f64)>,
    terminals: Vec<(f64, f64)>,
}

fn build(net: &Net) -> FlowGraph {
    let mut b = GraphBuilder::new(net.n);
    for &(u, v, c, r) in &net.edges {
        b.add_edge(u, v, c, r);
    }
    for (u, &(s, t)) in net.terminals.iter().enumerate() {
        b.add_terminal(u, s, t);
    }
    b.build()
}

fn dinic(net: &Net) -> f64 {
    let mut g = DiGraph::<(), f64>::new();
    let nodes: Vec<_> = (0..net.n + 2).map(|_| g.add_node(())).collect();
    let (s, t) = (nodes[net.n], nodes[net.n + 1]);
    for &(u, v, c, r) in &net.edges {
        g.add_edge(nodes[u], nodes[v], c);
        g.add_edge(nodes[v], nodes[u], r);
    }
    for (u, &(a, b)) in net.terminals.iter().enumerate() {
        g.add_edge(s, nodes[u], a);
        g.add_edge(nodes[u], t, b);
    }
    petgraph::algo::dinics(&g, s, t).0
}

/// The same network in the compact grid layout (`net` from [`grid`]: node `y·w + x`).
fn build_grid(net: &Net, w: usize, h: usize) -> GridGraph {
    let caps: std::collections::HashMap<(usize, usize), f64> =
        net.edges.iter().map(|&(u, v, c, _)| ((u, v), c)).collect();
    let (source, sink): (Vec<f64>, Vec<f64>) = net.terminals.iter().copied().unzip();
    GridGraph::eight_connected(
        w,
        h,
        |p, q, _| caps.get(&(p, q)).copied().unwrap_or(0.0),
        &source,
        &sink,
    )
}

fn check(net: &Net, g: impl Network) -> Result<(), TestCaseError> {
    check_solved(net, g, |g| g.maxflow())
}

/// [`check`] with the max-flow found by `solve`.
fn check_solved<N: Network>(
    net: &Net,
    mut g: N,
    solve: impl FnOnce(&mut N) -> f64,
) -> Result<(), TestCaseError> {
    let flow = solve(&mut g);
    let reference = dinic(net);
    prop_assert!(
        (flow - reference).abs() < 1e-6,
        "BK {flow} vs Dinic {reference}"
    );
    prop_assert!(
        (g.cut_capacity() - flow).abs() < 1e-6,
        "cut {} vs flow {flow}",
        g.cut_capacity()
    );
    // Flows are antisymmetric on each arc pair (f(u→v) = −f(v→u)), so a node's net outflow
    // is the sum over its own arcs.
    let mut net_out = vec![0.0f64; net.n];
    for (u, v, cap, f) in g.arc_flows() {
        prop_assert!(
            f <= cap + 1e-9,
            "arc {u}->{v}: flow {f} above capacity {cap}"
        );
        net_out[u] += f;
    }
    let mut from_source = 0.0;
    for (u, out) in net_out.iter().enumerate() {
        let (fs, ft) = g.terminal_flows(u);
        prop_assert!(fs >= -1e-9 && fs <= net.terminals[u].0 + 1e-9);
        prop_assert!(ft >= -1e-9 && ft <= net.terminals[u].1 + 1e-9);
        // What comes in from the source leaves through arcs or to the sink.
        prop_assert!((fs - ft - out).abs() < 1e-6, "node {u} loses flow");
        from_source += fs;
    }
    prop_assert!((from_source - flow).abs() < 1e-6);
    // The source side of the cut is closed under residual arcs.
    for (u, v, cap, f) in g.arc_flows() {
        if g.side(u) == Side::Source && g.side(v) == Side::Sink {
            prop_assert!(cap - f < 1e-9, "residual arc {u}->{v} crosses the cut");
        }
    }
    Ok(())
}

fn general() -> impl Strategy<Value = Net> {
    (2usize..14).prop_flat_map(|n| {
        let edge = (0..n, 0..n, 0u32..20, 0u32..20).prop_filter("no loops", |(u, v, _, _)| u != v);
        (
            Just(n),
            prop::collection::vec(edge, 0..40),
            prop::collection::vec((0u32..25, 0u32..25), n),
        )
            .prop_map(|(n, e, t)| Net {
                n,
                edges: e
                    .into_iter()
                    .map(|(u, v, c, r)| (u, v, c as f64, r as f64))
                    .collect(),
                terminals: t.into_iter().map(|(a, b)| (a as f64, b as f64)).collect(),
            })
    })
}

/// Random 4- or 8-connected `w × h` grids (with their size), edges listed forward.
fn grid() -> impl Strategy<Value = ((usize, usize), Net)> {
    (1usize..7, 1usize..7, any::<bool>()).prop_flat_map(|(w, h, eight)| {
        let mut pairs = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let mut nb = vec![(0isize, 1isize), (1, 0)];
                if eight {
                    nb.extend([(1, 1), (1, -1)]);
                }
                for (dy, dx) in nb {
                    let (ny, nx) = (y as isize + dy, x as isize + dx);
                    if ny < h as isize && nx >= 0 && nx < w as isize {
                        pairs.push((y * w + x, ny as usize * w + nx as usize));
                    }
                }
            }
        }
        let m = pairs.len();
        (
            Just((w * h, pairs)),
            prop::collection::vec(0.0f64..10.0, m),
            prop::collection::vec((0.0f64..30.0, 0.0f64..30.0), w * h),
        )
            .prop_map(move |((n, pairs), caps, t)| {
                (
                    (w, h),
                    Net {
                        n,
                        edges: pairs
                            .into_iter()
                            .zip(caps)
                            .map(|((u, v), c)| (u, v, c, c))
                            .collect(),
                        terminals: t,
                    },
                )
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn general_graphs(net in general()) {
        check(&net, build(&net))?;
    }

    #[test]
    fn grid_graphs(((w, h), net) in grid()) {
        check(&net, build(&net))?;
        check(&net, build_grid(&net, w, h))?;
    }

    /// Bands solved apart and then merged give a maximum flow, and with integer
    /// capacities (exact arithmetic) exactly the cut of the one-band search.
    #[test]
    fn grid_graphs_in_bands(((w, h), net) in grid(), bands in 2usize..5) {
        check_solved(&net, build_grid(&net, w, h), |g| g.maxflow_in_bands(bands))?;
        let mut integral = net.clone();
        for e in &mut integral.edges {
            (e.2, e.3) = (e.2.floor(), e.3.floor());
        }
        for t in &mut integral.terminals {
            *t = (t.0.floor(), t.1.floor());
        }
        let (mut whole, mut banded) = (build_grid(&integral, w, h), build_grid(&integral, w, h));
        prop_assert_eq!(whole.maxflow_in_bands(1), banded.maxflow_in_bands(bands));
        for u in 0..w * h {
            prop_assert_eq!(whole.side(u), banded.side(u), "node {}", u);
        }
    }
}

#[test]
fn a_textbook_network() {
    // s→0 (10), s→1 (10), 0→1 (2), 0→2 (4), 0→3 (8), 1→3 (9), 3→2 (6), 2→t (10), 3→t (10): 19.
    let mut b = GraphBuilder::new(4);
    b.add_terminal(0, 10.0, 0.0);
    b.add_terminal(1, 10.0, 0.0);
    b.add_edge(0, 1, 2.0, 0.0);
    b.add_edge(0, 2, 4.0, 0.0);
    b.add_edge(0, 3, 8.0, 0.0);
    b.add_edge(1, 3, 9.0, 0.0);
    b.add_edge(3, 2, 6.0, 0.0);
    b.add_terminal(2, 0.0, 10.0);
    b.add_terminal(3, 0.0, 10.0);
    let mut g = b.build();
    assert_eq!(g.maxflow(), 19.0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// The direct grid constructor builds the same network as the general builder.
    #[test]
    fn grid8_equals_the_general_builder(
        (w, h) in (1usize..7, 1usize..7),
        seed in any::<u64>(),
    ) {
        let n = w * h;
        let val = |k: u64| ((seed.wrapping_mul(6364136223846793005).wrapping_add(k.wrapping_mul(1442695040888963407)) >> 33) % 1000) as f64 / 37.0;
        let weight = |p: usize, q: usize, diag: bool| val((p * 31 + q) as u64) * if diag { 0.5 } else { 1.0 };
        let source: Vec<f64> = (0..n).map(|u| val(10_000 + u as u64)).collect();
        let sink: Vec<f64> = (0..n).map(|u| val(20_000 + u as u64)).collect();
        let mut grid = GridGraph::eight_connected(w, h, weight, &source, &sink);
        let mut b = GraphBuilder::new(n);
        for y in 0..h {
            for x in 0..w {
                let p = y * w + x;
                for (dy, dx) in [(0isize, 1isize), (1, -1), (1, 0), (1, 1)] {
                    let (ny, nx) = (y as isize + dy, x as isize + dx);
                    if ny < h as isize && nx >= 0 && nx < w as isize {
                        let q = ny as usize * w + nx as usize;
                        let c = weight(p, q, dy != 0 && dx != 0);
                        b.add_edge(p, q, c, c);
                    }
                }
                b.add_terminal(p, source[p], sink[p]);
            }
        }
        let mut general = b.build();
        let (f1, f2) = (grid.maxflow(), general.maxflow());
        prop_assert!((f1 - f2).abs() < 1e-6, "grid {f1} vs general {f2}");
        prop_assert!((grid.cut_capacity() - f1).abs() < 1e-6);
    }
}
