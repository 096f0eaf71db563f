//! Starting services never holds the loop (README, "The loop never waits"):
//! tend forks each service and learns whether its exec happened through a
//! close-on-exec pipe in its poll set. So `tend status` answers while the
//! children still wait to be scheduled, an exec failure is still reported as
//! such whichever tend learns first (the pipe or the child's end), and a
//! stop or a shutdown may come before an exec and still stops everything.
//!
//! Each test runs beside two CPU-bound busy loops, which keep children
//! waiting for a CPU as on a busy router. The asserted bounds are generous;
//! the figures are printed (`--nocapture`).

mod common;

use std::fs;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// One test at a time runs its busy loops: they would slow each other.
static BUSY: Mutex<()> = Mutex::new(());

/// Busy-loop processes, killed on drop.
struct BusyLoops(Vec<Child>);

impl BusyLoops {
    fn start(n: usize) -> BusyLoops {
        BusyLoops(
            (0..n)
                .map(|_| {
                    Command::new("/bin/sh")
                        .args(["-c", "while :; do :; done"])
                        .stdin(Stdio::null())
                        .spawn()
                        .expect("spawn a busy loop")
                })
                .collect(),
        )
    }
}

impl Drop for BusyLoops {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The pipes among a process's descriptors.
fn pipes(pid: &str) -> Vec<String> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| fs::read_link(e.path()).ok())
        .map(|t| t.to_string_lossy().into_owned())
        .filter(|t| t.starts_with("pipe:["))
        .collect()
}

/// The pipes tend holds of its own: not those it inherited from this test
/// (cargo's jobserver, say), which the test holds too.
fn own_pipe_fds(pid: i32) -> usize {
    let inherited = pipes("self");
    pipes(&pid.to_string())
        .iter()
        .filter(|p| !inherited.contains(p))
        .count()
}

/// One request straight on the control socket (no client process to
/// start, so it can be asked from the first moment): the reply's status
/// byte and text, or None while nothing listens yet.
fn ask(socket: &Path, request: &str) -> Option<(u8, String)> {
    let mut s = UnixStream::connect(socket).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).ok()?;
    let (&code, text) = reply.split_first()?;
    Some((code, String::from_utf8_lossy(text).into_owned()))
}

/// Asks `request` as soon as tend listens at `socket`, from a thread
/// started before tend: the reply and when it came.
fn ask_first(socket: PathBuf, request: &'static str) -> thread::JoinHandle<(u8, String)> {
    thread::spawn(move || {
        let end = Instant::now() + DEADLINE;
        loop {
            if let Some(reply) = ask(&socket, request) {
                return reply;
            }
            assert!(Instant::now() < end, "tend never listened");
            thread::sleep(Duration::from_micros(200));
        }
    })
}

fn services(json: &serde_json::Value) -> Vec<serde_json::Value> {
    json["services"].as_array().expect("services").clone()
}

#[test]
fn thirty_two_services_come_up_beside_two_busy_loops_and_status_answers_meanwhile() {
    let _one = BUSY.lock().unwrap_or_else(|e| e.into_inner());
    let _busy = BusyLoops::start(2);
    let n = 32;
    let table: String = (0..n)
        .map(|i| format!("[s{i:02}]\nrun = sleep 100000\n"))
        .collect();
    let mut watcher = None;
    let t0 = Instant::now();
    let sup = Sup::start_with(&table, |dir, _| {
        // From before tend starts until every service is up: each answer
        // is checked, and timed.
        let socket = dir.join("tend.sock");
        watcher = Some(thread::spawn(move || {
            let mut latencies = Vec::new();
            let mut seen_starting = 0;
            loop {
                let t = Instant::now();
                let Some((code, text)) = ask(&socket, "status -j\n") else {
                    assert!(t0.elapsed() < DEADLINE, "tend never listened");
                    thread::sleep(Duration::from_micros(200));
                    continue;
                };
                latencies.push(t.elapsed());
                assert!(matches!(code, 0 | 3), "status: {code} {text}");
                let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
                let svcs = services(&doc);
                assert_eq!(svcs.len(), n, "{doc}");
                for s in &svcs {
                    let state = s["state"].as_str().unwrap();
                    assert!(matches!(state, "starting" | "up"), "{s}");
                    assert!(s["pid"].is_u64(), "a forked service shows its pid: {s}");
                    assert!(s["last_exit"].is_null() && s["restarts"] == 0, "{s}");
                    assert_eq!(s["ok"], state == "up", "{s}");
                }
                if svcs.iter().all(|s| s["state"] == "up") {
                    return (t0.elapsed(), latencies, seen_starting);
                }
                seen_starting += 1;
                assert!(
                    t0.elapsed() < DEADLINE,
                    "not all up after {DEADLINE:?}: {doc}"
                );
            }
        }));
    });
    let (all_up, latencies, seen_starting) = watcher.unwrap().join().expect("the watcher");
    assert_eq!(sup.run(&["status"]).code, 0);
    // Each said `up` once, with the pid it has; a plain daemon is never
    // reported `starting` in tend's log.
    let own = sup.log_text("tend");
    for s in services(&sup.json()) {
        let name = s["name"].as_str().unwrap();
        let ups: Vec<&String> = own
            .iter()
            .filter(|t| t.starts_with(&format!("{name}: ")))
            .collect();
        assert_eq!(ups, [&format!("{name}: up, pid {}", s["pid"])], "{own:#?}");
        let pid = sup.pid_of(name).expect("exec'd");
        assert_eq!(
            fs::read_link(format!("/proc/{pid}/exe")).unwrap(),
            fs::canonicalize("/bin/sleep").unwrap()
        );
    }
    // No report pipe left behind: the log pipes (both ends) only.
    assert_eq!(own_pipe_fds(sup.pid), 2 * n);
    let p = {
        let mut v = latencies.clone();
        v.sort();
        (v[v.len() / 2], v[v.len() - 1])
    };
    println!(
        "{n} services beside two busy loops: all up {:.1} ms after launch; status answered {} times meanwhile \
         ({seen_starting} while some were starting), p50 {:.2} ms, max {:.2} ms",
        all_up.as_secs_f64() * 1000.0,
        latencies.len(),
        p.0.as_secs_f64() * 1000.0,
        p.1.as_secs_f64() * 1000.0,
    );
    // Whether an answer came while some were starting depends on how fast
    // the children exec here: a_slow_exec_holds_up_nothing proves it.
    assert!(
        p.1 < Duration::from_millis(1000),
        "status took {:?} while services started",
        p.1
    );
}

/// A child slow to exec (a cold binary on slow flash) holds up nothing:
/// strace holds every execve for 3 s (tend's own too, before it starts), and
/// meanwhile tend answers `status` at once, showing the service `starting`
/// with its pid; the exec is then learned through the poll set and the
/// service comes up.
#[test]
fn a_slow_exec_holds_up_nothing() {
    let hold = Duration::from_secs(3);
    let inject = format!("inject=execve:delay_enter={}", hold.as_micros());
    let strace = [
        "strace",
        "-f",
        "-qq",
        "--seccomp-bpf",
        "-o",
        "/dev/null",
        "-e",
        "trace=execve",
        "-e",
        &inject,
    ];
    let table = "[slow]\nrun = /bin/sleep 100000\n";
    let sup = Sup::start_under(&strace, table, |_, _| {});
    let t0 = Instant::now();
    let slow = sup.svc("slow");
    assert_eq!(slow["state"], "starting", "{slow}");
    assert!(
        slow["pid"].is_u64(),
        "a forked service shows its pid: {slow}"
    );
    let answered = t0.elapsed();
    assert!(
        answered < hold,
        "status took {answered:?} while an exec was held"
    );
    assert!(
        poll_until(DEADLINE, || sup.svc("slow")["state"] == "up"),
        "the held exec was never learned: {}",
        sup.svc("slow")
    );
    // tend itself, the tracer's child, ends first: the tracer then exits.
    let tend = sup.wrapped_tend();
    kill(tend, SIGTERM);
    assert!(
        poll_until(DEADLINE, || descendants(sup.pid).is_empty()),
        "tend did not stop"
    );
}

#[test]
fn exec_failures_beside_busy_loops_are_reported_as_such_never_as_crashes() {
    let _one = BUSY.lock().unwrap_or_else(|e| e.into_inner());
    let _busy = BusyLoops::start(2);
    // Whether tend reads a child's report before or after it reaps the
    // child, the report decides: an exec failure, not an exit 127.
    let n = 16;
    let table: String = (0..n)
        .map(|i| {
            let run = if i % 2 == 0 {
                "/nonexistent/prog"
            } else {
                "no-such-program-for-tend-tests"
            };
            format!("[f{i:02}]\nrun = {run}\n")
        })
        .collect::<String>()
        + "[fine]\nrun = sleep 100000\n";
    let sup = Sup::start(&table);
    for i in 0..n {
        let name = format!("f{i:02}");
        let s = sup.wait_state(&name, "failed");
        assert_eq!(s["restarts"], 0, "{s}");
        assert!(s["pid"].is_null() && s["last_crash"].is_null(), "{s}");
        let e = &s["last_exit"];
        assert!(e["code"].is_null() && e["signal"].is_null(), "{s}");
        assert_eq!(e["start_error"]["step"], "exec", "{s}");
        assert_eq!(e["start_error"]["errno"], "ENOENT", "{s}");
        assert!(sup.row(&name).ends_with("exec: ENOENT"), "{name}");
    }
    sup.wait_state("fine", "up");
    let own = sup.log_text("tend");
    for i in 0..n {
        let name = format!("f{i:02}: ");
        let lines: Vec<&String> = own.iter().filter(|t| t.starts_with(&name)).collect();
        assert_eq!(
            lines,
            [&format!("{name}failed, exec: no such file or directory")],
            "{own:#?}"
        );
    }
    assert!(!sup.console().contains("crashed"), "{}", sup.console());
    // Every report pipe closed once read: the log pipes only.
    assert_eq!(own_pipe_fds(sup.pid), 2 * (n + 1));
}

#[test]
fn a_stop_or_a_shutdown_while_services_start_stops_every_one() {
    let _one = BUSY.lock().unwrap_or_else(|e| e.into_inner());
    let _busy = BusyLoops::start(2);
    // A stop timeout longer than the test waits: a stop signal lost on a
    // child that had not made its process group yet would show.
    let n = 16;
    let table: String = (0..n)
        .map(|i| format!("[s{i:02}]\nrun = sleep 100000\nstop-timeout = 60s\n"))
        .collect();
    let mut stopper = None;
    let mut sup = Sup::start_with(&table, |dir, _| {
        stopper = Some(ask_first(dir.join("tend.sock"), "stop s00 s01 s02 s03\n"));
    });
    let (code, text) = stopper.unwrap().join().expect("the stopper");
    assert_eq!((code, text.as_str()), (0, ""), "tend stop");
    for i in 0..4 {
        let s = sup.wait_state(&format!("s{i:02}"), "down");
        assert_eq!(s["wanted"], false, "{s}");
        assert!(s["last_crash"].is_null(), "a stop is no crash: {s}");
        // Before its exec or after, SIGTERM ends it.
        assert_eq!(s["last_exit"]["signal"], "TERM", "{s}");
    }
    let own = sup.log_text("tend");
    let before_exec = (0..4)
        .filter(|i| !own.iter().any(|t| t.starts_with(&format!("s{i:02}: up"))))
        .count();
    let left: Vec<i32> = descendants(sup.pid).into_iter().map(|(p, _)| p).collect();
    let t0 = Instant::now();
    let st = sup.terminate();
    assert_eq!(st.code(), Some(0), "console:\n{}", sup.console());
    let took = t0.elapsed();
    for p in left {
        assert!(!alive(p), "{p} outlived tend");
    }
    assert!(!sup.console().contains("crashed"), "{}", sup.console());
    println!(
        "stop and shutdown while starting: {before_exec} of 4 stopped before their exec was confirmed; tend exited {:.0} ms after SIGTERM",
        took.as_secs_f64() * 1000.0
    );
}
