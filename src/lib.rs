//! tend: a tiny, static, allocation-free process supervisor.
//!
//! The core (`limits`, `say`, `signal`, `table`, `ring`, `service`,
//! `supervisor`, `proto`, `status`) is plain Rust with no system calls: time
//! comes in as an argument and decisions come out as values. The shell around
//! it (`event_loop`, `spawn`, `ctl`, `client`, `cli`, `sys`) carries them out.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]

pub mod cli;
pub mod limits;
pub mod ring;
pub mod say;
pub mod signal;
pub mod sys;
pub mod table;

pub use cli::main;
