//! `cspguard.toml`: the partner's settings. Today the detectors' thresholds (`[detect]`, every key optional, see
//! [`cspguard_detect::DetectConfig`]); unknown keys are an error so a typo never silently falls back to a default.

use crate::cli::GlobalArgs;
use anyhow::Context;
use cspguard_detect::DetectConfig;
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub detect: DetectConfig,
}

pub fn load(g: &GlobalArgs) -> anyhow::Result<Settings> {
    let Some(path) = g.config_path() else {
        return Ok(Settings::default());
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the settings file {}", path.display()))?;
    toml::from_str(&text)
        .with_context(|| format!("{} is not a valid cspguard.toml", path.display()))
}
