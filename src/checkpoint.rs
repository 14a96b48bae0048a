//! Checkpoint files: a run's resumable state ([`RunState`] and its loss rows), kept beside the
//! output as `OUT.checkpoint` so that a killed run can be continued (`--resume`).
//!
//! A checkpoint is a deliberate, durable side file, not a partial file: it is written
//! atomically (temporary file, then rename) every few minutes of work, survives a kill, and is
//! removed when the run publishes its outputs. It is a safetensors file: the image (`pixels`),
//! the optimiser's vectors (`opt.NAME`, Adam's moments) and the curve so far (`curve`, f64
//! rows), with JSON metadata holding the iteration counts, the settings that must match on
//! resume, and an md5 of the tensor data.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::log::{LogRow, LossLog};
use crate::loss::Breakdown;
use crate::observe::{RunState, Start};
use crate::optim::OptimState;
use crate::outputs::{OutputSet, sibling};

const FORMAT: &str = "stylelearn-checkpoint-1";
/// Fixed columns of a curve row before the per-layer values.
const FIXED: usize = 8;

/// The checkpoint file of a run whose output is `output`: `OUT.checkpoint` beside it.
pub fn path_for(output: &Path) -> PathBuf {
    sibling(output, ".checkpoint")
}

/// The default checkpoint interval (iterations) for an image of `pixels` pixels: about two to
/// three minutes of work on a 2-core CPU (≈ 1.2 s per iteration at 256², growing with the area).
pub fn default_every(pixels: usize) -> usize {
    (8_000_000 / pixels.max(1)).clamp(5, 1000)
}

/// What a run is, for a checkpoint: the command and its settings in a comparable form (one
/// `name: value` field per top-level setting, as `{:#?}` prints them).
#[derive(Clone, Debug, PartialEq)]
pub struct RunKey {
    pub command: String,
    pub settings: String,
    /// The style layer names (the curve's per-layer columns).
    pub layers: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    format: String,
    command: String,
    settings: String,
    layers: Vec<String>,
    stage: usize,
    iter: usize,
    stage_iter: usize,
    evals: usize,
    stage_evals: usize,
    width: usize,
    height: usize,
    optimizer_steps: Option<u64>,
    optimizer_vectors: Vec<String>,
    rows: usize,
    data_md5: String,
}

fn md5_of<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    format!("{:x}", h.finalize())
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Writes `state` with its loss `rows` to `path`, atomically.
pub fn save(path: &Path, key: &RunKey, state: &RunState, rows: &[LogRow]) -> Result<()> {
    let cols = FIXED + key.layers.len();
    let mut tensors: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = vec![(
        "pixels".into(),
        safetensors::Dtype::F32,
        vec![3, state.height, state.width],
        f32_bytes(&state.pixels),
    )];
    let mut curve = Vec::with_capacity(rows.len() * cols * 8);
    for r in rows {
        let b = &r.b;
        let fixed = [
            r.iter as f64,
            r.evals as f64,
            r.stage as f64,
            b.total,
            b.content,
            b.style,
            b.tv,
            b.range,
        ];
        for i in 0..cols {
            let v = if i < FIXED {
                fixed[i]
            } else {
                b.per_layer.get(i - FIXED).copied().unwrap_or(f64::NAN)
            };
            curve.extend_from_slice(&v.to_le_bytes());
        }
    }
    tensors.push((
        "curve".into(),
        safetensors::Dtype::F64,
        vec![rows.len(), cols],
        curve,
    ));
    let mut names = Vec::new();
    if let Some(o) = &state.optimizer {
        for (n, v) in &o.vectors {
            names.push(n.clone());
            tensors.push((
                format!("opt.{n}"),
                safetensors::Dtype::F32,
                vec![v.len()],
                f32_bytes(v),
            ));
        }
    }
    let meta = Meta {
        format: FORMAT.into(),
        command: key.command.clone(),
        settings: key.settings.clone(),
        layers: key.layers.clone(),
        stage: state.stage,
        iter: state.iter,
        stage_iter: state.stage_iter,
        evals: state.evals,
        stage_evals: state.stage_evals,
        width: state.width,
        height: state.height,
        optimizer_steps: state.optimizer.as_ref().map(|o| o.steps),
        optimizer_vectors: names,
        rows: rows.len(),
        data_md5: md5_of(tensors.iter().map(|t| t.3.as_slice())),
    };
    let write = || -> anyhow::Result<()> {
        let views = tensors
            .iter()
            .map(|(n, d, shape, b)| {
                Ok((
                    n.clone(),
                    safetensors::tensor::TensorView::new(*d, shape.clone(), b)?,
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut md = HashMap::new();
        md.insert("stylelearn".to_string(), serde_json::to_string(&meta)?);
        let bytes = safetensors::serialize(views, &Some(md))?;
        crate::image_io::write_atomic(path, &bytes)
    };
    write()
        .with_context(|| format!("cannot write the checkpoint {}", path.display()))
        .map_err(Error::Other)
}

/// A job's checkpoints: the file, how often (iterations; 0: never), and the state the job
/// resumes from.
pub(crate) struct Checkpoints {
    pub path: PathBuf,
    pub every: usize,
    pub key: RunKey,
    pub start: Option<Start>,
    /// Iterations of the whole run (no checkpoint is worth writing at the last).
    pub total: usize,
}

impl Checkpoints {
    /// Checkpoints of the job whose output is `output`, checked against its inputs and
    /// outputs; with `resume`, the checkpoint there is read and must match `key`.
    pub(crate) fn new(
        output: &Path,
        every: usize,
        resume: bool,
        key: RunKey,
        total: usize,
        outputs: &OutputSet,
        inputs: &[(PathBuf, &'static str)],
    ) -> Result<Self> {
        let path = path_for(output);
        let mut all = outputs.clone();
        all.add(path.clone(), "the checkpoint");
        all.check(inputs)?;
        let start = match resume {
            true => Some(load(&path, &key)?),
            false => None,
        };
        Ok(Self {
            path,
            every,
            key,
            start,
            total,
        })
    }

    /// A log that holds (and, with a file, first writes) the resumed run's rows.
    pub(crate) fn log(&self, mut log: LossLog) -> Result<LossLog> {
        for r in self.start.iter().flat_map(|s| &s.rows) {
            log.row(r.iter, r.evals, r.stage, &r.b)?;
        }
        Ok(log)
    }

    /// The resumed run's rows as the run report keeps them: (iteration, total, content, style).
    pub(crate) fn report_rows(&self) -> impl Iterator<Item = (usize, f64, f64, f64)> + '_ {
        self.start
            .iter()
            .flat_map(|s| &s.rows)
            .map(|r| (r.iter, r.b.total, r.b.content, r.b.style))
    }

    /// Removes the checkpoint once the run's outputs are published.
    pub(crate) fn finish(&self) -> Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Output {
                path: self.path.clone(),
                problem: format!("cannot remove the finished run's checkpoint: {e}"),
            }),
            _ => Ok(()),
        }
    }
}

fn refuse(path: &Path, problem: impl Into<String>) -> Error {
    Error::Resume {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

/// Reads the checkpoint at `path` for the run `key`: refuses a missing or damaged file, and
/// one written by a run with other settings (naming them).
pub fn load(path: &Path, key: &RunKey) -> Result<Start> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(refuse(
                path,
                "there is no checkpoint (the run finished, or never wrote one)",
            ));
        }
        Err(e) => return Err(refuse(path, format!("cannot read it: {e}"))),
    };
    let (start, meta) = parse(&bytes).map_err(|e| {
        refuse(
            path,
            format!("it is not a readable stylelearn checkpoint ({e:#})"),
        )
    })?;
    if meta.command != key.command {
        return Err(refuse(
            path,
            format!(
                "it was written by `{}`, not `{}`",
                meta.command, key.command
            ),
        ));
    }
    let diff = differences(&meta.settings, &key.settings);
    if !diff.is_empty() || meta.layers != key.layers {
        let mut what = diff;
        if what.is_empty() {
            what.push(format!(
                "style layers: {} then, {} now",
                meta.layers.join(","),
                key.layers.join(",")
            ));
        }
        return Err(refuse(
            path,
            format!("it was written with other settings ({})", what.join("; ")),
        ));
    }
    Ok(start)
}

fn parse(bytes: &[u8]) -> anyhow::Result<(Start, Meta)> {
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes)?;
    let meta: Meta = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("stylelearn"))
        .context("no stylelearn metadata")
        .and_then(|s| Ok(serde_json::from_str(s)?))?;
    if meta.format != FORMAT {
        bail!("unsupported format '{}'", meta.format);
    }
    let st = safetensors::SafeTensors::deserialize(bytes)?;
    let mut raw: Vec<&[u8]> = Vec::new();
    let mut tensor = |name: &str, dtype: safetensors::Dtype, shape: &[usize]| {
        let v = st
            .tensor(name)
            .with_context(|| format!("tensor {name} missing"))?;
        if v.dtype() != dtype || v.shape() != shape {
            bail!("tensor {name} has the wrong type or shape");
        }
        raw.push(v.data());
        Ok(v.data())
    };
    let f32s = |b: &[u8]| -> Vec<f32> {
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let pixels = f32s(tensor(
        "pixels",
        safetensors::Dtype::F32,
        &[3, meta.height, meta.width],
    )?);
    let cols = FIXED + meta.layers.len();
    let curve: Vec<f64> = tensor("curve", safetensors::Dtype::F64, &[meta.rows, cols])?
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let n = pixels.len();
    let mut vectors = Vec::new();
    for name in &meta.optimizer_vectors {
        let v = f32s(tensor(
            &format!("opt.{name}"),
            safetensors::Dtype::F32,
            &[n],
        )?);
        vectors.push((name.clone(), v));
    }
    if md5_of(raw) != meta.data_md5 {
        bail!("its data does not match its checksum (the file is damaged)");
    }
    if pixels.iter().any(|v| !v.is_finite())
        || vectors
            .iter()
            .any(|(_, v)| v.iter().any(|x| !x.is_finite()))
    {
        bail!("it holds non-finite values");
    }
    let rows = curve
        .chunks_exact(cols)
        .map(|r| LogRow {
            iter: r[0] as usize,
            evals: r[1] as usize,
            stage: r[2] as usize,
            b: Breakdown {
                total: r[3],
                content: r[4],
                style: r[5],
                tv: r[6],
                range: r[7],
                per_layer: r[FIXED..].to_vec(),
            },
        })
        .collect();
    let state = RunState {
        stage: meta.stage,
        iter: meta.iter,
        stage_iter: meta.stage_iter,
        evals: meta.evals,
        stage_evals: meta.stage_evals,
        width: meta.width,
        height: meta.height,
        pixels,
        optimizer: meta
            .optimizer_steps
            .map(|steps| OptimState { steps, vectors }),
    };
    Ok((Start { state, rows }, meta))
}

/// Splits `{:#?}` text into its top-level fields (`name` → the field's text).
fn fields(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let top = line.strip_prefix("    ").filter(|l| !l.starts_with(' '));
        match top.and_then(|l| l.split_once(": ")) {
            Some((name, value)) => out.push((name.to_string(), value.trim().to_string())),
            // Lines at column 0 open and close the whole struct.
            None if !line.starts_with(' ') => {}
            None => {
                if let Some(last) = out.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
            }
        }
    }
    for f in &mut out {
        f.1 =
            f.1.replace(", ]", "]")
                .replace(", }", "}")
                .replace(",)", ")");
        f.1 = f.1.trim_end_matches(',').to_string();
    }
    out
}

/// The settings that differ between two `{:#?}` texts, as `name: OLD then, NEW now`.
fn differences(old: &str, new: &str) -> Vec<String> {
    let (a, b) = (fields(old), fields(new));
    let mut out = Vec::new();
    for (name, nv) in &b {
        match a.iter().find(|(n, _)| n == name) {
            Some((_, ov)) if ov == nv => {}
            Some((_, ov)) => out.push(format!("{name}: {ov} then, {nv} now")),
            None => out.push(format!("{name}: new setting")),
        }
    }
    if out.is_empty() && a.len() != b.len() {
        out.push("the settings differ".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    #[allow(dead_code)]
    struct S {
        size: usize,
        layers: Vec<usize>,
        step: Option<f64>,
    }

    #[test]
    fn differences_name_the_setting() {
        let a = format!(
            "{:#?}",
            S {
                size: 32,
                layers: vec![0, 1],
                step: None
            }
        );
        let b = format!(
            "{:#?}",
            S {
                size: 48,
                layers: vec![0, 2],
                step: None
            }
        );
        assert!(differences(&a, &a).is_empty());
        let d = differences(&a, &b);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].starts_with("size: 32 then, 48 now"), "{d:?}");
        assert!(d[1].starts_with("layers:"), "{d:?}");
    }

    #[test]
    fn a_checkpoint_reads_back_exactly_and_damage_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("o.checkpoint");
        let key = RunKey {
            command: "learn".into(),
            settings: "S {\n    size: 2,\n}".into(),
            layers: vec!["relu1_1".into()],
        };
        let state = RunState {
            stage: 0,
            iter: 3,
            stage_iter: 3,
            evals: 3,
            stage_evals: 3,
            width: 2,
            height: 1,
            pixels: vec![0.1, -0.2, 0.3, 0.4, 1.5, 0.6],
            optimizer: Some(OptimState {
                steps: 3,
                vectors: vec![("m".into(), vec![1.0; 6]), ("v".into(), vec![2.0; 6])],
            }),
        };
        let row = |i| LogRow {
            iter: i,
            evals: i,
            stage: 0,
            b: Breakdown {
                total: 1.0 / i as f64,
                per_layer: vec![0.5 / i as f64],
                ..Default::default()
            },
        };
        let rows = vec![row(1), row(2), row(3)];
        save(&p, &key, &state, &rows).unwrap();
        let start = load(&p, &key).unwrap();
        assert_eq!(start.state, state);
        assert_eq!(start.rows.len(), 3);
        assert_eq!(start.rows[2].b.per_layer, vec![0.5 / 3.0]);
        let other = RunKey {
            settings: "S {\n    size: 3,\n}".into(),
            ..key.clone()
        };
        let e = load(&p, &other).unwrap_err().to_string();
        assert!(
            e.contains("o.checkpoint") && e.contains("size: 2 then, 3 now"),
            "{e}"
        );
        let mut bytes = std::fs::read(&p).unwrap();
        let n = bytes.len();
        bytes[n - 20] ^= 0x40;
        std::fs::write(&p, &bytes).unwrap();
        let e = load(&p, &key).unwrap_err().to_string();
        assert!(e.contains("checksum"), "{e}");
        std::fs::remove_file(&p).unwrap();
        let e = load(&p, &key).unwrap_err().to_string();
        assert!(e.contains("no checkpoint"), "{e}");
    }
}
