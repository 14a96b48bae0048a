//! What the backward pass keeps of a ReLU output (one bit per value: was it > 0?), and the
//! 180° rotation that lets the input-gradient convolution reuse the forward weights
//! ([`super::conv::conv_wino2_input_grad_rotated`]).
//!
//! A bit per value instead of the f32 activation is 32× less memory: at 512² the 13 layers up
//! to relu5_1 hold 320 MiB of activations but 10 MiB of masks.
use rayon::prelude::*;

use super::conv::Padded;

/// The ReLU mask of one layer's output: bit `x % 64` of word `x / 64` of row `y` of channel `c`
/// is set where the activation at (c, y, x) is > 0. Rows start on a word boundary so a row's
/// bits unpack with plain shifts.
#[derive(Debug, Default)]
pub struct ReluMask {
    /// u64 words per row
    row_words: usize,
    h: usize,
    bits: Vec<u64>,
}

impl ReluMask {
    /// Records where `act` (a ReLU output) is > 0, reusing this mask's storage.
    pub fn record(&mut self, act: &Padded) {
        let (c, h, w, wp, plane) = (act.c, act.h, act.w, act.wp, act.plane());
        self.row_words = w.div_ceil(64).max(1);
        self.h = h;
        let per_channel = (h * self.row_words).max(1);
        self.bits.clear();
        self.bits.resize(c * per_channel, 0);
        let rw = self.row_words;
        self.bits
            .par_chunks_mut(per_channel)
            .enumerate()
            .for_each(|(ch, bits)| {
                let pl = &act.data[ch * plane..(ch + 1) * plane];
                for y in 0..h {
                    let row = &pl[(y + 1) * wp + 1..][..w];
                    for (word, vals) in bits[y * rw..(y + 1) * rw].iter_mut().zip(row.chunks(64)) {
                        let mut bitsw = 0u64;
                        for (b, &v) in vals.iter().enumerate() {
                            bitsw |= u64::from(v > 0.0) << b;
                        }
                        *word = bitsw;
                    }
                }
            });
    }

    /// Row `y` of channel `ch` as bit masks (all ones: kept, 0: masked), into `out` (length w).
    fn unpack_row(&self, ch: usize, y: usize, out: &mut [u32]) {
        let rw = self.row_words;
        let words = &self.bits[(ch * self.h + y) * rw..][..rw];
        for (vals, &word) in out.chunks_mut(64).zip(words) {
            let (lo, hi) = (word as u32, (word >> 32) as u32);
            for (b, v) in vals.iter_mut().enumerate() {
                let half = if b < 32 { lo } else { hi };
                *v = 0u32.wrapping_sub((half >> (b & 31)) & 1);
            }
        }
    }
}

/// Rotates each channel's interior of `p` by 180° in place; with a `mask`, a value whose bit
/// (at its position before the rotation) is clear becomes 0. The border stays zero.
pub fn rotate(p: &mut Padded, mask: Option<&ReluMask>) {
    let (c, h, w, wp, plane) = (p.c, p.h, p.w, p.wp, p.plane());
    p.data[..c * plane]
        .par_chunks_mut(plane)
        .enumerate()
        .for_each(|(ch, pl)| {
            let (mut ma, mut mb) = (vec![u32::MAX; w], vec![u32::MAX; w]);
            for y in 0..h / 2 {
                let y2 = h - 1 - y;
                if let Some(m) = mask {
                    m.unpack_row(ch, y, &mut ma);
                    m.unpack_row(ch, y2, &mut mb);
                }
                let (top, bottom) = pl.split_at_mut((y2 + 1) * wp);
                let ra = &mut top[(y + 1) * wp + 1..][..w];
                let rb = &mut bottom[1..][..w];
                for (((a, b), &ka), &kb) in ra
                    .iter_mut()
                    .zip(rb.iter_mut().rev())
                    .zip(&ma)
                    .zip(mb.iter().rev())
                {
                    let va = f32::from_bits(a.to_bits() & ka);
                    *a = f32::from_bits(b.to_bits() & kb);
                    *b = va;
                }
            }
            if h % 2 == 1 {
                // the middle row: its first half swaps with its second
                let y = h / 2;
                if let Some(m) = mask {
                    m.unpack_row(ch, y, &mut ma);
                }
                let row = &mut pl[(y + 1) * wp + 1..][..w];
                for x in 0..w.div_ceil(2) {
                    let x2 = w - 1 - x;
                    let va = f32::from_bits(row[x].to_bits() & ma[x]);
                    let vb = f32::from_bits(row[x2].to_bits() & ma[x2]);
                    row[x] = vb;
                    row[x2] = va;
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_with_mask_matches_a_plain_loop() {
        for (c, h, w) in [(2, 5, 7), (1, 4, 4), (3, 1, 3), (2, 3, 1), (1, 9, 66)] {
            let n = c * h * w;
            let vals: Vec<f32> = (0..n).map(|i| ((i * 37 % 11) as f32) - 5.0).collect();
            let act = Padded::from_chw(&vals, c, h, w);
            let mut m = ReluMask::default();
            m.record(&act);
            let g: Vec<f32> = (0..n).map(|i| i as f32 + 1.0).collect();
            let mut p = Padded::from_chw(&g, c, h, w);
            rotate(&mut p, Some(&m));
            let mut want = vec![0.0; n];
            for ch in 0..c {
                for y in 0..h {
                    for x in 0..w {
                        let src = (ch * h + y) * w + x;
                        let dst = (ch * h + (h - 1 - y)) * w + (w - 1 - x);
                        want[dst] = if vals[src] > 0.0 { g[src] } else { 0.0 };
                    }
                }
            }
            assert_eq!(p.to_chw(), want, "{c}×{h}×{w}");
            // the border is still zero, and rotating twice without a mask is the identity
            let interior: f32 = p.to_chw().iter().map(|v| v.abs()).sum();
            let all: f32 = p.data.iter().map(|v| v.abs()).sum();
            assert_eq!(interior, all, "{c}×{h}×{w}: border written");
            let before = p.to_chw();
            rotate(&mut p, None);
            rotate(&mut p, None);
            assert_eq!(p.to_chw(), before);
        }
    }

    #[test]
    fn recycled_buffers_have_a_zero_border() {
        let big = Padded::from_chw(&vec![1.0; 4 * 9 * 10], 4, 9, 10);
        let p = Padded::recycle(big.data, 3, 5, 6);
        let fresh = Padded::zeros(3, 5, 6);
        assert_eq!(p.data.len(), fresh.data.len());
        for (i, (a, b)) in p.data.iter().zip(&fresh.data).enumerate() {
            let (ch, r) = (i / p.plane(), i % p.plane());
            let (y, x) = (r / p.wp, r % p.wp);
            let inside = ch < 3 && (1..=5).contains(&y) && (1..=6).contains(&x);
            if !inside {
                assert_eq!(a, b, "entry {i} outside the interior is not zero");
            }
        }
    }
}
