//! PASCAL VOC–style per-image annotation XML, as in ILSVRC's `bbox_val` archives:
//! `<annotation><filename/><size><width/><height/></size><object><name>WNID</name>
//! <bndbox><xmin/><ymin/><xmax/><ymax/></bndbox></object>…</annotation>`.
//! Coordinates are read as written (inclusive pixel corners, the devkit's convention).
use crate::boxes::BoxF;
use crate::error::{IlsvrcError, Result};
use crate::text::{checked_box, parse_error, read_text};
use std::path::Path;

/// One object of an annotation.
#[derive(Clone, Debug, PartialEq)]
pub struct VocObject {
    /// The class (a WNID in ILSVRC files).
    pub name: String,
    pub bbox: BoxF,
}

/// One annotation file.
#[derive(Clone, Debug, PartialEq)]
pub struct VocAnnotation {
    pub filename: Option<String>,
    /// `(width, height)` from `<size>`, when given.
    pub size: Option<(u32, u32)>,
    pub objects: Vec<VocObject>,
}

impl VocAnnotation {
    /// The boxes of one class.
    pub fn boxes_of(&self, name: &str) -> Vec<BoxF> {
        self.objects
            .iter()
            .filter(|o| o.name == name)
            .map(|o| o.bbox)
            .collect()
    }
}

/// The first child element of `n` named `tag`.
fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, tag: &str) -> Option<roxmltree::Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == tag)
}

/// Reads an annotation file.
pub fn read(path: &Path) -> Result<VocAnnotation> {
    parse(&read_text(path)?, path)
}

/// Parses an annotation; `path` names the file in errors, which carry the line of the
/// offending element.
pub fn parse(text: &str, path: &Path) -> Result<VocAnnotation> {
    let doc = roxmltree::Document::parse(text).map_err(|e| {
        parse_error(
            path,
            e.pos().row as usize,
            format!("not well-formed XML: {e}"),
        )
    })?;
    let line_of = |n: roxmltree::Node| doc.text_pos_at(n.range().start).row as usize;
    let root = doc.root_element();
    if root.tag_name().name() != "annotation" {
        return Err(parse_error(
            path,
            line_of(root),
            format!(
                "root element is <{}>, expected <annotation>",
                root.tag_name().name()
            ),
        ));
    }
    let text_of = |n: roxmltree::Node, tag: &str| -> Result<String> {
        let c = child(n, tag).ok_or_else(|| {
            parse_error(
                path,
                line_of(n),
                format!("<{}> has no <{tag}>", n.tag_name().name()),
            )
        })?;
        Ok(c.text().unwrap_or("").trim().to_string())
    };
    let number = |n: roxmltree::Node, tag: &str| -> Result<f64> {
        let t = text_of(n, tag)?;
        t.parse::<f64>().map_err(|_| {
            let at = child(n, tag).map_or(line_of(n), line_of);
            parse_error(path, at, format!("<{tag}> is `{t}`, not a number"))
        })
    };
    let size = match child(root, "size") {
        Some(s) => {
            let (w, h) = (number(s, "width")?, number(s, "height")?);
            let ok = |v: f64| v.is_finite() && v >= 1.0 && v <= u32::MAX as f64 && v.fract() == 0.0;
            if !(ok(w) && ok(h)) {
                return Err(parse_error(
                    path,
                    line_of(s),
                    format!("image size {w} × {h} is not a positive whole number of pixels"),
                ));
            }
            Some((w as u32, h as u32))
        }
        None => None,
    };
    let mut objects = Vec::new();
    for o in root
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() == "object")
    {
        let name = text_of(o, "name")?;
        if name.is_empty() {
            return Err(parse_error(
                path,
                line_of(o),
                "<object> has an empty <name>",
            ));
        }
        let b = child(o, "bndbox")
            .ok_or_else(|| parse_error(path, line_of(o), "<object> has no <bndbox>"))?;
        let v = [
            number(b, "xmin")?,
            number(b, "ymin")?,
            number(b, "xmax")?,
            number(b, "ymax")?,
        ];
        objects.push(VocObject {
            name,
            bbox: checked_box(path, line_of(b), v)?,
        });
    }
    Ok(VocAnnotation {
        filename: child(root, "filename")
            .and_then(|f| f.text())
            .map(|t| t.trim().to_string()),
        size,
        objects,
    })
}

/// An error for an annotation that is valid XML but does not fit the dataset.
pub fn mismatch(path: &Path, reason: String) -> IlsvrcError {
    IlsvrcError::Inconsistent {
        path: path.to_path_buf(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"<annotation>
	<folder>val</folder>
	<filename>ILSVRC2012_val_00000001</filename>
	<size><width>500</width><height>375</height><depth>3</depth></size>
	<object>
		<name>n01751748</name>
		<bndbox><xmin>111</xmin><ymin>108</ymin><xmax>441</xmax><ymax>343</ymax></bndbox>
	</object>
	<object>
		<name>n01751748</name>
		<bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox>
	</object>
	<object>
		<name>n09999999</name>
		<bndbox><xmin>0</xmin><ymin>0</ymin><xmax>9</xmax><ymax>9</ymax></bndbox>
	</object>
</annotation>
"#;

    #[test]
    fn reads_size_objects_and_boxes_per_class() {
        let a = parse(GOOD, Path::new("a.xml")).unwrap();
        assert_eq!(a.filename.as_deref(), Some("ILSVRC2012_val_00000001"));
        assert_eq!(a.size, Some((500, 375)));
        assert_eq!(a.objects.len(), 3);
        assert_eq!(
            a.boxes_of("n01751748"),
            vec![
                BoxF::new(111.0, 108.0, 441.0, 343.0),
                BoxF::new(1.0, 2.0, 3.0, 4.0)
            ]
        );
    }

    #[test]
    fn malformed_files_name_the_file_and_line() {
        let p = Path::new("x.xml");
        let bad_number = GOOD.replace("<ymin>2</ymin>", "<ymin>two</ymin>");
        let e = parse(&bad_number, p).unwrap_err().to_string();
        assert!(e.starts_with("x.xml:11:") && e.contains("`two`"), "{e}");
        let inverted = GOOD.replace("<xmax>3</xmax>", "<xmax>0</xmax>");
        let e = parse(&inverted, p).unwrap_err().to_string();
        assert!(e.starts_with("x.xml:11:") && e.contains("x1 < x0"), "{e}");
        let e = parse("<annotation>\n<object>", p).unwrap_err().to_string();
        assert!(e.contains("not well-formed"), "{e}");
        let e = parse("<root/>", p).unwrap_err().to_string();
        assert!(e.contains("expected <annotation>"), "{e}");
        let no_box = "<annotation>\n<object><name>n1</name></object></annotation>";
        let e = parse(no_box, p).unwrap_err().to_string();
        assert!(
            e.starts_with("x.xml:2:") && e.contains("no <bndbox>"),
            "{e}"
        );
        let bad_size = GOOD.replace("<width>500</width>", "<width>-5</width>");
        assert!(parse(&bad_size, p)
            .unwrap_err()
            .to_string()
            .contains("size"));
    }
}
