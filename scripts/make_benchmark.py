#!/usr/bin/env python3
"""Build the closed-loop style benchmark (issue 11, "Look like the filter").

stylelearn is meant to learn the look of a black-box photo filter from the
filter's outputs alone and apply it to new photos.  This script makes a
public, reproducible stand-in for several such filters so the result can be
judged on photos the method never saw:

    OUT/<filter>/train/<stem>.png             12 filter outputs (what a user has)
    OUT/<filter>/heldout/photos/<stem>.png    4 unfiltered photos
    OUT/<filter>/heldout/filtered/<stem>.png  the same 4 photos through the filter
    OUT/SOURCES.md                            sources, licences, crops, parameters

A held-out pair is ``heldout/photos/<stem>.png`` and
``heldout/filtered/<stem>.png``.  Every photo is resized so its long side is
256 px (``--long-side``; aspect kept, so sizes differ).  OUT defaults to ``bench-data/`` in the
repository root (git-ignored).

Photos (nothing is downloaded: all ship inside PyPI wheels)
-----------------------------------------------------------
Only colour photos whose package states public domain, CC0 or a Creative
Commons licence are used:

* scikit-image 0.26.0, ``skimage/data/`` (loaded with ``skimage.data.<name>()``,
  which reads the bundled file, no pooch download):
  ``astronaut`` (NASA, public domain), ``chelsea`` (Stefan van der Walt, CC0),
  ``coffee`` (Rachel Michetti, CC0), ``retina`` (Mikael Häggström, CC0 1.0),
  ``rocket`` (SpaceX, public domain).
* scikit-learn, ``sklearn/datasets/images/`` (``load_sample_image``):
  ``china.jpg`` (danielbuechele on Flickr, CC BY 2.0) and ``flower.jpg``
  (vultilion on Flickr, CC BY 2.0).

That is only 7 suitable photos (the Middlebury motorcycle pair states no
licence, ``ihc`` only "no known copyright restrictions", and the Hubble field
is almost black), so 16 pieces are made as DISTINCT, NON-OVERLAPPING CROPS of
them (``PHOTOS`` below).  The 4 held-out photos are the whole ``chelsea`` and
``coffee`` photos (used nowhere else) and two crops (``astronaut_portrait``,
``china_lake``) of photos that also give training crops elsewhere in the frame.
Every filter uses the same 12 training and 4 held-out photos.

Filters (deterministic; every parameter is a constant in this file)
-------------------------------------------------------------------
* ``cartoon``: the demo's anime/cartoon filter, imported unchanged from
  ``scripts/make_demo_dataset.py`` (bilateral smoothing, saturation boost, one
  fixed 101-colour palette with a 5x5 majority filter -> flat regions, dark
  difference-of-Gaussians ink outlines).
* ``painterly``: Kuwahara filter (radius ``KUWAHARA_RADIUS``) for flat,
  blocky paint patches, a saturation boost, then brush-stroke texture: a fixed
  seeded noise field smeared along the local edge direction (line kernels of
  length ``STROKE_LENGTH`` in 4 orientations chosen per pixel from the
  structure tensor), multiplied into the image.
* ``grade``: a colour grade: per-channel S tone curve, teal shadows / orange
  highlights split toning, lifted (teal-tinted) blacks and lowered whites
  (faded film), desaturation, then monochrome film grain (fixed seeded
  Gaussian noise, blurred to a grain size of ``GRAIN_SIGMA`` px, stronger in
  the mid-tones).
* ``pencil``: a graphite sketch on warm paper: colour-dodge outlines
  (greyscale divided by its blurred negative), diagonal hatching in the mid
  tones and cross-hatching in the shadows (fixed 45-degree line patterns with
  seeded wobble), and paper grain.

* ``vintage``: faded sepia print: the colours half mixed with a sepia-toned
  greyscale, blacks lifted to a warm brown and whites lowered to cream, and a
  vignette that darkens the corners.
* ``crossprocess``: cross-processed film: one tone curve per channel (red
  lifted by a gamma, green through an S curve, blue squeezed into
  ``CROSS_BLUE``), a pure colour transform with no texture.

* five more, made to judge one rule fixed before they were written (README,
  "What the optimisation adds"); not in ``scripts/benchmark.sh``'s default list:
  ``halftone`` (a luminance dot screen over the colours), ``lomo``
  (saturated, contrasty, vignetted), ``noir`` (contrasty black and white with
  heavy grain), ``bloom`` (soft glow, pastel, no fine detail) and
  ``watercolour`` (median-filtered patches, darkened edges, paper texture).
* three posterising filters, made to judge the cleaning of isolated pixels
  (README, "Posterising") after it was fixed; not in the default list either:
  ``pixelart`` (4 px blocks, 4 levels per channel), ``poster3`` (3 levels per
  channel, no smoothing) and ``comic`` (smoothed, 5 levels per channel, dark
  outlines).
* two more posterising filters, made to judge the posterising's lightness
  weight (README, "Posterising") after it was fixed: ``popart`` (saturation
  boosted, then 6 hues, 2 saturations and 4 values after a 3x3 median) and
  ``duotone`` (the blurred luminance in 5 levels on a navy-to-cream gradient,
  whatever the photo's colours).
* three more posterising filters, made to judge the per-channel grid rule (README,
  "Posterising") after it was fixed: ``bitposter`` (blurred, each channel truncated to
  2 bits, as Pillow's ``ImageOps.posterize`` does), ``vividposter`` (a 3x3 median,
  saturation boosted, then 4 levels per channel) and ``palette8`` (blurred, then the
  nearest of 8 fixed colours that lie on no per-channel grid).
* three pixelating filters, made to judge the pixelation finish (README, "Pixelation")
  with its predictions written before they were run: ``mosaic`` (8 px block means),
  ``pico`` (6 px blocks sampled at their centres on a centred grid, then the PICO-8
  console's 16 colours) and ``retro`` (blurred, 3 px block means, 5 levels per channel).
* three more whose blocks are not a whole number of pixels (the photo shrunk to a whole
  number of blocks across, then enlarged without smoothing), made likewise to judge their
  detection: ``lowres`` (40 blocks across the long side, Pillow's box and nearest
  resizes), ``gameboy`` (56 across, the luminance in the Game Boy's 4 greens) and ``lcd``
  (48 across, 2 levels per channel, placed as an "align corners" resize places them).

``pencil`` is the HELD-OUT FILTER: stylelearn's defaults are to be tuned on
``cartoon``, ``painterly`` and ``grade`` only, and ``pencil`` is looked at only
to check that they generalise.  ``pencil`` has since been looked at while some
levers were designed (README says which), so ``vintage`` and ``crossprocess``
were added later as FRESH HELD-OUT FILTERS: written after the defaults were
chosen, and never to be tuned on either.

The noise fields are drawn from ``numpy.random.default_rng`` with fixed seeds,
so a filter is a pure function of its input image; with the pinned versions
in ``scripts/requirements-bench.txt`` two runs give identical bytes.

Usage (from the repository root):

    python3 -m pip install -r scripts/requirements-bench.txt
    python3 scripts/make_benchmark.py                       # writes bench-data/
    python3 scripts/make_benchmark.py /tmp/bench --filters cartoon,pencil
    python3 scripts/make_benchmark.py --preview             # + OUT/_preview.png
    python3 scripts/make_benchmark.py /tmp/bench512 --long-side 512   # the 512 px variant

Runs in about 10 seconds on one core (the cartoon filter's bilateral passes take most).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

import numpy as np
from PIL import Image
from scipy import ndimage as ndi
from skimage import color, data, filters, transform

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_demo_dataset import cartoon_filter  # noqa: E402  (the demo's filter, reused)

LONG_SIDE = 256
HELD_OUT_FILTERS = ("pencil", "vintage", "crossprocess")

# --------------------------------------------------------------------------
# Photos: (stem, package, name, crop, role); crop = (row0, row1, col0, col1)
# in the original pixels, None = whole photo.  Crops of one photo never
# overlap.
# --------------------------------------------------------------------------
PHOTOS = [
    # ---- training (only the filter output is written) ----
    ("astronaut_shuttle", "skimage", "astronaut", (0, 300, 352, 512), "train"),
    ("astronaut_suit", "skimage", "astronaut", (300, 512, 0, 512), "train"),
    ("retina_left", "skimage", "retina", (150, 1250, 0, 470), "train"),
    ("retina_centre", "skimage", "retina", (150, 1250, 470, 940), "train"),
    ("retina_right", "skimage", "retina", (150, 1250, 940, 1411), "train"),
    ("rocket_tower", "skimage", "rocket", (0, 427, 0, 240), "train"),
    ("rocket_launch", "skimage", "rocket", (0, 427, 240, 640), "train"),
    ("china_hill", "sklearn", "china.jpg", (0, 427, 0, 130), "train"),
    ("china_pagoda", "sklearn", "china.jpg", (0, 427, 130, 430), "train"),
    ("flower_left", "sklearn", "flower.jpg", (0, 427, 0, 180), "train"),
    ("flower_bloom", "sklearn", "flower.jpg", (0, 427, 180, 500), "train"),
    ("flower_right", "sklearn", "flower.jpg", (0, 427, 500, 640), "train"),
    # ---- held out (photo and filter output) ----
    ("chelsea", "skimage", "chelsea", None, "heldout"),
    ("coffee", "skimage", "coffee", None, "heldout"),
    ("astronaut_portrait", "skimage", "astronaut", (0, 300, 0, 352), "heldout"),
    ("china_lake", "sklearn", "china.jpg", (0, 427, 430, 640), "heldout"),
]

LICENCES = {
    ("skimage", "astronaut"): (
        "astronaut.png (512x512)",
        "NASA (Great Images database); astronaut Eileen Collins",
        "Public domain (\"No known copyright restrictions, released into the public domain\")"),
    ("skimage", "chelsea"): (
        "chelsea.png (451x300)", "Stefan van der Walt (photographer)",
        "CC0 (\"No copyright restrictions. CC0 by the photographer\")"),
    ("skimage", "coffee"): (
        "coffee.png (600x400)", "Rachel Michetti (photographer), courtesy of Pikolo Espresso Bar",
        "CC0 (\"No copyright restrictions. CC0 by the photographer\")"),
    ("skimage", "retina"): (
        "retina.jpg (1411x1411)",
        "Mikael Häggström, via Wikimedia Commons (File:Fundus_photograph_of_normal_left_eye.jpg)",
        "CC0 1.0 Universal Public Domain Dedication"),
    ("skimage", "rocket"): (
        "rocket.jpg (640x427)", "SpaceX (DSCOVR launch on Falcon 9, SpaceX Photos on Flickr)",
        "Public domain (released into the public domain by SpaceX)"),
    ("sklearn", "china.jpg"): (
        "china.jpg (640x427)", "danielbuechele on Flickr (photos/danielbuechele/6061409035)",
        "CC BY 2.0 (creativecommons.org/licenses/by/2.0/); attribution: danielbuechele"),
    ("sklearn", "flower.jpg"): (
        "flower.jpg (640x427)", "vultilion on Flickr (photos/vultilion/6056698931)",
        "CC BY 2.0 (creativecommons.org/licenses/by/2.0/); attribution: vultilion"),
}


def load_photo(package: str, name: str, crop) -> np.ndarray:
    if package == "skimage":
        rgb = getattr(data, name)()
    else:
        from sklearn.datasets import load_sample_image
        rgb = load_sample_image(name)
    rgb = rgb[..., :3]
    if crop is not None:
        r0, r1, c0, c1 = crop
        rgb = rgb[r0:r1, c0:c1]
    h, w = rgb.shape[:2]
    s = LONG_SIDE / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).resize(size, Image.Resampling.LANCZOS))


def to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114])


def noise(shape, seed: int) -> np.ndarray:
    """A fixed noise field: the same for every image of the same size."""
    return np.random.default_rng(seed).standard_normal(shape)


def line_kernel(length: int, angle_deg: float) -> np.ndarray:
    """A normalised 1-px line of `length` through the centre at `angle_deg`."""
    k = np.zeros((length, length))
    c = (length - 1) / 2
    a = np.deg2rad(angle_deg)
    for t in np.linspace(-c, c, 4 * length):
        k[int(round(c - t * np.sin(a))), int(round(c + t * np.cos(a)))] = 1.0
    return k / k.sum()


# --------------------------------------------------------------------------
# painterly: Kuwahara + brush-stroke texture
# --------------------------------------------------------------------------
KUWAHARA_RADIUS = 4  # each of the 4 sub-windows is (R+1)x(R+1)
PAINT_SAT_GAIN = 1.25
STROKE_SEED = 11
STROKE_LENGTH = 11  # px, length of the smear along the edge direction
STROKE_WIDTH_SIGMA = 0.7  # px, blur of the noise before smearing (stroke width)
STROKE_STRENGTH = 0.13  # relative brightness modulation of the strokes
ORIENT_SIGMA = 2.0  # structure-tensor smoothing


def kuwahara(img: np.ndarray, r: int) -> np.ndarray:
    """Kuwahara filter: each pixel takes the mean colour of the least varied (in luminance)
    of the four (r+1)x(r+1) windows that have the pixel as a corner (r even)."""
    assert r % 2 == 0
    y = luma(img)
    size, h = r + 1, r // 2

    def box(a):  # box mean centred on each pixel, padded by h so it can be shifted by +-h
        return np.pad(ndi.uniform_filter(a, size, mode="reflect"), h, mode="edge")

    m, m2 = box(y), box(y * y)
    means = [box(img[..., c]) for c in range(3)]
    H, W = y.shape
    best_var, out = None, None
    for sy in (0, 2 * h):
        for sx in (0, 2 * h):
            sl = (slice(sy, sy + H), slice(sx, sx + W))
            v = m2[sl] - m[sl] ** 2
            q = np.stack([mc[sl] for mc in means], -1)
            if best_var is None:
                best_var, out = v, q
            else:
                take = v < best_var
                best_var = np.where(take, v, best_var)
                out = np.where(take[..., None], q, out)
    return out


def painterly_filter(rgb_u8: np.ndarray) -> np.ndarray:
    img = rgb_u8 / 255.0
    k = kuwahara(img, KUWAHARA_RADIUS)
    hsv = color.rgb2hsv(k)
    hsv[..., 1] = np.clip(hsv[..., 1] * PAINT_SAT_GAIN, 0, 1)
    k = color.hsv2rgb(hsv)

    # edge tangent orientation from the structure tensor
    y = luma(k)
    gy, gx = np.gradient(filters.gaussian(y, 1.0))
    jxx = filters.gaussian(gx * gx, ORIENT_SIGMA)
    jyy = filters.gaussian(gy * gy, ORIENT_SIGMA)
    jxy = filters.gaussian(gx * gy, ORIENT_SIGMA)
    grad_angle = 0.5 * np.arctan2(2 * jxy, jxx - jyy)  # gradient direction (x right, y down)
    tangent = np.rad2deg(grad_angle) + 90.0
    # y grows downwards, line_kernel's angle is counter-clockwise: flip the sign
    which = np.round((-tangent % 180.0) / 45.0).astype(int) % 4

    n = filters.gaussian(noise(y.shape, STROKE_SEED), STROKE_WIDTH_SIGMA)
    tex = np.zeros_like(y)
    for i, ang in enumerate((0, 45, 90, 135)):
        smeared = ndi.convolve(n, line_kernel(STROKE_LENGTH, ang), mode="reflect")
        tex = np.where(which == i, smeared, tex)
    tex /= tex.std() + 1e-12
    out = k * (1.0 + STROKE_STRENGTH * tex[..., None])
    return to_u8(out)


# --------------------------------------------------------------------------
# grade: tone curve + split toning + faded film + grain
# --------------------------------------------------------------------------
CURVE_AMOUNT = 0.7  # blend of the identity and a smoothstep S curve
SHADOW_TINT = np.array([-0.07, 0.02, 0.07])  # teal shadows
HIGHLIGHT_TINT = np.array([0.09, 0.02, -0.08])  # orange highlights
BLACK_LIFT = np.array([0.06, 0.10, 0.12])  # faded, teal-tinted blacks
WHITE_POINT = np.array([0.96, 0.93, 0.86])  # warm, lowered whites
GRADE_SATURATION = 0.8
GRAIN_SEED = 7
GRAIN_SIGMA = 0.6  # px, grain size
GRAIN_STD = 0.05  # at mid-grey; 40 % of it in deep shadows/highlights


def grade_filter(rgb_u8: np.ndarray) -> np.ndarray:
    x = rgb_u8 / 255.0
    s = x * x * (3 - 2 * x)
    x = (1 - CURVE_AMOUNT) * x + CURVE_AMOUNT * s
    y = luma(x)[..., None]
    x = x + (1 - y) ** 2 * SHADOW_TINT + y ** 2 * HIGHLIGHT_TINT
    y = luma(x)[..., None]
    x = y + GRADE_SATURATION * (x - y)
    x = BLACK_LIFT + np.clip(x, 0, 1) * (WHITE_POINT - BLACK_LIFT)
    g = filters.gaussian(noise(x.shape[:2], GRAIN_SEED), GRAIN_SIGMA)
    g /= g.std() + 1e-12
    y = luma(x)
    amp = GRAIN_STD * (0.4 + 0.6 * 4 * y * (1 - y))
    return to_u8(x + (amp * g)[..., None])


# --------------------------------------------------------------------------
# pencil (the held-out filter): dodge outlines + hatching + paper
# --------------------------------------------------------------------------
DODGE_SIGMA = 4.0  # blur of the negative in the colour dodge
LINE_GAMMA = 2.2  # darkens the dodge lines
TONE_SIGMA = 2.0
HATCH_PERIOD = 5.0  # px between hatch lines
HATCH_WIDTH = 1.1  # px, half-width of a hatch line
HATCH_SEED = 5
HATCH_WOBBLE = 0.8  # px, seeded wobble of the hatch lines
HATCH_LIGHT = (0.62, 0.38)  # tone below which hatch 1 / cross-hatch 2 start
HATCH_RAMP = 0.2
HATCH_DARKNESS = 0.55
PAPER_RGB = np.array([0.97, 0.95, 0.89])
GRAPHITE_RGB = np.array([0.22, 0.22, 0.26])
PAPER_GRAIN = 0.025
PAPER_SEED = 3


def pencil_filter(rgb_u8: np.ndarray) -> np.ndarray:
    g = luma(rgb_u8 / 255.0)
    h, w = g.shape
    blur_neg = filters.gaussian(1.0 - g, DODGE_SIGMA)
    dodge = np.clip(g / np.maximum(1.0 - blur_neg, 1e-3), 0, 1) ** LINE_GAMMA

    tone = filters.gaussian(g, TONE_SIGMA)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    wob = filters.gaussian(noise((h, w), HATCH_SEED), 3.0)
    wob *= HATCH_WOBBLE / (wob.std() + 1e-12)

    def hatch(coord):
        d = np.abs(((coord + wob) % HATCH_PERIOD) - HATCH_PERIOD / 2)
        return np.clip(1.0 - d / HATCH_WIDTH, 0, 1)  # 1 on a line

    w1 = np.clip((HATCH_LIGHT[0] - tone) / HATCH_RAMP, 0, 1)
    w2 = np.clip((HATCH_LIGHT[1] - tone) / HATCH_RAMP, 0, 1)
    v = dodge
    v = v * (1 - HATCH_DARKNESS * w1 * hatch(xx + yy))
    v = v * (1 - HATCH_DARKNESS * w2 * hatch(xx - yy))
    v = v + PAPER_GRAIN * noise((h, w), PAPER_SEED)
    v = np.clip(v, 0, 1)[..., None]
    return to_u8(GRAPHITE_RGB + v * (PAPER_RGB - GRAPHITE_RGB))


# --------------------------------------------------------------------------
# vintage (fresh held-out filter): sepia + faded print + vignette
# --------------------------------------------------------------------------
SEPIA_RGB = np.array([1.07, 0.95, 0.75])  # the tone a grey level takes
SEPIA_MIX = 0.45  # share of the sepia-toned grey in the result
VINTAGE_BLACK = np.array([0.12, 0.09, 0.05])  # faded, warm blacks
VINTAGE_WHITE = np.array([0.98, 0.95, 0.88])  # cream whites
VIGNETTE = 0.25  # darkening in the corners


def vintage_filter(rgb_u8: np.ndarray) -> np.ndarray:
    x = rgb_u8 / 255.0
    x = (1 - SEPIA_MIX) * x + SEPIA_MIX * luma(x)[..., None] * SEPIA_RGB
    x = VINTAGE_BLACK + np.clip(x, 0, 1) * (VINTAGE_WHITE - VINTAGE_BLACK)
    h, w = x.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    r2 = (((yy - h / 2) / (h / 2)) ** 2 + ((xx - w / 2) / (w / 2)) ** 2) / 2
    return to_u8(x * (1 - VIGNETTE * r2[..., None]))


# --------------------------------------------------------------------------
# crossprocess (fresh held-out filter): a per-channel colour transform
# --------------------------------------------------------------------------
CROSS_RED_GAMMA = 0.8
CROSS_BLUE = (0.2, 0.8)  # the range blue is squeezed into


def crossprocess_filter(rgb_u8: np.ndarray) -> np.ndarray:
    x = rgb_u8 / 255.0
    r = x[..., 0] ** CROSS_RED_GAMMA
    g = 0.5 - 0.5 * np.cos(np.pi * x[..., 1])
    b = CROSS_BLUE[0] + (CROSS_BLUE[1] - CROSS_BLUE[0]) * x[..., 2]
    return to_u8(np.stack([r, g, b], -1))


# --------------------------------------------------------------------------
# five filters made to judge the iteration rule (README, "What the optimisation adds")
# --------------------------------------------------------------------------
def halftone_filter(rgb_u8: np.ndarray) -> np.ndarray:
    x = rgb_u8 / 255.0
    y = luma(x)
    h, w = y.shape
    yy, xx = np.mgrid[0:h, 0:w]
    cell = 0.5 + 0.25 * (np.cos(2 * np.pi * (xx + yy) / 6) + np.cos(2 * np.pi * (xx - yy) / 6))
    dots = (filters.gaussian(y, 1.0) > cell).astype(float)
    return to_u8(x * (0.55 + 0.45 * dots[..., None]))


def lomo_filter(rgb_u8: np.ndarray) -> np.ndarray:
    x = rgb_u8 / 255.0
    hsv = color.rgb2hsv(x)
    hsv[..., 1] = np.clip(hsv[..., 1] * 1.4, 0, 1)
    x = np.clip((color.hsv2rgb(hsv) - 0.5) * 1.25 + 0.5, 0, 1)
    h, w = x.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    r2 = (((yy - h / 2) / (h / 2)) ** 2 + ((xx - w / 2) / (w / 2)) ** 2) / 2
    return to_u8(x * (1 - 0.45 * r2[..., None]))


def noir_filter(rgb_u8: np.ndarray) -> np.ndarray:
    y = luma(rgb_u8 / 255.0)
    y = np.clip((y - 0.5) * 1.3 + 0.5, 0, 1)
    g = filters.gaussian(np.random.default_rng(11).standard_normal(y.shape), 0.7)
    g /= g.std()
    return to_u8(np.repeat((y + 0.06 * g)[..., None], 3, -1))


def bloom_filter(rgb_u8: np.ndarray) -> np.ndarray:
    x = rgb_u8 / 255.0
    soft = np.stack([filters.gaussian(x[..., c], 3.0) for c in range(3)], -1)
    x = 0.5 * x + 0.5 * np.maximum(x, soft)
    x = np.stack([filters.gaussian(x[..., c], 1.0) for c in range(3)], -1)
    return to_u8(0.85 * x + 0.15)


def watercolour_filter(rgb_u8: np.ndarray) -> np.ndarray:
    x = rgb_u8 / 255.0
    x = np.stack([ndi.median_filter(x[..., c], 7) for c in range(3)], -1)
    e = filters.sobel(luma(x))
    x = x * (1 - 0.6 * np.clip(e * 4, 0, 1))[..., None]
    p = filters.gaussian(np.random.default_rng(12).standard_normal(x.shape[:2]), 1.5)
    p /= p.std()
    return to_u8(x * (1 + 0.04 * p[..., None]))


# --------------------------------------------------------------------------
# three posterising filters made to judge the cleaning of isolated pixels (README, "Posterising")
# --------------------------------------------------------------------------
def pixelart_filter(rgb_u8: np.ndarray) -> np.ndarray:
    x = rgb_u8 / 255.0
    h, w = x.shape[:2]
    small = transform.resize(x, (h // 4, w // 4), anti_aliasing=True)
    big = np.repeat(np.repeat(np.round(small * 3) / 3, 4, 0), 4, 1)
    out = np.zeros_like(x)
    out[: big.shape[0], : big.shape[1]] = big
    out[big.shape[0]:, :] = out[big.shape[0] - 1: big.shape[0], :]
    out[:, big.shape[1]:] = out[:, big.shape[1] - 1: big.shape[1]]
    return to_u8(out)


def poster3_filter(rgb_u8: np.ndarray) -> np.ndarray:
    return to_u8(np.round(rgb_u8 / 255.0 * 2) / 2)


def comic_filter(rgb_u8: np.ndarray) -> np.ndarray:
    x = rgb_u8 / 255.0
    s = np.stack([filters.gaussian(x[..., c], 1.0) for c in range(3)], -1)
    q = np.round(s * 4) / 4
    q[filters.sobel(luma(s)) > 0.08] = [0.1, 0.08, 0.12]
    return to_u8(q)


# --------------------------------------------------------------------------
# two posterising filters made to judge the posterising's lightness weight (README,
# "Posterising"), written down with the rule and its prediction before they were run
# --------------------------------------------------------------------------
POPART_SAT_GAIN = 1.6


def popart_filter(rgb_u8: np.ndarray) -> np.ndarray:
    """Saturation boosted, then hue, saturation and value quantised (6 hues, 2 saturations,
    4 values) after a 3x3 median per channel, so regions stay whole."""
    x = np.stack([ndi.median_filter(rgb_u8[..., c], size=3) for c in range(3)], -1) / 255.0
    hsv = color.rgb2hsv(x)
    hsv[..., 0] = (np.round(hsv[..., 0] * 6) % 6) / 6
    hsv[..., 1] = np.round(np.clip(hsv[..., 1] * POPART_SAT_GAIN, 0, 1) * 2) / 2
    hsv[..., 2] = np.clip(np.round(hsv[..., 2] * 4) / 4, 0.25, 1.0)
    return to_u8(color.hsv2rgb(hsv))


DUOTONE_DARK = np.array([0.10, 0.12, 0.30])  # navy ink
DUOTONE_LIGHT = np.array([0.98, 0.85, 0.60])  # warm cream paper


def duotone_filter(rgb_u8: np.ndarray) -> np.ndarray:
    """Blurred luminance in 5 levels, painted on a gradient from navy to cream: the colours
    are the filter's, whatever the photo's."""
    y = filters.gaussian(luma(rgb_u8 / 255.0), 0.8)
    t = np.round(np.clip(y, 0, 1) * 4) / 4
    return to_u8(DUOTONE_DARK + t[..., None] * (DUOTONE_LIGHT - DUOTONE_DARK))


# --------------------------------------------------------------------------
# three posterising filters made to judge the per-channel grid rule (README, "Posterising"),
# written down with the rule and its predictions before they were run
# --------------------------------------------------------------------------
def bitposter_filter(rgb_u8: np.ndarray) -> np.ndarray:
    """Gaussian blur (sigma 1), then each channel truncated to its 2 high bits (levels 0,
    64, 128 and 192), as Pillow's ``ImageOps.posterize(img, 2)`` does."""
    s = np.stack([filters.gaussian(rgb_u8[..., c] / 255.0, 1.0) for c in range(3)], -1)
    return to_u8(s) & 0b1100_0000


VIVIDPOSTER_SAT_GAIN = 1.5


def vividposter_filter(rgb_u8: np.ndarray) -> np.ndarray:
    """A 3x3 median per channel, saturation boosted, then each channel rounded to 4 levels
    (0, 85, 170, 255): a posterising-per-channel filter that also boosts colour."""
    x = np.stack([ndi.median_filter(rgb_u8[..., c], size=3) for c in range(3)], -1) / 255.0
    hsv = color.rgb2hsv(x)
    hsv[..., 1] = np.clip(hsv[..., 1] * VIVIDPOSTER_SAT_GAIN, 0, 1)
    return to_u8(np.round(color.hsv2rgb(hsv) * 3) / 3)


PALETTE8 = np.array([
    [0.11, 0.13, 0.19], [0.93, 0.90, 0.82], [0.78, 0.27, 0.23], [0.31, 0.55, 0.36],
    [0.22, 0.38, 0.67], [0.89, 0.71, 0.29], [0.55, 0.47, 0.41], [0.62, 0.74, 0.83],
])


def palette8_filter(rgb_u8: np.ndarray) -> np.ndarray:
    """Gaussian blur (sigma 1), then each pixel the nearest in RGB of 8 fixed colours that
    lie on no per-channel grid."""
    s = np.stack([filters.gaussian(rgb_u8[..., c] / 255.0, 1.0) for c in range(3)], -1)
    d = ((s[..., None, :] - PALETTE8[None, None]) ** 2).sum(-1)
    return to_u8(PALETTE8[d.argmin(-1)])


# --------------------------------------------------------------------------
# three pixelating filters made to judge the pixelation finish (README, "Pixelation"),
# written down with its predictions before they were run
# --------------------------------------------------------------------------
def block_means(x: np.ndarray, k: int) -> np.ndarray:
    """Each k x k block of a grid from the top-left corner made the mean of its pixels (the
    last row and column of blocks are what is left of the image)."""
    out = np.empty_like(x)
    for i in range(0, x.shape[0], k):
        for j in range(0, x.shape[1], k):
            out[i:i + k, j:j + k] = x[i:i + k, j:j + k].reshape(-1, x.shape[2]).mean(0)
    return out


def mosaic_filter(rgb_u8: np.ndarray) -> np.ndarray:
    """8 x 8 blocks, each the mean of its pixels: a mosaic with the photo's own colours."""
    return to_u8(block_means(rgb_u8 / 255.0, 8))


PICO8 = np.array([
    [0, 0, 0], [29, 43, 83], [126, 37, 83], [0, 135, 81], [171, 82, 54], [95, 87, 79],
    [194, 195, 199], [255, 241, 232], [255, 0, 77], [255, 163, 0], [255, 236, 39],
    [0, 228, 54], [41, 173, 255], [131, 118, 156], [255, 119, 168], [255, 204, 170],
]) / 255.0


def pico_filter(rgb_u8: np.ndarray) -> np.ndarray:
    """6 x 6 blocks on a grid centred on the image, each the colour of its centre pixel (no
    averaging), then the nearest in RGB of the PICO-8 console's 16 colours."""
    x = rgb_u8 / 255.0
    h, w = x.shape[:2]
    k = 6
    oy, ox = (h % k) // 2, (w % k) // 2
    ys = np.clip(((np.arange(h) - oy) // k) * k + oy + k // 2, 0, h - 1)
    xs = np.clip(((np.arange(w) - ox) // k) * k + ox + k // 2, 0, w - 1)
    s = x[ys][:, xs]
    d = ((s[..., None, :] - PICO8[None, None]) ** 2).sum(-1)
    return to_u8(PICO8[d.argmin(-1)])


def retro_filter(rgb_u8: np.ndarray) -> np.ndarray:
    """Gaussian blur (sigma 1), 3 x 3 block means, then each channel rounded to 5 levels."""
    s = np.stack([filters.gaussian(rgb_u8[..., c] / 255.0, 1.0) for c in range(3)], -1)
    return to_u8(np.round(block_means(s, 3) * 4) / 4)


# --------------------------------------------------------------------------
# three pixelating filters whose blocks are not a whole number of pixels, made to judge
# blocks found as a number of blocks across (README, "Pixelation"), each written down
# with its predictions before it was run (lcd after the first two)
# --------------------------------------------------------------------------
def lowres_filter(rgb_u8: np.ndarray) -> np.ndarray:
    """Shrunk to 40 blocks across the long side (the short side to the nearest whole number of
    blocks) by box averaging, then enlarged back with Pillow's nearest neighbour: blocks of 6.4
    px at 256 px, 6 or 7 px wide, in the photo's own colours."""
    h, w = rgb_u8.shape[:2]
    n = 40
    small = (n, max(1, round(h * n / w))) if w >= h else (max(1, round(w * n / h)), n)
    img = Image.fromarray(rgb_u8).resize(small, Image.Resampling.BOX)
    return np.asarray(img.resize((w, h), Image.Resampling.NEAREST))


GAMEBOY = np.array([[15, 56, 15], [48, 98, 48], [139, 172, 15], [155, 188, 15]]) / 255.0


def gameboy_filter(rgb_u8: np.ndarray) -> np.ndarray:
    """Shrunk to 56 blocks across the long side with anti-aliasing, the luminance in the Game
    Boy's 4 greens, then enlarged by taking for each pixel the block floor(x n / w): blocks of
    4.57 px at 256 px, 4 or 5 px wide."""
    h, w = rgb_u8.shape[:2]
    n = 56
    sh, sw = (max(1, round(h * n / w)), n) if w >= h else (n, max(1, round(w * n / h)))
    small = transform.resize(rgb_u8 / 255.0, (sh, sw), anti_aliasing=True)
    level = np.clip(np.round(luma(small) * 3), 0, 3).astype(int)
    ys = np.arange(h) * sh // h
    xs = np.arange(w) * sw // w
    return to_u8(GAMEBOY[level][ys][:, xs])


def lcd_filter(rgb_u8: np.ndarray) -> np.ndarray:
    """Shrunk to 48 blocks across the long side by box averaging, each channel in 2 levels (8
    colours), then enlarged by taking for each pixel x the block round(x (m - 1) / (w - 1)), as
    an "align corners" resize does: blocks of 5.43 px at 256 px, the first and last half as
    wide. Written after the rule for datasets whose images are mostly too flat to show their
    blocks was changed (README, "Pixelation"), to judge it."""
    h, w = rgb_u8.shape[:2]
    n = 48
    sh, sw = (max(2, round(h * n / w)), n) if w >= h else (n, max(2, round(w * n / h)))
    small = np.asarray(Image.fromarray(rgb_u8).resize((sw, sh), Image.Resampling.BOX)) / 255.0
    small = np.round(small)
    ys = np.round(np.arange(h) * (sh - 1) / (h - 1)).astype(int)
    xs = np.round(np.arange(w) * (sw - 1) / (w - 1)).astype(int)
    return to_u8(small[ys][:, xs])


FILTERS = {
    "cartoon": cartoon_filter,
    "painterly": painterly_filter,
    "grade": grade_filter,
    "pencil": pencil_filter,
    "vintage": vintage_filter,
    "crossprocess": crossprocess_filter,
    "halftone": halftone_filter,
    "lomo": lomo_filter,
    "noir": noir_filter,
    "bloom": bloom_filter,
    "watercolour": watercolour_filter,
    "pixelart": pixelart_filter,
    "poster3": poster3_filter,
    "comic": comic_filter,
    "popart": popart_filter,
    "duotone": duotone_filter,
    "bitposter": bitposter_filter,
    "vividposter": vividposter_filter,
    "palette8": palette8_filter,
    "mosaic": mosaic_filter,
    "pico": pico_filter,
    "retro": retro_filter,
    "lowres": lowres_filter,
    "gameboy": gameboy_filter,
    "lcd": lcd_filter,
}


def save_png(path: str, arr: np.ndarray) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(arr).save(path, optimize=True)


def versions() -> str:
    import PIL
    import scipy
    import skimage
    import sklearn
    return (f"Python {platform.python_version()}, NumPy {np.__version__}, SciPy {scipy.__version__}, "
            f"scikit-image {skimage.__version__}, scikit-learn {sklearn.__version__}, Pillow {PIL.__version__}")


def write_sources(out: str, names, sizes) -> None:
    lines = [
        "# stylelearn benchmark: sources and licences",
        "",
        "Generated by `scripts/make_benchmark.py` (see its docstring for the filters' full",
        "description; every parameter is a constant there). Nothing was downloaded: the photos",
        "ship inside the scikit-image and scikit-learn wheels from PyPI.",
        "",
        f"Filters here: {', '.join(names)}. **{', '.join(f'`{h}`' for h in HELD_OUT_FILTERS)} are held out**:",
        "tune defaults on the others only.",
        "",
        "## Source photos",
        "",
        "| Package | File in the package | Author / origin | Licence |",
        "|---|---|---|---|",
    ]
    folder = {"skimage": "skimage/data/", "sklearn": "sklearn/datasets/images/"}
    for (pkg, name), (f, who, lic) in LICENCES.items():
        lines.append(f"| {pkg} | `{folder[pkg]}{f.split(' ')[0]}` {f.split(' ')[1]} | {who} | {lic} |")
    lines += [
        "",
        "Only 7 licence-clean colour photos ship in these packages, so the 16 benchmark photos are",
        "distinct, non-overlapping crops of them (rows r0:r1, cols c0:c1 of the original, before",
        f"resizing to a long side of {LONG_SIDE} px). `chelsea` and `coffee` (held out) are whole photos used",
        "nowhere else; `astronaut_portrait` and `china_lake` (held out) are crops of photos that also",
        "give training crops, in other parts of the frame.",
        "",
        "| Stem | Role | Source | Crop | Size (w x h) |",
        "|---|---|---|---|---|",
    ]
    for (stem, pkg, name, crop, role), (w, h) in zip(PHOTOS, sizes):
        c = "whole" if crop is None else f"rows {crop[0]}:{crop[1]}, cols {crop[2]}:{crop[3]}"
        lines.append(f"| `{stem}` | {role} | {pkg} `{name}` | {c} | {w}x{h} |")
    lines += [
        "",
        "## Files",
        "",
        "- `<filter>/train/<stem>.png`: the filter's output of each training photo (derived works).",
        "- `<filter>/heldout/photos/<stem>.png`: the held-out photo, only cropped and resized.",
        "- `<filter>/heldout/filtered/<stem>.png`: the same photo through the filter (derived work).",
        "",
        "The licences above cover the photos and carry over to the derived images (CC BY 2.0",
        "for the `china_*` and `flower_*` images: credit the photographers named above).",
        "",
        f"Made with {versions()}.",
        "",
    ]
    with open(os.path.join(out, "SOURCES.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def main(argv=None) -> int:
    global LONG_SIDE
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", default=os.path.join(repo, "bench-data"),
                    help="output folder (default: bench-data/ in the repository root)")
    ap.add_argument("--filters", default=",".join(FILTERS),
                    help=f"comma-separated filters to build (default: all: {','.join(FILTERS)})")
    ap.add_argument("--long-side", type=int, default=LONG_SIDE,
                    help=f"long side of every photo in px (default: {LONG_SIDE}); the filters work "
                         "in pixels, so another size is a related benchmark, not the same one")
    ap.add_argument("--preview", action="store_true",
                    help="also write OUT/_preview.png: held-out photos and every filter's output")
    args = ap.parse_args(argv)
    if args.long_side < 16:
        ap.error(f"--long-side {args.long_side}: use at least 16 px")
    LONG_SIDE = args.long_side
    names = [n.strip() for n in args.filters.split(",") if n.strip()]
    unknown = [n for n in names if n not in FILTERS]
    if unknown or not names:
        ap.error(f"unknown filter(s) {unknown}; choose from {', '.join(FILTERS)}")

    photos = [(stem, load_photo(pkg, name, crop), role) for stem, pkg, name, crop, role in PHOTOS]
    sizes = [(p.shape[1], p.shape[0]) for _, p, _ in photos]
    preview = []
    for fname in names:
        f = FILTERS[fname]
        row = []
        for stem, photo, role in photos:
            out = f(photo)
            if role == "train":
                save_png(os.path.join(args.out, fname, "train", f"{stem}.png"), out)
            else:
                save_png(os.path.join(args.out, fname, "heldout", "photos", f"{stem}.png"), photo)
                save_png(os.path.join(args.out, fname, "heldout", "filtered", f"{stem}.png"), out)
                row.append(out)
        preview.append(row)
        print(f"{fname:10s} {sum(r == 'train' for _, _, r in photos)} train, "
              f"{sum(r == 'heldout' for _, _, r in photos)} held out")
    write_sources(args.out, names, sizes)

    if args.preview:
        held = [p for _, p, r in photos if r == "heldout"]
        rows = [held] + preview
        gap = 4
        width = sum(im.shape[1] + gap for im in held)
        sheet = np.full((len(rows) * (LONG_SIDE + gap), width, 3), 255, np.uint8)
        for i, row in enumerate(rows):
            x = 0
            for im in row:
                sheet[i * (LONG_SIDE + gap):i * (LONG_SIDE + gap) + im.shape[0], x:x + im.shape[1]] = im
                x += im.shape[1] + gap
        Image.fromarray(sheet).save(os.path.join(args.out, "_preview.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
