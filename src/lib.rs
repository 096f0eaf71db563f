//! tend: a tiny, static, allocation-free process supervisor.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

pub mod cli;
pub mod sys;

pub use cli::main;
