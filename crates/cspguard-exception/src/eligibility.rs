//! Microsoft's eligibility rules for the fraud-credit exception request, each as pass/fail with its reason.
//!
//! - `new_commerce_azure_plan`: the claimed charges are Azure plan (new commerce) consumption — see [`classify_plan`];
//! - `on_or_after_2023_04_01`: the first fraudulent usage is on or after 2023-04-01;
//! - `verified_compromise`: the case is resolved with the verdict Fraud;
//! - `first_instance_for_tenant`: no earlier compromise of the tenant was verified (Microsoft covers a first-time
//!   instance) and no other request was ever made for the customer tenant ID (one per tenant, ever);
//! - `within_60_days`: filed within 60 calendar days of the first fraudulent usage date. Counting that date as day 1
//!   (as the 30-day claim window does), day 60 is the deadline: `first + 59 days`. This is the stricter of the two
//!   readings ("within 60 days of" could also allow `first + 60`): filing a day early costs nothing, a day late
//!   costs the credit.

use crate::claim::ClaimLine;
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

/// The first day Microsoft's program covers.
pub const PROGRAM_START: NaiveDate = match NaiveDate::from_ymd_opt(2023, 4, 1) {
    Some(d) => d,
    None => panic!("2023-04-01 is a date"),
};
/// Calendar days to file, counting the first fraudulent usage date as day 1.
pub const FILING_DAYS: i64 = 60;
/// Views warn when this many days or fewer are left.
pub const WARN_DAYS: i64 = 14;

/// The filing deadline and how far away it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    pub first_fraudulent_usage: NaiveDate,
    /// The last day to file (day 60).
    pub deadline: NaiveDate,
    /// Days from `today` to the deadline: 0 on the deadline, negative once passed.
    pub days_left: i64,
    pub passed: bool,
    /// 14 days or fewer left, not passed.
    pub warn: bool,
}

pub fn deadline(first: NaiveDate, today: NaiveDate) -> Deadline {
    let deadline = first + Duration::days(FILING_DAYS - 1);
    let days_left = (deadline - today).num_days();
    Deadline {
        first_fraudulent_usage: first,
        deadline,
        days_left,
        passed: days_left < 0,
        warn: (0..=WARN_DAYS).contains(&days_left),
    }
}

/// What kind of subscription a usage line's product says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanKind {
    /// New commerce Azure plan consumption.
    AzurePlan,
    /// A legacy Azure offer (`MS-AZR-...`, e.g. MS-AZR-0145P): not covered.
    Legacy,
    /// Anything else (marketplace, reservations, seat-based products): not Azure plan consumption.
    Other,
}

/// Decides from a usage line's `ProductId` and `SkuName`: new commerce daily rated usage of an Azure plan carries the
/// Azure plan's product ID `DZH318Z0BQPS` and SKU name "Azure plan" (Partner Center's reconciliation files); legacy
/// Azure offers carry `MS-AZR-` offer IDs. Either of the Azure plan's marks is enough.
pub fn classify_plan(product_id: &str, sku_name: &str) -> PlanKind {
    let p = product_id.trim();
    if p.eq_ignore_ascii_case("DZH318Z0BQPS") || sku_name.trim().eq_ignore_ascii_case("Azure plan")
    {
        PlanKind::AzurePlan
    } else if p.to_ascii_uppercase().starts_with("MS-AZR-") {
        PlanKind::Legacy
    } else {
        PlanKind::Other
    }
}

/// Another request for the same customer tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherRequest {
    pub id: String,
    pub case_id: String,
    pub status: String,
}

/// What the rules look at.
#[derive(Debug, Clone, PartialEq)]
pub struct EligibilityFacts<'a> {
    pub case_id: &'a str,
    /// `resolved`, `open`, ...
    pub case_status: &'a str,
    /// `Fraud`, `Legitimate`, `Ignore`.
    pub verdict: Option<&'a str>,
    pub first_fraudulent_usage: Option<NaiveDate>,
    /// The lines of the claim window (the included ones are checked).
    pub lines: &'a [ClaimLine],
    /// The customer tenant's request, if one exists (it may be this case's own draft).
    pub tenant_request: Option<&'a OtherRequest>,
    /// The tenant's other cases resolved as Fraud whose first evidence came before this case's: (case ID, date).
    pub earlier_compromises: &'a [(String, NaiveDate)],
    /// The day the request would be filed.
    pub today: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleResult {
    pub rule: String,
    pub pass: bool,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Eligibility {
    pub eligible: bool,
    pub rules: Vec<RuleResult>,
    pub deadline: Option<Deadline>,
}

fn rule(rule: &str, pass: bool, reason: String) -> RuleResult {
    RuleResult {
        rule: rule.to_string(),
        pass,
        reason,
    }
}

pub fn check(f: &EligibilityFacts) -> Eligibility {
    let mut rules = Vec::new();
    // 1. New commerce Azure plan.
    let included: Vec<&ClaimLine> = f.lines.iter().filter(|l| l.included).collect();
    let (mut plan, mut legacy, mut other) = (0, 0, Vec::new());
    for l in &included {
        match classify_plan(&l.line.product_id, &l.line.sku_name) {
            PlanKind::AzurePlan => plan += 1,
            PlanKind::Legacy => legacy += 1,
            PlanKind::Other => other.push(l.line.id.clone()),
        }
    }
    rules.push(if included.is_empty() {
        rule(
            "new_commerce_azure_plan",
            false,
            "no charge is claimed, so there is no Azure plan usage to check".into(),
        )
    } else if legacy > 0 || !other.is_empty() {
        rule(
            "new_commerce_azure_plan",
            false,
            format!(
                "{legacy} claimed line(s) are a legacy Azure offer (MS-AZR-...) and {} are not Azure plan consumption \
                 ({}): only new commerce Azure plan charges are covered; exclude them",
                other.len(),
                other.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
            ),
        )
    } else {
        rule(
            "new_commerce_azure_plan",
            true,
            format!("all {plan} claimed lines are Azure plan (new commerce) consumption: ProductId DZH318Z0BQPS / SKU \"Azure plan\""),
        )
    });
    // 2. On or after 2023-04-01.
    rules.push(match f.first_fraudulent_usage {
        None => rule(
            "on_or_after_2023_04_01",
            false,
            "no first fraudulent usage date: no usage is linked to the incident".into(),
        ),
        Some(d) if d >= PROGRAM_START => rule(
            "on_or_after_2023_04_01",
            true,
            format!("the first fraudulent usage ({d}) is on or after {PROGRAM_START}"),
        ),
        Some(d) => rule(
            "on_or_after_2023_04_01",
            false,
            format!("the first fraudulent usage ({d}) is before {PROGRAM_START}, when the program starts"),
        ),
    });
    // 3. Verified compromise.
    let fraud = f.case_status == "resolved" && f.verdict == Some("Fraud");
    rules.push(rule(
        "verified_compromise",
        fraud,
        if fraud {
            format!("case {} is resolved with the verdict Fraud", f.case_id)
        } else {
            format!(
                "case {} is {}{}: only a compromise verified as fraud qualifies; resolve it with \
                 `cspguard cases resolve {} --verdict fraud` once verified",
                f.case_id,
                f.case_status,
                f.verdict
                    .map(|v| format!(" with the verdict {v}"))
                    .unwrap_or_default(),
                f.case_id
            )
        },
    ));
    // 4. First instance for the tenant.
    rules.push(match f.tenant_request {
        Some(r) if r.case_id != f.case_id => rule(
            "first_instance_for_tenant",
            false,
            format!(
                "this customer tenant already used its one request: {} for case {} (status {}); Microsoft grants one \
                 per customer tenant ID, ever",
                r.id, r.case_id, r.status
            ),
        ),
        _ if !f.earlier_compromises.is_empty() => rule(
            "first_instance_for_tenant",
            false,
            format!(
                "an earlier compromise of this tenant was verified ({}): Microsoft covers a first-time instance only",
                f.earlier_compromises
                    .iter()
                    .map(|(c, d)| format!("case {c}, first evidence {d}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ),
        None => rule(
            "first_instance_for_tenant",
            true,
            "no earlier verified compromise and no request was ever made for this customer tenant".into(),
        ),
        Some(r) => rule(
            "first_instance_for_tenant",
            true,
            format!("{} (status {}) is this case's own request, the tenant's only one", r.id, r.status),
        ),
    });
    // 5. Within 60 days.
    let dl = f.first_fraudulent_usage.map(|d| deadline(d, f.today));
    rules.push(match dl {
        None => rule(
            "within_60_days",
            false,
            "no first fraudulent usage date, so no deadline".into(),
        ),
        Some(d) if !d.passed => rule(
            "within_60_days",
            true,
            format!(
                "file by {} (day 60 from {}): {} day(s) left{}",
                d.deadline,
                d.first_fraudulent_usage,
                d.days_left,
                if d.warn { " — file soon" } else { "" }
            ),
        ),
        Some(d) => rule(
            "within_60_days",
            false,
            format!(
                "the deadline was {} (day 60 from {}), {} day(s) ago",
                d.deadline, d.first_fraudulent_usage, -d.days_left
            ),
        ),
    });
    Eligibility {
        eligible: rules.iter().all(|r| r.pass),
        rules,
        deadline: dl,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claim::ChargeLine;
    use cspguard_domain::Money;
    use rust_decimal::Decimal;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn claim_line(product: &str, sku: &str) -> ClaimLine {
        ClaimLine {
            line: ChargeLine {
                id: "0123456789abcdef".into(),
                usage_date: d("2026-09-06"),
                azure_subscription_id: "s".into(),
                billing_subscription_id: "p".into(),
                resource_id: None,
                meter_id: "m".into(),
                meter_category: "Virtual Machines".into(),
                meter_name: "NC24".into(),
                region: "uksouth".into(),
                product_id: product.into(),
                sku_name: sku.into(),
                charge_type: "new".into(),
                quantity: Decimal::ONE,
                cost: Money::parse("10", "USD").unwrap(),
            },
            day: 1,
            included: true,
            reason: "r".into(),
            linked: true,
            overridden_by: None,
        }
    }

    struct Check {
        first: Option<&'static str>,
        today: &'static str,
        status: &'static str,
        verdict: Option<&'static str>,
        request: Option<OtherRequest>,
        earlier: Vec<(String, NaiveDate)>,
        lines: Vec<ClaimLine>,
    }

    impl Default for Check {
        fn default() -> Self {
            Check {
                first: Some("2026-09-06"),
                today: "2026-09-20",
                status: "resolved",
                verdict: Some("Fraud"),
                request: None,
                earlier: vec![],
                lines: vec![claim_line("DZH318Z0BQPS", "Azure plan")],
            }
        }
    }

    impl Check {
        fn run(&self) -> Eligibility {
            check(&EligibilityFacts {
                case_id: "CS-1",
                case_status: self.status,
                verdict: self.verdict,
                first_fraudulent_usage: self.first.map(d),
                lines: &self.lines,
                tenant_request: self.request.as_ref(),
                earlier_compromises: &self.earlier,
                today: d(self.today),
            })
        }
        fn rule(&self, id: &str) -> RuleResult {
            self.run().rules.into_iter().find(|r| r.rule == id).unwrap()
        }
    }

    #[test]
    fn a_verified_recent_first_compromise_of_an_azure_plan_is_eligible() {
        let e = Check::default().run();
        assert!(e.eligible, "{e:?}");
        assert_eq!(e.rules.len(), 5);
        assert_eq!(e.deadline.unwrap().deadline, d("2026-11-04"));
    }

    #[test]
    fn the_program_starts_on_2023_04_01() {
        let c = Check {
            first: Some("2023-03-31"),
            today: "2023-04-10",
            ..Default::default()
        };
        let r = c.rule("on_or_after_2023_04_01");
        assert!(!r.pass && r.reason.contains("before 2023-04-01"), "{r:?}");
        let c = Check {
            first: Some("2023-04-01"),
            today: "2023-04-10",
            ..Default::default()
        };
        assert!(c.rule("on_or_after_2023_04_01").pass);
        assert!(c.run().eligible);
    }

    #[test]
    fn day_60_is_in_time_and_day_61_is_late() {
        // 2026-09-06 is day 1; day 60 is 2026-11-04, day 61 is 2026-11-05.
        let on_60 = Check {
            today: "2026-11-04",
            ..Default::default()
        };
        let r = on_60.rule("within_60_days");
        assert!(r.pass && r.reason.contains("0 day(s) left"), "{r:?}");
        let on_61 = Check {
            today: "2026-11-05",
            ..Default::default()
        };
        let r = on_61.rule("within_60_days");
        assert!(!r.pass && r.reason.contains("1 day(s) ago"), "{r:?}");
        assert!(!on_61.run().eligible);
    }

    #[test]
    fn the_deadline_warns_at_14_days_left() {
        let f = d("2026-09-06");
        assert!(!deadline(f, d("2026-10-20")).warn); // 15 left
        assert!(deadline(f, d("2026-10-21")).warn); // 14 left
        assert!(deadline(f, d("2026-11-04")).warn); // 0 left
        let late = deadline(f, d("2026-11-05"));
        assert!(late.passed && !late.warn && late.days_left == -1);
    }

    #[test]
    fn a_case_not_resolved_as_fraud_fails() {
        for (status, verdict) in [
            ("resolved", Some("Legitimate")),
            ("resolved", Some("Ignore")),
            ("mitigating", None),
        ] {
            let c = Check {
                status,
                verdict,
                ..Default::default()
            };
            let r = c.rule("verified_compromise");
            assert!(
                !r.pass && r.reason.contains("cases resolve CS-1 --verdict fraud"),
                "{r:?}"
            );
            assert!(!c.run().eligible);
        }
    }

    #[test]
    fn a_second_request_for_the_tenant_fails_and_the_cases_own_passes() {
        let other = OtherRequest {
            id: "EX-1".into(),
            case_id: "CS-0".into(),
            status: "denied".into(),
        };
        let c = Check {
            request: Some(other),
            ..Default::default()
        };
        let r = c.rule("first_instance_for_tenant");
        assert!(
            !r.pass && r.reason.contains("already used its one request: EX-1"),
            "{r:?}"
        );
        let own = OtherRequest {
            id: "EX-1".into(),
            case_id: "CS-1".into(),
            status: "draft".into(),
        };
        assert!(
            Check {
                request: Some(own),
                ..Default::default()
            }
            .rule("first_instance_for_tenant")
            .pass
        );
    }

    #[test]
    fn an_earlier_verified_compromise_of_the_tenant_fails_the_first_instance_rule() {
        let c = Check {
            earlier: vec![("CS-0".into(), d("2025-02-01"))],
            ..Default::default()
        };
        let r = c.rule("first_instance_for_tenant");
        assert!(
            !r.pass && r.reason.contains("case CS-0, first evidence 2025-02-01"),
            "{r:?}"
        );
        assert!(!c.run().eligible);
    }

    #[test]
    fn only_azure_plan_lines_pass_the_plan_rule() {
        assert_eq!(classify_plan("DZH318Z0BQPS", "x"), PlanKind::AzurePlan);
        assert_eq!(classify_plan("", "azure plan"), PlanKind::AzurePlan);
        assert_eq!(classify_plan("MS-AZR-0145P", ""), PlanKind::Legacy);
        assert_eq!(
            classify_plan("DZH318Z0BPS6", "Reserved VM"),
            PlanKind::Other
        );
        let c = Check {
            lines: vec![claim_line("MS-AZR-0145P", "")],
            ..Default::default()
        };
        assert!(!c.rule("new_commerce_azure_plan").pass);
        let c = Check {
            lines: vec![],
            ..Default::default()
        };
        assert!(!c.rule("new_commerce_azure_plan").pass);
    }

    #[test]
    fn no_first_usage_date_fails_the_date_rules() {
        let c = Check {
            first: None,
            ..Default::default()
        };
        let e = c.run();
        assert!(!e.eligible && e.deadline.is_none());
        assert!(!c.rule("on_or_after_2023_04_01").pass);
        assert!(!c.rule("within_60_days").pass);
    }
}
