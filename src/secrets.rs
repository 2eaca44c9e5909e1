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

/// The system's secure random number generator failed: no key, token or nonce can be made,
/// and nothing falls back to a predictable value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the system's secure random number generator failed, so no secret key could be made \
     (check that /dev/urandom or getrandom() works in this environment)"
)]
pub struct RandomUnavailable;

/// `len` bytes from the system's secure random number generator.
pub fn random_bytes(len: usize) -> Result<Vec<u8>, RandomUnavailable> {
    let mut bytes = vec![0u8; len];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| RandomUnavailable)?;
    Ok(bytes)
}

/// `len` random bytes as lower-case hex (for tokens and nonces).
pub fn random_hex(len: usize) -> Result<String, RandomUnavailable> {
    Ok(random_bytes(len)?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Loads the reasoning key from `state_dir`, creating it on first use. Without a state folder,
/// or when the file cannot be read or written, a key for this process only is used (logged):
/// reasoning then survives only until the bridge restarts. Fails only when no random key can
/// be made at all.
pub fn reasoning_key(state_dir: Option<&Path>) -> Result<ReasoningKey, RandomUnavailable> {
    reasoning_key_with(state_dir, random_bytes)
}

fn reasoning_key_with(
    state_dir: Option<&Path>,
    random: impl Fn(usize) -> Result<Vec<u8>, RandomUnavailable>,
) -> Result<ReasoningKey, RandomUnavailable> {
    let secret = match state_dir {
        Some(dir) => match load_or_create(dir, &random) {
            Ok(secret) => secret,
            Err(KeyFileError::Random(e)) => return Err(e),
            Err(KeyFileError::Io(e)) => {
                log::warn!(
                    "cannot use {}: {e}; reasoning round trips will not survive a restart",
                    dir.join(REASONING_KEY_FILE).display()
                );
                random(KEY_LEN)?
            }
        },
        None => random(KEY_LEN)?,
    };
    Ok(ReasoningKey::from_secret(&secret))
}

/// Why the key file could not give a key.
enum KeyFileError {
    Io(std::io::Error),
    Random(RandomUnavailable),
}

impl From<std::io::Error> for KeyFileError {
    fn from(e: std::io::Error) -> Self {
        KeyFileError::Io(e)
    }
}

fn load_or_create(
    dir: &Path,
    random: impl Fn(usize) -> Result<Vec<u8>, RandomUnavailable>,
) -> Result<Vec<u8>, KeyFileError> {
    let path = dir.join(REASONING_KEY_FILE);
    match fs::read(&path) {
        Ok(secret) if secret.len() >= KEY_LEN => return Ok(secret),
        Ok(_) => {
            return Err(KeyFileError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the key file is too short; delete it to make a new one",
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    create_private_dir(dir)?;
    let secret = random(KEY_LEN).map_err(KeyFileError::Random)?;
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
    Ok(fs::read(&path)?)
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
        let first = reasoning_key(Some(&state)).unwrap();
        let blob = first.seal("plan");
        let second = reasoning_key(Some(&state)).unwrap();
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
        let blob = reasoning_key(None).unwrap().seal("plan");
        assert_eq!(reasoning_key(None).unwrap().open(&blob), None);
    }

    #[test]
    fn a_failing_random_generator_stops_key_creation() {
        let failing = |_: usize| Err(RandomUnavailable);
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        assert_eq!(
            reasoning_key_with(Some(&state), failing).err(),
            Some(RandomUnavailable)
        );
        assert!(
            !state.join(REASONING_KEY_FILE).exists(),
            "no key file written"
        );
        assert_eq!(
            reasoning_key_with(None, failing).err(),
            Some(RandomUnavailable)
        );
        assert!(random_hex(16).is_ok_and(|hex| hex.len() == 32));
    }
}
