//! Streaming anomaly scorer for one numeric series.
//!
//! [`SeriesDetector::score`] takes one `(timestamp, value)` point at a time and returns an anomaly score in `[0, 1]`
//! computed only from that point and the points before it: no look-ahead, no labels, no second pass. The state is a
//! fixed size set by the [`Config`] (it does not grow with the series), is `Clone`, and serialises with serde, so a
//! caller can checkpoint a detector and resume it later with exactly the scores an uninterrupted run gives (use a
//! lossless format: with `serde_json`, enable its `float_roundtrip` feature).
//!
//! # What it models
//! "Normal" is *what this series has already done*. Two families of evidence say a point is not:
//!
//! 1. **Context novelty** (in the spirit of HTM's sequence memory and of the contextual detector CAD-OSE). Each point
//!    is described by a few discrete *contexts*, one per [`Scale`]: the last `window` values quantised into `levels`
//!    bins of the value range seen so far, optionally with the phase of the point in a period (hour of day, day of
//!    week) and the quantised log of the recent mean absolute step (how jumpy the series is). Every context ever seen
//!    sets two bits of one fixed-size table of `2^table_bits` bits (a Bloom filter with two hash positions). A context
//!    never seen before is *novel*. A scale whose contexts are novel all the time (noise) says little; one that has
//!    stopped producing new contexts says a lot when it does. So each scale keeps an exponentially weighted novelty
//!    rate `r`, and a novel context is worth a surprise of `-ln r` nats (its information content). The point's
//!    surprise is the largest one over the scales: one strongly unexpected view is enough.
//! 2. **New extremes** (NAB's best detectors all have a variant of this). A value, an exponentially smoothed level of
//!    the series, or a smoothed size of its steps (its noise level), that leaves the range seen so far by more than
//!    `extreme_tol` of that range is worth a fixed surprise ([`Extreme::nats`]). Smoothed levels catch level shifts of
//!    noisy series that no single value shows; the smoothed step size catches a series that becomes unusually jumpy.
//!    A level's range starts once it has settled (about `1/alpha` points).
//!
//! The surprise `s` (nats) becomes a score `1 - exp(-s / surprise_scale)`. Then a **refractory** step: a score that
//! does not beat the recent peak (decaying by `peak_decay` per point) is multiplied by `peak_damp`, so an incident
//! scores high once, early, and the points right after it do not raise the same alarm again (NAB rewards the earliest
//! detection in a window and charges every later detection outside it as a false positive). The first `warmup` points
//! score 0 (nothing is known yet) but are learnt from.
//!
//! # Why this shape
//! It needs no model of the series' distribution (costs, latencies, counters and temperatures all work without
//! transformation), it is exact and deterministic (integer hashing, no randomness), it learns in one pass with O(1)
//! work per point (5 to 9 million points/s on one core), and its state is small and fixed. On the Numenta Anomaly
//! Benchmark's DEV split it scores in the range of the best published streaming detectors (see `bench/nab.sh`).
//!
//! # Weak at
//! - Slow drifts that stay inside the range seen so far and keep the series' shape: nothing is novel.
//! - Series whose whole range is set by one early outlier: the quantisation gets coarse (every normal value falls into
//!   one or two bins) until the series itself moves.
//! - Recurrent anomalies: the second identical incident is no longer novel (the bitset never forgets; that is the
//!   price of a fixed, tiny state without timestamps per context).
//! - Very short series: the first `warmup` points score 0, and novelty rates need a few hundred points to settle.
//!
//! # Irregular and sparse series
//! [`Config::cadence_s`] declares the expected spacing of points (e.g. 86 400 for daily cost). When a point arrives
//! more than one cadence after the previous one, the missing points are fed first (as 0 — a day without a usage row
//! cost nothing — or as the last value, see [`GapFill`]), at most [`Config::max_fill`] of them, and their scores are
//! discarded. [`Config::compact`] is a small configuration for per-key daily series; [`SeriesDetector::state_bytes`]
//! reports what one detector holds.
//!
//! Bad values (NaN, ±inf) return a score of 0 and leave the state untouched.
//!
//! # Example
//! ```
//! use cspguard_anomaly::{Config, SeriesDetector};
//!
//! // One detector per (subscription, meter category, region): daily cost, missing days are 0.
//! let mut d = SeriesDetector::new(Config::compact());
//! for day in 0..60 {
//!     let score = d.score(day * 86_400, 100.0 + (day % 7) as f64);
//!     assert!((0.0..=1.0).contains(&score));
//! }
//! // Checkpoint (e.g. into a key-value store) and resume later.
//! let saved = serde_json::to_string(&d).unwrap();
//! let mut d: SeriesDetector = serde_json::from_str(&saved).unwrap();
//! assert!(d.score(60 * 86_400, 5_000.0) > 0.8, "a 50x cost day");
//! ```

use serde::{Deserialize, Serialize};

/// Longest pattern window a scale may use.
pub const MAX_WINDOW: usize = 16;

/// One view of the recent past that is hashed into a context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scale {
    /// Bins of the value range for each value of the window (0: values are not part of the context).
    pub levels: u32,
    /// Number of most recent values in the context (1..=16).
    pub window: usize,
    /// Phase buckets of `period_s` in the context (0: no phase), e.g. 24 buckets of a day.
    pub phase_buckets: u32,
    /// Period in seconds for the phase.
    pub period_s: i64,
    /// Bins for the log of the mean absolute step over the window, relative to the range (0: not in the context).
    pub volatility_levels: u32,
}

impl Default for Scale {
    fn default() -> Self {
        Scale {
            levels: 8,
            window: 1,
            phase_buckets: 0,
            period_s: 86_400,
            volatility_levels: 0,
        }
    }
}

/// A level of the series (or of its step size) whose new extremes are surprising.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extreme {
    /// Smoothing of the level: 1 = the value itself, 0.1 = an exponential average over about 10 points.
    pub alpha: f64,
    /// Surprise (nats) of a new extreme.
    pub nats: f64,
    /// Track the absolute step between consecutive values (the noise level) instead of the value; its range starts
    /// at 0, so only a rise is a new extreme.
    #[serde(default)]
    pub steps: bool,
}

/// How the points missing from an irregular series are fed (see [`Config::cadence_s`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapFill {
    /// A missing point is 0 (e.g. no usage row for a day means no cost that day).
    Zero,
    /// A missing point repeats the last value.
    Hold,
}

/// Parameters. [`Config::default`] is the configuration evaluated on NAB; [`Config::compact`] is for per-key daily
/// series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The context views (at most a handful: each costs a hash per point).
    pub scales: Vec<Scale>,
    /// log2 of the number of bits in the table of seen contexts (6..=24).
    pub table_bits: u32,
    /// Points scored 0 at the start (still learnt from).
    pub warmup: u64,
    /// Smoothing of each scale's novelty rate (about 1/points remembered).
    pub rate_alpha: f64,
    /// Levels whose new extremes are surprising.
    pub extremes: Vec<Extreme>,
    /// How far (fraction of the range so far) a level must leave its range to be a new extreme.
    pub extreme_tol: f64,
    /// Surprise (nats) that maps to a score of 1 - 1/e.
    pub surprise_scale: f64,
    /// Decay per point of the recent peak score (refractory memory).
    pub peak_decay: f64,
    /// Factor applied to a score that does not beat the recent peak (1 = no refractory step).
    pub peak_damp: f64,
    /// Expected spacing of points in seconds; 0 = take points as they come (no gap filling).
    pub cadence_s: i64,
    /// What a missing point is.
    pub gap_fill: GapFill,
    /// Most points filled into one gap.
    pub max_fill: u32,
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
                    levels: 0,
                    window: 8,
                    phase_buckets: 24,
                    volatility_levels: 8,
                    ..Scale::default()
                },
            ],
            table_bits: 15,
            warmup: 150,
            rate_alpha: 0.002,
            extremes: vec![
                Extreme {
                    alpha: 1.0,
                    nats: 15.0,
                    steps: false,
                },
                Extreme {
                    alpha: 0.1,
                    nats: 10.0,
                    steps: false,
                },
                Extreme {
                    alpha: 0.02,
                    nats: 8.0,
                    steps: true,
                },
            ],
            extreme_tol: 0.05,
            surprise_scale: 8.0,
            peak_decay: 0.999,
            peak_damp: 0.5,
            cadence_s: 0,
            gap_fill: GapFill::Zero,
            max_fill: 64,
        }
    }
}

impl Config {
    /// For many small per-key daily series (cost per subscription, meter category, region): weekly phase instead of
    /// hour of day, a 4096-bit table, a 14-day warm-up, missing days filled with 0.
    pub fn compact() -> Self {
        Config {
            scales: vec![
                Scale {
                    levels: 16,
                    window: 1,
                    ..Scale::default()
                },
                Scale {
                    levels: 8,
                    window: 3,
                    ..Scale::default()
                },
                Scale {
                    levels: 8,
                    window: 1,
                    phase_buckets: 7,
                    period_s: 7 * 86_400,
                    ..Scale::default()
                },
            ],
            table_bits: 12,
            warmup: 14,
            rate_alpha: 0.02,
            cadence_s: 86_400,
            max_fill: 62,
            ..Config::default()
        }
    }
}

/// A level tracked for new extremes.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Level {
    value: f64,
    lo: f64,
    hi: f64,
}

/// The streaming scorer of one series. See the crate documentation for the algorithm.
///
/// Deserialising checks that the state fits its configuration (table size, one rate per scale, one level per extreme,
/// finite numbers), so a damaged checkpoint is an error, not a panic later.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesDetector {
    cfg: Config,
    /// Finite points learnt from (including filled ones).
    n: u64,
    /// First and last timestamps seen (valid when `n > 0`).
    first_ts: i64,
    last_ts: i64,
    /// The last `MAX_WINDOW` values, a ring indexed by `n`.
    values: [f64; MAX_WINDOW],
    /// Range of all values so far (valid when `n > 0`).
    lo: f64,
    hi: f64,
    /// Seen contexts, `2^table_bits` bits.
    seen: Vec<u64>,
    /// Novelty rate per scale.
    rates: Vec<f64>,
    /// Per extreme: its level and that level's range (valid when `n > 0`).
    levels: Vec<Level>,
    /// Recent peak score (refractory step).
    peak: f64,
    /// The relative step sizes where the volatility bins start, scale after scale (derived from the configuration:
    /// not serialised, rebuilt on deserialisation).
    #[serde(skip)]
    volatility_edges: Vec<f64>,
}

/// The serialised form, checked before it becomes a [`SeriesDetector`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    cfg: Config,
    n: u64,
    first_ts: i64,
    last_ts: i64,
    values: [f64; MAX_WINDOW],
    lo: f64,
    hi: f64,
    seen: Vec<u64>,
    rates: Vec<f64>,
    levels: Vec<Level>,
    peak: f64,
}

impl<'de> Deserialize<'de> for SeriesDetector {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Stored::deserialize(d)?;
        let fail = |what: &str| {
            Err(serde::de::Error::custom(format!(
                "inconsistent detector state: {what}"
            )))
        };
        if s.seen.len() != table_words(s.cfg.table_bits) {
            return fail("table size does not match table_bits");
        }
        if s.rates.len() != s.cfg.scales.len() || s.levels.len() != s.cfg.extremes.len() {
            return fail("one rate per scale and one level per extreme expected");
        }
        let finite = s
            .values
            .iter()
            .chain(&s.rates)
            .chain([&s.lo, &s.hi, &s.peak])
            .all(|x| x.is_finite())
            && s.levels
                .iter()
                .all(|l| l.value.is_finite() && l.lo.is_finite() && l.hi.is_finite());
        if !finite {
            return fail("non-finite number");
        }
        Ok(SeriesDetector {
            n: s.n,
            first_ts: s.first_ts,
            last_ts: s.last_ts,
            values: s.values,
            lo: s.lo,
            hi: s.hi,
            seen: s.seen,
            rates: s.rates,
            levels: s.levels,
            peak: s.peak,
            volatility_edges: volatility_edges(&s.cfg),
            cfg: s.cfg,
        })
    }
}

/// Bin `l` (1-based) of a volatility scale with `V` bins holds relative step sizes `r` with
/// `floor((ln r + 9) * V / 9) + 1 == l`: the edges are `exp(9 k / V - 9)` for `k = 1..=V`. Comparing with them is the
/// same binning as taking the logarithm, without a logarithm per point.
fn volatility_edges(cfg: &Config) -> Vec<f64> {
    cfg.scales
        .iter()
        .flat_map(|s| {
            let v = volatility_bins(s);
            (1..=v).map(move |k| (9.0 * f64::from(k) / f64::from(v) - 9.0).exp())
        })
        .collect()
}

/// Volatility bins of a scale (at most 64).
fn volatility_bins(s: &Scale) -> u32 {
    s.volatility_levels.min(64)
}

/// 64-bit words of a table of `2^table_bits` bits (table_bits clamped to 6..=24).
fn table_words(table_bits: u32) -> usize {
    1usize << (table_bits.clamp(6, 24) - 6)
}

#[inline]
fn mix(h: u64, x: u64) -> u64 {
    (h ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29)
}

impl SeriesDetector {
    pub fn new(cfg: Config) -> Self {
        let words = table_words(cfg.table_bits);
        SeriesDetector {
            n: 0,
            first_ts: 0,
            last_ts: 0,
            values: [0.0; MAX_WINDOW],
            lo: 0.0,
            hi: 0.0,
            seen: vec![0; words],
            rates: vec![0.5; cfg.scales.len()],
            levels: vec![Level::default(); cfg.extremes.len()],
            peak: 0.0,
            volatility_edges: volatility_edges(&cfg),
            cfg,
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Number of finite points learnt from (filled gap points included).
    pub fn points(&self) -> u64 {
        self.n
    }

    /// Bytes this detector holds: the struct itself plus its heap parts (the configuration's lists, the table, the
    /// per-scale and per-extreme state, the volatility bin edges). With [`Config::default`] 4,896 bytes (a 4 KiB
    /// table); with [`Config::compact`] 1,168 bytes (a 512-byte table).
    pub fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.seen.len() * 8
            + self.rates.len() * 8
            + self.levels.len() * std::mem::size_of::<Level>()
            + self.cfg.scales.len() * std::mem::size_of::<Scale>()
            + self.cfg.extremes.len() * std::mem::size_of::<Extreme>()
            + self.volatility_edges.len() * 8
    }

    /// Scores one point (timestamp in unix seconds) from it and the points before it. Returns a score in `[0, 1]`;
    /// 0 for a non-finite value (which is not learnt from).
    pub fn score(&mut self, timestamp: i64, value: f64) -> f64 {
        if !value.is_finite() {
            return 0.0;
        }
        let cadence = self.cfg.cadence_s;
        if cadence > 0 && self.n > 0 && timestamp > self.last_ts {
            let missing = (timestamp.saturating_sub(self.last_ts) / cadence - 1)
                .clamp(0, i64::from(self.cfg.max_fill));
            let fill = match self.cfg.gap_fill {
                GapFill::Zero => 0.0,
                GapFill::Hold => self.values[((self.n - 1) as usize) % MAX_WINDOW],
            };
            let start = timestamp - missing * cadence;
            for k in 0..missing {
                self.step(start + k * cadence, fill);
            }
        }
        self.step(timestamp, value)
    }

    fn step(&mut self, timestamp: i64, value: f64) -> f64 {
        let cfg = &self.cfg;
        let first = self.n == 0;
        let pos = (self.n as usize) % MAX_WINDOW;
        self.values[pos] = value;
        self.n += 1;
        if first {
            self.first_ts = timestamp;
        }
        self.last_ts = timestamp;
        let scored = self.n > cfg.warmup;
        let mut surprise: f64 = 0.0;

        // New extremes of the value and of its smoothed levels.
        for (ex, lv) in cfg.extremes.iter().zip(self.levels.iter_mut()) {
            let x = if !ex.steps {
                value
            } else if first {
                continue;
            } else {
                (value - self.values[(pos + MAX_WINDOW - 1) % MAX_WINDOW]).abs()
            };
            let alpha = ex.alpha.clamp(1e-6, 1.0);
            // The level starts at its first input; its range counts once it has settled (about 1/alpha inputs).
            let inputs = if ex.steps { self.n - 1 } else { self.n };
            if inputs == 1 {
                lv.value = x;
            } else {
                lv.value += alpha * (x - lv.value);
            }
            if (inputs as f64) * alpha <= 1.0 {
                *lv = Level {
                    value: lv.value,
                    // A step size is never below 0: its range is measured from 0, so only a rise of the series'
                    // noise level is new (a series going still is common: nights, idle periods).
                    lo: if ex.steps { 0.0 } else { lv.value },
                    hi: lv.value,
                };
                continue;
            }
            let tol = cfg.extreme_tol * (lv.hi - lv.lo);
            if scored && (lv.value > lv.hi + tol || lv.value < lv.lo - tol) {
                surprise = surprise.max(ex.nats);
            }
            lv.lo = lv.lo.min(lv.value);
            lv.hi = lv.hi.max(lv.value);
        }

        // Context novelty.
        if first {
            self.lo = value;
            self.hi = value;
        }
        self.lo = self.lo.min(value);
        self.hi = self.hi.max(value);
        let range = self.hi - self.lo;
        let inv = if range > 0.0 { 1.0 / range } else { 0.0 };
        let mask = (self.seen.len() as u64 * 64) - 1;
        let rate_alpha = cfg.rate_alpha.max(1.0 / self.n as f64);
        let mut edges_end = 0;
        for (si, s) in cfg.scales.iter().enumerate() {
            let edges_start = edges_end;
            edges_end += volatility_bins(s) as usize;
            let w = s.window.clamp(1, MAX_WINDOW);
            if (self.n as usize) < w {
                continue;
            }
            let q = s.levels as f64 * inv;
            let top = s.levels.max(1) as i64 - 1;
            let mut h = mix(0x517C_C1B7_2722_0A95, si as u64);
            if s.levels > 0 {
                for k in 0..w {
                    let v = self.values[(pos + MAX_WINDOW - k) % MAX_WINDOW];
                    h = mix(h, (((v - self.lo) * q) as i64).clamp(0, top) as u64);
                }
            }
            if s.volatility_levels > 0 {
                let mut prev = value;
                let mut moves = 0.0;
                for k in 1..w {
                    let v = self.values[(pos + MAX_WINDOW - k) % MAX_WINDOW];
                    moves += (v - prev).abs();
                    prev = v;
                }
                let r = moves * inv / w as f64;
                let l = if r > 0.0 {
                    let edges = &self.volatility_edges[edges_start..edges_end];
                    1 + edges.iter().take_while(|&&e| r >= e).count() as u64
                } else {
                    0
                };
                h = mix(h, l + 0x1_0000);
            }
            // A phase context is expected to be new during the first pass through its period.
            let mut informative = true;
            if s.phase_buckets > 0 && s.period_s > 0 {
                informative = timestamp.saturating_sub(self.first_ts) >= s.period_s;
                let into = timestamp.rem_euclid(s.period_s);
                let buckets = i64::from(s.phase_buckets);
                let ph = match into.checked_mul(buckets) {
                    Some(x) => x / s.period_s,
                    None => {
                        (i128::from(into) * i128::from(buckets) / i128::from(s.period_s)) as i64
                    }
                } as u64;
                h = mix(h, ph + 0x2_0000);
            }
            // Two bit positions per context (a Bloom filter with k = 2): a new context is taken for a seen one only
            // if both of its bits were set by others.
            let (i1, i2) = ((h >> 20) & mask, h.rotate_right(40) & mask);
            let (w1, b1) = ((i1 >> 6) as usize, 1u64 << (i1 & 63));
            let (w2, b2) = ((i2 >> 6) as usize, 1u64 << (i2 & 63));
            let novel = (self.seen[w1] & b1 == 0) | (self.seen[w2] & b2 == 0);
            self.seen[w1] |= b1;
            self.seen[w2] |= b2;
            let rate = &mut self.rates[si];
            if novel && informative {
                surprise = surprise.max(-rate.max(1e-5).ln());
            }
            *rate += rate_alpha * (f64::from(u8::from(novel)) - *rate);
        }

        if !scored {
            return 0.0;
        }
        let mut out = 1.0 - (-surprise / cfg.surprise_scale.max(1e-9)).exp();
        if cfg.peak_damp < 1.0 {
            let prev = self.peak;
            self.peak = (self.peak * cfg.peak_decay).max(out);
            if out <= prev {
                out *= cfg.peak_damp;
            }
        }
        if out.is_finite() {
            out.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}
