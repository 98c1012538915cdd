//! `warden run`: wires configuration, listeners, the event loop and the
//! threads around it, and runs until a drain completes.

use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use warden_hw::HwError;

use crate::config::{AtCapacity, Config, CpuFreqStrategy};
use crate::engine::signal_set::HeldSignals;
use crate::engine::{self, EngineSettings, EventLoop, LoopHooks, LoopShared, ShedMode};
use crate::exit::Failure;
use crate::logging::{self, LogFormat};
use crate::rlimit::FdBudget;
use crate::status::{LiveStatus, StatusError, StatusSources, ThermalSource};
use crate::systemd::{status_text, Notifier};
use crate::thermal_guard::{self, ThermalGuard, ThermalStart, FIRST_READING_TIMEOUT};

/// Runs the daemon with the file at `config_path`, or built-in defaults.
pub fn run(config_path: Option<&Path>, simulate: bool) -> Result<(), Failure> {
    // First: a SIGTERM or SIGHUP from here on waits for the loop, never kills a half-started warden.
    let held_signals = HeldSignals::hold().context("cannot block signals while starting")?;
    // What --simulate overrides is in the config itself, so every reload compares like with like.
    let config = match config_path {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    }
    .with_simulate_flag(simulate);
    // A bad WARDEN_SIM_* stops the start here, before anything is bound (exit 2).
    let simulation = crate::simulate::options_for_run(config.hardware.simulate)
        .map_err(crate::simulate::SimulateError::into_failure)?;
    apply_logging(&config);
    if config.hardware.simulate {
        // Restart-only: the whole run drives the model or the board.
        logging::mark_simulated();
    }
    if config_path.is_none() {
        log::info!("no --config given: using built-in defaults");
    }
    let fd_budget = crate::rlimit::budget_at_start().map_err(anyhow::Error::new)?;
    // systemd's environment first, before any thread exists (both edit it).
    let notifier = Notifier::from_env();
    let passed = engine::listener::take_systemd_listeners().map_err(Failure::SocketActivation)?;
    // The sockets systemd passed are the listeners the open-file budget counts.
    let systemd_listeners = passed.as_ref().map(Vec::len);
    let settings = engine_settings(&config, &fd_budget, systemd_listeners, "at start");
    let listeners = match passed {
        Some(passed) => {
            for (listener, name) in &passed {
                log::info!(
                    "listening on {} (from systemd{})",
                    listener.addr,
                    name.as_deref()
                        .filter(|n| !n.is_empty())
                        .map(|n| format!(", {n}"))
                        .unwrap_or_default()
                );
            }
            let passed: Vec<engine::Listener> = passed.into_iter().map(|(l, _)| l).collect();
            if let Some(path) = config_path.filter(|_| config.server.listen_given) {
                warn_listen_ignored(path, &config.server.listen, &passed);
            }
            passed
        }
        None => bind_all(&settings)?,
    };
    let (sender, receiver) = engine::control::channel();
    let mut event_loop =
        EventLoop::new(settings, listeners, receiver).context("cannot create the event loop")?;
    // The loop catches them now: any that came while starting is taken at its first turn.
    held_signals.release().context("cannot unblock signals")?;
    let control = engine::ControlHandle::new(sender, event_loop.waker());
    let shared = event_loop.shared();
    // `_state_lock` (no sensor) is held to the end of the run, as the guard holds its own.
    let (thermal, thermal_source, _state_lock) =
        match thermal_guard::start(&config, simulation, control.clone(), Arc::clone(&shared))? {
            ThermalStart::Running(guard) => {
                let source = ThermalSource::Controller(guard.snapshot());
                (Some(guard), source, None)
            }
            ThermalStart::NoSensor { reason, state_lock } => {
                log::warn!("{reason}");
                (None, ThermalSource::Absent { reason }, state_lock)
            }
        };
    let sources = StatusSources::new(
        Arc::clone(&shared),
        thermal_source,
        config.server.service.as_str(),
    )
    .simulated(config.hardware.simulate);
    let status =
        LiveStatus::start(sources, &config.status, fd_budget.status_connections).map_err(|e| {
            match e {
                // Only a passed socket can be there: the config check refuses server.listen.
                StatusError::OwnListener { .. } => Failure::StatusOnOwnPort(e),
                other => Failure::Runtime(other.into()),
            }
        })?;
    let mut hooks = DaemonHooks {
        config_path: config_path.map(Path::to_path_buf),
        simulate_flag: simulate,
        systemd_listeners,
        started: config.clone(),
        applied: config,
        fd_budget,
        notifier,
        status,
        thermal,
        reload_report: None,
    };
    hooks.announce_ready();
    // A panic in the loop still stops the threads in order and restores the
    // hardware below, then exits 1 like any other runtime failure.
    let outcome = catch_unwind(AssertUnwindSafe(|| event_loop.run(&mut hooks)))
        .map_err(|payload| format!("event loop panicked: {}", panic_message(payload.as_ref())));
    if let Err(panicked) = &outcome {
        let undo = if hooks.started.hardware.simulate {
            "stopping the simulated Pi (no hardware was touched)"
        } else {
            "restoring fan and cpufreq"
        };
        log::error!("{panicked}; {undo}");
    }
    let DaemonHooks {
        status, thermal, ..
    } = hooks;
    status.stop();
    // A restore that failed at exit leaves the hardware as warden set it: exit 1,
    // so systemd records the failure (the cause is logged already).
    let restored = thermal.map_or(Ok(()), ThermalGuard::stop);
    let reason = match outcome {
        Ok(result) => result.context("event loop failed")?,
        Err(panicked) => return Err(Failure::Runtime(anyhow::anyhow!(panicked))),
    };
    log::info!("stopped: {reason}");
    log_final_counters(&shared);
    restored.map_err(Failure::Runtime)
}

/// The text a panic was raised with, when it was a string.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(not a string)")
}

/// One line with every counter, for operators and the integration tests.
fn log_final_counters(shared: &LoopShared) {
    let c = shared.stats.load();
    log::info!(
        "final counters: accepted={} rejected_capacity={} rejected_thermal={} closed={} timed_out={} \
         drain_closed={} bytes_in={} bytes_out={} accept_emfile={} accept_enfile={} accept_nomem={} \
         accept_aborted={} accept_other={} emfile_backoffs={} io_errors={} backpressure_pauses={} capacity_pauses={}",
        c.accepted, c.rejected_capacity, c.rejected_thermal, c.closed, c.timed_out, c.drain_closed, c.bytes_in,
        c.bytes_out, c.accept_emfile, c.accept_enfile, c.accept_nomem, c.accept_aborted, c.accept_other,
        c.emfile_backoffs, c.io_errors, c.backpressure_pauses, c.capacity_pauses
    );
}

/// One WARN when the configured `server.listen` is not what systemd passed: those sockets
/// are served and `server.listen` is ignored, which would otherwise go unnoticed until a
/// client knocks on the configured port. A dual-stack `[::]:P` socket (what
/// `ListenStream=P` binds) stands for `0.0.0.0:P` too, so the shipped config and unit agree.
fn warn_listen_ignored(path: &Path, configured: &[SocketAddr], passed: &[engine::Listener]) {
    let served: Vec<(SocketAddr, bool)> = passed
        .iter()
        .map(|l| {
            let dual_stack =
                l.addr.is_ipv6() && socket2::SockRef::from(&l.socket).only_v6().ok() == Some(false);
            (l.addr, dual_stack)
        })
        .collect();
    if listen_matches(configured, &served) {
        return;
    }
    let list = |addrs: &mut dyn Iterator<Item = SocketAddr>| {
        addrs.map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
    };
    log::warn!(
        "server.listen in {} is [{}], but systemd passed [{}]: warden serves the sockets \
         systemd passes and ignores server.listen. To change the service address, edit \
         ListenStream= in warden.socket (systemctl edit warden.socket), and make server.listen \
         agree (or remove it)",
        path.display(),
        list(&mut configured.iter().copied()),
        list(&mut served.iter().map(|(addr, _)| *addr))
    );
}

/// True when the configured addresses and the passed sockets (address, dual-stack) are the
/// same set, a dual-stack `[::]:P` matching `[::]:P` and `0.0.0.0:P` alike.
fn listen_matches(configured: &[SocketAddr], served: &[(SocketAddr, bool)]) -> bool {
    let covers = |(addr, dual_stack): (SocketAddr, bool), wanted: SocketAddr| {
        wanted == addr
            || (dual_stack
                && addr.ip().is_unspecified()
                && wanted.port() == addr.port()
                && wanted.ip() == std::net::Ipv4Addr::UNSPECIFIED)
    };
    configured
        .iter()
        .all(|wanted| served.iter().any(|s| covers(*s, *wanted)))
        && served
            .iter()
            .all(|s| configured.iter().any(|wanted| covers(*s, *wanted)))
}

fn bind_all(settings: &EngineSettings) -> Result<Vec<engine::Listener>, Failure> {
    let mut out = Vec::with_capacity(settings.listen.len());
    for addr in &settings.listen {
        let listener =
            engine::listener::bind(*addr, settings.backlog).map_err(anyhow::Error::from)?;
        log::info!(
            "listening on {} (backlog {})",
            listener.addr,
            settings.backlog
        );
        out.push(listener);
    }
    Ok(out)
}

fn apply_logging(config: &Config) {
    logging::init(config.log.level.level_filter(), log_format(config));
}

/// The log writer's format for `log.format`.
pub(crate) fn log_format(config: &Config) -> LogFormat {
    match config.log.format {
        crate::config::LogFormat::Json => LogFormat::Json,
        crate::config::LogFormat::Text => LogFormat::Text,
    }
}

/// The event loop's view of `[server]`, with `max_connections` lowered to what the
/// open-file budget holds beside the listeners (`systemd_listeners` sockets when systemd
/// passed them, else one per `server.listen` address), and a warning naming `when` if
/// it had to be.
pub fn engine_settings(
    config: &Config,
    fd_budget: &FdBudget,
    systemd_listeners: Option<usize>,
    when: &str,
) -> EngineSettings {
    let server = &config.server;
    let listeners = systemd_listeners.unwrap_or(server.listen.len());
    EngineSettings {
        listen: server.listen.clone(),
        backlog: server.backlog,
        max_connections: fd_budget.cap(server.max_connections, listeners, when),
        at_capacity: match server.at_capacity {
            AtCapacity::Pause => ShedMode::Pause,
            AtCapacity::Reject => ShedMode::Reject,
        },
        max_pending_bytes: server.max_pending_bytes,
        read_buffer_bytes: server.read_buffer_bytes,
        idle_timeout: server.idle_timeout,
        drain_timeout: server.drain_timeout,
    }
}

/// What stopping may take after the drain, told to systemd with the drain timeout
/// (`EXTEND_TIMEOUT_USEC=`): the thermal thread's restore (at most
/// [`warden_thermal::STOP_TIMEOUT`]) plus 5 s for the status page and the last log lines.
const STOP_AFTER_DRAIN: Duration = Duration::from_secs(warden_thermal::STOP_TIMEOUT.as_secs() + 5);

/// The daemon's answers to the loop's callbacks.
struct DaemonHooks {
    config_path: Option<PathBuf>,
    /// `warden run --simulate`: applied to every file read ([`Config::with_simulate_flag`]).
    simulate_flag: bool,
    /// How many listening sockets systemd passed, if it did: then `server.listen` binds
    /// nothing, and the open-file budget counts those sockets.
    systemd_listeners: Option<usize>,
    /// The configuration warden started with: what only a restart changes
    /// ([`Config::restart_only_changes`]) is compared against it.
    started: Config,
    /// The newest configuration a SIGHUP applied (at first, `started`); after the
    /// loop has moved, its `server.listen` and `status` are what was really bound.
    applied: Config,
    /// How the open-file limit is shared out: every reload is held to it too.
    fd_budget: FdBudget,
    notifier: Notifier,
    /// The status page, rebuilt when a SIGHUP changes `[status]`.
    status: LiveStatus,
    thermal: Option<ThermalGuard>,
    /// Between [`LoopHooks::reload`] and [`LoopHooks::reloaded`]: what to compare the
    /// applied configuration with for the `SIGHUP: applied ...` line.
    reload_report: Option<ReloadReport>,
}

/// What a reload started from, for the line logged once everything has moved.
struct ReloadReport {
    /// The configuration applied before this reload.
    previous: Config,
    /// True when the file asked for nothing new: no key differs from what runs and
    /// none waits for a restart.
    nothing_asked: bool,
}

impl ReloadReport {
    /// One INFO line: each `[server]`, `[log]` and `[status]` key now in force with a
    /// new value (old -> new), or `no changes` when the file asked for none. A value the
    /// loop enforces differently (`in_force`) is marked so.
    fn log(self, applied: &Config, in_force: &EngineSettings) {
        let changes = crate::config::live_changes(&self.previous, applied);
        if !changes.is_empty() {
            let overridden = logging::level_override();
            let capped = in_force.max_connections != applied.server.max_connections;
            let listed: Vec<String> = changes
                .iter()
                .map(|change| match (change.key, overridden) {
                    ("log.level", Some(level)) => format!(
                        "{change} (not in force: WARDEN_LOG={} overrides it)",
                        level.as_str().to_ascii_lowercase()
                    ),
                    ("server.max_connections", _) if capped => format!(
                        "{change} (held to {} by the open-file limit)",
                        in_force.max_connections
                    ),
                    _ => change.to_string(),
                })
                .collect();
            log::info!("SIGHUP: applied {}", listed.join(", "));
        } else if self.nothing_asked {
            log::info!("SIGHUP: no changes");
        }
    }
}

impl DaemonHooks {
    /// READY=1 once the listeners are bound (they are) and the thermal
    /// thread has its first reading.
    fn announce_ready(&mut self) {
        if let Some(guard) = &self.thermal {
            if !guard.shared().wait_first_reading(FIRST_READING_TIMEOUT) {
                log::warn!(
                    "no thermal reading within {FIRST_READING_TIMEOUT:?}; reporting ready anyway"
                );
            }
        }
        self.notifier.ready();
        log::info!("ready");
    }

    fn temperature(&self) -> Option<f64> {
        self.thermal
            .as_ref()
            .and_then(|guard| guard.shared().current().temp_c)
    }

    /// Hands a changed thermal policy (thresholds, prediction, sensor checks, fan
    /// curve and dwell) to the running controller.
    fn apply_thermal_policy(&self, newer: &Config) {
        let policy = thermal_guard::policy_config(newer);
        if policy == thermal_guard::policy_config(&self.applied) {
            return;
        }
        match &self.thermal {
            // The controller logs the thresholds it takes.
            Some(guard) => {
                if let Err(e) = guard.reconfigure(policy) {
                    log::error!("SIGHUP: thermal policy: {e}");
                }
            }
            None => log::warn!(
                "SIGHUP: the thermal policy changed, but thermal control is off (no thermal zone)"
            ),
        }
    }

    /// Hands a changed tick interval or cpu strategy to the running controller. A switch
    /// to the "governor" strategy is checked first as at start (the powersave governor must
    /// be offered): when it fails, the running strategy stays, the rest still applies, and
    /// `newer` keeps the running `[cpufreq]` so the next SIGHUP tries the switch again.
    fn apply_controller_settings(&mut self, newer: &mut Config) {
        let running = self.live_controller_settings(&self.applied);
        let mut settings = self.live_controller_settings(newer);
        if settings.cpu_strategy != running.cpu_strategy {
            let checked = match self.check_cpu_strategy(&settings.cpu_strategy) {
                Err(e) => Err(e.to_string()),
                Ok(()) => self.thermal.as_mut().map_or(Ok(()), |guard| {
                    guard.record_strategy(&settings.cpu_strategy)
                }),
            };
            if let Err(e) = checked {
                log::error!(
                    "SIGHUP: cpufreq.strategy = \"{}\": {e}; keeping the cpu strategy {}",
                    settings.cpu_strategy.as_str(),
                    running.cpu_strategy.as_str()
                );
                settings.cpu_strategy = running.cpu_strategy.clone();
                newer.cpufreq = self.applied.cpufreq.clone();
            }
        }
        if (settings.interval, &settings.cpu_strategy) == (running.interval, &running.cpu_strategy)
        {
            return;
        }
        match &mut self.thermal {
            Some(guard) => {
                if let Err(e) = guard.retune(&settings) {
                    log::error!("SIGHUP: thermal controller: {e}");
                }
            }
            None => log::warn!(
                "SIGHUP: thermal.interval_ms or [cpufreq] changed, but thermal control is off (no thermal zone)"
            ),
        }
    }

    /// What the start-up factory checks before a strategy can be used, checked again on the
    /// kernel's lists as they are now (or the simulated Pi's own list).
    fn check_cpu_strategy(&self, strategy: &warden_thermal::CpuStrategy) -> Result<(), HwError> {
        match strategy {
            warden_thermal::CpuStrategy::Governor { powersave } if self.thermal.is_some() => {
                match self.started.hardware.simulate {
                    true => warden_hw::sim::SimCpuFreq::check_governor(powersave),
                    false => warden_hw::check_powersave_governor(
                        &self.started.hardware.sysfs_root,
                        powersave,
                    ),
                }
            }
            _ => Ok(()),
        }
    }

    /// The controller settings `config` asks for that a reload can apply: a strategy away
    /// from `off` needs a cpufreq policy opened at start, so it stays `off` until a
    /// restart (and the reload names it).
    fn live_controller_settings(&self, config: &Config) -> warden_thermal::ControllerConfig {
        let mut settings = thermal_guard::controller_config(config);
        if self.started.cpufreq.strategy == CpuFreqStrategy::Off {
            settings.cpu_strategy = warden_thermal::CpuStrategy::Off;
        }
        settings
    }
}

impl LoopHooks for DaemonHooks {
    fn reload(&mut self) -> Option<EngineSettings> {
        let Some(path) = self.config_path.clone() else {
            log::warn!("SIGHUP: no --config file to re-read; keeping the built-in defaults");
            return None;
        };
        self.notifier.reloading();
        match Config::load(&path) {
            Ok(config) => {
                let mut config = config.with_simulate_flag(self.simulate_flag);
                apply_logging(&config);
                let waiting = self.started.restart_only_changes(&config);
                if !waiting.is_empty() {
                    log::warn!(
                        "SIGHUP: {} changed; that takes a restart, and until then the values warden started with stay in force",
                        waiting.join(", ")
                    );
                }
                // Keys the last file changed (and were warned about) that are back to what
                // runs: nothing waits for a restart any more.
                let reverted = self.started.restart_only_reverted(&self.applied, &waiting);
                if !reverted.is_empty() {
                    log::info!(
                        "SIGHUP: {} back to the value warden runs with; no restart needed",
                        reverted.join(", ")
                    );
                }
                let nothing_asked = waiting.is_empty() && config == self.applied;
                self.apply_thermal_policy(&config);
                self.apply_controller_settings(&mut config);
                // Before the listeners bind: they may want the port the page gives up.
                let listen: &[SocketAddr] = match self.systemd_listeners {
                    None => &config.server.listen,
                    Some(_) => &[],
                };
                let kept = self.status.release_port_for(
                    listen,
                    &self.applied.server.listen,
                    &config.status,
                );
                let mut settings =
                    engine_settings(&config, &self.fd_budget, self.systemd_listeners, "SIGHUP");
                if let Some(page) = kept {
                    // All or nothing, as when a bind fails: the next SIGHUP tries again.
                    log::error!(
                        "SIGHUP: keeping the old listeners: server.listen wants {page}, which the status page keeps (see above)"
                    );
                    settings.listen.clone_from(&self.applied.server.listen);
                    settings.backlog = self.applied.server.backlog;
                }
                let previous = std::mem::replace(&mut self.applied, config);
                self.reload_report = Some(ReloadReport {
                    previous,
                    nothing_asked,
                });
                Some(settings)
            }
            Err(e) => {
                log::error!("SIGHUP: {e}; keeping the running configuration");
                // Nothing moves: the reload is over.
                self.notifier.ready();
                None
            }
        }
    }

    fn heartbeat(&mut self, shared: &LoopShared, now: Instant) {
        self.notifier.watchdog(now);
        if self.notifier.status_due(now) {
            let text = status_text(shared, self.temperature());
            self.notifier.status(now, &text);
        }
    }

    fn heartbeat_interval(&self) -> Duration {
        self.notifier
            .watchdog_interval()
            .map_or(engine::HEARTBEAT_INTERVAL, |w| {
                w.min(engine::HEARTBEAT_INTERVAL)
            })
    }

    /// STOPPING=1, and how long the stop may take from here: the drain, then the
    /// fan and cpufreq restore ([`STOP_AFTER_DRAIN`]). Without it systemd kills a drain
    /// longer than `TimeoutStopSec=` (30 s in the shipped unit) halfway.
    fn draining(&mut self) {
        self.notifier
            .stopping(self.applied.server.drain_timeout + STOP_AFTER_DRAIN);
    }

    /// The status page moves after the listeners, so it may take a port they gave up;
    /// then the one line on what the reload applied, and READY=1: systemd's reload
    /// is over only once everything has moved.
    fn reloaded(&mut self, applied: &EngineSettings) {
        self.status.apply(&self.applied.status);
        // A bind that failed left the old address in force: the next SIGHUP tries again.
        self.applied.server.listen.clone_from(&applied.listen);
        self.applied.server.backlog = applied.backlog;
        self.applied.status = self.status.running().clone();
        if let Some(report) = self.reload_report.take() {
            report.log(&self.applied, applied);
        }
        self.notifier.ready();
    }
}

#[cfg(test)]
mod reload_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn the_same_set_of_addresses_matches_in_any_order() {
        let served = [
            ("127.0.0.1:7000".parse().unwrap(), false),
            ("[::1]:7000".parse().unwrap(), false),
        ];
        assert!(listen_matches(
            &addrs(&["[::1]:7000", "127.0.0.1:7000"]),
            &served
        ));
        assert!(!listen_matches(&addrs(&["127.0.0.1:7000"]), &served));
        assert!(!listen_matches(
            &addrs(&["127.0.0.1:7000", "[::1]:7000", "127.0.0.1:7001"]),
            &served
        ));
        assert!(!listen_matches(&addrs(&["127.0.0.1:8000"]), &served[..1]));
    }

    #[test]
    fn a_dual_stack_any_address_stands_for_ipv4_any_too() {
        let dual = [("[::]:7000".parse().unwrap(), true)];
        assert!(listen_matches(&addrs(&["0.0.0.0:7000"]), &dual));
        assert!(listen_matches(
            &addrs(&["0.0.0.0:7000", "[::]:7000"]),
            &dual
        ));
        assert!(!listen_matches(&addrs(&["0.0.0.0:8000"]), &dual));
        let v6_only = [("[::]:7000".parse().unwrap(), false)];
        assert!(!listen_matches(&addrs(&["0.0.0.0:7000"]), &v6_only));
    }
}
