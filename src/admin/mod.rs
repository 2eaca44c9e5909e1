//! Management commands (README, Commands): everything besides running the bridge. Each command
//! is one module with a `run` function that prints for a person and returns the exit code
//! (0 success, 1 ran and found a problem, 2 bad usage or configuration).
//!
//! - [`codex_config`]: format-preserving, atomic edits of Codex's TOML files (one backup each).
//! - [`setup`]: the Codex profile ([`legacy_profile`]: moving an old `[profiles.x]` out);
//!   [`toggles`]: `desktop` and `websearch`.
//! - [`catalog`]: `gen-catalog`; [`doctor`]: the end-to-end check.
//! - [`envelope`]: the BlockRun CLI's `--json` output shape (`wallet`, `doctor`).
//! - [`wallet`]: address derivation and balance; [`daemon`]: the login service.
//! - [`spend`]: what direct mode paid, from its ledger.
//! - [`supervisor`]: `start` / `up`; [`proxy_version`]: what it launched, for `doctor`;
//!   [`pin`]: `proxy upgrade`, moving the pinned ClawRouter version.
//! - [`http`]: the one blocking `GET` they all use (on the bridge's own Pingora client).

pub mod catalog;
pub mod codex_config;
pub mod daemon;
pub mod doctor;
pub mod envelope;
pub mod http;
pub mod legacy_profile;
pub mod pin;
pub mod proxy_version;
pub mod setup;
pub mod spend;
pub mod supervisor;
pub mod toggles;
pub mod wallet;

use std::process::ExitCode;

/// Exit code for "ran and found a problem".
pub fn problem() -> ExitCode {
    ExitCode::from(1)
}

/// Exit code for bad usage or configuration.
pub fn bad_usage() -> ExitCode {
    ExitCode::from(2)
}
