//! `start` and `up`: bring up the proxy and the bridge, and keep both up.
//!
//! Not built yet: the command says so and exits 1.

use std::process::ExitCode;
use std::sync::Arc;

use crate::config::Config;

/// Runs `start`.
pub fn start(_config: Arc<Config>) -> ExitCode {
    eprintln!("clawrouter-codex: start is not available in this build yet");
    super::problem()
}

/// Runs `up` (`start` + `setup`).
pub fn up(_config: Arc<Config>) -> ExitCode {
    eprintln!("clawrouter-codex: up is not available in this build yet");
    super::problem()
}
