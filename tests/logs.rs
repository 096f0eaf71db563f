//! The log rings (tend(8), LOGS): stamped whole lines, oldest dropped first,
//! long lines split, exact counters, `tend log -n` and `-f`, and the
//! last-crash record.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// Bytes of `line NNN\n`, for NNN from 1 to 100.
const NUMBERED_BYTES: u64 = 100 * 9;

const COUNTER: &str = "[counter]\n\
    run = /bin/sh -c 'i=1; while [ $i -le 100 ]; do printf \"line %03d\\n\" $i; i=$((i+1)); done; exec sleep 1000'\n\
    log = 1k\n";

fn log_counts(sup: &Sup, name: &str) -> (u64, u64, u64, u64) {
    let log = &sup.svc(name)["log"];
    let n = |k: &str| {
        log[k]
            .as_u64()
            .unwrap_or_else(|| panic!("log.{k} in {log}"))
    };
    (n("size"), n("kept"), n("dropped"), n("written"))
}

#[test]
fn a_small_ring_keeps_the_newest_lines_and_counts_the_rest() {
    let sup = Sup::start(COUNTER);
    sup.wait_until("all 100 lines written", || {
        log_counts(&sup, "counter").3 == NUMBERED_BYTES
    });
    let (size, kept, dropped, written) = log_counts(&sup, "counter");
    assert_eq!(size, 1024);
    assert_eq!(written, kept + dropped, "written == kept + dropped");
    assert!(
        dropped > 0 && kept > 0 && kept <= 1024,
        "kept {kept}, dropped {dropped}"
    );

    let out = sup.ok(&["log", "counter"]);
    let mut numbers = Vec::new();
    for line in out.stdout.lines() {
        let (_, text) = parse_stamped(line).unwrap_or_else(|| panic!("not stamped: {line:?}"));
        assert!(
            line.starts_with('[') && line[1..].split_once("] ").is_some(),
            "{line:?}"
        );
        let n: u32 = text
            .strip_prefix("line ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{line:?}"));
        numbers.push(n);
    }
    // The newest lines, in order, with the oldest ones dropped.
    assert_eq!(numbers.last(), Some(&100), "{}", out.stdout);
    assert!(numbers[0] > 1, "nothing was dropped:\n{}", out.stdout);
    assert_eq!(
        numbers,
        (numbers[0]..=100).collect::<Vec<_>>(),
        "{}",
        out.stdout
    );
    assert_eq!(
        numbers.len() as u64 * 9,
        kept,
        "kept counts the bytes of the lines shown"
    );

    let last3 = sup.ok(&["log", "counter", "-n", "3"]);
    let texts: Vec<&str> = last3
        .stdout
        .lines()
        .map(|l| parse_stamped(l).unwrap().1)
        .collect();
    assert_eq!(texts, ["line 098", "line 099", "line 100"]);

    // `status NAME` shows the last ten lines.
    let out = sup.ok(&["status", "counter"]);
    let (_, rest) = out
        .stdout
        .split_once("\nlast lines:\n")
        .expect("last lines");
    let (recent, _) = rest
        .split_once("\n\nlast crash: none\n")
        .expect("last crash");
    let texts: Vec<&str> = recent
        .lines()
        .map(|l| parse_stamped(l).unwrap().1)
        .collect();
    let want: Vec<String> = (91..=100).map(|n| format!("line {n:03}")).collect();
    assert_eq!(texts, want, "{}", out.stdout);
}

#[test]
fn a_long_line_is_split_at_the_line_limit() {
    let sup = Sup::start(
        "[long]\n\
         run = /bin/sh -c 'printf \"%05000d\\n\" 0; echo after; exec sleep 1000'\n\
         log = 16k\n\
         [small]\n\
         run = /bin/sh -c 'printf \"%0700d\\n\" 0; exec sleep 1000'\n\
         log = 1k\n",
    );
    sup.wait_until("the long line written", || {
        log_counts(&sup, "long").3 == 5001 + 6
    });
    let texts = sup.log_text("long");
    assert_eq!(texts.last().map(String::as_str), Some("after"), "{texts:?}");
    let pieces = &texts[..texts.len() - 1];
    assert!(pieces.len() >= 5, "5000 bytes in {} pieces", pieces.len());
    assert!(
        pieces
            .iter()
            .all(|p| p.len() <= 1024 && p.bytes().all(|b| b == b'0')),
        "{pieces:?}"
    );
    assert_eq!(pieces.iter().map(String::len).sum::<usize>(), 5000);
    let (_, kept, dropped, written) = log_counts(&sup, "long");
    assert_eq!((kept, dropped, written), (5007, 0, 5007));

    // A ring of 1k splits shorter, and still keeps whole pieces only.
    sup.wait_until("the 700-byte line written", || {
        log_counts(&sup, "small").3 == 701
    });
    let pieces = sup.log_text("small");
    assert!(pieces.len() >= 2, "{pieces:?}");
    assert!(pieces.iter().all(|p| p.len() < 700), "{pieces:?}");
    let (_, kept, dropped, written) = log_counts(&sup, "small");
    assert_eq!(written, kept + dropped);
}

#[test]
fn a_ring_of_zero_keeps_nothing_and_counts_it_dropped() {
    let sup =
        Sup::start("[mute]\nrun = /bin/sh -c 'echo one; echo two; exec sleep 1000'\nlog = 0\n");
    sup.wait_state("mute", "up");
    // (size, kept, dropped, written): the 8 bytes written, all dropped.
    sup.wait_until("mute's 8 bytes counted", || {
        log_counts(&sup, "mute") == (0, 0, 8, 8)
    });
    let out = sup.ok(&["log", "mute"]);
    assert_eq!(out.stdout, "");
    let out = sup.ok(&["status", "mute"]);
    assert!(
        out.stdout.ends_with("last lines:\n\nlast crash: none\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn log_follow_prints_new_lines_as_they_come() {
    let sup = Sup::start(
        "[ticker]\n\
         run = /bin/sh -c 'i=0; while :; do i=$((i+1)); echo \"tick $i\"; sleep 0.1; done'\n",
    );
    sup.wait_until("a first tick", || !sup.log_text("ticker").is_empty());
    let mut child = sup
        .command(&["log", "ticker", "-f"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let end = Instant::now() + DEADLINE;
    let mut ticks = Vec::new();
    let mut first_new: Option<u32> = None;
    while ticks.len() < 100 {
        let left = end.saturating_duration_since(Instant::now());
        let Ok(line) = rx.recv_timeout(left) else {
            break;
        };
        let (_, text) = parse_stamped(&line).unwrap_or_else(|| panic!("not stamped: {line:?}"));
        let n: u32 = text
            .strip_prefix("tick ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{line:?}"));
        ticks.push(n);
        // What the ring held once the reply began, then three more as they come.
        let newest_before = *first_new.get_or_insert_with(|| {
            let last = sup.log_text("ticker").pop().expect("ticks");
            last.strip_prefix("tick ")
                .and_then(|n| n.parse().ok())
                .expect("a tick")
        });
        if n >= newest_before + 3 {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    let newest_before = first_new.expect("no line from tend log -f");
    assert!(
        ticks.last().is_some_and(|&n| n >= newest_before + 3),
        "tend log -f did not follow: got {ticks:?}, ring had up to tick {newest_before}"
    );
    assert_eq!(
        ticks,
        (ticks[0]..ticks[0] + ticks.len() as u32).collect::<Vec<_>>(),
        "lines lost or repeated"
    );
}

#[test]
fn a_crash_leaves_a_record_that_restarts_keep() {
    let sup = Sup::start(
        "[crashy]\n\
         run = /bin/sh -c 'n=$(cat DIR/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > DIR/n; \
         if [ $n -eq 1 ]; then echo \"before crash $n\"; echo \"last words $n\"; exit 3; fi; \
         echo \"run $n is fine\"; exec sleep 1000'\n",
    );
    sup.wait_until("the second run's line", || {
        sup.log_text("crashy").iter().any(|t| t == "run 2 is fine")
    });
    let s = sup.svc("crashy");
    assert_eq!(
        (s["state"].as_str(), s["restarts"].as_u64()),
        (Some("up"), Some(1)),
        "{s}"
    );
    let crash = &s["last_crash"];
    assert_eq!(crash["what"], "exit 3", "{s}");
    assert!(crash["ago_ms"].is_u64(), "{s}");
    let lines: Vec<&str> = crash["lines"]
        .as_str()
        .unwrap()
        .lines()
        .map(|l| parse_stamped(l).unwrap().1)
        .collect();
    assert_eq!(lines, ["before crash 1", "last words 1"], "{s}");

    let out = sup.run(&["status", "crashy"]);
    assert_eq!(out.code, 0, "{out:?}");
    let (_, crash_part) = out
        .stdout
        .split_once("\nlast crash: ")
        .unwrap_or_else(|| panic!("{}", out.stdout));
    let mut crash_lines = crash_part.lines();
    let head = crash_lines.next().unwrap();
    assert!(
        head.starts_with("exit 3 ") && head.ends_with(" ago"),
        "{head:?}"
    );
    let texts: Vec<&str> = crash_lines
        .map(|l| parse_stamped(l).unwrap_or_else(|| panic!("{l:?}")).1)
        .collect();
    assert_eq!(texts, ["before crash 1", "last words 1"], "{}", out.stdout);
    let (_, recent) = out.stdout.split_once("\nlast lines:\n").unwrap();
    assert!(recent.contains("] run 2 is fine\n"), "{}", out.stdout);

    // Echoed on tend's stderr as it happened.
    let console = sup.console();
    let at = console
        .find("crashy: crashed, exit 3")
        .unwrap_or_else(|| panic!("{console}"));
    let after: Vec<&str> = console[at..].lines().skip(1).take(2).collect();
    assert!(
        after[0].ends_with("] before crash 1") && after[1].ends_with("] last words 1"),
        "{console}"
    );
}

#[test]
fn a_flood_does_not_evict_another_services_lines() {
    let sup = Sup::start(
        "[quiet]\nrun = /bin/sh -c 'echo still here; exec sleep 1000'\n\
         [flood]\nrun = /bin/sh -c 'yes flood | head -c 2000000; exec sleep 1000'\n",
    );
    sup.wait_until("the flood written", || {
        log_counts(&sup, "flood").3 == 2_000_000
    });
    let (size, kept, dropped, written) = log_counts(&sup, "flood");
    assert_eq!(written, kept + dropped);
    assert!(
        kept <= size && dropped >= 2_000_000 - size,
        "{kept} {dropped}"
    );
    // 2,000,000 is not a multiple of 6: the last "fl" has no newline yet,
    // and is shown as the last line.
    let lines = sup.log_text("flood");
    let (last, whole) = lines.split_last().expect("lines");
    assert!(whole.iter().all(|t| t == "flood"));
    assert_eq!(last, "fl");
    assert_eq!(sup.log_text("quiet"), ["still here"]);
    assert_eq!(log_counts(&sup, "quiet"), (4096, 11, 0, 11));
}

/// The size of the pipe a service writes its output into (`F_GETPIPE_SZ`
/// on the service's fd 1, opened through /proc).
fn pipe_size(pid: i32) -> i64 {
    extern "C" {
        fn fcntl(fd: i32, cmd: i32, ...) -> i32;
    }
    const F_GETPIPE_SZ: i32 = 1032;
    let f = std::fs::File::open(format!("/proc/{pid}/fd/1")).unwrap();
    // SAFETY: fcntl(2) with F_GETPIPE_SZ takes no pointer and only reads
    // the descriptor, which `f` keeps open across the call.
    let size = unsafe { fcntl(std::os::fd::AsRawFd::as_raw_fd(&f), F_GETPIPE_SZ) };
    assert!(
        size > 0,
        "F_GETPIPE_SZ: {}",
        std::io::Error::last_os_error()
    );
    i64::from(size)
}

#[test]
fn a_flooding_service_gets_a_larger_pipe_and_every_byte_is_counted() {
    let bytes = 4_000_000u64;
    let sup = Sup::start(&format!(
        "[quiet]\nrun = /bin/sh -c 'echo quiet-line; exec sleep 100000'\n\
         [flood]\nrun = /bin/sh -c 'yes flood-line | head -c {bytes}; exec sleep 100000'\n"
    ));
    sup.wait_until("the flood written", || log_counts(&sup, "flood").3 == bytes);
    let (_, kept, dropped, written) = log_counts(&sup, "flood");
    assert_eq!(kept + dropped, written);
    assert_eq!(sup.log_text("quiet"), ["quiet-line"]);
    // Grown once it was found flooding (256 KiB); a quiet one keeps the
    // kernel's default (64 KiB).
    let flood = sup.wait_for("flood's sleep", || sup.pid_of("flood"));
    let quiet = sup.wait_for("quiet's sleep", || sup.pid_of("quiet"));
    assert_eq!(pipe_size(flood), 256 * 1024);
    assert_eq!(pipe_size(quiet), 64 * 1024);
    // The buffer the flood was read through is given back 100 ms after it
    // ended, and that timer then ends too: tend does not run at all.
    let schedstat = format!("/proc/{}/schedstat", sup.child.id());
    let cpu_ns = || -> u64 {
        let text = std::fs::read_to_string(&schedstat).unwrap();
        text.split_whitespace().next().unwrap().parse().unwrap()
    };
    // Polled until tend has used no CPU for 500 ms; a timer left running
    // keeps it waking, and the deadline fails the test.
    let (mut last, mut since) = (cpu_ns(), Instant::now());
    sup.wait_until("tend to stop running once the flood is over", || {
        let now = cpu_ns();
        if now != last {
            (last, since) = (now, Instant::now());
        }
        since.elapsed() >= Duration::from_millis(500)
    });
}

#[test]
fn log_shows_control_bytes_escaped_and_utf8_as_it_is() {
    let sup = Sup::start(
        "[painter]\n\
         run = /bin/sh -c 'printf \"esc \\033[31mred\\033[0m bell \\007 tab\\there caf\\303\\251 \\344\\270\\226 c1 \\302\\233 bad \\377 cr\\r\\n\"; exec sleep 1000'\n",
    );
    sup.wait_until("the painter's line", || !sup.log_text("painter").is_empty());
    let want =
        "esc \\x1b[31mred\\x1b[0m bell \\x07 tab\there café 世 c1 \\xc2\\x9b bad \\xff cr\\x0d";
    let out = sup.ok(&["log", "painter"]);
    let (_, text) = parse_stamped(out.stdout.trim_end_matches('\n')).expect("stamped");
    assert_eq!(text, want);
    assert!(!out.stdout.contains('\u{1b}') && !out.stdout.contains('\u{7}'));
    // The last lines of `status NAME` too.
    let status = sup.run(&["status", "painter"]);
    assert!(status.stdout.contains(want), "{status:?}");
    drop(sup);
    // A crash record keeps the bytes as they came (JSON escapes them its
    // own way); on the console and in `status NAME` they are escaped.
    let sup = Sup::start("[wiper]\nrun = /bin/sh -c 'printf \"\\033[2Jgone\\n\"; exit 1'\n");
    sup.wait_until("the crash on the console", || {
        sup.console().contains("wiper: crashed")
    });
    sup.wait_until("its last lines echoed", || sup.console().contains("gone"));
    let console = sup.console();
    assert!(console.contains("] \\x1b[2Jgone\n"), "{console}");
    assert!(!console.contains('\u{1b}'), "{console:?}");
    let status = sup.run(&["status", "wiper"]);
    assert!(status.stdout.contains("\\x1b[2Jgone"), "{status:?}");
    let lines = sup.svc("wiper")["last_crash"]["lines"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(lines.ends_with("] \u{1b}[2Jgone\n"), "{lines:?}");
}

#[test]
fn output_not_yet_ended_by_a_newline_is_the_last_line() {
    let sup = Sup::start(
        "[asker]\n\
         run = /bin/sh -c 'printf \"first\\nprompt> \"; while [ ! -e DIR/answered ]; do sleep 0.05; done; printf \"done\\n\"; exec sleep 1000'\n",
    );
    sup.wait_until("the first line", || !sup.log_text("asker").is_empty());
    // Not followed: the partial line is shown as the last line.
    let out = sup.ok(&["log", "asker"]);
    let texts: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| parse_stamped(l).unwrap_or_else(|| panic!("{l:?}")).1)
        .collect();
    assert_eq!(texts, ["first", "prompt> "], "{}", out.stdout);
    assert!(out.stdout.ends_with('\n'));
    // Followed: the partial line as it stands, then the rest of it when
    // it is ended, unstamped, on the same line.
    let mut child = sup
        .command(&["log", "asker", "-f"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 256];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut got = Vec::new();
    let mut read_until = |what: &str| {
        let end = Instant::now() + DEADLINE;
        while !String::from_utf8_lossy(&got).ends_with(what) {
            let left = end.saturating_duration_since(Instant::now());
            let chunk = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {what:?} in {:?}", String::from_utf8_lossy(&got)));
            got.extend(chunk);
        }
    };
    read_until("prompt> ");
    std::fs::write(sup.path("answered"), "").unwrap();
    read_until("done\n");
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    let text = String::from_utf8(got).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text:?}");
    assert_eq!(parse_stamped(lines[0]).unwrap().1, "first");
    assert_eq!(
        parse_stamped(lines[1]).unwrap().1,
        "prompt> done",
        "{text:?}"
    );
    // And once ended, it is a line like any other.
    let out = sup.ok(&["log", "asker", "-n", "1"]);
    assert_eq!(
        parse_stamped(out.stdout.trim_end()).unwrap().1,
        "prompt> done"
    );
}

#[test]
fn log_dash_t_stamps_lines_with_the_utc_wall_clock() {
    let sup = Sup::start("[hello]\nrun = /bin/sh -c 'echo hello; exec sleep 1000'\n");
    sup.wait_until("hello", || !sup.log_text("hello").is_empty());
    let out = sup.ok(&["log", "hello", "-t"]);
    let line = out.stdout.trim_end();
    let (stamp, text) = line.split_once(' ').expect("a stamp");
    assert_eq!(text, "hello", "{line:?}");
    // 2026-12-05T18:40:12.345Z
    let b = stamp.as_bytes();
    assert!(
        stamp.len() == 24
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b'.'
            && b[23] == b'Z',
        "{stamp:?}"
    );
    let num = |r: std::ops::Range<usize>| stamp[r].parse::<i64>().expect("digits");
    let (y, mo, d) = (num(0..4), num(5..7), num(8..10));
    let secs = (num(11..13) * 60 + num(14..16)) * 60 + num(17..19);
    // Days since 1970 of the civil date (Howard Hinnant's days_from_civil).
    let (y2, m2) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let then = days * 86_400 + secs;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - then).abs() < 120, "{stamp} is not now ({now})");
    // An option only `log` takes.
    assert_eq!(sup.run(&["status", "-t"]).code, 100);
}
