//! tend as PID 1, on the host: each test runs the real binary as the init
//! of fresh PID, mount and UTS namespaces (`unshare`), with /etc replaced by
//! a copy that holds the test's table, and a pseudo-terminal as its console.
//! reboot(2) from a namespace's init ends that namespace (SIGHUP for a
//! reboot, SIGINT for poweroff and halt), so the whole shutdown sequence runs
//! for real. The QEMU boot tests (tests/boot) cover the same on real kernels.

mod common;

use std::ffi::CStr;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use common::*;

extern "C" {
    fn posix_openpt(flags: i32) -> i32;
    fn grantpt(fd: i32) -> i32;
    fn unlockpt(fd: i32) -> i32;
    fn ptsname_r(fd: i32, buf: *mut std::ffi::c_char, len: usize) -> i32;
}

/// A pseudo-terminal: the master end, and the path of the slave.
///
/// The tests run in parallel threads, so this uses `ptsname_r`: `ptsname`
/// returns a static buffer, and a test that read another's slave name once
/// saw its own console stay empty. The master is close-on-exec so it does not
/// leak into the other test's namespace.
fn open_pty() -> (File, PathBuf) {
    const O_RDWR: i32 = 2;
    const O_NOCTTY: i32 = 0o400;
    const O_CLOEXEC: i32 = 0o2000000;
    let mut name = [0 as std::ffi::c_char; 128];
    // SAFETY: plain libc calls on a descriptor we own; ptsname_r writes a
    // NUL-terminated name into our own buffer of the length we pass.
    unsafe {
        let fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        assert!(fd >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        assert_eq!(grantpt(fd), 0);
        assert_eq!(unlockpt(fd), 0);
        assert_eq!(ptsname_r(fd, name.as_mut_ptr(), name.len()), 0);
        let name = CStr::from_ptr(name.as_ptr()).to_string_lossy().into_owned();
        (File::from(OwnedFd::from_raw_fd(fd)), PathBuf::from(name))
    }
}

struct Init {
    dir: PathBuf,
    /// The control socket's path inside tend's namespaces.
    socket: String,
    child: Child,
    console: Arc<Mutex<String>>,
    pty: File,
}

impl Init {
    /// Boots tend as the init of new namespaces with `table` as
    /// /etc/tend.conf.
    fn boot(name: &str, table: &str) -> Init {
        Self::boot_with(name, table, &[])
    }

    /// Boots tend as above, with `args` after its name, as the kernel gives
    /// init the words after `--` on its command line.
    fn boot_with(name: &str, table: &str, args: &[&str]) -> Init {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("pid1-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let etc = dir.join("etc");
        let status = Command::new("cp")
            .args(["-a", "/etc"])
            .arg(&etc)
            .status()
            .unwrap();
        assert!(status.success(), "copy /etc");
        fs::write(etc.join("tend.conf"), table).unwrap();
        fs::write(etc.join("hostname"), "tend-pid1-test\n").unwrap();
        fs::write(
            etc.join("tend-other.conf"),
            "[other]\nrun = /bin/sleep 1000\n",
        )
        .unwrap();
        let (pty, slave) = open_pty();
        let tty = || File::options().read(true).write(true).open(&slave).unwrap();
        let script = format!(
            "mount --bind {} /etc && exec {} {}",
            etc.display(),
            tend_bin().display(),
            args.join(" ")
        );
        let child = Command::new("unshare")
            .args([
                "--pid",
                "--fork",
                "--mount",
                "--uts",
                "--propagation",
                "private",
                "sh",
                "-c",
                &script,
            ])
            .env("TEND_SOCKET", Self::socket_in_ns(name))
            .stdin(Stdio::from(tty()))
            .stdout(Stdio::from(tty()))
            .stderr(Stdio::from(tty()))
            .spawn()
            .expect("unshare");
        let console = Arc::new(Mutex::new(String::new()));
        let (mut reader, sink) = (pty.try_clone().unwrap(), console.clone());
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Init {
            dir,
            socket: Self::socket_in_ns(name),
            child,
            console,
            pty,
        }
    }

    /// The control socket as tend sees it. Not under the test's directory:
    /// that may be under /tmp, which tend (as PID 1) covers with a tmpfs.
    fn socket_in_ns(name: &str) -> String {
        format!("/run/tend-pid1-{name}-{}.sock", std::process::id())
    }

    /// tend's pid, as the host sees it: the child of `unshare`.
    fn tend_pid(&self) -> i32 {
        let parent = self.child.id() as i32;
        wait_for(DEADLINE, "tend's pid", || {
            descendants(parent)
                .into_iter()
                .find(|(_, (_, ppid, _))| *ppid == parent)
                .map(|(p, _)| p)
        })
    }

    fn console(&self) -> String {
        self.console.lock().unwrap().clone()
    }

    fn expect(&self, what: &str) {
        let ok = poll_until(DEADLINE, || self.console().contains(what));
        assert!(
            ok,
            "console never showed {what:?}; it shows:\n{}",
            self.console()
        );
    }

    fn tend(&self, args: &[&str]) -> Output {
        // The socket is reached through tend's own view of the file system.
        let socket = format!("/proc/{}/root{}", self.tend_pid(), self.socket);
        let mut cmd = Command::new(tend_bin());
        cmd.args(args).env("TEND_SOCKET", socket);
        run_cmd(cmd, DEADLINE)
    }

    fn type_line(&mut self, line: &str) {
        self.pty.write_all(line.as_bytes()).unwrap();
        self.pty.write_all(b"\n").unwrap();
    }

    /// Waits for the namespace's init to end; returns the signal it ended by.
    fn ended_by(&mut self) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.signal();
            }
            assert!(
                start.elapsed() < DEADLINE,
                "init did not end; console:\n{}",
                self.console()
            );
            thread::sleep(POLL);
        }
    }
}

impl Drop for Init {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

const SIGHUP: i32 = 1;
const SIGINT: i32 = 2;

#[test]
fn poweroff_stops_services_in_order_then_ends_the_system() {
    let mut init = Init::boot(
        "poweroff",
        "[base]\nrun = /bin/sh -c 'hostname; echo base up; exec sleep 1000'\n\n\
         [top]\nrun = /bin/sh -c 'trap \"echo top stopping; exit 0\" TERM; while :; do sleep 0.05; done'\nafter = base\n\n\
         [stray]\ntype = oneshot\nrun = /bin/sh -c '(trap \"\" TERM; exec sleep 1000) & echo spawned'\n",
    );
    wait_until(DEADLINE, "both daemons up", || {
        let out = init.tend(&["status", "base", "top"]);
        out.code == 0
    });
    // PID 1's own set-up: the hostname (in its UTS namespace) and /tmp.
    init.expect("tend: supervising 3 services from /etc/tend.conf");
    assert!(
        init.tend(&["log", "base"])
            .stdout
            .contains("tend-pid1-test"),
        "hostname from /etc/hostname"
    );
    let out = init.tend(&["poweroff"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        init.ended_by(),
        Some(SIGINT),
        "poweroff ends a PID namespace with SIGINT"
    );
    let console = init.console();
    let at = |s: &str| {
        console
            .find(s)
            .unwrap_or_else(|| panic!("no {s:?} in:\n{console}"))
    };
    assert!(
        at("top: down") < at("base: stopping"),
        "top stops before base:\n{console}"
    );
    // The stray process ignores SIGTERM: only the final SIGKILL ends it.
    assert!(
        at("sending SIGTERM to every process") < at("sending SIGKILL to every process; power off")
    );
}

#[test]
fn a_broken_table_gives_the_rescue_shell_and_reboot_by_signal_works() {
    let mut init = Init::boot(
        "rescue",
        "[svc]\nrun = /bin/true\ncolour = blue\nafter = nobody\n",
    );
    init.expect("/etc/tend.conf:3: unknown key \"colour\"");
    init.expect("/etc/tend.conf:4:");
    init.expect("starting the rescue shell");
    init.type_line("echo rescue-$((6*7))");
    init.expect("rescue-42");
    let status = init.tend(&["status"]);
    assert!(status.stdout.contains("rescue"), "{status:?}");
    // What scrolled past on the console is in tend's own log as well.
    let log = init.tend(&["log", "tend"]);
    for line in [
        "] /etc/tend.conf:3: unknown key \"colour\"",
        "] /etc/tend.conf: not started: ",
        "] starting the rescue shell instead",
    ] {
        assert!(log.stdout.contains(line), "no {line:?} in {log:?}");
    }
    // SIGTERM to PID 1 means reboot (BusyBox's `reboot`).
    let pid = init.tend_pid();
    assert!(kill(pid, SIGTERM));
    assert_eq!(
        init.ended_by(),
        Some(SIGHUP),
        "reboot ends a PID namespace with SIGHUP"
    );
    init.expect("sending SIGKILL to every process; reboot");
}

#[test]
fn supervise_dash_c_is_honoured_as_pid1_and_other_arguments_are_passed_over() {
    let table = "[default]\nrun = /bin/sleep 1000\n";
    let init = Init::boot_with(
        "dash-c",
        table,
        &["supervise", "-c", "/etc/tend-other.conf"],
    );
    init.expect("supervising 1 service from /etc/tend-other.conf");
    let status = init.tend(&["status"]);
    assert!(
        status.stdout.contains("other") && !status.stdout.contains("default"),
        "{status:?}"
    );
    drop(init);
    // The kernel hands init the words of its command line it does not know.
    let init = Init::boot_with("args", table, &["single", "-c"]);
    init.expect("tend: as PID 1, ignoring arguments: single -c");
    init.expect("supervising 1 service from /etc/tend.conf");
    let status = init.tend(&["status"]);
    assert!(status.stdout.contains("default"), "{status:?}");
}
