//! Bad inputs and faults, one class at a time: every failing case exits non-zero without a
//! panic, names the problem, and leaves the folder byte-for-byte as it was (names and hashes).
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use stylelearn::image_io;

/// Names and md5s of every file below `dir` (hidden ones included).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    use md5::{Digest, Md5};
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.insert(p.clone(), "dir".into());
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.insert(p, format!("{:x}", Md5::digest(&bytes)));
            }
        }
    }
    out
}

/// A folder with a photo, a style image, a small dataset folder and its weights file.
fn workspace() -> tempfile::TempDir {
    let dir = tmp();
    let p = dir.path();
    let content = image_io::load(&data("tests/data/reference/content.png")).unwrap();
    let style = image_io::load(&data("tests/data/reference/style.png")).unwrap();
    content.resize(48, 40).save(&p.join("photo.png")).unwrap();
    style.resize(48, 48).save(&p.join("style.png")).unwrap();
    std::fs::create_dir(p.join("ds")).unwrap();
    style.resize(40, 40).save(&p.join("ds/a.png")).unwrap();
    content.resize(40, 32).save(&p.join("ds/b.png")).unwrap();
    std::fs::write(p.join("w.csv"), "a.png,1\nb.png,2\n").unwrap();
    dir
}

/// Runs `args` (with `{}` replaced by the workspace path) and checks it fails cleanly,
/// mentions every `needle` and changes nothing.
fn fails_cleanly(ws: &Path, args: &[&str], needles: &[&str]) {
    let root = ws.to_str().unwrap();
    let args: Vec<String> = args.iter().map(|a| a.replace("{}", root)).collect();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let before = snapshot(ws);
    let o = cli(&refs);
    let err = stderr(&o);
    assert!(!o.status.success(), "{args:?} succeeded: {err}");
    assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{args:?} panicked: {err}"
    );
    for n in needles {
        assert!(
            err.to_lowercase().contains(&n.to_lowercase()),
            "{args:?}: message lacks '{n}': {err}"
        );
    }
    assert_eq!(snapshot(ws), before, "{args:?} changed the folder: {err}");
}

const FAST: [&str; 4] = ["--size", "32", "--iters", "2"];

fn with_fast<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut v = args.to_vec();
    v.extend(FAST);
    v.push("-q");
    v
}

#[test]
fn an_output_never_replaces_an_input_or_another_output() {
    let ws = workspace();
    let w = ws.path();
    let transfer = |extra: &[&'static str]| {
        let mut v = vec!["transfer", "{}/photo.png", "--style", "{}/style.png"];
        v.extend_from_slice(extra);
        with_fast(&v)
    };
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (transfer(&["-o", "{}/photo.png"]), vec!["content image"]),
        (transfer(&["-o", "{}/./style.png"]), vec!["style image"]),
        (
            transfer(&["-o", "{}/out.png", "--log", "{}/photo.png"]),
            vec!["content image"],
        ),
        (
            transfer(&["-o", "{}/out.png", "--log", "{}/out.png"]),
            vec!["same file"],
        ),
        (
            with_fast(&["learn", "{}/ds/a.png", "-o", "{}/ds/a.png"]),
            vec!["dataset image"],
        ),
        (
            with_fast(&["learn", "{}/ds", "--weights", "{}/w.csv", "-o", "{}/w.png"]),
            vec![],
        ),
        (
            vec!["profile", "{}/ds/a.png", "-o", "{}/ds/a.png", "-q"],
            vec!["dataset image"],
        ),
    ];
    // The weights-file case is legal (w.png is new): check it separately below.
    for (args, needles) in cases.iter().filter(|(a, _)| !a.contains(&"{}/w.png")) {
        fails_cleanly(w, args, needles);
    }
    // A hard link to the photo is the same file.
    #[cfg(unix)]
    {
        std::fs::hard_link(w.join("photo.png"), w.join("link.png")).unwrap();
        fails_cleanly(w, &transfer(&["-o", "{}/link.png"]), &["content image"]);
    }
}

#[test]
fn outputs_are_checked_before_any_work() {
    let ws = workspace();
    let w = ws.path();
    std::fs::create_dir(w.join("folder.png")).unwrap();
    std::fs::write(w.join("file"), b"x").unwrap();
    let t = |o: &'static str| {
        with_fast(&[
            "transfer",
            "{}/photo.png",
            "--style",
            "{}/style.png",
            "-o",
            o,
        ])
    };
    // A transfer into an existing folder writes <stem>.png inside it (folder mode); a learn
    // output must be a file.
    fails_cleanly(w, &t("{}/file/out.png"), &["not a folder"]);
    fails_cleanly(w, &t("{}/out.gif"), &[".png"]);
    fails_cleanly(
        w,
        &with_fast(&["learn", "{}/ds", "-o", "{}/folder.png"]),
        &["folder"],
    );
}

#[test]
fn numeric_options_are_validated_the_same_way_in_every_command() {
    let ws = workspace();
    let w = ws.path();
    let t = |extra: &[&'static str]| {
        let mut v = vec![
            "transfer",
            "{}/photo.png",
            "--style",
            "{}/style.png",
            "-o",
            "{}/o.png",
        ];
        v.extend_from_slice(extra);
        // Bounded even if a check were missing.
        if !extra.contains(&"--iters") {
            v.extend(["--iters", "2"]);
        }
        v.push("-q");
        v
    };
    let l = |extra: &[&'static str]| {
        let mut v = vec![
            "learn", "{}/ds", "-o", "{}/l.png", "--size", "32", "--iters", "2",
        ];
        v.extend_from_slice(extra);
        v.push("-q");
        v
    };
    for lr in ["0", "-1"] {
        for opt in ["lbfgs", "adam"] {
            fails_cleanly(w, &t(&["--lr", lr, "--optimizer", opt]), &["--lr"]);
            fails_cleanly(w, &l(&["--lr", lr, "--optimizer", opt]), &["--lr"]);
        }
    }
    fails_cleanly(w, &l(&["--tv-weight", "-1"]), &["--tv-weight"]);
    fails_cleanly(w, &l(&["--tv-weight", "NaN"]), &["--tv-weight"]);
    fails_cleanly(w, &t(&["--tv-weight", "NaN"]), &["--tv-weight"]);
    fails_cleanly(w, &t(&["--scales", "64,32"]), &["--scales", "increase"]);
    fails_cleanly(w, &l(&["--sample", "3"]), &["--sample", "2 images"]);
    fails_cleanly(
        w,
        &t(&["--style-layers", "relu1_1,relu1_1"]),
        &["--style-layers", "twice"],
    );
    fails_cleanly(
        w,
        &l(&["--layers", "relu2_1,relu2_1"]),
        &["--layers", "twice"],
    );
    fails_cleanly(w, &l(&["--max-side", "0"]), &["--max-side"]);
    fails_cleanly(w, &l(&["--max-side", "18"]), &["16 px", "b.png"]);
    fails_cleanly(w, &t(&["--size", "100000"]), &["memory", "would fit"]);
    fails_cleanly(w, &t(&["--scales", "32,100000"]), &["memory"]);
    fails_cleanly(w, &t(&["--style-scale", "1000"]), &["memory"]);
    // `transfer --iters 0` optimises nothing (the photo as the colour mode makes it); a learned
    // image needs at least one iteration.
    fails_cleanly(
        w,
        &[
            "learn", "{}/ds", "-o", "{}/l.png", "--size", "32", "--iters", "0",
        ],
        &["--iters"],
    );
    fails_cleanly(
        w,
        &[
            "compare",
            "{}/photo.png",
            "{}/style.png",
            "--layers",
            "relu1_1,relu1_1",
        ],
        &["twice"],
    );
    fails_cleanly(w, &["bench", "--sizes", "0"], &["--sizes"]);
}

#[test]
fn weights_files_are_read_strictly() {
    let ws = workspace();
    let w = ws.path();
    let learn = with_fast(&[
        "learn",
        "{}/ds",
        "--weights",
        "{}/bad.csv",
        "-o",
        "{}/l.png",
    ]);
    for (text, needle) in [
        ("a.png,abc\nb.png,1\n", "not a number"),
        ("a.png,1,extra\nb.png,1\n", "expected `file,weight`"),
        ("a.png,1\na.png,2\n", "already given"),
        ("c.png,1\n", "not in the dataset"),
    ] {
        std::fs::write(w.join("bad.csv"), text).unwrap();
        fails_cleanly(w, &learn, &[needle]);
    }
    // A BOM and a header are fine; an unlisted image is left out and the summary says so.
    std::fs::write(w.join("bad.csv"), "\u{feff}file,weight\na.png,1\n").unwrap();
    let root = w.to_str().unwrap();
    let args: Vec<String> = [
        "learn",
        "{}/ds",
        "--weights",
        "{}/bad.csv",
        "-o",
        "{}/l.png",
    ]
    .iter()
    .chain(FAST.iter())
    .map(|a| a.replace("{}", root))
    .collect();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = cli(&refs);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("left out"), "{}", stderr(&o));
    assert!(stderr(&o).contains("b.png"), "{}", stderr(&o));
}

#[test]
fn damaged_profiles_and_mask_paths_are_named() {
    let ws = workspace();
    let w = ws.path();
    let root = w.to_str().unwrap();
    let o = cli(&[
        "profile",
        &format!("{root}/ds"),
        "-o",
        &format!("{root}/p.safetensors"),
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // One flipped bit in the tensor data: the checksum catches it.
    let mut bytes = std::fs::read(w.join("p.safetensors")).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 0x10;
    std::fs::write(w.join("flipped.safetensors"), &bytes).unwrap();
    let t = |p: &'static str| {
        with_fast(&[
            "transfer",
            "{}/photo.png",
            "--style-profile",
            p,
            "-o",
            "{}/o.png",
        ])
    };
    fails_cleanly(
        w,
        &t("{}/flipped.safetensors"),
        &["flipped.safetensors", "checksum"],
    );
    // Valid metadata and checksum, wrong shapes: a Gram "profile" of 3×3 matrices.
    let dev = burn::tensor::Device::flex();
    let mut wrong = stylelearn::style::StyleTarget {
        statistic: stylelearn::style::StatisticKind::Gram,
        layers: vec![0, 2, 4, 8, 12],
        summaries: (0..5)
            .map(|_| {
                stylelearn::style::Summary(vec![burn::tensor::Tensor::<2>::ones([3, 3], &dev)])
            })
            .collect(),
        total_weight: 1.0,
        sources: vec![("x".into(), 1.0)],
        palette: None,
        detail: None,
        swatches: None,
        blocks: None,
    };
    wrong.save(&w.join("shapes.safetensors")).unwrap();
    fails_cleanly(
        w,
        &t("{}/shapes.safetensors"),
        &["shapes.safetensors", "shapes"],
    );
    // A detail distribution of the wrong size (a damaged or foreign profile).
    wrong.detail = Some(stylelearn::detail::Detail {
        hist: vec![vec![vec![1.0; 3]]],
        long_side: 64.0,
        finer: Vec::new(),
    });
    wrong.save(&w.join("detail.safetensors")).unwrap();
    fails_cleanly(
        w,
        &t("{}/detail.safetensors"),
        &["detail.safetensors", "damaged", "make it again"],
    );
    // Swatches whose shares do not sum to 1.
    wrong.detail = None;
    wrong.swatches = Some(stylelearn::posterise::Swatches {
        colours: vec![([1, 2, 3], 0.5), ([4, 5, 6], 0.25)],
        isolated: None,
        ..Default::default()
    });
    wrong.save(&w.join("swatches.safetensors")).unwrap();
    fails_cleanly(
        w,
        &t("{}/swatches.safetensors"),
        &["swatches.safetensors", "damaged", "make it again"],
    );
    // A palette whose black and white points lie outside [0, 1].
    wrong.swatches = None;
    let mut palette = stylelearn::color::Palette::of(&stylelearn::image_io::noise(8, 8, 1), None);
    palette.levels = Some(stylelearn::color::Levels {
        black: [0.1, 0.1, -3.0],
        white: [0.9, 0.9, 0.9],
    });
    wrong.palette = Some(palette);
    wrong.save(&w.join("palette.safetensors")).unwrap();
    fails_cleanly(
        w,
        &t("{}/palette.safetensors"),
        &["palette.safetensors", "damaged", "make it again"],
    );
    // A vignette that would turn the corners negative.
    let mut palette = stylelearn::color::Palette::of(&stylelearn::image_io::noise(8, 8, 1), None);
    palette.vignette = Some(stylelearn::vignette::Vignette { strength: 5.0 });
    wrong.palette = Some(palette);
    wrong.save(&w.join("vignette.safetensors")).unwrap();
    fails_cleanly(
        w,
        &t("{}/vignette.safetensors"),
        &["vignette.safetensors", "damaged", "make it again"],
    );
    std::fs::write(w.join("mask.png"), b"x").unwrap();
    fails_cleanly(
        w,
        &with_fast(&["learn", "{}/ds", "--masks", "{}/mask.png", "-o", "{}/l.png"]),
        &["is a file"],
    );
}

#[test]
fn a_learn_output_inside_its_dataset_is_not_learned_from_next_time() {
    let ws = workspace();
    let root = ws.path().to_str().unwrap();
    let run = || {
        let o = cli(&[
            "learn",
            &format!("{root}/ds"),
            "-o",
            &format!("{root}/ds/style.png"),
            "--size",
            "32",
            "--iters",
            "2",
            "--snapshots",
            "1",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        stderr(&o)
    };
    assert!(run().contains("learned from 2 images"));
    assert!(ws.path().join("ds/style.iter00001.png").exists());
    let second = run();
    assert!(second.contains("learned from 2 images"), "{second}");
}

#[cfg(unix)]
#[test]
fn side_files_of_a_non_utf8_output_keep_its_name() {
    use std::os::unix::ffi::OsStrExt;
    let ws = workspace();
    let w = ws.path();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.png");
    let out = w.join(name);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_stylelearn"))
        .arg("transfer")
        .arg(w.join("photo.png"))
        .arg("--style")
        .arg(w.join("style.png"))
        .arg("-o")
        .arg(&out)
        .args(FAST)
        .arg("-q")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.exists());
    assert!(
        w.join(std::ffi::OsStr::from_bytes(b"caf\xe9.log.csv"))
            .exists()
    );
    assert!(!w.join("out.log.csv").exists());
}

#[test]
fn damaged_weights_and_archives_are_named_in_plain_text() {
    let ws = workspace();
    let w = ws.path();
    // A copy of the cached weights with one value made NaN: refused, naming the file.
    weights(); // fetched once if missing
    let cache = stylelearn::setup::cached_weights_path();
    let mut bytes = std::fs::read(&cache).unwrap();
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    bytes[8 + header..12 + header].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(w.join("nan.safetensors"), &bytes).unwrap();
    drop(bytes);
    fails_cleanly(
        w,
        &with_fast(&[
            "transfer",
            "{}/photo.png",
            "--style",
            "{}/style.png",
            "-o",
            "{}/o.png",
            "--vgg",
            "{}/nan.safetensors",
        ]),
        &["nan.safetensors", "non-finite"],
    );
    std::fs::remove_file(w.join("nan.safetensors")).unwrap();

    // A damaged archive whose tar header is binary noise: the error names the file and quotes
    // no raw bytes.
    let mut tar = vec![0u8; 1024];
    tar[..6].copy_from_slice(b"hello/");
    for (i, b) in tar[100..300].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(151).wrapping_add(7);
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    std::fs::write(w.join("bad.tar.gz"), gz.finish().unwrap()).unwrap();
    let home = w.join("home");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_stylelearn"))
        .args(["setup", "--from", w.join("bad.tar.gz").to_str().unwrap()])
        .env("STYLELEARN_HOME", &home)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let line = err.lines().find(|l| l.starts_with("error:")).unwrap();
    assert!(
        line.contains("bad.tar.gz") && line.contains("damaged"),
        "{err}"
    );
    assert!(
        line.chars()
            .all(|c| c.is_ascii_graphic() || c == ' ' || c == '…'),
        "raw bytes in the message: {line:?}"
    );
    assert!(line.chars().count() < 400, "{line}");
    assert!(!home.join("vgg19-caffe.safetensors").exists());
}
