//! Format-preserving, atomic edits of Codex's TOML configuration files, and read-only views
//! of the state our commands leave in them.
//!
//! Every command that touches `$CODEX_HOME/config.toml` or the profile
//! (`$CODEX_HOME/<profile>.config.toml`) goes through [`CodexFile`]:
//!
//! - **Refuse what does not parse.** [`CodexFile::load`] fails with the file, line, column and
//!   what is wrong; nothing is ever written over a file we could not parse.
//! - **Format-preserving.** Edits go through `toml_edit`: comments, blank lines, key order,
//!   quoting and every table we do not own come out byte for byte. A key we overwrite keeps
//!   its trailing comment; a comment above a key we remove moves to the next key.
//! - **Idempotent.** A value that is already right is left alone (even its quoting), so a
//!   second run renders the same bytes and [`CodexFile::save`] writes nothing.
//! - **Atomic.** The new text goes to a temp file in the same folder, is fsynced and renamed
//!   over the original, keeping its permissions (new files are created `0600`: they may carry
//!   a bearer token). A symlinked config (dotfiles) is written through to its target.
//! - **One backup per change.** Before a change, the original is copied to
//!   `<name>.bak-<unix-seconds>` (`-2`, `-3`, … if that exists): never overwritten, and only
//!   when the content actually changes.
//! - **No lost updates.** If the file changed on disk since it was loaded (Codex Desktop
//!   writes `config.toml` too), the save is refused and the user is told to run again.
//!
//! The state readers ([`desktop_state`], [`websearch_state`], and
//! [`legacy_profile::in_config`](super::legacy_profile::in_config)) are
//! what `doctor` and the dashboard use; they never write.
//!
//! # Files
//!
//! - this file: [`CodexFile`], what its save reports ([`Saved`]) and its errors;
//! - `file.rs`: reading a file (UTF-8, TOML, the line of an error), saving it (refusing a
//!   concurrent change, the backup, the atomic replace through `fsutil`), symlinks;
//! - `edit.rs`: format-preserving edits of the document (root keys, provider tables and their
//!   headers, inline tables kept tidy);
//! - `ours.rs`: the paths our commands use and the keys they write ([`apply_clawrouter`]);
//! - `state.rs`: read-only views of what our commands left in the files (desktop mode, the
//!   profile, web search).

mod edit;
mod file;
mod ours;
mod state;
#[cfg(test)]
mod tests;

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use toml_edit::DocumentMut;

pub use edit::{remove_in, remove_key, set_in, set_value};
pub use ours::{
    apply_clawrouter, bridge_base_url, catalog_path, config_toml_path, is_our_catalog, profile_path,
};
pub use state::{
    desktop_state, desktop_state_of, profile_state, websearch_state, websearch_status,
    websearch_status_of, DesktopMode, DesktopState, ProfileState, WebSearchStatus,
};

/// The provider id our files define (`[model_providers.clawrouter]`).
pub const PROVIDER_ID: &str = "clawrouter";
/// The provider's display name.
pub const PROVIDER_NAME: &str = "ClawRouter";
/// File name of the model catalog inside `$CODEX_HOME`.
pub const CATALOG_FILE: &str = "clawrouter-catalog.json";
/// The provider header that turns the bridge's web search on (README, Web search).
pub const WEB_SEARCH_HEADER: &str = "x-web-search";
/// Its value when on.
pub const WEB_SEARCH_ON: &str = "1";

/// Why a Codex config file could not be read or written. Each message says what, where and
/// how to fix it, and whether anything was changed.
#[derive(Debug, thiserror::Error)]
pub enum CodexConfigError {
    /// The file exists but could not be read; nothing was changed.
    #[error(
        "cannot read {path}: {source} (check that it is a readable file; nothing was changed)"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// The file is not UTF-8 or not valid TOML; nothing was changed.
    #[error(
        "{path} is not valid TOML: line {line}, column {column}: {message} \
         (fix that line or move the file away, then run the command again; nothing was changed)"
    )]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error, in characters.
        column: usize,
        /// What the TOML parser says is wrong.
        message: String,
    },
    /// A key we must edit holds something other than a table; nothing was changed.
    #[error(
        "{path}: `{key}` is {found}, but Codex expects a table there \
         (fix or remove it, then run the command again; nothing was changed)"
    )]
    Shape {
        /// The file.
        path: PathBuf,
        /// The dotted key in the way, e.g. `model_providers.clawrouter`.
        key: String,
        /// What is there instead (`a string`, `an array`, …).
        found: &'static str,
    },
    /// The backup or the new file could not be written; the original is unchanged.
    #[error("cannot write {path}: {source} (check the folder's permissions and free space; the original is unchanged)")]
    Write {
        /// The file (as given, not its symlink target).
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// The file changed on disk since it was loaded; nothing was changed.
    #[error(
        "{path} changed on disk while it was being edited (is Codex running and writing it?); \
         run the command again (nothing was changed)"
    )]
    Conflict {
        /// The file.
        path: PathBuf,
    },
}

impl CodexConfigError {
    /// The exit code a command should end with: 2 for a file the user must fix (bad
    /// configuration), 1 for a failure to read or write.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CodexConfigError::Parse { .. } | CodexConfigError::Shape { .. } => super::bad_usage(),
            _ => super::problem(),
        }
    }
}

/// What [`CodexFile::save`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// The content was already right: nothing written, no backup.
    Unchanged,
    /// The file did not exist and was created.
    Created,
    /// The file was rewritten; the original is in `backup`.
    Changed {
        /// `<name>.bak-<unix-seconds>` beside the file.
        backup: PathBuf,
    },
}

impl Saved {
    /// True when the file on disk changed.
    pub fn changed(&self) -> bool {
        !matches!(self, Saved::Unchanged)
    }
}

/// One Codex TOML file, loaded for editing.
#[derive(Debug, Clone)]
pub struct CodexFile {
    /// The path as given (for messages and backups).
    path: PathBuf,
    /// Where the bytes live: `path`, or its symlink target.
    target: PathBuf,
    /// The text as loaded; `None` when the file did not exist.
    original: Option<String>,
    doc: DocumentMut,
}
