//! Selection and naming: which of the listed models the picker shows (profiles first, aliases
//! and media models hidden, spelling duplicates collapsed, the newest versions per series), in
//! which order, and under which readable names. The rules are listed in the module docs of
//! [`super`].

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{ListedModel, DEFAULT_CONTEXT_WINDOW, KEPT_PROFILES};

/// One picker entry before it becomes a Codex `ModelInfo`.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    /// The id Codex sends as `model`: the upstream's own id, or `codex.default_model` for the
    /// default entry.
    pub slug: String,
    /// The readable name the picker shows (`Kimi K2.5 (NVIDIA)`, `ClawRouter Auto`).
    pub display_name: String,
    /// One line under the name: what a routing profile does, else the id (with "through
    /// ClawRouter" on ClawRouter).
    pub description: String,
    /// In tokens; [`DEFAULT_CONTEXT_WINDOW`] when the list does not say.
    pub context_window: i64,
    /// Whether Codex may attach images; `true` unless the list says otherwise.
    pub image_input: bool,
}

/// A model id taken apart for collapsing and newest-N selection.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parsed {
    /// `provider` prefix (or the owner of a bare id).
    family: String,
    /// family + normalized tail: equal for spelling duplicates.
    key: String,
    /// family + tail with the version replaced by `#` and dates dropped.
    series: String,
    /// Numeric version components (empty: no version).
    version: Vec<u32>,
    /// A date-like token (`0709`, `20241022`), for ties.
    date: String,
    /// Normalized tail tokens, for display names.
    tokens: Vec<String>,
    /// `:tag` suffix (`:free`, `:8b`) without the colon.
    tag: Option<String>,
}

/// Applies the catalog rules (docs/ARCHITECTURE.md, Model catalog) to the upstream's list (see the module docs for every rule).
pub fn select(listed: &[ListedModel], default_model: &str, per_series: usize) -> Vec<Selected> {
    let per_series = per_series.max(1);
    let is_clawrouter = listed
        .iter()
        .any(|m| m.owned_by.as_deref() == Some("blockrun"));
    let default_bare = default_model
        .strip_prefix("blockrun/")
        .unwrap_or(default_model);

    let mut first: Option<Selected> = None;
    let mut profiles: Vec<Selected> = Vec::new();
    let mut seen_keys: HashMap<String, usize> = HashMap::new();
    let mut models: Vec<(Parsed, &ListedModel)> = Vec::new();
    let mut seen_ids = HashSet::new();
    // Spelling duplicates of the default model collapse into it.
    if let Some(m) = listed
        .iter()
        .find(|m| m.id.contains('/') && (m.id == default_model || m.id == default_bare))
    {
        seen_keys.insert(parse_id(&m.id, m.owned_by.as_deref()).key, usize::MAX);
    }

    for m in listed {
        if !seen_ids.insert(m.id.as_str()) {
            continue;
        }
        let is_default = m.id == default_model || m.id == default_bare;
        let bare = !m.id.contains('/');
        let blockrun = m.owned_by.as_deref() == Some("blockrun") || m.id.starts_with("blockrun/");
        let short = m.id.strip_prefix("blockrun/").unwrap_or(&m.id);
        if is_default {
            first = Some(Selected {
                slug: default_model.to_owned(),
                display_name: profile_name(short).unwrap_or_else(|| model_display_name(m)),
                description: profile_description(short)
                    .unwrap_or_else(|| model_description(&m.id, is_clawrouter)),
                context_window: m.context_window.unwrap_or(DEFAULT_CONTEXT_WINDOW),
                image_input: m.image_input.unwrap_or(true),
            });
            continue;
        }
        if blockrun && (bare || m.id.starts_with("blockrun/")) {
            if KEPT_PROFILES.contains(&short) {
                profiles.push(Selected {
                    slug: m.id.clone(),
                    display_name: profile_name(short).unwrap_or_else(|| short.to_owned()),
                    description: profile_description(short).unwrap_or_default(),
                    context_window: m.context_window.unwrap_or(DEFAULT_CONTEXT_WINDOW),
                    image_input: m.image_input.unwrap_or(true),
                });
            }
            continue;
        }
        if is_media(&m.id) {
            continue;
        }
        let parsed = parse_id(&m.id, m.owned_by.as_deref());
        match seen_keys.get(&parsed.key) {
            Some(&usize::MAX) => {}
            Some(&at) => {
                // Spelling duplicate: the dotted (already normalized) spelling wins.
                if at < models.len() && is_normalized(&m.id) && !is_normalized(&models[at].1.id) {
                    models[at] = (parsed, m);
                }
            }
            None => {
                seen_keys.insert(parsed.key.clone(), models.len());
                models.push((parsed, m));
            }
        }
    }
    profiles.sort_by_key(|p| {
        let short = p.slug.strip_prefix("blockrun/").unwrap_or(&p.slug);
        KEPT_PROFILES.iter().position(|k| *k == short)
    });

    // Newest N per series.
    let mut series: BTreeMap<(String, String), Vec<(Parsed, &ListedModel)>> = BTreeMap::new();
    for (p, m) in models {
        series
            .entry((p.family.clone(), p.series.clone()))
            .or_default()
            .push((p, m));
    }
    let mut groups: Vec<(String, Vec<(Parsed, &ListedModel)>)> = Vec::new();
    for ((family, _), mut members) in series {
        members.sort_by(|a, b| {
            b.0.version
                .cmp(&a.0.version)
                .then_with(|| b.0.date.cmp(&a.0.date))
                .then_with(|| a.1.id.cmp(&b.1.id))
        });
        members.truncate(per_series);
        groups.push((family, members));
    }
    // Families alphabetically (`free` last), series newest first, then by name.
    groups.sort_by(|a, b| {
        family_rank(&a.0)
            .cmp(&family_rank(&b.0))
            .then_with(|| a.0.cmp(&b.0))
            .then_with(|| newest(&b.1).cmp(&newest(&a.1)))
            .then_with(|| series_name(&a.1).cmp(series_name(&b.1)))
    });

    let mut out: Vec<Selected> = Vec::new();
    out.extend(first);
    out.extend(profiles);
    for (_, members) in groups {
        for (p, m) in members {
            out.push(Selected {
                slug: m.id.clone(),
                display_name: display_name(&p),
                description: model_description(&m.id, is_clawrouter),
                context_window: m.context_window.unwrap_or(DEFAULT_CONTEXT_WINDOW),
                image_input: m.image_input.unwrap_or(true),
            });
        }
    }
    dedupe_display_names(&mut out);
    out
}

/// The newest version of a (sorted) series group.
fn newest<'a>(members: &'a [(Parsed, &ListedModel)]) -> Option<&'a [u32]> {
    members.first().map(|(p, _)| p.version.as_slice())
}

fn series_name<'a>(members: &'a [(Parsed, &ListedModel)]) -> &'a str {
    members.first().map_or("", |(p, _)| p.series.as_str())
}

fn model_description(id: &str, is_clawrouter: bool) -> String {
    if is_clawrouter {
        format!("{id} through ClawRouter")
    } else {
        id.to_owned()
    }
}

fn family_rank(family: &str) -> u8 {
    u8::from(family == "free")
}

fn profile_name(short: &str) -> Option<String> {
    match short {
        "auto" => Some("ClawRouter Auto".to_owned()),
        "eco" => Some("ClawRouter Eco".to_owned()),
        "premium" => Some("ClawRouter Premium".to_owned()),
        _ => None,
    }
}

fn profile_description(short: &str) -> Option<String> {
    match short {
        "auto" => Some("ClawRouter picks the model for each request (balanced)".to_owned()),
        "eco" => Some("ClawRouter picks the cheapest model that fits each request".to_owned()),
        "premium" => Some("ClawRouter picks the strongest model for each request".to_owned()),
        _ => None,
    }
}

fn model_display_name(m: &ListedModel) -> String {
    display_name(&parse_id(&m.id, m.owned_by.as_deref()))
}

/// Two entries with one name get their family appended.
fn dedupe_display_names(out: &mut [Selected]) {
    let mut count: HashMap<String, usize> = HashMap::new();
    for s in out.iter() {
        *count.entry(s.display_name.clone()).or_default() += 1;
    }
    for s in out.iter_mut() {
        if count.get(&s.display_name).copied().unwrap_or(0) > 1 {
            if let Some((family, _)) = s.slug.split_once('/') {
                s.display_name = format!("{} ({family})", s.display_name);
            } else {
                s.display_name = format!("{} ({})", s.display_name, s.slug);
            }
        }
    }
}

/// Tokens (split on `/ - _ . :`) naming a model that cannot chat: media generation, speech,
/// embeddings, moderation, realtime audio.
const MEDIA_TOKENS: &[&str] = &[
    "image",
    "images",
    "imagen",
    "video",
    "audio",
    "speech",
    "tts",
    "whisper",
    "transcribe",
    "transcription",
    "embedding",
    "embeddings",
    "embed",
    "moderation",
    "rerank",
    "reranker",
    "realtime",
    "dalle",
    "sora",
    "veo",
    "flux",
    "kling",
    "seedance",
    "seedream",
    "hailuo",
    "midjourney",
    "sdxl",
    "lyria",
    "musicgen",
    "recraft",
    "ideogram",
];
/// Substrings with the same meaning that span separators.
const MEDIA_SUBSTRINGS: &[&str] = &[
    "dall-e",
    "gpt-image",
    "stable-diffusion",
    "nano-banana",
    "text-embedding",
];

/// Whether an id names an image/video/audio generation (or other non-chat) model.
pub fn is_media(id: &str) -> bool {
    let lower = id.to_ascii_lowercase();
    if MEDIA_SUBSTRINGS.iter().any(|s| lower.contains(s)) {
        return true;
    }
    lower
        .split(['/', '-', '_', '.', ':'])
        .any(|t| MEDIA_TOKENS.contains(&t))
}

/// Lower-cases and joins `4-7` into `4.7` where a dash separates two version numbers: the
/// second has one or two digits and ends the token (so `4-0709` and `3-24b` stay).
pub fn normalize(id: &str) -> String {
    let chars: Vec<char> = id.to_lowercase().chars().collect();
    let mut out = String::with_capacity(chars.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == '-' && i > 0 && chars[i - 1].is_ascii_digit() {
            let digits = chars[i + 1..]
                .iter()
                .take_while(|d| d.is_ascii_digit())
                .count();
            let after = chars.get(i + 1 + digits);
            let ends = matches!(after, None | Some('-' | '/' | '_' | ':' | '.'));
            if (1..=2).contains(&digits) && ends {
                out.push('.');
                continue;
            }
        }
        out.push(c);
    }
    out
}

fn is_normalized(id: &str) -> bool {
    normalize(id) == id
}

#[derive(Debug, PartialEq, Eq)]
enum TokenKind {
    Date,
    Size,
    /// `prefix`, components, `suffix` (e.g. `k`, [2,7], `` or ``, [4], `o`).
    Version(String, Vec<u32>, String),
    Word,
}

fn classify(token: &str) -> TokenKind {
    let all_numeric = |s: &str| {
        !s.is_empty()
            && s.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    if all_numeric(token) && token.split('.').next().is_some_and(|p| p.len() >= 4) {
        return TokenKind::Date;
    }
    // 120b, 8b, 1.5b, 80m; active-parameter tokens like a3b, a10b.
    let size_body = token
        .strip_suffix('b')
        .or_else(|| token.strip_suffix('m'))
        .or_else(|| token.strip_suffix('k'));
    if let Some(body) = size_body {
        let body = body.strip_prefix('a').unwrap_or(body);
        if all_numeric(body) {
            return TokenKind::Size;
        }
    }
    let prefix_len = token.bytes().take_while(u8::is_ascii_alphabetic).count();
    let rest = &token[prefix_len..];
    let num_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    let (num, suffix) = rest.split_at(num_len);
    let num = num.trim_end_matches('.');
    if prefix_len <= 8
        && all_numeric(num)
        && suffix.len() <= 2
        && suffix.bytes().all(|b| b.is_ascii_alphabetic())
        && rest.len() == num_len + suffix.len()
    {
        let parts = num.split('.').filter_map(|p| p.parse().ok()).collect();
        return TokenKind::Version(token[..prefix_len].to_owned(), parts, suffix.to_owned());
    }
    TokenKind::Word
}

fn parse_id(id: &str, owned_by: Option<&str>) -> Parsed {
    let norm = normalize(id);
    let (family, tail) = match norm.split_once('/') {
        Some((f, t)) => (f.to_owned(), t.to_owned()),
        None => (owned_by.unwrap_or("").to_ascii_lowercase(), norm.clone()),
    };
    let (tail, tag) = match tail.split_once(':') {
        Some((t, tag)) => (t.to_owned(), Some(tag.to_owned())),
        None => (tail, None),
    };
    let tokens: Vec<String> = tail
        .split(['-', '_', '/'])
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let mut version = Vec::new();
    let mut date = String::new();
    let mut series_tokens = Vec::new();
    let mut found = false;
    for t in &tokens {
        match classify(t) {
            TokenKind::Date => date = t.clone(),
            TokenKind::Version(prefix, parts, suffix) if !found => {
                found = true;
                version = parts;
                series_tokens.push(format!("{prefix}#{suffix}"));
            }
            _ => series_tokens.push(t.clone()),
        }
    }
    let mut series = format!("{family}/{}", series_tokens.join("-"));
    if let Some(tag) = &tag {
        series.push(':');
        series.push_str(tag);
    }
    Parsed {
        key: format!(
            "{family}/{}",
            norm.split_once('/').map_or(norm.as_str(), |(_, t)| t)
        ),
        family,
        series,
        version,
        date,
        tokens,
        tag,
    }
}

/// Brand words with their own spelling.
fn word_case(word: &str) -> Option<&'static str> {
    Some(match word {
        "gpt" => "GPT",
        "glm" => "GLM",
        "oss" => "OSS",
        "deepseek" => "DeepSeek",
        "minimax" => "MiniMax",
        "mimo" => "MiMo",
        "kimi" => "Kimi",
        "qwen" => "Qwen",
        "llama" => "Llama",
        "grok" => "Grok",
        "gemini" => "Gemini",
        "gemma" => "Gemma",
        "claude" => "Claude",
        "mistral" => "Mistral",
        "devstral" => "Devstral",
        "codestral" => "Codestral",
        "nemotron" => "Nemotron",
        "phi" => "Phi",
        "vl" => "VL",
        "hy" => "HY",
        "ai" => "AI",
        "r" => "R",
        _ => return None,
    })
}

fn capitalize(word: &str) -> String {
    if let Some(w) = word_case(word) {
        return w.to_owned();
    }
    let mut c = word.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn display_token(token: &str) -> String {
    match classify(token) {
        TokenKind::Size => token.to_ascii_uppercase(),
        TokenKind::Date | TokenKind::Word => capitalize(token),
        TokenKind::Version(prefix, _, suffix) => {
            let number = &token[prefix.len()..token.len() - suffix.len()];
            let prefix = match prefix.as_str() {
                // OpenAI's o-series stays lower case (o3, o4 Mini).
                "o" => "o".to_owned(),
                "" => String::new(),
                p => capitalize(p),
            };
            format!("{prefix}{number}{suffix}")
        }
    }
}

/// `claude-opus-4.7` → `Claude Opus 4.7`; `gpt-5.4-mini` → `GPT-5.4 Mini`; `free/…` → `… (free)`.
fn display_name(p: &Parsed) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut join_next = false;
    for t in &p.tokens {
        let shown = display_token(t);
        if join_next {
            if let Some(last) = words.last_mut() {
                last.push('-');
                last.push_str(&shown);
            }
            join_next = false;
        } else {
            words.push(shown);
            // GPT joins its next word: GPT-5.4, GPT-4o, GPT-OSS.
            join_next = t == "gpt";
        }
    }
    let mut name = words.join(" ");
    if let Some(tag) = &p.tag {
        name.push_str(&format!(" ({tag})"));
    }
    match p.family.as_str() {
        "free" => name.push_str(" (free)"),
        "nvidia" => name.push_str(" (NVIDIA)"),
        _ => {}
    }
    name
}
