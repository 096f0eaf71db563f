//! Text without `core::fmt`: a fixed buffer that numbers, durations and
//! padded columns are appended to. Appending past the end truncates and is
//! remembered ([`Text::overflowed`]), never a panic.

use crate::display::{piece, Piece, Two};

/// A byte buffer that text is appended to: [`Buf`] when its capacity is
/// known (it owns its array), [`Text`] when it is not.
pub struct Bytes<B: ?Sized> {
    /// (A u32: shorter instructions on x86-64; no buffer is near 4 GiB.)
    len: u32,
    overflowed: bool,
    bytes: B,
}

/// A fixed-capacity byte buffer that text is appended to.
///
/// Its methods are those of [`Text`], which it dereferences to: the code is
/// not generic, so the many buffer sizes in tend share one copy of it, and
/// each call passes only the buffer and its size.
pub type Buf<const N: usize> = Bytes<[u8; N]>;

/// A [`Buf`] of any size.
pub type Text = Bytes<[u8]>;

impl<const N: usize> Default for Buf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Buf<N> {
    pub const fn new() -> Self {
        const { assert!(N <= u32::MAX as usize) };
        Bytes {
            len: 0,
            overflowed: false,
            bytes: [0; N],
        }
    }

    /// [`Text::shown_prefix`], here too so that `most` may be worked out
    /// from the buffer itself (`b.shown_prefix(t, b.room() / 4)`).
    pub fn shown_prefix(&mut self, text: &[u8], most: usize) -> usize {
        Text::shown_prefix(self, text, most)
    }
}

impl<const N: usize> core::ops::Deref for Buf<N> {
    type Target = Text;
    fn deref(&self) -> &Text {
        self
    }
}

impl<const N: usize> core::ops::DerefMut for Buf<N> {
    fn deref_mut(&mut self) -> &mut Text {
        self
    }
}

impl Text {
    #[inline(never)]
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len()).unwrap_or(&[])
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes that can still be appended.
    pub fn room(&self) -> usize {
        self.bytes.len().saturating_sub(self.len())
    }

    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    pub fn clear(&mut self) {
        self.len = 0;
        self.overflowed = false;
    }

    /// Drops the first `n` bytes (those already written out).
    pub fn consume(&mut self, n: usize) {
        self.cut(0, n);
    }

    /// Drops `n` bytes from byte `at` on (those past the end: none).
    #[inline(never)]
    pub fn cut(&mut self, at: usize, n: usize) {
        if let Some(rest) = self.bytes.get_mut(at..self.len as usize) {
            let n = n.min(rest.len());
            rest.copy_within(n.., 0);
            self.len -= n as u32;
        }
    }

    /// Appends bytes; what does not fit is dropped.
    #[inline(never)]
    pub fn s(&mut self, text: &[u8]) -> &mut Self {
        let start = self.len().min(self.bytes.len());
        if let Some(dst) = self.bytes.get_mut(start..) {
            let took = copy(dst, text);
            self.len = (start + took) as u32;
            if took < text.len() {
                self.overflowed = true;
            }
        }
        self
    }

    #[inline(never)]
    pub fn byte(&mut self, b: u8) -> &mut Self {
        match self.bytes.get_mut(self.len as usize) {
            Some(slot) => {
                *slot = b;
                self.len += 1;
            }
            None => self.overflowed = true,
        }
        self
    }

    /// Appends `n` copies of `b`.
    #[inline(never)]
    pub fn fill(&mut self, b: u8, n: usize) -> &mut Self {
        for _ in 0..n {
            self.byte(b);
        }
        self
    }

    /// Appends a number in decimal.
    #[inline(never)]
    pub fn u(&mut self, n: u64) -> &mut Self {
        self.num(n, 0, b' ')
    }

    #[inline(never)]
    fn pad(&mut self, text: &[u8], width: usize, right: bool) -> &mut Self {
        let fill = width.saturating_sub(text.len());
        if !right {
            self.s(text);
        }
        self.fill(b' ', fill);
        if right {
            self.s(text);
        }
        self
    }

    /// Appends `n` in decimal, right-aligned in `width` bytes (at most 20)
    /// filled with `fill`; zero-filled, only its last `width` digits.
    #[inline(never)]
    pub fn num(&mut self, n: u64, width: usize, fill: u8) -> &mut Self {
        let mut digits = [fill; 20];
        let len = decimal(n, &mut digits).len();
        let keep = if fill == b'0' { width } else { width.max(len) };
        self.s(digits.get(20usize.saturating_sub(keep)..).unwrap_or(&[]))
    }

    /// Appends `text` left-aligned in a column of `width` bytes.
    pub fn left(&mut self, text: &[u8], width: usize) -> &mut Self {
        self.pad(text, width, false)
    }

    /// Appends `text` right-aligned in a column of `width` bytes.
    pub fn right(&mut self, text: &[u8], width: usize) -> &mut Self {
        self.pad(text, width, true)
    }

    /// Appends a short human duration: `950ms`, `59s`, `2m03s`, `1h02m`,
    /// `3d04h`.
    #[inline(never)]
    pub fn dur(&mut self, ms: u64) -> &mut Self {
        // Each unit in the next: ms in s, s in m, m in h, h in d.
        const PER: [u16; 4] = [1000, 60, 60, 24];
        const UNITS: &[u8; 5] = b"msmhd";
        let (mut big, mut small, mut unit) = (ms, 0, 0);
        while let Some(&per) = PER.get(unit) {
            // (Never 0: `max` only lets older compilers see that.)
            let per = u64::from(per).max(1);
            if big < per {
                break;
            }
            (big, small, unit) = (big / per, big % per, unit + 1);
        }
        self.u(big);
        let unit_of = |i: usize| UNITS.get(i).copied().unwrap_or(b's');
        match unit {
            // `ms`, `s`: the units from there.
            0 | 1 => self.s(UNITS.get(unit..2).unwrap_or(&[])),
            _ => self
                .byte(unit_of(unit))
                .num(small, 2, b'0')
                .byte(unit_of(unit - 1)),
        }
    }

    /// Appends a time since boot as `[    12.345]` (seconds, milliseconds).
    #[inline(never)]
    pub fn stamp(&mut self, ms: u64) -> &mut Self {
        self.byte(b'[').num(ms / 1000, 6, b' ').byte(b'.');
        self.num(ms % 1000, 3, b'0').s(b"] ")
    }

    /// Appends a wall-clock stamp, `2026-12-05T18:40:12.345Z ` (`ms` since
    /// 1970, UTC).
    #[inline(never)]
    pub fn utc_stamp(&mut self, ms: u64) -> &mut Self {
        // Each field's width in digits, and the byte after it.
        const FORM: [[u8; 2]; 7] = [*b"4-", *b"2-", *b"2T", *b"2:", *b"2:", *b"2.", *b"3Z"];
        for (&v, &[width, then]) in crate::display::utc_fields(ms).iter().zip(&FORM) {
            self.num(v.into(), usize::from(width - b'0'), b'0')
                .byte(then);
        }
        self.byte(b' ')
    }

    /// Appends `prefix`, then `b` as two hex digits.
    fn hex(&mut self, prefix: &[u8], b: u8) -> &mut Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digit = |n: u8| HEX.get(usize::from(n)).copied().unwrap_or(b'0');
        self.s(prefix).byte(digit(b >> 4)).byte(digit(b & 15))
    }

    /// Appends a service's bytes (`head` then `tail`, from byte `skip`) as a
    /// person may see them: control bytes but tab, and malformed UTF-8, as
    /// `\xNN` (see [`crate::display`]). With `hold`, an unfinished UTF-8
    /// character at the end waits; returns the bytes taken.
    #[inline(never)]
    pub fn shown(&mut self, head: &[u8], tail: &[u8], skip: usize, hold: bool) -> usize {
        let bytes = Two { head, tail };
        let mut i = skip;
        loop {
            match piece(bytes, i) {
                // Past the end.
                Piece::Pass(0) => break,
                Piece::Pass(n) => {
                    for _ in 0..n {
                        self.byte(bytes.get(i).unwrap_or(b'?'));
                        i += 1;
                    }
                }
                Piece::Incomplete(_) if hold => break,
                Piece::Escape(b) | Piece::Incomplete(b) => {
                    self.hex(b"\\x", b);
                    i += 1;
                }
            }
        }
        i
    }

    /// Appends at most `most` bytes of `text` as [`Text::shown`] shows them
    /// (up to four bytes out for each in); a character cut by that limit
    /// waits for the next call. Returns the bytes of `text` taken.
    pub fn shown_prefix(&mut self, text: &[u8], most: usize) -> usize {
        let chunk = text.get(..most).unwrap_or(text);
        self.shown(chunk, &[], 0, chunk.len() < text.len())
    }

    /// Appends a JSON string literal (quoted and escaped).
    #[inline(never)]
    pub fn json_str(&mut self, text: &[u8]) -> &mut Self {
        self.byte(b'"');
        for &b in text {
            // `"`, `\`, newline, return and tab as `\"`, `\\`, `\n`, `\r`, `\t`.
            let e = match b {
                b'"' | b'\\' => b,
                b'\n' => b'n',
                b'\r' => b'r',
                b'\t' => b't',
                0x20..0x7f => {
                    self.byte(b);
                    continue;
                }
                // Control bytes and non-ASCII (which may not be UTF-8) are
                // escaped one byte at a time, so the output is always valid.
                _ => {
                    self.hex(b"\\u00", b);
                    continue;
                }
            };
            self.byte(b'\\').byte(e);
        }
        self.byte(b'"')
    }
}

/// Copies `min(dst.len(), src.len())` bytes from `src` to the start of
/// `dst` and returns that count: no length check left to panic
/// (`copy_from_slice` keeps one when it is not inlined), no unsafe; the
/// compiler makes the loop a `memcpy`.
#[inline(never)]
pub fn copy(dst: &mut [u8], src: &[u8]) -> usize {
    let n = dst.len().min(src.len());
    if let (Some(d), Some(s)) = (dst.get_mut(..n), src.get(..n)) {
        d.copy_from_slice(s);
    }
    n
}

/// Writes `n` in decimal into `out` and returns the digits.
pub fn decimal(mut n: u64, out: &mut [u8; 20]) -> &[u8] {
    let mut at = out.len();
    loop {
        at -= 1;
        if let Some(d) = out.get_mut(at) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || at == 0 {
            break;
        }
    }
    out.get(at..).unwrap_or(&[])
}

/// The `i`th of the strings in `list`, each followed by a NUL byte; empty
/// past the end. A list of names as one string has no table of pointers.
#[inline(never)]
pub fn nth(list: &'static [u8], i: usize) -> &'static [u8] {
    split(list, 0).nth(i).unwrap_or(&[])
}

/// Where `word` is among the strings of `list`, each followed by a NUL
/// byte; never for an empty `word`. Matching a list is smaller than a
/// `match` on byte strings, which compares byte by byte in line.
pub fn position(list: &[u8], word: &[u8]) -> Option<usize> {
    find(list, word, false)
}

/// [`position`], ASCII letters in either case.
pub fn position_any_case(list: &[u8], word: &[u8]) -> Option<usize> {
    find(list, word, true)
}

/// [`position`]; with `fold`, ASCII letters in either case. One loop for
/// both, smaller than `eq_ignore_ascii_case`'s.
#[inline(never)]
fn find(list: &[u8], word: &[u8], fold: bool) -> Option<usize> {
    // The same byte, or with `fold` the same letter: bytes equal once
    // their case bit is set, and a lowercase letter then.
    let same =
        |a: u8, b: u8| a == b || fold && a | 0x20 == b | 0x20 && (a | 0x20).is_ascii_lowercase();
    split(list, 0).position(|w| {
        !word.is_empty() && w.len() == word.len() && w.iter().zip(word).all(|(&a, &b)| same(a, b))
    })
}

/// The pieces of `text` between the bytes `sep`: one splitter for every
/// separator, so that its code is there once.
pub fn split(text: &[u8], sep: u8) -> core::slice::Split<'_, u8, impl FnMut(&u8) -> bool> {
    text.split(move |&b| b == sep)
}

/// Whether `text` holds the byte `b`: a plain loop, where `contains`
/// brings in `memchr`.
#[allow(clippy::manual_contains)]
pub fn has(text: &[u8], b: u8) -> bool {
    text.iter().any(|&c| c == b)
}

/// `text` without `prefix` at its start, if it starts so: one copy of
/// `strip_prefix` for every prefix, whatever its length.
#[inline(never)]
pub fn strip<'a>(text: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    text.strip_prefix(prefix)
}

/// Parses an unsigned decimal number with no sign and no blanks.
pub fn parse_u64(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in text {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text<const N: usize>(b: &Buf<N>) -> &str {
        core::str::from_utf8(b.as_bytes()).unwrap()
    }

    #[test]
    fn numbers_and_columns() {
        let mut b = Buf::<64>::new();
        b.u(0).byte(b' ').u(u64::MAX);
        assert_eq!(text(&b), "0 18446744073709551615");
        b.clear();
        b.left(b"ab", 4).right(b"7", 3).byte(b'|');
        assert_eq!(text(&b), "ab    7|");
    }

    #[test]
    fn durations() {
        let cases = [
            (0, "0ms"),
            (950, "950ms"),
            (1000, "1s"),
            (59_999, "59s"),
            (123_000, "2m03s"),
            (3_720_000, "1h02m"),
            (273_600_000, "3d04h"),
        ];
        for (ms, want) in cases {
            let mut b = Buf::<16>::new();
            b.dur(ms);
            assert_eq!(text(&b), want, "{ms} ms");
        }
    }

    #[test]
    fn stamps() {
        let mut b = Buf::<32>::new();
        b.stamp(12_345);
        assert_eq!(text(&b), "[    12.345] ");
        b.clear();
        b.stamp(7);
        assert_eq!(text(&b), "[     0.007] ");
    }

    #[test]
    fn overflow_truncates_and_is_remembered() {
        let mut b = Buf::<4>::new();
        b.s(b"abcdef");
        assert_eq!(text(&b), "abcd");
        assert!(b.overflowed());
        b.consume(3);
        assert_eq!(text(&b), "d");
    }

    #[test]
    fn json_strings_escape_everything_unsafe() {
        let mut b = Buf::<64>::new();
        b.json_str(b"a\"b\\c\n\x01\xff");
        assert_eq!(text(&b), r#""a\"b\\c\n\u0001\u00ff""#);
        let v: String = serde_json::from_str(text(&b)).unwrap();
        assert_eq!(v, "a\"b\\c\n\u{1}\u{ff}");
    }

    #[test]
    fn lists_of_words() {
        const LIST: &[u8] = b"one\0two\0\0four\0";
        let words: Vec<&[u8]> = (0..6).map(|i| nth(LIST, i)).collect();
        assert_eq!(words, [&b"one"[..], b"two", b"", b"four", b"", b""]);
        assert_eq!(nth(b"last", 0), b"last");
        assert_eq!(position(LIST, b"one"), Some(0));
        assert_eq!(position(LIST, b"four"), Some(3));
        assert_eq!(position(LIST, b"fou"), None);
        assert_eq!(position(LIST, b""), None);
        assert_eq!(position(b"a\0last", b"last"), Some(1));
    }

    #[test]
    fn parse_numbers() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"4096"), Some(4096));
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"1 "), None);
        assert_eq!(parse_u64(b"99999999999999999999"), None);
    }
}
