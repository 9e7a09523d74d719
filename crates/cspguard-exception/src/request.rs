//! An exception request's lifecycle: `draft -> submitted (ticket number) -> approved (credited amount) | denied`.
//! Lines can be excluded or included only while it is a draft. One request per customer tenant ID, ever: a tenant
//! that has a request (any status) cannot get another ([`ExceptionRequest::may_open`]); the store enforces the same
//! with a UNIQUE constraint.

use crate::claim::Override;
use chrono::NaiveDate;
use cspguard_domain::{Instant, Money};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Draft,
    Submitted,
    Approved,
    Denied,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Draft => "draft",
            RequestStatus::Submitted => "submitted",
            RequestStatus::Approved => "approved",
            RequestStatus::Denied => "denied",
        }
    }
    pub fn parse(s: &str) -> Option<RequestStatus> {
        match s.to_ascii_lowercase().as_str() {
            "draft" => Some(RequestStatus::Draft),
            "submitted" => Some(RequestStatus::Submitted),
            "approved" => Some(RequestStatus::Approved),
            "denied" => Some(RequestStatus::Denied),
            _ => None,
        }
    }
}

/// A request. Field names are the JSON contract of `cspguard exception ... --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExceptionRequest {
    /// `EX-` and 10 hex digits derived from the customer tenant ID (one request per tenant, so one ID).
    pub id: String,
    pub customer_tenant_id: String,
    pub customer_name: Option<String>,
    pub case_id: String,
    pub status: RequestStatus,
    pub created_at: Instant,
    pub created_by: String,
    pub updated_at: Instant,
    /// The user's decisions, by line ID.
    pub overrides: BTreeMap<String, Override>,
    /// A person's first fraudulent usage date (replaces the computed one).
    #[serde(default)]
    pub first_usage: Option<FirstUsage>,
    pub ticket: Option<String>,
    pub submitted_at: Option<Instant>,
    pub submitted_by: Option<String>,
    /// What was claimed when it was submitted.
    pub claimed_total: Option<Money>,
    pub credited: Option<Money>,
    pub decided_at: Option<Instant>,
    pub decision_note: Option<String>,
}

/// A first fraudulent usage date set by a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirstUsage {
    pub date: NaiveDate,
    pub reason: String,
    pub by: String,
    pub at: Instant,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    #[error("customer tenant {tenant} already used its one exception request: {id} for case {case_id} ({status}); Microsoft grants one per customer tenant ID, ever, so no second request can be made")]
    AlreadyRequested {
        tenant: String,
        id: String,
        case_id: String,
        status: &'static str,
    },
    #[error("request {id} is {status}: {what} only a {needed} request")]
    WrongStatus {
        id: String,
        status: &'static str,
        what: &'static str,
        needed: &'static str,
    },
    #[error("a submitted request needs Microsoft's ticket number: give --ticket")]
    NeedsTicket,
    #[error("an approved request needs the credited amount: give --credited AMOUNT (in the claim's currency)")]
    NeedsAmount,
    #[error("a reason is needed (--reason): it goes into the claim and the audit log")]
    NeedsReason,
}

impl ExceptionRequest {
    /// The ID of the request for `tenant`.
    pub fn id_for(tenant: &str) -> String {
        let h = blake3::hash(format!("exception/v1/{}", tenant.to_ascii_lowercase()).as_bytes());
        format!("EX-{}", &h.to_hex()[..10])
    }

    /// Refuses a new request when the tenant already has one (`existing`), unless it is the same case's draft.
    pub fn may_open(
        tenant: &str,
        case_id: &str,
        existing: Option<&ExceptionRequest>,
    ) -> Result<(), RequestError> {
        match existing {
            Some(r) if !(r.case_id == case_id && r.status == RequestStatus::Draft) => {
                Err(RequestError::AlreadyRequested {
                    tenant: tenant.to_string(),
                    id: r.id.clone(),
                    case_id: r.case_id.clone(),
                    status: r.status.as_str(),
                })
            }
            _ => Ok(()),
        }
    }

    pub fn draft(
        tenant: &str,
        customer_name: Option<String>,
        case_id: &str,
        by: &str,
        now: Instant,
    ) -> ExceptionRequest {
        ExceptionRequest {
            id: Self::id_for(tenant),
            customer_tenant_id: tenant.to_ascii_lowercase(),
            customer_name,
            case_id: case_id.to_string(),
            status: RequestStatus::Draft,
            created_at: now,
            created_by: by.to_string(),
            updated_at: now,
            overrides: BTreeMap::new(),
            first_usage: None,
            ticket: None,
            submitted_at: None,
            submitted_by: None,
            claimed_total: None,
            credited: None,
            decided_at: None,
            decision_note: None,
        }
    }

    fn need(&self, s: RequestStatus, what: &'static str) -> Result<(), RequestError> {
        if self.status == s {
            Ok(())
        } else {
            Err(RequestError::WrongStatus {
                id: self.id.clone(),
                status: self.status.as_str(),
                what,
                needed: s.as_str(),
            })
        }
    }

    /// Records a person's decision on a line (the caller checked the line is in the window).
    pub fn set_line(
        &mut self,
        line_id: &str,
        included: bool,
        reason: &str,
        by: &str,
        now: Instant,
    ) -> Result<(), RequestError> {
        self.need(RequestStatus::Draft, "lines can be changed on")?;
        if reason.trim().is_empty() {
            return Err(RequestError::NeedsReason);
        }
        self.overrides.insert(
            line_id.to_string(),
            Override {
                included,
                reason: reason.trim().to_string(),
                by: by.to_string(),
                at: now,
            },
        );
        self.updated_at = now;
        Ok(())
    }

    /// Sets the first fraudulent usage date by hand (when the evidence missed it or dated it wrong).
    pub fn set_first_usage(
        &mut self,
        date: NaiveDate,
        reason: &str,
        by: &str,
        now: Instant,
    ) -> Result<(), RequestError> {
        self.need(
            RequestStatus::Draft,
            "the first usage date can be changed on",
        )?;
        if reason.trim().is_empty() {
            return Err(RequestError::NeedsReason);
        }
        self.first_usage = Some(FirstUsage {
            date,
            reason: reason.trim().to_string(),
            by: by.to_string(),
            at: now,
        });
        self.updated_at = now;
        Ok(())
    }

    pub fn submit(
        &mut self,
        ticket: Option<&str>,
        claimed: Option<Money>,
        by: &str,
        now: Instant,
    ) -> Result<(), RequestError> {
        self.need(RequestStatus::Draft, "submitting needs")?;
        let ticket = ticket
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(RequestError::NeedsTicket)?;
        self.status = RequestStatus::Submitted;
        self.ticket = Some(ticket.to_string());
        self.submitted_at = Some(now);
        self.submitted_by = Some(by.to_string());
        self.claimed_total = claimed;
        self.updated_at = now;
        Ok(())
    }

    pub fn approve(
        &mut self,
        credited: Option<Money>,
        note: Option<&str>,
        now: Instant,
    ) -> Result<(), RequestError> {
        self.need(RequestStatus::Submitted, "approval needs")?;
        let credited = credited.ok_or(RequestError::NeedsAmount)?;
        self.status = RequestStatus::Approved;
        self.credited = Some(credited);
        self.decided_at = Some(now);
        self.decision_note = note.map(str::to_string);
        self.updated_at = now;
        Ok(())
    }

    pub fn deny(&mut self, note: Option<&str>, now: Instant) -> Result<(), RequestError> {
        self.need(RequestStatus::Submitted, "denial needs")?;
        self.status = RequestStatus::Denied;
        self.decided_at = Some(now);
        self.decision_note = note.map(str::to_string);
        self.updated_at = now;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Instant {
        "2026-09-20T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_second_request_for_the_same_tenant_is_refused() {
        let t = "7b3b8024-8309-4f82-a108-968fea6e478c";
        let mut r = ExceptionRequest::draft(t, None, "CS-1", "ana", now());
        assert_eq!(r.id, ExceptionRequest::id_for(&t.to_uppercase()));
        assert!(ExceptionRequest::may_open(t, "CS-1", None).is_ok());
        // The same case's draft is the same request.
        assert!(ExceptionRequest::may_open(t, "CS-1", Some(&r)).is_ok());
        // Another case of the tenant: refused even while a draft.
        let e = ExceptionRequest::may_open(t, "CS-2", Some(&r)).unwrap_err();
        assert!(
            e.to_string()
                .contains("already used its one exception request"),
            "{e}"
        );
        // Once submitted (or decided), even the same case cannot open another.
        r.submit(Some("123"), None, "ana", now()).unwrap();
        assert!(matches!(
            ExceptionRequest::may_open(t, "CS-1", Some(&r)),
            Err(RequestError::AlreadyRequested {
                status: "submitted",
                ..
            })
        ));
        r.deny(Some("not a compromise"), now()).unwrap();
        assert!(ExceptionRequest::may_open(t, "CS-1", Some(&r)).is_err());
    }

    #[test]
    fn the_lifecycle_moves_forward_only_and_needs_its_facts() {
        let mut r = ExceptionRequest::draft("t", None, "CS-1", "ana", now());
        assert_eq!(
            r.approve(Money::parse("1", "USD").ok(), None, now()),
            Err(RequestError::WrongStatus {
                id: r.id.clone(),
                status: "draft",
                what: "approval needs",
                needed: "submitted"
            })
        );
        assert_eq!(
            r.submit(None, None, "ana", now()),
            Err(RequestError::NeedsTicket)
        );
        assert_eq!(
            r.set_line("abc", false, " ", "ana", now()),
            Err(RequestError::NeedsReason)
        );
        r.set_line("abc", false, "customer's own", "ana", now())
            .unwrap();
        let day = "2026-09-01".parse().unwrap();
        assert_eq!(
            r.set_first_usage(day, "", "ana", now()),
            Err(RequestError::NeedsReason)
        );
        r.set_first_usage(day, "Microsoft's alert", "ana", now())
            .unwrap();
        assert_eq!(r.first_usage.as_ref().map(|f| f.date), Some(day));
        r.submit(
            Some(" 2409180010001234 "),
            Money::parse("10", "USD").ok(),
            "ana",
            now(),
        )
        .unwrap();
        assert_eq!(r.ticket.as_deref(), Some("2409180010001234"));
        assert!(r.set_line("abc", true, "x", "ana", now()).is_err());
        assert!(r.set_first_usage(day, "x", "ana", now()).is_err());
        assert_eq!(r.approve(None, None, now()), Err(RequestError::NeedsAmount));
        r.approve(Money::parse("9.50", "USD").ok(), Some("partial"), now())
            .unwrap();
        assert_eq!(r.status, RequestStatus::Approved);
        assert!(r.deny(None, now()).is_err());
    }
}
