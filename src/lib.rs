//! tend: a tiny, static, allocation-free process supervisor.
//!
//! The core (`limits`, `exit`, `say`, `display`, `signal`, `errno`, `argv`,
//! `accounts`, `arena`, `conf`, `settings`, `table`, `ring`, `service`,
//! `listen`,
//! `slot`, `supervisor`, `ending`, `proto`, `status`, `reply`, `crash`,
//! `syslog`, `watchdog`) is plain Rust with no system calls: time comes in
//! as an argument and decisions come out as values. The shell around it
//! (`event_loop`, `shell`, `spawn`, `ctl`, `client`, `load`, `reload`,
//! `report`, `cli`, `pid1`, `syslog_in`, `watchdog_dev`, `listen_in`) carries them out,
//! and `sys` holds the few raw system calls. tests/layout.rs keeps it so.
//!
//! Everything tend keeps about a service is in its slot (`slot`): its conf,
//! its state, its ring, its crash record and its descriptors, one record
//! per service in the table (`table`), as nitro keeps its service array.
#![cfg_attr(not(test), no_std)]
// MIPS inline assembly (src/sys/arch.rs) is unstable: the MIPS targets are
// built with a nightly (rust-nightly).
#![cfg_attr(target_arch = "mips", feature(asm_experimental_arch))]
#![deny(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod accounts;
pub mod arena;
pub mod argv;
pub mod cli;
pub mod client;
pub mod conf;
pub mod crash;
pub mod ctl;
pub mod display;
pub mod ending;
pub mod errno;
pub mod event_loop;
pub mod exit;
#[cfg(feature = "keep")]
pub mod keep;
pub mod limits;
#[cfg(feature = "listen")]
pub mod listen;
#[cfg(feature = "listen")]
pub mod listen_in;
pub mod load;
pub mod pid1;
pub mod proto;
#[cfg(feature = "reload")]
pub mod reload;
pub mod reply;
pub mod report;
pub mod ring;
pub mod say;
pub mod service;
pub mod settings;
pub mod setup;
pub mod shell;
pub mod signal;
pub mod slot;
pub mod spawn;
pub mod status;
pub mod supervisor;
pub mod sys;
#[cfg(feature = "syslog")]
pub mod syslog;
#[cfg(feature = "syslog")]
pub mod syslog_in;
pub mod table;
#[cfg(feature = "watchdog")]
pub mod watchdog;
#[cfg(feature = "watchdog")]
pub mod watchdog_dev;
pub mod world;

pub use cli::main;
