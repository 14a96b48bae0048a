//! Closed-loop evaluation: does a route (a learned style image, a style profile, a one-image
//! baseline, or another tool's results) make held-out photos look like the filter did?
//!
//! The held-out pairs are a folder with `photos/` and `filtered/` holding the same file stems
//! (the benchmark's `heldout/` layout, see `scripts/make_benchmark.py`). Every photo is stylised
//! by every [`Route`] with the same transfer settings, and each result is judged against the
//! filter's output of that photo by [`crate::judge`] (colour and texture; optionally also the
//! VGG-19 Gram distance, for information only: stylelearn optimises VGG-19 statistics).
//!
//! [`EvaluateSettings`] → [`EvaluatePlan::new`] (checks the pairs and every route's files and
//! builds every transfer plan before any work) → [`EvaluatePlan::run`] → [`Evaluation`]: the
//! distances per pair × route, each route's means, and each mean's ratio to the baseline's
//! (below 1: closer to the filter than the naive one-image transfer).
//! [`EvaluateJob`] is the same run with its files (`results.csv`, `means.csv`, `index.html`,
//! the images) checked up front and published together.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use burn::tensor::Device;

use crate::error::{Error, Result};
use crate::image_io::{self, Rgb};
use crate::judge::{self, Judgement};
use crate::observe::Observer;
use crate::outputs::OutputSet;
use crate::style::{self, StatisticKind};
use crate::transfer::{
    self, Colours, DetailMode, Pixelate, Posterise, StyleSource, TransferPlan, TransferSettings,
};
use crate::vgg::{self, Vgg19};

/// Image files a pairs folder may hold.
const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "webp", "bmp", "tif"];

/// Names of the output folders holding copies of the inputs (no route may use them).
pub const PHOTO_DIR: &str = "photo";
pub const FILTER_DIR: &str = "filter";

/// One way of making a photo look like the filter.
#[derive(Clone, Debug)]
pub enum Route {
    /// Transfer with a (learned) style image as the style, at `style_scale` (see
    /// [`TransferSettings::style_scale`]), with the colours `transfer` gives it by default
    /// ([`Colours::Auto`]): a learned image's dataset's colours, adapted, as profile-adapt
    /// does with the profile ([`crate::carried`]), or else the optimisation's.
    Image { path: PathBuf, style_scale: f64 },
    /// Transfer with a style profile, taking its colours from the optimisation
    /// ([`Colours::Style`]).
    Profile(PathBuf),
    /// Transfer with a style profile, keeping the photo's colours ([`Colours::Photo`]).
    ProfileColour(PathBuf),
    /// Transfer with a style profile, keeping the photo's hues with its lightness and
    /// colourfulness adapted to the dataset's ([`Colours::Adapted`], what `transfer` does with a
    /// profile by default).
    ProfileAdapt(PathBuf),
    /// [`Route::ProfileAdapt`] with the result's fine detail kept as the optimisation made it
    /// ([`DetailMode::Keep`]) instead of given the dataset's: closer for a filter whose
    /// detail follows the photo's (painterly strokes), farther for most (README, "The
    /// style's fine detail").
    ProfileAdaptKeep(PathBuf),
    /// The photo with the profile's adapted colours and nothing else: no optimisation, no
    /// detail matching, no posterising ([`Colours::Adapted`] with 0 iterations). What a filter
    /// that adds no texture (a colour grade or LUT, a vignette) does to a photo.
    AdaptOnly(PathBuf),
    /// The adapted photo with the transfer's finish (the dataset's fine detail, posterising)
    /// and no optimisation ([`Colours::Adapted`] with 0 iterations): what the non-neural
    /// parts of a profile transfer do alone. Closer than the optimisation for a filter whose
    /// texture the photo and the finish already hold (a pencil sketch, a glow).
    AdaptFinish(PathBuf),
    /// The naive baseline: transfer with ONE of the filter's outputs as the style image.
    Baseline(PathBuf),
    /// Already stylised images in `dir`, one per photo, named by the photo's stem (another
    /// tool's results, or a check of the judges).
    Precomputed { name: String, dir: PathBuf },
}

impl Route {
    /// The route's name: its output folder and its label in tables.
    pub fn name(&self) -> &str {
        match self {
            Route::Image { .. } => "image",
            Route::Profile(_) => "profile",
            Route::ProfileColour(_) => "profile-colour",
            Route::ProfileAdapt(_) => "profile-adapt",
            Route::ProfileAdaptKeep(_) => "profile-adapt-keep",
            Route::AdaptOnly(_) => "adapt-only",
            Route::AdaptFinish(_) => "adapt-finish",
            Route::Baseline(_) => "baseline",
            Route::Precomputed { name, .. } => name,
        }
    }

    /// The style profile the route transfers with, if any.
    pub fn profile(&self) -> Option<&PathBuf> {
        match self {
            Route::Profile(p)
            | Route::ProfileColour(p)
            | Route::ProfileAdapt(p)
            | Route::ProfileAdaptKeep(p)
            | Route::AdaptOnly(p)
            | Route::AdaptFinish(p) => Some(p),
            Route::Image { .. } | Route::Baseline(_) | Route::Precomputed { .. } => None,
        }
    }
}

/// Checks a route name: letters, digits, `-`, `_`, `.`; not `.`/`..`; not an input folder.
pub fn check_route_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty()
        || name.starts_with('.')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(format!(
            "route name '{name}': use letters, digits, '-', '_' or '.' (not first)"
        ));
    }
    if name == PHOTO_DIR || name == FILTER_DIR {
        return Err(format!(
            "route name '{name}' is reserved for the copies of the inputs"
        ));
    }
    Ok(())
}

/// Everything an evaluation needs, as plain values.
#[derive(Clone, Debug)]
pub struct EvaluateSettings {
    /// A folder with `photos/` and `filtered/` sharing file stems.
    pub pairs: PathBuf,
    pub routes: Vec<Route>,
    /// The transfer settings every transferring route uses; its `content` and `style` are
    /// replaced per photo and route (and `style_scale` / `colours` by the route). Without a
    /// statistic, every route takes the first profile route's (Gram without one), so that the
    /// image routes and the baseline are transferred like the profile routes.
    pub transfer: TransferSettings,
    /// Also report the VGG-19 Gram distance (mean over the five standard style layers).
    pub gram: bool,
}

impl EvaluateSettings {
    /// Settings with the transfer defaults of `evaluate` (256 px, 30 iterations).
    pub fn new(pairs: PathBuf, routes: Vec<Route>) -> Self {
        let transfer = TransferSettings {
            size: defaults::SIZE,
            iters: defaults::ITERS,
            ..TransferSettings::new(PathBuf::new(), StyleSource::Images(Vec::new()))
        };
        Self {
            pairs,
            routes,
            transfer,
            gram: false,
        }
    }
}

impl EvaluateSettings {
    /// The long side every result is judged at: the transfers' result size (a long side
    /// given, [`crate::transfer::ResultSize::LongSide`]), or their output size.
    pub fn judge_size(&self) -> usize {
        let t = &self.transfer;
        if let crate::transfer::ResultSize::LongSide(px) = t.result {
            return px;
        }
        t.scales
            .as_ref()
            .and_then(|s| s.last().copied())
            .unwrap_or(t.size)
    }
}

/// Defaults of `evaluate`.
pub mod defaults {
    /// The benchmark's photos are 256 px on the long side.
    pub const SIZE: usize = 256;
    /// Iterations of every transfer: `transfer`'s.
    pub const ITERS: usize = crate::transfer::defaults::ITERS;
}

/// A held-out pair: the photo and the filter's output of it.
pub struct Pair {
    pub stem: String,
    pub photo_path: PathBuf,
    pub filtered_path: PathBuf,
    pub photo: Rgb,
    pub filtered: Rgb,
}

/// What a route does for one photo.
enum Work {
    Transfer(Box<TransferPlan>),
    Ready { image: Rgb, path: PathBuf },
}

/// A checked evaluation with its inputs read and every transfer planned.
pub struct EvaluatePlan {
    settings: EvaluateSettings,
    pairs: Vec<Pair>,
    /// [pair][route]
    work: Vec<Vec<Work>>,
}

/// The distances of one result from the filter's output.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Distances {
    pub colour: f64,
    pub texture: f64,
    /// VGG-19 Gram distance, when asked for.
    pub gram: Option<f64>,
}

impl Distances {
    fn from(j: Judgement, gram: Option<f64>) -> Self {
        Self {
            colour: j.colour,
            texture: j.texture,
            gram,
        }
    }
}

/// One route's result for one photo.
pub struct Cell {
    pub image: Rgb,
    pub distances: Distances,
}

/// A route's summary over the pairs.
#[derive(Clone, Debug)]
pub struct RouteSummary {
    pub name: String,
    /// Mean distances over the pairs.
    pub mean: Distances,
    /// Each mean divided by the baseline route's (`None` without a baseline route, or where
    /// the baseline's mean is 0).
    pub ratio: Option<Distances>,
    /// Whether this is one of the learned style's routes (the image, a profile route,
    /// adapt-only or adapt-finish): not the baseline, not precomputed results.
    pub learned: bool,
}

/// Which of the learned style's routes came closest to the filter's outputs (the lowest mean
/// distance), as indices into the evaluation's routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closest {
    /// One route is the closest on both judges.
    Both(usize),
    /// No route is the closest on both: these are, judge by judge.
    Split { colour: usize, texture: usize },
}

/// What an evaluation found.
pub struct Evaluation {
    /// The pairs' stems, in order.
    pub stems: Vec<String>,
    /// \[pair\]\[route\], routes in the settings' order.
    pub cells: Vec<Vec<Cell>>,
    /// Per route, in the settings' order.
    pub routes: Vec<RouteSummary>,
}

fn is_image_name(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The images of `dir` by stem (an error for two files with one stem, or a non-UTF-8 stem).
fn images_by_stem(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let fail = |m: String| Error::input(dir, anyhow!(m));
    if !dir.is_dir() {
        return Err(fail(format!("{} is not a folder", dir.display())));
    }
    let rd =
        std::fs::read_dir(dir).map_err(|e| fail(format!("cannot list {}: {e}", dir.display())))?;
    let mut out = BTreeMap::new();
    for ent in rd {
        let p = ent
            .map_err(|e| fail(format!("cannot list {}: {e}", dir.display())))?
            .path();
        if !p.is_file() || !is_image_name(&p) {
            continue;
        }
        let stem = p
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| fail(format!("{}: file names must be UTF-8", p.display())))?
            .to_string();
        if stem.starts_with('.') {
            continue;
        }
        if let Some(other) = out.insert(stem.clone(), p.clone()) {
            return Err(fail(format!(
                "{} and {} share the stem '{stem}': keep one",
                other.display(),
                p.display()
            )));
        }
    }
    Ok(out)
}

fn load(path: &Path) -> Result<Rgb> {
    let img = image_io::load(path).map_err(|e| Error::input(path, e))?;
    vgg::check_size(img.height, img.width)
        .map_err(|e| Error::input(path, e.context(path.display().to_string())))?;
    Ok(img)
}

/// Reads the held-out pairs of `dir` (`photos/` and `filtered/` with the same stems).
pub fn read_pairs(dir: &Path) -> Result<Vec<Pair>> {
    let photos = images_by_stem(&dir.join("photos"))?;
    let filtered = images_by_stem(&dir.join("filtered"))?;
    if let Some((stem, p)) = photos.iter().find(|(s, _)| !filtered.contains_key(*s)) {
        return Err(Error::input(
            p,
            anyhow!(
                "photo {} has no filter output: expected {}/filtered/{stem}.png",
                p.display(),
                dir.display()
            ),
        ));
    }
    if let Some((stem, p)) = filtered.iter().find(|(s, _)| !photos.contains_key(*s)) {
        return Err(Error::input(
            p,
            anyhow!(
                "filter output {} has no photo: expected {}/photos/{stem}.png",
                p.display(),
                dir.display()
            ),
        ));
    }
    if photos.is_empty() {
        return Err(Error::input(
            dir,
            anyhow!("{}/photos holds no images", dir.display()),
        ));
    }
    photos
        .into_iter()
        .map(|(stem, photo_path)| {
            let filtered_path = filtered[&stem].clone();
            Ok(Pair {
                photo: load(&photo_path)?,
                filtered: load(&filtered_path)?,
                stem,
                photo_path,
                filtered_path,
            })
        })
        .collect()
}

impl EvaluatePlan {
    /// Checks the settings, reads the pairs and every precomputed image, and plans every
    /// transfer (which reads and checks each style image and profile). Nothing runs yet.
    pub fn new(settings: EvaluateSettings, device: &Device) -> Result<Self> {
        if settings.routes.is_empty() {
            return Err(Error::Other(anyhow!(
                "no routes to evaluate: give a style image, a style profile, a baseline or a precomputed route"
            )));
        }
        for (i, r) in settings.routes.iter().enumerate() {
            check_route_name(r.name()).map_err(|m| Error::Other(anyhow!(m)))?;
            if settings.routes[..i].iter().any(|o| o.name() == r.name()) {
                return Err(Error::Other(anyhow!(
                    "route '{}' is given twice: every route needs its own name",
                    r.name()
                )));
            }
        }
        if settings.judge_size() < vgg::MIN_SIDE {
            let setting = if settings.transfer.result != crate::transfer::ResultSize::Optimised {
                crate::Setting::ResultSize
            } else if settings.transfer.scales.is_some() {
                crate::Setting::Scales
            } else {
                crate::Setting::Size
            };
            return Err(Error::setting(
                setting,
                format!("must be at least {} px", vgg::MIN_SIDE),
            ));
        }
        let mut settings = settings;
        if settings.transfer.statistic.is_none()
            && let Some(p) = settings.routes.iter().find_map(Route::profile)
        {
            let kind = style::StyleTarget::statistic_of(p).map_err(|e| Error::input(p, e))?;
            settings.transfer.statistic = Some(kind);
        }
        let pairs = read_pairs(&settings.pairs)?;
        let mut work: Vec<Vec<Work>> = Vec::with_capacity(pairs.len());
        for pair in &pairs {
            let mut row = Vec::with_capacity(settings.routes.len());
            for (r, route) in settings.routes.iter().enumerate() {
                let ts = route_settings(&settings, route, &pair.photo_path);
                row.push(match (ts, route) {
                    // a route's style inputs (its images or profile) are read once, with its
                    // first photo, and shared by the others
                    (Some(ts), _) => Work::Transfer(Box::new(match work.first().map(|w| &w[r]) {
                        Some(Work::Transfer(first)) => first.for_photo(pair.photo_path.clone())?,
                        _ => TransferPlan::new(ts, device)?,
                    })),
                    (None, Route::Precomputed { name, dir }) => {
                        let found = images_by_stem(dir)?;
                        let path = found.get(&pair.stem).cloned().ok_or_else(|| {
                            Error::input(
                                dir,
                                anyhow!(
                                    "route '{name}': {} has no image for photo '{}' (expected {}/{}.png)",
                                    dir.display(),
                                    pair.stem,
                                    dir.display(),
                                    pair.stem
                                ),
                            )
                        })?;
                        Work::Ready {
                            image: load(&path)?,
                            path,
                        }
                    }
                    (None, _) => unreachable!("only precomputed routes have no transfer"),
                });
            }
            work.push(row);
        }
        Ok(Self {
            settings,
            pairs,
            work,
        })
    }

    pub fn settings(&self) -> &EvaluateSettings {
        &self.settings
    }

    pub fn pairs(&self) -> &[Pair] {
        &self.pairs
    }

    /// The number of transfers the run makes.
    pub fn transfers(&self) -> usize {
        self.work
            .iter()
            .flatten()
            .filter(|w| matches!(w, Work::Transfer(_)))
            .count()
    }

    /// Files the evaluation reads, with what each is (to keep outputs from replacing them).
    pub fn inputs(&self) -> Vec<(PathBuf, &'static str)> {
        let mut v = Vec::new();
        for (pair, row) in self.pairs.iter().zip(&self.work) {
            v.push((pair.photo_path.clone(), "a held-out photo"));
            v.push((pair.filtered_path.clone(), "a filter output"));
            for w in row {
                match w {
                    Work::Transfer(p) => v.extend(
                        p.inputs()
                            .into_iter()
                            .filter(|(_, what)| *what != "the content image"),
                    ),
                    Work::Ready { path, .. } => v.push((path.clone(), "a precomputed image")),
                }
            }
        }
        v
    }

    /// Stylises every photo by every route and judges each result against the filter's
    /// output. Everything is judged at the transfers' size (the texture judge's bands are in
    /// pixels): precomputed images are resized to that long side, and the filter's output to
    /// each result's size. A transfer's result is judged as its PNG holds it (8-bit), as
    /// precomputed results are read. Returns `None` when the observer stopped a transfer.
    pub fn run(
        &self,
        net: &Vgg19,
        observer: &mut dyn EvaluateObserver,
    ) -> Result<Option<Evaluation>> {
        let count = self.transfers();
        let long = self.settings.judge_size();
        let mut index = 0;
        let gram_stat = self.settings.gram.then(|| StatisticKind::Gram.build());
        let mut cells = Vec::with_capacity(self.pairs.len());
        for (pair, row) in self.pairs.iter().zip(&self.work) {
            let mut out = Vec::with_capacity(row.len());
            for (route, w) in self.settings.routes.iter().zip(row) {
                let image = match w {
                    // Judged at the transfers' size, like every other route.
                    Work::Ready { image, .. } => image.fit_long_side(long),
                    Work::Transfer(plan) => {
                        observer.transfer(&Transfer {
                            index,
                            count,
                            stem: &pair.stem,
                            route: route.name(),
                        });
                        index += 1;
                        let o = plan.run(net, observer.as_observer())?;
                        if o.stopped {
                            return Ok(None);
                        }
                        // judged as written: 8-bit, like a precomputed route's images
                        o.image.to_8bit()
                    }
                };
                let reference = pair.filtered.resize(image.width, image.height);
                let gram = gram_stat.as_ref().map(|stat| {
                    let d = style::image_distance(
                        net,
                        stat.as_ref(),
                        image.to_tensor(net.device()),
                        reference.to_tensor(net.device()),
                        &transfer::defaults::STYLE_LAYERS,
                    );
                    d.iter().sum::<f64>() / d.len() as f64
                });
                let distances = Distances::from(judge::judge(&image, &reference), gram);
                out.push(Cell { image, distances });
            }
            cells.push(out);
        }
        let routes = summarise(&self.settings.routes, &cells);
        Ok(Some(Evaluation {
            stems: self.pairs.iter().map(|p| p.stem.clone()).collect(),
            cells,
            routes,
        }))
    }
}

/// The transfer settings with which `route` stylises `photo` in an evaluation with `settings`:
/// `settings.transfer` with the route's style, style scale and colours (profile-adapt-keep
/// also keeps the detail as optimised; adapt-only sets 0 iterations, no detail matching, no
/// pixelating and no posterising; adapt-finish sets 0 iterations). `None` for a precomputed route.
pub fn route_settings(
    settings: &EvaluateSettings,
    route: &Route,
    photo: &Path,
) -> Option<TransferSettings> {
    let base = &settings.transfer;
    // the routes that take the style's colours take its palette with --match-palette
    let styled = match base.colours {
        Colours::Palette => Colours::Palette,
        _ => Colours::Style,
    };
    let t = |style: StyleSource, style_scale: f64, colours: Colours| TransferSettings {
        content: photo.to_path_buf(),
        style,
        style_scale,
        colours,
        ..base.clone()
    };
    let profile = |p: &PathBuf| StyleSource::Profile(p.clone());
    let image = |p: &PathBuf| StyleSource::Images(vec![(p.clone(), 1.0)]);
    match route {
        Route::Image { path, style_scale } => {
            let colours = match base.colours {
                Colours::Palette => Colours::Palette,
                _ => Colours::Auto,
            };
            Some(t(image(path), *style_scale, colours))
        }
        Route::Profile(p) => Some(t(profile(p), base.style_scale, styled)),
        Route::ProfileColour(p) => Some(t(profile(p), base.style_scale, Colours::Photo)),
        Route::ProfileAdapt(p) => Some(t(profile(p), base.style_scale, Colours::Adapted)),
        Route::ProfileAdaptKeep(p) => Some(TransferSettings {
            detail: DetailMode::Keep,
            ..t(profile(p), base.style_scale, Colours::Adapted)
        }),
        Route::AdaptOnly(p) => Some(TransferSettings {
            iters: 0,
            detail: DetailMode::Keep,
            posterise: Posterise::Off,
            pixelate: Pixelate::Off,
            ..t(profile(p), base.style_scale, Colours::Adapted)
        }),
        Route::AdaptFinish(p) => Some(TransferSettings {
            iters: 0,
            ..t(profile(p), base.style_scale, Colours::Adapted)
        }),
        Route::Baseline(p) => Some(t(image(p), base.style_scale, styled)),
        Route::Precomputed { .. } => None,
    }
}

/// Means per route and their ratios to the baseline's.
fn summarise(routes: &[Route], cells: &[Vec<Cell>]) -> Vec<RouteSummary> {
    let n = cells.len() as f64;
    let means: Vec<Distances> = (0..routes.len())
        .map(|r| {
            let sum = |f: &dyn Fn(&Distances) -> f64| {
                cells.iter().map(|row| f(&row[r].distances)).sum::<f64>() / n
            };
            Distances {
                colour: sum(&|d| d.colour),
                texture: sum(&|d| d.texture),
                gram: cells[0][r]
                    .distances
                    .gram
                    .map(|_| sum(&|d| d.gram.unwrap_or(f64::NAN))),
            }
        })
        .collect();
    let baseline = routes
        .iter()
        .position(|r| matches!(r, Route::Baseline(_)))
        .map(|i| means[i]);
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    routes
        .iter()
        .zip(&means)
        .map(|(r, m)| RouteSummary {
            name: r.name().to_string(),
            learned: !matches!(r, Route::Baseline(_) | Route::Precomputed { .. }),
            mean: *m,
            ratio: baseline.map(|b| Distances {
                colour: ratio(m.colour, b.colour),
                texture: ratio(m.texture, b.texture),
                gram: m.gram.zip(b.gram).map(|(a, b)| ratio(a, b)),
            }),
        })
        .collect()
}

/// A transfer of the evaluation, announced before it starts.
#[derive(Clone, Debug)]
pub struct Transfer<'a> {
    /// 0-based index among the evaluation's `count` transfers.
    pub index: usize,
    pub count: usize,
    /// The photo's stem.
    pub stem: &'a str,
    pub route: &'a str,
}

/// An observer of an evaluation: each transfer is announced, then its stages and steps arrive
/// as for a single transfer.
pub trait EvaluateObserver: Observer {
    fn transfer(&mut self, _transfer: &Transfer<'_>) {}
    /// This observer as a plain [`Observer`] (for the transfers).
    fn as_observer(&mut self) -> &mut dyn Observer;
}

impl EvaluateObserver for crate::observe::Silent {
    fn as_observer(&mut self) -> &mut dyn Observer {
        self
    }
}

fn num(v: f64) -> String {
    format!("{v:.4}")
}

impl Evaluation {
    /// Which learned route to use for this filter: the closest on both judges, or the closest
    /// on each when no route is.
    ///
    /// A route counts as being as close as the closest on a judge when it is farther by less
    /// than the standard error of their per-pair differences: a difference the pairs cannot
    /// show. Among the routes as close as the closest on both judges, the one the least farther
    /// from the two closest (relative to their distances) is named. `None` without a learned
    /// route.
    pub fn closest(&self) -> Option<Closest> {
        let learned = || {
            self.routes
                .iter()
                .enumerate()
                .filter(|(_, r)| r.learned)
                .map(|(i, _)| i)
        };
        let judges: [fn(&Distances) -> f64; 2] = [|d| d.colour, |d| d.texture];
        let mean = |i: usize, f: fn(&Distances) -> f64| f(&self.routes[i].mean);
        let best = judges.map(|f| learned().min_by(|&a, &b| mean(a, f).total_cmp(&mean(b, f))));
        let [Some(colour), Some(texture)] = best else {
            return None;
        };
        let as_close = |i: usize, b: usize, f: fn(&Distances) -> f64| {
            let d: Vec<f64> = (self.cells.iter())
                .map(|row| f(&row[i].distances) - f(&row[b].distances))
                .collect();
            let n = d.len() as f64;
            let m = d.iter().sum::<f64>() / n.max(1.0);
            let se = if d.len() > 1 {
                (d.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0) / n).sqrt()
            } else {
                0.0
            };
            i == b || m <= se
        };
        let excess = |i: usize| {
            [(colour, judges[0]), (texture, judges[1])]
                .iter()
                .map(|&(b, f)| (mean(i, f) - mean(b, f)) / mean(b, f).max(f64::MIN_POSITIVE))
                .sum::<f64>()
        };
        let both = learned()
            .filter(|&i| as_close(i, colour, judges[0]) && as_close(i, texture, judges[1]))
            .min_by(|&a, &b| excess(a).total_cmp(&excess(b)));
        Some(match both {
            Some(i) => Closest::Both(i),
            None => Closest::Split { colour, texture },
        })
    }

    /// Whether the VGG-19 Gram distance was measured.
    pub fn has_gram(&self) -> bool {
        self.routes.first().is_some_and(|r| r.mean.gram.is_some())
    }

    /// `pair,route,colour,texture[,gram]`, one row per pair and route.
    pub fn results_csv(&self) -> String {
        let mut s = String::from("pair,route,colour,texture");
        if self.has_gram() {
            s.push_str(",gram");
        }
        s.push('\n');
        for (stem, row) in self.stems.iter().zip(&self.cells) {
            for (r, c) in self.routes.iter().zip(row) {
                let d = c.distances;
                let _ = write!(
                    s,
                    "{},{},{},{}",
                    csv_field(stem),
                    r.name,
                    num(d.colour),
                    num(d.texture)
                );
                if let Some(g) = d.gram {
                    let _ = write!(s, ",{}", num(g));
                }
                s.push('\n');
            }
        }
        s
    }

    /// `route,colour,texture[,gram],colour_ratio,texture_ratio[,gram_ratio]`: the means over the
    /// pairs and their ratios to the baseline (empty without a baseline).
    pub fn means_csv(&self) -> String {
        let g = self.has_gram();
        let mut s = String::from("route,colour,texture");
        s.push_str(if g { ",gram" } else { "" });
        s.push_str(",colour_ratio,texture_ratio");
        s.push_str(if g { ",gram_ratio\n" } else { "\n" });
        for r in &self.routes {
            let _ = write!(
                s,
                "{},{},{}",
                r.name,
                num(r.mean.colour),
                num(r.mean.texture)
            );
            if let Some(v) = r.mean.gram {
                let _ = write!(s, ",{}", num(v));
            }
            let q = |v: Option<f64>| v.map(num).unwrap_or_default();
            let _ = write!(
                s,
                ",{},{}",
                q(r.ratio.map(|d| d.colour)),
                q(r.ratio.map(|d| d.texture))
            );
            if g {
                let _ = write!(s, ",{}", q(r.ratio.and_then(|d| d.gram)));
            }
            s.push('\n');
        }
        s
    }

    /// The means table's cells: a header row (with units when `units`), then per route its
    /// name, mean colour, texture and (where judged) Gram distance, and their ratios to the
    /// baseline ("–" without one). The Gram columns appear when any route has them.
    fn means_cells(&self, units: bool) -> Vec<Vec<String>> {
        let g = self.has_gram();
        let mut header = vec![
            "route",
            if units { "colour (ΔE)" } else { "colour" },
            "texture",
        ];
        if g {
            header.push(if units { "gram (VGG)" } else { "gram" });
        }
        header.extend(["colour / baseline", "texture / baseline"]);
        if g {
            header.push("gram / baseline");
        }
        let q = |v: Option<f64>| v.map(num).unwrap_or_else(|| "–".into());
        let mut rows = vec![header.into_iter().map(String::from).collect()];
        for r in &self.routes {
            let mut row = vec![r.name.clone(), num(r.mean.colour), num(r.mean.texture)];
            row.extend(r.mean.gram.map(num));
            row.push(q(r.ratio.map(|d| d.colour)));
            row.push(q(r.ratio.map(|d| d.texture)));
            if g {
                row.push(q(r.ratio.and_then(|d| d.gram)));
            }
            rows.push(row);
        }
        rows
    }

    /// The means and ratios to the baseline as a markdown table (lower is closer to the filter).
    pub fn means_markdown(&self) -> String {
        let rows = self.means_cells(true);
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        let mut s = line(&rows[0]);
        s.push_str("|---|");
        s.push_str(&"---:|".repeat(rows[0].len() - 1));
        s.push('\n');
        for row in &rows[1..] {
            s.push_str(&line(row));
        }
        s
    }

    /// The means and ratios to the baseline as an HTML table (`class="m"`), as on the page.
    pub fn means_html(&self) -> String {
        let rows = self.means_cells(false);
        let line = |cells: &[String], tag: &str| {
            let cells: String = cells
                .iter()
                .map(|c| format!("<{tag}>{}</{tag}>", esc(c)))
                .collect();
            format!("<tr>{cells}</tr>\n")
        };
        let mut s = String::from("<table class=\"m\">\n");
        s.push_str(&line(&rows[0], "th"));
        for row in &rows[1..] {
            s.push_str(&line(row, "td"));
        }
        s.push_str("</table>\n");
        s
    }

    /// A page: per pair the photo, the filter's output and each route's result with its
    /// distances, then the means and ratios. Image paths are relative to the page's folder.
    pub fn html(&self, title: &str) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>\
             body{{font-family:sans-serif}} td{{vertical-align:top;text-align:center;padding:4px}}\
             img{{max-width:256px}} .d{{font-size:small}} table.m td{{text-align:right}}</style>\
             </head><body>\n<h1>{t}</h1>\n<p>Distances from the filter's output (lower is closer): \
             colour = sliced Wasserstein distance of the Lab colours (ΔE), texture = RMS log ratio \
             of Gabor filter-bank statistics{g}.</p>\n<table>\n<tr><th>photo</th><th>filter</th>",
            t = esc(title),
            g = if self.has_gram() {
                ", gram = VGG-19 Gram distance (for information: stylelearn optimises it)"
            } else {
                ""
            }
        );
        for r in &self.routes {
            let _ = write!(s, "<th>{}</th>", esc(&r.name));
        }
        s.push_str("</tr>\n");
        for (stem, row) in self.stems.iter().zip(&self.cells) {
            let file = url(&format!("{stem}.png"));
            let _ = write!(
                s,
                "<tr><td><img src=\"{PHOTO_DIR}/{file}\"><br>{st}</td><td><img src=\"{FILTER_DIR}/{file}\"></td>",
                st = esc(stem)
            );
            for (r, c) in self.routes.iter().zip(row) {
                let d = c.distances;
                let _ = write!(
                    s,
                    "<td><img src=\"{}/{file}\"><div class=\"d\">colour {} · texture {}{}</div></td>",
                    url(&r.name),
                    num(d.colour),
                    num(d.texture),
                    d.gram
                        .map(|g| format!(" · gram {}", num(g)))
                        .unwrap_or_default()
                );
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</table>\n<h2>Means over the pairs, and ratios to the baseline</h2>\n");
        s.push_str(&self.means_html());
        let name = |i: usize| format!("<b>{}</b>", esc(&self.routes[i].name));
        match self.closest() {
            Some(Closest::Both(i)) => {
                let _ = writeln!(
                    s,
                    "<p>Closest to the filter on both judges: {}.</p>",
                    name(i)
                );
            }
            Some(Closest::Split { colour, texture }) => {
                let _ = writeln!(
                    s,
                    "<p>Closest to the filter in colour: {}; in texture: {}.</p>",
                    name(colour),
                    name(texture)
                );
            }
            None => {}
        }
        s.push_str("</body></html>\n");
        s
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Percent-encodes what a relative URL path cannot hold as is.
fn url(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// An evaluation whose outputs have been checked: in `out_dir`, `results.csv`, `means.csv`,
/// `index.html`, `photo/<stem>.png`, `filter/<stem>.png` and `<route>/<stem>.png`.
pub struct EvaluateJob {
    pub plan: EvaluatePlan,
    pub out_dir: PathBuf,
    outputs: OutputSet,
}

impl EvaluateJob {
    pub fn results_csv(&self) -> PathBuf {
        self.out_dir.join("results.csv")
    }
    pub fn means_csv(&self) -> PathBuf {
        self.out_dir.join("means.csv")
    }
    pub fn index_html(&self) -> PathBuf {
        self.out_dir.join("index.html")
    }
    fn image(&self, folder: &str, stem: &str) -> PathBuf {
        self.out_dir.join(folder).join(format!("{stem}.png"))
    }

    /// Plans the evaluation and checks every output against the inputs and each other.
    pub fn new(settings: EvaluateSettings, out_dir: PathBuf, device: &Device) -> Result<Self> {
        if out_dir.exists() && !out_dir.is_dir() {
            return Err(Error::Output {
                path: out_dir,
                problem: "is not a folder: give a folder for the results".into(),
            });
        }
        let plan = EvaluatePlan::new(settings, device)?;
        let mut job = Self {
            plan,
            out_dir,
            outputs: OutputSet::new(),
        };
        let mut outputs = OutputSet::new();
        outputs
            .add(job.results_csv(), "the results table")
            .add(job.means_csv(), "the means table")
            .add(job.index_html(), "the results page");
        for pair in job.plan.pairs() {
            outputs.add(job.image(PHOTO_DIR, &pair.stem), "a copy of a photo");
            outputs.add(
                job.image(FILTER_DIR, &pair.stem),
                "a copy of a filter output",
            );
            for r in &job.plan.settings().routes {
                outputs.add(job.image(r.name(), &pair.stem), "a route's result");
            }
        }
        outputs.check(&job.plan.inputs())?;
        job.outputs = outputs;
        Ok(job)
    }

    /// Runs the evaluation and publishes every file together. `None`: the observer stopped it
    /// and nothing was written.
    pub fn run(
        &self,
        net: &Vgg19,
        observer: &mut dyn EvaluateObserver,
    ) -> Result<Option<(Evaluation, Vec<PathBuf>)>> {
        let mut staged = self.outputs.stage()?;
        let Some(ev) = self.plan.run(net, observer)? else {
            return Ok(None);
        };
        for (pair, row) in self.plan.pairs().iter().zip(&ev.cells) {
            pair.photo
                .save(staged.partial(&self.image(PHOTO_DIR, &pair.stem)))?;
            pair.filtered
                .save(staged.partial(&self.image(FILTER_DIR, &pair.stem)))?;
            for (r, c) in ev.routes.iter().zip(row) {
                c.image
                    .save(staged.partial(&self.image(&r.name, &pair.stem)))?;
            }
        }
        let text = |staged: &mut crate::outputs::Staged, path: PathBuf, body: String| {
            image_io::write_atomic(staged.partial(&path), body.as_bytes()).map_err(Error::Other)
        };
        text(&mut staged, self.results_csv(), ev.results_csv())?;
        text(&mut staged, self.means_csv(), ev.means_csv())?;
        let title = format!(
            "stylelearn evaluate: {}",
            self.plan.settings().pairs.display()
        );
        text(&mut staged, self.index_html(), ev.html(&title))?;
        let files = staged.commit()?;
        Ok(Some((ev, files)))
    }
}

#[cfg(test)]
mod tests {
    use super::{Cell, Closest, Distances, Evaluation, RouteSummary};
    use crate::image_io::Rgb;

    /// A route's name, whether it is learned, and its (colour, texture) distance per pair.
    type Judged<'a> = (&'a str, bool, &'a [(f64, f64)]);

    /// An evaluation whose routes have these names, kinds and per-pair distances.
    fn judged(routes: &[Judged]) -> Evaluation {
        let pairs = routes[0].2.len();
        let at = |r: usize, p: usize| Distances {
            colour: routes[r].2[p].0,
            texture: routes[r].2[p].1,
            gram: None,
        };
        let cells: Vec<Vec<Cell>> = (0..pairs)
            .map(|p| {
                (0..routes.len())
                    .map(|r| Cell {
                        image: Rgb::from_planar(1, 1, vec![0.0; 3]),
                        distances: at(r, p),
                    })
                    .collect()
            })
            .collect();
        let mean = |r: usize, f: fn(&Distances) -> f64| {
            (0..pairs).map(|p| f(&at(r, p))).sum::<f64>() / pairs as f64
        };
        Evaluation {
            stems: (0..pairs).map(|p| p.to_string()).collect(),
            cells,
            routes: routes
                .iter()
                .enumerate()
                .map(|(r, &(name, learned, _))| RouteSummary {
                    name: name.into(),
                    mean: Distances {
                        colour: mean(r, |d| d.colour),
                        texture: mean(r, |d| d.texture),
                        gram: None,
                    },
                    ratio: None,
                    learned,
                })
                .collect(),
        }
    }

    /// An evaluation of one pair whose routes have these names, kinds and distances.
    fn means(routes: &[(&str, bool, f64, f64)]) -> Evaluation {
        let per_pair: Vec<[(f64, f64); 1]> = routes.iter().map(|r| [(r.2, r.3)]).collect();
        let routes: Vec<Judged> = routes
            .iter()
            .zip(&per_pair)
            .map(|(r, d)| (r.0, r.1, &d[..]))
            .collect();
        judged(&routes)
    }

    #[test]
    fn the_closest_learned_route_is_named_on_both_judges_or_on_each() {
        // The baseline and a precomputed copy of the filter are closer, but are not routes a
        // user can take with the learned style.
        let ev = means(&[
            ("profile", true, 5.0, 0.30),
            ("profile-adapt", true, 4.0, 0.20),
            ("adapt-only", true, 4.0, 0.40),
            ("baseline", false, 1.0, 0.10),
            ("copy", false, 0.0, 0.0),
        ]);
        assert_eq!(ev.closest(), Some(Closest::Both(1)));
        let ev = means(&[
            ("profile-adapt", true, 4.0, 0.20),
            ("adapt-only", true, 3.9, 0.10),
        ]);
        assert_eq!(ev.closest(), Some(Closest::Both(1)));
        let ev = means(&[
            ("image", true, 3.0, 0.30),
            ("profile-adapt", true, 4.0, 0.20),
        ]);
        assert_eq!(
            ev.closest(),
            Some(Closest::Split {
                colour: 0,
                texture: 1
            })
        );
        assert_eq!(
            means(&[("baseline", false, 1.0, 0.1), ("copy", false, 0.0, 0.0)]).closest(),
            None
        );
    }

    #[test]
    fn a_difference_the_pairs_cannot_show_is_no_difference() {
        // adapt-only is farther in colour on average (by 0.02), but by less than the standard
        // error of the per-pair differences, and far closer in texture.
        let adapt: &[(f64, f64)] = &[(4.22, 0.10), (3.34, 0.21), (4.54, 0.19), (3.60, 0.13)];
        let only: &[(f64, f64)] = &[(4.30, 0.04), (3.24, 0.05), (4.59, 0.05), (3.66, 0.04)];
        let ev = judged(&[("profile-adapt", true, adapt), ("adapt-only", true, only)]);
        assert!(ev.routes[1].mean.colour > ev.routes[0].mean.colour);
        assert_eq!(ev.closest(), Some(Closest::Both(1)));
        // The same mean difference on every pair is one the pairs show.
        let only: Vec<(f64, f64)> = adapt.iter().map(|&(c, _)| (c + 0.02, 0.04)).collect();
        let ev = judged(&[("profile-adapt", true, adapt), ("adapt-only", true, &only)]);
        assert_eq!(
            ev.closest(),
            Some(Closest::Split {
                colour: 0,
                texture: 1
            })
        );
        // No route is the closest on both, but two are as close as the closest on both: the
        // one less farther from them is named.
        let shift = |dc: [f64; 4], dt: [f64; 4]| -> Vec<(f64, f64)> {
            (adapt.iter().enumerate())
                .map(|(p, &(c, t))| (c + dc[p], t + dt[p]))
                .collect()
        };
        let closest_colour = shift([0.0; 4], [0.03; 4]);
        let closest_texture = shift([0.5, -0.4, 0.3, -0.28], [0.0; 4]);
        let near_both = shift([0.2, -0.2, 0.1, -0.08], [0.01, -0.01, 0.005, -0.003]);
        let ev = judged(&[
            ("profile", true, &closest_colour),
            ("profile-adapt", true, &closest_texture),
            ("image", true, &near_both),
        ]);
        assert_eq!(ev.closest(), Some(Closest::Both(2)));
        // Without it, the route closest in texture is as close in colour.
        let ev = judged(&[
            ("profile", true, &closest_colour),
            ("profile-adapt", true, &closest_texture),
        ]);
        assert_eq!(ev.closest(), Some(Closest::Both(1)));
    }
}
