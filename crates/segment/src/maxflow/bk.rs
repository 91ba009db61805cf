//! The Boykov–Kolmogorov search: grow, augment, adopt — one generic implementation for
//! every network layout.
use super::network::sealed::Arcs;
use super::Side;
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

/// What the search keeps per node besides its [`Link`], together: growing and adopting
/// touch all of it at once. The link lives in an array of its own because the walks along
/// an augmenting path, which dominate the search on hard images (paths of hundreds of
/// nodes), read nothing else.
#[derive(Clone, Copy)]
struct Node {
    /// Timestamp of the last time `dist` was known to be exact.
    ts: u32,
    /// Distance to the terminal along parents (1 for a node attached to the terminal).
    dist: u32,
    tree: Tree,
    active: bool,
}

/// A node's attachment to its tree, read on every step of a walk up the tree.
#[derive(Clone, Copy)]
struct Link {
    /// The arc from the node to its parent (so its head is the parent), or a marker above.
    /// In the S tree flow runs parent → child, so the residual that keeps the node attached
    /// is on the reverse of `arc`; in the T tree it is on `arc`.
    arc: u32,
    /// The parent itself (the arc's head) when `arc` is a real arc: a walk up the tree then
    /// chases one load per step instead of a load and an arc-head computation (−25 % time
    /// on the dev images' graphs).
    node: u32,
}

/// One step of an augmenting path between a node and its parent, as the walk up the tree
/// found it: the update along the path then needs no arc arithmetic.
#[derive(Clone, Copy)]
struct Step {
    /// The arc the flow goes along, and its reverse.
    carry: u32,
    back: u32,
    /// The lower node of the step: it is orphaned if `carry` saturates.
    child: u32,
}

struct Search<'g, N: Arcs> {
    g: &'g mut N,
    /// Per node, how it hangs in its tree.
    link: Vec<Link>,
    node: Vec<Node>,
    time: u32,
    active: VecDeque<u32>,
    orphans: VecDeque<u32>,
    /// The current augmenting path's steps in each tree.
    path_s: Vec<Step>,
    path_t: Vec<Step>,
}

/// Computes the maximum flow of `g` (added to its terminal flow) and records the cut.
pub(super) fn solve<N: Arcs>(g: &mut N) {
    let n = g.internal_nodes();
    let mut link = vec![
        Link {
            arc: NO_PARENT,
            node: 0
        };
        n
    ];
    let mut node = vec![
        Node {
            ts: 0,
            dist: 0,
            tree: Tree::Free,
            active: false,
        };
        n
    ];
    let mut active = VecDeque::new();
    for (p, v) in node.iter_mut().enumerate() {
        let r = g.residuals().tr[p];
        if r != 0.0 {
            link[p].arc = TERMINAL;
            *v = Node {
                ts: 0,
                dist: 1,
                tree: if r > 0.0 { Tree::S } else { Tree::T },
                active: true,
            };
            active.push_back(p as u32);
        }
    }
    let mut s = Search {
        g,
        link,
        node,
        time: 0,
        active,
        orphans: VecDeque::new(),
        path_s: Vec::new(),
        path_t: Vec::new(),
    };
    while let Some(meet) = s.grow() {
        s.time += 1;
        s.augment(meet);
        while let Some(p) = s.orphans.pop_front() {
            s.adopt(p as usize);
        }
    }
    let side = s
        .node
        .iter()
        .map(|v| {
            if v.tree == Tree::S {
                Side::Source
            } else {
                Side::Sink
            }
        })
        .collect();
    s.g.residuals_mut().side = side;
}

impl<N: Arcs> Search<'_, N> {
    #[inline]
    fn activate(&mut self, p: usize) {
        if !self.node[p].active {
            self.node[p].active = true;
            self.active.push_back(p as u32);
        }
    }

    /// Hangs `q` from `parent` by `arc` (whose head `parent` is).
    #[inline]
    fn attach(&mut self, q: usize, arc: usize, parent: usize) {
        self.link[q] = Link {
            arc: arc as u32,
            node: parent as u32,
        };
    }

    /// Makes `p` an orphan to be adopted after those already waiting.
    #[inline]
    fn orphan(&mut self, p: usize) {
        self.link[p].arc = ORPHAN;
        self.orphans.push_back(p as u32);
    }

    /// Makes `p` an orphan to be adopted before every other. An augmentation orphans nodes
    /// from the meeting point towards the root; taking the last (nearest the root) first
    /// lets it find a parent before the orphans below it look for paths through it
    /// (Kolmogorov's implementation does the same).
    #[inline]
    fn orphan_first(&mut self, p: usize) {
        self.link[p].arc = ORPHAN;
        self.orphans.push_front(p as u32);
    }

    /// Residual capacity that lets `tree` extend along arc `a` (from a tree node outward).
    #[inline]
    fn outward(&self, tree: Tree, a: usize) -> f64 {
        match tree {
            Tree::S => self.g.cap(a),
            _ => self.g.cap(self.g.sister(a)),
        }
    }

    /// Residual capacity that lets a `tree` node keep (or take) the neighbour across arc `a`
    /// as its parent: the reverse direction of [`outward`](Self::outward).
    #[inline]
    fn inward(&self, tree: Tree, a: usize) -> f64 {
        match tree {
            Tree::S => self.g.cap(self.g.sister(a)),
            _ => self.g.cap(a),
        }
    }

    /// Grows the trees from active nodes until they touch. Returns the arc from an S-tree
    /// node to a T-tree node with residual capacity, or `None` when no active node is left.
    fn grow(&mut self) -> Option<usize> {
        while let Some(&p) = self.active.front() {
            let pu = p as usize;
            let np = self.node[pu];
            if np.tree == Tree::Free {
                self.active.pop_front();
                self.node[pu].active = false;
                continue;
            }
            for a in self.g.arcs_of(pu) {
                if self.outward(np.tree, a) <= 0.0 {
                    continue;
                }
                let q = self.g.head(a);
                let nq = self.node[q];
                if nq.tree == Tree::Free {
                    self.attach(q, self.g.sister(a), pu);
                    self.node[q] = Node {
                        ts: np.ts,
                        dist: np.dist + 1,
                        tree: np.tree,
                        active: nq.active,
                    };
                    self.activate(q);
                } else if nq.tree != np.tree {
                    // The trees touch: p stays active for the next round.
                    return Some(if np.tree == Tree::S {
                        a
                    } else {
                        self.g.sister(a)
                    });
                } else if nq.ts <= np.ts && nq.dist > np.dist {
                    // Same tree: take p as the parent if that shortens q's path.
                    self.attach(q, self.g.sister(a), pu);
                    let v = &mut self.node[q];
                    v.ts = np.ts;
                    v.dist = np.dist + 1;
                }
            }
            self.active.pop_front();
            self.node[pu].active = false;
        }
        None
    }

    /// Pushes the bottleneck flow along source → … → x → y → … → sink, where `meet` is x → y.
    /// Each half of the path is collected in one walk up its tree, so the update reads a
    /// list instead of chasing parents again.
    fn augment(&mut self, meet: usize) {
        let (x, y) = (self.g.head(self.g.sister(meet)), self.g.head(meet));
        let mut path_s = std::mem::take(&mut self.path_s);
        let mut path_t = std::mem::take(&mut self.path_t);
        let (root_s, bs) = self.walk(x, Tree::S, &mut path_s);
        let (root_t, bt) = self.walk(y, Tree::T, &mut path_t);
        let b = self.g.cap(meet).min(bs).min(bt);
        let sister = self.g.sister(meet);
        *self.g.cap_mut(meet) -= b;
        *self.g.cap_mut(sister) += b;
        self.push(root_s, &path_s, -b);
        self.push(root_t, &path_t, b);
        (self.path_s, self.path_t) = (path_s, path_t);
        self.g.residuals_mut().flow += b;
    }

    /// Walks from `start` up to its tree's terminal, listing the steps (in the S tree flow
    /// runs parent → child, in the T tree child → parent). Returns the root and the smallest
    /// residual on the way, terminal edge included.
    fn walk(&self, start: usize, tree: Tree, path: &mut Vec<Step>) -> (usize, f64) {
        let g = &*self.g;
        path.clear();
        let mut b = f64::INFINITY;
        let mut i = start;
        while self.link[i].arc != TERMINAL {
            let up = self.link[i].arc as usize;
            let (carry, back) = if tree == Tree::S {
                (g.sister(up), up)
            } else {
                (up, g.sister(up))
            };
            b = b.min(g.cap(carry));
            path.push(Step {
                carry: carry as u32,
                back: back as u32,
                child: i as u32,
            });
            i = self.link[i].node as usize;
        }
        let tr = g.residuals().tr[i];
        (i, b.min(if tree == Tree::S { tr } else { -tr }))
    }

    /// Sends the flow along a path from [`walk`](Self::walk); `signed` is the change of the
    /// root's terminal residual (−b in the S tree, +b in the T tree). A step that saturates
    /// makes its child an orphan; a saturated terminal edge makes the root one.
    fn push(&mut self, root: usize, path: &[Step], signed: f64) {
        let b = signed.abs();
        for step in path {
            *self.g.cap_mut(step.back as usize) += b;
            let c = self.g.cap_mut(step.carry as usize);
            *c -= b;
            if *c <= 0.0 {
                *c = 0.0;
                self.orphan_first(step.child as usize);
            }
        }
        let tr = &mut self.g.residuals_mut().tr[root];
        *tr += signed;
        if *tr * signed.signum() >= 0.0 {
            *tr = 0.0;
            self.orphan_first(root);
        }
    }

    /// Distance from `q` to its terminal along parents, or `None` if the path meets an orphan.
    /// Marks the nodes on a valid path with the current time and their exact distances.
    fn origin_distance(&mut self, q: usize) -> Option<u32> {
        let mut d = 0u32;
        let mut j = q;
        loop {
            let v = self.node[j];
            if v.ts == self.time {
                d += v.dist;
                break;
            }
            d += 1;
            match self.link[j].arc {
                TERMINAL => break,
                ORPHAN | NO_PARENT => return None,
                _ => j = self.link[j].node as usize,
            }
        }
        let mut j = q;
        let mut dd = d;
        while self.node[j].ts != self.time {
            let v = &mut self.node[j];
            v.ts = self.time;
            v.dist = dd;
            dd -= 1;
            match self.link[j].arc {
                TERMINAL => break,
                _ => j = self.link[j].node as usize,
            }
        }
        Some(d)
    }

    /// Finds a new parent for orphan `p` in its own tree, or frees it.
    fn adopt(&mut self, p: usize) {
        let tp = self.node[p].tree;
        let mut best: Option<(usize, u32)> = None;
        for a in self.g.arcs_of(p) {
            let q = self.g.head(a);
            // The arc that would carry flow between q (parent) and p (child).
            if self.node[q].tree != tp || self.inward(tp, a) <= 0.0 {
                continue;
            }
            if let Some(d) = self.origin_distance(q) {
                if best.is_none_or(|(_, bd)| d < bd) {
                    best = Some((a, d));
                }
            }
        }
        if let Some((a, d)) = best {
            self.attach(p, a, self.g.head(a));
            let v = &mut self.node[p];
            v.ts = self.time;
            v.dist = d + 1;
            return;
        }
        // No parent: p leaves its tree. Neighbours that could reach it become active again,
        // and its children become orphans.
        for a in self.g.arcs_of(p) {
            let q = self.g.head(a);
            if self.node[q].tree != tp {
                continue;
            }
            if self.inward(tp, a) > 0.0 {
                self.activate(q);
            }
            let qp = self.link[q].arc;
            if qp != TERMINAL && qp != ORPHAN && qp != NO_PARENT && self.link[q].node as usize == p
            {
                self.orphan(q);
            }
        }
        self.node[p].tree = Tree::Free;
        self.link[p].arc = NO_PARENT;
    }
}
