//! VGG-19 weight files: reading, checking, writing the cache copy. (being written)
