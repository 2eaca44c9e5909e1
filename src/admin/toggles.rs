//! `desktop` and `websearch` switches.
//!
//! Not built yet: the command says so and exits 1.

use std::process::ExitCode;

use crate::cli::Switch;
use crate::config::Config;

/// Runs `desktop on|off|status`.
pub fn desktop(_config: &Config, _action: Switch) -> ExitCode {
    eprintln!("clawrouter-codex: desktop is not available in this build yet");
    super::problem()
}

/// Runs `websearch on|off|status`.
pub fn websearch(_config: &Config, _action: Switch) -> ExitCode {
    eprintln!("clawrouter-codex: websearch is not available in this build yet");
    super::problem()
}
