//! `doctor`: the end-to-end check.
//!
//! Not built yet: the command says so and exits 1.

use std::process::ExitCode;

use crate::config::Config;

/// Runs `doctor` (`--json` for machines).
pub fn run(_config: &Config, _json: bool) -> ExitCode {
    eprintln!("clawrouter-codex: doctor is not available in this build yet");
    super::problem()
}
