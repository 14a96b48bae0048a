//! `transfer` over many photos into a folder: outputs named after the photos, a bad photo
//! reported and skipped (leaving no file), done photos skipped on rerun, name clashes and a
//! file given as the output folder refused before any work, the style summarised once.
mod common;

use std::path::{Path, PathBuf};

use common::*;
use stylelearn::batch::{BatchFiles, ItemResult, TransferBatch};
use stylelearn::image_io;
use stylelearn::observe::{Notice, Observer};
use stylelearn::transfer::{StyleSource, TransferSettings};

const STYLE: &str = "tests/data/reference/style.png";
const CONTENT: &str = "tests/data/reference/content.png";

/// A folder with two good photos and a PNG cut in half (its header reads, its pixels do not).
fn photos(dir: &Path) -> PathBuf {
    let photos = dir.join("photos");
    std::fs::create_dir(&photos).unwrap();
    let content = image_io::load(&data(CONTENT)).unwrap();
    content.save(&photos.join("a.png")).unwrap();
    content
        .fit_long_side(100)
        .save(&photos.join("b.jpg"))
        .unwrap();
    let bytes = std::fs::read(photos.join("a.png")).unwrap();
    std::fs::write(photos.join("c.png"), &bytes[..bytes.len() / 2]).unwrap();
    photos
}

fn batch_cli(inputs: &[&Path], out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args: Vec<String> = vec!["transfer".into()];
    args.extend(inputs.iter().map(|p| p.to_str().unwrap().to_string()));
    let style = data(STYLE);
    args.extend(
        [
            "--style",
            style.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--size",
            "32",
            "--iters",
            "2",
        ]
        .map(String::from),
    );
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    cli(&refs)
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_folder_is_stylised_a_bad_photo_fails_alone_and_a_rerun_skips_the_done_ones() {
    let dir = tmp();
    let photos = photos(dir.path());
    let out = dir.path().join("styled");
    let o = batch_cli(&[&photos], &out, &[]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains("2 done, 0 skipped, 1 failed"), "{e}");
    assert!(
        e.contains("c.png") && e.contains("not a readable image"),
        "{e}"
    );
    assert!(!e.contains("panicked"), "{e}");
    assert_eq!(
        names(&out),
        [
            "a.html",
            "a.log.csv",
            "a.png",
            "b.html",
            "b.log.csv",
            "b.png"
        ],
        "the bad photo leaves no file, partial or final"
    );
    for name in ["a.png", "b.png"] {
        let img = image_io::load(&out.join(name)).unwrap();
        assert_eq!(img.width.max(img.height), 32, "{name}");
    }
    let log = std::fs::read_to_string(out.join("a.log.csv")).unwrap();
    assert_eq!(log.lines().count(), 1 + 2, "header + 2 iterations:\n{log}");

    let before: Vec<_> = ["a.png", "b.png", "a.log.csv"]
        .iter()
        .map(|n| {
            let p = out.join(n);
            (
                std::fs::read(&p).unwrap(),
                std::fs::metadata(&p).unwrap().modified().unwrap(),
            )
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let o = batch_cli(&[&photos], &out, &[]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "the bad photo still fails: {e}");
    assert!(e.contains("0 done, 2 skipped, 1 failed"), "{e}");
    assert!(e.contains("skipped"), "{e}");
    let after: Vec<_> = ["a.png", "b.png", "a.log.csv"]
        .iter()
        .map(|n| {
            let p = out.join(n);
            (
                std::fs::read(&p).unwrap(),
                std::fs::metadata(&p).unwrap().modified().unwrap(),
            )
        })
        .collect();
    assert!(before == after, "a rerun rewrote a done photo's files");
    assert_eq!(names(&out).len(), 6);
}

#[test]
fn two_photos_with_one_stem_are_refused_before_any_work() {
    let dir = tmp();
    let photos = photos(dir.path());
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::copy(photos.join("a.png"), other.join("a.webp")).unwrap();
    let out = dir.path().join("styled");
    let o = batch_cli(&[&photos, &other.join("a.webp")], &out, &[]);
    let e = stderr(&o);
    assert!(!o.status.success());
    assert!(
        e.contains("a.png") && e.contains("a.webp") && e.contains("would both be written"),
        "{e}"
    );
    assert!(!out.exists(), "nothing may be written: {:?}", names(&out));
}

#[test]
fn an_existing_file_as_the_output_folder_is_refused() {
    let dir = tmp();
    let photos = photos(dir.path());
    let file = dir.path().join("out.png");
    std::fs::write(&file, b"keep me").unwrap();
    let o = batch_cli(&[&photos], &file, &[]);
    let e = stderr(&o);
    assert!(!o.status.success());
    assert!(e.contains("out.png") && e.contains("folder"), "{e}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    assert_eq!(names(dir.path()), ["out.png", "photos"]);
    // --log names one file and --format is for folders: each refused with its flag.
    let o = batch_cli(&[&photos], &dir.path().join("o"), &["--log", "x.csv"]);
    assert!(!o.status.success() && stderr(&o).contains("--log"));
    let o = batch_cli(
        &[&photos.join("a.png")],
        &dir.path().join("o.png"),
        &["--format", "jpg"],
    );
    assert!(!o.status.success() && stderr(&o).contains("--format"));
    assert_eq!(names(dir.path()), ["out.png", "photos"]);
}

/// Records the batch's notices.
#[derive(Default)]
struct Notices(Vec<String>);
impl Observer for Notices {
    fn notice(&mut self, n: &Notice) {
        let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
        self.0.push(match n {
            Notice::PhotoStarted { photo, .. } => format!("start {}", name(photo)),
            Notice::PhotoDone { photo, .. } => format!("done {}", name(photo)),
            Notice::PhotoSkipped { photo, .. } => format!("skip {}", name(photo)),
            Notice::PhotoFailed { photo, .. } => format!("fail {}", name(photo)),
            other => format!("{other:?}"),
        });
    }
}

#[test]
fn the_library_summarises_the_style_once_and_reports_every_photo() {
    let dir = tmp();
    let photos = photos(dir.path());
    let out = dir.path().join("styled");
    let settings = TransferSettings {
        size: 32,
        iters: 2,
        ..TransferSettings::new(
            PathBuf::new(),
            StyleSource::Images(vec![(data(STYLE), 1.0)]),
        )
    };
    let files = BatchFiles {
        out_dir: out.clone(),
        format: "jpg".into(),
        snapshot_every: None,
    };
    let net = net();
    let batch = TransferBatch::new(settings, &[photos], files, net.device()).unwrap();
    let mut seen = Notices::default();
    let r = batch.run(&net, &mut seen);
    assert_eq!(
        seen.0,
        [
            "start a.png",
            "done a.png",
            "start b.jpg",
            "done b.jpg",
            "start c.png",
            "fail c.png"
        ]
    );
    assert_eq!((r.done(), r.skipped(), r.failed()), (2, 0, 1));
    assert!(matches!(&r.results[2], ItemResult::Failed(_)));
    assert_eq!(
        r.style_summaries, 1,
        "one output size: the style is summarised once"
    );
    assert_eq!(
        names(&out),
        [
            "a.html",
            "a.jpg",
            "a.log.csv",
            "b.html",
            "b.jpg",
            "b.log.csv"
        ]
    );
}

#[test]
fn ctrl_c_stops_the_batch_and_leaves_the_photo_in_progress_unwritten() {
    let dir = tmp();
    let photos = photos(dir.path());
    let out = dir.path().join("styled");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_stylelearn"))
        .args([
            "transfer",
            photos.to_str().unwrap(),
            "--style",
            data(STYLE).to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--size",
            "48",
            "--iters",
            "100000",
            "-q",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let log = out.join(".stylelearn-partial.a.log.csv");
    let start = std::time::Instant::now();
    while std::fs::read_to_string(&log)
        .map(|s| s.lines().count() < 3)
        .unwrap_or(true)
    {
        assert!(start.elapsed().as_secs() < 120, "no progress within 120 s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let k = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(k.success());
    let o = child.wait_with_output().unwrap();
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(130), "{e}");
    assert!(
        e.contains("interrupted") && e.contains("not written"),
        "{e}"
    );
    // A stopped photo is not published (a rerun would take it for done); nothing is left.
    let left = if out.exists() {
        names(&out)
    } else {
        Vec::new()
    };
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn one_photo_into_an_existing_folder_is_named_after_the_photo() {
    let dir = tmp();
    let photos = photos(dir.path());
    let out = dir.path().join("styled");
    std::fs::create_dir(&out).unwrap();
    let o = batch_cli(&[&photos.join("b.jpg")], &out, &["--format", "webp"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(names(&out), ["b.html", "b.log.csv", "b.webp"]);
    let img = image_io::load(&out.join("b.webp")).unwrap();
    assert_eq!(img.width.max(img.height), 32);
}
