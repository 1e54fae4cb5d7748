//! Deterministic answer text that cites the context passages it was given.
//!
//! The harness puts each retrieved passage into the prompt as a line starting
//! `[source: <doc_id>]` followed by the passage text (continuation lines up to a blank line or
//! the next source line belong to it). The answer cites every source inline as `[<doc_id>]`, in
//! order of first appearance, in sentences made of the passages' and the question's words, so a
//! harness can check end to end that what it retrieved is what the model "used".
//!
//! Every random choice comes from the RNG the caller passes (seeded from the prompt), so the same
//! prompt and seed always give the same answer, streamed or not. Tokens are word pieces: a word
//! plus its leading space (the first has none).

use rand::Rng;

use crate::embedding::content_words;

/// Longest word the answer copies from a prompt, in characters (keeps every event small).
pub const MAX_WORD_CHARS: usize = 40;

/// The marker that starts a context passage line.
pub const SOURCE_MARKER: &str = "[source:";

/// Words that are prompt scaffolding rather than the question's subject.
const SCAFFOLD_WORDS: &[&str] = &[
    "about",
    "all",
    "answer",
    "any",
    "based",
    "been",
    "can",
    "cite",
    "context",
    "could",
    "following",
    "given",
    "had",
    "has",
    "have",
    "i",
    "if",
    "into",
    "me",
    "my",
    "no",
    "not",
    "only",
    "our",
    "passage",
    "passages",
    "please",
    "question",
    "should",
    "so",
    "source",
    "sources",
    "than",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "those",
    "us",
    "use",
    "using",
    "was",
    "we",
    "were",
    "will",
    "would",
    "you",
    "your",
];

/// Neutral words for answers without context and for padding empty passages.
const FILLER: &[&str] = &[
    "the",
    "system",
    "depends",
    "on",
    "several",
    "factors",
    "including",
    "its",
    "design",
    "and",
    "expected",
    "load",
    "in",
    "practice",
    "this",
    "means",
    "that",
    "results",
    "vary",
    "with",
    "configuration",
    "usage",
    "over",
    "time",
    "typically",
    "requires",
    "careful",
    "review",
];

/// How each cited sentence opens; `@` stands for the `[doc_id]` citation.
const OPENERS: &[&[&str]] = &[
    &["According", "to", "@,"],
    &["As", "@", "notes,"],
    &["@", "reports", "that"],
    &["Per", "@,"],
    &["Based", "on", "@,"],
];

/// Fewest words a cited sentence gets before the answer stops citing further sources.
const WORDS_PER_CITATION: usize = 8;

/// One context passage found in a prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Passage {
    /// The id inside `[source: ...]`.
    pub doc_id: String,
    /// The passage text (the rest of the line plus continuation lines).
    pub text: String,
}

/// Parses `[source: <id>] text` lines; returns the passage started at this line, if any.
fn source_line(line: &str) -> Option<(String, String)> {
    let t = line.trim_start();
    let rest = t.strip_prefix(SOURCE_MARKER)?;
    let close = rest.find(']')?;
    let id = rest[..close].trim();
    if id.is_empty() {
        return None;
    }
    Some((id.to_string(), rest[close + 1..].trim().to_string()))
}

/// Splits `text` into its passages and everything else (the lines outside any passage).
fn split(text: &str) -> (Vec<Passage>, String) {
    let mut passages: Vec<Passage> = Vec::new();
    let mut other = String::new();
    let mut in_passage = false;
    for line in text.lines() {
        if let Some((doc_id, first)) = source_line(line) {
            passages.push(Passage {
                doc_id,
                text: first,
            });
            in_passage = true;
        } else if line.trim().is_empty() {
            in_passage = false;
        } else if in_passage {
            if let Some(p) = passages.last_mut() {
                if !p.text.is_empty() {
                    p.text.push(' ');
                }
                p.text.push_str(line.trim());
            }
        } else {
            other.push_str(line);
            other.push('\n');
        }
    }
    (passages, other)
}

/// The context passages of `prompt`, in order, one per doc id (the first passage of an id wins).
pub fn passages(prompt: &str) -> Vec<Passage> {
    let mut out: Vec<Passage> = Vec::new();
    for p in split(prompt).0 {
        if !out.iter().any(|q| q.doc_id == p.doc_id) {
            out.push(p);
        }
    }
    out
}

/// The doc ids of the context passages in `prompt`, in order of first appearance, deduplicated:
/// exactly the ids an answer to this prompt cites.
pub fn cited_sources(prompt: &str) -> Vec<String> {
    passages(prompt).into_iter().map(|p| p.doc_id).collect()
}

/// The question's own words: content words of `text` outside any passage, minus scaffolding.
pub fn question_words(text: &str) -> Vec<String> {
    content_words(&split(text).1)
        .into_iter()
        .filter(|w| !SCAFFOLD_WORDS.contains(&w.as_str()))
        .map(|w| clip(&w).to_string())
        .collect()
}

fn clip(word: &str) -> &str {
    match word.char_indices().nth(MAX_WORD_CHARS) {
        Some((i, _)) => &word[..i],
        None => word,
    }
}

/// The words of a passage, punctuation trimmed from their ends.
fn passage_words(text: &str) -> Vec<&str> {
    text.split_whitespace()
        .map(|w| clip(w.trim_matches(|c: char| !c.is_alphanumeric())))
        .filter(|w| !w.is_empty())
        .collect()
}

/// Draws words cyclically from one list starting at a random offset.
struct Cycle<'a> {
    words: &'a [String],
    next: usize,
}

impl<'a> Cycle<'a> {
    fn new<R: Rng + ?Sized>(words: &'a [String], rng: &mut R) -> Self {
        let next = if words.is_empty() {
            0
        } else {
            rng.random_range(0..words.len())
        };
        Cycle { words, next }
    }

    fn take(&mut self) -> Option<&'a str> {
        let w = self.words.get(self.next % self.words.len().max(1))?;
        self.next += 1;
        Some(w)
    }
}

fn filler<R: Rng + ?Sized>(rng: &mut R) -> &'static str {
    FILLER[rng.random_range(0..FILLER.len())]
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(c) if c.is_lowercase() => c.to_uppercase().chain(chars).collect(),
        _ => word.to_string(),
    }
}

/// Appends one sentence of exactly `budget` words (>= 1) to `out`.
fn sentence<R: Rng + ?Sized>(
    out: &mut Vec<String>,
    budget: usize,
    citation: Option<&str>,
    body: &mut Cycle<'_>,
    question: &mut Cycle<'_>,
    rng: &mut R,
) {
    let start = out.len();
    if let Some(id) = citation {
        let opener = OPENERS[rng.random_range(0..OPENERS.len())];
        let opener: &[&str] = if budget > opener.len() {
            opener
        } else {
            &["@"]
        };
        for w in opener {
            out.push(w.replace('@', &format!("[{id}]")));
        }
    }
    let mut i = 0;
    while out.len() - start < budget {
        // About one word in four comes from the question, the rest from the passage.
        let from_question = if citation.is_some() {
            i % 4 == 1
        } else {
            rng.random_bool(0.4)
        };
        let word = if from_question {
            question.take()
        } else {
            body.take()
        };
        out.push(word.map_or_else(|| filler(rng).to_string(), str::to_string));
        i += 1;
    }
    out[start] = capitalise(&out[start]);
    if let Some(last) = out.last_mut() {
        last.push('.');
    }
}

/// Composes an answer of exactly `n_words` word pieces to `prompt` (all input text), whose
/// question is `question` (usually the last user message).
///
/// With context passages the answer cites them as `[doc_id]` in order of first appearance (as
/// many as fit, one sentence of at least eight words each); without, it is plain text.
pub fn compose<R: Rng + ?Sized>(
    prompt: &str,
    question: &str,
    n_words: usize,
    rng: &mut R,
) -> Vec<String> {
    let sources = passages(prompt);
    let q_words = question_words(question);
    let mut q = Cycle::new(&q_words, rng);
    let mut words: Vec<String> = Vec::with_capacity(n_words);
    if sources.is_empty() {
        let empty: Vec<String> = Vec::new();
        let mut none = Cycle::new(&empty, rng);
        while words.len() < n_words {
            let budget = rng.random_range(8..=14).min(n_words - words.len());
            sentence(&mut words, budget, None, &mut none, &mut q, rng);
        }
    } else if n_words > 0 {
        let m = sources.len().min((n_words / WORDS_PER_CITATION).max(1));
        for (j, source) in sources.iter().take(m).enumerate() {
            let budget = n_words / m + usize::from(j < n_words % m);
            let body: Vec<String> = passage_words(&source.text)
                .into_iter()
                .map(str::to_string)
                .collect();
            let mut body = Cycle::new(&body, rng);
            sentence(
                &mut words,
                budget,
                Some(&source.doc_id),
                &mut body,
                &mut q,
                rng,
            );
        }
    }
    words
        .into_iter()
        .enumerate()
        .map(|(i, w)| if i == 0 { w } else { format!(" {w}") })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const PROMPT: &str = "Answer using only these passages and cite them.\n\
        [source: doc-0042] The primary cooling pump is serviced every six weeks\n\
        by the night shift.\n\
        \n\
        [source: doc-0007] Pump vibration above 4 mm/s triggers an inspection.\n\
        [source: doc-0042] A repeated passage of doc-0042.\n\
        \n\
        Question: How often is the cooling pump serviced?";

    fn text(pieces: &[String]) -> String {
        pieces.concat()
    }

    #[test]
    fn finds_sources_in_order_deduplicated() {
        assert_eq!(cited_sources(PROMPT), ["doc-0042", "doc-0007"]);
        let p = passages(PROMPT);
        assert_eq!(
            p[0].text,
            "The primary cooling pump is serviced every six weeks by the night shift."
        );
        assert_eq!(
            cited_sources("no context here\n[source:] empty id\n[source: x"),
            Vec::<String>::new()
        );
        assert_eq!(
            question_words(PROMPT),
            ["often", "cooling", "pump", "serviced"]
        );
    }

    #[test]
    fn answer_cites_every_source_and_is_deterministic() {
        let a = compose(PROMPT, PROMPT, 40, &mut StdRng::seed_from_u64(1));
        let b = compose(PROMPT, PROMPT, 40, &mut StdRng::seed_from_u64(1));
        assert_eq!(a, b);
        assert_eq!(a.len(), 40);
        let t = text(&a);
        let i42 = t.find("[doc-0042]").expect(&t);
        let i7 = t.find("[doc-0007]").expect(&t);
        assert!(i42 < i7, "{t}");
        assert!(t.ends_with('.'), "{t}");
        assert!(!a[0].starts_with(' '));
        assert!(
            a[1..]
                .iter()
                .all(|w| w.starts_with(' ') && !w[1..].contains(' ')),
            "{a:?}"
        );
        // Words come from the passages and the question.
        assert!(t.contains("pump") || t.contains("Pump"), "{t}");
        let c = compose(PROMPT, PROMPT, 40, &mut StdRng::seed_from_u64(2));
        assert_ne!(a, c, "another seed gives another answer");
    }

    #[test]
    fn short_answers_still_cite_and_long_ones_cite_all() {
        let one = compose(PROMPT, PROMPT, 1, &mut StdRng::seed_from_u64(3));
        assert_eq!(one, ["[doc-0042]."]);
        let nine = text(&compose(PROMPT, PROMPT, 9, &mut StdRng::seed_from_u64(3)));
        assert!(
            nine.contains("[doc-0042]") && !nine.contains("[doc-0007]"),
            "{nine}"
        );
        let long = text(&compose(PROMPT, PROMPT, 200, &mut StdRng::seed_from_u64(3)));
        assert_eq!(long.matches("[doc-0042]").count(), 1);
        assert_eq!(long.matches("[doc-0007]").count(), 1);
        assert!(compose(PROMPT, PROMPT, 0, &mut StdRng::seed_from_u64(3)).is_empty());
    }

    #[test]
    fn without_sources_the_answer_is_plain_text() {
        let q = "Why do reactor pumps vibrate?";
        let a = compose(q, q, 30, &mut StdRng::seed_from_u64(4));
        assert_eq!(a.len(), 30);
        let t = text(&a);
        assert!(!t.contains('['), "{t}");
        assert!(t.ends_with('.'));
        assert!(
            ["reactor", "pumps", "vibrate"]
                .iter()
                .any(|w| t.contains(w)),
            "{t}"
        );
        // Even an empty prompt gets words.
        assert_eq!(compose("", "", 5, &mut StdRng::seed_from_u64(5)).len(), 5);
    }
}
