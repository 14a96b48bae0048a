//! 3×3 / stride 1 / pad 1 convolution of one NCHW image, on f32 slices.
//!
//! Two implementations share the zero-bordered [`Padded`] layout:
//! - [`conv_wino2`]: Winograd F(2×2, 3×3) — 16 gemms of (tiles × C)·(C × K) per block of tile
//!   rows, with the input/output transforms vectorised across tiles. Used by [`super::CpuVgg`].
//! - [`conv_implicit`]: implicit gemm — 9 gemms (one per tap) whose left operand is the padded
//!   input itself at an offset of `dy·wp + dx`, so no im2col buffer exists. Kept for comparison.
//!
//! The input gradient of a convolution is the same convolution with the kernel flipped and its
//! in/out channels swapped: [`WinoWeights::backward`] builds those transformed weights, and
//! `conv_wino2` with a `mask` applies the ReLU mask to the incoming gradient as it is read.
use rayon::prelude::*;

/// One image's channels in a zero-bordered layout: `c` planes of `hp × wp` with the image at
/// rows `1..=h`, columns `1..=w`; all other entries are zero. `hp`, `wp` are `h`, `w` rounded up
/// to a multiple of 4, plus 2, so every Winograd tile and every shifted gemm row stays inside.
#[derive(Clone, Debug)]
pub struct Padded {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub hp: usize,
    pub wp: usize,
    /// `c * hp * wp` values, then a few zeros of slack (read by [`conv_implicit`]).
    pub data: Vec<f32>,
}

fn round4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

impl Padded {
    pub fn zeros(c: usize, h: usize, w: usize) -> Self {
        let (hp, wp) = (round4(h) + 2, round4(w) + 2);
        Self {
            c,
            h,
            w,
            hp,
            wp,
            data: vec![0.0; c * hp * wp + 2 * wp + 8],
        }
    }

    pub fn plane(&self) -> usize {
        self.hp * self.wp
    }

    pub fn same_shape(&self, c: usize, h: usize, w: usize) -> bool {
        self.c == c && self.h == h && self.w == w
    }

    /// From a contiguous [c, h, w] array.
    pub fn from_chw(x: &[f32], c: usize, h: usize, w: usize) -> Self {
        let mut p = Self::zeros(c, h, w);
        p.set_chw(x);
        p
    }

    /// Overwrites the interior with a contiguous [c, h, w] array.
    pub fn set_chw(&mut self, x: &[f32]) {
        let (h, w, wp, plane) = (self.h, self.w, self.wp, self.plane());
        assert_eq!(x.len(), self.c * h * w);
        for c in 0..self.c {
            for y in 0..h {
                let d = c * plane + (y + 1) * wp + 1;
                self.data[d..d + w].copy_from_slice(&x[(c * h + y) * w..][..w]);
            }
        }
    }

    /// Adds a contiguous [c, h, w] array to the interior.
    pub fn add_chw(&mut self, x: &[f32]) {
        let (h, w, wp, plane) = (self.h, self.w, self.wp, self.plane());
        assert_eq!(x.len(), self.c * h * w);
        for c in 0..self.c {
            for y in 0..h {
                let d = &mut self.data[c * plane + (y + 1) * wp + 1..][..w];
                for (a, b) in d.iter_mut().zip(&x[(c * h + y) * w..][..w]) {
                    *a += b;
                }
            }
        }
    }

    /// The interior as a contiguous [c, h, w] array.
    pub fn to_chw(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.c * self.h * self.w);
        self.append_chw(&mut out);
        out
    }

    /// Appends the interior, as [c, h, w], to `out`.
    pub fn append_chw(&self, out: &mut Vec<f32>) {
        let (h, w, wp, plane) = (self.h, self.w, self.wp, self.plane());
        for c in 0..self.c {
            for y in 0..h {
                out.extend_from_slice(&self.data[c * plane + (y + 1) * wp + 1..][..w]);
            }
        }
    }
}

/// A raw pointer that rayon tasks may share; every task writes a disjoint range.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr(pub(crate) *mut f32);
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}
impl SendPtr {
    /// A method (not field access) so closures capture the whole Send wrapper.
    pub(crate) fn get(self) -> *mut f32 {
        self.0
    }
}

/// Weights of one 3×3 conv in the Winograd F(2×2,3×3) domain: `u[ξ][k][c]` = (G g G^T)[ξ] for
/// output channel k, input channel c, ξ = 4·row + col of the 4×4 transformed kernel.
#[derive(Clone, Debug)]
pub struct WinoWeights {
    /// input channels
    pub c: usize,
    /// output channels
    pub k: usize,
    pub u: Vec<f32>,
}

impl WinoWeights {
    /// From OIHW weights `[k][c][3][3]`.
    pub fn forward(w: &[f32], k: usize, c: usize) -> Self {
        assert_eq!(w.len(), k * c * 9);
        Self::build(k, c, |o, i, dy, dx| w[((o * c + i) * 3 + dy) * 3 + dx])
    }

    /// Weights of the input-gradient convolution of OIHW weights `[k][c][3][3]`: c outputs,
    /// k inputs, kernel rotated by 180°.
    pub fn backward(w: &[f32], k: usize, c: usize) -> Self {
        assert_eq!(w.len(), k * c * 9);
        Self::build(c, k, |o, i, dy, dx| w[((i * c + o) * 3 + 2 - dy) * 3 + 2 - dx])
    }

    fn build(k: usize, c: usize, g: impl Fn(usize, usize, usize, usize) -> f32) -> Self {
        const G: [[f32; 3]; 4] = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]];
        let mut u = vec![0.0f32; 16 * k * c];
        for o in 0..k {
            for i in 0..c {
                // t = G g (4×3), then u = t G^T (4×4)
                let mut t = [[0.0f32; 3]; 4];
                for (r, gr) in G.iter().enumerate() {
                    for col in 0..3 {
                        t[r][col] = (0..3).map(|m| gr[m] * g(o, i, m, col)).sum();
                    }
                }
                for r in 0..4 {
                    for (s, gs) in G.iter().enumerate() {
                        let v: f32 = (0..3).map(|m| t[r][m] * gs[m]).sum();
                        u[((r * 4 + s) * k + o) * c + i] = v;
                    }
                }
            }
        }
        Self { c, k, u }
    }
}

/// Bytes of Winograd scratch (V and M) per block: sized to stay in this CPU's L3. Measured at
/// 256² and 512² (see the module docs of `fastvgg`).
pub const WINO_BLOCK_BYTES: usize = 6 << 20;

/// `out = act(conv3x3(x ⊙ [mask > 0]) + bias)` by Winograd F(2×2, 3×3).
///
/// `x`: `wt.c` channels; `out`: `wt.k` channels of the same h×w, whose border must be zero (only
/// the interior is written). `mask`: same shape as `x`; where it is ≤ 0, `x` is read as 0 (the
/// ReLU mask of an input gradient). `relu`: clamp the result at 0.
pub fn conv_wino2(
    x: &Padded,
    mask: Option<&Padded>,
    wt: &WinoWeights,
    bias: Option<&[f32]>,
    relu: bool,
    out: &mut Padded,
) {
    conv_wino2_blocked(x, mask, wt, bias, relu, out, WINO_BLOCK_BYTES)
}

/// [`conv_wino2`] with an explicit block size (for measuring).
#[allow(clippy::too_many_arguments)]
pub fn conv_wino2_blocked(
    x: &Padded,
    mask: Option<&Padded>,
    wt: &WinoWeights,
    bias: Option<&[f32]>,
    relu: bool,
    out: &mut Padded,
    block_bytes: usize,
) {
    let (cdim, kdim, h, w) = (wt.c, wt.k, x.h, x.w);
    assert_eq!(x.c, cdim, "input channels");
    assert!(out.same_shape(kdim, h, w), "output shape");
    if let Some(m) = mask {
        assert!(m.same_shape(cdim, h, w), "mask shape");
    }
    if let Some(b) = bias {
        assert_eq!(b.len(), kdim);
    }
    let (th, tw) = (h.div_ceil(2), w.div_ceil(2));
    let per_tile = 16 * (cdim + kdim) * 4;
    let rows_per_block = (block_bytes / per_tile / tw).clamp(1, th);
    let nt_max = rows_per_block * tw;
    let mut v = vec![0.0f32; 16 * cdim * nt_max];
    let mut m = vec![0.0f32; 16 * kdim * nt_max];
    let mut i0 = 0;
    while i0 < th {
        let rows = rows_per_block.min(th - i0);
        let nt = rows * tw;
        // 1. input transform, parallel over input channels
        let vp = SendPtr(v.as_mut_ptr());
        (0..cdim).into_par_iter().for_each(|c| {
            // SAFETY: channel c writes only V[ξ][c][..nt] for each ξ: disjoint per task.
            unsafe { input_transform(x, mask, c, i0, rows, tw, nt, cdim, vp.get()) }
        });
        // 2. sixteen gemms M[ξ] (nt × K) = V[ξ] (nt × C) · U[ξ] (C × K), parallel over ξ
        let (vp, mp) = (SendPtr(v.as_mut_ptr()), SendPtr(m.as_mut_ptr()));
        let up = wt.u.as_ptr() as usize;
        (0..16usize).into_par_iter().for_each(|xi| unsafe {
            gemm::gemm(
                nt,
                kdim,
                cdim,
                mp.get().add(xi * kdim * nt),
                nt as isize,
                1,
                false,
                vp.get().add(xi * cdim * nt),
                nt as isize,
                1,
                (up as *const f32).add(xi * kdim * cdim),
                cdim as isize,
                1,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            )
        });
        // 3. output transform + bias + relu, parallel over output channels
        let (plane, owp) = (out.plane(), out.wp);
        let op = SendPtr(out.data.as_mut_ptr());
        let m = &m;
        (0..kdim).into_par_iter().for_each(|k| {
            let b = bias.map_or(0.0, |b| b[k]);
            // SAFETY: channel k writes only its own output plane.
            let dst = unsafe { std::slice::from_raw_parts_mut(op.get().add(k * plane), plane) };
            output_transform(m, k, kdim, nt, i0, rows, tw, h, w, owp, b, relu, dst);
        });
        i0 += rows;
    }
}

/// Writes V[ξ][c][r·tw + j] for the tile rows i0..i0+rows of channel c.
#[allow(clippy::too_many_arguments)]
unsafe fn input_transform(
    x: &Padded,
    mask: Option<&Padded>,
    c: usize,
    i0: usize,
    rows: usize,
    tw: usize,
    nt: usize,
    cdim: usize,
    v: *mut f32,
) {
    let (wp, plane) = (x.wp, x.plane());
    let n = tw + 1;
    let base = &x.data[c * plane..(c + 1) * plane];
    let mbase = mask.map(|m| &m.data[c * plane..(c + 1) * plane]);
    // even/odd columns of the 4 input rows, then of the 4 row-transformed rows
    let mut ev = vec![0.0f32; 4 * n];
    let mut od = vec![0.0f32; 4 * n];
    let mut te = vec![0.0f32; 4 * n];
    let mut to = vec![0.0f32; 4 * n];
    for r in 0..rows {
        let i = i0 + r;
        for k in 0..4 {
            let row = &base[(2 * i + k) * wp..][..2 * n];
            let (ek, ok) = (&mut ev[k * n..][..n], &mut od[k * n..][..n]);
            match mbase {
                None => {
                    for j in 0..n {
                        ek[j] = row[2 * j];
                        ok[j] = row[2 * j + 1];
                    }
                }
                Some(mb) => {
                    let mrow = &mb[(2 * i + k) * wp..][..2 * n];
                    for j in 0..n {
                        ek[j] = if mrow[2 * j] > 0.0 { row[2 * j] } else { 0.0 };
                        ok[j] = if mrow[2 * j + 1] > 0.0 { row[2 * j + 1] } else { 0.0 };
                    }
                }
            }
        }
        for (src, dst) in [(&ev, &mut te), (&od, &mut to)] {
            let (s0, s1, s2, s3) = (&src[..n], &src[n..2 * n], &src[2 * n..3 * n], &src[3 * n..]);
            let (d01, d23) = dst.split_at_mut(2 * n);
            let (d0, d1) = d01.split_at_mut(n);
            let (d2, d3) = d23.split_at_mut(n);
            for j in 0..n {
                d0[j] = s0[j] - s2[j];
                d1[j] = s1[j] + s2[j];
                d2[j] = s2[j] - s1[j];
                d3[j] = s1[j] - s3[j];
            }
        }
        for k in 0..4 {
            let (e, o) = (&te[k * n..][..n], &to[k * n..][..n]);
            let at = |l: usize| unsafe {
                std::slice::from_raw_parts_mut(v.add(((k * 4 + l) * cdim + c) * nt + r * tw), tw)
            };
            let (v0, v1, v2, v3) = (at(0), at(1), at(2), at(3));
            for j in 0..tw {
                v0[j] = e[j] - e[j + 1];
                v1[j] = o[j] + e[j + 1];
                v2[j] = e[j + 1] - o[j];
                v3[j] = o[j] - o[j + 1];
            }
        }
    }
}

/// Reads M[ξ][k][..nt] and writes output channel k's rows 2i, 2i+1 of each tile row i.
#[allow(clippy::too_many_arguments)]
fn output_transform(
    m: &[f32],
    k: usize,
    kdim: usize,
    nt: usize,
    i0: usize,
    rows: usize,
    tw: usize,
    h: usize,
    w: usize,
    wp: usize,
    bias: f32,
    relu: bool,
    dst: &mut [f32],
) {
    let mut row0 = vec![0.0f32; 2 * tw];
    let mut row1 = vec![0.0f32; 2 * tw];
    for r in 0..rows {
        let mx: [&[f32]; 16] =
            std::array::from_fn(|xi| &m[(xi * kdim + k) * nt + r * tw..][..tw]);
        for j in 0..tw {
            let s0 = [0, 1, 2, 3].map(|b| mx[b][j] + mx[4 + b][j] + mx[8 + b][j]);
            let s1 = [0, 1, 2, 3].map(|b| mx[4 + b][j] - mx[8 + b][j] - mx[12 + b][j]);
            let mut y = [
                s0[0] + s0[1] + s0[2] + bias,
                s0[1] - s0[2] - s0[3] + bias,
                s1[0] + s1[1] + s1[2] + bias,
                s1[1] - s1[2] - s1[3] + bias,
            ];
            if relu {
                y = y.map(|v| v.max(0.0));
            }
            row0[2 * j] = y[0];
            row0[2 * j + 1] = y[1];
            row1[2 * j] = y[2];
            row1[2 * j + 1] = y[3];
        }
        let yy = 2 * (i0 + r);
        dst[(yy + 1) * wp + 1..][..w].copy_from_slice(&row0[..w]);
        if yy + 1 < h {
            dst[(yy + 2) * wp + 1..][..w].copy_from_slice(&row1[..w]);
        }
    }
}

/// Weights laid out per tap for [`conv_implicit`]: `w9[t][k][c]`, t = 3·dy + dx.
pub fn taps(w: &[f32], k: usize, c: usize) -> Vec<f32> {
    let mut out = vec![0.0; 9 * k * c];
    for o in 0..k {
        for i in 0..c {
            for t in 0..9 {
                out[(t * k + o) * c + i] = w[(o * c + i) * 9 + t];
            }
        }
    }
    out
}

/// `out = act(conv3x3(x) + bias)` as 9 accumulated gemms over shifted views of the padded
/// input (implicit gemm; no im2col buffer). `w9` from [`taps`]. Parallel over row strips.
pub fn conv_implicit(
    x: &Padded,
    w9: &[f32],
    k: usize,
    bias: Option<&[f32]>,
    relu: bool,
    out: &mut Padded,
    strip_rows: usize,
) {
    let (c, h, w, wp) = (x.c, x.h, x.w, x.wp);
    assert!(out.same_shape(k, h, w));
    assert_eq!(w9.len(), 9 * k * c);
    let plane = x.plane();
    let strips: Vec<(usize, usize)> = (0..h)
        .step_by(strip_rows)
        .map(|y0| (y0, (y0 + strip_rows).min(h)))
        .collect();
    let op = SendPtr(out.data.as_mut_ptr());
    strips.par_iter().for_each(|&(y0, y1)| {
        let (m0, len) = (y0 * wp, (y1 - y0) * wp);
        for t in 0..9 {
            let (dy, dx) = (t / 3, t % 3);
            // SAFETY: strip (y0,y1) writes out positions wp+1+[m0, m0+len): disjoint strips.
            unsafe {
                gemm::gemm(
                    len,
                    k,
                    c,
                    op.get().add(wp + 1 + m0),
                    plane as isize,
                    1,
                    t > 0,
                    x.data.as_ptr().add(m0 + dy * wp + dx),
                    plane as isize,
                    1,
                    w9.as_ptr().add(t * k * c),
                    c as isize,
                    1,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                )
            }
        }
        for o in 0..k {
            let b = bias.map_or(0.0, |b| b[o]);
            for y in y0..y1 {
                let row = (y + 1) * wp + 1;
                // SAFETY: inside this strip's range, as above.
                let d = unsafe { std::slice::from_raw_parts_mut(op.get().add(o * plane + row), wp) };
                for v in &mut d[..w] {
                    *v += b;
                    if relu {
                        *v = v.max(0.0);
                    }
                }
                d[w..].fill(0.0);
            }
        }
    });
}
