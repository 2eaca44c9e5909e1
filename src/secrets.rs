//! Secrets the bridge keeps on disk: the key that authenticates reasoning blobs
//! (`translate::reasoning`). It lives in `~/.clawrouter-codex/reasoning.key` (mode 0600) so
//! that reasoning sealed before a restart still opens after it. Replicas behind a load
//! balancer share one key through `reasoning_key_file` (docs/REPLICAS.md), checked at start:
//! private to its owner and long enough, or the bridge does not start.

use std::fs;
use std::path::Path;

use ring::rand::{SecureRandom, SystemRandom};

use crate::fsutil::{self, Mode, StagedFile};
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

/// Why the configured `reasoning_key_file` cannot be used. Each message names the file and
/// the fix.
#[derive(Debug, thiserror::Error)]
pub enum SharedKeyError {
    /// The file could not be read (missing, or not ours).
    #[error("reasoning_key_file {path}: cannot read it ({source}); create it with `head -c 32 /dev/urandom > {path} && chmod 600 {path}`")]
    Unreadable {
        /// The key file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// Other users may read the file.
    #[error("reasoning_key_file {path}: mode {mode:04o} lets other users read it; run `chmod 600 {path}`")]
    NotPrivate {
        /// The key file.
        path: String,
        /// Its permission bits (e.g. `0o644`).
        mode: u32,
    },
    /// Fewer than 32 bytes: too short for a key.
    #[error("reasoning_key_file {path}: {len} bytes is too short for a key; it needs at least {KEY_LEN} random bytes (`head -c 32 /dev/urandom > {path}`)")]
    TooShort {
        /// The key file.
        path: String,
        /// Its length in bytes, trailing whitespace ignored.
        len: usize,
    },
}

/// The key shared by replicas, from `path`: a file only its owner can read (0600 or 0400) with
/// at least 32 bytes (trailing whitespace, which editors add, is ignored).
pub fn shared_reasoning_key(path: &Path) -> Result<ReasoningKey, SharedKeyError> {
    let shown = path.display().to_string();
    let unreadable = |source| SharedKeyError::Unreadable {
        path: shown.clone(),
        source,
    };
    let metadata = fs::metadata(path).map_err(unreadable)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(SharedKeyError::NotPrivate { path: shown, mode });
        }
    }
    #[cfg(not(unix))]
    let _ = metadata;
    let mut secret = fs::read(path).map_err(unreadable)?;
    while secret.last().is_some_and(u8::is_ascii_whitespace) {
        secret.pop();
    }
    if secret.len() < KEY_LEN {
        return Err(SharedKeyError::TooShort {
            path: shown,
            len: secret.len(),
        });
    }
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
    fsutil::create_private_dir(dir)?;
    let secret = random(KEY_LEN).map_err(KeyFileError::Random)?;
    let staged = StagedFile::write(&path, &secret, &Mode::Private)?;
    // Two bridges starting at once: the first link wins and both read its key (a rename would
    // let the second replace the key the first already uses).
    if fs::hard_link(staged.path(), &path).is_err() && !path.exists() {
        staged.commit()?;
    }
    Ok(fs::read(&path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_shared_key_file_must_be_private_and_long_enough() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("shared.key");
        let missing = shared_reasoning_key(&path).expect_err("missing");
        assert!(
            missing.to_string().contains("head -c 32 /dev/urandom"),
            "{missing}"
        );

        fs::write(&path, [7u8; 32]).expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        let open = shared_reasoning_key(&path).expect_err("readable by others");
        assert!(open.to_string().contains("mode 0644"), "{open}");
        assert!(open.to_string().contains("chmod 600"), "{open}");

        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        let key = shared_reasoning_key(&path).expect("a private 32-byte key");
        // A replica reading the same file (with a newline an editor added) has the same key.
        let twin = dir.path().join("twin.key");
        let mut with_newline = vec![7u8; 32];
        with_newline.push(b'\n');
        fs::write(&twin, with_newline).expect("write");
        fs::set_permissions(&twin, fs::Permissions::from_mode(0o400)).expect("chmod");
        let twin_key = shared_reasoning_key(&twin).expect("same key");
        let sealed = key.seal("thinking");
        assert_eq!(twin_key.open(&sealed).as_deref(), Some("thinking"));

        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        fs::write(&path, b"short\n").expect("write");
        let short = shared_reasoning_key(&path).expect_err("too short");
        assert!(
            short.to_string().contains("5 bytes is too short"),
            "{short}"
        );
    }

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
