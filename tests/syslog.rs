//! Logs that arrive through syslog (tend(8), SYSLOG; tend.conf(5), THE
//! [tend] SECTION): with `syslog = PATH` tend binds a datagram socket there
//! and files each message into the ring of the service whose session sent
//! it, as `FACILITY.SEVERITY TAG[PID]: MSG`; anything else into the ring
//! `syslog`. The senders are the real `logger` (util-linux's, sending as
//! libc's syslog() does) and plain datagrams from the test.
#![cfg(feature = "syslog")]

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;

use common::*;

/// A service that logs through syslog once with util-linux's `logger`
/// (which sends as libc's syslog() does), then stays up.
fn logging(name: &str, logger_args: &str) -> String {
    format!("[{name}]\nrun = /bin/sh -c 'logger -u DIR/log {logger_args}; exec sleep 100000'\n\n")
}

/// A service whose own process sends `count` datagrams, each the Python
/// expression `message` (of `i`, its number), then stays up (with `more`
/// keys): the sender is still there when tend reads them. (A message from
/// a process already gone by then, such as a `logger` that has exited,
/// cannot be told apart from an outsider's.)
fn sending(name: &str, message: &str, count: usize, more: &str) -> String {
    format!(
        "[{name}]\nrun = /usr/bin/python3 -c \"import socket, time; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); [s.sendto(({message}).encode(), 'DIR/log') for i in range({count})]; time.sleep(100000)\"\n{more}\n"
    )
}

fn syslog_table(services: &str) -> String {
    format!("[tend]\nsyslog = DIR/log\n\n{services}")
}

fn lines_of(sup: &Sup, name: &str, want: impl Fn(&str) -> bool) -> Vec<String> {
    let mut found = Vec::new();
    poll_until(DEADLINE, || {
        found = sup.log_text(name).into_iter().filter(|l| want(l)).collect();
        !found.is_empty()
    });
    found
}

#[test]
fn a_services_syslog_messages_go_into_its_own_ring() {
    let table = syslog_table(
        &(sending(
            "dns",
            "'<27>Dec  7 11:02:03 dnsmasq[812]: failed to bind'",
            1,
            "",
        ) + &sending(
            "app",
            "'<165>1 2026-12-07T11:29:55Z vm app 42 - [x@1 a=b] hi there'",
            1,
            "",
        ) + "[quiet]\nrun = sleep 100000\n"),
    );
    let sup = Sup::start(&table);
    // The socket: mode 0666, so that any daemon may log.
    let meta = fs::metadata(sup.path("log")).expect("the syslog socket");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o666);

    let dns = lines_of(&sup, "dns", |l| l.contains("failed to bind"));
    assert_eq!(dns, ["daemon.err dnsmasq[812]: failed to bind"]);
    let app = lines_of(&sup, "app", |l| l.contains("hi there"));
    assert_eq!(app, ["local4.notice app[42]: hi there"]);
    // Nothing strayed into another ring.
    assert!(sup.log_text("quiet").is_empty());
    assert!(
        sup.log_text("syslog").is_empty(),
        "{:?}",
        sup.log_text("syslog")
    );
}

#[test]
fn what_logger_sends_is_kept_as_logread_shows_it() {
    let table = syslog_table(
        &(logging("dns", "-t dnsmasq -p daemon.err -i \"failed to bind\"")
            + &logging("app", "--rfc5424 -t app -p local4.notice \"hi there\"")),
    );
    let sup = Sup::start(&table);
    // logger has exited by the time tend reads it, at times: then its
    // message is an outsider's, in the ring syslog.
    let both = |want: &str| {
        let mut found = Vec::new();
        poll_until(DEADLINE, || {
            found = ["dns", "app", "syslog"]
                .iter()
                .flat_map(|r| sup.log_text(r))
                .filter(|l| l.contains(want))
                .collect();
            !found.is_empty()
        });
        found
    };
    let dns = both("failed to bind");
    assert_eq!(dns.len(), 1, "{dns:?}");
    let pid = dns[0]
        .strip_prefix("daemon.err dnsmasq[")
        .and_then(|r| r.strip_suffix("]: failed to bind"))
        .unwrap_or_else(|| panic!("{dns:?}"));
    assert!(pid.parse::<u32>().is_ok(), "{dns:?}");
    assert_eq!(both("hi there"), ["local4.notice app: hi there"]);
}

/// Sends its arguments after the first (the socket) as datagrams, then
/// stays up.
const SEND_PY: &str = "import socket, sys, time\n\
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
for m in sys.argv[2:]:\n    s.sendto(m.encode(), sys.argv[1])\n\
time.sleep(100000)\n";

#[test]
fn a_grandchild_is_known_by_its_session_never_by_its_tag() {
    // The service's shell runs the sender: a grandchild of tend, in the
    // service's session. Its tag claims to be another service.
    let table = syslog_table(
        "[dns]\nrun = /bin/sh -c '/usr/bin/python3 DIR/send.py DIR/log \
         \"<27>quiet[1]: I am quiet\" \"<30>dnsmasq[7]: started\"; exec sleep 100000'\n\n\
         [quiet]\nrun = sleep 100000\n",
    );
    let sup = Sup::start_with(&table, |dir, _| {
        fs::write(dir.join("send.py"), SEND_PY).unwrap();
    });
    let dns = lines_of(&sup, "dns", |l| l.contains("started"));
    assert_eq!(dns, ["daemon.info dnsmasq[7]: started"]);
    assert_eq!(sup.log_text("dns")[0], "daemon.err quiet[1]: I am quiet");
    assert!(sup.log_text("quiet").is_empty(), "the tag changed nothing");
    assert!(sup.log_text("syslog").is_empty());
}

#[test]
fn without_the_key_nothing_is_bound() {
    let sup = Sup::start("[a]\nrun = sleep 100000\n");
    assert!(!sup.path("log").exists());
    let sockets = fs::read_dir(format!("/proc/{}/fd", sup.pid))
        .unwrap()
        .filter_map(|e| fs::read_link(e.unwrap().path()).ok())
        .filter(|l| l.to_string_lossy().starts_with("socket:"))
        .count();
    assert_eq!(sockets, 1, "the control socket only");
    assert!(sup.log_text("syslog").is_empty());
}

#[test]
fn a_message_from_outside_every_service_goes_into_the_ring_syslog() {
    let sup = Sup::start(&syslog_table("[a]\nrun = sleep 100000\n"));
    let sock = UnixDatagram::unbound().unwrap();
    sock.send_to(
        b"<30>Dec  7 11:02:03 ntpd[12]: clock stepped\n",
        sup.path("log"),
    )
    .expect("send");
    let got = lines_of(&sup, "syslog", |l| l.contains("clock stepped"));
    assert_eq!(got, ["daemon.info ntpd[12]: clock stepped"]);
    assert!(sup.log_text("a").is_empty());
}

#[test]
fn a_long_message_is_cut_at_a_line_and_the_cut_counted() {
    let table = syslog_table(&sending("big", "'<13>x: ' + 'y' * 3000", 1, ""));
    let sup = Sup::start(&table);
    let got = lines_of(&sup, "big", |l| l.starts_with("user.notice x: y"));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].len(), 1024, "one line of 1 KiB");
    let log = &sup.svc("big")["log"];
    // "x: " and 3000 bytes, less what fits after "user.notice ".
    let cut = 3 + 3000 - (1024 - "user.notice ".len()) as u64;
    assert_eq!(log["dropped"], cut, "{log}");
    assert_eq!(
        log["written"].as_u64().unwrap(),
        log["kept"].as_u64().unwrap() + cut,
        "written = kept + dropped: {log}"
    );
}

/// The kernel's queue of datagrams for Unix sockets made from now on.
const QUEUE_KNOB: &str = "/proc/sys/net/unix/max_dgram_qlen";

#[test]
fn a_burst_waits_in_the_sockets_deep_queue_and_the_knob_is_set_back() {
    // Raising the queue of its socket takes root (tend.conf(5), syslog);
    // without it tend's socket has the kernel's queue, of 10 by default.
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let knob = fs::read_to_string(QUEUE_KNOB).expect("the knob");
    let sup = Sup::start(&syslog_table("[a]\nrun = sleep 100000\n"));
    assert_eq!(fs::read_to_string(QUEUE_KNOB).unwrap(), knob, "set back");
    // tend stopped, a burst of 100 messages: with the kernel's 10 the
    // eleventh would wait (here, fail with EAGAIN).
    assert!(kill(sup.pid, 19), "SIGSTOP");
    let sock = UnixDatagram::unbound().unwrap();
    sock.set_nonblocking(true).unwrap();
    let sent = (0..100)
        .map(|i| sock.send_to(format!("<13>burst: {i}").as_bytes(), sup.path("log")))
        .take_while(|r| r.is_ok())
        .count();
    assert!(kill(sup.pid, 18), "SIGCONT");
    assert_eq!(sent, 100, "messages queued while tend was stopped");
    // Every one filed, in order.
    let mut got = Vec::new();
    poll_until(DEADLINE, || {
        got = sup.log_text("syslog");
        got.len() >= 100
    });
    let want: Vec<String> = (0..100)
        .map(|i| format!("user.notice burst: {i}"))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn a_stale_socket_file_is_replaced_and_a_flood_evicts_only_its_own_lines() {
    let table = syslog_table(
        &(sending("calm", "'<13>calm: still here'", 1, "")
            + &sending("flood", "'<13>flood: line %d' % i", 400, "log = 1k\n")),
    );
    let sup = Sup::start_with(&table, |dir, _| {
        // A stale file where the socket goes, as a crashed syslogd leaves.
        fs::write(dir.join("log"), b"stale").unwrap();
    });
    assert!(fs::metadata(sup.path("log"))
        .unwrap()
        .file_type()
        .is_socket());
    assert!(
        poll_until(DEADLINE, || sup
            .log_text("flood")
            .iter()
            .any(|l| l.ends_with("line 399"))),
        "{:?}",
        sup.log_text("flood")
    );
    // The flood wrapped its own 1 KiB ring, and nothing else.
    let flood = &sup.svc("flood")["log"];
    assert!(flood["dropped"].as_u64().unwrap() > 0, "{flood}");
    assert_eq!(
        lines_of(&sup, "calm", |l| l.contains("still here")),
        ["user.notice calm: still here"]
    );
    assert!(sup.log_text("syslog").is_empty());
}

#[test]
fn the_syslog_key_belongs_to_the_tend_section() {
    let dir = TempDir::new();
    let conf = dir.path().join("tend.conf");
    fs::write(&conf, "[a]\nrun = sleep 1\nsyslog = /dev/log\n").unwrap();
    let mut cmd = std::process::Command::new(tend_bin());
    cmd.arg("check").arg(&conf);
    let out = run_cmd(cmd, DEADLINE);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains(":3: unknown key \"syslog\""), "{out:?}");
}
