//! tend under load, faults and hostile clients, with figures.
//!
//! Each test runs the real binary. By default they are scaled down to fit
//! the normal test run; `TEND_STRESS=long` (what `scripts/stress` sets) runs
//! them at full size: 64 services crash-looping for 60 s, a 2 GB flood,
//! 10 000 orphans, 1 000 hostile connections. Figures are printed (run with
//! `--nocapture` to see them); the asserted bounds are generous so a loaded
//! machine does not flake, and the figures say how far inside them tend is.

mod common;

use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::*;

fn long() -> bool {
    std::env::var("TEND_STRESS").is_ok_and(|v| v == "long")
}

/// `short` in the normal run, `long` under TEND_STRESS=long.
fn scale<T>(short: T, long_: T) -> T {
    if long() {
        long_
    } else {
        short
    }
}

/// Open descriptors of a process.
fn fd_count(pid: i32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count()
}

/// p50, p95, p99 and max of some durations, in ms.
fn percentiles(mut v: Vec<Duration>) -> [f64; 4] {
    assert!(!v.is_empty());
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1000.0;
    [at(0.5), at(0.95), at(0.99), at(1.0)]
}

fn show(what: &str, p: [f64; 4]) -> String {
    format!(
        "{what}: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        p[0], p[1], p[2], p[3]
    )
}

/// Times one `tend status NAME` that must succeed.
fn timed_status(sup: &Sup, name: &str) -> Duration {
    let t0 = Instant::now();
    let out = sup.run(&["status", name]);
    let took = t0.elapsed();
    assert_eq!(out.code, 0, "status {name}: {out:?}");
    took
}

/// `tend status quiet`, timed, again and again until the ring of `flood`
/// has had `bytes` written: the latencies and the seconds it took.
fn status_until_written(sup: &Sup, bytes: u64) -> (Vec<Duration>, f64) {
    let t0 = Instant::now();
    let mut latencies = Vec::new();
    let deadline = Duration::from_secs(scale(60, 300));
    loop {
        latencies.push(timed_status(sup, "quiet"));
        let log = sup.svc("flood")["log"].clone();
        if log["written"].as_u64() == Some(bytes) {
            return (latencies, t0.elapsed().as_secs_f64());
        }
        assert!(t0.elapsed() < deadline, "flood not done: {log}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Deaths the backoff allows in `ms` (`restarts` counts each death): the
/// first at once, then after delays of 100 ms doubling to 60 s.
fn restarts_allowed(ms: u64) -> u64 {
    let (mut t, mut delay, mut n) = (0, 100, 1);
    while t + delay <= ms {
        t += delay;
        delay = (delay * 2).min(60_000);
        n += 1;
    }
    n
}

#[test]
fn a_crash_loop_storm_keeps_backoff_and_leaves_the_healthy_alone() {
    let (n, secs) = scale((16, 5), (63, 60)); // with the healthy one: 64, the most tend takes
    let mut table = String::from("[healthy]\nrun = /bin/sh -c 'echo healthy; exec sleep 100000'\n");
    for i in 0..n {
        table.push_str(&format!("[crash{i}]\nrun = /bin/sh -c 'exit 1'\n"));
    }
    let sup = Sup::start(&table);
    let pid = sup.wait_for("healthy up", || sup.pid_of("healthy"));
    let (t0, cpu0) = (Instant::now(), cpu_s(sup.pid));
    let mut latencies = Vec::new();
    while t0.elapsed() < Duration::from_secs(secs) {
        latencies.push(timed_status(&sup, "healthy"));
        std::thread::sleep(Duration::from_millis(20));
    }
    let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_s(sup.pid) - cpu0);
    let doc = sup.json();
    let allowed = restarts_allowed(wall as u64 * 1000 + 1000);
    let mut counts = Vec::new();
    for s in doc["services"].as_array().unwrap() {
        if s["name"] == "healthy" {
            assert_eq!(s["pid"], pid, "healthy kept its process");
            assert_eq!(s["restarts"], 0);
            continue;
        }
        let r = s["restarts"].as_u64().unwrap();
        assert!(
            r <= allowed,
            "{}: {r} restarts in {wall:.1} s, backoff allows {allowed}",
            s["name"]
        );
        assert!(
            r >= 3,
            "{}: only {r} restarts: it must keep trying",
            s["name"]
        );
        counts.push(r);
    }
    assert_eq!(sup.log_text("healthy"), ["healthy"]);
    let p = percentiles(latencies);
    let share = cpu / wall * 100.0;
    println!(
        "crash storm: {n} services for {wall:.1} s: tend CPU {cpu:.2} s ({share:.2} %), restarts per service {}..{} (backoff allows {allowed}); {}",
        counts.iter().min().unwrap(),
        counts.iter().max().unwrap(),
        show("status of the healthy service", p)
    );
    assert!(share < 25.0, "tend used {share:.1} % of a CPU");
    assert!(p[2] < 1000.0, "{}", show("status", p));
}

#[test]
fn a_flood_is_counted_exactly_and_leaves_other_rings_alone() {
    // 64-byte lines, as fast as `yes` writes them.
    let bytes: u64 = scale(20_000_000, 2_000_000_000);
    let line = "0123456789".repeat(7)[..63].to_string();
    let sup = Sup::start(&format!(
        "[quiet]\nrun = /bin/sh -c 'echo quiet-line; exec sleep 100000'\n\
         [flood]\nrun = /bin/sh -c 'yes {line} | head -c {bytes}; exec sleep 100000'\nlog = 64k\n"
    ));
    sup.wait_until("quiet's line", || sup.log_text("quiet") == ["quiet-line"]);
    let quiet_before = sup.svc("quiet")["log"].clone();
    let (latencies, wall) = status_until_written(&sup, bytes);
    let log = sup.svc("flood")["log"].clone();
    let (kept, dropped) = (
        log["kept"].as_u64().unwrap(),
        log["dropped"].as_u64().unwrap(),
    );
    assert_eq!(kept + dropped, bytes, "kept + dropped = written: {log}");
    assert!(kept > 0 && kept <= 64 * 1024, "{log}");
    // What is kept is whole lines of what was written.
    let text = sup.log_text("flood");
    assert!(text.len() > 100, "{} lines kept", text.len());
    assert!(text.iter().all(|l| *l == line), "kept lines are intact");
    assert_eq!(
        sup.svc("quiet")["log"],
        quiet_before,
        "quiet's ring untouched"
    );
    assert_eq!(sup.log_text("quiet"), ["quiet-line"]);
    let p = percentiles(latencies);
    println!(
        "flood: {bytes} B in {wall:.2} s ({:.0} MB/s); kept {kept} + dropped {dropped} = written {bytes}; {}",
        bytes as f64 / wall / 1e6,
        show("status during the flood", p)
    );
    assert!(p[2] < 1000.0, "{}", show("status", p));
}

/// 100,000 syslog messages from one service (tend(8), SYSLOG): every one
/// filed in its own ring (written counts them all), the other service's
/// ring untouched, and `tend status` answering meanwhile (p99 under 50 ms).
#[test]
#[cfg(feature = "syslog")]
fn a_syslog_flood_stays_in_its_own_ring_and_status_answers() {
    let count: usize = scale(100_000, 1_000_000);
    let send = format!(
        "import socket, time\n\
         s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
         for i in range({count}):\n    s.sendto(b'<13>f: %d' % i, '{{}}')\n\
         time.sleep(100000)\n"
    );
    let sup = Sup::start_with(
        "[tend]\nsyslog = DIR/log\n\n\
         [quiet]\nrun = /bin/sh -c 'echo quiet-line; exec sleep 100000'\n\n\
         [flood]\nrun = /usr/bin/python3 DIR/send.py\nlog = 64k\n",
        |dir, _| {
            let script = send.replace("{}", dir.join("log").to_str().unwrap());
            fs::write(dir.join("send.py"), script).unwrap();
        },
    );
    sup.wait_until("quiet's line", || sup.log_text("quiet") == ["quiet-line"]);
    let quiet_before = sup.svc("quiet")["log"].clone();
    // Each message is kept as `user.notice f: N` and a newline.
    let bytes: u64 = (0..count)
        .map(|i| format!("user.notice f: {i}\n").len() as u64)
        .sum();
    let (latencies, wall) = status_until_written(&sup, bytes);
    let log = sup.svc("flood")["log"].clone();
    assert_eq!(
        log["kept"].as_u64().unwrap() + log["dropped"].as_u64().unwrap(),
        bytes,
        "{log}"
    );
    let last = format!("user.notice f: {}", count - 1);
    assert_eq!(sup.log_text("flood").last(), Some(&last));
    assert_eq!(
        sup.svc("quiet")["log"],
        quiet_before,
        "quiet's ring untouched"
    );
    assert!(
        sup.log_text("syslog").is_empty(),
        "every message was the flood's"
    );
    let p = percentiles(latencies);
    println!(
        "syslog flood: {count} messages in {wall:.2} s ({:.0} a second); {}",
        count as f64 / wall,
        show("status during the flood", p)
    );
    assert!(p[2] < 50.0, "{}", show("status", p));
}

#[test]
fn an_orphan_storm_leaves_no_zombie() {
    let n: u32 = scale(500, 10_000);
    let sup = Sup::start(&format!(
        "[storm]\nrun = /bin/sh -c 'i=0; while [ $i -lt {n} ]; do (sleep 0 &); i=$((i+1)); done; echo spawned; exec sleep 100000'\n"
    ));
    let t0 = Instant::now();
    let deadline = Duration::from_secs(scale(60, 600));
    assert!(
        poll_until(deadline, || sup.log_text("storm") == ["spawned"]),
        "the storm did not finish"
    );
    let spawn = t0.elapsed();
    let zombies = || {
        all_procs()
            .into_iter()
            .filter(|(_, (state, ppid, _))| *state == 'Z' && *ppid == sup.pid)
            .count()
    };
    wait_until(DEADLINE, "no zombie of tend left", || zombies() == 0);
    assert_eq!(sup.state("storm"), "up");
    assert_eq!(sup.svc("storm")["restarts"], 0);
    println!(
        "orphans: {n} double-forked in {:.1} s, 0 zombies left {:.0} ms after",
        spawn.as_secs_f64(),
        (t0.elapsed() - spawn).as_secs_f64() * 1000.0
    );
}

/// Reads until `want` shows up in what `s` sent, or the deadline passes.
fn read_until(s: &mut UnixStream, want: &str) -> String {
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut got = Vec::new();
    let t0 = Instant::now();
    while !String::from_utf8_lossy(&got).contains(want) && t0.elapsed() < DEADLINE {
        let mut buf = [0u8; 4096];
        match std::io::Read::read(s, &mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn out_of_descriptors_tend_survives_reports_and_recovers() {
    let sup = Sup::start(
        "[steady]\nrun = /bin/sh -c 'exec sleep 100000'\n\
         [cycler]\nrun = /bin/sh -c 'echo run; sleep 1.1; exit 1'\n",
    );
    sup.wait_for("cycler up", || sup.pid_of("cycler"));
    // No descriptor left to open: not the pipes of a restart, not a client
    // connection but through tend's spare. The soft limit only: raising it
    // back needs no privilege.
    prlimit(sup.pid, &format!("--nofile={}:", first_free_fd(sup.pid)));
    // Each `tend status` here comes in through the spare descriptor.
    sup.wait_until("the cycler's restart failing with EMFILE", || {
        sup.svc("cycler")["last_exit"]["start_error"]["errno"] == "EMFILE"
    });
    assert_eq!(
        sup.state("cycler"),
        "backoff",
        "a temporary error is retried"
    );
    // A follower holds the spare; the next client waits in the listen
    // backlog, and tend must not spin meanwhile.
    let mut follower = UnixStream::connect(&sup.socket).unwrap();
    follower.write_all(b"log -f cycler\n").unwrap();
    let seen = read_until(&mut follower, "run");
    assert!(seen.contains("run"), "the follower's log: {seen:?}");
    let mut waiting = UnixStream::connect(&sup.socket).unwrap();
    waiting.write_all(b"status\n").unwrap();
    let (t0, cpu0) = (Instant::now(), cpu_s(sup.pid));
    std::thread::sleep(Duration::from_millis(1000)); // the window measured
    let spin = (cpu_s(sup.pid) - cpu0) / t0.elapsed().as_secs_f64() * 100.0;
    assert!(alive(sup.pid));
    waiting.set_nonblocking(true).unwrap();
    let early = std::io::Read::read(&mut waiting, &mut [0u8; 64]);
    assert!(
        early
            .as_ref()
            .is_err_and(|e| e.kind() == ErrorKind::WouldBlock),
        "no descriptor was free, yet the waiting client got {early:?}"
    );
    waiting.set_nonblocking(false).unwrap();
    // The follower leaves: its descriptor frees, and the waiting client
    // gets its answer though the limit is still as low.
    drop(follower);
    let reply = read_until(&mut waiting, "steady");
    assert!(
        reply.contains("steady"),
        "the waiting client's reply: {reply:?}"
    );
    let told = sup.run(&["log", "tend"]).stdout;
    assert!(
        told.contains("control socket: EMFILE"),
        "tend's log: {told}"
    );
    lift_soft_limit(sup.pid, "nofile", "Max open files");
    let t1 = Instant::now();
    sup.wait_until("the cycler back up", || sup.state("cycler") == "up");
    let recovered = t1.elapsed();
    let s = sup.svc("cycler");
    assert!(s["restarts"].as_u64().unwrap() >= 1, "{s}");
    assert_eq!(sup.state("steady"), "up");
    println!(
        "out of fds: tend CPU while a client waited {spin:.1} %, back {:.0} ms after the limit rose",
        recovered.as_secs_f64() * 1000.0
    );
    assert!(
        spin < 20.0,
        "tend spun at {spin:.1} % while out of descriptors"
    );
}

#[test]
fn out_of_processes_tend_survives_reports_and_recovers() {
    // RLIMIT_NPROC binds a service's user (root, tend's, is exempt): with a
    // limit of 0 the service cannot fork, and crash-loops under backoff
    // until the limit is lifted.
    let sup = Sup::start(
        "[steady]\nrun = /bin/sh -c 'exec sleep 100000'\n\
         [cycler]\nuser = nobody\nrun = /bin/sh -c 'echo run; sleep 1.1; exit 1'\n",
    );
    sup.wait_for("cycler up", || sup.pid_of("cycler"));
    prlimit(sup.pid, "--nproc=0:");
    sup.wait_until("the cycler failing to fork, in backoff", || {
        let s = sup.svc("cycler");
        s["state"] == "backoff"
            && (s["last_exit"]["start_error"]["errno"] == "EAGAIN"
                || s["last_crash"]["lines"]
                    .as_str()
                    .is_some_and(|l| l.contains("fork")))
    });
    assert_eq!(sup.state("steady"), "up");
    assert!(alive(sup.pid));
    lift_soft_limit(sup.pid, "nproc", "Max processes");
    let t1 = Instant::now();
    sup.wait_until("the cycler running its whole course again", || {
        sup.log_text("cycler")
            .iter()
            .filter(|l| *l == "run")
            .count()
            >= 2
            && sup.state("cycler") == "up"
            && sup.svc("cycler")["uptime_ms"].as_u64().unwrap_or(0) >= 200
    });
    println!(
        "out of processes (RLIMIT_NPROC 0 for the service's user): it backed off, back {:.0} ms after the limit rose",
        t1.elapsed().as_secs_f64() * 1000.0
    );
}

#[test]
fn hostile_clients_are_bounded_and_never_stall_the_loop() {
    let n: usize = scale(200, 1000);
    // The test itself needs a descriptor per connection.
    prlimit(std::process::id() as i32, "--nofile=4096:4096");
    let sup = Sup::start(
        "[big]\nrun = /bin/sh -c 'yes a-long-enough-line-for-the-ring-to-fill | head -c 300000; exec sleep 100000'\nlog = 256k\n\
         [cycler]\nrun = /bin/sh -c 'sleep 1.1; exit 1'\n",
    );
    sup.wait_until("big's ring full", || {
        sup.svc("big")["log"]["written"] == 300000
    });
    let base_fds = fd_count(sup.pid);
    let restarts0 = sup.svc("cycler")["restarts"].as_u64().unwrap();
    let mut conns = Vec::new();
    let t0 = Instant::now();
    for i in 0..n {
        let Ok(mut s) = UnixStream::connect(&sup.socket) else {
            continue; // a full backlog refuses: that is bounded too
        };
        s.set_nonblocking(true).unwrap();
        let _ = match i % 4 {
            0 => s.write_all(b"\x00\xff garbage \x01\x02\n"),
            1 => s.write_all(b"status bi"),  // half a request
            2 => s.write_all(b"log big\n"),  // and never read the reply
            _ => s.write_all(&[b'x'; 4000]), // an over-long request
        };
        conns.push(s);
    }
    let connect = t0.elapsed();
    let mut latencies = Vec::new();
    let mut max_fds = 0;
    let until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < until {
        latencies.push(timed_status(&sup, "big"));
        max_fds = max_fds.max(fd_count(sup.pid));
    }
    sup.wait_until("the cycler restarting meanwhile", || {
        sup.svc("cycler")["restarts"].as_u64().unwrap() > restarts0
    });
    let p = percentiles(latencies);
    drop(conns);
    wait_until(DEADLINE, "tend's descriptors back to normal", || {
        fd_count(sup.pid) <= base_fds
    });
    println!(
        "hostile clients: {n} connections in {:.0} ms; tend's fds {base_fds} -> at most {max_fds}; {}",
        connect.as_secs_f64() * 1000.0,
        show("status beside them", p)
    );
    // Client slots are bounded (limits::MAX_CLIENTS); one more for a
    // connection being refused.
    assert!(max_fds <= base_fds + 8 + 1, "{max_fds} fds");
    assert!(p[2] < 1000.0, "{}", show("status", p));
}

#[test]
fn services_ignoring_sigterm_are_killed_and_shutdown_completes() {
    let n = scale(8, 32);
    let mut table = String::new();
    for i in 0..n {
        table.push_str(&format!(
            "[stubborn{i}]\nrun = /bin/sh -c 'trap \"\" TERM; while :; do sleep 0.05; done'\nstop-timeout = 500ms\n"
        ));
    }
    let mut sup = Sup::start(&table);
    let pids: Vec<i32> = (0..n)
        .map(|i| sup.wait_for("stubborn up", || sup.pid_of(&format!("stubborn{i}"))))
        .collect();
    let t0 = Instant::now();
    let st = sup.terminate();
    let took = t0.elapsed();
    assert_eq!(st.code(), Some(0), "console:\n{}", sup.console());
    assert!(took >= Duration::from_millis(450), "{took:?}");
    for p in pids {
        assert!(!alive(p), "{p} survived");
    }
    println!(
        "shutdown: {n} services ignoring SIGTERM, stop-timeout 500 ms: tend exited 0 after {:.0} ms",
        took.as_secs_f64() * 1000.0
    );
}
