//! `gen-catalog`: the Codex model catalog from the live model list.
//!
//! Not built yet: the command says so and exits 1.

use std::process::ExitCode;

use crate::config::Config;

/// Runs `gen-catalog`.
pub fn run(_config: &Config) -> ExitCode {
    eprintln!("clawrouter-codex: gen-catalog is not available in this build yet");
    super::problem()
}
