//! Who may do what through tend, and what a service gets: the control
//! socket's ownership and its path, every verb refused to another user, a
//! service running as another user unable to control its neighbours, and a
//! service's credentials and capabilities. (The environment, working
//! directory, uid/gid/groups and descriptors a service gets are checked in
//! tests/supervise.rs; the basic refusal in tests/control.rs.)

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::process::Command;

use common::*;

const NOBODY: u32 = 65534;

fn as_nobody(sup: &Sup, args: &[&str]) -> Output {
    let mut cmd = sup.command(args);
    cmd.uid(NOBODY).gid(NOBODY);
    run_cmd(cmd, DEADLINE)
}

#[test]
fn every_verb_is_refused_to_another_user_and_changes_nothing() {
    let sup = Sup::start(
        "[svc]\nrun = /bin/sh -c 'echo secret-line; exec sleep 1000'\n\
         [other]\nrun = /bin/sh -c 'exec sleep 1000'\n",
    );
    let pid = sup.wait_for("svc up", || sup.pid_of("svc"));
    sup.wait_until("svc's line", || sup.log_text("svc") == ["secret-line"]);
    let meta = fs::metadata(&sup.socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.mode() & 0o777, 0o600, "socket mode");
    assert_eq!((meta.uid(), meta.gid()), (0, 0), "socket owner");
    let verbs: &[&[&str]] = &[
        &["status"],
        &["status", "--json"],
        &["log", "svc"],
        &["log", "tend"],
        &["start", "svc"],
        &["stop", "svc"],
        &["restart", "svc"],
        &["signal", "svc", "KILL"],
        #[cfg(feature = "reload")]
        &["reload"],
        &["halt"],
        &["poweroff"],
        &["reboot"],
    ];
    // Through the file mode first, then with the socket opened to everyone:
    // then tend itself refuses by the peer's credentials.
    for open in [false, true] {
        if open {
            fs::set_permissions(&sup.socket, fs::Permissions::from_mode(0o666)).unwrap();
        }
        for args in verbs {
            let out = as_nobody(&sup, args);
            assert_eq!(out.code, 1, "{args:?} (socket open: {open}): {out:?}");
            assert_eq!(out.stdout, "", "{args:?}: nothing leaks to stdout");
            assert!(!out.stderr.contains("secret-line"), "{args:?}: {out:?}");
            let why = if open {
                "tend: refused: only root and uid 0 may control this supervisor"
            } else {
                "permission denied"
            };
            assert!(out.stderr.contains(why), "{args:?}: {out:?}");
        }
    }
    assert_eq!(sup.pid_of("svc"), Some(pid), "svc untouched");
    assert_eq!(sup.svc("svc")["restarts"], 0);
    assert_eq!(sup.state("other"), "up");
    assert!(alive(sup.pid), "tend still runs");
}

#[test]
fn a_service_running_as_another_user_cannot_control_tend() {
    // The attacker knows where the socket is and has a tend binary.
    let table = format!(
        "[victim]\nrun = /bin/sh -c 'exec sleep 1000'\n\
         [attacker]\ntype = oneshot\nuser = nobody\nenv = TEND_SOCKET=DIR/tend.sock\n\
         run = /bin/sh -c '{tend} stop victim; echo stop=$?; {tend} signal victim KILL; echo signal=$?; {tend} status; echo status=$?'\n",
        tend = tend_bin().display()
    );
    let sup = Sup::start(&table);
    let pid = sup.wait_for("victim up", || sup.pid_of("victim"));
    let s = sup.wait_state("attacker", "done");
    assert_eq!(s["last_exit"]["code"], 0);
    let log = sup.log_text("attacker");
    for want in ["stop=1", "signal=1", "status=1"] {
        assert!(log.iter().any(|l| l == want), "{want} in {log:?}");
    }
    assert!(
        log.iter().any(|l| l.contains("permission denied")),
        "{log:?}"
    );
    assert_eq!(sup.pid_of("victim"), Some(pid));
    assert_eq!(sup.state("victim"), "up");
}

#[test]
fn a_service_dropped_to_a_user_keeps_no_capabilities() {
    let sup = Sup::start(
        "[nob]\nrun = /bin/sh -c 'exec sleep 1000'\nuser = nobody\n\
         [root]\nrun = /bin/sh -c 'exec sleep 1000'\n",
    );
    let caps = |pid: i32| -> Vec<(String, u64)> {
        fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("Cap"))
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap();
                (k.to_string(), u64::from_str_radix(v.trim(), 16).unwrap())
            })
            .collect()
    };
    let nob = sup.wait_for("nob up", || sup.pid_of("nob"));
    for (k, v) in caps(nob) {
        if k != "CapBnd" {
            assert_eq!(v, 0, "{k} of a service running as nobody");
        }
    }
    // A root service keeps root's capabilities; each service leads its own
    // process group, so a signal to a group never reaches tend.
    let root = sup.wait_for("root up", || sup.pid_of("root"));
    assert!(caps(root).iter().any(|(k, v)| k == "CapEff" && *v != 0));
    for pid in [nob, root] {
        let (_, _, pgrp) = proc_stat(pid).unwrap();
        assert_eq!(pgrp, pid, "each service leads its own process group");
        assert_ne!(pgrp, sup.pid);
    }
}

#[test]
fn a_symlink_at_the_socket_path_is_replaced_not_followed() {
    let dir = TempDir::new();
    let victim = dir.path().join("victim");
    fs::write(&victim, "precious\n").unwrap();
    let socket = dir.path().join("tend.sock");
    std::os::unix::fs::symlink(&victim, &socket).unwrap();
    let conf = dir.path().join("tend.conf");
    fs::write(&conf, "[svc]\nrun = /bin/sh -c 'exec sleep 1000'\n").unwrap();
    let mut child = Command::new(tend_bin())
        .args(["supervise", "-c"])
        .arg(&conf)
        .env("TEND_SOCKET", &socket)
        .stderr(fs::File::create(dir.path().join("console")).unwrap())
        .spawn()
        .unwrap();
    let status = || {
        let mut cmd = Command::new(tend_bin());
        cmd.arg("status").env("TEND_SOCKET", &socket);
        run_cmd(cmd, DEADLINE)
    };
    wait_until(DEADLINE, "tend answers", || status().code == 0);
    let meta = fs::symlink_metadata(&socket).unwrap();
    assert!(meta.file_type().is_socket(), "the link became a socket");
    assert_eq!(meta.mode() & 0o777, 0o600);
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    assert_eq!(fs::metadata(&victim).unwrap().mode() & 0o777, 0o644);

    // A second tend on the same socket refuses to start, and the first
    // keeps its socket.
    let mut second = Command::new(tend_bin());
    second
        .args(["supervise", "-c"])
        .arg(&conf)
        .env("TEND_SOCKET", &socket);
    let out = run_cmd(second, DEADLINE);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("already running"), "{out:?}");
    assert_eq!(status().code, 0, "the first tend still answers");
    kill(child.id() as i32, SIGTERM);
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(0));
    assert!(!socket.exists(), "tend removes its socket when it exits");
}
