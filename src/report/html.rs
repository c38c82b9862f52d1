//! `report.html`: one self-contained page (inline SVG and CSS, no network, no script from
//! elsewhere) made from the Markdown report rnnlab writes, so the two never disagree.
//!
//! The Markdown is CommonMark with pipe tables, turned into HTML by pulldown-cmark. An image line
//! `![caption](plots/x.svg)` whose file exists is inlined as the SVG itself in a `<figure>`.
//!
//! The page checks itself when it loads: a small inline script measures every figure and records
//! `rendered: N plots, M empty, E errors` in `<meta name="rnnlab-render-check">`, so a headless
//! browser's `--dump-dom` shows whether every plot has a size and no script error occurred.

use std::path::Path;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::error::{Error, Result};

/// The page's style: readable widths, tables with borders, figures scaled to the page.
const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45;color:#222}\
h1{border-bottom:2px solid #ddd;padding-bottom:.3em}h2{border-bottom:1px solid #eee;padding-bottom:.2em;margin-top:2em}\
table{border-collapse:collapse;margin:1em 0;font-size:.9em;display:block;overflow-x:auto}\
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}td{white-space:normal}th{background:#f4f4f4;min-width:4em}\
code{background:#f4f4f4;padding:0 .2em;border-radius:3px}pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:.85em}\
figure{margin:1.5em 0}figure svg{width:100%;height:auto;max-width:1000px;display:block;border:1px solid #eee}\
figcaption{color:#555;font-size:.9em;margin-top:.3em}nav a{margin-right:1em}";

/// Measures every figure and table once the page has loaded and records the result in a meta
/// element: plots without a size, script errors and tables that scroll sideways (wider than the
/// page's text column; the browser test loads the page at 1280 px).
const CHECK_SCRIPT: &str = "var rnnlabErrors=0;window.addEventListener('error',function(){rnnlabErrors++});\
window.addEventListener('load',function(){var f=document.querySelectorAll('figure svg');var empty=0;\
for(var i=0;i<f.length;i++){var r=f[i].getBoundingClientRect();if(!(r.width>0&&r.height>0)){empty++}}\
var t=document.querySelectorAll('table');var wide=0;for(var j=0;j<t.length;j++){if(t[j].scrollWidth>t[j].clientWidth+1){wide++}}\
var m=document.createElement('meta');m.name='rnnlab-render-check';\
m.content='rendered: '+f.length+' plots, '+empty+' empty, '+rnnlabErrors+' errors, '+wide+' tables wider than the page';document.head.appendChild(m)});";

/// Escapes text for HTML element content and attribute values.
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

/// The anchor of a heading: lower case, words joined by `-` (as GitHub writes them, so
/// `[x](#protocol-and-definitions)` links work in both the Markdown and the page).
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.trim().chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if (c == ' ' || c == '-') && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// An SVG file's markup without its XML declaration, ready to inline; None if unreadable.
fn inline_svg(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let start = text.find("<svg")?;
    Some(text[start..].to_string())
}

/// The HTML body of `markdown` (CommonMark with tables, by pulldown-cmark); image paths are
/// relative to `dir`. Three things are rnnlab's own: headings carry GitHub's anchors
/// ([`slug`]), a paragraph that is one image becomes a `<figure>` with the SVG inlined, and raw
/// HTML in the Markdown is shown as text (the reports never mean any, and a `<` in a caption
/// must not become a tag).
pub fn markdown_to_html(markdown: &str, dir: &Path) -> String {
    let events: Vec<Event> = Parser::new_ext(markdown, Options::ENABLE_TABLES)
        .map(|e| match e {
            Event::Html(t) | Event::InlineHtml(t) => Event::Text(t),
            e => e,
        })
        .collect();
    // the page's own blocks replace theirs in the stream as ready HTML; one push_html at the
    // end, since the writer keeps state across events (a table's head and body)
    let mut out: Vec<Event> = Vec::with_capacity(events.len());
    let mut i = 0;
    while i < events.len() {
        match &events[i] {
            Event::Start(Tag::Heading { level, .. }) => {
                let end = block_end(&events, i);
                let inner = &events[i + 1..end];
                let mut body = String::new();
                pulldown_cmark::html::push_html(&mut body, inner.iter().cloned());
                let level = *level as usize;
                out.push(Event::Html(
                    format!(
                        "<h{level} id=\"{}\">{body}</h{level}>\n",
                        slug(&plain_text(inner))
                    )
                    .into(),
                ));
                i = end + 1;
            }
            Event::Start(Tag::Paragraph) => {
                let end = block_end(&events, i);
                match lone_image(&events[i + 1..end]) {
                    Some((src, caption)) => {
                        out.push(Event::Html(figure(dir, &src, caption).into()))
                    }
                    None => out.extend(events[i..=end].iter().cloned()),
                }
                i = end + 1;
            }
            e => {
                out.push(e.clone());
                i += 1;
            }
        }
    }
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, out.into_iter());
    html
}

/// The index of the `End` event closing the block that starts at `start`.
fn block_end(events: &[Event], start: usize) -> usize {
    let mut depth = 0usize;
    for (k, e) in events.iter().enumerate().skip(start) {
        match e {
            Event::Start(_) => depth += 1,
            Event::End(_) => {
                depth -= 1;
                if depth == 0 {
                    return k;
                }
            }
            _ => {}
        }
    }
    events.len() - 1
}

/// The text of `events` without markup (for anchors).
fn plain_text(events: &[Event]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Text(t) | Event::Code(t) => Some(t.as_ref()),
            _ => None,
        })
        .collect()
}

/// When a paragraph's content is one image: its source and its caption's events.
fn lone_image<'e, 'a>(inner: &'e [Event<'a>]) -> Option<(String, &'e [Event<'a>])> {
    match (inner.first(), inner.last()) {
        (Some(Event::Start(Tag::Image { dest_url, .. })), Some(Event::End(TagEnd::Image)))
            if block_end(inner, 0) == inner.len() - 1 =>
        {
            Some((dest_url.to_string(), &inner[1..inner.len() - 1]))
        }
        _ => None,
    }
}

/// `<figure>` of the image at `src`: the SVG itself when it is one rnnlab can read, else an
/// `<img>`; the caption links to the file.
fn figure(dir: &Path, src: &str, caption: &[Event]) -> String {
    let svg = src
        .ends_with(".svg")
        .then(|| inline_svg(&dir.join(src)))
        .flatten();
    let figure = match svg {
        Some(svg) => svg,
        None => format!(
            "<img src=\"{}\" alt=\"{}\">",
            escape(src),
            escape(&plain_text(caption))
        ),
    };
    let mut caption_html = String::new();
    pulldown_cmark::html::push_html(&mut caption_html, caption.iter().cloned());
    format!(
        "<figure>{figure}<figcaption>{caption_html} (<a href=\"{}\">{}</a>)</figcaption></figure>\n",
        escape(src),
        escape(src)
    )
}

/// A complete page: title, the style, the self-check script and `body`.
pub fn html_page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"generator\" content=\"rnnlab {}\">\n<title>{}</title>\n<style>{CSS}</style>\n\
<script>{CHECK_SCRIPT}</script>\n</head>\n<body>\n{body}</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        escape(title)
    )
}

/// Writes `dir/report.html` from `markdown` (images relative to `dir`), atomically.
pub fn write_html_report(dir: &Path, title: &str, markdown: &str) -> Result<()> {
    let page = html_page(title, &markdown_to_html(markdown, dir));
    let path = dir.join("report.html");
    // `report.tmp`: the temporary name every rnnlab directory may hold (see `crate::outdir`)
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, page.as_bytes()).map_err(|source| Error::Io {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, &path).map_err(|source| Error::Io { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_subset_becomes_html() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("plots")).unwrap();
        std::fs::write(
            dir.path().join("plots/a.svg"),
            "<?xml version=\"1.0\"?>\n<svg width=\"10\" height=\"10\"></svg>",
        )
        .unwrap();
        let md = "# Title <x>\n\nSome `code` and **bold** [link](#protocol-and-definitions).\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- one\n- two\n  more\n\n![a plot](plots/a.svg)\n\n## Protocol and definitions\n";
        let html = markdown_to_html(md, dir.path());
        assert!(
            html.contains("<h1 id=\"title-x\">Title &lt;x&gt;</h1>"),
            "{html}"
        );
        assert!(html.contains("<code>code</code>") && html.contains("<strong>bold</strong>"));
        assert!(html.contains("<a href=\"#protocol-and-definitions\">link</a>"));
        assert!(html.contains("<tr><th>a</th><th>b</th></tr>"), "{html}");
        assert!(html.contains("<tr><td>1</td><td>2</td></tr>"), "{html}");
        assert!(html.contains("<li>two\nmore</li>"), "{html}");
        assert!(html.contains("<figure><svg width=\"10\""), "{html}");
        assert!(!html.contains("<?xml"));
        assert!(html.contains("id=\"protocol-and-definitions\""));
        let page = html_page("t", &html);
        assert!(page.starts_with("<!DOCTYPE html>") && page.contains("rnnlab-render-check"));
    }
}
