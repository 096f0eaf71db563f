//! How a service's bytes are shown to a person (`tend log`, `tend status
//! NAME`, crash records on the console): a service must not be able to
//! drive the operator's terminal, so every control byte but tab, and every
//! byte that is not part of well-formed UTF-8, is shown as `\xNN`; C1
//! controls (U+0080–U+009F), which some terminals obey even in UTF-8, are
//! escaped too. Everything else passes as it is. And the wall-clock form of
//! a stamp, for `tend log -t`.
//!
//! The bytes come as two slices (a record of the log ring may wrap around
//! its end), read as one.

/// Two slices read as one: a record's head and tail.
#[derive(Clone, Copy)]
pub struct Two<'a> {
    pub head: &'a [u8],
    pub tail: &'a [u8],
}

impl Two<'_> {
    pub fn len(&self) -> usize {
        self.head.len() + self.tail.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: usize) -> Option<u8> {
        match i.checked_sub(self.head.len()) {
            None => self.head.get(i).copied(),
            Some(j) => self.tail.get(j).copied(),
        }
    }
}

/// What the bytes at an offset are, for display.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum Piece {
    /// `n` bytes shown as they are: printable ASCII, tab, newline, or one
    /// well-formed UTF-8 character that is not a C1 control.
    Pass(usize),
    /// One byte shown as `\xNN`.
    Escape(u8),
    /// The start of a UTF-8 character (its lead byte) whose end has not
    /// arrived yet (only at the end of the bytes).
    Incomplete(u8),
}

/// The piece at `i` of `bytes`; `Pass(0)` past the end.
pub fn piece(bytes: Two<'_>, i: usize) -> Piece {
    let Some(b) = bytes.get(i) else {
        return Piece::Pass(0);
    };
    if matches!(b, b'\t' | b'\n' | 0x20..=0x7e) {
        return Piece::Pass(1);
    }
    // A lead byte (C2–F4), and how many continuation bytes follow it,
    if !(0xc2..=0xf4).contains(&b) {
        return Piece::Escape(b);
    }
    let more = 1 + usize::from(b >= 0xe0) + usize::from(b >= 0xf0);
    // and the range the first of them must be in (RFC 3629: no overlong
    // forms, no surrogates, nothing above U+10FFFF; and C2 80–C2 9F encode
    // the C1 controls, escaped as malformed bytes are).
    let (mut lo, mut hi) = match b {
        0xc2 | 0xe0 => (0xa0, 0xbf),
        0xf0 => (0x90, 0xbf),
        0xed => (0x80, 0x9f),
        0xf4 => (0x80, 0x8f),
        _ => (0x80, 0xbf),
    };
    for k in 1..more + 1 {
        match bytes.get(i + k) {
            Some(c) if lo <= c && c <= hi => {}
            Some(_) => return Piece::Escape(b),
            None => return Piece::Incomplete(b),
        }
        (lo, hi) = (0x80, 0xbf);
    }
    Piece::Pass(1 + more)
}

/// Bytes `bytes` takes once shown (an incomplete character at the end is
/// shown escaped, as a finished line shows it).
pub fn shown_len(bytes: Two<'_>) -> usize {
    let mut i = 0;
    let mut n = 0;
    while i < bytes.len() {
        match piece(bytes, i) {
            Piece::Pass(k) => {
                i += k.max(1);
                n += k.max(1);
            }
            Piece::Escape(_) | Piece::Incomplete(_) => {
                i += 1;
                n += 4;
            }
        }
    }
    n
}

/// The fields of `2026-12-05T18:40:12.345` for `ms` since 1970 (UTC): year,
/// month, day, hours, minutes, seconds, milliseconds.
pub fn utc_fields(ms: u64) -> [u32; 7] {
    let secs = ms / 1000;
    let t = (secs % 86_400) as u32;
    // Days fit a u32 for 11 million years (Linux's clock ends in 2262);
    // u32 arithmetic is smaller code on 32-bit targets.
    let days = (secs / 86_400) as u32;
    // The proleptic Gregorian calendar repeats every 400 years (146,097
    // days): whole cycles at once, then month by month, at most 4,800
    // steps (a loop is less code than a closed form's divisions).
    let mut y = 1970 + days / 146_097 * 400;
    let mut days = days % 146_097;
    let mut m = 0;
    loop {
        // A leap year: divisible by 4, or by 16 for a century (by 400).
        let leap = y & if y.is_multiple_of(100) { 15 } else { 3 } == 0;
        // Each month's days less 28, two bits a month from January.
        let len = 28 + (0xeefbb3 >> (2 * m) & 3) + u32::from(m == 1 && leap);
        if days < len {
            break;
        }
        days -= len;
        m += 1;
        if m == 12 {
            (y, m) = (y + 1, 0);
        }
    }
    [
        y,
        m + 1,
        days + 1,
        t / 3600,
        t / 60 % 60,
        t % 60,
        (ms % 1000) as u32,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(bytes: &[u8]) -> String {
        let mut out = Vec::new();
        for split in 0..=bytes.len() {
            let two = Two {
                head: &bytes[..split],
                tail: &bytes[split..],
            };
            let mut got = Vec::new();
            let mut i = 0;
            while i < two.len() {
                match piece(two, i) {
                    Piece::Pass(k) => {
                        got.extend((i..i + k).map(|j| two.get(j).unwrap()));
                        i += k;
                    }
                    Piece::Escape(b) => {
                        got.extend(format!("\\x{b:02x}").bytes());
                        i += 1;
                    }
                    Piece::Incomplete(b) => {
                        got.extend(format!("\\x{b:02x}").bytes());
                        i += 1;
                    }
                }
            }
            assert_eq!(got.len(), shown_len(two), "{bytes:?} split at {split}");
            if split == 0 {
                out = got;
            } else {
                assert_eq!(got, out, "the split at {split} changes nothing");
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn printable_tab_and_utf8_pass() {
        assert_eq!(
            show(b"plain text\twith a tab\n"),
            "plain text\twith a tab\n"
        );
        assert_eq!(show("héllo → 世界 🦀".as_bytes()), "héllo → 世界 🦀");
    }

    #[test]
    fn control_bytes_are_escaped() {
        assert_eq!(
            show(b"\x1b[2J\x07bell\r\x00\x7f"),
            "\\x1b[2J\\x07bell\\x0d\\x00\\x7f"
        );
        // C1 controls in UTF-8: U+009B is CSI to some terminals.
        assert_eq!(show(b"a\xc2\x9b31m"), "a\\xc2\\x9b31m");
        assert_eq!(show("\u{a0}".as_bytes()), "\u{a0}");
    }

    #[test]
    fn malformed_utf8_is_escaped_byte_by_byte() {
        assert_eq!(show(b"\xff\xfe"), "\\xff\\xfe");
        assert_eq!(show(b"\xc0\xaf"), "\\xc0\\xaf"); // overlong '/'
        assert_eq!(show(b"\xed\xa0\x80"), "\\xed\\xa0\\x80"); // a surrogate
        assert_eq!(show(b"\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80"); // > U+10FFFF
        assert_eq!(show(b"\xe2\x82x"), "\\xe2\\x82x"); // cut short
        assert_eq!(show(b"ok\xe2\x82"), "ok\\xe2\\x82"); // cut at the end
    }

    #[test]
    fn an_unfinished_character_at_the_end_is_incomplete() {
        let two = Two {
            head: b"ab\xf0\x9f",
            tail: b"",
        };
        assert_eq!(piece(two, 2), Piece::Incomplete(0xf0));
        let two = Two {
            head: b"ab\xf0\x9f",
            tail: b"\xa6\x80",
        };
        assert_eq!(piece(two, 2), Piece::Pass(4));
    }

    #[test]
    fn utc_stamps() {
        let utc = |ms| {
            let mut out = String::new();
            let form = ["4-", "2-", "2T", "2:", "2:", "2.", "3Z"];
            for (v, f) in utc_fields(ms).into_iter().zip(form) {
                let w = usize::from(f.as_bytes()[0] - b'0');
                out += &format!("{v:0w$}{}", &f[1..]);
            }
            out
        };
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(1_796_496_012_345), "2026-12-05T18:40:12.345Z");
        assert_eq!(
            utc(951_782_400_000 + 86_399_999),
            "2000-02-29T23:59:59.999Z"
        ); // a leap day
        assert_eq!(utc(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
        assert_eq!(utc(4_107_542_400_000 - 1), "2100-02-28T23:59:59.999Z"); // no leap day
        assert_eq!(utc(1_735_689_599_000), "2024-12-31T23:59:59.000Z"); // a leap year's last day
        assert_eq!(utc(13_574_606_400_000), "2400-02-29T12:00:00.000Z"); // a leap century
        assert_eq!(utc(13_569_465_599_000), "2399-12-31T23:59:59.000Z"); // a cycle's end
        assert_eq!(utc(253_402_300_799_000), "9999-12-31T23:59:59.000Z");
    }
}
