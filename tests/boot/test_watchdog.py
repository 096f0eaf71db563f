#!/usr/bin/env python3
"""QEMU boot tests of the watchdog and of the evidence kept across reboots.

    python3 tests/boot/test_watchdog.py [BOARD...] [--no-build] [-v]

tend as PID 1 with a real watchdog driver and a disk (tend(8), WATCHDOG and
KEPT EVIDENCE). Each boot runs qemu/boot with `--table` (the table below,
written to target/qemu/BOARD/watchdog.conf), `--reset` (a reboot, a panic or
a watchdog reset boots the guest again in the same QEMU), `--disk` (an ext4
image made fresh for the boot with mke2fs, no mounting) and, where QEMU has
one for the board, `--watchdog`. The table's first service, a oneshot,
loads the kernel modules (boards/BOARD/modules) and mounts the disk on
/keep: tend opens the watchdog and the keep directory once it is done.

  healthy  the watchdog is fed: three timeouts pass without a reset (guest
           clock), `tend status` says `watchdog: fed every ...`; then
           `reboot`: the guest boots again, and `tend last-boot` says
           `reboot`; then `poweroff` ends QEMU
  reset    the critical service keeps crashing (a file on the disk tells
           it to, on this boot only): tend says it lets the board reset, the
           watchdog resets it (no orderly reboot), the guest boots again;
           the time from tend's message to the second kernel's first line
           is printed; the second boot is healthy and `tend last-boot` says
           `watchdog: NAME not up for 5s` and shows the crash record
  panic    (boards with ramoops) a panic from the console
           (`echo c > /proc/sysrq-trigger`): the guest boots again with the
           panic's log in pstore (RAM that QEMU keeps across the reset),
           and `tend last-boot` says the end is unknown and shows its last
           lines

The last line printed is `N passed, M failed`; the exit status is 1 when
anything failed. Transcripts: target/qemu/BOARD/logs/watchdog-*.log.

The watchdogs: on qemu-x86_64 QEMU's i6300esb (`-device i6300esb -action
watchdog=reset`); on qemu-arm, where QEMU's virt machine has none that
Debian's armhf kernel drives (boards/qemu-arm/notes.md), the kernel's
softdog, which resets the board from a kernel timer: the same driver
interface for tend, but no help against a hung kernel. The panic boot runs
where the kernel has ramoops (qemu-x86_64).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ beside the tests
import test_boot as tb  # noqa: E402  (the boot tests' report, Boot and helpers)
from test_boot import REPO, Boot, need, cons, parse_status  # noqa: E402

DEFAULT_BOARDS = ["qemu-x86_64", "qemu-arm"]
TIMEOUT_S = 5  # watchdog-timeout
GRACE_S = 5  # watchdog-grace
CRITICAL = "uplink"  # the critical service
CRASH_LINE = f"{CRITICAL}: no carrier on wan0"  # what it says before it dies
UNKNOWN_END = "unknown (no orderly end recorded: power loss, kernel panic or hardware reset)"
PANIC_LINE = "Kernel panic - not syncing: sysrq triggered crash"
KERNEL_START = r"Linux version \d"  # the first line a kernel prints on the console
STAMPED = r"[ \t]*\[\s*\d+\.\d{3}\] "
# The checks of each boot, in order.
PLANNED = {
    "healthy": ["fed", "reboot", "last-reboot", "poweroff"],
    "reset": ["letgo", "reset", "second-boot", "last-reset", "poweroff-2"],
    "panic": ["panic", "pstore", "pid1-pstore", "last-panic", "poweroff-3"],
}

# What each board has: the modules the oneshot loads (all listed in
# boards/BOARD/modules), its watchdog, whether that is a device QEMU
# emulates (qemu/boot --watchdog) and, for the panic boot, the kernel
# arguments that set RAM aside for ramoops.
BOARDS = {
    "qemu-x86_64": {
        "modules": "i6300esb virtio_pci virtio_blk crc32c_generic ext4",
        "watchdog": "i6300esb",
        "qemu_watchdog": True,
        # 1 MiB at 128 MiB (of 256), kept from the kernel by memmap=.
        "ramoops": "memmap=1M$0x8000000 ramoops.mem_address=0x8000000 "
                   "ramoops.mem_size=0x100000 ramoops.record_size=0x10000",
    },
    "qemu-arm": {
        # QEMU's virt machine has no watchdog Debian's armhf kernel drives
        # (boards/qemu-arm/notes.md): the kernel's software watchdog, which
        # resets the board from a timer, stands in.
        "modules": "softdog virtio_mmio virtio_blk crc32c_generic ext4",
        "watchdog": "softdog",
        "qemu_watchdog": False,
        "ramoops": None,  # no pstore in the armmp kernel
    },
}


def table(board):
    """The table of every boot of this file."""
    plan = BOARDS[board]
    return f"""\
# tests/boot/test_watchdog.py: a watchdog, a disk and the kept evidence.
[tend]
watchdog = /dev/watchdog
watchdog-timeout = {TIMEOUT_S}s
watchdog-grace = {GRACE_S}s
keep = /keep

[disk]
# Loads the drivers and mounts the disk on /keep (tend opens the watchdog
# and /keep once this is done), waiting a little for the disk should it
# show up after its driver loaded. A file `crash` on the disk makes the
# critical service crash on this boot only: it is removed first.
type = oneshot
run = /bin/sh -c 'set -e; modprobe -a {plan["modules"]}; if grep -q ramoops /proc/cmdline; then modprobe ramoops; fi; i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; mkdir -p /keep; mount -t ext4 /dev/vda /keep; if [ -e /keep/crash ]; then rm /keep/crash; sync; : >/run/crash; fi'

[{CRITICAL}]
# Critical: while it is not up the board must reset after watchdog-grace.
run = /bin/sh -c 'if [ -e /run/crash ]; then echo "{CRASH_LINE}" >&2; exit 1; fi; exec sleep 1000000'
critical = yes
after = disk

[console]
run = /bin/cttyhack /bin/sh -l
stop-signal = HUP
console = yes
"""


class DogBoard:
    """The watchdog boots of one board (the context test_boot's Boot wants:
    board, report, verbose)."""

    def __init__(self, board, report, verbose):
        self.board, self.report, self.verbose = board, report, verbose
        self.plan = BOARDS[board]
        self.out = REPO / "target" / "qemu" / board
        self.table = self.out / "watchdog.conf"

    # --- set-up on the host ---

    def disk(self, label, crash=False):
        """A fresh 8 MiB ext4 image for one boot (with a journal: the guest
        is reset while the disk is mounted), made without mounting;
        with crash, it holds the file that makes the critical service crash."""
        img = self.out / f"keep-{label}.img"
        img.unlink(missing_ok=True)
        with tempfile.TemporaryDirectory() as d:
            if crash:
                open(os.path.join(d, "crash"), "w").close()
            r = subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", "keep", "-d", d,
                                str(img), "8M"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"mke2fs {img}: {r.stdout}")
        return img

    def boot(self, label, planned, crash=False, append=None):
        self.out.mkdir(parents=True, exist_ok=True)
        self.table.write_text(table(self.board))
        extra = ["--table", str(self.table), "--reset", "--disk", str(self.disk(label, crash))]
        if self.plan["qemu_watchdog"]:
            extra.append("--watchdog")
        if append:
            extra += ["--append", append]
        return Boot(self, f"watchdog-{label}", planned, extra=extra)

    # --- on the console ---

    def healthy(self, con, deadline_s=60):
        """Waits (from a fresh boot) until the oneshot is done, the critical
        service up and tend feeds the watchdog; returns the guest's uptime
        then and what status said of the watchdog."""
        con.expect(r"Run /\S+ as init process", tb.BOOT_TIMEOUT)
        con.wait_prompt(tb.STEP_TIMEOUT)
        prompt = False  # just seen
        deadline = time.monotonic() + deadline_s
        while True:
            _, out = con.run("tend status;cat /proc/uptime", prompt=prompt)
            prompt = True
            rows = parse_status(out)
            dog = watchdog_line(out)
            up = uptime(out)
            if (rows.get("disk", {}).get("state") == "done"
                    and rows.get(CRITICAL, {}).get("state") == "up"
                    and dog and dog.startswith("watchdog: fed every ") and up is not None):
                return up, dog
            need(rows.get("disk", {}).get("state") != "failed",
                 f"the oneshot that loads the modules and mounts the disk failed:\n{out}")
            need(time.monotonic() < deadline,
                 f"not healthy {deadline_s}s after the prompt (disk done, {CRITICAL} up, "
                 f"watchdog fed):\n{out}")
            con.drain(0.5)

    def last_boot(self, con):
        """`tend last-boot`: (exit status, its lines without tend's console
        messages and the kernel's lines, all it printed)."""
        code, out = con.run("tend last-boot")
        lines = [ln for ln in out.splitlines()
                 if not ln.startswith("tend: ") and not re.match(r"\[\s*\d+\.\d{6}\] ", ln)]
        return code, lines, out

    def poweroff(self, con):
        con.send("poweroff")
        con.expect(r"tend: stopping every service to power off", tb.STEP_TIMEOUT)
        con.expect(r"reboot: Power down", tb.STEP_TIMEOUT)
        code = con.wait_exit(tb.STEP_TIMEOUT)
        need(code == 0, f"QEMU exited {code}")
        return "poweroff: QEMU exited 0"

    # --- the boots ---

    def healthy_boot(self):
        with self.boot("healthy", PLANNED["healthy"]) as b:
            con = b.con

            def fed():
                armed, dog = self.healthy(con)
                _, out = con.run("cat /sys/class/watchdog/watchdog0/timeout")
                need(re.search(rf"^{TIMEOUT_S}$", out, re.M),
                     f"the driver's timeout is {out.strip()!r}, not the {TIMEOUT_S} tend asked for")
                # Three timeouts on the guest's clock: an unfed watchdog
                # would have reset the board by then.
                until = armed + 3 * TIMEOUT_S
                deadline = time.monotonic() + 3 * TIMEOUT_S * 4 + 30
                while True:
                    _, out = con.run("cat /proc/uptime")
                    up = uptime(out)
                    need(len(re.findall(KERNEL_START, con.text)) == 1,
                         "the board reset although tend fed the watchdog")
                    if up is not None and up >= until:
                        break
                    need(time.monotonic() < deadline, f"the guest's clock is stuck at {up}")
                    con.drain(1)
                _, out = con.run("tend status")
                dog = watchdog_line(out)
                need(dog and dog.startswith("watchdog: fed every "),
                     f"the first line of tend status is {dog!r}:\n{out}")
                rows = parse_status(out)
                need(rows.get(CRITICAL, {}).get("state") == "up", f"{CRITICAL} is not up:\n{out}")
                return (f"{self.plan['watchdog']}: no reset in {up - armed:.0f}s of guest time "
                        f"({TIMEOUT_S}s timeout, set in the driver); status says {dog!r}")
            b.check("fed", fed)

            def reboot():
                con.send("reboot")
                con.expect(r"tend: stopping every service to reboot", tb.STEP_TIMEOUT)
                con.expect(r"reboot: Restarting system", tb.STEP_TIMEOUT)
                con.expect(KERNEL_START, tb.BOOT_TIMEOUT)
                self.healthy(con)
                return "orderly reboot; the guest booted again, healthy, fed"
            b.check("reboot", reboot)

            def last_reboot():
                code, lines, out = self.last_boot(con)
                need(code == 0, f"tend last-boot exited {code}:\n{out}")
                need(lines and lines[0] == "reboot",
                     f"the first line of tend last-boot is not `reboot`:\n{out}")
                return "tend last-boot: reboot"
            b.check("last-reboot", last_reboot)

            b.check("poweroff", lambda: self.poweroff(con))

    def reset_boot(self):
        with self.boot("reset", PLANNED["reset"], crash=True) as b:
            con = b.con
            when = {}

            def letgo():
                con.expect(r"Run /\S+ as init process", tb.BOOT_TIMEOUT)
                m = con.expect(rf"watchdog: letting the board reset: {CRITICAL} not up for "
                               rf"{GRACE_S}s", tb.BOOT_TIMEOUT)
                when["letgo"] = con.arrival(m.start())
                return f"tend: {m.group(0)} ({when['letgo']:.1f}s after QEMU started)"
            b.check("letgo", letgo)

            def reset():
                start = con.pos
                m = con.expect(KERNEL_START, 120)
                took = con.arrival(m.start()) - when["letgo"]
                between = con.text[start:m.start()]
                need("reboot: Restarting system" not in between,
                     f"an orderly reboot, not a watchdog reset:\n{between[-2000:]}")
                return (f"{self.plan['watchdog']} reset the board: the second kernel's first "
                        f"line came {took:.1f}s after tend let go (host clock; timeout {TIMEOUT_S}s)")
            b.check("reset", reset)

            def second_boot():
                _, dog = self.healthy(con)
                return f"no crash loop: {CRITICAL} up, {dog!r}"
            b.check("second-boot", second_boot)

            def last_reset():
                code, lines, out = self.last_boot(con)
                need(code == 0, f"tend last-boot exited {code}:\n{out}")
                need(lines and lines[0] == f"watchdog: {CRITICAL} not up for {GRACE_S}s",
                     f"the first line of tend last-boot is not "
                     f"`watchdog: {CRITICAL} not up for {GRACE_S}s`:\n{out}")
                # The crash record: a header naming the service, then its
                # stamped lines.
                need(re.search(rf"^(?![ \t]*\[)[^\n]*\b{CRITICAL}\b[^\n]*\n(?:{STAMPED}[^\n]*\n)*"
                               rf"{STAMPED}{re.escape(CRASH_LINE)}$", out, re.M),
                     f"no crash record of {CRITICAL} with its line {CRASH_LINE!r}:\n{out}")
                return f"tend last-boot: {lines[0]!r}, and {CRITICAL}'s crash record"
            b.check("last-reset", last_reset)

            b.check("poweroff-2", lambda: self.poweroff(con))

    def panic_boot(self):
        with self.boot("panic", PLANNED["panic"], append=self.plan["ramoops"]) as b:
            con = b.con
            dump = {}

            def panic():
                self.healthy(con)
                _, out = con.run("dmesg|grep 'ramoops: using'")
                need("ramoops: using" in out, f"ramoops did not load:\n{out}")
                con.watch_panics = False  # this one is on purpose
                con.send("echo c > /proc/sysrq-trigger")
                con.expect(re.escape(PANIC_LINE), tb.STEP_TIMEOUT)
                con.expect(KERNEL_START, tb.STEP_TIMEOUT)
                self.healthy(con)
                return "sysrq crash: kernel panic, and the guest booted again"
            b.check("panic", panic)

            def pstore():
                # tend moved the panic's log out of pstore into the keep
                # directory when it opened it (once the oneshot had loaded
                # ramoops and mounted the disk), and removed it from pstore,
                # so that it is shown once.
                _, mounts = con.run("grep pstore /proc/mounts")
                dump["by_pid1"] = " /sys/fs/pstore pstore " in mounts
                _, out = con.run("ls /keep /sys/fs/pstore")
                need("last-panic" in out.split(),
                     f"no /keep/last-panic: the panic's log was not kept:\n{out}")
                need(not re.search(r"^dmesg-ramoops-\d+", out, re.M),
                     f"the panic's log is still in /sys/fs/pstore:\n{out}")
                return "the panic's log moved from /sys/fs/pstore to /keep/last-panic"
            b.check("pstore", pstore)

            def pid1_pstore():
                need(dump.get("by_pid1"), "PID 1 did not mount pstore on /sys/fs/pstore")
                return "PID 1 mounted pstore on /sys/fs/pstore"
            b.check("pid1-pstore", pid1_pstore)

            def last_panic():
                code, lines, out = self.last_boot(con)
                need(code == 0, f"tend last-boot exited {code}:\n{out}")
                need(lines and lines[0] == UNKNOWN_END,
                     f"the first line of tend last-boot is not `{UNKNOWN_END}`:\n{out}")
                raw = out.splitlines()
                head = next((i for i, ln in enumerate(raw)
                             if re.match(r"pstore dmesg-ramoops-\d+:$", ln)), None)
                need(head is not None, f"no pstore section:\n{out}")
                need(any(PANIC_LINE in ln for ln in raw[head + 1:]),
                     f"the pstore section lacks {PANIC_LINE!r}:\n{out}")
                return f"tend last-boot: unknown end, and the panic's last lines ({raw[head]!r})"
            b.check("last-panic", last_panic)

            b.check("poweroff-3", lambda: self.poweroff(con))

    def check_table(self):
        """The table must load (`tend check`, with the x86_64 build, which
        runs here): else every boot would get the rescue shell."""
        self.out.mkdir(parents=True, exist_ok=True)
        self.table.write_text(table(self.board))
        tend = next((c for c in [REPO / "target" / "x86_64-unknown-linux-musl" / "release" / "tend",
                                 REPO / "target" / "release" / "tend"] if c.exists()), None)
        if tend is None:
            self.report.add(self.board, "table", True, "not checked: no x86_64 build of tend here")
            return True
        r = subprocess.run([str(tend), "check", str(self.table)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30)
        self.report.add(self.board, "table", r.returncode == 0,
                        "the watchdog table loads (tend check)" if r.returncode == 0
                        else f"tend check {self.table.relative_to(REPO)} exited "
                             f"{r.returncode}:\n{r.stdout.strip()}")
        return r.returncode == 0

    def boots(self):
        boots = [("healthy", self.healthy_boot), ("reset", self.reset_boot)]
        if self.plan["ramoops"]:
            boots.append(("panic", self.panic_boot))
        if not self.check_table():
            for label, _ in boots:
                for name in PLANNED[label]:
                    self.report.add(self.board, name, False, "not reached: the table does not load")
            return
        for _, run in boots:
            run()

    # qemu/build, reported as the boot tests report it.
    build = tb.Board.build


def watchdog_line(out):
    """The first line `tend status` printed (tend's console messages and the
    kernel's lines aside)."""
    for ln in out.splitlines():
        if ln.startswith("tend: ") or re.match(r"\[\s*\d+\.\d+\] ", ln) or not ln.strip():
            continue
        return ln.strip()
    return None


def uptime(out):
    m = re.search(r"^(\d+\.\d+) \d+\.\d+$", out, re.M)
    return float(m.group(1)) if m else None


def main():
    ap, args = tb.board_args(__doc__, DEFAULT_BOARDS)
    unknown = [b for b in args.boards if b not in BOARDS]
    if unknown:
        ap.error(f"no watchdog plan for {', '.join(unknown)} (boards: {', '.join(BOARDS)})")
    report = tb.Report()
    t0 = time.monotonic()
    boards = [DogBoard(b, report, args.verbose) for b in args.boards]
    if not shutil.which("mke2fs"):
        # qemu/fetch installs it (e2fsprogs).
        subprocess.run([str(REPO / "qemu" / "fetch"), *args.boards], check=False)
    if not args.no_build:
        boards = [bd for bd in boards if bd.build()]
    tb.boot_all(boards, report)
    passed = sum(1 for r in report.results if r[2])
    failed = len(report.results) - passed
    report.say(f"\nwatchdog boot tests took {time.monotonic() - t0:.0f}s; "
               "transcripts in target/qemu/BOARD/logs/watchdog-*.log")
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed or not report.results else 0


if __name__ == "__main__":
    sys.exit(main())
