//! `wallet`: where to send USDC — the address ClawRouter pays from, on the chain it pays on —
//! and why, worked out offline (the key, and ClawRouter's own files: [`saved`]) and, when the
//! proxy is up, from its `/health` (which wins: [`crate::funding::ProxyHealth::funding`]; a
//! disagreement with the files is a warning), with its balance. The proxy is asked where
//! [`Config::clawrouter_proxy`] says it is.
//!
//! Also the library side of wallet handling that `start` and `daemon` use:
//!
//! - [`discover`] finds the key in the documented order (README, Commands: wallet discovery),
//!   the BlockRun SDK's and CLI's order with our own key file setting before the session:
//!   1. `BLOCKRUN_WALLET_KEY`, then `BASE_CHAIN_WALLET_KEY` (0x + 64 hex digits);
//!   2. `WALLET_KEY_FILE`, else the config's `proxy.wallet_key_file`;
//!   3. `.session` in `$BLOCKRUN_HOME` (default `~/.blockrun`; the BlockRun SDK's wallet: a raw
//!      0x key on one line); the proxy then runs with HOME = `~/.clawrouter-codex/proxy-home`
//!      so a wallet ClawRouter saved under `~/.openclaw` cannot shadow it (ClawRouter prefers
//!      its saved `wallet.key` over `BLOCKRUN_WALLET_KEY`);
//!   4. else nothing: ClawRouter finds or makes its own wallet.
//!
//!   Whichever variable held it, the proxy child gets the key as `BLOCKRUN_WALLET_KEY` only.
//!
//!   A source that is present but unusable (bad key, unreadable file) is an error, never
//!   skipped: falling through would silently pay from a different wallet.
//! - [`SecretKey`] holds a validated secp256k1 key. It has no `Display`, no `Serialize`, and
//!   its `Debug` prints `SecretKey(<redacted>)`; the key bytes leave it only through
//!   [`WalletDiscovery::proxy_env`], the environment of the proxy child (direct mode signs
//!   payment digests with it in place: [`crate::payments::evm`]).
//! - [`address_from_key`]: public key → Keccak-256 → last 20 bytes → EIP-55 checksum.
//!
//! Errors name the variable or file and what is wrong with it, never the value or content.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use k256::elliptic_curve::sec1::ToEncodedPoint;
use tiny_keccak::{Hasher, Keccak};

use super::http::{self, GetError};

pub mod direct;
pub mod saved;
use crate::config::{ClawRouterProxy, Config};
use crate::fsutil;
use crate::funding::Funding;
pub use crate::funding::ProxyHealth;

/// Environment variable holding a raw key (highest precedence); the proxy child gets the key
/// under this name.
pub const ENV_KEY: &str = "BLOCKRUN_WALLET_KEY";
/// The BlockRun SDK's other variable for a raw key (after [`ENV_KEY`]).
pub const ENV_BASE_KEY: &str = "BASE_CHAIN_WALLET_KEY";
/// Every variable that may hold a raw key, in discovery order: never written into a service
/// file, removed from this process's environment before any child starts.
pub const RAW_KEY_VARS: [&str; 2] = [ENV_KEY, ENV_BASE_KEY];
/// The BlockRun SDK's folder (default `~/.blockrun`), holding `.session`.
pub const ENV_BLOCKRUN_HOME: &str = "BLOCKRUN_HOME";
/// Environment variable naming a key file.
pub const ENV_KEY_FILE: &str = "WALLET_KEY_FILE";
/// Environment variable asking for an isolated proxy HOME.
pub const ENV_ISOLATE_HOME: &str = "ISOLATE_HOME";
/// Largest key file read; a key file is well under 1 KiB.
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;
/// How long `wallet` waits for the proxy's `/health?full=true`.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);

/// A validated secp256k1 private key. Never printed: `Debug` redacts, there is no `Display`
/// and no `Serialize`. The inner key is zeroized on drop (by `k256`).
#[derive(Clone)]
pub struct SecretKey(k256::SecretKey);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    /// Parses `0x` + 64 hex digits (the `0x` is optional; surrounding whitespace is ignored).
    /// The error describes the problem without repeating the text.
    pub fn parse(text: &str) -> Result<SecretKey, KeyProblem> {
        let text = text.trim().trim_start_matches('\u{feff}').trim();
        if text.is_empty() {
            return Err(KeyProblem::Empty);
        }
        let hex = text
            .strip_prefix("0x")
            .or_else(|| text.strip_prefix("0X"))
            .unwrap_or(text);
        if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(KeyProblem::NotHex);
        }
        if hex.len() != 64 {
            return Err(KeyProblem::WrongLength(hex.len()));
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            let pair = hex.get(2 * i..2 * i + 2).ok_or(KeyProblem::NotHex)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| KeyProblem::NotHex)?;
        }
        let key = k256::SecretKey::from_slice(&bytes).map_err(|_| KeyProblem::OutOfRange);
        bytes.iter_mut().for_each(|b| *b = 0);
        key.map(SecretKey)
    }

    /// Signs a 32-byte digest (RFC 6979, low S) and returns `r ‖ s` and the recovery id, for
    /// the direct mode's payment signatures ([`crate::payments::evm`]). The key stays inside.
    pub(crate) fn sign_prehash_recoverable(
        &self,
        digest: &[u8; 32],
    ) -> Result<(k256::ecdsa::Signature, k256::ecdsa::RecoveryId), k256::ecdsa::Error> {
        k256::ecdsa::SigningKey::from(&self.0).sign_prehash_recoverable(digest)
    }

    /// `0x` + 64 lowercase hex digits, for the proxy's environment only.
    fn to_env_value(&self) -> String {
        let bytes = self.0.to_bytes();
        let mut out = String::with_capacity(66);
        out.push_str("0x");
        for b in bytes.iter() {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }
}

/// What is wrong with a key's text (the text itself is never shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyProblem {
    /// Nothing but whitespace.
    Empty,
    /// Characters other than hex digits (after an optional `0x`).
    NotHex,
    /// This many hex digits instead of 64.
    WrongLength(usize),
    /// Zero, or not below the secp256k1 curve order.
    OutOfRange,
    /// A key file with no private key in it.
    NoKeyFound,
    /// A key file with more than one different private key.
    SeveralKeys,
    /// A key file of this many bytes, too large to be one.
    TooLarge(u64),
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyProblem::Empty => f.write_str("is empty"),
            KeyProblem::NotHex => f.write_str("contains characters that are not hex digits"),
            KeyProblem::WrongLength(n) => write!(f, "has {n} hex digits instead of 64"),
            KeyProblem::OutOfRange => f.write_str(
                "is not a valid secp256k1 private key (zero or not below the curve order)",
            ),
            KeyProblem::NoKeyFound => f.write_str("holds no private key"),
            KeyProblem::SeveralKeys => f.write_str("holds more than one private key"),
            KeyProblem::TooLarge(n) => write!(f, "is {n} bytes, too large to be a key file"),
        }
    }
}

/// Why no usable wallet key could be determined. Messages name the variable or file, never
/// the key or the file's content.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// `BLOCKRUN_WALLET_KEY` or `BASE_CHAIN_WALLET_KEY` holds no usable key.
    #[error("{var} is set but {problem}; expected 0x followed by 64 hex digits (the value is not shown)")]
    EnvKey {
        /// The variable's name.
        var: &'static str,
        /// What is wrong with its value.
        problem: KeyProblem,
    },
    /// The key file could not be read.
    #[error("cannot read the wallet key file {path} (from {origin}): {source}")]
    ReadKeyFile {
        /// The key file.
        path: PathBuf,
        /// Which setting named it (`WALLET_KEY_FILE` or `proxy.wallet_key_file`).
        origin: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The key file holds no usable key.
    #[error("the wallet key file {path} (from {origin}) {problem}; it must hold one private key, 0x followed by 64 hex digits (the content is not shown)")]
    BadKeyFile {
        /// The key file.
        path: PathBuf,
        /// Which setting named it.
        origin: String,
        /// What is wrong with its content.
        problem: KeyProblem,
    },
    /// The proxy must run under an isolated HOME, but HOME is not set.
    #[error("HOME is not set, so the proxy's isolated home (~/.clawrouter-codex/proxy-home) has no place; set HOME")]
    NoHome,
    /// ClawRouter's mnemonic file could not be read.
    #[error("cannot read ClawRouter's mnemonic file {path}: {source}")]
    ReadMnemonic {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// ClawRouter's mnemonic file holds no usable mnemonic.
    #[error("ClawRouter's mnemonic file {path} {problem}, so its Solana address cannot be derived (the content is not shown); restore the file from your backup of the words")]
    BadMnemonic {
        /// The file.
        path: PathBuf,
        /// What is wrong with its content.
        problem: String,
    },
    /// The address could not be computed from the key (a bug).
    #[error("cannot derive the wallet address: {0}")]
    Derive(String),
}

/// Where the wallet key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalletSource {
    /// A raw key in this environment variable ([`RAW_KEY_VARS`]).
    EnvKey(&'static str),
    /// `WALLET_KEY_FILE` or `proxy.wallet_key_file`.
    KeyFile(PathBuf),
    /// `.session` in `$BLOCKRUN_HOME`, default `~/.blockrun` (HOME is isolated for the proxy).
    BlockrunSession(PathBuf),
    /// No key here: ClawRouter finds or makes its own wallet.
    ClawRouterOwn,
}

impl WalletSource {
    /// A description for people (never contains the key).
    pub fn describe(&self) -> String {
        match self {
            WalletSource::EnvKey(var) => format!("the {var} environment variable"),
            WalletSource::KeyFile(p) => format!("the key file {}", p.display()),
            WalletSource::BlockrunSession(p) => format!("the BlockRun session {}", p.display()),
            WalletSource::ClawRouterOwn => {
                "none here: ClawRouter uses the wallet it finds or creates itself".to_owned()
            }
        }
    }
}

/// The outcome of [`discover`]: where the key came from, the key, and how the proxy must run.
#[derive(Debug, Clone)]
pub struct WalletDiscovery {
    /// Where the key came from (or that ClawRouter uses its own wallet).
    pub source: WalletSource,
    /// The key, when the bridge knows it (never printed).
    pub key: Option<SecretKey>,
    /// Run the proxy with HOME = [`WalletDiscovery::proxy_home`].
    pub isolate_home: bool,
    /// `~/.clawrouter-codex/proxy-home` (when HOME is known).
    pub proxy_home: Option<PathBuf>,
}

/// Environment entries for the proxy child only. `Debug` redacts the key.
pub struct ProxyEnv {
    vars: Vec<(&'static str, OsString)>,
}

impl fmt::Debug for ProxyEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in &self.vars {
            if *name == ENV_KEY {
                map.entry(name, &"<redacted>");
            } else {
                map.entry(name, value);
            }
        }
        map.finish()
    }
}

impl ProxyEnv {
    /// The pairs to set on the proxy child (`BLOCKRUN_WALLET_KEY`, `HOME` when isolated).
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &OsStr)> {
        self.vars.iter().map(|(k, v)| (*k, v.as_os_str()))
    }

    /// Names only, for log lines.
    pub fn names(&self) -> Vec<&'static str> {
        self.vars.iter().map(|(k, _)| *k).collect()
    }

    /// Sets the pairs on a `std` command.
    pub fn apply(&self, cmd: &mut std::process::Command) {
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
    }
}

impl WalletDiscovery {
    /// The environment for the proxy child: `BLOCKRUN_WALLET_KEY=<key>` when a key was found,
    /// `HOME=<proxy_home>` when isolated. Set these on the proxy child and nowhere else.
    pub fn proxy_env(&self) -> ProxyEnv {
        let mut vars = Vec::new();
        if let Some(key) = &self.key {
            vars.push((ENV_KEY, OsString::from(key.to_env_value())));
        }
        if self.isolate_home {
            if let Some(home) = &self.proxy_home {
                vars.push(("HOME", home.clone().into_os_string()));
            }
        }
        ProxyEnv { vars }
    }

    /// Creates the isolated home (mode 0700) when the proxy needs one.
    pub fn prepare_proxy_home(&self) -> std::io::Result<()> {
        match (&self.proxy_home, self.isolate_home) {
            (Some(home), true) => fsutil::create_private_dir(home),
            _ => Ok(()),
        }
    }

    /// ClawRouter prefers its saved `~/.openclaw/blockrun/wallet.key` over
    /// `BLOCKRUN_WALLET_KEY`: when a key was found, HOME is not isolated, and that file exists
    /// under `home`, the proxy would pay from the saved wallet instead. Returns its path, so
    /// callers can warn (or isolate HOME).
    pub fn shadowed_by(&self, home: Option<&Path>) -> Option<PathBuf> {
        if self.key.is_none() || self.isolate_home {
            return None;
        }
        let saved = home?.join(".openclaw/blockrun/wallet.key");
        saved.exists().then_some(saved)
    }

    /// ClawRouter's wallet folder for the proxy `start` runs: `.openclaw/blockrun` under the
    /// isolated home when HOME is isolated, else under `home`.
    pub fn clawrouter_dir(&self, home: Option<&Path>) -> Option<PathBuf> {
        let home = match (&self.proxy_home, self.isolate_home) {
            (Some(isolated), true) => isolated.as_path(),
            _ => home?,
        };
        Some(home.join(".openclaw").join("blockrun"))
    }

    /// The address of the found key, if any.
    pub fn address(&self) -> Option<Result<String, WalletError>> {
        self.key.as_ref().map(address_from_key)
    }
}

/// Finds the wallet key in the documented order (see the module docs). `env` reads an
/// environment variable (blank counts as unset); `config` supplies `proxy.wallet_key_file`
/// and `proxy.isolate_home`.
pub fn discover(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<WalletDiscovery, WalletError> {
    let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let home = get("HOME").map(PathBuf::from);
    let proxy_home = home
        .as_ref()
        .map(|h| h.join(".clawrouter-codex").join("proxy-home"));
    let isolate_setting = match get(ENV_ISOLATE_HOME) {
        Some(v) => matches!(v.trim(), "1" | "true" | "yes" | "on"),
        None => config.proxy.isolate_home,
    };
    let done = |source, key, isolate: bool| {
        if isolate && proxy_home.is_none() {
            return Err(WalletError::NoHome);
        }
        Ok(WalletDiscovery {
            source,
            key,
            isolate_home: isolate,
            proxy_home: proxy_home.clone(),
        })
    };

    for var in RAW_KEY_VARS {
        if let Some(raw) = get(var) {
            let key =
                SecretKey::parse(&raw).map_err(|problem| WalletError::EnvKey { var, problem })?;
            return done(WalletSource::EnvKey(var), Some(key), isolate_setting);
        }
    }

    let key_file = match get(ENV_KEY_FILE) {
        Some(p) => Some((
            expand_tilde(p.trim(), home.as_deref()),
            ENV_KEY_FILE.to_owned(),
        )),
        None => config.proxy.wallet_key_file.as_ref().map(|p| {
            let origin = match &config.source {
                Some(src) => format!("proxy.wallet_key_file in {}", src.display()),
                None => "proxy.wallet_key_file".to_owned(),
            };
            (expand_tilde(&p.to_string_lossy(), home.as_deref()), origin)
        }),
    };
    if let Some((path, origin)) = key_file {
        let key = read_key_file(&path, &origin)?;
        return done(WalletSource::KeyFile(path), Some(key), isolate_setting);
    }

    let (blockrun_home, origin) = match get(ENV_BLOCKRUN_HOME) {
        Some(dir) => (
            Some(expand_tilde(dir.trim(), home.as_deref())),
            format!("the BlockRun session ({ENV_BLOCKRUN_HOME}/.session)"),
        ),
        None => (
            home.as_ref().map(|h| h.join(".blockrun")),
            "the BlockRun session (~/.blockrun/.session)".to_owned(),
        ),
    };
    if let Some(dir) = blockrun_home {
        let session = dir.join(".session");
        if session.exists() {
            let key = read_key_file(&session, &origin)?;
            return done(WalletSource::BlockrunSession(session), Some(key), true);
        }
    }

    done(WalletSource::ClawRouterOwn, None, isolate_setting)
}

fn expand_tilde(path: &str, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix('~'), home) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            home.join(rest.trim_start_matches('/'))
        }
        _ => PathBuf::from(path),
    }
}

/// Reads one private key from a file: the whole file as a key, else a JSON object with a
/// key-like string field, else the single `0x` + 64-hex token in it.
pub fn read_key_file(path: &Path, origin: &str) -> Result<SecretKey, WalletError> {
    let read_err = |source| WalletError::ReadKeyFile {
        path: path.to_path_buf(),
        origin: origin.to_owned(),
        source,
    };
    let bad = |problem| WalletError::BadKeyFile {
        path: path.to_path_buf(),
        origin: origin.to_owned(),
        problem,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let len = file.metadata().map_err(read_err)?.len();
    if len > MAX_KEY_FILE_BYTES {
        return Err(bad(KeyProblem::TooLarge(len)));
    }
    let mut bytes = Vec::new();
    file.take(MAX_KEY_FILE_BYTES)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    bytes.iter_mut().for_each(|b| *b = 0);
    key_from_text(&text).map_err(bad)
}

/// Extracts the key from a key file's text (see [`read_key_file`]).
pub fn key_from_text(text: &str) -> Result<SecretKey, KeyProblem> {
    let trimmed = text.trim().trim_start_matches('\u{feff}').trim();
    if trimmed.is_empty() {
        return Err(KeyProblem::Empty);
    }
    let whole = match SecretKey::parse(trimmed) {
        Ok(key) => return Ok(key),
        Err(problem) => problem,
    };
    if trimmed.starts_with('{') {
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(trimmed) {
            for field in [
                "privateKey",
                "private_key",
                "walletKey",
                "wallet_key",
                "key",
            ] {
                if let Some(serde_json::Value::String(s)) = map.get(field) {
                    return SecretKey::parse(s);
                }
            }
        }
    }
    // Any `0x` + 64 hex token standing on its own (tokens are split at non-alphanumerics).
    let mut found: Option<(String, SecretKey)> = None;
    for token in trimmed.split(|c: char| !c.is_ascii_alphanumeric()) {
        let Some(hex) = token
            .strip_prefix("0x")
            .or_else(|| token.strip_prefix("0X"))
        else {
            continue;
        };
        if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            continue;
        }
        let hex = hex.to_ascii_lowercase();
        let key = SecretKey::parse(&hex)?;
        match &found {
            Some((seen, _)) if *seen != hex => return Err(KeyProblem::SeveralKeys),
            Some(_) => {}
            None => found = Some((hex, key)),
        }
    }
    match found {
        Some((_, key)) => Ok(key),
        // A single word: say what is wrong with it as a key.
        None if !trimmed.contains(char::is_whitespace) && !trimmed.starts_with('{') => Err(whole),
        None => Err(KeyProblem::NoKeyFound),
    }
}

/// The EIP-55 checksummed Ethereum address of a key: the uncompressed public key without its
/// `0x04` prefix → Keccak-256 → last 20 bytes.
pub fn address_from_key(key: &SecretKey) -> Result<String, WalletError> {
    let point = key.0.public_key().to_encoded_point(false);
    let bytes = point.as_bytes();
    let body = bytes
        .get(1..65)
        .filter(|_| bytes.len() == 65)
        .ok_or_else(|| WalletError::Derive("unexpected public key encoding".to_owned()))?;
    let hash = keccak256(body);
    let tail = hash
        .get(12..32)
        .ok_or_else(|| WalletError::Derive("short hash".to_owned()))?;
    Ok(to_checksum_address(tail))
}

/// Keccak-256 (Ethereum's hash) of `data`.
pub(crate) fn keccak256(data: &[u8]) -> [u8; 32] {
    let mut hasher = Keccak::v256();
    hasher.update(data);
    let mut out = [0u8; 32];
    hasher.finalize(&mut out);
    out
}

/// EIP-55: a hex letter is upper case when the matching nibble of keccak(lowercase hex) ≥ 8.
pub fn to_checksum_address(address: &[u8]) -> String {
    let lower: String = address.iter().map(|b| format!("{b:02x}")).collect();
    let hash = keccak256(lower.as_bytes());
    let mut out = String::with_capacity(2 + lower.len());
    out.push_str("0x");
    for (i, c) in lower.chars().enumerate() {
        let byte = hash.get(i / 2).copied().unwrap_or(0);
        let nibble = if i % 2 == 0 { byte >> 4 } else { byte & 0x0f };
        if c.is_ascii_alphabetic() && nibble >= 8 {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `GET <proxy>/health?full=true` ([`Config::clawrouter_proxy`]): [`GetError::Down`] when
/// nothing listens, [`GetError::Failed`] when something answers, but not as the proxy would.
pub fn fetch_proxy_health(
    proxy: &ClawRouterProxy,
    timeout: Duration,
) -> Result<ProxyHealth, GetError> {
    let reply = http::get(&proxy.url("/health?full=true"), None, timeout)?;
    if reply.status != 200 {
        return Err(GetError::Failed(format!(
            "answered HTTP {} instead of 200",
            reply.status
        )));
    }
    ProxyHealth::from_json(&reply.body)
        .ok_or_else(|| GetError::Failed("answered with something that is not JSON".into()))
}

/// A warning when a key file can be read by other users (unix), else `None`.
pub fn key_file_permission_warning(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        if mode & 0o077 != 0 {
            return Some(format!(
                "{} is readable by other users (mode {:o}); run: chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    None
}

/// Runs `wallet`: address (offline), key source, and the proxy's balance when it is up.
/// Exit 0 when an address was shown, 1 otherwise. `json`: the same facts in the BlockRun
/// envelope ([`super::envelope`]) on stdout; warnings stay on stderr.
pub fn run(config: &Config, json: bool) -> ExitCode {
    let env = |name: &str| std::env::var(name).ok();
    report(
        config,
        &env,
        json,
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    )
}

/// A failure of `wallet`: the message on stderr, or the envelope's `error` on stdout.
fn failed(
    json: bool,
    code: &str,
    message: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> ExitCode {
    if json {
        return super::envelope::print(
            out,
            &super::envelope::failure(code, message, Default::default()),
        );
    }
    let _ = writeln!(err, "clawrouter-codex: wallet: {message}");
    super::problem()
}

fn report(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> ExitCode {
    if let Some(settings) = &config.direct {
        return direct::report(config, settings, env, json, out);
    }
    // Output errors (a closed pipe) are ignored: nothing better can be done with them.
    let discovery = match discover(config, env) {
        Ok(d) => d,
        Err(e) => return failed(json, "wallet_key_unusable", &e.to_string(), out, err),
    };
    let derived = match discovery.address() {
        Some(Ok(address)) => Some(address),
        Some(Err(e)) => return failed(json, "wallet_key_unusable", &e.to_string(), out, err),
        None => None,
    };
    // The text report goes nowhere with --json; its facts are gathered at the end.
    let mut text_sink = std::io::sink();
    let text: &mut dyn Write = if json { &mut text_sink } else { &mut *out };
    let home = env("HOME")
        .filter(|h| !h.trim().is_empty())
        .map(PathBuf::from);
    let files = discovery
        .clawrouter_dir(home.as_deref())
        .map(|dir| saved::read(&dir, env(saved::ENV_PAYMENT_CHAIN).as_deref()));
    for problem in files.iter().flat_map(|f| &f.problems) {
        let _ = writeln!(err, "clawrouter-codex: wallet: {problem}");
    }
    let offline = match &files {
        Some(files) => files
            .funding(derived.as_deref())
            .map(|f| (f, files.why.clone())),
        None => derived.clone().map(|address| {
            let funding = Funding {
                chain: crate::funding::Chain::Base,
                address,
            };
            (
                funding,
                "HOME is not set, so ClawRouter's files are unknown: Base".to_owned(),
            )
        }),
    };

    let proxy = config.clawrouter_proxy();
    let at = format!(
        "{}{}",
        proxy.origin.trim_start_matches("http://"),
        proxy.root
    );
    let health = fetch_proxy_health(&proxy, HEALTH_TIMEOUT);
    let online = health.as_ref().ok().and_then(ProxyHealth::funding);
    if let (Ok(h), None) = (&health, &online) {
        let _ = writeln!(
            err,
            "warning: the proxy at {at} reports no address to fund (paymentChain {}, solana {}); what ClawRouter's files say is shown instead",
            h.payment_chain.as_deref().unwrap_or("absent"),
            h.solana.as_deref().unwrap_or("absent"),
        );
    }
    if let (Some(up), Some((files_say, why))) = (&online, &offline) {
        if up.chain != files_say.chain || !up.address.eq_ignore_ascii_case(&files_say.address) {
            let _ = writeln!(
                err,
                "warning: the running proxy pays on {} from {}, but {why} says {} from {}; the proxy's answer is shown: fund that, or restart the proxy with `clawrouter-codex start` (and {ENV_ISOLATE_HOME}=1 if ClawRouter has a saved wallet)",
                up.chain, up.address, files_say.chain, files_say.address
            );
        }
    }
    let chosen = match (online, offline) {
        (Some(up), _) => Some((up, format!("its /health at {at}"), true)),
        (None, Some((files_say, why))) => Some((files_say, why, false)),
        (None, None) => None,
    };

    if let Some((funding, why, from_proxy)) = &chosen {
        let (chain, address) = (funding.chain, &funding.address);
        let _ = writeln!(
            text,
            "ClawRouter pays on {chain} ({why}): fund {address} with {}",
            chain.usdc()
        );
        let origin = match (from_proxy, chain, &files) {
            (true, _, _) if derived.as_deref() != Some(address.as_str()) => {
                " (reported by the proxy)".to_owned()
            }
            (false, crate::funding::Chain::Solana, Some(files)) => format!(
                " (Solana, from ClawRouter's mnemonic {})",
                files.file("mnemonic").display()
            ),
            (false, _, Some(files))
                if files.evm.as_deref() == Some(address.as_str())
                    && derived.as_deref() != Some(address.as_str()) =>
            {
                format!(
                    " (ClawRouter's saved wallet {})",
                    files.file("wallet.key").display()
                )
            }
            _ => String::new(),
        };
        let _ = writeln!(text, "Address: {address}{origin}");
        if chain == crate::funding::Chain::Solana {
            let evm = health
                .as_ref()
                .ok()
                .and_then(|h| h.wallet.clone())
                .or_else(|| files.as_ref().and_then(|f| f.evm.clone()))
                .or_else(|| derived.clone());
            if let Some(evm) = evm {
                let _ = writeln!(
                    text,
                    "EVM address: {evm} (Base: not paid from while ClawRouter pays on Solana)"
                );
            }
        }
    }
    match &derived {
        Some(address) => {
            if chosen.as_ref().map(|(f, _, _)| f.address.as_str()) != Some(address.as_str()) {
                let _ = writeln!(text, "Key address: {address}");
            }
            let _ = writeln!(text, "Key from: {}", discovery.source.describe());
        }
        None => {
            let _ = writeln!(
                text,
                "Key from: none found ({ENV_KEY}, {ENV_BASE_KEY}, {ENV_KEY_FILE} / proxy.wallet_key_file, ${ENV_BLOCKRUN_HOME}/.session); ClawRouter uses the wallet it finds or creates itself"
            );
        }
    }
    if discovery.isolate_home {
        if let Some(h) = &discovery.proxy_home {
            let _ = writeln!(
                text,
                "Proxy HOME: {} (isolated, so a saved ClawRouter wallet cannot shadow this key)",
                h.display()
            );
        }
    }
    if let WalletSource::KeyFile(p) | WalletSource::BlockrunSession(p) = &discovery.source {
        if let Some(w) = key_file_permission_warning(p) {
            let _ = writeln!(err, "warning: {w}");
        }
    }
    if let Some(saved) = discovery.shadowed_by(home.as_deref()) {
        let _ = writeln!(
            err,
            "warning: ClawRouter prefers its saved wallet {} over {ENV_KEY}; set {ENV_ISOLATE_HOME}=1 (or proxy.isolate_home: true) so the proxy uses this key",
            saved.display()
        );
    }

    match &health {
        Ok(h) => {
            let _ = writeln!(text, "Proxy: up on {at}");
            let chain = match (h.chain(), &h.payment_chain) {
                (Some(chain), _) => chain.name().to_owned(),
                (None, Some(other)) => format!("{other} (unknown to this bridge)"),
                (None, None) => "unknown".to_owned(),
            };
            let _ = writeln!(text, "Chain: {chain}");
            match (&h.balance, &h.balance_error) {
                (Some(b), _) => {
                    let mut line = format!("Balance: {b} USDC");
                    if h.is_empty == Some(true) {
                        line.push_str(" (empty)");
                    } else if h.is_low == Some(true) {
                        line.push_str(" (low: under $1)");
                    }
                    let _ = writeln!(text, "{line}");
                }
                (None, Some(e)) => {
                    let _ = writeln!(text, "Balance: unavailable (the proxy says: {e})");
                }
                (None, None) => {
                    let _ = writeln!(text, "Balance: not reported by the proxy");
                }
            }
            if h.is_empty == Some(true) || h.is_low == Some(true) {
                if let Some((funding, _, _)) = &chosen {
                    let _ = writeln!(
                        text,
                        "Hint: send {} to {} to use paid models; free models still work meanwhile.",
                        funding.chain.usdc(),
                        funding.address
                    );
                }
            }
        }
        Err(GetError::Down(_)) => {
            let _ = writeln!(
                text,
                "Proxy: not running on {at}; run `clawrouter-codex start` to see the balance"
            );
        }
        Err(e) => {
            let _ = writeln!(text, "Proxy: {at} {e}; balance unknown");
        }
    }

    let Some((funding, why, from_proxy)) = chosen else {
        let message = format!("no wallet address to show: no key is configured, ClawRouter has no saved wallet, and the proxy is not up at {at}. Run `clawrouter-codex start` (ClawRouter then creates or finds its wallet), or set {ENV_KEY_FILE} to a file holding your key.");
        return failed(json, "no_wallet", &message, out, err);
    };
    let problems: Vec<String> = files
        .iter()
        .flat_map(|f| &f.problems)
        .map(ToString::to_string)
        .collect();
    if !json {
        return if problems.is_empty() {
            ExitCode::SUCCESS
        } else {
            super::problem()
        };
    }
    if !problems.is_empty() {
        return failed(
            json,
            "wallet_files_unreadable",
            &problems.join("; "),
            out,
            err,
        );
    }
    let up = health.as_ref().ok();
    let data = serde_json::json!({
        "address": funding.address,
        "chain": funding.chain.name().to_ascii_lowercase(),
        "asset": funding.chain.usdc(),
        "addressFrom": if from_proxy { format!("the proxy's /health at {at}") } else { why },
        "evmAddress": up
            .and_then(|h| h.wallet.clone())
            .or_else(|| files.as_ref().and_then(|f| f.evm.clone()))
            .or_else(|| derived.clone()),
        "solanaAddress": up
            .and_then(|h| h.solana.clone())
            .or_else(|| files.as_ref().and_then(|f| f.solana.clone())),
        "keyAddress": derived,
        "keySource": discovery.source.describe(),
        "proxy": {"up": up.is_some(), "at": at},
        "balance": up.and_then(|h| h.balance.clone()),
        "balanceError": up.and_then(|h| h.balance_error.clone()),
        "isLow": up.and_then(|h| h.is_low),
        "isEmpty": up.and_then(|h| h.is_empty),
    });
    super::envelope::print(out, &super::envelope::success(data))
}

#[cfg(test)]
mod tests;
