//! Buffers without the zeroing of `vec![0.0; n]`.
//!
//! The CLI's allocator keeps freed memory instead of returning it to the system, so a
//! fresh `vec![0.0; n]` is a memset of memory that a convolution then overwrites in full.
//! On ResNet passes those memsets were 5–7 % of the time. Outputs that a kernel writes in
//! full are therefore allocated uninitialised ([`written`]), and scratch buffers that are
//! written before they are read are kept by each thread between calls ([`Scratch`]).
use std::cell::Cell;
use std::mem::MaybeUninit;

/// A vector of `len` floats whose every element `write` sets.
///
/// # Safety
/// `write` must initialise every element of the slice it is given.
pub(crate) unsafe fn written(len: usize, write: impl FnOnce(&mut [MaybeUninit<f32>])) -> Vec<f32> {
    let mut v = Vec::with_capacity(len);
    write(&mut v.spare_capacity_mut()[..len]);
    // SAFETY: the capacity is at least `len` and the caller has initialised all of it.
    unsafe { v.set_len(len) };
    v
}

/// Sets every element of `s` to `value` and returns it as initialised floats.
pub(crate) fn fill(s: &mut [MaybeUninit<f32>], value: f32) -> &mut [f32] {
    for d in s.iter_mut() {
        d.write(value);
    }
    // SAFETY: every element was written just above.
    unsafe { assume_init(s) }
}

/// Copies `src` into `dst`, which has the same length.
pub(crate) fn copy(dst: &mut [MaybeUninit<f32>], src: &[f32]) {
    assert_eq!(dst.len(), src.len());
    for (d, s) in dst.iter_mut().zip(src) {
        d.write(*s);
    }
}

/// `s` as initialised floats.
///
/// # Safety
/// Every element of `s` must have been written.
pub(crate) unsafe fn assume_init(s: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    // SAFETY: `MaybeUninit<f32>` has the layout of `f32`, and the caller guarantees that
    // every element is initialised.
    unsafe { &mut *(s as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

thread_local! {
    static SCRATCH: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// A buffer kept by each thread between calls, for values that are written before they
/// are read (im2col columns, Winograd transforms). The price is that a thread keeps the
/// largest buffer it needed (tens of MB for VGG's first layers at 224 × 224).
pub(crate) struct Scratch(Vec<f32>);

impl Scratch {
    /// This thread's buffer, grown to at least `len` (a nested call on the same thread
    /// finds it taken and starts an empty one).
    pub fn take(len: usize) -> Self {
        let mut v = SCRATCH.take();
        if v.len() < len {
            v.resize(len, 0.0);
        }
        Scratch(v)
    }

    /// The first `len` values (at most what [`Self::take`] was asked for).
    pub fn get(&mut self, len: usize) -> &mut [f32] {
        &mut self.0[..len]
    }

    /// Returns the buffer to this thread, keeping the larger one if a nested call
    /// returned its own meanwhile.
    pub fn give_back(self) {
        let other = SCRATCH.take();
        SCRATCH.set(if other.len() > self.0.len() {
            other
        } else {
            self.0
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_and_fill_give_the_values_written() {
        // SAFETY: the closure writes all four elements.
        let v = unsafe {
            written(4, |s| {
                fill(&mut s[..2], 1.5);
                copy(&mut s[2..], &[2.0, 3.0]);
            })
        };
        assert_eq!(v, vec![1.5, 1.5, 2.0, 3.0]);
    }

    #[test]
    fn scratch_is_reused_and_a_nested_take_gets_its_own() {
        let mut a = Scratch::take(8);
        a.get(8).fill(7.0);
        let b = Scratch::take(4);
        assert_eq!(b.0.len(), 4, "a nested take starts a buffer of its own");
        b.give_back();
        a.give_back();
        let mut c = Scratch::take(2);
        assert_eq!(c.0.len(), 8, "the larger buffer was kept");
        assert_eq!(c.get(2), &[7.0, 7.0]);
        c.give_back();
    }
}
