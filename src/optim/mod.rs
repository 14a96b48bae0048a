//! Optimisers over a flat parameter vector. (being written)
