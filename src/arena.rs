//! The log arena's moves: when `tend reload` changes which services there
//! are or the sizes of their rings, every ring that stays is moved to its
//! place in the new layout, inside the one arena and without a spare copy.
//!
//! Each ring first puts what it holds at the start of its own buffer
//! (`Ring::take_store`); [`relocate`] then moves those prefixes. Sources
//! are the old buffers, destinations the new ones, both in the same order
//! through the arena. Pieces that move towards the start are moved first,
//! in order, and then those that move towards the end, in reverse order:
//! no piece is then written over before it has moved (see the test). The
//! moves are rotations, so nothing here can index out of bounds.

/// `len` bytes at `from` go to `to`.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub struct Move {
    pub from: usize,
    pub to: usize,
    pub len: usize,
}

/// Carries out `moves` in `arena`. They must be sorted by `from`, their
/// sources must not overlap, and their destinations must not overlap and
/// come in the same order; otherwise nothing moves and it returns false.
#[inline(never)]
pub fn relocate(arena: &mut [u8], moves: &[Move]) -> bool {
    let fits = |m: &Move| {
        m.from.checked_add(m.len).is_some_and(|e| e <= arena.len())
            && m.to.checked_add(m.len).is_some_and(|e| e <= arena.len())
    };
    let ordered = moves
        .windows(2)
        .all(|w| matches!(w, [a, b] if a.from + a.len <= b.from && a.to + a.len <= b.to));
    if !ordered || !moves.iter().all(fits) {
        return false;
    }
    for m in moves.iter().filter(|m| m.to < m.from) {
        shift(arena, m);
    }
    for m in moves.iter().rev().filter(|m| m.to > m.from) {
        shift(arena, m);
    }
    true
}

/// One move, as a rotation of the stretch from the lower of its source and
/// destination to the end of the higher: the bytes it scrambles besides
/// are either free or a destination written later.
fn shift(arena: &mut [u8], m: &Move) {
    let (lo, hi) = (m.from.min(m.to), m.from.max(m.to) + m.len);
    let Some(span) = arena.get_mut(lo..hi) else {
        return;
    };
    let by = m.from.abs_diff(m.to);
    if m.to < m.from {
        rotate_left(span, by);
    } else {
        rotate_left(span, span.len().saturating_sub(by));
    }
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
fn reverse(buf: &mut [u8]) {
    if let Some((front, back)) = buf.split_at_mut_checked(buf.len() / 2) {
        for (a, b) in front.iter_mut().zip(back.iter_mut().rev()) {
            core::mem::swap(a, b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n.max(1) as u64) as usize
        }
    }

    /// Random old and new layouts of the same pieces, in the same order, with
    /// gaps between them; every piece's bytes must arrive intact.
    #[test]
    fn every_piece_arrives_intact() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..2000 {
            let n = 1 + rng.below(8);
            let lens: Vec<usize> = (0..n).map(|_| rng.below(50)).collect();
            let layout = |rng: &mut Rng| {
                let mut at = 0;
                lens.iter()
                    .map(|&len| {
                        at += rng.below(40);
                        let here = at;
                        at += len;
                        here
                    })
                    .collect::<Vec<_>>()
            };
            let (from, to) = (layout(&mut rng), layout(&mut rng));
            let size = from
                .iter()
                .chain(&to)
                .zip(lens.iter().chain(&lens))
                .map(|(a, l)| a + l);
            let mut arena = vec![0u8; size.max().unwrap_or(0) + rng.below(10)];
            for (i, (&at, &len)) in from.iter().zip(&lens).enumerate() {
                for (k, b) in arena[at..at + len].iter_mut().enumerate() {
                    *b = (i * 50 + k) as u8 ^ 0x5a;
                }
            }
            let moves: Vec<Move> = (0..n)
                .map(|i| Move {
                    from: from[i],
                    to: to[i],
                    len: lens[i],
                })
                .collect();
            assert!(relocate(&mut arena, &moves));
            for (i, (&at, &len)) in to.iter().zip(&lens).enumerate() {
                for (k, &b) in arena[at..at + len].iter().enumerate() {
                    assert_eq!(b, (i * 50 + k) as u8 ^ 0x5a, "piece {i} of {moves:?}");
                }
            }
        }
    }

    #[test]
    fn a_bad_plan_moves_nothing() {
        let mut arena = *b"abcdefgh";
        let swapped = [
            Move {
                from: 4,
                to: 0,
                len: 2,
            },
            Move {
                from: 0,
                to: 4,
                len: 2,
            },
        ];
        let overlapping = [
            Move {
                from: 0,
                to: 0,
                len: 4,
            },
            Move {
                from: 2,
                to: 4,
                len: 2,
            },
        ];
        let outside = [Move {
            from: 6,
            to: 0,
            len: 4,
        }];
        for moves in [&swapped[..], &overlapping, &outside] {
            assert!(!relocate(&mut arena, moves));
            assert_eq!(&arena, b"abcdefgh");
        }
        assert!(relocate(
            &mut arena,
            &[Move {
                from: 2,
                to: 5,
                len: 3
            }]
        ));
        assert_eq!(&arena[5..], b"cde");
    }
}
