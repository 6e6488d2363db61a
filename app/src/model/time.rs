//! Times in words for the page: "12 s ago", "in 3 min", "45.3 s", and exact times for hover
//! text. Pure functions of milliseconds, so the server and the browser say the same thing.

/// The current time in ms since the epoch, by this side's clock.
pub fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_millis() as f64)
    }
}

/// A duration in words, rounded to what matters at its size: "0.4 s", "45.3 s", "2 min 5 s",
/// "1 h 2 min", "an hour" is "1 h".
pub fn duration_words(ms: u64) -> String {
    let secs = ms / 1000;
    if ms < 60_000 {
        // Tenths of a second, rounded half up, in integers (no float formatting in the WASM).
        let tenths = (ms + 50) / 100;
        return format!("{}.{} s", tenths / 10, tenths % 10);
    }
    if secs < 3600 {
        let (m, s) = (secs / 60, secs % 60);
        return if s == 0 {
            format!("{m} min")
        } else {
            format!("{m} min {s} s")
        };
    }
    let (h, m) = (secs / 3600, (secs % 3600) / 60);
    if m == 0 {
        format!("{h} h")
    } else {
        format!("{h} h {m} min")
    }
}

/// How far `at` is from `now`, in words: "just now", "12 s ago", "in 3 min".
pub fn relative(at_ms: u64, now_ms: f64) -> String {
    let diff = now_ms - at_ms as f64;
    let words = |ms: f64| {
        let secs = (ms / 1000.0).round() as u64;
        if secs < 60 {
            format!("{secs} s")
        } else if secs < 3600 {
            format!("{} min", secs / 60)
        } else if secs < 86_400 {
            format!("{} h", secs / 3600)
        } else {
            format!("{} d", secs / 86_400)
        }
    };
    if diff.abs() < 1500.0 {
        "just now".to_string()
    } else if diff > 0.0 {
        format!("{} ago", words(diff))
    } else {
        format!("in {}", words(-diff))
    }
}

/// The exact time, for hover text and `<time datetime>`: `2026-11-29 07:45:12 UTC`.
pub fn exact(at_ms: u64) -> String {
    let secs = at_ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        (rest % 3600) / 60,
        rest % 60
    )
}

/// The time as `<time datetime>` wants it: `2026-11-28T07:45:12Z`.
pub fn iso(at_ms: u64) -> String {
    let text = exact(at_ms);
    format!("{}Z", text.trim_end_matches(" UTC").replacen(' ', "T", 1))
}

/// The time of day of `at` where the reader is: in the browser its own time zone, named by
/// its offset (`08:45:12 UTC+1`); on the server, which does not know it, UTC (`07:45:12 UTC`).
/// A page rendered on the server says UTC until its clock next ticks in the browser; the exact
/// UTC time stays in the hover text ([`exact`]).
pub fn clock(at_ms: u64) -> String {
    clock_at_offset(at_ms, local_offset_minutes(at_ms))
}

/// The reader's offset from UTC at `at`, in minutes east (the browser's; 0 on the server).
fn local_offset_minutes(at_ms: u64) -> i64 {
    #[cfg(feature = "hydrate")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at_ms as f64));
        -(date.get_timezone_offset() as i64)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = at_ms;
        0
    }
}

/// The time of day of `at` at `offset` minutes east of UTC, named by the offset.
pub fn clock_at_offset(at_ms: u64, offset: i64) -> String {
    let secs = (at_ms / 1000) as i64 + offset * 60;
    let rest = secs.rem_euclid(86_400);
    let zone = match offset {
        0 => "UTC".to_string(),
        _ => {
            let sign = if offset > 0 { '+' } else { '-' };
            let (h, m) = (offset.abs() / 60, offset.abs() % 60);
            if m == 0 {
                format!("UTC{sign}{h}")
            } else {
                format!("UTC{sign}{h}:{m:02}")
            }
        }
    };
    format!(
        "{:02}:{:02}:{:02} {zone}",
        rest / 3600,
        (rest % 3600) / 60,
        rest % 60
    )
}

/// `(year, month, day)` of a day count since 1970-01-01 (Howard Hinnant's civil calendar
/// algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A size in bytes, in words (`812 KB`, `1.4 MB`, `2.0 GB`).
pub fn bytes_words(n: u64) -> String {
    const KB: f64 = 1024.0;
    let n = n as f64;
    if n >= KB * KB * KB {
        format!("{:.1} GB", n / (KB * KB * KB))
    } else if n >= KB * KB {
        format!("{:.1} MB", n / (KB * KB))
    } else {
        format!("{:.0} KB", n / KB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_words() {
        let cases = [
            (0, "0.0 s"),
            (400, "0.4 s"),
            (449, "0.4 s"),
            (450, "0.5 s"),
            (59_960, "60.0 s"),
            (45_300, "45.3 s"),
            (60_000, "1 min"),
            (125_000, "2 min 5 s"),
            (3_600_000, "1 h"),
            (3_720_000, "1 h 2 min"),
        ];
        for (ms, want) in cases {
            assert_eq!(duration_words(ms), want, "{ms} ms");
        }
    }

    #[test]
    fn relative_times() {
        let now = 1_000_000_000.0;
        assert_eq!(relative(1_000_000_000, now), "just now");
        assert_eq!(relative(999_988_000, now), "12 s ago");
        assert_eq!(relative(1_000_180_000, now), "in 3 min");
        assert_eq!(relative(999_000_000 - 7_200_000, now), "2 h ago");
    }

    #[test]
    fn clocks_name_their_offset() {
        // 2026-11-30 07:45:12 UTC.
        let at = 1_796_024_712_000;
        assert_eq!(clock_at_offset(at, 0), "07:45:12 UTC");
        assert_eq!(clock_at_offset(at, 60), "08:45:12 UTC+1");
        assert_eq!(clock_at_offset(at, 330), "13:15:12 UTC+5:30");
        assert_eq!(clock_at_offset(at, -480), "23:45:12 UTC-8");
        assert_eq!(clock(at), "07:45:12 UTC");
    }

    #[test]
    fn exact_times_are_utc_dates() {
        assert_eq!(exact(0), "1970-01-01 00:00:00 UTC");
        // 2026-11-28 07:45:12 UTC
        assert_eq!(exact(1_795_851_912_000), "2026-11-28 07:45:12 UTC");
        assert_eq!(exact(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(clock(1_795_851_912_345), "07:45:12 UTC");
        assert_eq!(iso(1_795_851_912_000), "2026-11-28T07:45:12Z");
    }
}
