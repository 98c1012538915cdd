//! `warden run --simulate`: the daemon against the in-process Pi model. It
//! says loudly that nothing is real, and the whole control loop shows on the
//! status page: with the simulated fan broken and a full synthetic load the
//! die heats past the shed threshold and warden starts refusing newcomers;
//! the thermal controller's clock runs at the simulation's speed.

use std::time::{Duration, Instant};

use crate::status::{get, status_addr};
use crate::util::{config_with, Launch, TempDir, Warden};

#[test]
fn simulate_is_loud_and_drives_the_whole_control_loop() {
    let w = Warden::start_in(
        TempDir::new("simulate"),
        &config_with("", ""),
        Launch {
            args: vec!["--simulate".into()],
            env: vec![
                ("WARDEN_SIM_LOAD".into(), "1.0".into()),
                ("WARDEN_SIM_FAN".into(), "broken".into()),
                ("WARDEN_SIM_AMBIENT_C".into(), "35".into()),
                ("WARDEN_SIM_SPEED".into(), "100".into()),
            ],
            ..Launch::default()
        },
    );
    let warning = w.wait_log("SIMULATED", Duration::from_secs(5));
    assert!(warning.contains("WARN"), "{warning}");
    let status = status_addr(&w);
    let notes = w
        .log()
        .iter()
        .filter(|l| l.contains("sensor: simulated Pi 4 SoC"))
        .count();
    assert_eq!(notes, 1, "each backend note is logged once: {:?}", w.log());
    let first = get(status, "/status").json();
    let description = first["thermal"]["sensor"]["description"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        description.contains("simulated"),
        "sensor says what it is: {description:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = get(status, "/status").json();
        if s["admission"]["state"] == "shedding" {
            assert!(s["thermal"]["temp_c"].as_f64().unwrap() > 70.0, "{s}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the simulated die never got hot enough to shed: {}",
            s["thermal"]
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The controller's clock runs at the simulation's speed: 100 ticks of the default
    // 500 ms take 50 s at 1×, half a second of wall time at 100×.
    let ticks = |s: &serde_json::Value| s["thermal"]["ticks"].as_u64().unwrap_or(0);
    let from = ticks(&get(status, "/status").json());
    crate::util::wait_until(
        "100 more thermal ticks, as the simulated board runs at 100x",
        Duration::from_secs(20),
        || ticks(&get(status, "/status").json()) >= from + 100,
    );
}
