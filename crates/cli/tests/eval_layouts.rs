//! `deepinside eval` over the same dev images in the three annotation layouts (wsol, devkit
//! with VOC XML, Kaggle CSV), and sharded runs merged: every route gives the summary of the
//! plain wsol run.
mod common;
use common::{deepinside, shared, shared_dir};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const IMAGES: usize = 4;

/// The first IMAGES dev images: (file name, sorted-WNID label, boxes as text fields).
fn dev_rows() -> Vec<(String, usize, Vec<Vec<String>>)> {
    let meta = shared_dir().join("data/ilsvrc-dev/metadata");
    let read = |f: &str| std::fs::read_to_string(meta.join(f)).unwrap();
    let labels: BTreeMap<String, usize> = read("class_labels.txt")
        .lines()
        .filter_map(|l| l.split_once(','))
        .map(|(a, b)| (a.to_string(), b.trim().parse().unwrap()))
        .collect();
    let loc = read("localization.txt");
    read("image_ids.txt")
        .lines()
        .take(IMAGES)
        .map(|id| {
            let boxes = loc
                .lines()
                .filter(|l| l.starts_with(&format!("{id},")))
                .map(|l| l.split(',').skip(1).map(String::from).collect())
                .collect();
            (id.to_string(), labels[id], boxes)
        })
        .collect()
}

fn eval(data: &Path, extra: &[&str], out: &Path) -> Value {
    let mut args = vec![
        "eval",
        "--data",
        data.to_str().unwrap(),
        "--preset",
        "best",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = deepinside(&args, &[]);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

fn same_metrics(a: &Value, b: &Value, what: &str) {
    for section in [
        "classification",
        "localisation",
        "baselines",
        "images",
        "failed",
    ] {
        assert_eq!(a[section], b[section], "{what}: {section}");
    }
}

#[test]
fn devkit_and_kaggle_layouts_and_merged_shards_give_the_wsol_summary() {
    let Some(dev) = shared("data/ilsvrc-dev") else {
        return;
    };
    let words = std::fs::read_to_string(dev.join("synset_words.txt")).unwrap();
    let wnids: Vec<&str> = words.lines().map(|l| &l[..9]).collect();
    let tmp = tempfile::tempdir().unwrap();
    let reference = eval(
        &dev,
        &["--limit", &IMAGES.to_string()],
        &tmp.path().join("wsol"),
    );
    assert_eq!(reference["format"], "wsol");
    assert_eq!(reference["images"], IMAGES);

    // Kaggle: CSV of `WNID x0 y0 x1 y1` groups, mapping file, images under ILSVRC/Data/….
    let kaggle = tmp.path().join("kaggle");
    let val = kaggle.join("ILSVRC/Data/CLS-LOC/val");
    std::fs::create_dir_all(&val).unwrap();
    std::fs::write(kaggle.join("LOC_synset_mapping.txt"), &words).unwrap();
    let mut csv = String::from("ImageId,PredictionString\n");
    // Devkit: images renamed to ILSVRC2012_val_0000000n, IDs through a WNID list in a
    // non-sorted order (reversed), boxes in VOC XML.
    let devkit = tmp.path().join("devkit");
    std::fs::create_dir_all(devkit.join("val")).unwrap();
    std::fs::create_dir_all(devkit.join("bbox/val")).unwrap();
    std::fs::create_dir_all(devkit.join("data")).unwrap();
    let reversed: Vec<&str> = wnids.iter().rev().copied().collect();
    std::fs::write(devkit.join("data/meta_wnids.txt"), reversed.join("\n")).unwrap();
    let mut truth = String::new();
    for (n, (id, label, boxes)) in dev_rows().into_iter().enumerate() {
        let stem = Path::new(&id)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .to_string();
        std::fs::copy(dev.join(&id), val.join(format!("{stem}.JPEG"))).unwrap();
        let groups: Vec<String> = boxes
            .iter()
            .map(|b| format!("{} {}", wnids[label], b.join(" ")))
            .collect();
        csv.push_str(&format!("{stem},{}\n", groups.join(" ")));
        let name = format!("ILSVRC2012_val_{:08}", n + 1);
        std::fs::copy(dev.join(&id), devkit.join(format!("val/{name}.JPEG"))).unwrap();
        truth.push_str(&format!("{}\n", 1000 - label));
        let objects: String = boxes
            .iter()
            .map(|b| {
                format!(
                    "<object><name>{}</name><bndbox><xmin>{}</xmin><ymin>{}</ymin>\
                     <xmax>{}</xmax><ymax>{}</ymax></bndbox></object>\n",
                    wnids[label], b[0], b[1], b[2], b[3]
                )
            })
            .collect();
        std::fs::write(
            devkit.join(format!("bbox/val/{name}.xml")),
            format!(
                "<annotation>\n<filename>{name}</filename>\n<size><width>227</width>\
                 <height>227</height></size>\n{objects}</annotation>\n"
            ),
        )
        .unwrap();
    }
    std::fs::write(kaggle.join("LOC_val_solution.csv"), csv).unwrap();
    std::fs::write(
        devkit.join("data/ILSVRC2012_validation_ground_truth.txt"),
        truth,
    )
    .unwrap();

    let k = eval(&kaggle, &[], &tmp.path().join("k"));
    assert_eq!(k["format"], "kaggle");
    same_metrics(&reference, &k, "kaggle");
    let d = eval(&devkit, &["--format", "devkit"], &tmp.path().join("d"));
    assert_eq!(d["format"], "devkit");
    same_metrics(&reference, &d, "devkit");

    // Shards 1/2 and 2/2 of the same limited list, merged.
    let limit = IMAGES.to_string();
    let s1 = tmp.path().join("s1");
    let s2 = tmp.path().join("s2");
    let a = eval(&dev, &["--limit", &limit, "--shard", "1/2"], &s1);
    let b = eval(&dev, &["--limit", &limit, "--shard", "2/2"], &s2);
    assert_eq!(
        (a["images"].as_u64(), b["images"].as_u64()),
        (Some(2), Some(2))
    );
    let merged = tmp.path().join("merged");
    let o = deepinside(
        &[
            "eval",
            "merge",
            s1.to_str().unwrap(),
            s2.to_str().unwrap(),
            "--out",
            merged.to_str().unwrap(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(merged.join("summary.json")).unwrap())
            .unwrap();
    same_metrics(&reference, &m, "merged shards");
    // Overlapping shards and bad shard specs are refused with a reason.
    let o = deepinside(
        &[
            "eval",
            "merge",
            s1.to_str().unwrap(),
            s1.to_str().unwrap(),
            "--out",
            merged.to_str().unwrap(),
        ],
        &[],
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("must not overlap"));
    for bad in ["0/2", "3/2", "x"] {
        let o = deepinside(
            &[
                "eval",
                "--data",
                dev.to_str().unwrap(),
                "--shard",
                bad,
                "--out",
                merged.to_str().unwrap(),
            ],
            &[],
        );
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("1 ≤ K ≤ N"),
            "{bad}"
        );
    }
}
