#!/usr/bin/env python3
"""Tests of tend's Buildroot external tree (buildroot/).

    python3 tests/buildroot/test_tree.py [-k SUBSTRING]...
    BUILDROOT_DIR=/path/to/buildroot-2026.02.x python3 tests/buildroot/test_tree.py

Offline, with no Buildroot checkout, against the real files of the tree:
- the Kconfig parses with kconfiglib (stub/Config.in stands in for
  Buildroot's symbols) without warnings, and behaves: tend in the Init
  system choice selects the package and the bare skeleton, only where tend
  and Rust can build;
- package/tend's .mk, Config.in, .hash, the provides/ entry and the
  defconfigs follow Buildroot's conventions;
- tend.mk, evaluated by make (stub/buildroot.mk stands in for Buildroot's
  make environment): the cargo environment for each kind of toolchain, the
  sources (release tarball, local tree), the BusyBox fixups;
- the image layout its commands install (/usr/bin/tend, /sbin/init, the
  table with a generated getty and DHCP client) is the one the QEMU boot
  images of qemu/build have;
- its table check, run with a host-built tend, passes a good table and
  fails the build on a broken one;
- tend links statically through a gcc driver with the environment Buildroot
  2026.02's pkg-cargo.mk and toolchain wrapper give it: 32-bit ARM with
  Debian's arm-linux-gnueabihf-gcc, x86_64 glibc and musl with the host gcc.

With BUILDROOT_DIR (a Buildroot 2026.02.x tree), also: the stub symbols
exist in Buildroot, each defconfig survives Buildroot's own defconfig step
line for line (kconfig silently drops options whose dependencies are
unmet) and is in savedefconfig form, utils/check-package passes, what the
offline tests assumed of Buildroot's environment is what `make printvars`
prints, and Buildroot's own make builds host-tend and tend for each
defconfig (the toolchain stands in: its real wrapper over Debian's gcc,
Rust from rustup) from the local tree and from a release tarball.

Needs python3 with kconfiglib (pip install kconfiglib), make, cargo; for the
link tests gcc, arm-linux-gnueabihf-gcc and the Rust targets (the MSRV
toolchain, which Buildroot 2026.02 ships, when rustup has it); with
BUILDROOT_DIR, rsync and flock, and python-magic and flake8 for
check-package. Crates are vendored from target/buildroot-tests/
br-cargo-home, filled from crates.io on first use.
Prints one line per test, then `N passed, N failed, N skipped`.
"""

import hashlib
import os
import re
import shlex
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
EXT = REPO / "buildroot"
PKG = EXT / "package" / "tend"
STUB_KCONFIG = HERE / "stub" / "Config.in"
STUB_MK = HERE / "stub" / "buildroot.mk"
WORK = REPO / "target" / "buildroot-tests"
CARGO_HOME_BR = WORK / "br-cargo-home"
DEFCONFIGS = ["tend_qemu_x86_64_defconfig", "tend_qemu_arm_vexpress_defconfig"]
# What a local build's copy of the checkout leaves out (package/tend/tend.mk).
COPY_EXCLUSIONS = "--exclude=/target --filter=':- .gitignore'"
BUILDROOT_DIR = os.environ.get("BUILDROOT_DIR")

# What Buildroot's skeleton (system/skeleton) has in /etc/passwd and
# /etc/group, which is what `tend check -r` resolves users against.
SKELETON_PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
SKELETON_GROUP = """root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
wheel:x:10:root
www-data:x:33:
utmp:x:43:
users:x:100:
nobody:x:65534:
"""


class Skip(Exception):
    pass


def need(cond, why):
    if not cond:
        raise Skip(why)


def run(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run(cmd, **kw)


def check_run(cmd, **kw):
    r = run(cmd, **kw)
    if r.returncode != 0:
        raise AssertionError(
            "command failed (%d): %s\n%s%s" % (r.returncode, cmd if isinstance(cmd, str) else shlex.join(map(str, cmd)),
                                               r.stdout[-3000:], r.stderr[-3000:]))
    return r


def eq(a, b, what=""):
    if a != b:
        raise AssertionError("%s\n  got:      %r\n  expected: %r" % (what, a, b))


# --- kconfig -------------------------------------------------------------------

def kconfig_module():
    try:
        import kconfiglib
    except ImportError:
        raise AssertionError("kconfiglib is missing: pip install kconfiglib")
    return kconfiglib


def kconf():
    """The external tree's Kconfig under the stand-in Buildroot top level."""
    kconfiglib = kconfig_module()
    os.environ["CONFIG_"] = ""
    os.environ["KCONFIG_WARN_UNDEF"] = "y"
    os.environ["BR2_EXTERNAL_TEND_PATH"] = str(EXT)
    return kconfiglib.Kconfig(str(STUB_KCONFIG), warn_to_stderr=False)


def select(k, *names, **strings):
    for n in names:
        sym = k.syms[n]
        if not sym.set_value(2) or sym.tri_value != 2:
            raise AssertionError("cannot set %s=y (visibility %d)" % (n, sym.visibility))
    for n, v in strings.items():
        if not k.syms[n].set_value(v):
            raise AssertionError("cannot set %s=%r" % (n, v))
    return k


def system(arch, libc="BR2_TOOLCHAIN_USES_GLIBC", cxx=False):
    k = kconf()
    picks = {"x86_64": ["BR2_x86_64"], "aarch64": ["BR2_aarch64"], "mips": ["BR2_mips"],
             "mipsel": ["BR2_mipsel"], "riscv64": ["BR2_riscv", "BR2_RISCV_64"], "riscv32": ["BR2_riscv"],
             "armv5": ["BR2_arm", "BR2_arm926t"], "armv6": ["BR2_arm", "BR2_arm1176jzf_s"],
             "armv7": ["BR2_arm", "BR2_cortex_a9"], "armv8": ["BR2_arm", "BR2_cortex_a53"]}[arch]
    select(k, *picks, libc, "BR2_ROOTFS_SKELETON_DEFAULT")
    if cxx:
        select(k, "BR2_INSTALL_LIBSTDCPP")
    return k


def val(k, name):
    return k.syms[name].str_value


def comment_visible(k, text):
    kconfiglib = kconfig_module()
    for node in k.node_iter():
        if node.item == kconfiglib.COMMENT and node.prompt[0] == text:
            return kconfiglib.expr_value(node.prompt[1]) > 0 and kconfiglib.expr_value(node.dep) > 0
    raise AssertionError("no comment %r" % text)


def load_defconfig(name):
    """The stub's view of one of our defconfigs (symbols it lacks are ignored)."""
    k = kconf()
    k.load_config(str(EXT / "configs" / name), replace=True)
    return k


# --- tend.mk through make ------------------------------------------------------

def rust_triple(k):
    libc = "musl" if val(k, "BR2_TOOLCHAIN_USES_MUSL") == "y" else "gnu"
    if val(k, "BR2_arm") == "y":
        arch = "armv7" if val(k, "BR2_ARM_CPU_ARMV7A") == "y" or val(k, "BR2_ARM_CPU_ARMV8A") == "y" else "arm"
        return "%s-unknown-linux-%seabihf" % (arch, libc), "arm"
    if val(k, "BR2_aarch64") == "y":
        return "aarch64-unknown-linux-" + libc, "arm64"
    return "x86_64-unknown-linux-" + libc, "x86_64"


class Mk:
    """tend.mk evaluated by make, for one configuration."""

    def __init__(self, k, tmp, extra=None):
        self.tmp = Path(tmp)
        self.config = self.tmp / "config"
        k.write_config(str(self.config), header="")
        triple, norm = rust_triple(k)
        self.vars = {"BR2_CONFIG": self.config, "TARGET_DIR": self.tmp / "target",
                     "HOST_DIR": self.tmp / "host", "DL_DIR": self.tmp / "dl",
                     "RUSTC_TARGET_NAME": triple, "NORMALIZED_ARCH": norm}
        self.vars.update(extra or {})

    def args(self, **more):
        v = dict(self.vars, **more)
        return ["make", "-s", "-f", str(STUB_MK)] + ["%s=%s" % (a, b) for a, b in v.items()]

    def get(self, name, **more):
        out = self.tmp / "dump"
        check_run(self.args(DUMP=out, **more) + ["dump-" + name])
        return out.read_text()[:-1]     # $(file >...) adds a newline

    def do(self, name, in_dir, env=None, **more):
        """Runs a define as a recipe, with $(@D) = in_dir."""
        return check_run(self.args(RUN_DIR=in_dir, **more) + ["%s/.run-%s" % (in_dir, name)], env=env)


def env_words(text):
    """VAR=value words (a make variable meant for a command line) as a dict."""
    out = {}
    for w in shlex.split(text):
        k, _, v = w.partition("=")
        out[k] = v
    return out


# --- the image -----------------------------------------------------------------

def resolve(root, path, depth=0):
    """Follows symbolic links inside an image root (absolute ones from root)."""
    assert depth < 40, "link loop at " + path
    parts = [p for p in path.split("/") if p]
    cur = "/"
    for i, part in enumerate(parts):
        nxt = os.path.join(cur, part)
        host = Path(str(root) + nxt)
        if host.is_symlink():
            target = os.readlink(host)
            base = target if target.startswith("/") else os.path.join(cur, target)
            rest = "/".join(parts[i + 1:])
            return resolve(root, os.path.normpath(base + ("/" + rest if rest else "")), depth + 1)
        cur = nxt
    return Path(str(root) + cur)


def skeleton(root, merged_usr=True):
    """The parts of Buildroot's skeleton that matter here."""
    root = Path(root)
    for d in ["etc", "usr/bin", "usr/sbin", "usr/lib", "proc", "sys", "dev", "run", "tmp", "root"]:
        (root / d).mkdir(parents=True, exist_ok=True)
    for d in ["bin", "sbin", "lib"]:
        if merged_usr:
            os.symlink("usr/" + d, root / d)
        else:
            (root / d).mkdir()
    src = Path(BUILDROOT_DIR) / "system" / "skeleton" / "etc" if BUILDROOT_DIR else None
    if src and (src / "passwd").exists():
        shutil.copy(src / "passwd", root / "etc" / "passwd")
        shutil.copy(src / "group", root / "etc" / "group")
    else:
        (root / "etc" / "passwd").write_text(SKELETON_PASSWD)
        (root / "etc" / "group").write_text(SKELETON_GROUP)


_host_tend = None


def host_tend():
    """tend built for the host, as host-tend builds it (cargo build --release)."""
    global _host_tend
    if _host_tend is None:
        check_run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=REPO)
        _host_tend = REPO / "target" / "release" / "tend"
    return _host_tend


def install_image(k, tmp, merged_usr=True, **mk_extra):
    """What package/tend installs into TARGET_DIR for configuration k, with
    the host tend standing in for the target binary. Returns (Mk, root)."""
    mk = Mk(k, tmp, mk_extra)
    root = mk.vars["TARGET_DIR"]
    skeleton(root, merged_usr)
    shutil.copy(host_tend(), Path(root) / "usr" / "bin" / "tend")   # cargo install --root TARGET_DIR/usr
    hooks = mk.get("TEND_POST_INSTALL_TARGET_HOOKS").split() + mk.get("TEND_TARGET_FINALIZE_HOOKS").split()
    for h in hooks:
        mk.do(h, tmp)
    host_bin = Path(mk.vars["HOST_DIR"]) / "bin"
    host_bin.mkdir(parents=True, exist_ok=True)
    shutil.copy(host_tend(), host_bin / "tend")                      # host-tend's cargo install --root HOST_DIR
    return mk, Path(root)


def check_table(mk):
    """The rootfs hook TEND_CHECK_TABLE, as the fakeroot script runs it."""
    script = "set -e\n" + "".join(line.strip() + "\n" for line in mk.get("TEND_CHECK_TABLE").splitlines())
    return run(["sh", "-c", script])


def board_table():
    return (EXT / "board" / "tend" / "tend.conf").read_text()


# --- ELF -----------------------------------------------------------------------

def elf_info(path):
    data = Path(path).read_bytes()
    assert data[:4] == b"\x7fELF", "%s: not ELF" % path
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    e_type, e_machine = struct.unpack_from(end + "HH", data, 16)
    if is64:
        phoff, = struct.unpack_from(end + "Q", data, 32)
        phentsize, phnum = struct.unpack_from(end + "HH", data, 54)
    else:
        phoff, = struct.unpack_from(end + "I", data, 28)
        phentsize, phnum = struct.unpack_from(end + "HH", data, 42)
    types = [struct.unpack_from(end + "I", data, phoff + i * phentsize)[0] for i in range(phnum)]
    machines = {3: "x86", 40: "arm", 62: "x86_64", 183: "aarch64"}
    return {"exec": e_type == 2, "machine": machines.get(e_machine, e_machine),
            "interp": 3 in types, "dynamic": 2 in types}


def assert_static_no_libc(path, machine):
    info = elf_info(path)
    eq(info, {"exec": True, "machine": machine, "interp": False, "dynamic": False},
       "%s: a static, non-PIE executable with no interpreter" % path)


# --- Buildroot's environment, as 2026.02's pkg-cargo.mk sets it ---------------

def pkg_cargo_env(triple, tuple_, host_dir, cargo_home, arm, opt="2"):
    """PKG_CARGO_ENV of package/pkg-cargo.mk in Buildroot 2026.02.x for a
    configuration without BR2_ENABLE_DEBUG, BR2_ENABLE_LTO,
    BR2_ENABLE_RUNTIME_DEBUG, optimised at BR2_OPTIMIZE_<opt> (the default,
    2). test_br_printvars compares it with what Buildroot prints."""
    up = triple.upper().replace("-", "_")
    env = {
        "CARGO_HOME": str(cargo_home),
        "__CARGO_TEST_CHANNEL_OVERRIDE_DO_NOT_USE_THIS": "nightly",
        "CARGO_UNSTABLE_HOST_CONFIG": "true",
        "CARGO_UNSTABLE_TARGET_APPLIES_TO_HOST": "true",
        "CARGO_TARGET_APPLIES_TO_HOST": "false",
        "CARGO_BUILD_TARGET": triple,
        "CARGO_HOST_RUSTFLAGS": "-C link-args=-L%s/lib -C link-args=-Wl,-rpath,%s/lib" % (host_dir, host_dir),
        "CARGO_TARGET_%s_LINKER" % up: tuple_ + "-gcc",
    }
    for p in ("DEV", "RELEASE"):
        env.update({"CARGO_PROFILE_%s_INCREMENTAL" % p: "false",
                    "CARGO_PROFILE_%s_CODEGEN_UNITS" % p: "16",
                    "CARGO_PROFILE_%s_SPLIT_DEBUGINFO" % p: "off",
                    "CARGO_PROFILE_%s_OPT_LEVEL" % p: opt,
                    "CARGO_PROFILE_%s_LTO" % p: "false",
                    "CARGO_PROFILE_%s_DEBUG" % p: "0",
                    "CARGO_PROFILE_%s_DEBUG_ASSERTIONS" % p: "false",
                    "CARGO_PROFILE_%s_OVERFLOW_CHECKS" % p: "false"})
    if arm:
        env["CARGO_TARGET_%s_RUSTFLAGS" % up] = "-Clink-arg=-Wl,--allow-multiple-definition"
    return env


# Buildroot's toolchain wrapper (toolchain/toolchain-wrapper.c) as it acts on
# a link for the internal toolchain of these configurations (BR2_PIC_PIE,
# BR2_RELRO_FULL, BR2_SSP_STRONG): test_br_package_build uses the real one.
WRAPPER = r"""#!/bin/sh
real=@REAL@
printf 'call: %s\n' "$*" >>@LOG@
pre="--sysroot @SYSROOT@ -fstack-protector-strong"
pie=yes
for a; do
  case $a in -r|-Wl,-r|-static|-D__KERNEL__|-D__UBOOT__|-fno-pie|-fno-PIE|-no-pie) pie=no; break ;; esac
done
if [ $pie = yes ]; then
  fpie=yes; shared=no
  for a; do case $a in -fpie|-fPIE|-fpic|-fPIC) fpie=no ;; -shared) shared=yes ;; esac; done
  [ $fpie = yes ] && pre="$pre -fPIE"
  [ $shared = no ] && pre="$pre -pie"
fi
kernel=no; nonopt=no
for a; do case $a in -D__KERNEL__|-D__UBOOT__) kernel=yes ;; -*) ;; *) nonopt=yes ;; esac; done
[ $kernel = no ] && [ $nonopt = yes ] && pre="$pre -Wl,-z,now -Wl,-z,relro"
printf 'added: %s\n' "$pre" >>@LOG@
exec "$real" $pre "$@"
"""


def rust_toolchain():
    """(cargo, rustc, note): the MSRV toolchain (Buildroot 2026.02 ships Rust
    1.88) when rustup has it, else the default one."""
    msrv = re.search(r'^rust-version = "(.*)"', (REPO / "Cargo.toml").read_text(), re.M).group(1)
    if shutil.which("rustup"):
        r = run(["rustup", "which", "--toolchain", msrv, "rustc"])
        if r.returncode == 0:
            d = Path(r.stdout.strip()).parent
            return d / "cargo", d / "rustc", "Rust " + msrv
        r = run(["rustup", "which", "rustc"])
        d = Path(r.stdout.strip()).parent
        return d / "cargo", d / "rustc", "default Rust (no %s toolchain)" % msrv
    return Path(shutil.which("cargo")), Path(shutil.which("rustc")), "Rust on PATH"


def has_target(rustc, triple):
    sysroot = run([str(rustc), "--print", "sysroot"]).stdout.strip()
    return (Path(sysroot) / "lib" / "rustlib" / triple).is_dir()


def copy_source(dst, exclusions):
    """The rsync Buildroot does for a local source tree: the VCS directories
    and TEND_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS left out."""
    excl = shlex.split(exclusions) + ["--exclude", ".git"]
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    if shutil.which("rsync"):
        check_run(["rsync", "-a", *excl, str(REPO) + "/", str(dst)])
    else:
        tops = {e.split("=", 1)[1].lstrip("/") for e in excl if e.startswith("--exclude=/")}
        shutil.copytree(REPO, dst, symlinks=True,
                        ignore=lambda d, names: [n for n in names if n == ".git" or (Path(d) == REPO and n in tops)])


# === the tests ==================================================================

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def test_kconfig_parses_without_warnings():
    k = kconf()
    eq(k.warnings, [], "kconfiglib warnings (undefined symbols, bad syntax...)")
    ours = set()
    for f in [EXT / "Config.in", EXT / "provides" / "init.in", PKG / "Config.in"]:
        ours |= set(re.findall(r"^(?:menu)?config\s+(\w+)", f.read_text(), re.M))
    eq(sorted(ours), sorted(["BR2_INIT_TEND", "BR2_PACKAGE_TEND", "BR2_PACKAGE_TEND_ARCH_SUPPORTS",
                              "BR2_PACKAGE_TEND_LOCAL_SRC", "BR2_PACKAGE_TEND_RELOAD", "BR2_PACKAGE_TEND_SBIN_INIT",
                              "BR2_PACKAGE_TEND_TABLE", "BR2_PACKAGE_TEND_JSON",
                              "BR2_PACKAGE_TEND_SYSLOG", "BR2_PACKAGE_TEND_WATCHDOG",
                              "BR2_PACKAGE_TEND_KEEP", "BR2_PACKAGE_TEND_LISTEN",
                              "BR2_PACKAGE_TEND_VERBOSE"]),
       "symbols the tree defines")
    for s in ours:
        assert s in k.syms and k.syms[s].nodes, s


@test
def test_kconfig_tend_as_init():
    k = system("x86_64")
    eq(val(k, "BR2_INIT_BUSYBOX"), "y", "default init")
    select(k, "BR2_INIT_TEND")
    for s, v in [("BR2_PACKAGE_TEND", "y"), ("BR2_PACKAGE_SKELETON_INIT_NONE", "y"),
                 ("BR2_PACKAGE_SKELETON_INIT_SYSV", "n"), ("BR2_PACKAGE_HOST_RUSTC", "y"),
                 ("BR2_PACKAGE_TEND_SBIN_INIT", "y"), ("BR2_INIT_BUSYBOX", "n"),
                 ("BR2_PACKAGE_TEND_LOCAL_SRC", "")]:
        eq(val(k, s), v, s)
    table = val(k, "BR2_PACKAGE_TEND_TABLE")
    eq(table, str(EXT / "board" / "tend" / "tend.conf"), "default table")
    assert Path(table).is_file()
    # A custom skeleton: tend still selected, no skeleton forced on it.
    k = system("x86_64")
    select(k, "BR2_ROOTFS_SKELETON_CUSTOM", "BR2_INIT_TEND")
    eq(val(k, "BR2_PACKAGE_SKELETON_INIT_NONE"), "n", "skeleton with a custom skeleton")


@test
def test_kconfig_where_tend_is_offered():
    cases = [  # (arch, libc, c++) -> tend offered, "needs a toolchain" comment shown
        (("x86_64", "BR2_TOOLCHAIN_USES_GLIBC", False), True, False),
        (("aarch64", "BR2_TOOLCHAIN_USES_GLIBC", False), True, False),
        (("armv7", "BR2_TOOLCHAIN_USES_GLIBC", False), True, False),
        (("armv8", "BR2_TOOLCHAIN_USES_GLIBC", False), True, False),
        (("x86_64", "BR2_TOOLCHAIN_USES_MUSL", True), True, False),
        (("x86_64", "BR2_TOOLCHAIN_USES_MUSL", False), False, True),
        (("armv7", "BR2_TOOLCHAIN_USES_UCLIBC", False), False, True),
        (("armv5", "BR2_TOOLCHAIN_USES_GLIBC", False), False, False),   # Rust has it, tend's _start does not
        (("armv6", "BR2_TOOLCHAIN_USES_GLIBC", False), False, False),
        (("riscv64", "BR2_TOOLCHAIN_USES_GLIBC", False), True, False),
        (("riscv32", "BR2_TOOLCHAIN_USES_GLIBC", False), False, False),  # no _start for it
        # tend runs on MIPS, but Buildroot's Rust has no MIPS target (tier 3)
        (("mips", "BR2_TOOLCHAIN_USES_GLIBC", False), False, False),
        (("mipsel", "BR2_TOOLCHAIN_USES_MUSL", True), False, False),
    ]
    for (arch, libc, cxx), offered, comment in cases:
        k = system(arch, libc, cxx)
        what = "%s %s%s" % (arch, libc, " C++" if cxx else "")
        eq(k.syms["BR2_INIT_TEND"].visibility > 0, offered, what + ": tend in the Init system menu")
        eq(k.syms["BR2_PACKAGE_TEND"].visibility > 0, offered, what + ": the tend package")
        eq(comment_visible(k, "tend needs a toolchain w/ glibc, or musl and C++"), comment, what + ": comment")
        if offered:
            select(k, "BR2_INIT_TEND")
            kconfiglib = kconfig_module()
            eq(kconfiglib.expr_value(k.syms["BR2_PACKAGE_TEND"].direct_dep), 2,
               what + ": BR2_INIT_TEND selects the package with its dependencies met")
    k = system("x86_64")
    select(k, BR2_HOSTARCH="powerpc64le")
    eq(k.syms["BR2_INIT_TEND"].visibility, 0, "offered on a powerpc64le build machine (no host-tend)")


@test
def test_kconfig_sbin_init_option():
    k = system("x86_64")
    select(k, "BR2_INIT_BUSYBOX", "BR2_PACKAGE_TEND")
    eq(k.syms["BR2_PACKAGE_TEND_SBIN_INIT"].visibility, 0, "/sbin/init option under BusyBox init")
    eq(val(k, "BR2_PACKAGE_TEND_SBIN_INIT"), "n", "/sbin/init under BusyBox init")
    k = system("x86_64")
    select(k, "BR2_INIT_NONE", "BR2_PACKAGE_TEND")
    eq((k.syms["BR2_PACKAGE_TEND_SBIN_INIT"].visibility > 0, val(k, "BR2_PACKAGE_TEND_SBIN_INIT")),
       (True, "n"), "/sbin/init option with init none: offered, off")
    k = system("x86_64")
    select(k, "BR2_INIT_TEND")
    assert k.syms["BR2_PACKAGE_TEND_SBIN_INIT"].set_value(0)
    eq(val(k, "BR2_PACKAGE_TEND_SBIN_INIT"), "n", "/sbin/init can be turned off")


def config_entries(path):
    """(symbol, [attribute lines], [help lines]) for each config entry."""
    entries, cur, in_help = [], None, False
    for line in path.read_text().splitlines():
        m = re.match(r"^(menu)?config (\w+)$", line)
        if m:
            cur = (m.group(2), [], [])
            entries.append(cur)
            in_help = False
        elif re.match(r"^(comment|choice|endchoice|if|endif|menu|endmenu|source)\b", line):
            cur, in_help = None, False
        elif cur is not None and line.strip() == "help":
            in_help = True
            cur[1].append(line)
        elif cur is not None and in_help and line.strip():
            cur[2].append(line)
        elif cur is not None and line.strip() and not line.lstrip().startswith("#"):
            cur[1].append(line)
    return entries


@test
def test_config_in_conventions():
    order = {"bool": 1, "string": 1, "prompt": 1, "default": 2, "depends": 3, "select": 4, "help": 5}
    for f in [PKG / "Config.in", EXT / "provides" / "init.in", EXT / "Config.in"]:
        text = f.read_text()
        assert text.endswith("\n") and not re.search(r"[ \t]+$", text, re.M), "%s: trailing blanks" % f
        for sym, attrs, helps in config_entries(f):
            for a in attrs:
                assert re.match(r"^\t\S", a), "%s: %s: attribute not indented by one tab: %r" % (f, sym, a)
            ranks = [order[a.split()[0]] for a in attrs if a.split()[0] in order]
            eq(ranks, sorted(ranks), "%s: %s: attributes in the order type, default, depends on, select, help" % (f, sym))
            prompt = any(re.match(r'^\t(bool|string) "', a) for a in attrs)
            eq(bool(helps), prompt, "%s: %s: help text for an entry with a prompt (and only then)" % (f, sym))
            for i, h in enumerate(helps):
                ok = re.match(r"^\t  \S.{,61}$" if i == 0 else r"^\t  .{,62}$", h) or re.match(r"^\t  (http|https|git)://\S*$", h)
                assert ok, "%s: %s: help text is <tab><2 spaces><62 chars>: %r" % (f, sym, h)
    # The package, as docs/manual/adding-packages-cargo.adoc has it.
    pkg = {s: a for s, a, _ in config_entries(PKG / "Config.in")}["BR2_PACKAGE_TEND"]
    assert "\tdepends on BR2_PACKAGE_HOST_RUSTC_TARGET_ARCH_SUPPORTS" in pkg, pkg
    assert "\tselect BR2_PACKAGE_HOST_RUSTC" in pkg, pkg
    helps = {s: h for s, _, h in config_entries(PKG / "Config.in")}["BR2_PACKAGE_TEND"]
    assert re.match(r"^\t  https?://\S+$", helps[-1]), "the package's help ends with its home page"
    assert re.search(r"^if BR2_PACKAGE_TEND$.*^config BR2_PACKAGE_TEND_TABLE.*^endif$", (PKG / "Config.in").read_text(), re.M | re.S), \
        "sub-options inside if BR2_PACKAGE_TEND"
    # The Init system entry, as Buildroot's own (system/Config.in) are.
    init = {s: a for s, a, _ in config_entries(EXT / "provides" / "init.in")}["BR2_INIT_TEND"]
    assert "\tselect BR2_PACKAGE_TEND" in init, init
    assert "\tselect BR2_PACKAGE_SKELETON_INIT_NONE if BR2_ROOTFS_SKELETON_DEFAULT" in init, init
    pkg_deps = {a for a in pkg if a.startswith("\tdepends on")}
    assert pkg_deps <= set(init), "BR2_INIT_TEND must depend on all the package depends on: %s" % pkg_deps
    desc = dict(l.split(": ", 1) for l in (EXT / "external.desc").read_text().splitlines() if l.strip())
    eq(desc.get("name"), "TEND", "external.desc name")
    assert re.fullmatch(r"[A-Za-z0-9_]+", desc["name"]) and len(desc.get("desc", "")) <= 40, desc
    eq((EXT / "Config.in").read_text(), 'source "$BR2_EXTERNAL_TEND_PATH/package/tend/Config.in"\n', "Config.in")
    eq((EXT / "external.mk").read_text(), "include $(sort $(wildcard $(BR2_EXTERNAL_TEND_PATH)/package/*/*.mk))\n",
       "external.mk")


@test
def test_package_mk_conventions():
    text = (PKG / "tend.mk").read_text()
    lines = text.splitlines()
    eq(lines[:6], ["#" * 80, "#", "# tend", "#", "#" * 80, ""], "package header")
    assert text.endswith("\n") and not re.search(r"[ \t]+$", text, re.M), "trailing blanks"
    names = re.findall(r"^(?:define\s+)?([A-Za-z0-9_]+)\s*(?:\+=|\?=|:=|=|$)", text, re.M)
    names = [n for n in names if n not in ("endef", "endif", "else")]
    bad = [n for n in names if not re.match(r"^(HOST_)?TEND_", n)]
    eq(bad, [], "variables and defines without the TEND_ / HOST_TEND_ prefix")
    code = [l for l in lines if l.strip() and not l.startswith("#")]
    eq(code[-2:], ["$(eval $(cargo-package))", "$(eval $(host-cargo-package))"], "the infrastructure calls, last")
    eq(sum("$(eval" in l for l in lines), 2, "$(eval ...) lines")
    for hook in re.findall(r"^\w+_HOOKS \+= (\w+)$", text, re.M):
        assert re.search(r"^define %s$" % hook, text, re.M), "hook %s is not defined" % hook
    in_define = False
    for l in lines:
        if l.startswith("define "):
            in_define = True
        elif l == "endef":
            in_define = False
        elif in_define:
            assert l.startswith("\t"), "define bodies are indented with a tab: %r" % l
    cargo = (REPO / "Cargo.toml").read_text()
    mk = dict(re.findall(r"^(TEND_\w+) = (.*)$", text, re.M))
    eq(mk["TEND_VERSION"], re.search(r'^version = "(.*)"', cargo, re.M).group(1), "TEND_VERSION vs Cargo.toml")
    eq(mk["TEND_LICENSE"], re.search(r'^license = "(.*)"', cargo, re.M).group(1), "TEND_LICENSE vs Cargo.toml")
    for f in mk["TEND_LICENSE_FILES"].split():
        assert (REPO / f).is_file(), f
    eq(mk["TEND_SOURCE"], "tend-$(TEND_VERSION).tar.gz", "a gzip tarball (Buildroot's cargo vendoring unpacks with tar xz)")
    eq(sorted(re.findall(r"^TEND_SITE_METHOD = (\w+)$", text, re.M)), ["local", "wget"], "site methods")
    # The hash file: two spaces between fields, the licence file's hash right.
    hashes = {}
    for l in (PKG / "tend.hash").read_text().splitlines():
        if l.startswith("#") or not l.strip():
            continue
        assert re.fullmatch(r"sha256  [0-9a-f]{64}  \S+", l), "hash line: %r" % l
        hashes[l.split()[2]] = l.split()[1]
    for f in mk["TEND_LICENSE_FILES"].split():
        eq(hashes.get(f), hashlib.sha256((REPO / f).read_bytes()).hexdigest(), "tend.hash for " + f)


@test
def test_defconfigs_form():
    for name in DEFCONFIGS:
        lines = (EXT / "configs" / name).read_text().splitlines()
        keys = []
        for l in lines:
            m = re.fullmatch(r"(BR2_\w+)=(y|\"[^\"]*\"|[0-9]+)|# (BR2_\w+) is not set", l)
            assert m, "%s: not savedefconfig form: %r" % (name, l)
            keys.append(m.group(1) or m.group(3))
        eq(len(keys), len(set(keys)), name + ": a symbol twice")
        assert "BR2_INIT_TEND=y" in lines, name
        assert 'BR2_PACKAGE_TEND_LOCAL_SRC="$(BR2_EXTERNAL_TEND_PATH)/.."' in lines, name
        assert not any(l.startswith("BR2_INIT_") and l != "BR2_INIT_TEND=y" for l in lines), name
    x86 = (EXT / "configs" / DEFCONFIGS[0]).read_text().splitlines()
    arm = (EXT / "configs" / DEFCONFIGS[1]).read_text().splitlines()
    assert "BR2_x86_64=y" in x86 and "BR2_arm=y" in arm and "BR2_cortex_a9=y" in arm
    assert 'BR2_TARGET_GENERIC_GETTY_PORT="ttyAMA0"' in arm, "vexpress's serial console"
    # Found by the first real build of the x86_64 image (tests/buildroot/image):
    # Buildroot's default getty port is "console", which cannot be a
    # controlling terminal (no job control in the login shell), and
    # board/qemu/x86_64/post-build.sh only edits /etc/inittab, which a
    # tend image does not have. Every defconfig names its serial line and
    # runs no post-build script written for BusyBox init.
    assert 'BR2_TARGET_GENERIC_GETTY_PORT="ttyS0"' in x86, "the PC's serial console"
    for name in DEFCONFIGS:
        text = (EXT / "configs" / name).read_text()
        assert "BR2_ROOTFS_POST_BUILD_SCRIPT" not in text, "%s: a post-build script for inittab" % name


@test
def test_mk_cargo_env_per_toolchain():
    jt = ["-C", "llvm-args=-min-jump-table-entries=10000", "-C", "no-redzone=yes"]
    cases = [("x86_64", "BR2_TOOLCHAIN_USES_GLIBC", False, "x86_64-unknown-linux-gnu", jt),
             ("armv7", "BR2_TOOLCHAIN_USES_GLIBC", False, "armv7-unknown-linux-gnueabihf",
              ["-Clink-arg=-Wl,--allow-multiple-definition"]),
             ("aarch64", "BR2_TOOLCHAIN_USES_GLIBC", False, "aarch64-unknown-linux-gnu", []),
             ("x86_64", "BR2_TOOLCHAIN_USES_MUSL", True, "x86_64-unknown-linux-musl",
              jt + ["-C", "link-self-contained=no"]),
             ("armv7", "BR2_TOOLCHAIN_USES_MUSL", True, "armv7-unknown-linux-musleabihf",
              ["-C", "link-self-contained=no", "-Clink-arg=-Wl,--allow-multiple-definition"])]
    for arch, libc, cxx, triple, extra in cases:
        k = system(arch, libc, cxx)
        select(k, "BR2_INIT_TEND")
        with tempfile.TemporaryDirectory() as tmp:
            env = env_words(Mk(k, tmp).get("TEND_CARGO_ENV"))
        up = triple.upper().replace("-", "_")
        want = {"CARGO_TARGET_%s_RUSTFLAGS" % up: " ".join(["-C", "relocation-model=static"] + extra)}
        for p in ("DEV", "RELEASE"):
            want.update({"CARGO_PROFILE_%s_OPT_LEVEL" % p: "z", "CARGO_PROFILE_%s_LTO" % p: "true",
                         "CARGO_PROFILE_%s_CODEGEN_UNITS" % p: "1",
                         "CARGO_PROFILE_%s_DEBUG_ASSERTIONS" % p: "false",
                         "CARGO_PROFILE_%s_OVERFLOW_CHECKS" % p: "false"})
        eq(env, want, "TEND_CARGO_ENV for " + triple)
        # The release profile tend's own build proves panic-free.
        cargo = (REPO / "Cargo.toml").read_text()
        prof = cargo[cargo.index("[profile.release]"):]
        assert 'opt-level = "z"' in prof and "lto = true" in prof and "codegen-units = 1" in prof


@test
def test_mk_sources():
    k = system("armv7")
    select(k, "BR2_INIT_TEND")
    with tempfile.TemporaryDirectory() as tmp:
        mk = Mk(k, tmp)
        eq((mk.get("TEND_SITE"), mk.get("TEND_SITE_METHOD"), mk.get("TEND_SOURCE")),
           ("https://example.invalid/tend/releases/download/v0.1.0", "wget", "tend-0.1.0.tar.gz"), "release tarball")
        eq((mk.get("TEND_PRE_CONFIGURE_HOOKS").split(), mk.get("HOST_TEND_PRE_CONFIGURE_HOOKS").split()), ([], []),
           "no vendoring of a tarball (Buildroot's download does it)")
        eq(mk.get("TEND_DEPENDENCIES").split(), ["host-tend"], "dependencies")
        # local.mk's TEND_OVERRIDE_SRCDIR (the host package inherits it)
        eq((mk.get("TEND_PRE_CONFIGURE_HOOKS", TEND_OVERRIDE_SRCDIR="/src").split(),
            mk.get("HOST_TEND_PRE_CONFIGURE_HOOKS", TEND_OVERRIDE_SRCDIR="/src").split(),
            mk.get("TEND_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS", TEND_OVERRIDE_SRCDIR="/src")),
           (["TEND_VENDOR_CRATES"], ["TEND_VENDOR_CRATES"], COPY_EXCLUSIONS), "TEND_OVERRIDE_SRCDIR")
    select(k, BR2_PACKAGE_TEND_LOCAL_SRC="$(BR2_EXTERNAL_TEND_PATH)/..")
    with tempfile.TemporaryDirectory() as tmp:
        mk = Mk(k, tmp)
        eq((mk.get("TEND_SITE"), mk.get("TEND_SITE_METHOD")), (str(EXT) + "/..", "local"), "BR2_PACKAGE_TEND_LOCAL_SRC")
        eq((mk.get("TEND_PRE_CONFIGURE_HOOKS").split(), mk.get("HOST_TEND_PRE_CONFIGURE_HOOKS").split()),
           (["TEND_VENDOR_CRATES"], ["TEND_VENDOR_CRATES"]), "vendoring of a local tree")
        for v in ("TEND_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS", "HOST_TEND_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS"):
            eq(mk.get(v), COPY_EXCLUSIONS, v)


@test
def test_local_copy_leaves_out_what_git_ignores():
    """A local build copies the checkout as git sees it: after a fuzz run,
    fuzz/target (hundreds of MB) and a corpus that changes while rsync reads
    it made two Buildroot tests fail with rsync's "file has vanished"."""
    need(shutil.which("rsync"), "rsync is missing")
    need((REPO / ".git").exists() and shutil.which("git"), "not a git checkout")
    k = system("x86_64")
    select(k, "BR2_PACKAGE_TEND", BR2_PACKAGE_TEND_LOCAL_SRC="$(BR2_EXTERNAL_TEND_PATH)/..")
    with tempfile.TemporaryDirectory() as tmp:
        exclusions = Mk(k, tmp).get("TEND_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS")
    # What a fuzz run and a Python run leave behind, if they have not yet.
    planted = [REPO / "fuzz" / "target" / "tend-test-planted",
               REPO / "fuzz" / "corpus" / "table" / "tend-test-planted",
               REPO / "tests" / "__pycache__" / "tend-test-planted.pyc"]
    made = []
    try:
        for p in planted:
            if not p.exists():
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text("planted by test_tree.py\n")
                made.append(p)
        with tempfile.TemporaryDirectory() as tmp:
            dst = Path(tmp) / "tend-custom"
            # Buildroot's own command (package/pkg-generic.mk, RSYNC_VCS_EXCLUSIONS)
            check_run(["rsync", "-au", "--chmod=u=rwX,go=rX", *shlex.split(exclusions),
                       "--exclude", ".svn", "--exclude", ".git", "--exclude", ".hg",
                       "--exclude", ".bzr", "--exclude", "CVS", str(REPO) + "/", str(dst)])
            copied = {str(p.relative_to(dst)) for p in dst.rglob("*") if not p.is_dir()}
        seen = check_run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others",
                          "--exclude-standard"]).stdout.split("\0")
        wanted = {f for f in seen if f and (REPO / f).is_file()}
    finally:
        for p in made:
            p.unlink()
    extra = sorted(copied - wanted)
    eq(extra[:10], [], "copied, though git ignores them")
    eq(sorted(wanted - copied)[:10], [], "not copied, though git tracks or sees them")


@test
def test_mk_build_profile():
    """Each feature option turns its cargo feature on, for tend and for the
    host-tend that checks the table alike."""
    k = system("x86_64")
    select(k, "BR2_PACKAGE_TEND")
    features = ["json", "syslog", "watchdog", "keep", "listen", "reload", "verbose"]
    for f in features:
        eq(k.syms["BR2_PACKAGE_TEND_" + f.upper()].tri_value, 2, "BR2_PACKAGE_TEND_%s by default" % f.upper())
    cargo_toml = (REPO / "Cargo.toml").read_text()
    default = re.search(r'^default = \[(.*)\]$', cargo_toml, re.M)
    eq(sorted(re.findall(r'"([^"]+)"', default.group(1))), sorted(features), "Cargo.toml's default features")

    def opts(k):
        with tempfile.TemporaryDirectory() as tmp:
            mk = Mk(k, tmp)
            got = {v: mk.get(v) for v in ("TEND_CARGO_BUILD_OPTS", "TEND_CARGO_INSTALL_OPTS",
                                          "HOST_TEND_CARGO_BUILD_OPTS", "HOST_TEND_CARGO_INSTALL_OPTS")}
        eq(len(set(got.values())), 1, "the same features everywhere: %s" % got)
        return shlex.split(got["TEND_CARGO_BUILD_OPTS"])
    eq(opts(k), ["--no-default-features", "--features", ",".join(features)], "every feature")
    k.syms["BR2_PACKAGE_TEND_RELOAD"].set_value(0)
    eq(opts(k), ["--no-default-features", "--features", "json,syslog,watchdog,keep,listen,verbose"],
       "without reload")
    k.syms["BR2_PACKAGE_TEND_JSON"].set_value(0)
    eq(opts(k), ["--no-default-features", "--features", "syslog,watchdog,keep,listen,verbose"], "without json")
    k.syms["BR2_PACKAGE_TEND_VERBOSE"].set_value(0)
    eq(opts(k), ["--no-default-features", "--features", "syslog,watchdog,keep,listen"], "without verbose")
    for f in features:
        k.syms["BR2_PACKAGE_TEND_" + f.upper()].set_value(0)
    eq(opts(k), ["--no-default-features", "--features", ""], "the minimal tend")


@test
def test_mk_busybox_fixups_and_hooks():
    def get(k, var):
        with tempfile.TemporaryDirectory() as tmp:
            return [l.strip() for l in Mk(k, tmp).get(var).splitlines() if l.strip()]
    off = ["kconfig-disable-opt CONFIG_INIT", "kconfig-disable-opt CONFIG_LINUXRC"]
    k = system("x86_64")
    select(k, "BR2_INIT_TEND")
    eq(get(k, "TEND_BUSYBOX_CONFIG_FIXUPS"), off, "tend as init")
    eq(get(k, "TEND_POST_INSTALL_TARGET_HOOKS"), ["TEND_INSTALL_SBIN_INIT"], "install hooks")
    eq(get(k, "TEND_ROOTFS_PRE_CMD_HOOKS"), ["TEND_CHECK_TABLE"], "rootfs hooks")
    eq(get(k, "TEND_TARGET_FINALIZE_HOOKS"), ["TEND_INSTALL_TABLE"], "finalize hooks")
    eq(get(k, "HOST_TEND_POST_INSTALL_HOOKS"), ["HOST_TEND_INSTALL_MAN_PAGES"], "host install hooks")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        shutil.copytree(REPO / "man", src / "man")
        Mk(k, tmp).do("HOST_TEND_INSTALL_MAN_PAGES", src)
        for page in ("man8/tend.8", "man5/tend.conf.5"):
            eq((Path(tmp) / "host" / "share" / "man" / page).read_bytes(),
               (REPO / "man" / Path(page).name).read_bytes(), "host-tend's " + page)
    k.syms["BR2_PACKAGE_TEND_SBIN_INIT"].set_value(0)
    eq(get(k, "TEND_BUSYBOX_CONFIG_FIXUPS"), off, "tend as init, no /sbin/init link")
    eq(get(k, "TEND_POST_INSTALL_TARGET_HOOKS"), [], "install hooks without the link")
    k = system("x86_64")
    select(k, "BR2_INIT_BUSYBOX", "BR2_PACKAGE_TEND")
    eq(get(k, "TEND_BUSYBOX_CONFIG_FIXUPS"), [], "BusyBox init keeps its init")
    k = system("x86_64")
    select(k, "BR2_INIT_NONE", "BR2_PACKAGE_TEND", "BR2_PACKAGE_TEND_SBIN_INIT")
    eq(get(k, "TEND_BUSYBOX_CONFIG_FIXUPS"), off, "init none with /sbin/init -> tend")
    select(k, BR2_PACKAGE_TEND_TABLE="")
    eq(get(k, "TEND_TARGET_FINALIZE_HOOKS"), [], "no table installed")


@test
def test_mk_missing_table_fails():
    k = system("x86_64")
    select(k, "BR2_INIT_TEND", BR2_PACKAGE_TEND_TABLE="/nonexistent/tend.conf")
    with tempfile.TemporaryDirectory() as tmp:
        mk = Mk(k, tmp)
        r = run(mk.args(DUMP=Path(tmp) / "d") + ["dump-TEND_TABLE"])
        assert r.returncode != 0 and "BR2_PACKAGE_TEND_TABLE: no such file: /nonexistent/tend.conf" in r.stderr, r.stderr
        eq(mk.get("TEND_TABLE", BR_BUILDING=""), "/nonexistent/tend.conf", "no error when not building (menuconfig...)")


def expected_table(getty, dhcp):
    t = board_table()
    if getty:
        t += "\n# From BR2_TARGET_GENERIC_GETTY_* (package/tend/tend.mk)\n[getty]\nrun = %s\nstop-signal = HUP\n" % getty
    if dhcp:
        t += "\n# From BR2_SYSTEM_DHCP (package/tend/tend.mk)\n[dhcp]\nrun = /sbin/udhcpc -f -i %s\n" % dhcp
    return t


@test
def test_image_layout():
    cases = [(DEFCONFIGS[0], "/sbin/getty -L ttyS0 0 vt100", "eth0"),
             (DEFCONFIGS[1], "/sbin/getty -L ttyAMA0 0 vt100", "eth0")]
    for name, getty, dhcp in cases:
        for merged in (True, False):
            with tempfile.TemporaryDirectory() as tmp:
                mk, root = install_image(load_defconfig(name), tmp, merged_usr=merged)
                what = "%s (%s /usr)" % (name, "merged" if merged else "split")
                eq(os.readlink(root / "sbin" / "init"), "/usr/bin/tend", what + ": /sbin/init link")
                eq(resolve(root, "/sbin/init"), root / "usr" / "bin" / "tend", what + ": /sbin/init resolves in the image")
                eq((root / "etc" / "tend.conf").read_text(), expected_table(getty, dhcp), what + ": /etc/tend.conf")
                eq(stat.S_IMODE((root / "etc" / "tend.conf").stat().st_mode), 0o644, what + ": table mode")
                r = check_table(mk)
                eq((r.returncode, r.stdout.strip()), (0, str(root) + "/etc/tend.conf: ok, 5 services"), what + ": check")
    # No getty, no DHCP, no BusyBox (udhcpc), getty options.
    k = system("x86_64")
    select(k, "BR2_INIT_TEND", BR2_SYSTEM_DHCP="eth1", BR2_TARGET_GENERIC_GETTY_OPTIONS="-n -l /bin/sh",
           BR2_TARGET_GENERIC_GETTY_PORT="ttyS1", BR2_TARGET_GENERIC_GETTY_BAUDRATE="115200")
    with tempfile.TemporaryDirectory() as tmp:
        _, root = install_image(k, tmp)
        eq((root / "etc" / "tend.conf").read_text(), expected_table("/sbin/getty -L -n -l /bin/sh ttyS1 115200 vt100", "eth1"),
           "getty options and rate")
    k.syms["BR2_TARGET_GENERIC_GETTY"].set_value(0)
    k.syms["BR2_PACKAGE_BUSYBOX"].set_value(0)
    with tempfile.TemporaryDirectory() as tmp:
        _, root = install_image(k, tmp)
        eq((root / "etc" / "tend.conf").read_text(), board_table(), "no getty, no BusyBox for udhcpc")


def qemu_layout():
    """The paths of tend and its table in the QEMU boot image (qemu/build)."""
    build = REPO / "qemu" / "build"
    if not build.exists():
        return {"/usr/bin/tend", "/sbin/init"}, "/etc/tend.conf", "qemu/build absent: the layout README.md states"
    text = build.read_text()
    binary = re.findall(r'^\s*cp "\$tend" "\$root(/\S+?)"', text, re.M)
    assert len(binary) == 1, "qemu/build: where tend is copied: %s" % binary
    links = dict((dst, src) for src, dst in re.findall(r'^\s*ln -sf? (\S+) "\$root(/\S+?)"', text, re.M))
    tend_paths = set(binary) | {dst for dst, src in links.items() if src == binary[0]}
    tables = re.findall(r'^\s*cp "\$TABLE" "\$root(/\S+?)"', text, re.M)
    assert len(tables) == 1, "qemu/build: where the table goes: %s" % tables
    return tend_paths, tables[0], "qemu/build"


@test
def test_layout_matches_qemu_boot_image():
    tend_paths, table, source = qemu_layout()
    with tempfile.TemporaryDirectory() as tmp:
        mk, root = install_image(load_defconfig(DEFCONFIGS[1]), tmp)
        binary = root / "usr" / "bin" / "tend"
        for p in sorted(tend_paths):
            if p == "/init":
                # The initramfs's rdinit. Buildroot's ext2 images boot
                # /sbin/init; its cpio images get an /init that execs
                # /sbin/init (fs/cpio), so tend is PID 1 either way.
                continue
            eq(resolve(root, p), binary, "%s (per %s) in the Buildroot image" % (p, source))
        assert (root / table.lstrip("/")).is_file(), "%s (per %s) in the Buildroot image" % (table, source)
    src = (REPO / "src" / "cli.rs").read_text()
    eq(re.search(r'DEFAULT_TABLE: &\[u8\] = (?:part\()?b"(.*?)"', src).group(1), table,
       "tend's default table path")


@test
def test_table_check_fails_the_build_on_errors():
    k = load_defconfig(DEFCONFIGS[1])
    broken = [
        ("unknown key", "\n[bad]\nrun = /bin/true\nrestrat = always\n", "restrat"),
        ("a user the image lacks", "\n[web]\nrun = /usr/sbin/httpd -f\nuser = www\n", "www"),
        ("a second [getty]", "\n[getty]\nrun = /sbin/getty -L tty1 0 vt100\n", "getty"),
        ("an unknown after", "\n[late]\nrun = /bin/true\nafter = nosuch\n", "nosuch"),
    ]
    for what, extra, word in broken:
        with tempfile.TemporaryDirectory() as tmp:
            mk, root = install_image(k, tmp)
            table = root / "etc" / "tend.conf"
            good = table.read_text()
            # As an overlay or a post-build script would leave it.
            lines = good.count("\n")
            table.write_text(good + extra)
            r = check_table(mk)
            assert r.returncode != 0, "%s: the check passed:\n%s%s" % (what, r.stdout, r.stderr)
            m = re.search(re.escape(str(table)) + r":(\d+): .*", r.stderr)
            assert m and int(m.group(1)) > lines and word in r.stderr, "%s: FILE:LINE error naming %r:\n%s" % (what, word, r.stderr)
    # A user that Buildroot's skeleton has is fine.
    with tempfile.TemporaryDirectory() as tmp:
        mk, root = install_image(k, tmp)
        table = root / "etc" / "tend.conf"
        table.write_text(table.read_text() + "\n[web]\nrun = /usr/sbin/httpd -f\nuser = www-data\n")
        r = check_table(mk)
        eq(r.returncode, 0, "user www-data:\n" + r.stderr)
        table.unlink()
        r = check_table(mk)
        assert r.returncode != 0 and "tend.conf" in r.stderr, "tend as init with no table must fail:\n" + r.stderr
    k = system("x86_64")
    select(k, "BR2_INIT_TEND", BR2_PACKAGE_TEND_TABLE="")
    k.syms["BR2_PACKAGE_TEND_SBIN_INIT"].set_value(0)
    with tempfile.TemporaryDirectory() as tmp:
        mk, root = install_image(k, tmp)
        r = check_table(mk)
        assert r.returncode != 0, "tend as init (started by init=), no table: must fail"
    # tend not the init: no table is allowed, a broken one is not.
    k = system("x86_64")
    select(k, "BR2_INIT_BUSYBOX", "BR2_PACKAGE_TEND", BR2_PACKAGE_TEND_TABLE="")
    with tempfile.TemporaryDirectory() as tmp:
        mk, root = install_image(k, tmp)
        assert not (root / "etc" / "tend.conf").exists()
        r = check_table(mk)
        eq(r.returncode, 0, "no table, tend not the init:\n" + r.stderr)
        (root / "etc" / "tend.conf").write_text("[x]\nrun = /bin/true\nbogus = 1\n")
        r = check_table(mk)
        assert r.returncode != 0, "a broken table, tend not the init"


def fake_host(host, tuple_, real_gcc, log):
    """HOST_DIR/bin with the cross gcc (the wrapper over real_gcc) and cargo."""
    cargo, rustc, note = rust_toolchain()
    b = Path(host) / "bin"
    b.mkdir(parents=True, exist_ok=True)
    sysroot = Path(host) / tuple_ / "sysroot"
    sysroot.mkdir(parents=True, exist_ok=True)
    w = b / (tuple_ + "-gcc")
    w.write_text(WRAPPER.replace("@REAL@", real_gcc).replace("@LOG@", str(log)).replace("@SYSROOT@", str(sysroot)))
    w.chmod(0o755)
    for t in (cargo, rustc):
        os.symlink(t, b / t.name)
    return rustc, note


@test
def test_gcc_driver_link():
    """tend built and installed as Buildroot's cargo-package does it, with the
    environment of Buildroot 2026.02 (pkg-cargo.mk, the toolchain wrapper) and
    a gcc driver as the linker."""
    cases = [("armv7", "BR2_TOOLCHAIN_USES_GLIBC", False, "arm-buildroot-linux-gnueabihf",
              "arm-linux-gnueabihf-gcc", "arm", "qemu-arm-static"),
             ("x86_64", "BR2_TOOLCHAIN_USES_GLIBC", False, "x86_64-buildroot-linux-gnu", "gcc", "x86_64", None),
             ("x86_64", "BR2_TOOLCHAIN_USES_MUSL", True, "x86_64-buildroot-linux-musl", "gcc", "x86_64", None)]
    done = []
    for arch, libc, cxx, tuple_, gcc, machine, runner in cases:
        real_gcc = shutil.which(gcc)
        need(real_gcc, gcc + " is not installed (Debian: gcc-arm-linux-gnueabihf)")
        k = system(arch, libc, cxx)
        select(k, "BR2_INIT_TEND", BR2_PACKAGE_TEND_LOCAL_SRC=str(REPO))
        triple, _ = rust_triple(k)
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            host, log = tmp / "host", tmp / "gcc.log"
            rustc, note = fake_host(host, tuple_, real_gcc, log)
            if not has_target(rustc, triple):
                print("    (skipped %s: %s has no %s)" % (triple, note, triple))
                continue
            src = tmp / "build" / "tend-custom"
            mk = Mk(k, tmp, {"HOST_DIR": host, "BR_CARGO_HOME": CARGO_HOME_BR})
            copy_source(src, mk.get("TEND_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS"))
            CARGO_HOME_BR.mkdir(parents=True, exist_ok=True)
            mk.do("TEND_VENDOR_CRATES", src)
            assert "vendored-sources" in (src / ".cargo" / "config.toml").read_text(), "vendoring replaced the cargo config"
            env = {"PATH": "%s/bin:%s/sbin:%s" % (host, host, os.environ["PATH"]), "HOME": os.environ.get("HOME", "/root"),
                   "GIT_DIR": ".", "CC": "%s/bin/%s-gcc" % (host, tuple_), "CFLAGS": "-O2 -g0", "LDFLAGS": ""}
            env.update(pkg_cargo_env(triple, tuple_, host, CARGO_HOME_BR, machine == "arm"))
            env.update(env_words(mk.get("TEND_CARGO_ENV")))
            target = tmp / "target"
            check_run(["cargo", "build", "--offline", "--release", "--manifest-path", "Cargo.toml", "--locked"],
                      cwd=src, env=env)
            check_run(["cargo", "install", "--offline", "--root", str(target / "usr"), "--bins", "--path", "./",
                       "--no-track", "--force", "--locked", "-Z", "target-applies-to-host"], cwd=src, env=env)
            if machine == "arm":
                # BR2_ENABLE_DEBUG: the build step uses the dev profile (no
                # --release) with debug info; it must link too.
                dbg = dict(env, CARGO_PROFILE_DEV_DEBUG="1", CARGO_PROFILE_RELEASE_DEBUG="1")
                check_run(["cargo", "build", "--offline", "--manifest-path", "Cargo.toml", "--locked"], cwd=src, env=dbg)
                assert_static_no_libc(src / "target" / triple / "debug" / "tend", machine)
            binary = target / "usr" / "bin" / "tend"
            assert_static_no_libc(binary, machine)
            lines = log.read_text().splitlines()
            links = [(c.split()[1:], a.split()[1:]) for c, a in zip(lines[::2], lines[1::2]) if "-nostartfiles" in c]
            assert links, "the gcc driver never linked tend:\n" + "\n".join(lines)
            for args, added in links:
                for flag in ("-nostartfiles", "-nostdlib", "-static", "-no-pie"):
                    assert flag in args, "%s: link without %s" % (triple, flag)
                assert "-pie" not in added and "-fPIE" not in added, "%s: the wrapper added %s" % (triple, added)
            cmd = [str(binary), "check", str(EXT / "board" / "tend" / "tend.conf")]
            if runner:
                if not shutil.which(runner):
                    print("    (%s: not run, no %s)" % (triple, runner))
                    done.append(triple)
                    continue
                cmd = [runner] + cmd
            r = check_run(cmd)
            assert ": ok, 3 services" in r.stdout, r.stdout
            done.append(triple)
    need(done, "no Rust target to link")
    print("    linked by a gcc driver (%s): %s" % (rust_toolchain()[2], ", ".join(done)))


# --- with a Buildroot checkout ---------------------------------------------------

def br():
    need(BUILDROOT_DIR, "BUILDROOT_DIR is not set")
    d = Path(BUILDROOT_DIR)
    assert (d / "package" / "pkg-cargo.mk").is_file(), "BUILDROOT_DIR=%s is not a Buildroot tree" % d
    return d


def br_version(d):
    r = run(["make", "-s", "-C", str(d), "print-version"])
    return r.stdout.strip() or "?"


def br_make(d, out, *args, env=None):
    e = dict(os.environ, **(env or {}))
    return check_run(["make", "-C", str(d), "O=%s" % out] + list(args), env=e)


def br_configure(d, out, defconfig, extra_lines=()):
    """Buildroot's defconfig step for one of our defconfigs (plus lines)."""
    if extra_lines:
        seed = Path(out).parent / ("seed_" + defconfig)
        seed.write_text((EXT / "configs" / defconfig).read_text() + "".join(l + "\n" for l in extra_lines))
        br_make(d, out, "BR2_EXTERNAL=%s" % EXT, "defconfig", "BR2_DEFCONFIG=%s" % seed)
    else:
        br_make(d, out, "BR2_EXTERNAL=%s" % EXT, defconfig)


def printvars(d, out, *names, env=None):
    r = br_make(d, out, "-s", "printvars", "VARS=%s" % " ".join(names), env=env)
    vals, cur = {}, None
    for line in r.stdout.splitlines():
        k, sep, v = line.partition("=")
        if sep and k in names:
            cur = k
            vals[k] = v
        elif cur:
            vals[cur] += "\n" + line     # the next line of a define
    return {k: v.strip() for k, v in vals.items()}


@test
def test_br_stub_symbols_exist():
    d = br()
    kinds = {}
    for f in list(d.rglob("Config.in*")) + [d / "Config.in"]:
        if "/support/" in str(f) or "/docs/" in str(f):
            continue
        text = f.read_text(errors="replace")
        for name, kind in re.findall(r"^(?:menu)?config (\w+)\n\s+(bool|string|int|hex|tristate)", text, re.M):
            kinds.setdefault(name, set()).add(kind)
    stub = re.findall(r"^(?:menu)?config (\w+)\n(?:#.*\n)*\s+(bool|string)", STUB_KCONFIG.read_text(), re.M)
    missing = [(n, t) for n, t in stub if t not in kinds.get(n, set())]
    eq(missing, [], "stub symbols that Buildroot %s lacks (or types it differs on)" % br_version(d))


@test
def test_br_defconfigs_survive():
    d = br()
    for name in DEFCONFIGS:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out"
            br_configure(d, out, name)
            config = (out / ".config").read_text().splitlines()
            values = {}
            for l in config:
                m = re.fullmatch(r"(BR2_\w+)=(.*)|# (BR2_\w+) is not set", l)
                if m:
                    values[m.group(1) or m.group(3)] = m.group(2) if m.group(1) else "n"
            lost = []
            for l in (EXT / "configs" / name).read_text().splitlines():
                m = re.fullmatch(r"(BR2_\w+)=(.*)|# (BR2_\w+) is not set", l)
                sym, want = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), "n")
                if values.get(sym, "n") != want:
                    lost.append("%s (in .config: %s)" % (l, values.get(sym, "absent")))
            eq(lost, [], "%s: lines kconfig dropped or changed" % name)
            for sym in ["BR2_PACKAGE_TEND", "BR2_PACKAGE_SKELETON_INIT_NONE", "BR2_PACKAGE_TEND_SBIN_INIT",
                        "BR2_PACKAGE_HOST_RUSTC"]:
                eq(values.get(sym), "y", "%s: %s" % (name, sym))
            eq(values.get("BR2_INIT_BUSYBOX"), "n", name + ": BusyBox init")
            br_make(d, out, "savedefconfig", "BR2_DEFCONFIG=%s/saved" % tmp)
            eq(Path(tmp, "saved").read_text(), (EXT / "configs" / name).read_text(), name + ": savedefconfig form")
            upstream = (d / "configs" / name.replace("tend_", "")).read_text().splitlines()
            ours = (EXT / "configs" / name).read_text().splitlines()
            # Where a tend image must differ from Buildroot's own board (found
            # by the first real build of it, tests/buildroot/image): the
            # x86_64 board's post-build script only edits an inittab, and its
            # getty is left on "console", which cannot be a controlling tty.
            dropped = {"tend_qemu_x86_64_defconfig": ['BR2_ROOTFS_POST_BUILD_SCRIPT="board/qemu/x86_64/post-build.sh"']}
            added = {"tend_qemu_x86_64_defconfig": ['BR2_TARGET_GENERIC_GETTY_PORT="ttyS0"']}
            eq([l for l in upstream if l not in ours], dropped.get(name, []),
               name + ": lines of Buildroot's own defconfig missing")
            eq(sorted(l for l in ours if l not in upstream),
               sorted(["BR2_INIT_TEND=y",
                       'BR2_PACKAGE_TEND_LOCAL_SRC="$(BR2_EXTERNAL_TEND_PATH)/.."']
                      + added.get(name, [])),
               name + ": lines beyond Buildroot's own defconfig")
    print("    Buildroot %s" % br_version(d))


@test
def test_br_check_package():
    d = br()
    for mod in ("magic", "flake8"):
        r = run([sys.executable, "-c", "import " + mod])
        need(r.returncode == 0, "check-package needs the Python module %s (pip install %s)"
             % (mod, {"magic": "python-magic"}.get(mod, mod)))
    files = sorted(str(p) for p in PKG.iterdir()) + sorted(str(p) for p in (EXT / "configs").iterdir())
    r = run([sys.executable, "utils/check-package", "-b"] + files, cwd=d)
    assert r.returncode == 0 and "0 warnings generated" in r.stdout + r.stderr, r.stdout + r.stderr


@test
def test_br_printvars_match_offline_assumptions():
    d = br()
    for name, tuple_, arm in [(DEFCONFIGS[0], "x86_64-buildroot-linux-gnu", False),
                              (DEFCONFIGS[1], "arm-buildroot-linux-gnueabihf", True)]:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out"
            dl = Path(tmp) / "dl"
            br_configure(d, out, name)
            names = ["PKG_CARGO_ENV", "TEND_CARGO_ENV", "RUSTC_TARGET_NAME", "NORMALIZED_ARCH", "TARGET_CROSS",
                     "SYSTEM_GETTY_PORT", "SYSTEM_GETTY_BAUDRATE", "SYSTEM_GETTY_TERM", "SYSTEM_GETTY_OPTIONS",
                     "TEND_TABLE", "TEND_SITE", "TEND_SITE_METHOD", "TOOLCHAIN_WRAPPER_ARGS"]
            v = printvars(d, out, *names, env={"BR2_DL_DIR": str(dl)})
            triple = v["RUSTC_TARGET_NAME"]
            eq(v["TARGET_CROSS"], "%s/host/bin/%s-" % (out, tuple_), name + ": toolchain tuple")
            eq(env_words(v["PKG_CARGO_ENV"]), pkg_cargo_env(triple, tuple_, out / "host", dl / "br-cargo-home", arm),
               name + ": PKG_CARGO_ENV (what test_gcc_driver_link reproduces)")
            k = load_defconfig(name)
            with tempfile.TemporaryDirectory() as t2:
                mk = Mk(k, t2)
                eq((triple, v["NORMALIZED_ARCH"]), (mk.vars["RUSTC_TARGET_NAME"], mk.vars["NORMALIZED_ARCH"]),
                   name + ": target name and architecture")
                eq(env_words(v["TEND_CARGO_ENV"]), env_words(mk.get("TEND_CARGO_ENV")), name + ": TEND_CARGO_ENV")
                for s in ("SYSTEM_GETTY_PORT", "SYSTEM_GETTY_BAUDRATE", "SYSTEM_GETTY_TERM", "SYSTEM_GETTY_OPTIONS"):
                    eq(v[s], mk.get(s), name + ": " + s)
            eq(v["TEND_TABLE"], str(EXT / "board" / "tend" / "tend.conf"), name + ": table")
            eq((v["TEND_SITE"], v["TEND_SITE_METHOD"]), (str(EXT) + "/..", "local"), name + ": source")
            wrapper = v["TOOLCHAIN_WRAPPER_ARGS"]
            for flag in ("-DBR2_PIC_PIE", "-DBR2_RELRO_FULL", '"-fstack-protector-strong"'):
                assert flag in wrapper, "%s: the wrapper test_gcc_driver_link imitates has %s: %s" % (name, flag, wrapper)


def br_fake_toolchain(d, out, dl, real_gcc, musl_ok=True):
    """Marks every package tend and host-tend depend on as built (but the
    skeletons, which Buildroot really installs), and puts in HOST_DIR what
    they would have: the toolchain (Buildroot's own wrapper, compiled as
    Buildroot does, over real_gcc) and Rust (from rustup)."""
    env = {"BR2_DL_DIR": str(dl)}
    v = printvars(d, out, "TEND_FINAL_RECURSIVE_DEPENDENCIES", "HOST_TEND_FINAL_RECURSIVE_DEPENDENCIES",
                  "TARGET_CROSS", "STAGING_SUBDIR", "TOOLCHAIN_WRAPPER_BUILD", "HOST_DIR", "RUSTC_TARGET_NAME", env=env)
    deps = set((v["TEND_FINAL_RECURSIVE_DEPENDENCIES"] + " " + v["HOST_TEND_FINAL_RECURSIVE_DEPENDENCIES"]).split())
    fake = sorted(p for p in deps if not (p.startswith("skeleton") or p in ("host-skeleton", "host-tend", "tend")))
    dirs = printvars(d, out, *[p.upper().replace("-", "_") + "_DIR" for p in fake], env=env)
    for p in dirs.values():
        Path(p).mkdir(parents=True, exist_ok=True)
        for s in ("downloaded", "extracted", "patched", "configured", "built", "target_installed",
                  "staging_installed", "images_installed", "host_installed", "installed"):
            f = Path(p) / (".stamp_" + s)
            f.touch()
            os.utime(f, (1600000000, 1600000000))
    host = Path(v["HOST_DIR"])
    (host / "bin").mkdir(parents=True, exist_ok=True)
    (host / v["STAGING_SUBDIR"]).mkdir(parents=True, exist_ok=True)
    build = v["TOOLCHAIN_WRAPPER_BUILD"].replace("toolchain/toolchain-wrapper.c", str(d / "toolchain" / "toolchain-wrapper.c"))
    build = build.replace("-o ./toolchain-wrapper", "-o %s/bin/toolchain-wrapper" % host)
    check_run(build + """ -DBR_CROSS_PATH_SUFFIX='".br_real"'""", shell=True, cwd=d)
    cross = v["TARGET_CROSS"]
    os.symlink("toolchain-wrapper", cross + "gcc")
    os.symlink(real_gcc, cross + "gcc.br_real")
    cargo, rustc, note = rust_toolchain()
    for t in (cargo, rustc):
        os.symlink(t, host / "bin" / t.name)
    if "host-tar" in fake:   # the download helpers unpack with $(HOST_DIR)/bin/tar
        os.symlink(shutil.which("tar"), host / "bin" / "tar")
    need(has_target(rustc, v["RUSTC_TARGET_NAME"]), "%s has no %s" % (note, v["RUSTC_TARGET_NAME"]))
    return env, host, note


def br_build_and_check(d, out, env, machine, what):
    """Runs Buildroot's own steps for host-tend and tend, then the package's
    finalize and rootfs commands (from printvars) on the real target dir."""
    r = run(["make", "-C", str(d), "O=%s" % out, "tend"], env=dict(os.environ, **env))
    if r.returncode != 0:
        raise AssertionError("%s: make tend failed:\n%s" % (what, (r.stdout + r.stderr)[-5000:]))
    target = out / "target"
    assert_static_no_libc(target / "usr" / "bin" / "tend", machine)
    eq(os.readlink(target / "sbin" / "init"), "/usr/bin/tend", what + ": /sbin/init")
    eq(resolve(target, "/sbin/init"), target / "usr" / "bin" / "tend", what + ": /sbin/init resolves")
    v = printvars(d, out, "TEND_INSTALL_TABLE", "TEND_CHECK_TABLE", env=env)
    check_run("set -e\n" + v["TEND_INSTALL_TABLE"], shell=True)
    r = check_run(v["TEND_CHECK_TABLE"], shell=True)
    assert r.stdout.strip().endswith("/etc/tend.conf: ok, 5 services"), r.stdout
    table = target / "etc" / "tend.conf"
    table.write_text(table.read_text() + "[oops]\nrun = /bin/true\nuser = www\n")
    r = run(v["TEND_CHECK_TABLE"], shell=True)
    assert r.returncode != 0 and "tend.conf:" in r.stderr, what + ": a broken table passed the check"
    return r


@test
def test_br_package_build():
    """Buildroot's own make builds host-tend and tend for each defconfig, from
    the local tree (rsync, vendoring, cargo build and install with
    pkg-cargo.mk's environment, the /sbin/init hook), linking through
    Buildroot's real toolchain wrapper over a Debian gcc."""
    d = br()
    for tool in ("rsync", "flock"):
        need(shutil.which(tool), tool + " is not installed")
    cases = [(DEFCONFIGS[1], [], "arm-linux-gnueabihf-gcc", "arm"),
             (DEFCONFIGS[0], [], "gcc", "x86_64"),
             (DEFCONFIGS[0], ["BR2_TOOLCHAIN_BUILDROOT_MUSL=y", "BR2_TOOLCHAIN_BUILDROOT_CXX=y"], "gcc", "x86_64")]
    built = []
    for name, extra, gcc, machine in cases:
        real_gcc = shutil.which(gcc)
        need(real_gcc, gcc + " is not installed")
        WORK.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=WORK) as tmp:
            out, dl = Path(tmp) / "out", Path(tmp) / "dl"
            br_configure(d, out, name, extra)
            what = name + (" + musl" if extra else "")
            try:
                env, host, note = br_fake_toolchain(d, out, dl, real_gcc)
            except Skip as e:
                print("    (%s skipped: %s)" % (what, e))
                continue
            # Buildroot's cargo home, with the crates the tests vendored before.
            shutil.copytree(CARGO_HOME_BR, dl / "br-cargo-home") if CARGO_HOME_BR.is_dir() else None
            br_build_and_check(d, out, env, machine, what)
            built.append(what)
    need(built, "nothing built")
    print("    Buildroot %s, %s: %s" % (br_version(d), rust_toolchain()[2], "; ".join(built)))


@test
def test_br_release_tarball():
    """The release path: Buildroot downloads a tarball of the tree (here with
    its file method), vendors its crates (support/download/cargo-post-process),
    and builds it offline."""
    d = br()
    for tool in ("rsync", "flock", "git"):
        need(shutil.which(tool), tool + " is not installed")
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        tmp = Path(tmp)
        out, dl, dist = tmp / "out", tmp / "dl", tmp / "dist"
        br_configure(d, out, DEFCONFIGS[0], ['BR2_PACKAGE_TEND_LOCAL_SRC=""'])
        env, host, note = br_fake_toolchain(d, out, dl, shutil.which("gcc"))
        # The tarball `git archive --prefix=tend-VERSION/` makes, with the
        # files not committed yet.
        files = check_run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO).stdout.split()
        dist.mkdir()
        version = printvars(d, out, "TEND_VERSION", env=env)["TEND_VERSION"]
        check_run(["tar", "czf", str(dist / ("tend-%s.tar.gz" % version)), "--transform", "s,^,tend-%s/," % version]
                  + [f for f in files if (REPO / f).is_file()], cwd=REPO)
        if CARGO_HOME_BR.is_dir():
            shutil.copytree(CARGO_HOME_BR, dl / "br-cargo-home")
        # Command-line variables override tend.mk's; no hash file: the
        # tarball's hash is only known once it is made.
        args = ["TEND_SITE=file://%s" % dist, "TEND_SITE_METHOD=file", "TEND_HASH_FILES=", "HOST_TEND_HASH_FILES="]
        r = run(["make", "-C", str(d), "O=%s" % out] + args + ["tend"], env=dict(os.environ, BR2_DL_DIR=str(dl)))
        if r.returncode != 0:
            raise AssertionError("make tend from a tarball failed:\n" + (r.stdout + r.stderr)[-5000:])
        assert "Vendoring" in r.stdout + r.stderr or "vendored" in r.stdout + r.stderr, "no vendoring seen"
        stored = dl / "tend" / ("tend-%s.tar.gz" % version)
        names = check_run(["tar", "tzf", str(stored)]).stdout.split()
        assert any(n.startswith("tend-%s/VENDOR/" % version) for n in names), "the stored tarball has its crates"
        assert_static_no_libc(out / "target" / "usr" / "bin" / "tend", "x86_64")
        print("    vendored tarball as stored: sha256 %s (changes with every commit)"
              % hashlib.sha256(stored.read_bytes()).hexdigest())


# --- runner ------------------------------------------------------------------------

def main(argv):
    picks = [argv[i + 1] for i, a in enumerate(argv) if a == "-k" and i + 1 < len(argv)]
    passed = failed = skipped = 0
    for fn in TESTS:
        if picks and not any(p in fn.__name__ for p in picks):
            continue
        t0 = time.monotonic()
        try:
            fn()
        except Skip as e:
            skipped += 1
            print("skip  %s: %s" % (fn.__name__, e), flush=True)
        except Exception:
            failed += 1
            print("FAIL  %s (%.1fs)\n%s" % (fn.__name__, time.monotonic() - t0,
                                            "".join("    " + l + "\n" for l in traceback.format_exc().splitlines())),
                  flush=True)
        else:
            passed += 1
            print("ok    %s (%.1fs)" % (fn.__name__, time.monotonic() - t0), flush=True)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
