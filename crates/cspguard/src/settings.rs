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
//! ```

use crate::cli::GlobalArgs;
use anyhow::Context;
use cspguard_detect::{DetectConfig, Engine, RuleSet, RuleSpec, Suppression};
use cspguard_domain::TenantId;
use serde::Deserialize;
use std::collections::HashMap;

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
}

/// The settings in force, checked: rules compiled, overrides resolved.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub detect: DetectConfig,
    pub rules: RuleSet,
    pub overrides: HashMap<TenantId, DetectConfig>,
    /// Where they came from (None: built-in defaults).
    pub path: Option<std::path::PathBuf>,
}

impl Settings {
    /// A detection engine with these settings.
    pub fn engine(&self) -> Engine {
        Engine::new(self.detect.clone()).with_rules(self.rules.clone(), self.overrides.clone())
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
    Ok(Settings {
        detect,
        rules,
        overrides,
        path: None,
    })
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
