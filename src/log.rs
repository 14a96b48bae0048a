//! Loss logs: a CSV of every step (iteration, evaluations, stage, total, content, style, tv, range and
//! the per-layer style distances), rewritten atomically after each step so it is always whole.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::image_io::write_atomic;
use crate::loss::Breakdown;

/// One row of the log.
#[derive(Clone, Debug)]
pub struct LogRow {
    pub iter: usize,
    pub evals: usize,
    pub stage: usize,
    pub b: Breakdown,
}

/// The CSV log of a run.
pub struct LossLog {
    path: PathBuf,
    layers: Vec<String>,
    pub rows: Vec<LogRow>,
}

impl LossLog {
    /// A new log for style layers `layers`, written to `path`.
    pub fn create(path: &Path, layers: &[String]) -> Result<Self> {
        let log = Self {
            path: path.to_path_buf(),
            layers: layers.to_vec(),
            rows: Vec::new(),
        };
        log.write()?;
        Ok(log)
    }

    /// The style layer names (columns after `range`).
    pub fn layer_names(&self) -> &[String] {
        &self.layers
    }

    /// Appends a row and rewrites the file.
    pub fn row(&mut self, iter: usize, evals: usize, stage: usize, b: &Breakdown) -> Result<()> {
        self.rows.push(LogRow {
            iter,
            evals,
            stage,
            b: b.clone(),
        });
        self.write()
    }

    /// The CSV text.
    pub fn to_csv(&self) -> String {
        let mut s = String::from("iteration,evaluations,stage,total,content,style,tv,range");
        for l in &self.layers {
            s.push(',');
            s.push_str(l);
        }
        s.push('\n');
        for r in &self.rows {
            let _ = write!(
                s,
                "{},{},{},{:e},{:e},{:e},{:e},{:e}",
                r.iter, r.evals, r.stage, r.b.total, r.b.content, r.b.style, r.b.tv, r.b.range
            );
            for v in &r.b.per_layer {
                let _ = write!(s, ",{v:e}");
            }
            s.push('\n');
        }
        s
    }

    fn write(&self) -> Result<()> {
        write_atomic(&self.path, self.to_csv().as_bytes())
    }
}
