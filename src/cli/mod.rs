//! The command line's commands: each maps its arguments to a library job, runs it with a
//! progress observer and prints the summary.
pub mod args;
mod batch;
mod bench;
mod demo;
pub mod errors;
pub mod progress;

use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::tensor::Device;
use stylelearn::evaluate::{self, Closest, EvaluateJob, EvaluateObserver, Transfer};
use stylelearn::files::{LearnJob, ProfileJob, TransferJob};
use stylelearn::observe::{Control, Notice, Observer, Stage, Step};
use stylelearn::vgg::{self, Vgg19};
use stylelearn::{Error, image_io, setup, style};

use args::{Cli, Command, Common, DatasetArgs, TransferTarget};
use errors::{Cmd, explain};
use progress::Progress;

/// How a command ended when it did not fail.
pub enum Finished {
    Done,
    /// Stopped by Ctrl-C/SIGTERM after saving what it reached (exit 130).
    Stopped(String),
}

/// The compute device: the flex CPU backend, or a GPU when built with `--features cuda|wgpu`
/// (burn's default device prefers CUDA, then wgpu, then flex).
pub fn device() -> Device {
    Device::default()
}

fn notifier(quiet: bool) -> impl Fn(&str) {
    move |m: &str| {
        if !quiet {
            eprintln!("{m}")
        }
    }
}

pub fn load_net(common: &Common) -> anyhow::Result<Vgg19> {
    let w = setup::resolve_weights(common.vgg.as_deref(), &notifier(common.quiet))?;
    Ok(Vgg19::new(&w, &device()))
}

fn list(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn suggest_skip_bad(d: &DatasetArgs) -> bool {
    !d.skip_bad && d.masks.is_none() && d.dataset.iter().any(|p| p.is_dir())
}

/// Runs one command. Errors come back as the text to print.
pub fn run(cli: Cli) -> Result<Finished, String> {
    let text = |e: anyhow::Error| format!("{e:#}");
    match cli.command {
        Command::Setup {
            force,
            from,
            common,
        } => {
            let notify = notifier(common.quiet);
            let path = match from {
                Some(f) => setup::setup_from_file(&f, &notify),
                None => setup::setup(force, &notify),
            }
            .map_err(text)?;
            // setup has already read back and checked the cached file; print its path for scripts.
            println!("{}", path.display());
            Ok(Finished::Done)
        }
        Command::Transfer(a) => {
            let lib = |e: Error| explain(&e, Cmd::Transfer, false);
            let (settings, files) = match a.to_job()? {
                (settings, TransferTarget::One(files)) => (settings, files),
                (settings, TransferTarget::Batch(inputs, files)) => {
                    return batch::run(&a, settings, &inputs, files);
                }
            };
            let job = TransferJob::new(settings, files, &device())
                .and_then(|j| j.with_checkpoints(a.resume.checkpoint_every, a.resume.resume))
                .map_err(lib)?;
            if !a.common.quiet
                && let Some(line) =
                    lossy_styles_note(job.plan.lossy_styles(), job.plan.posterises())
            {
                eprintln!("{line}");
            }
            let net = load_net(&a.common).map_err(text)?;
            let mut progress = Progress::new("transfer", a.common.quiet);
            let w = job.run(&net, &mut progress).map_err(lib)?;
            drop(progress);
            let r = &w.outcome;
            if !a.common.quiet && r.evals == 0 {
                eprintln!("not optimised (--iters 0)\nwrote {}", list(&w.files));
            } else if !a.common.quiet {
                eprintln!(
                    "{} evaluations in {:.0} s; loss {:.4e}: content {:.3e}, style {:.3e}, tv {:.2e}\nwrote {}",
                    r.evals,
                    r.seconds,
                    r.last.total,
                    r.last.content,
                    r.last.style,
                    r.last.tv,
                    list(&w.files)
                );
            }
            Ok(stopped(r.stopped, &job.files.output, job.checkpoint_path()))
        }
        Command::Learn(a) => {
            let hint = suggest_skip_bad(&a.data);
            let lib = |e: Error| explain(&e, Cmd::Learn, hint);
            let (settings, files) = a.to_job();
            let job = LearnJob::new(settings, files)
                .and_then(|j| j.with_checkpoints(a.resume.checkpoint_every, a.resume.resume))
                .map_err(lib)?;
            let net = load_net(&a.common).map_err(text)?;
            let mut progress = Progress::new("learn", a.common.quiet);
            let w = job.run(&net, &mut progress).map_err(lib)?;
            drop(progress);
            let r = &w.outcome;
            if !a.common.quiet {
                left_out_note(job.plan.left_out());
                eprintln!(
                    "learned from {} images in {:.0} s ({} iterations, {} evaluations); style loss {:.4e}\nwrote {}",
                    r.target.sources.len(),
                    r.seconds,
                    r.iters,
                    r.evals,
                    r.last.style,
                    list(&w.files)
                );
                if let Some(line) = r.target.blocks.as_ref().map(pixelated_note) {
                    eprintln!("{line}");
                }
                if let Some(line) = r.target.swatches.as_ref().and_then(posterised_note) {
                    eprintln!("{line}");
                }
                if !stylelearn::image_io::keeps_notes(&job.files.output)
                    && let Some(line) = uncarried_note(&r.carried, &job.files.output)
                {
                    eprintln!("{line}");
                }
            }
            Ok(stopped(r.stopped, &job.files.output, job.checkpoint_path()))
        }
        Command::Profile(a) => {
            let hint = suggest_skip_bad(&a.data);
            let lib = |e: Error| explain(&e, Cmd::Learn, hint);
            let job = ProfileJob::new(a.data.to_settings(), a.output.clone()).map_err(lib)?;
            let net = load_net(&a.common).map_err(text)?;
            let mut progress = Progress::new("profile", a.common.quiet);
            let w = job.run(&net, &mut progress).map_err(lib)?;
            drop(progress);
            if !a.common.quiet {
                left_out_note(job.plan.left_out());
                eprintln!(
                    "wrote {} ({} images, {} layers)",
                    a.output.display(),
                    w.outcome.sources.len(),
                    w.outcome.layers.len()
                );
                if let Some(line) = w.outcome.blocks.as_ref().map(pixelated_note) {
                    eprintln!("{line}");
                }
                if let Some(line) = w.outcome.swatches.as_ref().and_then(posterised_note) {
                    eprintln!("{line}");
                }
            }
            Ok(Finished::Done)
        }
        Command::Demo(a) => {
            let net = load_net(&a.common).map_err(text)?;
            demo::run(&net, &a.out, a.iters, a.transfer_iters, a.common.quiet)
                .map_err(|e| e.to_string())?;
            Ok(Finished::Done)
        }
        Command::Compare(a) => {
            let stat = a.statistic.build();
            let load = |p: &Path| -> anyhow::Result<image_io::Rgb> {
                let img = image_io::load(p)?;
                let img = if a.size > 0 {
                    img.fit_long_side(a.size)
                } else {
                    img
                };
                vgg::check_size(img.height, img.width).with_context(|| p.display().to_string())?;
                Ok(img)
            };
            let (img, reference) = (
                load(&a.image).map_err(text)?,
                load(&a.reference).map_err(text)?,
            );
            let layers = &a.layers.0;
            for (i, l) in layers.iter().enumerate() {
                if layers[..i].contains(l) {
                    return Err(format!("--layers names {} twice", vgg::RELU_LAYERS[*l]));
                }
            }
            let net = load_net(&a.common).map_err(text)?;
            let d = style::image_distance(
                &net,
                stat.as_ref(),
                img.to_tensor(net.device()),
                reference.to_tensor(net.device()),
                layers,
            );
            println!("layer,{}", a.statistic);
            for (l, v) in layers.iter().zip(&d) {
                println!("{},{v:.6}", vgg::RELU_LAYERS[*l]);
            }
            println!("mean,{:.6}", d.iter().sum::<f64>() / d.len() as f64);
            Ok(Finished::Done)
        }
        Command::Evaluate(a) => {
            let lib = |e: Error| explain(&e, Cmd::Transfer, false);
            let job =
                EvaluateJob::new(a.to_settings(), a.output.clone(), &device()).map_err(lib)?;
            let net = load_net(&a.common).map_err(text)?;
            let mut progress = EvalProgress::new(a.common.quiet);
            let done = job.run(&net, &mut progress).map_err(lib)?;
            drop(progress);
            let Some((ev, files)) = done else {
                return Ok(Finished::Stopped(
                    "interrupted: the evaluation was not finished and nothing was written".into(),
                ));
            };
            if !a.common.quiet {
                eprintln!(
                    "judged {} photos × {} routes; wrote {} files: {}, {}, {} and the images",
                    ev.stems.len(),
                    ev.routes.len(),
                    files.len(),
                    job.results_csv().display(),
                    job.means_csv().display(),
                    job.index_html().display()
                );
            }
            println!("{}", ev.means_markdown().trim_end());
            // the settings as the evaluation resolved them (the profile's statistic)
            let settings = job.plan.settings();
            let command = |i: usize| {
                evaluate::route_settings(settings, &settings.routes[i], Path::new("PHOTO"))
                    .map(|ts| args::transfer_command(&ts))
                    .unwrap_or_default()
            };
            match ev.closest() {
                Some(Closest::Both(i)) => println!(
                    "\nclosest to the filter on both judges: {}\n  {}",
                    ev.routes[i].name,
                    command(i)
                ),
                Some(Closest::Split { colour, texture }) => println!(
                    "\nclosest in colour: {}\n  {}\nclosest in texture: {}\n  {}",
                    ev.routes[colour].name,
                    command(colour),
                    ev.routes[texture].name,
                    command(texture)
                ),
                None => {}
            }
            Ok(Finished::Done)
        }
        Command::Bench(a) => {
            if let Some(&s) = a.sizes.iter().find(|&&s| s < vgg::MIN_SIDE) {
                return Err(format!(
                    "--sizes: {s} px is below the minimum of {} px",
                    vgg::MIN_SIDE
                ));
            }
            let mut net = load_net(&a.common).map_err(text)?;
            if a.burn_only {
                net = net.burn_only();
            }
            bench::run(&net, &a.sizes, a.steps, a.full_transfer, a.dataset_memory)
                .map_err(|e| e.to_string())?;
            Ok(Finished::Done)
        }
    }
}

fn stopped(stopped: bool, output: &Path, checkpoint: Option<&Path>) -> Finished {
    if stopped {
        let resume = match checkpoint.filter(|c| c.exists()) {
            Some(c) => format!(" (--resume continues from {})", c.display()),
            None => String::new(),
        };
        Finished::Stopped(format!(
            "interrupted: the latest image was written to {}{resume}",
            output.display()
        ))
    } else {
        Finished::Done
    }
}

fn left_out_note(left_out: &[PathBuf]) {
    if !left_out.is_empty() {
        eprintln!(
            "note: the weights file does not list {} image(s), which were left out (weight 0): {}",
            left_out.len(),
            list(left_out)
        );
    }
}

/// Progress of an evaluation: one bar per transfer, labelled with its route and photo.
/// Progress bars for an evaluation: one bar per transfer.
pub(crate) struct EvalProgress {
    bars: Progress,
    quiet: bool,
}

impl EvalProgress {
    pub(crate) fn new(quiet: bool) -> Self {
        Self {
            bars: Progress::new("evaluate", quiet),
            quiet,
        }
    }
}

impl Observer for EvalProgress {
    fn stage(&mut self, stage: &Stage) {
        self.bars.stage(stage)
    }
    fn item(&mut self, done: usize, total: usize) -> Control {
        self.bars.item(done, total)
    }
    fn step(&mut self, step: &Step<'_>) -> Control {
        self.bars.step(step)
    }
    fn notice(&mut self, notice: &Notice) {
        self.bars.notice(notice)
    }
}

impl EvaluateObserver for EvalProgress {
    fn transfer(&mut self, t: &Transfer<'_>) {
        self.bars = Progress::new(
            format!("[{}/{}] {} {}", t.index + 1, t.count, t.route, t.stem),
            self.quiet,
        );
    }
    fn as_observer(&mut self) -> &mut dyn Observer {
        self
    }
}

/// What `profile` and `learn` say of a posterised dataset's swatches: how many colours, and
/// whether a result takes them channel by channel; of a palette estimated from lossy images,
/// also whether the images show that the filter posterises, or else that only `--posterise on`
/// applies it (`None`: not posterised).
fn posterised_note(s: &stylelearn::posterise::Swatches) -> Option<String> {
    use stylelearn::posterise::{LOSSY_MIN_IMAGES, LOSSY_TYPICAL_SWATCHES};
    if s.lossy {
        return s.is_posterised().then(|| {
            let n = s.colours.len();
            if s.looks_posterised() {
                format!(
                    "posterised: {n} colours estimated from the flat regions of the lossy images, three quarters of which need at most {LOSSY_TYPICAL_SWATCHES} each: a result is painted with them (--posterise)"
                )
            } else {
                format!(
                    "palette: {n} colours estimated from the flat regions of the lossy images; a result is painted with them only with --posterise on (auto leaves its colours: it needs at least {LOSSY_MIN_IMAGES} images, three quarters of which need at most {LOSSY_TYPICAL_SWATCHES} colours each, as a photo's smooth regions give a palette too)"
                )
            }
        });
    }
    s.is_posterised().then(|| {
        let how = if s.is_channel_grid() {
            "on a per-channel grid: a result takes the nearest in sRGB"
        } else {
            "a palette: a result takes the nearest in Lab, at their colourfulness"
        };
        format!(
            "posterised: {} exact colours cover {}% of the images' pixels, {how} (--posterise)",
            s.colours.len(),
            stylelearn::posterise::COVERAGE * 100.0
        )
    })
}

/// What `profile`, `learn` and `transfer` say when `lossy` of `count` images (`what`: "images",
/// "style images") are JPEG or lossy WebP: their palette is estimated and their blocks found by
/// contrast.
fn lossy_note(lossy: usize, count: usize, what: &str) -> String {
    format!(
        "note: {lossy} of the {count} {what} {} JPEG or lossy WebP, whose compression noise hides a filter's exact colours: a palette is estimated from their flat regions instead (--posterise), and blocks are found by their contrast (--pixelate). The filter's outputs saved as PNG keep their exact colours.",
        if lossy == 1 { "is" } else { "are" },
    )
}

/// What `transfer` says when some of its style images, (`lossy`, `count`) as
/// `TransferPlan::lossy_styles` gives them, are lossy, and whether the result `posterises` with
/// their estimated palette; `None` when none is.
fn lossy_styles_note((lossy, count): (usize, usize), posterises: bool) -> Option<String> {
    (lossy > 0).then(|| {
        let paints = if posterises {
            "this transfer paints with the estimated palette"
        } else {
            "this transfer is not posterised"
        };
        format!("{} So {paints}.", lossy_note(lossy, count, "style images"))
    })
}

/// What a learned image saved where notes are not kept (JPEG, WebP) loses of what it would
/// carry ([`stylelearn::carried`]), or `None` when it carries nothing.
fn uncarried_note(c: &stylelearn::carried::Carried, output: &Path) -> Option<String> {
    let mut what = Vec::new();
    let mut instead = Vec::new();
    if c.detail.is_some() {
        what.push("fine detail");
        instead.push("takes its pixels' detail, which is nearer the optimisation's noise");
    }
    if c.blocks.is_some() {
        what.push("blocks");
        instead.push("finds no blocks in its pixels");
    }
    if c.palette.is_some() {
        what.push("colours");
        instead.push("keeps the optimisation's colours rather than taking the dataset's");
    }
    if c.swatches.as_ref().is_some_and(|s| s.looks_posterised()) {
        what.push("exact colours");
        instead.push("does not posterise");
    }
    if what.is_empty() {
        return None;
    }
    let list = |v: &[&str], and: &str| match v {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{}{and}{last}", rest.join(", ")),
    };
    Some(format!(
        "note: {} cannot carry the dataset's {} beside its pixels, as a PNG does: a transfer with it as the style {} (learn to a .png to carry {})",
        output.display(),
        list(&what, " and "),
        list(&instead, ", and "),
        if what.len() == 1 { "it" } else { "them" }
    ))
}

/// What `profile` and `learn` say of a pixelated dataset's blocks.
fn pixelated_note(b: &stylelearn::pixelate::Blocks) -> String {
    // to 3 decimals, as few as it needs: "4", "5.333"
    let size = (b.size * 1000.0).round() / 1000.0;
    format!(
        "pixelated: blocks of {size} px in the images' {:.0} px long side: a result is averaged over blocks of the same share of its own (--pixelate)",
        b.long_side
    )
}
