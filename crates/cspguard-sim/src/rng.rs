//! Seeded randomness: one ChaCha8 stream per (seed, purpose, index), so each part of the simulation draws from its
//! own stream and changing one part never shifts the numbers of another.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub(crate) type SimRng = ChaCha8Rng;

/// Purposes of random streams.
pub(crate) mod tag {
    pub const WORLD: u64 = 1;
    pub const CUSTOMER: u64 = 2;
    pub const PLAN: u64 = 3;
    pub const USAGE: u64 = 4;
    pub const SIGNIN: u64 = 5;
    pub const ACTIVITY: u64 = 6;
    pub const BILLING: u64 = 8;
    pub const FX: u64 = 9;
    pub const BENCH: u64 = 10;
    pub const INCIDENT: u64 = 11;
}

/// SplitMix64 finaliser: a good 64-bit mixing function.
pub(crate) fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The random stream for one purpose and index under a seed.
pub(crate) fn rng_for(seed: u64, purpose: u64, idx: u64) -> SimRng {
    let key = mix(mix(mix(seed) ^ purpose.wrapping_mul(0xD6E8_FEB8_6659_FD93)) ^ idx);
    ChaCha8Rng::seed_from_u64(key)
}

/// A random version-4 GUID, lower-case.
pub(crate) fn guid(rng: &mut SimRng) -> String {
    let hi: u64 = rng.gen();
    let lo: u64 = rng.gen();
    guid_from(hi, lo)
}

fn guid_from(hi: u64, lo: u64) -> String {
    let hi = (hi & 0xffff_ffff_ffff_0fff) | 0x4000;
    let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

/// A GUID that depends only on `parts` (FNV-1a then SplitMix): stable across seeds, as Microsoft's meter IDs are.
pub(crate) fn stable_guid(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0x1f)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    guid_from(mix(h), mix(h ^ 0x5851_F42D_4C95_7F2D))
}

/// Uniform in [0, 1).
pub(crate) fn unit(rng: &mut SimRng) -> f64 {
    rng.gen::<f64>()
}

/// Uniform in [lo, hi).
pub(crate) fn uniform(rng: &mut SimRng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * unit(rng)
}

/// Uniform integer in [lo, hi]; `lo` when the range is empty.
pub(crate) fn between(rng: &mut SimRng, lo: i64, hi: i64) -> i64 {
    if hi <= lo {
        lo
    } else {
        rng.gen_range(lo..=hi)
    }
}

/// A uniform index below `len`; 0 when `len` is 0 (callers check emptiness first).
pub(crate) fn index(rng: &mut SimRng, len: usize) -> usize {
    if len <= 1 {
        0
    } else {
        rng.gen_range(0..len)
    }
}

/// A uniformly chosen element of a non-empty static table.
pub(crate) fn pick<T>(rng: &mut SimRng, items: &'static [T]) -> &'static T {
    &items[index(rng, items.len())]
}

/// A uniformly chosen element of a non-empty static table, by value.
pub(crate) fn choose<T: Copy>(rng: &mut SimRng, items: &'static [T]) -> T {
    items[index(rng, items.len())]
}

/// True with probability `p`.
pub(crate) fn chance(rng: &mut SimRng, p: f64) -> bool {
    unit(rng) < p
}

/// Standard normal deviate (Box-Muller).
pub(crate) fn normal(rng: &mut SimRng) -> f64 {
    let u1 = 1.0 - unit(rng);
    let u2 = unit(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Log-normal deviate with the given median and log-space standard deviation.
pub(crate) fn lognormal(rng: &mut SimRng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// Log-uniform deviate in [lo, hi).
pub(crate) fn log_uniform(rng: &mut SimRng, lo: f64, hi: f64) -> f64 {
    (lo.ln() + (hi.ln() - lo.ln()) * unit(rng)).exp()
}

/// Index chosen with the given integer weights (0 when all weights are zero).
pub(crate) fn weighted(rng: &mut SimRng, weights: &[u32]) -> usize {
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    if total == 0 {
        return 0;
    }
    let mut x = rng.gen_range(0..total);
    for (i, &w) in weights.iter().enumerate() {
        let w = u64::from(w);
        if x < w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

/// Poisson deviate (Knuth for small means, rounded normal above 30).
pub(crate) fn poisson(rng: &mut SimRng, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 30.0 {
        let x = mean + mean.sqrt() * normal(rng);
        return x.round().max(0.0) as u32;
    }
    let l = (-mean).exp();
    let mut k = 0u32;
    let mut p = 1.0;
    loop {
        p *= unit(rng);
        if p <= l {
            return k;
        }
        k += 1;
    }
}

/// `n` random lower-case hex digits.
pub(crate) fn hex(rng: &mut SimRng, n: usize) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    (0..n).map(|_| char::from(DIGITS[index(rng, 16)])).collect()
}

/// An IPv4 address under one of the given two-octet prefixes.
pub(crate) fn ip_in(rng: &mut SimRng, prefixes: &'static [(u8, u8)]) -> String {
    let (a, b) = choose(rng, prefixes);
    format!("{a}.{b}.{}.{}", between(rng, 0, 255), between(rng, 1, 254))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_are_version_4_and_stable_ones_do_not_depend_on_the_seed() {
        let mut rng = rng_for(1, tag::WORLD, 0);
        let g = guid(&mut rng);
        assert_eq!(g.len(), 36);
        assert_eq!(&g[14..15], "4");
        assert_eq!(stable_guid(&["a", "b"]), stable_guid(&["a", "b"]));
        assert_ne!(stable_guid(&["a", "b"]), stable_guid(&["ab"]));
    }

    #[test]
    fn empty_ranges_do_not_panic() {
        let mut rng = rng_for(1, tag::WORLD, 0);
        assert_eq!(between(&mut rng, 5, 5), 5);
        assert_eq!(between(&mut rng, 5, 2), 5);
        assert_eq!(index(&mut rng, 0), 0);
        assert_eq!(weighted(&mut rng, &[]), 0);
        assert_eq!(poisson(&mut rng, 0.0), 0);
    }
}
