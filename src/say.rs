//! Text without `core::fmt`: a fixed buffer that numbers, durations and
//! padded columns are appended to. Appending past the end truncates and is
//! remembered ([`Buf::overflowed`]), never a panic.

/// A fixed-capacity byte buffer that text is appended to.
pub struct Buf<const N: usize> {
    bytes: heapless::Vec<u8, N>,
    overflowed: bool,
}

impl<const N: usize> Default for Buf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Buf<N> {
    pub const fn new() -> Self {
        Buf {
            bytes: heapless::Vec::new(),
            overflowed: false,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Bytes that can still be appended.
    pub fn room(&self) -> usize {
        N - self.bytes.len()
    }

    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
        self.overflowed = false;
    }

    /// Drops the first `n` bytes (those already written out).
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.bytes.len());
        self.bytes.copy_within(n.., 0);
        self.bytes.truncate(self.bytes.len() - n);
    }

    /// Cuts the buffer back to `len` bytes (to undo a partial append).
    pub fn truncate(&mut self, len: usize) {
        self.bytes.truncate(len);
    }

    /// Appends bytes; what does not fit is dropped.
    pub fn s(&mut self, text: &[u8]) -> &mut Self {
        let take = text.len().min(self.room());
        if take < text.len() {
            self.overflowed = true;
        }
        if let Some(head) = text.get(..take) {
            // Cannot fail: `take` fits in the room left.
            let _ = self.bytes.extend_from_slice(head);
        }
        self
    }

    pub fn byte(&mut self, b: u8) -> &mut Self {
        if self.bytes.push(b).is_err() {
            self.overflowed = true;
        }
        self
    }

    /// Appends `n` copies of `b`.
    pub fn fill(&mut self, b: u8, n: usize) -> &mut Self {
        for _ in 0..n {
            self.byte(b);
        }
        self
    }

    /// Appends a number in decimal.
    pub fn u(&mut self, n: u64) -> &mut Self {
        let mut digits = [0u8; 20];
        let text = decimal(n, &mut digits);
        self.s(text)
    }

    /// Appends a signed number in decimal.
    pub fn i(&mut self, n: i64) -> &mut Self {
        if n < 0 {
            self.byte(b'-');
        }
        self.u(n.unsigned_abs())
    }

    /// Appends `text` left-aligned in a column of `width` bytes.
    pub fn left(&mut self, text: &[u8], width: usize) -> &mut Self {
        self.s(text).fill(b' ', width.saturating_sub(text.len()))
    }

    /// Appends `text` right-aligned in a column of `width` bytes.
    pub fn right(&mut self, text: &[u8], width: usize) -> &mut Self {
        self.fill(b' ', width.saturating_sub(text.len())).s(text)
    }

    /// Appends a short human duration: `950ms`, `59s`, `2m03s`, `1h02m`,
    /// `3d04h`.
    pub fn dur(&mut self, ms: u64) -> &mut Self {
        let mut tmp = Buf::<16>::new();
        duration(ms, &mut tmp);
        self.s(tmp.as_bytes())
    }

    /// Appends a time since boot as `[    12.345]` (seconds, milliseconds).
    pub fn stamp(&mut self, ms: u64) -> &mut Self {
        let mut secs = Buf::<20>::new();
        secs.u(ms / 1000);
        self.byte(b'[').right(secs.as_bytes(), 6).byte(b'.');
        let frac = ms % 1000;
        self.byte(b'0' + (frac / 100) as u8)
            .byte(b'0' + (frac / 10 % 10) as u8)
            .byte(b'0' + (frac % 10) as u8);
        self.s(b"] ")
    }

    /// Appends a JSON string literal (quoted and escaped).
    pub fn json_str(&mut self, text: &[u8]) -> &mut Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.byte(b'"');
        for &b in text {
            match b {
                b'"' => self.s(b"\\\""),
                b'\\' => self.s(b"\\\\"),
                b'\n' => self.s(b"\\n"),
                b'\r' => self.s(b"\\r"),
                b'\t' => self.s(b"\\t"),
                0..=0x1f | 0x7f..=0xff => {
                    // Control bytes and non-ASCII (which may not be UTF-8) are
                    // escaped one byte at a time, so the output is always valid.
                    let hi = HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
                    let lo = HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0');
                    self.s(b"\\u00").byte(hi).byte(lo)
                }
                _ => self.byte(b),
            };
        }
        self.byte(b'"')
    }
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

fn duration<const N: usize>(ms: u64, out: &mut Buf<N>) {
    let s = ms / 1000;
    if ms < 1000 {
        out.u(ms).s(b"ms");
    } else if s < 60 {
        out.u(s).byte(b's');
    } else if s < 3600 {
        out.u(s / 60).byte(b'm');
        two(out, s % 60).byte(b's');
    } else if s < 86400 {
        out.u(s / 3600).byte(b'h');
        two(out, s / 60 % 60).byte(b'm');
    } else {
        out.u(s / 86400).byte(b'd');
        two(out, s / 3600 % 24).byte(b'h');
    }
}

fn two<const N: usize>(out: &mut Buf<N>, n: u64) -> &mut Buf<N> {
    if n < 10 {
        out.byte(b'0');
    }
    out.u(n)
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
        b.u(0).byte(b' ').u(u64::MAX).byte(b' ').i(-42);
        assert_eq!(text(&b), "0 18446744073709551615 -42");
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
    fn parse_numbers() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"4096"), Some(4096));
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"1 "), None);
        assert_eq!(parse_u64(b"99999999999999999999"), None);
    }
}
