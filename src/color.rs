//! Colour: luminance-only transfer (`--preserve-color`, Gatys et al. 2016, "Preserving colour in
//! neural artistic style transfer"). The style is transferred on luminance; the result keeps the
//! content's chroma (YIQ colour space).
use crate::image_io::Rgb;

const TO_YIQ: [[f32; 3]; 3] = [
    [0.299, 0.587, 0.114],
    [0.595_716, -0.274_453, -0.321_263],
    [0.211_456, -0.522_591, 0.311_135],
];
const FROM_YIQ: [[f32; 3]; 3] = [
    [1.0, 0.956_3, 0.621_0],
    [1.0, -0.272_1, -0.647_4],
    [1.0, -1.107_0, 1.704_6],
];

fn mat(m: &[[f32; 3]; 3], img: &Rgb) -> Vec<f32> {
    let n = img.width * img.height;
    let mut out = vec![0.0; 3 * n];
    for i in 0..n {
        let p = [img.data[i], img.data[n + i], img.data[2 * n + i]];
        for r in 0..3 {
            out[r * n + i] = m[r][0] * p[0] + m[r][1] * p[1] + m[r][2] * p[2];
        }
    }
    out
}

/// The YIQ planes of an image.
pub fn to_yiq(img: &Rgb) -> Vec<f32> {
    mat(&TO_YIQ, img)
}

/// Luminance as a grey RGB image, optionally matched in mean and standard deviation to
/// `like`'s luminance (as the paper does for the style image).
pub fn luminance(img: &Rgb, like: Option<&Rgb>) -> Rgb {
    let n = img.width * img.height;
    let mut y: Vec<f32> = to_yiq(img)[..n].to_vec();
    if let Some(like) = like {
        let ly = &to_yiq(like)[..like.width * like.height];
        let (m0, s0) = mean_std(&y);
        let (m1, s1) = mean_std(ly);
        for v in &mut y {
            *v = (*v - m0) / s0.max(1e-6) * s1 + m1;
        }
    }
    let mut data = y.clone();
    data.extend_from_slice(&y);
    data.extend_from_slice(&y);
    Rgb::from_planar(img.width, img.height, data)
}

/// Combines the luminance of `luma` (grey or colour) with the chroma (I, Q) of `chroma`.
pub fn with_chroma(luma: &Rgb, chroma: &Rgb) -> Rgb {
    assert_eq!((luma.width, luma.height), (chroma.width, chroma.height));
    let n = luma.width * luma.height;
    let mut yiq = to_yiq(chroma);
    yiq[..n].copy_from_slice(&to_yiq(luma)[..n]);
    let tmp = Rgb::from_planar(luma.width, luma.height, yiq);
    Rgb::from_planar(luma.width, luma.height, mat(&FROM_YIQ, &tmp))
}

fn mean_std(v: &[f32]) -> (f32, f32) {
    let n = v.len() as f64;
    let m = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / n;
    (m as f32, var.sqrt() as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yiq_round_trip_keeps_colour() {
        let img = crate::image_io::noise(7, 5, 3);
        let back = with_chroma(&img, &img);
        for (a, b) in img.data.iter().zip(&back.data) {
            assert!((a - b).abs() < 2e-3, "{a} vs {b}");
        }
    }

    #[test]
    fn luminance_is_grey_and_matches_target_stats() {
        let img = crate::image_io::noise(8, 8, 1);
        let like = crate::image_io::noise(8, 8, 2);
        let g = luminance(&img, Some(&like));
        let n = 64;
        assert_eq!(&g.data[..n], &g.data[n..2 * n]);
        let (m, s) = mean_std(&g.data[..n]);
        let (m1, s1) = mean_std(&to_yiq(&like)[..n]);
        assert!((m - m1).abs() < 1e-4 && (s - s1).abs() < 1e-4);
    }
}
