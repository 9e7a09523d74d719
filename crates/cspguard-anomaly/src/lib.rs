//! Streaming anomaly scorer for one numeric series (draft).

use serde::{Deserialize, Serialize};

/// Longest pattern window a scale may use.
pub const MAX_WINDOW: usize = 16;
/// Longest moving average of raw novelty.
pub const MAX_AVG: usize = 32;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scale {
    pub levels: u32,
    pub window: usize,
    pub phase_buckets: u32,
    pub period_s: i64,
    pub weight: f64,
    pub vol_levels: u32,
    pub value_in_hash: bool,
}

impl Default for Scale {
    fn default() -> Self {
        Scale {
            levels: 8,
            window: 1,
            phase_buckets: 0,
            period_s: 86_400,
            weight: 1.0,
            vol_levels: 0,
            value_in_hash: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub scales: Vec<Scale>,
    pub table_bits: u32,
    pub warmup: u64,
    pub avg_len: usize,
    pub learn: u64,
    pub long_alpha: f64,
    pub spatial_tol: f64,
    pub spatial_weight: f64,
    pub tail_power: f64,
    pub info: bool,
    pub combine: u8,
    pub surprise_scale: f64,
    pub rate_alpha: f64,
    pub direct: f64,
    pub suppress: u64,
    pub suppress_level: f64,
    pub suppress_damp: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            scales: vec![
                Scale {
                    levels: 16,
                    window: 1,
                    ..Scale::default()
                },
                Scale {
                    levels: 12,
                    window: 3,
                    ..Scale::default()
                },
                Scale {
                    levels: 8,
                    window: 6,
                    ..Scale::default()
                },
                Scale {
                    levels: 8,
                    window: 1,
                    phase_buckets: 24,
                    ..Scale::default()
                },
                Scale {
                    window: 8,
                    vol_levels: 8,
                    value_in_hash: false,
                    phase_buckets: 24,
                    ..Scale::default()
                },
            ],
            table_bits: 15,
            warmup: 150,
            avg_len: 10,
            learn: 300,
            long_alpha: 1.0 / 2000.0,
            spatial_tol: 0.05,
            spatial_weight: 1.0,
            tail_power: 0.0,
            info: false,
            combine: 1,
            surprise_scale: 8.0,
            rate_alpha: 0.002,
            direct: 0.0,
            suppress: 0,
            suppress_level: 0.9,
            suppress_damp: 0.5,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeriesDetector {
    cfg: Config,
    n: u64,
    values: [f64; MAX_WINDOW],
    lo: f64,
    hi: f64,
    seen: Vec<u64>,
    raws: [f64; MAX_AVG],
    raw_sum: f64,
    stat_n: u64,
    mean: f64,
    var: f64,
    quiet: u64,
    rates: Vec<f64>,
}

#[inline]
fn mix(h: u64, x: u64) -> u64 {
    (h ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29)
}

/// Upper tail probability of the standard normal distribution.
fn normal_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// erfc with relative error < 1.2e-7 (Numerical Recipes' Chebyshev fit).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

impl SeriesDetector {
    pub fn new(cfg: Config) -> Self {
        let words = 1usize << cfg.table_bits.clamp(6, 24).saturating_sub(6);
        SeriesDetector {
            n: 0,
            values: [0.0; MAX_WINDOW],
            lo: f64::INFINITY,
            hi: f64::NEG_INFINITY,
            seen: vec![0; words],
            raws: [0.0; MAX_AVG],
            raw_sum: 0.0,
            stat_n: 0,
            mean: 0.0,
            var: 0.0,
            rates: vec![0.5; cfg.scales.len()],
            cfg,
            quiet: 0,
        }
    }

    pub fn score(&mut self, timestamp: i64, value: f64) -> f64 {
        if !value.is_finite() {
            return 0.0;
        }
        let cfg = &self.cfg;
        let pos = (self.n as usize) % MAX_WINDOW;
        self.values[pos] = value;
        self.n += 1;
        let range = self.hi - self.lo;
        let mut spatial = 0.0;
        if self.n > cfg.warmup {
            let tol = cfg.spatial_tol * range;
            if value > self.hi + tol || value < self.lo - tol {
                spatial = cfg.spatial_weight;
            }
        }
        self.lo = self.lo.min(value);
        self.hi = self.hi.max(value);
        let range = self.hi - self.lo;
        let inv = if range > 0.0 { 1.0 / range } else { 0.0 };
        let mask = (self.seen.len() as u64 * 64) - 1;
        let mut novel = 0.0;
        let mut total = 0.0;
        let mut smax: f64 = 0.0;
        let mut ssum = 0.0;
        for (si, s) in cfg.scales.iter().enumerate() {
            let w = s.window.clamp(1, MAX_WINDOW);
            if (self.n as usize) < w {
                continue;
            }
            let q = s.levels.max(1) as f64;
            let mut h = mix(0x51_7CC1_B727_220A, si as u64);
            let mut prev = value;
            let mut vol = 0.0;
            for k in 0..w {
                let v = self.values[(pos + MAX_WINDOW - k) % MAX_WINDOW];
                if s.value_in_hash {
                    let l = (((v - self.lo) * inv * q) as i64).clamp(0, s.levels as i64 - 1);
                    h = mix(h, l as u64);
                }
                vol += (v - prev).abs();
                prev = v;
            }
            if s.vol_levels > 0 {
                // mean absolute step over the window, relative to the range, on a log scale
                let r = vol * inv / w as f64;
                let l = if r <= 0.0 {
                    0
                } else {
                    ((r.ln() + 9.0).max(0.0) * s.vol_levels as f64 / 9.0) as u64 + 1
                };
                h = mix(h, l + 7_777);
            }
            if s.phase_buckets > 0 && s.period_s > 0 {
                let ph = timestamp.rem_euclid(s.period_s) * s.phase_buckets as i64 / s.period_s;
                h = mix(h, ph as u64 + 1_000_003);
            }
            let idx = (h >> 20) & mask;
            let (word, bit) = ((idx >> 6) as usize, 1u64 << (idx & 63));
            let is_new = self.seen[word] & bit == 0;
            self.seen[word] |= bit;
            let wgt = if cfg.info {
                -self.rates[si].max(1e-4).ln() * s.weight
            } else {
                s.weight
            };
            if is_new {
                novel += wgt;
                let sp = -self.rates[si].max(1e-5).ln() * s.weight;
                smax = smax.max(sp);
                ssum += sp;
            }
            total += wgt;
            let ra = cfg.rate_alpha.max(1.0 / self.n as f64);
            self.rates[si] += ra * ((is_new as u8 as f64) - self.rates[si]);
        }
        let raw = if total > 0.0 { novel / total } else { 0.0 };
        let k = cfg.avg_len.clamp(1, MAX_AVG);
        let rpos = (self.n as usize) % k;
        self.raw_sum += raw - self.raws[rpos];
        self.raws[rpos] = raw;
        let avg = self.raw_sum / k.min(self.n as usize) as f64;

        let mut tail = 0.5;
        if self.stat_n >= cfg.learn {
            let sd = self.var.sqrt().max(1e-4);
            tail = normal_tail((avg - self.mean) / sd).max(1e-300);
        }
        let lik = 1.0 - tail;
        // update distribution of averaged raw novelty
        self.stat_n += 1;
        let a = (1.0 / self.stat_n as f64).max(cfg.long_alpha);
        let d = avg - self.mean;
        self.mean += a * d;
        self.var = (1.0 - a) * (self.var + a * d * d);

        let loglik = ((1.000_000_000_1 - lik).ln() / -23.025_850_929_940_457).clamp(0.0, 1.0);
        let mut out = if cfg.tail_power > 0.0 {
            1.0 - tail.powf(cfg.tail_power)
        } else {
            loglik
        };
        if cfg.combine == 1 {
            out = 1.0 - (-smax / cfg.surprise_scale).exp();
        } else if cfg.combine == 2 {
            out = 1.0 - (-ssum / cfg.surprise_scale).exp();
        }
        if cfg.direct > 0.0 {
            out = cfg.direct * raw + (1.0 - cfg.direct) * out;
        }
        out = out.max(spatial);
        if self.n <= cfg.warmup {
            out = 0.0;
        }
        if self.quiet > 0 {
            self.quiet -= 1;
            out *= cfg.suppress_damp;
        } else if cfg.suppress > 0 && out >= cfg.suppress_level {
            self.quiet = cfg.suppress;
        }
        out.clamp(0.0, 1.0)
    }
}
