use serde_json::{json, Value};

use super::*;

fn answer(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("JSON")
}

fn raw(value: &Value) -> Box<RawValue> {
    RawValue::from_string(value.to_string()).expect("raw")
}

#[test]
fn bytes_that_are_not_an_answer_object_are_told_apart() {
    assert_eq!(ChatAnswer::read(b"").err(), Some(NotAnAnswer::Empty));
    assert_eq!(
        ChatAnswer::read(b"\xef\xbb\xbf \n").err(),
        Some(NotAnAnswer::Empty)
    );
    assert_eq!(
        ChatAnswer::read(b"[1,2]").err(),
        Some(NotAnAnswer::NotAnObject)
    );
    assert_eq!(
        ChatAnswer::read(b"\"text\"").err(),
        Some(NotAnAnswer::NotAnObject)
    );
    assert_eq!(
        ChatAnswer::read(b"{\"a\":").err(),
        Some(NotAnAnswer::NotJson)
    );
    assert_eq!(ChatAnswer::read(b"{} {}").err(), Some(NotAnAnswer::NotJson));
    assert_eq!(
        ChatAnswer::read(b"data: {}").err(),
        Some(NotAnAnswer::NotJson)
    );
    assert_eq!(
        ChatAnswer::read(b"{\"a\":\"\xff\"}").err(),
        Some(NotAnAnswer::NotJson)
    );
    assert!(ChatAnswer::read(b"\xef\xbb\xbf {}\r\n").is_ok());
}

#[test]
fn fields_of_another_type_read_as_absent() {
    let body = answer(&json!({
        "choices": {"not": "a list"}, "usage": "many", "model": 7, "error": null
    }));
    let read = ChatAnswer::read(&body).expect("an object");
    assert!(read.choice().is_none());
    assert!(read.usage().is_none());
    assert!(read.model().is_none());
    assert!(read.error().is_none());

    let body = answer(&json!({"choices": [{
        "delta": {"content": 5, "refusal": [], "reasoning_content": {}, "tool_calls": "x"},
        "finish_reason": 1
    }]}));
    let choice = ChatAnswer::read(&body).unwrap().choice().expect("a choice");
    let delta = choice.delta().expect("a delta");
    assert_eq!(delta.content(), None);
    assert_eq!(delta.refusal(), None);
    assert_eq!(delta.reasoning(), None);
    assert!(delta.calls().is_empty());
    assert_eq!(choice.finish_reason(), None);

    let body = answer(&json!({"choices": ["text", {"delta": {"content": "second"}}]}));
    assert!(
        ChatAnswer::read(&body).unwrap().choice().is_none(),
        "the first choice counts"
    );
}

#[test]
fn a_repeated_key_keeps_its_last_value_and_escaped_keys_match() {
    let body = br#"{"model":"a","model":"b","ch\u006fices":[{"delta":{"content":"x"}}]}"#;
    let read = ChatAnswer::read(body).expect("an object");
    assert_eq!(read.model().as_deref(), Some("b"));
    let delta = read.choice().and_then(|c| c.delta()).expect("a delta");
    assert_eq!(delta.content().as_deref(), Some("x"));
}

#[test]
fn delta_and_message_are_read_in_the_order_of_each_mode() {
    let body =
        answer(&json!({"choices": [{"delta": {"content": "d"}, "message": {"content": "m"}}]}));
    let choice = ChatAnswer::read(&body).unwrap().choice().unwrap();
    assert_eq!(choice.delta().unwrap().content().as_deref(), Some("d"));
    assert_eq!(choice.message().unwrap().content().as_deref(), Some("m"));
    let body =
        answer(&json!({"choices": [{"delta": null, "message": {"content": "m"}, "text": "t"}]}));
    let choice = ChatAnswer::read(&body).unwrap().choice().unwrap();
    assert_eq!(choice.delta().unwrap().content().as_deref(), Some("m"));
    assert_eq!(choice.legacy_text().as_deref(), Some("t"));
}

#[test]
fn content_is_a_string_or_text_parts_and_strings_borrow_when_unescaped() {
    let message = |content: Value| {
        let body = answer(&json!({"choices": [{"message": {"content": content}}]}));
        let read = ChatAnswer::read(&body).unwrap();
        let text = read.choice().unwrap().message().unwrap().content();
        text.map(|t| t.into_owned())
    };
    assert_eq!(message(json!("plain")).as_deref(), Some("plain"));
    assert_eq!(message(json!("tab\there")).as_deref(), Some("tab\there"));
    assert_eq!(message(json!(null)), None);
    assert_eq!(
        message(json!(["a", {"type": "text", "text": "b"}, {"type": "image"}, 3])).as_deref(),
        Some("ab")
    );
    assert_eq!(message(json!([])).as_deref(), Some(""));

    let body = br#"{"choices":[{"message":{"content":"borrowed"}}]}"#;
    let read = ChatAnswer::read(body).unwrap();
    assert!(matches!(
        read.choice().unwrap().message().unwrap().content(),
        Some(Cow::Borrowed("borrowed"))
    ));
}

#[test]
fn reasoning_comes_from_the_first_source_present() {
    let reasoning = |message: Value| {
        let body = answer(&json!({"choices": [{"delta": message}]}));
        let read = ChatAnswer::read(&body).unwrap();
        let text = read.choice().unwrap().delta().unwrap().reasoning();
        text.map(|t| t.into_owned())
    };
    assert_eq!(
        reasoning(json!({"reasoning_content": "rc", "reasoning": "r"})).as_deref(),
        Some("rc")
    );
    assert_eq!(
        reasoning(json!({"reasoning_content": "", "reasoning": "r"})).as_deref(),
        Some("r")
    );
    assert_eq!(
        reasoning(json!({"reasoning_details": [
            {"type": "reasoning.text", "text": "one "},
            {"type": "reasoning.encrypted", "data": "xyz"},
            {"type": "reasoning.summary", "summary": "two"},
            "odd"
        ]}))
        .as_deref(),
        Some("one two")
    );
    assert_eq!(reasoning(json!({"reasoning": {"effort": "high"}})), None);
    assert_eq!(reasoning(json!({"reasoning_details": []})), None);
}

#[test]
fn call_fragments_in_every_shape() {
    let calls = |message: Value| {
        let body = answer(&json!({"choices": [{"delta": message}]}));
        let read = ChatAnswer::read(&body).unwrap();
        let calls = read.choice().unwrap().delta().unwrap().calls();
        calls
            .into_iter()
            .map(|c| {
                (
                    c.index,
                    c.id.map(Cow::into_owned),
                    c.name.map(Cow::into_owned),
                    c.arguments.map(Cow::into_owned),
                )
            })
            .collect::<Vec<_>>()
    };
    let s = |text: &str| Some(text.to_owned());
    assert_eq!(
        calls(json!({"tool_calls": [
            {"index": 0, "id": " call_1 ", "type": "function",
             "function": {"name": "exec_command", "arguments": "{\"cmd\""}},
            {"index": 1, "function": {"arguments": {"cmd": "ls", "n": 1}}},
            {"id": "", "name": "top_level", "arguments": null},
            {"index": -1, "function": {"name": ""}},
            "not a call"
        ]})),
        vec![
            (Some(0), s("call_1"), s("exec_command"), s("{\"cmd\"")),
            (Some(1), None, None, s(r#"{"cmd":"ls","n":1}"#)),
            (None, None, s("top_level"), None),
            (None, None, None, None),
        ]
    );
    assert_eq!(
        calls(json!({"function_call": {"name": "legacy", "arguments": "{}"}})),
        vec![(Some(0), None, s("legacy"), s("{}"))]
    );
    assert_eq!(
        calls(json!({"tool_calls": null, "function_call": {"arguments": "x"}})),
        vec![(Some(0), None, None, s("x"))]
    );
}

#[test]
fn one_call_id_rule() {
    assert_eq!(call_id(Some(" call_7 "), |_| false), "call_7");
    let fresh = call_id(Some("call_7"), |id| id == "call_7");
    assert!(fresh.starts_with("call_") && fresh != "call_7", "{fresh}");
    assert!(call_id(Some("  "), |_| false).starts_with("call_"));
    assert!(call_id(None, |_| false).starts_with("call_"));
}

#[test]
fn usage_variants_map_to_responses_usage() {
    let usage = |value: Value| read_usage(&raw(&value));
    let want = |input, cached, output, reasoning, total| Usage {
        input_tokens: input,
        cached_tokens: cached,
        output_tokens: output,
        reasoning_tokens: reasoning,
        total_tokens: total,
    };
    assert_eq!(
        usage(
            json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 2}, "cost": 0.01})
        ),
        Some(want(10, 4, 5, 2, 15))
    );
    assert_eq!(
        usage(json!({"prompt_tokens": 10, "completion_tokens": 5, "prompt_cache_hit_tokens": 8})),
        Some(want(10, 8, 5, 0, 15))
    );
    assert_eq!(
        usage(json!({"input_tokens": "7", "output_tokens": 2.6,
            "input_tokens_details": {"cached_tokens": 1},
            "output_tokens_details": {"reasoning_tokens": 1e0}})),
        Some(want(7, 1, 3, 1, 10))
    );
    assert_eq!(usage(json!({"total_tokens": 9})), Some(want(0, 0, 0, 0, 9)));
    assert_eq!(
        usage(json!({"prompt_tokens": -1, "completion_tokens": "x"})),
        None
    );
    assert_eq!(usage(json!({"cost": 1})), None);
    assert_eq!(usage(json!([1])), None);
}
