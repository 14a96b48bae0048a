//! Learning curves drawn with plotters: total loss and every layer's style distance against
//! the iteration, log scale. Text uses a system TrueType font (DejaVu Sans, Liberation Sans,
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

/// Draws `log`'s total and per-layer curves into a PNG at `path` (written atomically).
pub fn learning_curve(log: &LossLog, path: &Path, title: &str) -> Result<()> {
    let (w, h) = (900u32, 560u32);
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("plot: {e}"))?;
        let rows = &log.rows;
        let max_iter = rows.last().map(|r| r.iter).unwrap_or(1).max(2);
        let mut series: Vec<(String, Vec<(usize, f64)>)> = vec![(
            "total".into(),
            rows.iter().map(|r| (r.iter, r.b.total)).collect(),
        )];
        for (i, name) in log.layer_names().iter().enumerate() {
            series.push((
                name.clone(),
                rows.iter()
                    .filter_map(|r| r.b.per_layer.get(i).map(|v| (r.iter, *v)))
                    .collect(),
            ));
        }
        let positive = series
            .iter()
            .flat_map(|(_, s)| s.iter().map(|p| p.1))
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
        for (i, (name, s)) in series.into_iter().enumerate() {
            let color = if i == 0 {
                BLACK.to_rgba()
            } else {
                Palette99::pick(i - 1).to_rgba()
            };
            let width = if i == 0 { 3 } else { 1 };
            let pts: Vec<(usize, f64)> = s
                .into_iter()
                .filter(|p| p.1 > 0.0 && p.1.is_finite())
                .collect();
            let drawn = chart
                .draw_series(LineSeries::new(pts, color.stroke_width(width)))
                .map_err(|e| anyhow!("plot: {e}"))?;
            if text {
                drawn.label(name).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
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
