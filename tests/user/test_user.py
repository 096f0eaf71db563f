#!/usr/bin/env python3
"""tend for other architectures run here under qemu-user (qemu-*-static).

    python3 tests/user/test_user.py [TARGET...] [--no-build]

Default targets: every cross target of scripts/cross, big-endian MIPS
(mips-unknown-linux-musl, which has no board: Debian ships no big-endian
MIPS kernel) among them. For each, with the release binary (built by
scripts/cargo-build unless --no-build):

  check      `tend check` on every board's table (with the boards' own
             /etc/passwd and /etc/group), and on qemu/broken.conf: the same
             FILE:LINE errors as the x86_64 build prints
  supervise  a short table run by `tend supervise` (not PID 1: a subreaper)
             on its own socket: `tend status` and `--json` (states, pids,
             uptimes, restarts, log counters) as the x86_64 build shows
             them, `tend log` with its stamps, a service killed by a signal
             named in LAST EXIT, a oneshot's exit, `tend stop` with the
             service's stop signal, and SIGTERM ending it all, exit 0

Every number here goes through the kernel (qemu-user hands the kernel's
structures over in the target's byte order): signal numbers and masks,
wait statuses, clock readings, peer credentials. A byte-order or 32-bit
mistake in any of them fails a check.

Ends with `N passed, M failed`; exits 1 when anything failed.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TARGETS = {
    "aarch64-unknown-linux-musl": "qemu-aarch64-static",
    "armv7-unknown-linux-gnueabihf": "qemu-arm-static",
    "riscv64gc-unknown-linux-gnu": "qemu-riscv64-static",
    "mipsel-unknown-linux-musl": "qemu-mipsel-static",
    "mips-unknown-linux-musl": "qemu-mips-static",
}
HOST = "x86_64-unknown-linux-musl"
results = []


def report(target, name, ok, detail=""):
    results.append(ok)
    first, *rest = (detail or "").splitlines() or [""]
    print(f"{'ok  ' if ok else 'FAIL'} {target:<30} {name:<10} {first}", flush=True)
    for line in rest:
        print(f"     {'':<30} {'':<10} {line}", flush=True)


class Failed(Exception):
    pass


def need(cond, message):
    if not cond:
        raise Failed(message)


def binary(target):
    return REPO / "target" / target / "release" / "tend"


def tables():
    """(table, root or None) for every board's table and the host demo."""
    out = []
    for conf in sorted(REPO.glob("boards/*/tend.conf")):
        board = conf.parent
        root = board / "rootfs" if (board / "rootfs" / "etc" / "passwd").exists() else None
        if root is None and board.name == "common":
            root = board / "rootfs"
        out.append((conf, root))
    return out


def run(cmd, env=None, timeout=30):
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout)
    return r.returncode, r.stdout


def check_tables(target, runner):
    host = binary(HOST)
    said = []
    for table, root in tables() + [(REPO / "qemu" / "broken.conf", None)]:
        args = ["check"] + (["-r", str(root)] if root else []) + [str(table)]
        code, out = run([runner, str(binary(target)), *args])
        hcode, hout = run([str(host), *args])
        need((code, out) == (hcode, hout),
             f"tend check {table.relative_to(REPO)}: exit {code}, host {hcode}\n{out}\nhost:\n{hout}")
        said.append(f"{table.relative_to(REPO)} exit {code}")
    return "; ".join(said) + " (each as the x86_64 build)"


TABLE = """\
[talker]
run = /bin/sh -c 'echo hello from talker; echo to stderr >&2; exec sleep 1000'

[once]
type = oneshot
run = /bin/sh -c 'echo once ran; exit 0'

[after]
run = /bin/sleep 1000
after = once
stop-signal = INT
"""


def supervise(target, runner):
    tmp = Path(tempfile.mkdtemp(prefix="tend-user."))
    table = tmp / "tend.conf"
    table.write_text(TABLE)
    env = dict(os.environ, TEND_SOCKET=str(tmp / "tend.sock"))
    tend = [runner, str(binary(target))]
    proc = subprocess.Popen([*tend, "supervise", "-c", str(table)], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        def status(*args):
            return run([*tend, "status", *args], env=env)

        deadline = time.monotonic() + 30
        while True:
            code, out = status()
            rows = dict(re.findall(r"^(\w+)\s+(\w+)\s", out, re.M))
            if rows.get("talker") == "up" and rows.get("once") == "done" and rows.get("after") == "up":
                break
            need(time.monotonic() < deadline, f"services not up after 30 s (exit {code}):\n{out}")
            time.sleep(0.1)
        need(code == 0, f"tend status exited {code} with every service as wanted:\n{out}")
        code, out = status("--json")
        need(code == 0, f"tend status --json exited {code}:\n{out}")
        doc = json.loads(out)
        svc = {s["name"]: s for s in doc["services"]}
        need(list(svc) == ["talker", "once", "after"], f"names {list(svc)}")
        for name in ("talker", "after"):
            s = svc[name]
            need(isinstance(s["pid"], int) and 1 < s["pid"] < 1 << 22, f"{name}'s pid {s['pid']}")
            need(0 <= s["uptime_ms"] < 60_000, f"{name}'s uptime_ms {s['uptime_ms']}")
            need(s["restarts"] == 0 and s["ok"], f"{name}: {s}")
        once = svc["once"]
        need(once["last_exit"] and once["last_exit"]["code"] == 0 and once["last_exit"]["signal"] is None,
             f"once's last_exit {once['last_exit']}")
        need(0 <= once["last_exit"]["ago_ms"] < 60_000, f"once's ago_ms {once['last_exit']['ago_ms']}")
        lg = svc["talker"]["log"]
        need(lg["written"] == lg["kept"] + lg["dropped"] and lg["kept"] > 0 and lg["size"] == 4096,
             f"talker's log counters {lg}")
        code, out = run([*tend, "log", "talker"], env=env)
        need(code == 0 and re.search(r"^\[\s*\d+\.\d{3}\] hello from talker$", out, re.M)
             and re.search(r"^\[\s*\d+\.\d{3}\] to stderr$", out, re.M),
             f"tend log talker exited {code}:\n{out}")
        # A signal by name, as this architecture numbers it.
        pid = svc["talker"]["pid"]
        code, out = run([*tend, "signal", "talker", "USR1"], env=env)
        need(code == 0, f"tend signal talker USR1 exited {code}: {out}")
        deadline = time.monotonic() + 20
        while True:
            code, out = status("talker")
            m = re.search(r"^talker\s+(\w+)\s+(\d+|-)\s+\S+\s+(\d+)\s+(.*)$", out, re.M)
            if m and m.group(1) == "up" and m.group(2) != str(pid):
                break
            need(time.monotonic() < deadline, f"talker did not come back after USR1:\n{out}")
            time.sleep(0.1)
        need(m.group(3) == "1" and m.group(4).startswith("signal USR1"),
             f"talker's restarts and LAST EXIT after USR1: {m.group(3)}, {m.group(4)!r}")
        code, out = run([*tend, "stop", "after"], env=env)
        need(code == 0, f"tend stop after exited {code}: {out}")
        deadline = time.monotonic() + 20
        while True:
            code, out = status("after")
            m = re.search(r"^after\s+(\w+)\s+\S+\s+\S+\s+\d+\s+(.*)$", out, re.M)
            if m and m.group(1) == "down":
                break
            need(time.monotonic() < deadline, f"after not down after tend stop:\n{out}")
            time.sleep(0.1)
        need(m.group(2).startswith("signal INT"), f"after's LAST EXIT {m.group(2)!r} (stop-signal INT)")
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        need(proc.returncode == 0, f"tend supervise exited {proc.returncode} on SIGTERM:\n{out}")
        need("every service stopped; exiting" in out, f"no orderly stop:\n{out}")
        return ("status, --json (pids, uptimes, exits, log counters), log, signal USR1 -> "
                "restart with LAST EXIT signal USR1, stop -> signal INT, SIGTERM -> exit 0")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("targets", nargs="*", default=list(TARGETS))
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    t0 = time.monotonic()
    for target in [HOST, *args.targets] if not args.no_build else []:
        r = subprocess.run([str(REPO / "scripts" / "cargo-build"), target, "--release", "--locked", "--quiet"],
                           cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            report(target, "build", False, r.stdout[-3000:])
    for target in args.targets:
        runner = TARGETS.get(target)
        if not runner or not shutil.which(runner) or not binary(target).exists():
            report(target, "setup", False, f"no {runner or 'qemu-user for it'} or no {binary(target)}")
            continue
        for name, fn in (("check", check_tables), ("supervise", supervise)):
            try:
                report(target, name, True, fn(target, runner))
            except (Failed, subprocess.TimeoutExpired, ValueError, KeyError, TypeError) as e:
                report(target, name, False, f"{type(e).__name__}: {e}")
    passed = sum(results)
    failed = len(results) - passed
    print(f"qemu-user tests took {time.monotonic() - t0:.0f}s")
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
