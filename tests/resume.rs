//! Resumable runs: a learn run killed with SIGKILL after a checkpoint continues with `--resume`
//! to the same result as an uninterrupted run; `--resume` without a usable checkpoint is
//! refused and changes nothing.
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use stylelearn::image_io;

/// Names and sizes of the files in `dir`.
fn listing(dir: &Path) -> BTreeMap<PathBuf, u64> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.path(), e.metadata().unwrap().len())
        })
        .collect()
}

/// A folder with a one-image dataset.
fn workspace() -> tempfile::TempDir {
    let dir = tmp();
    std::fs::create_dir(dir.path().join("ds")).unwrap();
    image_io::load(&data("tests/data/reference/style.png"))
        .unwrap()
        .resize(40, 40)
        .save(&dir.path().join("ds/a.png"))
        .unwrap();
    dir
}

/// `learn` of the workspace's dataset into `out` (32², 40 Adam iterations), plus `extra`.
fn learn_args(ws: &Path, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "learn",
        ws.join("ds").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--size",
        "32",
        "--iters",
        "40",
        "--optimizer",
        "adam",
        "-q",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn run(args: &[String]) -> std::process::Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    cli(&refs)
}

/// The curve CSV's (iteration, evaluations, total) rows.
fn curve(path: &Path) -> Vec<(usize, usize, f64)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[3].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_killed_learn_run_resumes_to_the_same_result() {
    let ws = workspace();
    let w = ws.path();
    // The uninterrupted run.
    let whole = w.join("whole/o.png");
    let o = run(&learn_args(w, &whole, &["--checkpoint-every", "0"]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!w.join("whole/o.checkpoint").exists());
    let expected = curve(&w.join("whole/o.curve.csv"));
    assert_eq!(expected.len(), 40);

    // The same run, killed with SIGKILL once it has written its first checkpoint.
    let out = w.join("run/o.png");
    let ckpt = w.join("run/o.checkpoint");
    let args = learn_args(w, &out, &["--checkpoint-every", "5"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_stylelearn"))
        .args(&args)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !ckpt.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its first checkpoint"
        );
        assert!(
            start.elapsed().as_secs() < 120,
            "no checkpoint within 120 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "the run finished before it was killed");
    assert!(ckpt.exists());
    assert!(!out.exists(), "a killed run published its image");

    // Other settings are refused, naming the checkpoint and the setting; nothing changes.
    let before = listing(&w.join("run"));
    let mut other = learn_args(w, &out, &["--resume"]);
    other[7] = "50".into(); // --iters
    let o = run(&other);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("o.checkpoint") && err.contains("iters: 40 then, 50 now"),
        "{err}"
    );
    assert_eq!(listing(&w.join("run")), before);

    // Resumed: the curve continues the old one, each iteration once, to the same loss.
    let o = run(&learn_args(
        w,
        &out,
        &["--checkpoint-every", "5", "--resume"],
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let got = curve(&w.join("run/o.curve.csv"));
    let iters: Vec<usize> = got.iter().map(|r| r.0).collect();
    assert_eq!(iters, (1..=40).collect::<Vec<_>>());
    assert_eq!(got[39].1, 40, "evaluations count on across the resume");
    let (a, b) = (expected[39].2, got[39].2);
    // Adam's moments are restored, so the resumed run takes the same steps.
    assert!(
        ((a - b) / a).abs() < 1e-5,
        "final loss {b} after resuming, {a} uninterrupted"
    );
    assert!(image_io::load(&out).is_ok());
    assert!(w.join("run/o.profile.safetensors").exists());
    // No checkpoint and no partial file remain.
    let left: Vec<String> = std::fs::read_dir(w.join("run"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') || n.ends_with(".checkpoint"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn resume_without_a_checkpoint_is_refused_and_changes_nothing() {
    let ws = workspace();
    let w = ws.path();
    let before = listing(w);
    let out = w.join("o.png");
    let o = run(&learn_args(w, &out, &["--resume"]));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("o.checkpoint") && err.contains("no checkpoint"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(listing(w), before);
    // A transfer too, and a damaged checkpoint is refused by name.
    std::fs::write(w.join("t.checkpoint"), b"\x00\x01not a checkpoint").unwrap();
    let before = listing(w);
    let photo = w.join("ds/a.png");
    let style = data("tests/data/reference/style.png");
    let o = cli(&[
        "transfer",
        photo.to_str().unwrap(),
        "--style",
        style.to_str().unwrap(),
        "-o",
        w.join("t.png").to_str().unwrap(),
        "--size",
        "32",
        "--iters",
        "2",
        "--resume",
        "-q",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("t.checkpoint") && err.contains("not a readable"),
        "{err}"
    );
    assert_eq!(listing(w), before);
}

#[test]
fn an_interrupted_pyramid_transfer_resumes_from_its_stage() {
    // Ctrl-C writes a checkpoint where the run stopped; --resume finishes the pyramid.
    let ws = workspace();
    let w = ws.path();
    let photo = data("tests/data/reference/content.png");
    let style = data("tests/data/reference/style.png");
    let out = w.join("t.png");
    let args = |extra: &[&str]| {
        let mut v = vec![
            "transfer".to_string(),
            photo.to_str().unwrap().into(),
            "--style".into(),
            style.to_str().unwrap().into(),
            "-o".into(),
            out.to_str().unwrap().into(),
            "--scales".into(),
            "32,48".into(),
            "--iters".into(),
            "30".into(),
            "--optimizer".into(),
            "adam".into(),
            "--checkpoint-every".into(),
            "1000".into(),
            "-q".into(),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let child = Command::new(env!("CARGO_BIN_EXE_stylelearn"))
        .args(args(&[]))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt in the second stage.
    let log = w.join(".stylelearn-partial.t.log.csv");
    let start = Instant::now();
    while std::fs::read_to_string(&log)
        .map(|s| s.lines().count() < 34)
        .unwrap_or(true)
    {
        assert!(start.elapsed().as_secs() < 120, "no progress within 120 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    let k = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(k.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(stderr(&o).contains("--resume"), "{}", stderr(&o));
    assert!(w.join("t.checkpoint").exists());
    let o = run(&args(&["--resume"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let log = std::fs::read_to_string(w.join("t.log.csv")).unwrap();
    let rows: Vec<(usize, usize)> = log
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().unwrap(), f[2].parse().unwrap())
        })
        .collect();
    let iters: Vec<usize> = rows.iter().map(|r| r.0).collect();
    assert_eq!(iters, (1..=60).collect::<Vec<_>>());
    assert!(
        rows.iter().all(|&(i, s)| s == usize::from(i > 30)),
        "{rows:?}"
    );
    // The run report's curve (total loss) has every iteration, not only the resumed ones.
    let html = std::fs::read_to_string(w.join("t.html")).unwrap();
    let i = html.find("<polyline").expect("a curve in the report");
    let pts = html[i..].split("points=\"").nth(1).unwrap();
    let pts = &pts[..pts.find('"').unwrap()];
    assert_eq!(pts.split(' ').count(), 60, "{pts}");
    let img = image_io::load(&out).unwrap();
    assert_eq!(img.width.max(img.height), 48);
    assert!(!w.join("t.checkpoint").exists());
}
