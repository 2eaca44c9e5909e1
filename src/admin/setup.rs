//! `setup`: the Codex profile and the model catalog.
//!
//! Not built yet: the command says so and exits 1.

use std::process::ExitCode;

use crate::config::Config;

/// Runs `setup`.
pub fn run(_config: &Config) -> ExitCode {
    eprintln!("clawrouter-codex: setup is not available in this build yet");
    super::problem()
}
