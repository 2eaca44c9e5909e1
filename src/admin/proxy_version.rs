//! Which ClawRouter version runs, and whether it is the pinned one (README, "The pinned
//! ClawRouter"), for `doctor`.
//!
//! ClawRouter's `/health` names no version (docs/ARCHITECTURE.md, "Living with ClawRouter"),
//! and asking npm would need the network. So `start` records what it launched, the moment it
//! launches it: `~/.clawrouter-codex/proxy.json` holds the child's PID, the port, the command
//! and the version in it ([`Launch`]); it is removed when that child ends. `npx -y
//! @blockrun/clawrouter@0.12.246` runs exactly 0.12.246 (an exact version is not re-resolved),
//! so the version in the command is the version that runs. `doctor` believes the record only
//! while its PID is alive and the proxy answers on its port ([`running`]); a proxy that
//! `start` did not launch (run by hand, another HOME) has an unknown version.
//!
//! Offline and cheap: one small file read, one `/proc` look-up (or `kill -0`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::config::{Config, PROXY_PACKAGE};
use crate::fsutil;

/// The record's file name in the bridge's folder (`Config::state_dir`).
const RECORD_FILE: &str = "proxy.json";

/// What `start` launched: written at launch, removed when the child ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Launch {
    /// The child's PID (the leader of its process group).
    pub pid: u32,
    /// The port it was told to listen on.
    pub port: u16,
    /// The launch command without `--port` (never holds the key: that goes in the environment).
    pub command: String,
    /// The ClawRouter version named in the command (`…@blockrun/clawrouter@<version>`), if any.
    pub version: Option<String>,
    /// Launched from the pin (`proxy.version`), not from the user's own command.
    pub pinned: bool,
}

impl Launch {
    /// What `start` is about to launch with `config` on `port` (the PID is filled in at launch).
    pub fn planned(config: &Config, port: u16) -> Launch {
        let command = config.proxy.launch_command();
        Launch {
            pid: 0,
            port,
            version: version_in_command(&command),
            pinned: config.proxy.command.is_none(),
            command,
        }
    }
}

/// `~/.clawrouter-codex/proxy.json`, when HOME is known.
pub fn record_path(config: &Config) -> Option<PathBuf> {
    config.state_dir.as_ref().map(|dir| dir.join(RECORD_FILE))
}

/// Writes the record (owner-only, atomic).
pub fn write(path: &Path, launch: &Launch) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        fsutil::create_private_dir(dir)?;
    }
    let text = serde_json::to_string_pretty(launch).map_err(std::io::Error::other)?;
    fsutil::write_atomic(path, text.as_bytes(), &fsutil::Mode::Private)
}

/// Removes the record if it is still the one of `pid` (another `start` may have replaced it).
pub fn remove(path: &Path, pid: u32) {
    if read(path).is_some_and(|launch| launch.pid == pid) {
        let _ = std::fs::remove_file(path);
    }
}

fn read(path: &Path) -> Option<Launch> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// The proxy `start` launched on `port`, if its record is there and its process alive.
pub fn running(config: &Config, port: u16) -> Option<Launch> {
    let launch = read(&record_path(config)?)?;
    (launch.port == port && alive(launch.pid)).then_some(launch)
}

/// The version in a command that runs the ClawRouter package (`npx -y
/// @blockrun/clawrouter@0.12.246` → `0.12.246`; `@latest` → `latest`).
pub fn version_in_command(command: &str) -> Option<String> {
    let prefix = format!("{PROXY_PACKAGE}@");
    shlex::split(command)?
        .iter()
        .find_map(|word| word.strip_prefix(prefix.as_str()).map(str::to_owned))
        .filter(|version| !version.is_empty())
}

/// Whether process `pid` runs (a zombie does not).
fn alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        return !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
    }
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_read_from_the_command() {
        assert_eq!(
            version_in_command("npx -y @blockrun/clawrouter@0.12.246").as_deref(),
            Some("0.12.246")
        );
        assert_eq!(
            version_in_command("npx -y @blockrun/clawrouter@latest --x").as_deref(),
            Some("latest")
        );
        assert_eq!(version_in_command("node /opt/clawrouter/cli.js"), None);
        assert_eq!(version_in_command("npx @blockrun/clawrouter@"), None);
    }

    #[test]
    fn a_record_is_believed_only_for_a_live_pid_on_its_port() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/proxy.json");
        let launch = Launch {
            pid: std::process::id(),
            port: 8404,
            command: "npx -y @blockrun/clawrouter@0.12.246".into(),
            version: Some("0.12.246".into()),
            pinned: true,
        };
        write(&path, &launch).unwrap();
        assert_eq!(read(&path), Some(launch.clone()));
        assert!(alive(std::process::id()));
        assert!(!alive(0));
        // another PID's record stays
        remove(&path, launch.pid + 1);
        assert!(path.exists());
        remove(&path, launch.pid);
        assert!(!path.exists());
    }
}
