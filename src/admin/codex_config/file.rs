//! A Codex TOML file on disk: loading it (UTF-8, valid TOML, errors naming the line and
//! column; a symlink read through to its target) and saving it (nothing when unchanged; refused
//! when the file changed since it was loaded; one backup of the original; the new text replaced
//! atomically through [`fsutil`], keeping the original's permissions).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use toml_edit::DocumentMut;

use super::{CodexConfigError, CodexFile, Saved};
use crate::fsutil;

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
                let backup =
                    fsutil::write_backup(&self.path, original.as_bytes(), permissions.as_ref())
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
pub(super) fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
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
