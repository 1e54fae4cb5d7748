//! The Converse / ConverseStream request: reading it ([`read_request`]: model id, body size and
//! timeout), parsing the body and the validation the real service does before it starts a model
//! (docs/wire-facts.md §A2). Both handlers call [`read_request`] before any fault.
//!
//! Only text matters to the mock (it is what the answer and the token counts are made of), but
//! every content block kind the API has is accepted, so clients sending images, documents, tool
//! use or cache points are not turned away.

use axum::body::Body;
use axum::http::{HeaderMap, Uri};
use serde_json::Value;

use super::errors::BedrockError;
use super::model::{self, ModelKind};
use super::read_body;
use crate::state::MockState;

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The user.
    User,
    /// The model.
    Assistant,
}

/// One message of the conversation, reduced to its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputMessage {
    /// Who wrote it.
    pub role: Role,
    /// The text of its `text` blocks (and of the text inside `toolResult` blocks), in order.
    pub texts: Vec<String>,
}

/// A validated Converse request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConverseInput {
    /// The `text` blocks of `system`.
    pub system: Vec<String>,
    /// The conversation.
    pub messages: Vec<InputMessage>,
    /// `inferenceConfig.maxTokens`, when set (>= 1).
    pub max_tokens: Option<u32>,
}

impl ConverseInput {
    /// All input text (system, then every message), blocks separated by a blank line (so a
    /// context passage never runs on into the next block): what the answer is seeded from and
    /// what `inputTokens` counts.
    pub fn prompt(&self) -> String {
        let texts = self
            .system
            .iter()
            .chain(self.messages.iter().flat_map(|m| m.texts.iter()));
        let mut out = String::new();
        for (i, t) in texts.enumerate() {
            if i > 0 {
                out.push_str("\n\n");
            }
            out.push_str(t);
        }
        out
    }

    /// The text of the last user message: the question being asked.
    pub fn question(&self) -> String {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.texts.join("\n"))
            .unwrap_or_default()
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(path: &str, expected: &str, got: &Value) -> BedrockError {
    BedrockError::validation(format!(
        "1 validation error detected: Value at '{path}' failed to satisfy constraint: \
         Member must be {expected}, got {}",
        type_name(got)
    ))
}

/// Text of one `toolResult` block's `content` list (its `text` members).
fn tool_result_texts(block: &Value, out: &mut Vec<String>) {
    if let Some(items) = block.get("content").and_then(Value::as_array) {
        for item in items {
            if let Some(t) = item.get("text").and_then(Value::as_str) {
                out.push(t.to_string());
            }
        }
    }
}

fn parse_message(i: usize, m: &Value) -> Result<InputMessage, BedrockError> {
    let path = format!("messages.{i}");
    if !m.is_object() {
        return Err(wrong_type(&format!("{path}.member"), "an object", m));
    }
    let role = match m.get("role") {
        Some(Value::String(r)) if r == "user" => Role::User,
        Some(Value::String(r)) if r == "assistant" => Role::Assistant,
        Some(Value::String(r)) => {
            return Err(BedrockError::validation(format!(
                "1 validation error detected: Value '{r}' at '{path}.member.role' failed to \
                 satisfy constraint: Member must satisfy enum value set: [user, assistant]"
            )));
        }
        None | Some(Value::Null) => {
            return Err(BedrockError::validation(format!(
                "1 validation error detected: Value null at '{path}.member.role' failed to \
                 satisfy constraint: Member must not be null"
            )));
        }
        Some(other) => {
            return Err(wrong_type(
                &format!("{path}.member.role"),
                "a string",
                other,
            ));
        }
    };
    let content = match m.get("content") {
        Some(Value::Array(c)) => c,
        None | Some(Value::Null) => {
            return Err(BedrockError::validation(format!(
                "1 validation error detected: Value null at '{path}.member.content' failed to \
                 satisfy constraint: Member must not be null"
            )));
        }
        Some(other) => {
            return Err(wrong_type(
                &format!("{path}.member.content"),
                "a list",
                other,
            ));
        }
    };
    if content.is_empty() {
        return Err(BedrockError::validation(format!(
            "The content field in the Message object at {path} is empty. Add a ContentBlock \
             object to the content field and try again."
        )));
    }
    let mut texts = Vec::new();
    for (j, block) in content.iter().enumerate() {
        let bpath = format!("{path}.content.{j}");
        let Some(obj) = block.as_object() else {
            return Err(wrong_type(&bpath, "a ContentBlock object", block));
        };
        if obj.is_empty() {
            return Err(BedrockError::validation(format!(
                "The ContentBlock object at {bpath} is empty: set one of its members, e.g. \
                 {{\"text\":\"...\"}}, and try again."
            )));
        }
        match obj.get("text") {
            Some(Value::String(t)) if t.trim().is_empty() => {
                return Err(BedrockError::validation(format!(
                    "The text field in the ContentBlock object at {bpath} is blank. Add text to \
                     the text field, and try again."
                )));
            }
            Some(Value::String(t)) => texts.push(t.clone()),
            Some(other) => return Err(wrong_type(&format!("{bpath}.text"), "a string", other)),
            None => {}
        }
        if let Some(tr) = obj.get("toolResult") {
            tool_result_texts(tr, &mut texts);
        }
    }
    Ok(InputMessage { role, texts })
}

fn parse_system(v: &Value) -> Result<Vec<String>, BedrockError> {
    let Value::Array(blocks) = v else {
        return Err(wrong_type(
            "system",
            "a list of SystemContentBlock objects",
            v,
        ));
    };
    let mut out = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        match b.get("text") {
            Some(Value::String(t)) => out.push(t.clone()),
            Some(other) => return Err(wrong_type(&format!("system.{i}.text"), "a string", other)),
            None => {}
        }
    }
    Ok(out)
}

fn out_of_range(path: &str, n: &serde_json::Number, constraint: &str) -> BedrockError {
    BedrockError::validation(format!(
        "1 validation error detected: Value '{n}' at '{path}' failed to satisfy constraint: \
         Member must have value {constraint}"
    ))
}

/// A float in [0, 1] (`temperature`, `topP`).
fn unit_interval(config: &Value, key: &str) -> Result<(), BedrockError> {
    let path = format!("inferenceConfig.{key}");
    match config.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(x) if x < 0.0 => Err(out_of_range(&path, n, "greater than or equal to 0")),
            Some(x) if x > 1.0 => Err(out_of_range(&path, n, "less than or equal to 1")),
            _ => Ok(()),
        },
        Some(other) => Err(wrong_type(&path, "a number", other)),
    }
}

/// Checks `inferenceConfig` (`maxTokens` an integer >= 1, `temperature` and `topP` in [0, 1])
/// and returns `maxTokens`.
fn parse_inference_config(config: &Value) -> Result<Option<u32>, BedrockError> {
    if !config.is_object() {
        return Err(wrong_type("inferenceConfig", "an object", config));
    }
    unit_interval(config, "temperature")?;
    unit_interval(config, "topP")?;
    match config.get("maxTokens") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if !(n.is_i64() || n.is_u64()) => {
            Err(BedrockError::validation(format!(
                "1 validation error detected: Value '{n}' at 'inferenceConfig.maxTokens' failed \
                 to satisfy constraint: Member must be an integer"
            )))
        }
        Some(Value::Number(n)) => match n.as_i64() {
            Some(v) if v < 1 => Err(out_of_range(
                "inferenceConfig.maxTokens",
                n,
                "greater than or equal to 1",
            )),
            // Beyond u32 it is over every model's limit, which the caller reports.
            _ => {
                Ok(Some(n.as_u64().map_or(u32::MAX, |v| {
                    u32::try_from(v).unwrap_or(u32::MAX)
                })))
            }
        },
        Some(other) => Err(wrong_type("inferenceConfig.maxTokens", "an integer", other)),
    }
}

/// The checks both Converse operations make before any fault: the model id, the body size and
/// the body itself.
pub async fn read_request(
    state: &MockState,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<ConverseInput, BedrockError> {
    let model = model::from_path(uri.path())?;
    if model.kind != ModelKind::Text {
        return Err(BedrockError::validation(format!(
            "This action doesn't support the model that you provided ({}). Try again with a \
             supported text or chat model.",
            model.id
        )));
    }
    let body = read_body(
        headers,
        body,
        state.config.bedrock.max_body_bytes,
        state.config.connections.body_timeout(),
    )
    .await?;
    let input = parse(&body)?;
    let limit = model::output_limit(&model.base);
    if input.max_tokens.is_some_and(|m| m > limit) {
        return Err(max_tokens_over_limit(limit));
    }
    Ok(input)
}

/// The error for a `maxTokens` above the model's output limit, worded as Bedrock words it.
pub fn max_tokens_over_limit(limit: u32) -> BedrockError {
    BedrockError::validation(format!(
        "The maximum tokens you requested exceeds the model limit of {limit}. Try again with a \
         maximum tokens value that is lower than {limit}."
    ))
}

/// Parses and validates a Converse / ConverseStream body.
pub fn parse(body: &[u8]) -> Result<ConverseInput, BedrockError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        BedrockError::validation(format!(
            "Malformed input request: the body is not valid JSON ({e}). Send a JSON object such \
             as {{\"messages\":[{{\"role\":\"user\",\"content\":[{{\"text\":\"Hello\"}}]}}]}}."
        ))
    })?;
    if !v.is_object() {
        return Err(wrong_type("body", "a JSON object", &v));
    }
    let messages = match v.get("messages") {
        Some(Value::Array(m)) => m,
        None | Some(Value::Null) => {
            return Err(BedrockError::validation(
                "1 validation error detected: Value null at 'messages' failed to satisfy \
                 constraint: Member must not be null. Add a user message, e.g. \
                 {\"role\":\"user\",\"content\":[{\"text\":\"Hello\"}]}.",
            ));
        }
        Some(other) => return Err(wrong_type("messages", "a list of Message objects", other)),
    };
    let messages: Vec<InputMessage> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| parse_message(i, m))
        .collect::<Result<_, _>>()?;
    if messages.first().is_none_or(|m| m.role != Role::User) {
        return Err(BedrockError::validation(
            "A conversation must start with a user message. Try again with a conversation that \
             starts with a user message.",
        ));
    }
    if messages.windows(2).any(|w| w[0].role == w[1].role) {
        return Err(BedrockError::validation(
            "A conversation must alternate between user and assistant roles. Make sure the \
             conversation alternates between user and assistant roles and try again.",
        ));
    }
    let system = match v.get("system") {
        None | Some(Value::Null) => Vec::new(),
        Some(s) => parse_system(s)?,
    };
    let max_tokens = match v.get("inferenceConfig") {
        None | Some(Value::Null) => None,
        Some(c) => parse_inference_config(c)?,
    };
    match v.get("toolConfig") {
        None | Some(Value::Null) | Some(Value::Object(_)) => {}
        Some(other) => {
            return Err(wrong_type(
                "toolConfig",
                "a ToolConfiguration object",
                other,
            ));
        }
    }
    Ok(ConverseInput {
        system,
        messages,
        max_tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(s: &str) -> String {
        parse(s.as_bytes()).unwrap_err().message
    }

    #[test]
    fn parses_text_system_and_max_tokens() {
        let c = parse(
            br#"{"messages":[{"role":"user","content":[{"text":"Hi there"},{"image":{"format":"png","source":{"bytes":"AA=="}}}]},
                            {"role":"assistant","content":[{"text":"Hello"}]},
                            {"role":"user","content":[{"toolResult":{"toolUseId":"t","content":[{"text":"42"}]}},{"text":"And?"}]}],
                 "system":[{"text":"Be brief."},{"cachePoint":{"type":"default"}}],
                 "inferenceConfig":{"maxTokens":10,"temperature":0.5},"unknownField":1}"#,
        )
        .unwrap();
        assert_eq!(c.system, ["Be brief."]);
        assert_eq!(c.max_tokens, Some(10));
        assert_eq!(c.prompt(), "Be brief.\n\nHi there\n\nHello\n\n42\n\nAnd?");
        assert_eq!(c.question(), "42\nAnd?");
    }

    #[test]
    fn rejects_what_the_service_rejects() {
        assert!(msg("{not json").starts_with("Malformed input request"));
        assert!(msg("[]").contains("JSON object"));
        assert!(msg("{}").contains("'messages'"));
        assert!(msg(r#"{"messages":[]}"#).contains("must start with a user message"));
        assert!(
            msg(r#"{"messages":[{"role":"user","content":[]}]}"#).contains("messages.0 is empty")
        );
        assert!(
            msg(r#"{"messages":[{"role":"user","content":[{"text":" "}]}]}"#)
                .contains("messages.0.content.0 is blank")
        );
        assert!(
            msg(r#"{"messages":[{"role":"bot","content":[{"text":"x"}]}]}"#)
                .contains("[user, assistant]")
        );
        assert!(
            msg(r#"{"messages":[{"role":"user","content":[{"text":"a"}]},{"role":"user","content":[{"text":"b"}]}]}"#)
                .contains("alternate")
        );
        assert!(
            msg(r#"{"messages":[{"role":"user","content":[{"text":"a"}]}],"inferenceConfig":{"maxTokens":0}}"#)
                .contains("maxTokens")
        );
        assert!(msg(r#"{"messages":[{"role":"user","content":[{}]}]}"#).contains("empty"));
        assert!(msg(r#"{"messages":"hi"}"#).contains("'messages'"));
    }

    #[test]
    fn rejects_out_of_range_inference_config_and_a_non_object_tool_config() {
        let with = |extra: &str| {
            msg(&format!(
                r#"{{"messages":[{{"role":"user","content":[{{"text":"a"}}]}}],{extra}}}"#
            ))
        };
        let t = with(r#""inferenceConfig":{"temperature":5}"#);
        assert!(
            t.contains("'inferenceConfig.temperature'") && t.contains("less than or equal to 1"),
            "{t}"
        );
        let t = with(r#""inferenceConfig":{"temperature":-0.1}"#);
        assert!(t.contains("greater than or equal to 0"), "{t}");
        assert!(with(r#""inferenceConfig":{"topP":1.5}"#).contains("'inferenceConfig.topP'"));
        assert!(with(r#""inferenceConfig":{"temperature":"hot"}"#).contains("must be a number"));
        let m = with(r#""inferenceConfig":{"maxTokens":1e12}"#);
        assert!(
            m.contains("'inferenceConfig.maxTokens'") && m.contains("integer"),
            "{m}"
        );
        assert!(with(r#""inferenceConfig":{"maxTokens":2.5}"#).contains("integer"));
        assert!(with(r#""toolConfig":7"#).contains("'toolConfig'"));
        assert!(with(r#""toolConfig":[]"#).contains("'toolConfig'"));
        // In range: accepted, and a huge integer is kept (the model's limit is checked later).
        let ok = |extra: &str| {
            parse(
                format!(r#"{{"messages":[{{"role":"user","content":[{{"text":"a"}}]}}],{extra}}}"#)
                    .as_bytes(),
            )
        };
        assert!(
            ok(r#""inferenceConfig":{"temperature":0,"topP":1},"toolConfig":{"tools":[]}"#).is_ok()
        );
        assert_eq!(
            ok(r#""inferenceConfig":{"maxTokens":1000000000000}"#)
                .unwrap()
                .max_tokens,
            Some(u32::MAX)
        );
    }
}
