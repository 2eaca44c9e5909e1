//! The real bridge, started in-process on an ephemeral port for a test, stopped on drop.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use clawrouter_codex::config::{
    self, CliOverrides, EnvOverrides, FileConfig, FileLimits, FileUpstream,
};
use clawrouter_codex::server::RunningBridge;

/// A running bridge; dropping it stops the server.
pub struct BridgeGuard {
    running: RunningBridge,
}

impl BridgeGuard {
    /// A bridge forwarding to `upstream_base_url` (e.g. the mock's `http://127.0.0.1:P/v1`).
    pub fn start(upstream_base_url: &str) -> BridgeGuard {
        Self::start_with(upstream_base_url, |_| {})
    }

    /// Same, with the file-level config adjusted by `tweak` first.
    pub fn start_with(upstream_base_url: &str, tweak: impl FnOnce(&mut FileConfig)) -> BridgeGuard {
        let mut file = FileConfig {
            listen: Some(format!("127.0.0.1:{}", free_port())),
            upstream: Some(FileUpstream {
                url: Some(upstream_base_url.to_owned()),
                ..FileUpstream::default()
            }),
            limits: Some(FileLimits::default()),
            ..FileConfig::default()
        };
        tweak(&mut file);
        let config = config::resolve(
            file,
            Some(PathBuf::from("test-config.yaml")),
            &EnvOverrides::default(),
            &CliOverrides::default(),
        )
        .expect("test config is valid");
        let running = RunningBridge::start(Arc::new(config)).expect("bridge starts");
        BridgeGuard { running }
    }

    /// A bridge for a whole file config (listen address added when absent) and environment.
    pub fn start_file(mut file: FileConfig, env: &config::EnvOverrides) -> BridgeGuard {
        Self::try_start_file(&mut file, env).unwrap_or_else(|e| panic!("bridge starts: {e}"))
    }

    /// Same, returning the error (config or start-up) instead of panicking.
    pub fn try_start_file(
        file: &mut FileConfig,
        env: &config::EnvOverrides,
    ) -> Result<BridgeGuard, String> {
        let mut taken = std::mem::take(file);
        if taken.listen.is_none() {
            taken.listen = Some(format!("127.0.0.1:{}", free_port()));
        }
        let config = config::resolve(
            taken,
            Some(PathBuf::from("test-config.yaml")),
            env,
            &CliOverrides::default(),
        )
        .map_err(|e| e.to_string())?;
        let running = RunningBridge::start(Arc::new(config)).map_err(|e| e.to_string())?;
        Ok(BridgeGuard { running })
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        self.running.addr.to_string()
    }

    /// `http://127.0.0.1:PORT/v1`, what a Codex provider's `base_url` would be.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.running.addr)
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.running.addr, path)
    }
}

/// A port that was free a moment ago (Pingora cannot report a port-0 binding).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
