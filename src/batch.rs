//! Many photos, one style: a batch of transfers with the same settings into one folder.
//!
//! [`TransferBatch::new`] checks everything before any work: the settings, the style inputs
//! (read once), every photo's header, and every output (named after its photo:
//! `OUT_DIR/<stem>.<format>` with `OUT_DIR/<stem>.log.csv`) against the inputs and each other;
//! two photos with the same stem are refused. [`TransferBatch::run`] then stylises the photos
//! one at a time on one network, summarising the style once per output size, and reports each
//! photo's start, end, skip or failure to the observer. A photo whose output exists is skipped
//! (a rerun goes on where the last one stopped); a photo that fails is reported, leaves no file,
//! and the batch goes on.
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::tensor::Device;

use crate::dataset::is_image_name;
use crate::error::{Error, Result};
use crate::files::{TransferFiles, TransferJob, Written, transfer_outputs};
use crate::image_io;
use crate::observe::{Notice, Observer};
use crate::outputs::{OutputSet, PARTIAL_PREFIX};
use crate::transfer::{
    StyleInputs, TargetCache, TransferOutcome, TransferPlan, TransferSettings, style_inputs,
};
use crate::vgg::{self, Vgg19};

/// Image formats a batch can write.
pub const FORMATS: [&str; 3] = ["png", "jpg", "webp"];

/// Where a batch's results go.
#[derive(Clone, Debug)]
pub struct BatchFiles {
    /// The output folder (created if missing).
    pub out_dir: PathBuf,
    /// The output images' format and extension: png, jpg or webp.
    pub format: String,
    /// Save each photo's image every this many iterations, as `<stem>.iterNNNNN.<format>`.
    pub snapshot_every: Option<usize>,
}

/// One photo of a batch, with its files.
#[derive(Clone, Debug)]
pub struct BatchItem {
    pub photo: PathBuf,
    pub files: TransferFiles,
    /// What the checks found before any work.
    pub state: ItemState,
}

/// A photo's state once the batch is checked.
#[derive(Clone, Debug)]
pub enum ItemState {
    /// To be stylised.
    Pending,
    /// Its output image exists (an earlier run made it): skipped.
    Exists,
    /// Its header is unreadable or it is too small: it will be reported as failed.
    Bad(Arc<Error>),
}

/// What became of one photo.
pub enum ItemResult {
    /// Stylised; its files were published.
    Done(Box<Written<TransferOutcome>>),
    /// Its output already existed.
    Skipped,
    /// It failed; nothing of it was written.
    Failed(Arc<Error>),
    /// The observer stopped the batch during this photo; nothing of it was written.
    Stopped,
    /// The batch was stopped before this photo.
    NotRun,
}

/// What a batch did, photo by photo (in the order of [`TransferBatch::items`]).
pub struct BatchOutcome {
    pub results: Vec<ItemResult>,
    /// The observer asked to stop.
    pub stopped: bool,
    /// How many times the style images were summarised into targets (once per output size,
    /// or once per photo with `preserve_color`; 0 with a style profile).
    pub style_summaries: usize,
}

impl BatchOutcome {
    fn count(&self, f: impl Fn(&ItemResult) -> bool) -> usize {
        self.results.iter().filter(|r| f(r)).count()
    }
    pub fn done(&self) -> usize {
        self.count(|r| matches!(r, ItemResult::Done(_)))
    }
    pub fn skipped(&self) -> usize {
        self.count(|r| matches!(r, ItemResult::Skipped))
    }
    pub fn failed(&self) -> usize {
        self.count(|r| matches!(r, ItemResult::Failed(_)))
    }
    /// Photos not finished because the batch was stopped.
    pub fn not_run(&self) -> usize {
        self.count(|r| matches!(r, ItemResult::Stopped | ItemResult::NotRun))
    }
}

/// The photos named by `inputs`: files as given, folders as their image files (sorted by name,
/// not recursive, leaving out stylelearn's partial files).
pub fn list_photos(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut photos = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(|e| Error::input(input, anyhow::anyhow!("cannot list folder: {e}")))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && is_image_name(p)
                        && !p
                            .file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with(PARTIAL_PREFIX))
                })
                .collect();
            if files.is_empty() {
                return Err(Error::input(
                    input,
                    anyhow::anyhow!(
                        "folder {} holds no images (.png, .jpg, .jpeg, .webp, .bmp, .tif, .tiff)",
                        input.display()
                    ),
                ));
            }
            files.sort();
            photos.extend(files);
        } else if input.exists() {
            photos.push(input.clone());
        } else {
            return Err(Error::input(
                input,
                anyhow::anyhow!("photo {} does not exist", input.display()),
            ));
        }
    }
    Ok(photos)
}

/// A checked batch: many photos, one style, one output folder.
pub struct TransferBatch {
    settings: TransferSettings,
    shared: Arc<StyleInputs>,
    items: Vec<BatchItem>,
    files: BatchFiles,
}

impl TransferBatch {
    /// Checks `settings` (whose `content` is replaced by each photo in turn), reads the style
    /// inputs once, lists the photos of `inputs` ([`list_photos`]) and checks every output.
    pub fn new(
        settings: TransferSettings,
        inputs: &[PathBuf],
        files: BatchFiles,
        device: &Device,
    ) -> Result<Self> {
        let dir = &files.out_dir;
        if dir.exists() && !dir.is_dir() {
            return Err(Error::Output {
                path: dir.clone(),
                problem: "is a file: the outputs of several photos go into a folder".into(),
            });
        }
        if !FORMATS.contains(&files.format.as_str()) {
            return Err(Error::Output {
                path: dir.clone(),
                problem: format!(
                    "unknown image format '{}': use {}",
                    files.format,
                    FORMATS.join(", ")
                ),
            });
        }
        if files.snapshot_every == Some(0) {
            return Err(Error::setting(
                crate::Setting::SnapshotEvery,
                "must be at least 1",
            ));
        }
        let photos = list_photos(inputs)?;
        // Outputs named after the photos: no two the same.
        let mut by_output: HashMap<PathBuf, &PathBuf> = HashMap::new();
        let mut items = Vec::new();
        for photo in &photos {
            let stem = photo
                .file_stem()
                .map(|s| s.to_os_string())
                .unwrap_or_default();
            let name = |suffix: &str| {
                let mut n: OsString = stem.clone();
                n.push(suffix);
                dir.join(n)
            };
            let output = name(&format!(".{}", files.format));
            if let Some(first) = by_output.get(&output) {
                return Err(Error::NameClash {
                    output,
                    first: (*first).clone(),
                    second: photo.clone(),
                });
            }
            by_output.insert(output.clone(), photo);
            items.push(BatchItem {
                photo: photo.clone(),
                files: TransferFiles {
                    log: Some(name(".log.csv")),
                    output,
                    snapshot_every: files.snapshot_every,
                },
                state: ItemState::Pending,
            });
        }
        let shared = Arc::new(StyleInputs::read(&settings, device)?);
        for item in &mut items {
            if item.files.output.exists() {
                item.state = ItemState::Exists;
            } else if let Err(e) = probe(&item.photo) {
                item.state = ItemState::Bad(Arc::new(e));
            }
        }
        // Every output against every input (photos, style images, profile, initial image) and
        // every other output, done ones included (an output that is an input is never "done").
        let mut inputs: Vec<(PathBuf, &'static str)> =
            photos.iter().map(|p| (p.clone(), "a photo")).collect();
        inputs.extend(style_inputs(&settings));
        let total = settings.iters * shared.scales().len();
        let mut all = OutputSet::new();
        for item in &items {
            all.outputs
                .extend(transfer_outputs(&item.files, total).outputs);
        }
        all.check(&inputs)?;
        Ok(Self {
            settings,
            shared,
            items,
            files,
        })
    }

    /// The photos in the order they run, with their files and states.
    pub fn items(&self) -> &[BatchItem] {
        &self.items
    }

    /// See [`TransferPlan::lossy_styles`].
    pub fn lossy_styles(&self) -> (usize, usize) {
        self.shared.lossy_styles()
    }

    /// See [`TransferPlan::posterises`].
    pub fn posterises(&self) -> bool {
        self.shared.posterises()
    }

    pub fn files(&self) -> &BatchFiles {
        &self.files
    }

    /// Stylises the pending photos one at a time on `net`, reporting each photo and each step
    /// to `observer`. A photo's failure is in its result; the batch goes on.
    pub fn run(&self, net: &Vgg19, observer: &mut dyn Observer) -> BatchOutcome {
        let mut cache = TargetCache::default();
        let count = self.items.len();
        let mut stopped = false;
        let mut results = Vec::with_capacity(count);
        for (index, item) in self.items.iter().enumerate() {
            let photo = item.photo.clone();
            if stopped {
                results.push(ItemResult::NotRun);
                continue;
            }
            let failed = |error: Arc<Error>, observer: &mut dyn Observer| {
                observer.notice(&Notice::PhotoFailed {
                    index,
                    count,
                    photo: photo.clone(),
                    error: error.clone(),
                });
                ItemResult::Failed(error)
            };
            let result = match &item.state {
                ItemState::Exists => {
                    observer.notice(&Notice::PhotoSkipped {
                        index,
                        count,
                        photo: photo.clone(),
                        output: item.files.output.clone(),
                    });
                    ItemResult::Skipped
                }
                ItemState::Bad(e) => failed(e.clone(), observer),
                ItemState::Pending => {
                    observer.notice(&Notice::PhotoStarted {
                        index,
                        count,
                        photo: photo.clone(),
                        output: item.files.output.clone(),
                    });
                    match self.run_one(item, net, observer, &mut cache) {
                        Ok(w) if w.outcome.stopped => {
                            stopped = true;
                            ItemResult::Stopped
                        }
                        Ok(w) => {
                            observer.notice(&Notice::PhotoDone {
                                index,
                                count,
                                photo: photo.clone(),
                                files: w.files.clone(),
                                seconds: w.outcome.seconds,
                            });
                            ItemResult::Done(Box::new(w))
                        }
                        Err(e) => failed(Arc::new(e), observer),
                    }
                }
            };
            results.push(result);
        }
        BatchOutcome {
            results,
            stopped,
            style_summaries: cache.computed,
        }
    }

    fn run_one(
        &self,
        item: &BatchItem,
        net: &Vgg19,
        observer: &mut dyn Observer,
        cache: &mut TargetCache,
    ) -> Result<Written<TransferOutcome>> {
        let settings = TransferSettings {
            content: item.photo.clone(),
            ..self.settings.clone()
        };
        let plan = TransferPlan::with_style(settings, self.shared.clone())?;
        let job = TransferJob::with_plan(plan, item.files.clone())?;
        // A stopped photo is not published: a rerun would take it for done.
        job.run_cached(net, observer, cache, false)
    }
}

/// Reads a photo's header: readable, and not too small.
fn probe(photo: &Path) -> Result<()> {
    let (w, h) = image_io::dimensions(photo).map_err(|e| Error::input(photo, e))?;
    vgg::check_size(h, w).map_err(|e| {
        Error::input(
            photo,
            e.context(format!("content image {}", photo.display())),
        )
    })
}
