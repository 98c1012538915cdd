//! Test hooks the environment can arm at start: signals that wedge or panic the loop
//! thread, so tests can check the watchdog, `/healthz` and the restore after a panic.

/// Environment variable that arms the wedge test hook: with it set to 1,
/// SIGUSR2 blocks the loop thread forever, so tests can check that a stuck
/// loop stops the systemd watchdog pings and fails `/healthz`.
pub const WEDGE_HOOK_ENV: &str = "WARDEN_TEST_WEDGE";
/// Environment variable that arms the panic test hook: with it set to 1,
/// SIGUSR1 panics the loop thread, so tests can check that a panic restores
/// the hardware and exits with the documented code.
pub const PANIC_HOOK_ENV: &str = "WARDEN_TEST_PANIC";

/// Which test hooks the environment armed at start.
#[derive(Debug, Clone, Copy)]
pub(super) struct TestHooks {
    /// SIGUSR2 wedges the loop.
    pub(super) wedge: bool,
    /// SIGUSR1 panics the loop.
    pub(super) panic: bool,
}

/// True when the test hook behind `env` is armed (set to 1).
pub(super) fn test_hook_armed(env: &str) -> bool {
    std::env::var_os(env).is_some_and(|v| v == "1")
}
