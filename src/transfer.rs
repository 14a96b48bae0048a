//! Neural style transfer (Gatys et al.): content loss + style loss + total variation, optimised
//! from the photo, from noise or from a given image, optionally coarse-to-fine over `scales`.
//!
//! [`TransferSettings`] are plain values; [`TransferPlan::new`] checks them and reads every input
//! once, and [`TransferPlan::run`] optimises, reporting to an [`Observer`]. Nothing here writes
//! files: see [`crate::files`] for runs whose results go to files.
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::tensor::Device;

use crate::color;
use crate::driver::{self, Position};
use crate::error::{Error, Result, Setting, check_number};
use crate::image_io::{self, Rgb};
use crate::log::LossLog;
use crate::loss::{Breakdown, ContentTerm, ImageLoss, StyleTerm};
use crate::memory;
use crate::observe::{Finish, Observer, Recolour, RunState, Stage, StageKind, Start, finish_image};
use crate::optim::OptimizerKind;
use crate::style::{self, StatisticKind, StyleTarget, Summary, TargetBuilder};
use crate::vgg::{self, Vgg19};

/// Where the optimisation starts.
#[derive(Clone, Debug, PartialEq)]
pub enum Init {
    Content,
    Noise,
    Image(PathBuf),
}

impl std::str::FromStr for Init {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Ok(match s {
            "content" => Init::Content,
            "noise" => Init::Noise,
            p => Init::Image(PathBuf::from(p)),
        })
    }
}

/// Where the style comes from.
#[derive(Clone, Debug)]
pub enum StyleSource {
    /// Style images with blend weights (target = weighted mean of their statistics).
    Images(Vec<(PathBuf, f64)>),
    /// A style profile written by `learn` / `profile`.
    Profile(PathBuf),
}

/// Defaults of a transfer.
pub mod defaults {
    pub const SIZE: usize = 512;
    /// L-BFGS iterations from the photo. More is not closer to a filter: a profile's target is
    /// the mean of its images' Gram matrices, a texture none of them has, and optimised
    /// longer a transfer paints that mixture over the photo (ripples and dots). On the
    /// benchmark's tuned filters 10 to 30 iterations were the closest at 256 and at 512 px,
    /// and 100 or more farther (README, "Transfer iterations"). Raise it for a stronger style.
    pub const ITERS: usize = 30;
    /// Adam's iterations: its steps are far smaller than L-BFGS's, so it keeps the former
    /// default (not measured on the benchmark).
    pub const ADAM_ITERS: usize = 300;

    /// The default iterations with `optimizer`.
    pub fn iters(optimizer: crate::optim::OptimizerKind) -> usize {
        match optimizer {
            crate::optim::OptimizerKind::Lbfgs => ITERS,
            crate::optim::OptimizerKind::Adam => ADAM_ITERS,
        }
    }
    pub const CONTENT_WEIGHT: f32 = 1.0;
    pub const STYLE_WEIGHT: f32 = 3.0;
    pub const TV_WEIGHT: f32 = 1.0;
    /// With the photo's (or adapted) colours, the result's tones become the photo's above
    /// this scale: a Gaussian of σ = this × the output's long side (4 px at 256 px). Finer
    /// detail stays as optimised ([`crate::color::recolour`]).
    pub const TONE_DETAIL: f32 = 1.0 / 64.0;
    pub const CONTENT_LAYERS: [usize; 1] = [9];
    /// Gatys et al.'s five style layers: relu1_1, relu2_1, relu3_1, relu4_1, relu5_1.
    pub const STYLE_LAYERS: [usize; 5] = [0, 2, 4, 8, 12];
    pub const STYLE_SCALE: f64 = 1.0;
}

/// Everything a transfer needs, as plain values. [`TransferSettings::new`] fills in the defaults.
#[derive(Clone, Debug)]
pub struct TransferSettings {
    pub content: PathBuf,
    pub style: StyleSource,
    /// Long side of the output in pixels (ignored when `scales` is given).
    pub size: usize,
    /// Coarse-to-fine long sides, increasing; `iters` per scale.
    pub scales: Option<Vec<usize>>,
    /// Optimiser iterations per scale. 0 optimises nothing: the result is the starting image
    /// (the photo, as the colour mode makes it) finished by the detail and posterise settings.
    pub iters: usize,
    pub content_weight: f32,
    pub style_weight: f32,
    pub tv_weight: f32,
    pub content_layers: Vec<usize>,
    /// Style layers; `None`: the default five, or with a style profile that lacks some of
    /// them, all of the profile's layers.
    pub style_layers: Option<Vec<usize>>,
    pub layer_weights: Option<Vec<f32>>,
    /// Style image long side relative to the output's.
    pub style_scale: f64,
    pub optimizer: OptimizerKind,
    /// Adam's learning rate or L-BFGS's initial step; `None` for the optimiser's default.
    pub step: Option<f64>,
    pub init: Init,
    pub seed: u64,
    /// Where the result's colours come from.
    pub colours: Colours,
    /// Whether the result's fine detail takes the style's distribution.
    pub detail: DetailMode,
    /// Whether the result is posterised to the style's exact colours.
    pub posterise: Posterise,
    /// Whether the result is averaged over the blocks of a pixelated style.
    pub pixelate: Pixelate,
    /// The style statistic. `None`: the style profile's, or Gram with style images. A profile
    /// holds the statistics of one kind, so another kind is refused.
    pub statistic: Option<StatisticKind>,
    /// The size of the result: the optimised one, or larger (a phone photo's own size), the
    /// optimised change enlarged onto the photo at that size and finished there.
    pub result: ResultSize,
}

/// The size of a transfer's result. The optimisation runs at `size` (or the scales); a result
/// of another size is the photo at that size plus the optimised change, enlarged, finished at
/// that size (the style's colours, detail, blocks and swatches).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResultSize {
    /// The size optimised at.
    #[default]
    Optimised,
    /// The photo's own size.
    Photo,
    /// This long side, in pixels.
    LongSide(usize),
}

/// Where a transfer's colours come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Colours {
    /// [`Colours::Adapted`] with a style profile that records how its images' colours vary,
    /// or style images that all carry such a record (learned ones, [`crate::carried`]; their
    /// datasets pooled, [`crate::color::Palette::pool`]),
    /// else [`Colours::Style`]. The benchmark's measurement behind this default is in README.
    #[default]
    Auto,
    /// Whatever the optimisation makes of the style's statistics (Gatys et al.).
    Style,
    /// The photo's: the style is transferred on luminance only (Gatys et al. 2016), and the
    /// result takes the photo's chroma and, below the fine detail, its distribution of
    /// luminance ([`crate::color::recolour`], [`defaults::TONE_DETAIL`]): the optimisation
    /// decides where each tone goes and the fine texture, not which tones there are.
    Photo,
    /// The style's palette: the photo is mapped onto the style's colour distribution (the
    /// style images' or the profile's [`crate::color::Palette`]) and that is the content.
    Palette,
    /// The photo's hues, with its mean lightness and colourfulness moved toward the style's as
    /// far as the style's images agree on them, and with many style images its channels mapped
    /// into their black and white points ([`crate::color::Palette::adapt`]); then as
    /// [`Colours::Photo`] with that adapted photo. Needs a style profile, a learned style
    /// image or two or more style images.
    Adapted,
}

impl Colours {
    pub const ALL: [Colours; 5] = [
        Colours::Auto,
        Colours::Style,
        Colours::Photo,
        Colours::Palette,
        Colours::Adapted,
    ];

    /// The mode's name on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Colours::Auto => "auto",
            Colours::Style => "style",
            Colours::Photo => "photo",
            Colours::Palette => "palette",
            Colours::Adapted => "adapt",
        }
    }

    /// Transferred on luminance, keeping the (possibly adapted) photo's chroma and tones.
    pub fn keeps_photo_chroma(self) -> bool {
        matches!(self, Colours::Photo | Colours::Adapted)
    }
}

impl TransferSettings {
    /// Settings with every default.
    pub fn new(content: PathBuf, style: StyleSource) -> Self {
        Self {
            content,
            style,
            size: defaults::SIZE,
            scales: None,
            iters: defaults::ITERS,
            content_weight: defaults::CONTENT_WEIGHT,
            style_weight: defaults::STYLE_WEIGHT,
            tv_weight: defaults::TV_WEIGHT,
            content_layers: defaults::CONTENT_LAYERS.to_vec(),
            style_layers: None,
            layer_weights: None,
            style_scale: defaults::STYLE_SCALE,
            optimizer: OptimizerKind::Lbfgs,
            step: None,
            init: Init::Content,
            seed: 0,
            colours: Colours::Auto,
            detail: DetailMode::Auto,
            posterise: Posterise::Auto,
            pixelate: Pixelate::Auto,
            statistic: None,
            result: ResultSize::Optimised,
        }
    }
}

/// A checked transfer with its inputs read: it can only fail while running for numeric reasons.
pub struct TransferPlan {
    settings: TransferSettings,
    content: Rgb,
    shared: Arc<StyleInputs>,
}

/// What every photo of a transfer shares, checked and read once: the style images (or the
/// profile), the initial image, the scales and the style layers. [`TransferPlan::for_photo`]
/// reuses them for another photo with the same settings.
pub(crate) struct StyleInputs {
    styles: Vec<(Rgb, f64, PathBuf)>,
    profile: Option<StyleTarget>,
    init_image: Option<Rgb>,
    scales: Vec<usize>,
    style_layers: Vec<usize>,
    /// `settings.colours` with [`Colours::Auto`] resolved.
    colours: Colours,
    /// The style's palette, for [`Colours::Palette`] and [`Colours::Adapted`].
    palette: Option<crate::color::Palette>,
    /// `settings.detail` with [`DetailMode::Auto`] resolved: whether the result takes the
    /// style's detail.
    match_detail: bool,
    /// `settings.posterise` resolved: the colours the result is posterised to.
    swatches: Option<crate::posterise::Swatches>,
    /// `settings.pixelate` resolved: the blocks the result is averaged over.
    blocks: Option<crate::pixelate::Blocks>,
    /// `settings.statistic` resolved: the profile's, or the one asked for, or Gram.
    statistic: StatisticKind,
    /// How many of the style images are in a lossy format (JPEG, lossy WebP).
    lossy_styles: usize,
    /// Per style image (in `styles`' order), what it carries from its dataset beside its
    /// pixels ([`crate::carried`]): a learned style image's detail, blocks and colours.
    carried: Vec<crate::carried::Carried>,
}

impl std::str::FromStr for Colours {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Colours::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| {
                format!("unknown colour mode '{s}': auto, style, photo, palette or adapt")
            })
    }
}

/// Whether a transfer's result takes its style's fine detail ([`crate::detail`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DetailMode {
    /// [`DetailMode::Match`] with style images, or with a style profile that records its
    /// images' detail; else [`DetailMode::Keep`]. The benchmark's measurement behind this
    /// default is in README.
    #[default]
    Auto,
    /// Each fine-detail band of the result's luminance takes the distribution of the style's
    /// ([`crate::detail::Detail::apply`]): as flat, or as grainy, as the style's images.
    Match,
    /// The detail as the optimisation made it.
    Keep,
}

impl DetailMode {
    pub const ALL: [DetailMode; 3] = [DetailMode::Auto, DetailMode::Match, DetailMode::Keep];

    /// The mode's name on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            DetailMode::Auto => "auto",
            DetailMode::Match => "match",
            DetailMode::Keep => "keep",
        }
    }
}

impl std::str::FromStr for DetailMode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        DetailMode::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("unknown detail mode '{s}': auto, match or keep"))
    }
}

/// Whether a transfer's result is posterised to its style's exact colours
/// ([`crate::posterise`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Posterise {
    /// [`Posterise::On`] when the style is posterised (its images are painted with a few exact
    /// colours) and the photo's colours are adapted to the style's ([`Colours::Adapted`]); else
    /// [`Posterise::Off`]. [`Colours::Photo`] promises the photo's colours, so it keeps them;
    /// with the optimisation's own colours the nearest swatch is a noisy pick (on the
    /// benchmark's cartoon filter it brought the colour distance from 10.98 to 12.47). The
    /// benchmark's measurement behind this default is in README. Swatches estimated from lossy
    /// images ([`crate::posterise::Swatches::of_lossy`]) are taken only when several images'
    /// estimates show a posterising filter
    /// ([`crate::posterise::Swatches::looks_posterised`]): one photo's smooth regions give
    /// such an estimate too.
    #[default]
    Auto,
    /// Every pixel of the result takes the style's swatch nearest to it
    /// ([`crate::posterise::Swatches::apply`]), estimated ones too. Needs a posterised style,
    /// or lossy style images with enough flat regions.
    On,
    /// The result's colours as they are.
    Off,
}

impl Posterise {
    pub const ALL: [Posterise; 3] = [Posterise::Auto, Posterise::On, Posterise::Off];

    /// The mode's name on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Posterise::Auto => "auto",
            Posterise::On => "on",
            Posterise::Off => "off",
        }
    }
}

impl std::str::FromStr for Posterise {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Posterise::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("unknown posterise mode '{s}': auto, on or off"))
    }
}

/// Whether a transfer's result is averaged over its style's blocks ([`crate::pixelate`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pixelate {
    /// [`Pixelate::On`] when the style is pixelated (its images are painted in square blocks
    /// of one colour on a grid), whatever the colours: the blocks are the filter's geometry,
    /// which the optimisation cannot make (its statistics are blind to where a grid's lines
    /// fall). The benchmark's measurement behind this default is in README.
    #[default]
    Auto,
    /// The result is averaged over blocks of the style's size, from its top-left corner
    /// ([`crate::pixelate::Blocks::apply`]). Needs a pixelated style.
    On,
    /// The result's pixels as they are.
    Off,
}

impl Pixelate {
    pub const ALL: [Pixelate; 3] = [Pixelate::Auto, Pixelate::On, Pixelate::Off];

    /// The mode's name on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Pixelate::Auto => "auto",
            Pixelate::On => "on",
            Pixelate::Off => "off",
        }
    }
}

impl std::str::FromStr for Pixelate {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Pixelate::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("unknown pixelate mode '{s}': auto, on or off"))
    }
}

/// Style targets already summarised, by output long side, for plans that share their style
/// inputs (a batch): the style images are summarised once per size, not once per photo.
#[derive(Default)]
pub(crate) struct TargetCache {
    by_long_side: Vec<(usize, Vec<Summary>)>,
    /// How many times the style images were summarised.
    pub computed: usize,
}

/// What a transfer produced.
pub struct TransferOutcome {
    /// The result, at its size ([`TransferPlan::result_size`]).
    pub image: Rgb,
    /// The observer asked to stop; `image` is the latest reached, at the result's size (a
    /// coarse scale's image enlarged to the last scale's, then finished as its would be).
    pub stopped: bool,
    pub iters: usize,
    pub evals: usize,
    pub last: Breakdown,
    /// Every step's losses.
    pub log: LossLog,
    pub seconds: f64,
}

/// Refuses a layer list with repeats.
pub(crate) fn check_unique(layers: &[usize], setting: Setting) -> Result<()> {
    for (i, l) in layers.iter().enumerate() {
        if layers[..i].contains(l) {
            return Err(Error::setting(
                setting,
                format!("{} is listed twice", vgg::RELU_LAYERS[*l]),
            ));
        }
    }
    if layers.is_empty() {
        return Err(Error::setting(setting, "name at least one layer"));
    }
    Ok(())
}

/// Checks an optimiser step size.
pub(crate) fn check_step(step: Option<f64>) -> Result<()> {
    match step {
        Some(s) => check_number(Setting::StepSize, s, 0.0, false),
        None => Ok(()),
    }
}

fn load_image(path: &Path, what: &str) -> Result<Rgb> {
    decode_image(path, what).map(|d| d.image)
}

/// [`load_image`], telling whether the file's format is lossy.
fn decode_image(path: &Path, what: &str) -> Result<image_io::Decoded> {
    let d = image_io::decode(path).map_err(|e| Error::input(path, e))?;
    vgg::check_size(d.image.height, d.image.width)
        .map_err(|e| Error::input(path, e.context(format!("{what} {}", path.display()))))?;
    Ok(d)
}

impl TransferPlan {
    /// Checks `settings` and reads every input (images, profile) once. `device` holds the
    /// profile's statistics.
    pub fn new(settings: TransferSettings, device: &Device) -> Result<Self> {
        let shared = Arc::new(StyleInputs::read(&settings, device)?);
        Self::with_style(settings, shared)
    }

    /// The same transfer for another photo: the style inputs are shared, not read again.
    pub fn for_photo(&self, content: PathBuf) -> Result<Self> {
        let settings = TransferSettings {
            content,
            ..self.settings.clone()
        };
        Self::with_style(settings, self.shared.clone())
    }

    /// Reads the photo of `settings` and checks it at every scale. The plan's settings name the
    /// statistic the run uses (the profile's, when none was asked for), so that a checkpoint and
    /// the report page hold it whichever way it was given.
    pub(crate) fn with_style(
        mut settings: TransferSettings,
        shared: Arc<StyleInputs>,
    ) -> Result<Self> {
        settings.statistic = Some(shared.statistic);
        let s = &settings;
        let content = load_image(&s.content, "content image")?;
        let deepest = shared.deepest(s);
        let avail = memory::available();
        for &long in &shared.scales {
            let (w, h) = content.size_for_long_side(long);
            vgg::check_size(h, w).map_err(|e| {
                Error::input(
                    &s.content,
                    e.context(format!(
                        "content image {} at {long} px",
                        s.content.display()
                    )),
                )
            })?;
            memory::check(
                w,
                h,
                deepest,
                true,
                avail,
                "the output",
                &[Setting::Size, Setting::Scales],
            )?;
        }
        let plan = Self {
            settings,
            content,
            shared,
        };
        let (w, h) = plan.result_size();
        if (w, h) != plan.output_size() {
            memory::check_finish(w, h, avail)?;
        }
        Ok(plan)
    }
}

impl StyleInputs {
    /// See [`TransferPlan::lossy_styles`].
    pub(crate) fn lossy_styles(&self) -> (usize, usize) {
        (self.lossy_styles, self.styles.len())
    }

    /// Whether results are posterised to the style's swatches.
    pub(crate) fn posterises(&self) -> bool {
        self.swatches.is_some()
    }

    /// Checks `settings` (all but the photo) and reads the style images or profile and the
    /// initial image.
    pub(crate) fn read(s: &TransferSettings, device: &Device) -> Result<Self> {
        check_number(Setting::StyleScale, s.style_scale, 0.0, false)?;
        check_number(Setting::ContentWeight, s.content_weight as f64, 0.0, true)?;
        check_number(Setting::StyleWeight, s.style_weight as f64, 0.0, true)?;
        check_number(Setting::TvWeight, s.tv_weight as f64, 0.0, true)?;
        check_step(s.step)?;
        check_unique(&s.content_layers, Setting::ContentLayers)?;
        if let Some(l) = &s.style_layers {
            check_unique(l, Setting::StyleLayers)?;
        }
        if let Some(lw) = &s.layer_weights
            && let Some(layers) = &s.style_layers
            && lw.len() != layers.len()
        {
            return Err(Error::setting(
                Setting::LayerWeights,
                format!(
                    "{} values for {} style layers: give one per layer",
                    lw.len(),
                    layers.len()
                ),
            ));
        }
        if let ResultSize::LongSide(px) = s.result
            && px < vgg::MIN_SIDE
        {
            return Err(Error::setting(
                Setting::ResultSize,
                format!("{px} px is below the minimum of {} px", vgg::MIN_SIDE),
            ));
        }
        let scales = s.scales.clone().unwrap_or_else(|| vec![s.size]);
        if scales.is_empty() {
            return Err(Error::setting(Setting::Scales, "give at least one scale"));
        }
        for (i, &px) in scales.iter().enumerate() {
            let setting = if s.scales.is_some() {
                Setting::Scales
            } else {
                Setting::Size
            };
            if px < vgg::MIN_SIDE {
                return Err(Error::setting(
                    setting,
                    format!("{px} px is below the minimum of {} px", vgg::MIN_SIDE),
                ));
            }
            if i > 0 && px <= scales[i - 1] {
                return Err(Error::setting(
                    Setting::Scales,
                    format!(
                        "must increase (coarse to fine), but {px} follows {}",
                        scales[i - 1]
                    ),
                ));
            }
        }
        if let StyleSource::Images(list) = &s.style {
            if list.is_empty() {
                return Err(Error::setting(
                    Setting::Styles,
                    "give at least one style image or a style profile",
                ));
            }
            if list.iter().any(|(_, w)| !(*w >= 0.0 && w.is_finite()))
                || list.iter().map(|(_, w)| w).sum::<f64>() <= 0.0
            {
                return Err(Error::setting(
                    Setting::StyleBlend,
                    "must be non-negative with a positive sum",
                ));
            }
        }
        let profile = match &s.style {
            StyleSource::Profile(p) => {
                let t = StyleTarget::load(p, device).map_err(|e| Error::input(p, e))?;
                if let Some(requested) = s.statistic.filter(|&k| k != t.statistic) {
                    return Err(Error::ProfileStatistic {
                        path: p.clone(),
                        profile: t.statistic,
                        requested,
                    });
                }
                Some(t)
            }
            StyleSource::Images(_) => None,
        };
        // whether each style image is in a lossy format, whose swatches are estimated and whose
        // blocks are found by contrast
        let mut lossy = Vec::new();
        // the detail a learned style image carries
        let mut carried = Vec::new();
        let styles = match &s.style {
            StyleSource::Images(list) => list
                .iter()
                .map(|(p, w)| {
                    let d = decode_image(p, "style image")?;
                    lossy.push(d.lossy);
                    carried.push(crate::carried::Carried::read(&d.notes).map_err(|e| {
                        Error::input(p, e.context(format!("style image {}", p.display())))
                    })?);
                    Ok((d.image, *w, p.clone()))
                })
                .collect::<Result<Vec<_>>>()?,
            StyleSource::Profile(_) => Vec::new(),
        };
        let init_image = match &s.init {
            Init::Image(p) => Some(image_io::load(p).map_err(|e| Error::input(p, e))?),
            _ => None,
        };
        let style_layers = effective_style_layers(s, profile.as_ref())?;
        // Every scale: the style images fit, and memory suffices.
        let deepest = deepest_layer(&style_layers, s);
        let avail = memory::available();
        for &long in &scales {
            for (img, _, path) in &styles {
                let (sw, sh) =
                    img.size_for_long_side(((long as f64) * s.style_scale).round() as usize);
                vgg::check_size(sh, sw).map_err(|e| {
                    Error::input(
                        path,
                        e.context(format!(
                            "style image {} at style scale {}",
                            path.display(),
                            s.style_scale
                        )),
                    )
                })?;
                memory::check(
                    sw,
                    sh,
                    deepest,
                    false,
                    avail,
                    "a style image",
                    &[Setting::StyleScale, Setting::Size],
                )?;
            }
        }
        // Style images that all carry their datasets' colours (learned ones) give those, as
        // the datasets' profile would: several, their datasets pooled by weight. A mix with
        // any other image measures every image's colours on its pixels, as before.
        let carried_palette = {
            let parts: Option<Vec<(&crate::color::Palette, f64)>> = styles
                .iter()
                .zip(&carried)
                .filter(|((_, w, _), _)| *w > 0.0)
                .map(|((_, w, _), c)| c.palette.as_ref().map(|p| (p, *w)))
                .collect();
            parts.and_then(|p| crate::color::Palette::pool(&p))
        };
        let style_palette = || -> Option<crate::color::Palette> {
            match &profile {
                Some(t) => t.palette.clone(),
                None if carried_palette.is_some() => carried_palette.clone(),
                None => {
                    let weighted = || styles.iter().filter(|(_, w, _)| *w > 0.0);
                    let rings: Vec<_> = weighted()
                        .filter_map(|(img, _, _)| crate::vignette::Rings::of(img))
                        .collect();
                    let vignette = crate::vignette::Vignette::find(&rings);
                    let own: Vec<(crate::color::Palette, f64)> = weighted()
                        .map(|(img, w, _)| {
                            let palette = match &vignette {
                                Some(v) => crate::color::Palette::of(&v.remove(img), None),
                                None => crate::color::Palette::of(img, None),
                            };
                            (palette, *w)
                        })
                        .collect();
                    let parts: Vec<(&crate::color::Palette, f64)> =
                        own.iter().map(|(p, w)| (p, *w)).collect();
                    crate::color::Palette::mix(&parts)
                        .map(|p| crate::color::Palette { vignette, ..p })
                }
            }
        };
        let source = match &s.style {
            StyleSource::Profile(p) => format!("style profile {}", p.display()),
            StyleSource::Images(_) => "the style images".to_string(),
        };
        let refuse = |what: &str| {
            let path = match &s.style {
                StyleSource::Profile(p) => p.clone(),
                StyleSource::Images(_) => PathBuf::new(),
            };
            Error::input(&path, anyhow::anyhow!("{source} {what}"))
        };
        let (colours, palette) = match s.colours {
            Colours::Auto => {
                let recorded = match &profile {
                    Some(t) => t.palette.clone(),
                    None => carried_palette.clone(),
                };
                match recorded.filter(|p| p.spread.is_some()) {
                    Some(p) => (Colours::Adapted, Some(p)),
                    None => (Colours::Style, None),
                }
            }
            Colours::Style | Colours::Photo => (s.colours, None),
            Colours::Palette => match style_palette() {
                Some(p) => (Colours::Palette, Some(p)),
                None => {
                    return Err(refuse(
                        "holds no colour distribution (it was made by an older stylelearn): make it again",
                    ));
                }
            },
            Colours::Adapted => match style_palette().filter(|p| p.spread.is_some()) {
                Some(p) => (Colours::Adapted, Some(p)),
                None if profile.as_ref().is_some_and(|t| t.sources.len() < 2) => {
                    return Err(refuse(
                        "was made from one image, which cannot tell how the filter's colours vary from photo to photo: make it from two or more images, or choose other colours",
                    ));
                }
                None if profile.is_some() => {
                    return Err(refuse(
                        "does not record how its images' colours vary (it was made by an older stylelearn): make it again",
                    ));
                }
                None if carried_palette.is_some() => {
                    return Err(Error::setting(
                        Setting::Colours,
                        "a style image was learned from one image, which cannot tell how the filter's colours vary from photo to photo: learn it from two or more images, or choose other colours",
                    ));
                }
                None => {
                    return Err(Error::setting(
                        Setting::Colours,
                        "adapting the photo's colours needs a style profile, a style image learned by stylelearn (which carries its dataset's colours), or two or more style images with a weight",
                    ));
                }
            },
        };
        let recorded_detail = match &profile {
            Some(t) => t.detail.is_some(),
            None => true,
        };
        let match_detail = match s.detail {
            DetailMode::Auto => recorded_detail,
            DetailMode::Keep => false,
            DetailMode::Match if recorded_detail => true,
            DetailMode::Match => {
                return Err(refuse(
                    "holds no detail distribution (it was made by an older stylelearn): make it again, or keep the detail as optimised",
                ));
            }
        };
        // The style's exact colours are counted only when the result may take them.
        let wanted = match s.posterise {
            Posterise::Off => false,
            Posterise::Auto => colours == Colours::Adapted,
            Posterise::On => true,
        };
        let style_swatches = || match &profile {
            Some(t) => t.swatches.clone(),
            None => {
                // a learned style image gives its dataset's
                let own: Vec<(crate::posterise::Swatches, f64)> = styles
                    .iter()
                    .zip(&lossy)
                    .zip(&carried)
                    .map(|(((img, w, _), &lossy), carried)| {
                        let swatches = match &carried.swatches {
                            Some(sw) => sw.clone(),
                            None => crate::posterise::Swatches::of_read(img, None, lossy),
                        };
                        (swatches, *w)
                    })
                    .collect();
                let parts: Vec<(&crate::posterise::Swatches, f64)> =
                    own.iter().map(|(p, w)| (p, *w)).collect();
                crate::posterise::Swatches::mix(&parts)
            }
        };
        let swatches = match (s.posterise, wanted.then(style_swatches).flatten()) {
            (Posterise::On, Some(sw)) if !sw.is_posterised() => {
                let (is, whose) = match &profile {
                    Some(_) => ("is", "its images'"),
                    None => ("are", "their"),
                };
                let why = if sw.lossy {
                    let images = match &profile {
                        Some(_) => "its lossy images",
                        None => "these lossy images",
                    };
                    format!(
                        "{is} not posterised, and no palette could be estimated from {images} (JPEG): fewer than {}% of their pixels are flat, or their flat pixels need more than {} colours to cover {}%",
                        crate::posterise::LOSSY_MIN_FLAT * 100.0,
                        crate::posterise::MAX_SWATCHES,
                        crate::posterise::COVERAGE * 100.0
                    )
                } else {
                    format!(
                        "{is} not posterised: more than {} colours are needed to cover {}% of {whose} pixels, so there are no swatches to posterise to",
                        crate::posterise::MAX_SWATCHES,
                        crate::posterise::COVERAGE * 100.0
                    )
                };
                return Err(refuse(&format!("{why} (leave the colours as they are)")));
            }
            (Posterise::On, None) => {
                return Err(refuse(
                    "does not record its images' exact colours (it was made by an older stylelearn): make it again, or leave the colours as they are",
                ));
            }
            // one lossy image's estimate is a palette, not a sign of one; several can be
            (Posterise::Auto, Some(sw)) if !sw.looks_posterised() => None,
            (_, sw) => sw.filter(|w| w.is_posterised()),
        };
        // The blocks of style images are read at their own size, and are used, as their Gram
        // matrices are, at `style_scale` times the output's. A style image that carries its
        // dataset's blocks (a learned one) gives those: its pixels show none.
        let style_blocks = || match &profile {
            Some(t) => t.blocks,
            None => {
                let seen: Vec<(crate::pixelate::Seen, f64)> = styles
                    .iter()
                    .zip(&lossy)
                    .zip(&carried)
                    .map(|(((img, w, _), &lossy), carried)| {
                        let seen = match carried.blocks {
                            Some(b) => crate::pixelate::Seen::Blocks(b),
                            None => crate::pixelate::Seen::of_read(img, None, lossy),
                        };
                        (seen, *w)
                    })
                    .collect();
                crate::pixelate::Blocks::mix(&seen).map(|b| crate::pixelate::Blocks {
                    size: b.size * s.style_scale,
                    ..b
                })
            }
        };
        let blocks = match s.pixelate {
            Pixelate::Off => None,
            Pixelate::Auto => style_blocks(),
            Pixelate::On => match style_blocks() {
                Some(b) => Some(b),
                None => {
                    let why = match &profile {
                        Some(_) => {
                            "is not pixelated: its images are not painted in square blocks of one colour on a grid (or it was made by an older stylelearn: make it again)"
                        }
                        None => {
                            "are not pixelated: not painted in square blocks of one colour on a grid"
                        }
                    };
                    return Err(refuse(&format!(
                        "{why}, so there are no blocks to average over (leave the pixels as they are)"
                    )));
                }
            },
        };
        let statistic = match &profile {
            Some(t) => t.statistic,
            None => s.statistic.unwrap_or(StatisticKind::Gram),
        };
        Ok(Self {
            styles,
            profile,
            init_image,
            scales,
            style_layers,
            colours,
            palette,
            match_detail,
            swatches,
            blocks,
            statistic,
            lossy_styles: lossy.iter().filter(|&&l| l).count(),
            carried,
        })
    }

    /// The long side of each optimisation stage.
    pub(crate) fn scales(&self) -> &[usize] {
        &self.scales
    }

    fn deepest(&self, s: &TransferSettings) -> usize {
        deepest_layer(&self.style_layers, s)
    }
}

/// The deepest layer a run reads (style or content).
fn deepest_layer(style_layers: &[usize], s: &TransferSettings) -> usize {
    *style_layers
        .iter()
        .chain(&s.content_layers)
        .max()
        .expect("non-empty")
}

/// The files every photo of a transfer reads besides the photo, with what each is.
pub(crate) fn style_inputs(s: &TransferSettings) -> Vec<(PathBuf, &'static str)> {
    let mut v = Vec::new();
    match &s.style {
        StyleSource::Images(list) => {
            v.extend(list.iter().map(|(p, _)| (p.clone(), "a style image")))
        }
        StyleSource::Profile(p) => v.push((p.clone(), "the style profile")),
    }
    if let Init::Image(p) = &s.init {
        v.push((p.clone(), "the initial image"));
    }
    v
}

impl TransferPlan {
    pub fn settings(&self) -> &TransferSettings {
        &self.settings
    }

    /// Where the result's colours come from, with [`Colours::Auto`] resolved.
    pub fn colours(&self) -> Colours {
        self.shared.colours
    }

    /// Whether the result takes the style's fine detail, with [`DetailMode::Auto`] resolved.
    pub fn matches_detail(&self) -> bool {
        self.shared.match_detail
    }

    /// Whether the result is posterised to the style's swatches, with [`Posterise::Auto`]
    /// resolved.
    pub fn posterises(&self) -> bool {
        self.shared.posterises()
    }

    /// The blocks the result is averaged over, with [`Pixelate::Auto`] resolved.
    pub fn blocks(&self) -> Option<crate::pixelate::Blocks> {
        self.shared.blocks
    }

    /// How many of the style images are in a lossy format (JPEG, lossy WebP), of how many:
    /// their noise hides a posterised filter's exact colours, so their swatches are estimated
    /// ([`crate::posterise::Swatches::of_lossy`]) and taken with [`Posterise::Auto`] only when
    /// they look posterised ([`crate::posterise::Swatches::looks_posterised`]); their blocks
    /// are found by contrast ([`crate::pixelate::Seen::of_lossy`]).
    pub fn lossy_styles(&self) -> (usize, usize) {
        self.shared.lossy_styles()
    }

    /// The style layers the run matches.
    pub fn style_layers(&self) -> &[usize] {
        &self.shared.style_layers
    }

    /// The long side of each optimisation stage.
    pub fn scales(&self) -> &[usize] {
        &self.shared.scales
    }

    /// The output's size (width, height) at the last scale.
    pub fn output_size(&self) -> (usize, usize) {
        self.content
            .size_for_long_side(*self.shared.scales.last().expect("non-empty"))
    }

    /// Files the run reads, with what each is (to keep outputs from replacing them).
    pub fn inputs(&self) -> Vec<(PathBuf, &'static str)> {
        let mut v = vec![(self.settings.content.clone(), "the content image")];
        v.extend(style_inputs(&self.settings));
        v
    }

    /// Runs the transfer on `net`, reporting to `observer`.
    pub fn run(&self, net: &Vgg19, observer: &mut dyn Observer) -> Result<TransferOutcome> {
        self.run_cached(net, observer, &mut TargetCache::default())
    }

    /// [`Self::run`], continuing from `start` (an earlier run's state, see
    /// [`Observer::checkpoint`]) when given: earlier stages are skipped and iterations are
    /// numbered on.
    pub fn run_from(
        &self,
        net: &Vgg19,
        observer: &mut dyn Observer,
        start: Option<&Start>,
    ) -> Result<TransferOutcome> {
        self.run_inner(net, observer, &mut TargetCache::default(), start)
    }

    /// [`Self::run`], taking the style targets from `cache` when plans sharing this plan's
    /// style inputs already summarised them at a size, and keeping them there otherwise.
    pub(crate) fn run_cached(
        &self,
        net: &Vgg19,
        observer: &mut dyn Observer,
        cache: &mut TargetCache,
    ) -> Result<TransferOutcome> {
        self.run_inner(net, observer, cache, None)
    }

    pub(crate) fn run_inner(
        &self,
        net: &Vgg19,
        observer: &mut dyn Observer,
        cache: &mut TargetCache,
        start: Option<&Start>,
    ) -> Result<TransferOutcome> {
        let s = &self.settings;
        if let Some(st) = start {
            let long = self.shared.scales.get(st.state.stage).copied().unwrap_or(0);
            let (w, h) = self.content.size_for_long_side(long);
            check_start(&st.state, self.shared.scales.len(), w, h)?;
        }
        let stat = self.shared.statistic.build();
        if let Some(p) = &self.shared.profile {
            p.check_against(net)
                .map_err(|e| Error::input(profile_path(s), e))?;
        }
        let names: Vec<String> = self
            .shared
            .style_layers
            .iter()
            .map(|&l| vgg::RELU_LAYERS[l].to_string())
            .collect();
        let mut log = LossLog::new(&names);
        let mut x: Option<(Vec<f32>, usize, usize)> = None;
        let (mut iters, mut evals, mut seconds) = (0, 0, 0.0);
        if let Some(st) = start {
            log.rows = st.rows.clone();
            iters = st.state.iter - st.state.stage_iter;
            evals = st.state.evals - st.state.stage_evals;
        }
        let mut last = Breakdown::default();
        let mut stopped = false;
        for (stage, &long) in self.shared.scales.iter().enumerate() {
            let resume = start.map(|st| &st.state).filter(|r| r.stage == stage);
            if start.is_some_and(|st| stage < st.state.stage) {
                continue;
            }
            let content = self.content_at(long);
            let (w, h) = (content.width, content.height);
            let content_in = self.as_optimised(&content);
            let targets = self.targets_at(net, stat.as_ref(), long, &content, cache);
            let mut loss = ImageLoss::new(net, w, h);
            loss.content = Some(ContentTerm::new(
                net,
                content_in.to_tensor(net.device()),
                s.content_layers.clone(),
                s.content_weight,
            ));
            loss.style = Some(StyleTerm::new(
                self.shared.statistic.build(),
                self.shared.style_layers.clone(),
                s.layer_weights.clone(),
                targets,
                s.style_weight,
            )?);
            loss.tv_weight = s.tv_weight;
            let mut xv = match (&x, resume) {
                (_, Some(r)) => r.pixels.clone(),
                (Some((prev, pw, ph)), None) => {
                    Rgb::from_planar(*pw, *ph, prev.clone()).resize(w, h).data
                }
                (None, None) => match (&s.init, &self.shared.init_image) {
                    (Init::Noise, _) => image_io::noise(w, h, s.seed).data,
                    (Init::Image(_), Some(img)) => self.as_optimised(&img.resize(w, h)).data,
                    _ => content_in.data.clone(),
                },
            };
            observer.stage(&Stage {
                kind: StageKind::Optimise,
                index: stage,
                count: self.shared.scales.len(),
                items: s.iters,
                width: w,
                height: h,
            });
            let detail = self.detail_at(long, false);
            let finish = self.finish(&content, detail.as_ref());
            let mut opt = s.optimizer.build(s.step);
            let at = Position {
                stage,
                iters_before: iters,
                evals_before: evals,
                style_layers: &self.shared.style_layers,
                finish,
                carried: None,
                resume,
            };
            let mut rec = Recorder {
                log: &mut log,
                inner: observer,
            };
            let out = driver::optimise(
                &mut loss,
                &mut xv,
                opt.as_mut(),
                s.iters,
                &at,
                &mut rec,
                None,
            )?;
            iters += out.iters;
            evals += out.evals;
            seconds += out.seconds;
            last = loss.last.clone();
            let done = (xv, w, h);
            let scales = &self.shared.scales;
            if out.stopped || stage + 1 == scales.len() {
                // A coarse scale's image is enlarged as the next scale would start from it and
                // finished as the last scale's: the run's image is always the result's size.
                let image = if stage + 1 == scales.len() {
                    self.finish_result(&done.0, &content, detail.as_ref(), observer)
                } else {
                    let long = scales[scales.len() - 1];
                    let content = self.content_at(long);
                    let detail = self.detail_at(long, false);
                    let (w, h) = (content.width, content.height);
                    let x = Rgb::from_planar(done.1, done.2, done.0).resize(w, h).data;
                    self.finish_result(&x, &content, detail.as_ref(), observer)
                };
                stopped = out.stopped;
                return Ok(TransferOutcome {
                    image,
                    stopped,
                    iters,
                    evals,
                    last,
                    log,
                    seconds,
                });
            }
            x = Some(done);
        }
        unreachable!("at least one scale; the last one returns (stopped: {stopped}, {last:?})")
    }

    /// The result's width and height ([`ResultSize`]).
    pub fn result_size(&self) -> (usize, usize) {
        match self.settings.result {
            ResultSize::Optimised => self.output_size(),
            ResultSize::Photo => (self.content.width, self.content.height),
            ResultSize::LongSide(l) => self.content.size_for_long_side(l),
        }
    }

    /// The photo as the optimisation sees it: its luminance when the result keeps the photo's
    /// chroma.
    fn as_optimised(&self, photo: &Rgb) -> Rgb {
        if self.shared.colours.keeps_photo_chroma() {
            color::luminance(photo, None)
        } else {
            photo.clone()
        }
    }

    /// The optimised pixels `x`, the size of `content` (the photo at the last scale,
    /// [`Self::content_at`]), finished as the result with `detail` (the style's there,
    /// [`Self::detail_at`]). A result of another size ([`ResultSize`]) is the photo at that
    /// size (its colours as the run starts from them) plus the optimised change, enlarged,
    /// finished at that size: the photo's own detail finer than the optimised pixels is kept
    /// for the style's detail to be matched on, not blurred away by enlarging. The style's
    /// detail knows its own scale: a profile's images, or style images, larger than they are
    /// used at give theirs at the result's size ([`crate::detail::Detail::finer`]); otherwise
    /// it is stretched as the change is.
    fn finish_result(
        &self,
        x: &[f32],
        content: &Rgb,
        detail: Option<&crate::detail::Detail>,
        observer: &mut dyn Observer,
    ) -> Rgb {
        let (w, h) = (content.width, content.height);
        let (rw, rh) = self.result_size();
        if (rw, rh) == (w, h) {
            return finish_image(x, w, h, self.finish(content, detail));
        }
        let scales = self.shared.scales.len();
        observer.stage(&Stage {
            kind: StageKind::Finish,
            index: scales - 1,
            count: scales,
            items: 0,
            width: rw,
            height: rh,
        });
        // style images measured again, this time also at their own size
        let detail = self.detail_at(w.max(h), true);
        // The change is in [-1, 1]; resizing clips to [0, 1], so it is enlarged halved and
        // lifted by ½.
        let change: Vec<f32> = x
            .iter()
            .zip(&self.as_optimised(content).data)
            .map(|(x, c)| (x.clamp(0.0, 1.0) - c + 1.0) / 2.0)
            .collect();
        let change = Rgb::from_planar(w, h, change).resize(rw, rh);
        let photo = self.content_at(rw.max(rh));
        let x: Vec<f32> = self
            .as_optimised(&photo)
            .data
            .iter()
            .zip(&change.data)
            .map(|(p, c)| p + 2.0 * c - 1.0)
            .collect();
        finish_image(&x, rw, rh, self.finish(&photo, detail.as_ref()))
    }

    /// The style's vignette, when the photo's colours are adapted to the style
    /// ([`crate::color::Palette::adapt`] gives it to the photo).
    fn vignette(&self) -> Option<&crate::vignette::Vignette> {
        match (&self.shared.palette, self.shared.colours) {
            (Some(p), Colours::Adapted) => p.vignette.as_ref(),
            _ => None,
        }
    }

    /// The photo at long side `long` with the colours the run starts from.
    fn content_at(&self, long: usize) -> Rgb {
        let content = self.content.fit_long_side(long);
        match (&self.shared.palette, self.shared.colours) {
            (Some(p), Colours::Adapted) => p.adapt(&content),
            (Some(p), _) => p.apply(&content),
            (None, _) => content,
        }
    }

    /// How a result the size of `content` (from [`Self::content_at`]) is finished.
    fn finish<'a>(
        &'a self,
        content: &'a Rgb,
        detail: Option<&'a crate::detail::Detail>,
    ) -> Finish<'a> {
        let long = content.width.max(content.height);
        Finish {
            recolour: self
                .shared
                .colours
                .keeps_photo_chroma()
                .then_some(Recolour {
                    photo: content,
                    tones: Some(defaults::TONE_DETAIL * long as f32),
                }),
            detail,
            detail_passes: 1,
            swatches: self.shared.swatches.as_ref(),
            blocks: self.shared.blocks.as_ref(),
        }
    }

    /// The detail the result takes at output long side `long`, when it takes the style's: the
    /// profile's (scaled to the output's size, [`crate::detail`]), or the style images' at the
    /// size they are used, mixed by weight, at their own pixel scale as their Gram matrices
    /// are (so `style_scale` scales both). A style image that carries its dataset's detail (a
    /// learned one, [`crate::carried`]) gives that, at the image's pixel scale,
    /// instead of its own pixels' detail.
    /// With `finer` (for a result larger than `long`), a style image larger than it is used
    /// at also gives its detail at each doubling up to its own size
    /// ([`crate::detail::Detail::of_read`]).
    fn detail_at(&self, long: usize, finer: bool) -> Option<crate::detail::Detail> {
        if !self.shared.match_detail {
            return None;
        }
        if let Some(t) = &self.shared.profile {
            return t.detail.clone();
        }
        let own: Vec<(crate::detail::Detail, f64)> = self
            .shared
            .styles
            .iter()
            .zip(&self.shared.carried)
            .filter(|((_, w, _), _)| *w > 0.0)
            .map(|((img, w, _), carried)| {
                let used = ((long as f64) * self.settings.style_scale).round() as usize;
                let detail = match &carried.detail {
                    Some(d) => {
                        // only the size it is used at counts: its pixels are not measured
                        let (w, h) = img.size_for_long_side(used);
                        d.for_style_used_at(w.max(h) as f64, long as f64)
                    }
                    None => {
                        fn without<'a>(
                            vignette: Option<&crate::vignette::Vignette>,
                            img: Cow<'a, Rgb>,
                        ) -> Cow<'a, Rgb> {
                            match vignette {
                                Some(v) => Cow::Owned(v.remove(&img)),
                                None => img,
                            }
                        }
                        let without = |img| without(self.vignette(), img);
                        let small = without(Cow::Owned(img.fit_long_side(used)));
                        let detail = if finer && img.width.max(img.height) > used {
                            crate::detail::Detail::of_read(
                                &small,
                                None,
                                &without(Cow::Borrowed(img)),
                                None,
                            )
                        } else {
                            crate::detail::Detail::of(&small, None)
                        };
                        crate::detail::Detail {
                            long_side: long as f64,
                            ..detail
                        }
                    }
                };
                (detail, *w)
            })
            .collect();
        let parts: Vec<(&crate::detail::Detail, f64)> = own.iter().map(|(d, w)| (d, *w)).collect();
        crate::detail::Detail::mix(&parts)
    }

    /// The style targets at output scale `long`. They depend on the photo only through its
    /// luminance when the photo's chroma is kept (and a style image is summarised on its
    /// luminance); otherwise they are kept in `cache` by size.
    fn targets_at(
        &self,
        net: &Vgg19,
        stat: &dyn style::Statistic,
        long: usize,
        content: &Rgb,
        cache: &mut TargetCache,
    ) -> Vec<Summary> {
        let s = &self.settings;
        if let Some(t) = &self.shared.profile {
            return t.summaries_at(&self.shared.style_layers);
        }
        // A style image is summarised on its luminance (matched to the photo's) when the
        // result keeps the photo's chroma, except one that carries its dataset's colours (a
        // learned one): that stands in for its dataset, and is summarised in colour as the
        // dataset's profile is.
        let keeps_chroma = self.shared.colours.keeps_photo_chroma();
        let on_luminance =
            |carried: &crate::carried::Carried| keeps_chroma && carried.palette.is_none();
        let weighted = || {
            self.shared
                .styles
                .iter()
                .zip(&self.shared.carried)
                .filter(|((_, w, _), _)| *w > 0.0)
        };
        let cacheable = weighted().all(|(_, c)| !on_luminance(c));
        if cacheable && let Some((_, t)) = cache.by_long_side.iter().find(|(l, _)| *l == long) {
            return t.clone();
        }
        cache.computed += 1;
        let b = TargetBuilder::new(net, stat, &self.shared.style_layers);
        let parts: Vec<(Vec<Summary>, f64)> = weighted()
            .map(|((img, w, _), carried)| {
                let img = img.fit_long_side(((long as f64) * s.style_scale).round() as usize);
                let img = if on_luminance(carried) {
                    color::luminance(&img, Some(content))
                } else {
                    img
                };
                (b.summarise(img.to_tensor(net.device()), None), *w)
            })
            .collect();
        let refs: Vec<(&[Summary], f64)> = parts.iter().map(|(s, w)| (s.as_slice(), *w)).collect();
        let targets = style::target::blend(stat, &refs);
        if cacheable {
            cache.by_long_side.push((long, targets.clone()));
        }
        targets
    }
}

fn profile_path(s: &TransferSettings) -> PathBuf {
    match &s.style {
        StyleSource::Profile(p) => p.clone(),
        StyleSource::Images(_) => PathBuf::new(),
    }
}

/// Checks that a start state fits a run of `stages` stages whose image is `w`×`h` at its stage.
pub(crate) fn check_start(st: &RunState, stages: usize, w: usize, h: usize) -> Result<()> {
    if st.stage >= stages
        || (st.width, st.height) != (w, h)
        || st.pixels.len() != 3 * w * h
        || st.stage_iter > st.iter
        || st.stage_evals > st.evals
    {
        return Err(Error::Other(anyhow::anyhow!(
            "the saved state (stage {}, {}×{}) does not fit this run (stages {stages}, {w}×{h})",
            st.stage,
            st.width,
            st.height
        )));
    }
    Ok(())
}

/// Records every step in the log, then hands it on.
pub(crate) struct Recorder<'a> {
    pub log: &'a mut LossLog,
    pub inner: &'a mut dyn Observer,
}

impl Observer for Recorder<'_> {
    fn stage(&mut self, stage: &Stage) {
        self.inner.stage(stage)
    }
    fn item(&mut self, done: usize, total: usize) -> crate::observe::Control {
        self.inner.item(done, total)
    }
    fn step(&mut self, step: &crate::observe::Step<'_>) -> crate::observe::Control {
        // Rows are kept in memory here (no file), so this cannot fail.
        let _ = self.log.row(step.iter, step.evals, step.stage, step.loss);
        self.inner.step(step)
    }
    fn notice(&mut self, notice: &crate::observe::Notice) {
        self.inner.notice(notice)
    }
    fn wants_checkpoint(&mut self, step: &crate::observe::Step<'_>) -> bool {
        self.inner.wants_checkpoint(step)
    }
    fn checkpoint(&mut self, state: &RunState) -> crate::observe::Control {
        self.inner.checkpoint(state)
    }
}

/// The style layers of a run: as given; by default the five standard layers, or all of a style
/// profile's layers when the profile lacks some of those. Given layers must be in the profile.
fn effective_style_layers(
    s: &TransferSettings,
    profile: Option<&StyleTarget>,
) -> Result<Vec<usize>> {
    let default = defaults::STYLE_LAYERS.to_vec();
    let names = |l: &[usize]| {
        l.iter()
            .map(|&l| vgg::RELU_LAYERS[l])
            .collect::<Vec<_>>()
            .join(",")
    };
    Ok(match (profile, &s.style_layers) {
        (None, given) => given.clone().unwrap_or(default),
        (Some(t), None) if default.iter().all(|l| t.layers.contains(l)) => default,
        (Some(t), None) => t.layers.clone(),
        (Some(t), Some(given)) if given.iter().all(|l| t.layers.contains(l)) => given.clone(),
        (Some(t), Some(given)) => {
            return Err(Error::setting(
                Setting::StyleLayers,
                format!(
                    "{} are not all in the style profile (it has {}); pick from those",
                    names(given),
                    names(&t.layers)
                ),
            ));
        }
    })
}
