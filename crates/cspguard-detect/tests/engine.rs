//! The engine end to end on hand-built events: what a user relies on an alert (or its absence) to mean.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use cspguard_detect::{Alert, DetectConfig, Engine, Origin};
use cspguard_domain::*;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

const TENANT: &str = "11111111-2222-3333-4444-555555555555";

fn tenant() -> TenantId {
    TenantId::parse(TENANT).unwrap()
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn env(at: DateTime<Utc>, event: Event) -> Envelope {
    let key = IdempotencyKey::derive(event.kind(), &[format!("{event:?}").as_bytes()]);
    Envelope {
        key,
        event_time: at,
        source: SourceRef {
            origin: "test".into(),
            line: None,
        },
        event,
    }
}

fn sign_in(
    at: DateTime<Utc>,
    user: &str,
    country: &str,
    ip: &str,
    error: i64,
    risk: &str,
) -> Envelope {
    env(
        at,
        Event::SignIn(SignIn {
            id: format!("{user}-{at}"),
            customer: tenant(),
            at,
            user_principal_name: user.into(),
            user_id: None,
            app_display_name: None,
            ip_address: Some(ip.into()),
            client_app_used: Some("Browser".into()),
            is_interactive: Some(true),
            error_code: error,
            failure_reason: None,
            conditional_access_status: None,
            risk_level_aggregated: Some(risk.into()),
            risk_level_during_sign_in: Some(risk.into()),
            risk_state: None,
            risk_event_types: vec![],
            location: Some(GeoLocation {
                city: None,
                state: None,
                country: Some(country.into()),
                latitude: None,
                longitude: None,
            }),
            device_os: None,
            device_browser: None,
        }),
    )
}

fn deploy(at: DateTime<Utc>, caller: &str, region: &str, size: &str, count: i64) -> Envelope {
    env(
        at,
        Event::ControlPlane(ControlPlaneOp {
            id: format!("op-{at}-{region}"),
            customer: Some(tenant()),
            azure_subscription: Some(
                AzureSubscriptionId::parse("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee").unwrap(),
            ),
            at,
            operation: "microsoft.compute/virtualmachinescalesets/write".into(),
            resource: None,
            status: "succeeded".into(),
            category: None,
            caller: Some(caller.into()),
            caller_ip: Some("185.220.1.1".into()),
            region: Some(region.into()),
            sku: Some(size.into()),
            capacity: Some(count),
        }),
    )
}

fn run(events: &[Envelope]) -> (Engine, BTreeMap<String, Alert>) {
    let mut e = Engine::new(DetectConfig::default());
    let mut changed = Vec::new();
    for ev in events {
        e.process(ev, t("2030-01-01T00:00:00Z"), &mut changed);
    }
    let mut latest = BTreeMap::new();
    for a in changed {
        latest.insert(a.id.clone(), a);
    }
    (e, latest)
}

/// Two weeks of ordinary sign-ins from Germany by an admin: the history a compromise stands out against.
fn history() -> Vec<Envelope> {
    let start = t("2026-09-01T08:00:00Z");
    (0..14)
        .map(|d| {
            sign_in(
                start + Duration::days(d),
                "admin@contoso.com",
                "DE",
                "84.150.1.1",
                0,
                "none",
            )
        })
        .collect()
}

#[test]
fn a_brute_forced_sign_in_followed_by_gpu_deployments_is_one_compromise_alert_within_minutes() {
    let mut ev = history();
    let first_failure = t("2026-09-20T08:00:00Z");
    for i in 0..8 {
        ev.push(sign_in(
            first_failure + Duration::minutes(3 * i),
            "admin@contoso.com",
            "RO",
            "185.220.1.1",
            50126,
            "medium",
        ));
    }
    let success = t("2026-09-20T08:30:00Z");
    ev.push(sign_in(
        success,
        "admin@contoso.com",
        "RO",
        "185.220.1.1",
        0,
        "high",
    ));
    for (i, region) in ["japanwest", "brazilsouth", "australiaeast"]
        .iter()
        .enumerate()
    {
        ev.push(deploy(
            success + Duration::minutes(40 + 5 * i as i64),
            "admin@contoso.com",
            region,
            "Standard_NC24ads_A100_v4",
            5,
        ));
    }
    let (_, alerts) = run(&ev);
    let own: Vec<&Alert> = alerts
        .values()
        .filter(|a| a.origin == Origin::Cspguard)
        .collect();
    assert_eq!(own.len(), 1, "one incident, one alert: {own:#?}");
    let a = own[0];
    assert_eq!(a.kind, "account_compromise");
    assert_eq!(
        a.fired_at, success,
        "raised by the successful sign-in after the burst"
    );
    assert_eq!(a.first_evidence_at, first_failure);
    assert_eq!(a.severity.as_str(), "critical", "score {}", a.score);
    assert_eq!(a.customer_tenant_id, TENANT);
    assert!(
        a.money_at_risk.amount > Decimal::ZERO,
        "GPU deployments project burn"
    );
    let detectors: Vec<&str> = a
        .explanation
        .signals
        .iter()
        .map(|s| s.detector.as_str())
        .collect();
    assert!(
        detectors.contains(&"identity.failed_burst_then_success"),
        "{detectors:?}"
    );
    assert!(
        detectors.contains(&"control_plane.expensive_size"),
        "{detectors:?}"
    );
}

#[test]
fn a_traveller_signing_in_from_abroad_with_no_failures_raises_no_alert() {
    let mut ev = history();
    for d in 0..5 {
        ev.push(sign_in(
            t("2026-09-20T09:00:00Z") + Duration::days(d),
            "admin@contoso.com",
            "CH",
            "193.5.1.1",
            0,
            "none",
        ));
    }
    let (engine, alerts) = run(&ev);
    assert!(alerts.is_empty(), "{alerts:#?}");
    // The new country still counts towards the customer's risk.
    assert!(engine.customer_risk(&tenant()).unwrap().score > 0);
}

fn invoice(due: NaiveDate) -> Event {
    Event::Invoice(Invoice {
        id: InvoiceId::parse("INV-1").unwrap(),
        customer: tenant(),
        issued_on: due - Duration::days(30),
        due_on: due,
        period_start: due - Duration::days(61),
        period_end: due - Duration::days(31),
        amount: Money::parse("5000.00", "USD").unwrap(),
    })
}

fn payment(submitted: NaiveDate, posted: NaiveDate) -> Event {
    Event::Payment(Payment {
        id: PaymentId::parse("pay-1").unwrap(),
        customer: tenant(),
        invoice: Some(InvoiceId::parse("INV-1").unwrap()),
        amount: Money::parse("5000.00", "USD").unwrap(),
        submitted_on: submitted,
        posted_on: Some(posted),
        status: PaymentStatus::Succeeded,
        instrument: None,
        failure_reason: None,
    })
}

/// The points `payment.overdue` contributed to the customer's risk, if it fired.
fn overdue(engine: &Engine) -> Option<u32> {
    engine
        .customer_risk(&tenant())
        .unwrap()
        .drivers
        .get("payment.overdue")
        .copied()
}

/// A later billing record moves the billing feed's time forward (and fires due wake-ups).
fn tick(at: DateTime<Utc>) -> Envelope {
    env(
        at,
        Event::InstrumentChange(InstrumentChange {
            customer: TenantId::parse("99999999-2222-3333-4444-555555555555").unwrap(),
            instrument: InstrumentId::parse(&format!("pm-{at}")).unwrap(),
            kind: InstrumentKind::BankAccount,
            action: InstrumentAction::Added,
            at,
            country: None,
            fingerprint: None,
        }),
    )
}

#[test]
fn a_payment_submitted_before_the_due_date_is_not_late_even_if_it_posts_after() {
    let due = NaiveDate::from_ymd_opt(2026, 9, 30).unwrap();
    let ev = vec![
        env(t("2026-09-01T00:00:00Z"), invoice(due)),
        env(
            t("2026-10-06T00:00:00Z"),
            payment(due - Duration::days(1), due + Duration::days(6)),
        ),
        tick(t("2026-11-30T00:00:00Z")),
    ];
    let (engine, _) = run(&ev);
    assert_eq!(overdue(&engine), None);
}

#[test]
fn an_unpaid_invoice_becomes_overdue_when_event_time_passes_its_grace_period() {
    let due = NaiveDate::from_ymd_opt(2026, 9, 30).unwrap();
    let ev = vec![
        env(t("2026-09-01T00:00:00Z"), invoice(due)),
        tick(t("2026-10-08T00:00:00Z")),
    ];
    let (engine, _) = run(&ev);
    assert_eq!(overdue(&engine), None);
    let mut ev = ev;
    ev.push(tick(t("2026-10-11T00:00:00Z")));
    let (engine, _) = run(&ev);
    assert_eq!(overdue(&engine), Some(30));
}

#[test]
fn time_in_other_sources_does_not_make_an_invoice_overdue() {
    // Usage and sign-ins run a month past the billing feed: the feed may simply not have the payment yet.
    let due = NaiveDate::from_ymd_opt(2026, 9, 30).unwrap();
    let ev = vec![
        env(t("2026-09-01T00:00:00Z"), invoice(due)),
        sign_in(
            t("2026-11-15T00:00:00Z"),
            "admin@contoso.com",
            "DE",
            "84.150.1.1",
            0,
            "none",
        ),
    ];
    let (engine, _) = run(&ev);
    assert_eq!(overdue(&engine), None);
}

#[test]
fn many_cards_added_within_an_hour_is_card_testing() {
    let start = t("2026-09-15T15:00:00Z");
    let ev: Vec<Envelope> = (0..8)
        .map(|i| {
            let at = start + Duration::minutes(4 * i);
            env(
                at,
                Event::InstrumentChange(InstrumentChange {
                    customer: tenant(),
                    instrument: InstrumentId::parse(&format!("pm_{i}")).unwrap(),
                    kind: InstrumentKind::Card,
                    action: InstrumentAction::Added,
                    at,
                    country: None,
                    fingerprint: None,
                }),
            )
        })
        .collect();
    let (_, alerts) = run(&ev);
    let a: Vec<&Alert> = alerts.values().collect();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].kind, "card_testing");
    assert_eq!(a[0].first_evidence_at, start);
}

#[test]
fn every_microsoft_fraud_alert_becomes_an_alert_even_of_an_unknown_type() {
    let at = t("2026-09-05T07:28:24Z");
    let ev = vec![env(
        at,
        Event::FraudAlert(FraudAlert {
            id: FraudEventId::parse("evt-1").unwrap(),
            customer: tenant(),
            azure_subscription: AzureSubscriptionId::parse("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
                .unwrap(),
            event_time: at,
            event_type: Some("SomethingMicrosoftInventsNext".into()),
            severity: Some("High".into()),
            confidence: None,
            status: "Active".into(),
            resolved_reason: None,
            resolved_on: None,
            resolved_by: None,
            first_occurrence: None,
            last_occurrence: None,
            first_observed: None,
            last_observed: None,
            hit_count: None,
            service_name: None,
            resource_name: None,
            resource_group: None,
            display_name: None,
            description: None,
            country: None,
            reseller_tenant: None,
            affected_resources: vec![],
            details: Default::default(),
            is_test: false,
        }),
    )];
    let (_, alerts) = run(&ev);
    let a: Vec<&Alert> = alerts.values().collect();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].kind, "microsoft_fraud_alert");
    assert_eq!(a[0].origin, Origin::Microsoft);
    assert_eq!(a[0].severity.as_str(), "critical");
}

#[test]
fn a_checkpoint_resumes_to_exactly_the_alerts_of_an_uninterrupted_run() {
    let mut ev = history();
    for i in 0..8 {
        ev.push(sign_in(
            t("2026-09-20T08:00:00Z") + Duration::minutes(3 * i),
            "admin@contoso.com",
            "RO",
            "185.220.1.1",
            50126,
            "medium",
        ));
    }
    ev.push(sign_in(
        t("2026-09-20T08:30:00Z"),
        "admin@contoso.com",
        "RO",
        "185.220.1.1",
        0,
        "high",
    ));
    ev.push(deploy(
        t("2026-09-20T09:10:00Z"),
        "admin@contoso.com",
        "japanwest",
        "Standard_ND96asr_v4",
        4,
    ));
    let (_, whole) = run(&ev);

    let now = t("2030-01-01T00:00:00Z");
    let (head, tail) = ev.split_at(18);
    let mut a = Engine::new(DetectConfig::default());
    let mut changed = Vec::new();
    for e in head {
        a.process(e, now, &mut changed);
    }
    let mut b = Engine::restore(&a.checkpoint(), DetectConfig::default()).unwrap();
    for e in tail {
        b.process(e, now, &mut changed);
    }
    let mut resumed = BTreeMap::new();
    for x in changed {
        resumed.insert(x.id.clone(), x);
    }
    assert!(!whole.is_empty());
    assert_eq!(whole, resumed);
}

#[test]
fn state_per_customer_stays_bounded_however_many_users_sign_in() {
    let start = t("2026-09-01T00:00:00Z");
    let ev: Vec<Envelope> = (0..5000)
        .map(|i| {
            sign_in(
                start + Duration::seconds(i),
                &format!("user{i}@contoso.com"),
                "DE",
                "84.150.1.1",
                0,
                "none",
            )
        })
        .collect();
    let (engine, _) = run(&ev);
    let users = engine.tenant(&tenant()).unwrap().state.identity.users.len();
    assert!(users <= 512, "{users} users remembered");
    let bytes = engine.checkpoint().len();
    assert!(
        bytes < 512 * 1024,
        "{bytes} bytes of state for one customer"
    );
}
