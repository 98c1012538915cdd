//! When a reload tells systemd it is over: `RELOADING=1` as the file is read, and
//! `READY=1` only once the event loop and the status page have moved (or at once,
//! when the file is refused and nothing moves).

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;

use super::*;
use crate::engine::LoopShared;

/// A bound datagram socket standing in for systemd's, and a config file, in a
/// directory of their own.
struct Rig {
    dir: PathBuf,
    systemd: UnixDatagram,
}

impl Rig {
    fn new(tag: &str) -> Rig {
        let dir = std::env::temp_dir().join(format!("warden-reload-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let systemd = UnixDatagram::bind(dir.join("notify.sock")).unwrap();
        systemd.set_nonblocking(true).unwrap();
        Rig { dir, systemd }
    }

    fn config_path(&self) -> PathBuf {
        self.dir.join("warden.toml")
    }

    fn write_config(&self, text: &str) {
        std::fs::write(self.config_path(), text).unwrap();
    }

    /// Hooks as `run` builds them, on the file written last, with no thermal zone
    /// and the status page off (nothing is bound).
    fn hooks(&self) -> DaemonHooks {
        let config = Config::load(&self.config_path()).unwrap();
        let sources = StatusSources::new(
            Arc::new(LoopShared::new(10)),
            ThermalSource::Absent {
                reason: "test".into(),
            },
            "echo",
        );
        let status = LiveStatus::start(sources, &config.status, 4).unwrap();
        let socket = self.dir.join("notify.sock");
        DaemonHooks {
            config_path: Some(self.config_path()),
            simulate_flag: false,
            systemd_listeners: None,
            started: config.clone(),
            applied: config,
            fd_budget: FdBudget::for_limit(1024),
            notifier: Notifier::from_values(Some(socket.as_os_str()), None, None, 1),
            status,
            thermal: None,
            reload_report: None,
        }
    }

    /// Every notification waiting now, first line of each.
    fn received(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.systemd.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            out.push(text.lines().next().unwrap_or_default().to_owned());
        }
        out
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const CONFIG: &str = "[server]\nlisten = [\"127.0.0.1:0\"]\n\n[status]\nenabled = false\n";

#[test]
fn ready_after_a_reload_waits_until_the_loop_and_the_page_have_moved() {
    let rig = Rig::new("moved");
    rig.write_config(CONFIG);
    let mut hooks = rig.hooks();
    rig.write_config(&CONFIG.replace("127.0.0.1:0", "127.0.0.1:0\", \"[::1]:0"));
    let settings = hooks.reload().expect("a valid file is applied");
    assert_eq!(
        rig.received(),
        ["RELOADING=1"],
        "nothing has moved yet: systemd must still wait"
    );
    hooks.reloaded(&settings);
    assert_eq!(rig.received(), ["READY=1"]);
}

#[test]
fn a_refused_file_ends_the_reload_at_once() {
    let rig = Rig::new("refused");
    rig.write_config(CONFIG);
    let mut hooks = rig.hooks();
    rig.write_config("[server]\nno_such_key = 1\n");
    assert!(hooks.reload().is_none(), "the running configuration stays");
    assert_eq!(rig.received(), ["RELOADING=1", "READY=1"]);
}
