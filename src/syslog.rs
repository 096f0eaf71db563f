//! Messages that arrive through syslog(3) (tend.conf(5), `[tend]` section,
//! `syslog`): one datagram made into the line a ring keeps. Pure: the socket
//! and who sent what are the loop's (`shell::syslog`).
//!
//! Accepted: RFC 3164, as libc `syslog()` and BusyBox `logger` send it
//! (`<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG`, the timestamp optional), and
//! RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`). Kept as
//! `FACILITY.SEVERITY TAG[PID]: MSG` with the names BusyBox's logread
//! shows (`daemon.err dnsmasq[812]: ...`), `<PRI>` for a facility without
//! one; the sender's timestamp and host are dropped (the ring stamps the
//! line when it arrives).

use crate::limits::LINE_MAX_BYTES;
use crate::say::{self, Text};

/// Facility names by number (`LOG_FAC`), each followed by a NUL byte; the
/// four without a name in syslog.h are empty. The last, 16, stands for
/// `local0` to `local7` (16 to 23): its digit is written after it.
const FACILITIES: &[u8] = b"kern\0user\0mail\0daemon\0auth\0syslog\0lpr\0news\0uucp\0cron\0authpriv\0ftp\0\0\0\0\0local\0";
/// Severity names by number (`LOG_PRI`), each between the dot after the
/// facility and the space before the message.
const SEVERITIES: &[u8] = b".emerg \0.alert \0.crit \0.err \0.warn \0.notice \0.info \0.debug \0";

/// Appends the line to keep for datagram `msg` to `out`, at most
/// [`LINE_MAX_BYTES`]; returns the bytes of the message that were cut.
#[inline(never)]
pub fn line(msg: &[u8], out: &mut Text) -> usize {
    let msg = trim_end(msg);
    let (pri, rest) = priority(msg);
    let fac = pri >> 3;
    let name = say::nth(FACILITIES, fac.min(16));
    if name.is_empty() {
        out.byte(b'<').u(pri as u64).s(b"> ");
    } else {
        out.s(name);
        if let Some(n) = fac.checked_sub(16) {
            out.byte(b'0' + n as u8);
        }
        out.s(say::nth(SEVERITIES, pri & 7));
    }
    let text = match rest {
        [b'1', b' ', fields @ ..] => {
            let mut fields = fields;
            // TIMESTAMP HOST APP PROCID MSGID, the structured data, the
            // message (its byte-order mark dropped).
            word(&mut fields);
            word(&mut fields);
            let app = word(&mut fields);
            let pid = word(&mut fields);
            word(&mut fields);
            if app != b"-" {
                out.s(app);
                if pid != b"-" {
                    out.byte(b'[').s(pid).byte(b']');
                }
                out.s(b": ");
            }
            let text = skip_structured(fields);
            match text {
                [0xEF, 0xBB, 0xBF, text @ ..] => text,
                _ => text,
            }
        }
        _ => skip_timestamp(rest),
    };
    let room = LINE_MAX_BYTES.saturating_sub(out.len());
    let kept = text.get(..room).unwrap_or(text);
    out.s(kept);
    text.len() - kept.len()
}

/// The first space-separated word of `text`, which is left after it.
#[inline(never)]
fn word<'a>(text: &mut &'a [u8]) -> &'a [u8] {
    let all: &'a [u8] = text;
    let end = all.iter().position(|&b| b == b' ').unwrap_or(all.len());
    *text = all.get(end + 1..).unwrap_or(&[]);
    all.get(..end).unwrap_or(all)
}

/// `<PRI>` and what follows; `user.notice` (13) when the sender gave none or
/// a bad one, as syslogd takes it.
fn priority(msg: &[u8]) -> (usize, &[u8]) {
    let m = match msg {
        [b'<', m @ ..] => m,
        _ => &[],
    };
    let end = m.iter().position(|&b| b == b'>').unwrap_or(0);
    match (m.get(..end).and_then(say::parse_u64), m.get(end + 1..)) {
        (Some(n @ ..192), Some(rest)) => (n as usize, rest),
        _ => (13, msg),
    }
}

/// Without an RFC 3164 timestamp (`Mmm dd hh:mm:ss `) in front.
fn skip_timestamp(text: &[u8]) -> &[u8] {
    match text {
        [_, _, _, b' ', _, _, b' ', _, _, b':', _, _, b':', _, _, b' ', rest @ ..] => rest,
        _ => text,
    }
}

/// RFC 5424 structured data: `-`, or `[...]` elements (a `]` inside a
/// quoted value is escaped as `\]`), then a space before the message.
fn skip_structured(text: &[u8]) -> &[u8] {
    let (mut open, mut escaped) = (false, false);
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        if escaped {
            escaped = false;
        } else if b == b'\\' {
            escaped = open;
        } else if b == b'[' || b == b']' {
            open = b == b'[';
        } else if b == b' ' && !open {
            break;
        }
        i += 1;
    }
    text.get(i + 1..).unwrap_or(&[])
}

/// Without the newlines and NUL bytes senders end a message with.
fn trim_end(msg: &[u8]) -> &[u8] {
    let end = msg
        .iter()
        .rposition(|&b| !matches!(b, b'\n' | b'\r' | 0))
        .map_or(0, |i| i + 1);
    msg.get(..end).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::say::Buf;

    fn kept(msg: &[u8]) -> (String, usize) {
        let mut out = Buf::<2048>::new();
        let cut = line(msg, &mut out);
        (String::from_utf8_lossy(out.as_bytes()).into_owned(), cut)
    }

    #[test]
    fn rfc3164_from_libc_and_busybox_logger() {
        // glibc/musl syslog(): <PRI>, timestamp, TAG[PID]: MSG.
        assert_eq!(
            kept(b"<27>Dec  7 11:02:03 dnsmasq[812]: failed to bind"),
            ("daemon.err dnsmasq[812]: failed to bind".into(), 0)
        );
        // BusyBox logger without a timestamp, ended by a newline.
        assert_eq!(
            kept(b"<13>root: hello\n"),
            ("user.notice root: hello".into(), 0)
        );
        // Every severity name, as logread shows them.
        let names = [
            "emerg", "alert", "crit", "err", "warn", "notice", "info", "debug",
        ];
        for (sev, name) in names.iter().enumerate() {
            let msg = format!("<{}>x: y", 16 * 8 + sev);
            assert_eq!(kept(msg.as_bytes()).0, format!("local0.{name} x: y"));
        }
        assert_eq!(kept(b"<0>kernel: oops").0, "kern.emerg kernel: oops");
        assert_eq!(kept(b"<86>sshd[9]: ok").0, "authpriv.info sshd[9]: ok");
        assert_eq!(kept(b"<191>a: b").0, "local7.debug a: b");
    }

    #[test]
    fn a_facility_without_a_name_or_no_priority() {
        assert_eq!(kept(b"<100>ntpd: step").0, "<100> ntpd: step");
        // No <PRI>, or a bad one: user.notice, the message whole.
        assert_eq!(kept(b"plain words").0, "user.notice plain words");
        assert_eq!(kept(b"<999>x").0, "user.notice <999>x");
        assert_eq!(kept(b"<12").0, "user.notice <12");
        assert_eq!(kept(b"").0, "user.notice ");
    }

    #[test]
    fn rfc5424() {
        assert_eq!(
            kept(b"<165>1 2026-12-07T11:02:03.004Z host app 42 ID47 - the message"),
            ("local4.notice app[42]: the message".into(), 0)
        );
        assert_eq!(
            kept(b"<165>1 - - app - - [ex@1 a=\"x\\]y\"][b@2 c=\"d\"] \xEF\xBB\xBFhi"),
            ("local4.notice app: hi".into(), 0)
        );
        assert_eq!(kept(b"<14>1 - - - - - -").0, "user.info ");
    }

    #[test]
    fn a_long_message_is_cut_and_the_cut_counted() {
        let mut msg = b"<30>d: ".to_vec();
        msg.extend(std::iter::repeat_n(b'x', 2000));
        let (text, cut) = kept(&msg);
        assert_eq!(text.len(), LINE_MAX_BYTES);
        assert!(text.starts_with("daemon.info d: xxx"));
        assert_eq!(cut, 2000 + 3 - (LINE_MAX_BYTES - "daemon.info ".len()));
    }
}
