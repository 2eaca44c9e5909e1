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

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use toml_edit::{DocumentMut, Item, Table, TableLike, Value};

use crate::config::Config;
use crate::fsutil;

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
    #[error(
        "cannot read {path}: {source} (check that it is a readable file; nothing was changed)"
    )]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "{path} is not valid TOML: line {line}, column {column}: {message} \
         (fix that line or move the file away, then run the command again; nothing was changed)"
    )]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{path}: `{key}` is {found}, but Codex expects a table there \
         (fix or remove it, then run the command again; nothing was changed)"
    )]
    Shape {
        path: PathBuf,
        key: String,
        found: &'static str,
    },
    #[error("cannot write {path}: {source} (check the folder's permissions and free space; the original is unchanged)")]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "{path} changed on disk while it was being edited (is Codex running and writing it?); \
         run the command again (nothing was changed)"
    )]
    Conflict { path: PathBuf },
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
    Changed { backup: PathBuf },
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

impl CodexFile {
    /// Loads `path` for editing. A missing file is an empty document (created on save); a file
    /// that is not UTF-8 or not valid TOML is an error naming the line.
    pub fn load(path: &Path) -> Result<CodexFile, CodexConfigError> {
        let target = resolve_target(path);
        let original = match fs::read(&target) {
            Ok(bytes) => Some(String::from_utf8(bytes).map_err(|e| {
                let (line, column) = line_col(e.as_bytes(), e.utf8_error().valid_up_to());
                CodexConfigError::Parse {
                    path: path.to_path_buf(),
                    line,
                    column,
                    message: "not UTF-8 text".to_owned(),
                }
            })?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(CodexConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let doc = match &original {
            Some(text) => parse(text, path)?,
            None => DocumentMut::new(),
        };
        Ok(CodexFile {
            path: path.to_path_buf(),
            target,
            original,
            doc,
        })
    }

    /// The path as given to [`CodexFile::load`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when the file existed at load time.
    pub fn exists(&self) -> bool {
        self.original.is_some()
    }

    /// The document, for reads this module has no helper for.
    pub fn document(&self) -> &DocumentMut {
        &self.doc
    }

    /// The document, for edits this module has no helper for (keep them format-preserving).
    pub fn document_mut(&mut self) -> &mut DocumentMut {
        &mut self.doc
    }

    /// A top-level string value.
    pub fn root_str(&self, key: &str) -> Option<&str> {
        self.doc.get(key).and_then(Item::as_str)
    }

    /// Sets a top-level key to a string. An equal value is left alone; a replaced value keeps
    /// its comments. Returns true when the document changed.
    pub fn set_root_str(&mut self, key: &str, value: &str) -> bool {
        set_value(self.doc.as_table_mut(), key, Value::from(value))
    }

    /// Removes a top-level key (a comment above it moves to the next key). Returns true when
    /// it was there.
    pub fn remove_root(&mut self, key: &str) -> bool {
        remove_key(self.doc.as_table_mut(), key)
    }

    /// `[model_providers.<id>]`, if present. `Err` when something in the way is not a table.
    pub fn provider(&self, id: &str) -> Result<Option<&dyn TableLike>, CodexConfigError> {
        let Some(providers) = self.doc.get("model_providers") else {
            return Ok(None);
        };
        let providers = providers
            .as_table_like()
            .ok_or_else(|| self.shape("model_providers", providers))?;
        match providers.get(id) {
            None => Ok(None),
            Some(item) => item
                .as_table_like()
                .map(Some)
                .ok_or_else(|| self.shape(&format!("model_providers.{id}"), item)),
        }
    }

    /// `[model_providers.<id>]`, created (as a `[model_providers.<id>]` section, placed after
    /// any other providers) when missing. Prefer [`CodexFile::set_provider_value`], which also
    /// keeps inline tables tidy.
    pub fn ensure_provider_table(
        &mut self,
        id: &str,
    ) -> Result<&mut dyn TableLike, CodexConfigError> {
        let path = self.path.clone();
        self.provider_item_mut(id)?
            .as_table_like_mut()
            .ok_or_else(|| CodexConfigError::Shape {
                path,
                key: format!("model_providers.{id}"),
                found: "not a table",
            })
    }

    /// Sets `model_providers.<id>.<key>`, creating the provider table when missing. Returns true
    /// when the document changed.
    pub fn set_provider_value(
        &mut self,
        id: &str,
        key: &str,
        value: Value,
    ) -> Result<bool, CodexConfigError> {
        let created = self.provider(id)?.is_none();
        let item = self.provider_item_mut(id)?;
        Ok(set_in(item, key, value) || created)
    }

    fn provider_item_mut(&mut self, id: &str) -> Result<&mut Item, CodexConfigError> {
        // Validate the shape first, so errors can name what is in the way.
        self.provider(id)?;
        let has_content = !self.doc.as_table().is_empty();
        let path = self.path.clone();
        let shape = |key: String| CodexConfigError::Shape {
            path: path.clone(),
            key,
            found: "not a table",
        };
        let root = self.doc.as_table_mut();
        if !root.contains_key("model_providers") {
            let mut providers = Table::new();
            providers.set_implicit(true);
            root.insert("model_providers", Item::Table(providers));
        }
        let providers = root
            .get_mut("model_providers")
            .filter(|item| item.is_table_like())
            .ok_or_else(|| shape("model_providers".to_owned()))?;
        let missing = !providers
            .as_table_like()
            .is_some_and(|p| p.contains_key(id));
        if missing {
            if let Item::Value(Value::InlineTable(_)) = providers {
                // Written as `model_providers = { … }`: add ours inline, tidily.
                set_in(
                    providers,
                    id,
                    Value::InlineTable(toml_edit::InlineTable::new()),
                );
            } else if let Some(p) = providers.as_table_like_mut() {
                let mut table = Table::new();
                if has_content {
                    table.decor_mut().set_prefix("\n");
                }
                p.insert(id, Item::Table(table));
            }
        }
        providers
            .as_table_like_mut()
            .and_then(|p| p.get_mut(id))
            .filter(|item| item.is_table_like())
            .ok_or_else(|| shape(format!("model_providers.{id}")))
    }

    /// Whether the provider's `http_headers` has `name` (any letter case) set to `value`.
    pub fn provider_header_is(
        &self,
        id: &str,
        name: &str,
        value: &str,
    ) -> Result<bool, CodexConfigError> {
        let Some(provider) = self.provider(id)? else {
            return Ok(false);
        };
        let Some(headers) = provider.get("http_headers").and_then(Item::as_table_like) else {
            return Ok(false);
        };
        Ok(headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case(name) && v.as_str() == Some(value)))
    }

    /// Sets `http_headers.<name> = "<value>"` in an existing provider table (creating
    /// `http_headers` as an inline table when missing). Returns true when the document changed;
    /// false also when the provider table does not exist.
    pub fn set_provider_header(
        &mut self,
        id: &str,
        name: &str,
        value: &str,
    ) -> Result<bool, CodexConfigError> {
        let Some(provider) = self.provider(id)? else {
            return Ok(false);
        };
        if let Some(item) = provider.get("http_headers") {
            if !item.is_table_like() {
                return Err(self.shape(&format!("model_providers.{id}.http_headers"), item));
            }
        }
        let provider = self.provider_item_mut(id)?;
        let mut changed = false;
        if provider.get("http_headers").is_none() {
            changed |= set_in(
                provider,
                "http_headers",
                Value::InlineTable(toml_edit::InlineTable::new()),
            );
        }
        let Some(headers) = provider
            .as_table_like_mut()
            .and_then(|p| p.get_mut("http_headers"))
        else {
            return Ok(changed);
        };
        let existing = headers
            .as_table_like()
            .and_then(|h| {
                h.iter()
                    .map(|(k, _)| k)
                    .find(|k| k.eq_ignore_ascii_case(name))
            })
            .map(str::to_owned);
        let key = existing.unwrap_or_else(|| name.to_owned());
        Ok(set_in(headers, &key, Value::from(value)) || changed)
    }

    /// Removes `http_headers.<name>` (any letter case) from the provider table, and
    /// `http_headers` itself when that leaves it empty. Returns true when the document changed.
    pub fn remove_provider_header(
        &mut self,
        id: &str,
        name: &str,
    ) -> Result<bool, CodexConfigError> {
        let has_headers = self
            .provider(id)?
            .and_then(|p| p.get("http_headers"))
            .is_some_and(Item::is_table_like);
        if !has_headers {
            return Ok(false);
        }
        let provider = self.provider_item_mut(id)?;
        let Some(headers) = provider
            .as_table_like_mut()
            .and_then(|p| p.get_mut("http_headers"))
        else {
            return Ok(false);
        };
        let keys: Vec<String> = headers
            .as_table_like()
            .map(|h| {
                h.iter()
                    .map(|(k, _)| k.to_owned())
                    .filter(|k| k.eq_ignore_ascii_case(name))
                    .collect()
            })
            .unwrap_or_default();
        let mut changed = false;
        for key in keys {
            changed |= remove_in(headers, &key);
        }
        let now_empty = headers.as_table_like().is_some_and(|h| h.is_empty());
        if changed && now_empty {
            remove_in(provider, "http_headers");
        }
        Ok(changed)
    }

    /// The text the file would have after [`CodexFile::save`].
    pub fn render(&self) -> String {
        self.doc.to_string()
    }

    /// True when saving would change the file on disk.
    pub fn is_changed(&self) -> bool {
        let text = self.render();
        match &self.original {
            Some(original) => *original != text,
            None => !text.is_empty(),
        }
    }

    /// Writes the document if it differs from what was loaded: backup of the original first,
    /// then an atomic replace. Creates the folder of a new file.
    pub fn save(&self) -> Result<Saved, CodexConfigError> {
        let text = self.render();
        // Nothing to write: the same text, or a missing file that would be created empty.
        if self.original.as_deref() == Some(text.as_str())
            || (self.original.is_none() && text.is_empty())
        {
            return Ok(Saved::Unchanged);
        }
        let write_err = |source| CodexConfigError::Write {
            path: self.path.clone(),
            source,
        };
        // Refuse to clobber a change made since load.
        let on_disk = match fs::read(&self.target) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(CodexConfigError::Read {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        if on_disk.as_deref() != self.original.as_deref().map(str::as_bytes) {
            return Err(CodexConfigError::Conflict {
                path: self.path.clone(),
            });
        }
        let dir = match self.target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&dir).map_err(write_err)?;
        let permissions = fs::metadata(&self.target).ok().map(|m| m.permissions());
        let saved = match &self.original {
            Some(original) => {
                let backup = write_backup(&self.path, original.as_bytes(), permissions.as_ref())
                    .map_err(|source| CodexConfigError::Write {
                        path: self.path.clone(),
                        source,
                    })?;
                Saved::Changed { backup }
            }
            None => Saved::Created,
        };
        let mode = permissions.map_or(fsutil::Mode::Private, fsutil::Mode::Keep);
        fsutil::write_atomic(&self.target, text.as_bytes(), &mode).map_err(write_err)?;
        Ok(saved)
    }

    fn shape(&self, key: &str, item: &Item) -> CodexConfigError {
        CodexConfigError::Shape {
            path: self.path.clone(),
            key: key.to_owned(),
            found: describe(item),
        }
    }
}

/// Sets `key` in `table` to `new`. A value that is already equal is left alone (quoting and
/// all); a replaced value keeps its decor (comments). Returns true when something changed.
pub fn set_value(table: &mut dyn TableLike, key: &str, new: Value) -> bool {
    if let Some(item) = table.get_mut(key) {
        if let Some(old) = item.as_value_mut() {
            if same_value(old, &new) {
                return false;
            }
            let decor = old.decor().clone();
            let mut new = new;
            *new.decor_mut() = decor;
            *old = new;
            return true;
        }
    }
    table.insert(key, Item::Value(new));
    true
}

/// Removes `key` from `table`; a comment above it moves to the key that follows. Returns true
/// when it was there.
pub fn remove_key(table: &mut dyn TableLike, key: &str) -> bool {
    let prefix = table
        .key(key)
        .and_then(|k| k.leaf_decor().prefix())
        .and_then(|p| p.as_str())
        .filter(|p| p.contains('#'))
        .map(str::to_owned);
    let next = {
        let mut keys = table.iter().map(|(k, _)| k);
        keys.by_ref().find(|k| *k == key);
        keys.next().map(str::to_owned)
    };
    if table.remove(key).is_none() {
        return false;
    }
    if let (Some(prefix), Some(next)) = (prefix, next) {
        // Only key/value pairs carry a leaf prefix that renders; sections keep their own.
        let next_is_value = table.get(&next).is_some_and(Item::is_value);
        if next_is_value {
            if let Some(mut k) = table.key_mut(&next) {
                let old = k
                    .leaf_decor()
                    .prefix()
                    .and_then(|p| p.as_str())
                    .unwrap_or("")
                    .to_owned();
                k.leaf_decor_mut().set_prefix(format!("{prefix}{old}"));
            }
        }
    }
    true
}

/// [`set_value`] on a table or inline table item; in an inline table a new key goes last
/// with the spacing before `}` kept (`{ a = "1", b = "2" }`, not `{ a = "1" , b = "2" }`).
pub fn set_in(item: &mut Item, key: &str, new: Value) -> bool {
    match item {
        Item::Value(Value::InlineTable(table)) => {
            let existed = table.contains_key(key);
            let last = table.iter().last().map(|(k, _)| k.to_owned());
            let changed = set_value(table, key, new);
            if changed && !existed {
                match last {
                    Some(last) => move_suffix(table, &last, key),
                    // `{ key = "v" }`, not `{ key = "v"}`.
                    None => {
                        if let Some(v) = table.get_mut(key) {
                            v.decor_mut().set_suffix(" ");
                        }
                    }
                }
            }
            changed
        }
        other => other
            .as_table_like_mut()
            .is_some_and(|table| set_value(table, key, new)),
    }
}

/// [`remove_key`] on a table or inline table item; removing the last key of an inline table
/// keeps the spacing before `}`.
pub fn remove_in(item: &mut Item, key: &str) -> bool {
    match item {
        Item::Value(Value::InlineTable(table)) => {
            let keys: Vec<String> = table.iter().map(|(k, _)| k.to_owned()).collect();
            let was_last = keys.last().map(String::as_str) == Some(key);
            let before = keys
                .iter()
                .position(|k| k == key)
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| keys.get(i))
                .cloned();
            let suffix = table
                .get(key)
                .and_then(|v| v.decor().suffix())
                .and_then(|s| s.as_str())
                .map(str::to_owned);
            if !remove_key(table, key) {
                return false;
            }
            if let (true, Some(before), Some(suffix)) = (was_last, before, suffix) {
                if let Some(v) = table.get_mut(&before) {
                    v.decor_mut().set_suffix(suffix);
                }
            }
            true
        }
        other => other
            .as_table_like_mut()
            .is_some_and(|table| remove_key(table, key)),
    }
}

fn move_suffix(table: &mut toml_edit::InlineTable, from: &str, to: &str) {
    let suffix = table
        .get(from)
        .and_then(|v| v.decor().suffix())
        .and_then(|s| s.as_str())
        .unwrap_or("")
        .to_owned();
    if let Some(v) = table.get_mut(from) {
        v.decor_mut().set_suffix("");
    }
    if let Some(v) = table.get_mut(to) {
        v.decor_mut().set_suffix(suffix);
    }
}

/// Equal scalar values (strings, integers, booleans, floats); anything else counts as different.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.value() == y.value(),
        (Value::Integer(x), Value::Integer(y)) => x.value() == y.value(),
        (Value::Boolean(x), Value::Boolean(y)) => x.value() == y.value(),
        (Value::Float(x), Value::Float(y)) => x.value() == y.value(),
        _ => false,
    }
}

fn describe(item: &Item) -> &'static str {
    match item {
        Item::None => "empty",
        Item::Value(Value::String(_)) => "a string",
        Item::Value(Value::Integer(_)) => "a number",
        Item::Value(Value::Float(_)) => "a number",
        Item::Value(Value::Boolean(_)) => "a boolean",
        Item::Value(Value::Datetime(_)) => "a date",
        Item::Value(Value::Array(_)) => "an array",
        Item::Value(Value::InlineTable(_)) => "an inline table",
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables ([[...]])",
    }
}

fn parse(text: &str, path: &Path) -> Result<DocumentMut, CodexConfigError> {
    text.parse::<DocumentMut>().map_err(|e| {
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        let (line, column) = line_col(text.as_bytes(), offset);
        CodexConfigError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

/// The file a path's bytes live in: the path itself, or the end of its symlink chain.
fn resolve_target(path: &Path) -> PathBuf {
    let is_link = fs::symlink_metadata(path)
        .map(|m| m.file_type().is_symlink())
        .unwrap_or(false);
    if !is_link {
        return path.to_path_buf();
    }
    if let Ok(real) = fs::canonicalize(path) {
        return real;
    }
    // A dangling link: write where it points (relative to the link's folder).
    match fs::read_link(path) {
        Ok(to) if to.is_absolute() => to,
        Ok(to) => path.parent().map_or(to.clone(), |dir| dir.join(&to)),
        Err(_) => path.to_path_buf(),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Copies the original next to `path` as `<name>.bak-<ts>` (never overwriting one).
fn write_backup(
    path: &Path,
    original: &[u8],
    permissions: Option<&fs::Permissions>,
) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config.toml".to_owned());
    let ts = unix_now();
    for n in 1..1000 {
        let candidate = if n == 1 {
            path.with_file_name(format!("{name}.bak-{ts}"))
        } else {
            path.with_file_name(format!("{name}.bak-{ts}-{n}"))
        };
        let mut file = match fsutil::create_new(&candidate, &fsutil::Mode::Private) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        let written = file
            .write_all(original)
            .and_then(|()| match permissions {
                Some(p) => file.set_permissions(p.clone()),
                None => Ok(()),
            })
            .and_then(|()| file.sync_all());
        if let Err(e) = written {
            let _ = fs::remove_file(&candidate);
            return Err(e);
        }
        return Ok(candidate);
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("too many backups named {name}.bak-{ts}-*"),
    ))
}

// ---------------------------------------------------------------------------------------------
// Paths and values our commands write.

/// `$CODEX_HOME/config.toml`.
pub fn config_toml_path(config: &Config) -> PathBuf {
    absolute(&config.codex.home).join("config.toml")
}

/// `$CODEX_HOME/<profile>.config.toml`.
pub fn profile_path(config: &Config) -> PathBuf {
    absolute(&config.codex.home).join(format!("{}.config.toml", config.codex.profile))
}

/// `$CODEX_HOME/clawrouter-catalog.json`, absolute (Codex wants an absolute path).
pub fn catalog_path(config: &Config) -> PathBuf {
    absolute(&config.codex.home).join(CATALOG_FILE)
}

/// The bridge's base URL for the provider table: `http://<listen>/v1`, with an unspecified
/// listen address (`0.0.0.0`, `::`) replaced by loopback.
pub fn bridge_base_url(config: &Config) -> String {
    let mut addr = config.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("http://{addr}/v1")
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// True when a `model_catalog_json` value is ours: our catalog path, or any file named
/// `clawrouter-catalog.json` (an older `CODEX_HOME`).
pub fn is_our_catalog(config: &Config, value: &str) -> bool {
    Path::new(value) == catalog_path(config)
        || Path::new(value).file_name() == Some(std::ffi::OsStr::new(CATALOG_FILE))
}

/// Writes our root keys (`model`, `model_provider`, `model_catalog_json`) and the owned keys of
/// `[model_providers.clawrouter]` into `file`. `requires_openai_auth` is false for the profile
/// and true for desktop mode. Keys the user added are kept. Returns true when anything changed.
pub fn apply_clawrouter(
    file: &mut CodexFile,
    config: &Config,
    requires_openai_auth: bool,
) -> Result<bool, CodexConfigError> {
    let catalog = catalog_path(config);
    let mut changed = file.set_root_str("model", &config.codex.default_model);
    changed |= file.set_root_str("model_provider", PROVIDER_ID);
    changed |= file.set_root_str("model_catalog_json", &catalog.to_string_lossy());
    let base_url = bridge_base_url(config);
    let fields = [
        ("name", Value::from(PROVIDER_NAME)),
        ("base_url", Value::from(base_url)),
        ("wire_api", Value::from("responses")),
        ("requires_openai_auth", Value::from(requires_openai_auth)),
        ("supports_websockets", Value::from(false)),
    ];
    for (key, value) in fields {
        changed |= file.set_provider_value(PROVIDER_ID, key, value)?;
    }
    if let Some(token) = &config.auth_token {
        changed |= file.set_provider_value(
            PROVIDER_ID,
            "experimental_bearer_token",
            Value::from(token.as_str()),
        )?;
    }
    Ok(changed)
}

// ---------------------------------------------------------------------------------------------
// Read-only state, for `status`, `doctor` and the dashboard.

/// Which provider plain `codex` and Codex Desktop use, per `config.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DesktopMode {
    /// `model_provider = "clawrouter"`.
    ClawRouter,
    /// No `model_provider` (or `openai`): the ChatGPT-subscription default.
    Native,
    /// Some other custom provider the user chose; we leave it alone.
    OtherProvider(String),
}

/// Desktop mode as `config.toml` has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesktopState {
    pub mode: DesktopMode,
    /// The root `model`, if set.
    pub model: Option<String>,
    /// Whether `config.toml` exists.
    pub config_exists: bool,
    /// In ClawRouter mode, what keeps Codex Desktop from working, each with its fix. Empty
    /// when all is well (and always in the other modes).
    pub problems: Vec<String>,
}

impl DesktopState {
    /// True in ClawRouter mode.
    pub fn is_on(&self) -> bool {
        self.mode == DesktopMode::ClawRouter
    }
}

/// Reads desktop mode from `$CODEX_HOME/config.toml` (a missing file is native mode).
pub fn desktop_state(config: &Config) -> Result<DesktopState, CodexConfigError> {
    let file = CodexFile::load(&config_toml_path(config))?;
    desktop_state_of(&file, config)
}

/// [`desktop_state`] of an already loaded `config.toml`.
pub fn desktop_state_of(
    file: &CodexFile,
    config: &Config,
) -> Result<DesktopState, CodexConfigError> {
    let model = file.root_str("model").map(str::to_owned);
    let mode = match file.root_str("model_provider") {
        None | Some("openai") => DesktopMode::Native,
        Some(PROVIDER_ID) => DesktopMode::ClawRouter,
        Some(other) => DesktopMode::OtherProvider(other.to_owned()),
    };
    let mut problems = Vec::new();
    if mode == DesktopMode::ClawRouter {
        let fix = "run `clawrouter-codex desktop on`";
        match file.provider(PROVIDER_ID)? {
            None => problems.push(format!(
                "{} selects provider `clawrouter` but has no [model_providers.clawrouter] table: {fix}",
                file.path().display()
            )),
            Some(p) => {
                if p.get("requires_openai_auth").and_then(Item::as_bool) != Some(true) {
                    problems.push(format!(
                        "[model_providers.clawrouter] in {} lacks requires_openai_auth = true, so \
                         Codex Desktop hides the ClawRouter models: {fix}",
                        file.path().display()
                    ));
                }
                let url = bridge_base_url(config);
                if p.get("base_url").and_then(Item::as_str) != Some(url.as_str()) {
                    problems.push(format!(
                        "[model_providers.clawrouter] in {} does not point at this bridge ({url}): {fix}",
                        file.path().display()
                    ));
                }
            }
        }
        match file.root_str("model_catalog_json") {
            None => problems.push(format!(
                "{} has no model_catalog_json, so the picker lacks the ClawRouter models: {fix}",
                file.path().display()
            )),
            Some(path) if !Path::new(path).is_file() => problems.push(format!(
                "the model catalog {path} does not exist, so Codex will not start: \
                 run `clawrouter-codex gen-catalog` (with the bridge up)"
            )),
            Some(_) => {}
        }
    }
    Ok(DesktopState {
        mode,
        model,
        config_exists: file.exists(),
        problems,
    })
}

/// The profile `setup` writes, as it is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileState {
    /// `$CODEX_HOME/<profile>.config.toml`.
    pub path: PathBuf,
    pub exists: bool,
    /// What keeps `codex --profile <profile>` from reaching this bridge, each with its fix.
    /// Empty when all is well.
    pub problems: Vec<String>,
}

/// Reads the profile and checks it selects our provider, points at this bridge and names an
/// existing catalog.
pub fn profile_state(config: &Config) -> Result<ProfileState, CodexConfigError> {
    let path = profile_path(config);
    let file = CodexFile::load(&path)?;
    let shown = path.display();
    let fix = "run `clawrouter-codex setup`";
    let mut problems = Vec::new();
    if !file.exists() {
        problems.push(format!("there is no profile {shown}: {fix}"));
    } else {
        if file.root_str("model_provider") != Some(PROVIDER_ID) {
            problems.push(format!(
                "{shown} does not select model_provider = \"clawrouter\": {fix}"
            ));
        }
        match file.provider(PROVIDER_ID)? {
            None => problems.push(format!(
                "{shown} has no [model_providers.clawrouter] table: {fix}"
            )),
            Some(p) => {
                let url = bridge_base_url(config);
                if p.get("base_url").and_then(Item::as_str) != Some(url.as_str()) {
                    problems.push(format!(
                        "[model_providers.clawrouter] in {shown} does not point at this bridge ({url}): {fix}"
                    ));
                }
                if p.get("wire_api").and_then(Item::as_str) != Some("responses") {
                    problems.push(format!(
                        "[model_providers.clawrouter] in {shown} needs wire_api = \"responses\": {fix}"
                    ));
                }
            }
        }
        match file.root_str("model_catalog_json") {
            None => problems.push(format!(
                "{shown} has no model_catalog_json, so Codex lacks the ClawRouter models: {fix}"
            )),
            Some(catalog) if !Path::new(catalog).is_file() => problems.push(format!(
                "the model catalog {catalog} named in {shown} does not exist, so Codex will not \
                 start with this profile: run `clawrouter-codex gen-catalog` (with the bridge up)"
            )),
            Some(_) => {}
        }
    }
    Ok(ProfileState {
        exists: file.exists(),
        path,
        problems,
    })
}

/// Where web search is switched on by the `x-web-search` provider header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebSearchStatus {
    /// The profile's provider table; `None` when there is no profile or no provider table in it.
    pub profile: Option<bool>,
    /// `config.toml`'s provider table, only reported in desktop mode (`None` otherwise).
    pub desktop: Option<bool>,
}

impl WebSearchStatus {
    /// On for at least one way of running Codex with ClawRouter.
    pub fn any_on(&self) -> bool {
        self.profile == Some(true) || self.desktop == Some(true)
    }
}

/// Web search per place (profile, and `config.toml` when desktop mode is on).
pub fn websearch_status(config: &Config) -> Result<WebSearchStatus, CodexConfigError> {
    let profile = CodexFile::load(&profile_path(config))?;
    let base = CodexFile::load(&config_toml_path(config))?;
    websearch_status_of(&profile, &base)
}

/// [`websearch_status`] of already loaded files.
pub fn websearch_status_of(
    profile: &CodexFile,
    base: &CodexFile,
) -> Result<WebSearchStatus, CodexConfigError> {
    let in_profile = match profile.provider(PROVIDER_ID)? {
        None => None,
        Some(_) => {
            Some(profile.provider_header_is(PROVIDER_ID, WEB_SEARCH_HEADER, WEB_SEARCH_ON)?)
        }
    };
    let desktop = if base.root_str("model_provider") == Some(PROVIDER_ID) {
        Some(base.provider_header_is(PROVIDER_ID, WEB_SEARCH_HEADER, WEB_SEARCH_ON)?)
    } else {
        None
    };
    Ok(WebSearchStatus {
        profile: in_profile,
        desktop,
    })
}

/// True when web search is switched on by the provider header in the profile or, in desktop
/// mode, in `config.toml` (the bridge may also have it on for every request by its own config).
pub fn websearch_state(config: &Config) -> Result<bool, CodexConfigError> {
    Ok(websearch_status(config)?.any_on())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn backups(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".bak-"))
            .collect();
        names.sort();
        names
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn set_root_keeps_comments_and_order() {
        let text = "# top\nmodel = \"gpt-5\" # mine\napproval_policy = \"never\"\n\n[tui]\nx = 1\n";
        let (_d, path) = file_with(text);
        let mut f = CodexFile::load(&path).unwrap();
        assert!(f.set_root_str("model", "blockrun/auto"));
        assert!(f.set_root_str("model_provider", "clawrouter"));
        assert_eq!(
            f.render(),
            "# top\nmodel = \"blockrun/auto\" # mine\napproval_policy = \"never\"\nmodel_provider = \"clawrouter\"\n\n[tui]\nx = 1\n"
        );
    }

    #[test]
    fn equal_value_is_untouched_even_with_other_quoting() {
        let text = "model = 'blockrun/auto'\n";
        let (_d, path) = file_with(text);
        let mut f = CodexFile::load(&path).unwrap();
        assert!(!f.set_root_str("model", "blockrun/auto"));
        assert!(!f.is_changed());
        assert_eq!(f.save().unwrap(), Saved::Unchanged);
    }

    #[test]
    fn remove_moves_comment_to_next_key() {
        let text = "# ours\nmodel_provider = \"clawrouter\"\nmodel = \"x\"\n";
        let (_d, path) = file_with(text);
        let mut f = CodexFile::load(&path).unwrap();
        assert!(f.remove_root("model_provider"));
        assert!(!f.remove_root("model_provider"));
        assert_eq!(f.render(), "# ours\nmodel = \"x\"\n");
    }

    #[test]
    fn parse_error_names_file_and_line() {
        let (_d, path) = file_with("a = 1\nb = = 2\n");
        let err = CodexFile::load(&path).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, CodexConfigError::Parse { line: 2, .. }),
            "{msg}"
        );
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
    }

    #[test]
    fn non_utf8_is_a_parse_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        fs::write(&path, b"a = \"\xff\"\n").unwrap();
        let err = CodexFile::load(&path).unwrap_err();
        assert!(err.to_string().contains("UTF-8"), "{err}");
    }

    #[test]
    fn providers_not_a_table_is_refused() {
        let (_d, path) = file_with("model_providers = \"oops\"\n");
        let mut f = CodexFile::load(&path).unwrap();
        let err = f.ensure_provider_table("clawrouter").err().unwrap();
        assert!(err.to_string().contains("model_providers"), "{err}");
        let (_d, path) = file_with("[[model_providers.clawrouter]]\nname = \"x\"\n");
        let mut f = CodexFile::load(&path).unwrap();
        assert!(f.ensure_provider_table("clawrouter").is_err());
        assert!(f.provider("clawrouter").is_err());
    }

    #[test]
    fn new_provider_goes_after_other_providers() {
        let text = "model = \"a\"\n\n[model_providers.other]\nname = \"O\"\n\n[tui]\nx = 1\n";
        let (_d, path) = file_with(text);
        let mut f = CodexFile::load(&path).unwrap();
        assert!(f
            .set_provider_value("clawrouter", "name", Value::from("ClawRouter"))
            .unwrap());
        assert_eq!(
            f.render(),
            "model = \"a\"\n\n[model_providers.other]\nname = \"O\"\n\n[model_providers.clawrouter]\nname = \"ClawRouter\"\n\n[tui]\nx = 1\n"
        );
    }

    #[test]
    fn inline_and_dotted_provider_tables_are_edited_in_place() {
        let text = "model_providers.clawrouter.name = \"C\"\n";
        let (_d, path) = file_with(text);
        let mut f = CodexFile::load(&path).unwrap();
        assert!(f
            .set_provider_header("clawrouter", WEB_SEARCH_HEADER, "1")
            .unwrap());
        assert!(f
            .provider_header_is("clawrouter", "X-Web-Search", "1")
            .unwrap());
        let again = f.render();
        assert!(again.parse::<DocumentMut>().is_ok(), "{again}");

        let text = "[model_providers]\nclawrouter = { name = \"C\", http_headers = { \"X-Web-Search\" = \"0\" } }\n";
        let (_d, path) = file_with(text);
        let mut f = CodexFile::load(&path).unwrap();
        assert!(f
            .set_provider_header("clawrouter", WEB_SEARCH_HEADER, "1")
            .unwrap());
        assert_eq!(
            f.render(),
            "[model_providers]\nclawrouter = { name = \"C\", http_headers = { \"X-Web-Search\" = \"1\" } }\n"
        );
        assert!(f
            .remove_provider_header("clawrouter", WEB_SEARCH_HEADER)
            .unwrap());
        assert_eq!(
            f.render(),
            "[model_providers]\nclawrouter = { name = \"C\" }\n"
        );
    }

    #[test]
    fn inline_headers_stay_tidy_and_round_trip() {
        let text = "[model_providers.clawrouter]\nhttp_headers = { \"x-a\" = \"1\" } # mine\n";
        let (_d, path) = file_with(text);
        let mut f = CodexFile::load(&path).unwrap();
        assert!(f
            .set_provider_header("clawrouter", WEB_SEARCH_HEADER, "1")
            .unwrap());
        assert_eq!(
            f.render(),
            "[model_providers.clawrouter]\nhttp_headers = { \"x-a\" = \"1\", x-web-search = \"1\" } # mine\n"
        );
        assert!(!f
            .set_provider_header("clawrouter", WEB_SEARCH_HEADER, "1")
            .unwrap());
        assert!(f
            .remove_provider_header("clawrouter", WEB_SEARCH_HEADER)
            .unwrap());
        assert_eq!(f.render(), text);
        assert!(!f
            .remove_provider_header("clawrouter", WEB_SEARCH_HEADER)
            .unwrap());
    }

    #[test]
    fn new_provider_next_to_dotted_or_inline_providers_stays_valid() {
        for text in [
            "model = \"a\"\nmodel_providers.other.name = \"O\"\n",
            "model = \"a\"\nmodel_providers = { other = { name = \"O\" } }\n",
        ] {
            let (_d, path) = file_with(text);
            let mut f = CodexFile::load(&path).unwrap();
            assert!(f
                .set_provider_value("clawrouter", "name", Value::from("C"))
                .unwrap());
            f.set_provider_header("clawrouter", WEB_SEARCH_HEADER, "1")
                .unwrap();
            let out = f.render();
            let doc: DocumentMut = out.parse().unwrap_or_else(|e| panic!("{e}\n{out}"));
            assert_eq!(
                doc["model_providers"]["other"]["name"].as_str(),
                Some("O"),
                "{out}"
            );
            assert_eq!(
                doc["model_providers"]["clawrouter"]["name"].as_str(),
                Some("C"),
                "{out}"
            );
            assert_eq!(
                doc["model_providers"]["clawrouter"]["http_headers"]["x-web-search"].as_str(),
                Some("1"),
                "{out}"
            );
        }
    }

    #[test]
    fn header_helpers_need_the_provider_table() {
        let (_d, path) = file_with("model = \"x\"\n");
        let mut f = CodexFile::load(&path).unwrap();
        assert!(!f
            .set_provider_header("clawrouter", "x-web-search", "1")
            .unwrap());
        assert!(!f
            .remove_provider_header("clawrouter", "x-web-search")
            .unwrap());
        assert!(!f.is_changed());
    }

    #[test]
    fn save_backs_up_once_per_change_and_is_idempotent() {
        let (dir, path) = file_with("model = \"a\"\n");
        let mut f = CodexFile::load(&path).unwrap();
        f.set_root_str("model", "b");
        let Saved::Changed { backup } = f.save().unwrap() else {
            panic!("expected a change")
        };
        assert_eq!(fs::read_to_string(&backup).unwrap(), "model = \"a\"\n");
        assert_eq!(fs::read_to_string(&path).unwrap(), "model = \"b\"\n");

        let mut f = CodexFile::load(&path).unwrap();
        assert!(!f.set_root_str("model", "b"));
        assert_eq!(f.save().unwrap(), Saved::Unchanged);
        assert_eq!(backups(dir.path()).len(), 1);

        // A second change in the same second gets its own backup.
        f.set_root_str("model", "c");
        let Saved::Changed { backup: second } = f.save().unwrap() else {
            panic!("expected a change")
        };
        assert_ne!(second, backup);
        assert_eq!(fs::read_to_string(&second).unwrap(), "model = \"b\"\n");
        assert_eq!(fs::read_to_string(&backup).unwrap(), "model = \"a\"\n");
        assert_eq!(backups(dir.path()).len(), 2);
        // No temp files left behind.
        assert!(listing(dir.path()).iter().all(|n| !n.contains(".tmp-")));
    }

    #[test]
    fn new_file_is_created_without_backup_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("p.config.toml");
        let mut f = CodexFile::load(&path).unwrap();
        assert!(!f.exists());
        f.set_root_str("model", "m");
        assert_eq!(f.save().unwrap(), Saved::Created);
        assert_eq!(fs::read_to_string(&path).unwrap(), "model = \"m\"\n");
        assert!(backups(&dir.path().join("sub")).is_empty());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn permissions_are_kept() {
        use std::os::unix::fs::PermissionsExt;
        let (_d, path) = file_with("model = \"a\"\n");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let mut f = CodexFile::load(&path).unwrap();
        f.set_root_str("model", "b");
        let Saved::Changed { backup } = f.save().unwrap() else {
            panic!("expected a change")
        };
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(
            fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlinked_file_is_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("dotfiles-config.toml");
        fs::write(&real, "model = \"a\"\n").unwrap();
        let link = dir.path().join("config.toml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let mut f = CodexFile::load(&link).unwrap();
        f.set_root_str("model", "b");
        assert!(f.save().unwrap().changed());
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&real).unwrap(), "model = \"b\"\n");
    }

    #[test]
    fn concurrent_change_is_not_clobbered() {
        let (_d, path) = file_with("model = \"a\"\n");
        let mut f = CodexFile::load(&path).unwrap();
        f.set_root_str("model", "b");
        fs::write(&path, "model = \"user\"\n").unwrap();
        assert!(matches!(
            f.save().unwrap_err(),
            CodexConfigError::Conflict { .. }
        ));
        assert_eq!(fs::read_to_string(&path).unwrap(), "model = \"user\"\n");
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col(b"ab\ncd", 4), (2, 2));
        assert_eq!(line_col("é = \n".as_bytes(), 2), (1, 2));
        assert_eq!(line_col(b"", 10), (1, 1));
    }
}
