//! The binary as a user runs it, minus every setting the environment could carry (a
//! developer's own `CLAWROUTER_PROXY_URL` or wallet key must not reach a test).

use std::process::Command;

/// The environment variables the binary reads as settings.
pub const SETTINGS: &[&str] = &[
    "PORT",
    "PROXY_PORT",
    "CLAWROUTER_PROXY_URL",
    "CLAWROUTER_CMD",
    "CLAWROUTER_VERSION",
    "CLAWROUTER_PAYMENT_CHAIN",
    "WALLET_KEY_FILE",
    "BLOCKRUN_WALLET_KEY",
    "BASE_CHAIN_WALLET_KEY",
    "BLOCKRUN_HOME",
    "ISOLATE_HOME",
    "CODEX_HOME",
    "WEB_SEARCH",
    "RUST_LOG",
];

/// `clawrouter-codex` with none of [`SETTINGS`] set.
pub fn clean_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clawrouter-codex"));
    for var in SETTINGS {
        cmd.env_remove(var);
    }
    cmd
}
