# Shared by qemu/fetch, qemu/build and qemu/boot (sourced, not run).
# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables load_board sets are for the callers

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${TEND_QEMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tend-qemu}

say() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { say "$*"; exit 1; }

# The boards qemu/ knows: every boards/*/ folder with a qemu.conf.
all_boards() {
  local d
  for d in "$REPO"/boards/*/qemu.conf; do
    [ -e "$d" ] || continue
    d=${d%/qemu.conf}
    printf '%s\n' "${d##*/}"
  done
}

# load_board NAME: sets BOARD, BOARD_DIR, the qemu.conf variables, TARGET
# (the Rust target triple), CMDLINE, TABLE (the board's tend.conf, else
# boards/common/tend.conf), and the cache paths of its kernel and busybox.
load_board() {
  BOARD=${1%/}
  BOARD=${BOARD##*/}
  BOARD_DIR=$REPO/boards/$BOARD
  [ -f "$BOARD_DIR/qemu.conf" ] ||
    die "no board '$BOARD' (boards with a qemu.conf: $(all_boards | tr '\n' ' '))"
  DEB_ARCH='' KERNEL_META='' DEB_SUITE='' QEMU='' QEMU_PACKAGE='' QEMU_MACHINE='' QEMU_MEMORY=256
  # shellcheck source=/dev/null
  . "$BOARD_DIR/qemu.conf"
  if [ -z "$DEB_ARCH" ] || [ -z "$KERNEL_META" ] || [ -z "$QEMU" ]; then
    die "$BOARD_DIR/qemu.conf: DEB_ARCH, KERNEL_META and QEMU are required"
  fi
  TARGET=$(tr -d ' \n' <"$BOARD_DIR/target")
  CMDLINE=$(sed -e 's/#.*//' "$BOARD_DIR/cmdline" | tr '\n' ' ' | sed -e 's/  */ /g; s/^ //; s/ $//')
  ARCH_CACHE=$CACHE/$DEB_ARCH
  KERNEL=$ARCH_CACHE/$KERNEL_META/vmlinuz
  BUSYBOX=$ARCH_CACHE/busybox-static/busybox
  BUSYBOX_APPLETS=$ARCH_CACHE/busybox-static/applets
  OUT=$REPO/target/qemu/$BOARD
  # What every board shares (boards/common), unless the board has its own.
  TABLE=$BOARD_DIR/tend.conf
  [ -f "$TABLE" ] || TABLE=$REPO/boards/common/tend.conf
}

# board_modules: the kernel modules the board lists in boards/BOARD/modules
# (paths under lib/modules/VERSION/kernel/ of its kernel package, one a line,
# `#` comments), in order; nothing when it has no such file.
board_modules() {
  [ -f "$BOARD_DIR/modules" ] || return 0
  sed -e 's/#.*//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' "$BOARD_DIR/modules" | grep -v '^$' || true
}

# Where qemu/fetch unpacks the modules boards of DEB_ARCH/KERNEL_META list:
# lib/modules/VERSION/{kernel/...,modules.order,modules.builtin} under it.
modules_cache() { printf '%s\n' "$ARCH_CACHE/$KERNEL_META/modules"; }

# The name qemu-user gives an architecture (to run a foreign busybox).
qemu_user_arch() {
  case $1 in
    amd64) echo x86_64 ;;
    i386) echo i386 ;;
    armhf | armel) echo arm ;;
    arm64) echo aarch64 ;;
    riscv64) echo riscv64 ;;
    *) echo "$1" ;;
  esac
}

# as_root CMD...: runs CMD as root (through sudo when not root).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
