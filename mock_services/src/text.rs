//! Keeping error messages short: a message that quotes what the client sent (a bad enum value,
//! a model id, a vector name) must not echo megabytes back.

use std::borrow::Cow;

/// Longest run quoted in an error message, characters; a longer one keeps its start and end.
pub const MAX_QUOTED_CHARS: usize = 200;

/// Longest error message, characters; a longer one keeps its start and end.
pub const MAX_MESSAGE_CHARS: usize = 2_000;

/// `s` shortened to its first and last characters around an "… N characters elided …" marker
/// when it is longer than `max` characters.
fn shorten(s: &str, max: usize, out: &mut String) {
    let n = s.chars().count();
    if n <= max {
        out.push_str(s);
        return;
    }
    let head = max * 3 / 4;
    let tail = max - head;
    out.extend(s.chars().take(head));
    out.push_str(&format!("…[{} characters elided]…", n - head - tail));
    out.extend(s.chars().skip(n - tail));
}

/// The message with every quoted run (between a pair of `` ` ``, `'` or `"`) longer than
/// [`MAX_QUOTED_CHARS`] shortened, then the whole capped at [`MAX_MESSAGE_CHARS`]. Short
/// messages are returned as they are.
pub fn elide(message: &str) -> Cow<'_, str> {
    if message.len() <= MAX_QUOTED_CHARS {
        return Cow::Borrowed(message);
    }
    let mut out = String::with_capacity(MAX_MESSAGE_CHARS.min(message.len()) + 64);
    let mut rest = message;
    while let Some(open) = rest.find(['`', '\'', '"']) {
        let quote = rest[open..].chars().next().unwrap_or('"');
        let inner_start = open + quote.len_utf8();
        let Some(len) = rest[inner_start..].find(quote) else {
            break;
        };
        out.push_str(&rest[..inner_start]);
        shorten(
            &rest[inner_start..inner_start + len],
            MAX_QUOTED_CHARS,
            &mut out,
        );
        out.push(quote);
        rest = &rest[inner_start + len + quote.len_utf8()..];
    }
    out.push_str(rest);
    if out.chars().count() > MAX_MESSAGE_CHARS {
        let mut capped = String::with_capacity(MAX_MESSAGE_CHARS + 64);
        shorten(&out, MAX_MESSAGE_CHARS, &mut capped);
        out = capped;
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_messages_are_untouched() {
        let m = "unknown variant `Cos`, expected one of `Cosine`, `Dot`";
        assert!(matches!(elide(m), Cow::Borrowed(_)));
    }

    #[test]
    fn long_quoted_runs_keep_their_ends_and_the_rest_of_the_message() {
        let big = "x".repeat(10_000_000);
        let m = format!("unknown variant `{big}`, expected one of `Cosine` at line 1 column 9");
        let e = elide(&m);
        assert!(e.len() < 1_000, "{}", e.len());
        assert!(e.starts_with("unknown variant `xxx"), "{e}");
        assert!(e.contains("characters elided"), "{e}");
        assert!(
            e.ends_with("`, expected one of `Cosine` at line 1 column 9"),
            "{e}"
        );
        let q = format!("Value '{big}' at 'messages.0.member.role'");
        let e = elide(&q);
        assert!(e.ends_with("' at 'messages.0.member.role'"), "{e}");
    }

    #[test]
    fn unquoted_giants_are_capped_too() {
        let m = format!("bad: {}", "é".repeat(50_000));
        let e = elide(&m);
        assert!(
            e.chars().count() <= MAX_MESSAGE_CHARS + 40,
            "{}",
            e.chars().count()
        );
        assert!(e.starts_with("bad: é"));
    }
}
