//! A run's report: `OUT.html` beside its outputs, showing what went in (dataset thumbnails
//! with weights and masks, or the photo and the style), what came out (snapshots, the result,
//! the curve), the settings and the elapsed time. Files are linked by relative path, so the
//! page works wherever the folder is opened; a file that has no relative path from the page
//! (another drive, a name that is not UTF-8) is named as text.
//!
//! The report is an output like any other: declared in the job's [`crate::outputs::OutputSet`]
//! (so it may not replace an input or another output), and its final page is written into a
//! partial file and published with the rest by [`crate::outputs::Staged::commit`].
//!
//! **Live view.** While the run goes, [`LivePage`] writes a *live* page to the final name
//! `OUT.html` itself (a partial file is hidden, so it could not be watched): it says
//! "running…", shows the stage, the latest image and the curve so far, and reloads itself every
//! few seconds (`<meta http-equiv=refresh>`). When the run is published, the final page (without
//! the reload) replaces it, so an open tab ends on the final page. A failed run, or a stopped
//! one that is not published (a batch's photo), removes the live page and puts back the
//! `OUT.html` that was there before, which is kept meanwhile as a hidden
//! `.stylelearn-partial.previous.OUT.html`: the folder ends as it was. Only a hard kill leaves
//! the live page (and that hidden copy) behind; the next run to the same output replaces them.
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::files::snapshot_path;
use crate::image_io::{Rgb, write_atomic};
use crate::learn::LearnPlan;
use crate::observe::{Control, Notice, Observer, Stage, StageKind, Step};
use crate::outputs::{PARTIAL_PREFIX, sibling};
use crate::transfer::{StyleSource, TransferPlan};

/// The report of the output image `output`: `OUT.html` beside it.
pub fn report_path(output: &Path) -> PathBuf {
    sibling(output, ".html")
}

/// The live page is rewritten at most this often (and at every stage).
const LIVE_EVERY: Duration = Duration::from_secs(2);
/// The live page reloads itself every this many seconds.
const RELOAD_SECONDS: u32 = 3;

/// What a run has done so far, for the live and the final page.
#[derive(Default)]
pub struct RunState {
    /// What the run is doing (live) or how it ended (final).
    pub status: String,
    /// (iteration, total, content, style) of every step.
    pub rows: Vec<(usize, f64, f64, f64)>,
    /// The latest image as PNG bytes (live page only: shown inline).
    pub image: Option<Vec<u8>>,
    /// Dataset images left out while reading (`--skip-bad`), with why.
    pub skipped: Vec<(PathBuf, String)>,
    /// Seconds since the run started.
    pub seconds: f64,
    /// True while the run goes (the page reloads itself).
    pub running: bool,
}

/// The live page at `OUT.html` while a run goes; see the module doc. Call [`LivePage::finish`]
/// once the final page is published; dropped before that, it removes the live page and puts
/// back the file it replaced.
pub struct LivePage {
    path: PathBuf,
    backup: Option<PathBuf>,
    shown: bool,
    finished: bool,
    started: Instant,
    last: Option<Instant>,
    pub state: RunState,
}

impl LivePage {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            backup: None,
            shown: false,
            finished: false,
            started: Instant::now(),
            last: None,
            state: RunState {
                status: "starting".into(),
                running: true,
                ..RunState::default()
            },
        }
    }

    /// Seconds since the page (the run) started.
    pub fn seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// True when the page is due for a rewrite.
    fn due(&self) -> bool {
        self.last.is_none_or(|t| t.elapsed() >= LIVE_EVERY)
    }

    /// Writes `html` to `OUT.html`, first moving aside a file already there.
    pub fn show(&mut self, html: &str) -> Result<()> {
        let fail = |e: String| Error::Output {
            path: self.path.clone(),
            problem: e,
        };
        if !self.shown && self.path.exists() {
            let mut name = OsString::from(PARTIAL_PREFIX);
            name.push("previous.");
            name.push(self.path.file_name().expect("an output names a file"));
            let backup = self.path.with_file_name(name);
            std::fs::rename(&self.path, &backup)
                .map_err(|e| fail(format!("cannot move the earlier report aside: {e}")))?;
            self.backup = Some(backup);
        }
        self.shown = true;
        self.last = Some(Instant::now());
        write_atomic(&self.path, html.as_bytes()).map_err(|e| fail(format!("{e:#}")))
    }

    /// The final page was published over the live one: drop the earlier report's copy.
    pub fn finish(mut self) {
        self.finished = true;
        if let Some(b) = self.backup.take() {
            let _ = std::fs::remove_file(b);
        }
    }
}

impl Drop for LivePage {
    fn drop(&mut self) {
        if self.finished || !self.shown {
            return;
        }
        let _ = std::fs::remove_file(&self.path);
        if let Some(b) = &self.backup {
            let _ = std::fs::rename(b, &self.path);
        }
    }
}

impl LivePage {
    /// Turns the state into the final page's: how the run ended and how long it took.
    pub(crate) fn end(&mut self, stopped: bool, iters: usize, evals: usize) {
        let st = &mut self.state;
        st.running = false;
        st.image = None;
        st.status = if stopped {
            format!(
                "Stopped on request at iteration {iters} ({evals} loss evaluations); the latest image was published"
            )
        } else {
            format!("Finished: {iters} iterations, {evals} loss evaluations")
        };
        st.seconds = self.started.elapsed().as_secs_f64();
    }
}

/// Keeps a [`LivePage`] up to date from the run's progress, then hands everything on.
pub(crate) struct LiveObserver<'a> {
    pub page: &'a mut LivePage,
    /// Renders the page from the run's state.
    pub render: &'a dyn Fn(&RunState) -> String,
    /// A failed write: the run is stopped and this is returned.
    pub error: Option<Error>,
    pub inner: &'a mut dyn Observer,
}

impl LiveObserver<'_> {
    fn write(&mut self, force: bool) -> Control {
        if self.error.is_some() {
            return Control::Stop;
        }
        if !force && !self.page.due() {
            return Control::Continue;
        }
        self.page.state.seconds = self.page.seconds();
        let html = (self.render)(&self.page.state);
        match self.page.show(&html) {
            Ok(()) => Control::Continue,
            Err(e) => {
                self.error = Some(e);
                Control::Stop
            }
        }
    }
}

impl Observer for LiveObserver<'_> {
    fn stage(&mut self, stage: &Stage) {
        self.page.state.status = match stage.kind {
            StageKind::ReadDataset => format!("reading the dataset ({} images)", stage.items),
            StageKind::RemoveVignette => format!(
                "measuring the dataset's colours without its vignette ({} images)",
                stage.items
            ),
            StageKind::Optimise => format!(
                "optimising {}×{}{}, {} iterations",
                stage.width,
                stage.height,
                if stage.count > 1 {
                    format!(" (scale {} of {})", stage.index + 1, stage.count)
                } else {
                    String::new()
                },
                stage.items
            ),
            StageKind::Finish => {
                format!("finishing the result at {}×{}", stage.width, stage.height)
            }
        };
        // A failed write is kept in `error` and stops the run at its next step.
        let _ = self.write(true);
        self.inner.stage(stage)
    }
    fn item(&mut self, done: usize, total: usize) -> Control {
        self.page.state.status = format!("reading the dataset: {done} of {total} images");
        if self.write(false) == Control::Stop {
            return Control::Stop;
        }
        self.inner.item(done, total)
    }
    fn notice(&mut self, notice: &Notice) {
        if let Notice::Skipped { path, reason } = notice {
            self.page.state.skipped.push((path.clone(), reason.clone()));
        }
        self.inner.notice(notice)
    }
    fn step(&mut self, step: &Step<'_>) -> Control {
        let b = step.loss;
        self.page
            .state
            .rows
            .push((step.iter, b.total, b.content, b.style));
        if self.page.due() {
            self.page.state.image = png_bytes(&step.image());
            if let Some(s) = self.page.state.status.split(": at iteration").next() {
                self.page.state.status = format!("{s}: at iteration {}", step.iter);
            }
        }
        if self.write(false) == Control::Stop {
            return Control::Stop;
        }
        self.inner.step(step)
    }
}

/// `img` as PNG bytes.
fn png_bytes(img: &Rgb) -> Option<Vec<u8>> {
    let buf = img.pixels_8bit().concat();
    let rgb = image::RgbImage::from_raw(img.width as u32, img.height as u32, buf)?;
    let mut png = std::io::Cursor::new(Vec::new());
    rgb.write_to(&mut png, image::ImageFormat::Png).ok()?;
    Some(png.into_inner())
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            if k <= c.len() {
                s.push(T[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Text for HTML content and double-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// `p` made absolute with its folder's symlinks resolved (the file itself need not exist).
fn absolute(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = p.canonicalize() {
        return Some(c);
    }
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(dir.canonicalize().ok()?.join(p.file_name()?))
}

/// The URL of `target` relative to the folder `from` (percent-encoded), or `None` when there is
/// none (another drive, or a name that is not UTF-8).
pub fn relative_url(from: &Path, target: &Path) -> Option<String> {
    let (from, target) = (absolute(from)?, absolute(target)?);
    let a: Vec<Component> = from.components().collect();
    let b: Vec<Component> = target.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return None;
    }
    let mut parts: Vec<String> = vec!["..".into(); a.len() - common];
    for c in &b[common..] {
        let Component::Normal(s) = c else { return None };
        parts.push(percent(s.to_str()?));
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn percent(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$()*,;=:@+".contains(&b) {
            o.push(b as char);
        } else {
            let _ = write!(o, "%{b:02X}");
        }
    }
    o
}

/// A page under construction, with links relative to the report's folder.
struct Page {
    dir: PathBuf,
    html: String,
}

impl Page {
    fn new(report: &Path, title: &str, state: &RunState) -> Self {
        let dir = match report.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut html = String::from("<!doctype html><html lang=en><meta charset=utf-8>");
        if state.running {
            let _ = write!(html, "<meta http-equiv=refresh content={RELOAD_SECONDS}>");
        }
        let _ = write!(
            html,
            "<title>{}</title><style>body{{font-family:sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em}}\
img{{border:1px solid #ccc}}img.px{{image-rendering:pixelated}}figure{{display:inline-block;margin:6px;vertical-align:top}}\
figcaption{{font-size:90%;max-width:220px;overflow-wrap:anywhere}}td,th{{padding:2px 10px;text-align:left;vertical-align:top}}\
.running{{background:#fff3c4;padding:.5em 1em}}.path{{font-family:monospace;overflow-wrap:anywhere}}</style><h1>{}</h1>",
            esc(title),
            esc(title)
        );
        if state.running {
            let _ = write!(
                html,
                "<p class=running>running… {} ({:.0} s so far). This page reloads itself every {RELOAD_SECONDS} s; \
the final report replaces it when the run ends.</p>",
                esc(&state.status),
                state.seconds
            );
        } else {
            let _ = write!(
                html,
                "<p>{}. Elapsed time: {:.1} s.</p>",
                esc(&state.status),
                state.seconds
            );
        }
        Self { dir, html }
    }

    fn h2(&mut self, s: &str) {
        let _ = write!(self.html, "<h2>{}</h2>", esc(s));
    }

    /// An image figure: the file by relative URL, or its path as text when it has none.
    fn figure(&mut self, file: &Path, size: &str, caption: &str) {
        match relative_url(&self.dir, file) {
            Some(u) => {
                let _ = write!(
                    self.html,
                    "<figure><a href=\"{u}\"><img src=\"{u}\" {size} alt=\"{}\"></a><figcaption>{}</figcaption></figure>",
                    esc(&file_name(file)),
                    caption
                );
            }
            None => {
                let _ = write!(
                    self.html,
                    "<figure><p>(not linked: no relative path)</p><figcaption>{}<br><span class=path>{}</span></figcaption></figure>",
                    caption,
                    esc(&file.display().to_string())
                );
            }
        }
    }

    /// A link to `file` labelled `label`, or its path as text.
    fn link(&self, file: &Path, label: &str) -> String {
        match relative_url(&self.dir, file) {
            Some(u) => format!("<a href=\"{u}\">{}</a>", esc(label)),
            None => format!(
                "{} (<span class=path>{}</span>)",
                esc(label),
                esc(&file.display().to_string())
            ),
        }
    }

    fn live_image(&mut self, state: &RunState, width: usize) {
        if let Some(png) = &state.image {
            let _ = write!(
                self.html,
                "<figure><img src=\"data:image/png;base64,{}\" class=px width={width} alt=\"latest image\"><figcaption>latest image</figcaption></figure>",
                base64(png)
            );
        }
    }

    /// The settings: `layers` (what, indices into RELU_LAYERS) by name, then every value.
    fn settings(&mut self, layers: &[(&str, &[usize])], debug: &str) {
        self.h2("Settings");
        for (what, l) in layers {
            let names: Vec<&str> = l.iter().map(|&i| crate::vgg::RELU_LAYERS[i]).collect();
            let _ = write!(self.html, "<p>{}: {}</p>", esc(what), names.join(", "));
        }
        let _ = write!(self.html, "<pre>{}</pre>", esc(debug));
    }

    fn finish(mut self) -> String {
        self.html.push_str("</html>\n");
        self.html
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// An inline SVG of the loss curves (total, content, style; log scale), or `None` with no steps.
pub fn svg_curve(rows: &[(usize, f64, f64, f64)]) -> Option<String> {
    let (w, h, ml, mr, mt, mb) = (720.0, 300.0, 70.0, 130.0, 10.0, 30.0);
    let max_iter = rows.iter().map(|r| r.0).max()?.max(2) as f64;
    let series: [(&str, &str, f64, Vec<(f64, f64)>); 3] = [
        (
            "total",
            "#000",
            2.5,
            rows.iter().map(|r| (r.0 as f64, r.1)).collect(),
        ),
        (
            "content",
            "#1f77b4",
            1.5,
            rows.iter().map(|r| (r.0 as f64, r.2)).collect(),
        ),
        (
            "style",
            "#d62728",
            1.5,
            rows.iter().map(|r| (r.0 as f64, r.3)).collect(),
        ),
    ];
    let good = |v: f64| v > 0.0 && v.is_finite();
    let (lo, hi) = series
        .iter()
        .flat_map(|s| s.3.iter().map(|p| p.1))
        .filter(|v| good(*v))
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return None;
    }
    let (llo, lhi) = ((lo * 0.8).log10(), (hi * 1.25).log10());
    let x = |i: f64| ml + (i - 1.0) / (max_iter - 1.0) * (w - ml - mr);
    let y = |v: f64| mt + (lhi - v.log10()) / (lhi - llo) * (h - mt - mb);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"11\">\
<rect x=\"{ml}\" y=\"{mt}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>\
<text x=\"{ml}\" y=\"{}\">1</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{max_iter} (iteration)</text>\
<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.3e}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.3e}</text>",
        w - ml - mr,
        h - mt - mb,
        h - mb + 14.0,
        w - mr,
        h - mb + 14.0,
        ml - 4.0,
        mt + 10.0,
        hi * 1.25,
        ml - 4.0,
        h - mb,
        lo * 0.8,
    );
    for (k, (name, colour, width, pts)) in series.iter().enumerate() {
        let pts: Vec<String> = pts
            .iter()
            .filter(|p| good(p.1))
            .map(|p| format!("{:.1},{:.1}", x(p.0), y(p.1)))
            .collect();
        if pts.is_empty() {
            continue;
        }
        let ly = mt + 14.0 + 16.0 * k as f64;
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"{width}\" points=\"{}\"/>\
<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{colour}\" stroke-width=\"{width}\"/><text x=\"{}\" y=\"{}\">{name}</text>",
            pts.join(" "),
            w - mr + 10.0,
            ly - 4.0,
            w - mr + 30.0,
            ly - 4.0,
            w - mr + 35.0,
            ly,
        );
    }
    s.push_str("</svg>");
    Some(s)
}

fn curve_section(page: &mut Page, rows: &[(usize, f64, f64, f64)]) {
    if let Some(svg) = svg_curve(rows) {
        page.html.push_str(&svg);
    } else {
        page.html.push_str("<p>(no steps yet)</p>");
    }
}

/// The page of a learn run (live while `state.running`).
pub(crate) fn learn_page(
    plan: &LearnPlan,
    files: &crate::files::LearnFiles,
    written_snapshots: &[usize],
    state: &RunState,
) -> String {
    let report = report_path(&files.output);
    let mut p = Page::new(
        &report,
        &format!("stylelearn learn: {}", file_name(&files.output)),
        state,
    );
    let entries = plan.entries();
    p.h2(&format!("Dataset ({} images)", entries.len()));
    for e in entries {
        let mut caption = format!("{}<br>weight {}", esc(&file_name(&e.path)), e.weight);
        if state.skipped.iter().any(|(s, _)| s == &e.path) {
            caption.push_str("<br><b>left out: unreadable</b>");
        }
        p.figure(&e.path, "height=128", &caption);
        if let Some(m) = &e.mask {
            let region = format!("{:?}", plan.settings().region).to_lowercase();
            p.figure(
                m,
                "height=128",
                &format!(
                    "its mask ({} region)<br>{}",
                    esc(&region),
                    esc(&file_name(m))
                ),
            );
        }
    }
    if !plan.left_out().is_empty() {
        let list: Vec<String> = plan
            .left_out()
            .iter()
            .map(|f| p.link(f, &file_name(f)))
            .collect();
        let _ = write!(
            p.html,
            "<p>Not in the weights file, so left out (weight 0): {}</p>",
            list.join(", ")
        );
    }
    for (path, why) in &state.skipped {
        let _ = write!(
            p.html,
            "<p>Skipped <span class=path>{}</span>: {}</p>",
            esc(&path.display().to_string()),
            esc(why)
        );
    }
    if state.running {
        p.h2("Progress");
        p.live_image(state, plan.settings().size.max(192));
        curve_section(&mut p, &state.rows);
    } else {
        p.h2("Snapshots and the learned image");
        for &s in written_snapshots {
            p.figure(
                &snapshot_path(&files.output, s),
                "class=px width=192",
                &format!("iteration {s}"),
            );
        }
        let last = state.rows.last().map(|r| r.0).unwrap_or(0);
        p.figure(
            &files.output,
            "class=px width=192",
            &format!("learned image (iteration {last})"),
        );
        p.h2("Learning curve");
        p.figure(
            &files.curve_png(),
            "width=900",
            "style loss per layer block and total",
        );
        let links = format!(
            "<p>Data: {}; style profile: {}</p>",
            p.link(&files.curve_csv(), &file_name(&files.curve_csv())),
            p.link(&files.profile(), &file_name(&files.profile())),
        );
        p.html.push_str(&links);
    }
    p.settings(
        &[("Layers matched", &plan.settings().layers)],
        &format!("{:#?}", plan.settings()),
    );
    p.finish()
}

/// The page of a transfer (live while `state.running`).
pub(crate) fn transfer_page(
    plan: &TransferPlan,
    files: &crate::files::TransferFiles,
    written_snapshots: &[usize],
    state: &RunState,
) -> String {
    let report = report_path(&files.output);
    let s = plan.settings();
    let mut p = Page::new(
        &report,
        &format!("stylelearn transfer: {}", file_name(&files.output)),
        state,
    );
    p.h2("Inputs");
    p.figure(
        &s.content,
        "height=192",
        &format!("photo<br>{}", esc(&file_name(&s.content))),
    );
    match &s.style {
        StyleSource::Images(list) => {
            for (img, w) in list {
                let caption = if list.len() > 1 {
                    format!("style, blend weight {w}<br>{}", esc(&file_name(img)))
                } else {
                    format!("style<br>{}", esc(&file_name(img)))
                };
                p.figure(img, "height=192", &caption);
            }
        }
        StyleSource::Profile(f) => {
            let l = p.link(f, &file_name(f));
            let _ = write!(p.html, "<p>Style profile: {l}</p>");
        }
    }
    if state.running {
        p.h2("Progress");
        let (w, _) = plan.output_size();
        p.live_image(state, w.max(192));
    } else {
        p.h2("Result");
        for &it in written_snapshots {
            p.figure(
                &snapshot_path(&files.output, it),
                "class=px width=192",
                &format!("iteration {it}"),
            );
        }
        let last = state.rows.last().map(|r| r.0).unwrap_or(0);
        p.figure(
            &files.output,
            "class=px height=384",
            &format!("result (iteration {last})"),
        );
    }
    p.h2("Loss curve (log scale)");
    curve_section(&mut p, &state.rows);
    if let (Some(l), false) = (&files.log, state.running) {
        let link = p.link(l, &file_name(l));
        let _ = write!(p.html, "<p>Data: {link}</p>");
    }
    p.settings(
        &[
            ("Style layers", plan.style_layers()),
            ("Content layers", &s.content_layers),
        ],
        &format!("{s:#?}"),
    );
    p.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_urls_climb_and_encode() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a b");
        let c = d.path().join("c#");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&c).unwrap();
        std::fs::write(c.join("x%.png"), b"").unwrap();
        assert_eq!(
            relative_url(&a, &c.join("x%.png")).unwrap(),
            "../c%23/x%25.png"
        );
        assert_eq!(relative_url(&a, &a.join("o.png")).unwrap(), "o.png");
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"M"), "TQ==");
    }

    #[test]
    fn a_live_page_is_removed_and_the_earlier_report_restored_unless_finished() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("o.html");
        std::fs::write(&out, b"earlier").unwrap();
        {
            let mut live = LivePage::new(out.clone());
            live.show("live 1").unwrap();
            live.show("live 2").unwrap();
            assert_eq!(std::fs::read(&out).unwrap(), b"live 2");
        }
        assert_eq!(std::fs::read(&out).unwrap(), b"earlier");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
        std::fs::remove_file(&out).unwrap();
        {
            let mut live = LivePage::new(out.clone());
            live.show("live").unwrap();
        }
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
        std::fs::write(&out, b"earlier").unwrap();
        let mut live = LivePage::new(out.clone());
        live.show("live").unwrap();
        std::fs::write(&out, b"final").unwrap();
        live.finish();
        assert_eq!(std::fs::read(&out).unwrap(), b"final");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn the_curve_is_an_svg_with_three_lines() {
        let rows = vec![(1, 10.0, 1.0, 9.0), (2, 5.0, 1.5, 3.5), (3, 2.0, 0.0, 1.0)];
        let svg = svg_curve(&rows).unwrap();
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert!(svg_curve(&[]).is_none());
    }
}
