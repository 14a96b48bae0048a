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
