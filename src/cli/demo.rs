//! `stylelearn demo`: the embedded default. A small stylised dataset (five photos passed through
//! a known cartoon filter, see `assets/demo/SOURCES.md`) is learned, the learned style is
//! applied to a photo the filter never saw, and a held-out photo is stylised by every route and
//! judged against the filter's own output by `evaluate` (a closed-loop check). Writes
//! `index.html`, with the evaluation's page in `evaluation/`.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use stylelearn::evaluate::{EvaluateJob, EvaluateSettings, Route};
use stylelearn::files::{LearnFiles, LearnJob, TransferFiles, TransferJob, snapshot_path};
use stylelearn::image_io::write_atomic;
use stylelearn::learn::LearnSettings;
use stylelearn::transfer::{Colours, StyleSource, TransferSettings};
use stylelearn::vgg::Vgg19;

use super::EvalProgress;
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

/// The held-out pair as `evaluate` reads it: `PAIRS/photos/HELD_OUT.png` and
/// `PAIRS/filtered/HELD_OUT.png`.
const PAIRS: &str = "held_out_pair";
const HELD_OUT: &str = "held_out";
/// Where the closed loop's evaluation goes.
const EVALUATION: &str = "evaluation";
/// The naive baseline's style: the first dataset image by name, as in the benchmark.
const BASELINE_STYLE: &str = "dataset/astronaut_shuttle.png";

/// Where an embedded file goes in the output folder: the held-out photo and the filter's
/// output of it into the pair folder that `evaluate` reads, the rest by their own paths.
fn destination(name: &str) -> PathBuf {
    let pair = |folder: &str| {
        Path::new(PAIRS)
            .join(folder)
            .join(format!("{HELD_OUT}.png"))
    };
    match name {
        "held_out.png" => pair("photos"),
        "held_out_filtered.png" => pair("filtered"),
        _ => PathBuf::from(name),
    }
}

/// Writes the embedded files into `dir` and returns the dataset folder.
pub fn unpack(dir: &Path) -> Result<PathBuf> {
    for (name, bytes) in ASSETS {
        write_atomic(&dir.join(destination(name)), bytes)?;
    }
    Ok(dir.join("dataset"))
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
    let settings = LearnSettings {
        size: STYLE_SIDE,
        iters,
        max_side: Some(PHOTO_SIDE),
        ..LearnSettings::new(vec![data])
    };
    // The final image is shown as itself, so snapshots stop before the last iteration.
    let total = iters * settings.sides()?.len();
    let snapshots: Vec<usize> = [15, 150].into_iter().filter(|&s| s < total).collect();
    let outputs = LearnFiles {
        output: style_png.clone(),
        snapshots: snapshots.clone(),
    };
    let job = LearnJob::new(settings, outputs.clone())?;
    let run = job.run(net, &mut Progress::new("learn the dataset's style", quiet))?;
    let (learned, mut written) = (run.outcome, run.files);
    // The learned image is used at its own pixel scale (it was matched to the dataset at the
    // dataset's scale), so it is not enlarged to the photo's size.
    let image_scale = STYLE_SIDE as f64 / PHOTO_SIDE as f64;
    let settings = TransferSettings {
        size: PHOTO_SIDE,
        iters: transfer_iters,
        style_scale: image_scale,
        colours: Colours::Style,
        ..TransferSettings::new(
            out.join("photo.png"),
            StyleSource::Images(vec![(style_png.clone(), 1.0)]),
        )
    };
    let files = TransferFiles {
        output: out.join("result.png"),
        log: None,
        snapshot_every: None,
    };
    let job = TransferJob::new(settings, files, net.device())?;
    let label = "photo, learned style image";
    written.extend(job.run(net, &mut Progress::new(label, quiet))?.files);
    // Closed loop: the held-out photo stylised by every route and judged against the filter's
    // own output by `evaluate`'s colour and texture judges (not VGG-19).
    let routes = vec![
        Route::Image {
            path: style_png.clone(),
            style_scale: image_scale,
        },
        Route::ProfileAdapt(outputs.profile()),
        Route::Profile(outputs.profile()),
        Route::ProfileColour(outputs.profile()),
        Route::Baseline(out.join(BASELINE_STYLE)),
        Route::Precomputed {
            name: "unfiltered".into(),
            dir: out.join(PAIRS).join("photos"),
        },
    ];
    let mut settings = EvaluateSettings::new(out.join(PAIRS), routes);
    settings.transfer.size = PHOTO_SIDE;
    settings.transfer.iters = transfer_iters;
    settings.gram = true;
    let job = EvaluateJob::new(settings, out.join(EVALUATION), net.device())?;
    let Some((ev, files)) = job.run(net, &mut EvalProgress::new(quiet))? else {
        anyhow::bail!("the closed-loop evaluation was stopped; nothing of it was written");
    };
    written.extend(files);
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html><meta charset=utf-8><title>stylelearn demo</title>\
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}img{{margin:4px;border:1px solid #ccc}}figure{{display:inline-block;margin:6px}}td,th{{padding:2px 10px}}</style>\
<h1>stylelearn demo</h1><p>The dataset below was made by a known cartoon filter (see <a href=SOURCES.md>SOURCES.md</a>). \
stylelearn learned one {STYLE_SIDE}×{STYLE_SIDE} style image whose VGG-19 Gram matrices (all 16 relu layers) match the dataset's mean \
(coarse to fine: at half the size first, then at full size), \
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
<p>The filter also processed a photo that stylelearn never learned from. <code>stylelearn evaluate</code> stylised it by every route \
and measured how far each result is from the filter's own output (<a href='{EVALUATION}/index.html'>its page</a>, \
<a href='{EVALUATION}/means.csv'>means.csv</a>). The routes: <b>image</b>, the learned style image, \
with the dataset's colours it carries, adapted (what <code>transfer</code> does with it); <b>profile-adapt</b>, the style profile \
with adapted colours (what <code>transfer</code> does with a profile); <b>profile</b>, the profile with the optimisation's colours; \
<b>profile-colour</b>, the profile keeping the photo's colours; <b>baseline</b>, ONE dataset image ({BASELINE_STYLE}) as the style; \
<b>unfiltered</b>, the photo as it is.</p>\
<figure><img src='{EVALUATION}/photo/{HELD_OUT}.png' height=192><figcaption>held-out photo</figcaption></figure>\
<figure><img src='{EVALUATION}/filter/{HELD_OUT}.png' height=192><figcaption>the filter's output (truth)</figcaption></figure>",
        learned.iters,
        learned.evals,
        name(&outputs.curve_png()),
        name(&outputs.curve_csv()),
        name(&outputs.profile()),
        name(&outputs.profile()),
    );
    for r in &ev.routes {
        let _ = write!(
            html,
            "<figure><img src='{EVALUATION}/{0}/{HELD_OUT}.png' height=192><figcaption>{0}</figcaption></figure>",
            r.name
        );
    }
    let _ = write!(
        html,
        "<p>Distance to the filter's output (lower is closer): colour, the sliced Wasserstein distance of the CIE Lab colours (ΔE); \
texture, the RMS log ratio of Gabor filter-bank statistics; the ratios divide by the baseline's; the VGG-19 Gram distance \
(relative, mean over relu1_1…relu5_1) is shown for information only, as stylelearn optimises it.</p>"
    );
    html.push_str(&ev.means_html());
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
        eprintln!("closed loop on a held-out photo, distance to the filter's own output:");
        eprintln!("{}", ev.means_markdown().trim_end());
    }
    Ok(())
}
