//! Model identifiers: decoding the `{modelId}` path label and resolving it to what the mock
//! serves.
//!
//! Clients percent-encode the label with only `-._~` left as is (docs/wire-facts.md §A1), so `:` arrives
//! as `%3A` and the `/` of an inference-profile ARN as `%2F`. The router matches on the raw path
//! (an encoded `/` does not split the segment); the handlers decode it here.
//!
//! Resolution follows the real service's two failure modes: an id that does not match the
//! model's pattern is a `ValidationException`; a well-formed id whose provider Bedrock does not
//! host is a `ResourceNotFoundException` ("Could not resolve the foundation model…").

use percent_encoding::percent_decode_str;

use super::errors::{BedrockError, ErrorCode};

/// Longest model identifier the API accepts (the service model's `max`).
pub const MAX_MODEL_ID_LEN: usize = 2048;

/// Providers whose models Bedrock hosts (the first label of a foundation-model id).
const PROVIDERS: &[&str] = &[
    "ai21",
    "amazon",
    "anthropic",
    "cohere",
    "deepseek",
    "google",
    "luma",
    "meta",
    "minimax",
    "mistral",
    "moonshot",
    "nvidia",
    "openai",
    "qwen",
    "stability",
    "twelvelabs",
    "writer",
];

/// Geographic prefixes of system-defined cross-region inference profiles (`us.anthropic...`).
const GEO_PREFIXES: &[&str] = &["us", "us-gov", "eu", "apac", "jp", "au", "ca", "global"];

/// ARN resource types that name a model the mock cannot look inside (provisioned throughput,
/// custom and imported models, application profiles): accepted as text models.
const OPAQUE_ARN_TYPES: &[&str] = &[
    "provisioned-model",
    "custom-model",
    "custom-model-deployment",
    "imported-model",
    "application-inference-profile",
    "prompt",
];

/// What kind of model an id resolves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// A text / chat model (Converse, ConverseStream).
    Text,
    /// Titan Text Embeddings V2 (`amazon.titan-embed-text-v2:0`): 256/512/1024 dimensions.
    TitanEmbedV2,
    /// Titan Embeddings G1 – Text (`amazon.titan-embed-text-v1`): 1536 dimensions.
    TitanEmbedV1,
    /// Another embedding model (Cohere, Titan multimodal): recognised, but its body format is
    /// not served by the mock.
    OtherEmbedding,
}

/// A decoded and resolved model identifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Model {
    /// The identifier as the client sent it, percent-decoded (e.g. an ARN).
    pub id: String,
    /// The foundation model it names, without region prefix or ARN (e.g.
    /// `anthropic.claude-3-haiku-20240307-v1:0`); the ARN's resource id for opaque ARNs.
    pub base: String,
    /// What the mock does with it.
    pub kind: ModelKind,
}

/// Most output tokens the mock lets a Converse request ask for (`maxTokens`) on a model whose
/// own limit it does not know: its own cap on an answer's length.
pub const DEFAULT_OUTPUT_LIMIT: u32 = super::generate::MAX_OUTPUT_TOKENS;

/// The largest `maxTokens` Bedrock accepts for the model `base` (a foundation-model id without
/// region prefix): 4,096 for the Claude 3 models (Haiku, Sonnet, Opus), whose limit is
/// documented; [`DEFAULT_OUTPUT_LIMIT`] for the rest.
pub fn output_limit(base: &str) -> u32 {
    const CLAUDE_3: [&str; 3] = [
        "anthropic.claude-3-haiku-",
        "anthropic.claude-3-sonnet-",
        "anthropic.claude-3-opus-",
    ];
    if CLAUDE_3.iter().any(|p| base.starts_with(p)) {
        4_096
    } else {
        DEFAULT_OUTPUT_LIMIT
    }
}

/// Percent-decodes one raw path segment (`anthropic.claude-3-haiku-20240307-v1%3A0`).
pub fn decode_segment(raw: &str) -> Result<String, BedrockError> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| {
            BedrockError::validation(format!(
                "The model identifier `{raw}` is not valid UTF-8 once percent-decoded. \
                 Percent-encode the UTF-8 bytes of the model id or ARN."
            ))
        })
}

/// Returns the raw (still percent-encoded) `{modelId}` label of a `/model/{modelId}/<op>` path.
pub fn raw_segment(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/model/")?;
    let end = rest.find('/')?;
    Some(&rest[..end])
}

fn pattern_error(id: &str) -> BedrockError {
    BedrockError::validation(format!(
        "1 validation error detected: Value '{id}' at 'modelId' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: a model id such as \
         `anthropic.claude-3-haiku-20240307-v1:0` (letters, digits, `-`, `.`, `:`) or a Bedrock \
         ARN such as `arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic...`"
    ))
}

fn not_found() -> BedrockError {
    BedrockError::new(
        ErrorCode::ResourceNotFound,
        "Could not resolve the foundation model from the provided model identifier.",
    )
}

fn is_plain_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b':' | b'.'))
}

fn kind_of(base: &str) -> ModelKind {
    if base.starts_with("amazon.titan-embed-text-v2") {
        ModelKind::TitanEmbedV2
    } else if base.starts_with("amazon.titan-embed-text-v1")
        || base.starts_with("amazon.titan-embed-g1-text")
    {
        ModelKind::TitanEmbedV1
    } else if base.starts_with("cohere.embed") || base.starts_with("amazon.titan-embed") {
        ModelKind::OtherEmbedding
    } else {
        ModelKind::Text
    }
}

/// Resolves a foundation-model or inference-profile id (`us.anthropic...`) by its provider.
fn resolve_foundation(id: &str) -> Result<(String, ModelKind), BedrockError> {
    let mut base = id;
    if let Some((prefix, rest)) = id.split_once('.')
        && GEO_PREFIXES.contains(&prefix)
        && rest.contains('.')
    {
        base = rest;
    }
    let provider = base.split('.').next().unwrap_or_default();
    if !base.contains('.') || !PROVIDERS.contains(&provider) {
        return Err(not_found());
    }
    Ok((base.to_string(), kind_of(base)))
}

/// Resolves a decoded model identifier: a model id, an inference-profile id or a Bedrock ARN.
pub fn resolve(id: &str) -> Result<Model, BedrockError> {
    if id.is_empty() || id.len() > MAX_MODEL_ID_LEN {
        return Err(pattern_error(id));
    }
    let (base, kind) = if let Some(arn) = id.strip_prefix("arn:") {
        // arn:<partition>:bedrock:<region>:<account>:<type>/<resource>
        let parts: Vec<&str> = arn.splitn(5, ':').collect();
        let [partition, service, region, _account, resource] = parts[..] else {
            return Err(pattern_error(id));
        };
        if !partition.starts_with("aws") || service != "bedrock" || region.is_empty() {
            return Err(pattern_error(id));
        }
        let Some((rtype, rid)) = resource.split_once('/') else {
            return Err(pattern_error(id));
        };
        if rid.is_empty()
            || !rid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-:./".contains(&b))
        {
            return Err(pattern_error(id));
        }
        match rtype {
            "foundation-model" | "inference-profile" => resolve_foundation(rid)?,
            t if OPAQUE_ARN_TYPES.contains(&t) => (rid.to_string(), ModelKind::Text),
            _ => return Err(pattern_error(id)),
        }
    } else {
        if !is_plain_id(id) {
            return Err(pattern_error(id));
        }
        resolve_foundation(id)?
    };
    Ok(Model {
        id: id.to_string(),
        base,
        kind,
    })
}

/// Decodes the `{modelId}` label of `path` and resolves it.
pub fn from_path(path: &str) -> Result<Model, BedrockError> {
    let raw = raw_segment(path).ok_or_else(|| pattern_error(path))?;
    resolve(&decode_segment(raw)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_encoded_colon_and_slash() {
        let m = from_path("/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse").unwrap();
        assert_eq!(m.id, "anthropic.claude-3-haiku-20240307-v1:0");
        assert_eq!(m.base, m.id);
        assert_eq!(m.kind, ModelKind::Text);

        let path = "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream";
        assert_eq!(
            raw_segment(path),
            Some(
                "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-haiku-20241022-v1%3A0"
            )
        );
        let m = from_path(path).unwrap();
        assert_eq!(
            m.id,
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0"
        );
        assert_eq!(m.base, "anthropic.claude-3-5-haiku-20241022-v1:0");
    }

    #[test]
    fn embedding_models_are_recognised() {
        assert_eq!(
            resolve("amazon.titan-embed-text-v2:0").unwrap().kind,
            ModelKind::TitanEmbedV2
        );
        assert_eq!(
            resolve("amazon.titan-embed-text-v1").unwrap().kind,
            ModelKind::TitanEmbedV1
        );
        assert_eq!(
            resolve("arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0")
                .unwrap()
                .kind,
            ModelKind::TitanEmbedV2
        );
        assert_eq!(
            resolve("cohere.embed-english-v3").unwrap().kind,
            ModelKind::OtherEmbedding
        );
    }

    #[test]
    fn unknown_provider_is_not_found_and_bad_shape_is_invalid() {
        for id in ["acme.llm-v1", "gpt-4o", "us.acme.model"] {
            assert_eq!(
                resolve(id).unwrap_err().code,
                ErrorCode::ResourceNotFound,
                "{id}"
            );
        }
        for id in [
            "",
            "has space",
            "anthropic.claude/x",
            "arn:aws:s3:::bucket/x",
        ] {
            assert_eq!(
                resolve(id).unwrap_err().code,
                ErrorCode::Validation,
                "{id:?}"
            );
        }
        let long = "a".repeat(MAX_MODEL_ID_LEN + 1);
        assert_eq!(resolve(&long).unwrap_err().code, ErrorCode::Validation);
        assert_eq!(
            decode_segment("bad%FF").unwrap_err().code,
            ErrorCode::Validation
        );
    }

    #[test]
    fn opaque_arns_are_text_models() {
        let m = resolve("arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abcdef123456")
            .unwrap();
        assert_eq!(m.kind, ModelKind::Text);
        assert_eq!(m.base, "abcdef123456");
    }
}
