//! Name and label syntax, as `k8s.io/apimachinery/pkg/util/validation` checks it.
//!
//! Each function returns the list of problems (empty = valid), worded like upstream so
//! that messages read the same as the API server's.

/// `IsDNS1123Label`: at most 63 characters, `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
pub fn dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !is_label_body(value) {
        errs.push(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', \
             and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc')"
                .to_string(),
        );
    }
    errs
}

/// `IsDNS1123Subdomain`: at most 253 characters, dot-separated RFC 1123 labels.
pub fn dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    if value.is_empty() || !value.split('.').all(is_label_body) {
        errs.push(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', \
             and must start and end with an alphanumeric character (e.g. 'example.com')"
                .to_string(),
        );
    }
    errs
}

fn is_label_body(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// `IsQualifiedName`: `[prefix/]name`, name ≤ 63 of `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`,
/// prefix a DNS-1123 subdomain. Label keys and annotation keys use this rule.
pub fn qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let (prefix, name) = match value.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, value),
    };
    if let Some(p) = prefix {
        if p.is_empty() {
            errs.push("prefix part must be non-empty".to_string());
        } else {
            errs.extend(dns1123_subdomain(p).into_iter().map(|e| format!("prefix part {e}")));
        }
    }
    if name.contains('/') {
        errs.push(
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start \
             and end with an alphanumeric character, with an optional DNS subdomain prefix and '/'"
                .to_string(),
        );
        return errs;
    }
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else {
        if name.len() > 63 {
            errs.push("name part must be no more than 63 characters".to_string());
        }
        if !is_qualified_body(name) {
            errs.push(
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start \
                 and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc')"
                    .to_string(),
            );
        }
    }
    errs
}

/// `IsValidLabelValue`: empty, or ≤ 63 of `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`.
pub fn label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !value.is_empty() && !is_qualified_body(value) {
        errs.push(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', \
             and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345')"
                .to_string(),
        );
    }
    errs
}

fn is_qualified_body(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_rfc1123() {
        assert!(dns1123_label("lab-1").is_empty());
        assert!(!dns1123_label("Lab").is_empty());
        assert!(!dns1123_label("-a").is_empty());
        assert!(!dns1123_label(&"a".repeat(64)).is_empty());
        assert!(dns1123_subdomain("a.b-c.d").is_empty());
        assert!(!dns1123_subdomain("a..b").is_empty());
    }

    #[test]
    fn qualified_names_and_values() {
        assert!(qualified_name("kubernetes.io/metadata.name").is_empty());
        assert!(qualified_name("app").is_empty());
        assert!(!qualified_name("/app").is_empty());
        assert!(!qualified_name("a/b/c").is_empty());
        assert!(!qualified_name("Bad_Prefix/x").is_empty());
        assert!(label_value("").is_empty());
        assert!(label_value("My_value.1").is_empty());
        assert!(!label_value("-x").is_empty());
    }
}
