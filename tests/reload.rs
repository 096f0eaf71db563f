//! `tend reload` and SIGHUP (tend(8), RELOAD): the table read again and the
//! difference applied, services matched by name; a bad table changes
//! nothing. Only in a tend built with the `reload` feature (scripts/test
//! runs every test with it).
#![cfg(feature = "reload")]

mod common;

use std::fs;
use std::time::Instant;

use common::*;
use serde_json::Value;

const SIGHUP: i32 = 1;

fn write_table(sup: &Sup, table: &str) {
    let text = table.replace("DIR", sup.dir.path().to_str().expect("utf-8"));
    fs::write(sup.path("tend.conf"), text).expect("write tend.conf");
}

fn cmdline(pid: i32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

fn names(sup: &Sup) -> Vec<String> {
    sup.json()["services"]
        .as_array()
        .expect("services")
        .iter()
        .map(|s| s["name"].as_str().expect("name").to_string())
        .collect()
}

fn fd_count(pid: i32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fd dir")
        .count()
}

/// Private (unshared) memory of tend, in KiB: its USS.
fn uss_kib(pid: i32) -> u64 {
    let text = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).expect("smaps_rollup");
    text.lines()
        .filter(|l| l.starts_with("Private_Clean") || l.starts_with("Private_Dirty"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

const BASE: &str = "\
[keep]
run = /bin/sh -c 'echo keep says hi; exec sleep 1000'

[change]
run = /bin/sleep 1000

[gone]
run = /bin/sleep 1000

[dep]
run = /bin/sleep 1000
after = keep
";

#[test]
fn added_removed_changed_and_unchanged_in_one_reload() {
    let sup = Sup::start(BASE);
    for name in ["keep", "change", "gone", "dep"] {
        sup.wait_state(name, "up");
    }
    let keep = sup.wait_for("keep's pid", || sup.pid_of("keep"));
    let dep = sup.wait_for("dep's pid", || sup.pid_of("dep"));
    let change = sup.wait_for("change's pid", || sup.pid_of("change"));
    let gone = sup.wait_for("gone's pid", || sup.pid_of("gone"));
    sup.wait_until("keep's line", || {
        sup.log_text("keep")
            .iter()
            .any(|l| l.contains("keep says hi"))
    });
    write_table(
        &sup,
        "\
[new]
run = /bin/sleep 1003
after = change

[keep]
run = /bin/sh -c 'echo keep says hi; exec sleep 1000'

[dep]
run = /bin/sleep 1000
after = keep

[change]
run = /bin/sleep 1001
",
    );
    let out = sup.ok(&["reload"]);
    assert_eq!(
        out.stdout,
        "restarted change\nremoved gone\nadded new\n\
         reloaded: 1 added, 1 removed, 1 restarted, 2 unchanged\n",
        "{out:?}"
    );
    let changed = sup.wait_for("change's new process", || {
        sup.pid_of("change").filter(|&p| p != change)
    });
    assert!(
        cmdline(changed).contains("sleep 1001"),
        "{}",
        cmdline(changed)
    );
    assert!(!alive(change), "the old process of change is gone");
    sup.wait_until("gone's process to end", || !alive(gone));
    let added = sup.wait_for("new's pid", || sup.pid_of("new"));
    assert!(cmdline(added).contains("sleep 1003"));
    assert_eq!(sup.pid_of("keep"), Some(keep), "unchanged: not restarted");
    assert_eq!(sup.pid_of("dep"), Some(dep), "unchanged: not restarted");
    assert_eq!(names(&sup), ["new", "keep", "dep", "change"]);
    assert!(
        sup.log_text("keep")
            .iter()
            .any(|l| l.contains("keep says hi")),
        "a ring that stays keeps its lines"
    );
    let said = sup.log_text("tend").join("\n");
    assert!(
        said.contains("reloaded: 1 added, 1 removed, 1 restarted, 2 unchanged"),
        "{said}"
    );
    let out = sup.ok(&["status"]);
    assert!(!out.stdout.contains("gone"), "{out:?}");
}

#[test]
fn a_table_with_errors_changes_nothing() {
    let sup = Sup::start(BASE);
    sup.wait_state("gone", "up");
    let before: Vec<Option<i32>> = ["keep", "change", "gone", "dep"]
        .iter()
        .map(|n| sup.wait_for("pid", || sup.pid_of(n).map(Some)))
        .collect();
    write_table(
        &sup,
        "\
[keep]
run = /bin/sleep 1000
colour = blue

[added]
run = /bin/sleep 5
stop-timeout = soon
",
    );
    let out = sup.run(&["reload"]);
    assert_eq!(out.code, 1, "{out:?}");
    let conf = sup.path("tend.conf");
    let conf = conf.to_str().expect("utf-8");
    assert!(
        out.stderr
            .contains(&format!("{conf}:3: unknown key \"colour\"")),
        "{out:?}"
    );
    assert!(out.stderr.contains(&format!("{conf}:7: ")), "{out:?}");
    assert!(out.stderr.contains("not reloaded: 2 error(s)"), "{out:?}");
    assert_eq!(out.stdout, "");
    let after: Vec<Option<i32>> = ["keep", "change", "gone", "dep"]
        .iter()
        .map(|n| sup.pid_of(n))
        .collect();
    assert_eq!(before, after, "nothing restarted, nothing stopped");
    assert_eq!(names(&sup), ["keep", "change", "gone", "dep"]);
    let said = sup.log_text("tend").join("\n");
    assert!(said.contains(&format!("{conf}:3: unknown key")), "{said}");
    assert!(said.contains("not reloaded: 2 error(s)"), "{said}");
    // --json reports the errors too.
    let out = sup.run(&["reload", "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["errors"].as_array().expect("errors").len(), 2, "{v}");
}

#[test]
fn sighup_reloads_and_json_lists_the_changes() {
    let sup = Sup::start(BASE);
    sup.wait_state("dep", "up");
    write_table(&sup, &format!("{BASE}\n[extra]\nrun = /bin/sleep 1000\n"));
    assert!(kill(sup.pid, SIGHUP));
    sup.wait_state("extra", "up");
    let said = sup.log_text("tend").join("\n");
    assert!(
        said.contains("reloaded: 1 added, 0 removed, 0 restarted, 4 unchanged"),
        "{said}"
    );
    write_table(&sup, BASE);
    let out = sup.ok(&["reload", "--json"]);
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["removed"], serde_json::json!(["extra"]), "{v}");
    assert_eq!(v["added"], serde_json::json!([]), "{v}");
    assert_eq!(v["restarted"], serde_json::json!([]), "{v}");
    assert_eq!(v["unchanged"], 4, "{v}");
    sup.wait_until("extra forgotten", || {
        !names(&sup).contains(&"extra".to_string())
    });
}

#[test]
fn a_change_to_the_tend_section_waits_for_the_next_start() {
    let sup = Sup::start(BASE);
    write_table(&sup, &format!("[tend]\nsyslog = DIR/log\n\n{BASE}"));
    let out = sup.ok(&["reload"]);
    assert!(
        out.stdout.contains(
            "reloaded: 0 added, 0 removed, 0 restarted, 4 unchanged; \
             [tend] changed: it takes effect at the next start"
        ),
        "{out:?}"
    );
    assert!(
        !sup.path("log").exists(),
        "no syslog socket until tend starts again"
    );
    // The same [tend] again: nothing to say.
    let out = sup.ok(&["reload"]);
    assert!(!out.stdout.contains("[tend]"), "{out:?}");
}

#[test]
fn a_service_stopped_by_hand_stays_stopped_and_a_crash_loop_takes_the_fix() {
    let sup = Sup::start(
        "\
[held]
run = /bin/sleep 1000

[broken]
run = /bin/sh -c 'exit 3'
",
    );
    sup.wait_state("held", "up");
    sup.ok(&["stop", "held"]);
    sup.wait_state("held", "down");
    sup.wait_until("broken to crash again", || {
        sup.svc("broken")["restarts"].as_u64().unwrap_or(0) >= 2
    });
    write_table(
        &sup,
        "\
[held]
run = /bin/sleep 1001

[broken]
run = /bin/sleep 1002
",
    );
    let out = sup.ok(&["reload"]);
    assert!(out.stdout.contains("restarted broken"), "{out:?}");
    let pid = sup.wait_for("broken fixed", || sup.pid_of("broken"));
    assert!(cmdline(pid).contains("sleep 1002"));
    sup.wait_state("broken", "up");
    let held = sup.svc("held");
    assert_eq!(held["state"], "down", "{held}");
    assert_eq!(held["wanted"], false, "{held}");
    // Started by hand, it runs the new settings.
    sup.ok(&["start", "held"]);
    let pid = sup.wait_for("held", || sup.pid_of("held"));
    assert!(cmdline(pid).contains("sleep 1001"));
}

#[test]
fn a_service_removed_while_it_stops_goes_when_its_stop_is_done() {
    let sup = Sup::start(
        "\
[stubborn]
run = /bin/sh -c 'trap \"\" TERM; echo >&3; while :; do sleep 1; done'
ready = fd:3
stop-timeout = 300ms

[other]
run = /bin/sleep 1000
",
    );
    sup.wait_state("stubborn", "ready");
    sup.ok(&["stop", "stubborn"]);
    sup.wait_state("stubborn", "stopping");
    write_table(&sup, "[other]\nrun = /bin/sleep 1000\n");
    let out = sup.ok(&["reload"]);
    assert!(out.stdout.contains("removed stubborn"), "{out:?}");
    // SIGKILL at the stop deadline, then forgotten.
    sup.wait_until("stubborn forgotten", || names(&sup) == ["other"]);
    let procs = descendants(sup.pid);
    assert_eq!(procs.len(), 1, "only other's process is left: {procs:?}");
}

#[test]
fn a_changed_log_size_keeps_the_newest_lines_that_fit() {
    let sup = Sup::start(
        "\
[talker]
run = /bin/sh -c 'i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done; exec sleep 1000'
log = 16k
",
    );
    sup.wait_until("200 lines", || {
        sup.log_text("talker")
            .last()
            .is_some_and(|l| l.ends_with("line 199"))
    });
    write_table(&sup, "[talker]\nrun = /bin/sleep 1000\nlog = 1k\n");
    let out = sup.ok(&["reload"]);
    assert!(out.stdout.contains("restarted talker"), "{out:?}");
    let lines = sup.log_text("talker");
    assert!(
        lines.last().is_some_and(|l| l.ends_with("line 199")),
        "{lines:?}"
    );
    assert!(lines.len() < 100, "only what fits in 1k: {}", lines.len());
    assert!(!lines.iter().any(|l| l.ends_with("line 0")), "{lines:?}");
    let log = &sup.svc("talker")["log"];
    assert_eq!(log["size"], 1024, "{log}");
}

#[test]
fn a_hundred_reloads_leave_descriptors_and_memory_as_they_were() {
    let sup = Sup::start(BASE);
    sup.wait_state("dep", "up");
    let other = format!("{BASE}\n[extra]\nrun = /bin/sleep 1000\nlog = 8k\n");
    // One round first, so that every page a reload touches is counted.
    for table in [other.as_str(), BASE] {
        write_table(&sup, table);
        sup.ok(&["reload"]);
    }
    sup.wait_until("extra gone", || names(&sup).len() == 4);
    let (fds, uss) = (fd_count(sup.pid), uss_kib(sup.pid));
    let started = Instant::now();
    for i in 0..100 {
        write_table(&sup, if i % 2 == 0 { &other } else { BASE });
        sup.ok(&["reload"]);
    }
    eprintln!("100 reloads took {:?}", started.elapsed());
    sup.wait_until("extra gone", || names(&sup).len() == 4);
    sup.wait_until("descriptors as before", || fd_count(sup.pid) == fds);
    let grown = uss_kib(sup.pid).saturating_sub(uss);
    assert!(
        grown <= 8,
        "USS grew by {grown} KiB over 100 reloads (from {uss} KiB)"
    );
}

#[test]
fn a_reload_past_the_fixed_capacities_is_refused_and_changes_nothing() {
    let sup = Sup::start(BASE);
    sup.wait_state("dep", "up");
    let keep = sup.wait_for("keep's pid", || sup.pid_of("keep"));
    // One service more than tend is built for.
    let many: String = (0..65)
        .map(|i| format!("[s{i}]\nrun = /bin/sleep 1000\n"))
        .collect();
    write_table(&sup, &many);
    let out = sup.run(&["reload"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("too many services"), "{out:?}");
    // Rings past the arena.
    write_table(
        &sup,
        &format!("{BASE}\n[big]\nrun = /bin/sleep 1000\nlog = 2m\n"),
    );
    let out = sup.run(&["reload"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("log: "), "{out:?}");
    assert_eq!(names(&sup), ["keep", "change", "gone", "dep"]);
    assert_eq!(sup.pid_of("keep"), Some(keep), "nothing restarted");
}

#[test]
fn the_removed_services_still_running_count_against_the_capacity() {
    let table = |p: &str| -> String {
        (0..40)
            .map(|i| format!("[{p}{i}]\nrun = /bin/sleep 1000\n"))
            .collect()
    };
    let sup = Sup::start(&table("a"));
    sup.wait_until("40 up", || {
        sup.json()["services"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "up")
    });
    // 40 new ones while the 40 old ones stop: more than the 64 slots.
    write_table(&sup, &table("b"));
    let out = sup.run(&["reload"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("with those removed still stopping"),
        "{out:?}"
    );
    assert_eq!(names(&sup).len(), 40);
    assert!(names(&sup).iter().all(|n| n.starts_with('a')));
}
