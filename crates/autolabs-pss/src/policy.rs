//! Levels, policy versions and the namespace labels that choose them.
//!
//! Mirrors `k8s.io/pod-security-admission/api`: `Level`, `Version`, `LevelVersion`,
//! `ParseLevel`, `ParseVersion` and `PolicyToEvaluate` (namespace labels
//! `pod-security.kubernetes.io/{enforce,audit,warn}[-version]`, with upstream's handling of
//! invalid values: enforce falls back to `restricted`/`latest`, audit and warn fail open to
//! `privileged`, and every bad label is reported; warn defaults to a stricter enforce level).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::PssError;

/// Label prefix shared by all Pod Security namespace labels.
// k8s.io/pod-security-admission/api/constants.go labelPrefix
pub const LABEL_PREFIX: &str = "pod-security.kubernetes.io/";
/// Namespace label choosing the level that rejects pods.
pub const ENFORCE_LEVEL_LABEL: &str = "pod-security.kubernetes.io/enforce";
/// Namespace label choosing the policy version of the enforce level.
pub const ENFORCE_VERSION_LABEL: &str = "pod-security.kubernetes.io/enforce-version";
/// Namespace label choosing the level recorded in audit annotations.
pub const AUDIT_LEVEL_LABEL: &str = "pod-security.kubernetes.io/audit";
/// Namespace label choosing the policy version of the audit level.
pub const AUDIT_VERSION_LABEL: &str = "pod-security.kubernetes.io/audit-version";
/// Namespace label choosing the level that produces client warnings.
pub const WARN_LEVEL_LABEL: &str = "pod-security.kubernetes.io/warn";
/// Namespace label choosing the policy version of the warn level.
pub const WARN_VERSION_LABEL: &str = "pod-security.kubernetes.io/warn-version";

const LEVEL_REASON: &str = "must be one of privileged, baseline, restricted";
const VERSION_REASON: &str = "must be \"latest\" or \"v1.x\"";

/// A Pod Security Standards level, ordered from least to most strict
/// (`api.CompareLevels`: privileged < baseline < restricted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// No checks at all.
    Privileged,
    /// Prevents known privilege escalations.
    Baseline,
    /// Baseline plus hardening best practices.
    Restricted,
}

impl Level {
    /// The label value: `privileged`, `baseline` or `restricted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = PssError;

    /// Exact, case-sensitive match like upstream.
    // k8s.io/pod-security-admission/api/helpers.go ParseLevel
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "privileged" => Ok(Level::Privileged),
            "baseline" => Ok(Level::Baseline),
            "restricted" => Ok(Level::Restricted),
            _ => Err(PssError::InvalidLevel { value: value.to_string() }),
        }
    }
}

/// A policy version: `latest`, or `v1.<minor>`.
///
/// Ordered like upstream's `Version.Older`: every `v1.x` is older than `Latest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// `v1.<minor>`.
    V1(u32),
    /// `latest`: the newest policy this engine knows (or the emulated server's version).
    Latest,
}

impl Version {
    /// The policy minor version checks are selected by: `Latest` and anything newer than
    /// `max_minor` evaluate as `max_minor` (upstream's `checkRegistry.EvaluatePod` clamp).
    pub fn effective_minor(self, max_minor: u32) -> u32 {
        match self {
            Version::V1(minor) => minor.min(max_minor),
            Version::Latest => max_minor,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::V1(minor) => write!(f, "v1.{minor}"),
            Version::Latest => f.write_str("latest"),
        }
    }
}

impl FromStr for Version {
    type Err = PssError;

    /// `latest` or `v1.x` where x matches `^([0-9]|[1-9][0-9]*)$` and fits Go's `int`.
    /// Minors beyond `u32::MAX` are kept as `u32::MAX`: both are newer than any policy.
    // k8s.io/pod-security-admission/api/helpers.go ParseVersion
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if value == "latest" {
            return Ok(Version::Latest);
        }
        let invalid = || PssError::InvalidVersion { value: value.to_string() };
        let digits = value.strip_prefix("v1.").ok_or_else(invalid)?;
        let well_formed = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if !well_formed {
            return Err(invalid());
        }
        // Go's strconv.Atoi on a 64-bit platform: out of range is an error.
        let minor: i64 = digits.parse().map_err(|_| invalid())?;
        Ok(Version::V1(u32::try_from(minor).unwrap_or(u32::MAX)))
    }
}

/// A level at a policy version, e.g. `restricted:v1.30`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LevelVersion {
    /// The level.
    pub level: Level,
    /// The policy version of that level.
    pub version: Version,
}

impl LevelVersion {
    /// A level at a version.
    pub const fn new(level: Level, version: Version) -> Self {
        LevelVersion { level, version }
    }

    /// `privileged:latest`, upstream's default for namespaces without labels.
    pub const PRIVILEGED_LATEST: LevelVersion = LevelVersion::new(Level::Privileged, Version::Latest);
}

impl fmt::Display for LevelVersion {
    /// `level:version`, like upstream's `LevelVersion.String`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.level, self.version)
    }
}

impl FromStr for LevelVersion {
    type Err = PssError;

    /// `restricted:v1.22`, `restricted:latest`, or a bare level (version `latest`).
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let (level, version) = match value.split_once(':') {
            Some((level, version)) => (level, version.parse()?),
            None => (value, Version::Latest),
        };
        Ok(LevelVersion { level: level.parse()?, version })
    }
}

macro_rules! serde_via_string {
    ($type:ty, $expecting:literal) => {
        impl Serialize for $type {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl serde::de::Visitor<'_> for Visitor {
                    type Value = $type;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<$type, E> {
                        value.parse().map_err(E::custom)
                    }
                }
                deserializer.deserialize_str(Visitor)
            }
        }
    };
}

serde_via_string!(Level, "a Pod Security level (privileged, baseline, restricted)");
serde_via_string!(Version, "a Pod Security version (latest or v1.x)");
serde_via_string!(LevelVersion, "a Pod Security policy such as restricted:v1.30");

/// The three policies of a namespace, without label errors (used as defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Policy {
    /// Pods that violate it are rejected.
    pub enforce: LevelVersion,
    /// Violations are recorded in the audit log.
    pub audit: LevelVersion,
    /// Violations are returned to the client as warnings.
    pub warn: LevelVersion,
}

impl Default for Policy {
    /// `privileged:latest` for all three: the admission plugin's default configuration.
    // k8s.io/pod-security-admission/admission/api/v1/defaults.go SetDefaults_PodSecurityDefaults
    fn default() -> Self {
        Policy {
            enforce: LevelVersion::PRIVILEGED_LATEST,
            audit: LevelVersion::PRIVILEGED_LATEST,
            warn: LevelVersion::PRIVILEGED_LATEST,
        }
    }
}

/// The policies a namespace's labels select, and every label upstream would reject.
///
/// A usable policy is always returned, even when `errors` is not empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespacePolicy {
    /// Pods that violate it are rejected.
    pub enforce: LevelVersion,
    /// Violations are recorded in the audit log.
    pub audit: LevelVersion,
    /// Violations are returned to the client as warnings.
    pub warn: LevelVersion,
    /// One [`PssError::InvalidLabel`] per label with an invalid value, in upstream's order
    /// (enforce, enforce-version, audit, audit-version, warn, warn-version).
    pub errors: Vec<PssError>,
}

impl NamespacePolicy {
    /// The three policies without the errors.
    pub fn policy(&self) -> Policy {
        Policy { enforce: self.enforce, audit: self.audit, warn: self.warn }
    }
}

/// The policies selected by a namespace's labels, with upstream's defaults
/// (`privileged:latest` where a label is absent).
pub fn namespace_policy(labels: &BTreeMap<String, String>) -> NamespacePolicy {
    namespace_policy_with_defaults(labels, Policy::default())
}

/// The policies selected by a namespace's labels, falling back to `defaults` (the admission
/// configuration's defaults) where a label is absent.
///
/// Invalid values: an enforce level falls back to `restricted` and a version to `latest`
/// (fail closed); an invalid audit or warn level becomes `privileged` (fail open).
/// When a valid enforce level is set and no warn level is, warn defaults to the enforce level
/// (and, without a warn version label, the enforce version) if that is stricter.
// k8s.io/pod-security-admission/api/helpers.go PolicyToEvaluate
pub fn namespace_policy_with_defaults(
    labels: &BTreeMap<String, String>,
    defaults: Policy,
) -> NamespacePolicy {
    let mut errors = Vec::new();
    let mut enforce = defaults.enforce;
    let mut audit = defaults.audit;
    let mut warn = defaults.warn;

    // Same order as upstream, so errors come out in the same order.
    let enforce_level = level_label(labels, ENFORCE_LEVEL_LABEL, Level::Restricted, &mut errors);
    let enforce_version = version_label(labels, ENFORCE_VERSION_LABEL, &mut errors);
    let audit_level = level_label(labels, AUDIT_LEVEL_LABEL, Level::Privileged, &mut errors);
    let audit_version = version_label(labels, AUDIT_VERSION_LABEL, &mut errors);
    let warn_level = level_label(labels, WARN_LEVEL_LABEL, Level::Privileged, &mut errors);
    let warn_version = version_label(labels, WARN_VERSION_LABEL, &mut errors);

    for (target, level, version) in [
        (&mut enforce, enforce_level, enforce_version),
        (&mut audit, audit_level, audit_version),
        (&mut warn, warn_level, warn_version),
    ] {
        if let Some((level, _)) = level {
            target.level = level;
        }
        if let Some(version) = version {
            target.version = version;
        }
    }

    // Default warn to the enforce level when that is explicitly set (and valid) and stricter.
    let has_valid_enforce_level = matches!(enforce_level, Some((_, true)));
    if warn_level.is_none() && has_valid_enforce_level && enforce.level > warn.level {
        warn.level = enforce.level;
        if warn_version.is_none() {
            warn.version = enforce.version;
        }
    }
    NamespacePolicy { enforce, audit, warn, errors }
}

/// The level a label selects and whether its value was valid; `on_error` when it was not.
fn level_label(
    labels: &BTreeMap<String, String>,
    label: &'static str,
    on_error: Level,
    errors: &mut Vec<PssError>,
) -> Option<(Level, bool)> {
    let value = labels.get(label)?;
    Some(match value.parse() {
        Ok(level) => (level, true),
        Err(_) => {
            errors.push(PssError::InvalidLabel { label, value: value.clone(), reason: LEVEL_REASON });
            (on_error, false)
        }
    })
}

/// The version a label selects; `latest` when its value is invalid.
fn version_label(
    labels: &BTreeMap<String, String>,
    label: &'static str,
    errors: &mut Vec<PssError>,
) -> Option<Version> {
    let value = labels.get(label)?;
    Some(value.parse().unwrap_or_else(|_| {
        errors.push(PssError::InvalidLabel { label, value: value.clone(), reason: VERSION_REASON });
        Version::Latest
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_level() {
        // k8s.io/pod-security-admission/api/helpers.go ParseLevel: exact, case-sensitive.
        let rows = [
            ("privileged", Some(Level::Privileged)),
            ("baseline", Some(Level::Baseline)),
            ("restricted", Some(Level::Restricted)),
            ("Restricted", None),
            ("", None),
            (" baseline", None),
        ];
        for (input, want) in rows {
            assert_eq!(input.parse::<Level>().ok(), want, "input {input:?}");
        }
    }

    #[test]
    fn parse_version() {
        // k8s.io/pod-security-admission/api/helpers.go ParseVersion: ^v1\.([0-9]|[1-9][0-9]*)$
        let rows = [
            ("latest", Some(Version::Latest)),
            ("v1.0", Some(Version::V1(0))),
            ("v1.22", Some(Version::V1(22))),
            ("v1.999", Some(Version::V1(999))),
            ("v1.99999999999", Some(Version::V1(u32::MAX))),
            ("v1.99999999999999999999", None), // beyond Go's int: Atoi error
            ("v1.01", None),
            ("v1.", None),
            ("v2.0", None),
            ("1.22", None),
            ("v1.2a", None),
            ("Latest", None),
            ("", None),
        ];
        for (input, want) in rows {
            assert_eq!(input.parse::<Version>().ok(), want, "input {input:?}");
        }
    }

    #[test]
    fn version_order_and_clamp() {
        // k8s.io/pod-security-admission/api/helpers.go Version.Older; registry.go EvaluatePod clamp
        assert!(Version::V1(3) < Version::V1(22));
        assert!(Version::V1(u32::MAX) < Version::Latest);
        assert_eq!(Version::V1(40).effective_minor(34), 34);
        assert_eq!(Version::V1(12).effective_minor(34), 12);
        assert_eq!(Version::Latest.effective_minor(34), 34);
    }

    #[test]
    fn level_version_text_round_trip() {
        let rows = [
            ("restricted:v1.22", Some("restricted:v1.22")),
            ("baseline", Some("baseline:latest")),
            ("restricted:latest", Some("restricted:latest")),
            ("privileged:v1.0", Some("privileged:v1.0")),
            ("restricted:", None),
            ("nope:latest", None),
            ("baseline:v1.2:x", None),
        ];
        for (input, want) in rows {
            let got = input.parse::<LevelVersion>().ok().map(|lv| lv.to_string());
            assert_eq!(got.as_deref(), want, "input {input:?}");
        }
    }

    #[test]
    fn level_version_serde_is_a_string() {
        let lv = LevelVersion::new(Level::Restricted, Version::V1(30));
        let json = serde_json::to_string(&lv).expect("a LevelVersion serialises as a string");
        assert_eq!(json, "\"restricted:v1.30\"");
        let back: Result<LevelVersion, _> = serde_json::from_str(&json);
        assert_eq!(back.ok(), Some(lv));
        assert!(serde_json::from_str::<Level>("\"super\"").is_err());
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn lv(text: &str) -> LevelVersion {
        text.parse().unwrap_or(LevelVersion::PRIVILEGED_LATEST)
    }

    #[test]
    fn namespace_policy_rows() {
        // k8s.io/pod-security-admission/api/helpers_test.go TestPolicyToEvaluate (plus error rows)
        struct Row {
            name: &'static str,
            labels: &'static [(&'static str, &'static str)],
            enforce: &'static str,
            audit: &'static str,
            warn: &'static str,
            errors: &'static [&'static str],
        }
        let rows = [
            Row {
                name: "no labels: privileged:latest everywhere",
                labels: &[("other-label", "foo-bar")],
                enforce: "privileged:latest",
                audit: "privileged:latest",
                warn: "privileged:latest",
                errors: &[],
            },
            Row {
                name: "simple enforce: warn defaults to it",
                labels: &[(ENFORCE_LEVEL_LABEL, "baseline")],
                enforce: "baseline:latest",
                audit: "privileged:latest",
                warn: "baseline:latest",
                errors: &[],
            },
            Row {
                name: "simple warn",
                labels: &[(WARN_LEVEL_LABEL, "restricted")],
                enforce: "privileged:latest",
                audit: "privileged:latest",
                warn: "restricted:latest",
                errors: &[],
            },
            Row {
                name: "simple audit",
                labels: &[(AUDIT_LEVEL_LABEL, "baseline")],
                enforce: "privileged:latest",
                audit: "baseline:latest",
                warn: "privileged:latest",
                errors: &[],
            },
            Row {
                name: "enforce & warn",
                labels: &[(ENFORCE_LEVEL_LABEL, "baseline"), (WARN_LEVEL_LABEL, "restricted")],
                enforce: "baseline:latest",
                audit: "privileged:latest",
                warn: "restricted:latest",
                errors: &[],
            },
            Row {
                name: "enforce version: warn takes the enforce version too",
                labels: &[(ENFORCE_LEVEL_LABEL, "baseline"), (ENFORCE_VERSION_LABEL, "v1.22")],
                enforce: "baseline:v1.22",
                audit: "privileged:latest",
                warn: "baseline:v1.22",
                errors: &[],
            },
            Row {
                name: "enforce version & warn-version",
                labels: &[
                    (ENFORCE_LEVEL_LABEL, "baseline"),
                    (ENFORCE_VERSION_LABEL, "v1.22"),
                    (WARN_VERSION_LABEL, "latest"),
                ],
                enforce: "baseline:v1.22",
                audit: "privileged:latest",
                warn: "baseline:latest",
                errors: &[],
            },
            Row {
                name: "enforce & warn-version",
                labels: &[(ENFORCE_LEVEL_LABEL, "baseline"), (WARN_VERSION_LABEL, "v1.23")],
                enforce: "baseline:latest",
                audit: "privileged:latest",
                warn: "baseline:v1.23",
                errors: &[],
            },
            Row {
                name: "fully specified",
                labels: &[
                    (ENFORCE_LEVEL_LABEL, "baseline"),
                    (ENFORCE_VERSION_LABEL, "v1.20"),
                    (WARN_LEVEL_LABEL, "restricted"),
                    (WARN_VERSION_LABEL, "v1.21"),
                    (AUDIT_LEVEL_LABEL, "restricted"),
                    (AUDIT_VERSION_LABEL, "v1.22"),
                ],
                enforce: "baseline:v1.20",
                audit: "restricted:v1.22",
                warn: "restricted:v1.21",
                errors: &[],
            },
            Row {
                name: "enforce, explicit privileged warn",
                labels: &[(ENFORCE_LEVEL_LABEL, "baseline"), (WARN_LEVEL_LABEL, "privileged")],
                enforce: "baseline:latest",
                audit: "privileged:latest",
                warn: "privileged:latest",
                errors: &[],
            },
            Row {
                name: "enforce, invalid warn fails open and is not defaulted",
                labels: &[(ENFORCE_LEVEL_LABEL, "baseline"), (WARN_LEVEL_LABEL, "foo")],
                enforce: "baseline:latest",
                audit: "privileged:latest",
                warn: "privileged:latest",
                errors: &["metadata.labels[pod-security.kubernetes.io/warn]: Invalid value: \"foo\": \
                     must be one of privileged, baseline, restricted"],
            },
            Row {
                name: "invalid enforce fails closed to restricted and does not default warn",
                labels: &[(ENFORCE_LEVEL_LABEL, "foo")],
                enforce: "restricted:latest",
                audit: "privileged:latest",
                warn: "privileged:latest",
                errors: &["metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: \"foo\": \
                     must be one of privileged, baseline, restricted"],
            },
            Row {
                name: "invalid audit level and versions, errors in label order",
                labels: &[
                    (WARN_VERSION_LABEL, "v1"),
                    (AUDIT_LEVEL_LABEL, "x"),
                    (ENFORCE_VERSION_LABEL, "1.22"),
                    (AUDIT_VERSION_LABEL, "v1.5"),
                ],
                enforce: "privileged:latest",
                audit: "privileged:v1.5",
                warn: "privileged:latest",
                errors: &[
                    "metadata.labels[pod-security.kubernetes.io/enforce-version]: Invalid value: \"1.22\": \
                     must be \"latest\" or \"v1.x\"",
                    "metadata.labels[pod-security.kubernetes.io/audit]: Invalid value: \"x\": \
                     must be one of privileged, baseline, restricted",
                    "metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: \"v1\": \
                     must be \"latest\" or \"v1.x\"",
                ],
            },
        ];
        for row in rows {
            let got = namespace_policy(&labels(row.labels));
            assert_eq!(got.enforce, lv(row.enforce), "{}", row.name);
            assert_eq!(got.audit, lv(row.audit), "{}", row.name);
            assert_eq!(got.warn, lv(row.warn), "{}", row.name);
            let errors: Vec<String> = got.errors.iter().map(ToString::to_string).collect();
            assert_eq!(errors, row.errors, "{}", row.name);
        }
    }

    #[test]
    fn namespace_policy_uses_given_defaults() {
        let defaults = Policy {
            enforce: lv("baseline:v1.30"),
            audit: lv("restricted:latest"),
            warn: lv("restricted:latest"),
        };
        let got = namespace_policy_with_defaults(&labels(&[(ENFORCE_VERSION_LABEL, "v1.25")]), defaults);
        assert_eq!(got.enforce, lv("baseline:v1.25"));
        assert_eq!(got.policy().audit, lv("restricted:latest"));
    }
}
