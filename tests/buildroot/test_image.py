#!/usr/bin/env python3
"""Boots the Buildroot image that tests/buildroot/image built and checks it
from the serial console, as a person would.

    python3 tests/buildroot/test_image.py [--arch arm|x86_64] [--out DIR] [-v]

DIR is Buildroot's output directory (default target/buildroot-image/ARCH/out):
its images/rootfs.cpio.gz is the initramfs, its target/etc/tend.conf the
table the checks expect. The kernel is Debian's (qemu/fetch BOARD), under
QEMU with TCG, the console on the machine's first serial line:

  arm       armmp kernel (board qemu-arm), qemu-system-arm -M virt, ttyAMA0
  x86_64    amd64 kernel (board qemu-x86_64), qemu-system-x86_64 -M pc, ttyS0

Checks, in one boot:

  getty     the getty Buildroot generated for that line prints its login
            prompt; tend said it supervises the image's services
  login     root logs in on it (Buildroot's empty root password)
  files     /sbin/init -> /usr/bin/tend; the binary and the table are
            root's, with the modes the package installs
  status    `tend status`: every service as the table wants it, exit 0
  log       `tend log tend`: tend's own lines, stamped
  restart   a daemon killed from the console comes back with a new pid
  check     `tend check /etc/tend.conf` on the device: ok, exit 0
  rss       tend's resident memory as PID 1
  poweroff  BusyBox poweroff: services stopped in reverse dependency
            order, the kernel powers down, QEMU exits 0

Prints one line per check, the boot figures, then `N passed, N failed`.
The transcript: DIR/../boot.log.
"""

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.dont_write_bytecode = True
sys.path.insert(0, str(REPO / "qemu"))
sys.path.insert(0, str(REPO / "tests" / "boot"))
import console as cons  # noqa: E402
from test_boot import (Failed, killed_comes_back, need, parse_status,  # noqa: E402
                       poweroff_in_order, read_table_file, wanted_state)

BOOT_TIMEOUT = 120
STEP_TIMEOUT = 60
VICTIM = "syslogd"


# What each architecture's image boots on: the qemu/ board whose Debian
# kernel it takes, the machine, and the serial line the console and the
# getty are on (the fragment's BR2_TARGET_GENERIC_GETTY_PORT).
ARCHES = {
    "arm": {"board": "qemu-arm", "console": "ttyAMA0",
            "qemu": ["qemu-system-arm", "-accel", "tcg", "-M", "virt", "-cpu", "cortex-a15"]},
    "x86_64": {"board": "qemu-x86_64", "console": "ttyS0",
               "qemu": ["qemu-system-x86_64", "-accel", "tcg", "-M", "pc"]},
}


def board_kernel(board):
    """Debian's kernel of a qemu/ board, fetched by qemu/fetch."""
    subprocess.run([str(REPO / "qemu" / "fetch"), board], check=True,
                   stdout=subprocess.DEVNULL)
    out = subprocess.run(["bash", "-c", '. qemu/lib.sh && load_board "$1" && echo "$KERNEL"', "-", board],
                         cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()
    return Path(out)


class Run:
    def __init__(self, arch, out_dir, verbose):
        self.out = out_dir
        self.arch = ARCHES[arch]
        self.tty = self.arch["console"]
        self.table = read_table_file(out_dir / "target" / "etc" / "tend.conf")
        self.results = []
        self.figures = {}
        initrd = out_dir / "images" / "rootfs.cpio.gz"
        if not initrd.is_file():
            raise SystemExit(f"test_image: no {initrd}: run tests/buildroot/image first")
        kernel = board_kernel(self.arch["board"])
        argv = self.arch["qemu"] + ["-m", "256", "-display", "none", "-serial", "stdio", "-no-reboot",
                                    "-nodefaults", "-kernel", str(kernel), "-initrd", str(initrd),
                                    "-append", f"console={self.tty} panic=-1"]
        echo = (lambda t: print(t, end="", flush=True)) if verbose else None
        self.con = cons.Console(argv, name="buildroot-" + arch, log_path=str(out_dir.parent / "boot.log"),
                                echo=echo)
        self.dead = None

    def check(self, name, fn):
        if self.dead:
            self.results.append((name, False, f"not reached: {self.dead}"))
        else:
            try:
                self.results.append((name, True, fn() or ""))
            except Failed as e:
                self.results.append((name, False, str(e)))
            except (cons.ConsoleError, ValueError) as e:
                self.dead = str(e).splitlines()[0]
                tail = e.tail(40) if isinstance(e, cons.ConsoleError) else ""
                self.results.append((name, False, f"{e}\n{tail}"))
        name, ok, detail = self.results[-1]
        first, *rest = detail.splitlines() or [""]
        print(f"{'ok  ' if ok else 'FAIL'} {name:<10} {first}", flush=True)
        for line in rest:
            print(f"     {'':<10} {line}", flush=True)

    def status(self, *args):
        code, out = self.con.run("tend status" + "".join(" " + a for a in args), STEP_TIMEOUT)
        return code, out, parse_status(out)

    def all(self):
        con = self.con

        def getty():
            m = con.expect(r"\[\s*(\d+\.\d+)\] Run /init as init process", BOOT_TIMEOUT)
            self.figures["init_kernel"] = float(m.group(1))
            m = con.expect(r"tend: supervising (\d+) services? from /etc/tend.conf", STEP_TIMEOUT)
            need(int(m.group(1)) == len(self.table),
                 f"tend supervises {m.group(1)} services, the image's table has {len(self.table)}")
            m = con.expect(r"\n(\S+) login: ", STEP_TIMEOUT)
            self.figures["login_host"] = con.arrival(m.end() - 1)
            return f"'{m.group(1)} login:' on {self.tty}, {con.elapsed():.1f}s after QEMU started"
        self.check("getty", getty)

        def login():
            con.type("root\r")
            con.expect(r"\n# $", STEP_TIMEOUT)
            # The boards' prompt, which console.py knows how to wait for.
            con.type("export PS1='[\\h \\w]\\$ '\r")
            con.wait_prompt(STEP_TIMEOUT)
            code, out = con.run("id -u;tty", prompt=False)
            need(code == 0 and re.search(r"^0$", out, re.M), f"not root:\n{out}")
            return "root, no password (Buildroot's default), on " + out.split()[-1]
        self.check("login", login)

        def files():
            _, out = con.run("readlink /sbin/init")
            _, more = con.run("ls -ln /usr/bin/tend /etc/tend.conf")  # no stat in it
            out += more
            need(re.search(r"^/usr/bin/tend$", out, re.M), f"/sbin/init is not a link to /usr/bin/tend:\n{out}")
            need(re.search(r"^-rwxr-xr-x +\d+ 0 +0 .* /usr/bin/tend$", out, re.M), f"/usr/bin/tend:\n{out}")
            need(re.search(r"^-rw-r--r-- +\d+ 0 +0 .* /etc/tend.conf$", out, re.M), f"/etc/tend.conf:\n{out}")
            return "/sbin/init -> /usr/bin/tend (755 root:root), /etc/tend.conf 644 root:root"
        self.check("files", files)

        def status():
            want = {n: wanted_state(s) for n, s in self.table.items()}
            deadline = time.monotonic() + STEP_TIMEOUT
            while True:
                code, out = con.run("tend status;echo @$?;cat /proc/uptime")
                rows = parse_status(out)
                up = re.search(r"^(\d+\.\d+) \d+\.\d+$", out, re.M)
                if rows and "status_guest" not in self.figures and up:
                    self.figures["status_guest"] = float(up.group(1))
                    self.figures["status_host"] = con.arrival(con.pos - 1)
                if rows and all(rows.get(n, {}).get("state") == s for n, s in want.items()):
                    break
                need(time.monotonic() < deadline,
                     f"not as wanted after {STEP_TIMEOUT}s:\n{out}")
                con.drain(0.3)
            need(list(rows) == list(self.table), f"order {list(rows)} != table {list(self.table)}")
            m = re.search(r"^@(\d+)$", out, re.M)
            need(m and m.group(1) == "0", f"tend status exited {m and m.group(1)}, not 0")
            return ", ".join(f"{n} {r['state']}" for n, r in rows.items()) + "; exit 0"
        self.check("status", status)

        def log():
            code, out = con.run("tend log tend")
            need(code == 0, f"tend log tend exited {code}")
            lines = re.findall(r"^\[\s*\d+\.\d{3}\] .*$", out, re.M)
            need(any("supervising" in ln for ln in lines), f"no stamped 'supervising' line:\n{out}")
            return f"{len(lines)} stamped lines of tend's own"
        self.check("log", log)

        def restart():
            old, new = killed_comes_back(con, self.status, VICTIM, "KILL")
            return f"killed {VICTIM} (pid {old['pid']}); back as pid {new['pid']}, LAST EXIT {new['last']}"
        self.check("restart", restart)

        def check():
            code, out = con.run("tend check /etc/tend.conf")
            need(code == 0, f"tend check exited {code}:\n{out}")
            need(re.search(rf"^/etc/tend.conf: ok, {len(self.table)} services$", out, re.M), out)
            return out.strip().splitlines()[-1]
        self.check("check", check)

        def rss():
            _, out = con.run("grep VmRSS /proc/1/status")
            m = re.search(r"VmRSS:\s+(\d+) kB", out)
            need(m, f"no VmRSS in {out!r}")
            self.figures["vmrss_kb"] = int(m.group(1))
            need(int(m.group(1)) < 2048, f"tend's RSS as PID 1 is {m.group(1)} kB")
            return f"tend as PID 1: VmRSS {m.group(1)} kB"
        self.check("rss", rss)

        self.check("poweroff", lambda: poweroff_in_order(con, self.table))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", choices=sorted(ARCHES), default="arm")
    ap.add_argument("--out", help="default: target/buildroot-image/ARCH/out")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    out = Path(args.out or REPO / "target" / "buildroot-image" / args.arch / "out")
    run = Run(args.arch, out.resolve(), args.verbose)
    try:
        run.all()
    finally:
        run.con.close()
    f = run.figures
    if "status_guest" in f:
        print(f"figures ({args.arch}): /init at {f['init_kernel']:.2f}s (kernel clock); first working `tend status` "
              f"at {f['status_guest']:.2f}s of guest uptime, {f['status_host']:.1f}s after QEMU "
              f"started; tend's VmRSS as PID 1 {f.get('vmrss_kb', '?')} kB")
    passed = sum(1 for _, ok, _ in run.results if ok)
    print(f"{passed} passed, {len(run.results) - passed} failed", flush=True)
    return 0 if passed == len(run.results) else 1


if __name__ == "__main__":
    sys.exit(main())
