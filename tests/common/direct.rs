//! A bridge in direct mode (`upstream.kind: direct`) against the mock BlockRun, with its own
//! key file, ledger and routing profiles in a temporary folder.
#![allow(dead_code)]

use std::path::Path;

use clawrouter_codex::config::direct::FileDirect;
use clawrouter_codex::config::{EnvOverrides, FileConfig, FileProxy, FileUpstream};
use tempfile::TempDir;

use super::bridge::BridgeGuard;
use super::mock_upstream::MockUpstream;

/// Hardhat's first account (a published test key) and its address.
pub const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
pub const ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

/// Profiles over the mock's catalog.
pub const ROUTING: &str = "profiles:
  auto: [anthropic/claude-sonnet-4.6, google/gemini-3-flash, deepseek/deepseek-chat]
  premium: [anthropic/claude-sonnet-4.6, openai/gpt-5.4]
";

/// A direct-mode bridge and the folder holding its key, ledger and routing file.
pub struct DirectBridge {
    pub dir: TempDir,
    pub bridge: BridgeGuard,
}

impl DirectBridge {
    /// Starts one against `mock`, with `tweak` applied to the `direct:` settings.
    pub fn start(mock: &MockUpstream, tweak: impl FnOnce(&mut FileDirect)) -> DirectBridge {
        let dir = tempfile::tempdir().unwrap();
        let bridge = start_in(dir.path(), mock, tweak, &EnvOverrides::default()).unwrap();
        DirectBridge { dir, bridge }
    }
}

/// A direct-mode bridge whose files live in `dir` (kept across restarts).
pub fn start_in(
    dir: &Path,
    mock: &MockUpstream,
    tweak: impl FnOnce(&mut FileDirect),
    env: &EnvOverrides,
) -> Result<BridgeGuard, String> {
    let key_file = dir.join("wallet.key");
    if !key_file.exists() {
        std::fs::write(&key_file, KEY).unwrap();
    }
    let routing = dir.join("routing.yaml");
    std::fs::write(&routing, ROUTING).unwrap();
    let mut direct = FileDirect {
        api_url: Some(mock.api_base()),
        chain: Some("base".to_owned()),
        ledger: Some(dir.join("payments.sqlite")),
        routing: Some(routing),
        max_per_request_usd: Some(0.5),
        max_per_day_usd: Some(5.0),
        base_rpc_url: Some(mock.base_rpc_url()),
        ..FileDirect::default()
    };
    tweak(&mut direct);
    let mut file = FileConfig {
        upstream: Some(FileUpstream {
            kind: Some("direct".to_owned()),
            ..FileUpstream::default()
        }),
        proxy: Some(FileProxy {
            wallet_key_file: Some(key_file),
            ..FileProxy::default()
        }),
        direct: Some(direct),
        ..FileConfig::default()
    };
    BridgeGuard::try_start_file(&mut file, env)
}
