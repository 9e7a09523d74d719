//! `cspguard detect series`: one CSV series through [`cspguard_anomaly::SeriesDetector`].
//!
//! Output: `timestamp,value,anomaly_score`, one row per input row in input order, timestamp and value copied verbatim.
//! A malformed row (unparsable timestamp, a value that is not a finite number, a missing field) keeps its place with a
//! score of 0, is not learnt from, and is reported with its line and reason; the row count never changes.

use crate::cli::DetectSeriesArgs;
use crate::exit;
use anyhow::Context;
use cspguard_anomaly::{Config, SeriesDetector};
use std::io::Write;
use std::path::Path;

/// Malformed rows reported one by one; past this only the count is.
const REPORTED_ROWS: usize = 20;

/// An input that cannot be scored at all (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Unusable(String);

/// What one run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub rows: u64,
    pub malformed: u64,
}

/// Runs the command; maps an unusable input to exit status 2 and malformed rows to 3.
pub fn run(args: &DetectSeriesArgs) -> anyhow::Result<i32> {
    match score_file(&args.input, &args.output) {
        Ok(s) => {
            eprintln!(
                "scored {} rows of {} into {}{}",
                s.rows,
                args.input.display(),
                args.output.display(),
                if s.malformed > 0 {
                    format!(
                        " ({} malformed rows scored 0 and not learnt from)",
                        s.malformed
                    )
                } else {
                    String::new()
                }
            );
            Ok(if s.malformed > 0 {
                exit::REJECTS
            } else {
                exit::OK
            })
        }
        Err(e) if e.is::<Unusable>() => {
            eprintln!("error: {e:#}");
            Ok(exit::UNUSABLE)
        }
        Err(e) => Err(e),
    }
}

/// Scores `input` into `output` (written to a temporary file beside it, then renamed).
pub fn score_file(input: &Path, output: &Path) -> anyhow::Result<Summary> {
    let file = std::fs::File::open(input).map_err(|e| {
        Unusable(format!(
            "cannot read {}: {e} (check the --input path)",
            input.display()
        ))
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(std::io::BufReader::with_capacity(1 << 16, file));
    let headers = reader
        .headers()
        .map_err(|e| Unusable(format!("{}: cannot read the header: {e}", input.display())))?
        .clone();
    if headers.is_empty() {
        return Err(Unusable(format!(
            "{} is empty: it needs a header `timestamp,value` and one row per point",
            input.display()
        ))
        .into());
    }
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                Unusable(format!(
                    "{}: the header has no `{name}` column (found: {}); the file needs `timestamp,value` columns",
                    input.display(),
                    headers.iter().collect::<Vec<_>>().join(",")
                ))
            })
    };
    let (ts_col, value_col) = (column("timestamp")?, column("value")?);

    let tmp = output.with_extension("csv.partial");
    let out = std::fs::File::create(&tmp).with_context(|| {
        format!(
            "cannot create {} (does the --output folder exist and is it writable?)",
            tmp.display()
        )
    })?;
    let mut w = std::io::BufWriter::with_capacity(1 << 16, out);
    writeln!(w, "timestamp,value,anomaly_score")?;
    let mut detector = SeriesDetector::new(Config::default());
    let mut summary = Summary::default();
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                drop(w);
                let _ = std::fs::remove_file(&tmp);
                return Err(Unusable(format!(
                    "{}:{line}: cannot read the row: {e} (is it a CSV text file?)",
                    input.display()
                ))
                .into());
            }
        }
        summary.rows += 1;
        let ts_text = record.get(ts_col).unwrap_or("");
        let value_text = record.get(value_col).unwrap_or("");
        let score = match parse_row(ts_text, value_text) {
            Ok((ts, value)) => detector.score(ts, value),
            Err(reason) => {
                summary.malformed += 1;
                if summary.malformed as usize <= REPORTED_ROWS {
                    eprintln!(
                        "{}:{line}: {reason}; the row is scored 0 and not learnt from",
                        input.display()
                    );
                }
                0.0
            }
        };
        write_field(&mut w, ts_text)?;
        w.write_all(b",")?;
        write_field(&mut w, value_text)?;
        writeln!(w, ",{score}")?;
    }
    if summary.rows == 0 {
        drop(w);
        let _ = std::fs::remove_file(&tmp);
        return Err(Unusable(format!(
            "{} has a header but no rows: nothing to score",
            input.display()
        ))
        .into());
    }
    if summary.malformed as usize > REPORTED_ROWS {
        eprintln!(
            "{}: {} more malformed rows not shown",
            input.display(),
            summary.malformed as usize - REPORTED_ROWS
        );
    }
    w.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, output)
        .with_context(|| format!("cannot move {} to {}", tmp.display(), output.display()))?;
    Ok(summary)
}

/// A field copied verbatim, quoted only when CSV needs it.
fn write_field(w: &mut impl Write, field: &str) -> std::io::Result<()> {
    if field.contains([',', '"', '\n', '\r']) {
        write!(w, "\"{}\"", field.replace('"', "\"\""))
    } else {
        w.write_all(field.as_bytes())
    }
}

fn parse_row(ts: &str, value: &str) -> Result<(i64, f64), String> {
    let ts = parse_timestamp(ts).ok_or_else(|| {
        format!(
            "timestamp {ts:?} is not a date-time \
             (expected e.g. 2014-04-01 00:00:00, RFC 3339, a date or unix seconds)"
        )
    })?;
    match value.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok((ts, v)),
        Ok(_) => Err(format!("value {value:?} is not a finite number")),
        Err(_) => Err(format!("value {value:?} is not a number")),
    }
}

/// Unix seconds of `2014-04-01 00:00:00[.fff]`, `2014-04-01T00:00:00[.fff]` (both UTC), RFC 3339 with an offset,
/// `2014-04-01`, or an integer of unix seconds.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let t = text.trim();
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(dt.and_utc().timestamp());
        }
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp());
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp());
    }
    t.parse::<i64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-02 00:00:00"), Some(86_400));
        assert_eq!(parse_timestamp("1970-01-02T00:00:01.5"), Some(86_401));
        assert_eq!(parse_timestamp("1970-01-02T02:00:00+02:00"), Some(86_400));
        assert_eq!(parse_timestamp("1970-01-03"), Some(172_800));
        assert_eq!(parse_timestamp("12345"), Some(12_345));
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn rows() {
        assert_eq!(parse_row("1970-01-01", "2.5"), Ok((0, 2.5)));
        assert!(parse_row("1970-01-01", "NaN")
            .unwrap_err()
            .contains("finite"));
        assert!(parse_row("1970-01-01", "")
            .unwrap_err()
            .contains("not a number"));
        assert!(parse_row("x", "1").unwrap_err().contains("timestamp"));
    }
}
