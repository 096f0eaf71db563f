//! A service's log: whole lines kept in a fixed byte ring, oldest dropped
//! first.
//!
//! The ring holds a stream of records, each an 8-byte header (stamp in ms
//! since boot as a little-endian u48, content length as a little-endian u16)
//! followed by the content. Positions are absolute byte offsets into that
//! endless stream; the record at position `p` lives at `p % capacity`, and
//! both headers and content may wrap around the end of the buffer.
//!
//! Records between [`Ring::oldest`] and [`Ring::end`] are complete. Right
//! after `end` there may be one open record, the line still being written;
//! readers never see it. Its header is written when it is closed (at `\n`,
//! at the line limit, or by [`Ring::end_line`]).

use crate::limits::LINE_MAX_BYTES;
use crate::say::Text;

/// Bytes of a record's header: 6 of stamp (ms, u48 LE) and 2 of length
/// (u16 LE).
pub const RECORD_HEADER_BYTES: usize = 8;

const HEADER: u64 = RECORD_HEADER_BYTES as u64;
/// A smaller buffer is not used at all.
const MIN_CAPACITY: usize = 256;
/// Stamps are stored as u48 milliseconds.
const STAMP_MASK: u64 = (1 << 48) - 1;

/// One service's log ring.
pub struct Ring<'a> {
    /// The storage; empty when the ring keeps nothing.
    /// (An `Option`, so that an empty ring is all zero bytes and a static
    /// array of them costs nothing in the binary.)
    buf: Option<&'a mut [u8]>,
    /// Content bytes per record at most.
    limit: usize,
    /// Position of the oldest complete record.
    oldest: u64,
    /// Position just past the last complete record (where the open one is).
    end: u64,
    /// Whether a record is open (a partial line) at `end`.
    open: bool,
    open_stamp: u64,
    open_len: usize,
    /// Complete records held.
    lines: usize,
    /// All bytes ever pushed. What is not kept was dropped: the dropped
    /// count is derived, not kept.
    written: u64,
}

/// One complete record, its content in at most two slices.
#[cfg_attr(test, derive(Debug))]
pub struct Line<'a> {
    pub stamp_ms: u64,
    pub head: &'a [u8],
    pub tail: &'a [u8],
}

impl Line<'_> {
    /// Content bytes.
    pub fn len(&self) -> usize {
        self.head.len() + self.tail.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the content ends with its own newline.
    pub fn ends_with_newline(&self) -> bool {
        self.tail.last().or(self.head.last()) == Some(&b'\n')
    }
}

impl<'a> Ring<'a> {
    /// A ring with no storage: everything pushed is counted as dropped.
    pub const fn empty() -> Ring<'a> {
        Ring {
            buf: None,
            limit: 0,
            oldest: 0,
            end: 0,
            open: false,
            open_stamp: 0,
            open_len: 0,
            lines: 0,
            written: 0,
        }
    }

    /// A ring over `buf`; one under 256 bytes keeps nothing.
    pub fn new(buf: &'a mut [u8]) -> Ring<'a> {
        let mut ring = Ring::empty();
        ring.limit = line_limit(buf.len());
        if ring.limit > 0 {
            ring.buf = Some(buf);
        }
        ring
    }

    fn store(&self) -> &[u8] {
        self.buf.as_deref().unwrap_or(&[])
    }

    fn store_mut(&mut self) -> &mut [u8] {
        self.buf.as_deref_mut().unwrap_or(&mut [])
    }

    /// Bytes of storage (0 for a ring that keeps nothing).
    pub fn capacity(&self) -> usize {
        self.store().len()
    }

    /// Appends bytes read from the service's pipe, stamped `now_ms`.
    pub fn push(&mut self, now_ms: u64, data: &[u8]) {
        self.written = self.written.wrapping_add(data.len() as u64);
        // (What a ring that keeps nothing is given counts as dropped.)
        if self.store().is_empty() {
            return;
        }
        let mut rest = data;
        while !rest.is_empty() {
            // Room left in the open (or a new) record before the line limit.
            let room = self.limit.saturating_sub(self.open_len);
            let window = rest.get(..room).unwrap_or(rest);
            let (take, close) = match newline(window) {
                Some(i) => (i + 1, true),
                None => (window.len(), window.len() >= room),
            };
            let Some((chunk, after)) = rest.split_at_checked(take) else {
                break;
            };
            rest = after;
            // (A whole line goes the same way: opened, written, closed. A
            // record not open has no length.)
            if !self.open {
                self.open = true;
                self.open_stamp = now_ms & STAMP_MASK;
            }
            self.make_room(take);
            let at = self.end + HEADER + self.open_len as u64;
            self.write(at, chunk);
            self.open_len += take;
            if close {
                self.close();
            }
        }
    }

    /// Closes the partial line (its writer died): the open record becomes
    /// complete as it is, without a newline.
    pub fn end_line(&mut self) {
        self.close();
    }

    /// Counts `n` bytes as written and dropped that never reached the ring
    /// (a syslog message cut to a line's size).
    pub fn count_dropped(&mut self, n: u64) {
        self.written = self.written.wrapping_add(n);
    }

    /// All bytes ever pushed.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Bytes lost: content of evicted records, and everything pushed into a
    /// ring that keeps nothing.
    pub fn dropped(&self) -> u64 {
        self.written.wrapping_sub(self.kept())
    }

    /// Content bytes held now, the open record's included: the complete
    /// records' span less their headers, and the open record's content.
    pub fn kept(&self) -> u64 {
        (self.end - self.oldest) - self.lines as u64 * HEADER + self.open_len as u64
    }

    /// Complete records held now.
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Position of the oldest record.
    pub fn oldest(&self) -> u64 {
        self.oldest
    }

    /// Position just past the last complete record.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// The complete record at `*pos` (at [`Ring::oldest`] if `*pos` is older,
    /// its record having been evicted), advancing `*pos` past it; `None` at
    /// [`Ring::end`]. A cursor past the end is brought back to it.
    pub fn read(&self, pos: &mut u64) -> Option<Line<'_>> {
        if *pos < self.oldest {
            *pos = self.oldest;
        }
        if *pos > self.end {
            *pos = self.end;
        }
        let (line, next) = self.line_at(*pos)?;
        *pos = next;
        Some(line)
    }

    /// Position of the `n`-th last complete record ([`Ring::oldest`] if there
    /// are fewer).
    pub fn last_lines(&self, n: usize) -> u64 {
        let mut pos = self.oldest;
        for _ in 0..self.lines.saturating_sub(n) {
            match self.line_at(pos) {
                Some((_, next)) => pos = next,
                None => break,
            }
        }
        pos
    }

    /// The line still being written (output not yet ended by a newline),
    /// stamped when it began; it sits at [`Ring::end`]. `None` when there is
    /// none.
    pub fn pending(&self) -> Option<Line<'_>> {
        if !self.open || self.open_len == 0 {
            return None;
        }
        let (head, tail) = self.slices(self.end + HEADER, self.open_len);
        Some(Line {
            stamp_ms: self.open_stamp,
            head,
            tail,
        })
    }

    /// Renders the complete lines from the first stamped at or after
    /// `since_ms` on as `[    12.345] text\n`
    /// into `out` (the text as it came: whoever shows it to a person escapes
    /// it), keeping the most recent ones that fit whole in `most` bytes;
    /// returns how many lines were rendered. `out` needs room for `most`
    /// bytes and a line more: each line goes in, then the oldest go until
    /// the rest fit.
    pub fn render_tail(&self, since_ms: u64, out: &mut Text, most: usize) -> usize {
        let start = out.len();
        let mut pos = self.oldest;
        let mut count = 0;
        let mut since_ms = since_ms & STAMP_MASK;
        while let Some((line, next)) = self.line_at(pos) {
            pos = next;
            if line.stamp_ms < since_ms {
                continue;
            }
            since_ms = 0;
            out.stamp(line.stamp_ms).s(line.head).s(line.tail);
            if !line.ends_with_newline() {
                out.byte(b'\n');
            }
            count += 1;
            // Each rendered line has one newline, at its end.
            while out.len() - start > most {
                let lines = out.as_bytes().get(start..).unwrap_or(&[]);
                out.cut(start, newline(lines).map_or(lines.len(), |i| i + 1));
                count -= 1;
            }
        }
        count
    }

    /// The complete record at `pos` and the position after it; `None` at or
    /// past the end (or if the header is damaged).
    fn line_at(&self, pos: u64) -> Option<(Line<'_>, u64)> {
        if pos < self.oldest || pos >= self.end {
            return None;
        }
        let (stamp_ms, len) = self.header(pos);
        let next = pos + HEADER + len as u64;
        if next > self.end {
            return None;
        }
        let (head, tail) = self.slices(pos + HEADER, len);
        Some((
            Line {
                stamp_ms,
                head,
                tail,
            },
            next,
        ))
    }

    /// Bytes of the stream the ring holds: its complete records and the
    /// open one with its header.
    fn span(&self) -> u64 {
        let open = if self.open {
            HEADER + self.open_len as u64
        } else {
            0
        };
        (self.end - self.oldest) + open
    }

    /// Makes the ring fit a buffer of `cap` bytes: evicts its oldest records
    /// (counted as dropped) until what it holds fits, first closing a partial
    /// line longer than such a ring's line limit. A `cap` that keeps nothing
    /// drops everything.
    #[inline(never)]
    pub fn shrink_to(&mut self, cap: usize) {
        let limit = line_limit(cap);
        if self.open && (limit == 0 || self.open_len > limit) {
            self.close();
        }
        self.evict(if limit == 0 { 0 } else { cap as u64 }, 0);
    }

    /// Gives up the ring's storage so that it can move, after putting what
    /// it holds at the start of it, oldest first. Returns the storage and
    /// the bytes at its start that [`Ring::adopt`] needs back. The positions
    /// and counters stay, so readers' cursors stay valid.
    #[inline(never)]
    pub fn take_store(&mut self) -> (Option<&'a mut [u8]>, usize) {
        let at = self.index(self.oldest);
        let span = self.span();
        let mut buf = self.buf.take();
        if let Some(b) = buf.as_deref_mut() {
            crate::arena::rotate_left(b, at);
        }
        // (`span` never exceeds the capacity: make_room sees to it.)
        (buf, span as usize)
    }

    /// Takes `buf` as the ring's storage, whose first bytes hold what
    /// [`Ring::take_store`] returned (moved there, after
    /// [`Ring::shrink_to`] its size). A buffer too small to keep anything
    /// leaves the ring keeping nothing, what it held dropped.
    #[inline(never)]
    pub fn adopt(&mut self, buf: &'a mut [u8]) {
        let limit = line_limit(buf.len());
        if limit == 0 || self.span() > buf.len() as u64 {
            self.open = false;
            self.open_len = 0;
            self.lines = 0;
            self.oldest = self.end;
            return;
        }
        let at = (self.oldest % buf.len() as u64) as usize;
        crate::arena::rotate_left(buf, buf.len() - at);
        self.limit = limit;
        self.buf = Some(buf);
    }

    /// Closes the open record, if any.
    fn close(&mut self) {
        if !self.open {
            return;
        }
        self.open = false;
        let len = core::mem::take(&mut self.open_len);
        self.commit(self.open_stamp, len);
    }

    /// Writes the header of the record at `end`, whose `len` content bytes
    /// are in place, and makes it complete.
    fn commit(&mut self, stamp: u64, len: usize) {
        // (`len` is at most the line limit, and fits a u16.)
        let header = (stamp & STAMP_MASK) | (len as u64) << 48;
        self.write(self.end, &header.to_le_bytes());
        self.end += HEADER + len as u64;
        self.lines += 1;
    }

    /// Evicts the oldest complete records until `n` more bytes fit after the
    /// open record. The line limit keeps the open record within half the
    /// ring, so it never has to go itself.
    fn make_room(&mut self, n: usize) {
        self.evict(self.store().len() as u64, n as u64);
    }

    /// Evicts the oldest complete records (counted as dropped) until what
    /// the ring holds and `n` more bytes fit in `cap`, or none is left.
    fn evict(&mut self, cap: u64, n: u64) {
        while self.oldest < self.end && self.span() + n > cap {
            let (_, len) = self.header(self.oldest);
            self.oldest = (self.oldest + HEADER + len as u64).min(self.end);
            self.lines = self.lines.saturating_sub(1);
        }
    }

    /// The stamp and content length in the header at `pos`.
    fn header(&self, pos: u64) -> (u64, usize) {
        // Byte by byte, as it may wrap around the end of the buffer; the
        // last (most significant) first.
        let mut header = 0u64;
        for k in (0..HEADER).rev() {
            let byte = self.store().get(self.index(pos + k)).copied();
            header = header << 8 | u64::from(byte.unwrap_or(0));
        }
        (header & STAMP_MASK, (header >> 48) as usize)
    }

    /// Index in the buffer of position `pos`.
    fn index(&self, pos: u64) -> usize {
        pos.checked_rem(self.store().len() as u64)
            .map_or(0, |i| i as usize)
    }

    /// The `len` bytes at `pos`, in at most two slices.
    fn slices(&self, pos: u64, len: usize) -> (&[u8], &[u8]) {
        let Some((before, after)) = self.store().split_at_checked(self.index(pos)) else {
            return (&[], &[]);
        };
        let first = len.min(after.len());
        let head = after.get(..first).unwrap_or(&[]);
        let tail = before.get(..len - first).unwrap_or(&[]);
        (head, tail)
    }

    /// Copies `data` in at `pos`, in at most two slice copies.
    fn write(&mut self, pos: u64, data: &[u8]) {
        let at = self.index(pos);
        let store = self.store_mut();
        // Up to the end of the buffer, then what is left from its start.
        let n = crate::say::copy(store.get_mut(at..).unwrap_or_default(), data);
        crate::say::copy(store, data.get(n..).unwrap_or_default());
    }
}

/// Content bytes per record in a ring of `cap` bytes: a line fits in half
/// of it, up to [`LINE_MAX_BYTES`]; 0 when `cap` is too small to keep any.
fn line_limit(cap: usize) -> usize {
    if cap < MIN_CAPACITY {
        return 0;
    }
    LINE_MAX_BYTES.min((cap / 2).saturating_sub(RECORD_HEADER_BYTES))
}

/// The index of the first `\n` in `bytes`. Every byte a service logs goes
/// through this scan, so it looks at eight at a time: a word XORed with
/// `\n\n\n\n\n\n\n\n` has a zero byte exactly where a newline was, and
/// `(x - 0x0101…) & !x & 0x8080…` is non-zero exactly when `x` has one.
fn newline(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::MAX / 255;
    const NEWLINES: u64 = ONES * b'\n' as u64;
    let mut at = 0;
    for chunk in bytes.chunks_exact(8) {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let x = u64::from_ne_bytes(word) ^ NEWLINES;
        if x.wrapping_sub(ONES) & !x & (ONES << 7) != 0 {
            break;
        }
        at += 8;
    }
    let rest = bytes.get(at..)?;
    rest.iter().position(|&b| b == b'\n').map(|i| at + i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::say::Buf;
    use std::collections::VecDeque;

    /// Reads every complete record from a cursor at 0.
    fn all(ring: &Ring<'_>) -> Vec<(u64, Vec<u8>)> {
        let mut pos = 0;
        let mut out = Vec::new();
        while let Some(line) = ring.read(&mut pos) {
            out.push((line.stamp_ms, [line.head, line.tail].concat()));
        }
        assert_eq!(pos, ring.end());
        out
    }

    fn texts(ring: &Ring<'_>) -> Vec<Vec<u8>> {
        all(ring).into_iter().map(|(_, t)| t).collect()
    }

    fn balanced(ring: &Ring<'_>) {
        assert_eq!(ring.written(), ring.kept() + ring.dropped());
    }

    #[test]
    fn single_line() {
        let mut buf = vec![0u8; 256];
        let mut ring = Ring::new(&mut buf);
        assert_eq!(ring.capacity(), 256);
        ring.push(42, b"hello\n");
        assert_eq!(all(&ring), vec![(42, b"hello\n".to_vec())]);
        assert_eq!(
            (ring.lines(), ring.kept(), ring.written(), ring.dropped()),
            (1, 6, 6, 0)
        );
        assert_eq!((ring.oldest(), ring.end()), (0, 8 + 6));
        balanced(&ring);
    }

    #[test]
    fn several_lines_in_one_push() {
        let mut buf = vec![0u8; 512];
        let mut ring = Ring::new(&mut buf);
        ring.push(7, b"a\nbb\n\nccc\nrest");
        assert_eq!(
            texts(&ring),
            vec![
                b"a\n".to_vec(),
                b"bb\n".to_vec(),
                b"\n".to_vec(),
                b"ccc\n".to_vec()
            ]
        );
        assert_eq!(ring.lines(), 4);
        assert_eq!(ring.kept(), 14);
        assert_eq!(ring.end(), 4 * 8 + 10);
        balanced(&ring);
    }

    #[test]
    fn line_split_across_pushes_keeps_first_stamp() {
        let mut buf = vec![0u8; 256];
        let mut ring = Ring::new(&mut buf);
        ring.push(100, b"par");
        ring.push(200, b"tial");
        assert_eq!(ring.lines(), 0);
        ring.push(300, b" line\nnext");
        ring.push(400, b"\n");
        assert_eq!(
            all(&ring),
            vec![(100, b"partial line\n".to_vec()), (300, b"next\n".to_vec())]
        );
        balanced(&ring);
    }

    #[test]
    fn open_record_is_invisible() {
        let mut buf = vec![0u8; 256];
        let mut ring = Ring::new(&mut buf);
        ring.push(1, b"done\nhalf");
        assert_eq!(ring.lines(), 1);
        assert_eq!(ring.kept(), 9);
        let end = ring.end();
        assert_eq!(end, 8 + 5);
        let mut pos = end;
        assert!(ring.read(&mut pos).is_none());
        assert_eq!(pos, end);
        assert_eq!(ring.last_lines(5), 0);
        let mut out = Buf::<256>::new();
        assert_eq!(ring.render_tail(2, &mut out, 256), 0);
        assert_eq!(ring.render_tail(0, &mut out, 256), 1);
        assert_eq!(out.as_bytes(), b"[     0.001] done\n");
        balanced(&ring);
    }

    #[test]
    fn end_line_closes_the_partial_line() {
        let mut buf = vec![0u8; 256];
        let mut ring = Ring::new(&mut buf);
        ring.end_line(); // nothing open: no record
        assert_eq!((ring.lines(), ring.end()), (0, 0));
        ring.push(5, b"no newline");
        ring.end_line();
        ring.end_line();
        ring.push(6, b"x\n");
        assert_eq!(
            all(&ring),
            vec![(5, b"no newline".to_vec()), (6, b"x\n".to_vec())]
        );
        let mut out = Buf::<256>::new();
        assert_eq!(ring.render_tail(0, &mut out, 256), 2);
        assert_eq!(out.as_bytes(), b"[     0.005] no newline\n[     0.006] x\n");
        balanced(&ring);
    }

    #[test]
    fn long_lines_are_split_at_the_limit() {
        let mut buf = vec![0u8; 256];
        let mut ring = Ring::new(&mut buf);
        let limit = 256 / 2 - RECORD_HEADER_BYTES; // 120
        let mut line = vec![b'x'; 300];
        line.push(b'\n');
        ring.push(1, &line);
        // 120 + 120 + 61: the first piece is evicted to make room.
        let got = all(&ring);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], (1, vec![b'x'; limit]));
        let mut last = vec![b'x'; 60];
        last.push(b'\n');
        assert_eq!(got[1], (1, last));
        assert_eq!(ring.dropped(), limit as u64);
        balanced(&ring);

        // A piece reaching the limit is closed at once; the rest of the line
        // is stamped when it arrives.
        let mut buf = vec![0u8; 4096];
        let mut ring = Ring::new(&mut buf);
        ring.push(1, &vec![b'a'; LINE_MAX_BYTES - 1]);
        assert_eq!(ring.lines(), 0);
        ring.push(2, b"b");
        assert_eq!(ring.lines(), 1);
        ring.push(3, b"c\n");
        let got = all(&ring);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, 1);
        assert_eq!(got[0].1.len(), LINE_MAX_BYTES);
        assert_eq!(got[1], (3, b"c\n".to_vec()));
        // A line of exactly the limit, newline included, is one record.
        let mut exact = vec![b'e'; LINE_MAX_BYTES - 1];
        exact.push(b'\n');
        ring.push(4, &exact);
        assert_eq!(all(&ring).last().unwrap(), &(4, exact));
        balanced(&ring);
    }

    #[test]
    fn newline_finds_the_first_at_every_offset() {
        for len in 0..40 {
            for at in 0..=len {
                let mut bytes = vec![b'x'; len];
                // Bytes one off from a newline, and a second newline later,
                // must not confuse the word-at-a-time test.
                for (i, b) in bytes.iter_mut().enumerate() {
                    *b = [b'\x0b', b'\x09', 0x8a, b'x'][i % 4];
                }
                if at < len {
                    bytes[at] = b'\n';
                    if at + 3 < len {
                        bytes[at + 3] = b'\n';
                    }
                }
                let want = bytes.iter().position(|&b| b == b'\n');
                assert_eq!(newline(&bytes), want, "len {len}, newline at {at}");
            }
        }
    }

    #[test]
    fn eviction_is_oldest_first_and_exact() {
        let mut buf = vec![0u8; 256];
        let mut ring = Ring::new(&mut buf);
        // Records of 8 + 24 = 32 bytes: 8 fill the ring exactly.
        for i in 0..8u8 {
            let mut line = vec![b'a' + i; 23];
            line.push(b'\n');
            ring.push(u64::from(i), &line);
        }
        assert_eq!(
            (ring.lines(), ring.dropped(), ring.oldest(), ring.end()),
            (8, 0, 0, 256)
        );
        // One more byte evicts exactly the first record.
        ring.push(8, b"z");
        assert_eq!((ring.lines(), ring.dropped(), ring.oldest()), (7, 24, 32));
        assert_eq!(all(&ring)[0].0, 1);
        balanced(&ring);
        // Growing the open line to 33 content bytes (41 with header) needs a
        // second eviction only once it passes 24 content bytes.
        ring.push(9, &[b'z'; 23]);
        assert_eq!((ring.lines(), ring.dropped()), (7, 24));
        ring.push(9, b"z");
        assert_eq!((ring.lines(), ring.dropped(), ring.oldest()), (6, 48, 64));
        ring.push(10, b"\n");
        let got = all(&ring);
        assert_eq!(
            got.iter().map(|r| r.0).collect::<Vec<_>>(),
            vec![2, 3, 4, 5, 6, 7, 8]
        );
        assert_eq!(got[6].1, [vec![b'z'; 25], b"\n".to_vec()].concat());
        assert_eq!(ring.kept(), 6 * 24 + 26);
        balanced(&ring);
    }

    #[test]
    fn wraps_at_every_offset() {
        for cap in [256usize, 263] {
            for start in 0..cap as u64 {
                let mut buf = vec![0u8; cap];
                let mut ring = Ring::new(&mut buf);
                // Fillers move the end to `cap + start`, past one wrap.
                let mut distance = cap as u64 + start;
                let mut n = 0u8;
                while distance > 0 {
                    let size = if distance > 128 { 64 } else { distance };
                    let mut line = vec![b'f'; size as usize - 9];
                    line.push(b'\n');
                    ring.push(0, &line);
                    distance -= size;
                    n = n.wrapping_add(1);
                }
                assert_eq!(ring.end(), cap as u64 + start);
                let first: Vec<u8> = (0..40u8).map(|i| b'A' + i % 26).chain([b'\n']).collect();
                let second: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).collect();
                ring.push(0x1234_5678_9abc, &first[..3]);
                ring.push(0xffff_0000_0000_0001, &first[3..]);
                ring.push(77, &second);
                ring.end_line();
                let got = all(&ring);
                let k = got.len();
                assert_eq!(
                    got[k - 2],
                    (0x1234_5678_9abc, first.clone()),
                    "cap {cap} start {start}"
                );
                assert_eq!(got[k - 1], (77, second.clone()), "cap {cap} start {start}");
                assert_eq!(ring.end(), cap as u64 + start + 8 + 41 + 8 + 100);
                // The remaining records are whole fillers.
                for (_, f) in &got[..k - 2] {
                    assert!(f.iter().all(|&b| b == b'f' || b == b'\n'));
                    assert_eq!(f.last(), Some(&b'\n'));
                }
                assert!(ring.end() - ring.oldest() <= cap as u64);
                balanced(&ring);
            }
        }
    }

    #[test]
    fn stale_cursor_jumps_to_oldest() {
        let mut buf = vec![0u8; 256];
        let mut ring = Ring::new(&mut buf);
        let mut cursor = 0;
        ring.push(1, b"first\n");
        assert_eq!(ring.read(&mut cursor).unwrap().head, b"first\n");
        for i in 0..40u64 {
            ring.push(i + 2, b"some filler line\n");
        }
        assert!(ring.oldest() > cursor);
        let line = ring.read(&mut cursor).unwrap();
        assert_eq!(line.stamp_ms, all(&ring)[0].0);
        assert!(cursor > ring.oldest());
        // A cursor past the end is brought back to it.
        let mut far = ring.end() + 1000;
        assert!(ring.read(&mut far).is_none());
        assert_eq!(far, ring.end());
    }

    #[test]
    fn last_lines_and_lines_since() {
        let mut buf = vec![0u8; 1024];
        let mut ring = Ring::new(&mut buf);
        for i in 0..10u64 {
            ring.push(i * 10, format!("line {i}\n").as_bytes());
        }
        ring.push(1000, b"open");
        let positions: Vec<u64> = {
            let mut pos = 0;
            let mut v = vec![pos];
            while ring.read(&mut pos).is_some() {
                v.push(pos);
            }
            v
        };
        assert_eq!(ring.last_lines(0), ring.end());
        assert_eq!(ring.last_lines(1), positions[9]);
        assert_eq!(ring.last_lines(3), positions[7]);
        assert_eq!(ring.last_lines(10), 0);
        assert_eq!(ring.last_lines(99), 0);
        for (since, lines) in [(0, 10), (30, 7), (31, 6), (90, 1), (91, 0)] {
            let mut out = Buf::<256>::new();
            assert_eq!(ring.render_tail(since, &mut out, 256), lines, "{since}");
        }
        let mut pos = ring.last_lines(2);
        assert_eq!(ring.read(&mut pos).unwrap().head, b"line 8\n");
    }

    #[test]
    fn render_tail_keeps_the_most_recent_lines_that_fit() {
        let mut buf = vec![0u8; 1024];
        let mut ring = Ring::new(&mut buf);
        ring.push(1_000, b"one\n");
        ring.push(12_345, b"two\n");
        ring.push(123_456_789, b"three");
        ring.end_line();
        ring.push(123_456_790, b"open");
        let whole = "[     1.000] one\n[    12.345] two\n[123456.789] three\n";
        let mut out = Buf::<256>::new();
        assert_eq!(ring.render_tail(0, &mut out, 256), 3);
        assert_eq!(out.as_bytes(), whole.as_bytes());
        assert!(!out.overflowed());

        // Exactly the last two lines fit.
        let mut out = Buf::<256>::new();
        assert_eq!(ring.render_tail(0, &mut out, 17 + 19), 2);
        assert_eq!(out.as_bytes(), &whole.as_bytes()[17..]);
        // One byte less: only the last.
        let mut out = Buf::<256>::new();
        assert_eq!(ring.render_tail(0, &mut out, 17 + 18), 1);
        assert_eq!(out.as_bytes(), b"[123456.789] three\n");
        // Nothing fits whole.
        let mut out = Buf::<256>::new();
        assert_eq!(ring.render_tail(0, &mut out, 18), 0);
        assert!(out.is_empty());
        // What is already there stays, and does not count.
        let mut out = Buf::<256>::new();
        out.s(b"head:");
        assert_eq!(ring.render_tail(0, &mut out, 35), 1);
        assert_eq!(out.as_bytes(), b"head:[123456.789] three\n");
        // `from` limits the lines.
        let mut out = Buf::<256>::new();
        assert_eq!(ring.render_tail(12_000, &mut out, 256), 2);
        assert_eq!(out.as_bytes(), &whole.as_bytes()[17..]);
        assert_eq!(ring.render_tail(123_456_790, &mut out, 256), 0);
    }

    #[test]
    fn empty_ring_drops_everything() {
        for mut ring in [Ring::empty(), Ring::new(&mut [0u8; 255])] {
            assert_eq!(ring.capacity(), 0);
            ring.push(1, b"abc\n");
            ring.push(2, b"partial");
            ring.end_line();
            assert_eq!(
                (ring.written(), ring.dropped(), ring.kept(), ring.lines()),
                (11, 11, 0, 0)
            );
            assert_eq!((ring.oldest(), ring.end(), ring.last_lines(3)), (0, 0, 0));
            let mut pos = 0;
            assert!(ring.read(&mut pos).is_none());
            let mut out = Buf::<64>::new();
            assert_eq!(ring.render_tail(0, &mut out, 64), 0);
        }
    }

    /// The obvious ring: records in a deque, bytes stored one at a time.
    struct Model {
        cap: usize,
        limit: usize,
        /// The largest line limit it had: a record kept through a move to a
        /// smaller buffer may be longer than the new limit.
        widest: usize,
        /// (position, stamp, content)
        records: VecDeque<(u64, u64, Vec<u8>)>,
        open: Option<(u64, Vec<u8>)>,
        next: u64,
        written: u64,
        dropped: u64,
    }

    impl Model {
        fn new(cap: usize) -> Model {
            let (cap, limit) = if cap < 256 {
                (0, 0)
            } else {
                (cap, LINE_MAX_BYTES.min(cap / 2 - 8))
            };
            Model {
                cap,
                limit,
                widest: limit,
                records: VecDeque::new(),
                open: None,
                next: 0,
                written: 0,
                dropped: 0,
            }
        }

        fn used(&self) -> usize {
            self.records.iter().map(|r| 8 + r.2.len()).sum::<usize>()
                + self.open.as_ref().map_or(0, |o| 8 + o.1.len())
        }

        fn push(&mut self, now: u64, data: &[u8]) {
            self.written += data.len() as u64;
            if self.cap == 0 {
                self.dropped += data.len() as u64;
                return;
            }
            for &b in data {
                let need = if self.open.is_none() { 9 } else { 1 };
                while self.used() + need > self.cap {
                    let (_, _, text) = self
                        .records
                        .pop_front()
                        .expect("the open line never fills the ring");
                    self.dropped += text.len() as u64;
                }
                let open = self.open.get_or_insert((now & STAMP_MASK, Vec::new()));
                open.1.push(b);
                if b == b'\n' || open.1.len() == self.limit {
                    self.end_line();
                }
            }
        }

        /// The ring moved to a buffer of `cap` bytes.
        fn resize(&mut self, cap: usize) {
            let fresh = Model::new(cap);
            if self.open.as_ref().is_some_and(|o| o.1.len() > fresh.limit) {
                self.end_line();
            }
            while self.used() > fresh.cap {
                let Some((_, _, text)) = self.records.pop_front() else {
                    break;
                };
                self.dropped += text.len() as u64;
            }
            (self.cap, self.limit) = (fresh.cap, fresh.limit);
            self.widest = self.widest.max(self.limit);
        }

        fn end_line(&mut self) {
            if let Some((stamp, text)) = self.open.take() {
                let len = text.len() as u64;
                self.records.push_back((self.next, stamp, text));
                self.next += 8 + len;
            }
        }

        fn oldest(&self) -> u64 {
            self.records.front().map_or(self.next, |r| r.0)
        }

        fn check(&self, ring: &Ring<'_>, rng: &mut Rng) {
            assert_eq!(ring.capacity(), self.cap);
            assert_eq!(ring.written(), self.written);
            assert_eq!(ring.dropped(), self.dropped);
            let kept = self.records.iter().map(|r| r.2.len()).sum::<usize>()
                + self.open.as_ref().map_or(0, |o| o.1.len());
            assert_eq!(ring.kept(), kept as u64);
            balanced(ring);
            assert_eq!(ring.lines(), self.records.len());
            assert_eq!(ring.oldest(), self.oldest());
            assert_eq!(ring.end(), self.next);
            assert!(self.used() <= self.cap);
            let mut pos = 0;
            for (at, stamp, text) in &self.records {
                let line = ring.read(&mut pos).unwrap();
                assert_eq!(line.stamp_ms, *stamp);
                assert_eq!([line.head, line.tail].concat(), *text);
                assert!(text.len() <= self.widest);
                assert_eq!(pos, at + 8 + text.len() as u64);
            }
            assert!(ring.read(&mut pos).is_none());
            let n = rng.below(self.records.len() as u64 + 2) as usize;
            let want = if n == 0 {
                self.next
            } else if n >= self.records.len() {
                self.oldest()
            } else {
                self.records[self.records.len() - n].0
            };
            assert_eq!(ring.last_lines(n), want);
            if let Some(r) = self
                .records
                .get(rng.below(self.records.len() as u64 + 1) as usize)
            {
                let stamp = r.1 + rng.below(3);
                let first = self.records.iter().position(|r| r.1 >= stamp);
                let want = first.map_or(0, |i| self.records.len() - i);
                let mut out = Buf::<16384>::new();
                assert_eq!(ring.render_tail(stamp, &mut out, usize::MAX), want);
                assert!(!out.overflowed());
            }
        }
    }

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            if n == 0 {
                0
            } else {
                self.next() % n
            }
        }
    }

    #[test]
    fn randomized_against_a_model() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for &(cap, newline_every, max_chunk) in &[
            (256usize, 10u64, 40u64),
            (257, 60, 300),
            (300, 3, 20),
            (999, 200, 700),
            (1000, 2, 5),
            (4096, 80, 3000),
            (4096, 3000, 5000),
            (100, 10, 50),
        ] {
            let mut buf = vec![0u8; cap];
            let mut ring = Ring::new(&mut buf);
            let mut model = Model::new(cap);
            let mut now = 0u64;
            for _ in 0..3000 {
                now += rng.below(4);
                if rng.below(25) == 0 {
                    ring.end_line();
                    model.end_line();
                } else {
                    let len = rng.below(max_chunk + 1);
                    let data: Vec<u8> = (0..len)
                        .map(|_| {
                            if rng.below(newline_every) == 0 {
                                b'\n'
                            } else {
                                b'a' + rng.below(26) as u8
                            }
                        })
                        .collect();
                    ring.push(now, &data);
                    model.push(now, &data);
                }
                model.check(&ring, &mut rng);
            }
            assert!(cap < 256 || model.dropped > 0, "cap {cap} never wrapped");
        }
    }

    /// Moves `ring` to a new buffer of `cap` bytes as a reload does.
    fn move_to(ring: &mut Ring<'static>, cap: usize) {
        ring.shrink_to(cap);
        let (old, span) = ring.take_store();
        let new: &'static mut [u8] = Box::leak(vec![0xa5u8; cap].into_boxed_slice());
        if let Some(old) = old {
            new[..span].copy_from_slice(&old[..span]);
        }
        ring.adopt(new);
    }

    #[test]
    fn moved_to_other_buffers_against_a_model() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let caps = [0usize, 255, 256, 300, 1000, 1024, 4096, 5000];
        for round in 0..16 {
            let cap = caps[round % caps.len()];
            let mut ring = Ring::new(Box::leak(vec![0u8; cap].into_boxed_slice()));
            let mut model = Model::new(cap);
            let mut now = 0u64;
            for _ in 0..2000 {
                now += rng.below(4);
                match rng.below(60) {
                    0 => {
                        let cap = caps[rng.below(caps.len() as u64) as usize];
                        move_to(&mut ring, cap);
                        model.resize(cap);
                    }
                    1 => {
                        ring.end_line();
                        model.end_line();
                    }
                    _ => {
                        let len = rng.below(300);
                        let data: Vec<u8> = (0..len)
                            .map(|_| match rng.below(40) {
                                0 => b'\n',
                                _ => b'a' + rng.below(26) as u8,
                            })
                            .collect();
                        ring.push(now, &data);
                        model.push(now, &data);
                    }
                }
                model.check(&ring, &mut rng);
                let pending = ring.pending().map(|l| [l.head, l.tail].concat());
                let want = model.open.as_ref().map(|o| o.1.clone());
                assert_eq!(pending, want.filter(|t| !t.is_empty()));
            }
        }
    }

    #[test]
    fn a_move_keeps_the_newest_lines_that_fit_and_readers_cursors() {
        let mut ring = Ring::new(Box::leak(vec![0u8; 1024].into_boxed_slice()));
        for i in 0..100u64 {
            ring.push(i, format!("line {i}\n").as_bytes());
        }
        ring.push(100, b"partial");
        let mut cursor = ring.last_lines(3);
        move_to(&mut ring, 4096);
        assert_eq!(texts(&ring).last().unwrap(), b"line 99\n");
        assert_eq!(ring.read(&mut cursor).unwrap().head, b"line 97\n");
        move_to(&mut ring, 256);
        let kept = texts(&ring);
        assert_eq!(kept.last().unwrap(), b"line 99\n");
        assert!(kept.len() < 20, "only what fits in 256 bytes stays");
        assert_eq!(ring.read(&mut cursor).unwrap().head, b"line 98\n");
        assert_eq!(ring.pending().unwrap().head, b"partial");
        balanced(&ring);
        move_to(&mut ring, 0);
        assert_eq!((ring.kept(), ring.lines(), ring.capacity()), (0, 0, 0));
        balanced(&ring);
    }

    #[test]
    fn stamps_are_u48() {
        let mut buf = vec![0u8; 256];
        let mut ring = Ring::new(&mut buf);
        ring.push((1 << 48) + 5, b"x\n");
        assert_eq!(all(&ring), vec![(5, b"x\n".to_vec())]);
    }

    #[test]
    fn bulk_push_of_short_lines() {
        let mut buf = vec![0u8; 64 * 1024];
        let mut ring = Ring::new(&mut buf);
        let line: Vec<u8> = (0..63u8).map(|i| b'0' + i % 10).chain([b'\n']).collect();
        let chunk = line.repeat(64);
        for i in 0..2048u64 {
            ring.push(i, &chunk);
        }
        assert_eq!(ring.written(), 2048 * 64 * 64);
        assert_eq!(ring.lines(), 64 * 1024 / 72);
        balanced(&ring);
        assert!(all(&ring).iter().all(|(_, t)| *t == line));
    }
}
