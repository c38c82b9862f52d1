//! Where and how a run was made: the command line, the time, the host, the build and the threads,
//! written into every summary so a result can be traced to what produced it.

use serde::{Deserialize, Serialize};

/// Metadata of one run (or gradient report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct RunMetadata {
    /// The command line of the rnnlab process that made the run (a sweep's, for sweep runs).
    pub command: Vec<String>,
    /// When the run started, UTC, ISO 8601 (`2026-11-28T04:21:17Z`).
    pub started_utc: String,
    pub host: String,
    pub rnnlab_version: String,
    /// The git commit the binary was built from (`-modified` when the tree had changes).
    pub git_commit: String,
    /// Threads the run's arithmetic used.
    pub threads: usize,
}

impl RunMetadata {
    /// The metadata of a run starting now in this process.
    pub fn now(threads: usize) -> RunMetadata {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        RunMetadata {
            command: std::env::args().collect(),
            started_utc: utc_text(seconds),
            host: host_name(),
            rnnlab_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: env!("RNNLAB_GIT_COMMIT").to_string(),
            threads,
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a Unix time (proleptic Gregorian calendar; H. Hinnant's
/// `civil_from_days`).
pub fn utc_text(unix_seconds: u64) -> String {
    let days = (unix_seconds / 86_400) as i64;
    let secs = unix_seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_text_matches_known_dates() {
        // `date -u -d @0`, `date -u -d @951782400` (a leap day), `date -u -d @1795839677`
        assert_eq!(utc_text(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_text(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_text(1_795_839_677), "2026-11-28T04:21:17Z");
    }
}
