//! What cspguard knows of Azure's compute catalogue: which VM sizes and meters are GPU, HPC or high-core (the ones
//! cryptominers and stolen-card sign-ups reach for), and a rough hourly price to project burn from a deployment before
//! any usage is billed.
//!
//! Written by hand: no crate carries Azure's size naming. The rules follow Microsoft's published naming convention
//! (`Standard_<family><vCPUs><features>_<accelerator>_v<version>`): N-families carry GPUs, H-families are HPC.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComputeClass {
    Gpu,
    Hpc,
    HighCore,
    Standard,
}

impl ComputeClass {
    /// GPU, HPC and high-core compute: what mining and abuse run on.
    pub fn is_expensive(self) -> bool {
        !matches!(self, ComputeClass::Standard)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ComputeClass::Gpu => "gpu",
            ComputeClass::Hpc => "hpc",
            ComputeClass::HighCore => "high_core",
            ComputeClass::Standard => "standard",
        }
    }
}

/// vCPUs at or above which a general-purpose size counts as high-core.
pub const HIGH_CORE_VCPUS: u32 = 48;

/// Classifies a VM size such as `Standard_NC24ads_A100_v4` (any case); returns the class and the vCPU count the name
/// carries.
pub fn vm_size(size: &str) -> (ComputeClass, Option<u32>) {
    let s = size.trim();
    let s = s
        .get(..9)
        .filter(|p| p.eq_ignore_ascii_case("standard_"))
        .map_or(s, |_| &s[9..]);
    let letters: String = s
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase();
    let digits: String = s[letters.len()..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let vcpus = digits.parse::<u32>().ok();
    (family_class(&letters, vcpus), vcpus)
}

/// Classifies a usage meter from its sub-category, e.g. `NCads A100 v4 Series`, `HBv3 Series`, `Dsv5 Series`.
pub fn meter(meter_category: &str, meter_subcategory: &str) -> ComputeClass {
    let compute = [
        "virtual machines",
        "batch",
        "azure machine learning",
        "cloud services",
    ]
    .iter()
    .any(|c| meter_category.eq_ignore_ascii_case(c));
    if !compute {
        return ComputeClass::Standard;
    }
    let letters: String = meter_subcategory
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase();
    family_class(&letters, None)
}

fn family_class(letters: &str, vcpus: Option<u32>) -> ComputeClass {
    let b = letters.as_bytes();
    match (b.first(), b.get(1)) {
        (Some(b'N'), Some(b'C' | b'D' | b'V' | b'G')) => ComputeClass::Gpu,
        (Some(b'H'), Some(b'B' | b'C' | b'X')) | (Some(b'H'), None) => ComputeClass::Hpc,
        _ if vcpus.is_some_and(|v| v >= HIGH_CORE_VCPUS) => ComputeClass::HighCore,
        _ => ComputeClass::Standard,
    }
}

/// A rough pay-as-you-go price per hour in USD for one instance of a size, from its class and vCPUs. An estimate for
/// projecting burn before usage is billed (usage lines replace it as soon as they arrive), deliberately on the low side
/// of Microsoft's list prices so that money at risk is not overstated.
pub fn estimated_hourly_usd(size: &str) -> Decimal {
    let (class, vcpus) = vm_size(size);
    let vcpus = Decimal::from(vcpus.unwrap_or(4).max(1));
    let per_vcpu = match class {
        ComputeClass::Gpu => Decimal::new(12, 2),
        ComputeClass::Hpc => Decimal::new(3, 2),
        ComputeClass::HighCore | ComputeClass::Standard => Decimal::new(4, 2),
    };
    vcpus * per_vcpu
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_classified_by_family_and_cores() {
        assert_eq!(
            vm_size("Standard_NC24ads_A100_v4"),
            (ComputeClass::Gpu, Some(24))
        );
        assert_eq!(vm_size("STANDARD_ND96ASR_V4").0, ComputeClass::Gpu);
        assert_eq!(vm_size("Standard_HB120rs_v3").0, ComputeClass::Hpc);
        assert_eq!(vm_size("Standard_F72s_v2").0, ComputeClass::HighCore);
        assert_eq!(vm_size("Standard_D64s_v5").0, ComputeClass::HighCore);
        assert_eq!(vm_size("Standard_D16s_v3").0, ComputeClass::Standard);
        assert_eq!(vm_size("Standard_B2s").0, ComputeClass::Standard);
        assert_eq!(vm_size("").0, ComputeClass::Standard);
    }

    #[test]
    fn meters_are_classified_only_for_compute() {
        assert_eq!(
            meter("Virtual Machines", "NCads A100 v4 Series"),
            ComputeClass::Gpu
        );
        assert_eq!(
            meter("Azure Machine Learning", "NCasT4_v3 Series"),
            ComputeClass::Gpu
        );
        assert_eq!(meter("Batch", "HBv3 Series"), ComputeClass::Hpc);
        assert_eq!(
            meter("Virtual Machines", "Dsv5 Series"),
            ComputeClass::Standard
        );
        assert_eq!(meter("Bandwidth", "NC whatever"), ComputeClass::Standard);
    }
}
