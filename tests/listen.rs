//! Sockets handed to services (tend(8), SOCKETS): `listen` with and
//! without `accept`, the UCSPI environment, the instance cap, restarts
//! that refuse no connection, a port in use, a flood, and who gets the
//! socket. Only in a tend built with the `listen` feature (tend(8), BUILD
//! PROFILES).
#![cfg(feature = "listen")]

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::*;

/// A port nobody listens on now (the kernel's pick, let go).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Connects to `port` as soon as something listens there.
fn connect(sup: &Sup, port: u16) -> TcpStream {
    sup.wait_for(&format!("a listener on {port}"), || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    })
}

/// Everything the peer sends until it closes, with a deadline.
fn read_all(mut s: impl Read) -> String {
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read the reply");
    out
}

fn tcp_reply(sup: &Sup, port: u16) -> String {
    let s = connect(sup, port);
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    read_all(s)
}

/// The kinds of descriptor a process holds (`socket:[…]`, paths…).
fn fds(pid: i32) -> Vec<String> {
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    dir.filter_map(|e| fs::read_link(e.ok()?.path()).ok())
        .map(|l| l.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn accept_gives_each_connection_the_ucspi_environment() {
    let port = free_port();
    let sup = Sup::start(&format!(
        "[tcp]\nlisten = tcp:127.0.0.1:{port}\naccept = yes\n\
         run = /bin/sh -c 'echo \"$PROTO $TCPREMOTEIP $TCPREMOTEPORT $TCPLOCALIP $TCPLOCALPORT\"; echo to-the-ring >&2'\n\
         [unix]\nlisten = unix:DIR/u.sock\naccept = yes\n\
         run = /bin/sh -c 'echo \"$PROTO $UNIXREMOTEPID $UNIXREMOTEEUID $UNIXREMOTEEGID\"'\n"
    ));
    let s = sup.wait_state("tcp", "up");
    assert_eq!(s["pid"], serde_json::Value::Null, "no process of its own");
    let conn = connect(&sup, port);
    let mine = conn.local_addr().unwrap().port();
    conn.set_read_timeout(Some(DEADLINE)).unwrap();
    assert_eq!(
        read_all(conn),
        format!("TCP 127.0.0.1 {mine} 127.0.0.1 {port}\n")
    );
    sup.wait_until("stderr in the ring", || {
        sup.log_text("tcp") == ["to-the-ring"]
    });
    sup.wait_state("unix", "up");
    let u = UnixStream::connect(sup.path("u.sock")).unwrap();
    u.set_read_timeout(Some(DEADLINE)).unwrap();
    let (euid, egid) = (own_ids().0, own_ids().1);
    assert_eq!(
        read_all(u),
        format!("UNIX {} {euid} {egid}\n", std::process::id())
    );
    // Served, and no instance left.
    sup.wait_until("instances reaped", || {
        let s = sup.svc("tcp");
        s["instances"] == 0 && s["served"] == 1
    });
    let out = sup.ok(&["status", "tcp"]);
    assert!(
        out.stdout.contains("instances: 0 running, 1 served"),
        "{}",
        out.stdout
    );
    let row = sup.row("tcp");
    assert_eq!(row.split_whitespace().nth(2), Some("-"), "{row}");
}

/// This process's effective uid and gid, from /proc.
fn own_ids() -> (u32, u32) {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> u32 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(2).unwrap().parse().unwrap()
    };
    (field("Uid:"), field("Gid:"))
}

#[test]
fn past_its_instances_a_connection_waits_until_one_ends() {
    let port = free_port();
    let sup = Sup::start(&format!(
        "[echo]\nlisten = tcp:127.0.0.1:{port}\naccept = yes\ninstances = 2\n\
         run = /bin/sh -c 'read line; echo \"got $line\"'\n"
    ));
    sup.wait_state("echo", "up");
    let mut first = connect(&sup, port);
    let mut second = connect(&sup, port);
    sup.wait_until("two instances", || sup.svc("echo")["instances"] == 2);
    // The third is in the backlog: accepted by the kernel, not by tend.
    let mut third = connect(&sup, port);
    third.write_all(b"three\n").unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(third.read(&mut buf).is_err(), "served past the cap");
    let s = sup.svc("echo");
    assert_eq!(
        (s["instances"].as_u64(), s["served"].as_u64()),
        (Some(2), Some(2))
    );
    // One ends: the third is served.
    first.write_all(b"one\n").unwrap();
    first.set_read_timeout(Some(DEADLINE)).unwrap();
    assert_eq!(read_all(&mut first), "got one\n");
    third.set_read_timeout(Some(DEADLINE)).unwrap();
    assert_eq!(read_all(&mut third), "got three\n");
    second.write_all(b"two\n").unwrap();
    second.set_read_timeout(Some(DEADLINE)).unwrap();
    assert_eq!(read_all(&mut second), "got two\n");
    sup.wait_until("all reaped", || sup.svc("echo")["instances"] == 0);
    assert_eq!(sup.svc("echo")["served"], 3);
    // Instances are not restarted, and the service stays up.
    assert_eq!(sup.svc("echo")["restarts"], 0);
    assert_eq!(sup.state("echo"), "up");
}

#[test]
fn without_accept_the_socket_is_fd_3_with_the_listen_variables() {
    let port = free_port();
    let sup = Sup::start(&format!(
        "[d]\nlisten = tcp:127.0.0.1:{port}\n\
         run = /bin/sh -c 'echo \"$LISTEN_FDS $LISTEN_PID $$ $LISTEN_FDNAMES\"; exec sleep 1000'\n\
         [other]\nrun = /bin/sh -c 'exec sleep 1000'\n"
    ));
    let pid = sup.wait_for("d up", || sup.pid_of("d"));
    sup.wait_until("its line", || !sup.log_text("d").is_empty());
    assert_eq!(sup.log_text("d"), [format!("1 {pid} {pid} d")]);
    let fd3 = fs::read_link(format!("/proc/{pid}/fd/3")).unwrap();
    assert!(fd3.to_string_lossy().starts_with("socket:"), "{fd3:?}");
    // Blocking, as a daemon that accepts on it expects.
    let flags = fs::read_to_string(format!("/proc/{pid}/fdinfo/3")).unwrap();
    let flags = flags.lines().find(|l| l.starts_with("flags:")).unwrap();
    let flags = u32::from_str_radix(flags.split_whitespace().nth(1).unwrap(), 8).unwrap();
    assert_eq!(flags & 0o4000, 0, "O_NONBLOCK on fd 3");
    // Security: no other service holds it (nor any socket).
    let other = sup.wait_for("other up", || sup.pid_of("other"));
    let held = fds(other);
    assert!(
        !held.iter().any(|l| l.starts_with("socket:")),
        "other holds {held:?}"
    );
}

#[test]
fn a_daemon_that_exits_after_each_connection_refuses_none() {
    let port = free_port();
    // Ready once it runs (so restarted at once), one connection, then out.
    let sup = Sup::start(&format!(
        "[one]\nlisten = tcp:127.0.0.1:{port}\nready = fd:4\n\
         run = /usr/bin/python3 -c 'import os,socket; os.write(4,b\"\\n\"); \
         s=socket.socket(fileno=3); c,_=s.accept(); c.sendall(b\"hi\\n\"); c.close()'\n"
    ));
    sup.wait_state("one", "ready");
    for i in 0..20 {
        let s = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("connection {i} refused: {e}"));
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        assert_eq!(read_all(s), "hi\n", "connection {i}");
    }
    sup.wait_until("20 restarts", || {
        sup.svc("one")["restarts"].as_u64() >= Some(20)
    });
}

#[test]
fn a_port_in_use_is_retried_until_it_is_free() {
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let sup = Sup::start(&format!(
        "[web]\nlisten = tcp:127.0.0.1:{port}\naccept = yes\nrun = /bin/echo hi\n"
    ));
    let s = sup.wait_state("web", "backoff");
    assert_eq!(s["last_exit"]["start_error"]["step"], "bind");
    assert_eq!(s["last_exit"]["start_error"]["errno"], "EADDRINUSE");
    let row = sup.row("web");
    assert!(row.contains("bind: EADDRINUSE"), "{row}");
    assert!(sup.console().contains("web: backoff, bind: address in use"));
    drop(held);
    sup.wait_state("web", "up");
    assert_eq!(tcp_reply(&sup, port), "hi\n");
    // Stopped, the socket is closed; started, bound again.
    sup.ok(&["stop", "web"]);
    sup.wait_state("web", "down");
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    sup.ok(&["start", "web"]);
    sup.wait_state("web", "up");
    assert_eq!(tcp_reply(&sup, port), "hi\n");
}

#[test]
fn a_flood_keeps_tends_descriptors_bounded_and_status_answering() {
    let port = free_port();
    let sup = Sup::start(&format!(
        "[web]\nlisten = tcp:127.0.0.1:{port}\naccept = yes\nrun = /bin/echo hi\n"
    ));
    sup.wait_state("web", "up");
    let before = fds(sup.pid).len();
    let clients: Vec<_> = (0..10)
        .map(|_| {
            std::thread::spawn(move || {
                let mut ok = 0;
                for _ in 0..100 {
                    if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
                        s.set_read_timeout(Some(DEADLINE)).unwrap();
                        ok += usize::from(read_all(s) == "hi\n");
                    }
                }
                ok
            })
        })
        .collect();
    let mut most = before;
    while !clients.iter().all(|c| c.is_finished()) {
        most = most.max(fds(sup.pid).len());
        let s = sup.svc("web");
        assert!(s["instances"].as_u64() <= Some(8), "{s}");
    }
    let served: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(served, 1000);
    sup.wait_until("all reaped", || sup.svc("web")["instances"] == 0);
    assert_eq!(sup.svc("web")["served"], 1000);
    // At most a connection and a pipe more for a moment, and the client.
    assert!(most <= before + 4, "{before} descriptors, then {most}");
}

#[test]
fn an_instance_running_as_nobody_cannot_reach_the_control_socket() {
    let port = free_port();
    let sup = Sup::start(&format!(
        "[web]\nlisten = tcp:127.0.0.1:{port}\naccept = yes\nuser = nobody\n\
         env = TEND_SOCKET=DIR/tend.sock\n\
         run = /bin/sh -c 'id -u; {tend} status; echo status=$?'\n",
        tend = tend_bin().display()
    ));
    sup.wait_state("web", "up");
    let out = tcp_reply(&sup, port);
    assert!(out.starts_with("65534\n"), "{out}");
    assert!(out.ends_with("status=1\n"), "{out}");
    sup.wait_until("its refusal in the ring", || {
        sup.log_text("web")
            .iter()
            .any(|l| l.contains("permission denied"))
    });
}

#[test]
fn check_refuses_bad_addresses_accept_without_a_stream_and_what_cannot_be() {
    let dir = TempDir::new();
    let conf = dir.path().join("t.conf");
    fs::write(
        &conf,
        "[a]\nrun = x\nlisten = tcp:1.2.3:80\n\
         [b]\nrun = x\nlisten = udp:0.0.0.0:514\naccept = yes\n\
         [c]\nrun = x\naccept = yes\ninstances = 0\n\
         [d]\nrun = x\nlisten = unix:relative\n\
         [e]\nrun = x\nlisten = tcp:[::]:22\naccept = yes\ninstances = 64\n\
         [f]\nrun = x\ntype = oneshot\nlisten = tcp:0.0.0.0:81\naccept = yes\n\
         [g]\nrun = x\nlisten = tcp:0.0.0.0:82\naccept = yes\nready = fd:4\n\
         [h]\nrun = x\nlisten = tcp:0.0.0.0:83\nready = fd:3\n",
    )
    .unwrap();
    let out = run_cmd(
        {
            let mut c = std::process::Command::new(tend_bin());
            c.arg("check").arg(&conf);
            c
        },
        DEADLINE,
    );
    assert_eq!(out.code, 1, "{out:?}");
    let c = conf.display();
    let want = [
        format!("{c}:3: listen: expected tcp:ADDR:PORT, udp:ADDR:PORT or unix:/PATH, not \"tcp:1.2.3:80\""),
        format!("{c}:7: accept: needs a listen on tcp or unix"),
        format!("{c}:11: instances: from 1 to 64"),
        format!("{c}:10: accept: needs a listen on tcp or unix"),
        format!("{c}:14: listen: expected tcp:ADDR:PORT, udp:ADDR:PORT or unix:/PATH, not \"unix:relative\""),
        format!("{c}:24: accept: not with type = oneshot, nor with ready"),
        format!("{c}:28: accept: not with type = oneshot, nor with ready"),
        format!("{c}:33: ready: fd:3 is the listening socket"),
    ];
    let got: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(got, want, "{}", out.stderr);
}

#[test]
fn out_of_descriptors_a_connection_waits_and_tend_does_not_spin() {
    let port = free_port();
    let sup = Sup::start(&format!(
        "[web]\nrun = /bin/echo hi\nlisten = tcp:127.0.0.1:{port}\naccept = yes\n"
    ));
    sup.wait_state("web", "up");
    assert_eq!(tcp_reply(&sup, port), "hi\n");
    // tend can open nothing more: accept(2) fails with EMFILE.
    prlimit(sup.pid, &format!("--nofile={}:", first_free_fd(sup.pid)));
    let cpu = cpu_s(sup.pid);
    let mut waiting = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    // The connection waits in the backlog: nothing comes for a second...
    waiting
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(
        waiting.read(&mut byte).is_err(),
        "served while tend had no descriptor"
    );
    // ...and tend rests its socket rather than poll it in a loop.
    let spent = cpu_s(sup.pid) - cpu;
    assert!(spent < 0.3, "tend used {spent:.2} s of CPU in that second");
    lift_soft_limit(sup.pid, "nofile", "Max open files");
    waiting.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut rest = String::new();
    waiting.read_to_string(&mut rest).expect("read the reply");
    assert_eq!(rest, "hi\n", "served once tend has descriptors again");
}

#[test]
fn signal_reaches_the_instances_of_an_accept_service() {
    let port = free_port();
    let sup = Sup::start(&format!(
        "[slow]\nrun = /bin/sleep 100\nlisten = tcp:127.0.0.1:{port}\naccept = yes\n"
    ));
    sup.wait_state("slow", "up");
    let conn = connect(&sup, port);
    sup.wait_until("an instance runs", || sup.svc("slow")["instances"] == 1);
    sup.ok(&["signal", "slow", "TERM"]);
    sup.wait_until("the instance ended", || sup.svc("slow")["instances"] == 0);
    conn.set_read_timeout(Some(DEADLINE)).unwrap();
    assert_eq!(read_all(conn), "", "the connection closed with it");
    assert_eq!(sup.state("slow"), "up", "the service itself still listens");
}
