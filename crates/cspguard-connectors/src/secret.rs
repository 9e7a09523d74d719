//! [`Secret`]: a string that never prints itself.

use std::fmt;

/// A secret value (client secret, password, access token, webhook URL).
///
/// `Debug` and `Display` print `***`; the only way to read it is [`Secret::expose`], which call sites use at the
/// moment the value goes on the wire. It is deliberately not `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself: use it only to put it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Reads environment variable `var`; if `{var}_FILE` is set instead, reads that file (trimmed), the way
    /// container secrets are mounted. `{var}` wins when both are set.
    pub fn from_env_or_file(var: &str) -> Result<Secret, SecretError> {
        if let Ok(value) = std::env::var(var) {
            if !value.is_empty() {
                return Ok(Secret(value));
            }
        }
        let file_var = format!("{var}_FILE");
        match std::env::var(&file_var) {
            Ok(path) => match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let value = text.trim().to_string();
                    if value.is_empty() {
                        Err(SecretError::Empty {
                            source_name: format!("{file_var}={path}"),
                        })
                    } else {
                        Ok(Secret(value))
                    }
                }
                Err(e) => Err(SecretError::File {
                    var: file_var,
                    path,
                    reason: e.to_string(),
                }),
            },
            Err(_) => Err(SecretError::Missing {
                var: var.to_string(),
            }),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

/// Why [`Secret::from_env_or_file`] found no secret. Never contains the secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Neither the variable nor its `_FILE` companion is set.
    #[error("secret {var} is not set: set {var}, or {var}_FILE to a file holding it")]
    Missing {
        /// The variable looked for.
        var: String,
    },
    /// The `_FILE` variable names a file that cannot be read.
    #[error(
        "cannot read the secret file {var}={path}: {reason}; check the path and its permissions"
    )]
    File {
        /// The `_FILE` variable.
        var: String,
        /// The path it holds.
        path: String,
        /// The IO error.
        reason: String,
    },
    /// The file is empty (after trimming).
    #[error("the secret from {source_name} is empty: put the secret in it")]
    Empty {
        /// Where it was read from.
        source_name: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_itself() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn reads_env_then_file() {
        // Unique variable names: tests run in parallel threads of one process.
        let dir = std::env::temp_dir().join(format!("cspguard-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("s");
        std::fs::write(&path, "  from-file\n").expect("write");
        // SAFETY-free: set_var is safe in edition 2021; the names are unique to this test.
        std::env::set_var("CSPGUARD_TEST_SECRET_A_FILE", &path);
        assert_eq!(
            Secret::from_env_or_file("CSPGUARD_TEST_SECRET_A")
                .expect("file")
                .expose(),
            "from-file"
        );
        std::env::set_var("CSPGUARD_TEST_SECRET_A", "from-env");
        assert_eq!(
            Secret::from_env_or_file("CSPGUARD_TEST_SECRET_A")
                .expect("env")
                .expose(),
            "from-env"
        );
        let missing =
            Secret::from_env_or_file("CSPGUARD_TEST_SECRET_MISSING").expect_err("missing");
        assert!(missing
            .to_string()
            .contains("CSPGUARD_TEST_SECRET_MISSING_FILE"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
