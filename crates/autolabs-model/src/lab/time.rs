//! Time as the lab bundle needs it: unix seconds, RFC 3339 UTC text for annotations, and
//! TTL durations written the way operators write them (`90m`, `2h`, `1h30m`, `3600s`).
//!
//! No clock is read here: the caller passes `now`. Timestamps are whole seconds; RFC 3339
//! text is always UTC with a `Z` suffix, the form `metav1.Time` serializes to
//! (`k8s.io/apimachinery/pkg/apis/meta/v1/time.go` MarshalJSON uses `time.RFC3339`).

use std::fmt;

use k8s_openapi::jiff::SignedDuration;
use k8s_openapi::jiff::civil::DateTime;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The last second RFC 3339 can write with a four-digit year: 9999-12-31T23:59:59Z.
pub const MAX_TIMESTAMP: u64 = 253_402_300_799;

/// 1970-01-01T00:00:00, UTC's civil time at unix second 0.
const UNIX_EPOCH: DateTime = DateTime::constant(1970, 1, 1, 0, 0, 0, 0);

/// `secs` since the unix epoch as RFC 3339 UTC (`2026-11-25T18:56:02Z`); `None` past year 9999.
pub fn format_rfc3339(secs: u64) -> Option<String> {
    if secs > MAX_TIMESTAMP {
        return None;
    }
    // Civil time, not jiff's `Timestamp`: that ends a day early so that every offset of it
    // is a valid date, and the last second of 9999 is ours to write.
    let utc = UNIX_EPOCH.checked_add(SignedDuration::from_secs(i64::try_from(secs).ok()?)).ok()?;
    Some(utc.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// Parses RFC 3339 (`2026-11-25T18:56:02Z`, `…+03:00`, fractional seconds truncated) to unix
/// seconds; `None` for anything malformed or before 1970. The grammar is RFC 3339's
/// `date-time` (section 5.6), checked here; the calendar (days in a month, leap years, days
/// since the epoch) is jiff's.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i16> {
        let part = text.get(range)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':'
    {
        return None;
    }
    let small = |n: i16| i8::try_from(n).ok();
    // Refuses a day the month does not have, hour 24 and leap second 60.
    let local =
        DateTime::new(year, small(month)?, small(day)?, small(hour)?, small(minute)?, small(second)?, 0)
            .ok()?;
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset_secs: i64 = match rest {
        "Z" | "z" => 0,
        _ => {
            let ob = rest.as_bytes();
            if ob.len() != 6 || ob[3] != b':' {
                return None;
            }
            let sign = match ob[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits = |r: std::ops::Range<usize>| -> Option<i64> {
                let p = rest.get(r)?;
                p.bytes().all(|c| c.is_ascii_digit()).then(|| p.parse().ok())?
            };
            let (oh, om) = (digits(1..3)?, digits(4..6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    u64::try_from(local.duration_since(UNIX_EPOCH).as_secs() - offset_secs).ok()
}

/// A lab lifetime in whole seconds, written in YAML as `90m`, `2h`, `1h30m`, `3600s` or a
/// bare number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TtlDuration(pub u64);

impl TtlDuration {
    pub const fn hours(h: u64) -> Self {
        TtlDuration(h * 3600)
    }
    pub fn seconds(self) -> u64 {
        self.0
    }

    /// Parses `<n>h`, `<n>m`, `<n>s` terms in any combination (`1h30m`, `90m`, `3600s`), the
    /// integer subset of Go's `time.ParseDuration` (`time/format.go`); a bare number is seconds.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{text:?} is not a duration: write whole hours, minutes and seconds such as 2h, 90m, 1h30m or 3600s"
            )
        };
        let t = text.trim();
        if t.is_empty() {
            return Err(bad());
        }
        if t.bytes().all(|c| c.is_ascii_digit()) {
            return t.parse().map(TtlDuration).map_err(|_| bad());
        }
        let mut total: u64 = 0;
        let mut rest = t;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad());
            }
            let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit = match rest.as_bytes().first() {
                Some(b'h') => 3600,
                Some(b'm') if !rest.starts_with("ms") => 60,
                Some(b's') => 1,
                _ => return Err(bad()),
            };
            rest = &rest[1..];
            total = n.checked_mul(unit).and_then(|s| total.checked_add(s)).ok_or_else(bad)?;
        }
        Ok(TtlDuration(total))
    }

    /// Human text in a language: `2 h 30 min` / `2 ч 30 мин`.
    pub fn human(self, lang: crate::lab::Lang) -> String {
        human_duration(self.0, lang)
    }
}

/// `2 h 30 min` / `2 ч 30 мин`, `45 s` / `45 с`; zero parts omitted.
pub fn human_duration(secs: u64, lang: crate::lab::Lang) -> String {
    let (h, m, s) = match lang {
        crate::lab::Lang::En => ("h", "min", "s"),
        crate::lab::Lang::Ru => ("ч", "мин", "с"),
    };
    let parts: Vec<String> = [(secs / 3600, h), (secs % 3600 / 60, m), (secs % 60, s)]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect();
    if parts.is_empty() { format!("0 {s}") } else { parts.join(" ") }
}

impl fmt::Display for TtlDuration {
    /// The compact form that parses back: `2h`, `1h30m`, `45s`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, s) = (self.0 / 3600, self.0 % 3600 / 60, self.0 % 60);
        if self.0 == 0 {
            return f.write_str("0s");
        }
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if s > 0 {
            write!(f, "{s}s")?;
        }
        Ok(())
    }
}

impl Serialize for TtlDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for TtlDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Secs(u64),
            Text(String),
        }
        match Repr::deserialize(d) {
            Ok(Repr::Secs(n)) => Ok(TtlDuration(n)),
            Ok(Repr::Text(t)) => TtlDuration::parse(&t).map_err(serde::de::Error::custom),
            Err(_) => Err(serde::de::Error::custom(
                "expected a duration such as 2h, 90m, 1h30m or 3600s (or a whole number of seconds)",
            )),
        }
    }
}

impl JsonSchema for TtlDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A duration: 2h, 90m, 1h30m, 3600s, or a whole number of seconds.",
            "oneOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": "^([0-9]+[hms])+$|^[0-9]+$"}
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_timestamps() {
        // (unix seconds, RFC 3339): epoch, a leap day, the end of a leap year, Y2038, the max.
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_483_228_799, "2016-12-31T23:59:59Z"),
            (1_709_164_800, "2024-02-29T00:00:00Z"),
            (1_795_633_200, "2026-11-25T19:00:00Z"),
            (2_147_483_647, "2038-01-19T03:14:07Z"),
            (4_102_444_800, "2100-01-01T00:00:00Z"),
            (MAX_TIMESTAMP, "9999-12-31T23:59:59Z"),
        ];
        for (secs, text) in cases {
            assert_eq!(format_rfc3339(secs).as_deref(), Some(text), "{secs}");
            assert_eq!(parse_rfc3339(text), Some(secs), "{text}");
        }
        assert_eq!(format_rfc3339(MAX_TIMESTAMP + 1), None);
        // Past the last writable second through an offset: a number, as before jiff.
        assert_eq!(parse_rfc3339("9999-12-31T23:59:59-01:00"), Some(MAX_TIMESTAMP + 3600));
    }

    #[test]
    fn every_written_timestamp_reads_back() {
        // A stride prime to days and hours walks every time of day, month and leap rule.
        let mut secs = 0;
        while secs <= MAX_TIMESTAMP {
            let text = format_rfc3339(secs).expect("in range");
            assert_eq!(text.len(), 20, "{text}");
            assert_eq!(parse_rfc3339(&text), Some(secs), "{text}");
            secs += 9_999_991;
        }
    }

    #[test]
    fn parses_offsets_and_fractions_and_rejects_nonsense() {
        let cases: [(&str, Option<u64>); 12] = [
            ("2026-11-25T22:00:00+03:00", Some(1_795_633_200)),
            ("2026-11-25T18:30:00-00:30", Some(1_795_633_200)),
            ("2026-11-25T19:00:00.999Z", Some(1_795_633_200)),
            ("2026-11-25t19:00:00z", Some(1_795_633_200)),
            ("2026-11-25T19:00:00", None),
            ("2026-02-29T00:00:00Z", None),
            ("2026-13-01T00:00:00Z", None),
            ("2026-11-25T24:00:00Z", None),
            ("2026-11-25T19:00:60Z", None),
            ("2026-11-25T19:00:00.Z", None),
            ("1969-12-31T23:59:59Z", None),
            ("+026-11-25T19:00:00Z", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_rfc3339(text), want, "{text}");
        }
    }

    #[test]
    fn durations_parse_like_go_with_whole_units() {
        let cases: [(&str, Option<u64>); 11] = [
            ("90m", Some(5400)),
            ("2h", Some(7200)),
            ("1h30m", Some(5400)),
            ("3600s", Some(3600)),
            ("1h1m1s", Some(3661)),
            ("30m1h", Some(5400)),
            ("7200", Some(7200)),
            ("1.5h", None),
            ("2d", None),
            ("10ms", None),
            ("h", None),
        ];
        for (text, want) in cases {
            assert_eq!(TtlDuration::parse(text).ok().map(|d| d.0), want, "{text}");
        }
        for secs in [0, 45, 60, 3600, 5400, 3605, 28_800] {
            let d = TtlDuration(secs);
            assert_eq!(TtlDuration::parse(&d.to_string()), Ok(d));
        }
    }
}
