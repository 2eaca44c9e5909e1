//! Secrets the bridge keeps on disk: the key that authenticates reasoning blobs
//! (`translate::reasoning`). It lives in `~/.clawrouter-codex/reasoning.key` (mode 0600) so
//! that reasoning sealed before a restart still opens after it, and bridges sharing the file
//! (e.g. behind a load balancer) share the key.

use std::fs;
use std::io::Write;
use std::path::Path;

use ring::rand::{SecureRandom, SystemRandom};

use crate::translate::reasoning::ReasoningKey;

/// File name of the reasoning key inside the state folder.
pub const REASONING_KEY_FILE: &str = "reasoning.key";
const KEY_LEN: usize = 32;

/// Loads the reasoning key from `state_dir`, creating it on first use. Without a state folder,
/// or when the file cannot be read or written, a key for this process only is used (logged):
/// reasoning then survives only until the bridge restarts.
pub fn reasoning_key(state_dir: Option<&Path>) -> ReasoningKey {
    let secret = match state_dir {
        Some(dir) => load_or_create(dir).unwrap_or_else(|e| {
            log::warn!(
                "cannot use {}: {e}; reasoning round trips will not survive a restart",
                dir.join(REASONING_KEY_FILE).display()
            );
            random_secret()
        }),
        None => random_secret(),
    };
    ReasoningKey::from_secret(&secret)
}

fn load_or_create(dir: &Path) -> std::io::Result<Vec<u8>> {
    let path = dir.join(REASONING_KEY_FILE);
    match fs::read(&path) {
        Ok(secret) if secret.len() >= KEY_LEN => return Ok(secret),
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the key file is too short; delete it to make a new one",
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    create_private_dir(dir)?;
    let secret = random_secret();
    let temp = dir.join(format!(".{REASONING_KEY_FILE}.{}", std::process::id()));
    {
        let mut file = private_file(&temp)?;
        file.write_all(&secret)?;
        file.sync_all()?;
    }
    // Two bridges starting at once: the first rename wins and both read its key.
    if fs::hard_link(&temp, &path).is_err() && !path.exists() {
        fs::rename(&temp, &path)?;
    }
    let _ = fs::remove_file(&temp);
    fs::read(&path)
}

fn random_secret() -> Vec<u8> {
    let mut secret = vec![0u8; KEY_LEN];
    if SystemRandom::new().fill(&mut secret).is_err() {
        // The system RNG never fails on supported platforms; fall back to a time-seeded id.
        let fallback = crate::translate::ids::new_id("k");
        secret = fallback.into_bytes();
    }
    secret
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let first = reasoning_key(Some(&state));
        let blob = first.seal("plan");
        let second = reasoning_key(Some(&state));
        assert_eq!(
            second.open(&blob).as_deref(),
            Some("plan"),
            "same key after a restart"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(state.join(REASONING_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn without_a_state_folder_each_process_key_differs() {
        let blob = reasoning_key(None).seal("plan");
        assert_eq!(reasoning_key(None).open(&blob), None);
    }
}
