#!/usr/bin/env python3
"""Build the embedded demo dataset in ``assets/demo/`` for stylelearn.

stylelearn learns the style of a black-box photo filter from a handful of
images that filter produced, then applies that style to new photos.  This
script makes a small, licence-clean stand-in for such a filter's output:

* it takes colour photos that ship inside the scikit-image wheel
  (``skimage/data/``; public domain / CC0, see ``assets/demo/SOURCES.md``),
* crops some of them (fixed boxes) and resizes so the long side is 192 px,
  keeping the aspect ratio (so the images have different sizes on purpose),
* runs a fixed, deterministic "anime / cartoon" filter over them
  (``cartoon_filter`` below) that stands in for the black-box app:

    1. edge-preserving smoothing: ``BILATERAL_PASSES`` passes of a bilateral
       filter (skimage.restoration.denoise_bilateral),
    2. saturation / contrast boost in HSV,
    3. colour quantisation to ONE FIXED palette shared by every image
       (12 ``PALETTE_HUES`` x 2 ``SAT_LEVELS`` x 4 ``VAL_LEVELS`` cel-shading
       brightness steps, plus a 5-step grey ramp = 101 colours), followed by
       a 5x5 majority (mode) filter on the palette-index map so the regions
       are flat,
    4. bold dark ink outlines: a thresholded difference of Gaussians on the
       luminance (after one smoothing pass), small fragments removed, drawn
       in ``OUTLINE_RGB``.

  Nothing is random: every parameter is a constant in this file, so two runs
  with the same scikit-image / Pillow / NumPy versions give the same bytes.

Outputs (all PNG, all long side 192 px):

  assets/demo/dataset/<name>.png    filtered images: the "training set"
  assets/demo/masks/<name>.png      foreground masks for them (white =
                                    main subject, black = background); same
                                    size as the dataset image
  assets/demo/photo.png             an unfiltered photo not in the dataset
                                    (different subject) to stylise
  assets/demo/held_out.png          another unfiltered photo not in the
                                    dataset ...
  assets/demo/held_out_filtered.png ... and the same photo through the same
                                    filter (ground truth for a closed-loop
                                    check)

Masks are derived from the (resized, unfiltered) photo: a per-image fixed
prior ellipse around the subject, refined by a tiny GrabCut-like loop on
Lab colour histograms (foreground vs. background log-likelihood ratio plus
the ellipse prior), cleaned with morphology, holes filled and the largest
components kept.  They are rough on purpose.

Usage (from the repository root):

    python3 -m pip install scikit-image pillow numpy
    python3 scripts/make_demo_dataset.py            # writes assets/demo/
    python3 scripts/make_demo_dataset.py --out DIR  # writes elsewhere
    python3 scripts/make_demo_dataset.py --out /tmp/x --preview
        # also writes /tmp/x/_preview.png, a contact sheet (raw | filtered |
        # mask); don't write it into assets/demo

Made with scikit-image 0.26.0, Pillow 13.0.0, NumPy 2.4.6, Python 3.11.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from PIL import Image
from scipy import ndimage as ndi
from skimage import color, data, filters, morphology, restoration

# --------------------------------------------------------------------------
# Fixed parameters of the stand-in "black-box" filter.  Change nothing here
# unless you mean to change the demo style (and then regenerate everything).
# --------------------------------------------------------------------------
LONG_SIDE = 192

BILATERAL_PASSES = 3
BILATERAL_SIGMA_COLOR = 0.06  # in [0,1] intensity units
BILATERAL_SIGMA_SPATIAL = 1.0  # pixels

SAT_GAIN = 1.6  # multiply HSV saturation
SAT_OFFSET = 0.06  # then add this (makes weak colours a bit vivid too)
VAL_GAMMA = 0.85  # brighten mid-tones a little (anime look is bright)

# palette hues in degrees (nearest on the colour circle); denser in the
# reds/oranges where skin, wood and fur live, and with one "sky blue"
PALETTE_HUES = (8, 26, 45, 62, 95, 135, 175, 200, 222, 250, 285, 325)
SAT_LEVELS = (0.45, 0.85)  # palette saturations for chromatic colours
GREY_SAT = 0.16  # below this (boosted) saturation a pixel maps to the grey ramp
VAL_LEVELS = (0.16, 0.40, 0.66, 0.90)  # cel-shading brightness steps
GREY_LEVELS = (0.10, 0.35, 0.62, 0.86, 0.98)
MODE_SIZE = 5  # majority filter (5x5 square) on the palette-index map

# ink lines: thresholded difference of Gaussians on luminance
INK_AFTER_PASS = 1  # take the luminance after this many bilateral passes
DOG_SIGMA = 0.9
DOG_K = 1.6
DOG_THRESHOLD = -0.008  # a pixel is ink where DoG response < this
EDGE_MIN_PIXELS = 12  # drop ink fragments smaller than this
OUTLINE_RGB = (28, 18, 36)  # dark ink colour
OUTLINE_ALPHA = 0.92


def build_palette() -> np.ndarray:
    """The one fixed palette (RGB floats in [0,1], shape (K,3)).

    Chromatic entries: every hue sector x saturation level x value level.
    Achromatic entries: a short grey ramp.  Shared by all images.
    """
    hsv = []
    for hue_deg in PALETTE_HUES:
        hue = hue_deg / 360.0
        for s in SAT_LEVELS:
            for v in VAL_LEVELS:
                hsv.append((hue, s, v))
    for g in GREY_LEVELS:
        hsv.append((0.0, 0.0, g))
    hsv = np.asarray(hsv, dtype=np.float64)
    return color.hsv2rgb(hsv[None, :, :])[0]


PALETTE = build_palette()


def _nearest(values: np.ndarray, levels) -> np.ndarray:
    levels = np.asarray(levels)
    return np.abs(values[..., None] - levels).argmin(axis=-1)


def quantise(rgb: np.ndarray) -> np.ndarray:
    """Map each pixel to an index into PALETTE (HSV-sector quantisation)."""
    hsv = color.rgb2hsv(rgb)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    centres = np.asarray(PALETTE_HUES) / 360.0
    dh = np.abs(h[..., None] - centres)
    hbin = np.minimum(dh, 1.0 - dh).argmin(axis=-1)  # circular distance
    sbin = _nearest(s, SAT_LEVELS)
    vbin = _nearest(v, VAL_LEVELS)
    chroma_idx = (hbin * len(SAT_LEVELS) + sbin) * len(VAL_LEVELS) + vbin
    n_chroma = len(PALETTE_HUES) * len(SAT_LEVELS) * len(VAL_LEVELS)
    grey_idx = n_chroma + _nearest(v, GREY_LEVELS)
    return np.where(s < GREY_SAT, grey_idx, chroma_idx).astype(np.uint16)


def cartoon_filter(rgb_u8: np.ndarray) -> np.ndarray:
    """The deterministic stand-in for the black-box anime filter.

    uint8 RGB (H,W,3) in, uint8 RGB (H,W,3) out.
    """
    img = rgb_u8.astype(np.float64) / 255.0

    # 1. edge-preserving smoothing
    smooth = img
    ink_source = img
    for i in range(BILATERAL_PASSES):
        smooth = restoration.denoise_bilateral(
            smooth,
            sigma_color=BILATERAL_SIGMA_COLOR,
            sigma_spatial=BILATERAL_SIGMA_SPATIAL,
            channel_axis=-1,
        )
        if i + 1 == INK_AFTER_PASS:
            ink_source = smooth

    # 2. saturation / brightness boost
    hsv = color.rgb2hsv(smooth)
    hsv[..., 1] = np.clip(hsv[..., 1] * SAT_GAIN + SAT_OFFSET * (hsv[..., 1] > 0.05), 0, 1)
    hsv[..., 2] = np.clip(hsv[..., 2], 0, 1) ** VAL_GAMMA
    boosted = color.hsv2rgb(hsv)

    # 3. fixed-palette quantisation + majority filter -> flat regions
    idx = quantise(boosted)
    idx = filters.rank.modal(idx, np.ones((MODE_SIZE, MODE_SIZE), bool))
    flat = PALETTE[idx]

    # 4. dark ink lines: thresholded difference of Gaussians on the
    #    luminance after INK_AFTER_PASS smoothing passes -- lines on the
    #    dark side of edges
    lum = color.rgb2gray(ink_source)
    dog = filters.gaussian(lum, sigma=DOG_SIGMA) - filters.gaussian(lum, sigma=DOG_SIGMA * DOG_K)
    edges = dog < DOG_THRESHOLD
    edges = morphology.remove_small_objects(edges, max_size=EDGE_MIN_PIXELS - 1, connectivity=2)
    ink = np.asarray(OUTLINE_RGB, dtype=np.float64) / 255.0
    a = OUTLINE_ALPHA * edges[..., None]
    out = flat * (1 - a) + ink * a
    return np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------
# Source photos.  crop = (row0, row1, col0, col1) in the original pixels.
# mask_prior = (cy, cx, ry, rx) ellipse in fractions of the resized image,
# the rough place of the main subject; the mask is refined by colour.
# --------------------------------------------------------------------------
SOURCES = [
    # ---- dataset (filtered) ----
    dict(name="chelsea", loader="chelsea", file="chelsea.png", crop=None,
         role="dataset", mask_prior=(0.62, 0.5, 0.75, 0.50)),
    dict(name="astronaut_shuttle", loader="astronaut", file="astronaut.png",
         crop=(0, 300, 352, 512), role="dataset",
         mask_prior=(0.47, 0.42, 0.56, 0.34)),
    dict(name="retina", loader="retina", file="retina.jpg", crop=None,
         role="dataset", mask_prior=(0.5, 0.5, 0.52, 0.52)),
    dict(name="rocket_tower", loader="rocket", file="rocket.jpg",
         crop=(0, 427, 0, 240), role="dataset",
         mask_prior=(0.5, 0.18, 0.6, 0.22)),
    dict(name="rocket_launch", loader="rocket", file="rocket.jpg",
         crop=(0, 427, 240, 640), role="dataset",
         mask_prior=(0.62, 0.2, 0.45, 0.07)),
    # ---- not in the dataset ----
    dict(name="photo", loader="astronaut", file="astronaut.png",
         crop=(0, 512, 0, 352), role="photo"),
    dict(name="held_out", loader="coffee", file="coffee.png", crop=None,
         role="held_out"),
]


def load_source(src: dict) -> np.ndarray:
    rgb = getattr(data, src["loader"])()
    if rgb.ndim != 3 or rgb.shape[2] < 3:
        raise SystemExit(f"{src['name']}: not a colour image")
    rgb = rgb[..., :3]
    if src["crop"] is not None:
        r0, r1, c0, c1 = src["crop"]
        rgb = rgb[r0:r1, c0:c1]
    return np.ascontiguousarray(rgb)


def resize_long_side(rgb: np.ndarray, long_side: int = LONG_SIDE) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = long_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))


MASK_L_BINS = 8  # Lab histogram bins for the colour models
MASK_AB_BINS = 12
MASK_ITERS = 5
MASK_PRIOR_WEIGHT = 0.7  # strength of the ellipse prior vs. colour evidence
MASK_SMOOTH_SIGMA = 1.5
MASK_MAX_E = 1.1  # nothing outside 1.1x the prior ellipse is foreground


def make_mask(rgb_u8: np.ndarray, prior) -> np.ndarray:
    """Rough deterministic foreground mask (bool, same H,W as the image).

    A tiny GrabCut-like loop: start with the prior ellipse as foreground,
    build Lab colour histograms of foreground and background, relabel every
    pixel by the (smoothed) log-likelihood ratio plus the ellipse prior, and
    repeat a few times.  Then clean up with morphology.
    """
    h, w = rgb_u8.shape[:2]
    lab = color.rgb2lab(filters.gaussian(rgb_u8 / 255.0, sigma=1.0, channel_axis=-1))
    lq = np.clip((lab[..., 0] / 100.0 * MASK_L_BINS).astype(int), 0, MASK_L_BINS - 1)
    aq = np.clip(((lab[..., 1] + 60) / 120.0 * MASK_AB_BINS).astype(int), 0, MASK_AB_BINS - 1)
    bq = np.clip(((lab[..., 2] + 60) / 120.0 * MASK_AB_BINS).astype(int), 0, MASK_AB_BINS - 1)
    code = (lq * MASK_AB_BINS + aq) * MASK_AB_BINS + bq
    nbins = MASK_L_BINS * MASK_AB_BINS * MASK_AB_BINS

    cy, cx, ry, rx = prior
    yy, xx = np.mgrid[0:h, 0:w]
    e = np.sqrt(((yy + 0.5) / h - cy) ** 2 / ry ** 2 + ((xx + 0.5) / w - cx) ** 2 / rx ** 2)
    spatial = MASK_PRIOR_WEIGHT * (1.0 - e)
    fg = e <= 1.0
    for _ in range(MASK_ITERS):
        hf = np.bincount(code[fg], minlength=nbins) + 0.5
        hb = np.bincount(code[~fg], minlength=nbins) + 0.5
        llr = np.log(hf / hf.sum()) - np.log(hb / hb.sum())
        score = filters.gaussian(llr[code], sigma=MASK_SMOOTH_SIGMA) + spatial
        fg = (score > 0) & (e <= MASK_MAX_E)

    # closing with a padded border so shapes touching the edge are not eaten
    pad = 4
    fg = np.pad(fg, pad, mode="edge")
    fg = ndi.binary_closing(fg, structure=morphology.disk(3))
    fg = ndi.binary_opening(fg, structure=morphology.disk(1))[pad:-pad, pad:-pad]
    fg = ndi.binary_fill_holes(fg)
    lbl, n = ndi.label(fg)
    if n > 1:
        sizes = ndi.sum(fg, lbl, index=np.arange(1, n + 1))
        keep = np.flatnonzero(sizes >= 0.15 * sizes.max()) + 1
        fg = np.isin(lbl, keep)
    return fg


def save_png(path: str, arr: np.ndarray) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(arr).save(path, optimize=True)


def main(argv=None) -> int:
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(repo, "assets", "demo"))
    ap.add_argument("--preview", action="store_true",
                    help="also write <out>/_preview.png (raw | filtered | mask)")
    args = ap.parse_args(argv)

    preview_rows = []
    for src in SOURCES:
        raw = resize_long_side(load_source(src))
        name, role = src["name"], src["role"]
        if role == "dataset":
            filt = cartoon_filter(raw)
            mask = make_mask(raw, src["mask_prior"])
            save_png(os.path.join(args.out, "dataset", f"{name}.png"), filt)
            save_png(os.path.join(args.out, "masks", f"{name}.png"),
                     (mask * 255).astype(np.uint8))
            preview_rows.append((raw, filt, np.repeat((mask * 255).astype(np.uint8)[..., None], 3, -1)))
        elif role == "photo":
            save_png(os.path.join(args.out, "photo.png"), raw)
            preview_rows.append((raw, cartoon_filter(raw), None))
        elif role == "held_out":
            filt = cartoon_filter(raw)
            save_png(os.path.join(args.out, "held_out.png"), raw)
            save_png(os.path.join(args.out, "held_out_filtered.png"), filt)
            preview_rows.append((raw, filt, None))
        print(f"{role:9s} {name:18s} {raw.shape[1]}x{raw.shape[0]}")

    if args.preview:
        gap = 4
        width = 3 * LONG_SIDE + 2 * gap
        height = sum(r[0].shape[0] + gap for r in preview_rows)
        sheet = np.full((height, width, 3), 255, np.uint8)
        y = 0
        for row in preview_rows:
            x = 0
            for im in row:
                if im is not None:
                    sheet[y:y + im.shape[0], x:x + im.shape[1]] = im
                x += LONG_SIDE + gap
            y += row[0].shape[0] + gap
        Image.fromarray(sheet).save(os.path.join(args.out, "_preview.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
