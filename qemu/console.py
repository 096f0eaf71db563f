"""Drive a QEMU guest's serial console from Python (standard library only).

    from console import Console
    with Console(["qemu/boot", "qemu-x86_64", "--no-build"], name="x86") as con:
        con.expect(r"Run /init as init process", timeout=60)
        status, out = con.run("tend status")
        con.send("poweroff")
        con.wait_exit(60)

QEMU runs as a child with its serial console (`-serial stdio`) on our pipes.
Everything it prints is kept: `raw` (bytes as they came) and `text` (the
same with carriage returns and terminal escape sequences removed, which is
what `expect` searches). `expect` moves a cursor forward through `text`, so
each call only sees output that came after what the previous call matched.

Typing: `send` first waits for the shell prompt (input typed before the
guest opens its console is lost), refuses lines that BusyBox's shell would
wrap (it assumes 80 columns), and types in small chunks. `run` types a
command followed by `;echo @@$?` and returns its exit status and output.

A kernel panic ("Kernel panic", "Attempted to kill init") is noticed as soon
as it is printed and raised as KernelPanic, with the transcript; a test that
panics the guest on purpose sets `watch_panics = False` first. QEMU is
always killed at the end (`close`, or leaving the `with` block).
"""

import atexit
import bisect
import codecs
import os
import re
import select
import signal
import subprocess
import threading
import time

PANIC = re.compile(r"Kernel panic - not syncing|Attempted to kill init")
# The boards' shells print `[HOSTNAME DIR]# ` (PS1='[\h \w]\$ ').
PROMPT = re.compile(r"\[[\w.-]+ [^\]\n]*\][#$] ")
# ESC [ params final | ESC ( X | other two-byte escapes.
_ESC = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|[()][0-9A-Za-z]|[^\[()])")
_JUNK = re.compile(r"[\r\x07\x00]")
COLUMNS = 80


# Every QEMU still running when Python exits (ctrl-C, an uncaught error) is
# killed: a test run never leaves one behind.
_live = set()
_live_lock = threading.Lock()
_closing = False


def kill_all():
    """Kills every QEMU still running; no new one can start after it."""
    global _closing
    with _live_lock:
        _closing = True  # and no new QEMU from another thread from now on
        live = list(_live)
    for con in live:
        con.close()


atexit.register(kill_all)


class ConsoleError(Exception):
    """Something went wrong on the console; `transcript` holds all of it."""

    def __init__(self, message, console):
        super().__init__(message)
        self.transcript = console.text if console else ""
        self.console = console

    def tail(self, lines=60):
        return "\n".join(self.transcript.splitlines()[-lines:])


class Timeout(ConsoleError):
    pass


class KernelPanic(ConsoleError):
    pass


class Exited(ConsoleError):
    """QEMU exited (or closed its output) while we still expected something."""


class Console:
    def __init__(self, argv, name="guest", log_path=None, echo=None, prompt=PROMPT, env=None):
        self.name = name
        self.prompt = prompt
        self.log_path = log_path
        self.echo = echo  # a callable that gets each cleaned chunk, for live output
        self.raw = bytearray()
        self.text = ""
        self.pos = 0
        self.panic = None
        self.watch_panics = True  # raise KernelPanic on a panic line
        self.eof = False
        self.returncode = None
        self._pending = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._arrivals = []  # (len(text) after a chunk, seconds since start)
        self._prompt_text = ""
        self.t0 = time.monotonic()
        with _live_lock:
            if _closing:
                raise RuntimeError("Python is exiting: no new QEMU")
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
            _live.add(self)
        os.set_blocking(self.proc.stdout.fileno(), False)

    # --- reading -------------------------------------------------------------

    def elapsed(self):
        """Seconds since QEMU was started."""
        return time.monotonic() - self.t0

    def arrival(self, pos):
        """When (seconds since start) the text at position `pos` arrived."""
        i = bisect.bisect_right([n for n, _ in self._arrivals], pos)
        if i >= len(self._arrivals):
            return self.elapsed()
        return self._arrivals[i][1]

    def _clean(self, chunk):
        s = self._pending + chunk
        self._pending = ""
        cut = s.rfind("\x1b")
        if cut >= 0 and len(s) - cut < 32 and not _ESC.match(s, cut):
            self._pending, s = s[cut:], s[:cut]
        return _JUNK.sub("", _ESC.sub("", s))

    def _read(self, timeout):
        """Reads what QEMU printed within `timeout` seconds; False at EOF."""
        if self.eof:
            return False
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
        if not ready:
            return True
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return True
        if not data:
            self.eof = True
            self._pending = ""
            try:
                self.returncode = self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            return False
        self.raw += data
        new = self._clean(self._decoder.decode(data))
        if new:
            start = max(0, len(self.text) - 40)
            self.text += new
            self._arrivals.append((len(self.text), self.elapsed()))
            if self.echo:
                self.echo(new)
            if self.panic is None and self.watch_panics:
                m = PANIC.search(self.text, start)
                if m:
                    self.panic = m.start()
        return True

    def _check_panic(self):
        if self.panic is None:
            return
        # Let the rest of the panic message arrive (QEMU exits: panic=-1).
        end = time.monotonic() + 3
        while not self.eof and time.monotonic() < end:
            self._read(end - time.monotonic())
        line = self.text[self.panic:].split("\n", 1)[0]
        raise KernelPanic(f"{self.name}: kernel panic: {line}", self)

    def expect(self, pattern, timeout=30):
        """Waits until `pattern` (a regex, str or compiled) appears after the
        cursor; moves the cursor past the match and returns it."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            self._check_panic()
            m = rx.search(self.text, self.pos)
            if m:
                self.pos = m.end()
                return m
            if self.eof:
                raise Exited(f"{self.name}: QEMU exited (status {self.returncode}) "
                             f"while waiting for {rx.pattern!r}", self)
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout(f"{self.name}: no {rx.pattern!r} within {timeout:g}s", self)
            self._read(min(left, 0.5))

    def drain(self, seconds):
        """Reads for `seconds` without expecting anything."""
        end = time.monotonic() + seconds
        while not self.eof and time.monotonic() < end:
            self._read(end - time.monotonic())
        self._check_panic()

    # --- typing ----------------------------------------------------------------

    def wait_prompt(self, timeout=30):
        m = self.expect(self.prompt, timeout)
        self._prompt_text = m.group(0)
        return m

    def type(self, data, chunk=8, pause=0.02):
        """Types `data` as is, a few bytes at a time."""
        b = data.encode()
        for i in range(0, len(b), chunk):
            try:
                self.proc.stdin.write(b[i:i + chunk])
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError):
                self.drain(1)
                raise Exited(f"{self.name}: QEMU is gone; cannot type", self) from None
            # Keep reading while typing, so QEMU never blocks on its output.
            self._read(pause)

    def send(self, line, prompt=True, timeout=30):
        """Waits for the prompt (unless prompt=False), then types `line` and
        Enter. Refuses a line BusyBox's shell would wrap."""
        if prompt:
            self.wait_prompt(timeout)
        width = len(self._prompt_text) + len(line)
        if width >= COLUMNS:
            raise ValueError(f"{line!r} would wrap at {COLUMNS} columns; keep commands short")
        self.type(line + "\r")

    def run(self, command, timeout=30, prompt=True):
        """Runs a shell command at the prompt; returns (exit status, output).
        The output is everything printed between the command's echo and its
        end, tend's own console messages included. prompt=False: the prompt
        was just matched (by wait_prompt), type at once."""
        self.send(command + ";echo @@$?", prompt=prompt, timeout=timeout)
        start = self.pos
        # The status ends its line, unless a kernel message printed on the
        # console at that moment follows it on the same line.
        m = self.expect(r"@@(\d+)(?:\n|(?=\[\s*\d+\.\d+\] ))", timeout)
        out = self.text[start:m.start()]
        # Drop the echo of the typed line (up to the first newline).
        echo_end = out.find("\n")
        out = out[echo_end + 1:] if echo_end >= 0 else ""
        return int(m.group(1)), out

    # --- the end -----------------------------------------------------------------

    def wait_exit(self, timeout=60):
        """Waits for QEMU to exit on its own; returns its exit status."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout(f"{self.name}: QEMU still running after {timeout:g}s", self)
            self._read(min(left, 0.5))
        self._check_panic()
        try:
            self.returncode = self.proc.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise Timeout(f"{self.name}: QEMU closed its output but did not exit", self) from None
        return self.returncode

    def close(self):
        """Kills QEMU (its whole process group) if it still runs, and writes
        the transcript to log_path."""
        _live.discard(self)
        if self.proc.stdout.closed:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        if self.returncode is None:
            self.returncode = self.proc.returncode
        if self.log_path:
            os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
            with open(self.log_path, "wb") as f:
                f.write(bytes(self.raw))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
