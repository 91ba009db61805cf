//! A static report: the same sections, tables and figures written as a self-contained HTML
//! page (`index.html`, inline style, no external assets, images by relative path) and as
//! Markdown. The page records on `<body data-images-loaded="k/n">` how many of its images
//! decoded, so a headless browser can check it without a driver.
use anyhow::Context;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A table of strings; the first row is the header.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// An image file (path relative to the page) and its caption.
#[derive(Clone, Debug)]
pub struct Figure {
    pub src: String,
    pub caption: String,
}

#[derive(Clone, Debug, Default)]
pub struct Section {
    pub title: String,
    /// Paragraphs, separated by blank lines.
    pub text: String,
    pub tables: Vec<Table>,
    pub figures: Vec<Figure>,
}

#[derive(Clone, Debug, Default)]
pub struct Gallery {
    pub title: String,
    pub intro: String,
    pub sections: Vec<Section>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:72em;\
padding:0 1em;color:#222;background:#fff}h1{font-size:1.6em}h2{margin-top:2em;\
border-bottom:1px solid #ccc}table{border-collapse:collapse;margin:1em 0}td,th{border:1px \
solid #bbb;padding:.3em .6em;text-align:left}th{background:#f0f0f0}.figs{display:flex;\
flex-wrap:wrap;gap:1em}figure{margin:0;max-width:100%}figure img{max-width:100%;\
image-rendering:auto;border:1px solid #ddd}figcaption{font-size:.85em;color:#444;\
max-width:40em}";

const CHECK: &str = "window.addEventListener('load',function(){var i=document.images,k=0;\
for(var j=0;j<i.length;j++){if(i[j].complete&&i[j].naturalWidth>0)k++;}\
document.body.setAttribute('data-images-loaded',k+'/'+i.length);});";

impl Gallery {
    pub fn html(&self) -> String {
        let mut h = String::new();
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>{}</title><style>{STYLE}</style><script>{CHECK}</script></head>\n<body>\n<h1>{}</h1>\n",
            esc(&self.title),
            esc(&self.title)
        );
        paragraphs(&mut h, &self.intro);
        for s in &self.sections {
            let _ = writeln!(h, "<h2>{}</h2>", esc(&s.title));
            paragraphs(&mut h, &s.text);
            for t in &s.tables {
                h.push_str("<table><tr>");
                for c in &t.header {
                    let _ = write!(h, "<th>{}</th>", esc(c));
                }
                h.push_str("</tr>\n");
                for r in &t.rows {
                    h.push_str("<tr>");
                    for c in r {
                        let _ = write!(h, "<td>{}</td>", esc(c));
                    }
                    h.push_str("</tr>\n");
                }
                h.push_str("</table>\n");
            }
            if !s.figures.is_empty() {
                h.push_str("<div class=\"figs\">\n");
                for f in &s.figures {
                    let _ = writeln!(
                        h,
                        "<figure><a href=\"{0}\"><img src=\"{0}\" alt=\"{1}\"></a><figcaption>{1}</figcaption></figure>",
                        esc(&f.src),
                        esc(&f.caption)
                    );
                }
                h.push_str("</div>\n");
            }
        }
        h.push_str("</body></html>\n");
        h
    }

    pub fn markdown(&self) -> String {
        let mut m = format!("# {}\n\n{}\n", self.title, self.intro.trim());
        for s in &self.sections {
            let _ = write!(m, "\n## {}\n\n", s.title);
            if !s.text.trim().is_empty() {
                let _ = writeln!(m, "{}\n", s.text.trim());
            }
            for t in &s.tables {
                let _ = writeln!(m, "| {} |", t.header.join(" | "));
                let _ = writeln!(m, "|{}", "---|".repeat(t.header.len()));
                for r in &t.rows {
                    let _ = writeln!(m, "| {} |", r.join(" | "));
                }
                m.push('\n');
            }
            for f in &s.figures {
                let _ = writeln!(m, "![{}]({})\n\n*{}*\n", f.caption, f.src, f.caption);
            }
        }
        m
    }

    /// Writes `dir/index.html` and returns its path.
    pub fn write_html(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        let p = dir.join("index.html");
        std::fs::write(&p, self.html()).with_context(|| p.display().to_string())?;
        Ok(p)
    }
}

fn paragraphs(h: &mut String, text: &str) {
    for p in text.split("\n\n").filter(|p| !p.trim().is_empty()) {
        let _ = writeln!(h, "<p>{}</p>", esc(p.trim()));
    }
}

/// `path` relative to `base` when it lies under it, else as given (for `src` attributes).
pub fn relative(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_and_lists_everything() {
        let g = Gallery {
            title: "a <b>".into(),
            intro: "one\n\ntwo".into(),
            sections: vec![Section {
                title: "s".into(),
                text: String::new(),
                tables: vec![Table {
                    header: vec!["k".into(), "v".into()],
                    rows: vec![vec!["x&y".into(), "1".into()]],
                }],
                figures: vec![Figure {
                    src: "f/x.png".into(),
                    caption: "cap \"q\"".into(),
                }],
            }],
        };
        let h = g.html();
        assert!(h.contains("<title>a &lt;b&gt;</title>"));
        assert!(h.contains("<p>one</p>") && h.contains("<p>two</p>"));
        assert!(h.contains("<td>x&amp;y</td>"));
        assert!(h.contains("<img src=\"f/x.png\" alt=\"cap &quot;q&quot;\">"));
        assert!(!h.contains("http"), "no external assets");
        let m = g.markdown();
        assert!(m.contains("| k | v |\n|---|---|\n| x&y | 1 |"));
        assert!(m.contains("![cap \"q\"](f/x.png)"));
    }
}
