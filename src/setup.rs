//! Obtaining the VGG-19 weights. (being written)
