//! [`LabError`]: why a lab cannot be created or extended, in words a student or the backend
//! can show as they are, in English and Russian.

use std::fmt;

use super::time::{format_rfc3339, human_duration};

/// The language of a user-facing message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    En,
    Ru,
}

impl Lang {
    /// The language of a BCP 47 tag or an `Accept-Language` value: of the languages we speak
    /// (`ru`, `en`), the one the caller weighs highest (`q`, default 1; the earlier on a tie;
    /// `q=0` means "not this one"), as RFC 9110 §12.5.4 ranks them; English otherwise.
    /// `en;q=0.1, ru;q=0.9` is Russian.
    pub fn from_tag(tag: &str) -> Lang {
        let mut best: Option<(u32, Lang)> = None;
        for range in tag.split(',') {
            let mut parts = range.split(';');
            let primary = parts.next().unwrap_or("").trim().split(['-', '_']).next().unwrap_or("");
            let lang = if primary.eq_ignore_ascii_case("ru") {
                Lang::Ru
            } else if primary.eq_ignore_ascii_case("en") || primary == "*" {
                Lang::En
            } else {
                continue;
            };
            // Weights in thousandths: `q=0.9` → 900; a weight that does not parse counts as 1.
            let weight = parts
                .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
                .next()
                .and_then(|q| q.trim().parse::<f64>().ok())
                .map_or(1000, |q| (q.clamp(0.0, 1.0) * 1000.0).round() as u32);
            if weight > 0 && best.is_none_or(|(w, _)| weight > w) {
                best = Some((weight, lang));
            }
        }
        best.map_or(Lang::En, |(_, lang)| lang)
    }
}

/// A request the lab rules refuse. [`fmt::Display`] is the English message;
/// [`LabError::message`] gives either language and [`LabError::code`] a stable identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabError {
    /// The template is not on the list of loaded templates.
    #[error("{}", self.message(Lang::En))]
    UnknownTemplate { name: String, known: Vec<String> },
    /// The request names a different template than the one handed to `desired`.
    #[error("{}", self.message(Lang::En))]
    TemplateMismatch { requested: String, given: String },
    /// A template that does not pass validation against this platform.
    #[error("{}", self.message(Lang::En))]
    InvalidTemplate { name: String, problems: Vec<String> },
    /// The lab id cannot be part of object names and host names.
    #[error("{}", self.message(Lang::En))]
    InvalidId { id: String, reason: String },
    /// A lifetime or extension of zero seconds.
    #[error("{}", self.message(Lang::En))]
    TtlZero,
    /// A lifetime longer than the template allows.
    #[error("{}", self.message(Lang::En))]
    TtlTooLong { requested: u64, max: u64 },
    /// The lab has no readable `autolabs.io/created-at` / `expires-at` annotations.
    #[error("{}", self.message(Lang::En))]
    NoExpiry,
    /// The lab has already expired; it cannot be extended.
    #[error("{}", self.message(Lang::En))]
    Expired { expired_at: u64 },
    /// The extension would run past created-at + the template's maximum lifetime.
    #[error("{}", self.message(Lang::En))]
    ExtendBeyondMax { requested_until: u64, max_until: u64 },
    /// The expiry would not fit an RFC 3339 timestamp (a clock far in the future).
    #[error("{}", self.message(Lang::En))]
    TimeOutOfRange { seconds: u64 },
}

fn at(secs: u64) -> String {
    format_rfc3339(secs).unwrap_or_else(|| format!("@{secs}"))
}

impl LabError {
    /// A stable machine-readable code for API answers (`unknown_template`, `ttl_too_long`…).
    pub fn code(&self) -> &'static str {
        match self {
            LabError::UnknownTemplate { .. } => "unknown_template",
            LabError::TemplateMismatch { .. } => "template_mismatch",
            LabError::InvalidTemplate { .. } => "invalid_template",
            LabError::InvalidId { .. } => "invalid_id",
            LabError::TtlZero => "ttl_zero",
            LabError::TtlTooLong { .. } => "ttl_too_long",
            LabError::NoExpiry => "no_expiry",
            LabError::Expired { .. } => "expired",
            LabError::ExtendBeyondMax { .. } => "extend_beyond_max",
            LabError::TimeOutOfRange { .. } => "time_out_of_range",
        }
    }

    /// The message in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.english(),
            Lang::Ru => self.russian(),
        }
    }

    fn english(&self) -> String {
        let dur = |s: u64| human_duration(s, Lang::En);
        match self {
            LabError::UnknownTemplate { name, known } => {
                format!("there is no lab template {name:?}; available: {}", list(known, Lang::En))
            }
            LabError::TemplateMismatch { requested, given } => {
                format!("the request asks for template {requested:?} but template {given:?} was given")
            }
            LabError::InvalidTemplate { name, problems } => {
                format!("lab template {name:?} is not valid: {}", problems.join("; "))
            }
            LabError::InvalidId { id, reason } => format!("lab id {id:?} is not valid: {reason}"),
            LabError::TtlZero => "the lab time must be longer than zero".into(),
            LabError::TtlTooLong { requested, max } => format!(
                "a lab of this template may run at most {}; {} was asked for",
                dur(*max),
                dur(*requested)
            ),
            LabError::NoExpiry => {
                "this lab has no readable creation or expiry time, so it cannot be extended".into()
            }
            LabError::Expired { expired_at } => {
                format!("this lab expired at {}; start a new one", at(*expired_at))
            }
            LabError::ExtendBeyondMax { requested_until, max_until } => format!(
                "this lab may run only until {} (its template's maximum); extending to {} is not allowed",
                at(*max_until),
                at(*requested_until)
            ),
            LabError::TimeOutOfRange { seconds } => {
                format!("the time {seconds} (unix seconds) is out of range; check the server clock")
            }
        }
    }

    fn russian(&self) -> String {
        let dur = |s: u64| human_duration(s, Lang::Ru);
        match self {
            LabError::UnknownTemplate { name, known } => {
                format!("шаблона лабораторной {name:?} нет; доступны: {}", list(known, Lang::Ru))
            }
            LabError::TemplateMismatch { requested, given } => {
                format!("в запросе указан шаблон {requested:?}, а передан шаблон {given:?}")
            }
            LabError::InvalidTemplate { name, problems } => {
                format!("шаблон лабораторной {name:?} некорректен: {}", problems.join("; "))
            }
            LabError::InvalidId { id, reason } => {
                format!("недопустимый идентификатор лабораторной {id:?}: {reason}")
            }
            LabError::TtlZero => "время работы лабораторной должно быть больше нуля".into(),
            LabError::TtlTooLong { requested, max } => format!(
                "лабораторная этого шаблона может работать не дольше {}; запрошено {}",
                dur(*max),
                dur(*requested)
            ),
            LabError::NoExpiry => {
                "у этой лабораторной нет читаемого времени создания или окончания, продлить её нельзя".into()
            }
            LabError::Expired { expired_at } => {
                format!("время этой лабораторной истекло в {}; запустите новую", at(*expired_at))
            }
            LabError::ExtendBeyondMax { requested_until, max_until } => format!(
                "эта лабораторная может работать только до {} (максимум шаблона); продление до {} невозможно",
                at(*max_until),
                at(*requested_until)
            ),
            LabError::TimeOutOfRange { seconds } => {
                format!("время {seconds} (секунды unix) вне допустимого диапазона; проверьте часы сервера")
            }
        }
    }
}

fn list(items: &[String], lang: Lang) -> String {
    match (items.is_empty(), lang) {
        (false, _) => items.join(", "),
        (true, Lang::En) => "none".into(),
        (true, Lang::Ru) => "нет ни одного".into(),
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        })
    }
}
