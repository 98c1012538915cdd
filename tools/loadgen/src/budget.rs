//! Up-front resource checks: refuse a run that cannot fit this process's
//! file descriptors or memory before a single socket is opened.
//!
//! Without them a run that is too large fails halfway: EMFILE once some
//! connections are up (and the summary is lost), or an abort when a message
//! buffer cannot be allocated. Both are refused as usage errors (exit 2)
//! whose message gives the figures and names the flags to change. The checks
//! are pure functions of a [`Demand`] and a limit, so they are unit-tested
//! without touching the real limits; `main` supplies those.

use std::fmt;

use crate::cli::{Command, UsageError};
use crate::{churn, hold, pingpong, rlimit};

/// Descriptors kept free beyond sockets and event loops (stdio, /proc reads).
pub const SPARE_DESCRIPTORS: u64 = 64;
/// Bookkeeping of one connection besides its message buffer (state, schedule
/// slot, socket handle), rounded up.
pub const CONNECTION_STATE_BYTES: u64 = 256;
/// Memory budget when /proc/meminfo cannot be read.
pub const FALLBACK_MEMORY_BUDGET: u64 = 1 << 30;

/// What a run holds at once, derived from its validated options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Demand {
    /// The option that sets the socket count (`--connections` or `--workers`).
    pub count_option: &'static str,
    /// Sockets open at once (one per connection or worker).
    pub sockets: u64,
    /// Event-loop threads.
    pub threads: u64,
    /// Whether `--threads` can be lowered to need fewer descriptors.
    pub has_threads_option: bool,
    /// Descriptors each event loop opens besides its sockets (epoll, timerfd).
    pub descriptors_per_thread: u64,
    /// Message size: each connection holds one message buffer of this size.
    pub size: u64,
}

impl Demand {
    /// The demand of `command`; `None` for commands that open nothing.
    pub fn of(command: &Command) -> Option<Demand> {
        let demand = match command {
            Command::Help => return None,
            Command::Pingpong(options) => Demand {
                count_option: "--connections",
                sockets: options.connections as u64,
                threads: options.threads as u64,
                has_threads_option: true,
                descriptors_per_thread: pingpong::DESCRIPTORS_PER_THREAD,
                size: options.size as u64,
            },
            Command::Churn(options) => Demand {
                count_option: "--workers",
                sockets: options.workers as u64,
                threads: options.threads as u64,
                has_threads_option: true,
                descriptors_per_thread: churn::DESCRIPTORS_PER_THREAD,
                size: options.size as u64,
            },
            Command::Hold(options) => Demand {
                count_option: "--connections",
                sockets: options.connections as u64,
                threads: 1,
                has_threads_option: false,
                descriptors_per_thread: hold::DESCRIPTORS_PER_THREAD,
                size: options.size as u64,
            },
        };
        Some(demand)
    }

    /// File descriptors the run needs: sockets, event loops and spares.
    pub fn descriptors(&self) -> u64 {
        self.sockets + self.threads * self.descriptors_per_thread + SPARE_DESCRIPTORS
    }

    /// Bytes of message buffers and connection state the run allocates.
    pub fn memory_bytes(&self) -> u64 {
        self.sockets
            .saturating_mul(self.size.saturating_add(CONNECTION_STATE_BYTES))
    }
}

/// Refuses `demand` when it needs more descriptors than `soft_limit` allows.
pub fn check_descriptors(demand: &Demand, soft_limit: u64) -> Result<(), UsageError> {
    let needed = demand.descriptors();
    if needed <= soft_limit {
        return Ok(());
    }
    let Demand {
        count_option,
        sockets,
        threads,
        descriptors_per_thread,
        ..
    } = *demand;
    let (with_threads, or_threads) = if demand.has_threads_option {
        (format!(" with --threads {threads}"), " or --threads")
    } else {
        (String::new(), "")
    };
    Err(UsageError(format!(
        "{count_option} {sockets}{with_threads} needs about {needed} file descriptors \
         ({sockets} sockets + {descriptors_per_thread} per event-loop thread x {threads} + \
         {SPARE_DESCRIPTORS} spare) but RLIMIT_NOFILE allows {soft_limit}; lower {count_option}\
         {or_threads}, or raise the hard limit (ulimit -Hn, systemd LimitNOFILE=)"
    )))
}

/// Where the memory budget comes from, for the refusal message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetSource {
    /// A quarter of MemAvailable: the server under test needs memory too.
    MemAvailable,
    /// Half the address-space limit: code, stacks and allocator arenas need the rest.
    AddressSpaceLimit,
    /// /proc/meminfo was unreadable: [`FALLBACK_MEMORY_BUDGET`].
    Fallback,
}

impl fmt::Display for BudgetSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BudgetSource::MemAvailable => "a quarter of MemAvailable in /proc/meminfo",
            BudgetSource::AddressSpaceLimit => "half the address-space limit, ulimit -v",
            BudgetSource::Fallback => "a fixed cap, as /proc/meminfo is unreadable",
        })
    }
}

/// The most memory a run may allocate for its buffers, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    /// Budget in bytes.
    pub bytes: u64,
    /// What set it.
    pub source: BudgetSource,
}

impl MemoryBudget {
    /// The budget from MemAvailable and the address-space limit (both in
    /// bytes, `None` when unknown or unlimited): the tighter of the two.
    pub fn from_limits(mem_available: Option<u64>, address_space: Option<u64>) -> MemoryBudget {
        let from_memory = match mem_available {
            Some(bytes) => MemoryBudget {
                bytes: bytes / 4,
                source: BudgetSource::MemAvailable,
            },
            None => MemoryBudget {
                bytes: FALLBACK_MEMORY_BUDGET,
                source: BudgetSource::Fallback,
            },
        };
        match address_space {
            Some(limit) if limit / 2 < from_memory.bytes => MemoryBudget {
                bytes: limit / 2,
                source: BudgetSource::AddressSpaceLimit,
            },
            _ => from_memory,
        }
    }
}

/// This machine's budget: /proc/meminfo's MemAvailable and RLIMIT_AS.
pub fn memory_budget() -> MemoryBudget {
    let mem_available = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| parse_mem_available(&text));
    MemoryBudget::from_limits(mem_available, rlimit::address_space_limit())
}

/// Reads MemAvailable (in bytes) from the text of /proc/meminfo.
pub fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemAvailable:"))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    kib.checked_mul(1024)
}

/// Refuses `demand` when its buffers would exceed `budget`.
pub fn check_memory(demand: &Demand, budget: &MemoryBudget) -> Result<(), UsageError> {
    let needed = demand.memory_bytes();
    if needed <= budget.bytes {
        return Ok(());
    }
    Err(UsageError(format!(
        "{count_option} {sockets} x --size {size} needs about {needed_mib} MiB ({needed} bytes) \
         of message buffers and connection state, but this run may use at most {budget_mib} MiB \
         ({source}); lower {count_option} or --size",
        count_option = demand.count_option,
        sockets = demand.sockets,
        size = demand.size,
        needed_mib = needed >> 20,
        budget_mib = budget.bytes >> 20,
        source = budget.source,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pingpong_demand(connections: u64, threads: u64, size: u64) -> Demand {
        Demand {
            count_option: "--connections",
            sockets: connections,
            threads,
            has_threads_option: true,
            descriptors_per_thread: 2,
            size,
        }
    }

    #[test]
    fn descriptors_count_every_event_loop() {
        // The reported failure: 190 connections over 64 threads under ulimit -n 256.
        let demand = pingpong_demand(190, 64, 64);
        assert_eq!(demand.descriptors(), 190 + 128 + SPARE_DESCRIPTORS);
        let message = check_descriptors(&demand, 256).unwrap_err().0;
        assert!(
            message.starts_with("--connections 190 with --threads 64 needs about 382"),
            "{message}"
        );
        assert!(message.contains("RLIMIT_NOFILE allows 256"), "{message}");
        assert!(
            message.contains("lower --connections or --threads"),
            "{message}"
        );
        assert_eq!(check_descriptors(&pingpong_demand(190, 1, 64), 256), Ok(()));
    }

    #[test]
    fn hold_refusal_does_not_mention_threads() {
        let demand = Demand {
            count_option: "--connections",
            sockets: 300,
            threads: 1,
            has_threads_option: false,
            descriptors_per_thread: 1,
            size: 16,
        };
        let message = check_descriptors(&demand, 256).unwrap_err().0;
        assert!(
            message.starts_with("--connections 300 needs about 365"),
            "{message}"
        );
        assert!(!message.contains("--threads"), "{message}");
    }

    #[test]
    fn memory_refusal_names_flags_and_figures() {
        let demand = pingpong_demand(200, 1, 16 * 1024 * 1024);
        let budget = MemoryBudget::from_limits(Some(24 << 30), Some(2_000_000 * 1024));
        assert_eq!(budget.source, BudgetSource::AddressSpaceLimit);
        let message = check_memory(&demand, &budget).unwrap_err().0;
        assert!(
            message.starts_with("--connections 200 x --size 16777216 needs about 3200 MiB"),
            "{message}"
        );
        assert!(message.contains("at most 976 MiB"), "{message}");
        assert!(message.contains("ulimit -v"), "{message}");
        let roomy = MemoryBudget::from_limits(Some(64 << 30), None);
        assert_eq!(check_memory(&demand, &roomy), Ok(()));
    }

    #[test]
    fn budget_is_the_tighter_limit_with_a_fallback() {
        let quarter = MemoryBudget::from_limits(Some(8 << 30), Some(64 << 30));
        assert_eq!(quarter.bytes, 2 << 30);
        assert_eq!(quarter.source, BudgetSource::MemAvailable);
        let fallback = MemoryBudget::from_limits(None, None);
        assert_eq!(fallback.bytes, FALLBACK_MEMORY_BUDGET);
        assert_eq!(fallback.source, BudgetSource::Fallback);
        let demand = pingpong_demand(100, 1, 16 * 1024 * 1024);
        let message = check_memory(&demand, &fallback).unwrap_err().0;
        assert!(message.contains("/proc/meminfo is unreadable"), "{message}");
    }

    #[test]
    fn memory_figure_saturates_instead_of_overflowing() {
        let demand = pingpong_demand(u64::MAX, 1, u64::MAX);
        assert_eq!(demand.memory_bytes(), u64::MAX);
    }

    #[test]
    fn mem_available_is_read_in_bytes() {
        let meminfo = "MemTotal:       24576000 kB\nMemFree:         1000 kB\n\
                       MemAvailable:   20000000 kB\nBuffers:  10 kB\n";
        assert_eq!(parse_mem_available(meminfo), Some(20_000_000 * 1024));
        assert_eq!(parse_mem_available("MemTotal: 5 kB\n"), None);
        assert_eq!(parse_mem_available("MemAvailable: lots kB\n"), None);
    }
}
