//! A flapping sensor must not flood the journal: the controller logs the first level
//! and admission changes of a minute at once, then holds the rest back for a summary
//! at the end of the minute or, as here, when the controller stops (the minute's
//! summary is unit tested in `change_log`). Read back through a capturing logger; waits
//! are bounded by a generous deadline and nothing asserts how fast anything is.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use log::LevelFilter;
use warden_hw::fake::{FakeFan, FakeSensor};
use warden_thermal::change_log::CHANGE_LINES_PER_PERIOD;
use warden_thermal::{Controller, ControllerConfig, Level, SharedSnapshot};

mod common;

use common::capture_log::{capture_at, messages};
use common::{reactive_policy, wait_until, DEADLINE};

const CONTROLLER_TARGET: &str = "warden_thermal::controller";
const SUMMARY_TARGET: &str = "warden_thermal::summaries";
/// Round trips between fan and shed: each is two level and two admission changes.
const FLAPS: u64 = 15;

#[test]
fn a_flapping_sensor_logs_a_bounded_number_of_changes() {
    let _guard = capture_at(LevelFilter::Info);
    let sensor = FakeSensor::new(60.0);
    let admission_changes = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&admission_changes);
    let snapshot = Arc::new(SharedSnapshot::new());
    let config = ControllerConfig {
        interval: Duration::from_millis(5),
        ..ControllerConfig::default()
    };
    let handle = Controller::new(
        reactive_policy(),
        Box::new(sensor.clone()),
        Box::new(FakeFan::proportional()),
    )
    .unwrap()
    .spawn(
        config,
        Box::new(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        }),
        Arc::clone(&snapshot),
    )
    .unwrap();
    assert!(snapshot.wait_first_reading(DEADLINE), "no first reading");

    for _ in 0..FLAPS {
        sensor.set_celsius(79.0);
        wait_until("shed", || snapshot.current().level == Level::Shed);
        sensor.set_celsius(60.0);
        wait_until("out of shed", || snapshot.current().level != Level::Shed);
    }
    let level_at_stop = snapshot.current().level;
    handle.stop().unwrap();

    // Every change reached the event loop...
    assert_eq!(admission_changes.load(Ordering::SeqCst), 2 * FLAPS);
    // ...but only the first few of each kind reached the log, the last saying so.
    let bound = CHANGE_LINES_PER_PERIOD as usize;
    for prefix in ["thermal level ", "admission "] {
        let lines = messages(CONTROLLER_TARGET, prefix);
        assert_eq!(lines.len(), bound, "{lines:#?}");
        assert!(
            lines[bound - 1]
                .ends_with("; further changes within 60 s are held back and summarised"),
            "{lines:#?}"
        );
    }
    let first_admission = &messages(CONTROLLER_TARGET, "admission ")[0];
    assert_eq!(first_admission, "admission open -> shed (reject) (hot)");
    // Stopping summarised the changes held back, each with the state it ended in.
    let held_admissions = 2 * FLAPS - CHANGE_LINES_PER_PERIOD as u64;
    let summaries = messages(SUMMARY_TARGET, "admission: ");
    assert_eq!(summaries.len(), 1, "{summaries:#?}");
    let expected = format!("admission: {held_admissions} changes in the last ");
    assert!(summaries[0].starts_with(&expected), "{summaries:#?}");
    assert!(
        summaries[0].ends_with(" s held back (flapping between open and shed (reject)); now open"),
        "{summaries:#?}"
    );
    let summaries = messages(SUMMARY_TARGET, "thermal level: ");
    assert_eq!(summaries.len(), 1, "{summaries:#?}");
    let now = format!("; now {}", level_at_stop.as_str());
    assert!(summaries[0].ends_with(&now), "{summaries:#?}");
}
