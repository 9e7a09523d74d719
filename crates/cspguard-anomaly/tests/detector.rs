//! Contracts of the streaming scorer: range, determinism, checkpoint/resume, bad input, and that it finds a spike.

use cspguard_anomaly::{Config, GapFill, SeriesDetector};

/// A deterministic pseudo-random stream (SplitMix64), so the tests need no RNG crate.
struct Noise(u64);
impl Noise {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    }
}

/// Five-minute points of a daily sine with noise, starting 2014-04-01.
fn seasonal(n: usize, seed: u64) -> Vec<(i64, f64)> {
    let mut noise = Noise(seed);
    (0..n)
        .map(|i| {
            let t = 1_396_310_400 + 300 * i as i64;
            let phase = (t % 86_400) as f64 / 86_400.0 * std::f64::consts::TAU;
            (t, 50.0 + 20.0 * phase.sin() + 2.0 * noise.next())
        })
        .collect()
}

fn run(cfg: &Config, points: &[(i64, f64)]) -> Vec<f64> {
    let mut d = SeriesDetector::new(cfg.clone());
    points.iter().map(|&(t, v)| d.score(t, v)).collect()
}

#[test]
fn one_score_per_point_in_range_and_deterministic() {
    let pts = seasonal(5_000, 7);
    for cfg in [Config::default(), Config::compact()] {
        let a = run(&cfg, &pts);
        assert_eq!(a.len(), pts.len());
        assert!(a.iter().all(|s| (0.0..=1.0).contains(s)), "{a:?}");
        assert!(a.iter().any(|&s| s > 0.0), "never scores anything");
        let b = run(&cfg, &pts);
        assert_eq!(
            a.iter().map(|s| s.to_bits()).collect::<Vec<_>>(),
            b.iter().map(|s| s.to_bits()).collect::<Vec<_>>()
        );
    }
}

#[test]
fn resuming_from_a_checkpoint_gives_the_uninterrupted_scores() {
    let mut pts = seasonal(6_000, 11);
    pts[4_000].1 = 400.0;
    let whole = run(&Config::default(), &pts);
    for cut in [0, 1, 149, 151, 2_345, 3_999, 4_001] {
        let mut d = SeriesDetector::new(Config::default());
        let mut got: Vec<f64> = pts[..cut].iter().map(|&(t, v)| d.score(t, v)).collect();
        let json = serde_json::to_string(&d).unwrap();
        let mut resumed: SeriesDetector = serde_json::from_str(&json).unwrap();
        got.extend(pts[cut..].iter().map(|&(t, v)| resumed.score(t, v)));
        assert_eq!(
            got.iter().map(|s| s.to_bits()).collect::<Vec<_>>(),
            whole.iter().map(|s| s.to_bits()).collect::<Vec<_>>(),
            "checkpoint after {cut} points"
        );
        // A clone is a checkpoint too.
        let mut c = resumed.clone();
        assert_eq!(c.score(0, 1.0).to_bits(), resumed.score(0, 1.0).to_bits());
    }
}

#[test]
fn a_damaged_checkpoint_is_an_error_not_a_panic() {
    let mut d = SeriesDetector::new(Config::default());
    for &(t, v) in &seasonal(500, 1) {
        d.score(t, v);
    }
    let good: serde_json::Value = serde_json::to_value(&d).unwrap();
    for (field, bad) in [
        ("seen", serde_json::json!([1, 2, 3])),
        ("rates", serde_json::json!([0.5])),
        ("levels", serde_json::json!([])),
        ("peak", serde_json::Value::Null),
    ] {
        let mut v = good.clone();
        v[field] = bad;
        let err = serde_json::from_value::<SeriesDetector>(v).unwrap_err();
        assert!(!err.to_string().is_empty(), "{field}");
    }
    let mut v = good.clone();
    v["cfg"]["table_bits"] = serde_json::json!(10);
    let err = serde_json::from_value::<SeriesDetector>(v)
        .unwrap_err()
        .to_string();
    assert!(err.contains("table size"), "{err}");
    serde_json::from_value::<SeriesDetector>(good).unwrap();
}

#[test]
fn bad_values_do_not_panic_or_poison_the_state() {
    let pts = seasonal(3_000, 3);
    let clean = run(&Config::default(), &pts);
    let mut d = SeriesDetector::new(Config::default());
    let mut dirty = Vec::new();
    for (i, &(t, v)) in pts.iter().enumerate() {
        if i % 97 == 5 {
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                assert_eq!(d.score(t, bad), 0.0);
            }
        }
        dirty.push(d.score(t, v));
    }
    assert_eq!(clean, dirty, "non-finite values changed later scores");
    // The state still serialises (no NaN/inf in it).
    serde_json::to_string(&d).unwrap();
}

#[test]
fn degenerate_series_do_not_panic() {
    for cfg in [Config::default(), Config::compact()] {
        // empty: nothing to score, still serialisable
        let d = SeriesDetector::new(cfg.clone());
        assert_eq!(d.points(), 0);
        serde_json::to_string(&d).unwrap();
        // constant
        let flat: Vec<(i64, f64)> = (0..2_000).map(|i| (i * 60, 3.0)).collect();
        let s = run(&cfg, &flat);
        assert!(
            s.iter().all(|&x| x == 0.0),
            "a constant series is not anomalous"
        );
        // huge, tiny, alternating signs, timestamps backwards and negative
        let wild: Vec<(i64, f64)> = (0..2_000)
            .map(|i| (-(i as i64) * 7, if i % 2 == 0 { 1e300 } else { -1e-300 }))
            .collect();
        assert!(run(&cfg, &wild).iter().all(|s| (0.0..=1.0).contains(s)));
    }
}

#[test]
fn a_spike_in_a_seasonal_series_scores_above_the_points_around_it() {
    let mut pts = seasonal(4_000, 5);
    let at = 3_000;
    pts[at].1 += 40.0;
    let s = run(&Config::default(), &pts);
    let around = s[at - 300..at]
        .iter()
        .chain(&s[at + 1..at + 300])
        .fold(0.0f64, |m, &x| m.max(x));
    assert!(
        s[at] > around && s[at] > 0.5,
        "spike {} vs max around {around}",
        s[at]
    );
}

#[test]
fn a_level_shift_is_found_without_an_extreme_value() {
    // A noisy series whose values stay inside the range seen so far but whose level drops.
    let mut noise = Noise(9);
    let pts: Vec<(i64, f64)> = (0..3_000)
        .map(|i| {
            let level = if i < 2_000 { 10.0 } else { 6.5 };
            (i as i64 * 300, level + 8.0 * noise.next())
        })
        .collect();
    let s = run(&Config::default(), &pts);
    let before = s[1_000..2_000].iter().fold(0.0f64, |m, &x| m.max(x));
    let after = s[2_000..2_100].iter().fold(0.0f64, |m, &x| m.max(x));
    assert!(after > before, "after the shift {after}, before {before}");
}

#[test]
fn gaps_are_filled_for_sparse_daily_series() {
    let day = 86_400;
    let mut cfg = Config::compact();
    // 60 days of steady cost, then a 10-day hole, then the cost again.
    let mut d = SeriesDetector::new(cfg.clone());
    for i in 0..60 {
        d.score(i * day, 100.0 + (i % 7) as f64);
    }
    assert_eq!(d.points(), 60);
    d.score(70 * day, 100.0);
    assert_eq!(d.points(), 71, "the 9 missing days are fed");
    // Without a cadence nothing is filled.
    cfg.cadence_s = 0;
    let mut e = SeriesDetector::new(cfg.clone());
    e.score(0, 1.0);
    e.score(100 * day, 1.0);
    assert_eq!(e.points(), 2);
    // Hold repeats the last value; fills are capped by max_fill.
    cfg.cadence_s = day;
    cfg.gap_fill = GapFill::Hold;
    cfg.max_fill = 5;
    let mut h = SeriesDetector::new(cfg);
    h.score(0, 1.0);
    h.score(100 * day, 1.0);
    assert_eq!(h.points(), 7);
}

#[test]
fn a_cost_jump_in_a_daily_series_is_flagged() {
    let day = 86_400;
    let mut d = SeriesDetector::new(Config::compact());
    let mut noise = Noise(1);
    let mut normal: f64 = 0.0;
    for i in 0..120 {
        let weekday = if i % 7 < 5 { 100.0 } else { 40.0 };
        let s = d.score(i * day, weekday + 5.0 * noise.next());
        if i >= 30 {
            normal = normal.max(s);
        }
    }
    let jump = d.score(120 * day, 900.0);
    assert!(
        jump > 0.8 && jump > 2.0 * normal,
        "a 9x cost day scored {jump}, normal days up to {normal}"
    );
}

#[test]
fn state_is_small_and_fixed() {
    let pts = seasonal(20_000, 2);
    let mut d = SeriesDetector::new(Config::default());
    let before = d.state_bytes();
    for &(t, v) in &pts {
        d.score(t, v);
    }
    assert_eq!(d.state_bytes(), before, "state grew with the series");
    let c = SeriesDetector::new(Config::compact()).state_bytes();
    println!("state bytes: default {before}, compact {c}");
    assert!(before < 5 * 1024, "default state {before} bytes");
    assert!(c < 1200, "compact state {c} bytes");
}
