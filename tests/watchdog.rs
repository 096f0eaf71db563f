//! The hardware watchdog, fed only while the device is healthy (tend(8),
//! WATCHDOG): a FIFO stands in for /dev/watchdog (its ioctls fail, which tend
//! says once, then feeds every third of `watchdog-timeout`), read by the
//! test, which sees every byte tend writes and when.
#![cfg(feature = "watchdog")]

mod common;

use std::fs;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// The bytes written to the FIFO at `path`, each with when it came; the
/// FIFO is open for reading before tend starts (tend opens it without
/// waiting, and a FIFO without a reader refuses).
fn watch(path: &Path) -> Receiver<(Instant, u8)> {
    let ok = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(ok.success());
    let mut fifo = fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(path)
        .expect("open the FIFO");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = [0u8; 64];
        loop {
            match fifo.read(&mut buf) {
                Ok(n) => {
                    for &b in &buf[..n] {
                        if tx.send((Instant::now(), b)).is_err() {
                            return;
                        }
                    }
                    if n == 0 {
                        thread::sleep(Duration::from_millis(5));
                    }
                }
                Err(_) => thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    rx
}

/// `O_NONBLOCK` (Linux): the FIFO opens for reading with no writer yet.
const O_NONBLOCK: i32 = 0o4000;

fn table(extra: &str) -> String {
    format!("[tend]\nwatchdog = DIR/wd\nwatchdog-timeout = 3s\nwatchdog-grace = 1s\n\n{extra}")
}

/// tend on `services` and a watchdog, a FIFO the test reads (in a
/// directory of its own, kept while the test runs).
fn with_a_fifo(services: &str) -> (TempDir, Receiver<(Instant, u8)>, Sup) {
    let dir = TempDir::new();
    let wd = dir.path().join("wd");
    let rx = watch(&wd);
    let sup = Sup::start(&table(services).replace("DIR/wd", wd.to_str().unwrap()));
    (dir, rx, sup)
}

/// The feeds that come within `window`.
fn feeds(rx: &Receiver<(Instant, u8)>, window: Duration) -> Vec<(Instant, u8)> {
    let end = Instant::now() + window;
    let mut got = Vec::new();
    while let Ok(b) = rx.recv_timeout(end.saturating_duration_since(Instant::now())) {
        got.push(b);
    }
    got
}

/// The feeds until one comes at or after `until`, or none by [`DEADLINE`].
fn feeds_until(rx: &Receiver<(Instant, u8)>, until: Instant) -> Vec<(Instant, u8)> {
    let end = until.max(Instant::now()) + DEADLINE;
    let mut got = Vec::new();
    while let Ok(b) = rx.recv_timeout(end.saturating_duration_since(Instant::now())) {
        got.push(b);
        if b.0 >= until {
            break;
        }
    }
    got
}

#[test]
fn a_healthy_device_is_fed_every_third_of_the_timeout_and_disarmed_at_exit() {
    let (_dir, rx, sup) = with_a_fifo("[a]\nrun = sleep 100000\ncritical = yes\n");
    // Four feeds, the last at least 2.5 s after the first (3 s / 3 apart).
    let first = feeds_until(&rx, Instant::now());
    let mut got = first.clone();
    got.extend(feeds_until(&rx, first[0].0 + Duration::from_millis(2500)));
    assert!(got.len() >= 4, "fed {} times: {got:?}", got.len());
    for w in got.windows(2) {
        let gap = w[1].0 - w[0].0;
        assert!(
            gap >= Duration::from_millis(700) && gap <= Duration::from_millis(1500),
            "fed {gap:?} apart, not about a second (3s / 3)"
        );
    }
    let said = sup.log_text("tend").join("\n");
    assert!(
        said.contains("cannot set its timeout") && said.contains("feeding every 1s"),
        "{said}"
    );
    // `tend status` says it first; --json has it too.
    let out = sup.run(&["status"]);
    assert!(
        out.stdout.starts_with("watchdog: fed every 1s\nSERVICE "),
        "{out:?}"
    );
    let dog = &sup.json()["watchdog"];
    assert_eq!(dog, &serde_json::json!({"fed": true, "every_ms": 1000}));
    // Not PID 1: the magic close character before it exits.
    kill(sup.pid, SIGTERM);
    let mut last = None;
    let deadline = Instant::now() + DEADLINE;
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok((_, b)) => last = Some(b),
            Err(_) if last == Some(b'V') => break,
            Err(_) => {}
        }
    }
    assert_eq!(last, Some(b'V'), "disarmed with V");
}

#[test]
fn a_critical_service_down_past_the_grace_lets_the_board_reset() {
    let (_dir, rx, sup) = with_a_fifo(
        "[ok]\nrun = sleep 100000\ncritical = yes\n\n[crashy]\nrun = /bin/false\ncritical = yes\n",
    );
    let said = |sup: &Sup| sup.log_text("tend").join("\n");
    sup.wait_until("the reset said", || {
        said(&sup).contains("watchdog: letting the board reset: crashy not up for 1s")
    });
    assert!(
        sup.console()
            .contains("tend: watchdog: letting the board reset: crashy not up for 1s"),
        "on the console too: {}",
        sup.console()
    );
    let out = sup.run(&["status"]);
    assert!(
        out.stdout
            .starts_with("watchdog: not fed: letting the board reset\n"),
        "{out:?}"
    );
    assert_eq!(sup.json()["watchdog"]["fed"], false);
    // Fed no more: nothing within three feeding periods.
    let _ = feeds(&rx, Duration::from_millis(100));
    let after = feeds(&rx, Duration::from_millis(3000));
    assert!(after.is_empty(), "fed after letting go: {after:?}");
}

#[test]
fn a_critical_service_stopped_by_hand_never_counts() {
    let (_dir, rx, sup) = with_a_fifo("[a]\nrun = sleep 100000\ncritical = yes\n");
    sup.ok(&["stop", "a"]);
    sup.wait_state("a", "down");
    let stopped = Instant::now();
    // Still fed past the grace (1 s) and a feeding period more, when a
    // counted service would have stopped the feeding.
    let past = stopped + Duration::from_millis(2000);
    let got = feeds_until(&rx, past);
    assert!(
        got.last().is_some_and(|(t, _)| *t >= past),
        "not fed past the grace: {got:?}"
    );
    assert!(!sup
        .log_text("tend")
        .join("\n")
        .contains("letting the board reset"));
}

#[test]
fn without_a_watchdog_status_says_nothing_of_one() {
    let sup = Sup::start("[a]\nrun = sleep 100000\n");
    let out = sup.run(&["status"]);
    assert!(out.stdout.starts_with("SERVICE "), "{out:?}");
    assert_eq!(sup.json()["watchdog"], serde_json::Value::Null);
}
