//! Tables that do not load (tend.conf(5)): `tend supervise` starts nothing and
//! exits 100; `tend check` reports the same errors and exits 1, or 0 for a
//! good table.

mod common;

use std::fs;
use std::process::Command;

use common::*;

const BAD: &str = "\
[marker]
run = /bin/sh -c 'touch DIR/marker; exec sleep 1000'

[bad]
run = /bin/true
colour = red
[other]
run = /bin/true
after = nosuch
log = lots
stop-timeout = forever
[marker]
run = /bin/true
";

/// (line, a word the message must hold) for each error of BAD.
const ERRORS: [(u32, &str); 5] = [
    (6, "colour"),
    (9, "nosuch"),
    (10, "lots"),
    (11, "forever"),
    (12, "duplicate service \"marker\""),
];

fn error_lines(stderr: &str, file: &str) -> Vec<(u32, String)> {
    stderr
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(file)?.strip_prefix(':')?;
            let (line, msg) = rest.split_once(": ")?;
            Some((line.parse().ok()?, msg.to_string()))
        })
        .collect()
}

fn check_errors(stderr: &str, file: &str) -> Vec<(u32, String)> {
    let mut errs = error_lines(stderr, file);
    errs.sort();
    let lines: Vec<u32> = errs.iter().map(|e| e.0).collect();
    assert_eq!(
        lines,
        ERRORS.map(|e| e.0),
        "one FILE:LINE: message per error:\n{stderr}"
    );
    for ((_, msg), (line, word)) in errs.iter().zip(ERRORS) {
        assert!(
            msg.contains(word),
            "line {line}: {msg:?} should mention {word:?}"
        );
    }
    errs
}

/// `tend check FILE`.
fn check(file: impl AsRef<std::ffi::OsStr>) -> Output {
    let mut cmd = Command::new(tend_bin());
    cmd.arg("check").arg(file);
    run_cmd(cmd, DEADLINE)
}

#[test]
fn a_bad_table_starts_nothing() {
    let dir = TempDir::new();
    let conf = dir.path().join("tend.conf");
    fs::write(&conf, BAD.replace("DIR", dir.path().to_str().unwrap())).unwrap();
    let file = conf.to_str().unwrap();
    let socket = dir.path().join("tend.sock");

    let mut cmd = Command::new(tend_bin());
    cmd.args(["supervise", "-c", file])
        .env("TEND_SOCKET", &socket);
    let out = run_cmd(cmd, DEADLINE);
    assert_eq!(out.code, 100, "{out:?}");
    let supervise_errors = check_errors(&out.stderr, file);
    assert!(
        !dir.path().join("marker").exists(),
        "a service of a bad table ran"
    );
    assert!(!socket.exists(), "a bad table got a control socket");
    assert!(!out.stderr.contains("supervising"), "{}", out.stderr);

    let out = check(file);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "");
    assert_eq!(
        check_errors(&out.stderr, file),
        supervise_errors,
        "check and supervise report the same errors"
    );
    assert!(!dir.path().join("marker").exists());
}

#[test]
fn check_accepts_a_good_table() {
    let dir = TempDir::new();
    let conf = dir.path().join("good.conf");
    fs::write(
        &conf,
        "# a comment\n[first]\ntype = oneshot\nrun = /bin/true\n\n[second]\nrun = /bin/sh -c 'exec sleep 1'\nafter = first\nlog = 16k\nuser = nobody\n",
    )
    .unwrap();
    let file = conf.to_str().unwrap();
    let out = check(file);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, format!("{file}: ok, 2 services\n"));
    assert_eq!(out.stderr, "");

    // The example table of the repository is good too.
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/boards/host/tend.conf");
    let out = check(example);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.starts_with(&format!("{example}: ok, ")),
        "{out:?}"
    );
}

#[test]
fn check_of_a_missing_file_fails() {
    let dir = TempDir::new();
    let missing = dir.path().join("missing.conf");
    let out = check(&missing);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.starts_with("tend: ") && out.stderr.contains("missing.conf"),
        "{out:?}"
    );
}

#[test]
fn a_table_of_the_largest_size_loads_and_one_byte_more_is_refused() {
    // TABLE_MAX_BYTES (32 KiB): a service, then comment lines up to the size.
    const MAX: usize = 32 * 1024;
    let dir = TempDir::new();
    let mut text = String::from("[only]\nrun = /bin/true\n");
    while text.len() < MAX {
        let line = "# padding to the largest table tend reads\n";
        let room = MAX - text.len();
        if room > line.len() {
            text.push_str(line);
        } else {
            text.push_str(&"#".repeat(room - 1));
            text.push('\n');
        }
    }
    assert_eq!(text.len(), MAX);
    let conf = dir.path().join("largest.conf");
    fs::write(&conf, &text).unwrap();
    let file = conf.to_str().unwrap();
    let out = check(file);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, format!("{file}: ok, 1 service\n"));

    text.push('\n');
    fs::write(&conf, &text).unwrap();
    let out = check(file);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.stderr,
        format!("tend: cannot read {file}: file too large\n")
    );
}
