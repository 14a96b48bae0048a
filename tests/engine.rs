//! The library alone drives a run: an observer sees every step and stops the run after step 5;
//! the run returns the image it reached, and nothing is printed or written.
mod common;

use common::*;
use stylelearn::learn::{LearnPlan, LearnSettings};
use stylelearn::observe::{Control, Observer, Stage, StageKind, Step};
use stylelearn::transfer::{StyleSource, TransferPlan, TransferSettings};

#[derive(Default)]
struct StopAfter5 {
    stages: Vec<StageKind>,
    iters: Vec<usize>,
    totals: Vec<f64>,
    last_image: Option<stylelearn::image_io::Rgb>,
}

impl Observer for StopAfter5 {
    fn stage(&mut self, stage: &Stage) {
        self.stages.push(stage.kind);
    }
    fn step(&mut self, step: &Step<'_>) -> Control {
        self.iters.push(step.iter);
        self.totals.push(step.loss.total);
        assert_eq!(step.loss.per_layer.len(), step.style_layers.len());
        self.last_image = Some(step.image());
        if step.iter == 5 {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

#[test]
fn a_transfer_driven_by_the_library_stops_after_step_5_with_the_image_reached() {
    let net = net();
    let dir = tmp();
    let settings = TransferSettings {
        size: 48,
        iters: 50,
        ..TransferSettings::new(
            data("tests/data/reference/content.png"),
            StyleSource::Images(vec![(data("tests/data/reference/style.png"), 1.0)]),
        )
    };
    let plan = TransferPlan::new(settings, net.device()).unwrap();
    let mut obs = StopAfter5::default();
    let out = plan.run(&net, &mut obs).unwrap();
    assert!(out.stopped);
    assert_eq!(out.iters, 5);
    assert_eq!(obs.iters, vec![1, 2, 3, 4, 5]);
    assert_eq!(obs.stages, vec![StageKind::Optimise]);
    assert_eq!(out.log.rows.len(), 5);
    assert!(obs.totals[4] < obs.totals[0], "{:?}", obs.totals);
    assert_eq!(out.image.data, obs.last_image.unwrap().data);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_learn_run_driven_by_the_library_stops_after_step_5_with_the_image_reached() {
    let net = net();
    let settings = LearnSettings {
        size: 32,
        iters: 50,
        ..LearnSettings::new(vec![data("tests/data/reference/style.png")])
    };
    let plan = LearnPlan::new(settings).unwrap();
    let mut obs = StopAfter5::default();
    let out = plan.run(&net, &mut obs).unwrap();
    assert!(out.stopped);
    assert_eq!(out.iters, 5);
    assert_eq!(obs.iters, vec![1, 2, 3, 4, 5]);
    assert_eq!(
        obs.stages,
        vec![StageKind::ReadDataset, StageKind::Optimise]
    );
    assert_eq!(out.target.sources.len(), 1);
    assert_eq!(out.image.data, obs.last_image.unwrap().data);
}

#[test]
fn settings_are_checked_in_the_library_s_own_terms() {
    let bad = TransferSettings {
        step: Some(0.0),
        ..TransferSettings::new(
            data("tests/data/reference/content.png"),
            StyleSource::Images(vec![(data("tests/data/reference/style.png"), 1.0)]),
        )
    };
    let e = TransferPlan::new(bad, &burn::tensor::Device::flex())
        .err()
        .expect("a zero step is refused");
    assert!(
        matches!(
            e,
            stylelearn::Error::Setting {
                setting: stylelearn::Setting::StepSize,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        !e.to_string().contains("--"),
        "no flag names in library errors: {e}"
    );
}

/// Records the optimisation stages' sizes and every step's iteration and image size.
#[derive(Default)]
struct Stages {
    sizes: Vec<(usize, usize)>,
    steps: Vec<(usize, usize)>,
}

impl Observer for Stages {
    fn stage(&mut self, stage: &Stage) {
        if stage.kind == StageKind::Optimise {
            assert_eq!(stage.count, 2);
            self.sizes.push((stage.index, stage.width));
        }
    }
    fn step(&mut self, step: &Step<'_>) -> Control {
        self.steps.push((step.iter, step.image().width));
        Control::Continue
    }
}

/// A learn of the reference style at 48 px in two stages (24 and 48 px) on three layers.
fn two_stage_learn(iters: usize) -> LearnSettings {
    LearnSettings {
        size: 48,
        stages: Some(2),
        iters,
        layers: vec![0, 4, 12],
        ..LearnSettings::new(vec![data("tests/data/reference/style.png")])
    }
}

#[test]
fn a_learn_run_goes_coarse_to_fine_and_ends_at_its_size() {
    let net = net();
    let plan = LearnPlan::new(two_stage_learn(4)).unwrap();
    assert_eq!(plan.sides(), [24, 48]);
    let mut obs = Stages::default();
    let out = plan.run(&net, &mut obs).unwrap();
    assert!(!out.stopped);
    assert_eq!(obs.sizes, [(0, 24), (1, 48)]);
    // Iterations count on across the stages; each stage optimises its own size.
    let want: Vec<(usize, usize)> = (1..=8).map(|i| (i, if i <= 4 { 24 } else { 48 })).collect();
    assert_eq!(obs.steps, want);
    assert_eq!((out.iters, out.log.rows.len()), (8, 8));
    assert_eq!((out.image.width, out.image.height), (48, 48));
    // A stage that would be smaller than the network accepts is refused, in the library's
    // terms.
    let e = LearnPlan::new(LearnSettings {
        size: 48,
        stages: Some(3),
        ..LearnSettings::new(vec![data("tests/data/reference/style.png")])
    })
    .err()
    .expect("a 12 px stage");
    assert!(
        matches!(
            e,
            stylelearn::Error::Setting {
                setting: stylelearn::Setting::Stages,
                ..
            }
        ),
        "{e}"
    );
}

/// Mean absolute difference of two images of the same size.
fn mean_diff(a: &stylelearn::image_io::Rgb, b: &stylelearn::image_io::Rgb) -> f32 {
    assert_eq!((a.width, a.height), (b.width, b.height));
    let sum: f32 = a.data.iter().zip(&b.data).map(|(x, y)| (x - y).abs()).sum();
    sum / a.data.len() as f32
}

#[test]
fn a_learn_run_stopped_in_a_coarse_stage_returns_its_image_at_the_size_asked_for() {
    let net = net();
    let settings = LearnSettings {
        detail: false,
        ..two_stage_learn(20)
    };
    let plan = LearnPlan::new(settings).unwrap();
    let mut obs = StopAfter5::default();
    let out = plan.run(&net, &mut obs).unwrap();
    assert!(out.stopped);
    assert_eq!(out.iters, 5);
    // Step 5 was in the 24 px stage; the run's image is that one, enlarged to 48 px.
    let reached = obs.last_image.unwrap();
    assert_eq!((reached.width, reached.height), (24, 24));
    assert_eq!((out.image.width, out.image.height), (48, 48));
    assert!(mean_diff(&out.image, &reached.resize(48, 48)) < 0.01);
}

/// A transfer of the reference photo, coarse to fine over 32 and 48 px, stopped by the observer
/// after step 5 (in the 32 px scale): its outcome, the image the observer saw last, and the
/// size of the photo at 48 px.
fn transfer_stopped_at_32_px(
    style: std::path::PathBuf,
    change: impl FnOnce(&mut TransferSettings),
) -> (
    stylelearn::transfer::TransferOutcome,
    stylelearn::image_io::Rgb,
    (usize, usize),
) {
    let net = net();
    let photo = data("tests/data/reference/content.png");
    let mut settings = TransferSettings {
        scales: Some(vec![32, 48]),
        iters: 20,
        ..TransferSettings::new(photo.clone(), StyleSource::Images(vec![(style, 1.0)]))
    };
    change(&mut settings);
    let plan = TransferPlan::new(settings, net.device()).unwrap();
    let mut obs = StopAfter5::default();
    let out = plan.run(&net, &mut obs).unwrap();
    assert!(out.stopped);
    let want = stylelearn::image_io::load(&photo)
        .unwrap()
        .size_for_long_side(48);
    let reached = obs.last_image.unwrap();
    assert_eq!(reached.width.max(reached.height), 32);
    (out, reached, want)
}

#[test]
fn a_transfer_stopped_at_a_coarse_scale_returns_its_image_at_the_last_scale_s_size() {
    let (out, reached, want) =
        transfer_stopped_at_32_px(data("tests/data/reference/style.png"), |s| {
            s.detail = stylelearn::transfer::DetailMode::Keep;
        });
    assert_eq!((out.image.width, out.image.height), want);
    assert!(mean_diff(&out.image, &reached.resize(want.0, want.1)) < 0.01);
}

#[test]
fn a_posterised_transfer_stopped_at_a_coarse_scale_is_in_the_style_s_colours_at_its_size() {
    // A style painted in 8 colours: each channel at 0 or 1.
    let dir = tmp();
    let mut style = stylelearn::image_io::load(&data("tests/data/reference/style.png")).unwrap();
    style
        .data
        .iter_mut()
        .for_each(|v| *v = if *v < 0.5 { 0.0 } else { 1.0 });
    let path = dir.path().join("posterised.png");
    style.save(&path).unwrap();
    let (out, _, want) = transfer_stopped_at_32_px(path, |s| {
        s.posterise = stylelearn::transfer::Posterise::On;
    });
    // The enlarged image is posterised at its size, not posterised and then enlarged (which
    // would blend neighbouring swatches).
    assert_eq!((out.image.width, out.image.height), want);
    assert!(
        out.image
            .data
            .iter()
            .all(|&v| !(1e-3..=1.0 - 1e-3).contains(&v)),
        "not all in the style's colours"
    );
}
