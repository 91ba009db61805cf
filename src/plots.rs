//! Plots people would rather look at than read — a class model's score and penalty per
//! step, localisation metrics side by side, times beside the PyTorch peer's — drawn with
//! plotters into an `RgbImage` (axes, units, legends; text in the bundled DejaVu Sans).
use crate::error::{Error, Result};
use image::RgbImage;
use plotters::prelude::*;
use plotters::style::FontStyle;

/// The palette of series, in order (Tableau 10: distinct, colour-blind tolerable).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The `i`-th series colour.
pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Registers the bundled font as plotters' `sans-serif` (once).
fn fonts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            attribution::caption::FONT_BYTES,
        );
    });
}

fn plot_error(title: &str) -> impl Fn(String) -> Error + '_ {
    move |reason| Error::Plot {
        title: title.to_string(),
        reason,
    }
}

/// One named line of `(x, y)` points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A line chart: title, axis labels (with units) and its series.
#[derive(Clone, Debug, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

/// The finite range of `values`, widened a little; a constant (or empty) series gets ±1
/// around its value, so its axis still reads.
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if lo > hi {
        return (0.0, 1.0);
    }
    if hi - lo <= 1e-9 * hi.abs().max(1.0) {
        return (lo - 1.0, hi + 1.0);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

/// `charts` stacked top to bottom, each `width × height_each` pixels, each with its legend
/// in a column to the right of the plot (never over the data).
pub fn line_charts(charts: &[LineChart], width: u32, height_each: u32) -> Result<RgbImage> {
    fonts();
    let height = height_each * charts.len().max(1) as u32;
    let mut buf = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        let panels = root.split_evenly((charts.len().max(1), 1));
        for (chart, panel) in charts.iter().zip(panels) {
            let names: Vec<&str> = chart.series.iter().map(|s| s.name.as_str()).collect();
            let (area, key) = panel.split_horizontally(width.saturating_sub(legend_width(&names)));
            let err = plot_error(&chart.title);
            let all = || chart.series.iter().flat_map(|s| s.points.iter());
            let (x0, x1) = range(all().map(|p| p.0));
            let (y0, y1) = range(all().map(|p| p.1));
            let mut c = ChartBuilder::on(&area)
                .caption(&chart.title, ("sans-serif", 18))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(64)
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(|e| err(e.to_string()))?;
            c.configure_mesh()
                .x_desc(&chart.x_label)
                .y_desc(&chart.y_label)
                .x_labels(10)
                .y_labels(8)
                .x_label_formatter(&tick)
                .y_label_formatter(&tick)
                .label_style(("sans-serif", 13))
                .axis_desc_style(("sans-serif", 14))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .map_err(|e| err(e.to_string()))?;
            for (i, s) in chart.series.iter().enumerate() {
                let col = colour(i);
                c.draw_series(LineSeries::new(
                    s.points.iter().copied().filter(|p| p.1.is_finite()),
                    col.stroke_width(2),
                ))
                .map_err(|e| err(e.to_string()))?;
            }
            legend(&key, &names, true).map_err(&err)?;
        }
        root.present()
            .map_err(|e| plot_error("lines")(e.to_string()))?;
    }
    Ok(RgbImage::from_raw(width, height, buf).expect("the buffer has width × height pixels"))
}

/// Grouped bars: for each group (x axis), one bar per series, with a legend.
#[derive(Clone, Debug, PartialEq)]
pub struct BarChart {
    pub title: String,
    /// The value axis's label, with its unit.
    pub y_label: String,
    pub groups: Vec<String>,
    /// Each series' name and one value per group (`NaN`: no bar).
    pub series: Vec<(String, Vec<f64>)>,
    /// A logarithmic value axis (for times spanning decades).
    pub log_y: bool,
}

/// A tick label: no trailing `.0`, at most as many decimals as the step needs.
fn tick(v: &f64) -> String {
    let a = v.abs();
    if a < 1e-12 {
        "0".into()
    } else if a >= 10.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        let t = format!("{v:.3}");
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A bar's value as its label: three significant digits or so.
fn value_label(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The chart as a `width × height` image; each bar is labelled with its value.
pub fn bar_chart(chart: &BarChart, width: u32, height: u32) -> Result<RgbImage> {
    fonts();
    let err = plot_error(&chart.title);
    let mut buf = vec![255u8; (width * height * 3) as usize];
    let values = || chart.series.iter().flat_map(|s| s.1.iter().copied());
    let x = -0.5..(chart.groups.len().max(1) as f64 - 0.5);
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        let names: Vec<&str> = chart.series.iter().map(|s| s.0.as_str()).collect();
        let (area, key) = root.split_horizontally(width.saturating_sub(legend_width(&names)));
        legend(&key, &names, false).map_err(&err)?;
        let mut b = ChartBuilder::on(&area);
        b.caption(&chart.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64);
        if chart.log_y {
            let positive = values().filter(|v| *v > 0.0 && v.is_finite());
            let (lo, hi) = positive.fold((f64::INFINITY, 0f64), |(a, b), v| (a.min(v), b.max(v)));
            let (lo, hi) = if lo.is_finite() {
                (lo / 2.0, hi * 3.0)
            } else {
                (0.1, 10.0)
            };
            let mut c = b
                .build_cartesian_2d(x, (lo..hi).log_scale())
                .map_err(|e| err(e.to_string()))?;
            bars(chart, lo, &mut c).map_err(&err)?;
        } else {
            let hi = values().filter(|v| v.is_finite()).fold(0f64, f64::max);
            let mut c = b
                .build_cartesian_2d(x, 0.0..(hi * 1.15).max(1e-9))
                .map_err(|e| err(e.to_string()))?;
            bars(chart, 0.0, &mut c).map_err(&err)?;
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(RgbImage::from_raw(width, height, buf).expect("the buffer has width × height pixels"))
}

/// Axes, bars from `base` to each value with its label, and the legend.
fn bars<'a, Y>(
    chart: &BarChart,
    base: f64,
    c: &mut ChartContext<
        'a,
        BitMapBackend<'a>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, Y>,
    >,
) -> std::result::Result<(), String>
where
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>
        + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let names = chart.groups.clone();
    let group_label = move |v: &f64| {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 {
            names.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    c.configure_mesh()
        .disable_x_mesh()
        .x_labels(chart.groups.len() * 4 + 1)
        .x_label_formatter(&group_label)
        .y_desc(&chart.y_label)
        .y_label_formatter(&tick)
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14))
        .light_line_style(WHITE)
        .draw()
        .map_err(|e| e.to_string())?;
    let k = chart.series.len().max(1);
    let w = 0.8 / k as f64;
    for (j, (_, vals)) in chart.series.iter().enumerate() {
        let col = colour(j);
        let left = |i: usize| i as f64 - 0.4 + j as f64 * w;
        let shown = || vals.iter().enumerate().filter(|(_, v)| v.is_finite());
        c.draw_series(shown().map(|(i, &v)| {
            Rectangle::new([(left(i), base), (left(i) + w * 0.92, v)], col.filled())
        }))
        .map_err(|e| e.to_string())?;
        let style = ("sans-serif", 11)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        c.draw_series(
            shown()
                .map(|(i, &v)| Text::new(value_label(v), (left(i) + w * 0.46, v), style.clone())),
        )
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Width of a legend column for `names`.
fn legend_width(names: &[&str]) -> u32 {
    let text = names
        .iter()
        .map(|n| attribution::caption::text_width(n, 13.0))
        .max()
        .unwrap_or(0);
    text + 52
}

/// The legend in its own column: one swatch (a line, or a filled square for bars) and name
/// per series, in the series' colours, from the top.
fn legend(
    key: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    names: &[&str],
    lines: bool,
) -> std::result::Result<(), String> {
    for (i, name) in names.iter().enumerate() {
        let (col, y) = (colour(i), 44 + 20 * i as i32);
        if lines {
            key.draw(&PathElement::new([(8, y), (28, y)], col.stroke_width(3)))
        } else {
            key.draw(&Rectangle::new([(10, y - 6), (24, y + 6)], col.filled()))
        }
        .map_err(|e| e.to_string())?;
        key.draw(&Text::new(
            name.to_string(),
            (34, y - 8),
            ("sans-serif", 13).into_font().color(&BLACK),
        ))
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A class model's ascent as two charts: the target's value (S_c for a class) and the
/// penalty subtracted from it (λ‖I‖² and the other regularisers), per step, one line per
/// target labelled `names[i]`.
pub fn ascent_history(
    names: &[String],
    histories: &[Vec<synthesis::StepRecord>],
) -> Result<RgbImage> {
    let series = |f: &dyn Fn(&synthesis::StepRecord) -> f32| -> Vec<Series> {
        names
            .iter()
            .zip(histories)
            .map(|(name, h)| Series {
                name: name.clone(),
                points: h
                    .iter()
                    .enumerate()
                    .map(|(i, r)| ((i + 1) as f64, f(r) as f64))
                    .collect(),
            })
            .collect()
    };
    line_charts(
        &[
            LineChart {
                title: "target value per step".into(),
                x_label: "step".into(),
                y_label: "value (logit S_c for a class)".into(),
                series: series(&|r| r.value),
            },
            LineChart {
                title: "penalty per step".into(),
                x_label: "step".into(),
                y_label: "value − objective (λ‖I‖² + …)".into(),
                series: series(&|r| r.value - r.objective),
            },
        ],
        760,
        320,
    )
}

/// Localisation metrics of several evaluations side by side (`runs`: label and summary,
/// e.g. presets or ablation specs), and the fixed-box baselines of the first, in percent.
pub fn localisation_bars(runs: &[(String, &crate::evaluate::Summary)]) -> Result<RgbImage> {
    let metrics = [
        "top-1 loc. error",
        "top-5 loc. error",
        "GT-known acc.",
        "MaxBoxAccV2",
    ];
    let pct = |v: f64| 100.0 * v;
    let mut series: Vec<(String, Vec<f64>)> = runs
        .iter()
        .map(|(label, s)| {
            let values = match &s.localisation {
                Some(l) => vec![
                    pct(l.top1_error),
                    pct(l.top5_error),
                    pct(l.gt_known_accuracy),
                    pct(l.maxboxacc_v2),
                ],
                None => vec![f64::NAN; 4],
            };
            (label.clone(), values)
        })
        .collect();
    if let Some(base) = runs.first().and_then(|(_, s)| s.baselines.as_ref()) {
        for (name, label) in [
            ("full_image", "whole-image box"),
            ("centre_50", "centred ½-area box"),
        ] {
            if let Some(b) = base.get(name) {
                let v = vec![
                    pct(b.top1_error),
                    pct(b.top5_error),
                    pct(b.gt_known_accuracy),
                    f64::NAN,
                ];
                series.push((label.to_string(), v));
            }
        }
    }
    let images = runs.first().map_or(0, |(_, s)| s.images);
    bar_chart(
        &BarChart {
            title: format!(
                "weakly supervised localisation, {images} images (errors: lower is better)"
            ),
            y_label: "percent of images".into(),
            groups: metrics.map(String::from).to_vec(),
            series,
            log_y: false,
        },
        1040,
        420,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inked(img: &RgbImage, c: RGBColor) -> usize {
        img.pixels().filter(|p| p.0 == [c.0, c.1, c.2]).count()
    }

    #[test]
    fn lines_are_drawn_in_their_colours_with_a_legend() {
        let chart = LineChart {
            title: "score per step".into(),
            x_label: "step".into(),
            y_label: "S_c (logit)".into(),
            series: vec![
                Series {
                    name: "a".into(),
                    points: (0..50).map(|i| (i as f64, (i as f64).sqrt())).collect(),
                },
                Series {
                    name: "b".into(),
                    points: (0..50).map(|i| (i as f64, 7.0 - i as f64 * 0.1)).collect(),
                },
            ],
        };
        let img = line_charts(&[chart.clone(), chart], 500, 300).unwrap();
        assert_eq!(img.dimensions(), (500, 600));
        assert!(inked(&img, colour(0)) > 200 && inked(&img, colour(1)) > 200);
        let dark = img.pixels().filter(|p| p.0.iter().all(|&v| v < 60)).count();
        assert!(dark > 500, "axes and text: {dark}");
    }

    #[test]
    fn bars_on_linear_and_log_axes() {
        let mut chart = BarChart {
            title: "times".into(),
            y_label: "ms per image".into(),
            groups: vec!["forward".into(), "saliency".into()],
            series: vec![
                ("ours".into(), vec![10.0, 300.0]),
                ("PyTorch".into(), vec![12.0, f64::NAN]),
            ],
            log_y: false,
        };
        let lin = bar_chart(&chart, 400, 300).unwrap();
        assert!(inked(&lin, colour(0)) > 1000 && inked(&lin, colour(1)) > 10);
        chart.log_y = true;
        let log = bar_chart(&chart, 400, 300).unwrap();
        // On a log axis the short bars are tall enough to see.
        assert!(inked(&log, colour(1)) > inked(&lin, colour(1)) * 3);
    }
}
