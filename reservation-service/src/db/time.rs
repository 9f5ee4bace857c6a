//! Times as the database keeps them: fixed-width RFC 3339 text in UTC with microseconds, e.g.
//! `2030-01-01T10:00:00.000000Z`. Fixed width makes text order time order, so `ORDER BY` and
//! comparisons work on the text in both SQLite and PostgreSQL.
//!
//! Microseconds are the precision of the stored text, so a time that is stored and also handed
//! back comes from [`now`] or goes through [`stored_precision`]: what a client is given when it
//! creates something is what it reads later. Nothing outside `db` needs to know the precision.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};

/// The current time at the precision the database keeps.
pub fn now() -> DateTime<Utc> {
    stored_precision(Utc::now())
}

/// `time` cut to the precision the database keeps.
pub fn stored_precision(time: DateTime<Utc>) -> DateTime<Utc> {
    time.trunc_subsecs(6)
}

/// The stored form of `time`; anything below a microsecond is dropped.
pub fn format(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Also reads a year past 9999 (`+10000-…`), which RFC 3339 cannot write but which [`format`]
/// wrote before requests were bounded: such a row must still be readable.
pub fn parse(text: &str) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .or_else(|error| {
            text.strip_suffix('Z')
                .and_then(|local| {
                    chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S%.f").ok()
                })
                .map(|time| time.and_utc())
                .ok_or(error)
        })
        .map_err(|error| sqlx::Error::Decode(Box::new(error)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_time_reads_back_unchanged() {
        let time = now();
        assert_eq!(parse(&format(time)).ok(), Some(time));
    }

    #[test]
    fn a_time_past_year_9999_written_earlier_still_reads() {
        let far = DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z")
            .map(|time| time.with_timezone(&Utc))
            .expect("valid time")
            + chrono::Duration::days(1);
        assert_eq!(format(far), "+10000-01-01T23:59:59.000000Z");
        assert_eq!(parse(&format(far)).ok(), Some(far));
    }

    #[test]
    fn stored_times_are_fixed_width_so_text_order_is_time_order() {
        let whole_second = DateTime::parse_from_rfc3339("2030-01-01T10:00:00Z")
            .map(|time| time.with_timezone(&Utc))
            .expect("valid time");
        let later = whole_second + chrono::Duration::nanoseconds(1_500);
        assert_eq!(format(whole_second), "2030-01-01T10:00:00.000000Z");
        assert_eq!(format(later), "2030-01-01T10:00:00.000001Z");
        assert!(format(whole_second) < format(later));
    }
}
