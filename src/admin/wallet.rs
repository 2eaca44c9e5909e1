//! `wallet`: the wallet address (derived offline) and balance.
//!
//! Not built yet: the command says so and exits 1.

use std::process::ExitCode;

use crate::config::Config;

/// Runs `wallet`.
pub fn run(_config: &Config) -> ExitCode {
    eprintln!("clawrouter-codex: wallet is not available in this build yet");
    super::problem()
}
