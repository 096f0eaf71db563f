//! Evidence kept across reboots (tend(8), KEPT EVIDENCE): a `keep`
//! directory outlives one `tend supervise` and is read by the next, as
//! across a reboot: how the last run ended, its crash records and the
//! tails of its rings, whole even when tend was killed in the middle of a
//! write.
#![cfg(feature = "keep")]

mod common;

use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::Command;

use common::*;

/// A service that says its last words and dies (backing off), and one that
/// says hello and stays up.
const SERVICES: &str = "\
[crasher]
run = /bin/sh -c 'echo dying words; exit 3'

[chatty]
run = /bin/sh -c 'echo hello from chatty; exec sleep 100000'
";

fn table(keep: &Path, services: &str) -> String {
    format!("[tend]\nkeep = {}\n\n{services}", keep.display())
}

/// `tend last-boot` against `sup`: its exit status and stdout.
fn last_boot(sup: &Sup) -> (i32, String) {
    let out = sup.run(&["last-boot"]);
    (out.code, out.stdout + &out.stderr)
}

/// This run's record as it stands on the disk.
fn record(keep: &Path) -> String {
    fs::read_to_string(keep.join("boot")).unwrap_or_default()
}

fn crashed(sup: &Sup) -> bool {
    sup.svc("crasher")["last_crash"].is_object()
}

#[test]
fn an_orderly_stop_is_kept_with_the_crashes_and_the_rings_tails() {
    let keep = TempDir::new();
    let mut first = Sup::start(&table(keep.path(), SERVICES));
    // Nothing kept before: the first run has no previous one.
    let (code, text) = last_boot(&first);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("nothing kept in"), "{text}");
    first.wait_until("a crash", || crashed(&first));
    first.wait_until("chatty's line", || {
        first
            .log_text("chatty")
            .iter()
            .any(|l| l == "hello from chatty")
    });
    assert!(first.terminate().success());

    let second = Sup::start(&table(keep.path(), SERVICES));
    let (code, text) = last_boot(&second);
    assert_eq!(code, 0, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "stopped", "{text}");
    // The crash record: a stamped header, then the stamped lines.
    let at = lines
        .iter()
        .position(|l| l.ends_with("crasher: crashed, exit 3; its last lines:"))
        .unwrap_or_else(|| panic!("no crash record:\n{text}"));
    assert!(parse_stamped(lines[at]).is_some(), "{text}");
    assert_eq!(
        parse_stamped(lines[at + 1]).map(|l| l.1),
        Some("dying words")
    );
    // The tails of tend's ring and of every service's.
    for (name, line) in [
        ("tend", "SIGTERM: stopping every service"),
        ("chatty", "hello from chatty"),
        ("crasher", "dying words"),
    ] {
        let head = format!("{name}: its last lines:");
        let at = lines
            .iter()
            .position(|l| *l == head)
            .unwrap_or_else(|| panic!("no {head}\n{text}"));
        let tail: Vec<&str> = lines[at + 1..]
            .iter()
            .take_while(|l| parse_stamped(l).is_some())
            .map(|l| parse_stamped(l).unwrap().1)
            .collect();
        assert!(
            tail.contains(&line),
            "{name}'s tail lacks {line:?}:\n{text}"
        );
    }
    // This run's own record starts over.
    assert_eq!(
        record(keep.path()).lines().next(),
        Some("unknown (no orderly end recorded: power loss, kernel panic or hardware reset)")
    );
}

#[test]
fn a_killed_run_is_unknown_and_keeps_the_crashes_written_as_they_froze() {
    let keep = TempDir::new();
    let mut first = Sup::start(&table(keep.path(), SERVICES));
    // Kept as it is frozen, before any end.
    first.wait_until("the crash on the disk", || {
        record(keep.path()).contains("dying words")
    });
    kill(first.pid, SIGKILL);
    assert!(!first.terminate().success());

    let second = Sup::start(&table(keep.path(), SERVICES));
    let (code, text) = last_boot(&second);
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        text.lines().next(),
        Some("unknown (no orderly end recorded: power loss, kernel panic or hardware reset)"),
        "{text}"
    );
    assert!(
        text.contains("crasher: crashed, exit 3; its last lines:"),
        "{text}"
    );
    assert!(text.contains("] dying words"), "{text}");
    // No tails without an orderly end.
    assert!(!text.contains("chatty: its last lines:"), "{text}");
}

#[test]
fn the_reason_the_watchdog_was_let_go_is_kept() {
    let keep = TempDir::new();
    let wd = keep.path().join("wd");
    assert!(Command::new("mkfifo").arg(&wd).status().unwrap().success());
    // Held open for tend to write into (it never blocks: 1 byte a feed).
    let _reader = fs::OpenOptions::new()
        .read(true)
        .custom_flags(0o4000) // O_NONBLOCK
        .open(&wd)
        .unwrap();
    let services = "[crasher]\nrun = /bin/sh -c 'echo dying words; exit 3'\ncritical = yes\n";
    let dog = format!(
        "watchdog = {}\nwatchdog-timeout = 3s\nwatchdog-grace = 1s\n",
        wd.display()
    );
    let t = table(keep.path(), services).replacen("\n\n", &format!("\n{dog}\n"), 1);
    let mut first = Sup::start(&t);
    first.wait_until("the watchdog let go", || {
        record(keep.path()).starts_with("watchdog: ")
    });
    assert!(first
        .console()
        .contains("watchdog: letting the board reset: crasher not up for 1s"));
    // The board resets.
    kill(first.pid, SIGKILL);
    assert!(!first.terminate().success());

    let second = Sup::start(&table(keep.path(), "[idle]\nrun = sleep 100000\n"));
    let (code, text) = last_boot(&second);
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        text.lines().next(),
        Some("watchdog: crasher not up for 1s"),
        "{text}"
    );
    assert!(
        text.contains("crasher: crashed, exit 3; its last lines:"),
        "{text}"
    );
    assert!(text.contains("] dying words"), "{text}");
}

#[test]
fn a_kill_in_the_middle_of_a_write_leaves_the_last_whole_record() {
    let keep = TempDir::new();
    let go = keep.path().join("go");
    // `first` crashes at once; `second` once the test says so, while every
    // fsync tend makes is held for two seconds: killed there, the record
    // being written is in `.tmp`, not yet renamed.
    let services = format!(
        "[first]\nrun = /bin/sh -c 'echo first words; exit 1'\nrestart = never\n\n\
         [second]\nrun = /bin/sh -c 'while [ ! -e {} ]; do sleep 0.05; done; echo second words; exit 2'\n\
         restart = never\n",
        go.display()
    );
    let strace = [
        "strace",
        "-f",
        "-qq",
        "-o",
        "/dev/null",
        "-e",
        "trace=fsync",
        "-e",
        "inject=fsync:delay_enter=2000000",
    ];
    let mut sup = Sup::start_under(&strace, &table(keep.path(), &services), |_, _| {});
    sup.wait_until("first's crash on the disk", || {
        record(keep.path()).contains("first words")
    });
    fs::write(&go, "").unwrap();
    let tmp = keep.path().join(".tmp");
    sup.wait_until("second's record being written", || {
        fs::read_to_string(&tmp).is_ok_and(|t| t.contains("second words"))
    });
    // The reset: tend dies where it is, in the fsync before the rename.
    let tend = sup.wrapped_tend();
    kill(tend, SIGKILL);
    sup.terminate();
    let kept = record(keep.path());
    assert!(kept.contains("first words"), "{kept}");
    assert!(!kept.contains("second words"), "{kept}");

    let next = Sup::start(&table(keep.path(), "[idle]\nrun = sleep 100000\n"));
    let (code, text) = last_boot(&next);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.starts_with("unknown (no orderly end recorded"),
        "{text}"
    );
    assert!(
        text.contains("first: crashed, exit 1; its last lines:"),
        "{text}"
    );
    assert!(!text.contains("second"), "{text}");
}

#[test]
fn a_keep_directory_that_cannot_be_opened_is_said_and_supervision_goes_on() {
    let missing = Path::new("/nonexistent/tend-keep");
    let sup = Sup::start(&table(missing, "[idle]\nrun = sleep 100000\n"));
    sup.wait_state("idle", "up");
    sup.wait_until("the complaint", || {
        sup.console()
            .contains("keep: cannot open /nonexistent/tend-keep: no such file or directory")
    });
    let (code, text) = last_boot(&sup);
    assert_eq!(code, 1, "{text}");
}

#[test]
fn without_keep_last_boot_says_nothing_is_kept() {
    let sup = Sup::start("[idle]\nrun = sleep 100000\n");
    let (code, text) = last_boot(&sup);
    assert_eq!(code, 1);
    assert_eq!(
        text,
        "tend: last-boot: nothing kept: the table has no keep directory\n"
    );
}
