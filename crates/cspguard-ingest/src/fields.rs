//! Reading typed fields out of a JSON record: keys matched case-insensitively (Microsoft's own samples vary the case),
//! timestamps with or without a zone (none means UTC), decimals given as strings or numbers.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use cspguard_domain::{parse_decimal, Instant};
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A JSON object with lower-cased keys.
pub struct Obj(HashMap<String, Value>);

/// A field that is present but wrong, or required and missing. Becomes a reject with the field's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: &str, reason: impl Into<String>) -> Self {
        FieldError {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

pub type FieldResult<T> = Result<T, FieldError>;

impl Obj {
    pub fn new(m: Map<String, Value>) -> Self {
        Obj(m
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect())
    }

    pub fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Object(m) => Some(Obj::new(m)),
            _ => None,
        }
    }

    /// The record's bytes with keys sorted and lower-cased and no insignificant white space: the same fact in any key
    /// order or case gives the same bytes.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let sorted: std::collections::BTreeMap<&String, &Value> = self.0.iter().collect();
        serde_json::to_vec(&sorted).unwrap_or_default()
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// A string field; numbers and booleans are given as their text. Empty strings count as absent.
    pub fn opt_str(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub fn str(&self, key: &str) -> FieldResult<String> {
        self.opt_str(key)
            .ok_or_else(|| FieldError::new(key, "required field is missing or empty"))
    }

    pub fn obj(&self, key: &str) -> Option<Obj> {
        match self.get(key)? {
            Value::Object(m) => Some(Obj::new(m.clone())),
            _ => None,
        }
    }

    /// A value like `category: {"value": "Administrative"}` or a plain string.
    pub fn str_or_value(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::Object(_) => self.obj(key)?.opt_str("value"),
            _ => self.opt_str(key),
        }
    }

    pub fn opt_bool(&self, key: &str) -> FieldResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                "" => Ok(None),
                _ => Err(FieldError::new(key, format!("{s:?} is not true or false"))),
            },
            Some(v) => Err(FieldError::new(key, format!("{v} is not true or false"))),
        }
    }

    pub fn opt_i64(&self, key: &str) -> FieldResult<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| FieldError::new(key, format!("{n} is not a whole number"))),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| FieldError::new(key, format!("{s:?} is not a whole number"))),
            Some(v) => Err(FieldError::new(key, format!("{v} is not a whole number"))),
        }
    }

    pub fn opt_f64(&self, key: &str) -> Option<f64> {
        match self.get(key)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A decimal given as a string (the documented form) or a JSON number.
    pub fn decimal(&self, key: &str) -> FieldResult<Decimal> {
        match self.get(key) {
            None => Err(FieldError::new(key, "required amount is missing")),
            Some(Value::String(s)) => parse_decimal(s)
                .map_err(|_| FieldError::new(key, format!("{s:?} is not a decimal number"))),
            Some(Value::Number(n)) => parse_decimal(&n.to_string())
                .map_err(|_| FieldError::new(key, format!("{n} is not a decimal number"))),
            Some(v) => Err(FieldError::new(key, format!("{v} is not a decimal number"))),
        }
    }

    pub fn opt_instant(&self, key: &str) -> FieldResult<Option<Instant>> {
        match self.opt_str(key) {
            None => Ok(None),
            Some(s) => parse_instant(&s)
                .map(Some)
                .map_err(|e| FieldError::new(key, e)),
        }
    }

    pub fn instant(&self, key: &str) -> FieldResult<Instant> {
        self.opt_instant(key)?
            .ok_or_else(|| FieldError::new(key, "required timestamp is missing"))
    }

    pub fn opt_date(&self, key: &str) -> FieldResult<Option<NaiveDate>> {
        match self.opt_str(key) {
            None => Ok(None),
            Some(s) => parse_date(&s)
                .map(Some)
                .map_err(|e| FieldError::new(key, e)),
        }
    }

    pub fn date(&self, key: &str) -> FieldResult<NaiveDate> {
        self.opt_date(key)?
            .ok_or_else(|| FieldError::new(key, "required date is missing"))
    }

    pub fn str_array(&self, key: &str) -> Vec<String> {
        match self.get(key) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            Some(Value::String(s)) if !s.trim().is_empty() => vec![s.trim().to_string()],
            _ => Vec::new(),
        }
    }
}

/// Parses an ISO 8601 instant. Without a zone it is UTC; up to nine fractional digits (Microsoft writes seven).
pub fn parse_instant(s: &str) -> Result<Instant, String> {
    let t = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, f) {
            return Ok(Utc.from_utc_datetime(&n));
        }
    }
    // Offsets without a colon (+0000) or a space before Z.
    for f in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(d) = DateTime::parse_from_str(t, f) {
            return Ok(d.with_timezone(&Utc));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN)));
    }
    Err(format!(
        "{t:?} is not an ISO 8601 timestamp (like 2026-10-02T21:02:33Z)"
    ))
}

/// Parses a calendar date: `2026-09-01`, a timestamp (its date part), or the US form `9/1/2026` some exports use.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let t = s.trim();
    if let Some(d) = iso_date(t.as_bytes()) {
        return Ok(d);
    }
    if t.len() > 10
        && t.as_bytes()
            .get(10)
            .is_some_and(|c| *c == b'T' || *c == b' ')
    {
        if let Ok(d) = NaiveDate::parse_from_str(&t[..10], "%Y-%m-%d") {
            return Ok(d);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%m/%d/%Y") {
        return Ok(d);
    }
    Err(format!("{t:?} is not a date (like 2026-09-01)"))
}

/// `YYYY-MM-DD` read directly: the usage importer parses a date per row and chrono's format-driven parser is a
/// measurable share of that.
fn iso_date(b: &[u8]) -> Option<NaiveDate> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}

/// Microsoft writes `9999-12-31T23:59:59.997` for "not yet": such a time means absent.
pub fn is_sentinel(t: &Instant) -> bool {
    use chrono::Datelike;
    t.year() >= 9999
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_in_microsofts_styles() {
        let a = parse_instant("2026-10-03T04:12:09.11").unwrap();
        assert_eq!(a.to_rfc3339(), "2026-10-03T04:12:09.110+00:00");
        assert!(is_sentinel(
            &parse_instant("9999-12-31T23:59:59.9970000").unwrap()
        ));
        assert_eq!(
            parse_instant("2026-10-02T23:02:33+02:00")
                .unwrap()
                .to_rfc3339(),
            "2026-10-02T21:02:33+00:00"
        );
        assert!(parse_instant("yesterday").is_err());
    }

    #[test]
    fn dates_in_three_styles() {
        let d = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
        assert_eq!(parse_date("2026-09-01").unwrap(), d);
        assert_eq!(parse_date("2026-09-01T00:00:00Z").unwrap(), d);
        assert_eq!(parse_date("9/1/2026").unwrap(), d);
        assert!(parse_date("2026-13-01").is_err());
    }

    #[test]
    fn keys_match_in_any_case() {
        let o = Obj::from_value(
            serde_json::json!({"IsTest": "false", "hitCount": "412", "amount": 12.5}),
        )
        .unwrap();
        assert_eq!(o.opt_bool("istest").unwrap(), Some(false));
        assert_eq!(o.opt_i64("hitcount").unwrap(), Some(412));
        assert_eq!(o.decimal("amount").unwrap().to_string(), "12.5");
    }
}
