//! Library errors in the command line's words: the flag that sets a setting, and a hint.
use stylelearn::{Error, Setting};

/// Which command an error came from (some settings have other flags per command).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    Transfer,
    Learn,
}

/// The flag that sets `s`.
pub fn flag(s: Setting, cmd: Cmd) -> &'static str {
    match s {
        Setting::Iterations => "--iters",
        Setting::Size => "--size",
        Setting::Scales => "--scales",
        Setting::Stages => "--stages",
        Setting::MaxSide => "--max-side",
        Setting::ContentWeight => "--content-weight",
        Setting::StyleWeight => "--style-weight",
        Setting::TvWeight => "--tv-weight",
        Setting::ContentLayers => "--content-layers",
        Setting::StyleLayers if cmd == Cmd::Transfer => "--style-layers",
        Setting::StyleLayers => "--layers",
        Setting::LayerWeights => "--layer-weights",
        Setting::StyleBlend => "--style-blend",
        Setting::StyleScale => "--style-scale",
        Setting::StepSize => "--lr",
        Setting::Sample => "--sample",
        Setting::SnapshotEvery => "--save-every",
        Setting::Snapshots => "--snapshots",
        Setting::Styles => "--style",
        Setting::Statistic => "--loss",
        Setting::Colours => "--colours",
        Setting::ResultSize => "--result-size",
    }
}

/// The message for `e`, naming flags and what to do.
/// `suggest_skip_bad`: the run reads folders without masks and without --skip-bad.
pub fn explain(e: &Error, cmd: Cmd, suggest_skip_bad: bool) -> String {
    match e {
        Error::Setting { setting, problem } => {
            format!(
                "{} ({}): {problem}",
                flag(*setting, cmd),
                setting.describe()
            )
        }
        Error::ProfileStatistic { profile, .. } => {
            format!("{e}: leave out --loss (the profile's is taken), or use --loss {profile}")
        }
        Error::NonFinite { .. } => format!("{e}: lower --lr or the loss weights"),
        Error::Resume { .. } => {
            format!(
                "{e}: give the settings of the run to resume, or leave out --resume to start afresh"
            )
        }
        Error::Memory { lower, .. } => {
            let flags: Vec<&str> = lower.iter().map(|s| flag(*s, cmd)).collect();
            match flags.split_last() {
                Some((last, [])) => format!("{e} (lower {last})"),
                Some((last, rest)) => format!("{e} (lower {} or {last})", rest.join(", ")),
                None => e.to_string(),
            }
        }
        Error::Input { path, .. } if cmd == Cmd::Learn && suggest_skip_bad && is_image(path) => {
            format!("{e} (use --skip-bad to skip unreadable images found in folders)")
        }
        _ => e.to_string(),
    }
}

fn is_image(p: &std::path::Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["png", "jpg", "jpeg", "webp", "bmp", "tif"].contains(&e.to_ascii_lowercase().as_str())
    }) && p.parent().is_some_and(|d| d.is_dir())
}
