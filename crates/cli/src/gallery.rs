//! A static report: the same sections, tables and figures written as a self-contained HTML
//! page (`index.html`, inline style, no external assets, images by relative path) and as
//! Markdown, from the minijinja templates in `templates/` (HTML auto-escaped). The page records on `<body data-images-loaded="k/n">` how many of its images
//! decoded, so a headless browser can check it without a driver.
use anyhow::Context;
use std::path::{Path, PathBuf};

/// A table of strings; the first row is the header.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// An image file (path relative to the page) and its caption.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Figure {
    pub src: String,
    pub caption: String,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Section {
    pub title: String,
    /// Paragraphs, separated by blank lines.
    pub text: String,
    pub tables: Vec<Table>,
    pub figures: Vec<Figure>,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Gallery {
    pub title: String,
    pub intro: String,
    pub sections: Vec<Section>,
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

/// The templates, with a `paragraphs` filter (text split at blank lines).
fn templates() -> &'static minijinja::Environment<'static> {
    static ENV: std::sync::OnceLock<minijinja::Environment<'static>> = std::sync::OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        env.add_filter("paragraphs", |text: String| -> Vec<String> {
            text.split("\n\n")
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(String::from)
                .collect()
        });
        env.add_template("gallery.html", include_str!("../templates/gallery.html"))
            .expect("the HTML template parses");
        env.add_template("gallery.md", include_str!("../templates/gallery.md"))
            .expect("the Markdown template parses");
        env
    })
}

impl Gallery {
    fn render(&self, name: &str) -> String {
        let ctx = minijinja::context! {
            title => self.title, intro => self.intro, sections => self.sections,
            style => STYLE, check => CHECK,
        };
        templates()
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .expect("the gallery templates render plain data")
    }

    pub fn html(&self) -> String {
        self.render("gallery.html")
    }

    pub fn markdown(&self) -> String {
        self.render("gallery.md")
    }

    /// Writes `dir/index.html` and returns its path.
    pub fn write_html(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        let p = dir.join("index.html");
        std::fs::write(&p, self.html()).with_context(|| p.display().to_string())?;
        Ok(p)
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
        // minijinja escapes `/` too; a browser reads `f&#x2f;x.png` as `f/x.png`.
        assert!(
            h.contains("<img src=\"f&#x2f;x.png\" alt=\"cap &quot;q&quot;\">"),
            "{h}"
        );
        assert!(!h.contains("http"), "no external assets");
        let m = g.markdown();
        assert!(m.contains("| k | v |\n|---|---|\n| x&y | 1 |"));
        assert!(m.contains("![cap \"q\"](f/x.png)"));
    }
}
