//! How the bridge writes files: every file it replaces (Codex's config and profiles, the model
//! catalog, service files, keys) is written the same way, so a crash or a full disk never leaves
//! a half-written file — a uniquely named temp file beside the target, created new (never an
//! existing file followed through a link), flushed to disk, renamed over the target, and the
//! folder flushed so the rename itself survives. Private folders and files are created owner-only.

use crate::clock::unix_now;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// The permissions a written file gets.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Readable by its owner only (0600): keys, Codex's config.
    Private,
    /// Readable by everyone (0644): files other programs read, e.g. service definitions.
    Shared,
    /// These permissions (those of the file being replaced).
    Keep(Permissions),
}

/// A file written beside its target and not yet in its place: checked first (e.g. by another
/// program), then [`StagedFile::commit`]ted. Dropped uncommitted, it is removed.
#[derive(Debug)]
pub struct StagedFile {
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl StagedFile {
    /// Writes `bytes` to a new temp file beside `target` (whose folder must exist).
    pub fn write(target: &Path, bytes: &[u8], mode: &Mode) -> io::Result<StagedFile> {
        let (temp, mut file) = create_temp_beside(target, mode)?;
        let staged = StagedFile {
            temp,
            target: target.to_path_buf(),
            committed: false,
        };
        file.write_all(bytes)?;
        if let Mode::Keep(permissions) = mode {
            file.set_permissions(permissions.clone())?;
        }
        file.sync_all()?;
        Ok(staged)
    }

    /// Where the staged content is, to be checked before it replaces the target.
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// Replaces the staged content (same temp file, same permissions).
    pub fn rewrite(&self, bytes: &[u8]) -> io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&self.temp)?;
        file.write_all(bytes)?;
        file.sync_all()
    }

    /// Renames the staged file over the target and makes the rename durable.
    pub fn commit(mut self) -> io::Result<()> {
        fs::rename(&self.temp, &self.target)?;
        self.committed = true;
        sync_folder(&self.target);
        Ok(())
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Writes `bytes` to `target` atomically (see the module doc). The folder must exist.
pub fn write_atomic(target: &Path, bytes: &[u8], mode: &Mode) -> io::Result<()> {
    StagedFile::write(target, bytes, mode)?.commit()
}

/// Creates `dir` and its missing parents, the new ones readable by their owner only (0700).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Creates `path`, which must not exist yet, with `mode`'s permissions from the start (no
/// moment where others could open it).
pub fn create_new(path: &Path, mode: &Mode) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(match mode {
            Mode::Shared => 0o644,
            Mode::Private | Mode::Keep(_) => 0o600,
        });
    }
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path)
}

/// Copies the original next to `path` as `<name>.bak-<ts>` (never overwriting one), with
/// `permissions` (else owner-only): the one backup a changed config file gets.
pub fn write_backup(
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
        let mut file = match create_new(&candidate, &Mode::Private) {
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

/// A new, uniquely named temp file in `target`'s folder: `.<name>.tmp-<pid>-<n>`.
fn create_temp_beside(target: &Path, mode: &Mode) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| io::Error::other(format!("{} names no file", target.display())))?;
    let folder = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    for _ in 0..100 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = folder.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
        match create_new(&temp, mode) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("no free temp name beside {}", target.display()),
    ))
}

/// Flushes the folder holding `path`, so a rename in it survives a crash (best effort: not
/// every platform can open a folder).
fn sync_folder(path: &Path) {
    let folder = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(folder) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.contains(".tmp-"))
            .collect()
    }

    #[test]
    fn a_write_replaces_the_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        write_atomic(&path, b"one", &Mode::Private).unwrap();
        write_atomic(&path, b"two", &Mode::Private).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn modes_are_set_from_the_start_and_kept_when_asked() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode_of = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let private = dir.path().join("key");
        write_atomic(&private, b"k", &Mode::Private).unwrap();
        assert_eq!(mode_of(&private), 0o600);
        let shared = dir.path().join("unit.service");
        write_atomic(&shared, b"s", &Mode::Shared).unwrap();
        assert_eq!(mode_of(&shared), 0o644);
        let kept = fs::Permissions::from_mode(0o640);
        write_atomic(&shared, b"t", &Mode::Keep(kept)).unwrap();
        assert_eq!(mode_of(&shared), 0o640);
        let folder = dir.path().join("a/b");
        create_private_dir(&folder).unwrap();
        assert_eq!(mode_of(&folder), 0o700);
    }

    #[test]
    fn a_staged_file_is_checked_then_committed_or_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.json");
        write_atomic(&path, b"old", &Mode::Shared).unwrap();
        let staged = StagedFile::write(&path, b"draft", &Mode::Shared).unwrap();
        assert_eq!(fs::read(staged.path()).unwrap(), b"draft");
        staged.rewrite(b"new").unwrap();
        assert_eq!(
            fs::read(&path).unwrap(),
            b"old",
            "not in place before commit"
        );
        staged.commit().unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        drop(StagedFile::write(&path, b"abandoned", &Mode::Shared).unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn temp_names_are_unique_within_a_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let a = StagedFile::write(&path, b"a", &Mode::Private).unwrap();
        let b = StagedFile::write(&path, b"b", &Mode::Private).unwrap();
        assert_ne!(a.path(), b.path());
    }
}
