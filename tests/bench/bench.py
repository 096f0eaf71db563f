#!/usr/bin/env python3
"""tend against the supervisors a router would otherwise run, in one run.

Stacks, each with one logger per service as it intends:
  tend         tend supervise; the logs are its in-memory rings
  runit        Debian's runsvdir/runsv, svlogd per service
  busybox      BusyBox's runsvdir/runsv/svlogd, built static by tests/bench/peers
  s6           Debian's s6-svscan/s6-supervise, s6-log per service
  daemontools  Debian's svscan/supervise, multilog per service

Every stack runs the same daemon (tests/bench/daemon.c, static), the way it
starts things: tend execs it from its table, the peers through a `run`
script (`#!/bin/sh` + exec), as their documentation shows. Each stack runs in
a fresh tmpfs, which also holds the peers' log files.

Scenarios (a median over --reps repetitions, min-max beside it; the stacks
take turns within each repetition, in a rotating order):
  memory    supervisors + loggers (not the daemons) with 1, 8, 32, 64
            services that each wrote 8 KiB (tend's 4 KiB rings have all
            wrapped): RSS, PSS, USS, page tables, processes; and the RAM the
            peers' log files take on tmpfs
  restart   a service runs 2.1 s then exits 1: its exit to its next start
  crash     a service that exits 1 at once: starts in the first 10 s and 60 s
  log       one service writes 50 MiB of 64-byte lines, one write per line:
            wall time, CPU of the tree, CPU per MiB, bytes kept and lost
  syslog    one sender sends 50 MiB of 64-byte syslog datagrams (as BusyBox
            logger does) to a unix datagram socket: tend filing them into
            the service's ring (`[tend] syslog`), against BusyBox syslogd
            with its circular buffer (`syslogd -n -C16`, as logread reads
            it), each keeping 16 KiB. CPU per MiB of the filer alone (tend's
            process, from its start; syslogd's, from its socket bound), not
            the sender's; every message checked as filed (tend's ring
            `written`; the bytes syslogd read, and logread's last line)
  accept    a TCP server that runs one instance of a program per connection
            (`daemon reply`: it writes one line, its client's port, and
            exits), 8 at most at once, on 127.0.0.1: tend (built with the
            listen feature: `listen = tcp:...`, `accept = yes`,
            `instances = 8`) against tcpserver (Debian's ucspi-tcp, in the
            daemontools column: `-c 8 -b 64 -H -R -l 0`, no DNS and no ident
            look-up, as tend and tcpsvd do neither) and BusyBox tcpsvd (in
            the busybox column: `-c 8 -b 64`); 64 is tend's backlog. A client
            (tests/bench/client.c, static, one thread) opens 20000
            connections, 8 at a time, each read to its end, after 200 of
            warm-up: connections per second, p50 and p99 from connect to the
            reply's end; the server process's own RSS and USS after the load
            (not its instances'), its CPU per 1000 connections, and that of
            the server with its instances (the children it reaped). Every
            reply checked (the client: its own port, then the close; tend:
            its `served` count)
  idle      context switches of the tree over 30 s with 8 idle services
  startup   launch to all 32 daemons exec'd; again with two CPU-bound busy
            loops running beside the stack (a router at boot)
  size      the files each stack needs (static, or with its shared libraries)

The syslog scenario has two filers, tend and BusyBox syslogd (in the busybox
column); syslogd binds /dev/log, compiled in, and follows it when it is a
symlink, so it runs in a mount namespace of its own (`unshare -m`) with a
tmpfs on /dev whose /dev/log points into its run's tmpfs; and in an IPC
namespace of its own (`-i`), for its shared memory's fixed key.

The accept scenario has three servers: tend, tcpsvd in the busybox column,
tcpserver in the daemontools column (ucspi-tcp is daemontools' sibling,
from the same author); its rows say so.

The crash and idle scenarios of the stacks run side by side (they count
events, not time); the others one stack at a time.

Usage: tests/bench/run [--quick] [--reps N] [--only SCENARIO,...] [--json FILE]
"""

import argparse
import ctypes
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CACHE = os.environ.get("TEND_BENCH_CACHE", "/var/cache/tend-bench")
TEND = os.path.join(ROOT, "target/x86_64-unknown-linux-musl/release/tend")
CLIENT = os.path.join(CACHE, "client")
DAEMON = os.path.join(CACHE, "daemon")
BUSYBOX = os.path.join(CACHE, "busybox")
BBDIR = os.path.join(CACHE, "bb")
PAGE = os.sysconf("SC_PAGE_SIZE")
STACKS = ["tend", "runit", "busybox", "s6", "daemontools"]
PEERS = STACKS[1:]
# The syslog scenario: each filer's buffer (tend's ring for the service;
# BusyBox syslogd's circular buffer, its default size), and the sender's
# socket path in a service's arguments, replaced by the run's.
SYSLOG_KIB = 16
SYSLOG_SOCK = "<syslog>"
# The accept scenario: instances at once (tend's default; the peers' -c),
# the backlog (tend's; the peers' -b), the client's connections at once,
# and its warm-up connections.
ACCEPT_INSTANCES = 8
ACCEPT_BACKLOG = 64
ACCEPT_CONC = 8
ACCEPT_WARM = 200


def now_ns():
    return time.monotonic_ns()


def wait_for(what, deadline_s, fn, step=0.02):
    """Polls fn until it returns something true; fails after deadline_s."""
    end = time.monotonic() + deadline_s
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(step)


# --- /proc -------------------------------------------------------------------


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def stat_fields(pid):
    s = read(f"/proc/{pid}/stat")
    if not s:
        return None
    # comm may hold blanks: split after its closing parenthesis.
    return s[s.rindex(")") + 2 :].split()


def parents():
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            f = stat_fields(int(d))
            if f:
                out[int(d)] = int(f[1])
    return out


def descendants(root):
    ppid = parents()
    kids = {}
    for p, pp in ppid.items():
        kids.setdefault(pp, []).append(p)
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        if p in ppid or p == root:
            out.append(p)
        todo.extend(kids.get(p, []))
    return out


def exe(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


def daemons(root):
    return [p for p in descendants(root) if exe(p) == DAEMON]


def tree(root):
    """The supervision tree: the stack's processes but its daemons."""
    return [p for p in descendants(root) if exe(p) not in (DAEMON, "")]


def memory(pids):
    m = {"rss": 0, "pss": 0, "uss": 0, "pte": 0, "procs": 0}
    for p in pids:
        smaps = read(f"/proc/{p}/smaps_rollup")
        status = read(f"/proc/{p}/status")
        if not smaps or not status:
            continue
        kb = {}
        for line in smaps.splitlines()[1:] + status.splitlines():
            k, _, v = line.partition(":")
            v = v.split()
            if v and v[0].isdigit():
                kb[k] = int(v[0])
        m["rss"] += kb.get("Rss", 0)
        m["pss"] += kb.get("Pss", 0)
        m["uss"] += kb.get("Private_Clean", 0) + kb.get("Private_Dirty", 0)
        m["pte"] += kb.get("VmPTE", 0)
        m["procs"] += 1
    return m  # KiB, and a count


def cpu_s(pids):
    """CPU time the processes have used, in seconds (ns resolution, from
    /proc/PID/schedstat; clock ticks are too coarse for a logger)."""
    t = 0
    for p in pids:
        f = read(f"/proc/{p}/schedstat").split()
        if f:
            t += int(f[0])
    return t / 1e9


def switches(pids):
    n = 0
    for p in pids:
        for line in read(f"/proc/{p}/status").splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                n += int(line.split()[1])
    return n


def settle(root, quiet_s=0.3, deadline_s=30):
    """Waits until the tree has used no CPU for quiet_s."""
    end = time.monotonic() + deadline_s
    last, since = cpu_s(tree(root)), time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.05)
        c = cpu_s(tree(root))
        if c != last:
            last, since = c, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
    raise TimeoutError("the tree never went quiet")


def tmpfs_bytes(path):
    """RAM that the files under path take on tmpfs (allocated blocks)."""
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(d, f)).st_blocks * 512
            except OSError:
                pass
    return total


# --- stacks ------------------------------------------------------------------


class Run:
    """One stack running a set of services in its own tmpfs."""

    def __init__(self, stack, services, syslog=False, accept=False):
        """With syslog, the stack is a syslog filer: tend with `[tend]
        syslog` (and SYSLOG_KIB rings), or for busybox its syslogd, whose
        senders the caller starts (Run.sender). With accept, the stack is a
        TCP server on 127.0.0.1:self.port running its one service per
        connection: tend (`accept = yes`), or BusyBox tcpsvd for busybox,
        tcpserver for daemontools."""
        self.stack, self.services, self.syslog, self.accept = stack, services, syslog, accept
        self.dir = tempfile.mkdtemp(prefix=f"tend-bench-{stack}-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512m", "bench", self.dir], check=True)
        self.stamps = os.path.join(self.dir, "stamps")
        os.mkdir(self.stamps)
        self.logs = os.path.join(self.dir, "logs")
        os.mkdir(self.logs)
        self.socket = os.path.join(self.dir, "tend.sock")
        self.syslog_path = os.path.join(self.dir, "log")
        self.proc = None
        if accept:
            self.port = free_port()
        if accept and stack == "busybox":
            self._setup_tcpsvd()
        elif accept and stack == "daemontools":
            self._setup_tcpserver()
        elif syslog and stack == "busybox":
            self._setup_syslogd()
        else:
            getattr(self, "_setup_" + ("runit" if stack == "busybox" else stack))()

    def argv(self, name):
        return [DAEMON] + [self.syslog_path if a == SYSLOG_SOCK else a.replace("@", os.path.join(self.stamps, name))
                           for a in self.services[name]]

    def _setup_tend(self):
        lines = []
        if self.syslog:
            lines.append(f"[tend]\nsyslog = {self.syslog_path}\n\n")
        for name in self.services:
            more = f"log = {SYSLOG_KIB}k\n" if self.syslog else ""
            if self.accept:
                more += (f"listen = tcp:127.0.0.1:{self.port}\naccept = yes\n"
                         f"instances = {ACCEPT_INSTANCES}\n")
            lines.append(f"[{name}]\nrun = {' '.join(self.argv(name))}\n{more}\n")
        table = os.path.join(self.dir, "tend.conf")
        with open(table, "w") as f:
            f.write("".join(lines))
        self.cmd = [TEND, "supervise", "-c", table]

    def _servicedirs(self, logger):
        svc = os.path.join(self.dir, "svc")
        for name in self.services:
            d = os.path.join(svc, name)
            os.makedirs(os.path.join(d, "log"))
            os.mkdir(os.path.join(self.logs, name))
            script(os.path.join(d, "run"), "exec " + " ".join(self.argv(name)))
            script(os.path.join(d, "log", "run"), "exec " + logger(os.path.join(self.logs, name)))
        return svc

    def _setup_runit(self):
        svc = self._servicedirs(lambda d: f"svlogd -tt {d}")
        if self.stack == "busybox":
            self.cmd = [os.path.join(BBDIR, "runsvdir"), svc]
            self.path = BBDIR + ":/usr/bin:/bin"
        else:
            self.cmd = ["/usr/bin/runsvdir", svc]

    def _setup_syslogd(self):
        # Its own /dev (a tmpfs, private to the namespace: the machine's /dev
        # is never touched) where /dev/log points at this run's socket path,
        # and its own IPC namespace; it execs syslogd, so self.pid is it.
        sh = ('mount -t tmpfs -o size=64k,mode=755 bench-dev /dev && ln -s "$1" /dev/log'
              ' && mknod -m 666 /dev/null c 1 3 && exec "$2" syslogd -n -C"$3"')
        self.cmd = ["unshare", "-m", "--propagation", "private", "-i", "sh", "-c", sh, "sh",
                    self.syslog_path, BUSYBOX, str(SYSLOG_KIB)]
        self.senders = []

    def _setup_tcpsvd(self):
        (name,) = self.services
        self.cmd = [os.path.join(BBDIR, "tcpsvd"), "-c", str(ACCEPT_INSTANCES), "-b", str(ACCEPT_BACKLOG),
                    "127.0.0.1", str(self.port)] + self.argv(name)

    def _setup_tcpserver(self):
        # -H -R -l 0: no DNS look-up of either end, no ident query of the
        # client (tend and tcpsvd do neither); -q: no error messages.
        (name,) = self.services
        self.cmd = ["/usr/bin/tcpserver", "-q", "-H", "-R", "-l", "0", "-c", str(ACCEPT_INSTANCES),
                    "-b", str(ACCEPT_BACKLOG), "127.0.0.1", str(self.port)] + self.argv(name)

    def listening(self):
        """The server's socket listens (/proc/net/tcp: 127.0.0.1:port in
        state LISTEN), seen without connecting."""
        want = f"0100007F:{self.port:04X}"
        return any(f[1] == want and f[3] == "0A"
                   for f in (line.split() for line in read("/proc/net/tcp").splitlines()[1:]))

    def sender(self, name):
        """Starts the service `name` beside syslogd (it has no supervisor)."""
        p = subprocess.Popen(self.argv(name), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        self.senders.append(p)
        return p

    def logread(self):
        """logread's output, in syslogd's IPC namespace."""
        return subprocess.run(["nsenter", "-t", str(self.pid), "-i", BUSYBOX, "logread"],
                              capture_output=True, text=True, timeout=30, check=True).stdout

    def _setup_s6(self):
        self.cmd = ["/usr/bin/s6-svscan", self._servicedirs(lambda d: f"s6-log t {d}")]

    def _setup_daemontools(self):
        self.cmd = ["/usr/bin/svscan", self._servicedirs(lambda d: f"multilog t {d}")]

    def start(self):
        env = {"PATH": getattr(self, "path", "/usr/bin:/bin"), "TEND_SOCKET": self.socket}
        self.t0 = now_ns()
        self.proc = subprocess.Popen(
            self.cmd, env=env, cwd=self.dir, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        return self

    @property
    def pid(self):
        return self.proc.pid

    def loggers_up(self):
        if self.stack == "tend":
            return True
        want = {"runit": "svlogd", "busybox": "svlogd", "s6": "s6-log", "daemontools": "multilog"}[self.stack]
        argv0 = [os.path.basename(read(f"/proc/{p}/cmdline").split("\0")[0]) for p in tree(self.pid)]
        return argv0.count(want) >= len(self.services)

    def up(self):
        return len(daemons(self.pid)) >= len(self.services) and self.loggers_up()

    def status(self):
        out = subprocess.run([TEND, "status", "--json"], env={"TEND_SOCKET": self.socket},
                             capture_output=True, text=True, timeout=10)
        return {s["name"]: s for s in json.loads(out.stdout)["services"]}

    def stamp_lines(self, name):
        out = []
        for line in read(os.path.join(self.stamps, name)).splitlines():
            what, ns, _ = line.split()
            out.append((what, int(ns)))
        return out

    def log_lines(self, name):
        """Lines a peer's logger kept for name (current and rotated files)."""
        d = os.path.join(self.logs, name)
        n = 0
        for f in os.listdir(d):
            if f == "current" or f.startswith("@"):
                with open(os.path.join(d, f), "rb") as fh:
                    n += fh.read().count(b"\n")
        return n

    def stop(self):
        for p in getattr(self, "senders", []):
            p.kill()
            p.wait()
        if self.proc:
            kill_tree(self.pid)
            self.proc.wait()
        subprocess.run(["umount", "-l", self.dir], check=False)
        os.rmdir(self.dir)


def free_port():
    """A TCP port of 127.0.0.1 free now (the kernel's pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def script(path, line):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + line + "\n")
    os.chmod(path, 0o755)


def kill_tree(root):
    """SIGKILLs root and everything under it, until nothing is left."""
    for _ in range(100):
        pids = descendants(root)
        live = [p for p in pids if stat_fields(p) and stat_fields(p)[0] != "Z"]
        if not live:
            break
        for p in live:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
    reap()


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def running(stack, services):
    return Run(stack, services).start()


# --- scenarios ---------------------------------------------------------------


def s_memory(stack, n):
    services = {f"s{i:02}": ["chatty", "8192"] for i in range(n)}
    r = running(stack, services)
    try:
        wait_for(f"{stack}: {n} services up", 60, r.up)
        if stack == "tend":
            # Every ring has wrapped: each dropped some of its 8 KiB.
            wait_for("every ring wrapped", 60,
                     lambda: all(s["log"]["dropped"] > 0 for s in r.status().values()))
            ring_kib = sum(s["log"]["size"] for s in r.status().values()) / 1024
        else:
            wait_for("every log written", 60,
                     lambda: all(r.log_lines(name) >= 128 for name in services))
            ring_kib = 0
        settle(r.pid)
        m = memory(tree(r.pid))
        m["logs_ram"] = tmpfs_bytes(r.logs) / 1024 + ring_kib
        m["uss_less_logs"] = m["uss"] - ring_kib
        return m
    finally:
        r.stop()


def s_restart(stack, restarts):
    r = running(stack, {"svc": ["run", "@", "2100"]})
    try:
        wait_for(f"{stack}: {restarts} restarts", 10 + 3 * restarts,
                 lambda: sum(1 for w, _ in r.stamp_lines("svc") if w == "start") > restarts, 0.1)
        st = r.stamp_lines("svc")
        gaps = [(b[1] - a[1]) / 1e6 for a, b in zip(st, st[1:]) if a[0] == "exit" and b[0] == "start"]
        return {"restart_ms": statistics.median(gaps)}
    finally:
        r.stop()


def s_crash(seconds):
    """All stacks at once: each counts its own crash loop's starts."""
    runs = [running(s, {"svc": ["crash", "@"]}) for s in STACKS]
    try:
        first = {}
        end = time.monotonic() + seconds + 5
        while time.monotonic() < end:
            for r in runs:
                st = r.stamp_lines("svc")
                if st and r.stack not in first:
                    first[r.stack] = st[0][1]
            if len(first) == len(runs) and all(
                now_ns() - first[r.stack] > seconds * 1e9 + 2e8 for r in runs
            ):
                break
            time.sleep(0.1)
        out = {}
        for r in runs:
            starts = [ns for w, ns in r.stamp_lines("svc") if w == "start"]
            t = starts[0] if starts else 0
            out[r.stack] = {
                "crash_10s": sum(1 for ns in starts if ns - t <= 10e9) - 1,
                f"crash_{seconds}s": sum(1 for ns in starts if ns - t <= seconds * 1e9) - 1,
            }
        return out
    finally:
        for r in runs:
            r.stop()


def s_log(stack, mib):
    total = mib << 20
    r = running(stack, {"svc": ["flood", "@", str(total)]})
    try:
        wait_for(f"{stack}: flood done", 600,
                 lambda: any(w == "done" for w, _ in r.stamp_lines("svc")), 0.05)
        settle(r.pid)
        cpu = cpu_s(tree(r.pid))
        st = dict(r.stamp_lines("svc"))
        if stack == "tend":
            log = r.status()["svc"]["log"]
            kept, lost = log["kept"], log["dropped"]
            assert log["written"] == total, log
        else:
            kept = r.log_lines("svc") * 64
            lost = total - kept
        return {
            "log_wall_s": (st["done"] - st["start"]) / 1e9,
            "log_cpu_s": cpu,
            "log_cpu_ms_per_mib": cpu * 1000 / mib,
            "log_kept": kept,
            "log_lost": lost,
            "log_ram": tmpfs_bytes(r.logs) + (4096 if stack == "tend" else 0),
        }
    finally:
        r.stop()


def io_counters(pid):
    out = {}
    for line in read(f"/proc/{pid}/io").splitlines():
        k, _, v = line.partition(":")
        out[k] = int(v)
    return out


def s_syslog(stack, mib):
    """tend, or BusyBox syslogd for busybox, filing `mib` MiB of 64-byte
    syslog datagrams from one sender."""
    total = mib << 20
    n = -(-total // 64)
    r = Run(stack, {"svc": ["syslog", "@", SYSLOG_SOCK, str(total)]}, syslog=True)
    try:
        r.start()
        if stack == "tend":
            base_cpu = 0  # tend's whole life: its start is charged to it
        else:
            wait_for("syslogd: socket bound", 10, lambda: os.path.exists(r.syslog_path))
            settle(r.pid)
            base_cpu, base_io = cpu_s([r.pid]), io_counters(r.pid)
            r.sender("svc")
        wait_for(f"{stack}: syslog flood done", 600,
                 lambda: any(w == "done" for w, _ in r.stamp_lines("svc")), 0.05)
        settle(r.pid)
        cpu = cpu_s([r.pid]) - base_cpu
        st = dict(r.stamp_lines("svc"))
        if stack == "tend":
            # Each datagram is kept as `user.notice flood: line ...` and a
            # newline: 12 + 60 + 1 bytes.
            log = r.status()["svc"]["log"]
            assert log["written"] == n * 73, (log, n * 73)
            filed = log["written"] // 73
        else:
            # Every datagram read (read(2) counts its bytes in rchar; nothing
            # else syslogd reads meanwhile), the last one in the buffer.
            io = io_counters(r.pid)
            got = io["rchar"] - base_io["rchar"]
            assert got == total, (got, total)
            assert io["syscr"] - base_io["syscr"] == n, (io, base_io, n)
            last = r.logread().splitlines()[-1]
            assert f"user.notice flood: line {n - 1:012} " in last, last
            filed = n
        return {
            "syslog_wall_s": (st["done"] - st["start"]) / 1e9,
            "syslog_cpu_s": cpu,
            "syslog_cpu_ms_per_mib": cpu * 1000 / mib,
            "syslog_filed": filed,
        }
    finally:
        r.stop()


def client(port, total):
    """tests/bench/client.c: `total` connections to port, ACCEPT_CONC at a
    time, each reply checked; its figures (ns, and its conns)."""
    out = subprocess.run([CLIENT, str(port), str(total), str(ACCEPT_CONC)],
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"client on port {port}: {out.stderr.strip() or out.returncode}")
    f = {k: int(v) for k, v in (line.split() for line in out.stdout.splitlines())}
    assert f["conns"] == total, (f, total)
    return f


def children_cpu_s(pid):
    """CPU time of pid's children it has reaped (cutime + cstime), in s."""
    f = stat_fields(pid)
    return (int(f[13]) + int(f[14])) / os.sysconf("SC_CLK_TCK")


def s_accept(stack, total):
    """tend (`accept = yes`), BusyBox tcpsvd for busybox, or tcpserver for
    daemontools, serving `total` connections a one-line reply."""
    r = Run(stack, {"reply": ["reply"]}, accept=True)
    try:
        r.start()
        wait_for(f"{stack}: listening on {r.port}", 10, r.listening)

        def reaped():
            return descendants(r.pid) == [r.pid]

        client(r.port, ACCEPT_WARM)
        wait_for(f"{stack}: warm-up instances reaped", 10, reaped, 0.005)
        cpu0, kids0 = cpu_s([r.pid]), children_cpu_s(r.pid)
        c = client(r.port, total)
        wait_for(f"{stack}: instances reaped", 10, reaped, 0.005)
        cpu = cpu_s([r.pid]) - cpu0
        kids = children_cpu_s(r.pid) - kids0
        m = memory([r.pid])
        if stack == "tend":
            served = r.status()["reply"]["served"]
            assert served == ACCEPT_WARM + total, (served, ACCEPT_WARM + total)
        return {
            "accept_conn_per_s": total / (c["wall_ns"] / 1e9),
            "accept_p50_ms": c["p50_ns"] / 1e6,
            "accept_p99_ms": c["p99_ns"] / 1e6,
            "accept_max_ms": c["max_ns"] / 1e6,
            "accept_rss": m["rss"],
            "accept_uss": m["uss"],
            "accept_cpu_ms_per_1000": cpu * 1e6 / total,
            "accept_tree_cpu_ms_per_1000": (cpu + kids) * 1e6 / total,
            "accept_client_cpu_ms_per_1000": c["cpu_ns"] / total / 1e3,
        }
    finally:
        r.stop()


def s_idle(seconds):
    runs = [running(s, {f"s{i}": ["idle"] for i in range(8)}) for s in STACKS]
    try:
        for r in runs:
            wait_for(f"{r.stack}: 8 services up", 60, r.up)
        for r in runs:
            settle(r.pid, quiet_s=1.0)
        before = {r.stack: (switches(tree(r.pid)), tree(r.pid)) for r in runs}
        time.sleep(seconds)  # the measurement window itself
        out = {}
        for r in runs:
            n0, pids = before[r.stack]
            out[r.stack] = {"idle_switches": switches(pids) - n0, "idle_procs": len(pids)}
        return out
    finally:
        for r in runs:
            r.stop()


def s_startup(stack, n, busy=0):
    """Launch to `n` daemons exec'd; with `busy` CPU-bound loops running
    beside the stack from before its launch to the end."""
    loops = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(busy)]
    r = Run(stack, {f"s{i:02}": ["start", "@"] for i in range(n)})
    try:
        r.start()
        wait_for(f"{stack}: {n} daemons exec'd", 60,
                 lambda: len(os.listdir(r.stamps)) >= n, 0.005)
        last = max(ns for name in os.listdir(r.stamps) for w, ns in r.stamp_lines(name))
        key = "startup_load_ms" if busy else "startup_ms"
        return {key: (last - r.t0) / 1e6}
    finally:
        r.stop()
        for p in loops:
            p.kill()
            p.wait()


def files_of(paths):
    """The files paths need: themselves and their shared libraries."""
    out = set()
    for p in paths:
        out.add(os.path.realpath(p))
        ldd = subprocess.run(["ldd", p], capture_output=True, text=True).stdout
        for line in ldd.splitlines():
            parts = line.split()
            lib = parts[2] if "=>" in parts and len(parts) > 2 else (parts[0] if parts and parts[0].startswith("/") else None)
            if lib and os.path.exists(lib):
                out.add(os.path.realpath(lib))
    return out


def s_size():
    need = {
        "tend": [TEND],
        "runit": ["/usr/bin/runsvdir", "/usr/bin/runsv", "/usr/bin/svlogd"],
        "busybox": [BUSYBOX],
        "s6": ["/usr/bin/s6-svscan", "/usr/bin/s6-supervise", "/usr/bin/s6-log"],
        "daemontools": ["/usr/bin/svscan", "/usr/bin/supervise", "/usr/bin/multilog"],
    }
    out = {}
    for stack, paths in need.items():
        files = files_of(paths)
        out[stack] = {"size_bytes": sum(os.path.getsize(f) for f in files),
                      "size_files": sorted(files)}
    return out


# --- the run -----------------------------------------------------------------


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


ROWS = [
    # key, label, unit, lower is better
    ("mem64_uss_less_logs", "USS, 64 services, less tend's rings", "KiB"),
    ("mem64_logs_ram", "log RAM, 64 services (rings / tmpfs files)", "KiB"),
    ("mem64_uss", "USS, 64 services", "KiB"),
    ("mem64_pss", "PSS, 64 services", "KiB"),
    ("mem64_rss", "RSS, 64 services", "KiB"),
    ("mem64_pte", "page tables, 64 services", "KiB"),
    ("mem64_procs", "processes, 64 services", ""),
    ("mem32_uss", "USS, 32 services", "KiB"),
    ("mem8_uss", "USS, 8 services", "KiB"),
    ("mem1_uss", "USS, 1 service", "KiB"),
    ("mem1_rss", "RSS, 1 service", "KiB"),
    ("restart_ms", "restart latency (ran 2.1 s, exit 1)", "ms"),
    ("crash_10s", "crash loop: restarts in first 10 s", ""),
    ("crash_60s", "crash loop: restarts in first 60 s", ""),
    ("log_cpu_ms_per_mib", "log CPU per MiB", "ms"),
    ("log_wall_s", "log: wall time for 50 MiB", "s"),
    ("log_cpu_s", "log: CPU of the tree for 50 MiB", "s"),
    ("log_kept", "log: bytes kept", "B"),
    ("log_lost", "log: bytes lost", "B"),
    ("syslog_cpu_ms_per_mib", f"syslog CPU per MiB of the filer (busybox: syslogd -C{SYSLOG_KIB})", "ms"),
    ("syslog_cpu_s", "syslog: filer CPU for 50 MiB", "s"),
    ("syslog_wall_s", "syslog: sender's wall time for 50 MiB", "s"),
    ("syslog_filed", "syslog: messages filed", ""),
    ("accept_conn_per_s", "accept: connections/s, 1-line reply (busybox: tcpsvd; daemontools: tcpserver)", "/s"),
    ("accept_p50_ms", "accept: p50, connect to reply's end", "ms"),
    ("accept_p99_ms", "accept: p99, connect to reply's end", "ms"),
    ("accept_uss", "accept: USS of the server (not its instances)", "KiB"),
    ("accept_rss", "accept: RSS of the server (not its instances)", "KiB"),
    ("accept_cpu_ms_per_1000", "accept: server's CPU per 1000 connections", "ms"),
    ("accept_tree_cpu_ms_per_1000", "accept: CPU per 1000, server + instances", "ms"),
    ("idle_switches", "idle: context switches in 30 s, 8 services", ""),
    ("startup_ms", "start-up: launch to 32 daemons exec'd", "ms"),
    ("startup_load_ms", "start-up beside two busy loops", "ms"),
    ("size_bytes", "binaries and libraries needed", "B"),
]
# Rows where more is better: their best peer is the highest.
HIGHER_BETTER = {"accept_conn_per_s"}


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
    return f"{int(v)}"


def cell(s):
    if not s:
        return "-"
    if s["min"] == s["max"]:
        return fmt(s["median"])
    return f"{fmt(s['median'])} ({fmt(s['min'])}–{fmt(s['max'])})"


def ratio(a, b):
    if a is None or b is None:
        return "-"
    if b == 0:
        return "=" if a == 0 else "∞"
    return f"{a / b:.3g}"


def table(results):
    """One row per figure: each stack's median (min–max), then tend's ratio
    to each peer and to the best peer: the lowest (for crash counts the
    fewest restarts: each peer holds a crash loop to one start a second),
    but for HIGHER_BETTER rows the highest."""
    lines = []
    head = ["figure", "unit"] + STACKS + [f"tend/{p}" for p in PEERS] + ["tend/best"]
    lines.append(head)
    for key, label, unit in ROWS:
        sums = {s: results.get(s, {}).get(key) for s in STACKS}
        if not any(sums.values()):
            continue
        t = sums["tend"]["median"] if sums["tend"] else None
        peers = [sums[p]["median"] for p in PEERS if sums[p]]
        best = (max if key in HIGHER_BETTER else min)(peers) if peers else None
        row = [label, unit] + [cell(sums[s]) for s in STACKS]
        row += [ratio(t, sums[p]["median"] if sums[p] else None) for p in PEERS]
        row.append(ratio(t, best))
        lines.append(row)
    widths = [max(len(r[i]) for r in lines) for i in range(len(head))]
    out = []
    for i, r in enumerate(lines):
        out.append("| " + " | ".join(c.ljust(widths[j]) for j, c in enumerate(r)) + " |")
        if i == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 repetition, short durations (a smoke run)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", default="memory,restart,crash,log,syslog,accept,idle,startup,size")
    ap.add_argument("--json", default=os.path.join(ROOT, "target/bench.json"))
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: needs root (it mounts a tmpfs per run)")
    # Orphans of a stack land here, not on the machine's init, so kill_tree
    # and reap see everything.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    reps = 1 if a.quick else a.reps
    crash_s, idle_s, log_mib, restarts = (10, 5, 8, 2) if a.quick else (60, 30, 50, 3)
    accept_conns = 2000 if a.quick else 20000
    only = set(a.only.split(","))
    samples = {s: {} for s in STACKS}

    def add(stack, figures):
        for k, v in figures.items():
            samples[stack].setdefault(k, []).append(v)

    def say(*x):
        print(*x, file=sys.stderr, flush=True)

    for rep in range(reps):
        order = STACKS[rep % len(STACKS):] + STACKS[:rep % len(STACKS)]
        say(f"== repetition {rep + 1}/{reps}: order {' '.join(order)}")

        def each_stack(name, run, show, stacks=STACKS):
            """One stack after the other, in this repetition's order."""
            for s in (s for s in order if s in stacks):
                f = run(s)
                add(s, f)
                say(f"{name} {s:12} " + show.format(**f))

        def side_by_side(name, run):
            """Every stack at once (the scenario counts events)."""
            for s, f in run().items():
                add(s, f)
                say(f"{name} {s:12} {f}")

        for scenario in ("memory", "restart", "crash", "log", "syslog", "accept", "idle", "startup"):
            if scenario not in only:
                continue
            if scenario == "memory":
                for n in (1, 8, 32, 64):
                    each_stack(f"memory {n:2}",
                               lambda s: {f"mem{n}_{k}": v for k, v in s_memory(s, n).items()},
                               f"USS {{mem{n}_uss:6}} KiB  procs {{mem{n}_procs}}")
            elif scenario == "restart":
                each_stack("restart", lambda s: s_restart(s, restarts), "{restart_ms:.2f} ms")
            elif scenario == "crash":
                # The row is named for the full run's 60 s, whatever --quick uses.
                side_by_side("crash", lambda: {
                    s: {k.replace(f"_{crash_s}s", "_60s"): v for k, v in f.items()}
                    for s, f in s_crash(crash_s).items()})
            elif scenario == "log":
                each_stack("log", lambda s: s_log(s, log_mib),
                           "wall {log_wall_s:.2f} s  cpu {log_cpu_s:.2f} s  kept {log_kept}")
            elif scenario == "syslog":
                each_stack("syslog", lambda s: s_syslog(s, log_mib),
                           "wall {syslog_wall_s:.2f} s  cpu {syslog_cpu_s:.3f} s  "
                           "{syslog_cpu_ms_per_mib:.2f} ms/MiB  filed {syslog_filed}",
                           stacks=("tend", "busybox"))
            elif scenario == "accept":
                each_stack("accept", lambda s: s_accept(s, accept_conns),
                           "{accept_conn_per_s:6.0f}/s  p50 {accept_p50_ms:.2f} ms  "
                           "p99 {accept_p99_ms:.2f} ms  USS {accept_uss} KiB  RSS {accept_rss} KiB  "
                           "cpu {accept_cpu_ms_per_1000:.1f} ms/1000 (+instances "
                           "{accept_tree_cpu_ms_per_1000:.0f})",
                           stacks=("tend", "busybox", "daemontools"))
            elif scenario == "idle":
                side_by_side("idle", lambda: s_idle(idle_s))
            else:
                each_stack("startup", lambda s: s_startup(s, 32), "{startup_ms:.1f} ms")
                each_stack("startup+load", lambda s: s_startup(s, 32, busy=2),
                           "{startup_load_ms:.1f} ms")
    sizes = s_size() if "size" in only else {}
    results = {s: {k: summary(v) for k, v in samples[s].items()} for s in STACKS}
    for s, f in sizes.items():
        results[s]["size_bytes"] = summary([f["size_bytes"]])
    out = table(results)
    # The syslog scenario's figure: tend's CPU per MiB over BusyBox
    # syslogd's, of the medians and of each repetition (the goal is
    # at most 1/3).
    syslog_ratio = None
    t, b = (samples[s].get("syslog_cpu_ms_per_mib") for s in ("tend", "busybox"))
    if t and b:
        syslog_ratio = {"median": statistics.median(t) / statistics.median(b),
                        "per_rep": [x / y for x, y in zip(t, b)]}
    # The accept scenario's figures: tend's rate and USS over each peer's
    # (tcpsvd, tcpserver), of the medians and of each repetition (the
    # issue's goal: at least their rate, with a fraction of their memory).
    accept_ratio = {}
    for key in ("accept_conn_per_s", "accept_uss"):
        t = samples["tend"].get(key)
        for peer in ("busybox", "daemontools"):
            p = samples[peer].get(key)
            if t and p:
                accept_ratio[f"{key}/{peer}"] = {
                    "median": statistics.median(t) / statistics.median(p),
                    "per_rep": [x / y for x, y in zip(t, p)]}
    machine = {
        "cpu": next((l.split(":", 1)[1].strip() for l in read("/proc/cpuinfo").splitlines()
                     if l.startswith("model name")), "?"),
        "cores": os.cpu_count(),
        "kernel": os.uname().release,
        "reps": reps,
        "quick": a.quick,
        "durations": {"crash_s": crash_s, "idle_s": idle_s, "log_mib": log_mib,
                      "syslog_mib": log_mib, "syslog_buffer_kib": SYSLOG_KIB,
                      "accept_conns": accept_conns, "accept_warm": ACCEPT_WARM,
                      "accept_instances": ACCEPT_INSTANCES, "accept_client_conc": ACCEPT_CONC},
    }
    os.makedirs(os.path.dirname(a.json), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump({"machine": machine, "results": results, "samples": samples,
                   "sizes": sizes, "syslog_ratio": syslog_ratio, "accept_ratio": accept_ratio},
                  f, indent=1)
    print(f"{machine['cpu']}, {machine['cores']} cores, Linux {machine['kernel']}; "
          f"median (min–max) of {reps} repetition(s)")
    if a.quick:
        print(f"QUICK: crash loop {crash_s} s (the 60 s row), idle {idle_s} s, "
              f"log and syslog {log_mib} MiB, accept {accept_conns} connections")
    print(out)
    if syslog_ratio:
        per = syslog_ratio["per_rep"]
        print(f"syslog CPU per MiB, tend / BusyBox syslogd: {syslog_ratio['median']:.3g} "
              f"(of the medians; per repetition {min(per):.3g}–{max(per):.3g}; the goal is ≤ 0.333)")
    names = {"busybox": "tcpsvd", "daemontools": "tcpserver"}
    for key, what, goal in (("accept_conn_per_s", "connections/s", "≥ 1"), ("accept_uss", "USS", "< 1")):
        for peer in ("busybox", "daemontools"):
            r = accept_ratio.get(f"{key}/{peer}")
            if r:
                per = r["per_rep"]
                print(f"accept {what}, tend / {names[peer]}: {r['median']:.3g} (of the medians; "
                      f"per repetition {min(per):.3g}–{max(per):.3g}; the goal is {goal})")
    print(f"JSON: {a.json}")


if __name__ == "__main__":
    main()
