//! The state-directory lock holds for the whole run even when no thermal zone
//! exists (thermal control off): a second warden on the same `hardware.state_dir`
//! still refuses to start, with exit 1, naming the lock and the running warden.

use std::time::Duration;

use crate::util::{assert_second_warden_refused, config_with, Warden};

#[test]
fn without_a_thermal_zone_a_second_warden_on_the_same_state_dir_refuses_to_start() {
    // `@DIR@/sysfs` does not exist: no thermal zone, THERMAL CONTROL IS OFF.
    let first = Warden::start(&config_with("", ""));
    first.wait_log("THERMAL CONTROL IS OFF", Duration::from_secs(5));
    assert_second_warden_refused(&first, "");
}
