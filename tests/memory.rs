//! The cold code (link.ld: the table's parser, start-up, `reload`, the
//! client, the ending) is out of tend's memory once it has run: a running
//! tend holds only the loop's code pages (README, "Memory").

mod common;

use std::fs;

use common::*;

/// Resident KiB of each executable mapping of tend's binary, in address
/// order: the loop's code, then the cold code.
fn code_rss(pid: i32) -> Vec<u64> {
    let smaps = fs::read_to_string(format!("/proc/{pid}/smaps")).expect("smaps");
    let bin = tend_bin().canonicalize().expect("tend binary");
    let bin = bin.to_str().expect("utf-8 path");
    let mut out = Vec::new();
    let mut exec = false;
    for line in smaps.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.first()
            .is_some_and(|a| a.contains('-') && !a.ends_with(':'))
        {
            exec = f.get(1).is_some_and(|p| p.contains('x')) && f.last() == Some(&bin);
        } else if exec && f.first() == Some(&"Rss:") {
            out.push(f[1].parse().expect("Rss"));
        }
    }
    out
}

const TABLE: &str = "\
[one]
run = /bin/sh -c 'echo hello; exec sleep 1000'

[two]
run = /bin/sleep 1000
after = one
";

#[test]
fn cold_code_leaves_memory_after_start_up_and_status() {
    let sup = Sup::start(TABLE);
    sup.wait_state("two", "up");
    for _ in 0..3 {
        sup.ok(&["status"]);
        sup.ok(&["status", "one"]);
        sup.ok(&["log", "one"]);
    }
    sup.ok(&["restart", "two"]);
    sup.wait_state("two", "up");
    let rss = code_rss(sup.pid);
    assert_eq!(rss.len(), 2, "two code mappings: {rss:?}");
    assert!(rss[0] > 0, "the loop's code is resident: {rss:?}");
    assert_eq!(rss[1], 0, "no cold code resident once running: {rss:?}");
}

#[cfg(feature = "reload")]
#[test]
fn cold_code_leaves_memory_after_a_reload() {
    let sup = Sup::start(TABLE);
    sup.wait_state("two", "up");
    let table = TABLE.replace("sleep 1000\nafter", "sleep 999\nafter");
    fs::write(sup.path("tend.conf"), table).expect("write tend.conf");
    let out = sup.ok(&["reload"]);
    assert!(out.stdout.contains("restarted two"), "{out:?}");
    sup.wait_state("two", "up");
    assert_eq!(code_rss(sup.pid).get(1), Some(&0), "after a reload");
    let said = |sup: &Sup| {
        sup.log_text("tend")
            .iter()
            .filter(|l| l.contains("reloaded"))
            .count()
    };
    let before = said(&sup);
    common::kill(sup.pid, 1);
    sup.wait_until("SIGHUP's reload", || said(&sup) > before);
    assert_eq!(code_rss(sup.pid).get(1), Some(&0), "after SIGHUP's reload");
}

#[cfg(feature = "reload")]
#[test]
fn cold_code_leaves_memory_after_a_removed_service_is_forgotten() {
    // `slow` takes a while to stop: it is forgotten rounds after the
    // reload that removed it, by code of the reload's.
    let slow =
        "[slow]\nrun = /bin/sh -c 'trap \"sleep 0.3; exit 0\" TERM; while :; do sleep 0.1; done'\n";
    let sup = Sup::start(&format!("{TABLE}\n{slow}"));
    sup.wait_state("slow", "up");
    fs::write(sup.path("tend.conf"), TABLE).expect("table");
    sup.ok(&["reload"]);
    sup.wait_until("slow forgotten", || {
        sup.json()["services"]
            .as_array()
            .is_some_and(|s| s.iter().all(|s| s["name"] != "slow"))
    });
    assert_eq!(
        code_rss(sup.pid).get(1),
        Some(&0),
        "after slow was forgotten"
    );
}
