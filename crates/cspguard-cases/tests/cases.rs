//! Case lifecycle, routing, SLA clocks, approvals and playbook planning.

use chrono::{Duration, TimeZone, Utc};
use cspguard_cases::*;
use cspguard_detect::alert::{Evidence, Explanation};
use cspguard_detect::{Alert, Origin, Severity};
use cspguard_domain::{Instant, Money};
use rust_decimal::Decimal;

const T: &str = "6f1b2c3d-0000-4000-8000-000000000001";

fn t0() -> Instant {
    Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap()
}

fn alert(id: &str, kind: &str, score: u32, money: i64, origin: Origin) -> Alert {
    let mut user = serde_json::Map::new();
    user.insert("user".into(), serde_json::json!("admin@contoso.example"));
    let mut fe = serde_json::Map::new();
    fe.insert(
        "fraud_event_id".into(),
        serde_json::json!("11111111-2222-3333-4444-555555555555_vm1"),
    );
    Alert {
        id: id.into(),
        customer_tenant_id: T.into(),
        customer_name: Some("Contoso".into()),
        azure_subscription_ids: vec!["11111111-2222-3333-4444-555555555555".into()],
        resource_ids: vec![],
        kind: kind.into(),
        severity: Severity::from_score(score),
        score,
        money_at_risk: Money::new(Decimal::from(money), cspguard_domain::Currency::USD),
        origin,
        first_evidence_at: t0(),
        fired_at: t0(),
        detected_at: t0(),
        updated_at: t0(),
        explanation: Explanation {
            summary: "s".into(),
            rule: "r".into(),
            money: "m".into(),
            signals: vec![
                Evidence {
                    detector: "identity.new_country".into(),
                    at: t0(),
                    points: 40,
                    summary: "x".into(),
                    features: user,
                },
                Evidence {
                    detector: "microsoft.fraud_event".into(),
                    at: t0(),
                    points: 90,
                    summary: "y".into(),
                    features: fe,
                },
            ],
        },
        related_alert_ids: vec![],
    }
}

#[test]
fn alerts_of_one_customer_join_its_open_case_and_a_resolved_case_is_not_reopened() {
    let a1 = alert("al-1", "account_compromise", 80, 9000, Origin::Cspguard);
    let mut case = Case::open(&a1, t0(), SlaPolicy::default());
    assert_eq!(case.id, CaseId::for_first_alert("al-1"));
    let a2 = alert("al-2", "microsoft_fraud_alert", 90, 100, Origin::Microsoft);
    let cases = vec![case.clone()];
    assert!(
        matches!(route(&a2, &cases, Severity::Medium), Route::Existing(ref id) if *id == case.id)
    );
    assert!(case.join(&a2, t0()));
    assert!(case.microsoft_alerted);
    assert_eq!(case.kind, "microsoft_fraud_alert");
    assert_eq!(
        case.money_at_risk.amount,
        Decimal::from(9000),
        "money is the largest, not the sum"
    );
    assert!(
        !case.join(&a2, t0()),
        "joining the same alert again changes nothing"
    );
    case.resolve(Verdict::Fraud, t0()).unwrap();
    let a3 = alert("al-3", "account_compromise", 75, 10, Origin::Cspguard);
    assert!(matches!(
        route(&a3, &[case.clone()], Severity::Medium),
        Route::Open
    ));
    assert!(matches!(
        route(&a2, &[case.clone()], Severity::Medium),
        Route::Existing(_)
    ));
    let low = alert("al-4", "spend_anomaly", 30, 10, Origin::Cspguard);
    assert!(matches!(
        route(&low, &[case], Severity::Medium),
        Route::AlertOnly
    ));
}

#[test]
fn lifecycle_moves_forward_only_and_resolving_needs_a_verdict() {
    let mut c = Case::open(
        &alert("al-1", "account_compromise", 80, 1, Origin::Cspguard),
        t0(),
        SlaPolicy::default(),
    );
    c.advance(CaseStatus::Mitigating, t0()).unwrap();
    assert!(matches!(
        c.advance(CaseStatus::Investigating, t0()),
        Err(CaseError::Backwards { .. })
    ));
    assert_eq!(
        c.advance(CaseStatus::Resolved, t0()),
        Err(CaseError::NeedsVerdict)
    );
    c.resolve(Verdict::Legitimate, t0()).unwrap();
    assert!(matches!(c.assign("bob", t0()), Err(CaseError::Resolved(_))));
    assert_eq!(Verdict::Legitimate.partner_center_reason(), "Ignore");
}

#[test]
fn sla_clocks_breach_when_nobody_responds_in_time() {
    let mut c = Case::open(
        &alert("al-1", "resource_abuse", 80, 1, Origin::Cspguard),
        t0(),
        SlaPolicy::default(),
    );
    let sla = c.sla(t0() + Duration::minutes(30));
    assert!(!sla.respond.breached);
    assert_eq!(sla.respond.minutes_left, Some(30));
    let sla = c.sla(t0() + Duration::minutes(61));
    assert!(sla.respond.breached && !sla.mitigate.breached);
    c.note("alice", "looking", t0() + Duration::minutes(90));
    let sla = c.sla(t0() + Duration::hours(2));
    assert_eq!(sla.respond.met_at, Some(t0() + Duration::minutes(90)));
    assert!(sla.respond.breached, "a late response stays a breach");
    c.mitigated(t0() + Duration::hours(3));
    assert!(!c.sla(t0() + Duration::hours(30)).mitigate.breached);
    assert_eq!(c.status, CaseStatus::Mitigating);
}

#[test]
fn checklist_records_who_ticked_and_rejects_unknown_steps() {
    let mut c = Case::open(
        &alert("al-1", "account_compromise", 80, 1, Origin::Cspguard),
        t0(),
        SlaPolicy::default(),
    );
    c.tick("reset_credentials", "alice", t0()).unwrap();
    let item = c
        .checklist
        .iter()
        .find(|i| i.id == "reset_credentials")
        .unwrap();
    assert_eq!(item.done_by.as_deref(), Some("alice"));
    assert!(matches!(
        c.tick("nope", "alice", t0()),
        Err(CaseError::UnknownStep { .. })
    ));
    let pay = Case::open(
        &alert("al-2", "nonpayment", 80, 1, Origin::Cspguard),
        t0(),
        SlaPolicy::default(),
    );
    assert!(pay.checklist.iter().any(|i| i.id == "dunning"));
}

fn playbook(actions: &str) -> Playbooks {
    let spec: PlaybookSpec = toml::from_str(&format!(
        "name = \"compromise\"\nwhen = 'case.kind == \"account_compromise\" && case.score >= 70'\nactions = {actions}"
    ))
    .unwrap();
    Playbooks::compile(&[spec], &["soc".to_string()], ApprovalPolicy::default()).unwrap()
}

#[test]
fn playbook_plans_keyed_actions_and_big_suspensions_need_two_different_approvers() {
    let pb = playbook(
        r#"[{ type = "notify", channel = "soc" }, { type = "suspend_subscription" }, { type = "revoke_sessions" }, { type = "fraud_status", status = "Investigating" }]"#,
    );
    let a = alert("al-1", "account_compromise", 80, 9000, Origin::Cspguard);
    let case = Case::open(&a, t0(), SlaPolicy::default());
    let mut facts = CaseFacts::from_alerts([&a]);
    facts.billing_subscription_ids = vec!["sub-a".into(), "sub-b".into()];
    let (plan, errors) = pb.plan(&case, &a, &facts);
    assert!(errors.is_empty());
    let kinds: Vec<&str> = plan.iter().map(|p| p.kind.name()).collect();
    assert_eq!(
        kinds,
        [
            "notify",
            "suspend_subscription",
            "suspend_subscription",
            "revoke_sessions",
            "fraud_status"
        ]
    );
    let suspend = &plan[1];
    assert_eq!(
        suspend.approvals_required, 2,
        "9000 at risk is above the 5000 threshold"
    );
    assert_eq!(plan[0].approvals_required, 0);
    assert_eq!(plan[4].approvals_required, 0, "Investigating is automatic");
    let (again, _) = pb.plan(&case, &a, &facts);
    assert_eq!(plan, again, "planning twice gives the same keys");

    let mut rec = ActionRecord::new(suspend.clone(), t0());
    assert_eq!(rec.state, ActionState::AwaitingApproval);
    rec.approve("alice", t0()).unwrap();
    assert_eq!(rec.state, ActionState::AwaitingApproval);
    assert!(matches!(
        rec.approve("alice", t0()),
        Err(ActionError::SameApprover { .. })
    ));
    rec.approve("bob", t0()).unwrap();
    assert_eq!(rec.state, ActionState::Ready);
    assert!(rec.due(t0()));

    let small = alert("al-9", "account_compromise", 80, 100, Origin::Cspguard);
    let case = Case::open(&small, t0(), SlaPolicy::default());
    let (plan, _) = pb.plan(&case, &small, &facts);
    assert_eq!(plan[1].approvals_required, 1);

    let other = alert("al-5", "nonpayment", 80, 100, Origin::Cspguard);
    let case = Case::open(&other, t0(), SlaPolicy::default());
    assert!(pb.plan(&case, &other, &facts).0.is_empty());
}

#[test]
fn playbooks_reject_unknown_channels_and_bad_statuses() {
    let bad: PlaybookSpec =
        toml::from_str("name='x'\nwhen='true'\nactions=[{type='notify', channel='nope'}]").unwrap();
    assert!(matches!(
        Playbooks::compile(&[bad], &[], ApprovalPolicy::default()),
        Err(PlaybookError::UnknownChannel { .. })
    ));
    let bad: PlaybookSpec =
        toml::from_str("name='x'\nwhen='true'\nactions=[{type='fraud_status', status='Resolved'}]")
            .unwrap();
    assert!(matches!(
        Playbooks::compile(&[bad], &[], ApprovalPolicy::default()),
        Err(PlaybookError::BadStatus { .. })
    ));
    let bad: PlaybookSpec = toml::from_str("name='x'\nwhen='case.kind =='\nactions=[]").unwrap();
    assert!(matches!(
        Playbooks::compile(&[bad], &[], ApprovalPolicy::default()),
        Err(PlaybookError::Parse { .. })
    ));
}

#[test]
fn a_verdict_resolves_microsofts_events_with_partner_centers_reason() {
    let pb = playbook("[]");
    let a = alert("al-1", "account_compromise", 80, 1, Origin::Cspguard);
    let case = Case::open(&a, t0(), SlaPolicy::default());
    let facts = CaseFacts::from_alerts([&a]);
    let plan = pb.on_verdict(&case, Verdict::Fraud, &facts);
    assert_eq!(plan.len(), 1);
    match &plan[0].kind {
        ActionKind::FraudStatus {
            azure_subscription_id,
            event_ids,
            status,
            reason,
        } => {
            assert_eq!(
                azure_subscription_id,
                "11111111-2222-3333-4444-555555555555"
            );
            assert_eq!(
                event_ids,
                &["11111111-2222-3333-4444-555555555555_vm1".to_string()]
            );
            assert_eq!(status, "Resolved");
            assert_eq!(reason.as_deref(), Some("Fraud"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(plan[0].approvals_required, 0);
}
