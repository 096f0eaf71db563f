//! One raw system call entry per architecture: `syscall6(nr, a0..a5)`.
//!
//! The kernel returns `-errno` in the result register for errors
//! (values in `-4095..0`); [`super::check`] turns that into a `Result`.

#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) unsafe fn syscall6(nr: u32, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the caller vouches for the call's arguments; `syscall` clobbers
    // rcx and r11 and nothing else.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack)
        );
    }
    ret
}

#[cfg(target_arch = "aarch64")]
#[inline(always)]
pub(super) unsafe fn syscall6(nr: u32, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the caller vouches for the call's arguments; `svc 0` preserves
    // every register but x0.
    unsafe {
        core::arch::asm!(
            "svc 0",
            in("x8") nr as usize,
            inlateout("x0") a[0] => ret,
            in("x1") a[1], in("x2") a[2], in("x3") a[3], in("x4") a[4], in("x5") a[5],
            options(nostack)
        );
    }
    ret
}

#[cfg(target_arch = "arm")]
#[inline(always)]
pub(super) unsafe fn syscall6(nr: u32, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the caller vouches for the call's arguments. r7 carries the
    // number (EABI); it may be the frame pointer, so it is saved around the
    // call, as rustix does for Thumb.
    unsafe {
        core::arch::asm!(
            "mov {tmp}, r7",
            "mov r7, {nr}",
            "svc 0",
            "mov r7, {tmp}",
            nr = in(reg) nr as usize,
            tmp = out(reg) _,
            inlateout("r0") a[0] => ret,
            in("r1") a[1], in("r2") a[2], in("r3") a[3], in("r4") a[4], in("r5") a[5],
            options(nostack)
        );
    }
    ret
}

#[cfg(target_arch = "riscv64")]
#[inline(always)]
pub(super) unsafe fn syscall6(nr: u32, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the caller vouches for the call's arguments; `ecall` takes the
    // number in a7 and preserves every register but a0.
    unsafe {
        core::arch::asm!(
            "ecall",
            in("a7") nr as usize,
            inlateout("a0") a[0] => ret,
            in("a1") a[1], in("a2") a[2], in("a3") a[3], in("a4") a[4], in("a5") a[5],
            options(nostack)
        );
    }
    ret
}

/// MIPS o32: the number in v0, four arguments in a0-a3 and the fifth and
/// sixth on the stack, above the 16 bytes the caller keeps for a0-a3. The
/// kernel says an error with a3 != 0 and the errno (positive) in v0: made
/// `-errno` here, as the other architectures return it. The kernel does not
/// keep $1 ($at), which asm! cannot name as clobbered and LLVM allocates:
/// it is saved in a register of the compiler's choosing around the call.
#[cfg(target_arch = "mips")]
#[inline(always)]
pub(super) unsafe fn syscall6(nr: u32, a: [usize; 6]) -> isize {
    let ret: usize;
    let err: usize;
    // SAFETY: the caller vouches for the call's arguments; the stack space
    // is given back before the block ends; the kernel may change v1, a3
    // and the temporaries t0-t9, declared as clobbered.
    unsafe {
        core::arch::asm!(
            ".set noat",
            "move {at_save}, $1",
            "subu $sp, 32",
            "sw {a4}, 16($sp)",
            "sw {a5}, 20($sp)",
            "syscall",
            "addu $sp, 32",
            "move $1, {at_save}",
            ".set at",
            a4 = in(reg) a[4],
            a5 = in(reg) a[5],
            at_save = out(reg) _,
            inlateout("$2") nr as usize => ret,
            in("$4") a[0], in("$5") a[1], in("$6") a[2],
            inlateout("$7") a[3] => err,
            lateout("$3") _,
            lateout("$8") _, lateout("$9") _, lateout("$10") _, lateout("$11") _,
            lateout("$12") _, lateout("$13") _, lateout("$14") _, lateout("$15") _,
            lateout("$24") _, lateout("$25") _,
        );
    }
    if err != 0 {
        (ret as isize).wrapping_neg()
    } else {
        ret as isize
    }
}

/// [`syscall6`] for a call that reads at most three arguments: the others'
/// registers are left as they are, which the kernel never looks at.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) unsafe fn syscall3(nr: u32, a: [usize; 3]) -> isize {
    let ret: isize;
    // SAFETY: the caller vouches for the call's arguments; `syscall` clobbers
    // rcx and r11 and nothing else.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            lateout("rcx") _, lateout("r11") _,
            options(nostack)
        );
    }
    ret
}

/// [`syscall6`] for a call that reads at most three arguments: no stack
/// arguments.
#[cfg(target_arch = "mips")]
#[inline(always)]
pub(super) unsafe fn syscall3(nr: u32, a: [usize; 3]) -> isize {
    let ret: usize;
    let err: usize;
    // SAFETY: as for syscall6, with nothing on the stack.
    unsafe {
        core::arch::asm!(
            ".set noat",
            "move {at_save}, $1",
            "syscall",
            "move $1, {at_save}",
            ".set at",
            at_save = out(reg) _,
            inlateout("$2") nr as usize => ret,
            in("$4") a[0], in("$5") a[1], in("$6") a[2],
            lateout("$7") err,
            lateout("$3") _,
            lateout("$8") _, lateout("$9") _, lateout("$10") _, lateout("$11") _,
            lateout("$12") _, lateout("$13") _, lateout("$14") _, lateout("$15") _,
            lateout("$24") _, lateout("$25") _,
            options(nostack)
        );
    }
    if err != 0 {
        (ret as isize).wrapping_neg()
    } else {
        ret as isize
    }
}

/// [`syscall6`] for a call that reads at most three arguments.
#[cfg(not(any(target_arch = "x86_64", target_arch = "mips")))]
#[inline(always)]
pub(super) unsafe fn syscall3(nr: u32, a: [usize; 3]) -> isize {
    let [a0, a1, a2] = a;
    // SAFETY: the caller vouches for the call's arguments.
    unsafe { syscall6(nr, [a0, a1, a2, 0, 0, 0]) }
}
