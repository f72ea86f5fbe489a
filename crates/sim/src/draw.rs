//! The few distributions the model needs, on a seeded generator.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub(crate) type Seeded = ChaCha8Rng;

pub(crate) fn seeded(seed: u64) -> Seeded {
    rand::SeedableRng::seed_from_u64(seed)
}

/// True with probability `p` (clamped to 0…1).
pub(crate) fn chance(rng: &mut Seeded, p: f64) -> bool {
    rng.random::<f64>() < p.clamp(0.0, 1.0)
}

/// Uniform in `lo..=hi` (integers).
pub(crate) fn between(rng: &mut Seeded, lo: i64, hi: i64) -> i64 {
    if hi <= lo { lo } else { rng.random_range(lo..=hi) }
}

/// Standard normal (Box–Muller).
pub(crate) fn normal(rng: &mut Seeded) -> f64 {
    let u1 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Log-normal with the given median and shape σ (of the underlying normal).
pub(crate) fn lognormal(rng: &mut Seeded, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// Exponential with the given mean.
pub(crate) fn exponential(rng: &mut Seeded, mean: f64) -> f64 {
    -mean * (1.0 - rng.random::<f64>()).ln()
}

/// An index chosen with the given weights (all zero: the first).
pub(crate) fn weighted(rng: &mut Seeded, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return 0;
    }
    let mut x = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len().saturating_sub(1)
}

/// One of `items`, uniformly.
pub(crate) fn pick<'a, T>(rng: &mut Seeded, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}
