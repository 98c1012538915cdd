//! warden-hw's integration tests: the real backends against fake sysfs trees on disk.

mod boundary;
mod cpufreq;
mod cpufreq_checks;
mod cpufreq_originals;
mod cpufreq_policies;
mod cpufreq_restore;
mod factory;
mod fakes;
mod fans;
mod not_a_pi;
mod restore;
mod restore_owner;
mod restore_replay;
mod restore_targets;
mod sensor;
mod throttle;
mod util;
