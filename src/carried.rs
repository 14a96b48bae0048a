//! What a learned style image carries from its dataset beside its pixels: the statistics a
//! Gram matrix cannot put into an image, written as PNG text notes
//! ([`crate::image_io::Rgb::save_with_notes`]) that a transfer taking the image as its style
//! reads back instead of measuring its pixels.
//!
//! - **The fine detail** ([`crate::detail::Detail`]): a Gram matrix does not tell a flat
//!   region from one with faint noise, and the learned image's noise is what a transfer would
//!   measure on its pixels (README, "The learned-image route").
//! - **The blocks of a pixelated dataset** ([`crate::pixelate::Blocks`]): the style
//!   statistics are averages over positions, blind to where a grid's lines fall, so the
//!   learned image has the blocks' texture without the blocks, and its pixels show none.
//! - **The colours** ([`crate::color::Palette`]) and **the exact colours of a posterised
//!   dataset** ([`crate::posterise::Swatches`]): one image's colours do not tell how the
//!   filter's vary from photo to photo (which adapting a photo's colours needs), nor which of
//!   them the filter paints with. With them, a transfer with the learned image as its style
//!   takes the same colours, posterising and blocks as one with the dataset's profile.
//!
//! Each note is JSON with a format number, under its own key, at the image's pixel scale
//! (its `long_side` is the image's long side: the learned image has the dataset's pixel
//! scale).
use anyhow::{Result, anyhow, ensure};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::color::Palette;
use crate::detail::Detail;
use crate::image_io::Note;
use crate::pixelate::Blocks;
use crate::posterise::Swatches;

/// The key of the note that carries the dataset's fine detail.
pub const DETAIL_KEY: &str = "stylelearn detail";
/// The key of the note that carries a pixelated dataset's blocks.
pub const BLOCKS_KEY: &str = "stylelearn blocks";
/// The key of the note that carries the dataset's colours.
pub const PALETTE_KEY: &str = "stylelearn palette";
/// The key of the note that carries the dataset's exact colours.
pub const SWATCHES_KEY: &str = "stylelearn swatches";

/// The version of the notes' format.
const FORMAT: u32 = 1;

/// What a learned style image carries (each part `None` when it carries none).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Carried {
    /// The dataset's fine detail, which the image took when it was saved.
    pub detail: Option<Detail>,
    /// The dataset's blocks, when it is pixelated.
    pub blocks: Option<Blocks>,
    /// The dataset's colour distribution, with how it varies from image to image.
    pub palette: Option<Palette>,
    /// The dataset's exact colours (posterised or not, as the profile records them).
    pub swatches: Option<Swatches>,
}

impl Carried {
    /// Whether the image carries nothing.
    pub fn is_empty(&self) -> bool {
        self.detail.is_none()
            && self.blocks.is_none()
            && self.palette.is_none()
            && self.swatches.is_none()
    }

    /// The notes that carry this beside an image's pixels.
    pub fn notes(&self) -> Vec<Note> {
        let mut out = Vec::new();
        if let Some(d) = &self.detail {
            out.push(note(DETAIL_KEY, "detail", d));
        }
        if let Some(b) = &self.blocks {
            out.push(note(BLOCKS_KEY, "blocks", b));
        }
        if let Some(p) = &self.palette {
            out.push(note(PALETTE_KEY, "palette", p));
        }
        if let Some(s) = &self.swatches {
            out.push(note(SWATCHES_KEY, "swatches", s));
        }
        out
    }

    /// What an image's notes carry, each part checked: an error names a damaged note, or one
    /// in a format this stylelearn does not read. Other notes are left alone.
    pub fn read(notes: &[Note]) -> Result<Self> {
        Ok(Self {
            detail: read(notes, DETAIL_KEY, "detail", Detail::check)?,
            blocks: read(notes, BLOCKS_KEY, "blocks", Blocks::check)?,
            palette: read(notes, PALETTE_KEY, "palette", Palette::check)?,
            swatches: read(notes, SWATCHES_KEY, "swatches", Swatches::check)?,
        })
    }
}

/// `value` as a note under `key`: `{"format": FORMAT, field: value}`.
fn note<T: Serialize>(key: &str, field: &str, value: &T) -> Note {
    let body = serde_json::json!({ "format": FORMAT, field: value });
    Note {
        key: key.to_string(),
        text: body.to_string(),
    }
}

/// The value the note under `key` holds in `field` ([`note`]), checked by `check`; `None`
/// without such a note.
fn read<T: DeserializeOwned>(
    notes: &[Note],
    key: &str,
    field: &str,
    check: impl Fn(&T) -> Result<()>,
) -> Result<Option<T>> {
    let Some(n) = notes.iter().find(|n| n.key == key) else {
        return Ok(None);
    };
    let damaged = format!("its {key} note is damaged (learn it again)");
    let mut body: serde_json::Value =
        serde_json::from_str(&n.text).map_err(|e| anyhow!("{damaged}: {e}"))?;
    let format = body.get("format").and_then(|f| f.as_u64());
    ensure!(
        format == Some(FORMAT as u64),
        "its {key} note is in format {}, which this stylelearn does not read (it reads format {FORMAT}): update stylelearn, or learn it again",
        format.map_or("unknown".to_string(), |f| f.to_string())
    );
    let value = body
        .get_mut(field)
        .map(serde_json::Value::take)
        .ok_or_else(|| anyhow!("{damaged}: it holds no {field}"))?;
    let value: T = serde_json::from_value(value).map_err(|e| anyhow!("{damaged}: {e}"))?;
    check(&value).map_err(|e| anyhow!("{damaged}: {e}"))?;
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image_io::{Rgb, noise};

    /// An image with flat regions and noise.
    fn flat_and_noise() -> Rgb {
        let n = noise(40, 30, 1);
        let data = n
            .data
            .iter()
            .enumerate()
            .map(|(i, &v)| if (i / 40) % 30 < 15 { v } else { 0.5 })
            .collect();
        Rgb::from_planar(40, 30, data)
    }

    /// A detail with some of flat regions and some of noise.
    fn detail() -> Detail {
        Detail::of(&flat_and_noise(), None)
    }

    #[test]
    fn what_an_image_carries_comes_back_and_a_damaged_note_is_refused() {
        let d = detail();
        let blocks = Blocks {
            size: 6.4,
            long_side: 256.0,
        };
        let img = flat_and_noise();
        let palette = Palette::mix(&[
            (&Palette::of(&img, None), 1.0),
            (&Palette::of(&noise(20, 20, 3), None), 2.0),
        ]);
        assert!(palette.as_ref().is_some_and(|p| p.spread.is_some()));
        let carried = Carried {
            detail: Some(d.clone()),
            blocks: Some(blocks),
            palette,
            swatches: Some(Swatches::of(&img.to_8bit(), None)),
        };
        let notes = carried.notes();
        let keys: Vec<&str> = notes.iter().map(|n| n.key.as_str()).collect();
        assert_eq!(keys, [DETAIL_KEY, BLOCKS_KEY, PALETTE_KEY, SWATCHES_KEY]);
        let other = Note {
            key: "Software".to_string(),
            text: "a paint program".to_string(),
        };
        // (compared without printing: a detail is thousands of numbers)
        let mut shuffled = notes.clone();
        shuffled.reverse();
        shuffled.insert(1, other.clone());
        let back = Carried::read(&shuffled).unwrap();
        assert!(back == carried, "not what was written");
        // each part on its own
        let only = Carried::read(&notes[1..2]).unwrap();
        assert!(only.detail.is_none() && only.blocks == Some(blocks));
        let only = Carried::read(&notes[2..]).unwrap();
        assert!(only.palette == carried.palette && only.swatches == carried.swatches);
        assert!(only.detail.is_none() && only.blocks.is_none());
        let only = Carried::read(&notes[..1]).unwrap();
        assert!(only.detail.is_some() && only.blocks.is_none());
        assert!(Carried::read(&[other]).unwrap().is_empty());
        assert!(Carried::default().notes().is_empty());
        let with = |text: String| {
            Carried::read(&[Note {
                text,
                ..notes[0].clone()
            }])
            .unwrap_err()
            .to_string()
        };
        let err = with(notes[0].text.replace("\"format\":1", "\"format\":2"));
        assert!(
            err.contains("format 2") && err.contains("update stylelearn"),
            "{err}"
        );
        let err = with(notes[0].text[..notes[0].text.len() / 2].to_string());
        assert!(err.contains("damaged"), "{err}");
        let err = with("{\"format\":1}".to_string());
        assert!(
            err.contains("damaged") && err.contains("no detail"),
            "{err}"
        );
        // a histogram with a negative bin
        let mut bad = d.clone();
        bad.hist[1][0][0] = -0.5;
        let err = with(note(DETAIL_KEY, "detail", &bad).text);
        assert!(
            err.contains("damaged") && err.contains("histograms"),
            "{err}"
        );
        // blocks smaller than a pixel
        let bad = Blocks {
            size: 0.5,
            ..blocks
        };
        let err = Carried::read(&[note(BLOCKS_KEY, "blocks", &bad)])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("stylelearn blocks note is damaged") && err.contains("block size"),
            "{err}"
        );
        // a swatch's share that is not positive; a palette bin that is
        let mut bad = carried.swatches.clone().unwrap();
        bad.colours[0].1 = -1.0;
        let err = Carried::read(&[note(SWATCHES_KEY, "swatches", &bad)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("swatches note is damaged"), "{err}");
        let mut bad = carried.palette.clone().unwrap();
        bad.hist[0][3] = f64::NAN;
        let err = Carried::read(&[note(PALETTE_KEY, "palette", &bad)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("palette note is damaged"), "{err}");
    }
}
