//! `schedule: [{cron: "0 2 * * 1"}]`: five-field cron expressions as GitHub Actions reads
//! them (UTC; `*`, lists, ranges and steps; month and day names; 7 is also Sunday).

/// A parsed cron expression: each field as the set of values it allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    source: String,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Whether day-of-month and day-of-week were `*`: when both are restricted, cron runs on
    /// days that match either.
    any_day: bool,
    any_weekday: bool,
}

/// A calendar minute, in UTC: the caller turns its clock into one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CalendarMinute {
    pub minute: u32,
    pub hour: u32,
    /// 1-31
    pub day: u32,
    /// 1-12
    pub month: u32,
    /// 0 is Sunday.
    pub weekday: u32,
}

impl CalendarMinute {
    /// The calendar minute (UTC) that is `minutes` whole minutes after the Unix epoch.
    pub fn from_unix_minutes(minutes: u64) -> CalendarMinute {
        let days = minutes / 1440;
        let (month, day) = month_and_day(days);
        CalendarMinute {
            minute: (minutes % 60) as u32,
            hour: (minutes / 60 % 24) as u32,
            day,
            month,
            // 1970-01-01 was a Thursday; Sunday is 0.
            weekday: ((days + 4) % 7) as u32,
        }
    }
}

/// The month and day of the `days`th day after 1970-01-01, by the proleptic Gregorian
/// calendar (the era arithmetic of Howard Hinnant's `civil_from_days`).
fn month_and_day(days: u64) -> (u32, u32) {
    let z = days + 719_468;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    (month as u32, day as u32)
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ],
    },
    // 7 is accepted as Sunday and folded onto 0 below.
    Field {
        name: "day of week",
        min: 0,
        max: 7,
        names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    },
];

impl Cron {
    pub fn parse(text: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "cron `{text}` has {} field{} (expected 5: minute hour day-of-month month day-of-week, e.g. `0 2 * * 1`)",
                fields.len(),
                if fields.len() == 1 { "" } else { "s" }
            ));
        }
        let mut sets = [0u64; 5];
        for (i, (field, spec)) in fields.iter().zip(&FIELDS).enumerate() {
            sets[i] = parse_field(field, spec).map_err(|e| format!("cron `{text}`: {e}"))?;
        }
        // Sunday is both 0 and 7.
        if sets[4] & (1 << 7) != 0 {
            sets[4] = (sets[4] & !(1 << 7)) | 1;
        }
        Ok(Cron {
            source: text.to_owned(),
            minutes: sets[0],
            hours: sets[1],
            days: sets[2],
            months: sets[3],
            weekdays: sets[4],
            any_day: fields[2] == "*",
            any_weekday: fields[4] == "*",
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the schedule fires at this minute.
    pub fn matches(&self, at: CalendarMinute) -> bool {
        let has = |set: u64, v: u32| v < 64 && set & (1 << v) != 0;
        let day = has(self.days, at.day);
        let weekday = has(self.weekdays, at.weekday);
        let day_matches = match (self.any_day, self.any_weekday) {
            (false, false) => day || weekday,
            _ => day && weekday,
        };
        has(self.minutes, at.minute)
            && has(self.hours, at.hour)
            && has(self.months, at.month)
            && day_matches
    }
}

fn parse_field(text: &str, field: &Field) -> Result<u64, String> {
    let mut set = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                    format!("`{item}` has a bad step in the {} field (expected a whole number from 1, e.g. */5)", field.name)
                })?;
                (range, step)
            }
            None => (item, 1),
        };
        let (low, high) = if range == "*" {
            (field.min, field.max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, field)?, value(b, field)?)
        } else {
            let v = value(range, field)?;
            // `5/15` means from 5 to the end in steps of 15.
            (v, if item.contains('/') { field.max } else { v })
        };
        if low > high {
            return Err(format!(
                "`{item}` is a backwards range in the {} field (expected low-high)",
                field.name
            ));
        }
        let mut v = low;
        while v <= high {
            set |= 1 << v;
            v += step;
        }
    }
    Ok(set)
}

fn value(text: &str, field: &Field) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    let named = field
        .names
        .iter()
        .position(|n| *n == lower)
        .and_then(|i| u32::try_from(i).ok())
        .map(|i| i + field.min);
    let v = named.or_else(|| text.parse().ok()).ok_or_else(|| {
        format!(
            "`{text}` is not a value of the {} field (expected {}-{}{})",
            field.name,
            field.min,
            field.max,
            if field.names.is_empty() {
                String::new()
            } else {
                format!(" or a name like {}", field.names[0].to_ascii_uppercase())
            }
        )
    })?;
    if v < field.min || v > field.max {
        return Err(format!(
            "{v} is out of range for the {} field (expected {}-{})",
            field.name, field.min, field.max
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: u32, hour: u32, day: u32, month: u32, weekday: u32) -> CalendarMinute {
        CalendarMinute {
            minute,
            hour,
            day,
            month,
            weekday,
        }
    }

    #[test]
    fn fires_when_cron_would() {
        let cases = [
            ("0 2 * * 1", at(0, 2, 17, 11, 1), true),
            ("0 2 * * 1", at(0, 2, 18, 11, 2), false),
            ("*/15 * * * *", at(45, 7, 1, 1, 3), true),
            ("*/15 * * * *", at(44, 7, 1, 1, 3), false),
            ("5/20 9-17 * * MON-FRI", at(25, 12, 3, 3, 5), true),
            ("0 0 1 JAN *", at(0, 0, 1, 1, 4), true),
            ("0 0 * * 7", at(0, 0, 9, 6, 0), true),
            // Both day fields restricted: either one suffices.
            ("0 0 13 * 5", at(0, 0, 20, 6, 5), true),
            ("0 0 13 * 5", at(0, 0, 13, 6, 2), true),
            ("0 0 13 * 5", at(0, 0, 14, 6, 2), false),
            ("0,30 8 * * *", at(30, 8, 2, 2, 2), true),
        ];
        for (text, when, want) in cases {
            let cron = Cron::parse(text).expect(text);
            assert_eq!(cron.matches(when), want, "{text} at {when:?}");
        }
    }

    #[test]
    fn unix_minutes_become_utc_calendar_minutes() {
        // Values from Python's datetime.
        assert_eq!(CalendarMinute::from_unix_minutes(0), at(0, 0, 1, 1, 4));
        assert_eq!(
            CalendarMinute::from_unix_minutes(29_922_270),
            at(30, 8, 22, 11, 0)
        );
        assert_eq!(
            CalendarMinute::from_unix_minutes(28_487_519),
            at(59, 23, 29, 2, 4)
        );
    }

    #[test]
    fn bad_crons_say_why() {
        let errors: Vec<String> = [
            "0 2 * *",
            "61 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 8",
            "*/0 * * * *",
            "10-5 * * * *",
            "x * * * *",
            "* * * FOO *",
        ]
        .iter()
        .map(|t| Cron::parse(t).err().unwrap_or_default())
        .collect();
        insta::assert_snapshot!(errors.join("\n"), @"
        cron `0 2 * *` has 4 fields (expected 5: minute hour day-of-month month day-of-week, e.g. `0 2 * * 1`)
        cron `61 * * * *`: 61 is out of range for the minute field (expected 0-59)
        cron `* 24 * * *`: 24 is out of range for the hour field (expected 0-23)
        cron `* * 0 * *`: 0 is out of range for the day of month field (expected 1-31)
        cron `* * * 13 *`: 13 is out of range for the month field (expected 1-12)
        cron `* * * * 8`: 8 is out of range for the day of week field (expected 0-7)
        cron `*/0 * * * *`: `*/0` has a bad step in the minute field (expected a whole number from 1, e.g. */5)
        cron `10-5 * * * *`: `10-5` is a backwards range in the minute field (expected low-high)
        cron `x * * * *`: `x` is not a value of the minute field (expected 0-59)
        cron `* * * FOO *`: `FOO` is not a value of the month field (expected 1-12 or a name like JAN)
        ");
    }
}
