//! Style datasets: image files and folders, per-image weights (CSV `file,weight`), per-image
//! masks (same file stem in a masks folder, white = inside), with clear errors for bad input.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::image_io::{self, Rgb};

const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "webp", "bmp", "tif"];

/// Which part of each masked image to learn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Region {
    /// Where the mask is white.
    Foreground,
    /// Where the mask is black.
    Background,
}

/// One dataset entry (not yet decoded).
#[derive(Clone, Debug)]
pub struct Entry {
    pub path: PathBuf,
    pub weight: f64,
    pub mask: Option<PathBuf>,
    /// True if it came from listing a folder (may be skipped with --skip-bad).
    pub from_folder: bool,
}

fn is_image_name(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Expands files and folders (folders: their image files, sorted by name, not recursive).
pub fn expand(inputs: &[PathBuf]) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("cannot list folder {}", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_image_name(p))
                .collect();
            files.sort();
            if files.is_empty() {
                bail!(
                    "folder {} holds no images (.png, .jpg, .jpeg, .webp, .bmp, .tif)",
                    input.display()
                );
            }
            out.extend(files.into_iter().map(|path| Entry {
                path,
                weight: 1.0,
                mask: None,
                from_folder: true,
            }));
        } else if input.is_file() {
            out.push(Entry {
                path: input.clone(),
                weight: 1.0,
                mask: None,
                from_folder: false,
            });
        } else {
            bail!("dataset input {} does not exist", input.display());
        }
    }
    if out.is_empty() {
        bail!("the dataset is empty: give image files or folders of images");
    }
    Ok(out)
}

/// Applies a weights CSV (`file,weight` per line; `file` matched by path, file name or stem;
/// a header line and `#` comments are allowed). Images the file does not list get weight 0 and
/// are left out; naming an image that is not in the dataset is an error.
pub fn apply_weights(entries: &mut Vec<Entry>, csv: &Path) -> Result<()> {
    let text = std::fs::read_to_string(csv)
        .with_context(|| format!("cannot read weights file {}", csv.display()))?;
    let mut given: HashMap<String, f64> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, w)) = line.rsplit_once(',') else {
            bail!(
                "{}:{}: expected `file,weight`, got '{line}'",
                csv.display(),
                n + 1
            );
        };
        let w: f64 = match w.trim().parse() {
            Ok(w) => w,
            Err(_) if n == 0 => continue, // header
            Err(_) => bail!(
                "{}:{}: '{}' is not a number",
                csv.display(),
                n + 1,
                w.trim()
            ),
        };
        if !(w >= 0.0 && w.is_finite()) {
            bail!(
                "{}:{}: weight {w} for {} must be a non-negative number",
                csv.display(),
                n + 1,
                name.trim()
            );
        }
        given.insert(name.trim().to_string(), w);
    }
    let key_of = |e: &Entry| -> Vec<String> {
        let mut k = vec![e.path.display().to_string()];
        if let Some(n) = e.path.file_name().and_then(|s| s.to_str()) {
            k.push(n.to_string());
        }
        if let Some(s) = e.path.file_stem().and_then(|s| s.to_str()) {
            k.push(s.to_string());
        }
        k
    };
    for name in given.keys() {
        if !entries.iter().any(|e| key_of(e).contains(name)) {
            bail!(
                "weights file {} names '{name}', which is not in the dataset",
                csv.display()
            );
        }
    }
    for e in entries.iter_mut() {
        e.weight = key_of(e)
            .iter()
            .find_map(|k| given.get(k).copied())
            .unwrap_or(0.0);
    }
    entries.retain(|e| e.weight > 0.0);
    if entries.is_empty() {
        bail!(
            "weights file {} gives every image weight 0: at least one must be positive",
            csv.display()
        );
    }
    Ok(())
}

/// Finds each entry's mask in `dir` (same file stem, any image extension).
pub fn attach_masks(entries: &mut [Entry], dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        bail!("masks folder {} does not exist", dir.display());
    }
    for e in entries.iter_mut() {
        let stem = e
            .path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let found = IMAGE_EXTENSIONS
            .iter()
            .map(|ext| dir.join(format!("{stem}.{ext}")))
            .find(|p| p.is_file());
        match found {
            Some(p) => e.mask = Some(p),
            None => bail!(
                "no mask for {} in {} (expected {stem}.png or another image with the same stem)",
                e.path.display(),
                dir.display()
            ),
        }
    }
    Ok(())
}

/// A decoded dataset image, resized to at most `max_side` on its long side, with its mask.
pub struct Loaded {
    pub image: Rgb,
    pub mask: Option<Vec<f32>>,
}

/// Decodes one entry (image and mask, the mask inverted for the background region).
pub fn load_entry(e: &Entry, max_side: Option<usize>, region: Region) -> Result<Loaded> {
    let image = image_io::load(&e.path)?;
    crate::vgg::check_size(image.height, image.width)
        .with_context(|| format!("style image {}", e.path.display()))?;
    let mask = match &e.mask {
        Some(m) => {
            let mut v = image_io::load_mask(m, image.width, image.height)?;
            if region == Region::Background {
                v.iter_mut().for_each(|x| *x = 1.0 - *x);
            }
            if v.iter().sum::<f32>() < 1.0 {
                bail!(
                    "mask {} selects no pixels of the {region:?} region",
                    m.display()
                );
            }
            Some(v)
        }
        None => None,
    };
    let (image, mask) = match max_side {
        Some(s) if image.width.max(image.height) > s => {
            let r = image.fit_long_side(s);
            let mask = mask.map(|m| {
                let planes = Rgb::from_planar(
                    image.width,
                    image.height,
                    [m.clone(), m.clone(), m].concat(),
                );
                planes.resize(r.width, r.height).data[..r.width * r.height].to_vec()
            });
            (r, mask)
        }
        _ => (image, mask),
    };
    Ok(Loaded { image, mask })
}
