//! Pure schedule arithmetic: (schedule, now) → what is due. Local times are
//! kept across DST changes (07:00 stays 07:00 local, whatever the UTC
//! offset); a local time that does not exist on a spring-forward day moves
//! to the first instant after the gap, and an ambiguous one takes the first.

use chrono::{DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::config::{Schedule, Slot};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub slot: Slot,
    /// The local calendar date of the send, which is the date.
    pub date: NaiveDate,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// The latest occurrence is within the grace window.
    Now(Occurrence),
    /// The latest occurrence is older than the grace window.
    Missed(Occurrence),
    /// No slot has ever occurred (no slots configured).
    Nothing,
}

/// The instant a slot falls on a given local date.
pub fn instant(tz: Tz, date: NaiveDate, slot: &Slot) -> DateTime<Utc> {
    let local = NaiveDateTime::new(date, slot.time);
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        // In a spring-forward gap: step forward minute by minute to the
        // first local time that exists.
        LocalResult::None => (1..=180)
            .find_map(|m| {
                tz.from_local_datetime(&(local + chrono::Duration::minutes(m)))
                    .earliest()
            })
            .map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc)),
    }
}

/// The slot's occurrences on the local days from `now`'s going back
/// (`forward == false`) or ahead, over nine days: always more than a week.
fn occurrences(
    tz: Tz,
    slot: &Slot,
    now: DateTime<Utc>,
    forward: bool,
) -> impl Iterator<Item = Occurrence> + '_ {
    let today = now.with_timezone(&tz).date_naive();
    (0..=8u64)
        .filter_map(move |n| {
            if forward {
                today.checked_add_days(Days::new(n))
            } else {
                today.checked_sub_days(Days::new(n))
            }
        })
        .filter(|d| d.weekday() == slot.weekday)
        .map(move |date| Occurrence {
            slot: slot.clone(),
            date,
            at: instant(tz, date, slot),
        })
}

/// The latest occurrence of `slot` at or before `now`.
pub fn latest(tz: Tz, slot: &Slot, now: DateTime<Utc>) -> Option<Occurrence> {
    occurrences(tz, slot, now, false).find(|o| o.at <= now)
}

/// The next occurrence of `slot` strictly after `now`.
pub fn next(tz: Tz, slot: &Slot, now: DateTime<Utc>) -> Option<Occurrence> {
    occurrences(tz, slot, now, true).find(|o| o.at > now)
}

/// What is due at `now`: the most recent occurrence over all slots, judged
/// against the grace window.
pub fn due(s: &Schedule, now: DateTime<Utc>) -> Due {
    let Some(o) = s
        .slots
        .iter()
        .filter_map(|slot| latest(s.timezone, slot, now))
        .max_by_key(|o| o.at)
    else {
        return Due::Nothing;
    };
    let late = now - o.at;
    if late.to_std().unwrap_or_default() <= s.grace {
        Due::Now(o)
    } else {
        Due::Missed(o)
    }
}

/// The next `n` sends after `now`, soonest first.
pub fn upcoming(s: &Schedule, now: DateTime<Utc>, n: usize) -> Vec<Occurrence> {
    let mut out = Vec::new();
    let mut t = now;
    while out.len() < n {
        let Some(o) = s
            .slots
            .iter()
            .filter_map(|slot| next(s.timezone, slot, t))
            .min_by_key(|o| o.at)
        else {
            break;
        };
        t = o.at;
        out.push(o);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, Weekday};
    use std::time::Duration;

    fn schedule() -> Schedule {
        let slot = |e: &str, w, h| Slot {
            edition: e.parse().unwrap(),
            weekday: w,
            time: NaiveTime::from_hms_opt(h, 0, 0).unwrap(),
            span: 0..0,
        };
        Schedule {
            timezone: "Europe/London".parse().unwrap(),
            grace: Duration::from_secs(6 * 3600),
            slots: vec![
                slot("midweek", Weekday::Wed, 7),
                slot("sunday", Weekday::Sun, 7),
            ],
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn due_at_its_time_not_a_minute_before() {
        let s = schedule();
        // London is on GMT in late November: 07:00 local is 07:00 UTC.
        match due(&s, at("2026-11-25T07:00:00Z")) {
            Due::Now(o) => assert_eq!(
                (o.slot.edition.as_str(), o.date.to_string().as_str()),
                ("midweek", "2026-11-25")
            ),
            other => panic!("{other:?}"),
        }
        // A minute before, the latest occurrence is last Sunday's, long past grace.
        assert!(
            matches!(due(&s, at("2026-11-25T06:59:00Z")), Due::Missed(o) if o.slot.edition.as_str() == "sunday")
        );
        assert!(
            matches!(due(&s, at("2026-11-29T07:00:00Z")), Due::Now(o) if o.slot.edition.as_str() == "sunday")
        );
    }

    #[test]
    fn grace_window() {
        let s = schedule();
        assert!(matches!(due(&s, at("2026-11-25T13:00:00Z")), Due::Now(_)));
        assert!(matches!(
            due(&s, at("2026-11-25T13:00:01Z")),
            Due::Missed(_)
        ));
    }

    #[test]
    fn dst_keeps_local_time() {
        let s = schedule();
        // Summer: 07:00 BST is 06:00 UTC (Wednesday 2026-07-01).
        assert!(matches!(due(&s, at("2026-07-01T06:00:00Z")), Due::Now(_)));
        assert!(matches!(
            due(&s, at("2026-07-01T05:59:00Z")),
            Due::Missed(_)
        ));
        // The clocks go back on Sunday 2026-10-25 at 02:00 BST: that day's
        // 07:00 is GMT, i.e. 07:00 UTC, not 06:00.
        assert!(matches!(
            due(&s, at("2026-10-25T06:30:00Z")),
            Due::Missed(_)
        ));
        assert!(
            matches!(due(&s, at("2026-10-25T07:00:00Z")), Due::Now(o) if o.date.to_string() == "2026-10-25")
        );
        // Spring forward on Sunday 2026-03-29: 07:00 BST = 06:00 UTC.
        assert!(matches!(due(&s, at("2026-03-29T06:00:00Z")), Due::Now(_)));
    }

    #[test]
    fn gap_times_move_forward() {
        let tz: Tz = "Europe/London".parse().unwrap();
        let slot = Slot {
            edition: "x".parse().unwrap(),
            weekday: Weekday::Sun,
            time: NaiveTime::from_hms_opt(1, 30, 0).unwrap(),
            span: 0..0,
        };
        // 01:30 does not exist on 2026-03-29 in London; 02:00 BST = 01:00 UTC.
        let t = instant(tz, "2026-03-29".parse().unwrap(), &slot);
        assert_eq!(t, at("2026-03-29T01:00:00Z"));
    }

    #[test]
    fn upcoming_sends() {
        let s = schedule();
        let u = upcoming(&s, at("2026-11-24T12:00:00Z"), 3);
        let d: Vec<String> = u
            .iter()
            .map(|o| format!("{} {}", o.date, o.slot.edition))
            .collect();
        assert_eq!(
            d,
            [
                "2026-11-25 midweek",
                "2026-11-29 sunday",
                "2026-12-02 midweek"
            ]
        );
    }
}
