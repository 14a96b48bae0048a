//! `stylelearn bench`: seconds per style-transfer step at given sizes, the backend's measured
//! matrix-multiply rate, peak memory, and optionally a full 512² transfer and the memory of
//! streaming 10 vs 200 references. Numbers are printed as a table; nothing here is asserted.
use std::time::Instant;

use anyhow::Result;
use burn::tensor::{Distribution, Tensor};

use stylelearn::files::{TransferFiles, TransferJob};
use stylelearn::image_io::{self, Rgb};
use stylelearn::loss::{ContentTerm, ImageLoss, StyleTerm};
use stylelearn::observe::Silent;
use stylelearn::optim::{Adam, AdamConfig, Optimizer};
use stylelearn::style::{StatisticKind, TargetBuilder};
use stylelearn::transfer::{StyleSource, TransferSettings, defaults};
use stylelearn::vgg::Vgg19;

/// Peak resident memory of this process so far (Linux VmHWM), in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    read_status("VmHWM:")
}

/// Current resident memory (Linux VmRSS), in MiB.
pub fn rss_mib() -> Option<f64> {
    read_status("VmRSS:")
}

fn read_status(key: &str) -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Single-precision matmul rate of the backend (GFLOP/s), n×n by n×n, median of 5.
pub fn matmul_gflops(net: &Vgg19, n: usize) -> f64 {
    let d = net.device();
    let a = Tensor::<2>::random([n, n], Distribution::Default, d);
    let b = Tensor::<2>::random([n, n], Distribution::Default, d);
    let _ = a.clone().matmul(b.clone()).into_data();
    let t: Vec<f64> = (0..5)
        .map(|_| {
            let s = Instant::now();
            let _ = a.clone().matmul(b.clone()).into_data();
            s.elapsed().as_secs_f64()
        })
        .collect();
    2.0 * (n as f64).powi(3) / median(t) / 1e9
}

/// One step as timed: forward to relu5_1, Grams at 5 layers, content at relu4_2, backward to
/// the image, one Adam update. Returns (median seconds, evaluations timed).
pub fn step_seconds(net: &Vgg19, size: usize, steps: usize) -> Result<f64> {
    let content = image_io::noise(size, size, 1);
    let style_img = image_io::noise(size, size, 2);
    let style_layers = defaults::STYLE_LAYERS.to_vec();
    let stat = StatisticKind::Gram.build();
    let targets = TargetBuilder::new(net, stat.as_ref(), &style_layers)
        .summarise(style_img.to_tensor(net.device()), None);
    let mut loss = ImageLoss::new(net, size, size);
    loss.content = Some(ContentTerm::new(
        net,
        content.to_tensor(net.device()),
        defaults::CONTENT_LAYERS.to_vec(),
        1.0,
    ));
    loss.style = Some(StyleTerm::new(stat, style_layers, None, targets, 3.0)?);
    loss.tv_weight = 1.0;
    let mut x = content.data.clone();
    let mut opt = Adam::new(AdamConfig::default());
    opt.step(&mut x, &mut loss)?; // warm-up
    let mut times = Vec::new();
    for _ in 0..steps.max(1) {
        let s = Instant::now();
        opt.step(&mut x, &mut loss)?;
        times.push(s.elapsed().as_secs_f64());
    }
    Ok(median(times))
}

/// Prints the benchmark table.
pub fn run(
    net: &Vgg19,
    sizes: &[usize],
    steps: usize,
    full_transfer: bool,
    dataset_memory: bool,
) -> Result<()> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let gflops = matmul_gflops(net, 1024);
    println!(
        "backend: {:?} ({threads} CPU threads); f32 matmul 1024³: {gflops:.1} GFLOP/s",
        net.device()
    );
    println!();
    if dataset_memory {
        println!(
            "| references streamed (128², all 16 layers) | seconds | RSS after, MiB | peak RSS, MiB |"
        );
        println!("|---:|---:|---:|---:|");
        let layers: Vec<usize> = (0..16).collect();
        let stat = StatisticKind::Gram.build();
        for n in [10usize, 200] {
            let start = Instant::now();
            let mut b = TargetBuilder::new(net, stat.as_ref(), &layers);
            for i in 0..n {
                let img: Rgb = image_io::noise(128, 96 + (i % 3) * 16, i as u64);
                b.add(&format!("noise{i}"), img.to_tensor(net.device()), None, 1.0)?;
            }
            let _ = b.finish()?;
            println!(
                "| {n} | {:.1} | {:.0} | {:.0} |",
                start.elapsed().as_secs_f64(),
                rss_mib().unwrap_or(f64::NAN),
                peak_rss_mib().unwrap_or(f64::NAN)
            );
        }
        println!();
    }
    println!("| size | s/step (median of {steps}) | steps/min | peak RSS MiB |");
    println!("|---:|---:|---:|---:|");
    for &s in sizes {
        let t = step_seconds(net, s, steps)?;
        println!(
            "| {s}² | {t:.3} | {:.1} | {:.0} |",
            60.0 / t,
            peak_rss_mib().unwrap_or(f64::NAN)
        );
    }
    println!();
    println!(
        "step = forward to relu5_1 + Grams at relu{{1..5}}_1 + content at relu4_2 + TV + backward to the image + one Adam update"
    );
    if full_transfer {
        let photo = image_io::noise(512, 384, 3);
        let dir = tempfile::tempdir()?;
        let (c, s) = (dir.path().join("c.png"), dir.path().join("s.png"));
        photo.save(&c)?;
        image_io::noise(512, 512, 4).save(&s)?;
        let settings = TransferSettings {
            size: 512,
            ..TransferSettings::new(c, StyleSource::Images(vec![(s, 1.0)]))
        };
        let files = TransferFiles {
            output: dir.path().join("out.png"),
            log: None,
            snapshot_every: None,
        };
        let job = TransferJob::new(settings, files, net.device())?;
        let start = Instant::now();
        let r = job.run(net, &mut Silent)?.outcome;
        println!();
        println!(
            "full transfer 512×384, {} L-BFGS iterations: {:.0} s wall, {} evaluations, peak RSS {:.0} MiB",
            job.plan.settings().iters,
            start.elapsed().as_secs_f64(),
            r.evals,
            peak_rss_mib().unwrap_or(f64::NAN)
        );
    }
    Ok(())
}
