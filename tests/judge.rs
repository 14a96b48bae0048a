//! The judges on synthetic "photos" and synthetic filters (no Python, no files, no VGG).
use stylelearn::image_io::Rgb;
use stylelearn::judge::{Judgement, SplitMix, judge};

/// A synthetic photo: smooth colour gradients plus randomly placed soft-edged discs.
fn photo(w: usize, h: usize, seed: u64) -> Rgb {
    let mut rng = SplitMix(seed);
    let n = w * h;
    let mut data = vec![0f32; 3 * n];
    let tilt: Vec<f64> = (0..6).map(|_| rng.uniform()).collect();
    for y in 0..h {
        for x in 0..w {
            let (u, v) = (x as f64 / w as f64, y as f64 / h as f64);
            for c in 0..3 {
                data[c * n + y * w + x] = (0.2 + 0.3 * tilt[c] * u + 0.3 * tilt[c + 3] * v) as f32;
            }
        }
    }
    for _ in 0..(n / 300).max(1) {
        let (cx, cy) = (rng.uniform() * w as f64, rng.uniform() * h as f64);
        let r = 4.0 + 14.0 * rng.uniform();
        let col = [rng.uniform(), rng.uniform(), rng.uniform()];
        for y in 0..h {
            for x in 0..w {
                let d = ((x as f64 - cx).powi(2) + (y as f64 - cy).powi(2)).sqrt();
                let a = (r - d).clamp(0.0, 1.0) as f32; // one-pixel soft edge
                for c in 0..3 {
                    let p = &mut data[c * n + y * w + x];
                    *p = *p * (1.0 - a) + a * (0.1 + 0.8 * col[c]) as f32;
                }
            }
        }
    }
    Rgb::from_planar(w, h, data)
}

fn map(img: &Rgb, f: impl Fn(usize, f32) -> f32) -> Rgb {
    let n = img.width * img.height;
    let data = img
        .data
        .iter()
        .enumerate()
        .map(|(i, &v)| f(i % n, v).clamp(0.0, 1.0))
        .collect();
    Rgb::from_planar(img.width, img.height, data)
}

/// Flat regions: each channel quantised to 4 levels.
fn posterise(img: &Rgb) -> Rgb {
    map(img, |_, v| ((v * 4.0).floor().min(3.0) + 0.5) / 4.0)
}

/// A warm colour grade with film grain.
fn grade(img: &Rgb) -> Rgb {
    let n = img.width * img.height;
    let mut rng = SplitMix(99);
    let grain: Vec<f32> = (0..n).map(|_| 0.04 * rng.normal() as f32).collect();
    let warm = map(img, |i, v| v * 0.8 + 0.12 + grain[i]);
    let mut out = warm.clone();
    for i in 0..n {
        out.data[i] = (warm.data[i] + 0.06).min(1.0); // red up
        out.data[2 * n + i] = (warm.data[2 * n + i] - 0.08).max(0.0); // blue down
    }
    out
}

/// Soft focus: 3×3 box blur, three times.
fn soften(img: &Rgb) -> Rgb {
    let (w, h) = (img.width, img.height);
    let mut out = img.clone();
    for _ in 0..3 {
        let src = out.clone();
        for c in 0..3 {
            for y in 0..h {
                for x in 0..w {
                    let mut s = 0.0;
                    for dy in -1isize..=1 {
                        for dx in -1isize..=1 {
                            let yy = (y as isize + dy).clamp(0, h as isize - 1) as usize;
                            let xx = (x as isize + dx).clamp(0, w as isize - 1) as usize;
                            s += src.data[c * w * h + yy * w + xx];
                        }
                    }
                    out.data[c * w * h + y * w + x] = s / 9.0;
                }
            }
        }
    }
    out
}

fn mix(a: &Rgb, b: &Rgb, t: f32) -> Rgb {
    let data = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| x + t * (y - x))
        .collect();
    Rgb::from_planar(a.width, a.height, data)
}

type Filter = fn(&Rgb) -> Rgb;
const FILTERS: [(&str, Filter); 3] = [
    ("posterise", posterise),
    ("grade", grade),
    ("soften", soften),
];

#[test]
fn the_closer_to_the_filter_output_the_smaller_the_judgement() {
    // The closed loop: a stylised photo is judged against the filter's output of the same
    // photo. Going part of the way towards it must score better than the untouched photo.
    let p = photo(96, 72, 1);
    for (name, f) in FILTERS {
        let target = f(&p);
        let d: Vec<Judgement> = [0.0, 0.5, 1.0]
            .iter()
            .map(|&t| judge(&mix(&p, &target, t), &target))
            .collect();
        println!("{name}: {d:?}");
        assert_eq!(
            d[2],
            Judgement {
                colour: 0.0,
                texture: 0.0
            },
            "{name}"
        );
        assert!(d[1].colour < d[0].colour, "{name}: {d:?}");
        assert!(d[1].texture < d[0].texture, "{name}: {d:?}");
    }
}

#[test]
fn each_filter_is_told_apart_from_the_others_on_the_same_photo() {
    let p = photo(96, 72, 2);
    let outs: Vec<Rgb> = FILTERS.iter().map(|(_, f)| f(&p)).collect();
    for (i, (a, _)) in FILTERS.iter().enumerate() {
        for (j, (b, _)) in FILTERS.iter().enumerate() {
            let d = judge(&outs[i], &outs[j]);
            let back = judge(&outs[j], &outs[i]);
            assert!(
                (d.colour - back.colour).abs() < 1e-9 && (d.texture - back.texture).abs() < 1e-9
            );
            if i != j {
                println!("{a} vs {b}: {d:?}");
                assert!(d.colour > 1.0 || d.texture > 0.1, "{a} vs {b}: {d:?}");
            }
        }
    }
    // the colour grade is a colour judge's matter, soft focus a texture judge's
    let graded = judge(&outs[1], &p);
    let softened = judge(&outs[2], &p);
    assert!(
        graded.colour > 3.0 * softened.colour,
        "{graded:?} {softened:?}"
    );
    assert!(softened.texture > 0.3, "{softened:?}");
}

#[test]
fn a_texture_filter_is_recognised_on_other_photos_and_sizes() {
    // Judged against posterised photo A, posterised photo B (other content, other size) looks
    // more alike in texture than B softened or untouched.
    let a = posterise(&photo(120, 90, 3));
    let b = photo(80, 100, 4);
    let same = judge(&posterise(&b), &a).texture;
    let softened = judge(&soften(&b), &a).texture;
    let untouched = judge(&b, &a).texture;
    println!("same {same:.3} softened {softened:.3} untouched {untouched:.3}");
    assert!(
        same < softened && same < untouched,
        "{same} {softened} {untouched}"
    );
}
