//! CronJob schedules as Kubernetes reads them, in one place for every caller (platform.yaml
//! validation, the rendered alert deadlines, the backup engine of `verify`).
//!
//! The API server validates `spec.schedule` with robfig/cron v3's `ParseStandard`
//! (`k8s.io/kubernetes/pkg/apis/batch/validation/validation.go` validateScheduleFormat), and
//! the CronJob controller computes run times with the same parser
//! (`pkg/controller/cronjob/utils.go`). This module mirrors that parser: five fields
//! (minute, hour, day of month, month, day of week), `*`/`?`, ranges, steps, lists, month and
//! weekday names, the `@hourly`-style descriptors and `@every <duration>`. Time zones are not
//! part of the expression: Kubernetes refuses `TZ=`/`CRON_TZ=` prefixes and has
//! `spec.timeZone` instead; runs here are computed in UTC.
//!
//! On top of parsing it answers what operators ask of a schedule: how long it can go without
//! running (the longest gap, i.e. a backup's recovery point objective) and whether it runs at
//! all (`0 2 31 2 *` parses, and never runs).

use k8s_openapi::jiff::civil::Date;

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Fields(Fields),
    /// `@every <duration>`: a fixed period, in seconds.
    Every(u64),
}

/// Each field as a bit set (bit n set: value n matches).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fields {
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    /// The day-of-month or day-of-week field is a bare `*`/`?` (robfig's starBit).
    day_star: bool,
}

/// Years simulated for gaps: two leap cycles, so yearly and leap-day schedules show their
/// real gap.
const HORIZON_YEARS: i16 = 8;
/// The first simulated year (any year works; leap years recur every 4 within the horizon).
const START_YEAR: i16 = 2026;

const MONTH_NAMES: [&str; 12] =
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Schedule {
    /// Parses `expr` as `cron.ParseStandard` does; the error says which field is wrong.
    pub fn parse(expr: &str) -> Result<Schedule, String> {
        let expr = expr.trim();
        if expr.starts_with("TZ=") || expr.starts_with("CRON_TZ=") {
            // validation.go validateTimeZone path: "cannot use TZ or CRON_TZ in schedule".
            return Err("TZ and CRON_TZ are not allowed in a schedule; Kubernetes has spec.timeZone".into());
        }
        if let Some(duration) = expr.strip_prefix("@every ") {
            // robfig parser.go parseDescriptor: time.ParseDuration, then at least one second.
            return Ok(Schedule { kind: Kind::Every(go_duration_seconds(duration.trim())?.max(1)) });
        }
        let expr = match expr {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            e if e.starts_with('@') => return Err(format!("unknown descriptor {e:?}")),
            e => e,
        };
        let fields: Vec<&str> = expr.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week), found {}",
                fields.len()
            ));
        }
        let (minutes, _) = field(fields[0], 0, 59, &[], "minute")?;
        let (hours, _) = field(fields[1], 0, 23, &[], "hour")?;
        let (days_of_month, dom_star) = field(fields[2], 1, 31, &[], "day of month")?;
        let (months, _) = field(fields[3], 1, 12, &MONTH_NAMES, "month")?;
        let (mut days_of_week, dow_star) = field(fields[4], 0, 7, &WEEKDAY_NAMES, "day of week")?;
        // robfig: 7 is Sunday too.
        if days_of_week & (1 << 7) != 0 {
            days_of_week |= 1;
        }
        Ok(Schedule {
            kind: Kind::Fields(Fields {
                minutes,
                hours,
                days_of_month,
                months,
                days_of_week,
                day_star: dom_star || dow_star,
            }),
        })
    }

    /// The longest time between two consecutive runs, in minutes (UTC, no daylight saving);
    /// `None` when it runs less than twice in eight years (see [`Schedule::runs`]).
    /// `0 2 * * *` → 1440; `0 * * * *` → 60; `@every 90m` → 90.
    pub fn longest_gap_minutes(&self) -> Option<u64> {
        let fields = match &self.kind {
            Kind::Every(seconds) => return Some(seconds.div_ceil(60)),
            Kind::Fields(f) => f,
        };
        let mut last: Option<u64> = None;
        let mut longest = 0u64;
        let mut day_index = 0u64;
        for year in START_YEAR..START_YEAR + HORIZON_YEARS {
            for month in 1..=12i8 {
                let Ok(first) = Date::new(year, month, 1) else { continue };
                let days = first.days_in_month();
                if fields.months & (1 << month) == 0 {
                    day_index += days as u64;
                    continue;
                }
                for day in 1..=days {
                    let weekday = first.weekday().to_sunday_zero_offset() + day - 1;
                    if fields.day_matches(day as u32, (weekday % 7) as u32) {
                        for hour in (0..24u64).filter(|h| fields.hours & (1 << h) != 0) {
                            for minute in (0..60u64).filter(|m| fields.minutes & (1 << m) != 0) {
                                let at = day_index * 1440 + hour * 60 + minute;
                                if let Some(previous) = last {
                                    longest = longest.max(at - previous);
                                }
                                last = Some(at);
                            }
                        }
                    }
                    day_index += 1;
                }
            }
        }
        (longest > 0).then_some(longest)
    }

    /// Whether it runs at all: `0 2 31 2 *` (February 31st) and `0 0 30 2 *` parse, as they do
    /// for the API server, and never run.
    pub fn runs(&self) -> bool {
        self.longest_gap_minutes().is_some()
    }
}

impl Fields {
    // robfig spec.go dayMatches: with either day field starred both must match, otherwise
    // either may.
    fn day_matches(&self, day_of_month: u32, day_of_week: u32) -> bool {
        let dom = self.days_of_month & (1 << day_of_month) != 0;
        let dow = self.days_of_week & (1 << day_of_week) != 0;
        if self.day_star { dom && dow } else { dom || dow }
    }
}

/// One field as a bit set, and whether it is a bare `*`/`?` (robfig parser.go getField,
/// getRange: `N/step` runs from N to the field's end; a range whose start is past its end, a
/// value out of bounds or a zero step is an error).
fn field(text: &str, lo: u32, hi: u32, names: &[&str], what: &str) -> Result<(u64, bool), String> {
    let value = |s: &str| -> Result<u32, String> {
        if let Ok(n) = s.parse::<u32>() {
            return Ok(n);
        }
        let upper = s.to_ascii_uppercase();
        names
            .iter()
            .position(|n| *n == upper)
            .map(|i| i as u32 + if lo == 1 { 1 } else { 0 })
            .ok_or_else(|| format!("{s:?} is not valid in the {what} field"))
    };
    let mut bits = 0u64;
    let mut star = false;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().map_err(|_| format!("bad step {s:?} in the {what} field"))?),
            None => (part, 1),
        };
        if step == 0 {
            return Err(format!("step 0 in the {what} field"));
        }
        let (start, end) = if range == "*" || range == "?" {
            star |= step == 1;
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let v = value(range)?;
            (v, if part.contains('/') { hi } else { v })
        };
        if start < lo || end > hi {
            return Err(format!("{part:?} is outside {lo}-{hi} in the {what} field"));
        }
        if start > end {
            return Err(format!("{part:?}: the range starts after it ends in the {what} field"));
        }
        let mut v = start;
        while v <= end {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok((bits, star))
}

/// Whole seconds of a Go duration (`1h30m`, `90s`, `2h`); fractions of a second are dropped,
/// as robfig does.
fn go_duration_seconds(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not a duration (examples: 30m, 1h30m)");
    if text.is_empty() {
        return Err(bad());
    }
    let mut total_ms = 0u64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let factor_ms = match &rest[..unit_len] {
            "h" => 3_600_000,
            "m" => 60_000,
            "s" => 1_000,
            "ms" => 1,
            _ => return Err(bad()),
        };
        total_ms = number.checked_mul(factor_ms).and_then(|v| total_ms.checked_add(v)).ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    Ok(total_ms / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gap(expr: &str) -> Option<u64> {
        Schedule::parse(expr).expect("parses").longest_gap_minutes()
    }

    #[test]
    fn gaps_of_common_schedules() {
        for (expr, expected, why) in [
            ("0 2 * * *", Some(1440), "daily"),
            ("0 * * * *", Some(60), "hourly"),
            ("*/15 * * * *", Some(15), "every 15 minutes"),
            ("0 0 * * 0", Some(7 * 1440), "weekly"),
            ("0 0 1 * *", Some(31 * 1440), "monthly: the longest month"),
            ("0 0 29 2 *", Some(1461 * 1440), "leap day: four years"),
            ("0 2 31 2 *", None, "February 31st never comes"),
            ("0 0 30 2 *", None, "February 30th never comes"),
            ("0 0 1,15 * 5", Some(7 * 1440), "day fields OR: the 1st, the 15th and every Friday"),
            ("0 0 * * 7", Some(7 * 1440), "7 is Sunday"),
            ("0 3 * JAN-MAR MON", Some(7 * 1440 + (365 - 90) * 1440), "names"),
            ("@daily", Some(1440), "descriptor"),
            ("@every 90m", Some(90), "fixed period"),
            ("@every 1h30m", Some(90), "Go duration"),
        ] {
            let got = gap(expr);
            if expr == "0 3 * JAN-MAR MON" {
                // From the last Monday of March to the first of January: at least 9 months.
                assert!(got.is_some_and(|g| g > 270 * 1440), "{expr}: {why}: {got:?}");
                continue;
            }
            assert_eq!(got, expected, "{expr}: {why}");
        }
    }

    #[test]
    fn errors_name_the_field() {
        for (expr, needle) in [
            ("0 25 * * *", "outside 0-23 in the hour field"),
            ("* * *", "expected 5 fields"),
            ("5-3 * * * *", "starts after it ends in the minute field"),
            ("*/0 * * * *", "step 0"),
            ("0 0 * FOO *", "\"FOO\" is not valid in the month field"),
            ("TZ=UTC 0 0 * * *", "spec.timeZone"),
            ("@fortnightly", "unknown descriptor"),
            ("@every soon", "not a duration"),
        ] {
            let error = Schedule::parse(expr).expect_err(expr);
            assert!(error.contains(needle), "{expr}: {error}");
        }
    }

    #[test]
    fn runs_tells_never_running_schedules_apart() {
        assert!(Schedule::parse("0 2 * * *").unwrap().runs());
        assert!(!Schedule::parse("0 2 31 2 *").unwrap().runs());
        assert!(!Schedule::parse("0 2 31 4,6,9,11 *").unwrap().runs());
    }
}
