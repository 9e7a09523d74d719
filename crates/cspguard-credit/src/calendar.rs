//! Business days: weekends (Saturday, Sunday) and each country's configured holidays are not business days.
//!
//! Microsoft's posting rule: a payment shows in Partner Center's Billing workspace only up to 5 business days after it
//! was made, and a payment made in that window is not late. So a payment is on time when it posted on or before the
//! due date, or when it was submitted on or before the due date and posted within [`POSTING_WINDOW_BUSINESS_DAYS`]
//! business days after it.

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Business days after the due date within which a payment submitted by the due date may post and still be on time.
pub const POSTING_WINDOW_BUSINESS_DAYS: u32 = 5;

/// Weekends plus holidays per country (ISO 3166 alpha-2, upper case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BusinessCalendar {
    holidays: BTreeMap<String, BTreeSet<NaiveDate>>,
    default_country: Option<String>,
}

/// How a payment stands against its invoice's due date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Timeliness {
    /// Posted on or before the due date.
    OnTime,
    /// Submitted by the due date and posted within the posting window: not late.
    PostedInWindow,
    /// Submitted, not posted yet, and the posting window is still open (or the payment was made by the due date and
    /// has not posted yet, as of a day inside the window).
    InTransit,
    /// Posted after the window, submitted after the due date, or still not posted once the window closed.
    Late,
}

impl BusinessCalendar {
    /// A calendar whose holidays apply to `default_country` when a customer's country is unknown.
    pub fn new(default_country: Option<&str>) -> BusinessCalendar {
        BusinessCalendar {
            holidays: BTreeMap::new(),
            default_country: default_country.map(|c| c.trim().to_ascii_uppercase()),
        }
    }

    /// Adds holidays of `country`.
    pub fn with_holidays(
        mut self,
        country: &str,
        days: impl IntoIterator<Item = NaiveDate>,
    ) -> BusinessCalendar {
        self.holidays
            .entry(country.trim().to_ascii_uppercase())
            .or_default()
            .extend(days);
        self
    }

    fn country<'a>(&'a self, country: Option<&'a str>) -> Option<String> {
        country
            .map(|c| c.trim().to_ascii_uppercase())
            .or_else(|| self.default_country.clone())
    }

    /// Not a Saturday, a Sunday or a holiday of `country` (else of the default country).
    pub fn is_business_day(&self, d: NaiveDate, country: Option<&str>) -> bool {
        if matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            return false;
        }
        match self.country(country) {
            Some(c) => !self.holidays.get(&c).is_some_and(|h| h.contains(&d)),
            None => true,
        }
    }

    /// The `n`-th business day after `from` (`from` itself never counts; `n = 0` gives `from`).
    pub fn add_business_days(&self, from: NaiveDate, n: u32, country: Option<&str>) -> NaiveDate {
        let mut d = from;
        let mut left = n;
        while left > 0 {
            d = d.succ_opt().unwrap_or(d);
            if self.is_business_day(d, country) {
                left -= 1;
            }
        }
        d
    }

    /// The last day a payment made by `due` may post and still be on time.
    pub fn posting_deadline(&self, due: NaiveDate, country: Option<&str>) -> NaiveDate {
        self.add_business_days(due, POSTING_WINDOW_BUSINESS_DAYS, country)
    }

    /// Whether a payment of an invoice due on `due` is on time, as known on `as_of`.
    pub fn timeliness(
        &self,
        due: NaiveDate,
        submitted: NaiveDate,
        posted: Option<NaiveDate>,
        as_of: NaiveDate,
        country: Option<&str>,
    ) -> Timeliness {
        let deadline = self.posting_deadline(due, country);
        match posted.filter(|p| *p <= as_of) {
            Some(p) if p <= due => Timeliness::OnTime,
            Some(p) if submitted <= due && p <= deadline => Timeliness::PostedInWindow,
            Some(_) => Timeliness::Late,
            None if submitted <= due && as_of <= deadline => Timeliness::InTransit,
            None => Timeliness::Late,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Due Friday 2026-10-02. Business days after it: Mon 5 (1), Tue 6 (2), Wed 7 (3), Thu 8 (4), Fri 9 (5), Mon 12 (6).
    fn check(
        cal: &BusinessCalendar,
        submitted: &str,
        posted: Option<&str>,
        as_of: &str,
    ) -> Timeliness {
        cal.timeliness(d("2026-10-02"), d(submitted), posted.map(d), d(as_of), None)
    }

    #[test]
    fn posting_on_the_fifth_business_day_is_on_time_and_the_sixth_is_late() {
        let cal = BusinessCalendar::new(None);
        assert_eq!(cal.posting_deadline(d("2026-10-02"), None), d("2026-10-09"));
        assert_eq!(
            check(&cal, "2026-10-02", Some("2026-10-09"), "2026-10-20"),
            Timeliness::PostedInWindow
        );
        assert_eq!(
            check(&cal, "2026-10-02", Some("2026-10-12"), "2026-10-20"),
            Timeliness::Late
        );
    }

    #[test]
    fn the_weekend_inside_the_window_does_not_count() {
        let cal = BusinessCalendar::new(None);
        // Saturday and Sunday 10-10/11 after the window are not business days: the 6th is Monday 10-12.
        assert_eq!(
            cal.add_business_days(d("2026-10-02"), 6, None),
            d("2026-10-12")
        );
        // Posted on the Saturday after the deadline: after the 5th business day, so late.
        assert_eq!(
            check(&cal, "2026-10-01", Some("2026-10-10"), "2026-10-20"),
            Timeliness::Late
        );
        // A weekend right after a Friday due date: posted Monday is the first business day.
        assert_eq!(
            check(&cal, "2026-10-02", Some("2026-10-05"), "2026-10-20"),
            Timeliness::PostedInWindow
        );
    }

    #[test]
    fn a_holiday_inside_the_window_extends_it() {
        let cal = BusinessCalendar::new(Some("DE")).with_holidays("DE", [d("2026-10-07")]);
        assert!(!cal.is_business_day(d("2026-10-07"), None));
        assert!(cal.is_business_day(d("2026-10-07"), Some("US")));
        assert_eq!(cal.posting_deadline(d("2026-10-02"), None), d("2026-10-12"));
        assert_eq!(
            cal.posting_deadline(d("2026-10-02"), Some("us")),
            d("2026-10-09")
        );
        assert_eq!(
            check(&cal, "2026-10-02", Some("2026-10-12"), "2026-10-20"),
            Timeliness::PostedInWindow
        );
        assert_eq!(
            check(&cal, "2026-10-02", Some("2026-10-13"), "2026-10-20"),
            Timeliness::Late
        );
    }

    #[test]
    fn unposted_payments_are_in_transit_until_the_window_closes() {
        let cal = BusinessCalendar::new(None);
        assert_eq!(
            check(&cal, "2026-10-02", None, "2026-10-09"),
            Timeliness::InTransit
        );
        assert_eq!(
            check(&cal, "2026-10-02", None, "2026-10-10"),
            Timeliness::Late
        );
        // Submitted after the due date: late whenever it posts.
        assert_eq!(
            check(&cal, "2026-10-03", None, "2026-10-05"),
            Timeliness::Late
        );
        assert_eq!(
            check(&cal, "2026-10-05", Some("2026-10-06"), "2026-10-20"),
            Timeliness::Late
        );
        // Posted by the due date: on time; a posting after as_of is not known yet.
        assert_eq!(
            check(&cal, "2026-09-30", Some("2026-10-01"), "2026-10-20"),
            Timeliness::OnTime
        );
        assert_eq!(
            check(&cal, "2026-10-01", Some("2026-10-08"), "2026-10-05"),
            Timeliness::InTransit
        );
    }
}
