//! ImageNet class identities: index (sorted-WNID order, as every PyTorch ImageNet model
//! uses), WordNet id and human-readable name. Classes are keyed on WNID because several
//! names repeat (two "crane"s, two "maillot"s).
use std::collections::HashMap;

/// Whether `s` looks like a WordNet noun id: `n` and eight digits.
pub fn is_wnid(s: &str) -> bool {
    s.len() == 9 && s.starts_with('n') && s[1..].bytes().all(|b| b.is_ascii_digit())
}

/// One class: its WNID and its names (the first is the short name).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ClassInfo {
    pub index: usize,
    pub wnid: String,
    pub name: String,
}

impl ClassInfo {
    /// `n01440764 tench` for an ImageNet class; the name alone for a class whose name is
    /// its identifier (a `--labels` list, or indices).
    pub fn describe(&self) -> String {
        if self.wnid == self.name {
            self.name.clone()
        } else {
            format!("{} {}", self.wnid, self.name)
        }
    }
}

/// The class list of a classifier.
#[derive(Clone, Debug)]
pub struct ClassNames {
    classes: Vec<ClassInfo>,
    by_wnid: HashMap<String, usize>,
}

impl ClassNames {
    /// Parses `synset_words.txt` lines: `WNID name, synonym, ...`, in index order.
    pub fn parse_synset_words(text: &str) -> Result<Self, String> {
        let mut classes = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (wnid, names) = line
                .split_once(' ')
                .ok_or_else(|| format!("line {}: expected `WNID name`, got `{line}`", i + 1))?;
            if !is_wnid(wnid) {
                return Err(format!(
                    "line {}: `{wnid}` is not a WordNet id (n + 8 digits)",
                    i + 1
                ));
            }
            classes.push(ClassInfo {
                index: classes.len(),
                wnid: wnid.to_string(),
                name: names.split(',').next().unwrap_or(names).trim().to_string(),
            });
        }
        let by_wnid: HashMap<String, usize> =
            classes.iter().map(|c| (c.wnid.clone(), c.index)).collect();
        if by_wnid.len() != classes.len() {
            return Err("a WNID appears twice".into());
        }
        Ok(ClassNames { classes, by_wnid })
    }

    /// The 1000 ILSVRC-2012 classes.
    pub fn imagenet() -> Self {
        Self::parse_synset_words(include_str!("../data/synset_words.txt"))
            .expect("embedded synset list is valid")
    }

    /// A class list of a model that is not an ImageNet classifier: one name per output,
    /// each its own identifier (so `resolve` takes the name as well as the index).
    pub fn custom(names: Vec<String>) -> Self {
        let classes: Vec<ClassInfo> = names
            .into_iter()
            .enumerate()
            .map(|(index, name)| ClassInfo {
                index,
                wnid: name.clone(),
                name,
            })
            .collect();
        let by_wnid = classes.iter().map(|c| (c.wnid.clone(), c.index)).collect();
        ClassNames { classes, by_wnid }
    }

    /// Classes known only by their index: `0`, `1`, ….
    pub fn indices(n: usize) -> Self {
        Self::custom((0..n).map(|i| i.to_string()).collect())
    }

    pub fn len(&self) -> usize {
        self.classes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    pub fn get(&self, index: usize) -> Option<&ClassInfo> {
        self.classes.get(index)
    }

    pub fn by_wnid(&self, wnid: &str) -> Option<&ClassInfo> {
        self.by_wnid.get(wnid).map(|&i| &self.classes[i])
    }

    /// Resolves a class given as an index (`"130"`) or a WNID (`"n02007558"`).
    pub fn resolve(&self, spec: &str) -> Result<&ClassInfo, String> {
        let spec = spec.trim();
        if let Ok(i) = spec.parse::<usize>() {
            return self.get(i).ok_or_else(|| {
                format!(
                    "class index {i} is out of range: this model has classes 0..={}",
                    self.len() - 1
                )
            });
        }
        self.by_wnid(spec).ok_or_else(|| {
            format!(
                "unknown class `{spec}`: give an index 0..={} or a WNID such as {}",
                self.len() - 1,
                self.classes[0].wnid
            )
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = &ClassInfo> {
        self.classes.iter()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_class_is_described_by_wnid_and_name_unless_they_are_one() {
        assert_eq!(
            ClassNames::imagenet().get(0).unwrap().describe(),
            "n01440764 tench"
        );
        assert_eq!(ClassNames::indices(3).get(2).unwrap().describe(), "2");
        let custom = ClassNames::custom(vec!["cat".into(), "dog".into()]);
        assert_eq!(custom.get(1).unwrap().describe(), "dog");
    }

    use super::*;

    #[test]
    fn imagenet_has_1000_classes_and_duplicate_names_stay_distinct() {
        let c = ClassNames::imagenet();
        assert_eq!(c.len(), 1000);
        assert_eq!(c.get(0).unwrap().wnid, "n01440764");
        assert_eq!(c.get(130).unwrap().name, "flamingo");
        let cranes: Vec<_> = c.iter().filter(|x| x.name == "crane").collect();
        assert_eq!(cranes.len(), 2);
        assert_ne!(cranes[0].wnid, cranes[1].wnid);
    }

    #[test]
    fn resolve_by_index_or_wnid_with_clear_errors() {
        let c = ClassNames::imagenet();
        assert_eq!(c.resolve("n01440764").unwrap().index, 0);
        assert_eq!(c.resolve("949").unwrap().name, "strawberry");
        assert!(c.resolve("1000").unwrap_err().contains("0..=999"));
        assert!(c
            .resolve("n99999999")
            .unwrap_err()
            .contains("unknown class"));
    }

    #[test]
    fn malformed_lines_give_line_numbers() {
        let e = ClassNames::parse_synset_words("n01440764 tench\nbogus\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
    }
}
