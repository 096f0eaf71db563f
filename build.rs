//! Link settings for the binary only (never for the library's tests).
//!
//! The cross targets link with rust-lld (see .cargo/config.toml and
//! scripts/link/rust-lld), which needs nothing here but the flags below.
//! When the linker is a C compiler driver — the host's `cc`, or a cross gcc
//! as Buildroot uses — it must not add the C runtime's start files or libc:
//! tend brings its own `_start` and calls the kernel directly.
//!
//! Every linker gets link.ld, which drops the unwind tables (tend aborts on
//! panic and never unwinds), and `-z norelro`: a static binary has no
//! dynamic linker to make anything read-only after relocation, and the
//! RELRO segment would put the few bytes of `.got` alone on a page of their
//! own, one more page of RAM (the kernel dirties it clearing the rest) and
//! a page-aligned segment more in the file.
use std::env;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    println!("cargo:rerun-if-changed=link.ld");
    println!("cargo::rustc-check-cfg=cfg(tend_panic_trace)");
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "linux" {
        return;
    }
    let dir = env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    println!("cargo:rustc-link-arg-bins=-T{dir}/link.ld");
    for arg in ["-z", "norelro"] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
    let linker = env::var("RUSTC_LINKER").unwrap_or_default();
    let is_lld = linker.ends_with("lld") || linker.ends_with("ld.lld") || linker.ends_with("/ld");
    // No section headers in a build without debug information: the kernel
    // loads a program by its program headers alone, and a stripped binary
    // has no use for them (-336 B on x86_64). Only rust-lld is asked: GNU
    // ld learnt the option after Debian 12's binutils. A build with debug
    // information keeps them, for objdump and debuggers (scripts/find-panics),
    // and so does one asked for with TEND_SECTION_HEADERS set (the kernel
    // floor's test disassembles the release build).
    println!("cargo:rerun-if-env-changed=TEND_SECTION_HEADERS");
    let headers = env::var_os("TEND_SECTION_HEADERS").is_some();
    if is_lld && !headers && env::var("DEBUG").as_deref() != Ok("true") {
        for arg in ["-z", "nosectionheader"] {
            println!("cargo:rustc-link-arg-bins={arg}");
        }
    }
    // The read-only data in the code's segment, as GNU ld laid out every
    // program before 2.31: rust-lld's own layout gives it a segment of its
    // own, one more program header (56 B on x86_64) and a page boundary
    // shared between two mappings.
    if is_lld {
        println!("cargo:rustc-link-arg-bins=--no-rosegment");
    }
    if !is_lld {
        for arg in ["-nostartfiles", "-nostdlib", "-static", "-no-pie"] {
            println!("cargo:rustc-link-arg-bins={arg}");
        }
    }
}
