//! Unit tests of the catalog: selection and naming on a ClawRouter-like list, model-list
//! parsing, template choice and entry building.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::*;

/// A ClawRouter-like list (docs/ARCHITECTURE.md, Living with ClawRouter: 95 `provider/model` ids, bare aliases owned
/// by `blockrun`), plus a dashed spelling duplicate and media models other upstreams list.
pub(super) fn clawrouter_like() -> Vec<ListedModel> {
    let ids = [
        "auto",
        "free",
        "eco",
        "premium",
        "claude",
        "opus",
        "sonnet",
        "flash",
        "gpt",
        "kimi",
        "deepseek",
        "reasoner",
        "nano",
        "mini",
        "codex",
        "openai/gpt-5.2",
        "openai/gpt-5-mini",
        "openai/gpt-5-nano",
        "openai/gpt-5.2-pro",
        "openai/gpt-5.6-sol",
        "openai/gpt-5.6-terra",
        "openai/gpt-5.6-luna",
        "openai/gpt-5.5",
        "openai/gpt-5.5-pro",
        "openai/chat-latest",
        "openai/gpt-5.4",
        "openai/gpt-5.4-mini",
        "openai/gpt-5.4-pro",
        "openai/gpt-5.4-nano",
        "openai/gpt-5.3",
        "openai/gpt-5.3-codex",
        "openai/gpt-4.1",
        "openai/gpt-4.1-mini",
        "openai/gpt-4o",
        "openai/gpt-4o-mini",
        "openai/o1",
        "openai/o3",
        "openai/o3-mini",
        "openai/o4-mini",
        "anthropic/claude-haiku-4.5",
        "anthropic/claude-sonnet-4.5",
        "anthropic/claude-sonnet-4.6",
        "anthropic/claude-sonnet-5",
        "anthropic/claude-opus-4.5",
        "anthropic/claude-opus-4.6",
        "anthropic/claude-opus-4-7",
        "anthropic/claude-opus-4.7",
        "anthropic/claude-opus-4.8",
        "anthropic/claude-opus-5",
        "google/gemini-3.1-pro",
        "google/gemini-3-pro-preview",
        "google/gemini-3.6-flash",
        "google/gemini-3.5-flash",
        "google/gemini-3.5-flash-lite",
        "google/gemini-2.5-pro",
        "google/gemini-2.5-flash",
        "google/gemini-2.5-flash-lite",
        "google/gemini-3.1-flash-lite",
        "google/gemini-2.5-flash-image",
        "deepseek/deepseek-chat",
        "deepseek/deepseek-reasoner",
        "deepseek/deepseek-v4-pro",
        "moonshot/kimi-k3",
        "moonshot/kimi-k2.7",
        "moonshot/kimi-k2.6",
        "moonshot/kimi-k2.5",
        "nvidia/kimi-k2.5",
        "qwen/qwen3.7-max",
        "xai/grok-3",
        "xai/grok-3-mini",
        "xai/grok-4-fast-reasoning",
        "xai/grok-4-1-fast-reasoning",
        "xai/grok-4-0709",
        "xai/grok-4.5",
        "xai/grok-4.3",
        "xai/grok-4.20-reasoning",
        "xai/grok-2-vision",
        "minimax/minimax-m3",
        "minimax/minimax-m2.7",
        "minimax/minimax-m2.5",
        "free/gpt-oss-120b",
        "free/gpt-oss-20b",
        "free/deepseek-v4-flash",
        "free/qwen3-coder-480b",
        "free/glm-4.7",
        "free/nemotron-nano-9b-v2",
        "zai/glm-5.2",
        "zai/glm-5.1",
        "zai/glm-5",
        "zai/glm-5-turbo",
        "openai/dall-e-3",
        "openai/gpt-image-1",
        "google/imagen-4",
        "google/veo-3",
        "openai/tts-1",
        "openai/whisper-1",
        "openai/gpt-4o-transcribe",
        "openai/text-embedding-3-large",
        "openai/sora-2",
        "bfl/flux-1.1-pro",
    ];
    ids.iter()
        .map(|id| match id.split_once('/') {
            Some((owner, _)) => ListedModel::new(id, owner),
            None => ListedModel::new(id, "blockrun"),
        })
        .collect()
}

fn slugs(sel: &[Selected]) -> Vec<&str> {
    sel.iter().map(|s| s.slug.as_str()).collect()
}

fn name_of<'a>(sel: &'a [Selected], slug: &str) -> &'a str {
    sel.iter()
        .find(|s| s.slug == slug)
        .map(|s| s.display_name.as_str())
        .unwrap_or_else(|| panic!("{slug} not selected: {:?}", slugs(sel)))
}

#[test]
fn profiles_first_and_aliases_hidden() {
    let sel = select(&clawrouter_like(), "blockrun/auto", 3);
    assert_eq!(&slugs(&sel)[..3], ["blockrun/auto", "eco", "premium"]);
    assert_eq!(sel[0].display_name, "ClawRouter Auto");
    for alias in [
        "free", "claude", "opus", "flash", "gpt", "kimi", "codex", "mini",
    ] {
        assert!(!slugs(&sel).contains(&alias), "{alias} should be hidden");
    }
}

#[test]
fn media_models_hidden() {
    let sel = select(&clawrouter_like(), "blockrun/auto", 3);
    for s in &sel {
        assert!(!is_media(&s.slug), "{} is media", s.slug);
    }
    for id in [
        "openai/dall-e-3",
        "openai/gpt-image-1",
        "google/imagen-4",
        "google/veo-3",
        "openai/tts-1",
        "openai/whisper-1",
        "openai/gpt-4o-transcribe",
        "openai/text-embedding-3-large",
        "openai/sora-2",
        "bfl/flux-1.1-pro",
        "google/gemini-2.5-flash-image",
    ] {
        assert!(is_media(id), "{id}");
        assert!(!slugs(&sel).contains(&id));
    }
    for id in [
        "openai/gpt-5.4",
        "xai/grok-2-vision",
        "free/nemotron-nano-12b-v2-vl",
    ] {
        assert!(!is_media(id), "{id}");
    }
}

#[test]
fn dashed_and_dotted_spellings_collapse_to_dotted() {
    let sel = select(&clawrouter_like(), "blockrun/auto", 3);
    let s = slugs(&sel);
    assert!(s.contains(&"anthropic/claude-opus-4.7"));
    assert!(!s.contains(&"anthropic/claude-opus-4-7"));
    assert_eq!(
        name_of(&sel, "anthropic/claude-opus-4.7"),
        "Claude Opus 4.7"
    );
    // Dashed only: kept with its original id as the slug, named like the dotted one.
    let only = select(
        &[ListedModel::new("xai/grok-4-1-fast-reasoning", "xai")],
        "blockrun/auto",
        3,
    );
    assert_eq!(slugs(&only), ["xai/grok-4-1-fast-reasoning"]);
    assert_eq!(only[0].display_name, "Grok 4.1 Fast Reasoning");
}

#[test]
fn normalize_keeps_dates_and_sizes() {
    assert_eq!(normalize("claude-opus-4-7"), "claude-opus-4.7");
    assert_eq!(normalize("grok-4-0709"), "grok-4-0709");
    assert_eq!(normalize("mistral-small-3-24b"), "mistral-small-3-24b");
    assert_eq!(
        normalize("claude-3-5-sonnet-20241022"),
        "claude-3.5-sonnet-20241022"
    );
}

#[test]
fn newest_three_per_series() {
    let sel = select(&clawrouter_like(), "blockrun/auto", 3);
    let s = slugs(&sel);
    // claude-opus: 5, 4.8, 4.7 stay; 4.6, 4.5 go.
    for kept in [
        "anthropic/claude-opus-5",
        "anthropic/claude-opus-4.8",
        "anthropic/claude-opus-4.7",
    ] {
        assert!(s.contains(&kept), "{kept}");
    }
    for gone in ["anthropic/claude-opus-4.6", "anthropic/claude-opus-4.5"] {
        assert!(!s.contains(&gone), "{gone}");
    }
    // gpt-#: 5.5, 5.4, 5.3 stay; 5.2 and 4.1 go. Mini/pro/nano are their own series.
    for kept in [
        "openai/gpt-5.5",
        "openai/gpt-5.4",
        "openai/gpt-5.3",
        "openai/gpt-5.4-mini",
        "openai/gpt-5-mini",
    ] {
        assert!(s.contains(&kept), "{kept}");
    }
    assert!(!s.contains(&"openai/gpt-5.2"));
    assert!(!s.contains(&"openai/gpt-4.1"));
    // kimi-k#: k3, k2.7, k2.6 (k2.5 goes); the NVIDIA mirror is its own family.
    assert!(s.contains(&"moonshot/kimi-k3"));
    assert!(!s.contains(&"moonshot/kimi-k2.5"));
    assert!(s.contains(&"nvidia/kimi-k2.5"));
    // grok-#: 4.5 > 4.3 > 4 (0709) numerically; 3 goes. 4.20-reasoning is another series.
    assert!(s.contains(&"xai/grok-4.5"));
    assert!(s.contains(&"xai/grok-4.3"));
    assert!(s.contains(&"xai/grok-4-0709"));
    assert!(!s.contains(&"xai/grok-3"));
    assert!(s.contains(&"xai/grok-4.20-reasoning"));
    // No-version models stay.
    assert!(s.contains(&"openai/chat-latest"));
    assert!(s.contains(&"deepseek/deepseek-chat"));
    // N = 1.
    let one = select(&clawrouter_like(), "blockrun/auto", 1);
    assert!(slugs(&one).contains(&"anthropic/claude-opus-5"));
    assert!(!slugs(&one).contains(&"anthropic/claude-opus-4.8"));
}

#[test]
fn sorted_by_family_free_last() {
    let sel = select(&clawrouter_like(), "blockrun/auto", 3);
    let families: Vec<&str> = sel[3..]
        .iter()
        .map(|s| s.slug.split('/').next().unwrap_or(""))
        .collect();
    let mut dedup = families.clone();
    dedup.dedup();
    let mut sorted = dedup.clone();
    sorted.sort_by_key(|f| (*f == "free", f.to_string()));
    assert_eq!(dedup, sorted, "families contiguous and sorted");
    assert_eq!(families.last(), Some(&"free"));
    // Inside anthropic: opus series newest first.
    let opus: Vec<&str> = slugs(&sel)
        .into_iter()
        .filter(|s| s.starts_with("anthropic/claude-opus"))
        .collect();
    assert_eq!(
        opus,
        [
            "anthropic/claude-opus-5",
            "anthropic/claude-opus-4.8",
            "anthropic/claude-opus-4.7"
        ]
    );
}

#[test]
fn readable_names() {
    let sel = select(&clawrouter_like(), "blockrun/auto", 3);
    assert_eq!(
        name_of(&sel, "free/deepseek-v4-flash"),
        "DeepSeek V4 Flash (free)"
    );
    assert_eq!(name_of(&sel, "openai/gpt-5.4-mini"), "GPT-5.4 Mini");
    assert_eq!(name_of(&sel, "openai/gpt-4o"), "GPT-4o");
    assert_eq!(name_of(&sel, "free/gpt-oss-120b"), "GPT-OSS 120B (free)");
    assert_eq!(name_of(&sel, "moonshot/kimi-k2.7"), "Kimi K2.7");
    assert_eq!(name_of(&sel, "nvidia/kimi-k2.5"), "Kimi K2.5 (NVIDIA)");
    assert_eq!(name_of(&sel, "openai/o4-mini"), "o4 Mini");
    assert_eq!(name_of(&sel, "qwen/qwen3.7-max"), "Qwen3.7 Max");
    assert_eq!(name_of(&sel, "zai/glm-5.2"), "GLM 5.2");
    assert_eq!(name_of(&sel, "minimax/minimax-m3"), "MiniMax M3");
    assert_eq!(name_of(&sel, "eco"), "ClawRouter Eco");
    let names: HashSet<&str> = sel.iter().map(|s| s.display_name.as_str()).collect();
    assert_eq!(names.len(), sel.len(), "display names are unique");
}

#[test]
fn other_upstreams_keep_bare_ids_and_metadata() {
    let body = br#"{"object":"list","data":[
        {"id":"qwen3:8b","object":"model","owned_by":"library"},
        {"id":"meta/llama-3.1-8b","owned_by":"vllm","max_model_len":32768},
        {"id":"x/vision-less","context_length":64000,
         "architecture":{"modality":"text->text"}},
        {"id":"x/seer-2","architecture":{"input_modalities":["text","image"]}}]}"#;
    let listed = parse_model_list(body).expect("parses");
    let sel = select(&listed, "blockrun/auto", 3);
    assert_eq!(sel.len(), 4);
    let find = |slug: &str| sel.iter().find(|s| s.slug == slug).expect(slug);
    assert_eq!(find("qwen3:8b").context_window, DEFAULT_CONTEXT_WINDOW);
    assert_eq!(find("meta/llama-3.1-8b").context_window, 32768);
    assert_eq!(find("x/vision-less").context_window, 64000);
    assert!(!find("x/vision-less").image_input);
    assert!(find("x/seer-2").image_input);
    assert_eq!(find("meta/llama-3.1-8b").description, "meta/llama-3.1-8b");
}

#[test]
fn default_model_other_than_auto_goes_first() {
    let sel = select(&clawrouter_like(), "anthropic/claude-opus-4.7", 3);
    assert_eq!(sel[0].slug, "anthropic/claude-opus-4.7");
    assert_eq!(sel[0].display_name, "Claude Opus 4.7");
    assert_eq!(&slugs(&sel)[1..4], ["auto", "eco", "premium"]);
    assert!(!slugs(&sel).contains(&"anthropic/claude-opus-4-7"));
    assert_eq!(
        slugs(&sel)
            .iter()
            .filter(|s| s.contains("opus-4.7"))
            .count(),
        1
    );
}

#[test]
fn parses_model_lists() {
    assert!(parse_model_list(b"not json").is_err());
    assert!(parse_model_list(b"{\"x\":1}").is_err());
    let l = parse_model_list(br#"{"data":[{"id":"a"},{"nope":1},{"id":""}]}"#).expect("ok");
    assert_eq!(l.len(), 1);
}

fn bundled_like() -> Value {
    json!({"models": [
        {"slug": "gpt-code", "display_name": "Code", "visibility": "list", "priority": 1,
         "tool_mode": "code_mode_only", "use_responses_lite": true,
         "base_instructions": "code mode prompt"},
        {"slug": "gpt-hidden", "display_name": "Hidden", "visibility": "hide", "priority": 0,
         "base_instructions": "hidden prompt"},
        {"slug": "gpt-plain", "display_name": "Plain", "visibility": "list", "priority": 13,
         "base_instructions": "plain prompt",
         "model_messages": {"instructions_template": "plain prompt", "approvals": null},
         "truncation_policy": {"mode": "bytes", "limit": 12345},
         "service_tiers": [{"id": "priority", "name": "Fast", "description": "x"}],
         "additional_speed_tiers": ["fast"], "default_reasoning_level": "medium",
         "comp_hash": "1", "supports_search_tool": true, "multi_agent_version": "v2",
         "include_skills_usage_instructions": true, "some_future_field": 7}
    ]})
}

#[test]
fn template_prefers_plain_listed_entry() {
    let t = pick_template(&bundled_like()).expect("a template");
    assert_eq!(t["slug"], "gpt-plain");
    let only_code = json!({"models": [bundled_like()["models"][0].clone()]});
    assert_eq!(pick_template(&only_code).expect("t")["slug"], "gpt-code");
    assert!(pick_template(&json!({"models": [{"slug": "x"}]})).is_none());
    assert!(pick_template(&json!({})).is_none());
}

#[test]
fn entry_merges_template_and_overrides() {
    let t = pick_template(&bundled_like()).expect("a template");
    let sel = Selected {
        slug: "anthropic/claude-opus-4.7".into(),
        display_name: "Claude Opus 4.7".into(),
        description: "d".into(),
        context_window: 200_000,
        image_input: false,
    };
    let e = build_entry(&t, &sel, 4);
    assert_eq!(e["slug"], "anthropic/claude-opus-4.7");
    assert_eq!(e["display_name"], "Claude Opus 4.7");
    assert_eq!(e["priority"], 4);
    assert_eq!(e["apply_patch_tool_type"], "freeform");
    assert_eq!(e["shell_type"], "unified_exec");
    assert_eq!(e["supports_search_tool"], false);
    assert_eq!(e["use_responses_lite"], false);
    assert_eq!(e["multi_agent_version"], "disabled");
    assert_eq!(e["default_reasoning_summary"], "none");
    assert_eq!(e["context_window"], 200_000);
    assert_eq!(e["input_modalities"], json!(["text"]));
    assert_eq!(e["visibility"], "list");
    // Prompt and schema fields come from the template.
    assert_eq!(e["base_instructions"], "plain prompt");
    assert_eq!(e["model_messages"]["instructions_template"], "plain prompt");
    assert_eq!(e["truncation_policy"]["limit"], 12345);
    assert_eq!(e["include_skills_usage_instructions"], true);
    assert_eq!(e["some_future_field"], 7);
    // Hosted-only things are gone.
    for k in [
        "tool_mode",
        "service_tiers",
        "additional_speed_tiers",
        "comp_hash",
        "default_reasoning_level",
    ] {
        assert!(e.get(k).is_none(), "{k}");
    }
    let levels: Vec<&str> = e["supported_reasoning_levels"]
        .as_array()
        .expect("levels")
        .iter()
        .filter_map(|l| l["effort"].as_str())
        .collect();
    assert_eq!(levels, ["low", "medium", "high"]);
}

#[test]
fn builtin_entry_is_complete_and_ours() {
    let sel = select(&clawrouter_like(), "blockrun/auto", 3);
    let e = build_entry(&builtin_template(), &sel[0], 1);
    for key in [
        "slug",
        "display_name",
        "supported_reasoning_levels",
        "shell_type",
        "visibility",
        "supported_in_api",
        "priority",
        "support_verbosity",
        "truncation_policy",
        "experimental_supported_tools",
        "base_instructions",
    ] {
        assert!(e.get(key).is_some(), "{key} missing");
    }
    assert_eq!(e["slug"], "blockrun/auto");
    let instructions = e["base_instructions"].as_str().expect("instructions");
    assert!(instructions.contains("ClawRouter"));
    assert!(e.get("model_messages").is_none());
}
