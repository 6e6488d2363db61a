//! Per-minute job statistics shared by every process, and each worker's heartbeat.
//!
//! A worker records each finished job here in memory (completed or failed, its wait and run
//! time in a histogram bucket); once a second one loop per process adds what it gathered to
//! `<prefix>:<queue>:stats:<minute>` (a hash of counters, kept two hours) in one pipelined
//! round trip, so the cost does not grow with the job rate, and writes the process's heartbeat
//! (`<prefix>:<queue>:workers`, a hash: worker name → host, pid, concurrency, busy slots, when
//! seen). Readers sum the hashes of the last hour: counts per minute and wait / run time
//! percentiles, read in one round trip.
//!
//! Buckets: 0–3 ms exactly, then four per power of two (each at most 25 % wide), so a
//! percentile is reported as its bucket's upper bound.

use serde::{Deserialize, Serialize};

/// A worker not seen for this long is not listed.
pub const WORKER_GONE_AFTER_MS: u64 = 15_000;

/// The highest bucket a `u64` of ms can fall in; higher ones read from Redis are ignored.
pub const MAX_BUCKET: u32 = 4 + 61 * 4 + 3;

/// The bucket of a duration in ms.
pub fn bucket(ms: u64) -> u32 {
    if ms < 4 {
        return ms as u32;
    }
    let bits = 64 - ms.leading_zeros();
    let shift = bits - 3;
    let top = (ms >> shift) as u32;
    4 + shift * 4 + (top - 4)
}

/// The upper bound (exclusive) of a bucket, in ms.
pub fn upper_bound(index: u32) -> u64 {
    if index < 4 {
        return u64::from(index) + 1;
    }
    let shift = ((index - 4) / 4).min(61);
    let top = u128::from((index - 4) % 4 + 4);
    u64::try_from((top + 1) << shift).unwrap_or(u64::MAX)
}

/// A worker's heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Heartbeat {
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// Jobs it runs at once.
    pub concurrency: usize,
    /// Jobs it runs now.
    pub busy: usize,
    /// When it wrote this (ms since the epoch).
    pub seen_at: u64,
}

/// The p50, p95 and p99 of a histogram of bucket counts (any map of bucket → count).
pub fn summary<'a>(
    buckets: impl IntoIterator<Item = (&'a u32, &'a u64)>,
) -> app::admin::Percentiles {
    let got = percentiles(buckets, &[0.5, 0.95, 0.99]);
    app::admin::Percentiles {
        p50: got[0],
        p95: got[1],
        p99: got[2],
    }
}

/// Percentiles of a histogram of bucket counts.
pub fn percentiles<'a>(
    buckets: impl IntoIterator<Item = (&'a u32, &'a u64)>,
    wanted: &[f64],
) -> Vec<Option<u64>> {
    let mut sorted: Vec<(u32, u64)> = buckets.into_iter().map(|(b, n)| (*b, *n)).collect();
    let total: u64 = sorted.iter().map(|(_, n)| n).sum();
    sorted.sort_unstable();
    wanted
        .iter()
        .map(|p| {
            if total == 0 {
                return None;
            }
            let rank = ((p * total as f64).ceil() as u64).clamp(1, total);
            let mut seen = 0;
            sorted.iter().find_map(|(b, n)| {
                seen += n;
                (seen >= rank).then(|| upper_bound(*b))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn buckets_are_at_most_a_quarter_wide_and_ordered() {
        let mut last = 0;
        assert_eq!(bucket(u64::MAX), MAX_BUCKET);
        assert_eq!(upper_bound(MAX_BUCKET), u64::MAX);
        for ms in [
            0u64,
            1,
            3,
            4,
            5,
            7,
            8,
            9,
            100,
            1000,
            1001,
            59_999,
            3_600_000,
            u64::MAX / 2,
        ] {
            let b = bucket(ms);
            assert!(b >= last, "{ms}");
            last = b;
            assert!(upper_bound(b) > ms, "{ms} < {}", upper_bound(b));
            if ms >= 4 {
                assert!(
                    upper_bound(b) as f64 <= ms as f64 * 1.25 + 1.0,
                    "{ms} → {}",
                    upper_bound(b)
                );
            }
        }
    }

    #[test]
    fn percentiles_from_buckets() {
        let mut buckets = HashMap::new();
        // 90 jobs around 10 ms, 10 around 1000 ms.
        buckets.insert(bucket(10), 90);
        buckets.insert(bucket(1000), 10);
        let got = percentiles(&buckets, &[0.5, 0.95, 0.99]);
        assert_eq!(got[0], Some(upper_bound(bucket(10))));
        assert_eq!(got[1], Some(upper_bound(bucket(1000))));
        assert_eq!(got[2], Some(upper_bound(bucket(1000))));
        assert_eq!(percentiles(&HashMap::new(), &[0.5]), vec![None]);
    }
}
