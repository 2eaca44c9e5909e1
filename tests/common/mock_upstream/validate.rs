//! Strict Chat Completions request validation, modelled on what OpenAI's own
//! server rejects. Every failure becomes a 400 with an OpenAI error body.

use serde_json::{Map, Value};

/// Why a request was rejected: the fields of an OpenAI `invalid_request_error`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub message: String,
    pub param: Option<String>,
    pub code: Option<String>,
}

impl Rejection {
    pub fn new(message: impl Into<String>, param: Option<&str>) -> Self {
        Rejection {
            message: message.into(),
            param: param.map(str::to_string),
            code: None,
        }
    }

    fn code(mut self, code: &str) -> Self {
        self.code = Some(code.to_string());
        self
    }

    /// `{"error":{"message":…,"type":"invalid_request_error","param":…,"code":…}}`
    pub fn body(&self) -> Value {
        serde_json::json!({"error": {
            "message": self.message,
            "type": "invalid_request_error",
            "param": self.param,
            "code": self.code,
        }})
    }
}

/// The top-level parameters a strict Chat Completions server accepts.
/// Responses-only fields (`input`, `instructions`, `reasoning`, `include`,
/// `text`, `store`, `prompt_cache_key`, `client_metadata`,
/// `previous_response_id`, `max_output_tokens`, …) are rejected.
pub const ALLOWED_PARAMS: &[&str] = &[
    "model",
    "messages",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "n",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "response_format",
    "seed",
    "user",
    "reasoning_effort",
];

pub const ALLOWED_ROLES: &[&str] = &["system", "developer", "user", "assistant", "tool"];

/// Knobs for the few places where real servers differ.
#[derive(Clone, Debug, Default)]
pub struct Strictness {
    /// Extra top-level parameters to accept (e.g. ClawRouter's `cache`).
    pub extra_params: Vec<String>,
    /// Accept `image_url` parts in `tool` messages (OpenAI rejects them).
    pub images_in_tool_messages: bool,
}

/// `^[a-zA-Z0-9_-]{1,64}$`
pub fn valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

type Check = Result<(), Rejection>;

pub fn validate_chat(body: &Value, strict: &Strictness) -> Check {
    let obj = body
        .as_object()
        .ok_or_else(|| Rejection::new("The request body must be a JSON object.", None))?;
    for key in obj.keys() {
        let allowed =
            ALLOWED_PARAMS.contains(&key.as_str()) || strict.extra_params.iter().any(|p| p == key);
        if !allowed {
            return Err(Rejection::new(
                format!("Unrecognized request argument supplied: {key}"),
                Some(key),
            ));
        }
    }
    match obj.get("model") {
        Some(Value::String(m)) if !m.trim().is_empty() => {}
        Some(_) => {
            return Err(Rejection::new(
                "'model' must be a non-empty string.",
                Some("model"),
            ))
        }
        None => {
            return Err(Rejection::new(
                "you must provide a model parameter",
                Some("model"),
            ))
        }
    }
    let messages = match obj.get("messages") {
        Some(Value::Array(m)) if !m.is_empty() => m,
        Some(Value::Array(_)) => {
            return Err(Rejection::new(
                "[] is too short - 'messages'",
                Some("messages"),
            ))
        }
        Some(_) => {
            return Err(Rejection::new(
                "'messages' must be an array.",
                Some("messages"),
            ))
        }
        None => {
            return Err(
                Rejection::new("Missing required parameter: 'messages'.", Some("messages"))
                    .code("missing_required_parameter"),
            )
        }
    };
    check_stream(obj)?;
    let tool_names = check_tools(obj)?;
    check_tool_choice(obj, &tool_names)?;
    check_messages(messages, strict)
}

fn check_stream(obj: &Map<String, Value>) -> Check {
    let stream = match obj.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(Rejection::new(
                "'stream' must be a boolean.",
                Some("stream"),
            ))
        }
    };
    if let Some(opts) = obj.get("stream_options") {
        if !opts.is_null() && !stream {
            return Err(Rejection::new(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                Some("stream_options"),
            ));
        }
        if !opts.is_null() && !opts.is_object() {
            return Err(Rejection::new(
                "'stream_options' must be an object.",
                Some("stream_options"),
            ));
        }
    }
    Ok(())
}

fn check_tools(obj: &Map<String, Value>) -> Result<Vec<String>, Rejection> {
    let tools = match obj.get("tools") {
        None | Some(Value::Null) => {
            if obj.get("parallel_tool_calls").is_some_and(|v| !v.is_null()) {
                return Err(Rejection::new(
                    "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are specified.",
                    Some("parallel_tool_calls"),
                ));
            }
            return Ok(Vec::new());
        }
        Some(Value::Array(t)) => t,
        Some(_) => return Err(Rejection::new("'tools' must be an array.", Some("tools"))),
    };
    let mut names = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let param = format!("tools[{i}]");
        let ty = tool.get("type").and_then(Value::as_str);
        if ty != Some("function") {
            return Err(Rejection::new(
                format!(
                    "Invalid value: '{}'. Supported values are: 'function'.",
                    ty.unwrap_or("<missing>")
                ),
                Some(&format!("{param}.type")),
            ));
        }
        let Some(function) = tool.get("function").filter(|f| f.is_object()) else {
            return Err(Rejection::new(
                format!("Missing required parameter: '{param}.function'."),
                Some(&format!("{param}.function")),
            )
            .code("missing_required_parameter"));
        };
        let Some(name) = function.get("name").and_then(Value::as_str) else {
            return Err(Rejection::new(
                format!("Missing required parameter: '{param}.function.name'."),
                Some(&format!("{param}.function.name")),
            )
            .code("missing_required_parameter"));
        };
        if !valid_tool_name(name) {
            return Err(Rejection::new(
                format!("Invalid '{param}.function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$' (1-64 characters), got '{name}'."),
                Some(&format!("{param}.function.name")),
            )
            .code("invalid_value"));
        }
        if let Some(params) = function.get("parameters") {
            if !params.is_object() {
                return Err(Rejection::new(
                    format!("Invalid '{param}.function.parameters': expected an object."),
                    Some(&format!("{param}.function.parameters")),
                ));
            }
        }
        names.push(name.to_string());
    }
    Ok(names)
}

fn check_tool_choice(obj: &Map<String, Value>, tool_names: &[String]) -> Check {
    let Some(choice) = obj.get("tool_choice").filter(|v| !v.is_null()) else {
        return Ok(());
    };
    if tool_names.is_empty() && obj.get("tools").is_none_or(Value::is_null) {
        return Err(Rejection::new(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            Some("tool_choice"),
        ));
    }
    match choice {
        Value::String(s) if ["none", "auto", "required"].contains(&s.as_str()) => Ok(()),
        Value::Object(o) => {
            let name = o
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str);
            match (o.get("type").and_then(Value::as_str), name) {
                (Some("function"), Some(n)) if tool_names.iter().any(|t| t == n) => Ok(()),
                (Some("function"), Some(n)) => Err(Rejection::new(
                    format!("Invalid value for 'tool_choice': tool '{n}' is not in 'tools'."),
                    Some("tool_choice"),
                )),
                _ => Err(Rejection::new(
                    "Invalid value for 'tool_choice': expected {\"type\":\"function\",\"function\":{\"name\":…}}.",
                    Some("tool_choice"),
                )),
            }
        }
        _ => Err(Rejection::new(
            "Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or an object.",
            Some("tool_choice"),
        )),
    }
}

fn check_messages(messages: &[Value], strict: &Strictness) -> Check {
    // Tool call ids of the latest assistant message that still need a `tool` answer.
    let mut pending: Vec<String> = Vec::new();
    for (i, msg) in messages.iter().enumerate() {
        let param = format!("messages[{i}]");
        let Some(m) = msg.as_object() else {
            return Err(Rejection::new(
                format!("'{param}' must be an object."),
                Some(&param),
            ));
        };
        let role = match m.get("role") {
            Some(Value::String(r)) if ALLOWED_ROLES.contains(&r.as_str()) => r.as_str(),
            Some(Value::String(r)) => {
                return Err(Rejection::new(
                    format!("Invalid value: '{r}'. Supported values are: 'system', 'assistant', 'user', 'tool', 'function' and 'developer'."),
                    Some(&format!("{param}.role")),
                )
                .code("invalid_value"))
            }
            _ => {
                return Err(Rejection::new(
                    format!("Missing required parameter: '{param}.role'."),
                    Some(&format!("{param}.role")),
                )
                .code("missing_required_parameter"))
            }
        };
        if role == "tool" {
            let Some(id) = m.get("tool_call_id").and_then(Value::as_str) else {
                return Err(Rejection::new(
                    format!("Missing required parameter: '{param}.tool_call_id'."),
                    Some(&format!("{param}.tool_call_id")),
                )
                .code("missing_required_parameter"));
            };
            let Some(pos) = pending.iter().position(|p| p == id) else {
                return Err(Rejection::new(
                    format!("Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'. ('{param}.tool_call_id' = '{id}')"),
                    Some(&format!("{param}.tool_call_id")),
                ));
            };
            pending.remove(pos);
        } else if !pending.is_empty() {
            return Err(unanswered(&pending, i));
        }
        check_content(m, role, &param, strict)?;
        if role == "assistant" {
            pending = check_tool_calls(m, &param)?;
        }
    }
    if !pending.is_empty() {
        return Err(unanswered(&pending, messages.len()));
    }
    Ok(())
}

fn unanswered(pending: &[String], at: usize) -> Rejection {
    Rejection::new(
        format!(
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {} (before messages[{at}])",
            pending.join(", ")
        ),
        Some("messages"),
    )
}

fn check_content(m: &Map<String, Value>, role: &str, param: &str, strict: &Strictness) -> Check {
    let content_param = format!("{param}.content");
    let has_tool_calls = m
        .get("tool_calls")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let parts = match m.get("content") {
        Some(Value::String(_)) => return Ok(()),
        None | Some(Value::Null) if role == "assistant" && has_tool_calls => return Ok(()),
        None | Some(Value::Null) => {
            return Err(Rejection::new(
                format!("Missing required parameter: '{content_param}'."),
                Some(&content_param),
            )
            .code("missing_required_parameter"))
        }
        Some(Value::Array(parts)) => parts,
        Some(_) => {
            return Err(Rejection::new(
                format!("Invalid type for '{content_param}': expected a string or an array of content parts."),
                Some(&content_param),
            )
            .code("invalid_type"))
        }
    };
    let allowed: &[&str] = match role {
        "user" => &["text", "image_url", "input_audio", "file"],
        "assistant" => &["text", "refusal"],
        "tool" if strict.images_in_tool_messages => &["text", "image_url"],
        _ => &["text"],
    };
    for (j, part) in parts.iter().enumerate() {
        let pp = format!("{content_param}[{j}]");
        let ty = part
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("<missing>");
        if !allowed.contains(&ty) {
            let msg = if ["text", "image_url", "input_audio", "file", "refusal"].contains(&ty) {
                format!("Invalid '{pp}.type': '{ty}' content parts are not allowed in '{role}' messages.")
            } else {
                format!("Invalid value: '{ty}'. Supported values are: 'text', 'image_url', 'input_audio', 'refusal', and 'file'.")
            };
            return Err(Rejection::new(msg, Some(&format!("{pp}.type"))).code("invalid_value"));
        }
        let ok = match ty {
            "text" => part.get("text").is_some_and(Value::is_string),
            "refusal" => part.get("refusal").is_some_and(Value::is_string),
            "image_url" => part
                .get("image_url")
                .and_then(|u| u.get("url"))
                .is_some_and(Value::is_string),
            "input_audio" => part.get("input_audio").is_some_and(Value::is_object),
            "file" => part.get("file").is_some_and(Value::is_object),
            _ => false,
        };
        if !ok {
            return Err(Rejection::new(
                format!("Invalid content part '{pp}': missing or mistyped '{ty}' field."),
                Some(&pp),
            ));
        }
    }
    Ok(())
}

/// Validates an assistant message's `tool_calls` and returns their ids.
fn check_tool_calls(m: &Map<String, Value>, param: &str) -> Result<Vec<String>, Rejection> {
    let calls = match m.get("tool_calls") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(c)) => c,
        Some(_) => {
            return Err(Rejection::new(
                format!("Invalid type for '{param}.tool_calls': expected an array."),
                Some(&format!("{param}.tool_calls")),
            ))
        }
    };
    let mut ids = Vec::new();
    for (k, call) in calls.iter().enumerate() {
        let cp = format!("{param}.tool_calls[{k}]");
        let Some(id) = call.get("id").and_then(Value::as_str) else {
            return Err(Rejection::new(
                format!("Missing required parameter: '{cp}.id'."),
                Some(&format!("{cp}.id")),
            )
            .code("missing_required_parameter"));
        };
        if call.get("type").and_then(Value::as_str) != Some("function") {
            return Err(Rejection::new(
                format!("Invalid value for '{cp}.type': expected 'function'."),
                Some(&format!("{cp}.type")),
            ));
        }
        let function = call.get("function");
        let name = function.and_then(|f| f.get("name")).and_then(Value::as_str);
        match name {
            Some(n) if valid_tool_name(n) => {}
            Some(n) => {
                return Err(Rejection::new(
                    format!("Invalid '{cp}.function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$' (1-64 characters), got '{n}'."),
                    Some(&format!("{cp}.function.name")),
                )
                .code("invalid_value"))
            }
            None => {
                return Err(Rejection::new(
                    format!("Missing required parameter: '{cp}.function.name'."),
                    Some(&format!("{cp}.function.name")),
                )
                .code("missing_required_parameter"))
            }
        }
        if !function
            .and_then(|f| f.get("arguments"))
            .is_some_and(Value::is_string)
        {
            return Err(Rejection::new(
                format!("Invalid type for '{cp}.function.arguments': expected a string."),
                Some(&format!("{cp}.function.arguments")),
            )
            .code("invalid_type"));
        }
        ids.push(id.to_string());
    }
    Ok(ids)
}
