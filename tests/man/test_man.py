#!/usr/bin/env python3
"""The man pages, man/tend.8 and man/tend.conf.5, against the code.

    python3 tests/man/test_man.py [-k SUBSTRING]...

The pages are the user contract inside the repository; these checks keep
them true to the code, in both directions:
- every key the table parser accepts (read from src/table.rs and
  src/table/, not from a list kept here) has an entry in tend.conf(5); every
  key an entry documents is accepted by `tend check`, or the entry says
  "Not yet implemented" and `tend check` refuses it as an unknown key;
- the same for the [tend] section, the commands the CLI takes (src/cli.rs,
  src/proto.rs) and their options in tend(8), the states
  (src/service.rs), the `status --json` fields (src/status.rs), the exit
  statuses and the signals the supervisor takes;
- both pages render with groff and `man -l` without a single warning, and
  their NAME lines are what whatis/apropos read;
- no file of the repository cites DESIGN, a document outside it.

Needs python3 and groff (groff-base; scripts/setup installs it), and the
release binary (built with cargo when target/release/tend is missing).
Prints one line per check, then `N passed, N failed`.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
MAN8 = REPO / "man" / "tend.8"
MAN5 = REPO / "man" / "tend.conf.5"
SRC = REPO / "src"
NYI = "Not yet implemented"

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def read(path):
    return Path(path).read_text()


# --- roff ---------------------------------------------------------------

def plain(text):
    """roff source as the words a reader sees: escapes and macros gone."""
    text = re.sub(r"\\f[BIRP]|\\f\(..|\\f\[[^]]*\]", "", text)
    for esc, ch in (("\\-", "-"), ("\\(dq", '"'), ("\\(aq", "'"), ("\\(bu", "*"),
                    ("\\(em", "--"), ("\\e", "\\"), ("\\&", ""), ("\\|", ""),
                    ("\\:", ""), ("\\c", "")):
        text = text.replace(esc, ch)
    out = []
    for line in text.split("\n"):
        if line.startswith('.\\"'):
            continue
        m = re.match(r"\.(B|I|BI|IB|BR|RB|IR|RI)\s+(.*)$", line)
        if m:
            args = [a or b for a, b in re.findall(r'"([^"]*)"|(\S+)', m.group(2))]
            # .B and .I join their words with blanks; the others alternate
            # fonts between words that touch.
            line = (" " if m.group(1) in ("B", "I") else "").join(args)
        elif line.startswith("."):
            continue
        out.append(line)
    return "\n".join(out)


def sections(path):
    """{SECTION: roff source of it} for .SH, and {"SECTION/SUB": …} for .SS."""
    found, name, sub = {}, None, None
    for line in read(path).split("\n"):
        m = re.match(r'\.SH\s+"?(.*?)"?$', line)
        if m:
            name, sub = m.group(1), None
            found[name] = ""
            continue
        m = re.match(r'\.SS\s+"?(.*?)"?$', line)
        if m and name:
            sub = name + "/" + m.group(1)
            found[sub] = ""
            continue
        if name:
            found[name] += line + "\n"
            if sub:
                found[sub] += line + "\n"
    return found


def entries(src):
    """The .TP entries of some roff source: [(tags, body)], each tag and the
    body as plain text. Tags joined with .TQ share one body."""
    lines = src.split("\n")
    out = []
    i = 0
    while i < len(lines):
        if lines[i].startswith(".TP"):
            tags = [plain(lines[i + 1]).strip()]
            i += 2
            while i < len(lines) and lines[i].startswith(".TQ"):
                tags.append(plain(lines[i + 1]).strip())
                i += 2
            body = []
            while i < len(lines) and not re.match(r"\.(TP|SH|SS)\b", lines[i]):
                body.append(lines[i])
                i += 1
            out.append((tags, plain("\n".join(body)).strip()))
        else:
            i += 1
    return out


def not_yet(body):
    return body.startswith(NYI)


def words_in(text):
    return set(re.findall(r"[A-Za-z0-9_.-]+", text))


# --- the code -----------------------------------------------------------

def table_sources():
    files = [SRC / "table.rs"] + sorted((SRC / "table").glob("*.rs"))
    return "\n".join(read(f).split("#[cfg(test)]")[0] for f in files if f.exists())


def code_keys():
    """Every key the table parser accepts: the rows of its key table, the
    keys it compares `key` with, and the keys it matches on."""
    src = table_sources()
    keys = set()
    # The rows of section.rs's KEYS table: key(b"NAME", Key::…, …).
    keys |= set(re.findall(r'\bkey\(b"([^"]+)",\s*Key::', src))
    keys |= set(re.findall(r'\bkey\s*[!=]=\s*b"([^"]+)"', src))
    keys |= set(re.findall(r'Line::Pair\(b"([^"]+)"', src))
    pair = re.search(r"fn pair\(.*?\n    }\n", src, re.S)
    if pair:
        keys |= set(re.findall(r'^\s*b"([a-z][a-z-]*)"\s*=>', pair.group(0), re.M))
    assert "run" in keys and len(keys) >= 10, "cannot find the table's keys in src/table*: %s" % keys
    return keys


def code_commands():
    """(commands, options) the command line takes."""
    cli = read(SRC / "cli.rs")
    # Words are byte strings, alone (b"-c") or in a list that say::position
    # searches, each followed by a NUL (b"supervise\0check\0").
    def strings(text):
        return [w for lit in re.findall(r'b"([^"]*)"', text) for w in lit.split("\\0") if w]
    main = re.search(r"say::position\(\s*b\"([^\"]*)\",\s*cmd\s*\)", cli)
    assert main, "cannot find the commands (`say::position(b\"…\", cmd)`) in src/cli.rs"
    words = set(strings('b"%s"' % main.group(1)))
    verbs = re.search(r'const WORDS: &\[u8\] =\s*b"([^"]+)"', read(SRC / "proto.rs"))
    assert verbs, "cannot find the verbs (WORDS) in src/proto.rs"
    verbs = strings(verbs.group(0))
    assert "status" in verbs, "cannot find the verbs in src/proto.rs"
    words |= set(verbs)
    options = {w for w in strings(cli) if re.fullmatch(r"-[-a-z]+", w)}
    commands = {w for w in words if not w.startswith("-")}
    options |= {w for w in words if w.startswith("-")}
    assert {"supervise", "check", "status"} <= commands and "-c" in options, (commands, options)
    return commands, options


_BIN = []


def tend():
    """The release binary, built when missing."""
    if not _BIN:
        path = REPO / "target" / "release" / "tend"
        if not path.exists():
            subprocess.run(["cargo", "build", "--release", "--locked", "-q"], cwd=REPO, check=True)
        _BIN.append(str(path))
    return _BIN[0]


def check_table(text):
    """`tend check` of a table: (exit status, what it printed)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tend.conf"
        path.write_text(text)
        p = subprocess.run([tend(), "check", "-r", tmp, str(path)], capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout + p.stderr


def run_tend(*args):
    with tempfile.TemporaryDirectory() as tmp:
        env = {"PATH": os.environ.get("PATH", ""), "TEND_SOCKET": tmp + "/none.sock"}
        p = subprocess.run([tend(), *args], capture_output=True, text=True, env=env, timeout=30)
        return p.returncode, p.stdout + p.stderr


def doc_keys(section):
    """{key: body} of the entries of a tend.conf(5) section."""
    out = {}
    for tags, body in entries(sections(MAN5)[section]):
        for tag in tags:
            m = re.match(r"([a-z][a-z-]*) =", tag)
            assert m, "%s: an entry that is not `key = …`: %r" % (section, tag)
            out[m.group(1)] = body
    assert out, "no keys in tend.conf(5) %s" % section
    return out


def doc_commands():
    """{command: body} of the entries of tend(8) COMMANDS."""
    out = {}
    for tags, body in entries(sections(MAN8)["COMMANDS"]):
        for tag in tags:
            m = re.match(r"tend ([a-z][a-z-]*)", tag)
            assert m, "COMMANDS: an entry that is not `tend COMMAND`: %r" % tag
            out[m.group(1)] = (tag, body)
    return out


# --- the checks ---------------------------------------------------------

@test
def test_every_key_the_parser_accepts_is_documented():
    documented = doc_keys("SERVICE KEYS")
    missing = sorted(code_keys() - set(documented))
    assert not missing, "keys the parser accepts with no entry in tend.conf(5) SERVICE KEYS: %s" % missing
    wrong = sorted(k for k in code_keys() if not_yet(documented[k]))
    assert not wrong, "keys the parser accepts, marked %r in tend.conf(5): %s" % (NYI, wrong)


@test
def test_every_documented_key_is_what_tend_check_says():
    for key, body in sorted(doc_keys("SERVICE KEYS").items()):
        if key == "run":
            continue
        code, out = check_table("[a]\nrun = /bin/true\n%s = x\n" % key)
        unknown = 'unknown key "%s"' % key in out
        if not_yet(body):
            assert unknown and code == 1, "tend.conf(5) says %s is not implemented, but tend check says: %s" % (key, out)
        else:
            assert not unknown, "tend.conf(5) documents %s, but tend check says: %s" % (key, out)
    code, out = check_table("[a]\nrun = /bin/true\nno-such-key = x\n")
    assert code == 1 and 'unknown key "no-such-key"' in out, "an unknown key is not refused: %s" % out


@test
def test_the_tend_section_is_what_tend_check_says():
    src = sections(MAN5)["THE [tend] SECTION"]
    keys = doc_keys("THE [tend] SECTION")
    assert {"syslog", "watchdog", "keep"} <= set(keys), keys
    intro = plain(src.split(".TP")[0]).strip()
    for key in sorted(keys):
        code, out = check_table("[tend]\n%s = x\n\n[a]\nrun = /bin/true\n" % key)
        refused = code == 1 and ('reserved' in out or 'unknown key "%s"' % key in out)
        if not_yet(intro) or not_yet(keys[key]):
            assert refused, "tend.conf(5) says [tend] %s is not implemented, but tend check says: %s" % (key, out)
        else:
            assert 'unknown key' not in out and 'reserved' not in out, \
                "tend.conf(5) documents [tend] %s, but tend check says: %s" % (key, out)


@test
def test_every_command_is_documented():
    commands, _ = code_commands()
    documented = doc_commands()
    missing = sorted(commands - set(documented))
    assert not missing, "commands with no entry in tend(8) COMMANDS: %s" % missing
    synopsis = words_in(plain(sections(MAN8)["SYNOPSIS"]))
    assert not commands - synopsis, "commands missing from tend(8) SYNOPSIS: %s" % sorted(commands - synopsis)
    for cmd, (tag, body) in sorted(documented.items()):
        if not_yet(body):
            assert cmd not in commands, "tend(8) says `tend %s` is not implemented, but src/cli.rs takes it" % cmd
            code, out = run_tend(cmd)
            assert code == 100 and "unknown command" in out, "`tend %s`: %d %s" % (cmd, code, out)
        else:
            assert cmd in commands, "tend(8) documents `tend %s`, which src/cli.rs does not take" % cmd


@test
def test_every_option_is_documented():
    _, options = code_commands()
    documented = doc_commands()
    text = plain(sections(MAN8)["COMMANDS"])
    missing = sorted(o for o in options if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(o), text))
    assert not missing, "options src/cli.rs takes with no mention in tend(8) COMMANDS: %s" % missing
    for cmd, (tag, body) in documented.items():
        for opt in re.findall(r"\[(-[-a-z]+)", tag):
            if opt in options:
                continue
            assert re.search(r"%s:?\s+%s(?![\w-])" % (NYI, re.escape(opt)), body), \
                "tend(8) shows `tend %s %s`, which src/cli.rs does not take and the entry does not mark %r" % (cmd, opt, NYI)
            code, out = run_tend(cmd, "x", opt)
            assert code == 100, "`tend %s x %s` is not refused: %d %s" % (cmd, opt, code, out)


@test
def test_every_state_is_documented():
    states = set(re.findall(r'State::\w+ => b"([a-z]+)"', read(SRC / "service.rs")))
    assert "up" in states, "cannot find the state names in src/service.rs"
    documented = {t for tags, _ in entries(sections(MAN8)["STATES"]) for t in tags}
    assert states == documented, "states in src/service.rs %s, in tend(8) STATES %s" % (sorted(states), sorted(documented))


@test
def test_every_json_field_is_documented():
    fields = set(re.findall(r'\\"([a-z_]+)\\":', read(SRC / "status.rs")))
    assert {"name", "state", "last_crash"} <= fields, "cannot find the JSON fields in src/status.rs: %s" % fields
    src = sections(MAN8)["STATUS/JSON"]
    text = words_in(plain(src))
    assert not fields - text, "--json fields with no mention in tend(8) STATUS/JSON: %s" % sorted(fields - text)
    tags = {t for tags, _ in entries(src) for t in tags}
    assert not tags - fields, "tend(8) documents --json fields src/status.rs does not print: %s" % sorted(tags - fields)


@test
def test_every_exit_status_is_documented():
    # Every exit status is named in src/exit.rs; nothing else in src/
    # may return or reply with a bare number.
    codes = set(re.findall(r"pub const EXIT_\w+: i32 = (\d+);", read(SRC / "exit.rs")))
    assert {"0", "1", "3", "4", "100", "111"} <= codes, "cannot find the exit statuses in src/exit.rs: %s" % codes
    bare = []
    for f in sorted(SRC.rglob("*.rs")):
        code = re.sub(r"//.*", "", read(f).split("#[cfg(test)]")[0])
        bare += ["%s: %s" % (f.name, m) for m in re.findall(r"refuse\(\s*c,\s*\d+|\bErr\(1\d\d\)|return 1\d\d;|exit_group\(\d+", code)]
    assert not bare, "exit statuses not named in src/exit.rs: %s" % bare
    documented = {t for tags, _ in entries(sections(MAN8)["EXIT STATUS"]) for t in tags}
    assert codes <= documented, "exit statuses with no entry in tend(8) EXIT STATUS: %s" % sorted(codes - documented)
    code, out = run_tend("status")
    assert code == 1 and "cannot reach the supervisor" in out, "status with no supervisor: %d %s" % (code, out)
    code, out = run_tend()
    assert code == 100, "tend with no command: %d %s" % (code, out)


@test
def test_every_signal_tend_takes_is_documented():
    taken = set(re.findall(r"\.with\(sig::(SIG\w+)\)", read(SRC / "setup.rs")))
    assert "SIGCHLD" in taken, "cannot find the signals tend takes in src/setup.rs"
    text = words_in(plain(sections(MAN8)["SIGNALS"]))
    assert not taken - text, "signals tend takes with no mention in tend(8) SIGNALS: %s" % sorted(taken - text)


@test
def test_the_pages_render_without_warnings():
    groff = shutil.which("groff")
    assert groff, "groff is missing (scripts/setup installs groff-base)"
    for page in (MAN8, MAN5):
        p = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", str(page)], capture_output=True, text=True)
        assert p.returncode == 0 and not p.stderr, "groff %s: %s" % (page.name, p.stderr)
        if shutil.which("man"):
            for width in ("80", "64"):
                env = dict(os.environ, MANWIDTH=width, LC_ALL="C.UTF-8")
                env.pop("MAN_KEEP_FORMATTING", None)
                p = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True, text=True, env=env)
                # (Only what troff says counts: a host without the locale
                # makes man itself complain.)
                said = [line for line in p.stderr.splitlines() if "locale" not in line]
                assert p.returncode == 0 and not said, "man -l %s at %s columns: %s" % (page.name, width, p.stderr)
                assert "NOT YET IMPLEMENTED" in p.stdout and "SEE ALSO" in p.stdout, page.name


@test
def test_the_name_lines_are_what_whatis_reads():
    for page, name in ((MAN8, "tend"), (MAN5, "tend.conf")):
        src = sections(page)["NAME"].strip()
        assert re.fullmatch(r"%s \\- \S.*" % re.escape(name), src), "%s NAME: %r" % (page.name, src)
        if shutil.which("lexgrog"):
            p = subprocess.run(["lexgrog", str(page)], capture_output=True, text=True)
            assert p.returncode == 0 and ("%s - " % name) in p.stdout, "lexgrog %s: %s" % (page.name, p.stdout + p.stderr)


@test
def test_both_pages_have_the_classic_sections():
    need8 = ["NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS", "SIGNALS", "FILES",
             "ENVIRONMENT", "EXAMPLES", "NOT YET IMPLEMENTED", "SEE ALSO"]
    need5 = ["NAME", "SYNOPSIS", "DESCRIPTION", "SERVICE KEYS", "FILES", "EXAMPLES", "NOT YET IMPLEMENTED", "SEE ALSO"]
    for page, need in ((MAN8, need8), (MAN5, need5)):
        have = [s for s in sections(page) if "/" not in s]
        missing = [s for s in need if s not in have]
        assert not missing, "%s lacks %s" % (page.name, missing)


@test
def test_the_readme_key_table_matches_the_page():
    readme = read(REPO / "README.md")
    part = readme.split("## The service table", 1)[1].split("\n## ", 1)[0]
    keys = set()
    for row in re.findall(r"^\| (`[^|]*)\|", part, re.M):
        keys |= set(re.findall(r"`([a-z][a-z-]*)`", row))
    assert "run" in keys, "cannot find the key table in README.md"
    documented = set(doc_keys("SERVICE KEYS"))
    assert keys <= documented, "README keys missing from tend.conf(5): %s" % sorted(keys - documented)
    implemented = {k for k, b in doc_keys("SERVICE KEYS").items() if not not_yet(b)}
    assert implemented <= keys, "tend.conf(5) keys missing from README.md's table: %s" % sorted(implemented - keys)


@test
def test_nothing_cites_design():
    hits = []
    for top in ("src", "tests", "scripts", "qemu", "buildroot", "boards", "fuzz", "man", "README.md", "build.rs"):
        base = REPO / top
        paths = [base] if base.is_file() else (p for p in base.rglob("*") if p.is_file()) if base.exists() else []
        for p in paths:
            if p == Path(__file__).resolve() or "target" in p.relative_to(REPO).parts:
                continue
            try:
                text = p.read_text()
            except (UnicodeDecodeError, OSError):
                continue
            for n, line in enumerate(text.split("\n"), 1):
                if re.search(r"\bDESIGN\b", line):
                    hits.append("%s:%d" % (p.relative_to(REPO), n))
    assert not hits, "cite tend(8), tend.conf(5) or the README instead of DESIGN: %s" % hits


def main(argv):
    picks = [argv[i + 1] for i, a in enumerate(argv) if a == "-k" and i + 1 < len(argv)]
    passed = failed = 0
    for fn in TESTS:
        if picks and not any(p in fn.__name__ for p in picks):
            continue
        t0 = time.monotonic()
        try:
            fn()
        except Exception:
            failed += 1
            print("FAIL  %s (%.1fs)\n%s" % (fn.__name__, time.monotonic() - t0,
                                            "".join("    " + l + "\n" for l in traceback.format_exc().splitlines())),
                  flush=True)
        else:
            passed += 1
            print("ok    %s (%.1fs)" % (fn.__name__, time.monotonic() - t0), flush=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
