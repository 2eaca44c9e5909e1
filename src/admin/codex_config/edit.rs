//! Format-preserving edits of a loaded document: root keys, `[model_providers.<id>]` tables
//! (plain, dotted or inline) and their `http_headers`. An equal value is left alone, a replaced
//! value keeps its comments, a comment above a removed key moves to the next one, and inline
//! tables keep their spacing.

use toml_edit::{DocumentMut, Item, Table, TableLike, Value};

use super::{CodexConfigError, CodexFile};

impl CodexFile {
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
