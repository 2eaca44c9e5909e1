//! `proxy upgrade`: moves the pinned ClawRouter version (`proxy.version`, README "The pinned
//! ClawRouter") to the newest release, after showing `old → new`.
//!
//! - **Newest release**: `npm view @blockrun/clawrouter version` (npm on PATH, the registry
//!   npm is configured for). Its answer must be an exact version
//!   ([`crate::config::check_proxy_version`]); anything else is refused.
//! - **Asking first**: with `--yes` it writes; on a terminal it asks `[y/N]`; otherwise (a
//!   script, a pipe) it is a dry run that writes nothing and says how to write.
//! - **The file**: the config that was loaded, else `~/.clawrouter-codex/bridge.yaml` (created).
//!   The edit touches one line ([`set_proxy_version`]): `version:` under the top-level
//!   `proxy:` is replaced, else inserted as the block's first key, else a `proxy:` block is
//!   appended; comments, order and every other line stay byte for byte. The result is parsed
//!   again and must load with the new version before anything is written. The original gets
//!   one backup (`<file>.bak-<ts>`), the new text an atomic replace ([`fsutil`]), with the
//!   file's permissions kept.
//!
//! Exit codes: 0 pinned, already the newest, dry run or declined; 1 npm could not say, or the
//! file could not be written; 2 the config file cannot be edited this way (say where and why).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use crate::config::{self, Config, PROXY_PACKAGE};
use crate::fsutil;

/// Runs `proxy upgrade` (`--yes`: write without asking).
pub fn upgrade(config: &Config, yes: bool) -> ExitCode {
    let Some(path) = config_path(config) else {
        eprintln!("clawrouter-codex: proxy upgrade: no config file was loaded and HOME is not set, so there is no file to pin the version in; set HOME or pass -c FILE");
        return super::bad_usage();
    };
    let old = &config.proxy.version;
    let new = match newest_release() {
        Ok(version) => version,
        Err(why) => {
            eprintln!("clawrouter-codex: proxy upgrade: cannot learn the newest ClawRouter release: {why}; the pin stays {old}");
            return super::problem();
        }
    };
    println!(
        "ClawRouter pinned: {old} (proxy.version, {})",
        path.display()
    );
    println!("Newest release:    {new} (npm view {PROXY_PACKAGE} version)");
    if std::env::var("CLAWROUTER_VERSION").is_ok_and(|v| !v.trim().is_empty()) {
        eprintln!("warning: CLAWROUTER_VERSION is set and overrides the file: unset it for the pin in {} to apply", path.display());
    }
    if let Some(own) = &config.proxy.command {
        eprintln!("warning: your own proxy command `{own}` (CLAWROUTER_CMD or proxy.command) overrides the pin: unset it to run the pinned version");
    }
    if *old == new {
        println!("Already pinned to the newest release: nothing to change.");
        return ExitCode::SUCCESS;
    }
    println!("{old} → {new}");

    let original = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            eprintln!(
                "clawrouter-codex: proxy upgrade: cannot read {}: {e}",
                path.display()
            );
            return super::problem();
        }
    };
    let edited = match edit(original.as_deref().unwrap_or(""), &new, &path) {
        Ok(text) => text,
        Err(why) => {
            eprintln!("clawrouter-codex: proxy upgrade: {why}; nothing written. Set `proxy.version: {new}` there by hand");
            return super::bad_usage();
        }
    };

    if !yes {
        if !std::io::stdin().is_terminal() {
            println!("Dry run (stdin is not a terminal): nothing written. Run `clawrouter-codex proxy upgrade --yes` to pin {new}.");
            return ExitCode::SUCCESS;
        }
        print!("Pin ClawRouter {new} in {}? [y/N] ", path.display());
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            println!("Not changed: the pin stays {old}.");
            return ExitCode::SUCCESS;
        }
    }

    match save(&path, original.as_deref(), &edited) {
        Ok(backup) => {
            let backup = backup
                .map(|b| format!(" (backup: {})", b.display()))
                .unwrap_or_default();
            println!("Pinned ClawRouter {new} in {}{backup}.", path.display());
            println!("Restart the proxy to run it: stop `clawrouter-codex start` and run it again (login service: `systemctl --user restart clawrouter-codex`); `clawrouter-codex doctor` shows the version that runs.");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("clawrouter-codex: proxy upgrade: {why}; the pin stays {old}");
            super::problem()
        }
    }
}

/// The file to pin in: the loaded config, else `~/.clawrouter-codex/bridge.yaml`.
fn config_path(config: &Config) -> Option<PathBuf> {
    config
        .source
        .clone()
        .or_else(|| config.state_dir.as_ref().map(|dir| dir.join("bridge.yaml")))
}

/// `npm view @blockrun/clawrouter version`, checked to be an exact version.
fn newest_release() -> Result<String, String> {
    let output = Command::new("npm")
        .args(["view", PROXY_PACKAGE, "version"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                "npm is not on PATH (it comes with Node.js, which ClawRouter needs)".to_owned()
            }
            _ => format!("cannot run npm: {e}"),
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        return Err(format!(
            "`npm view {PROXY_PACKAGE} version` failed ({}): {}; check the network and npm's registry setting",
            output.status,
            last.trim()
        ));
    }
    let version = stdout
        .lines()
        .rev()
        .map(|l| l.trim().trim_matches(['\'', '"']))
        .find(|l| !l.is_empty())
        .unwrap_or("");
    config::check_proxy_version(version)
        .map_err(|why| format!("npm answered something unexpected: {why}"))?;
    Ok(version.to_owned())
}

/// The edited text, checked: it must load, with the new version.
fn edit(text: &str, version: &str, path: &Path) -> Result<String, String> {
    let edited = set_proxy_version(text, version)
        .map_err(|why| format!("{} cannot be edited: {why}", path.display()))?;
    let parsed = config::parse_file(&edited, path)
        .map_err(|e| format!("{} would not load after the edit ({e})", path.display()))?;
    match parsed.proxy.and_then(|p| p.version) {
        Some(v) if v.trim() == version => Ok(edited),
        _ => Err(format!(
            "{} would not pin {version} after the edit (an unusual layout)",
            path.display()
        )),
    }
}

/// Sets `version:` under the top-level `proxy:` of a YAML text, changing one line (see the
/// module docs). A `proxy:` written inline (`proxy: {port: 1}`) is refused.
pub fn set_proxy_version(text: &str, version: &str) -> Result<String, String> {
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
    let is_content = |line: &str| {
        let t = line.trim();
        !t.is_empty() && !t.starts_with('#')
    };
    let indent_of = |line: &str| line.len() - line.trim_start_matches(' ').len();
    let Some(at) = lines.iter().position(|l| l.starts_with("proxy:")) else {
        let mut out = text.to_owned();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push_str(newline);
        }
        out.push_str(&format!("proxy:{newline}  version: {version}{newline}"));
        return Ok(out);
    };
    let after = lines[at]["proxy:".len()..].trim();
    if !(after.is_empty() || after.starts_with('#')) {
        return Err("its `proxy:` is written on one line; write it as a block".to_owned());
    }
    let block_end = lines[at + 1..]
        .iter()
        .position(|l| is_content(l) && indent_of(l) == 0)
        .map_or(lines.len(), |n| at + 1 + n);
    let child_indent = lines[at + 1..block_end]
        .iter()
        .find(|l| is_content(l))
        .map_or(2, |l| indent_of(l));
    let existing = (at + 1..block_end).find(|&i| {
        indent_of(&lines[i]) == child_indent && lines[i].trim_start().starts_with("version:")
    });
    match existing {
        Some(i) => {
            let line = &lines[i];
            let ending = &line[line.trim_end_matches(['\n', '\r']).len()..];
            let body = line.trim_end_matches(['\n', '\r']);
            let value_start = body.find("version:").map_or(0, |p| p + "version:".len());
            let value = &body[value_start..];
            // The comment with the spaces before it, as they were.
            let comment = value
                .find(" #")
                .map(|p| &value[value[..=p].trim_end().len()..])
                .unwrap_or("");
            lines[i] = format!(
                "{}version: {version}{comment}{ending}",
                " ".repeat(child_indent)
            );
        }
        None => {
            if !lines[at].ends_with('\n') {
                lines[at].push_str(newline);
            }
            lines.insert(
                at + 1,
                format!("{}version: {version}{newline}", " ".repeat(child_indent)),
            );
        }
    }
    Ok(lines.concat())
}

/// Writes the edited text: refused when the file changed since it was read, one backup of the
/// original, an atomic replace keeping its permissions. Returns the backup's path.
fn save(path: &Path, original: Option<&str>, edited: &str) -> Result<Option<PathBuf>, String> {
    let now = std::fs::read_to_string(path).ok();
    if now.as_deref() != original {
        return Err(format!(
            "{} changed while this ran; run it again",
            path.display()
        ));
    }
    let write_err = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    match original {
        Some(original) => {
            let permissions = std::fs::metadata(path).map_err(write_err)?.permissions();
            let backup = fsutil::write_backup(path, original.as_bytes(), Some(&permissions))
                .map_err(write_err)?;
            fsutil::write_atomic(path, edited.as_bytes(), &fsutil::Mode::Keep(permissions))
                .map_err(write_err)?;
            Ok(Some(backup))
        }
        None => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                fsutil::create_private_dir(dir).map_err(write_err)?;
            }
            fsutil::write_atomic(path, edited.as_bytes(), &fsutil::Mode::Private)
                .map_err(write_err)?;
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pinned(text: &str) -> String {
        set_proxy_version(text, "0.12.250").expect("edited")
    }

    #[test]
    fn the_version_line_is_replaced_and_everything_else_kept() {
        let text = "# my bridge\nlisten: 127.0.0.1:8403\nproxy:\n  # the pin\n  port: 8404\n  version: 0.12.246   # tested\n  isolate_home: false\ncodex:\n  home: ~/.codex # mine\n";
        assert_eq!(
            pinned(text),
            text.replace(
                "version: 0.12.246   # tested",
                "version: 0.12.250   # tested"
            )
        );
    }

    #[test]
    fn a_missing_version_is_inserted_in_the_block_with_its_indent() {
        let text = "proxy:\n    port: 8404 # p\n# between\ncodex:\n  version: no\n";
        assert_eq!(
            pinned(text),
            "proxy:\n    version: 0.12.250\n    port: 8404 # p\n# between\ncodex:\n  version: no\n"
        );
        // a nested `version:` deeper in the block is not the proxy's
        let text = "proxy:\n  port: 1\n  extra:\n    version: 1.0.0\n";
        assert!(pinned(text).starts_with("proxy:\n  version: 0.12.250\n  port: 1\n"));
    }

    #[test]
    fn a_missing_block_is_appended_and_crlf_kept() {
        assert_eq!(
            pinned("listen: 127.0.0.1:8403"),
            "listen: 127.0.0.1:8403\nproxy:\n  version: 0.12.250\n"
        );
        assert_eq!(pinned(""), "proxy:\n  version: 0.12.250\n");
        assert_eq!(
            pinned("proxy:\r\n  version: 0.12.246\r\n"),
            "proxy:\r\n  version: 0.12.250\r\n"
        );
    }

    #[test]
    fn an_inline_proxy_is_refused_and_the_edit_is_checked() {
        let err = set_proxy_version("proxy: {port: 1}\n", "0.12.250").unwrap_err();
        assert!(err.contains("one line"), "{err}");
        let path = Path::new("bridge.yaml");
        let text = edit(
            "# keep\nproxy:\n  command: x\n  version: 0.12.246\n",
            "0.12.250",
            path,
        )
        .expect("loads");
        assert!(text.starts_with("# keep\n"), "{text}");
        let err = edit("proxy:\n  nope: 1\n", "0.12.250", path).unwrap_err();
        assert!(err.contains("would not load"), "{err}");
    }
}
