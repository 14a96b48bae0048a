//! What the user sees while a run goes: progress bars sized to the terminal, warnings, and
//! Ctrl-C / SIGTERM turned into a request to stop after the current step.
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressStyle};
use stylelearn::observe::{Control, Notice, Observer, Stage, StageKind, Step};

use super::errors::{Cmd, explain};

/// Set by the signal handler.
static STOP: AtomicBool = AtomicBool::new(false);

/// Installs the handler: the first Ctrl-C (or SIGTERM, SIGHUP) asks runs to stop after the
/// current step and save what they reached; a second one exits at once.
pub fn install_signal_handler() {
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            eprintln!("\ninterrupted twice: exiting now");
            std::process::exit(130);
        }
        eprintln!("\nstopping after the current step (Ctrl-C again to quit at once)…");
    });
}

/// True once a stop was requested.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Progress bars for one run, labelled with what the run is (`learn`, `photo`, …).
pub struct Progress {
    label: String,
    quiet: bool,
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(label: impl Into<String>, quiet: bool) -> Self {
        Self {
            label: label.into(),
            quiet,
            bar: None,
        }
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

fn control() -> Control {
    if stop_requested() {
        Control::Stop
    } else {
        Control::Continue
    }
}

impl Observer for Progress {
    fn stage(&mut self, stage: &Stage) {
        self.finish();
        if self.quiet {
            return;
        }
        if stage.kind == StageKind::Finish {
            // no steps to count: a spinner until the result is written
            let pb = ProgressBar::new_spinner();
            pb.set_style(
                ProgressStyle::with_template("{prefix} {spinner} {elapsed}")
                    .expect("valid template"),
            );
            pb.set_prefix(format!(
                "{} finishing at {}×{}",
                self.label, stage.width, stage.height
            ));
            pb.enable_steady_tick(std::time::Duration::from_millis(200));
            self.bar = Some(pb);
            return;
        }
        let prefix = match stage.kind {
            StageKind::ReadDataset => format!("{}: reading dataset", self.label),
            StageKind::RemoveVignette => {
                format!("{}: measuring colours without the vignette", self.label)
            }
            StageKind::Optimise if stage.count > 1 => format!(
                "{} {}×{} ({}/{})",
                self.label,
                stage.width,
                stage.height,
                stage.index + 1,
                stage.count
            ),
            StageKind::Optimise | StageKind::Finish => {
                format!("{} {}×{}", self.label, stage.width, stage.height)
            }
        };
        let pb = ProgressBar::new(stage.items as u64);
        pb.set_style(
            ProgressStyle::with_template("{prefix} [{wide_bar}] {pos}/{len} {msg} ETA {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        pb.set_prefix(prefix);
        self.bar = Some(pb);
    }

    fn item(&mut self, done: usize, _total: usize) -> Control {
        if let Some(b) = &self.bar {
            b.set_position(done as u64);
        }
        control()
    }

    fn step(&mut self, step: &Step<'_>) -> Control {
        if let Some(b) = &self.bar {
            b.set_message(format!("loss {:.3e}", step.loss.total));
            b.set_position(step.stage_iter as u64);
        }
        control()
    }

    fn notice(&mut self, notice: &Notice) {
        let name = |p: &std::path::Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.display().to_string())
        };
        let text = match notice {
            Notice::Skipped { path, reason } => {
                format!("warning: skipping {}: {reason}", path.display())
            }
            Notice::LossyImages { lossy, count } => super::lossy_note(*lossy, *count, "images"),
            Notice::PhotoStarted {
                index,
                count,
                photo,
                ..
            } => {
                // The bars of this photo's stages carry its name.
                self.label = format!("{} ({}/{count})", name(photo), index + 1);
                return;
            }
            Notice::PhotoDone {
                photo,
                files,
                seconds,
                ..
            } => {
                self.finish();
                format!(
                    "{}: done in {seconds:.0} s → {}",
                    photo.display(),
                    files
                        .first()
                        .map(|f| f.display().to_string())
                        .unwrap_or_default()
                )
            }
            Notice::PhotoSkipped { photo, output, .. } => format!(
                "{}: skipped, {} exists (delete it to redo)",
                photo.display(),
                output.display()
            ),
            Notice::PhotoFailed { photo, error, .. } => {
                self.finish();
                let why = explain(error, Cmd::Transfer, false);
                match why.contains(&photo.display().to_string()) {
                    true => format!("failed: {why}"),
                    false => format!("{}: failed: {why}", photo.display()),
                }
            }
        };
        match &self.bar {
            Some(b) => b.suspend(|| eprintln!("{text}")),
            None if !self.quiet => eprintln!("{text}"),
            None => {}
        }
    }
}
