//! `stylelearn demo`: the embedded default. A small stylised dataset (five photos passed through
//! a known cartoon filter, see `assets/demo/SOURCES.md`) is learned, the learned style is
//! applied to a photo the filter never saw, and a held-out photo is stylised too so the result
//! can be compared with the filter's own output (a closed-loop check). Writes `index.html`.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use stylelearn::files::{LearnFiles, LearnJob, TransferFiles, TransferJob, snapshot_path};
use stylelearn::image_io::{self, write_atomic};
use stylelearn::learn::LearnSettings;
use stylelearn::style::{self, StatisticKind};
use stylelearn::transfer::{Colours, StyleSource, TransferSettings, defaults};
use stylelearn::vgg::Vgg19;

use super::progress::Progress;

macro_rules! asset {
    ($p:literal) => {
        (
            $p,
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo/", $p)).as_slice(),
        )
    };
}

/// The embedded files, by path relative to `assets/demo/`.
pub const ASSETS: [(&str, &[u8]); 9] = [
    asset!("dataset/astronaut_shuttle.png"),
    asset!("dataset/chelsea.png"),
    asset!("dataset/retina.png"),
    asset!("dataset/rocket_launch.png"),
    asset!("dataset/rocket_tower.png"),
    asset!("photo.png"),
    asset!("held_out.png"),
    asset!("held_out_filtered.png"),
    asset!("SOURCES.md"),
];

/// Writes the embedded dataset into `dir` and returns the dataset folder.
pub fn unpack(dir: &Path) -> Result<PathBuf> {
    for (name, bytes) in ASSETS {
        write_atomic(&dir.join(name), bytes)?;
    }
    Ok(dir.join("dataset"))
}

/// Relative Gram distance (mean over the 5 usual style layers) of `a` from the style of `b`.
pub fn gram_distance(net: &Vgg19, a: &image_io::Rgb, b: &image_io::Rgb) -> Result<f64> {
    let layers = defaults::STYLE_LAYERS;
    let stat = StatisticKind::Gram.build();
    let d = style::image_distance(
        net,
        stat.as_ref(),
        a.to_tensor(net.device()),
        b.to_tensor(net.device()),
        &layers,
    );
    Ok(d.iter().sum::<f64>() / d.len() as f64)
}

/// Side of the learned style image and long side of the demo's transfers.
const STYLE_SIDE: usize = 128;
const PHOTO_SIDE: usize = 192;

/// Runs the demo into `out`.
pub fn run(
    net: &Vgg19,
    out: &Path,
    iters: usize,
    transfer_iters: usize,
    quiet: bool,
) -> Result<()> {
    let started = std::time::Instant::now();
    let data = unpack(out)?;
    let style_png = out.join("learned_style.png");
    // The final image is shown as itself, so snapshots stop before the last iteration.
    let snapshots: Vec<usize> = [15, 150].into_iter().filter(|&s| s < iters).collect();
    let settings = LearnSettings {
        size: STYLE_SIDE,
        iters,
        max_side: Some(PHOTO_SIDE),
        ..LearnSettings::new(vec![data])
    };
    let outputs = LearnFiles {
        output: style_png.clone(),
        snapshots: snapshots.clone(),
    };
    let job = LearnJob::new(settings, outputs.clone())?;
    let run = job.run(net, &mut Progress::new("learn the dataset's style", quiet))?;
    let (learned, mut written) = (run.outcome, run.files);
    // The learned image is used at its own pixel scale (it was matched to the dataset at the
    // dataset's scale), so it is not enlarged to the photo's size.
    let from_image = StyleSource::Images(vec![(style_png.clone(), 1.0)]);
    let from_profile = StyleSource::Profile(outputs.profile());
    let mut transfer = |content: &str,
                        output: &str,
                        label: &str,
                        style: &StyleSource,
                        colours: Colours|
     -> Result<()> {
        let settings = TransferSettings {
            size: PHOTO_SIDE,
            iters: transfer_iters,
            style_scale: STYLE_SIDE as f64 / PHOTO_SIDE as f64,
            colours,
            ..TransferSettings::new(out.join(content), style.clone())
        };
        let files = TransferFiles {
            output: out.join(output),
            log: None,
            snapshot_every: None,
        };
        let job = TransferJob::new(settings, files, net.device())?;
        written.extend(job.run(net, &mut Progress::new(label, quiet))?.files);
        Ok(())
    };
    transfer(
        "photo.png",
        "result.png",
        "photo, learned style image",
        &from_image,
        Colours::Style,
    )?;
    let variants = [
        (
            "held_out_result.png",
            "learned style image",
            &from_image,
            Colours::Style,
        ),
        (
            "held_out_profile.png",
            "style profile (dataset statistics; colours adapted, the default)",
            &from_profile,
            Colours::Auto,
        ),
        (
            "held_out_profile_color.png",
            "style profile + preserve colour",
            &from_profile,
            Colours::Photo,
        ),
    ];
    for (file, what, style, keep) in &variants {
        transfer(
            "held_out.png",
            file,
            &format!("held-out photo, {what}"),
            style,
            *keep,
        )?;
    }
    // Closed loop: how close is each stylisation of the held-out photo to the filter's own?
    let truth = image_io::load(&out.join("held_out_filtered.png"))?;
    let load = |f: &str| -> Result<image_io::Rgb> {
        Ok(image_io::load(&out.join(f))?.resize(truth.width, truth.height))
    };
    let d_raw = gram_distance(net, &load("held_out.png")?, &truth)?;
    let mut rows = Vec::new();
    for (file, what, _, _) in &variants {
        rows.push((*file, *what, gram_distance(net, &load(file)?, &truth)?));
    }
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html><meta charset=utf-8><title>stylelearn demo</title>\
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}img{{margin:4px;border:1px solid #ccc}}figure{{display:inline-block;margin:6px}}td,th{{padding:2px 10px}}</style>\
<h1>stylelearn demo</h1><p>The dataset below was made by a known cartoon filter (see <a href=SOURCES.md>SOURCES.md</a>). \
stylelearn learned one {STYLE_SIDE}×{STYLE_SIDE} style image whose VGG-19 Gram matrices (all 16 relu layers) match the dataset's mean, \
then applied it to photos the filter never saw. Total time TOTAL_SECONDS s.</p><h2>Dataset ({} images)</h2>",
        learned.target.sources.len()
    );
    for (name, _) in ASSETS.iter().filter(|(n, _)| n.starts_with("dataset/")) {
        let _ = write!(html, "<img src='{name}' height=128>");
    }
    let _ = write!(html, "<h2>Learned style image and snapshots</h2>");
    for s in &snapshots {
        let f = snapshot_path(&style_png, *s);
        let f = f.file_name().unwrap_or_default().to_string_lossy();
        let _ = write!(
            html,
            "<figure><img src='{f}' width=192><figcaption>iteration {s}</figcaption></figure>"
        );
    }
    let name = |p: &Path| {
        p.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    };
    let _ = write!(
        html,
        "<figure><img src='learned_style.png' width=192><figcaption>final ({} iterations, {} evaluations)</figcaption></figure>\
<h2>Learning curve</h2><img src='{}' width=720><p>Data: <a href='{}'>curve CSV</a>; style profile: <a href='{}'>{}</a>. \
Each run's own report: <a href=learned_style.html>learning</a>, <a href=result.html>transfer</a>.</p>\
<h2>Applying the learned style</h2><figure><img src='photo.png' height=192><figcaption>photo</figcaption></figure>\
<figure><img src='result.png' height=192><figcaption>stylelearn transfer, learned style image</figcaption></figure>\
<h2>Closed-loop check on a held-out photo</h2>\
<figure><img src='held_out.png' height=192><figcaption>held-out photo</figcaption></figure>\
<figure><img src='held_out_filtered.png' height=192><figcaption>the filter's output (truth)</figcaption></figure>",
        learned.iters,
        learned.evals,
        name(&outputs.curve_png()),
        name(&outputs.curve_csv()),
        name(&outputs.profile()),
        name(&outputs.profile()),
    );
    for (file, what, _) in &rows {
        let _ = write!(
            html,
            "<figure><img src='{file}' height=192><figcaption>{what}</figcaption></figure>"
        );
    }
    let _ = write!(
        html,
        "<p>Relative Gram distance to the filter's output (mean over relu1_1…relu5_1 of ‖G−T‖²/‖T‖²; lower is closer):</p>\
<table border=1 style=border-collapse:collapse><tr><th>image</th><th>distance</th></tr><tr><td>raw photo</td><td>{d_raw:.3}</td></tr>"
    );
    for (_, what, d) in &rows {
        let _ = write!(html, "<tr><td>stylelearn: {what}</td><td>{d:.3}</td></tr>");
    }
    html.push_str("</table>");
    let html = html.replacen(
        "TOTAL_SECONDS",
        &format!("{:.0}", started.elapsed().as_secs_f64()),
        1,
    );
    write_atomic(&out.join("index.html"), html.as_bytes())?;
    if !quiet {
        eprintln!(
            "wrote {}",
            written
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        eprintln!("demo written to {} (open index.html)", out.display());
        eprintln!(
            "closed loop, Gram distance to the filter's own output of a held-out photo: raw photo {d_raw:.3}"
        );
        for (_, what, d) in &rows {
            eprintln!("  stylelearn, {what}: {d:.3}");
        }
    }
    Ok(())
}
