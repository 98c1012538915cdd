//! The state-directory lock holds for the whole run even when no thermal zone
//! exists (thermal control off): a second warden on the same `hardware.state_dir`
//! still refuses to start, with exit 1, naming the lock and the running warden.

use std::time::Duration;

use crate::util::{config_with, Launch, TempDir, Warden};

#[test]
fn without_a_thermal_zone_a_second_warden_on_the_same_state_dir_refuses_to_start() {
    // `@DIR@/sysfs` does not exist: no thermal zone, THERMAL CONTROL IS OFF.
    let first = Warden::start(&config_with("", ""));
    first.wait_log("THERMAL CONTROL IS OFF", Duration::from_secs(5));
    let state_dir = first.dir.path().join("run");
    let config = config_with("", "").replace("@DIR@", &first.dir.path().display().to_string());
    let launch = Launch {
        expect_exit: true,
        ..Launch::default()
    };
    let mut second = Warden::start_in(TempDir::new("second"), &config, launch);
    let status = second.wait_exit(Duration::from_secs(10)).expect("exits");
    // The log reader may still be draining the pipe after the exit.
    second.wait_log("another warden", Duration::from_secs(5));
    let log = second.log().join("\n");
    assert_eq!(status.code(), Some(1), "a runtime conflict:\n{log}");
    assert!(
        log.contains(&format!("pid {}", first.pid()))
            && log.contains(&state_dir.display().to_string()),
        "names the running warden and the state dir:\n{log}"
    );
}
