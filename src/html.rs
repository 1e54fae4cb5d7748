//! The one HTML page builder: every self-contained page ragperf writes (`report`'s and the
//! tour's `index.html`) is a [`Page`] with one stylesheet, one escape, one table writer, one
//! figure writer and one skeleton, so the two reports look alike and a fix reaches both.
//!
//! A page has no script and no external resource: charts are inlined as SVG, styles sit in the
//! head, so it opens straight from disk, a CI artefact or an e-mail. The builder knows nothing
//! of results or tours (it imports no other module of the crate): callers hand it text, HTML
//! fragments and SVG, and add sections with [`Page::push`] wherever the helpers do not fit.

use std::fmt::Write as _;

/// The one stylesheet. Tables of figures (`table.figures`) are compact: headings wrap, numbers
/// stay on one line and right-aligned, the last column (errors, notes) wraps, and nothing is
/// hidden behind a horizontal scroll bar (#15 item 9: the results table fits 1,400 px).
const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Open Sans',sans-serif;color:#222;
 max-width:1280px;margin:0 auto;padding:0 24px 48px;line-height:1.5;background:#fff}
h1{margin:28px 0 4px;font-size:28px}h2{margin-top:40px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{margin:28px 0 6px}
p,li,blockquote{max-width:980px}
.prov{color:#555;margin-top:0}
code{background:#f3f3f3;padding:1px 4px;border-radius:3px;font-size:92%}
blockquote{margin:10px 0;padding:6px 14px;border-left:4px solid #ccc;color:#444;background:#fafafa}
table{border-collapse:collapse;font-size:14px;margin:12px 0}
th,td{padding:4px 7px;border-bottom:1px solid #e4e4e4;text-align:left;vertical-align:top}
th{background:#f6f6f6}
table.figures{font-size:13px}
table.figures th{vertical-align:bottom;font-weight:600}
table.figures td{white-space:nowrap;text-align:right}
table.figures td:first-child,table.figures td:nth-child(2){text-align:left}
table.figures td:last-child{white-space:normal;text-align:left;min-width:8em}
tr:hover td{background:#fafafa}
.swatch{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:6px;vertical-align:-1px}
.v{display:inline-block;padding:1px 9px;border-radius:10px;font-weight:600;font-size:90%;white-space:nowrap}
.confirmed{background:#d9f2e3;color:#11643a}.qualified{background:#fff0cc;color:#7a5200}
.not-confirmed,.none{background:#fbdada;color:#8a1c1c}
figure{margin:18px 0 30px}figure svg{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#444;max-width:920px;margin-top:6px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(900px,1fr));gap:8px 24px}
.warn{background:#fff4e5;border:1px solid #f0b060;padding:10px 14px;border-radius:4px}
.note{color:#555;font-size:14px}
details{margin:12px 0}summary{cursor:pointer;font-weight:600}
nav a{margin-right:14px}
@media print{nav{display:none}figure{break-inside:avoid}}
";

/// Escapes text for HTML (element content and quoted attribute values).
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The little Markdown ragperf's prose uses, as HTML: `code` and **bold**, the rest escaped.
pub fn inline(md: &str) -> String {
    let mut out = String::new();
    for (i, part) in escape(md).split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            for (j, piece) in part.split("**").enumerate() {
                if j % 2 == 1 {
                    let _ = write!(out, "<strong>{piece}</strong>");
                } else {
                    out.push_str(piece);
                }
            }
        }
    }
    out
}

/// What a table holds, which decides its layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableKind {
    /// Measured figures: compact, numbers right-aligned on one line, the first two columns
    /// (subject, load) and the last (errors, notes) left-aligned, the last one wrapping.
    Figures,
    /// Words: left-aligned, every cell wraps.
    Text,
}

/// One chart for [`Page::figure`].
pub struct Figure<'a> {
    /// The anchor (`id`) of the figure, if it has one.
    pub id: Option<&'a str>,
    /// The SVG text, or why the chart could not be drawn.
    pub svg: Result<&'a str, &'a str>,
    /// What to look at (HTML; may be empty).
    pub caption: &'a str,
    /// The files the chart was written to, e.g. `charts/q5_makespan.svg` (text).
    pub files: &'a str,
}

/// A page being written: [`Page::new`] writes the head, [`Page::finish`] closes it.
pub struct Page {
    out: String,
}

impl Page {
    /// Starts a page: the head with its `<title>` and the stylesheet, the `<h1>` heading and,
    /// when not empty, the provenance line under it (Markdown-flavoured text).
    pub fn new(title: &str, heading: &str, provenance: &str) -> Page {
        let mut out = String::new();
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
            escape(title),
            escape(heading)
        );
        if !provenance.is_empty() {
            let _ = writeln!(out, "<p class=\"prov\">{}</p>", inline(provenance));
        }
        Page { out }
    }

    /// Appends an HTML fragment as it is (the caller escapes what it puts in).
    pub fn push(&mut self, html: &str) {
        self.out.push_str(html);
    }

    /// A section heading (`level` 2 or 3) with an optional anchor; `text` is escaped.
    pub fn heading(&mut self, level: u8, id: Option<&str>, text: &str) {
        let id = id.map_or(String::new(), |id| format!(" id=\"{}\"", escape(id)));
        let _ = writeln!(self.out, "<h{level}{id}>{}</h{level}>", inline(text));
    }

    /// A paragraph of Markdown-flavoured text, with an optional class (`note`, `warn`).
    pub fn paragraph(&mut self, class: Option<&str>, md: &str) {
        let class = class.map_or(String::new(), |c| format!(" class=\"{}\"", escape(c)));
        let _ = writeln!(self.out, "<p{class}>{}</p>", inline(md));
    }

    /// A bullet list of Markdown-flavoured lines.
    pub fn list<'a>(&mut self, lines: impl IntoIterator<Item = &'a str>) {
        self.out.push_str("<ul>\n");
        for line in lines {
            let _ = writeln!(self.out, "<li>{}</li>", inline(line));
        }
        self.out.push_str("</ul>\n");
    }

    /// A table. `header` is text (escaped); every cell of `rows` is an HTML fragment, so a
    /// caller can add a link, a colour swatch or a badge (use [`inline`] or [`escape`] for
    /// plain text).
    pub fn table(&mut self, kind: TableKind, header: &[&str], rows: &[Vec<String>]) {
        let class = match kind {
            TableKind::Figures => " class=\"figures\"",
            TableKind::Text => "",
        };
        let _ = write!(self.out, "<table{class}><thead><tr>");
        for h in header {
            let _ = write!(self.out, "<th>{}</th>", inline(h));
        }
        self.out.push_str("</tr></thead><tbody>\n");
        for row in rows {
            self.out.push_str("<tr>");
            for cell in row {
                let _ = write!(self.out, "<td>{cell}</td>");
            }
            self.out.push_str("</tr>\n");
        }
        self.out.push_str("</tbody></table>\n");
    }

    /// One chart, inlined, with its caption and the files it was written to; a chart that
    /// could not be drawn leaves a visible warning in its place.
    pub fn figure(&mut self, f: &Figure) {
        match f.id {
            Some(id) => {
                let _ = writeln!(self.out, "<figure id=\"{}\">", escape(id));
            }
            None => self.out.push_str("<figure>"),
        }
        match f.svg {
            Ok(svg) => self.out.push_str(svg),
            Err(e) => {
                let _ = write!(
                    self.out,
                    "<p class=\"warn\">This chart could not be drawn: {}</p>",
                    escape(e)
                );
            }
        }
        let _ = writeln!(
            self.out,
            "<figcaption>{} <em>({})</em></figcaption></figure>",
            f.caption,
            escape(f.files)
        );
    }

    /// Closes the page and returns its text.
    pub fn finish(mut self) -> String {
        self.out.push_str("</body></html>\n");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_inline_markdown_rendered() {
        assert_eq!(
            escape("<a href=\"x\">&"),
            "&lt;a href=&quot;x&quot;&gt;&amp;"
        );
        assert_eq!(
            inline("run `ragperf <x>` **now**"),
            "run <code>ragperf &lt;x&gt;</code> <strong>now</strong>"
        );
    }

    #[test]
    fn a_page_is_one_self_contained_document() {
        let mut page = Page::new("t <1>", "Heading", "by `me`");
        page.heading(2, Some("a b"), "Section");
        page.table(
            TableKind::Figures,
            &["variant", "req/s"],
            &[vec!["<code>sync</code>".into(), "1.0".into()]],
        );
        page.figure(&Figure {
            id: None,
            svg: Err("no <font>"),
            caption: "",
            files: "charts/x.svg",
        });
        let html = page.finish();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.ends_with("</body></html>\n"));
        assert_eq!(html.matches("<style>").count(), 1);
        assert!(html.contains("<title>t &lt;1&gt;</title>"));
        assert!(html.contains("<p class=\"prov\">by <code>me</code></p>"));
        assert!(html.contains("<h2 id=\"a b\">Section</h2>"));
        assert!(html.contains("<table class=\"figures\"><thead><tr><th>variant</th>"));
        assert!(html.contains("could not be drawn: no &lt;font&gt;"));
        // Nothing hides a table's columns behind a scroll bar, and nothing is fetched.
        assert!(!html.contains("overflow-x") && !html.contains("<script"));
    }
}
