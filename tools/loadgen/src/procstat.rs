//! CPU time and memory of the server under test and of the load generator.
//!
//! The server's CPU time is utime + stime from `/proc/PID/stat` (fields 14
//! and 15, in clock ticks of `sysconf(_SC_CLK_TCK)`), its memory the `VmRSS`
//! line of `/proc/PID/status`. The command name in `stat` is in parentheses
//! and may itself contain spaces and parentheses, so fields are counted from
//! the *last* `)`. Our own CPU time comes from `getrusage(RUSAGE_SELF)`,
//! which covers all threads of the process.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a figure about the server process could not be read.
#[derive(Debug)]
pub enum ProcStatError {
    /// A /proc file could not be read (usually: the process has exited).
    Read {
        /// The file that failed.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A /proc file did not have the expected layout.
    Malformed {
        /// The file that was malformed.
        path: PathBuf,
        /// What was wrong with it.
        reason: &'static str,
    },
}

impl fmt::Display for ProcStatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcStatError::Read { path, source } => write!(
                f,
                "cannot read {}: {source} (has the server process exited? check --server-pid)",
                path.display()
            ),
            ProcStatError::Malformed { path, reason } => {
                write!(f, "unexpected format of {}: {reason}", path.display())
            }
        }
    }
}

impl std::error::Error for ProcStatError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProcStatError::Read { source, .. } => Some(source),
            ProcStatError::Malformed { .. } => None,
        }
    }
}

/// utime + stime in clock ticks, parsed from one `/proc/PID/stat` line.
pub fn parse_stat_cpu_ticks(stat: &str) -> Result<u64, &'static str> {
    let after_comm = stat
        .rfind(')')
        .map(|end| &stat[end + 1..])
        .ok_or("no ')' closing the command name")?;
    // Field 3 (state) is the first after the command name; utime and stime
    // are fields 14 and 15, i.e. indexes 11 and 12 from there.
    let mut fields = after_comm.split_whitespace().skip(11);
    let utime = fields.next().ok_or("fewer than 15 fields")?;
    let stime = fields.next().ok_or("fewer than 15 fields")?;
    let utime: u64 = utime
        .parse()
        .map_err(|_| "utime (field 14) is not a number")?;
    let stime: u64 = stime
        .parse()
        .map_err(|_| "stime (field 15) is not a number")?;
    Ok(utime + stime)
}

/// Resident set size in bytes, parsed from the contents of `/proc/PID/status`.
pub fn parse_status_rss_bytes(status: &str) -> Result<u64, &'static str> {
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .ok_or("no VmRSS line (kernel thread or zombie process?)")?;
    let mut parts = line["VmRSS:".len()..].split_whitespace();
    let value: u64 = parts
        .next()
        .ok_or("VmRSS has no value")?
        .parse()
        .map_err(|_| "VmRSS value is not a number")?;
    match parts.next() {
        Some("kB") => Ok(value * 1024),
        _ => Err("VmRSS is not in kB"),
    }
}

/// CPU seconds (user + system) the process `pid` has used so far.
pub fn process_cpu_seconds(pid: u32) -> Result<f64, ProcStatError> {
    let path = PathBuf::from(format!("/proc/{pid}/stat"));
    let text = read(&path)?;
    let ticks = parse_stat_cpu_ticks(&text).map_err(|reason| ProcStatError::Malformed {
        path: path.clone(),
        reason,
    })?;
    Ok(ticks as f64 / clock_ticks_per_second() as f64)
}

/// Resident memory of the process `pid`, in bytes.
pub fn process_rss_bytes(pid: u32) -> Result<u64, ProcStatError> {
    let path = PathBuf::from(format!("/proc/{pid}/status"));
    let text = read(&path)?;
    parse_status_rss_bytes(&text).map_err(|reason| ProcStatError::Malformed { path, reason })
}

/// CPU seconds (user + system, all threads) this process has used so far.
pub fn own_cpu_seconds() -> f64 {
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one rusage into the live struct we pass.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Kernel clock ticks per second, the unit of /proc/PID/stat CPU times.
fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf takes no pointers.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as u64
    } else {
        100
    }
}

fn read(path: &PathBuf) -> Result<String, ProcStatError> {
    std::fs::read_to_string(path).map_err(|source| ProcStatError::Read {
        path: path.clone(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: &str = "1234 (warden) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 3 0 \
                         100 123456789 2000 18446744073709551615 1 1 0 0 0 0 0 4096 17920 0 0 0 17 1 0 0 0 0 0";

    #[test]
    fn plain_stat_line_sums_utime_and_stime() {
        assert_eq!(parse_stat_cpu_ticks(PLAIN), Ok(325));
    }

    #[test]
    fn command_name_with_spaces_and_parens_is_skipped() {
        let tricky = "99 (my (weird) ) name) R 1 99 99 0 -1 0 0 0 0 0 7 8 0 0 20 0 1 0 5 1000 10";
        assert_eq!(parse_stat_cpu_ticks(tricky), Ok(15));
        let numbers_in_name =
            "42 (a) 1 2 3 4 5 6 7 8 9 10 11 12) S 1 42 42 0 -1 0 0 0 0 0 30 12 0 0";
        assert_eq!(parse_stat_cpu_ticks(numbers_in_name), Ok(42));
    }

    #[test]
    fn truncated_or_garbled_stat_is_rejected() {
        assert!(parse_stat_cpu_ticks("1234 warden S 1").is_err());
        assert!(parse_stat_cpu_ticks("1234 (warden) S 1 2 3").is_err());
        assert!(parse_stat_cpu_ticks("1 (x) S 1 1 1 0 -1 0 0 0 0 0 abc 1 0").is_err());
    }

    #[test]
    fn status_rss_is_converted_to_bytes() {
        let status = "Name:\twarden\nVmPeak:\t  9000 kB\nVmRSS:\t    5120 kB\nThreads:\t3\n";
        assert_eq!(parse_status_rss_bytes(status), Ok(5120 * 1024));
        assert!(parse_status_rss_bytes("Name:\tkthreadd\n").is_err());
        assert!(parse_status_rss_bytes("VmRSS:\t lots kB\n").is_err());
    }

    #[test]
    fn own_process_figures_are_readable() {
        let pid = std::process::id();
        assert!(process_cpu_seconds(pid).unwrap() >= 0.0);
        assert!(process_rss_bytes(pid).unwrap() > 0);
        assert!(own_cpu_seconds() >= 0.0);
    }
}
