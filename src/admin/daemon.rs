//! `daemon install|uninstall|status`: the login service.
//!
//! Not built yet: the command says so and exits 1.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::DaemonAction;
use crate::config::Config;

/// Runs `daemon`; `conf` is the config file the service will pass to `start`.
pub fn run(_config: &Config, _conf: Option<&Path>, _action: DaemonAction) -> ExitCode {
    eprintln!("clawrouter-codex: daemon is not available in this build yet");
    super::problem()
}
