//! The HTML report (`OUT.html`) of a tiny learn and a tiny transfer run through the CLI, checked
//! as files and rendered in headless Chromium: every linked file exists, every image loads
//! (non-zero naturalWidth), the screenshot is a non-empty PNG, and the live page of a running
//! transfer is replaced by the final one.
//!
//! Needs Chromium (Debian package `chromium`, or `STYLELEARN_CHROMIUM=/path/to/browser`).
//! Without it the test fails when `CI=true` and is skipped (saying why) otherwise.
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use stylelearn::image_io;

const STYLE: &str = "tests/data/reference/style.png";
const CONTENT: &str = "tests/data/reference/content.png";

fn find_chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("STYLELEARN_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::iter::once(PathBuf::from("/usr/bin"))
        .chain(std::env::split_paths(&path))
        .collect();
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ] {
        for d in &dirs {
            let p = d.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// The browser, or `None` (skip) when there is none and this is not CI.
fn chromium() -> Option<PathBuf> {
    match find_chromium() {
        Some(c) => Some(c),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => panic!(
            "chromium is not installed: the report test renders the reports in headless Chromium \
             (apt-get install chromium, as .ci/run does, or set STYLELEARN_CHROMIUM)"
        ),
        None => {
            eprintln!(
                "SKIPPED: chromium not found (apt-get install chromium, or set STYLELEARN_CHROMIUM); \
                 with CI=true this test fails instead"
            );
            None
        }
    }
}

/// Runs headless Chromium on the page `html` with `extra` flags; returns its stdout.
fn browse(browser: &Path, html: &Path, extra: &[&str]) -> String {
    let profile = tmp();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", html.canonicalize().unwrap().display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s on {}", html.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "chromium failed on {}: {}",
        html.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Every `attr="…"` value in `html`.
fn attrs(html: &str, attr: &str) -> Vec<String> {
    let key = format!("{attr}=\"");
    html.match_indices(&key)
        .map(|(i, _)| {
            let rest = &html[i + key.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Checks the page `html` in the browser: links, images, screenshot. Returns the page text.
fn check_page(browser: &Path, html: &Path, min_images: usize) -> String {
    let text = std::fs::read_to_string(html).unwrap();
    let dir = html.parent().unwrap();
    // Every linked file exists (relative links only: the page must not point elsewhere).
    let mut links = attrs(&text, "src");
    links.extend(attrs(&text, "href"));
    assert!(!links.is_empty(), "{} links nothing", html.display());
    for l in &links {
        if l.starts_with("data:image/png;base64,") {
            continue;
        }
        assert!(
            !l.contains("://") && !l.starts_with('/'),
            "{}: not a relative link: {l}",
            html.display()
        );
        let p = dir.join(percent_decode(l));
        assert!(p.is_file(), "{}: {l} links a missing file", html.display());
    }
    // A test-only copy beside it writes each image's naturalWidth into the page once loaded.
    let check = dir.join(".report-check.html");
    let script = "<script>addEventListener('load',()=>{const p=document.createElement('pre');\
p.id='imgcheck';p.textContent=[...document.images].map(i=>i.naturalWidth+' '+i.getAttribute('src').slice(0,60)).join('\\n');\
document.body.appendChild(p);});</script>";
    let copy = text
        .replace("<meta http-equiv=refresh", "<meta data-was-refresh")
        .replace("</html>", &format!("{script}</html>"));
    std::fs::write(&check, copy).unwrap();
    let dom = browse(browser, &check, &["--dump-dom"]);
    let start = dom
        .find("<pre id=\"imgcheck\">")
        .unwrap_or_else(|| panic!("{}: the check script did not run:\n{dom}", html.display()));
    let body = &dom[start + "<pre id=\"imgcheck\">".len()..];
    let body = &body[..body.find("</pre>").unwrap()];
    let images: Vec<&str> = body.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        images.len(),
        text.matches("<img ").count(),
        "{}: images in the DOM:\n{body}",
        html.display()
    );
    assert!(
        images.len() >= min_images,
        "{}: {} images, expected at least {min_images}",
        html.display(),
        images.len()
    );
    for l in &images {
        let w: u32 = l.split(' ').next().unwrap().parse().unwrap();
        assert!(w > 0, "{}: an image did not load: {l}", html.display());
    }
    // The page renders to a non-empty PNG that is not blank (the copy: a live page's reload
    // would keep the browser's virtual time from running out).
    let shot = tmp();
    let png = shot.path().join("shot.png");
    browse(
        browser,
        &check,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1200,1600",
        ],
    );
    std::fs::remove_file(&check).unwrap();
    let bytes = std::fs::read(&png).expect("a screenshot");
    assert!(
        bytes.len() > 1000 && bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{}: the screenshot is not a PNG ({} bytes)",
        html.display(),
        bytes.len()
    );
    let img = image_io::load(&png).unwrap();
    let first = &img.data[..1];
    assert!(
        img.data.iter().any(|v| (v - first[0]).abs() > 0.1),
        "{}: the screenshot is blank",
        html.display()
    );
    text
}

#[test]
fn learn_and_transfer_reports_render_with_every_file_and_image() {
    let Some(browser) = chromium() else { return };
    let dir = tmp();
    let (ds, masks) = (dir.path().join("ds"), dir.path().join("masks"));
    std::fs::create_dir_all(&ds).unwrap();
    std::fs::create_dir_all(&masks).unwrap();
    let style = image_io::load(&data(STYLE)).unwrap();
    let content = image_io::load(&data(CONTENT)).unwrap();
    for (name, img, w, h) in [("a b", &style, 48, 40), ("c", &content, 40, 48)] {
        img.resize(w, h)
            .save(&ds.join(format!("{name}.png")))
            .unwrap();
        two_colour(w, h, w / 2, [1.0; 3], [0.0; 3])
            .save(&masks.join(format!("{name}.png")))
            .unwrap();
    }
    let weights = dir.path().join("w.csv");
    std::fs::write(&weights, "a b.png,2\nc.png,1\n").unwrap();
    // learn: the report lies in another folder than the dataset, so links climb out of it.
    let out = dir.path().join("out/style.png");
    let o = cli(&[
        "learn",
        ds.to_str().unwrap(),
        "--weights",
        weights.to_str().unwrap(),
        "--masks",
        masks.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--size",
        "32",
        "--iters",
        "3",
        "--snapshots",
        "1,2",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report = dir.path().join("out/style.html");
    // 2 images + 2 masks + 2 snapshots + the learned image + the curve plot.
    let text = check_page(&browser, &report, 8);
    assert!(
        !text.contains("http-equiv=refresh"),
        "the final page reloads"
    );
    for needle in [
        "../ds/a%20b.png",
        "../masks/c.png",
        "weight 2",
        "style.profile.safetensors",
        "style.curve.png",
        "Elapsed time",
        "relu5_4",
    ] {
        assert!(text.contains(needle), "learn report lacks {needle}");
    }

    // transfer from two style images, snapshots on.
    let photo = dir.path().join("photo.png");
    content.resize(40, 32).save(&photo).unwrap();
    let out = dir.path().join("res/t.png");
    let o = cli(&[
        "transfer",
        photo.to_str().unwrap(),
        "--style",
        &format!(
            "{},{}",
            ds.join("a b.png").display(),
            ds.join("c.png").display()
        ),
        "--style-blend",
        "3,1",
        "-o",
        out.to_str().unwrap(),
        "--size",
        "32",
        "--iters",
        "3",
        "--save-every",
        "1",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = check_page(&browser, &dir.path().join("res/t.html"), 6);
    for needle in [
        "<svg",
        "<polyline",
        "t.log.csv",
        "blend weight 3",
        "../photo.png",
    ] {
        assert!(text.contains(needle), "transfer report lacks {needle}");
    }
    assert!(
        !text.contains("http-equiv=refresh"),
        "the final page reloads"
    );
}

#[test]
fn a_running_transfer_shows_a_live_page_that_the_final_report_replaces() {
    let Some(browser) = chromium() else { return };
    let dir = tmp();
    let out = dir.path().join("live.png");
    let report = dir.path().join("live.html");
    std::fs::write(&report, "an earlier report").unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_stylelearn"))
        .args([
            "transfer",
            data(CONTENT).to_str().unwrap(),
            "--style",
            data(STYLE).to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--size",
            "32",
            "--iters",
            "100000",
            "-q",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for a live page with the latest image in it.
    let start = Instant::now();
    let live = loop {
        let text = std::fs::read_to_string(&report).unwrap_or_default();
        if text.contains("running") && text.contains("data:image/png") {
            break text;
        }
        assert!(start.elapsed().as_secs() < 120, "no live page within 120 s");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(live.contains("http-equiv=refresh"), "{live}");
    let kept = dir.path().join("kept.html");
    std::fs::write(&kept, &live).unwrap();
    let k = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(k.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let done = std::fs::read_to_string(&report).unwrap();
    assert!(
        done.contains("Stopped") && !done.contains("http-equiv=refresh"),
        "{done}"
    );
    // The live page (its latest image inline) renders too.
    check_page(&browser, &kept, 2);
    check_page(&browser, &report, 2);
    let hidden: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".stylelearn"))
        .collect();
    assert!(hidden.is_empty(), "left behind: {hidden:?}");
}

#[test]
fn the_report_is_checked_like_any_output() {
    let dir = tmp();
    let log = dir.path().join("o.html");
    let o = cli(&[
        "transfer",
        data(CONTENT).to_str().unwrap(),
        "--style",
        data(STYLE).to_str().unwrap(),
        "-o",
        dir.path().join("o.png").to_str().unwrap(),
        "--log",
        log.to_str().unwrap(),
        "-q",
    ]);
    let e = stderr(&o);
    assert!(!o.status.success() && e.contains("report"), "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
