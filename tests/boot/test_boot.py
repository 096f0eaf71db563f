#!/usr/bin/env python3
"""QEMU boot tests: tend as PID 1 on real Debian kernels, under TCG.

    python3 tests/boot/test_boot.py [BOARD...] [--no-build] [-v]

Default boards: qemu-x86_64, qemu-arm (32-bit ARM, -M virt), qemu-aarch64,
qemu-riscv64 (both -M virt) and qemu-mipsel (-M malta). For each it
builds the image (qemu/build, which fetches Debian's kernel and busybox on
first use), then boots it four times through qemu/boot and types on the
serial console, as a person would:

  main    the services come up; `tend status` shows the right states, the
          crashing service in backoff and its last crash; `tend log`; the
          web server (`accept = yes` on port 80, instances as user www):
          a page and a CGI script fetched from the console, the
          connections counted by `tend status httpd`; the PID 1 set-up
          (mounts, hostname, console, ctrl-alt-del off); a
          daemon killed from the console comes back with a new pid; an orphan
          storm leaves no zombie; tend's RSS; busybox `poweroff` stops the
          services in reverse dependency order and QEMU exits
  rescue  a broken table: every FILE:LINE error on the console, then the
          rescue shell, where `tend poweroff` works
  boot2   timing, then `reboot` (busybox: SIGTERM to PID 1); QEMU exits
  boot3   timing, then `tend halt`: the kernel halts (QEMU stays and we kill
          it; on RISC-V the firmware's halt ends QEMU)
  panic   no usable init (rdinit=/no/such/init): the console driver must
          notice the kernel panic at once

Boot times (median of the three normal boots) are measured both on the host
(seconds since QEMU started) and on the guest's own clock (the kernel's
printk stamps and /proc/uptime). A kernel panic fails the boot at once and
prints the whole transcript. Transcripts: target/qemu/BOARD/logs/*.log.
The boards run in parallel, one QEMU per board (one per core).

The last line printed is `N passed, M failed`; the exit status is 1 when
anything failed.
"""

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.dont_write_bytecode = True  # no __pycache__ in qemu/
sys.path.insert(0, str(REPO / "qemu"))
import console as cons  # noqa: E402

DEFAULT_BOARDS = ["qemu-x86_64", "qemu-arm", "qemu-aarch64", "qemu-riscv64", "qemu-mipsel"]
# Boards whose kernel halts through firmware that powers the machine off.
HALT_POWERS_OFF = {"qemu-riscv64"}
CRASHER = "flaky"  # the demo service that dies half a second after each start
WEB = "httpd"  # the demo's `accept = yes` service: BusyBox httpd -i on port 80
VICTIM = "probe"  # the daemon killed from the console
STATES = "down|starting|up|ready|stopping|backoff|done|failed"
ROW = re.compile(rf"^(\S+)\s+({STATES})\s+(\d+|-)\s+(\S+)\s+(\d+)\s+(.*)$", re.M)
STAMP = re.compile(r"^\[\s*\d+\.\d{3}\] ", re.M)
PID1_MOUNTS = ["/proc", "/sys", "/dev", "/dev/pts", "/dev/shm", "/run", "/tmp"]

BOOT_TIMEOUT = 120  # QEMU start to /init, generous for a loaded machine
STEP_TIMEOUT = 60


# --- reporting ---------------------------------------------------------------------

class Report:
    def __init__(self):
        self.lock = threading.Lock()
        self.results = []  # (board, name, ok, detail)
        self.timings = {}  # board -> list of dicts

    def add(self, board, name, ok, detail=""):
        with self.lock:
            self.results.append((board, name, ok, detail))
            word = "ok  " if ok else "FAIL"
            first, *rest = (detail or "").splitlines() or [""]
            print(f"{word} {board:<12} {name:<12} {first}", flush=True)
            for line in rest:
                print(f"     {'':<12} {'':<12} {line}", flush=True)

    def say(self, text):
        with self.lock:
            print(text, flush=True)


class Failed(Exception):
    """A check failed; the boot goes on with the next check."""


def need(cond, message):
    if not cond:
        raise Failed(message)


# --- the board's table ---------------------------------------------------------------

def read_table(board):
    """The services of the board's table (boards/BOARD/tend.conf, else
    boards/common/tend.conf, as qemu/build picks), in order: name -> keys."""
    own = REPO / "boards" / board / "tend.conf"
    return read_table_file(own if own.exists() else REPO / "boards" / "common" / "tend.conf")


def read_table_file(path):
    """The services of the table at `path`, in order: name -> keys (the
    [tend] section is no service)."""
    services, cur, settings = {}, None, {"after": []}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^\[(.+)\]$", line)
        if m:
            cur = settings if m.group(1) == "tend" else services.setdefault(m.group(1), {"after": []})
            continue
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if key == "after":
            cur["after"] += re.split(r"[\s,]+", value)
        else:
            cur[key] = value
    return services


def accepts(svc):
    """An `accept = yes` service: up while it listens, no pid of its own."""
    return svc.get("accept") == "yes"


def wanted_state(svc):
    if svc.get("type") == "oneshot":
        return "done"
    return "ready" if svc.get("ready", "none") != "none" else "up"


def parse_status(out):
    return {m.group(1): {"state": m.group(2), "pid": m.group(3), "uptime": m.group(4),
                         "restarts": int(m.group(5)), "last": m.group(6).strip()}
            for m in ROW.finditer(out)}


# --- one boot ------------------------------------------------------------------------

class Boot:
    """One QEMU run: a console plus the named checks planned for it. A check
    that raises Failed fails alone; a console error (panic, timeout, QEMU
    gone) fails it and ends the boot, and the checks not reached fail too."""

    def __init__(self, ctx, label, planned, extra=()):
        self.ctx, self.label, self.pending = ctx, label, list(planned)
        board = ctx.board
        log = REPO / "target" / "qemu" / board / "logs" / f"{label}.log"
        def say_tagged(text, _tag=f"[{board}/{label}] "):
            ctx.report.say("".join(_tag + ln for ln in text.splitlines(True)).rstrip("\n"))
        echo = say_tagged if ctx.verbose else None
        self.con = cons.Console([str(REPO / "qemu" / "boot"), board, "--no-build", *extra],
                                name=f"{board}/{label}", log_path=str(log), echo=echo)
        self.dead = None

    def check(self, name, fn):
        if name in self.pending:
            self.pending.remove(name)
        if self.dead:
            self.ctx.report.add(self.ctx.board, name, False, f"not reached: {self.dead}")
            return None
        try:
            detail = fn()
            self.ctx.report.add(self.ctx.board, name, True, detail or "")
            return detail
        except Failed as e:
            self.ctx.report.add(self.ctx.board, name, False, f"[{self.label}] {e}")
            self.ctx.report.say(self.transcript_tail(40))
        except cons.KernelPanic as e:
            self.dead = "kernel panic"
            self.ctx.report.add(self.ctx.board, name, False, f"[{self.label}] {e}")
            self.ctx.report.say(f"---- {self.con.name}: the whole console transcript ----\n"
                                f"{self.con.text}\n---- end of transcript ----")
        except cons.ConsoleError as e:
            self.dead = str(e)
            self.ctx.report.add(self.ctx.board, name, False, f"[{self.label}] {e}")
            self.ctx.report.say(self.transcript_tail(60))
        except Exception as e:  # a bug in the test itself
            self.dead = f"{type(e).__name__}: {e}"
            self.ctx.report.add(self.ctx.board, name, False,
                                f"[{self.label}] {traceback.format_exc().strip()}")
        return None

    def transcript_tail(self, n):
        lines = self.con.text.splitlines()[-n:]
        tag = f"  | {self.con.name}: "
        return (f"  | last {len(lines)} console lines of {self.con.name} "
                f"(all: {self.con.log_path}):\n" + "\n".join(tag + ln for ln in lines))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.con.close()
        reason = self.dead or "boot ended early"
        if exc[0] is not None:
            reason = f"{exc[0].__name__}: {exc[1]}"
        for name in self.pending:
            self.ctx.report.add(self.ctx.board, name, False, f"not reached: {reason}")
        return False


class Board:
    def __init__(self, board, report, verbose):
        self.board, self.report, self.verbose = board, report, verbose
        self.table = read_table(board)
        self.timings = []

    # --- helpers that type on the console ---

    def status(self, con, *args, timeout=STEP_TIMEOUT):
        cmd = "tend status" + "".join(" " + a for a in args)
        code, out = con.run(cmd, timeout)
        return code, out, parse_status(out)

    def measure(self, con):
        """Waits for the boot and the services; returns the timings."""
        t = {}
        m = con.expect(r"\[\s*(\d+\.\d+)\] Run /init as init process", BOOT_TIMEOUT)
        t["init_kernel"] = float(m.group(1))
        t["init_host"] = con.arrival(m.start())
        con.expect(r"tend: supervising \d+ services from /etc/tend.conf", STEP_TIMEOUT)
        con.wait_prompt(STEP_TIMEOUT)
        t["prompt_host"] = con.arrival(con.pos - 1)
        prompt = False  # just seen
        deadline = time.monotonic() + STEP_TIMEOUT
        want = {n: wanted_state(s) for n, s in self.table.items() if n != CRASHER}
        while True:
            _, out = con.run("tend status;cat /proc/uptime", prompt=prompt)
            prompt = True
            rows = parse_status(out)
            up = re.search(r"^(\d+\.\d+) \d+\.\d+$", out, re.M)
            if rows and "status_host" not in t:
                t["status_host"] = con.arrival(con.pos - 1)
                t["status_guest"] = float(up.group(1)) if up else None
            if rows and all(rows.get(n, {}).get("state") == s for n, s in want.items()):
                t["allup_host"] = con.arrival(con.pos - 1)
                break
            if time.monotonic() > deadline:
                bad = {n: rows.get(n, {}).get("state") for n, s in want.items()
                       if rows.get(n, {}).get("state") != s}
                raise Failed(f"services not as wanted after {STEP_TIMEOUT}s: {bad}")
        # The guest's own clock: all were up when the last one started (the
        # ones with `after` start only once what they wait for is up/ready).
        _, out = con.run("tend status --json;cat /proc/uptime")
        doc = json_line(out)
        up = re.search(r"^(\d+\.\d+) \d+\.\d+$", out, re.M)
        if doc and up:
            daemons = [s for s in doc["services"]
                       if s["name"] in want and s["type"] == "daemon" and s["uptime_ms"] is not None]
            t["allup_guest"] = float(up.group(1)) - min(s["uptime_ms"] for s in daemons) / 1000
        return t

    def rss(self, con):
        """tend's resident memory as PID 1, in kB: VmRSS (what `ps` shows; the
        6.1 kernels update it lazily) and Rss from smaps_rollup (counted
        from the page tables)."""
        _, out = con.run("grep VmRSS /proc/1/status")
        m = re.search(r"VmRSS:\s+(\d+) kB", out)
        need(m, f"no VmRSS line in {out!r}")
        _, out = con.run("grep ^Rss /proc/1/smaps_rollup")
        r = re.search(r"^Rss:\s+(\d+) kB", out, re.M)
        need(r, f"no Rss line in {out!r}")
        return int(m.group(1)), int(r.group(1))

    # --- the boots ---

    def main_boot(self):
        planned = ["boot", "status", "crash", "log", "web", "json", "pid1-setup", "restart",
                   "zombies", "rss", "reload", "poweroff"]
        with Boot(self, "main", planned) as b:
            con = b.con
            timing = {}

            def boot():
                timing.update(self.measure(con))
                self.timings.append(timing)
                return (f"/init at {timing['init_kernel']:.2f}s (kernel clock), "
                        f"services up at {timing['allup_host']:.1f}s after QEMU started")
            b.check("boot", boot)

            def status():
                # The crashing service spends most of its time in backoff once
                # its delay has grown; look until it is seen there.
                deadline = time.monotonic() + 30
                while True:
                    code, out, rows = self.status(con)
                    fl = rows.get(CRASHER, {})
                    if fl.get("state") == "backoff" and fl["restarts"] >= 2:
                        break
                    need(time.monotonic() < deadline,
                         f"{CRASHER} never seen in backoff: {fl or out!r}")
                    con.drain(0.5)
                for name, svc in self.table.items():
                    need(name in rows, f"no line for {name} in:\n{out}")
                    if name == CRASHER:
                        continue
                    need(rows[name]["state"] == wanted_state(svc),
                         f"{name} is {rows[name]['state']}, not {wanted_state(svc)}:\n{out}")
                    if accepts(svc):
                        need(rows[name]["pid"] == "-", f"{name} (accept = yes) has a pid:\n{out}")
                    elif wanted_state(svc) != "done":
                        need(rows[name]["pid"].isdigit(), f"{name} has no pid:\n{out}")
                need(list(rows) == list(self.table), f"order {list(rows)} != table {list(self.table)}")
                need(re.search(r"exit 1, retry in \S+", rows[CRASHER]["last"]),
                     f"{CRASHER}'s LAST EXIT: {rows[CRASHER]['last']!r}")
                need(code == 3, f"tend status exited {code}, not 3 ({CRASHER} is not as wanted)")
                return (f"{len(rows)} services as wanted, {CRASHER} in backoff after "
                        f"{rows[CRASHER]['restarts']} restarts; exit 3")
            b.check("status", status)

            def crash():
                code, out, rows = self.status(con, CRASHER)
                # 3 while it is in backoff; 0 during the half second it runs.
                state = rows.get(CRASHER, {}).get("state")
                need(code == (0 if state == "up" else 3),
                     f"tend status {CRASHER} exited {code} with {CRASHER} {state}")
                m = re.search(r"last crash: exit 1[^\n]*\n((?:\[[^\n]*\n)+)", out)
                need(m, f"no 'last crash: exit 1' record in:\n{out}")
                need("fatal: cannot open /dev/flaky0" in m.group(1),
                     f"the crash record lacks the error line:\n{m.group(0)}")
                need(STAMP.search(m.group(1)), "crash lines are not stamped")
                # ...and tend printed the crash on the console when it happened.
                need(re.search(rf"tend: {CRASHER}: crashed, exit 1; its last lines:\n"
                               r"(?:\[[^\n]*\n)*\[[^\n]*fatal: cannot open /dev/flaky0", con.text),
                     "the crash was not echoed on the console")
                return "last crash record with its stderr line; echoed on the console too"
            b.check("crash", crash)

            def log():
                code, out = con.run("tend log setup")
                need(code == 0 and re.search(r"^\[\s*\d+\.\d{3}\] setup: web root written$", out, re.M),
                     f"tend log setup exited {code}; no web root line:\n{out}")
                # Each instance of httpd -vv logs its request on stderr,
                # into the service's ring: the probe's, from 127.0.0.1.
                code, out = con.run("tend log httpd")
                need(code == 0, f"tend log httpd exited {code}")
                need(re.search(r"^\[\s*\d+\.\d{3}\] 127\.0\.0\.1:\d+: url:/$", out, re.M),
                     f"no request line in httpd's ring:\n{out}")
                code, out = con.run("tend log probe")
                need(re.search(rf"probe \d+: httpd answered: <h1>tend on {self.board}</h1>", out),
                     f"probe did not reach httpd:\n{out}")
                # tend's own syslog: the probe's `logger` lines in its ring
                # (or, when logger had exited before tend read its message,
                # in the ring syslog); a line typed on the console, from a
                # service without a ring, in the ring syslog.
                code, syslog = con.run("tend log syslog -n 5")
                need(code == 0, f"tend log syslog exited {code}")
                need(re.search(r"user\.notice probe: check \d+ ok", out + syslog),
                     f"the probe's syslog message is in neither ring:\n{out}\n{syslog}")
                # crond speaks only syslog: its start, under its own name.
                code, out = con.run("tend log crond")
                need(re.search(r"^\[\s*\d+\.\d{3}\] cron\.\w+ crond\[\d+\]: crond \(busybox [^)]*\) started", out, re.M),
                     f"crond's syslog line is not in its ring:\n{out}")
                con.run("logger -t bootcheck typed on the console")
                deadline = time.monotonic() + 10
                while True:
                    _, syslog = con.run("tend log syslog -n 5")
                    if re.search(r"user\.notice bootcheck: typed on the console", syslog):
                        break
                    need(time.monotonic() < deadline, f"the console's logger line is not in tend log syslog:\n{syslog}")
                    con.drain(0.3)
                return "setup, httpd, probe and crond rings hold their lines, stamped; syslog filed by tend"
            b.check("log", log)

            def web():
                # The demo's web server: BusyBox httpd -i under accept = yes
                # on port 80, an instance per connection, as user www.
                def served():
                    code, out = con.run(f"tend status {WEB}")
                    m = re.search(r"^instances: (\d+) running, (\d+) served$", out, re.M)
                    need(code == 0 and m, f"tend status {WEB} exited {code}:\n{out}")
                    return int(m.group(2))
                before = served()
                code, out = con.run("wget -qO- http://127.0.0.1/")
                need(code == 0 and re.search(rf"^<h1>tend on {re.escape(self.board)}</h1>$", out, re.M),
                     f"wget of the page exited {code}:\n{out}")
                # The CGI script says who runs it: the instance's user and
                # the connection, from tend's UCSPI environment.
                code, out = con.run("wget -qO- 127.0.0.1/cgi-bin/id")
                m = re.search(r"^(\S+) serves 127\.0\.0\.1:(\d+) on 127\.0\.0\.1:80$", out, re.M)
                need(code == 0 and m, f"wget of cgi-bin/id exited {code}:\n{out}")
                need(m.group(1) == "www", f"the instance runs as {m.group(1)}, not www")
                after = served()
                need(after >= before + 2, f"served {before} before two fetches, {after} after")
                return (f"page and CGI fetched in the guest (instance as www, from "
                        f"127.0.0.1:{m.group(2)}); {after} connections served")
            b.check("web", web)

            def json_check():
                for _ in range(3):  # tend's console messages may cut a line
                    _, out = con.run("tend status --json")
                    doc = json_line(out)
                    if doc:
                        break
                need(doc, f"no JSON document in:\n{out}")
                names = [s["name"] for s in doc["services"]]
                need(names == list(self.table), f"names {names}")
                fl = next(s for s in doc["services"] if s["name"] == CRASHER)
                need(fl["last_crash"] and fl["last_crash"]["what"] == "exit 1"
                     and "fatal: cannot open" in fl["last_crash"]["lines"],
                     f"{CRASHER}'s last_crash: {fl['last_crash']}")
                for s in doc["services"]:
                    lg = s["log"]
                    need(lg["written"] == lg["kept"] + lg["dropped"], f"{s['name']} log counters {lg}")
                    want = "up" if s["name"] == CRASHER else wanted_state(self.table[s["name"]])
                    need(s["ok"] == (s["state"] == want), f"{s['name']} is {s['state']}, ok={s['ok']}")
                    # instances and served: an `accept = yes` service's, null elsewhere.
                    if accepts(self.table[s["name"]]):
                        need(s["pid"] is None and isinstance(s["instances"], int) and s["served"] >= 1,
                             f"{s['name']}: pid {s['pid']}, instances {s['instances']}, served {s['served']}")
                    else:
                        need(s["instances"] is None and s["served"] is None,
                             f"{s['name']}: instances {s['instances']}, served {s['served']}")
                return "parsed; names, ok flags, last_crash, log counters and served consistent"
            b.check("json", json_check)

            def pid1_setup():
                _, out = con.run("hostname;cut -d' ' -f2,3 /proc/mounts")
                need(re.search(rf"^{re.escape(self.board)}$", out, re.M), f"hostname:\n{out}")
                mounted = dict(re.findall(r"^(/\S*) (\S+)$", out, re.M))
                missing = [p for p in PID1_MOUNTS if p not in mounted]
                need(not missing, f"not mounted: {missing}\n{out}")
                need(mounted["/dev"] == "devtmpfs" and mounted["/proc"] == "proc",
                     f"/dev is {mounted['/dev']}, /proc is {mounted['/proc']}")
                _, out = con.run("ls -l /proc/1/fd")
                fds = dict(re.findall(r" ([012]) -> (\S+)$", out, re.M))
                need(fds == {"0": "/dev/console", "1": "/dev/console", "2": "/dev/console"},
                     f"PID 1's fds 0-2: {fds}")
                _, out = con.run("cat /proc/sys/kernel/ctrl-alt-del")
                need(re.search(r"^0$", out, re.M), f"ctrl-alt-del is {out.strip()!r}, not 0 (CAD off)")
                return f"hostname, {len(PID1_MOUNTS)} mounts, fds 0-2 on /dev/console, CAD off"
            b.check("pid1-setup", pid1_setup)

            def restart():
                old, new = killed_comes_back(con, lambda n: self.status(con, n), VICTIM, "TERM")
                return f"killed pid {old['pid']}; back as pid {new['pid']} (LAST EXIT {new['last']})"
            b.check("restart", restart)

            def zombies():
                t0 = time.monotonic()
                code, _ = con.run("for i in $(seq 200); do (sleep 0 &); done", timeout=180)
                need(code == 0, f"the storm loop exited {code}")
                storm = time.monotonic() - t0
                deadline = time.monotonic() + 15
                while True:
                    _, out = con.run("grep -l zombie /proc/*/status 2>/dev/null|wc -l")
                    m = re.search(r"^(\d+)$", out, re.M)
                    if m and m.group(1) == "0":
                        break
                    need(time.monotonic() < deadline, f"zombies left 15s after the storm:\n{out}")
                    con.drain(0.3)
                code, out = con.run("grep -c . /proc/1/status")  # PID 1 still answers
                need(code == 0, "PID 1 is gone?")
                return f"200 double-forked orphans in {storm:.1f}s; no zombie left"
            b.check("zombies", zombies)

            def rss():
                timing["vmrss_kb"], timing["rss_kb"] = kb = self.rss(con)
                need(max(kb) < 2048, f"tend's RSS as PID 1 is {kb} kB")
                return f"tend as PID 1: VmRSS {kb[0]} kB, smaps_rollup Rss {kb[1]} kB"
            b.check("rss", rss)

            def reload():
                _, _, before = self.status(con)
                # (Short lines: the shell wraps at 80 columns.)
                code, _ = con.run("cp /etc/tend.conf /tmp/t.orig")
                need(code == 0, "cannot copy /etc/tend.conf")
                code, _ = con.run("echo [extra] >>/etc/tend.conf")
                code2, _ = con.run("echo run = sleep 1000 >>/etc/tend.conf")
                need(code == 0 and code2 == 0, "cannot add to /etc/tend.conf")
                code, out = con.run("tend reload")
                need(code == 0 and "added extra" in out
                     and re.search(r"reloaded: 1 added, 0 removed, 0 restarted, \d+ unchanged", out),
                     f"tend reload exited {code}:\n{out}")
                deadline = time.monotonic() + 15
                while True:
                    _, _, rows = self.status(con)
                    if rows.get("extra", {}).get("state") == "up":
                        break
                    need(time.monotonic() < deadline, f"extra never came up: {rows.get('extra')}")
                    con.drain(0.3)
                moved = [n for n, r in before.items() if n != CRASHER and r["pid"].isdigit()
                         and rows.get(n, {}).get("pid") != r["pid"]]
                need(not moved, f"unchanged services restarted by the reload: {moved}")
                # And back, by SIGHUP to PID 1.
                code, _ = con.run("cp /tmp/t.orig /etc/tend.conf;kill -HUP 1")
                need(code == 0, "cannot restore the table")
                while True:
                    _, _, rows = self.status(con)
                    if "extra" not in rows:
                        break
                    need(time.monotonic() < deadline + 15, "extra still there after SIGHUP")
                    con.drain(0.3)
                return (f"tend reload added a service ({len(before)} others untouched); "
                        "SIGHUP removed it")
            b.check("reload", reload)

            b.check("poweroff", lambda: poweroff_in_order(con, self.table))

    def rescue_boot(self):
        with Boot(self, "rescue", ["rescue", "tend-poweroff"], extra=["--broken"]) as b:
            con = b.con

            def rescue():
                con.expect(r"Run /init as init process", BOOT_TIMEOUT)
                start = con.pos
                con.expect(r"tend: starting the rescue shell instead", STEP_TIMEOUT)
                said = con.text[start:con.pos]
                shown = set(re.findall(r"^/etc/tend\.conf:(\d+): (.*)$", said, re.M))
                expected = expected_errors()
                if expected:
                    missing = expected - shown
                    need(not missing, "errors not on the console: "
                         + "; ".join(f"{n}: {m}" for n, m in sorted(missing)))
                need(len(shown) >= 5, f"only {len(shown)} FILE:LINE errors on the console:\n{said}")
                need(re.search(r"not started: \d+ error", said), "no 'not started' line")
                code, out, rows = self.status(con)
                need(rows.get("rescue", {}).get("state") == "up" and len(rows) == 1,
                     f"the rescue table is not what runs:\n{out}")
                need(code == 0, f"tend status exited {code}")
                lines = ", ".join(sorted((n for n, _ in shown), key=int))
                return f"errors at /etc/tend.conf lines {lines} on the console; rescue shell up"
            b.check("rescue", rescue)

            def tend_poweroff():
                con.send("tend poweroff")
                con.expect(r"tend: stopping every service to power off", STEP_TIMEOUT)
                con.expect(r"reboot: Power down", STEP_TIMEOUT)
                code = con.wait_exit(STEP_TIMEOUT)
                need(code == 0, f"QEMU exited {code}")
                return "`tend poweroff` from the rescue shell powered off; QEMU exited 0"
            b.check("tend-poweroff", tend_poweroff)

    def timing_boot(self, label, ending):
        name = {"reboot": "reboot", "tend halt": "tend-halt"}[ending]
        with Boot(self, label, [f"{label}", name]) as b:
            con = b.con

            def boot():
                t = self.measure(con)
                t["vmrss_kb"], t["rss_kb"] = self.rss(con)
                self.timings.append(t)
                return f"services up at {t['allup_host']:.1f}s after QEMU started"
            b.check(label, boot)

            def end():
                con.send(ending)
                if ending == "reboot":
                    con.expect(r"tend: stopping every service to reboot", STEP_TIMEOUT)
                    con.expect(r"reboot: Restarting system", STEP_TIMEOUT)
                    code = con.wait_exit(STEP_TIMEOUT)
                    need(code == 0, f"QEMU exited {code}")
                    return "busybox reboot (SIGTERM to PID 1): orderly reboot; QEMU exited 0"
                con.expect(r"tend: stopping every service to halt", STEP_TIMEOUT)
                con.expect(r"reboot: System halted", STEP_TIMEOUT)
                con.drain(1)
                if self.board in HALT_POWERS_OFF:
                    # The kernel halts through the firmware (RISC-V: SBI
                    # system reset), which ends the machine: QEMU exits 0.
                    code = con.wait_exit(STEP_TIMEOUT)
                    need(code == 0, f"QEMU exited {code}")
                    return "`tend halt`: orderly halt (System halted; the firmware ends QEMU)"
                need(con.proc.poll() is None, "QEMU exited on halt?")
                return "`tend halt`: orderly halt (the kernel says System halted)"
            b.check(name, end)

    def panic_boot(self):
        """The driver's panic detector: a boot whose init cannot be found
        panics; the console must raise KernelPanic at once (panic=-1 and
        -no-reboot make QEMU exit too)."""
        log = REPO / "target" / "qemu" / self.board / "logs" / "panic.log"
        env = dict(os.environ, TEND_QEMU_APPEND="rdinit=/no/such/init")
        con = cons.Console([str(REPO / "qemu" / "boot"), self.board, "--no-build"],
                           name=f"{self.board}/panic", log_path=str(log), env=env)
        try:
            con.expect(r"tend: supervising", BOOT_TIMEOUT)
            self.report.add(self.board, "panic-detect", False, "the broken boot did not panic?")
        except cons.KernelPanic as e:
            seen = con.arrival(con.panic)
            self.report.add(self.board, "panic-detect", True,
                            f"raised {con.elapsed() - seen:.1f}s after the panic line: {e}")
        except cons.ConsoleError as e:
            self.report.add(self.board, "panic-detect", False, f"{e}\n{e.tail(30)}")
        finally:
            con.close()

    def build(self):
        t0 = time.monotonic()
        r = subprocess.run([str(REPO / "qemu" / "build"), self.board],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ok = r.returncode == 0
        last = (r.stdout.strip().splitlines() or [""])[-1]
        self.report.add(self.board, "build", ok,
                        f"{last} [{time.monotonic() - t0:.0f}s]" if ok else r.stdout[-3000:])
        return ok

    def boots(self):
        self.main_boot()
        self.rescue_boot()
        self.timing_boot("boot2", "reboot")
        self.timing_boot("boot3", "tend halt")
        self.panic_boot()
        with self.report.lock:
            self.report.timings[self.board] = self.timings


def json_line(out):
    for line in out.splitlines():
        if line.startswith('{"watchdog"'):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def killed_comes_back(con, status, victim, signal):
    """`kill -SIGNAL` typed on the console for the daemon `victim`: it comes
    back up (or ready) with a new pid, one restart more, its LAST EXIT the signal.
    `status(name)` runs `tend status name`. Returns its rows before and
    after."""
    _, out, rows = status(victim)
    old = rows.get(victim, {})
    need(old.get("pid", "-").isdigit(), f"{victim} has no pid:\n{out}")
    code, _ = con.run(f"kill -{signal} {old['pid']}")
    need(code == 0, f"kill -{signal} {old['pid']} failed")
    deadline = time.monotonic() + 20
    while True:
        _, out, rows = status(victim)
        new = rows.get(victim, {})
        # up, or ready for a daemon that declares it (`ready = fd:N`)
        if new.get("state") in ("up", "ready") and new["pid"] != old["pid"]:
            break
        need(time.monotonic() < deadline, f"{victim} did not come back:\n{out}")
        con.drain(0.3)
    need(new["restarts"] == old["restarts"] + 1, f"restarts {old['restarts']} -> {new['restarts']}")
    need(f"signal {signal}" in new["last"], f"LAST EXIT {new['last']!r}")
    return old, new


def poweroff_in_order(con, table):
    """BusyBox `poweroff` typed on the console: tend stops every service in
    reverse dependency order, the kernel powers down, QEMU exits 0."""
    con.send("poweroff")
    start = con.pos
    con.expect(r"tend: stopping every service to power off", STEP_TIMEOUT)
    con.expect(r"tend: every service stopped", STEP_TIMEOUT)
    con.expect(r"reboot: Power down", STEP_TIMEOUT)
    code = con.wait_exit(STEP_TIMEOUT)
    need(code == 0, f"QEMU exited {code}")
    return check_stop_order(table, con.text[start:]) + "; QEMU exited 0"


def check_stop_order(table, text):
    """Every daemon stopped, each only after what names it in `after`."""
    seg = text[text.find("tend: stopping every service"):text.find("tend: every service stopped")]
    events = [(m.group(1), m.group(2)) for m in re.finditer(r"^(?:\[[^\]\n]*\][#$] )?tend: (\S+): (stopping|down)", seg, re.M)]
    pos = {}
    for i, (name, what) in enumerate(events):
        pos.setdefault((name, what), i)
    daemons = [n for n, s in table.items() if s.get("type") != "oneshot"]
    not_down = [n for n in daemons if (n, "down") not in pos]
    need(not not_down, f"never said down: {not_down}\n{seg}")
    pairs = 0
    for name, svc in table.items():
        for dep in svc["after"]:
            if table.get(dep, {}).get("type") == "oneshot":
                continue
            need((dep, "stopping") in pos, f"{dep} was never said stopping:\n{seg}")
            need(pos[(name, "down")] < pos[(dep, "stopping")],
                 f"{dep} was stopped before {name} (which runs after it) was down:\n{seg}")
            pairs += 1
    order = " ".join(n for n, w in events if w == "down")
    return f"all {len(daemons)} daemons down ({order}), {pairs} after-pairs in reverse order"


_expected = None


def expected_errors():
    """The FILE:LINE errors of qemu/broken.conf, from `tend check` run on
    this host (an x86_64 build runs here), as (line, message) pairs."""
    global _expected
    if _expected is not None:
        return _expected
    _expected = set()
    for cand in [REPO / "target" / "x86_64-unknown-linux-musl" / "release" / "tend",
                 REPO / "target" / "release" / "tend"]:
        try:
            r = subprocess.run([str(cand), "check", str(REPO / "qemu" / "broken.conf")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        _expected = set(re.findall(r"broken\.conf:(\d+): (.*)$", r.stdout, re.M))
        if _expected:
            break
    return _expected


def print_timings(report):
    rows = [("init_kernel", "kernel starts /init (kernel clock)"),
            ("init_host", "kernel starts /init (since QEMU start)"),
            ("prompt_host", "console prompt (since QEMU start)"),
            ("status_guest", "first working `tend status` (guest uptime)"),
            ("status_host", "first working `tend status` (since QEMU start)"),
            ("allup_guest", "all services up (guest uptime)"),
            ("allup_host", "all services up, seen by status (since QEMU start)"),
            ("vmrss_kb", "tend as PID 1: VmRSS, kB"),
            ("rss_kb", "tend as PID 1: Rss (smaps_rollup), kB")]
    for board, samples in sorted(report.timings.items()):
        report.say(f"\nboot timings, {board}: median of {len(samples)} boots (each value in s)")
        for key, label in rows:
            vals = [s[key] for s in samples if s.get(key) is not None]
            if not vals:
                continue
            med = statistics.median(vals)
            fmt = "{:.0f}" if key.endswith("_kb") else "{:.2f}"
            each = " ".join(fmt.format(v) for v in vals)
            report.say(f"  {label:<50} {fmt.format(med):>7}   ({each})")


def boot_all(boards, report):
    """Boots every board, one QEMU per core at most, each in a thread (for
    this file and test_watchdog.py). A bug in a board's test is counted as a
    failure; ctrl-C or SIGTERM kills every QEMU still running."""
    cores = max(1, os.cpu_count() or 1)
    sem = threading.Semaphore(cores)

    def go(bd):
        with sem:
            try:
                bd.boots()
            except Exception:  # a bug in the test: say so, count it
                report.add(bd.board, "boots", False, traceback.format_exc().strip())
    # Daemon threads: on ctrl-C or SIGTERM the main thread leaves at once and
    # console.py's exit hook kills every QEMU still running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignored
    threads = [threading.Thread(target=go, args=(bd,), name=bd.board, daemon=True)
               for bd in boards]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.5)
    except (KeyboardInterrupt, SystemExit):
        cons.kill_all()
        print("\ninterrupted: every QEMU killed", flush=True)
        os._exit(130)


def board_args(doc, boards):
    """The boot scripts' command line: the boards (`boards` by default),
    --no-build and --verbose. Returns the parser and what it parsed."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("boards", nargs="*", default=boards)
    ap.add_argument("--no-build", action="store_true", help="boot the images already built")
    ap.add_argument("-v", "--verbose", action="store_true", help="echo the consoles live")
    return ap, ap.parse_args()


def main():
    _, args = board_args(__doc__, DEFAULT_BOARDS)
    report = Report()
    t0 = time.monotonic()
    boards = [Board(b, report, args.verbose) for b in args.boards]
    if not args.no_build:
        # qemu/fetch once for all: it installs what a fresh machine lacks.
        r = subprocess.run([str(REPO / "qemu" / "fetch"), *args.boards],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        report.add("-", "fetch", r.returncode == 0,
                   f"[{time.monotonic() - t0:.0f}s] " + r.stdout.strip()[-3000:])
        if r.returncode != 0:
            boards = []
        # Builds one after the other (cargo shares target/); qemu/build runs
        # qemu/fetch, which installs what a fresh machine lacks.
        boards = [bd for bd in boards if bd.build()]
    boot_all(boards, report)
    print_timings(report)
    passed = sum(1 for r in report.results if r[2])
    failed = len(report.results) - passed
    report.say(f"\nboot tests took {time.monotonic() - t0:.0f}s; transcripts in target/qemu/BOARD/logs/")
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed or not report.results else 0


if __name__ == "__main__":
    sys.exit(main())
