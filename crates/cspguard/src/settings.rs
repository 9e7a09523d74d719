//! `cspguard.toml`: the partner's settings. Unknown keys are an error, so a typo never silently falls back to a
//! default.
//!
//! ```toml
//! [detect]                       # thresholds (every key optional; see cspguard_detect::DetectConfig)
//! alert_threshold = 50
//! [detect.allow]                 # known-good everywhere: never called new
//! regions = ["eastus", "westeurope"]
//! countries = ["DE"]
//! ips = ["203.0.113."]           # an address, or a prefix ending in . or :
//! sizes = ["Standard_NC6s_v3"]
//!
//! [[rules]]                      # CEL over documented fields (see cspguard_detect::rules)
//! name = "huge-spike"
//! condition = 'signal.detector == "usage.spend_spike" && signal.features.ratio > 20.0'
//! points = 60                    # evidence it adds; or action = "suppress" to drop the signal
//!
//! [[suppress]]                   # a window in which a detector (prefix) is quiet, for one customer or all
//! customer = "<tenant id>"
//! detector = "usage."
//! from = 2026-08-29T00:00:00Z
//! to = 2026-09-01T00:00:00Z
//! reason = "month-end batch, agreed with the customer"
//!
//! [[overrides]]                  # per-customer thresholds (any [detect] key)
//! customer = "<tenant id>"
//! spike_ratio = 8.0
//!
//! [cases]                        # case policy (every key optional)
//! respond_minutes = 60           # SLA: first response
//! mitigate_minutes = 1440        # SLA: mitigation
//! open_min_severity = "medium"   # weaker alerts join a case but do not open one (Microsoft's always open one)
//!
//! [actions]
//! two_approvers_above = "5000"   # a suspension with more money at risk needs two different approvers
//! max_attempts = 8               # then the action fails (each attempt retries inside the client too)
//! retry_base_seconds = 30        # backoff between attempts: base x 2^attempt, at most retry_max_seconds
//! retry_max_seconds = 3600
//! dry_run = false                # true: every action records what it would send and sends nothing
//!
//! [notify.soc]                   # a notification channel: webhook (generic | teams | slack) or smtp
//! type = "webhook"
//! format = "teams"
//! url_env = "CSPGUARD_SOC_WEBHOOK"   # the URL holds a secret: from the environment (or url_file), never here
//! [notify.billing]
//! type = "smtp"
//! host = "smtp.example.com"
//! port = 587
//! tls = "starttls"               # starttls | tls | none
//! username = "cspguard@example.com"
//! password_env = "CSPGUARD_SMTP_PASSWORD"
//! from = "cspguard@example.com"
//! to = ["billing@example.com"]
//!
//! [[playbooks]]                  # CEL over `case` and `alert` (see cspguard_cases::playbook)
//! name = "compromise"
//! when = 'case.kind in ["account_compromise", "resource_abuse"] && case.score >= 70'
//! actions = [{ type = "notify", channel = "soc" }, { type = "suspend_subscription" }]
//!
//! [partner_center]               # for `sync partner-center` and the actions that call it
//! tenant = "<partner tenant id>"
//! client_id = "<app id>"
//! client_secret_env = "CSPGUARD_PC_CLIENT_SECRET"   # or client_secret_file
//! # base_url = "https://api.partnercenter.microsoft.com"   (US Government: its own URL)
//! # authority = "https://login.microsoftonline.com"
//!
//! [credit]                       # credit control: limits, holidays, dunning (see crate::credit and docs/credit.md)
//! default_limit = "5000"
//! [credit.dunning]
//! channel = "billing"
//!
//! [graph]                        # for revoking sessions in customer tenants (GDAP)
//! client_id = "<app id>"
//! client_secret_env = "CSPGUARD_GRAPH_CLIENT_SECRET"
//!
//! [webhooks]                     # POST /webhooks/partner-center (see docs/server.md)
//! # require_signature = true      # Partner Center's RSA-SHA256 signature over the body, checked (the default)
//! # token_env = "CSPGUARD_WEBHOOK_TOKEN"   # optional second factor: ?token=... in the registered URL (or token_file)
//! # certificate_url_prefixes = ["https://3psostorageacct.blob.core.windows.net/cert/"]   # where X-MS-Certificate-Url may point
//! # certificate_subject = "pcnotifications-dispatch.microsoft.com"   # the certificate's subject CN
//! # certificate_organization = "Microsoft Corporation"               # optional: its subject O too
//!
//! [screening]                    # onboarding screening (every key optional; see cspguard_exception::screening)
//! high_risk_countries = ["KP", "IR", "MM"]   # ISO 3166 alpha-2; default: FATF's call-for-action list
//! velocity_window_days = 7       # sign-ups sharing an IP, domain or card fingerprint within this many days...
//! velocity_min_customers = 3     # ...this many customers (the one screened included) is sign-up velocity
//! case_threshold = 60            # a score at or above this opens a new_customer_risk case
//! ```

use crate::cli::GlobalArgs;
use anyhow::Context;
use cspguard_cases::{ApprovalPolicy, PlaybookSpec, Playbooks, SlaPolicy};
use cspguard_detect::Severity;
use cspguard_detect::{DetectConfig, Engine, RuleSet, RuleSpec, Suppression};
use cspguard_domain::TenantId;
use cspguard_exception::ScreeningConfig;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    detect: Option<toml::Table>,
    #[serde(default)]
    rules: Vec<RuleSpec>,
    #[serde(default)]
    suppress: Vec<Suppression>,
    #[serde(default)]
    overrides: Vec<toml::Table>,
    #[serde(default)]
    cases: CaseSettings,
    #[serde(default)]
    actions: ActionSettings,
    #[serde(default)]
    notify: BTreeMap<String, ChannelSettings>,
    #[serde(default)]
    playbooks: Vec<PlaybookSpec>,
    #[serde(default)]
    partner_center: Option<PartnerCenterSettings>,
    #[serde(default)]
    graph: Option<GraphSettings>,
    #[serde(default)]
    webhooks: Option<WebhookSettings>,
    #[serde(default)]
    credit: crate::credit::CreditSettings,
    #[serde(default)]
    screening: ScreeningConfig,
}

/// `[cases]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaseSettings {
    pub respond_minutes: i64,
    pub mitigate_minutes: i64,
    pub open_min_severity: Severity,
}

impl Default for CaseSettings {
    fn default() -> Self {
        let sla = SlaPolicy::default();
        CaseSettings {
            respond_minutes: sla.respond_minutes,
            mitigate_minutes: sla.mitigate_minutes,
            open_min_severity: Severity::Medium,
        }
    }
}

impl CaseSettings {
    pub fn sla(&self) -> SlaPolicy {
        SlaPolicy {
            respond_minutes: self.respond_minutes,
            mitigate_minutes: self.mitigate_minutes,
        }
    }
}

/// `[actions]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionSettings {
    pub two_approvers_above: Decimal,
    pub max_attempts: u32,
    pub retry_base_seconds: u64,
    pub retry_max_seconds: u64,
    pub dry_run: bool,
}

impl Default for ActionSettings {
    fn default() -> Self {
        ActionSettings {
            two_approvers_above: ApprovalPolicy::default().two_approvers_above,
            max_attempts: 8,
            retry_base_seconds: 30,
            retry_max_seconds: 3600,
            dry_run: false,
        }
    }
}

/// A secret's source: an environment variable or a file (never the settings file itself).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    pub env: Option<String>,
    pub file: Option<std::path::PathBuf>,
}

impl SecretRef {
    /// The secret's value; the error names where it was looked for, never the value.
    pub fn read(&self, what: &str) -> anyhow::Result<String> {
        if let Some(var) = &self.env {
            if let Ok(v) = std::env::var(var) {
                if !v.trim().is_empty() {
                    return Ok(v.trim().to_string());
                }
            }
        }
        if let Some(f) = &self.file {
            let v = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read the {what} from {}", f.display()))?;
            return Ok(v.trim().to_string());
        }
        anyhow::bail!(
            "the {what} is not set: export {} (or give a *_file in cspguard.toml)",
            self.env.as_deref().unwrap_or("the variable named by *_env")
        )
    }
}

/// `[notify.<name>]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChannelSettings {
    Webhook {
        #[serde(default)]
        format: WebhookFormatSetting,
        url_env: Option<String>,
        url_file: Option<std::path::PathBuf>,
    },
    Smtp {
        host: String,
        #[serde(default = "smtp_port")]
        port: u16,
        #[serde(default)]
        tls: SmtpTlsSetting,
        username: Option<String>,
        password_env: Option<String>,
        password_file: Option<std::path::PathBuf>,
        from: String,
        to: Vec<String>,
    },
}

fn smtp_port() -> u16 {
    587
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormatSetting {
    #[default]
    Generic,
    Teams,
    Slack,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTlsSetting {
    #[default]
    Starttls,
    Tls,
    None,
}

/// `[partner_center]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerCenterSettings {
    #[serde(default = "pc_base")]
    pub base_url: String,
    #[serde(default = "authority")]
    pub authority: String,
    pub tenant: String,
    pub client_id: String,
    pub client_secret_env: Option<String>,
    pub client_secret_file: Option<std::path::PathBuf>,
    /// Pull fraud events with `X-NewEventsModel: true` (paged, with event types).
    #[serde(default = "yes")]
    pub new_events_model: bool,
    #[serde(default = "page_size")]
    pub page_size: u32,
}

/// `[webhooks]`: how `POST /webhooks/partner-center` authenticates Partner Center (see `server::webhooks`):
/// its signature over the body, checked with the certificate named by `X-MS-Certificate-Url` (required unless
/// `require_signature = false`), and, optionally, a secret token in the registered callback URL
/// (`https://HOST/webhooks/partner-center?token=...`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    #[serde(default)]
    pub token_env: Option<String>,
    #[serde(default)]
    pub token_file: Option<std::path::PathBuf>,
    /// Refuse a webhook without a valid Partner Center signature (default true).
    #[serde(default = "yes")]
    pub require_signature: bool,
    /// Where certificates may be downloaded from: URL prefixes (`https://HOST[:PORT]/PATH/`); the certificate URL
    /// must also end in `.cer`. Plain `http` only for a loopback address (tests).
    #[serde(default = "certificate_url_prefixes")]
    pub certificate_url_prefixes: Vec<String>,
    /// The certificate's subject common name.
    #[serde(default = "certificate_subject")]
    pub certificate_subject: String,
    /// If set, the certificate's subject organization (O) must equal it too.
    #[serde(default)]
    pub certificate_organization: Option<String>,
}

impl WebhookSettings {
    /// The secret token of the callback URL, if one is configured.
    pub fn token(&self) -> Option<SecretRef> {
        (self.token_env.is_some() || self.token_file.is_some()).then(|| SecretRef {
            env: self.token_env.clone(),
            file: self.token_file.clone(),
        })
    }

    /// Checks what can be checked without the network: some way to authenticate, and usable URL prefixes.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !self.require_signature && self.token().is_none() {
            anyhow::bail!(
                "[webhooks]: require_signature = false needs a token (token_env or token_file), or nothing \
                 would authenticate Partner Center"
            );
        }
        if self.require_signature && self.certificate_url_prefixes.is_empty() {
            anyhow::bail!("[webhooks] certificate_url_prefixes is empty: no certificate could ever be fetched");
        }
        for p in &self.certificate_url_prefixes {
            crate::server::webhooks::signature::UrlPrefix::parse(p)
                .map_err(|e| anyhow::anyhow!("[webhooks] certificate_url_prefixes: {p:?}: {e}"))?;
        }
        Ok(())
    }
}

fn certificate_url_prefixes() -> Vec<String> {
    vec!["https://3psostorageacct.blob.core.windows.net/cert/".into()]
}
fn certificate_subject() -> String {
    "pcnotifications-dispatch.microsoft.com".into()
}

/// `[graph]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphSettings {
    #[serde(default = "graph_base")]
    pub base_url: String,
    #[serde(default = "authority")]
    pub authority: String,
    pub client_id: String,
    pub client_secret_env: Option<String>,
    pub client_secret_file: Option<std::path::PathBuf>,
}

fn pc_base() -> String {
    "https://api.partnercenter.microsoft.com".into()
}
fn graph_base() -> String {
    "https://graph.microsoft.com/v1.0".into()
}
fn authority() -> String {
    "https://login.microsoftonline.com".into()
}
fn yes() -> bool {
    true
}
fn page_size() -> u32 {
    100
}

/// The settings in force, checked: rules compiled, overrides resolved.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub detect: DetectConfig,
    pub rules: RuleSet,
    pub overrides: HashMap<TenantId, DetectConfig>,
    /// Where they came from (None: built-in defaults).
    pub path: Option<std::path::PathBuf>,
    pub cases: CaseSettings,
    pub actions: ActionSettings,
    pub notify: BTreeMap<String, ChannelSettings>,
    pub playbook_specs: Vec<PlaybookSpec>,
    pub partner_center: Option<PartnerCenterSettings>,
    pub graph: Option<GraphSettings>,
    /// `[webhooks]`: the Partner Center webhook receiver of `cspguard serve`.
    pub webhooks: Option<WebhookSettings>,
    /// `[credit]`: limits, holidays, dunning (see [`crate::credit`]).
    pub credit: crate::credit::CreditSettings,
    pub screening: ScreeningConfig,
}

impl Settings {
    /// A detection engine with these settings.
    pub fn engine(&self) -> Engine {
        Engine::new(self.detect.clone()).with_rules(self.rules.clone(), self.overrides.clone())
    }

    /// The playbooks, compiled against the defined channels.
    pub fn playbooks(&self) -> anyhow::Result<Playbooks> {
        let channels: Vec<String> = self.notify.keys().cloned().collect();
        Ok(Playbooks::compile(
            &self.playbook_specs,
            &channels,
            ApprovalPolicy {
                two_approvers_above: self.actions.two_approvers_above,
            },
        )?)
    }
}

pub fn load(g: &GlobalArgs) -> anyhow::Result<Settings> {
    let Some(path) = g.config_path() else {
        return Ok(Settings::default());
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the settings file {}", path.display()))?;
    let mut s =
        parse(&text).with_context(|| format!("{} is not a valid cspguard.toml", path.display()))?;
    s.path = Some(path);
    Ok(s)
}

pub fn parse(text: &str) -> anyhow::Result<Settings> {
    // TOML's own date-times become RFC 3339 strings, the form the settings' instants read.
    let mut raw: toml::Table = toml::from_str(text)?;
    datetimes_to_strings(&mut raw);
    let file: File = toml::Value::Table(raw).try_into()?;
    let base = file.detect.unwrap_or_default();
    let detect: DetectConfig = toml::Value::Table(base.clone())
        .try_into()
        .context("[detect]")?;
    let mut overrides = HashMap::new();
    for (i, o) in file.overrides.into_iter().enumerate() {
        let mut table = base.clone();
        let mut customer = None;
        for (k, v) in o {
            if k == "customer" {
                customer = v.as_str().map(str::to_string);
            } else {
                table.insert(k, v);
            }
        }
        let customer = customer.with_context(|| {
            format!(
                "[[overrides]] #{}: name the customer (customer = \"<tenant id>\")",
                i + 1
            )
        })?;
        let tenant = TenantId::parse(&customer)
            .map_err(|e| anyhow::anyhow!("[[overrides]] #{}: {e}", i + 1))?;
        let cfg: DetectConfig = toml::Value::Table(table)
            .try_into()
            .with_context(|| format!("[[overrides]] #{} ({customer})", i + 1))?;
        overrides.insert(tenant, cfg);
    }
    let allow = detect.allow.clone();
    let rules = RuleSet::new(file.rules, file.suppress, allow)?;
    let s = Settings {
        detect,
        rules,
        overrides,
        path: None,
        cases: file.cases,
        actions: file.actions,
        notify: file.notify,
        playbook_specs: file.playbooks,
        partner_center: file.partner_center,
        graph: file.graph,
        webhooks: file.webhooks,
        credit: file.credit,
        screening: file.screening,
    };
    s.playbooks()?;
    s.credit.validate(s.notify.keys())?;
    if let Some(w) = &s.webhooks {
        w.validate()?;
    }
    Ok(s)
}

fn datetimes_to_strings(t: &mut toml::Table) {
    fn walk(v: &mut toml::Value) {
        match v {
            toml::Value::Datetime(d) => *v = toml::Value::String(d.to_string()),
            toml::Value::Array(a) => a.iter_mut().for_each(walk),
            toml::Value::Table(t) => t.iter_mut().for_each(|(_, v)| walk(v)),
            _ => {}
        }
    }
    t.iter_mut().for_each(|(_, v)| walk(v));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_settings_file_is_read() {
        let s = parse(
            r#"
            [detect]
            alert_threshold = 60
            [detect.allow]
            regions = ["eastus"]
            [[rules]]
            name = "huge-spike"
            condition = 'signal.detector == "usage.spend_spike" && signal.features.ratio > 20.0'
            points = 60
            [[suppress]]
            detector = "usage."
            from = 2026-08-29T00:00:00Z
            to = 2026-09-01T00:00:00Z
            reason = "month end"
            [[overrides]]
            customer = "11111111-2222-3333-4444-555555555555"
            spike_ratio = 8.0
            "#,
        )
        .unwrap();
        assert_eq!(s.detect.alert_threshold, 60);
        assert!(s.detect.allow.region("EastUS"));
        assert_eq!(s.rules.names(), vec!["huge-spike".to_string()]);
        let o = &s.overrides[&TenantId::parse("11111111-2222-3333-4444-555555555555").unwrap()];
        assert_eq!(
            (o.spike_ratio, o.alert_threshold),
            (8.0, 60),
            "an override keeps the other [detect] keys"
        );
    }

    #[test]
    fn webhook_settings_default_to_signatures_from_microsoft() {
        let s = parse("[webhooks]\n").unwrap();
        let w = s.webhooks.unwrap();
        assert!(w.require_signature && w.token().is_none());
        assert_eq!(
            w.certificate_url_prefixes,
            vec!["https://3psostorageacct.blob.core.windows.net/cert/".to_string()]
        );
        assert_eq!(
            w.certificate_subject,
            "pcnotifications-dispatch.microsoft.com"
        );
        let w = parse("[webhooks]\nrequire_signature = false\ntoken_env = \"T\"\n")
            .unwrap()
            .webhooks
            .unwrap();
        assert!(!w.require_signature && w.token().is_some());
        for (bad, says) in [
            ("require_signature = false", "needs a token"),
            ("certificate_url_prefixes = []", "empty"),
            (
                "certificate_url_prefixes = [\"http://example.com/cert/\"]",
                "loopback",
            ),
            (
                "certificate_url_prefixes = [\"https://example.com/cert/?x=1\"]",
                "query",
            ),
        ] {
            let e = format!("{:#}", parse(&format!("[webhooks]\n{bad}\n")).unwrap_err());
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn mistakes_are_reported_not_ignored() {
        for (bad, says) in [
            ("[detect]\nalert_treshold = 3", "alert_treshold"),
            (
                "[[rules]]\nname = \"x\"\ncondition = \"signal.points >\"",
                "does not parse",
            ),
            (
                "[[rules]]\nname = \"x\"\ncondition = \"request.size > 3\"",
                "request",
            ),
            (
                "[[rules]]\nname = \"x\"\ncondition = \"signal.points + 1\"",
                "not true or false",
            ),
            ("[[overrides]]\nspike_ratio = 2.0", "name the customer"),
        ] {
            let e = format!("{:#}", parse(bad).unwrap_err());
            assert!(e.contains(says), "{bad:?} -> {e}");
        }
    }
}
