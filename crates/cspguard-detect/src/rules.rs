//! Rules the partner controls (`cspguard.toml`): CEL conditions over documented fields, suppression windows and
//! allow-lists. They act between the detectors and the risk engine, on each signal:
//!
//! - a **rule** (`[[rules]]`) whose `condition` holds adds its own evidence (`rule.<name>`, with its `points`) to the
//!   customer's incident, or with `action = "suppress"` drops the signal;
//! - a **suppression** (`[[suppress]]`) drops signals of a detector (prefix match), for a customer or all, inside a
//!   time window (a planned migration, a known month-end batch);
//! - **allow-lists** (`[allow]`: regions, countries, IPs, VM sizes) are known-good everywhere: the detectors never call
//!   them new.
//!
//! Fields a condition can read (the documented contract; `cspguard rules check` rejects others):
//! - `signal.detector`, `signal.family`, `signal.points`, `signal.summary`, `signal.subscriptions` (list),
//!   `signal.resources` (list), `signal.observed` (number, billing currency; 0 when none), `signal.burn_per_day`
//!   (number), `signal.features` (map: the detector's own numbers, see each alert's explanation);
//! - `customer.tenant_id`, `customer.name`, `customer.country`, `customer.new` (signed up within the last 30 days),
//!   `customer.currency`, `customer.credit_limit` (number, 0 when unknown);
//! - `incident.detectors` (list of detectors already in the customer's open incident), `incident.score`.
//!
//! Example: `signal.detector == "usage.spend_spike" && signal.features.ratio > 20.0 && !customer.new`.

use crate::signal::{Family, Signal};
use crate::state::TenantState;
use cspguard_domain::Instant;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// The `[[rules]]` entries of `cspguard.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique; the evidence it adds is named `rule.<name>`.
    pub name: String,
    /// A CEL expression that evaluates to a bool.
    pub condition: String,
    #[serde(default)]
    pub action: RuleAction,
    /// Points the rule's evidence weighs (0-100), for `action = "add"`.
    #[serde(default = "default_points")]
    pub points: u32,
    /// Shown in the alert's explanation.
    #[serde(default)]
    pub description: Option<String>,
}

fn default_points() -> u32 {
    50
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// Add the rule's own evidence to the incident.
    #[default]
    Add,
    /// Drop the signal.
    Suppress,
}

/// A `[[suppress]]` window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    /// The customer's tenant ID; every customer when absent.
    #[serde(default)]
    pub customer: Option<String>,
    /// A detector name or prefix (`usage.`, `identity.new_country`); every detector when absent.
    #[serde(default)]
    pub detector: Option<String>,
    pub from: Instant,
    pub to: Instant,
    pub reason: String,
}

/// `[allow]`: values known to be fine for every customer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AllowList {
    /// Azure region names (`eastus`).
    pub regions: BTreeSet<String>,
    /// ISO 3166 alpha-2 country codes.
    pub countries: BTreeSet<String>,
    /// IP addresses, or prefixes ending in `.` or `:` (`203.0.113.`).
    pub ips: BTreeSet<String>,
    /// VM sizes (`Standard_NC6s_v3`), any case.
    pub sizes: BTreeSet<String>,
}

impl AllowList {
    pub fn region(&self, r: &str) -> bool {
        self.regions.iter().any(|a| a.eq_ignore_ascii_case(r))
    }
    pub fn country(&self, c: &str) -> bool {
        self.countries.iter().any(|a| a.eq_ignore_ascii_case(c))
    }
    pub fn ip(&self, ip: &str) -> bool {
        self.ips.iter().any(|a| {
            a == ip || ((a.ends_with('.') || a.ends_with(':')) && ip.starts_with(a.as_str()))
        })
    }
    pub fn size(&self, s: &str) -> bool {
        self.sizes.iter().any(|a| a.eq_ignore_ascii_case(s))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("rule {name:?}: the condition does not parse: {reason}")]
    Parse { name: String, reason: String },
    #[error("rule {name:?}: the condition reads {variable:?}, which is not a field rules can use (signal, customer, incident)")]
    UnknownVariable { name: String, variable: String },
    #[error("rule {name:?}: on a sample signal the condition fails: {reason}")]
    Eval { name: String, reason: String },
    #[error("rule {name:?}: the condition gives {value}, not true or false")]
    NotBool { name: String, value: String },
    #[error("two rules are named {0:?}: names must be unique")]
    Duplicate(String),
    #[error("rule {name:?}: points {points} is over 100")]
    Points { name: String, points: u32 },
}

struct Compiled {
    spec: RuleSpec,
    program: cel::Program,
}

/// Compiled rules, suppressions and allow-lists; cheap to clone.
#[derive(Clone, Default)]
pub struct RuleSet {
    rules: Arc<Vec<Compiled>>,
    pub suppressions: Arc<Vec<Suppression>>,
    pub allow: Arc<AllowList>,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field(
                "rules",
                &self.rules.iter().map(|r| &r.spec.name).collect::<Vec<_>>(),
            )
            .field("suppressions", &self.suppressions.len())
            .finish()
    }
}

/// What the rules made of one signal.
#[derive(Debug, Default)]
pub struct Verdict {
    pub keep: bool,
    /// Evidence added by rules whose condition held.
    pub added: Vec<Signal>,
    /// Rules that suppressed it, or the suppression's reason.
    pub suppressed_by: Option<String>,
}

impl RuleSet {
    /// Compiles and checks every rule: it parses, reads only documented fields, and gives a bool on a sample signal.
    pub fn new(
        specs: Vec<RuleSpec>,
        suppressions: Vec<Suppression>,
        allow: AllowList,
    ) -> Result<RuleSet, RuleError> {
        let mut seen = BTreeSet::new();
        let mut rules = Vec::new();
        for spec in specs {
            if !seen.insert(spec.name.clone()) {
                return Err(RuleError::Duplicate(spec.name));
            }
            if spec.points > 100 {
                return Err(RuleError::Points {
                    name: spec.name,
                    points: spec.points,
                });
            }
            let program = cel::Program::compile(&spec.condition).map_err(|e| RuleError::Parse {
                name: spec.name.clone(),
                reason: e.to_string(),
            })?;
            for v in program.references().variables() {
                if !["signal", "customer", "incident"].contains(&v) {
                    return Err(RuleError::UnknownVariable {
                        name: spec.name.clone(),
                        variable: v.to_string(),
                    });
                }
            }
            let c = Compiled { spec, program };
            // A sample signal catches type errors (a string compared with a number) before the first real event.
            let sample = sample_signal();
            match c.eval(&sample, &TenantState::default(), &[], 0) {
                Ok(_) => {}
                Err(RuleError::Eval { reason, .. }) if reason.contains("No such key") => {}
                Err(e) => return Err(e),
            }
            rules.push(c);
        }
        Ok(RuleSet {
            rules: Arc::new(rules),
            suppressions: Arc::new(suppressions),
            allow: Arc::new(allow),
        })
    }

    /// The rules as written in the settings, in order.
    pub fn specs(&self) -> Vec<RuleSpec> {
        self.rules.iter().map(|r| r.spec.clone()).collect()
    }

    pub fn names(&self) -> Vec<String> {
        self.rules.iter().map(|r| r.spec.name.clone()).collect()
    }

    /// Applies suppressions and rules to one signal of a customer whose open incident holds `incident_detectors`.
    pub fn apply(
        &self,
        sig: &Signal,
        st: &TenantState,
        incident_detectors: &[String],
        incident_score: u32,
    ) -> Verdict {
        let mut v = Verdict {
            keep: true,
            ..Verdict::default()
        };
        if sig.own_alert.is_some() {
            // Microsoft's own alerts are never suppressed: they are facts the partner must answer.
            return v;
        }
        for s in self.suppressions.iter() {
            let who = s
                .customer
                .as_deref()
                .is_none_or(|c| c.eq_ignore_ascii_case(sig.tenant.as_str()));
            let what = s
                .detector
                .as_deref()
                .is_none_or(|d| sig.detector.starts_with(d));
            if who && what && sig.at >= s.from && sig.at <= s.to {
                v.keep = false;
                v.suppressed_by = Some(format!("suppressed: {}", s.reason));
                return v;
            }
        }
        for r in self.rules.iter() {
            // A rule's own evidence never triggers rules again.
            if sig.detector.starts_with("rule.") {
                break;
            }
            // Errors on real data (a missing feature, say) mean "does not hold": a rule never stops detection.
            if !matches!(
                r.eval(sig, st, incident_detectors, incident_score),
                Ok(true)
            ) {
                continue;
            }
            match r.spec.action {
                RuleAction::Suppress => {
                    v.keep = false;
                    v.suppressed_by = Some(format!("suppressed by rule {}", r.spec.name));
                    return v;
                }
                RuleAction::Add => {
                    let mut s = Signal::new(
                        &sig.tenant,
                        &format!("rule.{}", r.spec.name),
                        sig.family,
                        sig.at,
                        r.spec.points,
                        format!(
                            "Rule {} holds ({}){}",
                            r.spec.name,
                            r.spec.condition,
                            r.spec
                                .description
                                .as_deref()
                                .map(|d| format!(": {d}"))
                                .unwrap_or_default()
                        ),
                    )
                    .since(sig.first_evidence_at)
                    .feature("triggered_by", sig.detector.clone());
                    s.azure_subscriptions = sig.azure_subscriptions.clone();
                    s.resources = sig.resources.clone();
                    v.added.push(s);
                }
            }
        }
        v
    }
}

impl Compiled {
    fn eval(
        &self,
        sig: &Signal,
        st: &TenantState,
        incident_detectors: &[String],
        incident_score: u32,
    ) -> Result<bool, RuleError> {
        let mut ctx = cel::Context::default();
        ctx.add_variable_from_value("signal", signal_value(sig));
        ctx.add_variable_from_value("customer", customer_value(sig, st));
        let mut inc = HashMap::new();
        inc.insert(
            "detectors".to_string(),
            json_to_cel(&serde_json::json!(incident_detectors)),
        );
        inc.insert(
            "score".to_string(),
            cel::Value::Int(i64::from(incident_score)),
        );
        ctx.add_variable_from_value("incident", inc);
        match self.program.execute(&ctx) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(other) => Err(RuleError::NotBool {
                name: self.spec.name.clone(),
                value: format!("{other:?}"),
            }),
            Err(e) => Err(RuleError::Eval {
                name: self.spec.name.clone(),
                reason: e.to_string(),
            }),
        }
    }
}

/// JSON to CEL, with whole numbers as `int` and others as `double`, so `x > 5` and `x > 5.0` both work on any
/// feature.
pub fn json_to_cel(v: &serde_json::Value) -> cel::Value {
    use serde_json::Value as J;
    match v {
        J::Null => cel::Value::Null,
        J::Bool(b) => cel::Value::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => cel::Value::Int(i),
            None => cel::Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        J::String(s) => match s.parse::<f64>() {
            // Decimal strings (money) are numbers to a rule.
            Ok(f)
                if s.bytes()
                    .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
                    && !s.is_empty() =>
            {
                cel::Value::Float(f)
            }
            _ => cel::Value::String(Arc::new(s.clone())),
        },
        J::Array(a) => cel::Value::List(Arc::new(a.iter().map(json_to_cel).collect())),
        J::Object(o) => {
            let m: HashMap<String, cel::Value> =
                o.iter().map(|(k, v)| (k.clone(), json_to_cel(v))).collect();
            m.into()
        }
    }
}

fn money_f64(m: Option<cspguard_domain::Money>) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    m.and_then(|m| m.amount.to_f64()).unwrap_or(0.0)
}

fn signal_value(sig: &Signal) -> HashMap<String, cel::Value> {
    let mut m = HashMap::new();
    let s = |x: &str| cel::Value::String(Arc::new(x.to_string()));
    m.insert("detector".to_string(), s(&sig.detector));
    m.insert("family".to_string(), s(sig.family.as_str()));
    m.insert("points".to_string(), cel::Value::Int(i64::from(sig.points)));
    m.insert("summary".to_string(), s(&sig.summary));
    m.insert(
        "subscriptions".to_string(),
        cel::Value::List(Arc::new(
            sig.azure_subscriptions.iter().map(|x| s(x)).collect(),
        )),
    );
    m.insert(
        "resources".to_string(),
        cel::Value::List(Arc::new(sig.resources.iter().map(|x| s(x)).collect())),
    );
    m.insert(
        "observed".to_string(),
        cel::Value::Float(money_f64(sig.observed)),
    );
    m.insert(
        "burn_per_day".to_string(),
        cel::Value::Float(money_f64(sig.burn_per_day)),
    );
    m.insert(
        "features".to_string(),
        json_to_cel(&serde_json::Value::Object(sig.features.clone())),
    );
    m
}

fn customer_value(sig: &Signal, st: &TenantState) -> HashMap<String, cel::Value> {
    let mut m = HashMap::new();
    let s = |x: &str| cel::Value::String(Arc::new(x.to_string()));
    m.insert("tenant_id".to_string(), s(sig.tenant.as_str()));
    m.insert(
        "name".to_string(),
        s(st.profile.name.as_deref().unwrap_or("")),
    );
    m.insert(
        "country".to_string(),
        s(st.profile.country.as_deref().unwrap_or("")),
    );
    let new = st
        .profile
        .created_at
        .is_some_and(|c| sig.at - c < chrono::Duration::days(30));
    m.insert("new".to_string(), cel::Value::Bool(new));
    m.insert("currency".to_string(), s(st.currency().as_str()));
    m.insert(
        "credit_limit".to_string(),
        cel::Value::Float(money_f64(st.profile.credit_limit)),
    );
    m
}

fn sample_signal() -> Signal {
    let tenant = cspguard_domain::TenantId::parse("00000000-0000-0000-0000-000000000000")
        .expect("valid GUID");
    Signal::new(
        &tenant,
        "sample.check",
        Family::Usage,
        Instant::default(),
        10,
        "sample".into(),
    )
}
