//! `stylelearn transfer` with an output folder: many photos, one style.
use std::path::PathBuf;

use stylelearn::Error;
use stylelearn::batch::{BatchFiles, ItemResult, TransferBatch};
use stylelearn::transfer::TransferSettings;

use super::args::TransferArgs;
use super::errors::{Cmd, explain};
use super::progress::Progress;
use super::{Finished, device, load_net};

/// Checks the whole batch, loads the network once, stylises the photos one by one and prints
/// a summary line. Fails (exit 1) at the end if any photo failed.
pub fn run(
    a: &TransferArgs,
    settings: TransferSettings,
    inputs: &[PathBuf],
    files: BatchFiles,
) -> Result<Finished, String> {
    let lib = |e: Error| explain(&e, Cmd::Transfer, false);
    let batch = TransferBatch::new(settings, inputs, files, &device()).map_err(lib)?;
    if !a.common.quiet
        && let Some(line) = super::lossy_styles_note(batch.lossy_styles(), batch.posterises())
    {
        eprintln!("{line}");
    }
    let net = load_net(&a.common).map_err(|e| format!("{e:#}"))?;
    let mut progress = Progress::new("transfer", a.common.quiet);
    let r = batch.run(&net, &mut progress);
    drop(progress);
    let total = batch.items().len();
    let summary = format!(
        "{total} photo(s): {} done, {} skipped, {} failed{}; outputs in {}",
        r.done(),
        r.skipped(),
        r.failed(),
        if r.not_run() > 0 {
            format!(", {} not run", r.not_run())
        } else {
            String::new()
        },
        batch.files().out_dir.display()
    );
    if !a.common.quiet {
        eprintln!("{summary}");
    }
    if r.stopped {
        return Ok(Finished::Stopped(format!(
            "interrupted: {summary}; the photo in progress was not written (run again to go on)"
        )));
    }
    if r.failed() > 0 {
        let failures: Vec<String> = batch
            .items()
            .iter()
            .zip(&r.results)
            .filter_map(|(item, res)| match res {
                ItemResult::Failed(e) => {
                    let why = explain(e, Cmd::Transfer, false);
                    let photo = item.photo.display().to_string();
                    Some(if why.contains(&photo) {
                        why
                    } else {
                        format!("{photo}: {why}")
                    })
                }
                _ => None,
            })
            .collect();
        return Err(format!(
            "{} of {total} photo(s) failed ({} done, {} skipped):\n  {}",
            r.failed(),
            r.done(),
            r.skipped(),
            failures.join("\n  ")
        ));
    }
    Ok(Finished::Done)
}
