//! [`Date`], the calendar day an ignore entry expires on, and [`today_utc`]: just enough calendar to compare expiry dates, without a date crate.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ScanError;

/// A day of the proleptic Gregorian calendar, written `YYYY-MM-DD`; ordered chronologically.
///
/// Values made through [`FromStr`] or [`today_utc`] are valid dates; the fields are public for
/// tests and literals, so a hand-made value is only as valid as its author made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// The year, for example 2026.
    pub year: i32,
    /// The month, 1 to 12.
    pub month: u8,
    /// The day of the month, 1 to 31.
    pub day: u8,
}

impl Date {
    /// The date `days` days after 1970-01-01 (negative: before it).
    ///
    /// Howard Hinnant's `civil_from_days`, valid for every day a build will ever run on.
    pub fn from_days_since_unix_epoch(days: i64) -> Date {
        let shifted = days + 719_468;
        let era = shifted.div_euclid(146_097);
        let day_of_era = shifted.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
        let month = if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        Date {
            year: i32::try_from(year).unwrap_or(i32::MAX),
            month: u8::try_from(month).unwrap_or(1),
            day: u8::try_from(day).unwrap_or(1),
        }
    }
}

/// Today's date in UTC, from the system clock (1970-01-01 if the clock is before it).
pub fn today_utc() -> Date {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    Date::from_days_since_unix_epoch(i64::try_from(seconds / 86_400).unwrap_or(0))
}

fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{:04}-{:02}-{:02}",
            self.year, self.month, self.day
        )
    }
}

/// Parses exactly `YYYY-MM-DD` (four, two and two ASCII digits) naming a real calendar day.
impl FromStr for Date {
    type Err = ScanError;

    fn from_str(text: &str) -> Result<Date, ScanError> {
        let invalid = |reason: &str| ScanError::InvalidDate {
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        let parts: Vec<&str> = text.split('-').collect();
        let [year, month, day] = parts.as_slice() else {
            return Err(invalid("expected YYYY-MM-DD"));
        };
        let all_digits = |part: &str, length: usize| {
            part.len() == length && part.bytes().all(|byte| byte.is_ascii_digit())
        };
        if !(all_digits(year, 4) && all_digits(month, 2) && all_digits(day, 2)) {
            return Err(invalid("expected YYYY-MM-DD"));
        }
        let (Ok(year), Ok(month), Ok(day)) = (year.parse(), month.parse(), day.parse()) else {
            return Err(invalid("expected YYYY-MM-DD"));
        };
        if !(1..=12).contains(&month) {
            return Err(invalid("the month must be 01 to 12"));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(invalid(&format!(
                "{year:04}-{month:02} has no day {day:02} (it has {} days)",
                days_in_month(year, month)
            )));
        }
        Ok(Date { year, month, day })
    }
}

impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_from_days_round_trips_known_days() {
        let known = [
            (0, "1970-01-01"),
            (-1, "1969-12-31"),
            (59, "1970-03-01"),
            (10_956, "1999-12-31"),
            (11_016, "2000-02-29"),
            (19_723, "2024-01-01"),
            (20_513, "2026-03-01"),
            (20_512, "2026-02-28"),
        ];
        for (days, text) in known {
            assert_eq!(Date::from_days_since_unix_epoch(days).to_string(), text);
        }
    }

    #[test]
    fn every_day_of_four_centuries_is_a_parseable_successor() {
        let mut previous = Date::from_days_since_unix_epoch(-1);
        for days in 0..146_097 {
            let date = Date::from_days_since_unix_epoch(days);
            assert!(date > previous, "{date} is not after {previous}");
            assert_eq!(date.to_string().parse::<Date>().unwrap(), date);
            previous = date;
        }
    }
}
