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
#[rustfmt::skip]
const SCAFFOLD_WORDS: &[&str] = &[
    "about", "all", "answer", "any", "based", "been", "can", "cite", "context", "could",
    "following", "given", "had", "has", "have", "i", "if", "into", "me", "my", "no", "not", "only",
    "our", "passage", "passages", "please", "question", "should", "so", "source", "sources",
    "than", "their", "them", "then", "there", "these", "they", "those", "us", "use", "using",
    "was", "we", "were", "will", "would", "you", "your",
];

/// Sentences of an answer without context; `Q` is replaced by the question's subject.
const PLAIN_SENTENCES: &[&str] = &[
    "In practice Q depends on several factors",
    "The answer for Q typically varies with configuration and expected load",
    "Q usually requires careful review over time",
    "Overall the results for Q vary with usage",
    "A common approach to Q is to measure first and then adjust the design",
    "Q is easier to reason about against a clear baseline",
];

/// How the first sentence about a source opens; `@` is the `[doc_id]` citation. The passage's
/// words follow.
const OPENERS: &[&str] = &[
    "According to @,",
    "As @ notes,",
    "@ reports that",
    "Per @,",
    "Based on @,",
];

/// How later sentences about the same source open; a run of the passage's words follows.
const FOLLOW_UPS: &[&str] = &[
    "It also notes that",
    "On Q it adds",
    "This means",
    "In particular",
    "For Q,",
];

/// Fewest words each cited source gets before the answer stops citing further sources.
const WORDS_PER_CITATION: usize = 8;

/// Most passage words the first sentence about a source copies.
const FIRST_RUN: usize = 20;

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

/// The question's subject for `Q`: up to three of its words, in turn, or "this".
struct Subject<'a> {
    words: &'a [String],
    next: usize,
}

impl Subject<'_> {
    fn take(&mut self) -> Vec<String> {
        if self.words.is_empty() {
            return vec!["this".to_string()];
        }
        let n = self.words.len().min(3);
        let out = (0..n)
            .map(|i| self.words[(self.next + i) % self.words.len()].clone())
            .collect();
        self.next += n;
        out
    }
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(c) if c.is_lowercase() => c.to_uppercase().chain(chars).collect(),
        _ => word.to_string(),
    }
}

/// Lower-cases an ordinary capitalised word ("The" -> "the"), leaving acronyms ("NASA", "B").
fn decapitalise(word: &str) -> String {
    let mut chars = word.chars();
    match (chars.next(), chars.next()) {
        (Some(a), Some(b)) if a.is_uppercase() && b.is_lowercase() => a
            .to_lowercase()
            .chain(word[a.len_utf8()..].chars())
            .collect(),
        _ => word.to_string(),
    }
}

/// Expands a template into words: `@` becomes the citation, `Q` the question's subject (any
/// punctuation after either is kept).
fn expand(template: &str, citation: &str, subject: &mut Subject<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for w in template.split_whitespace() {
        if let Some(rest) = w.strip_prefix('Q') {
            out.extend(subject.take());
            if let Some(last) = out.last_mut() {
                last.push_str(rest);
            }
        } else {
            out.push(w.replace('@', citation));
        }
    }
    out
}

/// Ends the sentence in `words[start..]`: a capital first letter and a full stop.
fn finish(words: &mut [String], start: usize) {
    if let Some(first) = words.get_mut(start) {
        *first = capitalise(first);
    }
    end_with_stop(words);
}

/// Replaces trailing `,;:` of the last word with a full stop (unless it already ends one).
fn end_with_stop(words: &mut [String]) {
    if let Some(last) = words.last_mut() {
        let kept = last.trim_end_matches([',', ';', ':']).len();
        last.truncate(kept);
        if !last.ends_with(['.', '!', '?']) {
            last.push('.');
        }
    }
}

/// Exactly `budget` (>= 1) words about one source, opening with its citation.
fn cited<R: Rng + ?Sized>(
    doc_id: &str,
    passage: &[&str],
    budget: usize,
    subject: &mut Subject<'_>,
    rng: &mut R,
) -> Vec<String> {
    let citation = format!("[{doc_id}]");
    let mut out = expand(
        OPENERS[rng.random_range(0..OPENERS.len())],
        &citation,
        subject,
    );
    if out.len() >= budget {
        // Too short for an opener: the citation alone leads.
        out = vec![citation.clone()];
    }
    let run_start = out.len();
    out.extend(passage.iter().take(FIRST_RUN).map(|w| w.to_string()));
    if run_start > 0 {
        // The passage continues the opener's sentence: "According to [d], the pump ...".
        if let Some(w) = out.get_mut(run_start) {
            *w = decapitalise(w);
        }
    }
    finish(&mut out, 0);
    while out.len() < budget {
        let start = out.len();
        if passage.is_empty() {
            let plain = PLAIN_SENTENCES[rng.random_range(0..PLAIN_SENTENCES.len())];
            out.extend(expand(plain, &citation, subject));
        } else {
            let follow = FOLLOW_UPS[rng.random_range(0..FOLLOW_UPS.len())];
            out.extend(expand(follow, &citation, subject));
            let from = rng.random_range(0..passage.len());
            let len = rng.random_range(4..=10);
            out.extend(passage[from..].iter().take(len).map(|w| w.to_string()));
        }
        finish(&mut out, start);
    }
    out.truncate(budget);
    end_with_stop(&mut out);
    out
}

/// Composes an answer of exactly `n_words` word pieces to `prompt` (all input text), whose
/// question is `question` (usually the last user message).
///
/// With context passages the answer cites them as `[doc_id]` in order of first appearance (as
/// many as fit, at least eight words each), quoting their words; without, it is plain text
/// about the question's subject.
pub fn compose<R: Rng + ?Sized>(
    prompt: &str,
    question: &str,
    n_words: usize,
    rng: &mut R,
) -> Vec<String> {
    let sources = passages(prompt);
    let q_words = question_words(question);
    let next = if q_words.is_empty() {
        0
    } else {
        rng.random_range(0..q_words.len())
    };
    let mut subject = Subject {
        words: &q_words,
        next,
    };
    let mut words: Vec<String> = Vec::with_capacity(n_words + 16);
    if n_words == 0 {
        return words;
    }
    if sources.is_empty() {
        let mut k = rng.random_range(0..PLAIN_SENTENCES.len());
        while words.len() < n_words {
            let start = words.len();
            words.extend(expand(
                PLAIN_SENTENCES[k % PLAIN_SENTENCES.len()],
                "",
                &mut subject,
            ));
            finish(&mut words, start);
            k += 1;
        }
        words.truncate(n_words);
        end_with_stop(&mut words);
    } else {
        let m = sources.len().min((n_words / WORDS_PER_CITATION).max(1));
        for (j, source) in sources.iter().take(m).enumerate() {
            let budget = n_words / m + usize::from(j < n_words % m);
            let passage = passage_words(&source.text);
            words.extend(cited(&source.doc_id, &passage, budget, &mut subject, rng));
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
        assert!(!t.contains("], The") && !t.contains("that The"), "{t}");
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
