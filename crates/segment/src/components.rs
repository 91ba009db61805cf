//! Connected components of a mask and boxes around them, by breadth-first search.
//! imageproc's `connected_components` gives the same labels, order and ties (checked with
//! proptest on random masks, 2026-12-02) but took 1.57–1.62 ms against these 1.20–1.46 ms
//! for the boxes of a 224 × 224 mask, which MaxBoxAccV2 asks 100 times per image; so these
//! stay.
use ndarray::Array2;
use std::collections::VecDeque;

/// An axis-aligned box in pixel coordinates: columns `x0..=x1`, rows `y0..=y1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BoundingBox {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

impl BoundingBox {
    pub fn width(&self) -> u32 {
        self.x1 - self.x0 + 1
    }
    pub fn height(&self) -> u32 {
        self.y1 - self.y0 + 1
    }
}

/// The tight box around the true pixels of `mask`, if any.
pub fn bounding_box(mask: &Array2<bool>) -> Option<BoundingBox> {
    let mut b: Option<BoundingBox> = None;
    for ((y, x), &v) in mask.indexed_iter() {
        if v {
            let (x, y) = (x as u32, y as u32);
            b = Some(match b {
                None => BoundingBox {
                    x0: x,
                    y0: y,
                    x1: x,
                    y1: y,
                },
                Some(b) => BoundingBox {
                    x0: b.x0.min(x),
                    y0: b.y0.min(y),
                    x1: b.x1.max(x),
                    y1: b.y1.max(y),
                },
            });
        }
    }
    b
}

/// Boxes around every 8-connected component of `mask` (wsolevaluation's "all contours").
pub fn component_boxes(mask: &Array2<bool>) -> Vec<BoundingBox> {
    let (h, w) = mask.dim();
    let mut seen = Array2::from_elem((h, w), false);
    let mut out = Vec::new();
    let mut queue = VecDeque::new();
    for y in 0..h {
        for x in 0..w {
            if !mask[(y, x)] || seen[(y, x)] {
                continue;
            }
            seen[(y, x)] = true;
            queue.push_back((y, x));
            let mut b = BoundingBox {
                x0: x as u32,
                y0: y as u32,
                x1: x as u32,
                y1: y as u32,
            };
            while let Some((cy, cx)) = queue.pop_front() {
                b = BoundingBox {
                    x0: b.x0.min(cx as u32),
                    y0: b.y0.min(cy as u32),
                    x1: b.x1.max(cx as u32),
                    y1: b.y1.max(cy as u32),
                };
                for (ny, nx) in neighbours(cy, cx, h, w) {
                    if mask[(ny, nx)] && !seen[(ny, nx)] {
                        seen[(ny, nx)] = true;
                        queue.push_back((ny, nx));
                    }
                }
            }
            out.push(b);
        }
    }
    out
}

/// The in-bounds 8-neighbours of (y, x).
fn neighbours(y: usize, x: usize, h: usize, w: usize) -> impl Iterator<Item = (usize, usize)> {
    (-1i64..=1)
        .flat_map(move |dy| (-1i64..=1).map(move |dx| (dy, dx)))
        .filter_map(move |(dy, dx)| {
            let (ny, nx) = (y as i64 + dy, x as i64 + dx);
            ((dy, dx) != (0, 0) && ny >= 0 && nx >= 0 && ny < h as i64 && nx < w as i64)
                .then_some((ny as usize, nx as usize))
        })
}

/// The largest 8-connected component of `mask` (ties: the one found first in row order);
/// all false if the mask is empty.
pub fn largest_component(mask: &Array2<bool>) -> Array2<bool> {
    let (h, w) = mask.dim();
    let mut label = Array2::<u32>::zeros((h, w));
    let mut best = (0usize, 0u32);
    let mut next = 0u32;
    let mut queue = VecDeque::new();
    for y in 0..h {
        for x in 0..w {
            if !mask[(y, x)] || label[(y, x)] != 0 {
                continue;
            }
            next += 1;
            label[(y, x)] = next;
            queue.push_back((y, x));
            let mut size = 0usize;
            while let Some((cy, cx)) = queue.pop_front() {
                size += 1;
                for (ny, nx) in neighbours(cy, cx, h, w) {
                    if mask[(ny, nx)] && label[(ny, nx)] == 0 {
                        label[(ny, nx)] = next;
                        queue.push_back((ny, nx));
                    }
                }
            }
            if size > best.0 {
                best = (size, next);
            }
        }
    }
    label.mapv(|l| l != 0 && l == best.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagonal_neighbours_connect_and_the_largest_wins() {
        let m = Array2::from_shape_vec(
            (4, 5),
            vec![
                true, false, false, false, true, //
                false, true, false, false, true, //
                false, false, true, false, false, //
                false, false, false, false, false,
            ],
        )
        .unwrap();
        let c = largest_component(&m);
        assert_eq!(c.iter().filter(|v| **v).count(), 3);
        assert!(c[(0, 0)] && c[(2, 2)] && !c[(0, 4)]);
        assert_eq!(
            bounding_box(&c),
            Some(BoundingBox {
                x0: 0,
                y0: 0,
                x1: 2,
                y1: 2
            })
        );
        assert_eq!(bounding_box(&Array2::from_elem((2, 2), false)), None);
        let all = component_boxes(&m);
        assert_eq!(
            all,
            vec![
                BoundingBox {
                    x0: 0,
                    y0: 0,
                    x1: 2,
                    y1: 2
                },
                BoundingBox {
                    x0: 4,
                    y0: 0,
                    x1: 4,
                    y1: 1
                }
            ]
        );
    }
}
