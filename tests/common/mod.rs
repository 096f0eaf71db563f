//! The harness of the process tests: the real static release binary of tend,
//! started as `tend supervise` on a table in a temp dir, driven and observed
//! through its own client commands. Every wait polls against a deadline.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long any one wait may take before the test fails: generous, so a
/// loaded machine does not flake; polls end as soon as the condition holds.
pub const DEADLINE: Duration = Duration::from_secs(10);
/// Between two polls.
pub const POLL: Duration = Duration::from_millis(15);

pub const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;

extern "C" {
    #[link_name = "kill"]
    fn c_kill(pid: i32, sig: i32) -> i32;
    #[link_name = "dup2"]
    fn c_dup2(old: i32, new: i32) -> i32;
    #[link_name = "geteuid"]
    fn c_geteuid() -> u32;
}

/// True when the tests run as root (geteuid(2)).
pub fn is_root() -> bool {
    // SAFETY: geteuid(2) takes nothing and touches no memory of ours.
    unsafe { c_geteuid() == 0 }
}

/// kill(2); true when the signal was sent.
pub fn kill(pid: i32, sig: i32) -> bool {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    unsafe { c_kill(pid, sig) == 0 }
}

/// dup2(2), for `pre_exec` closures (async-signal-safe).
pub fn dup2(old: i32, new: i32) -> std::io::Result<()> {
    // SAFETY: dup2(2) takes plain integers and touches no memory of ours.
    if unsafe { c_dup2(old, new) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The release binary every process test runs: `$TEND_BIN`, or
/// target/release/tend, built once per test process.
pub fn tend_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("TEND_BIN") {
            return PathBuf::from(bin);
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .args(["build", "--release", "--bin", "tend"])
            // The binary with listen whenever the tests have it (reload is
            // a default feature).
            .args(if cfg!(feature = "listen") {
                &["--features", "listen"][..]
            } else {
                &[]
            })
            .current_dir(root)
            .output()
            .expect("run cargo build --release");
        assert!(
            out.status.success(),
            "cargo build --release --bin tend failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        root.join("target/release/tend")
    })
    .clone()
}

/// A fresh directory under the system's temp dir, removed on drop (kept,
/// and named on stderr, when the test failed).
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        loop {
            let n = SEQ.fetch_add(1, Ordering::Relaxed);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let path = std::env::temp_dir()
                .join(format!("tend-test.{}.{n}.{nanos:x}", std::process::id()));
            match fs::create_dir(&path) {
                Ok(()) => return TempDir(path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("create {}: {e}", path.display()),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("kept {} for a look", self.0.display());
        } else {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// What a command did.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

fn code_of(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Runs `cmd` to its end, its output captured; fails the test when it takes
/// longer than `timeout`.
pub fn run_cmd(mut cmd: Command, timeout: Duration) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let t_out = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t_err = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {timeout:?}");
        }
        thread::sleep(Duration::from_millis(2));
    };
    let stdout = String::from_utf8_lossy(&t_out.join().expect("stdout reader")).into_owned();
    let stderr = String::from_utf8_lossy(&t_err.join().expect("stderr reader")).into_owned();
    Output {
        code: code_of(status),
        stdout,
        stderr,
    }
}

/// Polls `f` every POLL until it holds or `timeout` passes; returns whether
/// it held.
pub fn poll_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        thread::sleep(POLL);
    }
}

/// Polls `f` until it gives a value or `timeout` passes.
pub fn poll_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        thread::sleep(POLL);
    }
}

/// Waits for `f` to hold; panics with `what` when the deadline passes.
pub fn wait_until(timeout: Duration, what: &str, f: impl FnMut() -> bool) {
    assert!(
        poll_until(timeout, f),
        "timed out after {timeout:?} waiting for {what}"
    );
}

/// Waits for `f` to give a value; panics with `what` when the deadline passes.
pub fn wait_for<T>(timeout: Duration, what: &str, f: impl FnMut() -> Option<T>) -> T {
    poll_for(timeout, f).unwrap_or_else(|| panic!("timed out after {timeout:?} waiting for {what}"))
}

/// A line of `tend log` split into its stamp (ms since boot) and its text.
pub fn parse_stamped(line: &str) -> Option<(u64, &str)> {
    let rest = line.strip_prefix('[')?;
    let (stamp, text) = rest.split_once("] ")?;
    let (secs, ms) = stamp.trim_start().split_once('.')?;
    if ms.len() != 3 {
        return None;
    }
    let secs: u64 = secs.parse().ok()?;
    let ms: u64 = ms.parse().ok()?;
    Some((secs * 1000 + ms, text))
}

/// One process's /proc/PID/stat: (state, ppid, pgrp).
pub fn proc_stat(pid: i32) -> Option<(char, i32, i32)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 2..];
    let mut f = after.split(' ');
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    let pgrp = f.next()?.parse().ok()?;
    Some((state, ppid, pgrp))
}

/// Every process on the system: pid -> (state, ppid, pgrp).
pub fn all_procs() -> HashMap<i32, (char, i32, i32)> {
    let mut map = HashMap::new();
    if let Ok(dir) = fs::read_dir("/proc") {
        for e in dir.flatten() {
            if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) {
                if let Some(st) = proc_stat(pid) {
                    map.insert(pid, st);
                }
            }
        }
    }
    map
}

/// Every descendant of `root` (not `root` itself).
pub fn descendants(root: i32) -> Vec<(i32, (char, i32, i32))> {
    let procs = all_procs();
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for (&pid, &st) in &procs {
            if st.1 == p {
                out.push((pid, st));
                frontier.push(pid);
            }
        }
    }
    out
}

/// The process no longer runs tend's binary: a child of tend has exec'd
/// (or is gone, which tells the same to anyone who looks at its pid).
pub fn execd(pid: i32) -> bool {
    static TEND: OnceLock<Option<PathBuf>> = OnceLock::new();
    let tend = TEND.get_or_init(|| fs::canonicalize(tend_bin()).ok());
    match fs::read_link(format!("/proc/{pid}/exe")) {
        Ok(exe) => Some(&exe) != tend.as_ref(),
        Err(_) => true,
    }
}

/// A live process (a zombie counts as gone).
pub fn alive(pid: i32) -> bool {
    proc_stat(pid).is_some_and(|(state, _, _)| state != 'Z')
}

/// A running `tend supervise` on a table of its own, in a temp dir.
pub struct Sup {
    pub dir: TempDir,
    pub child: Child,
    pub pid: i32,
    pub socket: PathBuf,
    exited: Option<ExitStatus>,
}

impl Sup {
    /// Starts tend on `table` (every `DIR` in it replaced by the temp dir)
    /// and waits until it answers `status`.
    pub fn start(table: &str) -> Sup {
        Sup::start_with(table, |_, _| {})
    }

    /// As `start`, with `setup` seeing the temp dir and the command before it
    /// runs (extra files, descriptors, environment).
    pub fn start_with(table: &str, setup: impl FnOnce(&Path, &mut Command)) -> Sup {
        Sup::start_under(&[], table, setup)
    }

    /// As `start_with`, with tend run by `wrapper` (a program and its
    /// arguments, tend's command line after them): `pid` is then the
    /// wrapper's, [`Sup::tend_pid`] tend's.
    pub fn start_under(
        wrapper: &[&str],
        table: &str,
        setup: impl FnOnce(&Path, &mut Command),
    ) -> Sup {
        let dir = TempDir::new();
        // Services may run as other users: let them reach the directory.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod tempdir");
        let conf = dir.path().join("tend.conf");
        let text = table.replace("DIR", dir.path().to_str().expect("utf-8 tempdir"));
        fs::write(&conf, text).expect("write tend.conf");
        let socket = dir.path().join("tend.sock");
        let mut cmd = match wrapper {
            [] => Command::new(tend_bin()),
            [program, args @ ..] => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg(tend_bin());
                cmd
            }
        };
        cmd.arg("supervise")
            .arg("-c")
            .arg(&conf)
            .env("TEND_SOCKET", &socket)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(fs::File::create(dir.path().join("stdout")).expect("stdout file"))
            .stderr(fs::File::create(dir.path().join("console")).expect("console file"));
        setup(dir.path(), &mut cmd);
        let child = cmd.spawn().expect("spawn tend supervise");
        let pid = child.id() as i32;
        let mut sup = Sup {
            dir,
            child,
            pid,
            socket,
            exited: None,
        };
        let answered = poll_until(DEADLINE, || {
            if let Some(st) = sup.child.try_wait().expect("try_wait") {
                sup.exited = Some(st);
                return true;
            }
            matches!(sup.run(&["status"]).code, 0 | 3)
        });
        assert!(
            answered && sup.exited.is_none(),
            "tend did not come up (exit {:?}); console:\n{}",
            sup.exited,
            sup.console()
        );
        sup
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// tend's own pid when a wrapper runs it ([`Sup::start_under`]).
    pub fn wrapped_tend(&self) -> i32 {
        let bin = fs::canonicalize(tend_bin()).expect("tend binary");
        descendants(self.pid)
            .into_iter()
            .map(|(pid, _)| pid)
            .find(|&pid| fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|e| e == bin))
            .expect("tend under its wrapper")
    }

    /// A client command against this supervisor.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(tend_bin());
        cmd.args(args).env("TEND_SOCKET", &self.socket);
        cmd
    }

    /// Runs `tend ARGS…` as a client of this supervisor.
    pub fn run(&self, args: &[&str]) -> Output {
        run_cmd(self.command(args), DEADLINE)
    }

    /// Runs `tend ARGS…` and insists it exits 0.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert_eq!(
            out.code,
            0,
            "tend {args:?}: {out:?}\nconsole:\n{}",
            self.console()
        );
        out
    }

    /// tend's stderr so far.
    pub fn console(&self) -> String {
        fs::read_to_string(self.path("console")).unwrap_or_default()
    }

    /// `tend status --json`, parsed.
    pub fn json(&self) -> Value {
        let out = self.run(&["status", "--json"]);
        assert!(matches!(out.code, 0 | 3), "status --json: {out:?}");
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("status --json is not JSON ({e}): {}", out.stdout))
    }

    /// One service's object in `tend status --json`.
    pub fn svc(&self, name: &str) -> Value {
        let doc = self.json();
        doc["services"]
            .as_array()
            .expect("services array")
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {doc}"))
            .clone()
    }

    pub fn state(&self, name: &str) -> String {
        self.svc(name)["state"].as_str().expect("state").to_string()
    }

    /// The service's pid while it runs, once its exec happened. (tend
    /// shows the pid from the fork on, while the service is `starting`;
    /// until its exec the process is a copy of tend still setting itself
    /// up: its user, group, descriptors and process group not yet the
    /// service's.)
    pub fn pid_of(&self, name: &str) -> Option<i32> {
        let pid = self.svc(name)["pid"].as_i64().map(|p| p as i32)?;
        execd(pid).then_some(pid)
    }

    /// Waits until the service is in `state`; returns its JSON object.
    pub fn wait_state(&self, name: &str, state: &str) -> Value {
        self.wait_for(&format!("{name} to be {state}"), || {
            let s = self.svc(name);
            (s["state"] == state).then_some(s)
        })
    }

    /// `tend log NAME` as (stamp, text) lines.
    pub fn log(&self, name: &str) -> Vec<(u64, String)> {
        let out = self.ok(&["log", name]);
        out.stdout
            .lines()
            .map(|l| {
                let (ms, text) =
                    parse_stamped(l).unwrap_or_else(|| panic!("unstamped log line {l:?}"));
                (ms, text.to_string())
            })
            .collect()
    }

    /// The texts of `tend log NAME`.
    pub fn log_text(&self, name: &str) -> Vec<String> {
        self.log(name).into_iter().map(|(_, t)| t).collect()
    }

    /// The row of service `name` in the human `tend status`.
    pub fn row(&self, name: &str) -> String {
        let out = self.run(&["status"]);
        out.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name} in:\n{}", out.stdout))
            .to_string()
    }

    fn failure(&self, what: &str) -> String {
        let status = self.run(&["status"]);
        format!(
            "timed out after {DEADLINE:?} waiting for {what}\nstatus:\n{}{}\nconsole:\n{}",
            status.stdout,
            status.stderr,
            self.console()
        )
    }

    /// Waits for `f`; panics with tend's status and console at the deadline.
    pub fn wait_until(&self, what: &str, f: impl FnMut() -> bool) {
        if !poll_until(DEADLINE, f) {
            panic!("{}", self.failure(what));
        }
    }

    /// Waits for `f` to give a value; panics as `wait_until`.
    pub fn wait_for<T>(&self, what: &str, f: impl FnMut() -> Option<T>) -> T {
        match poll_for(DEADLINE, f) {
            Some(v) => v,
            None => panic!("{}", self.failure(what)),
        }
    }

    /// SIGTERMs tend and waits for it to exit; returns how it exited.
    pub fn terminate(&mut self) -> ExitStatus {
        if let Some(st) = self.exited {
            return st;
        }
        kill(self.pid, SIGTERM);
        let st = poll_for(DEADLINE, || self.child.try_wait().expect("try_wait"));
        let st = match st {
            Some(st) => st,
            None => {
                let _ = self.child.kill();
                let st = self.child.wait().expect("wait");
                self.exited = Some(st);
                panic!(
                    "tend did not exit within {DEADLINE:?} of SIGTERM; console:\n{}",
                    self.console()
                );
            }
        };
        self.exited = Some(st);
        st
    }
}

impl Drop for Sup {
    fn drop(&mut self) {
        if self.exited.is_some() {
            return;
        }
        // The process groups of what tend runs, to clean up after a tend that
        // does not stop them (tend's own group is the test's: not that one).
        let own = proc_stat(self.pid).map(|s| s.2);
        let groups: Vec<i32> = descendants(self.pid)
            .into_iter()
            .map(|(_, st)| st.2)
            .filter(|&g| g > 1 && Some(g) != own)
            .collect();
        kill(self.pid, SIGTERM);
        let done = poll_until(DEADLINE, || matches!(self.child.try_wait(), Ok(Some(_))));
        if !done {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.exited = Some(ExitStatus::default());
        for g in groups {
            kill(-g, SIGKILL);
        }
    }
}

extern "C" {
    fn sysconf(name: i32) -> i64;
}

/// CPU seconds (user + system) a process has used.
pub fn cpu_s(pid: i32) -> f64 {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = text[text.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    // SAFETY: sysconf(_SC_CLK_TCK) reads a constant.
    let hz = unsafe { sysconf(2) } as f64;
    ticks as f64 / hz
}

/// Runs `prlimit` on `pid`.
pub fn prlimit(pid: i32, arg: &str) {
    let st = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), arg])
        .status()
        .unwrap();
    assert!(st.success(), "prlimit {arg}");
}

/// Raises a process's soft limit `flag` (prlimit's name) back to its hard
/// limit, `what` in /proc/PID/limits. Lowering only the soft limit and
/// raising it back needs no privilege (CAP_SYS_RESOURCE may be missing).
pub fn lift_soft_limit(pid: i32, flag: &str, what: &str) {
    let text = fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = text.lines().find(|l| l.starts_with(what)).unwrap();
    let hard = line[what.len()..].split_whitespace().nth(1).unwrap();
    prlimit(pid, &format!("--{flag}={hard}:"));
}

/// The lowest descriptor number a process has free: with its soft
/// RLIMIT_NOFILE set to that, it can open nothing more, whatever high
/// numbers it inherited.
pub fn first_free_fd(pid: i32) -> usize {
    let used: std::collections::BTreeSet<usize> = fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .collect();
    (0..).find(|n| !used.contains(n)).unwrap()
}
