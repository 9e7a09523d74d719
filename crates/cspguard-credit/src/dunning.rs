//! Dunning: what to do about an overdue invoice, by how many days it is overdue.
//!
//! Each step has a stable name (`reminder-7`, `final-21`, `suspend-30`) so the caller can key its action by invoice and
//! step and never repeat it. Only the most advanced notice reached is due (a check that did not run for two weeks sends
//! the 14-day reminder, not the 1-, 7- and 14-day ones at once); the suspension step is due on its own once reached.

use serde::{Deserialize, Serialize};

/// `[credit.dunning]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DunningPolicy {
    /// Days overdue at which a reminder goes out.
    pub reminder_days: Vec<u32>,
    /// Days overdue of the final notice.
    pub final_notice_day: u32,
    /// Days overdue after which the customer's subscriptions are suspended (with approval).
    pub suspend_after_days: u32,
    /// The notification channel (`[notify.<channel>]`) reminders and the final notice go to.
    pub channel: Option<String>,
}

impl Default for DunningPolicy {
    fn default() -> Self {
        DunningPolicy {
            reminder_days: vec![1, 7, 14],
            final_notice_day: 21,
            suspend_after_days: 30,
            channel: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum DunningStep {
    Reminder { day: u32 },
    FinalNotice { day: u32 },
    Suspend { day: u32 },
}

impl DunningStep {
    /// Stable name, part of the action key.
    pub fn name(&self) -> String {
        match self {
            DunningStep::Reminder { day } => format!("reminder-{day}"),
            DunningStep::FinalNotice { day } => format!("final-{day}"),
            DunningStep::Suspend { day } => format!("suspend-{day}"),
        }
    }
    pub fn describe(&self) -> String {
        match self {
            DunningStep::Reminder { day } => format!("payment reminder ({day} days overdue)"),
            DunningStep::FinalNotice { day } => {
                format!("final notice before suspension ({day} days overdue)")
            }
            DunningStep::Suspend { day } => {
                format!("suspension for nonpayment (more than {day} days overdue)")
            }
        }
    }
}

impl DunningPolicy {
    /// The steps due for an invoice `days_overdue` days past due: the most advanced notice reached, and the suspension
    /// once more than `suspend_after_days` days overdue.
    pub fn steps(&self, days_overdue: i64) -> Vec<DunningStep> {
        let mut out = Vec::new();
        if days_overdue <= 0 {
            return out;
        }
        let reached = |d: u32| i64::from(d) <= days_overdue;
        let reminder = self
            .reminder_days
            .iter()
            .copied()
            .filter(|d| reached(*d))
            .max();
        let notice = if reached(self.final_notice_day)
            && reminder.is_none_or(|r| r <= self.final_notice_day)
        {
            Some(DunningStep::FinalNotice {
                day: self.final_notice_day,
            })
        } else {
            reminder.map(|day| DunningStep::Reminder { day })
        };
        out.extend(notice);
        if days_overdue > i64::from(self.suspend_after_days) {
            out.push(DunningStep::Suspend {
                day: self.suspend_after_days,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_by_days_overdue() {
        let p = DunningPolicy::default();
        let names = |d: i64| -> Vec<String> { p.steps(d).iter().map(|s| s.name()).collect() };
        assert!(names(0).is_empty());
        assert_eq!(names(1), ["reminder-1"]);
        assert_eq!(names(6), ["reminder-1"]);
        assert_eq!(names(7), ["reminder-7"]);
        assert_eq!(names(14), ["reminder-14"]);
        assert_eq!(names(20), ["reminder-14"]);
        assert_eq!(names(21), ["final-21"]);
        assert_eq!(names(30), ["final-21"]);
        assert_eq!(names(31), ["final-21", "suspend-30"]);
    }
}
