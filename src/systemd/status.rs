//! The one-line `STATUS=` text that `systemctl status` shows: temperature,
//! connections and admission, most telling first.

use std::fmt::Write;

use crate::engine::LoopShared;

/// Formats the status line, e.g.
/// `"54.3 °C, 12 connections (340 accepted), admission open"`; the
/// temperature is left out until the thermal thread has a reading.
pub fn status_text(shared: &LoopShared, temperature_c: Option<f64>) -> String {
    let counters = shared.stats.load();
    let mut text = String::with_capacity(80);
    if let Some(celsius) = temperature_c {
        let _ = write!(text, "{celsius:.1} °C, ");
    }
    let noun = if counters.active == 1 {
        "connection"
    } else {
        "connections"
    };
    let _ = write!(
        text,
        "{} {noun} ({} accepted), admission {}",
        counters.active,
        counters.accepted,
        shared.gate().as_str()
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stats::LocalStats;
    use crate::engine::GateState;

    #[test]
    fn names_connections_admission_and_temperature_when_known() {
        let shared = LoopShared::new(100);
        shared.stats.publish(&LocalStats {
            active: 12,
            accepted: 340,
            ..LocalStats::default()
        });
        assert_eq!(
            status_text(&shared, None),
            "12 connections (340 accepted), admission open"
        );
        shared.set_gate(GateState::ShedReject);
        assert_eq!(
            status_text(&shared, Some(76.04)),
            "76.0 °C, 12 connections (340 accepted), admission shedding"
        );
        shared.stats.publish(&LocalStats {
            active: 1,
            accepted: 1,
            ..LocalStats::default()
        });
        assert!(status_text(&shared, None).starts_with("1 connection (1 accepted)"));
    }
}
