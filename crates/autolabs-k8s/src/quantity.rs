//! Exact `resource.Quantity` values, as `k8s.io/apimachinery/pkg/api/resource` parses,
//! compares, adds and prints them.
//!
//! A [`Quantity`] is held as a signed count of nano-units (10⁻⁹) in an `i128`: exact for
//! every value a cluster stores (upstream rounds anything finer than `1n` up, and so do we),
//! so comparisons and sums used by LimitRange and ResourceQuota admission never drift.
//! The suffix family the value was written in ([`Format`]) is remembered for printing.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

const NANO: i128 = 1_000_000_000;

/// How a quantity was written, which decides how it is printed back (`Quantity.Format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// `Ki`, `Mi`, `Gi`… (powers of 1024).
    BinarySI,
    /// `m`, `k`, `M`, `G`… and no suffix.
    #[default]
    DecimalSI,
    /// `1e3`, `5E-3`.
    DecimalExponent,
}

/// An exact Kubernetes resource quantity.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

/// Why a string is not a quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// Upstream's own wording (`ErrFormatWrong`).
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    Format,
    /// Upstream's `ErrNumeric`-style refusal for values we cannot hold exactly.
    #[error("quantity {0:?} is too large")]
    TooLarge(String),
}

impl Quantity {
    /// Zero, printed as `0`.
    pub const ZERO: Quantity = Quantity { nanos: 0, format: Format::DecimalSI };

    /// Parses a quantity string exactly as `resource.ParseQuantity` does.
    ///
    /// ```
    /// use autolabs_k8s::Quantity;
    ///
    /// assert_eq!(Quantity::parse("1.5Gi").unwrap().to_string(), "1536Mi");
    /// assert!(Quantity::parse("1.5 Gi").is_err());
    /// ```
    pub fn parse(input: &str) -> Result<Self, QuantityError> {
        let s = input;
        if s.is_empty() {
            return Err(QuantityError::Format);
        }
        let (negative, rest) = match s.as_bytes()[0] {
            b'+' => (false, &s[1..]),
            b'-' => (true, &s[1..]),
            _ => (false, s),
        };
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(num_end);
        let (int_part, frac_part) = match number.split_once('.') {
            Some((i, f)) => (i, f),
            None => (number, ""),
        };
        if (int_part.is_empty() && frac_part.is_empty()) || frac_part.contains('.') {
            return Err(QuantityError::Format);
        }
        let (format, base2_pow, exp10) = parse_suffix(suffix).ok_or(QuantityError::Format)?;
        let too_large = || QuantityError::TooLarge(input.to_string());

        // mantissa = int_part frac_part as one integer; value = mantissa * 10^(exp10 - frac)
        let digits: String = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 38 {
            return Err(too_large());
        }
        let mantissa: i128 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| too_large())? };
        let mut scaled = mantissa.checked_mul(1i128 << base2_pow).ok_or_else(too_large)?;
        // nanos = scaled * 10^(9 + exp10 - frac_len)
        let shift = 9 + exp10 - frac_part.len() as i64;
        if shift >= 0 {
            let mul = pow10(shift).ok_or_else(too_large)?;
            scaled = scaled.checked_mul(mul).ok_or_else(too_large)?;
        } else {
            // Finer than a nano-unit: upstream rounds up (away from zero).
            match pow10(-shift) {
                Some(div) => {
                    let rounded = scaled / div;
                    scaled = if scaled % div != 0 { rounded + 1 } else { rounded };
                }
                None => scaled = if scaled != 0 { 1 } else { 0 },
            }
        }
        Ok(Quantity { nanos: if negative { -scaled } else { scaled }, format })
    }

    /// A quantity of whole units (cores, bytes, objects).
    pub fn from_units(units: i128) -> Self {
        Quantity { nanos: units * NANO, format: Format::DecimalSI }
    }

    /// A quantity of milli-units (`500m`).
    pub fn from_milli(milli: i128) -> Self {
        Quantity { nanos: milli * 1_000_000, format: Format::DecimalSI }
    }

    /// A byte count printed with binary suffixes (`512Mi`).
    pub fn from_bytes(bytes: i128) -> Self {
        Quantity { nanos: bytes * NANO, format: Format::BinarySI }
    }

    /// The same value, printed in another suffix family.
    pub fn with_format(self, format: Format) -> Self {
        Quantity { format, ..self }
    }

    /// The suffix family the value was written in.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The exact value in nano-units.
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    /// `Quantity.MilliValue()`: milli-units, rounded up.
    pub fn milli_value(&self) -> i128 {
        div_ceil(self.nanos, 1_000_000)
    }

    /// `Quantity.Value()`: whole units, rounded up.
    pub fn value(&self) -> i128 {
        div_ceil(self.nanos, NANO)
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    /// Exact sum; `None` on overflow. The format of `self` wins, except that a zero `self`
    /// takes `other`'s (upstream `Quantity.Add`: `if q.IsZero() { q.Format = y.Format }`).
    pub fn checked_add(self, other: Quantity) -> Option<Quantity> {
        Some(Quantity { nanos: self.nanos.checked_add(other.nanos)?, format: self.combined_format(other) })
    }

    /// Exact difference; `None` on overflow. Formats combine as in [`Self::checked_add`].
    pub fn checked_sub(self, other: Quantity) -> Option<Quantity> {
        Some(Quantity { nanos: self.nanos.checked_sub(other.nanos)?, format: self.combined_format(other) })
    }

    fn combined_format(self, other: Quantity) -> Format {
        if self.nanos == 0 { other.format } else { self.format }
    }

    /// Exact product with an integer; `None` on overflow.
    pub fn checked_mul(self, factor: i128) -> Option<Quantity> {
        Some(Quantity { nanos: self.nanos.checked_mul(factor)?, format: self.format })
    }

    /// How many whole times `part` fits in `self` (for "how many labs fit"); `None` when
    /// `part` is zero or negative.
    pub fn fits(self, part: Quantity) -> Option<i128> {
        (part.nanos > 0).then(|| self.nanos.max(0) / part.nanos)
    }

    /// The k8s-openapi wrapper, holding the canonical string.
    pub fn to_k8s(self) -> crate::k8s::K8sQuantity {
        crate::k8s::K8sQuantity(self.to_string())
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}
impl Eq for Quantity {}
impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}
impl std::hash::Hash for Quantity {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.nanos.hash(state)
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

impl TryFrom<&crate::k8s::K8sQuantity> for Quantity {
    type Error = QuantityError;
    fn try_from(q: &crate::k8s::K8sQuantity) -> Result<Self, Self::Error> {
        Quantity::parse(&q.0)
    }
}

/// Canonical form, as `Quantity.String()` prints it: binary suffixes when the value was
/// binary, is whole and at least 1024 in magnitude and divides evenly; otherwise the largest
/// decimal suffix that keeps the mantissa whole.
impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        let sign = if self.nanos < 0 { "-" } else { "" };
        let abs = self.nanos.unsigned_abs();
        if self.format == Format::BinarySI && abs.is_multiple_of(NANO as u128) && abs / NANO as u128 >= 1024 {
            let mut units = abs / NANO as u128;
            let mut idx = 0;
            while idx < BINARY.len() - 1 && units.is_multiple_of(1024) {
                units /= 1024;
                idx += 1;
            }
            return write!(f, "{sign}{units}{}", BINARY[idx]);
        }
        // decimal: exponent e in -9..=18 step 3, mantissa = abs / 10^(e+9)
        let mut mantissa = abs;
        let mut idx = 0; // index into DECIMAL: 0 = n
        while idx < DECIMAL.len() - 1 && mantissa.is_multiple_of(1000) {
            mantissa /= 1000;
            idx += 1;
        }
        let suffix = if self.format == Format::DecimalExponent {
            match DECIMAL[idx] {
                "" => String::new(),
                _ => format!("e{}", (idx as i32) * 3 - 9),
            }
        } else {
            DECIMAL[idx].to_string()
        };
        write!(f, "{sign}{mantissa}{suffix}")
    }
}

const BINARY: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
const DECIMAL: [&str; 10] = ["n", "u", "m", "", "k", "M", "G", "T", "P", "E"];

/// Returns (format, power of two, power of ten) for a suffix.
fn parse_suffix(suffix: &str) -> Option<(Format, u32, i64)> {
    Some(match suffix {
        "" => (Format::DecimalSI, 0, 0),
        "Ki" => (Format::BinarySI, 10, 0),
        "Mi" => (Format::BinarySI, 20, 0),
        "Gi" => (Format::BinarySI, 30, 0),
        "Ti" => (Format::BinarySI, 40, 0),
        "Pi" => (Format::BinarySI, 50, 0),
        "Ei" => (Format::BinarySI, 60, 0),
        "n" => (Format::DecimalSI, 0, -9),
        "u" => (Format::DecimalSI, 0, -6),
        "m" => (Format::DecimalSI, 0, -3),
        "k" => (Format::DecimalSI, 0, 3),
        "M" => (Format::DecimalSI, 0, 6),
        "G" => (Format::DecimalSI, 0, 9),
        "T" => (Format::DecimalSI, 0, 12),
        "P" => (Format::DecimalSI, 0, 15),
        "E" => (Format::DecimalSI, 0, 18),
        s if s.starts_with(['e', 'E']) => {
            let exp = &s[1..];
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 4 {
                return None;
            }
            (Format::DecimalExponent, 0, exp.parse().ok()?)
        }
        _ => return None,
    })
}

fn pow10(n: i64) -> Option<i128> {
    if !(0..=38).contains(&n) {
        return None;
    }
    10i128.checked_pow(n as u32)
}

fn div_ceil(a: i128, b: i128) -> i128 {
    let q = a / b;
    if a % b > 0 { q + 1 } else { q }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    #[test]
    fn parses_every_suffix_family() {
        assert_eq!(q("500m").milli_value(), 500);
        assert_eq!(q("0.5").milli_value(), 500);
        assert_eq!(q("1Gi").value(), 1 << 30);
        assert_eq!(q("1G").value(), 1_000_000_000);
        assert_eq!(q("1e3").value(), 1000);
        assert_eq!(q("1E3").value(), 1000);
        assert_eq!(q("1E").value(), 1_000_000_000_000_000_000);
        assert_eq!(q("+2").value(), 2);
        assert_eq!(q("-2").value(), -2);
        assert_eq!(q(".5").milli_value(), 500);
        assert_eq!(q("5.").value(), 5);
        assert_eq!(q("1.5Gi"), q("1536Mi"));
    }

    #[test]
    fn rejects_what_upstream_rejects() {
        for bad in ["", "abc", "1.2.3", "1Gb", "1 Gi", "1e", "--1", "m", ".", "1ki", "1KI"] {
            assert!(Quantity::parse(bad).is_err(), "{bad:?} must not parse");
        }
    }

    #[test]
    fn zero_takes_the_other_format_when_adding() {
        let sum = Quantity::ZERO.checked_add(q("512Mi")).unwrap();
        assert_eq!(sum.to_string(), "512Mi");
        assert_eq!(q("1").checked_add(q("1Ki")).unwrap().format(), Format::DecimalSI);
    }

    #[test]
    fn rounds_finer_than_nano_up() {
        assert_eq!(q("0.1n").nanos(), 1);
        assert_eq!(q("1.5n").nanos(), 2);
        // Value() and MilliValue() round up as upstream does.
        assert_eq!(q("1m").value(), 1);
        assert_eq!(q("1n").milli_value(), 1);
    }

    #[test]
    fn prints_canonically() {
        for (input, canonical) in [
            ("1000", "1k"),
            ("1500", "1500"),
            ("0.5", "500m"),
            ("1536Mi", "1536Mi"),
            ("1.5Gi", "1536Mi"),
            ("1024", "1024"),
            ("1024Ki", "1Mi"),
            ("100Ki", "100Ki"),
            ("0", "0"),
            ("0.001", "1m"),
            ("1e3", "1e3"),
            ("-250m", "-250m"),
        ] {
            assert_eq!(q(input).to_string(), canonical, "{input}");
        }
    }

    proptest! {
        #[test]
        fn printing_round_trips(n in -1_000_000_000_000i128..1_000_000_000_000i128, fmt in 0u8..3) {
            let format = [Format::BinarySI, Format::DecimalSI, Format::DecimalExponent][fmt as usize];
            let v = Quantity { nanos: n * 1000, format };
            prop_assert_eq!(Quantity::parse(&v.to_string()).unwrap(), v);
        }

        #[test]
        fn addition_is_exact(a in 0i128..1_000_000_000, b in 0i128..1_000_000_000) {
            let sum = Quantity::from_milli(a).checked_add(Quantity::from_milli(b)).unwrap();
            prop_assert_eq!(sum.milli_value(), a + b);
        }
    }
}
