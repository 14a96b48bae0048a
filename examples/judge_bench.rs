//! How far apart the judges put the benchmark's filters.
//!
//! ```sh
//! python3 scripts/make_benchmark.py            # writes bench-data/
//! cargo run --release --example judge_bench -- bench-data
//! ```
//!
//! Prints, with colour in ΔE and texture as an RMS log ratio (see `stylelearn::judge`):
//! 1. per filter, the mean distance from each held-out photo to its filtered version;
//! 2. the same-photo matrix: candidate = the photo or filter A's output of it, reference =
//!    filter B's output of the same photo (means over the held-out photos);
//! 3. the other-photos matrix: candidate = filter A's training outputs (other photos),
//!    reference = filter B's held-out outputs, so content differs and only style is shared
//!    (no 'photo' row: the benchmark keeps no unfiltered training photos).
//!
//! A judge separates the filters when each column's smallest entry (marked *) is on the
//! diagonal.
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use stylelearn::image_io::load;
use stylelearn::judge::colour::ColourStats;
use stylelearn::judge::texture::TextureStats;

struct Stats {
    colour: ColourStats,
    texture: TextureStats,
}

fn stats(path: &Path) -> Result<Stats> {
    let img = load(path)?;
    Ok(Stats {
        colour: ColourStats::of(&img),
        texture: TextureStats::of(&img),
    })
}

fn pngs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    v.sort();
    Ok(v)
}

fn mean_pair(pairs: impl Iterator<Item = (f64, f64)>) -> (f64, f64) {
    let (mut c, mut t, mut n) = (0.0, 0.0, 0.0);
    for (a, b) in pairs {
        c += a;
        t += b;
        n += 1.0;
    }
    (c / n, t / n)
}

fn dist(a: &Stats, b: &Stats) -> (f64, f64) {
    (a.colour.distance(&b.colour), a.texture.distance(&b.texture))
}

fn print_matrix(title: &str, rows: &[String], cols: &[String], cells: &[Vec<(f64, f64)>]) {
    println!(
        "\n{title}\n(colour ΔE / texture; rows: candidate, columns: reference; * = the column's smallest)\n"
    );
    print!("| {:<14} |", "");
    for c in cols {
        print!(" {c:>15} |");
    }
    println!();
    print!("|{}|", "-".repeat(16));
    for _ in cols {
        print!("{}|", "-".repeat(17));
    }
    println!();
    for (r, row) in rows.iter().zip(cells) {
        print!("| {r:<14} |");
        for (j, (c, t)) in row.iter().enumerate() {
            let min_c = cells
                .iter()
                .map(|row| row[j].0)
                .fold(f64::INFINITY, f64::min);
            let min_t = cells
                .iter()
                .map(|row| row[j].1)
                .fold(f64::INFINITY, f64::min);
            let mc = if *c == min_c { "*" } else { " " };
            let mt = if *t == min_t { "*" } else { " " };
            print!(" {c:>6.2}{mc}/ {t:>5.3}{mt} |");
        }
        println!();
    }
}

fn main() -> Result<()> {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "bench-data".into()),
    );
    let mut filters: Vec<String> = std::fs::read_dir(&root)
        .with_context(|| {
            format!(
                "cannot list {} (run scripts/make_benchmark.py)",
                root.display()
            )
        })?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("heldout").is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    filters.sort();
    if filters.is_empty() {
        bail!("no <filter>/heldout folders in {}", root.display());
    }
    let stems: Vec<String> = pngs(&root.join(&filters[0]).join("heldout/photos"))?
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let photos: Vec<Stats> = stems
        .iter()
        .map(|s| {
            stats(
                &root
                    .join(&filters[0])
                    .join(format!("heldout/photos/{s}.png")),
            )
        })
        .collect::<Result<_>>()?;
    let mut held = Vec::new(); // [filter][stem]
    let mut train = Vec::new(); // [filter][image]
    for f in &filters {
        held.push(
            stems
                .iter()
                .map(|s| stats(&root.join(f).join(format!("heldout/filtered/{s}.png"))))
                .collect::<Result<Vec<_>>>()?,
        );
        train.push(
            pngs(&root.join(f).join("train"))?
                .iter()
                .map(|p| stats(p))
                .collect::<Result<Vec<_>>>()?,
        );
    }

    println!(
        "photo → filtered, mean over {} held-out photos\n",
        stems.len()
    );
    println!("| filter | colour ΔE | texture |\n|---|---|---|");
    for (f, h) in filters.iter().zip(&held) {
        let (c, t) = mean_pair(photos.iter().zip(h).map(|(p, q)| dist(p, q)));
        println!("| {f} | {c:.2} | {t:.3} |");
    }

    let mut rows = vec!["photo".to_string()];
    rows.extend(filters.iter().cloned());
    let same: Vec<Vec<(f64, f64)>> = (0..rows.len())
        .map(|r| {
            (0..filters.len())
                .map(|b| {
                    mean_pair((0..stems.len()).map(|s| {
                        let cand = if r == 0 { &photos[s] } else { &held[r - 1][s] };
                        dist(cand, &held[b][s])
                    }))
                })
                .collect()
        })
        .collect();
    print_matrix("Same photo", &rows, &filters, &same);

    let other: Vec<Vec<(f64, f64)>> = (0..filters.len())
        .map(|a| {
            (0..filters.len())
                .map(|b| {
                    mean_pair(
                        train[a]
                            .iter()
                            .flat_map(|c| held[b].iter().map(move |h| dist(c, h))),
                    )
                })
                .collect()
        })
        .collect();
    print_matrix(
        "Other photos: filter A's training outputs vs filter B's held-out outputs",
        &filters,
        &filters,
        &other,
    );
    Ok(())
}
