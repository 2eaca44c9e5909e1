//! Tool names across the two APIs.
//!
//! Chat Completions knows only flat function tools whose names match `^[A-Za-z0-9_-]{1,64}$`.
//! Codex sends three shapes the upstream cannot take as they are:
//! - `custom` (freeform) tools such as `apply_patch`: offered to Chat as a function with one
//!   required string parameter [`CUSTOM_INPUT_PARAM`], turned back into `custom_tool_call`;
//! - `namespace` tools (MCP servers, multi-agent): flattened to one valid name and split back
//!   into `namespace` + `name`;
//! - names outside the Chat charset or over 64 characters.
//!
//! [`chat_tool_name`] is a pure function of `(namespace, name)`, so a history item naming a tool
//! that is no longer declared still maps to the same Chat name it had when it was called.
//! [`ToolMap`] is the reverse direction, built from the request's declared tools.

use std::collections::HashMap;

/// The single string parameter a freeform (custom) tool gets when offered as a Chat function.
pub const CUSTOM_INPUT_PARAM: &str = "input";

/// Longest function name OpenAI-compatible servers accept.
pub const MAX_CHAT_TOOL_NAME: usize = 64;

/// How Codex declared a tool, which decides the output item type of a call to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolKind {
    /// `type: function` → calls come back as `function_call` with JSON `arguments`.
    Function,
    /// `type: custom` (freeform) → calls come back as `custom_tool_call` with raw `input`.
    Custom,
    /// The bridge's own `web_search` function (offered for Codex's hosted `web_search`): calls
    /// are run by the bridge and shown to Codex as `web_search_call` items, never as calls.
    WebSearch,
}

/// The Codex-side identity of a tool offered to the upstream under a Chat name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolTarget {
    /// How the model's call of it is shown to Codex (or run by the bridge).
    pub kind: ToolKind,
    /// The `namespace` tool this one was nested in (e.g. `mcp__demo`), if any.
    pub namespace: Option<String>,
    /// The tool's own name inside its namespace (or its plain name).
    pub name: String,
}

/// Reverse lookup from the Chat function name the model calls to the Codex tool.
#[derive(Debug, Clone, Default)]
pub struct ToolMap {
    by_chat_name: HashMap<String, ToolTarget>,
}

impl ToolMap {
    /// Registers a declared tool and returns the Chat name it is offered under.
    pub fn declare(&mut self, kind: ToolKind, namespace: Option<&str>, name: &str) -> String {
        let chat_name = chat_tool_name(namespace, name);
        self.by_chat_name.insert(
            chat_name.clone(),
            ToolTarget {
                kind,
                namespace: namespace.map(str::to_owned),
                name: name.to_owned(),
            },
        );
        chat_name
    }

    /// The Codex tool behind a Chat function name, if the request declared it.
    pub fn resolve(&self, chat_name: &str) -> Option<&ToolTarget> {
        self.by_chat_name.get(chat_name)
    }

    /// True when the request declared no tools at all.
    pub fn is_empty(&self) -> bool {
        self.by_chat_name.is_empty()
    }

    /// True when the bridge's `web_search` function is offered.
    pub fn offers_web_search(&self) -> bool {
        self.by_chat_name
            .values()
            .any(|target| target.kind == ToolKind::WebSearch)
    }

    /// True when `chat_name` is the bridge's `web_search` function.
    pub fn is_web_search(&self, chat_name: &str) -> bool {
        self.resolve(chat_name)
            .is_some_and(|target| target.kind == ToolKind::WebSearch)
    }
}

/// The Chat function name for a Codex tool: `namespace__name` (or `name`), with characters
/// outside `[A-Za-z0-9_-]` replaced by `_`, and names over 64 characters shortened to a prefix
/// plus a stable hash of the full name so that distinct tools stay distinct.
pub fn chat_tool_name(namespace: Option<&str>, name: &str) -> String {
    let joined = match namespace {
        Some(ns) if !ns.is_empty() => {
            if ns.ends_with("__") || ns.ends_with('.') {
                format!("{}{name}", ns.trim_end_matches('.'))
            } else {
                format!("{ns}__{name}")
            }
        }
        _ => name.to_owned(),
    };
    let mut sanitized: String = joined
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if sanitized.is_empty() {
        sanitized.push('_');
    }
    if sanitized.len() <= MAX_CHAT_TOOL_NAME && sanitized == joined {
        return sanitized;
    }
    if sanitized.len() <= MAX_CHAT_TOOL_NAME {
        // Sanitizing changed the name: keep it readable, but make it unique to the original.
        if sanitized.len() + 9 <= MAX_CHAT_TOOL_NAME {
            return format!("{sanitized}_{:08x}", fnv1a32(joined.as_bytes()));
        }
    }
    let keep = MAX_CHAT_TOOL_NAME - 9;
    format!("{}_{:08x}", &sanitized[..keep], fnv1a32(joined.as_bytes()))
}

/// FNV-1a, 32 bit: a tiny stable hash for shortened tool names (not security relevant).
fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass_unchanged() {
        assert_eq!(chat_tool_name(None, "exec_command"), "exec_command");
        assert_eq!(chat_tool_name(None, "apply_patch"), "apply_patch");
    }

    #[test]
    fn namespaces_flatten_with_double_underscore() {
        assert_eq!(
            chat_tool_name(Some("mcp__demo"), "add_numbers"),
            "mcp__demo__add_numbers"
        );
        assert_eq!(
            chat_tool_name(Some("multi_agent_v1"), "spawn_agent"),
            "multi_agent_v1__spawn_agent"
        );
    }

    #[test]
    fn invalid_characters_are_replaced_and_made_unique() {
        let a = chat_tool_name(Some("mcp__my.server"), "get/thing");
        let b = chat_tool_name(Some("mcp__my_server"), "get_thing");
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        assert_ne!(a, b);
    }

    #[test]
    fn long_names_are_cut_to_64_and_stay_distinct() {
        let ns = "mcp__".to_owned() + &"x".repeat(70);
        let a = chat_tool_name(Some(&ns), "one");
        let b = chat_tool_name(Some(&ns), "two");
        assert_eq!(a.len(), MAX_CHAT_TOOL_NAME);
        assert_eq!(b.len(), MAX_CHAT_TOOL_NAME);
        assert_ne!(a, b);
    }

    #[test]
    fn map_resolves_declared_names() {
        let mut map = ToolMap::default();
        let flat = map.declare(ToolKind::Function, Some("mcp__demo"), "add_numbers");
        map.declare(ToolKind::Custom, None, "apply_patch");
        let target = map.resolve(&flat).expect("declared");
        assert_eq!(target.namespace.as_deref(), Some("mcp__demo"));
        assert_eq!(target.name, "add_numbers");
        assert_eq!(
            map.resolve("apply_patch").map(|t| t.kind),
            Some(ToolKind::Custom)
        );
        assert!(map.resolve("nope").is_none());
    }
}
