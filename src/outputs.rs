//! The files a run writes, checked before any work and published together at the end.
//!
//! - [`OutputSet::check`] refuses, before anything is computed, an output that is a folder, whose
//!   folder cannot hold it, or that is the same file as one of the run's inputs or another output.
//! - [`OutputSet::stage`] gives each output a hidden partial file beside its final name
//!   (`.stylelearn-partial.NAME`); the run writes there (snapshots, logs as they grow).
//! - [`Staged::commit`] renames them all into place. A run that fails, or is dropped, removes its
//!   partial files, so the folder is as it was; after a hard kill the next run to the same
//!   outputs replaces the leftovers (their names are fixed, not random).
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Prefix of partial files.
pub const PARTIAL_PREFIX: &str = ".stylelearn-partial.";

/// A path beside `out`: `out`'s stem followed by `suffix` (works for any file name, UTF-8 or not).
pub fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let mut name: OsString = out
        .file_stem()
        .map(|s| s.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    out.with_file_name(name)
}

/// `out`'s extension as text (`png` when it has none or it is not UTF-8).
pub fn extension(out: &Path) -> String {
    out.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("png")
        .to_string()
}

/// One output: where it goes, and what it is (for messages).
#[derive(Clone, Debug)]
pub struct Output {
    pub path: PathBuf,
    pub what: &'static str,
}

/// The outputs of one run.
#[derive(Clone, Debug, Default)]
pub struct OutputSet {
    pub outputs: Vec<Output>,
}

/// A file's identity: its canonical path, and on Unix its device and inode (hard links).
#[derive(PartialEq, Eq)]
struct Identity {
    path: PathBuf,
    inode: Option<(u64, u64)>,
}

fn identity(p: &Path) -> Option<Identity> {
    let abs = if p.exists() {
        p.canonicalize().ok()?
    } else {
        let parent = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        parent.canonicalize().ok()?.join(p.file_name()?)
    };
    #[cfg(unix)]
    let inode = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
    };
    #[cfg(not(unix))]
    let inode = None;
    Some(Identity { path: abs, inode })
}

fn same(a: &Identity, b: &Identity) -> bool {
    a.path == b.path || (a.inode.is_some() && a.inode == b.inode)
}

impl OutputSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an output.
    pub fn add(&mut self, path: PathBuf, what: &'static str) -> &mut Self {
        self.outputs.push(Output { path, what });
        self
    }

    /// Checks every output against the run's `inputs` (path, what) and each other, and that it
    /// can be written: not a folder, its folder a folder (created at staging if missing).
    pub fn check(&self, inputs: &[(PathBuf, &'static str)]) -> Result<()> {
        let inputs: Vec<(Identity, &Path, &str)> = inputs
            .iter()
            .filter_map(|(p, w)| identity(p).map(|i| (i, p.as_path(), *w)))
            .collect();
        let mut seen: Vec<(Identity, &Output)> = Vec::new();
        for o in &self.outputs {
            let bad = |problem: String| Error::Output {
                path: o.path.clone(),
                problem,
            };
            if o.path.file_name().is_none() {
                return Err(bad("names no file".into()));
            }
            if o.path.is_dir() {
                return Err(bad("is a folder: give a file name".into()));
            }
            if let Some(dir) = o.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                let mut up = Some(dir);
                while let Some(d) = up {
                    if d.exists() {
                        if !d.is_dir() {
                            return Err(bad(format!("{} is not a folder", d.display())));
                        }
                        break;
                    }
                    up = d.parent().filter(|d| !d.as_os_str().is_empty());
                }
            }
            let Some(id) = identity(&o.path) else {
                continue;
            };
            if let Some((_, p, w)) = inputs.iter().find(|(i, _, _)| same(i, &id)) {
                return Err(Error::Overwrite {
                    output: o.path.clone(),
                    other: p.to_path_buf(),
                    what: w,
                });
            }
            if let Some((_, other)) = seen.iter().find(|(i, _)| same(i, &id)) {
                return Err(Error::Overwrite {
                    output: o.path.clone(),
                    other: other.path.clone(),
                    what: other.what,
                });
            }
            seen.push((id, o));
        }
        Ok(())
    }

    /// Creates the partial files' folders and claims each partial name, replacing leftovers of
    /// an earlier killed run. Fails (and leaves nothing) when a folder is not writable.
    pub fn stage(&self) -> Result<Staged> {
        let mut staged = Staged {
            files: Vec::new(),
            made_dirs: Vec::new(),
            committed: false,
        };
        for o in &self.outputs {
            let dir = match o.path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if !dir.exists() {
                let mut missing = vec![dir.clone()];
                let mut up = dir.parent();
                while let Some(d) = up.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
                    missing.push(d.to_path_buf());
                    up = d.parent();
                }
                std::fs::create_dir_all(&dir).map_err(|e| Error::Output {
                    path: o.path.clone(),
                    problem: format!("cannot create folder {}: {e}", dir.display()),
                })?;
                staged.made_dirs.extend(missing);
            }
            let mut name = OsString::from(PARTIAL_PREFIX);
            name.push(o.path.file_name().expect("checked"));
            let partial = dir.join(name);
            std::fs::write(&partial, b"").map_err(|e| Error::Output {
                path: o.path.clone(),
                problem: format!("cannot write in {}: {e}", dir.display()),
            })?;
            staged.files.push((partial, o.path.clone(), false));
        }
        Ok(staged)
    }
}

/// Partial files of a run, published by [`Staged::commit`], removed if dropped before.
pub struct Staged {
    /// (partial, final, written)
    files: Vec<(PathBuf, PathBuf, bool)>,
    made_dirs: Vec<PathBuf>,
    committed: bool,
}

impl Staged {
    /// The partial file to write for the output `path` (one of the set's outputs).
    pub fn partial(&mut self, path: &Path) -> &Path {
        let f = self
            .files
            .iter_mut()
            .find(|(_, p, _)| p == path)
            .expect("an output of this set");
        f.2 = true;
        &f.0
    }

    /// Moves every written partial file to its final name; outputs never written (e.g.
    /// snapshots of iterations not reached) are dropped. Returns the files published.
    pub fn commit(mut self) -> Result<Vec<PathBuf>> {
        let mut done = Vec::new();
        for (partial, path, written) in &self.files {
            if *written {
                std::fs::rename(partial, path).map_err(|e| Error::Output {
                    path: path.clone(),
                    problem: format!("cannot move the finished file into place: {e}"),
                })?;
                done.push(path.clone());
            } else {
                let _ = std::fs::remove_file(partial);
            }
        }
        self.committed = true;
        Ok(done)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        for (partial, _, _) in &self.files {
            let _ = std::fs::remove_file(partial);
        }
        for d in &self.made_dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siblings_keep_non_utf8_stems() {
        assert_eq!(
            sibling(Path::new("a/b.png"), ".curve.csv"),
            PathBuf::from("a/b.curve.csv")
        );
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let raw = std::ffi::OsStr::from_bytes(b"caf\xe9.png");
            let s = sibling(Path::new(raw), ".log.csv");
            assert_eq!(s.as_os_str().as_bytes(), b"caf\xe9.log.csv");
        }
    }

    #[test]
    fn an_output_equal_to_an_input_or_another_output_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let photo = d.path().join("photo.png");
        std::fs::write(&photo, b"x").unwrap();
        let mut set = OutputSet::new();
        set.add(d.path().join("./photo.png"), "image");
        let e = set.check(&[(photo.clone(), "content image")]).unwrap_err();
        assert!(e.to_string().contains("content image"), "{e}");
        let mut set = OutputSet::new();
        set.add(d.path().join("o.png"), "image")
            .add(d.path().join("o.png"), "log");
        assert!(matches!(set.check(&[]), Err(Error::Overwrite { .. })));
        let mut set = OutputSet::new();
        set.add(d.path().to_path_buf(), "image");
        assert!(matches!(set.check(&[]), Err(Error::Output { .. })));
    }

    #[test]
    fn a_dropped_stage_leaves_the_folder_as_it_was_and_a_commit_publishes() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("new/sub/o.png");
        let mut set = OutputSet::new();
        set.add(out.clone(), "image");
        {
            let mut s = set.stage().unwrap();
            std::fs::write(s.partial(&out), b"half").unwrap();
        }
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
        let mut s = set.stage().unwrap();
        std::fs::write(s.partial(&out), b"whole").unwrap();
        assert_eq!(s.commit().unwrap(), vec![out.clone()]);
        assert_eq!(std::fs::read(&out).unwrap(), b"whole");
        assert_eq!(std::fs::read_dir(out.parent().unwrap()).unwrap().count(), 1);
    }
}
