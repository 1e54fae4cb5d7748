//! The request body template of `--target`: `{question}`, `{session}` and `{n}` are filled per
//! request, everything else is sent as written.
//!
//! The template is split into literal and placeholder parts once, so a request's body is one
//! allocation. Values are JSON-string escaped (quotes, backslashes, control characters), because
//! the bodies of chat endpoints are JSON and the placeholders sit inside JSON strings; any other
//! `{…}` is literal text (JSON bodies are full of braces).

/// One part of a template.
#[derive(Clone, Debug, PartialEq)]
enum Part {
    Literal(String),
    Question,
    Session,
    N,
}

/// A parsed body template.
#[derive(Clone, Debug, PartialEq)]
pub struct BodyTemplate {
    parts: Vec<Part>,
    literal_len: usize,
}

/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 3] = ["{question}", "{session}", "{n}"];

impl BodyTemplate {
    /// Splits `text` into literal text and placeholders. Errors (for `--body`) say what is wrong.
    pub fn parse(text: &str) -> Result<BodyTemplate, String> {
        if text.len() > 1 << 20 {
            return Err("the template is over 1 MiB; a chat request body is not that big".into());
        }
        let mut parts = Vec::new();
        let mut rest = text;
        let mut literal = String::new();
        while !rest.is_empty() {
            let found = PLACEHOLDERS
                .iter()
                .filter_map(|p| rest.find(p).map(|i| (i, *p)))
                .min_by_key(|(i, _)| *i);
            match found {
                Some((i, p)) => {
                    literal.push_str(&rest[..i]);
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(match p {
                        "{question}" => Part::Question,
                        "{session}" => Part::Session,
                        _ => Part::N,
                    });
                    rest = &rest[i + p.len()..];
                }
                None => {
                    literal.push_str(rest);
                    rest = "";
                }
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        let literal_len = parts
            .iter()
            .map(|p| match p {
                Part::Literal(s) => s.len(),
                _ => 0,
            })
            .sum();
        Ok(BodyTemplate { parts, literal_len })
    }

    /// True when the template looks like a JSON document (starts with `{` or `[`).
    pub fn looks_like_json(&self) -> bool {
        match self.parts.first() {
            Some(Part::Literal(s)) => matches!(s.trim_start().chars().next(), Some('{' | '[')),
            _ => false,
        }
    }

    /// True when the template uses `{question}`.
    pub fn asks_the_question(&self) -> bool {
        self.parts.contains(&Part::Question)
    }

    /// The body of one request.
    pub fn render(&self, question: &str, session: &str, n: u64) -> String {
        let mut out = String::with_capacity(self.literal_len + question.len() + session.len() + 24);
        self.render_into(question, session, n, &mut out);
        out
    }

    /// The body of one request, appended to `out` (a reused buffer).
    pub fn render_into(&self, question: &str, session: &str, n: u64, out: &mut String) {
        use std::fmt::Write;
        for p in &self.parts {
            match p {
                Part::Literal(s) => out.push_str(s),
                Part::Question => push_json_escaped(out, question),
                Part::Session => push_json_escaped(out, session),
                Part::N => {
                    let _ = write!(out, "{n}");
                }
            }
        }
    }
}

/// `s` escaped for use inside a JSON string (without the quotes).
pub fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_json_escaped(&mut out, s);
    out
}

fn push_json_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_escaped() {
        let t = BodyTemplate::parse(r#"{"q":"{question}","s":"{session}","n":{n},"x":"{other}"}"#)
            .unwrap();
        let body = t.render("say \"hi\"\n\\ \u{1}", "u-1", 42);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["q"], "say \"hi\"\n\\ \u{1}");
        assert_eq!(v["s"], "u-1");
        assert_eq!(v["n"], 42);
        assert_eq!(v["x"], "{other}");
        assert!(t.looks_like_json());
        assert!(t.asks_the_question());
    }

    #[test]
    fn plain_text_and_repeats() {
        let t = BodyTemplate::parse("{question} and {question}").unwrap();
        assert_eq!(t.render("a", "s", 0), "a and a");
        assert!(!t.looks_like_json());
        let none = BodyTemplate::parse("static").unwrap();
        assert_eq!(none.render("a", "s", 0), "static");
        assert!(!none.asks_the_question());
    }
}
