//! Loss logs: a CSV of every step (iteration, evaluations, stage, total, content, style, tv, range and
//! the per-layer style distances). Rows are kept for plotting and, when the log has a file,
//! appended to it line by line as the run goes.
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

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
    file: Option<(File, String)>,
    layers: Vec<String>,
    pub rows: Vec<LogRow>,
}

impl LossLog {
    /// A log for style layers `layers`, kept in memory only.
    pub fn new(layers: &[String]) -> Self {
        Self {
            file: None,
            layers: layers.to_vec(),
            rows: Vec::new(),
        }
    }

    /// A log for style layers `layers` that also appends every row to the file `path`
    /// (created, or emptied, with the header line).
    pub fn create(path: &Path, layers: &[String]) -> Result<Self> {
        let mut log = Self::new(layers);
        let mut f =
            File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
        f.write_all(log.header().as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        log.file = Some((f, path.display().to_string()));
        Ok(log)
    }

    /// The style layer names (columns after `range`).
    pub fn layer_names(&self) -> &[String] {
        &self.layers
    }

    /// Adds a row (and appends it to the file, if any).
    pub fn row(&mut self, iter: usize, evals: usize, stage: usize, b: &Breakdown) -> Result<()> {
        let row = LogRow {
            iter,
            evals,
            stage,
            b: b.clone(),
        };
        if let Some((f, name)) = &mut self.file {
            f.write_all(Self::line(&row).as_bytes())
                .with_context(|| format!("cannot write {name}"))?;
        }
        self.rows.push(row);
        Ok(())
    }

    /// The header line.
    pub fn header(&self) -> String {
        let mut s = String::from("iteration,evaluations,stage,total,content,style,tv,range");
        for l in &self.layers {
            s.push(',');
            s.push_str(l);
        }
        s.push('\n');
        s
    }

    fn line(r: &LogRow) -> String {
        let mut s = format!(
            "{},{},{},{:e},{:e},{:e},{:e},{:e}",
            r.iter, r.evals, r.stage, r.b.total, r.b.content, r.b.style, r.b.tv, r.b.range
        );
        for v in &r.b.per_layer {
            let _ = write!(s, ",{v:e}");
        }
        s.push('\n');
        s
    }

    /// The whole CSV text.
    pub fn to_csv(&self) -> String {
        let mut s = self.header();
        for r in &self.rows {
            s.push_str(&Self::line(r));
        }
        s
    }
}
