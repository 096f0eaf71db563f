//! Supervision behaviour (tend(8)): restarts, backoff, ordering and
//! readiness, exec failures, stop timeouts, orphans, descriptors, identity,
//! orderly shutdown.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::time::Instant;

use common::*;

/// The stamps of the lines of `tend log tend` that start with `prefix`.
fn own_stamps(sup: &Sup, prefix: &str) -> Vec<u64> {
    sup.log("tend")
        .into_iter()
        .filter(|(_, t)| t.starts_with(prefix))
        .map(|(ms, _)| ms)
        .collect()
}

/// The LAST EXIT column of a status row (everything after RESTARTS).
fn last_exit_column(row: &str) -> String {
    row.split_whitespace().skip(5).collect::<Vec<_>>().join(" ")
}

#[test]
fn a_crash_after_a_stable_run_restarts_at_once() {
    let sup = Sup::start(
        "[seg]\n\
         run = /bin/sh -c 'echo run; sleep 1.1; kill -SEGV $$'\n\
         chdir = DIR\n\
         [ex]\n\
         run = /bin/sh -c 'echo run; sleep 1.1; exit 1'\n",
    );
    let first: Vec<i32> = ["seg", "ex"]
        .iter()
        .map(|n| sup.wait_for(&format!("{n} up"), || sup.pid_of(n)))
        .collect();
    for (name, pid, words) in [("seg", first[0], "signal SEGV"), ("ex", first[1], "exit 1")] {
        let s = sup.wait_for(&format!("{name} restarted"), || {
            let s = sup.svc(name);
            (s["restarts"] == 1 && s["state"] == "up").then_some(s)
        });
        let new = s["pid"].as_i64().expect("pid") as i32;
        assert_ne!(new, pid, "{name}: a restart is a new process");
        // Restarted at once: the new run began when the old one ended.
        let ago = s["last_exit"]["ago_ms"].as_u64().expect("ago_ms");
        let uptime = s["uptime_ms"].as_u64().expect("uptime_ms");
        assert!(
            ago.abs_diff(uptime) < 50,
            "{name}: no delay expected, ended {ago} ms ago, up {uptime} ms"
        );
        assert!(s["retry_in_ms"].is_null());
        let row = sup.row(name);
        let f: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            (f[1], f[2], f[4]),
            ("up", new.to_string().as_str(), "1"),
            "{row}"
        );
        let last = last_exit_column(&row);
        assert!(
            last.starts_with(&format!("{words} ")) && last.ends_with(" ago"),
            "{name}: LAST EXIT {last:?}"
        );
    }
    assert_eq!(sup.svc("seg")["last_exit"]["signal"], "SEGV");
    assert_eq!(sup.svc("ex")["last_exit"]["code"], 1);
    let own = sup.log_text("tend").join("\n");
    assert!(own.contains("seg: crashed, signal SEGV"), "{own}");
    assert!(own.contains("ex: crashed, exit 1"), "{own}");
}

#[test]
fn backoff_doubles_from_100ms() {
    let sup = Sup::start("[fail]\nrun = /bin/sh -c 'exit 1'\n");
    let mut retries_seen = Vec::new();
    let starts = sup.wait_for("five starts of fail", || {
        let s = sup.svc("fail");
        if s["state"] == "backoff" {
            let r = s["retry_in_ms"]
                .as_u64()
                .expect("retry_in_ms is a number in backoff");
            retries_seen.push(r);
        } else {
            assert!(
                s["retry_in_ms"].is_null(),
                "retry_in_ms outside backoff: {s}"
            );
        }
        let starts = own_stamps(&sup, "fail: up");
        (starts.len() >= 5).then_some(starts)
    });
    let gaps: Vec<u64> = starts.windows(2).map(|w| w[1] - w[0]).take(4).collect();
    for (gap, want) in gaps.iter().zip([100u64, 200, 400, 800]) {
        assert!(
            *gap >= want && *gap < want + 300,
            "gaps between starts {gaps:?}, want ~100, 200, 400, 800"
        );
    }
    for w in gaps.windows(2) {
        let ratio = w[1] as f64 / w[0] as f64;
        assert!(
            (1.5..=2.5).contains(&ratio),
            "gaps between starts {gaps:?} do not double"
        );
    }
    let own = sup.log_text("tend");
    let delays: Vec<&str> = own
        .iter()
        .filter(|t| t.starts_with("fail: backoff"))
        .filter_map(|t| t.rsplit_once("retry in ").map(|(_, d)| d))
        .take(4)
        .collect();
    assert_eq!(delays, ["100ms", "200ms", "400ms", "800ms"], "{own:#?}");
    assert!(
        retries_seen.iter().all(|&r| r <= 1600),
        "retry_in_ms beyond the delay: {retries_seen:?}"
    );
    let s = sup.svc("fail");
    assert!(s["restarts"].as_u64().unwrap() >= 4);
    assert_eq!(s["ok"], false);
}

#[test]
fn backoff_resets_once_a_service_stays_up() {
    // Runs 1-3 fail at once, run 4 stays up, run 5 fails at once, then up.
    let sup = Sup::start(
        "[flaky]\n\
         run = /bin/sh -c 'n=$(cat DIR/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > DIR/count; \
         if [ $n -lt 4 ] || [ $n -eq 5 ]; then exit 1; fi; echo stable run $n; exec sleep 1000'\n",
    );
    let s = sup.wait_for("flaky up for over a second", || {
        let s = sup.svc("flaky");
        (s["state"] == "up" && s["uptime_ms"].as_u64().unwrap_or(0) >= 1100).then_some(s)
    });
    assert_eq!(s["restarts"], 3);
    let pid = s["pid"].as_i64().unwrap() as i32;
    sup.ok(&["signal", "flaky", "KILL"]);
    // Run 5 dies at once, but the delay started over: 100 ms, not 800 ms.
    let s = sup.wait_for("flaky up again (run 6)", || {
        let s = sup.svc("flaky");
        (s["state"] == "up" && s["restarts"] == 5).then_some(s)
    });
    assert_ne!(s["pid"].as_i64().unwrap() as i32, pid);
    let own = sup.log_text("tend");
    let delays: Vec<&str> = own
        .iter()
        .filter(|t| t.starts_with("flaky: backoff"))
        .filter_map(|t| t.rsplit_once("retry in ").map(|(_, d)| d))
        .collect();
    assert_eq!(delays, ["100ms", "200ms", "400ms", "100ms"], "{own:#?}");
    // The KILL after a stable run restarted it at once, without a backoff.
    let kill_at = own
        .iter()
        .position(|t| t.starts_with("flaky: crashed, signal KILL"))
        .expect("the KILL crash");
    assert!(own[kill_at + 1].starts_with("flaky: up, pid"), "{own:#?}");
    // (Run 6 is up once its shell runs, which then writes the count.)
    sup.wait_until("run 6 counted", || {
        fs::read_to_string(sup.path("count")).is_ok_and(|c| c.trim() == "6")
    });
}

#[test]
fn oneshot_runs_before_its_dependents() {
    let sup = Sup::start(
        "[init]\n\
         type = oneshot\n\
         run = /bin/sh -c 'sleep 0.3; echo made > DIR/marker'\n\
         [user]\n\
         run = /bin/sh -c 'echo \"marker: $(cat DIR/marker)\"; exec sleep 1000'\n\
         after = init\n",
    );
    sup.wait_state("user", "up");
    sup.wait_until("user's line", || !sup.log_text("user").is_empty());
    assert_eq!(sup.log_text("user"), ["marker: made"]);
    let s = sup.svc("init");
    assert_eq!(
        (s["state"].as_str(), s["ok"].as_bool()),
        (Some("done"), Some(true))
    );
    let done = own_stamps(&sup, "init: done")[0];
    let up = own_stamps(&sup, "user: up")[0];
    assert!(
        done <= up,
        "user started at {up}, before init was done at {done}"
    );
}

#[test]
fn after_waits_for_readiness() {
    let sup = Sup::start(
        "[slow]\n\
         run = /bin/sh -c 'sleep 1; date +%s%N > DIR/ready_at; echo >&3; exec sleep 1000'\n\
         ready = fd:3\n\
         [dep]\n\
         run = /bin/sh -c 'date +%s%N > DIR/dep_at; exec sleep 1000'\n\
         after = slow\n",
    );
    // Right after start, slow takes a second to get ready: dep must wait.
    let row = sup.row("dep");
    let doc = sup.json();
    let services = doc["services"].as_array().unwrap();
    let (slow, dep) = (&services[0], &services[1]);
    // (Still starting now, so also when the row was taken.)
    assert_eq!(slow["state"], "starting", "{doc}");
    assert_eq!(dep["state"], "down", "{doc}");
    assert!(dep["pid"].is_null());
    assert_eq!(row.split_whitespace().nth(1), Some("down"), "{row}");
    assert!(row.ends_with("waiting for slow"), "{row}");
    sup.wait_state("slow", "ready");
    sup.wait_state("dep", "up");
    let stamp =
        |f: &str| -> Option<u128> { fs::read_to_string(sup.path(f)).ok()?.trim().parse().ok() };
    // `up` is the exec; the shell writes its stamp just after.
    sup.wait_until("dep's stamp", || stamp("dep_at").is_some());
    let read = |f: &str| stamp(f).unwrap();
    let (ready_at, dep_at) = (read("ready_at"), read("dep_at"));
    assert!(
        dep_at >= ready_at,
        "dep started {} ms before slow was ready",
        (ready_at - dep_at) / 1_000_000
    );
    let ready = own_stamps(&sup, "slow: ready")[0];
    let up = own_stamps(&sup, "dep: up")[0];
    assert!(up >= ready, "dep up at {up}, slow ready at {ready}");
}

#[test]
fn exec_failures_are_reported_not_crashes() {
    let sup = Sup::start_with(
        "[missing]\nrun = /nonexistent/prog\n\
         [noexec]\nrun = DIR/plain.txt\n\
         [bare]\nrun = no-such-program-for-tend-tests\n\
         [fine]\nrun = /bin/sh -c 'exec sleep 1000'\n\
         [later]\nrun = DIR/later.sh\n",
        |dir, _| {
            let f = dir.join("plain.txt");
            fs::write(&f, "#!/bin/sh\necho hi\n").unwrap();
            fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        },
    );
    for (name, errno) in [
        ("missing", "ENOENT"),
        ("noexec", "EACCES"),
        ("bare", "ENOENT"),
    ] {
        let s = sup.wait_state(name, "failed");
        assert_eq!(s["restarts"], 0, "{s}");
        assert!(s["retry_in_ms"].is_null(), "{s}");
        assert!(s["last_crash"].is_null(), "{s}");
        assert!(s["pid"].is_null(), "{s}");
        assert_eq!(s["ok"], false);
        let e = &s["last_exit"];
        assert!(e["code"].is_null() && e["signal"].is_null(), "{s}");
        assert_eq!(e["start_error"]["step"], "exec", "{s}");
        assert_eq!(e["start_error"]["errno"], errno, "{s}");
        let row = sup.row(name);
        assert_eq!(last_exit_column(&row), format!("exec: {errno}"), "{row}");
    }
    // It stays failed: no retries while time passes.
    sup.wait_until("missing failed 300 ms ago", || {
        sup.svc("missing")["last_exit"]["ago_ms"].as_u64() >= Some(300)
    });
    let s = sup.svc("missing");
    assert_eq!(
        (s["state"].as_str(), s["restarts"].as_u64()),
        (Some("failed"), Some(0))
    );
    let own = sup.log_text("tend");
    assert_eq!(
        own.iter().filter(|t| t.starts_with("missing:")).count(),
        1,
        "{own:#?}"
    );
    let console = sup.console();
    assert!(
        !console.contains("crashed"),
        "an exec failure is no crash:\n{console}"
    );
    assert_eq!(sup.run(&["status"]).code, 3);
    assert_eq!(sup.run(&["status", "fine"]).code, 0);

    // Left alone until `tend start`, which tries again.
    sup.wait_state("later", "failed");
    let script = sup.path("later.sh");
    fs::write(&script, "#!/bin/sh\necho now here\nexec sleep 1000\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(sup.state("later"), "failed");
    sup.ok(&["start", "later"]);
    let s = sup.wait_state("later", "up");
    assert_eq!(s["restarts"], 0, "{s}");
    sup.wait_until("later's line", || sup.log_text("later") == ["now here"]);
}

#[test]
fn a_transient_exec_failure_backs_off_and_is_retried() {
    // A program open for writing cannot be exec'd (ETXTBSY): a shortage
    // that passes, so tend retries it with the backoff, as a fork that
    // failed for want of processes.
    let mut writer = None;
    let sup = Sup::start_with("[busy]\nrun = DIR/busy.sh\n", |dir, _| {
        let f = dir.join("busy.sh");
        fs::write(&f, "#!/bin/sh\necho exec at last\nexec sleep 1000\n").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o755)).unwrap();
        // Close-on-exec, as every file std opens: tend does not inherit it.
        writer = Some(fs::OpenOptions::new().append(true).open(&f).unwrap());
    });
    sup.wait_until("two retries", || {
        own_stamps(&sup, "busy: backoff, exec: text file busy").len() >= 3
    });
    // Seen between two retries (each one is `starting` for a moment).
    let row = sup.wait_for("busy in backoff", || {
        let row = sup.row("busy");
        (row.split_whitespace().nth(1) == Some("backoff")).then_some(row)
    });
    assert!(
        last_exit_column(&row).starts_with("exec: ETXTBSY, retry in "),
        "{row}"
    );
    let s = sup.svc("busy");
    assert_eq!(s["restarts"], 0, "no run, no restart: {s}");
    assert!(s["last_crash"].is_null(), "{s}");
    assert_eq!(s["last_exit"]["start_error"]["step"], "exec", "{s}");
    assert_eq!(s["last_exit"]["start_error"]["errno"], "ETXTBSY", "{s}");
    let own = sup.log_text("tend");
    let delays: Vec<&str> = own
        .iter()
        .filter(|t| t.starts_with("busy: backoff, exec: text file busy"))
        .filter_map(|t| t.rsplit_once("retry in ").map(|(_, d)| d))
        .take(3)
        .collect();
    assert_eq!(delays, ["100ms", "200ms", "400ms"], "{own:#?}");
    assert!(!sup.console().contains("crashed"), "{}", sup.console());
    // The writer goes: the next retry execs.
    drop(writer);
    sup.wait_state("busy", "up");
    sup.wait_until("busy's line", || sup.log_text("busy") == ["exec at last"]);
    assert_eq!(sup.svc("busy")["restarts"], 0);
}

#[test]
fn a_failed_oneshot_holds_its_dependents() {
    let sup = Sup::start(
        "[setup]\ntype = oneshot\nrun = /bin/sh -c 'echo no luck; exit 1'\n\
         [dep]\nrun = /bin/sh -c 'exec sleep 1000'\nafter = setup\n",
    );
    sup.wait_until("setup ended 300 ms ago", || {
        sup.svc("setup")["last_exit"]["ago_ms"].as_u64() >= Some(300)
    });
    let s = sup.svc("setup");
    assert_eq!(s["state"], "down", "{s}");
    assert_eq!(s["last_exit"]["code"], 1, "{s}");
    assert_eq!(s["last_crash"]["what"], "exit 1", "{s}");
    let d = sup.svc("dep");
    assert_eq!(d["state"], "down", "{d}");
    assert!(d["last_exit"].is_null(), "dep never ran: {d}");
    let row = sup.row("dep");
    assert!(row.ends_with("waiting for setup"), "{row}");
    assert_eq!(sup.run(&["status"]).code, 3);
}

#[test]
fn a_service_ignoring_term_is_killed_at_the_stop_timeout() {
    let sup = Sup::start(
        "[stubborn]\n\
         run = /bin/sh -c 'trap \"\" TERM; sleep 1000 & echo child $!; while :; do sleep 0.05; done'\n\
         stop-timeout = 500ms\n",
    );
    let pid = sup.wait_for("stubborn up", || sup.pid_of("stubborn"));
    let child: i32 = sup.wait_for("the child's pid", || {
        sup.log_text("stubborn")
            .iter()
            .find_map(|t| t.strip_prefix("child ").map(|p| p.parse().unwrap()))
    });
    assert!(alive(child));
    let t0 = Instant::now();
    sup.ok(&["stop", "stubborn"]);
    assert_eq!(sup.state("stubborn"), "stopping");
    let s = sup.wait_state("stubborn", "down");
    let took = t0.elapsed();
    assert!(
        took.as_millis() >= 450,
        "down after {took:?}, before the 500 ms stop timeout"
    );
    assert!(took.as_millis() < 3000, "down only after {took:?}");
    assert_eq!(s["last_exit"]["signal"], "KILL", "{s}");
    assert!(
        s["last_crash"].is_null(),
        "a requested stop is no crash: {s}"
    );
    wait_until(DEADLINE, "the service and its child gone", || {
        !alive(pid) && !alive(child)
    });
}

#[test]
fn orphans_are_reaped() {
    let sup = Sup::start(
        "[parent]\n\
         run = /bin/sh -c 'for i in 1 2 3; do (sh -c \"while [ ! -e DIR/go ]; do sleep 0.02; done\" & echo $! >> DIR/orphans); done; \
         exec sleep 1000'\n",
    );
    let orphans: Vec<i32> = sup.wait_for("three orphans", || {
        let text = fs::read_to_string(sup.path("orphans")).ok()?;
        let pids: Vec<i32> = text.lines().map(|l| l.parse().unwrap()).collect();
        (pids.len() == 3).then_some(pids)
    });
    // Their parent subshells are gone: tend, the subreaper, adopted them.
    sup.wait_until("the orphans adopted by tend", || {
        orphans
            .iter()
            .all(|&p| proc_stat(p).is_some_and(|(_, ppid, _)| ppid == sup.pid))
    });
    fs::write(sup.path("go"), "").unwrap();
    // Reaped: not even a zombie remains.
    sup.wait_until("the orphans reaped", || {
        orphans.iter().all(|&p| proc_stat(p).is_none())
    });
    let zombies: Vec<i32> = all_procs()
        .into_iter()
        .filter(|(_, (state, ppid, _))| *state == 'Z' && *ppid == sup.pid)
        .map(|(pid, _)| pid)
        .collect();
    assert!(zombies.is_empty(), "zombies of tend: {zombies:?}");
    assert_eq!(
        sup.state("parent"),
        "up",
        "an orphan's exit is not the service's"
    );
    assert_eq!(sup.svc("parent")["restarts"], 0);
}

/// The descriptors of `pid`: number -> link target.
fn fds(pid: i32) -> Vec<(i32, String)> {
    let mut out: Vec<(i32, String)> = fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .map(|e| {
            let n = e.file_name().to_str().unwrap().parse().unwrap();
            (
                n,
                fs::read_link(e.path())
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn services_get_only_their_own_descriptors() {
    let tmp = TempDir::new();
    let leak_path = tmp.path().join("leak");
    let leak = fs::File::create(&leak_path).unwrap();
    let leak_fd = leak.as_raw_fd();
    let leak_path = leak_path.display().to_string();
    let sup = Sup::start_with(
        "[plain]\nrun = /bin/sh -c 'exec sleep 1000'\n\
         [readyone]\nrun = /bin/sh -c 'exec sleep 1000'\nready = fd:3\n",
        |_, cmd| {
            // SAFETY: dup2 is async-signal-safe.
            unsafe {
                cmd.pre_exec(move || dup2(leak_fd, 7));
            }
        },
    );
    let tend_fds = fds(sup.pid);
    assert!(
        tend_fds.iter().any(|(n, t)| *n == 7 && *t == leak_path),
        "tend did not inherit fd 7: {tend_fds:?}"
    );

    let pid = sup.wait_for("plain up", || sup.pid_of("plain"));
    let f = fds(pid);
    assert_eq!(
        f.iter().map(|x| x.0).collect::<Vec<_>>(),
        [0, 1, 2],
        "{f:?}"
    );
    assert_eq!(f[0].1, "/dev/null");
    assert!(
        f[1].1.starts_with("pipe:[") && f[1].1 == f[2].1,
        "stdout and stderr the same pipe: {f:?}"
    );

    let pid = sup.wait_for("readyone running", || sup.pid_of("readyone"));
    assert_eq!(sup.state("readyone"), "starting");
    let g = fds(pid);
    assert_eq!(
        g.iter().map(|x| x.0).collect::<Vec<_>>(),
        [0, 1, 2, 3],
        "{g:?}"
    );
    assert_eq!(g[0].1, "/dev/null");
    assert!(g[1].1.starts_with("pipe:[") && g[1].1 == g[2].1, "{g:?}");
    assert!(
        g[3].1.starts_with("pipe:[") && g[3].1 != g[1].1,
        "fd 3 is its own readiness pipe: {g:?}"
    );
    assert_ne!(g[1].1, f[1].1, "each service has its own log pipe");
}

/// The numbers of a /proc/PID/status line (`Uid:`, `Gid:`, `Groups:`).
fn status_ids(pid: i32, key: &str) -> Vec<u32> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("no {key} in {text}"));
    line[key.len()..]
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect()
}

#[test]
fn services_run_as_their_user_and_group() {
    let sup = Sup::start(
        "[nob]\nrun = /bin/sh -c 'exec sleep 1000'\nuser = nobody\n\
         [nobgrp]\nrun = /bin/sh -c 'exec sleep 1000'\nuser = nobody\ngroup = nogroup\n\
         [num]\nrun = /bin/sh -c 'exec sleep 1000'\nuser = 4242\n\
         [numgrp]\nrun = /bin/sh -c 'exec sleep 1000'\nuser = 4242\ngroup = nogroup\n\
         [grponly]\nrun = /bin/sh -c 'exec sleep 1000'\ngroup = nogroup\n\
         [asroot]\nrun = /bin/sh -c 'exec sleep 1000'\n",
    );
    let cases = [
        ("nob", 65534, 65534),
        ("nobgrp", 65534, 65534),
        ("num", 4242, 4242),
        ("numgrp", 4242, 65534),
        ("grponly", 0, 65534),
        ("asroot", 0, 0),
    ];
    for (name, uid, gid) in cases {
        let pid = sup.wait_for(&format!("{name} up"), || sup.pid_of(name));
        assert_eq!(status_ids(pid, "Uid:"), [uid; 4], "{name}");
        assert_eq!(status_ids(pid, "Gid:"), [gid; 4], "{name}");
        let groups: BTreeSet<u32> = status_ids(pid, "Groups:").into_iter().collect();
        if name != "asroot" {
            // A service of a given identity keeps none of root's groups.
            assert_eq!(
                groups,
                BTreeSet::from([gid]),
                "{name}: supplementary groups"
            );
        }
    }
}

#[test]
fn sigterm_stops_services_in_reverse_dependency_order() {
    let mut sup = Sup::start(
        "[a]\nrun = /bin/sh -c 'exec sleep 1000'\n\
         [b]\nrun = /bin/sh -c 'trap \"sleep 0.2; exit 0\" TERM; while :; do sleep 0.05; done'\nafter = a\n\
         [c]\nrun = /bin/sh -c 'exec sleep 1000'\n",
    );
    let pids: Vec<i32> = ["a", "b", "c"]
        .iter()
        .map(|n| sup.wait_for(&format!("{n} up"), || sup.pid_of(n)))
        .collect();
    let st = sup.terminate();
    assert_eq!(
        st.code(),
        Some(0),
        "tend's exit after SIGTERM; console:\n{}",
        sup.console()
    );
    let console = sup.console();
    let at = |needle: &str| {
        console
            .find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in console:\n{console}"))
    };
    assert!(
        at("b: down") < at("a: stopping"),
        "a stopped before b, which runs after it:\n{console}"
    );
    at("c: down");
    for p in pids {
        assert!(!alive(p), "service process {p} survived tend");
    }
}

#[test]
fn services_get_their_environment_directory_and_stop_signal() {
    let sup = Sup::start(
        "[plainenv]\ntype = oneshot\nrun = /usr/bin/env\n\
         [withenv]\ntype = oneshot\nrun = /usr/bin/env\nenv = FOO=bar baz\nenv = PATH=/bin\n\
         [rootdir]\ntype = oneshot\nrun = /bin/pwd\n\
         [owndir]\ntype = oneshot\nrun = /bin/pwd\nchdir = DIR\n\
         [int]\nrun = /bin/sh -c 'trap \"echo got INT; exit 0\" INT; echo up; while :; do sleep 0.05; done'\n\
         stop-signal = INT\n",
    );
    for name in ["plainenv", "withenv", "rootdir", "owndir"] {
        sup.wait_state(name, "done");
    }
    assert_eq!(
        sup.log_text("plainenv"),
        ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    );
    let mut env = sup.log_text("withenv");
    env.sort();
    assert_eq!(env, ["FOO=bar baz", "PATH=/bin"]);
    assert_eq!(sup.log_text("rootdir"), ["/"]);
    assert_eq!(
        sup.log_text("owndir"),
        [sup.dir.path().display().to_string()]
    );

    sup.wait_until("int's first line", || sup.log_text("int") == ["up"]);
    sup.ok(&["stop", "int"]);
    let s = sup.wait_state("int", "down");
    assert_eq!(s["last_exit"]["code"], 0, "stopped by its trap of INT: {s}");
    assert_eq!(sup.log_text("int"), ["up", "got INT"]);
}
