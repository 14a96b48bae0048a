//! Learning curves drawn with plotters: the total loss (bold) and the style distances grouped by
//! VGG-19 block against the iteration, log scale. Each block (relu1_x … relu5_x) has one colour:
//! its layers are thin pale lines and their mean a full line with one legend entry per block. Text uses a system TrueType font (DejaVu Sans, Liberation Sans,
//! …); without one the curves are drawn without labels.
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Result, anyhow};
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::log::LossLog;

const FONT_PATHS: [&str; 5] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Registers a system font once; false when none was found.
fn font_available() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| {
        let path = std::env::var("STYLELEARN_FONT")
            .ok()
            .into_iter()
            .chain(FONT_PATHS.iter().map(|s| s.to_string()));
        for p in path {
            if let Ok(bytes) = std::fs::read(&p) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

/// One line of the plot; `label` for the lines that have a legend entry.
struct Series {
    label: Option<String>,
    color: RGBAColor,
    width: u32,
    points: Vec<(usize, f64)>,
}

/// One colour per VGG-19 block (relu1_x … relu5_x), told apart in colour and in grey.
const BLOCK_COLORS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
];

/// The block (1–5) of a layer named `reluB_N`; 0 for any other name.
fn block_of(name: &str) -> usize {
    name.strip_prefix("relu")
        .and_then(|r| r.split('_').next())
        .and_then(|b| b.parse().ok())
        .filter(|b| (1..=5).contains(b))
        .unwrap_or(0)
}

/// The total, then per block: its mean (labelled; a block of one layer is labelled with that
/// layer's name) and its layers (pale, unlabelled).
fn block_series(log: &LossLog) -> Vec<Series> {
    let rows = &log.rows;
    let mut out = vec![Series {
        label: Some("total".into()),
        color: BLACK.to_rgba(),
        width: 3,
        points: rows.iter().map(|r| (r.iter, r.b.total)).collect(),
    }];
    let names = log.layer_names();
    for block in 0..=5 {
        let members: Vec<usize> = (0..names.len())
            .filter(|&i| block_of(&names[i]) == block)
            .collect();
        if members.is_empty() {
            continue;
        }
        let base = if block == 0 {
            RGBColor(90, 90, 90)
        } else {
            BLOCK_COLORS[block - 1]
        };
        let layer = |i: usize| -> Vec<(usize, f64)> {
            rows.iter()
                .filter_map(|r| r.b.per_layer.get(i).map(|v| (r.iter, *v)))
                .collect()
        };
        if members.len() == 1 {
            out.push(Series {
                label: Some(names[members[0]].clone()),
                color: base.to_rgba(),
                width: 2,
                points: layer(members[0]),
            });
            continue;
        }
        let mean = rows
            .iter()
            .map(|r| {
                let vs: Vec<f64> = members
                    .iter()
                    .filter_map(|&i| r.b.per_layer.get(i).copied())
                    .collect();
                (r.iter, vs.iter().sum::<f64>() / vs.len().max(1) as f64)
            })
            .collect();
        let label = if block == 0 {
            "other layers (mean)".to_string()
        } else {
            format!("relu{block}_x mean ({} layers)", members.len())
        };
        out.push(Series {
            label: Some(label),
            color: base.to_rgba(),
            width: 2,
            points: mean,
        });
        for &i in &members {
            out.push(Series {
                label: None,
                color: base.mix(0.35),
                width: 1,
                points: layer(i),
            });
        }
    }
    out
}

/// Draws `log`'s total and per-layer curves into a PNG at `path` (written atomically).
pub fn learning_curve(log: &LossLog, path: &Path, title: &str) -> Result<()> {
    let (w, h) = (900u32, 560u32);
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("plot: {e}"))?;
        let rows = &log.rows;
        let max_iter = rows.last().map(|r| r.iter).unwrap_or(1).max(2);
        let series = block_series(log);
        let positive = series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .filter(|v| *v > 0.0 && v.is_finite());
        let (lo, hi) = positive.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let (lo, hi) = if lo > hi {
            (1e-6, 1.0)
        } else {
            (lo * 0.8, hi * 1.25)
        };
        let text = font_available();
        let mut b = ChartBuilder::on(&root);
        b.margin(12);
        if text {
            b.caption(title, ("sans-serif", 20))
                .x_label_area_size(40)
                .y_label_area_size(70);
        }
        let mut chart = b
            .build_cartesian_2d(1..max_iter, (lo..hi).log_scale())
            .map_err(|e| anyhow!("plot: {e}"))?;
        let mut mesh = chart.configure_mesh();
        if text {
            mesh.x_desc("iteration").y_desc("loss (log scale)");
        } else {
            mesh.disable_x_mesh()
                .disable_y_mesh()
                .x_labels(0)
                .y_labels(0);
        }
        mesh.draw().map_err(|e| anyhow!("plot: {e}"))?;
        // Pale single layers first, then block means, then the total on top.
        let mut order: Vec<&Series> = series.iter().filter(|s| s.label.is_none()).collect();
        order.extend(series.iter().skip(1).filter(|s| s.label.is_some()));
        order.push(&series[0]);
        for s in order {
            let (color, width) = (s.color, s.width);
            let pts: Vec<(usize, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|p| p.1 > 0.0 && p.1.is_finite())
                .collect();
            let drawn = chart
                .draw_series(LineSeries::new(pts, color.stroke_width(width)))
                .map_err(|e| anyhow!("plot: {e}"))?;
            if let (true, Some(label)) = (text, &s.label) {
                drawn.label(label).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(width.min(3)))
                });
            }
        }
        if text {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 11))
                .draw()
                .map_err(|e| anyhow!("plot: {e}"))?;
        }
        root.present().map_err(|e| anyhow!("plot: {e}"))?;
    }
    let img = image::RgbImage::from_raw(w, h, buf).expect("buffer size");
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png)?;
    crate::image_io::write_atomic(path, png.get_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::Breakdown;

    #[test]
    fn layers_are_grouped_by_block_with_one_legend_entry_each() {
        let names: Vec<String> = crate::vgg::RELU_LAYERS
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut log = LossLog::new(&names);
        for it in 1..=3 {
            let b = Breakdown {
                total: 1.0 / it as f64,
                per_layer: (0..16).map(|l| (l + it) as f64).collect(),
                ..Breakdown::default()
            };
            log.row(it, it, 0, &b).unwrap();
        }
        let s = block_series(&log);
        let labels: Vec<&str> = s.iter().filter_map(|s| s.label.as_deref()).collect();
        assert_eq!(
            labels,
            [
                "total",
                "relu1_x mean (2 layers)",
                "relu2_x mean (2 layers)",
                "relu3_x mean (4 layers)",
                "relu4_x mean (4 layers)",
                "relu5_x mean (4 layers)"
            ]
        );
        assert_eq!(s.len(), 6 + 16);
        // relu1_x: layers 0 and 1 at iteration 1 are 1 and 2.
        assert_eq!(s[1].points[0], (1, 1.5));
        let path = tempfile::tempdir().unwrap();
        learning_curve(&log, &path.path().join("c.png"), "t").unwrap();
    }
}
