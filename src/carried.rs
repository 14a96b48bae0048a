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
//!
//! Each note is JSON with a format number, under its own key, at the image's pixel scale
//! (its `long_side` is the image's long side: the learned image has the dataset's pixel
//! scale).
use anyhow::{Result, anyhow, ensure};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::detail::Detail;
use crate::image_io::Note;
use crate::pixelate::Blocks;

/// The key of the note that carries the dataset's fine detail.
pub const DETAIL_KEY: &str = "stylelearn detail";
/// The key of the note that carries a pixelated dataset's blocks.
pub const BLOCKS_KEY: &str = "stylelearn blocks";

/// The version of the notes' format.
const FORMAT: u32 = 1;

/// What a learned style image carries (each part `None` when it carries none).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Carried {
    /// The dataset's fine detail, which the image took when it was saved.
    pub detail: Option<Detail>,
    /// The dataset's blocks, when it is pixelated.
    pub blocks: Option<Blocks>,
}

impl Carried {
    /// Whether the image carries nothing.
    pub fn is_empty(&self) -> bool {
        self.detail.is_none() && self.blocks.is_none()
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
        out
    }

    /// What an image's notes carry, each part checked: an error names a damaged note, or one
    /// in a format this stylelearn does not read. Other notes are left alone.
    pub fn read(notes: &[Note]) -> Result<Self> {
        Ok(Self {
            detail: read(notes, DETAIL_KEY, "detail", Detail::check)?,
            blocks: read(notes, BLOCKS_KEY, "blocks", Blocks::check)?,
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

    /// An image with flat regions and noise, whose detail has some of each.
    fn detail() -> Detail {
        let n = noise(40, 30, 1);
        let data = n
            .data
            .iter()
            .enumerate()
            .map(|(i, &v)| if (i / 40) % 30 < 15 { v } else { 0.5 })
            .collect();
        Detail::of(&Rgb::from_planar(40, 30, data), None)
    }

    #[test]
    fn what_an_image_carries_comes_back_and_a_damaged_note_is_refused() {
        let d = detail();
        let blocks = Blocks {
            size: 6.4,
            long_side: 256.0,
        };
        let carried = Carried {
            detail: Some(d.clone()),
            blocks: Some(blocks),
        };
        let notes = carried.notes();
        assert_eq!(notes.len(), 2);
        assert_eq!(notes[0].key, DETAIL_KEY);
        assert_eq!(notes[1].key, BLOCKS_KEY);
        let other = Note {
            key: "Software".to_string(),
            text: "a paint program".to_string(),
        };
        // (compared without printing: a detail is thousands of numbers)
        let back = Carried::read(&[notes[1].clone(), other.clone(), notes[0].clone()]).unwrap();
        assert!(back == carried, "not what was written");
        // each part on its own
        let only = Carried::read(&notes[1..]).unwrap();
        assert!(only.detail.is_none() && only.blocks == Some(blocks));
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
    }
}
