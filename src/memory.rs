//! Up-front memory estimates, so a run that cannot fit is refused with a size that would,
//! instead of aborting half-way with "memory allocation failed".
//!
//! The estimate counts VGG-19's activations down to the deepest layer used, times a factor for
//! what the forward and backward passes keep alive (outputs, pooled copies, gradients,
//! convolution buffers), plus the network's weights (the CPU fast path's Winograd-transformed
//! ones, or burn's copy). Calibrated on the bench step (to relu5_1; 290 MiB of activations at
//! 512²): the fast path peaks at 365 MiB at 256² and 700 MiB at 512², burn alone at 865 MiB at
//! 512²; the estimate says 517 and 1170 MiB, so it covers both.
use crate::error::{Error, Result, Setting};
use crate::vgg::pools_before;

/// Channels of each of the 16 relu layers.
const CHANNELS: [u64; 16] = [
    64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512,
];
const BASE_BYTES: u64 = 300 << 20;

/// Bytes needed to pass a `width`×`height` image through the network to layer `deepest`,
/// with the backward pass (`backward`) or forward only.
pub fn estimate(width: usize, height: usize, deepest: usize, backward: bool) -> u64 {
    let mut floats = 0u64;
    for (l, c) in CHANNELS.iter().enumerate().take(deepest + 1) {
        let p = pools_before(l) as u32;
        floats += c * (height >> p) as u64 * (width >> p) as u64;
    }
    let factor = if backward { 3 } else { 1 };
    BASE_BYTES + floats * 4 * factor
}

/// Memory the system can give now (Linux: MemAvailable), if known.
pub fn available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses a `width`×`height` pass that needs more than `available` bytes, naming the long
/// side that would fit. `what` says which image it is, and `lower` which settings size it.
pub fn check(
    width: usize,
    height: usize,
    deepest: usize,
    backward: bool,
    available: Option<u64>,
    what: &str,
    lower: &[Setting],
) -> Result<()> {
    let need = estimate(width, height, deepest, backward);
    refuse_above(need, width, height, available, what, lower)
}

/// Float planes of the result's size that finishing it ([`crate::observe::finish_image`], after
/// enlarging the optimised change) holds at its peak: the photo, its start and the change,
/// and the detail, colour and posterising passes' copies and bands. Calibrated on a 4032×3024
/// result (README, "Results at the photo's size").
const FINISH_PLANES: u64 = 40;

/// Bytes needed to finish a `width`×`height` result.
pub fn finish_estimate(width: usize, height: usize) -> u64 {
    BASE_BYTES + (width * height) as u64 * 4 * FINISH_PLANES
}

/// Refuses a `width`×`height` result whose finish needs more than `available` bytes, naming
/// the long side that would fit.
pub fn check_finish(width: usize, height: usize, available: Option<u64>) -> Result<()> {
    refuse_above(
        finish_estimate(width, height),
        width,
        height,
        available,
        "the result",
        &[Setting::ResultSize],
    )
}

/// Refuses a `width`×`height` image whose work needs `need` bytes (growing with its area) when
/// more than `available` bytes.
fn refuse_above(
    need: u64,
    width: usize,
    height: usize,
    available: Option<u64>,
    what: &str,
    lower: &[Setting],
) -> Result<()> {
    let Some(avail) = available else {
        return Ok(());
    };
    if need <= avail {
        return Ok(());
    }
    let long = width.max(height) as f64;
    let ratio = ((avail.saturating_sub(BASE_BYTES)) as f64 / (need - BASE_BYTES) as f64).sqrt();
    let fits = ((long * ratio * 0.9) as usize / 16 * 16).max(16);
    Err(Error::Memory {
        needed_mib: need >> 20,
        available_mib: avail >> 20,
        advice: format!("{what} is {width}×{height} px; a long side of about {fits} px would fit"),
        lower: lower.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The long side a refusal's advice says would fit.
    fn fits(advice: &str) -> usize {
        advice
            .rsplit("about ")
            .next()
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    #[test]
    fn estimates_grow_with_area_and_refuse_with_a_size_that_fits() {
        let small = estimate(256, 256, 12, true);
        let big = estimate(512, 512, 12, true);
        assert!(big > 3 * (small - BASE_BYTES), "{small} {big}");
        assert!(estimate(512, 512, 12, false) < big);
        let gib = 1u64 << 30;
        assert!(check(512, 512, 12, true, Some(4 * gib), "x", &[]).is_ok());
        let e = check(3000, 3000, 12, true, Some(4 * gib), "the image", &[]).unwrap_err();
        let Error::Memory { advice, .. } = &e else {
            panic!("{e}")
        };
        let fits = fits(advice);
        assert!(
            check(fits, fits, 12, true, Some(4 * gib), "x", &[]).is_ok(),
            "{advice}"
        );
        assert!(check(100_000, 100_000, 0, false, None, "x", &[]).is_ok());
    }

    #[test]
    fn a_phone_photo_s_finish_fits_and_a_poster_s_is_refused_with_a_size_that_fits() {
        let gib = 1u64 << 30;
        // a 12 MP result's whole run peaked at 2.1 GB (README, "Results at the photo's size")
        let phone = finish_estimate(4032, 3024);
        assert!(phone > (3 * gib) / 2 && phone < 3 * gib, "{phone}");
        assert!(check_finish(4032, 3024, Some(4 * gib)).is_ok());
        let e = check_finish(20_000, 15_000, Some(4 * gib)).unwrap_err();
        let Error::Memory { advice, lower, .. } = &e else {
            panic!("{e}")
        };
        assert_eq!(lower, &[Setting::ResultSize]);
        assert!(
            advice.starts_with("the result is 20000×15000 px"),
            "{advice}"
        );
        let fits = fits(advice);
        assert!(fits > 4032 && fits < 20_000, "{advice}");
        assert!(check_finish(fits, fits * 3 / 4, Some(4 * gib)).is_ok());
    }
}
