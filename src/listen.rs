//! Sockets handed to services (tend(8), SOCKETS): the `listen` address as
//! the table writes it, the UCSPI environment of a connection, and the
//! instances of `accept = yes` services that run. Pure: the socket calls
//! are `listen_in`'s.

use crate::conf::SvcId;
use crate::limits::MAX_INSTANCES;
use crate::say::Text;

/// Address families and socket kinds, as the kernel numbers them.
pub const AF_UNIX: u16 = linux_raw_sys::net::AF_UNIX as u16;
const AF_INET: u16 = linux_raw_sys::net::AF_INET as u16;
const AF_INET6: u16 = linux_raw_sys::net::AF_INET6 as u16;

/// A `listen` value, parsed: the kind of socket and, for tcp and udp, its
/// `sockaddr_in` or `sockaddr_in6` (a unix socket is bound by its path).
pub struct Addr {
    pub dgram: bool,
    /// `AF_UNIX`, `AF_INET` or `AF_INET6`.
    pub family: u16,
    /// The `sockaddr_in(6)`: `len` bytes of `raw`.
    pub raw: [u8; 28],
    pub len: u8,
}

/// The family of the socket address `sa` (0 when it is too short).
pub fn family(sa: &[u8]) -> u16 {
    match *sa {
        [a, b, ..] => u16::from_ne_bytes([a, b]),
        _ => 0,
    }
}

/// Parses `tcp:ADDR:PORT`, `udp:ADDR:PORT` (ADDR an IPv4 address, or an
/// IPv6 one in brackets) or `unix:/PATH` (below 108 bytes).
pub fn parse(text: &[u8]) -> Option<Addr> {
    // (Made as the value returned and filled in place: not made on this
    // frame and copied out.)
    let mut made = Some(Addr {
        dgram: false,
        family: AF_UNIX,
        raw: [0; 28],
        len: 0,
    });
    if let Some(a) = &mut made {
        fill(text, a)?;
    }
    made
}

/// [`parse`] into `a`, which holds a unix socket's.
fn fill(text: &[u8], a: &mut Addr) -> Option<()> {
    let at = text.iter().position(|&b| b == b':')?;
    let (proto, rest) = text.split_at_checked(at)?;
    let kind = crate::say::position(b"tcp\0udp\0unix\0", proto)?;
    let rest = rest.get(1..)?;
    a.dgram = kind == 1;
    if kind == 2 {
        return (rest.first() == Some(&b'/') && rest.len() < 108).then_some(());
    }
    let colon = rest.iter().rposition(|&b| b == b':')?;
    let (host, port) = rest.split_at_checked(colon)?;
    let raw = &mut a.raw;
    fields(port.get(1..)?, 0, raw.get_mut(2..4)?)?;
    (a.family, a.len) = match host {
        [b'[', v6 @ .., b']'] => {
            fields(v6, b':', raw.get_mut(8..24)?)?;
            (AF_INET6, 28)
        }
        _ => {
            fields(host, b'.', raw.get_mut(4..8)?)?;
            (AF_INET, 16)
        }
    };
    crate::say::copy(raw, &a.family.to_ne_bytes());
    Some(())
}

/// Reads the numbers of `text` separated by `sep` into the whole of `out`
/// (big-endian): decimal bytes with `.` (an IPv4 address), hex pairs of
/// bytes with `:` (an IPv6 one, where one `::` stands for one or more
/// zero pairs), else one decimal pair (a port).
#[inline(never)]
fn fields(text: &[u8], sep: u8, out: &mut [u8]) -> Option<()> {
    let (base, width) = match sep {
        b'.' => (10, 1),
        b':' => (16, 2),
        _ => (10, 2),
    };
    // Bytes written; where `::` stands, in bytes; the number being read
    // and its digits.
    let (mut n, mut gap, mut v, mut digits) = (0, usize::MAX, 0u32, 0);
    let mut i = 0;
    while i <= text.len() {
        // The end of the text ends a number as `sep` does.
        let b = text.get(i).copied().unwrap_or(sep);
        i += 1;
        if b != sep {
            // (A constant radix: no check of it left to panic.)
            let d = char::from(b).to_digit(16)?;
            v = v * base + d;
            digits += 1;
            if d >= base || v >> (8 * width) != 0 || digits > 5 {
                return None;
            }
            continue;
        }
        if digits > 0 {
            // Big-endian: a pair's high byte first (a byte's is overwritten).
            n += width;
            *out.get_mut(n - width)? = (v >> 8) as u8;
            *out.get_mut(n - 1)? = v as u8;
        }
        let end = i > text.len();
        if b == b':' && text.get(i) == Some(&b':') {
            // `::`, once: at the start, or after a group written above.
            if gap != usize::MAX {
                return None;
            }
            gap = n;
            i += 1;
        } else if digits == 0 && (!end || gap != n) {
            // An empty number, but at the end right after `::`.
            return None;
        }
        (v, digits) = (0, 0);
    }
    let len = out.len();
    // Without `::`, every number; with it, one missing at least.
    if (gap == usize::MAX) != (n == len) || n > len {
        return None;
    }
    // The groups after `::` go to the end.
    for k in (gap.min(n)..n).rev() {
        let b = core::mem::take(out.get_mut(k)?);
        *out.get_mut(k + len - n)? = b;
    }
    Some(())
}

/// The UCSPI variables of a TCP and of a unix connection, each followed by
/// a NUL byte; a byte from 1 to 7 stands for a value (see [`ucspi_env`]).
const TCP_ENV: &[u8] =
    b"PROTO=TCP\0TCPREMOTEIP=\x01\0TCPREMOTEPORT=\x02\0TCPLOCALIP=\x03\0TCPLOCALPORT=\x04\0";
const UNIX_ENV: &[u8] =
    b"PROTO=UNIX\0UNIXREMOTEPID=\x05\0UNIXREMOTEEUID=\x06\0UNIXREMOTEEGID=\x07\0";

/// Writes the UCSPI variables of a connection, each followed by a NUL
/// byte: of a TCP one from the peer's and the local `sockaddr_in(6)`
/// (`sa`), of a unix one from the peer's credentials (`SO_PEERCRED`: pid,
/// uid, gid). An IPv4 peer of an IPv6 socket is written as IPv4, an IPv6
/// address as RFC 5952 writes it (`fe80::a:0:1`). (`accept` hands whole
/// `sockaddr` buffers: a TCP one always holds its port.)
pub fn ucspi_env(out: &mut Text, unix: bool, sa: [&[u8]; 2], cred: [u32; 3]) {
    for &b in if unix { UNIX_ENV } else { TCP_ENV } {
        let k = usize::from(b.wrapping_sub(1));
        let sa = sa.get(k / 2).copied().unwrap_or(&[]);
        let v = match (k, sa) {
            (0 | 2, _) => {
                put_ip(out, sa);
                continue;
            }
            (1 | 3, &[_, _, hi, lo, ..]) => u16::from_be_bytes([hi, lo]).into(),
            (4..=6, _) => cred.get(k - 4).copied().unwrap_or(0),
            _ => {
                out.byte(b);
                continue;
            }
        };
        out.u(v.into());
    }
}

/// Writes the address of `sa`, a `sockaddr_in(6)`: decimal bytes separated
/// by `.`, or hex groups separated by `:`.
#[inline(never)]
fn put_ip(out: &mut Text, sa: &[u8]) {
    let v6 = family(sa) == AF_INET6;
    // The address as an IPv6 one, an IPv4 one mapped (`::ffff:a.b.c.d`).
    let mut ip = 0xffffu128;
    for &b in sa.get(if v6 { 8..24 } else { 4..8 }).unwrap_or(&[]) {
        ip = ip << 8 | u128::from(b);
    }
    if ip >> 32 == 0xffff {
        for k in (0..4).rev() {
            out.u(u64::from(ip as u32 >> (8 * k) & 255));
            if k > 0 {
                out.byte(b'.');
            }
        }
        return;
    }
    let mut groups = [0u16; 8];
    for g in groups.iter_mut().rev() {
        *g = ip as u16;
        ip >>= 16;
    }
    // As RFC 5952 writes IPv6: the longest run of two or more zero groups
    // (the first of equal runs) as `::`.
    let (mut gap, mut gap_len, mut run) = (usize::MAX, 1, 0);
    for (i, &g) in groups.iter().enumerate() {
        run = if g == 0 { run + 1 } else { 0 };
        if run > gap_len {
            (gap, gap_len) = (i + 1 - run, run);
        }
    }
    let (mut i, mut first) = (0, true);
    while let Some(&v) = groups.get(i) {
        if i == gap {
            out.s(b"::");
            (i, first) = (i + gap_len, true);
            continue;
        }
        if !first {
            out.byte(b':');
        }
        (i, first) = (i + 1, false);
        // Without leading zeros.
        for k in (0..4).rev() {
            let shift = 4 * k;
            let d = (v >> shift & 15) as u8;
            if v >> shift != 0 || shift == 0 {
                out.byte(if d < 10 { b'0' + d } else { b'a' + d - 10 });
            }
        }
    }
}

/// The instances of `accept = yes` services that run: each one's pid and
/// service, at most [`MAX_INSTANCES`] in all. A free entry has pid 0.
pub struct Instances {
    pids: [i32; MAX_INSTANCES],
    svcs: [u8; MAX_INSTANCES],
}

impl Default for Instances {
    fn default() -> Self {
        Self::new()
    }
}

impl Instances {
    pub const fn new() -> Instances {
        Instances {
            pids: [0; MAX_INSTANCES],
            svcs: [0; MAX_INSTANCES],
        }
    }

    /// Room for one more.
    // (A plain scan: `contains` compiles to more code.)
    #[allow(clippy::manual_contains)]
    pub fn room(&self) -> bool {
        self.pids.iter().any(|&p| p == 0)
    }

    /// Keeps instance `pid` of service `id` (there is room: see [`room`]).
    ///
    /// [`room`]: Instances::room
    pub fn add(&mut self, pid: i32, id: SvcId) {
        let mut free = self.pids.iter_mut().zip(self.svcs.iter_mut());
        if let Some((p, s)) = free.find(|(p, _)| **p == 0) {
            (*p, *s) = (pid, id.0);
        }
    }

    /// The service of instance `pid`, which ended: it is forgotten.
    pub fn reaped(&mut self, pid: i32) -> Option<SvcId> {
        let mut both = self.pids.iter_mut().zip(&self.svcs);
        let (p, &s) = both.find(|(p, _)| **p == pid && pid > 0)?;
        *p = 0;
        Some(SvcId(s))
    }

    /// The pids of service `id`'s instances.
    pub fn of(&self, id: SvcId) -> impl Iterator<Item = i32> + '_ {
        let both = self.pids.iter().zip(&self.svcs);
        both.filter(move |&(&p, &s)| p > 0 && s == id.0)
            .map(|(&p, _)| p)
    }

    /// The services renumbered by a reload: `map[old]` is the new number
    /// (every service with an instance keeps one, as it runs).
    pub fn remap(&mut self, map: &[Option<u8>]) {
        for s in self.svcs.iter_mut() {
            if let Some(&Some(to)) = map.get(usize::from(*s)) {
                *s = to;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::say::Buf;

    fn v6(text: &str) -> Option<[u16; 8]> {
        let a = parse(format!("tcp:[{text}]:1").as_bytes())?;
        let out = &a.raw[8..24];
        let mut g = [0u16; 8];
        for (i, c) in out.chunks(2).enumerate() {
            g[i] = u16::from_be_bytes([c[0], c[1]]);
        }
        Some(g)
    }

    #[test]
    fn ipv6_addresses_with_and_without_their_gap() {
        assert_eq!(v6("::"), Some([0; 8]));
        assert_eq!(v6("::1"), Some([0, 0, 0, 0, 0, 0, 0, 1]));
        assert_eq!(v6("fe80::1:2"), Some([0xfe80, 0, 0, 0, 0, 0, 1, 2]));
        assert_eq!(v6("1::"), Some([1, 0, 0, 0, 0, 0, 0, 0]));
        assert_eq!(v6("1:2:3:4:5:6:7:8"), Some([1, 2, 3, 4, 5, 6, 7, 8]));
        assert_eq!(v6("1:2:3:4:5:6:7::"), Some([1, 2, 3, 4, 5, 6, 7, 0]));
        assert_eq!(v6("::2:3:4:5:6:7:8"), Some([0, 2, 3, 4, 5, 6, 7, 8]));
        assert_eq!(v6("1:2::7:FFFF"), Some([1, 2, 0, 0, 0, 0, 7, 0xffff]));
        for bad in [
            "",
            ":",
            ":1",
            "1:",
            "1::2::3",
            "1:2:3:4:5:6:7",
            "1:2:3:4:5:6:7:8:9",
            "12345::",
            "g::",
            "1:2:3:4::5:6:7:8",
            "::1.2.3.4",
            "1:::2",
            ":::",
            "1::2:",
            ":1::",
            "1::2::",
            "000001::",
            "1:2:3:4:5:6:7:8::",
            "::1:2:3:4:5:6:7:8",
            "1:2:3:4::5:6:7:8",
        ] {
            assert_eq!(v6(bad), None, "{bad}");
        }
    }

    #[test]
    fn listen_values() {
        let a = parse(b"tcp:0.0.0.0:80").unwrap();
        assert_eq!((a.family, a.dgram, a.len), (AF_INET, false, 16));
        assert_eq!(&a.raw[2..8], &[0, 80, 0, 0, 0, 0]);
        let a = parse(b"udp:127.0.0.1:514").unwrap();
        assert!(a.dgram);
        assert_eq!(&a.raw[2..8], &[2, 2, 127, 0, 0, 1]);
        let a = parse(b"tcp:[::1]:65535").unwrap();
        assert_eq!((a.family, a.len), (AF_INET6, 28));
        assert_eq!(&a.raw[2..4], &[255, 255]);
        assert_eq!(a.raw[23], 1);
        assert_eq!(parse(b"unix:/run/x.sock").unwrap().family, AF_UNIX);
        for bad in [
            "tcp:0.0.0.0",
            "tcp:0.0.0.0:65536",
            "tcp:1.2.3:80",
            "tcp:1.2.3.4.5:80",
            "tcp:256.0.0.0:80",
            "tcp::80",
            "tcp:[::1:80",
            "tcp:::1:80",
            "sctp:1.2.3.4:80",
            "unix:run/x",
            "unix:",
            "80",
            "tcp:1.2.3.4:-1",
            "tcp:[1::2::3]:80",
            "tcp:1.:2.3:80",
            "tcp:1.2.3.4.:80",
        ] {
            assert!(parse(bad.as_bytes()).is_none(), "{bad}");
        }
        assert!(parse(format!("unix:/{}", "a".repeat(106)).as_bytes()).is_some());
        assert!(parse(format!("unix:/{}", "a".repeat(107)).as_bytes()).is_none());
    }

    #[test]
    fn the_ucspi_environment() {
        let mut out = Buf::<256>::new();
        let remote = parse(b"tcp:10.0.0.2:40000").unwrap();
        let local = parse(b"tcp:10.0.0.1:80").unwrap();
        ucspi_env(
            &mut out,
            false,
            [&remote.raw[..16], &local.raw[..16]],
            [0; 3],
        );
        assert_eq!(
            out.as_bytes(),
            b"PROTO=TCP\0TCPREMOTEIP=10.0.0.2\0TCPREMOTEPORT=40000\0\
              TCPLOCALIP=10.0.0.1\0TCPLOCALPORT=80\0"
        );
        out.clear();
        let remote = parse(b"tcp:[::ffff:a00:2]:1").unwrap();
        let local = parse(b"tcp:[fe80::a:0:1]:22").unwrap();
        ucspi_env(&mut out, false, [&remote.raw, &local.raw], [0; 3]);
        assert_eq!(
            out.as_bytes(),
            b"PROTO=TCP\0TCPREMOTEIP=10.0.0.2\0TCPREMOTEPORT=1\0\
              TCPLOCALIP=fe80::a:0:1\0TCPLOCALPORT=22\0"
        );
        // The longest run of zeros is cut, the first of two as long; a
        // lone zero group is not; none at all.
        for (text, want) in [
            ("[::1]", "::1"),
            ("[::]", "::"),
            ("[1:0:0:2:0:0:0:3]", "1:0:0:2::3"),
            ("[1:0:0:2:0:0:3:4]", "1::2:0:0:3:4"),
            ("[1:0:2:3:4:5:6:7]", "1:0:2:3:4:5:6:7"),
            ("[abcd:1:2:3:4:5:6:0]", "abcd:1:2:3:4:5:6:0"),
            ("[1:2:3:4:5:6:0:0]", "1:2:3:4:5:6::"),
        ] {
            let a = parse(format!("tcp:{text}:1").as_bytes()).unwrap();
            out.clear();
            put_ip(&mut out, &a.raw);
            assert_eq!(out.as_bytes(), want.as_bytes(), "{text}");
        }
        out.clear();
        ucspi_env(&mut out, true, [&[], &[]], [42, 1000, 100]);
        assert_eq!(
            out.as_bytes(),
            b"PROTO=UNIX\0UNIXREMOTEPID=42\0UNIXREMOTEEUID=1000\0UNIXREMOTEEGID=100\0"
        );
    }

    #[test]
    fn instances_are_kept_found_and_renumbered() {
        let mut t = Instances::new();
        assert!(t.room());
        t.add(100, SvcId(3));
        t.add(101, SvcId(3));
        t.add(200, SvcId(5));
        assert_eq!(t.of(SvcId(3)).collect::<Vec<_>>(), [100, 101]);
        assert_eq!(t.reaped(100), Some(SvcId(3)));
        assert_eq!(t.reaped(100), None);
        assert_eq!(t.reaped(0), None);
        let mut map = [None; 8];
        map[3] = Some(0);
        map[5] = Some(1);
        t.remap(&map);
        assert_eq!(t.of(SvcId(0)).collect::<Vec<_>>(), [101]);
        assert_eq!(t.of(SvcId(1)).collect::<Vec<_>>(), [200]);
        for pid in 1..=MAX_INSTANCES as i32 {
            if t.room() {
                t.add(1000 + pid, SvcId(7));
            }
        }
        assert!(!t.room());
    }
}
