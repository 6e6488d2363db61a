//! A queue's history (`GET /admin/api/history`): what finished per period over a range, for any
//! queue on the Redis, read from the history Sentinel's collector keeps.

use serde::{Deserialize, Serialize};

use super::MinuteStats;

/// The ranges the charts offer.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HistoryRange {
    /// The last hour, per minute.
    #[default]
    #[serde(rename = "1h")]
    Hour,
    /// The last 24 hours, per minute.
    #[serde(rename = "24h")]
    Day,
    /// The last 7 days, per 30 minutes.
    #[serde(rename = "7d")]
    Week,
    /// The last 90 days, per 6 hours.
    #[serde(rename = "90d")]
    Quarter,
}

impl HistoryRange {
    /// Every range, shortest first.
    pub const ALL: [HistoryRange; 4] = [Self::Hour, Self::Day, Self::Week, Self::Quarter];

    /// Its name in URLs (`1h`, `24h`, `7d`, `90d`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "1h",
            Self::Day => "24h",
            Self::Week => "7d",
            Self::Quarter => "90d",
        }
    }

    /// The range a URL names.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw.trim())
    }

    /// Its periods.
    pub fn points(self) -> u64 {
        match self {
            Self::Hour => 60,
            Self::Day => 1440,
            Self::Week => 7 * 48,
            Self::Quarter => 90 * 4,
        }
    }

    /// A period, in words ("minute", "30 minutes", "6 hours").
    pub fn period_words(self) -> &'static str {
        match self {
            Self::Hour | Self::Day => "minute",
            Self::Week => "30 minutes",
            Self::Quarter => "6 hours",
        }
    }

    /// The range, in words ("hour", "24 hours", "7 days", "90 days").
    pub fn span_words(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "24 hours",
            Self::Week => "7 days",
            Self::Quarter => "90 days",
        }
    }
}

/// A queue's history over a range.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct History {
    /// The queue (`<prefix>:<name>`).
    pub queue: String,
    /// The range.
    pub range: HistoryRange,
    /// A period's length (ms): 60,000 for `1h` and `24h`, 1,800,000 for `7d`,
    /// 21,600,000 for `90d`.
    pub step_ms: u64,
    /// Since when the collector has read this queue's events (ms); none: not yet, and
    /// `points` is empty.
    pub since: Option<u64>,
    /// The time of the last event read (ms): the history is complete up to it.
    pub read_until: Option<u64>,
    /// The whole range (its `at`: the first point's).
    pub total: MinuteStats,
    /// The periods in which events were lost before the collector read them (the stream was
    /// trimmed first): their counts are low.
    pub lost_at: Vec<u64>,
    /// One per period, oldest first, from the range's start (or `since`, if later) to now.
    pub points: Vec<MinuteStats>,
}
