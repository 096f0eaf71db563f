#!/usr/bin/env python3
"""The kernel floor (KERNEL.md) against the binary.

    python3 tests/kernel/test_syscalls.py

1. census: builds the x86_64 release binary with its symbols (the same code
   as the release build, in target/syscalls/), disassembles it, and finds the
   system call number of every `syscall` instruction: the value put in rax,
   followed back through register moves and, when it comes in as an
   argument, into every caller. Every site must resolve to numbers. Names
   come from linux-raw-sys's x86_64 table (the crate tend builds with).
2. table: the calls the binary makes are exactly KERNEL.md's rows marked
   `all`; every row is no newer than the floor, or says its fallback.
3. floor: the README and KERNEL.md state the same floor.
4. fallback: `tend supervise` under strace, with every call of the binary
   newer than the floor failing with ENOSYS (injected): a service still
   starts, without a descriptor tend inherited.

Ends with `N passed, M failed`; exits 1 when anything failed.
"""

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
TARGET = "x86_64-unknown-linux-musl"
FLOOR_RE = re.compile(r"\*\*Floor: Linux (\d+\.\d+)\*\*")
results = []


def report(name, ok, detail=""):
    results.append(ok)
    first, *rest = (detail or "").splitlines() or [""]
    print(f"{'ok  ' if ok else 'FAIL'} {name:<10} {first}", flush=True)
    for line in rest:
        print(f"     {'':<10} {line}", flush=True)


def version(text):
    return tuple(int(p) for p in text.split("."))


# --- 1. census ---------------------------------------------------------------

def build():
    # Symbols, and the section headers objdump needs (build.rs leaves them
    # out of a release build otherwise).
    env = dict(os.environ, CARGO_PROFILE_RELEASE_STRIP="false", TEND_SECTION_HEADERS="1")
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet", "--target", TARGET,
                    "--target-dir", str(REPO / "target" / "syscalls")],
                   cwd=REPO, env=env, check=True)
    return REPO / "target" / "syscalls" / TARGET / "release" / "tend"


def disassemble(binary):
    """function name -> [(address, instruction text)]"""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-C", str(binary)],
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    funcs, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"^([0-9a-f]+) <(.*)>:$", line)
        if m:
            cur = funcs.setdefault(m.group(2), [])
            continue
        m = re.match(r"^\s+([0-9a-f]+):\t(.*)$", line)
        if m and cur is not None:
            cur.append((int(m.group(1), 16), m.group(2).strip()))
    return funcs


REG = {}
for r64, r32 in [("rax", "eax"), ("rbx", "ebx"), ("rcx", "ecx"), ("rdx", "edx"),
                 ("rsi", "esi"), ("rdi", "edi"), ("rbp", "ebp")]:
    REG[r64] = REG[r32] = r64
for n in range(8, 16):
    REG[f"r{n}"] = REG[f"r{n}d"] = f"r{n}"
ARGS = {"rdi", "rsi", "rdx", "rcx", "r8", "r9"}
CLOBBERED_BY_CALL = {"rax", "rdi", "rsi", "rdx", "rcx", "r8", "r9", "r10", "r11"}


def census(funcs):
    """The numbers given to every `syscall`, and the sites that did not
    resolve (each a description)."""
    callers = {}
    for name, insns in funcs.items():
        for i, (_, text) in enumerate(insns):
            m = re.match(r"(?:call|jmp)\s+[0-9a-f]+ <(.*)>$", text)
            if m and m.group(1) in funcs:
                callers.setdefault(m.group(1), []).append((name, i))

    def reg(text):
        return REG.get(text.lstrip("%"))

    def trace(func, i, r, depth=0):
        """The values register r holds before instruction i of func: a set
        of ints, or of strings saying why not."""
        insns = funcs[func]
        j = i - 1
        while j >= 0:
            addr, t = insns[j]
            m = re.match(r"(?:mov[lq]?|movabs)\s+\$0x([0-9a-f]+),%(\w+)$", t)
            if m and reg(m.group(2)) == r:
                return {int(m.group(1), 16)}
            m = re.match(r"pop\s+%(\w+)$", t)
            if m and reg(m.group(1)) == r:
                m2 = re.match(r"push\s+\$0x([0-9a-f]+)$", insns[j - 1][1]) if j else None
                if m2:
                    return {int(m2.group(1), 16)}
                return {f"{func}+{addr:#x}: {t}"}
            m = re.match(r"xor\s+%(\w+),%(\w+)$", t)
            if m and reg(m.group(1)) == reg(m.group(2)) == r:
                return {0}
            m = re.match(r"(?:mov[lq]?|movslq)\s+%(\w+),%(\w+)$", t)
            if m and reg(m.group(2)) == r:
                r = reg(m.group(1))
                j -= 1
                continue
            # A conditional move: either value the register could hold.
            m = re.match(r"cmov\w+\s+%(\w+),%(\w+)$", t)
            if m and reg(m.group(2)) == r:
                return trace(func, j, reg(m.group(1)), depth) | trace(func, j, r, depth)
            m = re.match(r"\S+\s+.*,%(\w+)$", t)
            if m and reg(m.group(1)) == r and not t.startswith(("cmp", "test", "bt ")):
                return {f"{func}+{addr:#x}: {t}"}
            if t.startswith("call") and r in CLOBBERED_BY_CALL:
                return {f"{func}+{addr:#x}: {r} set by a call"}
            j -= 1
        if r in ARGS and func in callers and depth < 6:
            values = set()
            for caller, ci in callers[func]:
                values |= trace(caller, ci, r, depth + 1)
            return values
        return {f"{func}: {r} at the function's start"}

    numbers, unresolved, sites = set(), [], 0
    for name, insns in funcs.items():
        for i, (addr, text) in enumerate(insns):
            if text != "syscall":
                continue
            sites += 1
            for v in trace(name, i, "rax"):
                if isinstance(v, int):
                    numbers.add(v)
                else:
                    unresolved.append(f"syscall at {addr:#x} in {name}: {v}")
    return numbers, unresolved, sites


def syscall_names():
    """number -> name, from linux-raw-sys's x86_64 table."""
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--locked", "--format-version", "1"], cwd=REPO,
        stdout=subprocess.PIPE, text=True, check=True).stdout)
    pkg = next(p for p in meta["packages"] if p["name"] == "linux-raw-sys")
    src = Path(pkg["manifest_path"]).parent / "src" / "x86_64" / "general.rs"
    return {int(n): name for name, n in
            re.findall(r"pub const __NR_(\w+): u32 = (\d+);", src.read_text())}


# --- 2. the table ----------------------------------------------------------------

def kernel_table():
    """KERNEL.md's floor and its system call rows: name -> (version, where, note)."""
    text = (REPO / "KERNEL.md").read_text()
    floor = FLOOR_RE.search(text)
    section = text.split("## System calls", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for m in re.finditer(r"^\| `(\w+)` \| ([\d.]+) \| ([\w-]+) \| (.*) \|$", section, re.M):
        rows[m.group(1)] = (m.group(2), m.group(3), m.group(4))
    return (floor.group(1) if floor else None), rows


def main():
    t0 = time.monotonic()
    try:
        binary = build()
    except subprocess.CalledProcessError as e:
        report("build", False, str(e))
        return finish(t0)
    funcs = disassemble(binary)
    numbers, unresolved, sites = census(funcs)
    names = syscall_names()
    used = {names.get(n, f"#{n}") for n in numbers}
    report("census", not unresolved and sites > 0 and all(n in names for n in numbers),
           f"{sites} syscall sites, {len(used)} calls: {' '.join(sorted(used))}"
           + "".join(f"\nunresolved: {u}" for u in unresolved)
           + "".join(f"\nunknown number {n}" for n in numbers if n not in names))

    floor, rows = kernel_table()
    everywhere = {n for n, (_, where, _) in rows.items() if where == "all"}
    missing = sorted(used - everywhere)
    unused = sorted(everywhere - used)
    report("table", bool(rows) and not missing and not unused,
           f"KERNEL.md lists {len(rows)} calls ({len(everywhere)} on every architecture)"
           + (f"\nmade by the binary, not in KERNEL.md: {' '.join(missing)}" if missing else "")
           + (f"\nin KERNEL.md as `all`, not made by the binary: {' '.join(unused)}" if unused else ""))

    newer = {n: v for n, (v, _, note) in rows.items() if floor and version(v) > version(floor)}
    no_fallback = [n for n in newer if "fallback" not in rows[n][2]]
    readme = (REPO / "README.md").read_text()
    in_readme = re.search(rf"Linux {re.escape(floor)}\b", readme) if floor else None
    report("floor", bool(floor) and not no_fallback and bool(in_readme),
           f"Linux {floor}; newer, each with its fallback: "
           + ", ".join(f"{n} ({v})" for n, v in sorted(newer.items()))
           + (f"\nnewer than the floor without a fallback: {no_fallback}" if no_fallback else "")
           + ("" if in_readme else f"\nthe README does not state Linux {floor}"))

    fallback(binary, sorted(n for n in newer if n in used))
    return finish(t0)


# --- 4. the fallbacks, run -----------------------------------------------------------

def fallback(binary, calls):
    if not calls:
        report("fallback", True, "no call newer than the floor")
        return
    if not shutil.which("strace"):
        report("fallback", False, "no strace (scripts/setup installs it)")
        return
    tmp = Path(tempfile.mkdtemp(prefix="tend-floor."))
    leak_r, leak_w = os.pipe()  # inherited by tend, not close-on-exec
    os.set_inheritable(leak_w, True)
    table = tmp / "tend.conf"
    table.write_text("[fds]\ntype = oneshot\n"
                     "run = /bin/sh -c 'ls /proc/self/fd | tr \"\\n\" \" \"; echo; echo done'\n")
    env = dict(os.environ, TEND_SOCKET=str(tmp / "tend.sock"))
    trace = tmp / "strace.out"
    inject = [a for c in calls for a in ("-e", f"inject={c}:error=ENOSYS")]
    proc = subprocess.Popen(["strace", "-f", "-qq", "-o", str(trace), "-e", f"trace={','.join(calls)}",
                             *inject, str(binary), "supervise", "-c", str(table)],
                            env=env, pass_fds=(leak_w,), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    os.close(leak_w)
    os.close(leak_r)
    ok, detail, out = False, "", ""
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            r = subprocess.run([str(binary), "log", "fds"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            out = r.stdout
            if re.search(r"\] done$", out, re.M):
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"the service never ran:\n{out}")
        m = re.search(r"\] ([\d ]+)$", out, re.M)
        fds = m.group(1).split() if m else []
        traced = trace.read_text()
        injected = [c for c in calls if re.search(rf"{c}\(.*ENOSYS.*\(INJECTED\)", traced)]
        if sorted(injected) != sorted(calls):
            raise AssertionError(f"not injected: {set(calls) - set(injected)}\n{traced}")
        if str(leak_w) in fds or not fds:
            raise AssertionError(f"the service's descriptors: {fds} (fd {leak_w} was leaked to tend)")
        ok = True
        detail = (f"{', '.join(calls)} failing with ENOSYS: the service ran with descriptors "
                  f"{' '.join(fds)} (ls's own 3 among them; tend's inherited fd {leak_w} not)")
    except AssertionError as e:
        detail = str(e)
    finally:
        # SIGTERM to strace and tend alike (strace alone would leave tend
        # running, detached): tend stops its services and exits.
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate()
        if not ok:
            detail += f"\ntend's stderr:\n{err.decode(errors='replace')}"
        shutil.rmtree(tmp, ignore_errors=True)
    report("fallback", ok, detail)


def finish(t0):
    passed = sum(results)
    failed = len(results) - passed
    print(f"kernel floor checks took {time.monotonic() - t0:.0f}s")
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
