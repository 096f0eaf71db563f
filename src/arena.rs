//! The log arena's moves: when `tend reload` changes which services there
//! are or the sizes of their rings, every ring that stays is moved to its
//! place in the new layout, inside the one arena and without a spare copy.
//!
//! Each ring first puts what it holds at the start of its own buffer
//! (`Ring::take_store`); [`lay_out`] then moves those prefixes to the
//! starts of the new rings, which follow one another in the order the old
//! ones lay in. It packs them all towards the arena's start, first one
//! first, then spreads them to their places, last one first: each move
//! goes the same way as all those before it, so none writes over bytes
//! still to be moved (see the test). Only the bytes kept are read and
//! written.

/// A ring in the new layout: the `len` bytes it keeps at address `from`,
/// and the `size` of its new place; `slot` is the caller's.
#[derive(Clone, Copy)]
#[cfg_attr(test, derive(Debug))]
pub struct Piece {
    pub from: usize,
    pub len: u32,
    pub size: u32,
    pub slot: u8,
}

impl Piece {
    /// All zero bytes: an array of them is made by one `memset`.
    pub const NONE: Piece = Piece {
        from: 0,
        len: 0,
        size: 0,
        slot: 0,
    };
}

/// Sorts `pieces` by `from` and gives each its place, to `place` with
/// its `slot`, what it keeps moved to the start: the places follow one
/// another from the arena's start, in that order. Returns the rest of the
/// arena. Sources must not overlap and `len` must not exceed `size`.
/// `move_bytes(arena, from, to, len)` is `memmove` (`sys::arena` has it: a
/// pure module makes no such call), doing nothing for a move from or to
/// outside the arena.
#[inline(never)]
pub fn lay_out<'a>(
    arena: &'a mut [u8],
    pieces: &mut [Piece],
    move_bytes: impl Fn(&mut [u8], usize, usize, usize),
    mut place: impl FnMut(u8, &'a mut [u8]),
) -> &'a mut [u8] {
    let base = arena.as_ptr() as usize;
    // A selection sort: a few dozen pieces.
    let mut rest = &mut *pieces;
    while let Some((first, others)) = rest.split_first_mut() {
        for p in others.iter_mut() {
            if p.from < first.from {
                core::mem::swap(first, p);
            }
        }
        rest = others;
    }
    let (mut at, mut total) = (0, 0);
    for p in pieces.iter() {
        move_bytes(arena, p.from.wrapping_sub(base), at, p.len as usize);
        at += p.len as usize;
        total += p.size as usize;
    }
    let Some((mut rest, spare)) = arena.split_at_mut_checked(total) else {
        return &mut []; // Never: the table's rings fit in the arena.
    };
    for p in pieces.iter().rev() {
        at -= p.len as usize;
        let to = rest.len() - p.size as usize;
        move_bytes(rest, at, to, p.len as usize);
        let Some((head, mine)) = core::mem::take(&mut rest).split_at_mut_checked(to) else {
            break;
        };
        place(p.slot, mine);
        rest = head;
    }
    spare
}

/// `buf.rotate_left(k)`, by three reversals (the library's keeps a panic
/// path); nothing when `k` is past the end.
pub fn rotate_left(buf: &mut [u8], k: usize) {
    if let Some((head, tail)) = buf.split_at_mut_checked(k) {
        reverse(head);
        reverse(tail);
        reverse(buf);
    }
}

/// `buf.reverse()` (the library's keeps a bounds check at opt-level z).
pub fn reverse<T>(buf: &mut [T]) {
    if let Some((front, back)) = buf.split_at_mut_checked(buf.len() / 2) {
        for (a, b) in front.iter_mut().zip(back.iter_mut().rev()) {
            core::mem::swap(a, b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `memmove`, as `sys::arena::move_bytes`.
    fn move_bytes(buf: &mut [u8], from: usize, to: usize, len: usize) {
        if from.max(to) + len <= buf.len() {
            buf.copy_within(from..from + len, to);
        }
    }

    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n.max(1) as u64) as usize
        }
    }

    /// Random old layouts of pieces with gaps between them, handed over in
    /// any order, and random new sizes: every piece's bytes must arrive
    /// intact at the start of its place, the places in the old order.
    #[test]
    fn every_piece_arrives_intact() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..2000 {
            let n = 1 + rng.below(8);
            let mut pieces = Vec::new();
            let mut at = 0;
            for i in 0..n {
                at += rng.below(40);
                let len = rng.below(50);
                let size = len + rng.below(40);
                pieces.push(Piece {
                    from: at,
                    len: len as u32,
                    size: size as u32,
                    slot: i as u8,
                });
                at += len + rng.below(40);
            }
            let total: usize = pieces.iter().map(|p| p.size as usize).sum();
            let arena_len = at.max(total) + rng.below(10);
            let mut arena = vec![0u8; arena_len];
            for p in &pieces {
                for (k, b) in arena[p.from..][..p.len as usize].iter_mut().enumerate() {
                    *b = (usize::from(p.slot) * 50 + k) as u8 ^ 0x5a;
                }
            }
            let base = arena.as_ptr() as usize;
            let mut given = pieces.clone();
            for g in given.iter_mut() {
                g.from += base;
            }
            for i in (1..n).rev() {
                given.swap(i, rng.below(i + 1));
            }
            let mut placed = Vec::new();
            let spare = lay_out(&mut arena, &mut given, move_bytes, |slot, buf| {
                placed.push((slot, buf.as_ptr() as usize - base, buf.to_vec()))
            });
            assert_eq!(spare.len(), arena_len - total);
            placed.reverse();
            let mut to = 0;
            for (p, (slot, at, buf)) in pieces.iter().zip(&placed) {
                assert_eq!((*slot, *at, buf.len()), (p.slot, to, p.size as usize));
                for (k, &b) in buf[..p.len as usize].iter().enumerate() {
                    let want = (usize::from(p.slot) * 50 + k) as u8 ^ 0x5a;
                    assert_eq!(b, want, "piece {} of {pieces:?}", p.slot);
                }
                to += p.size as usize;
            }
            // Sorted as laid out, for the caller to carve.
            assert!(given.iter().zip(&pieces).all(|(g, p)| g.slot == p.slot));
        }
    }

    #[test]
    fn a_move_outside_the_arena_moves_nothing() {
        let mut arena = *b"abcdefgh";
        let base = arena.as_ptr() as usize;
        let mut outside = [Piece {
            from: base + 6,
            len: 4,
            size: 4,
            slot: 0,
        }];
        lay_out(&mut arena, &mut outside, move_bytes, |_, _| {});
        assert_eq!(&arena, b"abcdefgh");
        let mut one = [Piece {
            from: base + 2,
            len: 3,
            size: 3,
            slot: 0,
        }];
        lay_out(&mut arena, &mut one, move_bytes, |_, _| {});
        assert_eq!(&arena[..3], b"cde");
    }
}
