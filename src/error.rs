//! The library's errors, in the library's own terms.
//!
//! A front end maps them to its own words: the command line turns a [`Setting`] into the flag
//! that sets it and adds a hint; a web page would highlight a form field.
use std::path::PathBuf;

/// A setting of a run, named so a front end can point at whatever sets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    Iterations,
    Size,
    Scales,
    Stages,
    MaxSide,
    ContentWeight,
    StyleWeight,
    TvWeight,
    ContentLayers,
    StyleLayers,
    LayerWeights,
    StyleBlend,
    StyleScale,
    StepSize,
    Sample,
    SnapshotEvery,
    Snapshots,
    Styles,
    Statistic,
    Colours,
    ResultSize,
}

impl Setting {
    /// The setting in words.
    pub fn describe(self) -> &'static str {
        match self {
            Setting::Iterations => "the number of iterations",
            Setting::Size => "the image size",
            Setting::Scales => "the pyramid scales",
            Setting::Stages => "the coarse-to-fine stages",
            Setting::MaxSide => "the largest dataset image side",
            Setting::ContentWeight => "the content weight",
            Setting::StyleWeight => "the style weight",
            Setting::TvWeight => "the total-variation weight",
            Setting::ContentLayers => "the content layers",
            Setting::StyleLayers => "the style layers",
            Setting::LayerWeights => "the layer weights",
            Setting::StyleBlend => "the style blend weights",
            Setting::StyleScale => "the style scale",
            Setting::StepSize => "the optimiser's step size",
            Setting::Sample => "the sample size",
            Setting::SnapshotEvery => "the snapshot interval",
            Setting::Snapshots => "the snapshot iterations",
            Setting::Styles => "the style images",
            Setting::Statistic => "the style statistic",
            Setting::Colours => "the colour handling",
            Setting::ResultSize => "the result size",
        }
    }
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting has a value the run cannot use.
    #[error("{}: {problem}", setting.describe())]
    Setting { setting: Setting, problem: String },
    /// An input file cannot be used (unreadable, wrong format, too small, damaged).
    #[error("{}", crate::error::about(path, source))]
    Input {
        path: PathBuf,
        #[source]
        source: anyhow::Error,
    },
    /// An output cannot be written where asked (a folder, an unknown format, no such folder).
    #[error("output {}: {problem}", path.display())]
    Output { path: PathBuf, problem: String },
    /// An output would replace one of the run's inputs, or another output of the same run.
    #[error("output {} is the same file as {what} {}: choose another output name", output.display(), other.display())]
    Overwrite {
        output: PathBuf,
        other: PathBuf,
        what: &'static str,
    },
    /// A style profile holds other statistics than the run uses.
    #[error("style profile {} holds '{profile}' statistics but the run uses '{requested}'", path.display())]
    ProfileStatistic {
        path: PathBuf,
        profile: crate::style::StatisticKind,
        requested: crate::style::StatisticKind,
    },
    /// Two photos of a batch would be written to the same output (same file stem).
    #[error("photos {} and {} would both be written to {}: rename one, or stylise them into different folders", first.display(), second.display(), output.display())]
    NameClash {
        output: PathBuf,
        first: PathBuf,
        second: PathBuf,
    },
    /// A run cannot continue from its checkpoint (none, damaged, or other settings).
    #[error("cannot resume from {}: {problem}", path.display())]
    Resume { path: PathBuf, problem: String },
    /// The run would need more memory than the machine has.
    #[error(
        "this run needs about {needed_mib} MiB of memory but about {available_mib} MiB is available: {advice}"
    )]
    Memory {
        needed_mib: u64,
        available_mib: u64,
        advice: String,
        /// The settings whose lowering makes the image smaller.
        lower: Vec<Setting>,
    },
    /// The loss or its gradient stopped being finite during optimisation.
    #[error("the loss became {total} (content {content}, style {style}, tv {tv}){}", if layers.is_empty() { String::new() } else { format!("; non-finite at {}", layers.join(",")) })]
    NonFinite {
        total: f64,
        content: f64,
        style: f64,
        tv: f64,
        layers: Vec<String>,
    },
    /// Anything else (I/O while writing, the network weights, …), with its context chain.
    #[error("{}", crate::error::chain(.0))]
    Other(#[from] anyhow::Error),
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn setting(setting: Setting, problem: impl Into<String>) -> Self {
        Error::Setting {
            setting,
            problem: problem.into(),
        }
    }

    pub(crate) fn input(path: impl Into<PathBuf>, source: anyhow::Error) -> Self {
        Error::Input {
            path: path.into(),
            source,
        }
    }
}

/// An anyhow error with its whole context chain on one line.
pub(crate) fn chain(e: &anyhow::Error) -> String {
    format!("{e:#}")
}

/// An input error's text: its context chain, led by the file's name unless the chain says it.
pub(crate) fn about(path: &std::path::Path, e: &anyhow::Error) -> String {
    let text = chain(e);
    let name = path.display().to_string();
    if name.is_empty() || text.contains(&name) {
        text
    } else {
        format!("{name}: {text}")
    }
}

/// Checks that a float setting is finite and within `min..` (inclusive or not).
pub(crate) fn check_number(setting: Setting, v: f64, min: f64, inclusive: bool) -> Result<()> {
    let ok = v.is_finite() && if inclusive { v >= min } else { v > min };
    if ok {
        Ok(())
    } else {
        Err(Error::setting(
            setting,
            format!(
                "must be a number {} {min}, got {v}",
                if inclusive { "≥" } else { ">" }
            ),
        ))
    }
}
