//! Development runner (fast to rebuild while tuning; `bench/nab.sh` runs the real CLI): scores every `DATA/<subset>/<file>.csv` into `OUT/<subset>/<file>.csv`.
//! The configuration is `Config::default()` merged with the JSON in `CSPG_CFG`, if set.
//! Usage: cargo run --release -p cspguard-anomaly --example nab_dev -- DATA OUT
use cspguard_anomaly::{Config, SeriesDetector};
use std::io::Write;

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn ts(s: &str) -> i64 {
    let n = |a: usize, z: usize| s[a..z].parse::<i64>().unwrap();
    days_from_civil(n(0, 4), n(5, 7), n(8, 10)) * 86_400
        + n(11, 13) * 3600
        + n(14, 16) * 60
        + n(17, 19)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (data, out) = (
        std::path::Path::new(&args[1]),
        std::path::Path::new(&args[2]),
    );
    let cfg: Config = match std::env::var("CSPG_CFG") {
        Ok(j) => serde_json::from_str(&j).expect("CSPG_CFG"),
        Err(_) => Config::default(),
    };
    for sub in std::fs::read_dir(data).unwrap() {
        let sub = sub.unwrap().path();
        if !sub.is_dir() {
            continue;
        }
        let name = sub.file_name().unwrap().to_owned();
        std::fs::create_dir_all(out.join(&name)).unwrap();
        for f in std::fs::read_dir(&sub).unwrap() {
            let f = f.unwrap().path();
            let text = std::fs::read_to_string(&f).unwrap();
            let mut d = SeriesDetector::new(cfg.clone());
            let mut o = String::from("timestamp,value,anomaly_score\n");
            for line in text.lines().skip(1) {
                let (t, v) = line.split_once(',').unwrap();
                let s = d.score(ts(t), v.trim().parse().unwrap_or(f64::NAN));
                o.push_str(&format!("{t},{v},{s}\n"));
            }
            std::fs::File::create(out.join(&name).join(f.file_name().unwrap()))
                .unwrap()
                .write_all(o.as_bytes())
                .unwrap();
        }
    }
}
