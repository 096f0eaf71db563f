//! The control socket and the client commands (tend(8)): status and its
//! JSON, exit codes, who may connect, clients that misbehave, and
//! start/stop/restart/signal.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

/// Checks one service object of `status --json` against the documented
/// fields and types.
fn check_service_json(s: &Value) {
    let mut want: BTreeSet<&str> = [
        "name",
        "type",
        "state",
        "ok",
        "wanted",
        "pid",
        "uptime_ms",
        "restarts",
        "last_exit",
        "retry_in_ms",
        "log",
        "last_crash",
    ]
    .into();
    // A tend with listen (tend(8), SOCKETS) also says what an `accept =
    // yes` service has running and served: null for every other service.
    if cfg!(feature = "listen") {
        want.extend(["instances", "served"]);
        assert!(s["instances"].is_null() && s["served"].is_null(), "{s}");
    }
    assert_eq!(keys(s), want, "{s}");
    assert!(s["name"].is_string(), "{s}");
    assert!(
        matches!(s["type"].as_str(), Some("daemon" | "oneshot")),
        "{s}"
    );
    let state = s["state"].as_str().unwrap_or_else(|| panic!("state: {s}"));
    assert!(
        ["down", "starting", "up", "ready", "stopping", "backoff", "done", "failed"]
            .contains(&state),
        "{s}"
    );
    assert!(s["ok"].is_boolean() && s["wanted"].is_boolean(), "{s}");
    let running = matches!(state, "starting" | "up" | "ready" | "stopping");
    assert_eq!(s["pid"].is_u64(), running, "pid while running only: {s}");
    assert_eq!(
        s["uptime_ms"].is_u64(),
        running,
        "uptime_ms while running only: {s}"
    );
    assert!(s["pid"].is_u64() || s["pid"].is_null(), "{s}");
    assert!(s["uptime_ms"].is_u64() || s["uptime_ms"].is_null(), "{s}");
    assert!(s["restarts"].is_u64(), "{s}");
    let e = &s["last_exit"];
    if !e.is_null() {
        assert_eq!(
            keys(e),
            ["ago_ms", "code", "signal", "start_error"].into(),
            "{s}"
        );
        assert!(e["ago_ms"].is_u64(), "{s}");
        assert!(e["code"].is_u64() || e["code"].is_null(), "{s}");
        assert!(e["signal"].is_string() || e["signal"].is_null(), "{s}");
        let se = &e["start_error"];
        if !se.is_null() {
            assert_eq!(keys(se), ["errno", "step"].into(), "{s}");
            assert!(se["errno"].is_string() && se["step"].is_string(), "{s}");
        }
        let set = [!e["code"].is_null(), !e["signal"].is_null(), !se.is_null()];
        assert_eq!(
            set.iter().filter(|&&b| b).count(),
            1,
            "exactly one of code, signal, start_error: {s}"
        );
    }
    assert_eq!(
        s["retry_in_ms"].is_u64(),
        state == "backoff",
        "retry_in_ms in backoff only: {s}"
    );
    assert!(
        s["retry_in_ms"].is_u64() || s["retry_in_ms"].is_null(),
        "{s}"
    );
    let log = &s["log"];
    assert_eq!(
        keys(log),
        ["dropped", "kept", "size", "written"].into(),
        "{s}"
    );
    let n = |k: &str| log[k].as_u64().unwrap_or_else(|| panic!("log.{k}: {s}"));
    assert_eq!(n("written"), n("kept") + n("dropped"), "{s}");
    assert!(n("kept") <= n("size"), "{s}");
    let c = &s["last_crash"];
    if !c.is_null() {
        assert_eq!(keys(c), ["ago_ms", "lines", "what"].into(), "{s}");
        assert!(
            c["what"].is_string() && c["ago_ms"].is_u64() && c["lines"].is_string(),
            "{s}"
        );
    }
}

#[test]
fn status_json_has_the_documented_fields_in_every_state() {
    let sup = Sup::start(
        "[once]\ntype = oneshot\nrun = /bin/sh -c 'echo did it'\n\
         [plain]\nrun = /bin/sh -c 'echo plain; exec sleep 1000'\nafter = once\n\
         [readied]\nrun = /bin/sh -c 'echo >&3; exec sleep 1000'\nready = fd:3\n\
         [waiting]\nrun = /bin/sh -c 'exec sleep 1000'\nready = fd:3\n\
         [dependent]\nrun = /bin/sh -c 'exec sleep 1000'\nafter = waiting\n\
         [flapping]\nrun = /bin/sh -c 'echo \"say \\\"bye\\\" \\\\ now\"; exit 2'\n\
         [broken]\nrun = /nonexistent/prog\n\
         [halted]\nrun = /bin/sh -c 'exec sleep 1000'\n\
         [stuck]\nrun = /bin/sh -c 'trap \"\" TERM; while :; do sleep 0.05; done'\nstop-timeout = 30s\n\
         [killed]\nrun = /bin/sh -c 'sleep 1.1; kill -KILL $$'\n",
    );
    sup.wait_state("halted", "up");
    sup.ok(&["stop", "halted"]);
    sup.wait_state("stuck", "up");
    sup.ok(&["stop", "stuck"]);
    let want = [
        ("once", "done", true),
        ("plain", "up", true),
        ("readied", "ready", true),
        ("waiting", "starting", false),
        ("dependent", "down", false),
        ("flapping", "backoff", false),
        ("broken", "failed", false),
        ("halted", "down", true),
        ("stuck", "stopping", false),
        ("killed", "up", true),
    ];
    let doc = sup.wait_for("every state at once", || {
        let doc = sup.json();
        let services = doc["services"].as_array()?;
        let all = want.iter().all(|(name, state, _)| {
            services
                .iter()
                .any(|s| s["name"] == *name && s["state"] == *state)
        });
        let killed = services.iter().find(|s| s["name"] == "killed")?;
        (all && killed["restarts"] == 1
            && services
                .iter()
                .any(|s| s["name"] == "flapping" && s["restarts"].as_u64() >= Some(2)))
        .then_some(doc)
    });
    assert_eq!(keys(&doc), ["services", "watchdog"].into());
    assert_eq!(doc["watchdog"], Value::Null, "no watchdog here");
    let services = doc["services"].as_array().unwrap();
    let names: Vec<&str> = services
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        want.iter().map(|w| w.0).collect::<Vec<_>>(),
        "services in table order"
    );
    for s in services {
        check_service_json(s);
        let (_, _, ok) = want.iter().find(|w| s["name"] == w.0).unwrap();
        assert_eq!(s["ok"], *ok, "{s}");
    }
    let get = |name: &str| services.iter().find(|s| s["name"] == name).unwrap();
    assert_eq!(get("once")["type"], "oneshot");
    assert_eq!(get("plain")["type"], "daemon");
    assert_eq!(get("halted")["wanted"], false);
    assert_eq!(get("stuck")["wanted"], false);
    assert_eq!(get("plain")["wanted"], true);
    assert_eq!(get("once")["last_exit"]["code"], 0);
    assert_eq!(get("flapping")["last_exit"]["code"], 2);
    assert_eq!(get("flapping")["last_crash"]["what"], "exit 2");
    let lines = get("flapping")["last_crash"]["lines"].as_str().unwrap();
    assert!(lines.ends_with("] say \"bye\" \\ now\n"), "{lines:?}");
    assert_eq!(get("killed")["last_exit"]["signal"], "KILL");
    assert_eq!(get("killed")["last_crash"]["what"], "signal KILL");
    assert_eq!(get("broken")["last_exit"]["start_error"]["errno"], "ENOENT");
    assert!(get("broken")["last_crash"].is_null());
    assert!(get("plain")["last_exit"].is_null() && get("plain")["last_crash"].is_null());
    // The JSON of one service, and text that needs escaping, parse too.
    let one = sup.run(&["status", "plain", "--json"]);
    let one: Value =
        serde_json::from_str(&one.stdout).unwrap_or_else(|e| panic!("{e}: {}", one.stdout));
    assert_eq!(one["services"].as_array().map(Vec::len), Some(1));
    check_service_json(&one["services"][0]);
    // Let the stuck service go, rather than wait its 30 s stop timeout.
    sup.ok(&["signal", "stuck", "KILL"]);
}

#[test]
fn status_exit_codes() {
    let sup = Sup::start(
        "[once]\ntype = oneshot\nrun = /bin/true\n\
         [daemon]\nrun = /bin/sh -c 'exec sleep 1000'\n",
    );
    sup.wait_until("status exit 0", || sup.run(&["status"]).code == 0);
    let out = sup.run(&["status", "daemon", "once"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.starts_with("SERVICE") && out.stderr.is_empty(),
        "{out:?}"
    );
    let out = sup.run(&["status", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");

    let out = sup.run(&["status", "bogus"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert_eq!(out.stdout, "", "nothing on stdout for an unknown name");
    assert_eq!(
        out.stderr, "tend: status: no service named \"bogus\"\n",
        "{out:?}"
    );
    let out = sup.run(&["status", "daemon", "bogus"]);
    assert_eq!((out.code, out.stdout.as_str()), (4, ""), "{out:?}");

    let bad = Sup::start(
        "[flapping]\nrun = /bin/sh -c 'exit 1'\n\
         [broken]\nrun = /nonexistent/prog\n\
         [fine]\nrun = /bin/sh -c 'exec sleep 1000'\n",
    );
    bad.wait_state("broken", "failed");
    bad.wait_state("fine", "up");
    bad.wait_state("flapping", "backoff");
    assert_eq!(bad.run(&["status"]).code, 3);
    assert_eq!(bad.run(&["status", "--json"]).code, 3);
    assert_eq!(bad.run(&["status", "broken"]).code, 3);
    bad.wait_until("flapping in backoff when asked", || {
        bad.run(&["status", "flapping"]).code == 3
    });
    assert_eq!(
        bad.run(&["status", "fine"]).code,
        0,
        "only the services shown count"
    );
    let out = bad.run(&["status"]);
    assert!(
        out.stdout.contains("failed") && out.stderr.is_empty(),
        "{out:?}"
    );
}

#[test]
fn a_client_without_a_supervisor_exits_1() {
    let dir = TempDir::new();
    let socket = dir.path().join("nobody-listens.sock");
    let mut cmd = std::process::Command::new(tend_bin());
    cmd.arg("status").env("TEND_SOCKET", &socket);
    let out = run_cmd(cmd, DEADLINE);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "");
    let want = format!(
        "tend: cannot reach the supervisor at {}: ",
        socket.display()
    );
    assert!(out.stderr.starts_with(&want), "{out:?}");
}

#[test]
fn other_users_are_refused() {
    let sup = Sup::start("[svc]\nrun = /bin/sh -c 'exec sleep 1000'\n");
    let meta = fs::metadata(&sup.socket).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600, "socket mode");
    assert_eq!((meta.uid(), meta.gid()), (0, 0), "socket owner");
    let as_nobody = |args: &[&str]| {
        let mut cmd = sup.command(args);
        cmd.uid(65534).gid(65534);
        run_cmd(cmd, DEADLINE)
    };
    let out = as_nobody(&["status"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .starts_with("tend: cannot reach the supervisor at ")
            && out.stderr.contains("permission denied"),
        "{out:?}"
    );

    // With the socket open to all, the supervisor itself says no.
    fs::set_permissions(&sup.socket, fs::Permissions::from_mode(0o666)).unwrap();
    for args in [&["status"][..], &["stop", "svc"], &["log", "svc"]] {
        let out = as_nobody(args);
        assert_eq!(out.code, 1, "{args:?}: {out:?}");
        assert_eq!(out.stdout, "", "{args:?}");
        assert!(out.stderr.starts_with("tend: "), "{args:?}: {out:?}");
    }
    assert_eq!(sup.state("svc"), "up", "a refused stop did nothing");
    assert_eq!(sup.run(&["status"]).code, 0, "root still gets in");
}

#[test]
fn a_refused_client_is_told_why() {
    let sup = Sup::start("[svc]\nrun = /bin/sh -c 'exec sleep 1000'\n");
    fs::set_permissions(&sup.socket, fs::Permissions::from_mode(0o666)).unwrap();
    for _ in 0..10 {
        let mut cmd = sup.command(&["status"]);
        cmd.uid(65534).gid(65534);
        let out = run_cmd(cmd, DEADLINE);
        assert_eq!(out.code, 1, "{out:?}");
        assert_eq!(
            out.stderr,
            "tend: refused: only root and uid 0 may control this supervisor\n"
        );
    }
}

#[test]
fn stuck_clients_do_not_block_status() {
    let sup = Sup::start("[svc]\nrun = /bin/sh -c 'exec sleep 1000'\n");
    sup.wait_until("all up", || sup.run(&["status"]).code == 0);
    // More half-sent requests than there are client slots, all kept open.
    let mut stuck = Vec::new();
    for _ in 0..12 {
        let mut s = UnixStream::connect(&sup.socket).unwrap();
        s.write_all(b"stat").unwrap();
        stuck.push(s);
    }
    for _ in 0..3 {
        let t0 = Instant::now();
        let out = sup.run(&["status"]);
        let took = t0.elapsed();
        assert_eq!(out.code, 0, "{out:?}");
        assert!(
            took < Duration::from_millis(1000),
            "status took {took:?} beside stuck clients"
        );
    }
    drop(stuck);
}

#[test]
fn a_client_that_does_not_read_does_not_block_status() {
    // A ring bigger than a socket buffer holds, full of lines.
    let sup = Sup::start(
        "[big]\n\
         run = /bin/sh -c 'yes \"a line of the big service, long enough to fill the ring soon\" | head -c 700000; exec sleep 1000'\n\
         log = 900k\n\
         [svc]\nrun = /bin/sh -c 'exec sleep 1000'\n",
    );
    sup.wait_until("the big ring filled", || {
        sup.svc("big")["log"]["written"] == 700000
    });
    let mut readers = Vec::new();
    for _ in 0..2 {
        let mut s = UnixStream::connect(&sup.socket).unwrap();
        s.write_all(b"log big\n").unwrap();
        readers.push(s);
    }
    let follower = {
        let mut s = UnixStream::connect(&sup.socket).unwrap();
        s.write_all(b"log -f big\n").unwrap();
        s
    };
    for _ in 0..3 {
        let t0 = Instant::now();
        let out = sup.run(&["status"]);
        let took = t0.elapsed();
        assert_eq!(out.code, 0, "{out:?}");
        assert!(
            took < Duration::from_millis(1000),
            "status took {took:?} beside clients that do not read"
        );
        let out = sup.run(&["log", "svc"]);
        assert_eq!(out.code, 0, "{out:?}");
    }
    // They really were stalled with a reply pending: it is still there.
    let mut buf = vec![0u8; 4096];
    readers[0].set_read_timeout(Some(DEADLINE)).unwrap();
    let n = std::io::Read::read(&mut readers[0], &mut buf).unwrap();
    assert!(n > 0 && buf[0] == 0, "reply status byte");
    drop(follower);
}

#[test]
fn start_stop_restart_and_signal() {
    let sup = Sup::start(
        "[svc]\n\
         run = /bin/sh -c 'trap \"echo got HUP\" HUP; echo started; while :; do sleep 0.05; done'\n\
         [other]\nrun = /bin/sh -c 'exec sleep 1000'\n",
    );
    let pid1 = sup.wait_for("svc up", || sup.pid_of("svc"));

    // stop: down, and remembered.
    let out = sup.ok(&["stop", "svc"]);
    assert_eq!(out.stdout, "");
    let s = sup.wait_state("svc", "down");
    assert_eq!(
        (s["wanted"].as_bool(), s["ok"].as_bool()),
        (Some(false), Some(true)),
        "{s}"
    );
    assert!(s["last_crash"].is_null(), "a stop is no crash: {s}");
    wait_until(DEADLINE, "svc's process gone", || !alive(pid1));
    sup.wait_until("svc down for 500 ms", || {
        let s = sup.svc("svc");
        assert_eq!(s["state"], "down", "a stopped service came back: {s}");
        s["last_exit"]["ago_ms"].as_u64() >= Some(500)
    });
    assert_eq!(sup.run(&["status"]).code, 0, "stopped by hand is as wanted");
    assert_eq!(sup.run(&["status", "svc"]).code, 0);
    let out = sup.run(&["signal", "svc", "HUP"]);
    assert_eq!(out.code, 3, "signal to a stopped service: {out:?}");

    // start: up again, a new process.
    sup.ok(&["start", "svc"]);
    let pid2 = sup.wait_for("svc up again", || sup.pid_of("svc"));
    assert_ne!(pid2, pid1);
    let s = sup.svc("svc");
    assert_eq!(
        (s["wanted"].as_bool(), s["ok"].as_bool()),
        (Some(true), Some(true)),
        "{s}"
    );

    // restart: a new pid.
    sup.ok(&["restart", "svc"]);
    let pid3 = sup.wait_for("svc restarted", || {
        sup.pid_of("svc")
            .filter(|&p| p != pid2 && sup.state("svc") == "up")
    });
    assert_ne!(pid3, pid2);
    wait_until(DEADLINE, "the old process gone", || !alive(pid2));
    sup.wait_until("three starts logged", || {
        sup.log_text("svc")
            .iter()
            .filter(|t| *t == "started")
            .count()
            == 3
    });

    // signal: reaches the service's process group.
    sup.ok(&["signal", "svc", "HUP"]);
    sup.wait_until("the HUP trap's line", || {
        sup.log_text("svc").iter().any(|t| t == "got HUP")
    });
    assert_eq!(
        sup.pid_of("svc"),
        Some(pid3),
        "HUP is trapped, the service lives on"
    );
    // A signal by number: 1 is HUP.
    sup.ok(&["signal", "svc", "1"]);
    sup.wait_until("the second HUP's line", || {
        sup.log_text("svc")
            .iter()
            .filter(|t| *t == "got HUP")
            .count()
            == 2
    });
    sup.ok(&["signal", "svc", "TERM"]);
    sup.wait_until("svc restarted after TERM", || {
        sup.pid_of("svc").is_some_and(|p| p != pid3)
    });
    assert_eq!(sup.svc("svc")["last_exit"]["signal"], "TERM");

    // Unknown names change nothing.
    for args in [
        &["stop", "nosuch"][..],
        &["start", "svc", "nosuch"],
        &["signal", "nosuch", "HUP"],
    ] {
        let out = sup.run(args);
        assert_eq!(out.code, 4, "{args:?}: {out:?}");
    }
    assert_eq!(sup.state("svc"), "up");
    assert_eq!(sup.state("other"), "up");
}

#[test]
fn status_json_stays_whole_past_the_reply_buffer() {
    // Sixteen crash records of control bytes (each escaped six times over)
    // and a name of the longest kind: many times the client's buffer. A
    // stress run once showed an object cut at the 2048-byte boundary.
    let long_name = "n".repeat(31);
    let mut table = format!("[{long_name}]\nrun = /bin/sh -c 'exec sleep 1000'\n");
    for i in 0..16 {
        table.push_str(&format!(
            "[crash{i}]\nrun = /bin/sh -c 'printf \"\\001%.0s\" $(seq 900); echo; exit 1'\n"
        ));
    }
    let sup = Sup::start(&table);
    sup.wait_until("every crash recorded", || {
        let doc = sup.json();
        doc["services"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| !s["last_crash"].is_null())
            .count()
            == 16
    });
    let out = sup.run(&["status", "--json"]);
    assert!(out.stdout.len() > 16 * 5000, "{} bytes", out.stdout.len());
    let doc: Value = serde_json::from_str(&out.stdout).expect("whole JSON");
    let services = doc["services"].as_array().unwrap();
    assert_eq!(services.len(), 17);
    assert_eq!(services[0]["name"], long_name.as_str());
    for s in &services[1..] {
        check_service_json(s);
        let lines = s["last_crash"]["lines"].as_str().unwrap();
        assert!(lines.contains(&"\u{1}".repeat(500)), "{s}");
    }
}
