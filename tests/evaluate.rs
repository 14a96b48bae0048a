//! `evaluate` with the real VGG-19 at 40 px and a few iterations: a copy of the filter's outputs
//! scores exactly 0, the baseline's ratio is exactly 1, a profile route runs end to end through
//! the command line, every route takes the profile's statistic, the image route takes the
//! colours `transfer` gives its image, the demo's page shows the evaluation of its held-out
//! photo, and bad input fails before anything is written.
mod common;

use std::path::{Path, PathBuf};

use common::*;
use stylelearn::evaluate::{EvaluateJob, EvaluatePlan, EvaluateSettings, Route, route_settings};
use stylelearn::image_io::Rgb;
use stylelearn::observe::Silent;
use stylelearn::style::StatisticKind;

const STEMS: [&str; 2] = ["alpha", "beta"];

/// A "photo": a two-colour split with a stripe pattern whose frequency depends on `seed`.
fn photo(w: usize, h: usize, seed: usize) -> Rgb {
    let base = two_colour(
        w,
        h,
        w / 3 + seed,
        [0.2 + 0.1 * seed as f32, 0.5, 0.3],
        [0.6, 0.3, 0.7 - 0.1 * seed as f32],
    );
    let n = w * h;
    let mut data = base.data.clone();
    for y in 0..h {
        for x in 0..w {
            let s = 0.15 * ((x + 2 * y) as f32 * (0.4 + 0.2 * seed as f32)).sin();
            for c in 0..3 {
                data[c * n + y * w + x] = (data[c * n + y * w + x] + s).clamp(0.0, 1.0);
            }
        }
    }
    Rgb::from_planar(w, h, data)
}

/// A "filter": posterised, warm and contrasty.
fn filter(img: &Rgb) -> Rgb {
    let n = img.width * img.height;
    let mut out = img.clone();
    for (i, v) in out.data.iter_mut().enumerate() {
        let warm = [0.15, 0.0, -0.15][i / n];
        *v = (((*v - 0.5) * 1.6 + 0.5 + warm) * 4.0).round() / 4.0;
        *v = v.clamp(0.0, 1.0);
    }
    out
}

/// Held-out pairs in `dir`/pairs, a style image in `dir`/style.png; returns the pairs folder.
fn make_pairs(dir: &Path) -> PathBuf {
    let pairs = dir.join("pairs");
    std::fs::create_dir_all(pairs.join("photos")).unwrap();
    std::fs::create_dir_all(pairs.join("filtered")).unwrap();
    for (i, stem) in STEMS.iter().enumerate() {
        let p = photo(48, 40, i);
        p.save(&pairs.join("photos").join(format!("{stem}.png")))
            .unwrap();
        filter(&p)
            .save(&pairs.join("filtered").join(format!("{stem}.png")))
            .unwrap();
    }
    filter(&photo(40, 40, 3))
        .save(&dir.join("style.png"))
        .unwrap();
    pairs
}

fn settings(pairs: PathBuf, routes: Vec<Route>) -> EvaluateSettings {
    let mut s = EvaluateSettings::new(pairs, routes);
    s.transfer.size = 40;
    s.transfer.iters = 3;
    s
}

/// Every file under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p.clone());
            }
            out.push(p.strip_prefix(dir).unwrap().to_path_buf());
        }
    }
    out.sort();
    out
}

#[test]
fn a_copy_of_the_filter_outputs_scores_zero_and_the_baseline_ratio_is_one() {
    let d = tmp();
    let pairs = make_pairs(d.path());
    let routes = vec![
        Route::Baseline(d.path().join("style.png")),
        Route::Precomputed {
            name: "copy".into(),
            dir: pairs.join("filtered"),
        },
        Route::Precomputed {
            name: "unfiltered".into(),
            dir: pairs.join("photos"),
        },
    ];
    let net = net();
    let plan = EvaluatePlan::new(settings(pairs, routes), net.device()).unwrap();
    assert_eq!(plan.transfers(), 2);
    let ev = plan.run(&net, &mut Silent).unwrap().expect("not stopped");
    assert_eq!(ev.stems, STEMS);
    for row in &ev.cells {
        let copy = row[1].distances;
        assert_eq!(
            (copy.colour, copy.texture),
            (0.0, 0.0),
            "a copy of the filter output"
        );
        let photo = row[2].distances;
        assert!(
            photo.colour > 1.0 && photo.texture > 0.01,
            "the unfiltered photo should be far from the filter output: {photo:?}"
        );
        assert_eq!(row[0].image.width.max(row[0].image.height), 40);
    }
    let names: Vec<&str> = ev.routes.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["baseline", "copy", "unfiltered"]);
    let base = ev.routes[0].ratio.expect("a baseline route gives ratios");
    assert_eq!((base.colour, base.texture), (1.0, 1.0));
    let copy = ev.routes[1].ratio.unwrap();
    assert_eq!((copy.colour, copy.texture), (0.0, 0.0));
    assert!(ev.routes[0].mean.colour > 0.0 && ev.routes[0].mean.texture > 0.0);
    // Without a baseline there are no ratios.
    let d2 = tmp();
    let pairs2 = make_pairs(d2.path());
    let only = vec![Route::Precomputed {
        name: "copy".into(),
        dir: pairs2.join("filtered"),
    }];
    let ev = EvaluatePlan::new(settings(pairs2, only), net.device())
        .unwrap()
        .run(&net, &mut Silent)
        .unwrap()
        .unwrap();
    assert!(ev.routes[0].ratio.is_none());
}

#[test]
fn a_profile_route_runs_end_to_end_through_the_command_line() {
    let d = tmp();
    let pairs = make_pairs(d.path());
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let train = d.path().join("train");
    std::fs::create_dir_all(&train).unwrap();
    for i in 0..2 {
        filter(&photo(40, 40, i + 4))
            .save(&train.join(format!("t{i}.png")))
            .unwrap();
    }
    let profile = d.path().join("p.safetensors");
    let o = cli(&[
        "profile",
        &s(&train),
        "--max-side",
        "40",
        "-o",
        &s(&profile),
        "-q",
    ]);
    assert!(o.status.success(), "profile: {}", stderr(&o));
    let out = d.path().join("out");
    let o = cli(&[
        "evaluate",
        &s(&pairs),
        "--style-image",
        &s(&d.path().join("style.png")),
        "--style-profile",
        &s(&profile),
        "--baseline",
        &s(&train.join("t0.png")),
        "--route",
        &format!("copy={}", s(&pairs.join("filtered"))),
        "--size",
        "40",
        "--iters",
        "3",
        "-q",
        "-o",
        &s(&out),
    ]);
    assert!(o.status.success(), "evaluate: {}", stderr(&o));
    let routes = [
        "image",
        "profile",
        "profile-colour",
        "profile-adapt",
        "profile-adapt-keep",
        "adapt-only",
        "adapt-finish",
        "baseline",
        "copy",
    ];
    let table = String::from_utf8_lossy(&o.stdout);
    for r in routes {
        assert!(
            table.contains(&format!("| {r} |")),
            "{r} missing from:\n{table}"
        );
    }
    assert!(
        table.contains("| baseline |") && table.contains("1.0000 | 1.0000 |"),
        "{table}"
    );
    let mut expected: Vec<PathBuf> = ["index.html", "means.csv", "results.csv"]
        .iter()
        .map(PathBuf::from)
        .collect();
    for folder in ["photo", "filter"].iter().chain(&routes) {
        expected.push(PathBuf::from(folder));
        for stem in STEMS {
            expected.push(Path::new(folder).join(format!("{stem}.png")));
        }
    }
    expected.sort();
    assert_eq!(tree(&out), expected);
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "pair,route,colour,texture");
    assert_eq!(lines.len(), 1 + STEMS.len() * routes.len());
    assert!(lines.contains(&"alpha,copy,0.0000,0.0000"), "{csv}");
    // Every route is judged as its written image holds it (8-bit), as a precomputed route's
    // images are read: judging the files gives the table's distances.
    for route in ["profile", "profile-adapt", "adapt-only", "baseline"] {
        for stem in STEMS {
            let made = stylelearn::image_io::load(&out.join(format!("{route}/{stem}.png")));
            let made = made.unwrap();
            let filtered = pairs.join(format!("filtered/{stem}.png"));
            let filtered = stylelearn::image_io::load(&filtered).unwrap();
            let j = stylelearn::judge::judge(&made, &filtered.resize(made.width, made.height));
            let row = format!("{stem},{route},{:.4},{:.4}", j.colour, j.texture);
            assert!(lines.contains(&row.as_str()), "{row} not in:\n{csv}");
        }
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    for r in routes {
        assert!(html.contains(&format!("src=\"{r}/beta.png\"")), "{r}");
    }
    let img = stylelearn::image_io::load(&out.join("profile-colour/alpha.png")).unwrap();
    assert_eq!((img.width, img.height), (40, 33));
    // Three routes are what `transfer` makes of a photo with the profile and a few flags:
    // "adapt-only", the photo with the profile's colours, not optimised (0 iterations, no
    // detail matching, no posterising), "adapt-finish", the same with the dataset's detail
    // and the posterising (0 iterations), and "profile-adapt-keep", profile-adapt with the
    // detail as optimised.
    let load = |p: &Path| stylelearn::image_io::load(p).unwrap();
    let photo = s(&pairs.join("photos/alpha.png"));
    let transfer = |name: &str, flags: &[&str]| {
        let made = d.path().join(format!("{name}.png"));
        let head = ["transfer", &photo, "--style-profile", &s(&profile)];
        let tail = ["--size", "40", "-q", "-o", &s(&made)];
        let words: Vec<&str> = head.iter().chain(flags).chain(&tail).copied().collect();
        let o = cli(&words);
        assert!(o.status.success(), "transfer {flags:?}: {}", stderr(&o));
        load(&made)
    };
    let adapt_only = "--colours adapt --iters 0 --detail keep --posterise off";
    let adapt_only: Vec<&str> = adapt_only.split(' ').collect();
    for (route, flags) in [
        ("adapt-only", &adapt_only[..]),
        ("adapt-finish", &["--iters", "0"][..]),
        (
            "profile-adapt-keep",
            &["--iters", "3", "--detail", "keep"][..],
        ),
    ] {
        let own = load(&out.join(format!("{route}/alpha.png")));
        assert_eq!(transfer(route, flags), own, "{route}");
        assert_ne!(own, load(&out.join("profile-adapt/alpha.png")), "{route}");
    }
    // The closest learned route is named with the `transfer` command that makes it: run for
    // a photo, that command makes the evaluation's result for the photo, byte for byte.
    let commands: Vec<(&str, &str)> = table
        .lines()
        .zip(table.lines().skip(1))
        .filter_map(|(said, cmd)| Some((said.strip_prefix("closest ")?, cmd.trim())))
        .collect();
    assert!(
        matches!(commands.len(), 1 | 2),
        "one closest route, or one per judge:\n{table}"
    );
    for (i, (said, cmd)) in commands.iter().enumerate() {
        let route = said.rsplit(": ").next().unwrap();
        assert!(
            html.contains(&format!("<b>{route}</b>")),
            "{route} named on the page"
        );
        assert!(
            routes[..routes.len() - 2].contains(&route),
            "a learned route: {said}"
        );
        let made = d.path().join(format!("closest{i}.png"));
        let words: Vec<String> = cmd
            .split_whitespace()
            .skip(1)
            .map(|w| match w {
                "PHOTO" => s(&pairs.join("photos/beta.png")),
                "OUT.png" => s(&made),
                w => w.to_string(),
            })
            .chain(["-q".to_string()])
            .collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let o = cli(&words);
        assert!(o.status.success(), "{cmd}: {}", stderr(&o));
        assert_eq!(
            load(&made),
            load(&out.join(format!("{route}/beta.png"))),
            "{cmd}"
        );
    }
    // A route reading the output folder would overwrite its own input: refused.
    let o = cli(&[
        "evaluate",
        &s(&pairs),
        "--route",
        &format!("copy={}", s(&out.join("copy"))),
        "--size",
        "40",
        "-q",
        "-o",
        &s(&out),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("same file as a precomputed image"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_demo_page_shows_the_evaluation_of_its_held_out_photo() {
    let d = tmp();
    let out = d.path().join("demo");
    let o = cli(&[
        "demo",
        "--iters",
        "3",
        "--transfer-iters",
        "2",
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success(), "demo: {}", stderr(&o));
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    let means = std::fs::read_to_string(out.join("evaluation/means.csv")).unwrap();
    let rows: Vec<Vec<&str>> = means
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(
        names,
        [
            "image",
            "profile-adapt",
            "profile",
            "profile-colour",
            "baseline",
            "unfiltered"
        ],
        "{means}"
    );
    for r in &rows {
        // every route judged, with a ratio to the baseline; the page shows its image and row
        let colour: f64 = r[1].parse().unwrap();
        let ratio: f64 = r[4].parse().unwrap(); // route,colour,texture,gram,colour_ratio,…
        assert!(colour > 0.0 && ratio > 0.0, "{r:?}");
        assert!(
            out.join(format!("evaluation/{}/held_out.png", r[0]))
                .is_file()
        );
        assert!(
            page.contains(&format!("evaluation/{}/held_out.png", r[0])),
            "{}",
            r[0]
        );
        assert!(page.contains(&format!("<tr><td>{}</td>", r[0])), "{}", r[0]);
    }
    assert_eq!(rows[4][4], "1.0000", "the baseline's own ratio");
    assert!(page.contains("href='evaluation/index.html'"));
}

#[test]
fn every_route_takes_the_profile_s_statistic_unless_another_is_asked_for() {
    let d = tmp();
    let pairs = make_pairs(d.path());
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let profile = d.path().join("meanstd.safetensors");
    let style = d.path().join("style.png");
    let o = cli(&[
        "profile",
        &s(&style),
        "--loss",
        "meanstd",
        "-o",
        &s(&profile),
        "-q",
    ]);
    assert!(o.status.success(), "profile: {}", stderr(&o));
    let routes = vec![
        Route::Baseline(style.clone()),
        Route::Profile(profile.clone()),
    ];
    let dev = burn::tensor::Device::flex();
    // The baseline, an image route, is transferred with the profile's statistic too, so that
    // its ratio compares like with like.
    let plan = EvaluatePlan::new(settings(pairs.clone(), routes.clone()), &dev).unwrap();
    let photo = pairs.join("photos/alpha.png");
    for route in &routes {
        let ts = route_settings(plan.settings(), route, &photo).unwrap();
        assert_eq!(
            ts.statistic,
            Some(StatisticKind::MeanStd),
            "{}",
            route.name()
        );
    }
    // A transfer plan names the statistic it resolved, whether or not one was asked for.
    for asked in [None, Some(StatisticKind::MeanStd)] {
        let mut ts = route_settings(plan.settings(), &routes[1], &photo).unwrap();
        ts.statistic = asked;
        let p = stylelearn::transfer::TransferPlan::new(ts, &dev).unwrap();
        assert_eq!(p.settings().statistic, Some(StatisticKind::MeanStd));
    }
    // Without a profile route, Gram.
    let only_images = vec![Route::Baseline(style.clone())];
    let plan = EvaluatePlan::new(settings(pairs.clone(), only_images), &dev).unwrap();
    assert_eq!(plan.settings().transfer.statistic, None);
    // Another statistic asked for is refused before any work, naming the profile.
    let mut asked = settings(pairs, routes);
    asked.transfer.statistic = Some(StatisticKind::Gram);
    let e = EvaluatePlan::new(asked, &dev)
        .err()
        .expect("a mean-std profile with Gram asked for");
    let e = e.to_string();
    assert!(
        e.contains("meanstd.safetensors") && e.contains("holds 'meanstd'"),
        "{e}"
    );
}

#[test]
fn bad_input_fails_with_a_clear_error_before_anything_is_written() {
    let d = tmp();
    let pairs = make_pairs(d.path());
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let style = d.path().join("style.png");
    let run = |pairs: &Path, out: &Path, extra: &[&str]| {
        let (p, o, st) = (s(pairs), s(out), s(&style));
        let mut args = vec![
            "evaluate",
            &p,
            "--baseline",
            &st,
            "--size",
            "40",
            "--iters",
            "2",
            "-q",
            "-o",
            &o,
        ];
        args.extend_from_slice(extra);
        cli(&args)
    };
    // An output folder that is a file.
    let file = d.path().join("results");
    std::fs::write(&file, b"mine").unwrap();
    let o = run(&pairs, &file, &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("is not a folder"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&file).unwrap(), b"mine");
    // A photo without its filter output.
    std::fs::remove_file(pairs.join("filtered/beta.png")).unwrap();
    let out = d.path().join("out");
    let o = run(&pairs, &out, &[]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("beta.png has no filter output"), "{e}");
    assert!(!out.exists(), "nothing may be written");
    filter(&photo(48, 40, 1))
        .save(&pairs.join("filtered/beta.png"))
        .unwrap();
    // A precomputed route missing a photo's image.
    let partial = d.path().join("partial");
    std::fs::create_dir_all(&partial).unwrap();
    std::fs::copy(pairs.join("filtered/alpha.png"), partial.join("alpha.png")).unwrap();
    let route = format!("other={}", s(&partial));
    let o = run(&pairs, &out, &["--route", &route]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("route 'other'") && e.contains("no image for photo 'beta'"),
        "{e}"
    );
    assert!(!out.exists(), "nothing may be written");
    // A reserved or repeated route name.
    let o = run(
        &pairs,
        &out,
        &["--route", &format!("photo={}", s(&partial))],
    );
    assert!(
        !o.status.success() && stderr(&o).contains("reserved"),
        "{}",
        stderr(&o)
    );
    let o = run(
        &pairs,
        &out,
        &["--route", &format!("baseline={}", s(&partial))],
    );
    assert!(
        !o.status.success() && stderr(&o).contains("given twice"),
        "{}",
        stderr(&o)
    );
    // The library refuses the same before any work: no files, no folder.
    let net = net();
    std::fs::remove_file(pairs.join("photos/alpha.png")).unwrap();
    let e = EvaluateJob::new(
        settings(pairs.clone(), vec![Route::Baseline(style.clone())]),
        out.clone(),
        net.device(),
    )
    .err()
    .expect("a filter output without its photo");
    assert!(e.to_string().contains("alpha.png has no photo"), "{e}");
    assert!(!out.exists());
}

#[test]
fn the_image_route_takes_the_colours_transfer_gives_the_image() {
    use stylelearn::carried::Carried;
    use stylelearn::color::Palette;
    use stylelearn::transfer::{Colours, TransferPlan};
    let d = tmp();
    let pairs = make_pairs(d.path());
    let style = d.path().join("style.png");
    let img = stylelearn::image_io::load(&style).unwrap();
    // a learned image: it carries its dataset's colours, which vary from image to image
    let other = photo(img.width, img.height, 7);
    let carried = Carried {
        palette: Palette::mix(&[
            (&Palette::of(&img, None), 1.0),
            (&Palette::of(&other, None), 1.0),
        ]),
        ..Default::default()
    };
    let learned = d.path().join("learned.png");
    img.save_with_notes(&learned, &carried.notes()).unwrap();
    let dev = burn::tensor::Device::flex();
    let photo_path = pairs.join("photos/alpha.png");
    // adapted, as profile-adapt adapts a profile's; a plain image keeps the optimisation's
    for (path, want) in [(&learned, Colours::Adapted), (&style, Colours::Style)] {
        let routes = vec![Route::Image {
            path: path.clone(),
            style_scale: 1.0,
        }];
        let plan = EvaluatePlan::new(settings(pairs.clone(), routes.clone()), &dev).unwrap();
        let ts = route_settings(plan.settings(), &routes[0], &photo_path).unwrap();
        let colours = TransferPlan::new(ts, &dev).unwrap().colours();
        assert_eq!(colours, want, "{}", path.display());
    }
}

#[test]
fn full_size_results_are_judged_at_their_size() {
    // --size 32 --result-size 96: the transfers are optimised at 32 px and written at 96 px,
    // and every route is judged at 96 px (a copy of the filter's outputs still scores 0).
    let d = tmp();
    let pairs = make_pairs(d.path());
    let run = |route: &str, out: &str| {
        let o = cli(&[
            "evaluate",
            pairs.to_str().unwrap(),
            route,
            &if route == "--baseline" {
                d.path().join("style.png").display().to_string()
            } else {
                format!("copy={}", pairs.join("filtered").display())
            },
            "--size",
            "32",
            "--iters",
            "1",
            "--result-size",
            "96",
            "-o",
            d.path().join(out).to_str().unwrap(),
            "-q",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    };
    // every result as judged, at 96 px
    let judged_at_96 = |route: &str| {
        for stem in STEMS {
            let r = stylelearn::image_io::load(&d.path().join(route).join(format!("{stem}.png")))
                .unwrap();
            assert_eq!((r.width, r.height), (96, 80), "{route}: {stem}");
        }
    };
    run("--baseline", "ev");
    judged_at_96("ev/baseline");
    run("--route", "ev-copy");
    judged_at_96("ev-copy/copy");
    let means = std::fs::read_to_string(d.path().join("ev-copy/means.csv")).unwrap();
    let copy = means
        .lines()
        .find(|l| l.starts_with("copy,"))
        .expect(&means);
    let cols: Vec<f64> = copy
        .split(',')
        .skip(1)
        .take(2)
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(cols, [0.0, 0.0], "{means}");
    // too small a result is refused by its flag
    let o = cli(&[
        "evaluate",
        pairs.to_str().unwrap(),
        "--route",
        &format!("copy={}", pairs.join("filtered").display()),
        "--result-size",
        "8",
        "-o",
        d.path().join("ev2").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--result-size"), "{}", stderr(&o));
}
