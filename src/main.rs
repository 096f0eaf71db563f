//! Program entry without libc: `_start` for each architecture, the panic
//! handler, and the handful of symbols the compiler's runtime expects.
//!
//! # Inventory of unsafe operations
//! - `_start` (global assembly) hands the initial stack pointer to `entry`.
//! - `entry` reads argc, argv and envp from the initial stack, whose layout
//!   the kernel's ELF loader fixes (System V ABI).
//! - `rustix::param::init` is given that envp, from which rustix finds the
//!   auxiliary vector; it runs once, before anything else.
//! - The release panic handler calls a symbol nobody defines, so a build that
//!   keeps any panic path fails to link (see scripts/find-panics).
//! - The C memory functions read and write through the raw pointers the
//!   compiler's calls vouch for; on x86_64 they are the string instructions
//!   (`rep movsb`, `rep stosb`, `repe cmpsb`).
#![no_std]
#![no_main]
#![allow(unsafe_code)]
#![cfg_attr(target_arch = "mips", feature(asm_experimental_arch))]

#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".globl _start",
    ".type _start,@function",
    "_start:",
    "xor ebp, ebp",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {entry}",
    "ud2",
    entry = sym entry,
);

#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(
    ".globl _start",
    ".type _start,@function",
    "_start:",
    "mov x29, xzr",
    "mov x30, xzr",
    "mov x0, sp",
    "and sp, x0, #-16",
    "bl {entry}",
    "udf #0",
    entry = sym entry,
);

#[cfg(target_arch = "arm")]
core::arch::global_asm!(
    ".globl _start",
    ".type _start,%function",
    "_start:",
    "mov fp, #0",
    "mov lr, #0",
    "mov r0, sp",
    "bic sp, sp, #15",
    "bl {entry}",
    "udf #0",
    entry = sym entry,
);

#[cfg(target_arch = "riscv64")]
core::arch::global_asm!(
    ".globl _start",
    ".type _start,@function",
    "_start:",
    "mv fp, zero",
    "mv ra, zero",
    "mv a0, sp",
    "andi sp, sp, -16",
    "call {entry}",
    "unimp",
    entry = sym entry,
);

// MIPS o32: the linker's entry is `__start`; $gp set for small data, the
// stack aligned to 8 with the 16 bytes a callee may keep its register
// arguments in below the caller's frame.
#[cfg(target_arch = "mips")]
core::arch::global_asm!(
    ".globl _start",
    ".globl __start",
    ".type _start,@function",
    "_start:",
    "__start:",
    "lui $gp, %hi(_gp)",
    "addiu $gp, $gp, %lo(_gp)",
    "move $fp, $zero",
    "move $ra, $zero",
    "move $a0, $sp",
    "li $t0, -8",
    "and $sp, $sp, $t0",
    "addiu $sp, $sp, -16",
    "jal {entry}",
    "break",
    entry = sym entry,
);

/// All of tend's run-time state, in .bss: it costs RAM only as it is used.
/// (The bytes of the log rings and the crash records' lines are
/// `tend::sys::arena`'s.)
static mut WORLD: tend::world::World = tend::world::World::new();

/// Reads the initial stack and runs tend; never returns.
unsafe extern "C" fn entry(sp: *const usize) -> ! {
    // SAFETY: the kernel puts argc at the stack pointer, then argc argument
    // pointers, a null, the environment pointers and a null (System V ABI).
    let (argc, argv, envp) = unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *const *const u8;
        (argc, argv, argv.add(argc + 1))
    };
    // SAFETY: envp is the process's real environment block, followed by the
    // auxiliary vector; called once, before any other rustix call.
    unsafe { rustix::param::init(envp as *mut *mut u8) };
    // SAFETY: argv holds argc valid pointers (see above).
    let args = unsafe { core::slice::from_raw_parts(argv, argc) };
    let mut env_len = 0;
    // SAFETY: the environment block ends with a null pointer.
    while unsafe { !(*envp.add(env_len)).is_null() } {
        env_len += 1;
    }
    // SAFETY: as above; env_len entries precede the null.
    let env = unsafe { core::slice::from_raw_parts(envp, env_len) };
    // From now on, tend must not die: all storage is in place.
    // SAFETY: `entry` runs once, on the only thread, so this is the only
    // reference ever made to the static.
    let world = unsafe { &mut *core::ptr::addr_of_mut!(WORLD) };
    extern "C" {
        // link.ld's bounds of the cold code (see `tend::sys::drop_cold`).
        static __tend_cold_start: u8;
        static __tend_cold_end: u8;
    }
    // Only the symbols' addresses are taken, never read through.
    let start = core::ptr::addr_of!(__tend_cold_start) as usize;
    let end = core::ptr::addr_of!(__tend_cold_end) as usize;
    tend::sys::set_cold(start, end);
    let arena = tend::sys::arena::take().unwrap_or_default();
    let code = tend::main(&Args(args), &Args(env), world, arena);
    tend::sys::exit_group(code)
}

/// The process's argument or environment vector.
struct Args<'a>(&'a [*const u8]);

impl tend::cli::Argv for Args<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn get(&self, i: usize) -> Option<&[u8]> {
        let p = *self.0.get(i)?;
        let mut len = 0;
        // SAFETY: every entry is a NUL-terminated string from the kernel, so
        // each byte up to and including the NUL is readable.
        // (A volatile read, so the loop is not turned into a call to strlen.)
        while unsafe { p.add(len).read_volatile() } != 0 {
            len += 1;
        }
        // SAFETY: the `len` bytes before the NUL, as just measured.
        Some(unsafe { core::slice::from_raw_parts(p, len) })
    }
}

#[cfg(not(any(debug_assertions, tend_panic_trace)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    extern "C" {
        // Defined nowhere: a release build that can still panic does not link.
        // Run scripts/find-panics to see which function keeps a panic path.
        fn tend_release_build_still_has_a_panic_path() -> !;
    }
    // SAFETY: never executed in a linked binary (the symbol does not exist).
    unsafe { tend_release_build_still_has_a_panic_path() }
}

#[cfg(any(debug_assertions, tend_panic_trace))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    let _ = rustix::io::write(tend::sys::stderr(), b"tend: internal error: panic\n");
    tend::sys::exit_group(tend::report::EXIT_BUG)
}

/// Unwinding is never used (panic = "abort"), but non-LTO and ARM builds
/// still refer to the personality routine.
#[no_mangle]
extern "C" fn rust_eh_personality() {}

/// ARM's EHABI refers to these from code built with unwind tables.
#[cfg(target_arch = "arm")]
#[no_mangle]
extern "C" fn __aeabi_unwind_cpp_pr0() {}
#[cfg(target_arch = "arm")]
#[no_mangle]
extern "C" fn __aeabi_unwind_cpp_pr1() {}
#[cfg(target_arch = "arm")]
#[no_mangle]
extern "C" fn __aeabi_unwind_cpp_pr2() {}

/// compiler_builtins asks the C library for CPU features on aarch64; there is
/// none, so no optional feature is reported.
#[cfg(target_arch = "aarch64")]
#[no_mangle]
extern "C" fn getauxval(_type: usize) -> usize {
    0
}

// The C memory functions the compiler calls for copies, fills and
// comparisons. With no libc they must come from here. Volatile accesses keep
// LLVM from turning these very loops back into calls to themselves.

#[cfg(not(target_arch = "x86_64"))]
const WORD: usize = core::mem::size_of::<usize>();

/// # Safety
/// `dst` and `src` are valid for `n` bytes and do not overlap.
#[no_mangle]
unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: same contract as memmove, which also handles this case.
    unsafe { memmove(dst, src, n) }
}

/// On x86_64 the string instructions do it in a tenth of the code: `rep
/// movsb` forwards (fast on every CPU since Ivy Bridge, and what
/// `copy_within` towards the start of a buffer does), or backwards with the
/// direction flag set when the destination overlaps the source's end (only
/// the reload's moves of whole rings do that).
///
/// # Safety
/// `dst` and `src` are valid for `n` bytes; they may overlap.
#[cfg(target_arch = "x86_64")]
#[no_mangle]
#[inline(never)]
unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    let last = n.wrapping_sub(1);
    // SAFETY: rep movsb copies rcx bytes from rsi to rdi, within the n bytes
    // the caller vouches for: upwards from the first byte when dst does not
    // lie within the source's first n bytes past its start (then no byte is
    // overwritten before it is read), else downwards from the last byte. The
    // direction flag is clear on entry and exit, as the System V ABI wants.
    unsafe {
        if (dst as usize).wrapping_sub(src as usize) >= n {
            core::arch::asm!(
                "rep movsb",
                inout("rcx") n => _, inout("rdi") dst => _, inout("rsi") src => _,
                options(nostack, preserves_flags),
            );
        } else {
            core::arch::asm!(
                "std", "rep movsb", "cld",
                inout("rcx") n => _,
                inout("rdi") dst.wrapping_add(last) => _,
                inout("rsi") src.wrapping_add(last) => _,
                options(nostack),
            );
        }
    }
    dst
}

/// # Safety
/// `dst` and `src` are valid for `n` bytes; they may overlap.
#[cfg(not(target_arch = "x86_64"))]
#[no_mangle]
unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    let (d, s) = (dst as usize, src as usize);
    let words = d % WORD == s % WORD;
    // SAFETY: every access stays within the n bytes the caller vouches for;
    // copying forwards when dst is below src and backwards otherwise keeps
    // overlapping copies right.
    unsafe {
        if d <= s || d >= s + n {
            let mut i = 0;
            if words {
                while i < n && !(d + i).is_multiple_of(WORD) {
                    dst.add(i).write_volatile(src.add(i).read_volatile());
                    i += 1;
                }
                while i + WORD <= n {
                    (dst.add(i) as *mut usize)
                        .write_volatile((src.add(i) as *const usize).read_volatile());
                    i += WORD;
                }
            }
            while i < n {
                dst.add(i).write_volatile(src.add(i).read_volatile());
                i += 1;
            }
        } else {
            let mut i = n;
            if words {
                while i > 0 && !(d + i).is_multiple_of(WORD) {
                    i -= 1;
                    dst.add(i).write_volatile(src.add(i).read_volatile());
                }
                while i >= WORD {
                    i -= WORD;
                    (dst.add(i) as *mut usize)
                        .write_volatile((src.add(i) as *const usize).read_volatile());
                }
            }
            while i > 0 {
                i -= 1;
                dst.add(i).write_volatile(src.add(i).read_volatile());
            }
        }
    }
    dst
}

/// On x86_64 `rep stosb`, as `memmove`.
///
/// # Safety
/// `dst` is valid for `n` bytes.
#[cfg(target_arch = "x86_64")]
#[no_mangle]
#[inline(never)]
unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    // SAFETY: rep stosb writes al to the rcx bytes upwards from rdi, the n
    // bytes the caller vouches for (the direction flag is clear, as the
    // System V ABI wants).
    unsafe {
        core::arch::asm!(
            "rep stosb",
            inout("rcx") n => _, inout("rdi") dst => _, in("al") c as u8,
            options(nostack, preserves_flags),
        );
    }
    dst
}

/// # Safety
/// `dst` is valid for `n` bytes.
#[cfg(not(target_arch = "x86_64"))]
#[no_mangle]
unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    let byte = c as u8;
    // (No array here: building one would call memset.)
    let word = usize::from(byte) * (usize::MAX / 255);
    let mut i = 0;
    // SAFETY: every write stays within the n bytes the caller vouches for.
    unsafe {
        while i < n && !(dst as usize + i).is_multiple_of(WORD) {
            dst.add(i).write_volatile(byte);
            i += 1;
        }
        while i + WORD <= n {
            (dst.add(i) as *mut usize).write_volatile(word);
            i += WORD;
        }
        while i < n {
            dst.add(i).write_volatile(byte);
            i += 1;
        }
    }
    dst
}

/// On x86_64 `repe cmpsb`, as `memmove`.
///
/// # Safety
/// `a` and `b` are valid for `n` bytes.
#[cfg(target_arch = "x86_64")]
#[no_mangle]
#[inline(never)]
unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let d: i32;
    // SAFETY: repe cmpsb compares the bytes at rsi and rdi upwards while they
    // are equal, at most rcx of them: within the n bytes the caller vouches
    // for. The xor sets ZF, so that n = 0 (no comparison) counts as equal;
    // else the last bytes compared, just below rsi and rdi, are the first
    // that differ, if any do.
    unsafe {
        core::arch::asm!(
            "xor eax, eax",
            "repe cmpsb",
            "je 2f",
            "movzx eax, byte ptr [rsi - 1]",
            "movzx ecx, byte ptr [rdi - 1]",
            "sub eax, ecx",
            "2:",
            inout("rcx") n => _, inout("rsi") a => _, inout("rdi") b => _,
            out("eax") d,
            options(nostack, readonly),
        );
    }
    d
}

/// # Safety
/// `a` and `b` are valid for `n` bytes.
#[cfg(not(target_arch = "x86_64"))]
#[no_mangle]
unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i < n {
        // SAFETY: i < n, within what the caller vouches for.
        let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
    }
    0
}

/// # Safety
/// `a` and `b` are valid for `n` bytes.
#[no_mangle]
unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract.
    unsafe { memcmp(a, b, n) }
}
