//! A run's Markdown files (leakage.md, the lesion method's table.md, sweep.md) in the report:
//! one section picked by its heading, rendered by pulldown-cmark with tables, headings moved
//! down to sit under the report's own, raw HTML shown as text.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// The body of the section of `markdown` under the heading whose text starts with `heading`
/// (any level), up to the next heading of the same or a higher level; `None` when absent.
pub fn section(markdown: &str, heading: &str) -> Option<String> {
    let mut lines = markdown.lines();
    let mut level = 0;
    for line in lines.by_ref() {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if hashes > 0 && line[hashes..].trim_start().starts_with(heading) {
            level = hashes;
            break;
        }
    }
    if level == 0 {
        return None;
    }
    let mut body = String::new();
    for line in lines {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if hashes > 0 && hashes <= level && line[hashes..].starts_with(' ') {
            break;
        }
        body.push_str(line);
        body.push('\n');
    }
    Some(body)
}

/// `markdown` without its first line when that line is a level-one title.
pub fn without_title(markdown: &str) -> &str {
    match markdown.split_once('\n') {
        Some((first, rest)) if first.starts_with("# ") => rest,
        _ => markdown,
    }
}

fn lower(level: HeadingLevel, by: usize) -> HeadingLevel {
    let n = (level as usize + by).min(6);
    match n {
        1 => HeadingLevel::H1,
        2 => HeadingLevel::H2,
        3 => HeadingLevel::H3,
        4 => HeadingLevel::H4,
        5 => HeadingLevel::H5,
        _ => HeadingLevel::H6,
    }
}

/// `markdown` as HTML (CommonMark with tables), headings moved down by `shift` levels, raw
/// HTML escaped, every table wrapped in a sideways-scrolling box.
pub fn to_html(markdown: &str, shift: usize) -> String {
    let events = Parser::new_ext(markdown, Options::ENABLE_TABLES).map(|e| match e {
        Event::Start(Tag::Heading {
            level,
            id,
            classes,
            attrs,
        }) => Event::Start(Tag::Heading {
            level: lower(level, shift),
            id,
            classes,
            attrs,
        }),
        Event::End(TagEnd::Heading(level)) => Event::End(TagEnd::Heading(lower(level, shift))),
        Event::Html(t) | Event::InlineHtml(t) => Event::Text(t),
        other => other,
    });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events);
    out.replace("<table>", "<div class=\"scroll\"><table>")
        .replace("</table>", "</table></div>")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "# Title\n\nintro\n\n## First\n\nA | B\n\n| x | y |\n|---|---:|\n| 1 | <b> |\n\n### Sub\n\nsub text\n\n## Second\n\nlast\n";

    #[test]
    fn a_section_runs_to_the_next_heading_of_its_level() {
        let s = section(DOC, "First").unwrap();
        assert!(s.contains("| 1 |") && s.contains("sub text"), "{s}");
        assert!(!s.contains("last"), "{s}");
        assert_eq!(section(DOC, "Second").unwrap().trim(), "last");
        assert!(section(DOC, "Third").is_none());
    }

    #[test]
    fn tables_render_with_header_cells_and_raw_html_stays_text() {
        let html = to_html(&section(DOC, "First").unwrap(), 2);
        assert!(html.contains("<div class=\"scroll\"><table>"), "{html}");
        assert!(html.contains("<th>x</th>"), "{html}");
        assert!(html.contains("&lt;b&gt;"), "{html}");
        assert!(html.contains("<h5>Sub</h5>"), "{html}");
        assert_eq!(without_title(DOC).lines().next(), Some(""));
    }
}
