//! Names of projects and logstores, checked once where they enter the service. A valid name is
//! also a safe path segment and storage key part, so names such as `../x` never reach a backend.

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} name '{name}': {rule}")]
pub struct NameError {
    pub kind: &'static str,
    pub name: String,
    pub rule: &'static str,
}

/// A project name: 3-63 characters of lowercase letters, digits and `-`, starting and ending with
/// a letter or digit (SLS's rule).
pub fn validate_project(name: &str) -> Result<(), NameError> {
    check(name, "project", 3, 63, |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A logstore name: 2-63 characters of lowercase letters, digits, `-` and `_`, starting and ending
/// with a letter or digit (SLS's rule).
pub fn validate_logstore(name: &str) -> Result<(), NameError> {
    check(name, "logstore", 2, 63, |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// A consumer group name: the logstore rule (2-63 characters of lowercase letters, digits, `-`
/// and `_`, starting and ending with a letter or digit).
pub fn validate_consumer_group(name: &str) -> Result<(), NameError> {
    check(name, "consumer group", 2, 63, |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// A consumer name (chosen by each client, unique within its group): 1-128 characters of ASCII
/// letters, digits and `-_.:@`. It is stored inside the group's record, never in a key.
pub fn validate_consumer(name: &str) -> Result<(), NameError> {
    let error = |rule| Err(NameError { kind: "consumer", name: name.chars().take(140).collect(), rule });
    if name.is_empty() || name.len() > 128 {
        return error("it must be 1-128 characters long");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:@".contains(&b)) {
        return error("it may hold only ASCII letters, digits and -_.:@");
    }
    Ok(())
}

fn check(
    name: &str,
    kind: &'static str,
    min: usize,
    max: usize,
    allowed: impl Fn(u8) -> bool,
) -> Result<(), NameError> {
    let error = |rule| Err(NameError { kind, name: name.to_owned(), rule });
    let bytes = name.as_bytes();
    if bytes.len() < min || bytes.len() > max {
        return error(if min == 3 { "it must be 3-63 characters long" } else { "it must be 2-63 characters long" });
    }
    if !bytes.iter().all(|b| allowed(*b)) {
        return error("it may hold only lowercase letters, digits and the separators shown in the docs");
    }
    let edge_ok = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !bytes.first().is_some_and(edge_ok) || !bytes.last().is_some_and(edge_ok) {
        return error("it must start and end with a lowercase letter or digit");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_sls_names_and_refuses_paths() {
        assert!(validate_project("my-project-1").is_ok());
        assert!(validate_logstore("access_log").is_ok());
        assert!(validate_logstore("ab").is_ok());
        for bad in ["../x", "ab", "-abc", "abc-", "ABC", "a/b/c", "a.b.c", &"a".repeat(64)] {
            assert!(validate_project(bad).is_err(), "{bad}");
        }
        for bad in ["../x", "a", "_ab", "ab_", "a b", "a%2f"] {
            assert!(validate_logstore(bad).is_err(), "{bad}");
        }
    }
}
