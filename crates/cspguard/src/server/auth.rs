//! Who may do what: roles, the permission matrix, reseller scope, and how a request proves who it is.
//!
//! A request authenticates with `Authorization: Bearer <API token>` (automation) or the `cspguard_session` cookie
//! (the console; `POST /api/v1/session`). Both are stored hashed. No credential: 401. A credential whose role lacks
//! the permission: 403. An object outside the user's reseller scope: 404, exactly as if it did not exist, so IDs
//! cannot be probed.
//!
//! The permission matrix (Partner Center's roles; docs/server.md has the same table):
//!
//! | permission        | Global admin | User management admin | Admin agent | Billing admin |
//! |-------------------|:-:|:-:|:-:|:-:|
//! | read alerts       | ✓ |   | ✓ | ✓ |
//! | read cases (and the rules in force) | ✓ |   | ✓ | ✓ |
//! | work cases (notes, assign, checklist, resolve; check or backtest rules) | ✓ |   | ✓ |   |
//! | approve actions   | ✓ |   | ✓ |   |
//! | read customers    | ✓ |   | ✓ | ✓ |
//! | billing (receivables, credit, exception requests, liability report) | ✓ | | | ✓ |
//! | manage users (add, disable, API tokens; a global admin only by a global admin) | ✓ | ✓ |   |   |
//! | read audit log    | ✓ | ✓ |   |   |
//! | ingest events     | ✓ |   | ✓ | ✓ | (partner-wide users only)

use cspguard_store::UserRow;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    GlobalAdmin,
    UserManagementAdmin,
    AdminAgent,
    BillingAdmin,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::GlobalAdmin,
        Role::UserManagementAdmin,
        Role::AdminAgent,
        Role::BillingAdmin,
    ];

    /// `global-admin` or `global_admin` (and so on), case-insensitive.
    pub fn parse(s: &str) -> Option<Role> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "global_admin" => Some(Role::GlobalAdmin),
            "user_management_admin" => Some(Role::UserManagementAdmin),
            "admin_agent" => Some(Role::AdminAgent),
            "billing_admin" => Some(Role::BillingAdmin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::GlobalAdmin => "global_admin",
            Role::UserManagementAdmin => "user_management_admin",
            Role::AdminAgent => "admin_agent",
            Role::BillingAdmin => "billing_admin",
        }
    }

    pub fn may(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::GlobalAdmin => true,
            Role::UserManagementAdmin => matches!(p, ManageUsers | ReadAudit),
            Role::AdminAgent => matches!(
                p,
                ReadAlerts | ReadCases | WorkCases | ApproveActions | ReadCustomers | Ingest
            ),
            Role::BillingAdmin => {
                matches!(p, ReadAlerts | ReadCases | ReadCustomers | Billing | Ingest)
            }
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    ReadAlerts,
    ReadCases,
    WorkCases,
    ApproveActions,
    ReadCustomers,
    Billing,
    ManageUsers,
    ReadAudit,
    Ingest,
}

impl Permission {
    pub const ALL: [Permission; 9] = [
        Permission::ReadAlerts,
        Permission::ReadCases,
        Permission::WorkCases,
        Permission::ApproveActions,
        Permission::ReadCustomers,
        Permission::Billing,
        Permission::ManageUsers,
        Permission::ReadAudit,
        Permission::Ingest,
    ];

    /// The name `GET /api/v1/me` lists (the console shows only what these allow).
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ReadAlerts => "read_alerts",
            Permission::ReadCases => "read_cases",
            Permission::WorkCases => "work_cases",
            Permission::ApproveActions => "approve_actions",
            Permission::ReadCustomers => "read_customers",
            Permission::Billing => "billing",
            Permission::ManageUsers => "manage_users",
            Permission::ReadAudit => "read_audit",
            Permission::Ingest => "ingest",
        }
    }
}

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub username: String,
    pub role: Role,
    /// `Some(mpn)`: sees only that indirect reseller's customers.
    pub reseller: Option<String>,
    /// The reseller's customers (tenant IDs, lower case), when scoped.
    pub customers: Option<std::collections::HashSet<String>>,
}

impl Principal {
    pub fn from_user(u: &UserRow) -> Option<Principal> {
        Some(Principal {
            username: u.username.clone(),
            role: Role::parse(&u.role)?,
            reseller: u.reseller_mpn_id.clone(),
            customers: None,
        })
    }

    /// Whether the user may see customer `tenant`.
    pub fn sees(&self, tenant: &str) -> bool {
        match &self.customers {
            None => true,
            Some(set) => set.contains(&tenant.to_ascii_lowercase()),
        }
    }
}

/// An argon2id hash of `password` (PHC string).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

/// Whether `password` matches the stored PHC hash.
pub fn verify_password(password: &str, phc: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(phc)
        .map(|h| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A new random secret (API token or session): 32 bytes from the OS, hex.
pub fn new_secret(prefix: &str) -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{prefix}_{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_is_what_the_docs_say() {
        use Permission::*;
        let all = [
            ReadAlerts,
            ReadCases,
            WorkCases,
            ApproveActions,
            ReadCustomers,
            Billing,
            ManageUsers,
            ReadAudit,
        ];
        assert!(all.iter().all(|p| Role::GlobalAdmin.may(*p)));
        assert!(Role::BillingAdmin.may(Billing) && Role::BillingAdmin.may(ReadCases));
        assert!(!Role::BillingAdmin.may(WorkCases) && !Role::BillingAdmin.may(ApproveActions));
        assert!(Role::AdminAgent.may(ApproveActions) && !Role::AdminAgent.may(Billing));
        assert!(
            Role::UserManagementAdmin.may(ManageUsers) && !Role::UserManagementAdmin.may(ReadCases)
        );
        assert!(!Role::AdminAgent.may(ManageUsers));
    }

    #[test]
    fn passwords_verify_and_secrets_differ() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert_ne!(new_secret("t"), new_secret("t"));
        assert_eq!(Role::parse("Global-Admin"), Some(Role::GlobalAdmin));
    }
}
