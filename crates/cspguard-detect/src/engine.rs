//! The engine: routes each event to its customer's detectors in event-time order, fires the wake-ups detectors asked
//! for as event time passes them, hands signals to the risk engine, and checkpoints everything so a later run resumes
//! where this one stopped. Same events in the same order, same alerts (only `detected_at`, the wall clock, differs).

use crate::alert::Alert;
use crate::detectors::{control_plane, identity, microsoft, payment, usage};
use crate::risk::{CustomerRisk, RiskState};
use crate::rules::RuleSet;
use crate::state::{Output, TenantState};
use crate::DetectConfig;
use cspguard_domain::{Envelope, Event, Instant, TenantId};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

/// Everything known about one customer: detector state and risk state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Tenant {
    pub state: TenantState,
    pub risk: RiskState,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("the detector checkpoint cannot be read ({0}); run `cspguard scan --from-start` to rebuild it")]
    Corrupt(String),
}

/// A signal as a backtest sees it: which detector (or rule), when, for whom, and whether the rules kept it.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalRecord {
    pub detector: String,
    pub at: Instant,
    pub tenant: TenantId,
    pub kept: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Engine {
    #[serde(skip)]
    cfg: DetectConfig,
    /// Per-customer settings (`[[overrides]]`), in place of `cfg` for those customers.
    #[serde(skip)]
    overrides: HashMap<TenantId, DetectConfig>,
    #[serde(skip)]
    rules: RuleSet,
    /// Every signal, when a backtest asked for them.
    #[serde(skip)]
    record: Option<Vec<SignalRecord>>,
    // FxHash: keys are GUIDs from the partner's own sources, and lookups run for every event.
    tenants: FxHashMap<TenantId, Tenant>,
    /// Azure subscription -> customer, and billing subscription -> customer, learned from events that name both.
    azure_owner: FxHashMap<String, TenantId>,
    billing_owner: FxHashMap<String, TenantId>,
    wakeups: BTreeSet<(Instant, TenantId)>,
    watermark: Option<Instant>,
    /// How far the partner's billing feed (invoices, payments, instruments) reaches. Wake-ups judge the absence of a
    /// payment, which only this clock can show: other sources running ahead (a subscription snapshot taken today) say
    /// nothing about payments.
    billing_watermark: Option<Instant>,
    events: u64,
    /// Events that named no customer the engine could resolve.
    unattributed: u64,
}

impl Engine {
    pub fn new(cfg: DetectConfig) -> Engine {
        Engine {
            cfg,
            ..Engine::default()
        }
    }

    /// Uses the partner's rules, suppressions and allow-lists, and per-customer settings.
    pub fn with_rules(
        mut self,
        rules: RuleSet,
        overrides: HashMap<TenantId, DetectConfig>,
    ) -> Engine {
        self.rules = rules;
        self.overrides = overrides;
        self
    }

    /// Keeps a record of every signal (for backtests); read it with [`Engine::take_record`].
    pub fn recording(mut self) -> Engine {
        self.record = Some(Vec::new());
        self
    }

    pub fn take_record(&mut self) -> Vec<SignalRecord> {
        self.record.take().unwrap_or_default()
    }

    pub fn config(&self) -> &DetectConfig {
        &self.cfg
    }

    /// Restores an engine from [`Engine::checkpoint`] bytes, with the configuration in force now.
    pub fn restore(bytes: &[u8], cfg: DetectConfig) -> Result<Engine, CheckpointError> {
        let mut e: Engine =
            serde_json::from_slice(bytes).map_err(|e| CheckpointError::Corrupt(e.to_string()))?;
        e.cfg = cfg;
        Ok(e)
    }

    pub fn checkpoint(&self) -> Vec<u8> {
        // Serialising plain data into a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Teaches the engine which customer owns an Azure subscription (from the store's derived table), for events that
    /// do not name their customer (activity logs).
    pub fn learn_azure_owner(&mut self, azure_subscription: &str, tenant: TenantId) {
        learn(&mut self.azure_owner, azure_subscription, &tenant);
    }

    pub fn learn_billing_owner(&mut self, billing_subscription: &str, tenant: TenantId) {
        learn(&mut self.billing_owner, billing_subscription, &tenant);
    }

    pub fn watermark(&self) -> Option<Instant> {
        self.watermark
    }
    pub fn events_seen(&self) -> u64 {
        self.events
    }
    pub fn unattributed(&self) -> u64 {
        self.unattributed
    }
    pub fn tenants(&self) -> usize {
        self.tenants.len()
    }

    pub fn customer_risk(&self, tenant: &TenantId) -> Option<CustomerRisk> {
        let t = self.tenants.get(tenant)?;
        Some(t.risk.customer_risk(self.watermark?))
    }

    pub fn tenant(&self, tenant: &TenantId) -> Option<&Tenant> {
        self.tenants.get(tenant)
    }

    /// Evaluates one event. `now` is the wall clock (the alerts' `detected_at`). Alerts created or changed are appended
    /// to `changed`.
    pub fn process(&mut self, env: &Envelope, now: Instant, changed: &mut Vec<Alert>) {
        self.events += 1;
        let at = env.event_time;
        if matches!(
            env.event,
            Event::Invoice(_) | Event::Payment(_) | Event::InstrumentChange(_)
        ) {
            self.advance_billing_to(at, now, changed);
        }
        if self.watermark.is_none_or(|w| at > w) {
            self.watermark = Some(at);
        }
        if matches!(
            env.event,
            Event::PartnerInvoice(_) | Event::PartnerPayment(_) | Event::PartnerCreditLimit(_)
        ) {
            // The partner's own standing with Microsoft is about no customer: cspguard-credit reads it.
            return;
        }
        let Some(tenant) = self.resolve(&env.event) else {
            self.unattributed += 1;
            return;
        };
        // Borrowed from the event when it names its customer (most do): no copy per event.
        let tenant: &TenantId = &tenant;
        let cfg = self.overrides.get(tenant).unwrap_or(&self.cfg);
        if !self.tenants.contains_key(tenant) {
            self.tenants.insert(tenant.clone(), Tenant::default());
        }
        let Some(t) = self.tenants.get_mut(tenant) else {
            return;
        };
        let st = &mut t.state;
        let mut out = Output::default();
        match &env.event {
            Event::Usage(u) => usage::on_usage(st, tenant, u, at, cfg, &mut out),
            Event::SignIn(s) => identity::on_sign_in(st, tenant, s, cfg, &mut out),
            Event::ControlPlane(op) => control_plane::on_operation(st, tenant, op, cfg, &mut out),
            Event::FraudAlert(a) => microsoft::on_fraud_alert(st, tenant, a, at, &mut out),
            Event::FraudAlertStatus(_) => {}
            Event::SubscriptionState(s) => {
                microsoft::on_subscription_state(st, tenant, s, at, &mut out)
            }
            Event::CustomerProfile(p) => {
                let pr = &mut st.profile;
                pr.name = p.name.clone().or(pr.name.take());
                pr.country = p.country.clone().or(pr.country.take());
                pr.created_at = p.created_at.or(pr.created_at);
                pr.mfa_enforced = p.mfa_enforced.or(pr.mfa_enforced);
                pr.credit_limit = p.credit_limit.or(pr.credit_limit);
            }
            Event::Invoice(i) => payment::on_invoice(st, i, cfg, &mut out),
            Event::Payment(p) => payment::on_payment(st, tenant, p, at, &mut out),
            Event::InstrumentChange(c) => payment::on_instrument(st, tenant, c, cfg, &mut out),
            Event::PartnerInvoice(_) | Event::PartnerPayment(_) | Event::PartnerCreditLimit(_) => {}
        }
        self.finish(tenant, out, now, changed);
    }

    /// Moves the billing feed's time forward to `at`, firing every wake-up due by then.
    pub fn advance_billing_to(&mut self, at: Instant, now: Instant, changed: &mut Vec<Alert>) {
        if self.billing_watermark.is_none_or(|w| at > w) {
            self.billing_watermark = Some(at);
        }
        while let Some((when, tenant)) = self.wakeups.first().cloned() {
            if when > at {
                break;
            }
            self.wakeups.pop_first();
            let Some(t) = self.tenants.get_mut(&tenant) else {
                continue;
            };
            let mut out = Output::default();
            let cfg = self.overrides.get(&tenant).unwrap_or(&self.cfg);
            payment::on_wake(&mut t.state, &tenant, when, cfg, &mut out);
            self.finish(&tenant, out, now, changed);
        }
    }

    fn finish(&mut self, tenant: &TenantId, out: Output, now: Instant, changed: &mut Vec<Alert>) {
        for w in out.wake_at {
            // A wake-up already in the past fires with the next event.
            self.wakeups.insert((w, tenant.clone()));
        }
        if out.signals.is_empty() {
            return;
        }
        let cfg = self.overrides.get(tenant).unwrap_or(&self.cfg);
        let t = self.tenants.entry(tenant.clone()).or_default();
        for s in out.signals {
            let (detectors, score) = t.risk.open_incident();
            let verdict = self.rules.apply(&s, &t.state, &detectors, score);
            if let Some(rec) = self.record.as_mut() {
                rec.push(SignalRecord {
                    detector: s.detector.clone(),
                    at: s.at,
                    tenant: tenant.clone(),
                    kept: verdict.keep,
                });
                for a in &verdict.added {
                    rec.push(SignalRecord {
                        detector: a.detector.clone(),
                        at: a.at,
                        tenant: tenant.clone(),
                        kept: true,
                    });
                }
            }
            if verdict.keep {
                t.risk.on_signal(s, tenant, &t.state, cfg, now, changed);
            }
            for a in verdict.added {
                t.risk.on_signal(a, tenant, &t.state, cfg, now, changed);
            }
        }
    }

    fn resolve<'e>(&mut self, e: &'e Event) -> Option<Cow<'e, TenantId>> {
        Some(match e {
            Event::Usage(u) => {
                learn(
                    &mut self.azure_owner,
                    u.azure_subscription.as_str(),
                    &u.customer,
                );
                learn(
                    &mut self.billing_owner,
                    u.billing_subscription.as_str(),
                    &u.customer,
                );
                Cow::Borrowed(&u.customer)
            }
            Event::FraudAlert(a) => {
                self.learn_azure_owner(a.azure_subscription.as_str(), a.customer.clone());
                Cow::Borrowed(&a.customer)
            }
            Event::ControlPlane(op) => match &op.customer {
                Some(c) => Cow::Borrowed(c),
                None => Cow::Owned(
                    op.azure_subscription
                        .as_ref()
                        .and_then(|s| self.azure_owner.get(s.as_str()).cloned())?,
                ),
            },
            Event::SubscriptionState(s) => match &s.customer {
                Some(c) => Cow::Borrowed(c),
                None => Cow::Owned(self.billing_owner.get(s.subscription.as_str()).cloned()?),
            },
            other => Cow::Borrowed(other.customer()?),
        })
    }
}

/// Records an owner once; the lookup comes first because this runs for every usage line and the key is rarely new.
fn learn(map: &mut FxHashMap<String, TenantId>, id: &str, tenant: &TenantId) {
    if map.contains_key(id) || map.contains_key(id.to_ascii_lowercase().as_str()) {
        return;
    }
    map.insert(id.to_ascii_lowercase(), tenant.clone());
}
