//! Unit tests of Codex config editing: format preservation, refused shapes and parse errors,
//! backups, permissions, symlinks and concurrent changes.

use std::fs;
use std::path::{Path, PathBuf};

use toml_edit::Value;

use super::file::line_col;
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
