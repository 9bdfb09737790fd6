//! The pieces of an HTML page: escaping, tables with header cells, figures inlined as data
//! URIs, and the page shell with its stylesheet (no script, no external resource).
//!
//! Written by hand: the pages are a few tables and figures, and a template engine would add a
//! dependency and a second syntax for what `format!` and an escaping function do.

use std::fmt::Write as _;

use base64::Engine as _;

/// `text` with `&`, `<`, `>`, `"` and `'` escaped, for element content and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A `data:` URI of `bytes` with the media type `mime`.
pub fn data_uri(mime: &str, bytes: &[u8]) -> String {
    format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The media type of an image file by its extension (`png`, `svg`), if it is one the pages
/// inline.
pub fn image_mime(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".png") {
        Some("image/png")
    } else if lower.ends_with(".svg") {
        Some("image/svg+xml")
    } else {
        None
    }
}

/// One cell of a [`Table`] body: text (escaped when rendered), or markup already escaped.
#[derive(Clone, Debug)]
pub enum Cell {
    /// Plain text.
    Text(String),
    /// Markup, already escaped.
    Html(String),
}

impl Cell {
    fn render(&self) -> String {
        match self {
            Cell::Text(t) => escape(t),
            Cell::Html(h) => h.clone(),
        }
    }
}

impl From<&str> for Cell {
    fn from(t: &str) -> Cell {
        Cell::Text(t.to_string())
    }
}

impl From<String> for Cell {
    fn from(t: String) -> Cell {
        Cell::Text(t)
    }
}

/// A group of body rows, optionally under a heading row that spans the table
/// (`<th scope="rowgroup">`).
#[derive(Clone, Debug, Default)]
pub struct RowGroup {
    /// The heading row, if any.
    pub heading: Option<String>,
    /// The rows; the first cell of each is its row header (`<th scope="row">`).
    pub rows: Vec<Vec<Cell>>,
}

/// A table with a caption, column headers and row headers.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// The caption (text).
    pub caption: String,
    /// Column headers.
    pub header: Vec<String>,
    /// Body rows, in groups.
    pub groups: Vec<RowGroup>,
    /// Columns (0-based) whose cells are numbers: right-aligned.
    pub numeric: Vec<usize>,
    /// An `id` for the table element (e.g. for tests and links).
    pub id: Option<String>,
}

impl Table {
    /// A table with one group of rows.
    pub fn new(caption: impl Into<String>, header: &[&str], rows: Vec<Vec<Cell>>) -> Table {
        Table {
            caption: caption.into(),
            header: header.iter().map(|h| h.to_string()).collect(),
            groups: vec![RowGroup {
                heading: None,
                rows,
            }],
            numeric: Vec::new(),
            id: None,
        }
    }

    /// Marks columns as numeric.
    pub fn numeric(mut self, columns: impl IntoIterator<Item = usize>) -> Table {
        self.numeric.extend(columns);
        self
    }

    /// Sets the table's `id`.
    pub fn with_id(mut self, id: &str) -> Table {
        self.id = Some(id.to_string());
        self
    }

    /// Whether the table has no body row.
    pub fn is_empty(&self) -> bool {
        self.groups.iter().all(|g| g.rows.is_empty())
    }

    /// The table as HTML, inside a horizontally scrolling box (narrow screens).
    pub fn render(&self) -> String {
        let mut s = String::from("<div class=\"scroll\">");
        match &self.id {
            Some(id) => {
                let _ = write!(s, "<table id=\"{}\">", escape(id));
            }
            None => s.push_str("<table>"),
        }
        let _ = write!(s, "<caption>{}</caption><thead><tr>", escape(&self.caption));
        for (i, h) in self.header.iter().enumerate() {
            let _ = write!(s, "<th scope=\"col\"{}>{}</th>", self.class(i), escape(h));
        }
        s.push_str("</tr></thead>");
        for g in &self.groups {
            s.push_str("<tbody>");
            if let Some(h) = &g.heading {
                let _ = write!(
                    s,
                    "<tr><th scope=\"rowgroup\" colspan=\"{}\" class=\"group\">{}</th></tr>",
                    self.header.len().max(1),
                    escape(h)
                );
            }
            for row in &g.rows {
                s.push_str("<tr>");
                for (i, cell) in row.iter().enumerate() {
                    if i == 0 {
                        let _ = write!(s, "<th scope=\"row\">{}</th>", cell.render());
                    } else {
                        let _ = write!(s, "<td{}>{}</td>", self.class(i), cell.render());
                    }
                }
                s.push_str("</tr>");
            }
            s.push_str("</tbody>");
        }
        s.push_str("</table></div>\n");
        s
    }

    fn class(&self, column: usize) -> &'static str {
        if self.numeric.contains(&column) {
            " class=\"num\""
        } else {
            ""
        }
    }
}

/// A figure: an image inlined as a data URI, with its alternative text and a caption.
pub fn figure(mime: &str, bytes: &[u8], alt: &str, caption: &str) -> String {
    format!(
        "<figure><img src=\"{}\" alt=\"{}\"><figcaption>{}</figcaption></figure>\n",
        data_uri(mime, bytes),
        escape(alt),
        caption
    )
}

/// A link to `href` (a path relative to the page) showing `text`.
pub fn link(href: &str, text: &str) -> String {
    // Each path segment percent-encoded where it must be; `/` kept.
    let mut encoded = String::new();
    for b in href.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            encoded.push(b as char);
        } else {
            let _ = write!(encoded, "%{b:02X}");
        }
    }
    format!("<a href=\"{encoded}\">{}</a>", escape(text))
}

/// The stylesheet of every page: readable from phone width to a wide screen, tables scroll
/// sideways in their own box rather than widening the page, figures shrink to fit.
const STYLE: &str = "
:root { color-scheme: light; --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --band: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1200px; padding: 0 1rem 3rem; font: 16px/1.5 system-ui,
  -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif; color: var(--ink); background: #fff; }
header { border-bottom: 2px solid var(--ink); margin-bottom: 1rem; }
h1 { font-size: 1.7rem; margin: 1.2rem 0 0.3rem; }
h2 { font-size: 1.35rem; margin-top: 2.2rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.1rem; margin-top: 1.6rem; }
p, li { max-width: 75ch; }
.muted, figcaption, .note { color: var(--muted); font-size: 0.92rem; }
nav ul { display: flex; flex-wrap: wrap; gap: 0.3rem 1.2rem; padding: 0; list-style: none; }
.scroll { overflow-x: auto; margin: 0.8rem 0; }
table { border-collapse: collapse; font-size: 0.88rem; min-width: 50%; }
caption { text-align: left; font-weight: 600; padding: 0.3rem 0; caption-side: top; }
th, td { border: 1px solid var(--line); padding: 0.25rem 0.45rem; vertical-align: top; }
thead th { background: var(--band); text-align: left; }
tbody th { text-align: left; font-weight: 600; }
th.group { background: #eef2f6; font-weight: 700; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.claimed td, tr.claimed th { background: #fff8e6; }
code { font-size: 0.88em; word-break: break-all; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
figure { margin: 1rem 0; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); }
.heatmaps { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 420px), 1fr));
  gap: 1rem; }
.heatmaps figure { margin: 0; }
.scale { max-width: 420px; margin: 0.5rem 0 1rem; }
.scale .bar { height: 16px; border: 1px solid var(--line); }
.scale .ticks { display: flex; justify-content: space-between; font-size: 0.85rem; }
.warning { border-left: 4px solid #bf8700; background: #fff8e6; padding: 0.5rem 0.8rem; }
@media (max-width: 600px) {
  body { font-size: 15px; padding: 0 0.6rem 2rem; }
  dl.facts { grid-template-columns: 1fr; }
  dl.facts dd { margin-bottom: 0.4rem; }
}
";

/// A whole page: `title`, a navigation list of `(id, heading)` pairs, and `body` (sections
/// already rendered).
pub fn page(title: &str, intro: &str, nav: &[(String, String)], body: &str) -> String {
    let mut s =
        String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(s, "<title>{}</title>", escape(title));
    let _ = writeln!(s, "<style>{STYLE}</style>\n</head>\n<body>");
    let _ = write!(s, "<header><h1>{}</h1>{intro}", escape(title));
    if !nav.is_empty() {
        s.push_str("<nav aria-label=\"Sections\"><ul>");
        for (id, heading) in nav {
            let _ = write!(
                s,
                "<li><a href=\"#{}\">{}</a></li>",
                escape(id),
                escape(heading)
            );
        }
        s.push_str("</ul></nav>");
    }
    s.push_str("</header>\n<main>\n");
    s.push_str(body);
    s.push_str("</main>\n</body>\n</html>\n");
    s
}

/// A definition list of facts: `(term, value markup)`.
pub fn facts(items: &[(String, String)]) -> String {
    let mut s = String::from("<dl class=\"facts\">");
    for (term, value) in items {
        let _ = write!(s, "<dt>{}</dt><dd>{value}</dd>", escape(term));
    }
    s.push_str("</dl>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">Tom & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
        );
    }

    #[test]
    fn tables_have_column_and_row_headers_and_escape_text() {
        let t = Table::new(
            "Figures <1>",
            &["Model", "AUC"],
            vec![vec!["A&B".into(), "70.0".into()]],
        )
        .numeric([1]);
        let html = t.render();
        assert!(
            html.contains("<caption>Figures &lt;1&gt;</caption>"),
            "{html}"
        );
        assert!(html.contains("<th scope=\"col\">Model</th>"), "{html}");
        assert!(
            html.contains("<th scope=\"col\" class=\"num\">AUC</th>"),
            "{html}"
        );
        assert!(html.contains("<th scope=\"row\">A&amp;B</th><td class=\"num\">70.0</td>"));
    }

    #[test]
    fn links_encode_what_a_url_cannot_hold() {
        assert_eq!(
            link("lesion/heatmaps/a b#1.png", "x"),
            "<a href=\"lesion/heatmaps/a%20b%231.png\">x</a>"
        );
    }

    #[test]
    fn data_uris_are_base64() {
        // base64 of "hi" is "aGk=".
        assert_eq!(data_uri("text/plain", b"hi"), "data:text/plain;base64,aGk=");
    }
}
