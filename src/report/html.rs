//! `report.html`: one self-contained page (inline SVG and CSS, no network, no script from
//! elsewhere) made from the Markdown report rnnlab writes, so the two never disagree.
//!
//! The Markdown is the subset rnnlab's reports use: `#`–`###` headings, paragraphs, `- ` lists,
//! pipe tables, fenced code blocks, and inline `code`, **bold** and [links](url). An image line
//! `![caption](plots/x.svg)` whose file exists is inlined as the SVG itself in a `<figure>`.
//!
//! The page checks itself when it loads: a small inline script measures every figure and records
//! `rendered: N plots, M empty, E errors` in `<meta name="rnnlab-render-check">`, so a headless
//! browser's `--dump-dom` shows whether every plot has a size and no script error occurred.

use std::path::Path;

use crate::error::{Error, Result};

/// The page's style: readable widths, tables with borders, figures scaled to the page.
const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45;color:#222}\
h1{border-bottom:2px solid #ddd;padding-bottom:.3em}h2{border-bottom:1px solid #eee;padding-bottom:.2em;margin-top:2em}\
table{border-collapse:collapse;margin:1em 0;font-size:.9em;display:block;overflow-x:auto}\
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;white-space:nowrap}th{background:#f4f4f4}\
code{background:#f4f4f4;padding:0 .2em;border-radius:3px}pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:.85em}\
figure{margin:1.5em 0}figure svg{width:100%;height:auto;max-width:1000px;display:block;border:1px solid #eee}\
figcaption{color:#555;font-size:.9em;margin-top:.3em}nav a{margin-right:1em}";

/// Measures every figure once the page has loaded and records the result in a meta element.
const CHECK_SCRIPT: &str = "var rnnlabErrors=0;window.addEventListener('error',function(){rnnlabErrors++});\
window.addEventListener('load',function(){var f=document.querySelectorAll('figure svg');var empty=0;\
for(var i=0;i<f.length;i++){var r=f[i].getBoundingClientRect();if(!(r.width>0&&r.height>0)){empty++}}\
var m=document.createElement('meta');m.name='rnnlab-render-check';\
m.content='rendered: '+f.length+' plots, '+empty+' empty, '+rnnlabErrors+' errors';document.head.appendChild(m)});";

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

/// Inline Markdown of one line of (unescaped) text: `code`, **bold** and [text](url).
fn inline(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('`') {
            if let Some(end) = after.find('`') {
                out.push_str(&format!("<code>{}</code>", escape(&after[..end])));
                rest = &after[end + 1..];
                continue;
            }
        }
        if let Some(after) = rest.strip_prefix("**") {
            if let Some(end) = after.find("**") {
                out.push_str(&format!("<strong>{}</strong>", inline(&after[..end])));
                rest = &after[end + 2..];
                continue;
            }
        }
        if let Some(after) = rest.strip_prefix('[') {
            if let Some(close) = after.find("](") {
                if let Some(end) = after[close + 2..].find(')') {
                    let label = &after[..close];
                    let url = &after[close + 2..close + 2 + end];
                    out.push_str(&format!(
                        "<a href=\"{}\">{}</a>",
                        escape(url),
                        inline(label)
                    ));
                    rest = &after[close + 3 + end..];
                    continue;
                }
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push_str(&escape(&c.to_string()));
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The cells of a pipe-table row.
fn table_cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(|c| c.trim().to_string()).collect()
}

/// An SVG file's markup without its XML declaration, ready to inline; None if unreadable.
fn inline_svg(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let start = text.find("<svg")?;
    Some(text[start..].to_string())
}

/// The HTML body of `markdown`; image paths are relative to `dir`.
pub fn markdown_to_html(markdown: &str, dir: &Path) -> String {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut html = String::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim();
        if trimmed.is_empty() {
            i += 1;
        } else if let Some(fence) = trimmed.strip_prefix("```") {
            let _language = fence;
            let mut code = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].trim().starts_with("```") {
                code.push(lines[i]);
                i += 1;
            }
            i += 1;
            html.push_str(&format!("<pre>{}</pre>\n", escape(&code.join("\n"))));
        } else if trimmed.starts_with('#') {
            let level = trimmed.chars().take_while(|&c| c == '#').count().min(6);
            let text = trimmed[level..].trim();
            html.push_str(&format!(
                "<h{level} id=\"{}\">{}</h{level}>\n",
                slug(text),
                inline(text)
            ));
            i += 1;
        } else if trimmed.starts_with("![") && trimmed.ends_with(')') {
            let close = trimmed.find("](").unwrap_or(trimmed.len());
            let caption = trimmed.get(2..close).unwrap_or("");
            let src = trimmed.get(close + 2..trimmed.len() - 1).unwrap_or("");
            let svg = src
                .ends_with(".svg")
                .then(|| inline_svg(&dir.join(src)))
                .flatten();
            let figure = match svg {
                Some(svg) => svg,
                None => format!("<img src=\"{}\" alt=\"{}\">", escape(src), escape(caption)),
            };
            html.push_str(&format!(
                "<figure>{figure}<figcaption>{} (<a href=\"{}\">{}</a>)</figcaption></figure>\n",
                inline(caption),
                escape(src),
                escape(src)
            ));
            i += 1;
        } else if trimmed.starts_with('|') {
            let mut rows = Vec::new();
            while i < lines.len() && lines[i].trim().starts_with('|') {
                rows.push(table_cells(lines[i]));
                i += 1;
            }
            let separator = |r: &Vec<String>| {
                r.iter()
                    .all(|c| !c.is_empty() && c.chars().all(|ch| "-:".contains(ch)))
            };
            html.push_str("<table>\n");
            for (k, row) in rows.iter().enumerate() {
                if separator(row) {
                    continue;
                }
                let tag = if k == 0 && rows.get(1).is_some_and(separator) {
                    "th"
                } else {
                    "td"
                };
                html.push_str("<tr>");
                for cell in row {
                    html.push_str(&format!("<{tag}>{}</{tag}>", inline(cell)));
                }
                html.push_str("</tr>\n");
            }
            html.push_str("</table>\n");
        } else if trimmed.starts_with("- ") {
            html.push_str("<ul>\n");
            while i < lines.len() && lines[i].trim().starts_with("- ") {
                // a list item goes on over indented lines that follow it
                let mut item = lines[i].trim()[2..].to_string();
                i += 1;
                while i < lines.len()
                    && lines[i].starts_with("  ")
                    && !lines[i].trim().is_empty()
                    && !lines[i].trim().starts_with("- ")
                {
                    item.push(' ');
                    item.push_str(lines[i].trim());
                    i += 1;
                }
                html.push_str(&format!("<li>{}</li>\n", inline(&item)));
            }
            html.push_str("</ul>\n");
        } else {
            let mut paragraph = Vec::new();
            while i < lines.len() {
                let t = lines[i].trim();
                if t.is_empty()
                    || t.starts_with('#')
                    || t.starts_with('|')
                    || t.starts_with("- ")
                    || t.starts_with("```")
                    || t.starts_with("![")
                {
                    break;
                }
                paragraph.push(t);
                i += 1;
            }
            html.push_str(&format!("<p>{}</p>\n", inline(&paragraph.join(" "))));
        }
    }
    html
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
        assert!(html.contains("<tr><td>1</td><td>2</td></tr>"));
        assert!(html.contains("<li>two more</li>"), "{html}");
        assert!(html.contains("<figure><svg width=\"10\""), "{html}");
        assert!(!html.contains("<?xml"));
        assert!(html.contains("id=\"protocol-and-definitions\""));
        let page = html_page("t", &html);
        assert!(page.starts_with("<!DOCTYPE html>") && page.contains("rnnlab-render-check"));
    }
}
