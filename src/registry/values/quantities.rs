//! Registry values that are quantities rather than checked strings: a length
//! of time (`"1h30m"`) and a list of HTTP status codes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Invalid, invalid};

/// A length of time written as in `"90s"`, `"10m"`, `"2h"` or `"1h30m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Duration {
    secs: u64,
}

impl Duration {
    pub const fn from_secs(secs: u64) -> Self {
        Self { secs }
    }
    pub const fn as_secs(self) -> u64 {
        self.secs
    }
    /// Whole minutes, rounded up (Drone counts its build timeout in minutes).
    pub const fn as_minutes_ceil(self) -> u64 {
        self.secs.div_ceil(60)
    }
}

impl FromStr for Duration {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let expected = "expected a duration such as \"30s\", \"10m\", \"2h\" or \"1h30m\"";
        let mut secs: u64 = 0;
        let mut digits = String::new();
        let mut any_unit = false;
        for c in s.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let factor = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                _ => return Err(Invalid(expected.into())),
            };
            let n: u64 = digits.parse().map_err(|_| Invalid(expected.into()))?;
            secs = n
                .checked_mul(factor)
                .and_then(|v| secs.checked_add(v))
                .ok_or_else(|| Invalid(expected.into()))?;
            digits.clear();
            any_unit = true;
        }
        if !digits.is_empty() || !any_unit {
            return Err(Invalid(expected.into()));
        }
        Ok(Self { secs })
    }
}

impl TryFrom<String> for Duration {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Invalid> {
        s.parse()
    }
}

impl From<Duration> for String {
    fn from(d: Duration) -> String {
        d.to_string()
    }
}

impl fmt::Display for Duration {
    /// The shortest canonical spelling, so that `keys` shows defaults as written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, s) = (self.secs / 3600, self.secs % 3600 / 60, self.secs % 60);
        if self.secs == 0 {
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

/// A non-empty, duplicate-free list of HTTP status codes, kept sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<u16>", into = "Vec<u16>")]
pub struct StatusList(Vec<u16>);

impl StatusList {
    pub fn as_slice(&self) -> &[u16] {
        &self.0
    }
    pub fn contains(&self, status: u16) -> bool {
        self.0.contains(&status)
    }
}

impl TryFrom<Vec<u16>> for StatusList {
    type Error = Invalid;
    fn try_from(mut v: Vec<u16>) -> Result<Self, Invalid> {
        let expected = "a non-empty list of distinct HTTP status codes between 100 and 599";
        if v.is_empty() || v.iter().any(|s| !(100..=599).contains(s)) {
            return invalid(expected);
        }
        v.sort_unstable();
        if v.windows(2).any(|w| w[0] == w[1]) {
            return invalid(expected);
        }
        Ok(Self(v))
    }
}

impl From<StatusList> for Vec<u16> {
    fn from(v: StatusList) -> Self {
        v.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_canonically() {
        let cases = [
            ("30s", 30),
            ("10m", 600),
            ("2h", 7200),
            ("1h30m", 5400),
            ("1d", 86400),
        ];
        for (text, secs) in cases {
            let d: Duration = text.parse().unwrap();
            assert_eq!(d.as_secs(), secs);
            assert_eq!(d.to_string(), text.replace("1d", "24h"));
        }
        for bad in [
            "",
            "10",
            "m",
            "10 m",
            "-1s",
            "1.5h",
            "99999999999999999999h",
        ] {
            assert!(bad.parse::<Duration>().is_err(), "{bad}");
        }
        assert_eq!(Duration::from_secs(61).as_minutes_ceil(), 2);
    }

    #[test]
    fn status_lists_are_sorted_and_checked() {
        let l = StatusList::try_from(vec![302, 200]).unwrap();
        assert_eq!(l.as_slice(), &[200, 302]);
        assert!(StatusList::try_from(vec![]).is_err());
        assert!(StatusList::try_from(vec![200, 200]).is_err());
        assert!(StatusList::try_from(vec![99]).is_err());
        assert!(StatusList::try_from(vec![600]).is_err());
    }
}
