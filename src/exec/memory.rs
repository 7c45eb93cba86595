//! A bound on redsql's memory (`--max-memory`): a statement that would
//! take the machine's memory ends with 53200 (out_of_memory) instead.
//!
//! A watchdog thread reads the process' resident memory every
//! [`EVERY`]; past the limit it stops every Polars step running (see
//! [`super::interrupt`]), each of which ends its statement with 53200, and
//! the memory they held is freed. Polars looks at its stop flag before each
//! operator, so one operator that allocates far past the limit at once (a
//! cross join of millions by millions of rows) can still overshoot it
//! before it is stopped, and some plans (a window function over a join)
//! look only at their end; the limit bounds growth, not each allocation.
//! Streamed results (SELECT, COPY TO) hold one chunk at a time and do not
//! grow with the result.

use std::time::Duration;

use crate::error::{Error, Result};

/// How often the watchdog reads the resident memory.
const EVERY: Duration = Duration::from_millis(20);

/// Parse a `--max-memory` value: `auto` (half the machine's memory, or of
/// the cgroup's limit when lower), `off`/`0`, or a size such as `512MB`,
/// `8GB`, `1.5GiB` or a number of bytes. None: no limit.
pub fn parse_limit(value: &str) -> Result<Option<u64>> {
    let v = value.trim().to_ascii_lowercase();
    match v.as_str() {
        "auto" => return Ok(available().map(|bytes| bytes / 2)),
        "off" | "none" | "0" => return Ok(None),
        _ => {}
    }
    let split = v.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let unit = match unit.trim() {
        "" | "b" => 1u64,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(bad_size(value)),
    };
    let number: f64 = number.parse().map_err(|_| bad_size(value))?;
    Ok(Some((number * unit as f64) as u64).filter(|b| *b > 0))
}

fn bad_size(value: &str) -> Error {
    Error::Data(
        "22023",
        format!("--max-memory {value:?}: expected auto, off, or a size such as 512MB or 8GB"),
    )
}

/// The memory this process may use: the machine's, or its cgroup's limit
/// when that is lower.
fn available() -> Option<u64> {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
    })?;
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok());
    Some(cgroup.map_or(total, |c| c.min(total)))
}

/// The resident memory of this process, in bytes.
pub fn resident() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Start the watchdog (once per process).
pub fn guard(limit: u64) {
    if resident().is_none() {
        tracing::warn!("no /proc/self/status here: --max-memory cannot be watched");
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("redsql-memory".into())
        .spawn(move || watch(limit));
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the memory watchdog");
    }
}

fn watch(limit: u64) {
    let mut over = false;
    loop {
        std::thread::sleep(EVERY);
        let Some(rss) = resident() else { continue };
        if rss <= limit {
            over = false;
            continue;
        }
        let stopped = super::interrupt::stop_all_for_memory(limit);
        if !over {
            tracing::warn!(
                resident_mb = rss >> 20,
                limit_mb = limit >> 20,
                stopped,
                "memory over --max-memory: running statements stopped (53200)"
            );
        }
        over = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units_and_auto_is_half_of_what_there_is() {
        assert_eq!(parse_limit("512MB").unwrap(), Some(512 << 20));
        assert_eq!(parse_limit("8gb").unwrap(), Some(8 << 30));
        assert_eq!(parse_limit("1.5GiB").unwrap(), Some(3 << 29));
        assert_eq!(parse_limit("1000").unwrap(), Some(1000));
        assert_eq!(parse_limit("off").unwrap(), None);
        assert_eq!(parse_limit("0").unwrap(), None);
        assert!(parse_limit("lots").is_err());
        assert!(parse_limit("5 parsecs").is_err());
        let auto = parse_limit("auto").unwrap().expect("Linux has /proc/meminfo");
        assert!(auto > 64 << 20 && auto < available().unwrap());
        assert!(resident().unwrap() > 1 << 20);
    }
}
