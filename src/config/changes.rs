//! What a reload changes, key by key, comparing typed values (never the file's text).
//!
//! [`live_changes`] lists the `[server]`, `[log]` and `[status]` keys whose values
//! differ, each with its old and new value spelt as in the file, for the one line
//! a SIGHUP logs (`SIGHUP: applied server.max_connections 4000 -> 2000, log.level
//! info -> debug`). [`Config::restart_only_changes`] names the keys a reload
//! cannot apply. [`Config::with_simulate_flag`] puts `warden run --simulate` into
//! a configuration, so the one warden started with and every reloaded one are
//! compared like with like.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use super::{Config, CpuFreqStrategy, HardwareConfig, LogConfig, ServerConfig, StatusConfig};

/// One key whose value differs between two configurations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyChange {
    /// The key as written in the file, `section.key`.
    pub key: &'static str,
    /// The value before, spelt as in the file.
    pub old: String,
    /// The value after, spelt as in the file.
    pub new: String,
}

/// `server.max_connections 4000 -> 2000`.
impl fmt::Display for KeyChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} -> {}", self.key, self.old, self.new)
    }
}

/// The `[server]`, `[log]` and `[status]` keys whose values differ from `old` to
/// `new`, in the order the file documents them.
pub fn live_changes(old: &Config, new: &Config) -> Vec<KeyChange> {
    let mut changes = Changes::default();
    server_changes(&old.server, &new.server, &mut changes);
    log_changes(&old.log, &new.log, &mut changes);
    status_changes(&old.status, &new.status, &mut changes);
    changes.0
}

/// The list being built, one [`KeyChange`] per differing key.
#[derive(Default)]
struct Changes(Vec<KeyChange>);

impl Changes {
    /// Records `key` when `old` and `new` differ, each shown by `spell`.
    fn compare<T: PartialEq>(
        &mut self,
        key: &'static str,
        old: &T,
        new: &T,
        spell: fn(&T) -> String,
    ) {
        if old != new {
            self.0.push(KeyChange {
                key,
                old: spell(old),
                new: spell(new),
            });
        }
    }
}

fn server_changes(old: &ServerConfig, new: &ServerConfig, out: &mut Changes) {
    // Named field by field, so a new key cannot be left out without a compile error.
    let ServerConfig {
        listen,
        // Whether the file spelt out the default changes no value.
        listen_given: _,
        // Fixed at start: a restart-only key.
        service: _,
        backlog,
        max_connections,
        at_capacity,
        max_pending_bytes,
        read_buffer_bytes,
        idle_timeout,
        drain_timeout,
    } = old;
    out.compare("server.listen", listen, &new.listen, |list| {
        address_list(list)
    });
    out.compare("server.backlog", backlog, &new.backlog, u32::to_string);
    out.compare(
        "server.max_connections",
        max_connections,
        &new.max_connections,
        usize::to_string,
    );
    out.compare(
        "server.at_capacity",
        at_capacity,
        &new.at_capacity,
        ToString::to_string,
    );
    out.compare(
        "server.max_pending_bytes",
        max_pending_bytes,
        &new.max_pending_bytes,
        usize::to_string,
    );
    out.compare(
        "server.read_buffer_bytes",
        read_buffer_bytes,
        &new.read_buffer_bytes,
        usize::to_string,
    );
    out.compare(
        "server.idle_timeout_s",
        idle_timeout,
        &new.idle_timeout,
        |timeout| {
            // 0 is how the file says "never".
            timeout.map_or(0, |t| t.as_secs()).to_string()
        },
    );
    out.compare(
        "server.drain_timeout_s",
        drain_timeout,
        &new.drain_timeout,
        |t| t.as_secs().to_string(),
    );
}

fn log_changes(old: &LogConfig, new: &LogConfig, out: &mut Changes) {
    let LogConfig { level, format } = old;
    out.compare("log.level", level, &new.level, ToString::to_string);
    out.compare("log.format", format, &new.format, ToString::to_string);
}

fn status_changes(old: &StatusConfig, new: &StatusConfig, out: &mut Changes) {
    let StatusConfig {
        enabled,
        listen,
        workers,
        request_timeout,
    } = old;
    out.compare("status.enabled", enabled, &new.enabled, bool::to_string);
    out.compare("status.listen", listen, &new.listen, SocketAddr::to_string);
    out.compare("status.workers", workers, &new.workers, usize::to_string);
    out.compare(
        "status.request_timeout_ms",
        request_timeout,
        &new.request_timeout,
        millis,
    );
}

/// `[127.0.0.1:7000, [::1]:7000]`.
fn address_list(list: &[SocketAddr]) -> String {
    let spelt: Vec<String> = list.iter().map(SocketAddr::to_string).collect();
    format!("[{}]", spelt.join(", "))
}

fn millis(duration: &Duration) -> String {
    duration.as_millis().to_string()
}

impl Config {
    /// This configuration as `warden run` runs it with `--simulate` given or not: the
    /// flag turns `hardware.simulate` on whatever the file says.
    pub fn with_simulate_flag(mut self, simulate_flag: bool) -> Config {
        self.hardware.simulate |= simulate_flag;
        self
    }

    /// The restart-only keys that waited for a restart under `previous` (the last file
    /// applied) and are not `still_waiting` (`self.restart_only_changes(newer)` for the
    /// file just read): a reload that undoes a change warned about before. `self` is the
    /// configuration warden started with, the one both are measured against
    /// ([`Config::restart_only_changes`] is not symmetric).
    pub fn restart_only_reverted(
        &self,
        previous: &Config,
        still_waiting: &[&str],
    ) -> Vec<&'static str> {
        self.restart_only_changes(previous)
            .into_iter()
            .filter(|key| !still_waiting.contains(key))
            .collect()
    }

    /// The keys a SIGHUP cannot apply to a running daemon that differ in `newer`:
    /// the hardware is opened once, at start. A reload applies `[server]` (but
    /// `service`), `[log]`, `[status]`, the thermal policy, `thermal.interval_ms`
    /// and `[cpufreq]`; everything named here waits for a restart. Both sides
    /// should carry the same command-line overrides ([`Config::with_simulate_flag`]).
    pub fn restart_only_changes(&self, newer: &Config) -> Vec<&'static str> {
        let (t, u) = (&self.thermal, &newer.thermal);
        let (f, g) = (&self.fan, &newer.fan);
        let HardwareConfig {
            sysfs_root,
            state_dir,
            simulate,
        } = &self.hardware;
        let h = &newer.hardware;
        let differ = [
            (
                "server.service",
                self.server.service != newer.server.service,
            ),
            ("thermal.sensor", t.sensor != u.sensor),
            ("fan.driver", f.driver != g.driver),
            ("fan.pin", f.pin != g.pin),
            ("fan.active_low", f.active_low != g.active_low),
            ("fan.pwm_channel", f.pwm_channel != g.pwm_channel),
            (
                "fan.pwm_frequency_hz",
                f.pwm_frequency_hz != g.pwm_frequency_hz,
            ),
            ("fan.min_duty", f.min_duty != g.min_duty),
            ("fan.kick_ms", f.kick != g.kick),
            ("fan.path", f.path != g.path),
            ("fan.on_exit", f.on_exit != g.on_exit),
            // Strategy `off` opens no cpufreq policy, so there is nothing to switch.
            (
                "cpufreq.strategy",
                self.cpufreq.strategy == CpuFreqStrategy::Off
                    && newer.cpufreq.strategy != CpuFreqStrategy::Off,
            ),
            ("hardware.sysfs_root", *sysfs_root != h.sysfs_root),
            ("hardware.state_dir", *state_dir != h.state_dir),
            ("hardware.simulate", *simulate != h.simulate),
        ];
        differ
            .into_iter()
            .filter_map(|(key, changed)| changed.then_some(key))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_of(text: &str) -> Config {
        Config::from_toml_str(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn spelt(changes: &[KeyChange]) -> Vec<String> {
        changes.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_same_values_are_no_change_however_the_file_spells_them() {
        let defaults = config_of("");
        let spelt_out = config_of(
            "[server]\nlisten = [\"0.0.0.0:7000\"]\nmax_connections = 16384\n\
             [log]\nlevel = \"info\"\n[status]\nworkers = 4\n",
        );
        assert_eq!(live_changes(&defaults, &spelt_out), []);
        assert_eq!(live_changes(&defaults, &defaults), []);
    }

    #[test]
    fn each_changed_key_is_listed_with_its_old_and_new_value_in_file_order() {
        let old = config_of(
            "[server]\nlisten = [\"0.0.0.0:7000\"]\nbacklog = 4096\nmax_connections = 4000\n\
             at_capacity = \"pause\"\nmax_pending_bytes = 65536\nread_buffer_bytes = 65536\n\
             idle_timeout_s = 300\ndrain_timeout_s = 10\n[log]\nlevel = \"info\"\n\
             format = \"text\"\n[status]\nenabled = true\nlisten = \"127.0.0.1:9181\"\n\
             workers = 4\nrequest_timeout_ms = 2000\n",
        );
        let new = config_of(
            "[log]\nlevel = \"debug\"\nformat = \"json\"\n\
             [server]\nmax_connections = 2000\nlisten = [\"127.0.0.1:7001\", \"[::1]:7001\"]\n\
             backlog = 64\nat_capacity = \"reject\"\nmax_pending_bytes = 4096\n\
             read_buffer_bytes = 8192\nidle_timeout_s = 0\ndrain_timeout_s = 5\n\
             [status]\nenabled = false\nlisten = \"127.0.0.1:9999\"\nworkers = 2\n\
             request_timeout_ms = 1500\n",
        );
        assert_eq!(
            spelt(&live_changes(&old, &new)),
            [
                "server.listen [0.0.0.0:7000] -> [127.0.0.1:7001, [::1]:7001]",
                "server.backlog 4096 -> 64",
                "server.max_connections 4000 -> 2000",
                "server.at_capacity pause -> reject",
                "server.max_pending_bytes 65536 -> 4096",
                "server.read_buffer_bytes 65536 -> 8192",
                "server.idle_timeout_s 300 -> 0",
                "server.drain_timeout_s 10 -> 5",
                "log.level info -> debug",
                "log.format text -> json",
                "status.enabled true -> false",
                "status.listen 127.0.0.1:9181 -> 127.0.0.1:9999",
                "status.workers 4 -> 2",
                "status.request_timeout_ms 2000 -> 1500",
            ]
        );
    }

    #[test]
    fn only_server_log_and_status_keys_are_listed() {
        let old = config_of("");
        let new = config_of(
            "[thermal]\nshed_on_c = 72.0\nshed_off_c = 66.0\n[fan]\non_exit = \"off\"\n\
             [hardware]\nstate_dir = \"/tmp/w\"\n",
        );
        assert_eq!(live_changes(&old, &new), []);
    }

    #[test]
    fn restart_only_changes_name_each_hardware_key() {
        let running = config_of("");
        let moved = config_of(
            "[fan]\non_exit = \"off\"\n[hardware]\nstate_dir = \"/tmp/w\"\nsysfs_root = \"/tmp/s\"\n",
        );
        assert_eq!(
            running.restart_only_changes(&moved),
            ["fan.on_exit", "hardware.sysfs_root", "hardware.state_dir"]
        );
        let simulated = config_of("[hardware]\nsimulate = true\n");
        assert_eq!(
            simulated.restart_only_changes(&running),
            ["hardware.simulate"]
        );
        assert_eq!(
            running.restart_only_changes(&simulated),
            ["hardware.simulate"]
        );
    }

    #[test]
    fn reverted_keys_are_those_that_waited_and_wait_no_more() {
        let reverted = |started: &Config, previous: &Config, newer: &Config| {
            started.restart_only_reverted(previous, &started.restart_only_changes(newer))
        };
        let off = config_of("[cpufreq]\nstrategy = \"off\"\n");
        let max_freq = config_of("");
        // Started with max-freq: off and back are live changes, nothing ever waited.
        assert_eq!(reverted(&max_freq, &off, &max_freq), [] as [&str; 0]);
        // Started with off: max-freq waited for a restart, and off again undoes it.
        assert_eq!(reverted(&off, &max_freq, &off), ["cpufreq.strategy"]);
        let fan_off = config_of("[fan]\non_exit = \"off\"\n");
        assert_eq!(reverted(&max_freq, &fan_off, &max_freq), ["fan.on_exit"]);
        // Still changed: nothing reverted.
        assert_eq!(reverted(&max_freq, &fan_off, &fan_off), [] as [&str; 0]);
    }

    #[test]
    fn the_simulate_flag_makes_simulate_in_the_file_no_change() {
        let started = config_of("").with_simulate_flag(true);
        let file_says_so = config_of("[hardware]\nsimulate = true\n").with_simulate_flag(true);
        assert!(started.hardware.simulate);
        assert_eq!(started.restart_only_changes(&file_says_so), [] as [&str; 0]);
        assert_eq!(started, file_says_so);
        // Without the flag the file decides, and a removed `simulate = true` waits.
        let file_started = config_of("[hardware]\nsimulate = true\n").with_simulate_flag(false);
        let removed = config_of("").with_simulate_flag(false);
        assert_eq!(
            file_started.restart_only_changes(&removed),
            ["hardware.simulate"]
        );
    }
}
