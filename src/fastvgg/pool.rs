//! 2×2 / stride 2 max-pool (floor: a last odd row or column is dropped, like burn's
//! `max_pool2d`) with the argmax kept for the backward pass.
use rayon::prelude::*;

use super::conv::Padded;

/// `out` ← max over each 2×2 window of `x`; `arg[c][oy][ox]` ← position in the window of the
/// maximum (0..4 as 2·dy + dx; the first one on ties). `out` is (c, h/2, w/2).
pub fn maxpool2(x: &Padded, out: &mut Padded, arg: &mut Vec<u8>) {
    let (c, oh, ow) = (x.c, x.h / 2, x.w / 2);
    assert!(out.same_shape(c, oh, ow), "pool output shape");
    arg.resize(c * oh * ow, 0);
    let (ip, iw) = (x.plane(), x.wp);
    let (op, owp) = (out.plane(), out.wp);
    out.data[..c * op]
        .par_chunks_mut(op)
        .zip(arg.par_chunks_mut((oh * ow).max(1)))
        .enumerate()
        .for_each(|(ch, (dst, a))| {
            let src = &x.data[ch * ip..(ch + 1) * ip];
            for oy in 0..oh {
                let r0 = &src[(2 * oy + 1) * iw + 1..][..2 * ow];
                let r1 = &src[(2 * oy + 2) * iw + 1..][..2 * ow];
                let d = &mut dst[(oy + 1) * owp + 1..][..ow];
                let a = &mut a[oy * ow..][..ow];
                for ox in 0..ow {
                    let v = [r0[2 * ox], r0[2 * ox + 1], r1[2 * ox], r1[2 * ox + 1]];
                    let mut best = 0;
                    for (i, &vi) in v.iter().enumerate().skip(1) {
                        if vi > v[best] {
                            best = i;
                        }
                    }
                    d[ox] = v[best];
                    a[ox] = best as u8;
                }
            }
        });
}

/// Gradient of [`maxpool2`]: `gin` (c, h, w) ← `g` (c, h/2, w/2) routed to each window's argmax,
/// zero elsewhere (including a dropped odd last row/column). `gin`'s border must be zero.
pub fn maxpool2_backward(g: &Padded, arg: &[u8], gin: &mut Padded) {
    let (c, oh, ow) = (g.c, g.h, g.w);
    let (h, w) = (gin.h, gin.w);
    assert!(
        gin.c == c && h / 2 == oh && w / 2 == ow,
        "pool gradient shape"
    );
    assert_eq!(arg.len(), c * oh * ow);
    let (gp, gwp) = (g.plane(), g.wp);
    let (ip, iwp) = (gin.plane(), gin.wp);
    gin.data[..c * ip]
        .par_chunks_mut(ip)
        .enumerate()
        .for_each(|(ch, dst)| {
            let src = &g.data[ch * gp..(ch + 1) * gp];
            let a = &arg[ch * oh * ow..][..oh * ow];
            for oy in 0..oh {
                let s = &src[(oy + 1) * gwp + 1..][..ow];
                let aa = &a[oy * ow..][..ow];
                for dy in 0..2 {
                    let d = &mut dst[(2 * oy + dy + 1) * iwp + 1..][..w];
                    for ox in 0..ow {
                        let k = aa[ox] as usize;
                        d[2 * ox] = if k == 2 * dy { s[ox] } else { 0.0 };
                        d[2 * ox + 1] = if k == 2 * dy + 1 { s[ox] } else { 0.0 };
                    }
                    d[2 * ow..].fill(0.0);
                }
            }
            if h % 2 == 1 {
                dst[h * iwp + 1..][..w].fill(0.0);
            }
        });
}
