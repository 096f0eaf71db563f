//! The log arena: the static that every log ring is carved from, handed out
//! once, and joined again from its pieces when `tend reload` lays the rings
//! out anew (see `arena.rs` for the moves).
//!
//! # Inventory of unsafe operations
//! - [`take`]: the only reference made to the static as a whole; a flag
//!   makes sure it is made once.
//! - [`join`]: one slice over pieces that tile a stretch of the static end to
//!   end. Each piece was a unique borrow of its bytes and is consumed here,
//!   so nothing else refers to them; they lie inside the one static, so the
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
    // the static ever made here; `join` makes others only from pieces of it.
    Some(unsafe { &mut *addr_of_mut!(ARENA) })
}

/// The pieces as one slice, when the non-empty ones tile one stretch of
/// the arena end to end (in any order); they are then taken. Otherwise
/// `None`, and the pieces stay where they are.
#[inline(never)]
pub fn join(pieces: &mut [Option<&'static mut [u8]>]) -> Option<&'static mut [u8]> {
    let base = addr_of_mut!(ARENA) as usize;
    // Each piece is a unique borrow, so no two overlap: when all of them
    // lie in [start, end) and add up to its length, they tile it.
    let (mut start, mut end, mut total) = (usize::MAX, 0, 0);
    for p in pieces.iter().flatten().filter(|p| !p.is_empty()) {
        let at = p.as_ptr() as usize;
        start = start.min(at);
        end = end.max(at + p.len());
        total += p.len();
    }
    if start < base || end > base + ARENA_BYTES || end.checked_sub(start) != Some(total) {
        return None;
    }
    for p in pieces.iter_mut() {
        *p = None;
    }
    // SAFETY: [start, end) is inside the static and is exactly the union of
    // the pieces just dropped, each a unique borrow of its bytes, so this
    // slice is the only reference to them; made from the static's own
    // pointer, it stays within that one object.
    Some(unsafe {
        core::slice::from_raw_parts_mut(addr_of_mut!(ARENA).cast::<u8>().add(start - base), total)
    })
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
        // With a gap (b missing) they do not join, and stay.
        let mut pieces = [Some(a), None, Some(spare)];
        assert!(join(&mut pieces).is_none());
        assert!(pieces[0].is_some() && pieces[2].is_some());
        pieces[1] = Some(b);
        pieces.swap(0, 2);
        let whole = join(&mut pieces).unwrap();
        assert!(pieces.iter().all(|p| p.is_none()));
        assert_eq!(whole.len(), ARENA_BYTES - 100);
        assert_eq!(&whole[..51], &[[1u8; 50].as_slice(), &[2]].concat()[..]);
        // Memory outside the arena never joins.
        let outside: &'static mut [u8] = Box::leak(vec![0u8; 8].into_boxed_slice());
        assert!(join(&mut [Some(outside)]).is_none());
        // Nor does a piece that overlaps another: impossible to make with
        // unique borrows, so only the arena's own pieces are tried here.
        assert_eq!(own.len(), 100);
    }
}
