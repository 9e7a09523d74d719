//! Typed identifiers. Each is a validated newtype so that a tenant ID cannot be passed where an Azure subscription ID is
//! expected. GUID-shaped IDs are stored lower-case: Microsoft's sources mix cases for the same ID (the streamed activity
//! log upper-cases resource IDs), and a detector keyed by tenant must see one key.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} is empty")]
    Empty { kind: &'static str },
    #[error("{kind} {value:?} is not a GUID (expected 8-4-4-4-12 hexadecimal digits)")]
    NotGuid { kind: &'static str, value: String },
    #[error("{kind} {value:?} is too long ({len} characters, at most {max})")]
    TooLong {
        kind: &'static str,
        value: String,
        len: usize,
        max: usize,
    },
}

fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

macro_rules! guid_id {
    ($(#[$m:meta])* $name:ident, $kind:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses a GUID, trimming white space and lower-casing it.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                let t = s.trim();
                if t.is_empty() {
                    return Err(IdError::Empty { kind: $kind });
                }
                if !is_guid(t) {
                    return Err(IdError::NotGuid { kind: $kind, value: t.to_string() });
                }
                Ok(Self(t.to_ascii_lowercase()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(&s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

macro_rules! text_id {
    ($(#[$m:meta])* $name:ident, $kind:literal, $max:expr, $lower:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses a non-empty identifier, trimming white space.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                let t = s.trim();
                if t.is_empty() {
                    return Err(IdError::Empty { kind: $kind });
                }
                if t.len() > $max {
                    return Err(IdError::TooLong { kind: $kind, value: t.chars().take(64).collect(), len: t.len(), max: $max });
                }
                Ok(Self(if $lower { t.to_ascii_lowercase() } else { t.to_string() }))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(&s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

guid_id!(
    /// A customer's Entra tenant ID (Partner Center `CustomerId`, `customerTenantId`).
    TenantId,
    "customer tenant ID"
);
guid_id!(
    /// An Azure subscription ID (Partner Center `EntitlementId`; the `/subscriptions/<id>` of resource IDs).
    AzureSubscriptionId,
    "Azure subscription ID"
);
text_id!(
    /// The partner's own tenant or Partner Center partner ID.
    PartnerId,
    "partner ID",
    128,
    true
);
text_id!(
    /// A billing subscription in Partner Center (the Azure plan's `SubscriptionId`; a GUID or an opaque key).
    BillingSubscriptionId,
    "billing subscription ID",
    128,
    true
);
text_id!(
    /// An indirect reseller's MPN ID (`ResellerMPNID`, `reseller_mpn_id`).
    ResellerMpnId,
    "reseller MPN ID",
    64,
    false
);
text_id!(
    /// An Azure resource ID (`/subscriptions/<id>/resourceGroups/...`), lower-cased because Azure treats it case-insensitively.
    ResourceId,
    "resource ID",
    2048,
    true
);
text_id!(
    /// An invoice number in the partner's billing system.
    InvoiceId,
    "invoice ID",
    128,
    false
);
text_id!(
    /// A payment in the partner's billing system.
    PaymentId,
    "payment ID",
    128,
    false
);
text_id!(
    /// A payment instrument (card, bank account) in the partner's billing system.
    InstrumentId,
    "payment instrument ID",
    128,
    false
);
text_id!(
    /// A Microsoft fraud event ID (`{subscriptionId}_{entityId}`).
    FraudEventId,
    "fraud event ID",
    256,
    true
);

impl ResourceId {
    /// The Azure subscription named by a resource ID (`/subscriptions/<guid>/...`), if it has one.
    pub fn azure_subscription(&self) -> Option<AzureSubscriptionId> {
        let rest = self.0.strip_prefix("/subscriptions/")?;
        AzureSubscriptionId::parse(rest.split('/').next()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_ids_are_normalised_and_validated() {
        let t = TenantId::parse(" 3F2A9C1E-7B4D-4E8A-9F10-2C6B8D4E1A01 ").unwrap();
        assert_eq!(t.as_str(), "3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01");
        assert!(matches!(TenantId::parse(""), Err(IdError::Empty { .. })));
        assert!(matches!(
            TenantId::parse("contoso"),
            Err(IdError::NotGuid { .. })
        ));
        assert!(TenantId::parse("3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a0g").is_err());
    }

    #[test]
    fn resource_id_names_its_subscription() {
        let r = ResourceId::parse(
            "/SUBSCRIPTIONS/6C7D8E9F-0A1B-4C2D-9E3F-4A5B6C7D8E9F/RESOURCEGROUPS/RG/x",
        )
        .unwrap();
        assert_eq!(
            r.azure_subscription().unwrap().as_str(),
            "6c7d8e9f-0a1b-4c2d-9e3f-4a5b6c7d8e9f"
        );
        assert!(ResourceId::parse("/providers/x")
            .unwrap()
            .azure_subscription()
            .is_none());
    }
}
