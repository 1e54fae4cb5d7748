//! The variant registry: the one place a variant is named. Its contract name, a one-line
//! summary, the OS thread names it creates (for `threads_peak`) and its chart colour and marker
//! are one [`Variant`] row of [`VARIANTS`], in report order. [`super::VariantKind`]'s name,
//! parsing, serde form and order, the `--variant` help, the scenario's check and the charts' styles
//! all read this table; adding a variant adds one row here and one arm to
//! [`super::start_executor`] (docs/design.md §2 "Where things live").

use super::VariantKind;
use super::sync_stream;

/// The marker a chart draws a variant's points with, so lines stay apart without colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    /// Filled circle.
    Circle,
    /// Filled square.
    Square,
    /// Filled triangle.
    Triangle,
    /// A cross.
    Cross,
    /// Hollow circle.
    Ring,
    /// Hollow square.
    Frame,
}

/// Everything outside its own file that ragperf needs to know about one variant.
#[derive(Clone, Copy, Debug)]
pub struct Variant {
    /// Which variant.
    pub kind: VariantKind,
    /// The contract name (docs/design.md §4): `--variant`, `result.json`, reports.
    pub name: &'static str,
    /// What runs where, in one line (README "What each variant is" says more).
    pub summary: &'static str,
    /// Prefixes of the OS thread names it creates.
    pub thread_prefixes: &'static [&'static str],
    /// Chart colour (RGB), from the Okabe–Ito palette: distinct for colour-blind readers, dark
    /// enough on white and in print.
    pub colour: (u8, u8, u8),
    /// Chart marker (`sync-stream` shares `hybrid`'s marker but not its colour).
    pub marker: Marker,
}

/// Every variant, in report order (the order of `VariantKind`'s declaration).
pub const VARIANTS: [Variant; 7] = [
    Variant {
        kind: VariantKind::Sequential,
        name: "sequential",
        summary: "one thread, requests one after another",
        thread_prefixes: &["seq-worker"],
        colour: (90, 90, 90),
        marker: Marker::Cross,
    },
    Variant {
        kind: VariantKind::Sync,
        name: "sync",
        summary: "blocking clients, an OS thread per in-flight request (--workers caps the pool)",
        thread_prefixes: &["sync-worker-"],
        colour: (213, 94, 0),
        marker: Marker::Square,
    },
    Variant {
        kind: VariantKind::SyncStream,
        name: "sync-stream",
        summary: "blocking clients on one shared pool, a job per request body and per token read",
        thread_prefixes: &[sync_stream::THREAD_PREFIX],
        colour: (86, 180, 233),
        marker: Marker::Triangle,
    },
    Variant {
        kind: VariantKind::Hybrid,
        name: "hybrid",
        summary: "blocking embed + retrieve in spawn_blocking, async streaming generation",
        thread_prefixes: &["hybrid-rt-"],
        colour: (230, 159, 0),
        marker: Marker::Triangle,
    },
    Variant {
        kind: VariantKind::Async,
        name: "async",
        summary: "async clients end to end on a multi-thread runtime",
        thread_prefixes: &["async-rt-"],
        colour: (0, 114, 178),
        marker: Marker::Circle,
    },
    Variant {
        kind: VariantKind::AsyncSingle,
        name: "async-single",
        summary: "async clients on a current-thread runtime: one thread, like Python's event loop",
        thread_prefixes: &["async-single"],
        colour: (0, 158, 115),
        marker: Marker::Ring,
    },
    Variant {
        kind: VariantKind::BlockingInAsync,
        name: "blocking-in-async",
        summary: "the anti-pattern: blocking clients called directly inside async tasks",
        thread_prefixes: &["bia-rt-"],
        colour: (204, 121, 167),
        marker: Marker::Frame,
    },
];

/// Every kind, in report order.
pub const KINDS: [VariantKind; VARIANTS.len()] = {
    let mut kinds = [VariantKind::Sequential; VARIANTS.len()];
    let mut i = 0;
    while i < VARIANTS.len() {
        kinds[i] = VARIANTS[i].kind;
        i += 1;
    }
    kinds
};

/// Every contract name, in report order.
pub const NAMES: [&str; VARIANTS.len()] = {
    let mut names = [""; VARIANTS.len()];
    let mut i = 0;
    while i < VARIANTS.len() {
        names[i] = VARIANTS[i].name;
        i += 1;
    }
    names
};

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// `VariantKind::info` indexes the table by declaration order.
    #[test]
    fn rows_follow_the_declaration_order() {
        for (i, v) in VARIANTS.iter().enumerate() {
            assert_eq!(v.kind as usize, i, "{} is row {i}", v.name);
            assert_eq!(v.kind.info().name, v.name);
        }
    }

    /// What each consumer needs: a name that parses back (`--variant`, scenarios, serde), a
    /// summary, thread names to count, a colour of its own, and its row in the docs.
    #[test]
    fn every_variant_has_what_its_consumers_need() {
        let readme = section("README.md", "## What each variant is");
        let design = section("docs/design.md", "## 4. Variants");
        let mut names = BTreeSet::new();
        let mut colours = BTreeSet::new();
        for v in &VARIANTS {
            assert!(names.insert(v.name), "{}: the name is taken", v.name);
            assert!(colours.insert(v.colour), "{}: the colour is taken", v.name);
            assert_eq!(VariantKind::parse(v.name), Some(v.kind), "{}", v.name);
            let json = serde_json::to_string(&v.kind).expect("serialise");
            assert_eq!(json, format!("\"{}\"", v.name));
            let back: VariantKind = serde_json::from_str(&json).expect("deserialise");
            assert_eq!(back, v.kind);
            assert!(!v.summary.trim().is_empty(), "{}: no summary", v.name);
            assert!(
                v.thread_prefixes.iter().any(|p| !p.is_empty()),
                "{}: no thread names to count",
                v.name
            );
            let row = format!("| `{}` |", v.name);
            assert!(
                readme.contains(&row),
                "README \"What each variant is\" lacks {row}"
            );
            assert!(design.contains(&row), "docs/design.md §4 lacks {row}");
        }
    }

    /// The text of `file`'s section under `heading`, up to the next `## ` heading.
    fn section(file: &str, heading: &str) -> String {
        let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect(file);
        let start = text
            .find(heading)
            .unwrap_or_else(|| panic!("{file}: no {heading}"));
        let rest = &text[start + heading.len()..];
        rest[..rest.find("\n## ").unwrap_or(rest.len())].to_string()
    }

    #[test]
    fn an_unknown_name_is_refused_with_the_list() {
        let err = serde_json::from_str::<VariantKind>("\"threads\"").unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown variant `threads`, expected one of `sequential`, `sync`"),
            "{err}"
        );
        assert_eq!(VariantKind::parse("threads"), None);
    }
}
