//! 3×3 / stride 1 / pad 1 convolution of one NCHW image, on f32 slices.
//!
//! Two implementations share the zero-bordered [`Padded`] layout:
//! - [`conv_wino2`]: Winograd F(2×2, 3×3) — 16 gemms of (tiles × C)·(C × K) per block of tile
//!   rows, with the input/output transforms vectorised across tiles. Used by [`super::CpuVgg`].
//! - [`conv_implicit`]: implicit gemm — 9 gemms (one per tap) whose left operand is the padded
//!   input itself at an offset of `dy·wp + dx`, so no im2col buffer exists. Kept for comparison.
//!
//! The input gradient of a convolution is the same convolution with the kernel flipped and its
//! in/out channels swapped. [`conv_wino2_input_grad_rotated`] computes it with the forward
//! transformed weights on a gradient rotated by 180°, so one set of weights serves both
//! directions; the ReLU mask is applied by [`super::relu_mask::rotate`].
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
    /// Length of `data` for a `(c, h, w)` buffer.
    pub fn zeros_len(c: usize, h: usize, w: usize) -> usize {
        let (hp, wp) = (round4(h) + 2, round4(w) + 2);
        c * hp * wp + 2 * wp + 8
    }

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

    /// A `(c, h, w)` buffer made from the storage of an earlier one (any shape): only the
    /// border and slack are zeroed, so the interior holds stale values until written.
    pub fn recycle(mut data: Vec<f32>, c: usize, h: usize, w: usize) -> Self {
        let (hp, wp) = (round4(h) + 2, round4(w) + 2);
        let n = c * hp * wp + 2 * wp + 8;
        data.truncate(n);
        data.resize(n, 0.0);
        let mut p = Self {
            c,
            h,
            w,
            hp,
            wp,
            data,
        };
        p.zero_border();
        p
    }

    /// Zeroes everything outside the interior.
    fn zero_border(&mut self) {
        let (c, h, w, hp, wp, plane) = (self.c, self.h, self.w, self.hp, self.wp, self.plane());
        self.data[..c * plane].par_chunks_mut(plane).for_each(|pl| {
            pl[..wp].fill(0.0);
            for y in 1..=h {
                let row = &mut pl[y * wp..(y + 1) * wp];
                row[0] = 0.0;
                row[w + 1..].fill(0.0);
            }
            pl[(h + 1) * wp..hp * wp].fill(0.0);
        });
        self.data[c * plane..].fill(0.0);
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

/// Weights of one 3×3 conv in the Winograd domain: `u[ξ][k][c]` = (G g Gᵀ)\[ξ\] for output
/// channel k, input channel c, ξ = α·row + col of the α×α transformed kernel; α = tile + 2.
/// `tile` 2 is F(2×2,3×3) (α = 4), `tile` 4 is F(4×4,3×3) (α = 6, points 0, ±1, ±2).
#[derive(Clone, Debug)]
pub struct WinoWeights {
    /// input channels
    pub c: usize,
    /// output channels
    pub k: usize,
    /// output tile side: 2 or 4
    pub tile: usize,
    pub u: Vec<f32>,
}

impl WinoWeights {
    /// F(2×2,3×3) weights from OIHW weights `[k][c][3][3]`.
    pub fn forward(w: &[f32], k: usize, c: usize) -> Self {
        Self::forward_tile(w, k, c, 2)
    }

    /// [`forward`](Self::forward) for output tile side `tile` (2 or 4).
    pub fn forward_tile(w: &[f32], k: usize, c: usize, tile: usize) -> Self {
        assert_eq!(w.len(), k * c * 9);
        Self::build(k, c, tile, |o, i, dy, dx| {
            w[((o * c + i) * 3 + dy) * 3 + dx]
        })
    }

    fn build(
        k: usize,
        c: usize,
        tile: usize,
        g: impl Fn(usize, usize, usize, usize) -> f32,
    ) -> Self {
        let gm = g_matrix(tile);
        let a = tile + 2;
        let mut u = vec![0.0f32; a * a * k * c];
        for o in 0..k {
            for i in 0..c {
                // t = G g (α×3), then u = t Gᵀ (α×α), in f64
                for (r, gr) in gm.iter().enumerate() {
                    let t: [f64; 3] = std::array::from_fn(|col| {
                        (0..3).map(|m| gr[m] * g(o, i, m, col) as f64).sum()
                    });
                    for (s, gs) in gm.iter().enumerate() {
                        let v: f64 = (0..3).map(|m| t[m] * gs[m]).sum();
                        u[((r * a + s) * k + o) * c + i] = v as f32;
                    }
                }
            }
        }
        Self { c, k, tile, u }
    }
}

impl WinoWeights {
    /// The OIHW weights `[k][c][3][3]` these forward weights were made from, recovered by the
    /// least-squares inverse of the transform: g = P u Pᵀ with P = (GᵀG)⁻¹Gᵀ (G has full column
    /// rank, so this is exact up to rounding). Lets a caller keep only the transformed weights.
    pub fn to_oihw(&self) -> Vec<f32> {
        let gm = g_matrix(self.tile);
        let a = self.tile + 2;
        // GᵀG (3×3) and its inverse
        let gtg: [[f64; 3]; 3] =
            std::array::from_fn(|i| std::array::from_fn(|j| gm.iter().map(|r| r[i] * r[j]).sum()));
        let inv = invert3(gtg);
        // P = (GᵀG)⁻¹ Gᵀ, 3 × α
        let p: Vec<[f64; 3]> = (0..a)
            .map(|r| std::array::from_fn(|i| (0..3).map(|m| inv[i][m] * gm[r][m]).sum()))
            .collect();
        let (k, c) = (self.k, self.c);
        let mut out = vec![0.0f32; k * c * 9];
        for o in 0..k {
            for i in 0..c {
                let u = |r: usize, s: usize| self.u[((r * a + s) * k + o) * c + i] as f64;
                for y in 0..3 {
                    for x in 0..3 {
                        let mut v = 0.0;
                        for r in 0..a {
                            for s in 0..a {
                                v += p[r][y] * u(r, s) * p[s][x];
                            }
                        }
                        out[((o * c + i) * 3 + y) * 3 + x] = v as f32;
                    }
                }
            }
        }
        out
    }
}

/// The Winograd kernel transform G (α × 3) for output tile side 2 or 4.
fn g_matrix(tile: usize) -> &'static [[f64; 3]] {
    const G2: [[f64; 3]; 4] = [
        [1.0, 0.0, 0.0],
        [0.5, 0.5, 0.5],
        [0.5, -0.5, 0.5],
        [0.0, 0.0, 1.0],
    ];
    const G4: [[f64; 3]; 6] = [
        [0.25, 0.0, 0.0],
        [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
        [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
        [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
        [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
        [0.0, 0.0, 1.0],
    ];
    match tile {
        2 => &G2,
        4 => &G4,
        _ => panic!("Winograd tile must be 2 or 4, not {tile}"),
    }
}

fn invert3(m: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    let cof = |r: usize, c: usize| {
        let (r1, r2) = ((r + 1) % 3, (r + 2) % 3);
        let (c1, c2) = ((c + 1) % 3, (c + 2) % 3);
        m[r1][c1] * m[r2][c2] - m[r1][c2] * m[r2][c1]
    };
    std::array::from_fn(|i| std::array::from_fn(|j| cof(j, i) / det))
}

/// Bytes of Winograd scratch (V and M) per block: sized to stay in this CPU's L3. Measured at
/// 256² and 512² (see the module docs of `fastvgg`).
pub const WINO_BLOCK_BYTES: usize = 12 << 20;

/// `out = act(conv3x3(x) + bias)` by Winograd F(2×2,3×3) or F(4×4,3×3) (`wt.tile`).
///
/// `x`: `wt.c` channels; `out`: `wt.k` channels of the same h×w, whose border must be zero (only
/// the interior is written). `relu`: clamp the result at 0.
pub fn conv_wino2(
    x: &Padded,
    wt: &WinoWeights,
    bias: Option<&[f32]>,
    relu: bool,
    out: &mut Padded,
) {
    conv_wino2_blocked(x, wt, bias, relu, out, WINO_BLOCK_BYTES)
}

/// [`conv_wino2`] with an explicit block size (for measuring).
#[allow(clippy::too_many_arguments)]
pub fn conv_wino2_blocked(
    x: &Padded,
    wt: &WinoWeights,
    bias: Option<&[f32]>,
    relu: bool,
    out: &mut Padded,
    block_bytes: usize,
) {
    conv_wino_core(x, wt, false, bias, relu, out, block_bytes)
}

/// The input gradient of the convolution whose forward weights are `wt`, on a gradient `g`
/// (`wt.k` channels) that has been **rotated by 180°** (each channel's interior reversed in
/// both axes); `out` (`wt.c` channels) receives the input gradient, also rotated by 180°.
///
/// Why it works: the input gradient is the correlation of `g` with the kernel rotated by 180°
/// and its channels swapped, and correlating a rotated signal with the unrotated kernel gives
/// the rotated result, so the forward weights serve both directions (the channel swap is a
/// transposed read of `U[ξ]`, free in the gemm). Only one set of transformed weights is kept.
pub fn conv_wino2_input_grad_rotated(g: &Padded, wt: &WinoWeights, out: &mut Padded) {
    conv_wino_core(g, wt, true, None, false, out, WINO_BLOCK_BYTES)
}

/// The Winograd convolution; `transposed` reads `wt` with input and output channels swapped.
#[allow(clippy::too_many_arguments)]
fn conv_wino_core(
    x: &Padded,
    wt: &WinoWeights,
    transposed: bool,
    bias: Option<&[f32]>,
    relu: bool,
    out: &mut Padded,
    block_bytes: usize,
) {
    let (cdim, kdim, h, w) = if transposed {
        (wt.k, wt.c, x.h, x.w)
    } else {
        (wt.c, wt.k, x.h, x.w)
    };
    assert_eq!(x.c, cdim, "input channels");
    assert!(out.same_shape(kdim, h, w), "output shape");
    if let Some(b) = bias {
        assert_eq!(b.len(), kdim);
    }
    // U[ξ] is stored [k][c]; as the gemm's right operand (C_in × C_out) its element
    // (row, col) sits at row + col·c forward, and at row·c + col transposed.
    let (rhs_cs, rhs_rs) = if transposed {
        (1isize, wt.c as isize)
    } else {
        (wt.c as isize, 1isize)
    };
    let tile = wt.tile;
    let a2 = (tile + 2) * (tile + 2);
    let (th, tw) = (h.div_ceil(tile), w.div_ceil(tile));
    let per_tile = a2 * (cdim + kdim) * 4;
    let rows_per_block = (block_bytes / per_tile / tw).clamp(1, th);
    let nt_max = rows_per_block * tw;
    let mut v = scratch_take(a2 * cdim * nt_max);
    let mut m = scratch_take(a2 * kdim * nt_max);
    let mut i0 = 0;
    while i0 < th {
        let rows = rows_per_block.min(th - i0);
        let nt = rows * tw;
        // 1. input transform, parallel over input channels
        let vp = SendPtr(v.as_mut_ptr());
        (0..cdim).into_par_iter().for_each(|c| {
            // SAFETY: channel c writes only V[ξ][c][..nt] for each ξ: disjoint per task.
            unsafe {
                if tile == 2 {
                    input_transform(x, c, i0, rows, tw, nt, cdim, vp.get())
                } else {
                    input_transform4(x, c, i0, rows, tw, nt, cdim, vp.get())
                }
            }
        });
        // 2. α² gemms M[ξ] (nt × K) = V[ξ] (nt × C) · U[ξ] (C × K), parallel over ξ
        let (vp, mp) = (SendPtr(v.as_mut_ptr()), SendPtr(m.as_mut_ptr()));
        let up = wt.u.as_ptr() as usize;
        (0..a2).into_par_iter().for_each(|xi| unsafe {
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
                rhs_cs,
                rhs_rs,
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
            if tile == 2 {
                output_transform(m, k, kdim, nt, i0, rows, tw, h, w, owp, b, relu, dst);
            } else {
                output_transform4(m, k, kdim, nt, i0, rows, tw, h, w, owp, b, relu, dst);
            }
        });
        i0 += rows;
    }
    scratch_give(v);
    scratch_give(m);
}

/// Winograd scratch kept between calls: fresh multi-MB buffers would cost page faults and
/// zeroing on every convolution. The contents are never read before being written.
static SCRATCH: std::sync::Mutex<Vec<Vec<f32>>> = std::sync::Mutex::new(Vec::new());

fn scratch_take(n: usize) -> Vec<f32> {
    let mut pool = SCRATCH.lock().unwrap_or_else(|e| e.into_inner());
    let mut v = match pool.iter().position(|v| v.len() >= n) {
        Some(i) => pool.swap_remove(i),
        None => pool.pop().unwrap_or_default(),
    };
    if v.len() < n {
        v.resize(n, 0.0);
    }
    v
}

fn scratch_give(v: Vec<f32>) {
    let mut pool = SCRATCH.lock().unwrap_or_else(|e| e.into_inner());
    if pool.len() < 4 {
        pool.push(v);
    }
}

/// Runs `$body` compiled for AVX-512 or AVX2+FMA when the CPU has them (checked at run time),
/// else for the baseline target: the transforms' loops are auto-vectorised per build.
macro_rules! multiversion {
    ($name:ident, $generic:ident, ($($arg:ident : $ty:ty),* $(,)?)) => {
        #[allow(clippy::too_many_arguments)]
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn v4($($arg: $ty),*) {
                    $generic($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn v3($($arg: $ty),*) {
                    $generic($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has the features the function was compiled for.
                    return unsafe { v4($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: as above.
                    return unsafe { v3($($arg),*) };
                }
            }
            $generic($($arg),*)
        }
    };
}

multiversion!(input_transform_row, input_transform_row_generic, (
    rows: [&[f32]; 4],
    tw: usize,
    scratch: &mut [f32],
    v: [&mut [f32]; 16],
));

/// Writes V[ξ][c][r·tw + j] for the tile rows i0..i0+rows of channel c.
#[allow(clippy::too_many_arguments)]
unsafe fn input_transform(
    x: &Padded,
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
    let mut scratch = vec![0.0f32; 16 * n];
    for r in 0..rows {
        let i = i0 + r;
        let rws: [&[f32]; 4] = std::array::from_fn(|k| &base[(2 * i + k) * wp..][..2 * n]);
        // SAFETY: the 16 runs V[ξ][c][r·tw..(r+1)·tw] are disjoint and inside V.
        let out: [&mut [f32]; 16] = std::array::from_fn(|xi| unsafe {
            std::slice::from_raw_parts_mut(v.add((xi * cdim + c) * nt + r * tw), tw)
        });
        input_transform_row(rws, tw, &mut scratch, out);
    }
}

/// One tile row: `rows` are the 4 padded input rows (2·(tw+1) values each), `v` the 16
/// transformed runs of `tw` tiles. V = Bᵀ d B with Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1].
#[inline(always)]
fn input_transform_row_generic(
    rows: [&[f32]; 4],
    tw: usize,
    scratch: &mut [f32],
    v: [&mut [f32]; 16],
) {
    let n = tw + 1;
    // even/odd columns of the 4 rows: ev[k], od[k]; then the row transform into te[k], to[k]
    let (ev, rest) = scratch.split_at_mut(4 * n);
    let (od, rest) = rest.split_at_mut(4 * n);
    let (te, rest) = rest.split_at_mut(4 * n);
    let to = &mut rest[..4 * n];
    for k in 0..4 {
        let row = &rows[k][..2 * n];
        let e = &mut ev[k * n..(k + 1) * n];
        let o = &mut od[k * n..(k + 1) * n];
        for ((p, e), o) in row.chunks_exact(2).zip(e.iter_mut()).zip(o.iter_mut()) {
            *e = p[0];
            *o = p[1];
        }
    }
    for (src, dst) in [(&*ev, &mut *te), (&*od, &mut *to)] {
        let (s0, s1, s2, s3) = (
            &src[..n],
            &src[n..2 * n],
            &src[2 * n..3 * n],
            &src[3 * n..4 * n],
        );
        let (d0, rest) = dst.split_at_mut(n);
        let (d1, rest) = rest.split_at_mut(n);
        let (d2, d3) = rest.split_at_mut(n);
        let d3 = &mut d3[..n];
        for j in 0..n {
            d0[j] = s0[j] - s2[j];
            d1[j] = s1[j] + s2[j];
            d2[j] = s2[j] - s1[j];
            d3[j] = s1[j] - s3[j];
        }
    }
    let [
        v0,
        v1,
        v2,
        v3,
        v4,
        v5,
        v6,
        v7,
        v8,
        v9,
        v10,
        v11,
        v12,
        v13,
        v14,
        v15,
    ] = v;
    let groups = [
        [v0, v1, v2, v3],
        [v4, v5, v6, v7],
        [v8, v9, v10, v11],
        [v12, v13, v14, v15],
    ];
    for (k, [a, b, c, d]) in groups.into_iter().enumerate() {
        let (e0, e1) = (&te[k * n..k * n + tw], &te[k * n + 1..k * n + 1 + tw]);
        let (o0, o1) = (&to[k * n..k * n + tw], &to[k * n + 1..k * n + 1 + tw]);
        let (a, b, c, d) = (&mut a[..tw], &mut b[..tw], &mut c[..tw], &mut d[..tw]);
        for j in 0..tw {
            a[j] = e0[j] - e1[j];
            b[j] = o0[j] + e1[j];
            c[j] = e1[j] - o0[j];
            d[j] = o0[j] - o1[j];
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
    let mut scratch = vec![0.0f32; 8 * tw];
    for r in 0..rows {
        let mx: [&[f32]; 16] = std::array::from_fn(|xi| &m[(xi * kdim + k) * nt + r * tw..][..tw]);
        output_transform_row(mx, tw, bias, relu, &mut scratch);
        let yy = 2 * (i0 + r);
        dst[(yy + 1) * wp + 1..][..w].copy_from_slice(&scratch[..w]);
        if yy + 1 < h {
            dst[(yy + 2) * wp + 1..][..w].copy_from_slice(&scratch[2 * tw..2 * tw + w]);
        }
    }
}

multiversion!(output_transform_row, output_transform_row_generic, (
    mx: [&[f32]; 16],
    tw: usize,
    bias: f32,
    relu: bool,
    scratch: &mut [f32],
));

/// One tile row: Y = Aᵀ m A, Aᵀ = [1 1 1 0; 0 1 −1 −1], plus bias, optional ReLU. Writes the two
/// output rows (2·tw values each) to `scratch[..2tw]` and `scratch[2tw..4tw]`.
#[inline(always)]
fn output_transform_row_generic(
    mx: [&[f32]; 16],
    tw: usize,
    bias: f32,
    relu: bool,
    scratch: &mut [f32],
) {
    let (row0, rest) = scratch.split_at_mut(2 * tw);
    let (row1, rest) = rest.split_at_mut(2 * tw);
    let (y00, rest) = rest.split_at_mut(tw);
    let (y01, rest) = rest.split_at_mut(tw);
    let (y10, y11) = rest.split_at_mut(tw);
    let y11 = &mut y11[..tw];
    let m: [&[f32]; 16] = mx.map(|s| &s[..tw]);
    let clamp = |v: f32| if relu { v.max(0.0) } else { v };
    for j in 0..tw {
        // (no array::map here: it is not inlined into the target_feature builds)
        let s0 = [
            m[0][j] + m[4][j] + m[8][j],
            m[1][j] + m[5][j] + m[9][j],
            m[2][j] + m[6][j] + m[10][j],
            m[3][j] + m[7][j] + m[11][j],
        ];
        let s1 = [
            m[4][j] - m[8][j] - m[12][j],
            m[5][j] - m[9][j] - m[13][j],
            m[6][j] - m[10][j] - m[14][j],
            m[7][j] - m[11][j] - m[15][j],
        ];
        y00[j] = clamp(s0[0] + s0[1] + s0[2] + bias);
        y01[j] = clamp(s0[1] - s0[2] - s0[3] + bias);
        y10[j] = clamp(s1[0] + s1[1] + s1[2] + bias);
        y11[j] = clamp(s1[1] - s1[2] - s1[3] + bias);
    }
    for (row, even, odd) in [(row0, &*y00, &*y01), (row1, &*y10, &*y11)] {
        for ((p, e), o) in row.chunks_exact_mut(2).zip(even).zip(odd) {
            p[0] = *e;
            p[1] = *o;
        }
    }
}

/// Bᵀ d for F(4×4,3×3): Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0;
/// 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1].
#[inline(always)]
fn bt6(d: [f32; 6]) -> [f32; 6] {
    [
        4.0 * d[0] - 5.0 * d[2] + d[4],
        -4.0 * (d[1] + d[2]) + d[3] + d[4],
        4.0 * (d[1] - d[2]) - d[3] + d[4],
        2.0 * (d[3] - d[1]) - d[2] + d[4],
        2.0 * (d[1] - d[3]) - d[2] + d[4],
        4.0 * d[1] - 5.0 * d[3] + d[5],
    ]
}

/// Aᵀ m for F(4×4,3×3): Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1].
#[inline(always)]
fn at6(m: [f32; 6]) -> [f32; 4] {
    let (p12, m12) = (m[1] + m[2], m[1] - m[2]);
    let (p34, m34) = (m[3] + m[4], m[3] - m[4]);
    [
        m[0] + p12 + p34,
        m12 + 2.0 * m34,
        p12 + 4.0 * p34,
        m12 + 8.0 * m34 + m[5],
    ]
}

fn split6(buf: &mut [f32], n: usize) -> [&mut [f32]; 6] {
    let mut it = buf.chunks_exact_mut(n);
    std::array::from_fn(|_| it.next().expect("6 chunks"))
}

/// F(4×4,3×3) input transform: writes V[ξ][c][r·tw + j] (ξ < 36) for tile rows i0..i0+rows.
#[allow(clippy::too_many_arguments)]
unsafe fn input_transform4(
    x: &Padded,
    c: usize,
    i0: usize,
    rows: usize,
    tw: usize,
    nt: usize,
    cdim: usize,
    v: *mut f32,
) {
    let (wp, plane) = (x.wp, x.plane());
    let n = 4 * tw + 2;
    let base = &x.data[c * plane..(c + 1) * plane];
    let mut scratch = vec![0.0f32; 6 * (4 * tw + 4) + 24 * (tw + 1)];
    for r in 0..rows {
        let i = i0 + r;
        let rws: [&[f32]; 6] = std::array::from_fn(|k| &base[(4 * i + k) * wp..][..n]);
        // SAFETY: the 36 runs V[ξ][c][r·tw..(r+1)·tw] are disjoint and inside V.
        let out: [&mut [f32]; 36] = std::array::from_fn(|xi| unsafe {
            std::slice::from_raw_parts_mut(v.add((xi * cdim + c) * nt + r * tw), tw)
        });
        input_transform4_row(rws, tw, &mut scratch, out);
    }
}

multiversion!(input_transform4_row, input_transform4_row_generic, (
    rows: [&[f32]; 6],
    tw: usize,
    scratch: &mut [f32],
    v: [&mut [f32]; 36],
));

#[inline(always)]
fn input_transform4_row_generic(
    rows: [&[f32]; 6],
    tw: usize,
    scratch: &mut [f32],
    v: [&mut [f32]; 36],
) {
    let n = 4 * tw + 2;
    let len = 4 * tw + 4;
    let (tbuf, pbuf) = scratch.split_at_mut(6 * len);
    // 1. along y, whole rows: t_a = Σ_b Bᵀ[a][b] row_b
    {
        let [t0, t1, t2, t3, t4, t5] = split6(tbuf, len);
        let r: [&[f32]; 6] = rows.map(|s| &s[..n]);
        let (t0, t1, t2, t3, t4, t5) = (
            &mut t0[..n],
            &mut t1[..n],
            &mut t2[..n],
            &mut t3[..n],
            &mut t4[..n],
            &mut t5[..n],
        );
        for x in 0..n {
            let o = bt6([r[0][x], r[1][x], r[2][x], r[3][x], r[4][x], r[5][x]]);
            t0[x] = o[0];
            t1[x] = o[1];
            t2[x] = o[2];
            t3[x] = o[3];
            t4[x] = o[4];
            t5[x] = o[5];
        }
    }
    // 2. per row a: the 4 column phases p_q[j] = t_a[4j + q], j ≤ tw; then along x per tile:
    //    d = (p0[j], p1[j], p2[j], p3[j], p0[j+1], p1[j+1])
    let nn = tw + 1;
    let mut outs = v.into_iter();
    for a in 0..6 {
        let t = &mut tbuf[a * len..(a + 1) * len];
        t[n..].fill(0.0);
        let (p0, rest) = pbuf.split_at_mut(nn);
        let (p1, rest) = rest.split_at_mut(nn);
        let (p2, p3) = rest.split_at_mut(nn);
        let p3 = &mut p3[..nn];
        for ((((ch, a0), a1), a2), a3) in t
            .chunks_exact(4)
            .zip(p0.iter_mut())
            .zip(p1.iter_mut())
            .zip(p2.iter_mut())
            .zip(p3.iter_mut())
        {
            *a0 = ch[0];
            *a1 = ch[1];
            *a2 = ch[2];
            *a3 = ch[3];
        }
        let (q0, q1, q2, q3) = (&p0[..tw], &p1[..tw], &p2[..tw], &p3[..tw]);
        let (q4, q5) = (&p0[1..nn], &p1[1..nn]);
        let [v0, v1, v2, v3, v4, v5]: [&mut [f32]; 6] =
            std::array::from_fn(|_| outs.next().expect("36 outputs"));
        let (v0, v1, v2, v3, v4, v5) = (
            &mut v0[..tw],
            &mut v1[..tw],
            &mut v2[..tw],
            &mut v3[..tw],
            &mut v4[..tw],
            &mut v5[..tw],
        );
        for j in 0..tw {
            let o = bt6([q0[j], q1[j], q2[j], q3[j], q4[j], q5[j]]);
            v0[j] = o[0];
            v1[j] = o[1];
            v2[j] = o[2];
            v3[j] = o[3];
            v4[j] = o[4];
            v5[j] = o[5];
        }
    }
}

/// F(4×4,3×3) output transform of channel k: rows 4i..4i+3 of each tile row i.
#[allow(clippy::too_many_arguments)]
fn output_transform4(
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
    let mut scratch = vec![0.0f32; 40 * tw];
    for r in 0..rows {
        let mx: [&[f32]; 36] = std::array::from_fn(|xi| &m[(xi * kdim + k) * nt + r * tw..][..tw]);
        output_transform4_row(mx, tw, bias, relu, &mut scratch);
        for p in 0..4 {
            let y = 4 * (i0 + r) + p;
            if y < h {
                dst[(y + 1) * wp + 1..][..w].copy_from_slice(&scratch[p * 4 * tw..][..w]);
            }
        }
    }
}

multiversion!(output_transform4_row, output_transform4_row_generic, (
    mx: [&[f32]; 36],
    tw: usize,
    bias: f32,
    relu: bool,
    scratch: &mut [f32],
));

/// Y = Aᵀ m A (+ bias, optional ReLU) for one tile row: 4 output rows of 4·tw values in
/// `scratch[..16tw]`; the rest holds the 24 intermediate runs. Two passes of 6 inputs → 4
/// outputs each (one pass with 36 input streams did not vectorise).
#[inline(always)]
fn output_transform4_row_generic(
    mx: [&[f32]; 36],
    tw: usize,
    bias: f32,
    relu: bool,
    scratch: &mut [f32],
) {
    let (rowbuf, sbuf) = scratch.split_at_mut(16 * tw);
    let sbuf = &mut sbuf[..24 * tw];
    // pass 1, per column b: s[p][b] = Σ_a Aᵀ[p][a] m[a][b]; stored at sbuf[(p·6 + b)·tw..]
    for b in 0..6 {
        let (i0, i1, i2, i3, i4, i5) = (
            &mx[b][..tw],
            &mx[6 + b][..tw],
            &mx[12 + b][..tw],
            &mx[18 + b][..tw],
            &mx[24 + b][..tw],
            &mx[30 + b][..tw],
        );
        let mut it = sbuf.chunks_exact_mut(tw);
        let s: [&mut [f32]; 24] = std::array::from_fn(|_| it.next().expect("24 runs"));
        let [s0, s1, s2, s3] = [0, 1, 2, 3].map(|p| s[p * 6 + b].as_mut_ptr());
        // SAFETY: four distinct runs of tw values inside sbuf.
        let (s0, s1, s2, s3) = unsafe {
            (
                std::slice::from_raw_parts_mut(s0, tw),
                std::slice::from_raw_parts_mut(s1, tw),
                std::slice::from_raw_parts_mut(s2, tw),
                std::slice::from_raw_parts_mut(s3, tw),
            )
        };
        for j in 0..tw {
            let o = at6([i0[j], i1[j], i2[j], i3[j], i4[j], i5[j]]);
            s0[j] = o[0];
            s1[j] = o[1];
            s2[j] = o[2];
            s3[j] = o[3];
        }
    }
    // pass 2, per output row p: y[p][q] = Σ_b s[p][b] Aᵀ[q][b], interleaved into row p
    let clamp = |v: f32| if relu { v.max(0.0) } else { v };
    for p in 0..4 {
        let sp = &sbuf[p * 6 * tw..(p + 1) * 6 * tw];
        let (i0, i1, i2, i3, i4, i5) = (
            &sp[..tw],
            &sp[tw..2 * tw],
            &sp[2 * tw..3 * tw],
            &sp[3 * tw..4 * tw],
            &sp[4 * tw..5 * tw],
            &sp[5 * tw..6 * tw],
        );
        let row = &mut rowbuf[p * 4 * tw..(p + 1) * 4 * tw];
        for (j, ch) in row.chunks_exact_mut(4).enumerate().take(tw) {
            let o = at6([i0[j], i1[j], i2[j], i3[j], i4[j], i5[j]]);
            ch[0] = clamp(o[0] + bias);
            ch[1] = clamp(o[1] + bias);
            ch[2] = clamp(o[2] + bias);
            ch[3] = clamp(o[3] + bias);
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
                let d =
                    unsafe { std::slice::from_raw_parts_mut(op.get().add(o * plane + row), wp) };
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
