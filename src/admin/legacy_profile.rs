//! A legacy profile in Codex's `config.toml`: a `[profiles.<name>]` table, or a root
//! `profile = "<name>"` selector, from the days before profiles lived in their own
//! `<name>.config.toml` files.
//!
//! It is not harmless (`docs/codex-wire.md` §6; Codex 0.169 and 0.171 alike): while either is in
//! `config.toml`, Codex refuses to start `codex --profile <name>` — the very command `setup`
//! tells the user to run — with "cannot be used while … contains legacy `profile = "<name>"` or
//! `[profiles.<name>]` config"; and the selector alone stops plain `codex` too ("legacy
//! `profile = …` config is no longer supported").
//!
//! [`find`] reports it (for `doctor` and `setup`); [`move_into_profile`] moves it out: every key
//! of the legacy table that the profile file does not have yet is copied there (sub-tables
//! merged key by key), a key the profile already has keeps the profile's value, and the table
//! and the selector are removed from `config.toml`. The edits go through
//! [`super::codex_config::CodexFile`], so both files keep their formatting and comments and get
//! one backup each when saved.

use toml_edit::{Item, TableLike};

use super::codex_config::{remove_key, CodexFile};
use crate::config::Config;

/// What legacy profile `config.toml` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Legacy {
    /// A value at `profiles.<name>` (normally a table).
    pub table: bool,
    /// A root `profile = "<name>"`.
    pub selector: bool,
}

impl Legacy {
    /// What it breaks.
    pub fn consequence(&self, name: &str) -> String {
        if self.selector {
            format!("Codex refuses to start at all (`codex` and `codex --profile {name}`)")
        } else {
            format!("`codex --profile {name}` refuses to start")
        }
    }

    /// The legacy entries as the user would find them in the file.
    pub fn describe(&self, name: &str) -> String {
        match (self.table, self.selector) {
            (true, true) => format!("a [profiles.{name}] table and profile = \"{name}\""),
            (true, false) => format!("a [profiles.{name}] table"),
            _ => format!("profile = \"{name}\""),
        }
    }
}

/// The legacy profile `name` in `base` (Codex's `config.toml`), if any.
pub fn find(base: &CodexFile, name: &str) -> Option<Legacy> {
    let doc = base.document();
    let legacy = Legacy {
        table: doc
            .get("profiles")
            .and_then(Item::as_table_like)
            .is_some_and(|profiles| profiles.contains_key(name)),
        selector: doc.get("profile").and_then(Item::as_str) == Some(name),
    };
    (legacy.table || legacy.selector).then_some(legacy)
}

/// The legacy profile in the `config.toml` of `config`'s Codex home, if any (`None` also when
/// the file is missing or does not parse: other checks report that).
pub fn in_config(config: &Config) -> Option<Legacy> {
    let base = CodexFile::load(&super::codex_config::config_toml_path(config)).ok()?;
    find(&base, &config.codex.profile)
}

/// What [`move_into_profile`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Moved {
    /// Keys copied into the profile file (dotted paths).
    pub moved: Vec<String>,
    /// Keys the profile file already had: its own value was kept, the legacy one dropped.
    pub kept_from_profile: Vec<String>,
}

/// Moves the legacy profile `name` out of `base` into `profile` (both edited in memory; the
/// caller saves them, the profile first). Does nothing when there is none.
pub fn move_into_profile(base: &mut CodexFile, profile: &mut CodexFile, name: &str) -> Moved {
    let mut moved = Moved::default();
    let Some(legacy) = find(base, name) else {
        return moved;
    };
    let doc = base.document_mut();
    if legacy.table {
        if let Some(profiles) = doc.get_mut("profiles").and_then(Item::as_table_like_mut) {
            if let Some(table) = profiles.get(name).and_then(Item::as_table_like) {
                merge(table, profile.document_mut().as_table_mut(), "", &mut moved);
            }
            remove_key(profiles, name);
            if profiles.is_empty() {
                remove_key(doc.as_table_mut(), "profiles");
            }
        }
    }
    if legacy.selector {
        remove_key(doc.as_table_mut(), "profile");
    }
    moved
}

/// Copies the keys of `from` that `into` lacks; tables present in both are merged key by key.
fn merge(from: &dyn TableLike, into: &mut dyn TableLike, path: &str, moved: &mut Moved) {
    for (key, item) in from.iter() {
        let dotted = if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        };
        match into.get_mut(key) {
            None => {
                let mut item = item.clone();
                if let Item::Table(table) = &mut item {
                    // Its place in the old file means nothing here: after everything else.
                    table.set_position(None);
                }
                into.insert(key, item);
                moved.moved.push(dotted);
            }
            Some(existing) => match (item.as_table_like(), existing.as_table_like_mut()) {
                (Some(from), Some(into)) => merge(from, into, &dotted, moved),
                _ => moved.kept_from_profile.push(dotted),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &std::path::Path, name: &str, text: &str) -> CodexFile {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        CodexFile::load(&path).unwrap()
    }

    #[test]
    fn finds_the_table_and_the_selector() {
        let dir = tempfile::tempdir().unwrap();
        let base = |text| file(dir.path(), "config.toml", text);
        assert_eq!(find(&base("model = \"x\"\n"), "clawrouter"), None);
        assert_eq!(
            find(&base("[profiles.other]\nmodel = \"x\"\n"), "clawrouter"),
            None
        );
        assert_eq!(
            find(
                &base("[profiles.clawrouter]\nmodel = \"x\"\n"),
                "clawrouter"
            ),
            Some(Legacy {
                table: true,
                selector: false
            })
        );
        assert_eq!(
            find(&base("profile = \"clawrouter\"\n"), "clawrouter"),
            Some(Legacy {
                table: false,
                selector: true
            })
        );
        assert_eq!(
            find(&base("profiles.clawrouter = \"odd\"\n"), "clawrouter").map(|l| l.table),
            Some(true)
        );
    }

    #[test]
    fn moves_keys_the_profile_lacks_and_keeps_the_profiles_own() {
        let dir = tempfile::tempdir().unwrap();
        let mut base = file(
            dir.path(),
            "config.toml",
            "# my config\nprofile = \"clawrouter\"\nmodel = \"gpt-5.5\"\n\n\
             [profiles.clawrouter]\n# pick the cheap one\nmodel = \"old/model\"\n\
             approval_policy = \"never\"\n\n\
             [profiles.clawrouter.model_providers.clawrouter]\nname = \"Old\"\n\
             request_max_retries = 9\n\n[profiles.work]\nmodel = \"w\"\n\n[tui]\nnotifications = true\n",
        );
        let mut profile = file(
            dir.path(),
            "clawrouter.config.toml",
            "model = \"blockrun/auto\"\n\n[model_providers.clawrouter]\nname = \"ClawRouter\"\n",
        );
        let moved = move_into_profile(&mut base, &mut profile, "clawrouter");
        assert_eq!(
            moved.moved,
            [
                "approval_policy",
                "model_providers.clawrouter.request_max_retries"
            ]
        );
        assert_eq!(
            moved.kept_from_profile,
            ["model", "model_providers.clawrouter.name"]
        );
        assert_eq!(
            base.document().to_string(),
            "# my config\nmodel = \"gpt-5.5\"\n\n[profiles.work]\nmodel = \"w\"\n\n[tui]\nnotifications = true\n"
        );
        assert_eq!(
            profile.document().to_string(),
            "model = \"blockrun/auto\"\napproval_policy = \"never\"\n\n[model_providers.clawrouter]\n\
             name = \"ClawRouter\"\nrequest_max_retries = 9\n"
        );
        assert_eq!(find(&base, "clawrouter"), None);
    }
}
