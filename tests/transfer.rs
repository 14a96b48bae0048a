//! Style transfer with the real VGG-19 at small sizes: the loss falls, content init keeps the
//! content, --preserve-color keeps the chroma and the tones, L-BFGS beats Adam at equal evaluations, same seed
//! gives the same bytes, bad input fails cleanly, Ctrl-C writes the latest image.
mod common;

use common::*;
use stylelearn::color;
use stylelearn::detail::Detail;
use stylelearn::image_io::{self, Rgb};
use stylelearn::loss::{ImageLoss, StyleTerm};
use stylelearn::observe::{Observer, Silent, Stage, StageKind};
use stylelearn::optim::Objective;
use stylelearn::optim::OptimizerKind;
use stylelearn::style::{StatisticKind, TargetBuilder};
use stylelearn::transfer::{
    Colours, DetailMode, Init, Pixelate, Posterise, ResultSize, StyleSource, TransferOutcome,
    TransferPlan, TransferSettings, defaults,
};
use stylelearn::vgg::{Vgg19, parse_layers};

const STYLE: &str = "tests/data/reference/style.png";
const CONTENT: &str = "tests/data/reference/content.png";

fn config() -> TransferSettings {
    TransferSettings {
        size: 64,
        iters: 15,
        seed: 1,
        ..TransferSettings::new(data(CONTENT), StyleSource::Images(vec![(data(STYLE), 1.0)]))
    }
}

/// A transfer through the library alone (no files written).
fn transfer(net: &Vgg19, s: &TransferSettings) -> stylelearn::Result<TransferOutcome> {
    TransferPlan::new(s.clone(), net.device())?.run(net, &mut Silent)
}

/// A style-only loss at `size`² towards the reference style image.
fn style_loss(net: &Vgg19, size: usize) -> ImageLoss<'_> {
    let layers = parse_layers("relu1_1,relu2_1,relu3_1,relu4_1,relu5_1").unwrap();
    let s = image_io::load(&data(STYLE)).unwrap().resize(size, size);
    let stat = StatisticKind::Gram.build();
    let targets =
        TargetBuilder::new(net, stat.as_ref(), &layers).summarise(s.to_tensor(net.device()), None);
    let mut loss = ImageLoss::new(net, size, size);
    loss.style = Some(StyleTerm::new(stat, layers, None, targets, 1.0).unwrap());
    loss
}

fn relu42_distance(net: &Vgg19, a: &Rgb, b: &Rgb) -> f32 {
    let l = parse_layers("relu4_2").unwrap();
    let fa = net.features(a.to_tensor(net.device()), &l).remove(0);
    let fb = net.features(b.to_tensor(net.device()), &l).remove(0);
    (fa - fb).square().sum().into_scalar()
}

#[test]
fn style_loss_falls_by_20x_in_30_lbfgs_steps_from_noise() {
    let net = net();
    let mut loss = style_loss(&net, 64);
    let mut x = image_io::noise(64, 64, 3).data;
    let (initial, _) = loss.eval(&x).unwrap();
    let mut opt = OptimizerKind::Lbfgs.build(None);
    for _ in 0..30 {
        opt.step(&mut x, &mut loss).unwrap();
    }
    let (fin, _) = loss.eval(&x).unwrap();
    assert!(
        fin < initial / 20.0,
        "style loss {initial} -> {fin}: expected at least a 20x fall"
    );
}

#[test]
fn content_init_keeps_the_content_better_than_noise_init() {
    let net = net();
    let content = image_io::load(&data(CONTENT)).unwrap().fit_long_side(64);
    let mut dists = Vec::new();
    for init in [Init::Content, Init::Noise] {
        let mut cfg = config();
        cfg.init = init;
        let r = transfer(&net, &cfg).unwrap();
        dists.push(relu42_distance(&net, &r.image, &content));
    }
    assert!(
        dists[0] < dists[1] * 0.8,
        "relu4_2 distance: content init {} vs noise init {}",
        dists[0],
        dists[1]
    );
}

#[test]
fn preserve_color_keeps_the_content_chroma_and_tones() {
    let net = net();
    let content = image_io::load(&data(CONTENT)).unwrap().fit_long_side(64);
    let chroma_err = |img: &Rgb| {
        let n = img.width * img.height;
        let (a, b) = (color::to_yiq(img), color::to_yiq(&content));
        a[n..]
            .iter()
            .zip(&b[n..])
            .map(|(x, y)| (x - y).abs())
            .sum::<f32>()
            / (2 * n) as f32
    };
    let mut cfg = config();
    cfg.colours = Colours::Photo;
    let kept = transfer(&net, &cfg).unwrap().image;
    cfg.colours = Colours::Style;
    let free = transfer(&net, &cfg).unwrap().image;
    let (k, f) = (chroma_err(&kept), chroma_err(&free));
    assert!(k < 0.01, "chroma error with --preserve-color {k}");
    assert!(k < f / 2.0, "chroma error with {k} vs without {f}");
    // and its tones: the luminance takes the photo's distribution at a coarse scale (the mean
    // exactly), with the transfer's fine detail on top; the free transfer moves them
    let sorted_y = |img: &Rgb| {
        let n = img.width * img.height;
        let mut y = color::to_yiq(img)[..n].to_vec();
        y.sort_unstable_by(f32::total_cmp);
        y
    };
    // mean distance between the sorted luminances (1-D Wasserstein), at full and ¼ size
    let tone_err = |img: &Rgb, shrink: usize| {
        let (a, b) = (
            img.resize(img.width / shrink, img.height / shrink),
            content.resize(content.width / shrink, content.height / shrink),
        );
        sorted_y(&a)
            .iter()
            .zip(&sorted_y(&b))
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / (a.width * a.height) as f32
    };
    let mean_y = |img: &Rgb| sorted_y(img).iter().sum::<f32>() / (img.width * img.height) as f32;
    let (mk, mc) = (mean_y(&kept), mean_y(&content));
    assert!(
        (mk - mc).abs() < 0.002,
        "mean luminance {mk} vs the photo's {mc}"
    );
    let (k1, f1, k4, f4) = (
        tone_err(&kept, 1),
        tone_err(&free, 1),
        tone_err(&kept, 4),
        tone_err(&free, 4),
    );
    assert!(k4 < 0.015, "coarse tones off by {k4}");
    assert!(
        k1 < f1 / 4.0 && k4 < f4 / 4.0,
        "tones off by {k1}, {k4} vs free {f1}, {f4}"
    );
}

#[test]
fn the_result_takes_the_style_s_fine_detail_and_keeps_its_coarse_image() {
    let net = net();
    let dir = tmp();
    let (style, path) = flat_style(dir.path());
    let mut s = config();
    s.style = StyleSource::Images(vec![(path, 1.0)]);
    s.detail = DetailMode::Keep;
    let kept = transfer(&net, &s).unwrap().image;
    s.detail = DetailMode::Auto;
    assert!(
        TransferPlan::new(s.clone(), net.device())
            .unwrap()
            .matches_detail(),
        "style images give their detail"
    );
    let matched = transfer(&net, &s).unwrap().image;
    // the style is used at the output's size (64 px), so its detail is measured there
    let want = Detail::of(&style.fit_long_side(64), None);
    let (dm, dk) = (
        Detail::of(&matched, None).distance(&want),
        Detail::of(&kept, None).distance(&want),
    );
    assert!(
        dm < dk / 2.0,
        "detail distance to the style's: {dm} matched, {dk} kept"
    );
    let (a, b) = (matched.resize(8, 8), kept.resize(8, 8));
    let coarse = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).abs())
        .sum::<f32>()
        / a.data.len() as f32;
    assert!(coarse < 0.02, "the 8×8 image moved by {coarse} on average");
}

#[test]
fn a_style_image_that_carries_its_dataset_s_detail_gives_that_detail() {
    let net = net();
    let dir = tmp();
    let (flat, _) = flat_style(dir.path());
    // the same grainy pixels twice, once carrying the flat style's detail (as a learned image
    // carries its dataset's)
    let grainy = image_io::noise(96, 96, 5);
    let (plain, carrying) = (
        dir.path().join("plain.png"),
        dir.path().join("carrying.png"),
    );
    grainy.save(&plain).unwrap();
    let flat_detail = Detail::of(&flat, None);
    let carried = stylelearn::carried::Carried {
        detail: Some(flat_detail),
        ..Default::default()
    };
    grainy.save_with_notes(&carrying, &carried.notes()).unwrap();
    let mut s = config();
    let mut result = |style: &std::path::Path, style_scale: f64| {
        s.style = StyleSource::Images(vec![(style.to_path_buf(), 1.0)]);
        s.style_scale = style_scale;
        transfer(&net, &s).unwrap().image
    };
    let (from_plain, from_carrying) = (result(&plain, 1.0), result(&carrying, 1.0));
    // the style is used at the output's size (64 px), and the detail with it
    let want = Detail::of(&flat.fit_long_side(64), None);
    let (dp, dc) = (
        Detail::of(&from_plain, None).distance(&want),
        Detail::of(&from_carrying, None).distance(&want),
    );
    assert!(
        // 0.010 against 0.033
        dc < dp / 2.0,
        "detail distance to the carried one: {dc} carried, {dp} the pixels'"
    );
    // used at half the output's scale, the carried detail is the one its image has at that
    // size: the flat style carrying its own detail gives the detail of the flat style at 32 px
    let own = dir.path().join("own.png");
    let carried = stylelearn::carried::Carried {
        detail: Some(Detail::of(&flat, None)),
        ..Default::default()
    };
    flat.save_with_notes(&own, &carried.notes()).unwrap();
    let at_half = Detail::of(&result(&own, 0.5), None);
    let (d32, d64) = (
        at_half.distance(&Detail::of(&flat.fit_long_side(32), None)),
        at_half.distance(&Detail::of(&flat.fit_long_side(64), None)),
    );
    assert!(
        // 0.006 against 0.017
        d32 < d64 / 2.0,
        "detail distance to the style's at 32 px {d32}, at 64 px {d64}"
    );
    // a damaged note is refused, naming the file
    let damaged = dir.path().join("damaged.png");
    let note = image_io::Note {
        key: stylelearn::carried::DETAIL_KEY.to_string(),
        text: "{\"format\": 1}".to_string(),
    };
    grainy.save_with_notes(&damaged, &[note]).unwrap();
    let s = TransferSettings {
        style: StyleSource::Images(vec![(damaged.clone(), 1.0)]),
        ..config()
    };
    let err = TransferPlan::new(s, net.device())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("damaged.png") && err.contains("detail note is damaged"),
        "{err}"
    );
}

#[test]
fn a_style_image_that_carries_its_dataset_s_colours_is_used_as_its_profile_would_be() {
    use stylelearn::carried::Carried;
    use stylelearn::posterise::Swatches;
    let net = net();
    let dir = tmp();
    let (flat, _) = flat_style(dir.path());
    let photo_like = image_io::load(&data(STYLE)).unwrap().fit_long_side(64);
    // a dataset of the flat style and a photo-like image: its colours vary from one to the
    // other, and it is painted with the flat style's four colours
    let palette_of_two = |a: &Rgb, b: &Rgb| {
        color::Palette::mix(&[
            (&color::Palette::of(a, None), 1.0),
            (&color::Palette::of(b, None), 1.0),
        ])
    };
    let palette = palette_of_two(&flat, &photo_like);
    let swatches = Swatches::of(&flat.to_8bit(), None);
    assert!(swatches.is_posterised());
    let carrying = |name: &str, palette: Option<color::Palette>| {
        let path = dir.path().join(name);
        let carried = Carried {
            palette,
            swatches: Some(swatches.clone()),
            ..Default::default()
        };
        photo_like.save_with_notes(&path, &carried.notes()).unwrap();
        path
    };
    let learned = carrying("learned.png", palette);
    let mut s = config();
    let plan = |s: &TransferSettings| TransferPlan::new(s.clone(), net.device());
    s.style = StyleSource::Images(vec![(learned.clone(), 1.0)]);
    let p = plan(&s).unwrap();
    assert_eq!(
        p.colours(),
        Colours::Adapted,
        "the dataset's colours, adapted"
    );
    assert!(p.posterises(), "to the dataset's exact colours");
    let out = transfer(&net, &s).unwrap().image.to_8bit();
    let n = out.width * out.height;
    let painted = (0..n)
        .filter(|&i| {
            let c = [0, 1, 2].map(|ch| (out.data[ch * n + i] * 255.0).round() as u8);
            swatches.colours.iter().any(|(sw, _)| *sw == c)
        })
        .count();
    assert_eq!(painted, n, "every pixel takes one of the carried swatches");
    // the same pixels without the notes: the optimisation's colours, not posterised
    let plain = dir.path().join("plain.png");
    photo_like.save(&plain).unwrap();
    s.style = StyleSource::Images(vec![(plain.clone(), 1.0)]);
    let p = plan(&s).unwrap();
    assert!(p.colours() == Colours::Style && !p.posterises());
    // two learned images: their datasets pooled, as a profile of them together would be
    let other = carrying("other.png", palette_of_two(&photo_like, &flat));
    s.style = StyleSource::Images(vec![(learned.clone(), 1.0), (other, 3.0)]);
    let p = plan(&s).unwrap();
    assert!(p.colours() == Colours::Adapted && p.posterises());
    // a learned image mixed with a plain one: every image's colours are its pixels'
    s.style = StyleSource::Images(vec![(learned, 1.0), (plain, 1.0)]);
    assert_eq!(plan(&s).unwrap().colours(), Colours::Style);
    // a dataset of JPEGs: its swatches are estimated, and carried with whether its images
    // showed a palette (three did, one cannot)
    let jpeg = dir.path().join("flat.jpg");
    flat.save(&jpeg).unwrap();
    let estimate = Swatches::of_lossy(&image_io::load(&jpeg).unwrap(), None);
    for (images, paints) in [(3, true), (1, false)] {
        let path = dir.path().join(format!("lossy{images}.png"));
        let carried = Carried {
            palette: palette_of_two(&flat, &photo_like),
            swatches: Swatches::mix(&vec![(&estimate, 1.0); images]),
            ..Default::default()
        };
        photo_like.save_with_notes(&path, &carried.notes()).unwrap();
        s.style = StyleSource::Images(vec![(path, 1.0)]);
        let p = plan(&s).unwrap();
        assert_eq!(p.colours(), Colours::Adapted);
        assert_eq!(p.posterises(), paints, "from {images} JPEGs");
    }
    // learned from one image: its colours cannot be adapted, and it says why
    let one = carrying(
        "one.png",
        color::Palette::mix(&[(&color::Palette::of(&flat, None), 1.0)]),
    );
    s.style = StyleSource::Images(vec![(one, 1.0)]);
    assert_eq!(plan(&s).unwrap().colours(), Colours::Style);
    s.colours = Colours::Adapted;
    let err = refusal(&net, &s);
    assert!(err.contains("learned from one image"), "{err}");
}

#[test]
fn a_style_image_that_carries_its_dataset_s_statistics_transfers_as_a_profile_of_it_does() {
    use stylelearn::carried::Carried;
    let net = net();
    let dir = tmp();
    // (on the 8-bit grid, as the image file holds it)
    let img = image_io::load(&data(STYLE))
        .unwrap()
        .fit_long_side(64)
        .to_8bit();
    let (flat, _) = flat_style(dir.path());
    // the image's statistics, with a dataset's colours (which vary), detail and exact colours
    let mut target = bare_profile(&net, &img);
    target.palette = color::Palette::mix(&[
        (&color::Palette::of(&img, None), 1.0),
        (&color::Palette::of(&flat, None), 1.0),
    ]);
    target.detail = Some(Detail::of(&img, None));
    target.swatches = Some(stylelearn::posterise::Swatches::of(&flat.to_8bit(), None));
    let profile = dir.path().join("it.safetensors");
    target.save(&profile).unwrap();
    let carried = Carried {
        detail: target.detail.clone(),
        palette: target.palette.clone(),
        swatches: target.swatches.clone(),
        blocks: None,
    };
    let learned = dir.path().join("it.png");
    img.save_with_notes(&learned, &carried.notes()).unwrap();
    // with the defaults: the colours adapted, the result transferred on the photo's luminance
    // and posterised; the image's statistics are taken in colour, as the profile's are
    let mut s = config();
    s.style = StyleSource::Profile(profile);
    let from_profile = transfer(&net, &s).unwrap().image;
    s.style = StyleSource::Images(vec![(learned, 1.0)]);
    assert_eq!(
        TransferPlan::new(s.clone(), net.device())
            .unwrap()
            .colours(),
        Colours::Adapted
    );
    let from_image = transfer(&net, &s).unwrap().image;
    let diff = from_image.max_abs_diff(&from_profile);
    let n = from_image.data.len();
    let differ = from_image
        .data
        .iter()
        .zip(&from_profile.data)
        .filter(|(a, b)| a != b)
        .count();
    assert!(
        diff < 1e-3,
        "the results differ by up to {diff} ({differ} of {n} values)"
    );
}

/// A profile of all 16 layers from one image, without palette, detail or swatches (as an
/// older stylelearn wrote them).
fn bare_profile(net: &Vgg19, img: &Rgb) -> stylelearn::style::StyleTarget {
    let stat = StatisticKind::Gram.build();
    let layers: Vec<usize> = (0..16).collect();
    let mut b = TargetBuilder::new(net, stat.as_ref(), &layers);
    b.add("style", img.to_tensor(net.device()), None, 1.0)
        .unwrap();
    b.finish().unwrap().0
}

/// What the plan says when it refuses `s`.
fn refusal(net: &Vgg19, s: &TransferSettings) -> String {
    match TransferPlan::new(s.clone(), net.device()) {
        Ok(_) => panic!("the settings were expected to be refused"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn a_profile_without_detail_keeps_it_and_refuses_to_match_it() {
    let net = net();
    let dir = tmp();
    let img = image_io::load(&data(STYLE)).unwrap().fit_long_side(64);
    let mut target = bare_profile(&net, &img);
    let old = dir.path().join("old.safetensors");
    target.save(&old).unwrap();
    let mut s = config();
    s.style = StyleSource::Profile(old.clone());
    assert!(
        !TransferPlan::new(s.clone(), net.device())
            .unwrap()
            .matches_detail()
    );
    s.detail = DetailMode::Match;
    let err = refusal(&net, &s);
    assert!(
        err.contains("old.safetensors") && err.contains("make it again"),
        "{err}"
    );
    target.detail = Some(Detail::of(&img, None));
    let new = dir.path().join("new.safetensors");
    target.save(&new).unwrap();
    s.style = StyleSource::Profile(new);
    s.detail = DetailMode::Auto;
    assert!(TransferPlan::new(s, net.device()).unwrap().matches_detail());
}

/// The distinct 8-bit colours of `img`.
fn colours_of(img: &Rgb) -> std::collections::BTreeSet<[u8; 3]> {
    let n = img.width * img.height;
    let byte = |v: f32| (v * 255.0).round() as u8;
    (0..n)
        .map(|i| [img.data[i], img.data[n + i], img.data[2 * n + i]].map(byte))
        .collect()
}

#[test]
fn a_posterised_style_paints_the_result_with_its_own_colours() {
    let net = net();
    let dir = tmp();
    let (style, path) = flat_style(dir.path());
    let want = colours_of(&style);
    assert_eq!(want.len(), 4);
    let mut s = config();
    // adapted colours need two images: the same one twice
    s.style = StyleSource::Images(vec![(path.clone(), 1.0), (path.clone(), 1.0)]);
    s.colours = Colours::Adapted;
    let plan = |s: &TransferSettings| TransferPlan::new(s.clone(), net.device());
    assert!(
        plan(&s).unwrap().posterises(),
        "a posterised style, adapted colours"
    );
    let painted = transfer(&net, &s).unwrap().image;
    let got = colours_of(&painted);
    assert!(got.is_subset(&want), "{got:?} is not within {want:?}");
    assert!(
        got.len() >= 2,
        "the photo's regions take different colours: {got:?}"
    );
    s.posterise = Posterise::Off;
    assert!(!plan(&s).unwrap().posterises());
    let free = colours_of(&transfer(&net, &s).unwrap().image);
    assert!(
        free.len() > 100,
        "{} colours when left as they are",
        free.len()
    );
    // the photo's colours, or the optimisation's, stay unless asked
    s.style = StyleSource::Images(vec![(path, 1.0)]);
    for colours in [Colours::Photo, Colours::Style] {
        s.colours = colours;
        s.posterise = Posterise::Auto;
        assert!(!plan(&s).unwrap().posterises(), "{colours:?}");
        s.posterise = Posterise::On;
        assert!(plan(&s).unwrap().posterises(), "{colours:?}");
    }
    let painted = colours_of(&transfer(&net, &s).unwrap().image);
    assert!(
        painted.is_subset(&want),
        "{painted:?} is not within {want:?}"
    );
    // a photo-like style has no swatches to give
    s.style = StyleSource::Images(vec![(data(STYLE), 1.0)]);
    let err = refusal(&net, &s);
    assert!(err.contains("not posterised"), "{err}");
    s.posterise = Posterise::Auto;
    assert!(!plan(&s).unwrap().posterises());
}

#[test]
fn a_lossy_style_s_estimated_palette_paints_the_result_unasked_only_when_several_images_show_it() {
    use stylelearn::posterise::Swatches;
    let net = net();
    let dir = tmp();
    let (_, path) = flat_style(dir.path());
    let jpeg = dir.path().join("flat.jpg");
    image_io::load(&path).unwrap().save(&jpeg).unwrap();
    let mut s = config();
    s.style = StyleSource::Images(vec![(jpeg.clone(), 1.0), (jpeg.clone(), 1.0)]);
    s.colours = Colours::Adapted;
    let plan = |s: &TransferSettings| TransferPlan::new(s.clone(), net.device());
    // a photo's flat sky gives such a palette too, so with two images auto leaves the colours
    assert!(!plan(&s).unwrap().posterises());
    // three whose flat regions each take a few colours show a posterising filter
    let mut three = s.clone();
    three.style = StyleSource::Images(vec![(jpeg.clone(), 1.0); 3]);
    assert!(plan(&three).unwrap().posterises());
    s.posterise = Posterise::On;
    assert!(plan(&s).unwrap().posterises());
    let estimated = Swatches::of_lossy(&image_io::load(&jpeg).unwrap(), None);
    assert!(estimated.lossy && estimated.is_posterised());
    // every colour of the result is a swatch, or one moved onto the per-channel grid that
    // the style's colours, in tenths, happen to lie on
    let got = colours_of(&transfer(&net, &s).unwrap().image);
    let near = |c: &[u8; 3], w: &[u8; 3]| (0..3).all(|k| c[k].abs_diff(w[k]) <= 3);
    assert!(
        got.iter()
            .all(|c| estimated.colours.iter().any(|(w, _)| near(c, w))),
        "{got:?} is not within {:?}",
        estimated.colours
    );
    assert!(got.len() >= 2, "{got:?}");
    // noise has no flat regions to estimate a palette from
    let noise = dir.path().join("noise.jpg");
    image_io::load(&data(STYLE)).unwrap().save(&noise).unwrap();
    s.style = StyleSource::Images(vec![(noise.clone(), 1.0), (noise, 1.0)]);
    let err = refusal(&net, &s);
    assert!(
        err.contains("not posterised") && err.contains("lossy images"),
        "{err}"
    );
}

#[test]
fn a_profile_without_swatches_is_not_posterised_and_refuses_to_be() {
    let net = net();
    let dir = tmp();
    let (style, _) = flat_style(dir.path());
    let mut target = bare_profile(&net, &style);
    let old = dir.path().join("old.safetensors");
    target.save(&old).unwrap();
    let mut s = config();
    s.style = StyleSource::Profile(old);
    s.colours = Colours::Photo;
    assert!(
        !TransferPlan::new(s.clone(), net.device())
            .unwrap()
            .posterises()
    );
    s.posterise = Posterise::On;
    let err = refusal(&net, &s);
    assert!(
        err.contains("old.safetensors") && err.contains("make it again"),
        "{err}"
    );
    target.swatches = Some(stylelearn::posterise::Swatches::of(&style, None));
    let new = dir.path().join("new.safetensors");
    target.save(&new).unwrap();
    s.style = StyleSource::Profile(new);
    assert!(TransferPlan::new(s, net.device()).unwrap().posterises());
}

/// A 64 px style painted in 4 px blocks of one colour each, as a pixel-art filter makes.
fn blocky_style(dir: &std::path::Path) -> std::path::PathBuf {
    let photo = image_io::load(&data(STYLE)).unwrap().fit_long_side(64);
    let blocks = stylelearn::pixelate::Blocks {
        size: 4.0,
        long_side: 64.0,
    };
    let path = dir.join("blocky.png");
    blocks.apply(&photo).save(&path).unwrap();
    path
}

/// Whether `img` is one colour on every 4 px block of a grid from its top-left corner.
fn is_in_blocks_of(img: &Rgb, k: usize) -> bool {
    let (w, h) = (img.width, img.height);
    (0..3).all(|c| {
        (0..h).all(|y| {
            (0..w).all(|x| {
                let at = |x: usize, y: usize| img.data[c * w * h + y * w + x];
                at(x, y) == at(x / k * k, y / k * k)
            })
        })
    })
}

#[test]
fn a_pixelated_style_gives_the_result_its_blocks() {
    use stylelearn::pixelate::{Blocks, Seen};
    let net = net();
    let dir = tmp();
    let path = blocky_style(dir.path());
    let mut s = config();
    s.style = StyleSource::Images(vec![(path.clone(), 1.0)]);
    let plan = |s: &TransferSettings| TransferPlan::new(s.clone(), net.device());
    assert_eq!(
        plan(&s).unwrap().blocks(),
        Some(Blocks {
            size: 4.0,
            long_side: 64.0
        })
    );
    // the same style as a JPEG: its blocks are found by their contrast
    let jpeg = dir.path().join("blocky.jpg");
    image_io::load(&path).unwrap().save(&jpeg).unwrap();
    let lossy = TransferSettings {
        style: StyleSource::Images(vec![(jpeg, 1.0)]),
        ..s.clone()
    };
    assert_eq!(plan(&lossy).unwrap().blocks(), plan(&s).unwrap().blocks());
    let out = transfer(&net, &s).unwrap().image;
    assert!(is_in_blocks_of(&out, 4), "the result is in 4 px blocks");
    assert!(matches!(Seen::of(&out.to_8bit(), None), Seen::Blocks(b) if b.size == 4.0));
    // the style used at half the output's scale has blocks half as large
    s.style_scale = 0.5;
    let out = transfer(&net, &s).unwrap().image;
    assert!(is_in_blocks_of(&out, 2) && !is_in_blocks_of(&out, 4));
    s.style_scale = 1.0;
    // left as they are, the pixels are not in blocks: the optimisation does not make them
    s.pixelate = Pixelate::Off;
    assert_eq!(plan(&s).unwrap().blocks(), None);
    let out = transfer(&net, &s).unwrap().image;
    assert_eq!(Seen::of(&out.to_8bit(), None), Seen::No);
    // a photo-like style has no blocks to give
    s.style = StyleSource::Images(vec![(data(STYLE), 1.0)]);
    s.pixelate = Pixelate::On;
    let err = refusal(&net, &s);
    assert!(err.contains("not pixelated"), "{err}");
    s.pixelate = Pixelate::Auto;
    assert_eq!(plan(&s).unwrap().blocks(), None);
    // unless it carries its dataset's blocks, as a learned image does: the blocks are those,
    // used at the scale the image is
    let carrying = dir.path().join("carrying.png");
    let carried = stylelearn::carried::Carried {
        blocks: Some(Blocks {
            size: 4.0,
            long_side: 64.0,
        }),
        ..Default::default()
    };
    let photo = image_io::load(&data(STYLE)).unwrap().fit_long_side(64);
    photo.save_with_notes(&carrying, &carried.notes()).unwrap();
    s.style = StyleSource::Images(vec![(carrying, 1.0)]);
    assert_eq!(plan(&s).unwrap().blocks(), carried.blocks);
    let out = transfer(&net, &s).unwrap().image;
    assert!(
        is_in_blocks_of(&out, 4),
        "the result is in the carried blocks"
    );
    s.style_scale = 0.5;
    assert_eq!(plan(&s).unwrap().blocks().map(|b| b.size), Some(2.0));
    s.style_scale = 1.0;
    // a profile keeps the blocks it records, and its output at another size takes the same
    // share of it
    let img = image_io::load(&path).unwrap();
    let mut target = bare_profile(&net, &img);
    target.blocks = Some(Blocks {
        size: 4.0,
        long_side: 64.0,
    });
    let profile = dir.path().join("blocky.safetensors");
    target.save(&profile).unwrap();
    s.style = StyleSource::Profile(profile);
    s.colours = Colours::Style;
    s.size = 96;
    assert_eq!(plan(&s).unwrap().blocks(), target.blocks);
    let out = transfer(&net, &s).unwrap().image;
    assert!(
        is_in_blocks_of(&out, 6),
        "blocks of 4 px at 64 px are 6 px at 96 px"
    );
}

#[test]
fn adapting_colours_to_a_one_image_profile_is_refused_as_such() {
    let net = net();
    let dir = tmp();
    let img = image_io::load(&data(STYLE)).unwrap().fit_long_side(64);
    let mut target = bare_profile(&net, &img);
    target.palette = color::Palette::mix(&[(&color::Palette::of(&img, None), 1.0)]);
    assert!(target.palette.as_ref().unwrap().spread.is_none());
    let path = dir.path().join("one.safetensors");
    target.save(&path).unwrap();
    let mut s = config();
    s.style = StyleSource::Profile(path);
    s.colours = Colours::Adapted;
    let err = refusal(&net, &s);
    assert!(
        err.contains("one.safetensors") && err.contains("from one image"),
        "{err}"
    );
    assert!(!err.contains("older stylelearn"), "{err}");
    // auto falls back to the style's colours
    s.colours = Colours::Auto;
    assert_eq!(
        TransferPlan::new(s, net.device()).unwrap().colours(),
        Colours::Style
    );
}

#[test]
fn lbfgs_beats_adam_at_equal_evaluations_on_the_style_loss() {
    let net = net();
    let budget = 40;
    let mut results = Vec::new();
    for kind in [OptimizerKind::Lbfgs, OptimizerKind::Adam] {
        let mut loss = style_loss(&net, 48);
        let mut x = image_io::noise(48, 48, 5).data;
        let mut opt = kind.build(None);
        while loss.evals < budget {
            opt.step(&mut x, &mut loss).unwrap();
        }
        let evals = loss.evals;
        let (v, _) = loss.eval(&x).unwrap();
        results.push((v, evals));
    }
    let ((l, le), (a, ae)) = (results[0], results[1]);
    assert!(le <= ae + 25, "L-BFGS used {le} evaluations, Adam {ae}");
    assert!(
        l < a,
        "after ~{budget} evaluations L-BFGS reached {l}, Adam {a}"
    );
}

#[test]
fn same_seed_gives_the_same_bytes() {
    let dir = tmp();
    let mut outs = Vec::new();
    for name in ["a.png", "b.png"] {
        let out = dir.path().join(name);
        let o = cli(&[
            "transfer",
            CONTENT,
            "--style",
            STYLE,
            "-o",
            out.to_str().unwrap(),
            "--size",
            "48",
            "--iters",
            "4",
            "--init",
            "noise",
            "--seed",
            "7",
            "-q",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        outs.push(std::fs::read(&out).unwrap());
    }
    assert_eq!(outs[0], outs[1]);
}

#[test]
fn pyramid_and_snapshots_and_log_are_written() {
    let dir = tmp();
    let out = dir.path().join("r.jpg");
    let o = cli(&[
        "transfer",
        CONTENT,
        "--style",
        &format!("{STYLE},{CONTENT}"),
        "--style-blend",
        "3,1",
        "-o",
        out.to_str().unwrap(),
        "--scales",
        "32,64",
        "--iters",
        "4",
        "--save-every",
        "2",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let img = image_io::load(&out).unwrap();
    assert_eq!(img.width.max(img.height), 64);
    assert!(
        dir.path().join("r.iter00006.jpg").exists(),
        "snapshot at iteration 6 (stage 2)"
    );
    let log = std::fs::read_to_string(dir.path().join("r.log.csv")).unwrap();
    assert_eq!(
        log.lines().count(),
        1 + 8,
        "header + 4 iterations × 2 scales:\n{log}"
    );
}

#[test]
fn bad_input_fails_cleanly_and_writes_nothing() {
    let dir = tmp();
    let junk = dir.path().join("junk.png");
    std::fs::write(&junk, b"not an image").unwrap();
    let tiny = dir.path().join("tiny.png");
    Rgb::from_planar(8, 8, vec![0.5; 192]).save(&tiny).unwrap();
    let out = dir.path().join("out.png");
    let o = out.to_str().unwrap();
    let xyz = dir.path().join("out.xyz");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "transfer",
                junk.to_str().unwrap(),
                "--style",
                STYLE,
                "-o",
                o,
                "--size",
                "32",
                "--iters",
                "1",
            ],
            "junk.png",
        ),
        (
            vec![
                "transfer",
                CONTENT,
                "--style",
                tiny.to_str().unwrap(),
                "-o",
                o,
                "--size",
                "32",
                "--iters",
                "1",
            ],
            "16 px",
        ),
        (
            vec![
                "transfer",
                CONTENT,
                "--style",
                STYLE,
                "--style-blend",
                "1,2",
                "-o",
                o,
                "--size",
                "32",
            ],
            "--style-blend",
        ),
        (
            vec![
                "transfer",
                CONTENT,
                "--style",
                STYLE,
                "--style-layers",
                "relu9_9",
                "-o",
                o,
            ],
            "relu9_9",
        ),
        (
            vec![
                "transfer",
                CONTENT,
                "--style",
                STYLE,
                "--layer-weights",
                "1,2",
                "-o",
                o,
            ],
            "--layer-weights",
        ),
        (
            vec![
                "transfer",
                CONTENT,
                "--style",
                STYLE,
                "-o",
                xyz.to_str().unwrap(),
            ],
            ".png",
        ),
        (
            vec!["transfer", CONTENT, "--style", "missing.png", "-o", o],
            "missing.png",
        ),
        (
            vec![
                "transfer",
                CONTENT,
                "--style",
                STYLE,
                "-o",
                o,
                "--size",
                "32",
                "--result-size",
                "8",
            ],
            "--result-size",
        ),
        (
            vec![
                "transfer",
                CONTENT,
                "--style",
                STYLE,
                "-o",
                o,
                "--result-size",
                "full",
            ],
            "--result-size",
        ),
        (
            vec![
                "transfer",
                CONTENT,
                "--style",
                STYLE,
                "-o",
                o,
                "--size",
                "32",
                "--result-size",
                "200000",
            ],
            "would fit (lower --result-size)",
        ),
        (
            vec![
                "transfer",
                CONTENT,
                "--style",
                STYLE,
                "-o",
                o,
                "--size",
                "32",
                "--vgg",
                junk.to_str().unwrap(),
            ],
            "junk.png",
        ),
        (
            vec![
                "transfer",
                CONTENT,
                "--style",
                STYLE,
                "-o",
                o,
                "--size",
                "32",
                "--vgg",
                "no/such/vgg.h5",
            ],
            "vgg.h5",
        ),
    ];
    for (args, needle) in cases {
        let r = cli(&args);
        assert!(!r.status.success(), "{args:?} should fail");
        let e = stderr(&r);
        assert!(
            e.contains(needle),
            "{args:?}: error should mention {needle}: {e}"
        );
        assert!(!e.contains("panicked"), "{args:?} panicked: {e}");
        assert!(!out.exists(), "{args:?} wrote an output");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".stylelearn-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn ctrl_c_stops_and_writes_the_latest_image() {
    let dir = tmp();
    let out = dir.path().join("i.png");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_stylelearn"))
        .args([
            "transfer",
            CONTENT,
            "--style",
            STYLE,
            "-o",
            out.to_str().unwrap(),
            "--size",
            "64",
            "--iters",
            "100000",
            "-q",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first logged steps (the log grows as a partial file until the run ends),
    // then interrupt.
    let log = dir.path().join(".stylelearn-partial.i.log.csv");
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
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(stderr(&o).contains("interrupted"), "{}", stderr(&o));
    let img = image_io::load(&out).expect("latest image written");
    assert_eq!(img.width.max(img.height), 64);
    // The stopped run's files are published together; no partial file is left.
    assert!(dir.path().join("i.log.csv").exists());
    assert!(!log.exists());
}

#[test]
fn a_non_finite_loss_is_a_clear_error_and_writes_nothing() {
    let dir = tmp();
    let out = dir.path().join("nan.png");
    let o = cli(&[
        "transfer",
        CONTENT,
        "--style",
        STYLE,
        "-o",
        out.to_str().unwrap(),
        "--size",
        "32",
        "--iters",
        "5",
        "--optimizer",
        "adam",
        "--lr",
        "1e30",
    ]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("the loss became") && e.contains("--lr"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
    assert!(!out.exists());
}

#[test]
fn match_palette_takes_the_style_s_colours() {
    let net = net();
    let dir = tmp();
    // A style in greens and yellows; the photo is mostly warm and dark.
    let style = two_colour(48, 48, 24, [0.1, 0.7, 0.2], [0.9, 0.9, 0.1]);
    let style_path = dir.path().join("green.png");
    style.save(&style_path).unwrap();
    let mut s = config();
    s.style = StyleSource::Images(vec![(style_path, 1.0)]);
    s.iters = 5;
    let plain = transfer(&net, &s).unwrap().image;
    s.colours = Colours::Palette;
    let matched = transfer(&net, &s).unwrap().image;
    let target = channel_means(&style);
    let dist = |img: &Rgb| {
        let m = channel_means(img);
        (0..3)
            .map(|c| (m[c] - target[c]).powi(2))
            .sum::<f32>()
            .sqrt()
    };
    assert!(
        dist(&matched) < 0.5 * dist(&plain),
        "mean colour distance to the style: matched {} vs plain {}",
        dist(&matched),
        dist(&plain)
    );
    // Adapting to how the style's images vary needs more than one image.
    s.colours = Colours::Adapted;
    assert!(matches!(
        transfer(&net, &s),
        Err(stylelearn::Error::Setting {
            setting: stylelearn::Setting::Colours,
            ..
        })
    ));
    // By default, style images give the style's colours.
    s.colours = Colours::Auto;
    let plan = TransferPlan::new(s, net.device()).unwrap();
    assert_eq!(plan.colours(), Colours::Style);
}

#[test]
fn with_a_consistent_dataset_adapted_colours_follow_it_and_are_the_profile_default() {
    // Three light, grey-blue "sketches": they agree on lightness and colourfulness, so a dark,
    // colourful photo moves toward them; the photo's hues stay.
    let net = net();
    let dir = tmp();
    let mut paths = Vec::new();
    for (i, v) in [0.85f32, 0.88, 0.9].iter().enumerate() {
        let img = two_colour(40, 40, 8, [*v, *v, *v + 0.05], [v - 0.1, v - 0.1, v - 0.05]);
        let p = dir.path().join(format!("s{i}.png"));
        img.save(&p).unwrap();
        paths.push((p, 1.0));
    }
    let mut s = config();
    s.style = StyleSource::Images(paths.clone());
    s.iters = 3;
    // the sketches are posterised (two colours each): their exact colours are not what this
    // test is about
    s.posterise = Posterise::Off;
    s.colours = Colours::Photo;
    let kept = transfer(&net, &s).unwrap().image;
    s.colours = Colours::Adapted;
    let adapted = transfer(&net, &s).unwrap().image;
    let lightness = |img: &Rgb| channel_means(img).iter().sum::<f32>() / 3.0;
    assert!(
        lightness(&adapted) > lightness(&kept) + 0.1,
        "adapted {} vs kept {}",
        lightness(&adapted),
        lightness(&kept)
    );
    // a profile of the same images records their spread: adapting is its default
    let profile = dir.path().join("p.safetensors");
    let stat = StatisticKind::Gram.build();
    let layers: Vec<usize> = (0..16).collect();
    let mut b = TargetBuilder::new(&net, stat.as_ref(), &layers);
    let mut palettes = Vec::new();
    for (p, w) in &paths {
        let img = image_io::load(p).unwrap();
        palettes.push(color::Palette::of(&img, None));
        b.add(
            &p.display().to_string(),
            img.to_tensor(net.device()),
            None,
            *w,
        )
        .unwrap();
    }
    let (mut target, _) = b.finish().unwrap();
    let parts: Vec<(&color::Palette, f64)> = palettes.iter().map(|p| (p, 1.0)).collect();
    target.palette = color::Palette::mix(&parts);
    target.save(&profile).unwrap();
    let mut s = config();
    s.style = StyleSource::Profile(profile);
    assert_eq!(
        TransferPlan::new(s, net.device()).unwrap().colours(),
        Colours::Adapted
    );
}

/// Photo-like style images of 48×40: stripes of four brightnesses, one of them white, at
/// angles and offsets that differ from image to image, so every image reaches white in every
/// ring around its centre.
fn stripes(k: usize) -> Rgb {
    let (w, h) = (48, 40);
    let mut data = vec![0.0; 3 * w * h];
    for y in 0..h {
        for x in 0..w {
            let v = [1.0, 0.6, 0.3, 0.05][((x * (k % 2 + 1) + y * (k % 3)) / 12 + k) % 4];
            for (c, tint) in [1.0, 0.9, 0.8].iter().enumerate() {
                data[c * w * h + y * w + x] = v * tint;
            }
        }
    }
    Rgb::from_planar(w, h, data)
}

/// Mean brightness of the outer ring (r² > 0.6) over that of the centre (r² < 0.2).
fn corner_falloff(img: &Rgb) -> f32 {
    let (w, h) = (img.width, img.height);
    let (mut outer, mut inner) = ((0.0, 0), (0.0, 0));
    for y in 0..h {
        for x in 0..w {
            let dx = (x as f32 + 0.5 - w as f32 / 2.0) / (w as f32 / 2.0);
            let dy = (y as f32 + 0.5 - h as f32 / 2.0) / (h as f32 / 2.0);
            let r2 = (dx * dx + dy * dy) / 2.0;
            let v = (0..3).map(|c| img.data[c * w * h + y * w + x]).sum::<f32>();
            if r2 > 0.6 {
                outer = (outer.0 + v, outer.1 + 1);
            } else if r2 < 0.2 {
                inner = (inner.0 + v, inner.1 + 1);
            }
        }
    }
    (outer.0 / outer.1 as f32) / (inner.0 / inner.1 as f32)
}

#[test]
fn a_vignette_the_style_s_images_share_is_given_to_the_photo_and_kept_in_the_profile() {
    let net = net();
    let dir = tmp();
    let vignette = stylelearn::vignette::Vignette { strength: 0.4 };
    let (plain, dark) = (dir.path().join("plain"), dir.path().join("dark"));
    let (mut plain_paths, mut dark_paths) = (Vec::new(), Vec::new());
    for k in 0..8 {
        for (folder, paths, img) in [
            (&plain, &mut plain_paths, stripes(k)),
            (&dark, &mut dark_paths, vignette.apply(&stripes(k))),
        ] {
            std::fs::create_dir_all(folder).unwrap();
            let p = folder.join(format!("s{k}.png"));
            img.save(&p).unwrap();
            paths.push((p, 1.0));
        }
    }
    let mut s = config();
    s.iters = 2;
    s.posterise = Posterise::Off;
    s.colours = Colours::Adapted;
    s.style = StyleSource::Images(plain_paths);
    let without = corner_falloff(&transfer(&net, &s).unwrap().image);
    s.style = StyleSource::Images(dark_paths);
    let with = corner_falloff(&transfer(&net, &s).unwrap().image);
    // The outer ring's mean r² is about 0.75: a 0.4 vignette darkens it by about 30%.
    assert!(
        with < 0.8 * without,
        "corners over centre: {with} with the vignette, {without} without"
    );
    // A profile records the vignette, and its colours are those of the images without it.
    let profile = dir.path().join("dark.safetensors");
    let o = cli(&[
        "profile",
        dark.to_str().unwrap(),
        "-o",
        profile.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let palette = stylelearn::style::StyleTarget::load(&profile, net.device())
        .unwrap()
        .palette
        .unwrap();
    let found = palette.vignette.as_ref().expect("a vignette").strength;
    assert!((found - 0.4).abs() < 0.05, "strength {found}");
    let lightness = |imgs: Vec<Rgb>| {
        let palettes: Vec<color::Palette> =
            imgs.iter().map(|i| color::Palette::of(i, None)).collect();
        let parts: Vec<(&color::Palette, f64)> = palettes.iter().map(|p| (p, 1.0)).collect();
        color::Palette::mix(&parts).unwrap().moments().0
    };
    let before = lightness((0..8).map(stripes).collect());
    let after = lightness((0..8).map(|k| vignette.apply(&stripes(k))).collect());
    let recorded = palette.moments().0;
    assert!(
        (recorded - before).abs() < 1.0 && before - after > 3.0,
        "mean L* recorded {recorded}, of the images without the vignette {before}, with it {after}"
    );
}

#[test]
fn the_cpu_fast_path_gives_burn_s_loss_and_gradient() {
    // fastvgg (Winograd convolutions, hand-written input gradient) against burn's conv2d and
    // autodiff, on the real network: the same loss and gradient at the start of a 64² transfer,
    // and the same loss after a few Adam steps.
    let fast = net();
    assert!(fast.fast().is_some(), "the flex device uses the fast path");
    let burn = net().burn_only();
    let content = image_io::load(&data(CONTENT)).unwrap().fit_long_side(64);
    let x = content.resize(64, 64).data;
    let (va, ga) = style_loss(&fast, 64).eval(&x).unwrap();
    let (vb, gb) = style_loss(&burn, 64).eval(&x).unwrap();
    assert!(((va - vb) / vb).abs() < 1e-4, "loss: fast {va}, burn {vb}");
    let dot: f64 = ga.iter().zip(&gb).map(|(a, b)| *a as f64 * *b as f64).sum();
    let na: f64 = ga.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = gb.iter().map(|b| (*b as f64).powi(2)).sum::<f64>().sqrt();
    let err: f64 = ga
        .iter()
        .zip(&gb)
        .map(|(a, b)| ((a - b) as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!(
        err / nb < 1e-3,
        "gradient: relative error {}, cosine {}",
        err / nb,
        dot / (na * nb)
    );
    // A 64² transfer with Adam (L-BFGS's line search makes trajectories diverge from any
    // rounding difference: even F(2,3) Winograd, at a 4e-7 gradient error, ends 2% away after
    // 15 iterations, and burn itself would with another summation order). Adam drifts too,
    // more slowly, and by how much depends on the CPU's kernels: on a machine without
    // AVX-512 the two losses were 4e-6 apart after 5 steps, 1.4e-4 after 10, 6e-4 after 15
    // and 1.2e-3 after 30. Ten steps reuse the fast path's recycled buffers nine times.
    let mut s = config();
    s.optimizer = OptimizerKind::Adam;
    s.iters = 10;
    let run = |n: &Vgg19| {
        TransferPlan::new(s.clone(), n.device())
            .unwrap()
            .run(n, &mut Silent)
            .unwrap()
            .last
            .total
    };
    let (a, b) = (run(&fast), run(&burn));
    assert!(
        ((a - b) / b).abs() < 1e-3,
        "final loss: fast path {a}, burn {b}"
    );
}

#[test]
fn no_iterations_give_the_photo_as_the_colour_mode_makes_it() {
    let net = net();
    let mut s = config();
    s.iters = 0;
    s.detail = DetailMode::Keep;
    s.posterise = Posterise::Off;
    let photo = image_io::load(&data(CONTENT))
        .unwrap()
        .fit_long_side(s.size);
    let diff = |a: &Rgb| a.max_abs_diff(&photo);
    for colours in [Colours::Style, Colours::Photo] {
        s.colours = colours;
        let out = transfer(&net, &s).unwrap();
        assert_eq!((out.iters, out.evals), (0, 0));
        assert!(diff(&out.image) < 0.02, "{colours:?}: {}", diff(&out.image));
    }
    // The photo mapped onto the style's palette is not the photo.
    s.colours = Colours::Palette;
    assert!(diff(&transfer(&net, &s).unwrap().image) > 0.1);
}

/// The mean absolute difference of two images' values.
fn mean_abs_diff(a: &Rgb, b: &Rgb) -> f32 {
    assert_eq!((a.width, a.height), (b.width, b.height));
    a.data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).abs())
        .sum::<f32>()
        / a.data.len() as f32
}

#[test]
fn a_result_at_the_photo_s_size_is_the_photo_there_plus_the_optimised_change() {
    // A phone photo is far larger than the size a style is optimised at. A result at the
    // photo's size takes the optimised change, and keeps the photo's own detail finer than
    // the optimised pixels instead of blurring it by enlarging: shrunk to the optimised size
    // it is the optimised result, and with nothing optimised it is the photo itself.
    let net = net();
    let mut s = config();
    s.colours = Colours::Style;
    s.detail = DetailMode::Keep;
    s.posterise = Posterise::Off;
    s.pixelate = Pixelate::Off;
    let optimised = transfer(&net, &s).unwrap().image;
    let photo = image_io::load(&data(CONTENT)).unwrap();
    let small_photo = photo.fit_long_side(s.size);
    let changed = mean_abs_diff(&optimised, &small_photo);
    assert!(
        changed > 0.03,
        "the transfer changed the photo by {changed} only"
    );

    s.result = ResultSize::Photo;
    let plan = TransferPlan::new(s.clone(), net.device()).unwrap();
    assert_eq!(plan.output_size(), (64, 48));
    assert_eq!(plan.result_size(), (160, 120));
    // the finish at the result's size is announced, after the optimisation
    struct Stages(Vec<(StageKind, usize, usize)>);
    impl Observer for Stages {
        fn stage(&mut self, s: &Stage) {
            self.0.push((s.kind, s.width, s.height));
        }
    }
    let mut stages = Stages(Vec::new());
    let full = plan.run(&net, &mut stages).unwrap().image;
    assert_eq!((full.width, full.height), (160, 120));
    assert_eq!(
        stages.0,
        [(StageKind::Optimise, 64, 48), (StageKind::Finish, 160, 120)]
    );
    let shrunk = full.resize(optimised.width, optimised.height);
    let off = mean_abs_diff(&shrunk, &optimised);
    assert!(
        off < changed / 5.0,
        "shrunk, {off} from the optimised result"
    );

    s.iters = 0;
    let unchanged = transfer(&net, &s).unwrap().image;
    let enlarged = small_photo.resize(160, 120);
    let (sharp, blurred) = (
        mean_abs_diff(&unchanged, &photo),
        mean_abs_diff(&enlarged, &photo),
    );
    assert!(
        sharp < blurred / 5.0,
        "{sharp} from the photo (the optimised size enlarged: {blurred})"
    );

    s.result = ResultSize::LongSide(100);
    let plan = TransferPlan::new(s.clone(), net.device()).unwrap();
    assert_eq!(plan.result_size(), (100, 75));
    let out = plan.run(&net, &mut Silent).unwrap().image;
    assert_eq!((out.width, out.height), (100, 75));
}

#[test]
fn a_style_image_larger_than_it_is_used_gives_its_own_detail_to_a_full_size_result() {
    // A grainy style image, used at 40 px for a 160 px result: the result takes the grain the
    // image has at 160 px, not the image's 40 px detail stretched.
    let dir = tmp();
    let photo = image_io::load(&data(CONTENT)).unwrap();
    let grainy = with_grain(&photo, 0.3, 5);
    let (full, shrunk) = (dir.path().join("full.png"), dir.path().join("small.png"));
    grainy.save(&full).unwrap();
    grainy.fit_long_side(40).save(&shrunk).unwrap();
    let own = Detail::of(&image_io::load(&full).unwrap(), None);
    let net = net();
    let distance = |style: &std::path::Path| {
        let s = TransferSettings {
            size: 40,
            iters: 1,
            result: ResultSize::Photo,
            detail: DetailMode::Match,
            posterise: Posterise::Off,
            ..TransferSettings::new(
                data(CONTENT),
                StyleSource::Images(vec![(style.to_path_buf(), 1.0)]),
            )
        };
        let r = transfer(&net, &s).unwrap().image;
        assert_eq!((r.width, r.height), (160, 120));
        Detail::of(&r, None).distance(&own)
    };
    let (from_full, from_shrunk) = (distance(&full), distance(&shrunk));
    assert!(
        from_full < from_shrunk / 2.0,
        "the result's detail from the style's own: {from_full} (style image at 160 px), {from_shrunk} (at 40 px)"
    );
}

#[test]
fn a_batch_at_the_photos_sizes_gives_each_result_its_photo_s_size() {
    let dir = tmp();
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    let photo = image_io::load(&data(CONTENT)).unwrap();
    photo.save(&photos.join("wide.png")).unwrap();
    photo
        .resize(90, 120)
        .save(&photos.join("tall.png"))
        .unwrap();
    let out = dir.path().join("out");
    let o = cli(&[
        "transfer",
        photos.to_str().unwrap(),
        "--style",
        STYLE,
        "-o",
        out.to_str().unwrap(),
        "--size",
        "32",
        "--iters",
        "1",
        "--result-size",
        "photo",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for (stem, size) in [("wide", (160, 120)), ("tall", (90, 120))] {
        let r = image_io::load(&out.join(format!("{stem}.png"))).unwrap();
        assert_eq!((r.width, r.height), size, "{stem}");
    }
}

#[test]
fn a_phone_photo_stored_turned_is_stylised_as_it_is_seen() {
    // A phone stores a photo as the sensor saw it and an Exif orientation that turns it. Here
    // the landscape test photo is stored as portrait pixels tagged 8 (turn 90° anticlockwise
    // to show it): the result must be the landscape photo, not its stored pixels.
    use image::ImageEncoder;
    let dir = tmp();
    let seen = image::open(data(CONTENT)).unwrap().to_rgb8();
    let stored = image::imageops::rotate90(&seen);
    // big-endian TIFF: one directory entry, the orientation (0x0112, SHORT, 1 value) = 8
    let mut exif = b"MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x08\0\0".to_vec();
    exif.extend_from_slice(&[0; 4]);
    let photo = dir.path().join("phone.jpg");
    let mut bytes = Vec::new();
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 95);
    enc.set_exif_metadata(exif).unwrap();
    enc.write_image(
        &stored,
        stored.width(),
        stored.height(),
        image::ExtendedColorType::Rgb8,
    )
    .unwrap();
    std::fs::write(&photo, bytes).unwrap();

    let out = dir.path().join("out.png");
    let o = cli(&[
        "transfer",
        photo.to_str().unwrap(),
        "--style",
        STYLE,
        "-o",
        out.to_str().unwrap(),
        "--size",
        "80",
        "--iters",
        "0",
        "--colours",
        "photo",
        "--detail",
        "keep",
        "--posterise",
        "off",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let result = image_io::load(&out).unwrap();
    let want = image_io::load(&data(CONTENT)).unwrap().fit_long_side(80);
    assert_eq!((result.width, result.height), (80, 60));
    let mean_diff = result
        .data
        .iter()
        .zip(&want.data)
        .map(|(a, b)| (a - b).abs())
        .sum::<f32>()
        / want.data.len() as f32;
    assert!(
        mean_diff < 0.03,
        "mean difference from the photo as seen: {mean_diff}"
    );
}

#[test]
fn the_default_iterations_follow_the_optimiser() {
    // L-BFGS defaults to few iterations (more moved results away from the filters); Adam's
    // steps are smaller and keep their own, larger default.
    let dir = tmp();
    let last_iteration = |optimizer: &str| {
        let out = dir.path().join(format!("{optimizer}.png"));
        let o = cli(&[
            "transfer",
            CONTENT,
            "--style",
            STYLE,
            "-o",
            out.to_str().unwrap(),
            "--size",
            "24",
            "--optimizer",
            optimizer,
            "-q",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let log = std::fs::read_to_string(dir.path().join(format!("{optimizer}.log.csv"))).unwrap();
        let last = log.lines().last().unwrap().split(',').next().unwrap();
        last.parse::<usize>().unwrap()
    };
    assert_eq!(last_iteration("adam"), defaults::ADAM_ITERS);
    let lbfgs = last_iteration("lbfgs");
    assert!((1..=defaults::ITERS).contains(&lbfgs), "{lbfgs}");
}
