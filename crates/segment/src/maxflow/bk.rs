//! The Boykov–Kolmogorov search: grow, augment, adopt.
use super::{FlowGraph, Side};
use std::collections::VecDeque;

const NO_PARENT: u32 = u32::MAX;
const TERMINAL: u32 = u32::MAX - 1;
const ORPHAN: u32 = u32::MAX - 2;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tree {
    Free,
    S,
    T,
}

/// Search state. `parent[p]` is the arc from `p` to its parent (so its head is the parent),
/// or one of the markers above. In the S tree flow runs parent → child, so the residual that
/// keeps `p` attached is on the reverse of `parent[p]`; in the T tree it is on `parent[p]`.
struct Search<'g> {
    g: &'g mut FlowGraph,
    tree: Vec<Tree>,
    parent: Vec<u32>,
    /// Timestamp of the last time `dist` was known to be exact.
    ts: Vec<u32>,
    /// Distance to the terminal along parents (1 for a node attached to the terminal).
    dist: Vec<u32>,
    time: u32,
    active: VecDeque<u32>,
    is_active: Vec<bool>,
    orphans: VecDeque<u32>,
}

impl FlowGraph {
    /// Computes the maximum flow and the minimum cut; returns the flow value.
    pub fn maxflow(&mut self) -> f64 {
        let n = self.nodes();
        let mut s = Search {
            tree: vec![Tree::Free; n],
            parent: vec![NO_PARENT; n],
            ts: vec![0; n],
            dist: vec![0; n],
            time: 0,
            active: VecDeque::new(),
            is_active: vec![false; n],
            orphans: VecDeque::new(),
            g: self,
        };
        for p in 0..n {
            let r = s.g.tr[p];
            if r != 0.0 {
                s.tree[p] = if r > 0.0 { Tree::S } else { Tree::T };
                s.parent[p] = TERMINAL;
                s.dist[p] = 1;
                s.activate(p as u32);
            }
        }
        while let Some(meet) = s.grow() {
            s.time += 1;
            s.augment(meet);
            while let Some(p) = s.orphans.pop_front() {
                s.adopt(p);
            }
        }
        let side = s
            .tree
            .iter()
            .map(|t| {
                if *t == Tree::S {
                    Side::Source
                } else {
                    Side::Sink
                }
            })
            .collect();
        self.side = side;
        self.flow
    }
}

impl Search<'_> {
    fn activate(&mut self, p: u32) {
        if !self.is_active[p as usize] {
            self.is_active[p as usize] = true;
            self.active.push_back(p);
        }
    }

    /// Residual capacity that lets `tree` extend along arc `a` (from a tree node outward).
    #[inline]
    fn outward(&self, tree: Tree, a: usize) -> f64 {
        match tree {
            Tree::S => self.g.arcs[a].cap,
            _ => self.g.arcs[self.g.arcs[a].sister as usize].cap,
        }
    }

    /// Residual capacity that lets a `tree` node keep (or take) the neighbour across arc `a`
    /// as its parent: the reverse direction of [`outward`](Self::outward).
    #[inline]
    fn inward(&self, tree: Tree, a: usize) -> f64 {
        match tree {
            Tree::S => self.g.arcs[self.g.arcs[a].sister as usize].cap,
            _ => self.g.arcs[a].cap,
        }
    }

    /// Grows the trees from active nodes until they touch. Returns the arc from an S-tree
    /// node to a T-tree node with residual capacity, or `None` when no active node is left.
    fn grow(&mut self) -> Option<usize> {
        while let Some(&p) = self.active.front() {
            let pu = p as usize;
            let tp = self.tree[pu];
            if tp == Tree::Free {
                self.active.pop_front();
                self.is_active[pu] = false;
                continue;
            }
            for a in self.g.first[pu] as usize..self.g.first[pu + 1] as usize {
                if self.outward(tp, a) <= 0.0 {
                    continue;
                }
                let q = self.g.arcs[a].head as usize;
                match self.tree[q] {
                    Tree::Free => {
                        self.tree[q] = tp;
                        self.parent[q] = self.g.arcs[a].sister;
                        self.ts[q] = self.ts[pu];
                        self.dist[q] = self.dist[pu] + 1;
                        self.activate(q as u32);
                    }
                    tq if tq != tp => {
                        // The trees touch: p stays active for the next round.
                        return Some(if tp == Tree::S {
                            a
                        } else {
                            self.g.arcs[a].sister as usize
                        });
                    }
                    _ => {
                        // Same tree: take p as the parent if that shortens q's path.
                        if self.ts[q] <= self.ts[pu] && self.dist[q] > self.dist[pu] {
                            self.parent[q] = self.g.arcs[a].sister;
                            self.ts[q] = self.ts[pu];
                            self.dist[q] = self.dist[pu] + 1;
                        }
                    }
                }
            }
            self.active.pop_front();
            self.is_active[pu] = false;
        }
        None
    }

    /// Pushes the bottleneck flow along source → … → x → y → … → sink, where `meet` is x → y.
    fn augment(&mut self, meet: usize) {
        let g = &*self.g;
        let arcs = &g.arcs;
        let x = arcs[arcs[meet].sister as usize].head as usize;
        let y = arcs[meet].head as usize;
        let mut b = arcs[meet].cap;
        let mut i = x;
        while self.parent[i] != TERMINAL {
            let up = &arcs[self.parent[i] as usize];
            b = b.min(arcs[up.sister as usize].cap);
            i = up.head as usize;
        }
        b = b.min(g.tr[i]);
        let mut i = y;
        while self.parent[i] != TERMINAL {
            let up = &arcs[self.parent[i] as usize];
            b = b.min(up.cap);
            i = up.head as usize;
        }
        b = b.min(-g.tr[i]);

        let g = &mut *self.g;
        let sister = g.arcs[meet].sister as usize;
        g.arcs[meet].cap -= b;
        g.arcs[sister].cap += b;
        // Source side: flow runs parent → child.
        let mut i = x;
        loop {
            let up = self.parent[i];
            if up == TERMINAL {
                g.tr[i] -= b;
                if g.tr[i] <= 0.0 {
                    g.tr[i] = 0.0;
                    self.parent[i] = ORPHAN;
                    self.orphans.push_back(i as u32);
                }
                break;
            }
            let up = up as usize;
            let (down, next) = (g.arcs[up].sister as usize, g.arcs[up].head as usize);
            g.arcs[up].cap += b;
            g.arcs[down].cap -= b;
            if g.arcs[down].cap <= 0.0 {
                g.arcs[down].cap = 0.0;
                self.parent[i] = ORPHAN;
                self.orphans.push_back(i as u32);
            }
            i = next;
        }
        // Sink side: flow runs child → parent.
        let mut i = y;
        loop {
            let up = self.parent[i];
            if up == TERMINAL {
                g.tr[i] += b;
                if g.tr[i] >= 0.0 {
                    g.tr[i] = 0.0;
                    self.parent[i] = ORPHAN;
                    self.orphans.push_back(i as u32);
                }
                break;
            }
            let up = up as usize;
            let (back, next) = (g.arcs[up].sister as usize, g.arcs[up].head as usize);
            g.arcs[up].cap -= b;
            g.arcs[back].cap += b;
            if g.arcs[up].cap <= 0.0 {
                g.arcs[up].cap = 0.0;
                self.parent[i] = ORPHAN;
                self.orphans.push_back(i as u32);
            }
            i = next;
        }
        g.flow += b;
    }

    /// Distance from `q` to its terminal along parents, or `None` if the path meets an orphan.
    /// Marks the nodes on a valid path with the current time and their exact distances.
    fn origin_distance(&mut self, q: usize) -> Option<u32> {
        let mut d = 0u32;
        let mut j = q;
        loop {
            if self.ts[j] == self.time {
                d += self.dist[j];
                break;
            }
            d += 1;
            match self.parent[j] {
                TERMINAL => break,
                ORPHAN | NO_PARENT => return None,
                a => j = self.g.arcs[a as usize].head as usize,
            }
        }
        let mut j = q;
        let mut dd = d;
        while self.ts[j] != self.time {
            self.ts[j] = self.time;
            self.dist[j] = dd;
            dd -= 1;
            match self.parent[j] {
                TERMINAL => break,
                a => j = self.g.arcs[a as usize].head as usize,
            }
        }
        Some(d)
    }

    /// Finds a new parent for orphan `p` in its own tree, or frees it.
    fn adopt(&mut self, p: u32) {
        let pu = p as usize;
        let tp = self.tree[pu];
        let mut best: Option<(usize, u32)> = None;
        for a in self.g.first[pu] as usize..self.g.first[pu + 1] as usize {
            let q = self.g.arcs[a].head as usize;
            if self.tree[q] != tp {
                continue;
            }
            // The arc that would carry flow between q (parent) and p (child).
            if self.inward(tp, a) <= 0.0 {
                continue;
            }
            if let Some(d) = self.origin_distance(q) {
                if best.is_none_or(|(_, bd)| d < bd) {
                    best = Some((a, d));
                }
            }
        }
        if let Some((a, d)) = best {
            self.parent[pu] = a as u32;
            self.ts[pu] = self.time;
            self.dist[pu] = d + 1;
            return;
        }
        // No parent: p leaves its tree. Neighbours that could reach it become active again,
        // and its children become orphans.
        for a in self.g.first[pu] as usize..self.g.first[pu + 1] as usize {
            let q = self.g.arcs[a].head as usize;
            if self.tree[q] != tp {
                continue;
            }
            if self.inward(tp, a) > 0.0 {
                self.activate(q as u32);
            }
            let qp = self.parent[q];
            if qp != TERMINAL
                && qp != ORPHAN
                && qp != NO_PARENT
                && self.g.arcs[qp as usize].head == p
            {
                self.parent[q] = ORPHAN;
                self.orphans.push_back(q as u32);
            }
        }
        self.tree[pu] = Tree::Free;
        self.parent[pu] = NO_PARENT;
    }
}
