//! Calendar arithmetic on plain integers: days since 1970-01-01 and seconds since the Unix epoch (UTC), with the
//! few text formats the output files use. Integer civil-date conversion (H. Hinnant's algorithm) keeps the hot loops
//! free of allocation and can never panic.

use std::fmt::Write as _;

pub(crate) const DAY: i64 = 86_400;
pub(crate) const HOUR: i64 = 3_600;
pub(crate) const MINUTE: i64 = 60;

/// Days since 1970-01-01 of a civil date.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date (year, month, day) of a day number.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// 0 = Monday ... 6 = Sunday.
pub(crate) fn weekday(day: i64) -> u32 {
    (day + 3).rem_euclid(7) as u32
}

pub(crate) fn is_weekend(day: i64) -> bool {
    weekday(day) >= 5
}

/// First day of the month containing `day`.
pub(crate) fn month_start(day: i64) -> i64 {
    let (y, m, _) = civil_from_days(day);
    days_from_civil(y, m, 1)
}

/// First day of the month after the one containing `day`.
pub(crate) fn next_month_start(day: i64) -> i64 {
    let (y, m, _) = civil_from_days(day);
    if m == 12 {
        days_from_civil(y + 1, 1, 1)
    } else {
        days_from_civil(y, m + 1, 1)
    }
}

/// First day of the month `n` months before the one containing `day`.
pub(crate) fn months_back(day: i64, n: u32) -> i64 {
    let (y, m, _) = civil_from_days(day);
    let total = y * 12 + i64::from(m) - 1 - i64::from(n);
    days_from_civil(total.div_euclid(12), (total.rem_euclid(12) + 1) as u32, 1)
}

/// A business day `n` business days after (n > 0) or before (n < 0) `day`.
pub(crate) fn add_business_days(day: i64, n: i64) -> i64 {
    let step = if n >= 0 { 1 } else { -1 };
    let mut left = n.abs();
    let mut d = day;
    while left > 0 {
        d += step;
        if !is_weekend(d) {
            left -= 1;
        }
    }
    d
}

/// Appends `YYYY-MM-DD`.
pub(crate) fn push_date(out: &mut Vec<u8>, day: i64) {
    let (y, m, d) = civil_from_days(day);
    push_num(out, y, 4);
    out.push(b'-');
    push_num(out, i64::from(m), 2);
    out.push(b'-');
    push_num(out, i64::from(d), 2);
}

fn push_num(out: &mut Vec<u8>, v: i64, width: usize) {
    if v < 0 {
        out.push(b'-');
    }
    let mut digits = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        n /= 10;
        len += 1;
        if n == 0 {
            break;
        }
    }
    for _ in len..width {
        out.push(b'0');
    }
    for i in (0..len).rev() {
        out.push(digits[i]);
    }
}

/// `YYYY-MM-DD`.
pub(crate) fn date(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM`.
pub(crate) fn year_month(day: i64) -> String {
    let (y, m, _) = civil_from_days(day);
    format!("{y:04}-{m:02}")
}

fn split(ts: i64) -> (i64, i64) {
    (ts.div_euclid(DAY), ts.rem_euclid(DAY))
}

fn base(ts: i64) -> String {
    let (day, secs) = split(ts);
    let (y, m, d) = civil_from_days(day);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        secs / HOUR,
        (secs % HOUR) / MINUTE,
        secs % MINUTE
    )
}

/// RFC 3339 UTC instant, whole seconds: `2026-10-02T20:51:12Z`.
pub(crate) fn ts_z(ts: i64) -> String {
    let mut s = base(ts);
    s.push('Z');
    s
}

/// RFC 3339 UTC instant with milliseconds: `2026-10-02T21:02:33.120Z`.
pub(crate) fn ts_ms_z(ts: i64, ms: u32) -> String {
    let mut s = base(ts);
    let _ = write!(s, ".{:03}Z", ms % 1000);
    s
}

/// Zone-less instant (Partner Center fraud events): `2026-10-03T04:12:09`.
pub(crate) fn ts_plain(ts: i64) -> String {
    base(ts)
}

/// Zone-less instant with centiseconds: `2026-10-03T04:12:09.11`.
pub(crate) fn ts_plain_cs(ts: i64, cs: u32) -> String {
    let mut s = base(ts);
    let _ = write!(s, ".{:02}", cs % 100);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_and_weekday() {
        for day in -800_000..800_000i64 {
            if day % 997 != 0 {
                continue;
            }
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        let d = days_from_civil(2026, 8, 1);
        assert_eq!(date(d), "2026-08-01");
        assert_eq!(weekday(d), 5); // a Saturday
        assert_eq!(date(next_month_start(d)), "2026-09-01");
        assert_eq!(date(months_back(d, 8)), "2025-12-01");
        assert_eq!(ts_z(d * DAY + 3_661), "2026-08-01T01:01:01Z");
        let mut v = Vec::new();
        push_date(&mut v, d);
        assert_eq!(v, b"2026-08-01");
        assert_eq!(date(add_business_days(d, 1)), "2026-08-03");
        assert_eq!(
            date(add_business_days(days_from_civil(2026, 8, 3), -1)),
            "2026-07-31"
        );
    }
}
