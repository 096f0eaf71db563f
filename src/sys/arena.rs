//! The log arena: the static that every log ring is carved from, handed out
//! once, and joined again from its pieces when `tend reload` lays the rings
//! out anew (see `arena.rs` for the moves).
//!
//! # Inventory of unsafe operations
//! - [`take`]: the only reference made to the static as a whole; a flag
//!   makes sure it is made once.
//! - [`Join::whole`]: one slice over the pieces given back to a [`Join`],
//!   when they tile a stretch of the static end to end. Each piece was a
//!   unique borrow of its bytes and was consumed by [`Join::add`], so
//!   nothing else refers to them; they lie inside the one static, so the
//!   slice spans one object.
//! - [`move_bytes`]: `memmove` within one slice, its bounds checked first
//!   (`copy_within` keeps a panic path).

use core::ptr::addr_of_mut;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::limits::ARENA_BYTES;

/// The bytes every log ring is carved from, in .bss: RAM only as used.
/// In a section of its own, which link.ld places after every other static,
/// so that the few small ones do not sit alone on a page past its end.
#[cfg_attr(not(test), link_section = ".bss.tend_arena")]
static mut ARENA: [u8; ARENA_BYTES] = [0; ARENA_BYTES];
static TAKEN: AtomicBool = AtomicBool::new(false);

/// The whole arena, the first time; `None` after that.
pub fn take() -> Option<&'static mut [u8]> {
    if TAKEN.swap(true, Ordering::Relaxed) {
        return None;
    }
    // SAFETY: the flag lets this run once, so this is the only reference to
    // the static ever made here; `Join` makes others only from pieces of it.
    Some(unsafe { &mut *addr_of_mut!(ARENA) })
}

/// Pieces of the arena given back one at a time (`tend reload`'s rings),
/// to be joined into one slice again: only their bounds are kept.
pub struct Join {
    start: usize,
    end: usize,
    total: usize,
}

impl Default for Join {
    fn default() -> Self {
        Self::new()
    }
}

impl Join {
    pub const fn new() -> Join {
        Join {
            start: usize::MAX,
            end: 0,
            total: 0,
        }
    }

    /// Takes `piece` back for good (none, or an empty one, adds nothing).
    #[inline(never)]
    pub fn add(&mut self, piece: Option<&'static mut [u8]>) {
        if let Some(p) = piece.filter(|p| !p.is_empty()) {
            let at = p.as_ptr() as usize;
            self.start = self.start.min(at);
            self.end = self.end.max(at + p.len());
            self.total += p.len();
        }
    }

    /// The pieces taken back as one slice, when they tile one stretch of
    /// the arena end to end (in any order); `None` otherwise (they stay
    /// taken).
    #[inline(never)]
    pub fn whole(self) -> Option<&'static mut [u8]> {
        let base = addr_of_mut!(ARENA) as usize;
        let Join { start, end, total } = self;
        if start < base || end > base + ARENA_BYTES || end.checked_sub(start) != Some(total) {
            return None;
        }
        // SAFETY: each piece taken was a unique borrow of its bytes, and
        // nothing refers to bytes taken back but a slice made here, which
        // only pieces covering them could make: so no two pieces overlap,
        // and since they lie in [start, end) and add up to its length, they
        // are exactly [start, end), inside the static and referred to by
        // nothing else. Made from the static's own pointer, the slice stays
        // within that one object.
        Some(unsafe {
            core::slice::from_raw_parts_mut(
                addr_of_mut!(ARENA).cast::<u8>().add(start - base),
                total,
            )
        })
    }
}

/// `len` bytes of `buf` at `from` copied to `to` (the two may overlap);
/// nothing when either is not inside `buf`.
#[inline(never)]
pub fn move_bytes(buf: &mut [u8], from: usize, to: usize, len: usize) {
    if from
        .max(to)
        .checked_add(len)
        .is_some_and(|end| end <= buf.len())
    {
        // SAFETY: both ranges were just checked to lie inside `buf`, which
        // is borrowed mutably; `copy` allows them to overlap.
        unsafe {
            let p = buf.as_mut_ptr();
            core::ptr::copy(p.add(from), p.add(to), len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test owns the static (tests run in one process).
    #[test]
    fn pieces_join_back_only_when_they_tile_the_arena() {
        let all = take().unwrap();
        assert!(take().is_none(), "handed out once");
        let (own, rest) = all.split_at_mut(100);
        let (a, rest) = rest.split_at_mut(50);
        let (b, spare) = rest.split_at_mut(30);
        a.fill(1);
        b.fill(2);
        // In any order.
        let mut join = Join::new();
        for piece in [Some(spare), None, Some(b), Some(&mut [][..]), Some(a)] {
            join.add(piece);
        }
        let whole = join.whole().unwrap();
        assert_eq!(whole.len(), ARENA_BYTES - 100);
        assert_eq!(&whole[..51], &[[1u8; 50].as_slice(), &[2]].concat()[..]);
        // With a gap (b missing) they do not join.
        let (a, rest) = whole.split_at_mut(50);
        let (_b, spare) = rest.split_at_mut(30);
        let mut join = Join::new();
        join.add(Some(a));
        join.add(Some(spare));
        assert!(join.whole().is_none());
        // Memory outside the arena never joins.
        let outside: &'static mut [u8] = Box::leak(vec![0u8; 8].into_boxed_slice());
        let mut join = Join::new();
        join.add(Some(outside));
        assert!(join.whole().is_none());
        // Nor does a piece that overlaps another: impossible to make with
        // unique borrows, so only the arena's own pieces are tried here.
        assert_eq!(own.len(), 100);
    }
}
