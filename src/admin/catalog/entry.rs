//! One catalog entry (a Codex `ModelInfo`): a template — an entry of the installed Codex's
//! bundled catalog, or our built-in one — with everything model- and bridge-specific
//! overridden.

use serde_json::{json, Map, Value};

use super::{Selected, DEFAULT_CONTEXT_WINDOW};

/// Keys of a bundled entry that only mean something on OpenAI's hosted backend.
const HOSTED_ONLY_KEYS: &[&str] = &[
    "tool_mode",
    "multi_agent_reasoning_effort",
    "additional_speed_tiers",
    "service_tiers",
    "default_service_tier",
    "comp_hash",
    "model_specialty",
    "auto_review_model_override",
    "auto_compact_token_limit",
    "default_reasoning_level",
    "default_verbosity",
];

/// Our reasoning levels: what the bridge maps to Chat `reasoning_effort`.
fn reasoning_levels() -> Value {
    json!([
        {"effort": "low", "description": "Fast answers with light reasoning"},
        {"effort": "medium", "description": "Balanced speed and reasoning depth"},
        {"effort": "high", "description": "Deepest reasoning for hard problems"},
    ])
}

/// One catalog entry: the template with everything model- and bridge-specific overridden.
pub fn build_entry(template: &Value, sel: &Selected, priority: i64) -> Value {
    let mut e: Map<String, Value> = template.as_object().cloned().unwrap_or_default();
    for key in HOSTED_ONLY_KEYS {
        e.remove(*key);
    }
    let mut set = |k: &str, v: Value| {
        e.insert(k.to_owned(), v);
    };
    set("slug", json!(sel.slug));
    set("display_name", json!(sel.display_name));
    set("description", json!(sel.description));
    set("priority", json!(priority));
    set("visibility", json!("list"));
    set("supported_in_api", json!(true));
    set("apply_patch_tool_type", json!("freeform"));
    set("shell_type", json!("unified_exec"));
    set("supports_search_tool", json!(false));
    set("use_responses_lite", json!(false));
    set("multi_agent_version", json!("disabled"));
    set("supported_reasoning_levels", reasoning_levels());
    set("default_reasoning_summary", json!("none"));
    set("support_verbosity", json!(false));
    set("web_search_tool_type", json!("text"));
    set("context_window", json!(sel.context_window));
    set("max_context_window", json!(sel.context_window));
    set(
        "input_modalities",
        if sel.image_input {
            json!(["text", "image"])
        } else {
            json!(["text"])
        },
    );
    set("supports_image_detail_original", json!(false));
    set("experimental_supported_tools", json!([]));
    set("supports_experimental_context", json!(false));
    set("supports_reasoning_effort_updates", json!(false));
    set("node_repl_auto_review_required", json!(false));
    set("include_apps_usage_instructions", json!(false));
    set("availability_nux", Value::Null);
    set("upgrade", Value::Null);
    if !e.contains_key("truncation_policy") {
        e.insert(
            "truncation_policy".to_owned(),
            json!({"mode": "tokens", "limit": 10000}),
        );
    }
    Value::Object(e)
}

/// Our own instructions, used when Codex's bundled catalog is not available.
const BUILTIN_INSTRUCTIONS: &str = "\
You are Codex, a coding agent working in the user's terminal on their machine, through a \
ClawRouter model. You and the user share one workspace.

How you work:
- Understand the request, inspect the relevant files before changing them, then act. Prefer \
small, focused changes that follow the project's existing style.
- Run shell commands with the shell tool (exec_command). Use `rg` or `rg --files` to search \
when available. Read files in reasonable chunks.
- Edit files with apply_patch, never by writing files through the shell. Keep patches minimal.
- After a change, build or test it when that is cheap, and fix what you broke.
- Do not run destructive commands (deleting data, force pushes, resetting history) unless the \
user asked for it. Never print or copy secrets.
- If something is ambiguous and a wrong guess would be costly, ask one short question; \
otherwise make a sensible choice and say which.

When you finish, reply briefly: what you changed (with file paths), how you checked it, and \
anything the user still has to do. Use plain Markdown, no long preambles.";

/// The built-in template: a complete, minimal `ModelInfo` with our own instructions.
pub fn builtin_template() -> Value {
    json!({
        "slug": "template",
        "display_name": "template",
        "description": null,
        "supported_reasoning_levels": [],
        "shell_type": "unified_exec",
        "visibility": "list",
        "supported_in_api": true,
        "priority": 1,
        "support_verbosity": false,
        "truncation_policy": {"mode": "tokens", "limit": 10000},
        "experimental_supported_tools": [],
        "apply_patch_tool_type": "freeform",
        "default_reasoning_summary": "none",
        "supports_search_tool": false,
        "use_responses_lite": false,
        "multi_agent_version": "disabled",
        "effective_context_window_percent": 95,
        "context_window": DEFAULT_CONTEXT_WINDOW,
        "input_modalities": ["text", "image"],
        "base_instructions": BUILTIN_INSTRUCTIONS,
    })
}

/// Picks the template among a bundled catalog's entries: listed, with instructions; prefers
/// no code mode and no Responses-lite (the plainest tool set), then the best priority.
pub fn pick_template(bundled: &Value) -> Option<Value> {
    let models = bundled.get("models")?.as_array()?;
    let has_instructions = |m: &Value| {
        m.get("base_instructions")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty())
            || m.pointer("/model_messages/instructions_template")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.trim().is_empty())
    };
    models
        .iter()
        .filter(|m| m.get("slug").and_then(Value::as_str).is_some())
        .filter(|m| m.get("display_name").is_some())
        .filter(|m| has_instructions(m))
        .min_by_key(|m| {
            let hidden = m.get("visibility").and_then(Value::as_str) != Some("list");
            let code_mode = !matches!(
                m.get("tool_mode").and_then(Value::as_str),
                None | Some("direct")
            );
            let lite = m.get("use_responses_lite") == Some(&Value::Bool(true));
            let priority = m
                .get("priority")
                .and_then(Value::as_i64)
                .unwrap_or(i64::MAX);
            (hidden, code_mode, lite, priority)
        })
        .cloned()
}
