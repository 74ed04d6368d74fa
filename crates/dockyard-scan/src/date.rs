//! [`Date`], the calendar day an ignore entry expires on, and [`today_utc`]: the calendar itself is jiff's.

use std::fmt;
use std::str::FromStr;

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
    /// The date `days` days after 1970-01-01 (negative: before it), clamped to jiff's years -9999 to 9999.
    pub fn from_days_since_unix_epoch(days: i64) -> Date {
        let epoch = jiff::civil::Date::constant(1970, 1, 1);
        let date = epoch
            .checked_add(jiff::Span::new().days(days))
            .unwrap_or(if days < 0 {
                jiff::civil::Date::MIN
            } else {
                jiff::civil::Date::MAX
            });
        Date::from(date)
    }
}

impl From<jiff::civil::Date> for Date {
    fn from(date: jiff::civil::Date) -> Date {
        Date {
            year: i32::from(date.year()),
            month: u8::try_from(date.month()).unwrap_or(1),
            day: u8::try_from(date.day()).unwrap_or(1),
        }
    }
}

/// Today's date in UTC, from the system clock.
pub fn today_utc() -> Date {
    Date::from(
        jiff::Timestamp::now()
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .date(),
    )
}

/// The number of days in `month` of `year` (both already checked to be in range).
fn days_in_month(year: i16, month: i8) -> i8 {
    jiff::civil::Date::new(year, month, 1).map_or(31, jiff::civil::Date::days_in_month)
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
        let (Ok(year), Ok(month), Ok(day)) =
            (year.parse::<i16>(), month.parse::<i8>(), day.parse::<i8>())
        else {
            return Err(invalid("expected YYYY-MM-DD"));
        };
        if !(1..=12).contains(&month) {
            return Err(invalid("the month must be 01 to 12"));
        }
        match jiff::civil::Date::new(year, month, day) {
            Ok(date) => Ok(Date::from(date)),
            Err(_) => Err(invalid(&format!(
                "{year:04}-{month:02} has no day {day:02} (it has {} days)",
                days_in_month(year, month)
            ))),
        }
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
