//! The ideal-controller bound for every scenario where the fan is not enough: how much
//! work any controller could serve under the ceilings that matter, and what peak it would
//! take to serve more than firmware-only throttling.

use std::fmt::Write as _;

use anyhow::Result;
use warden_thermal::PolicyConfig;

use crate::compare::{fan_alone_suffices, RunMetrics, HOT_C};
use crate::ideal::{self, IdealRun};
use crate::regime::RegimeKind;
use crate::report::ScenarioRuns;

/// One ceiling the ideal controller was run under, and why it matters.
#[derive(Debug, Clone, PartialEq)]
pub struct Ceiling {
    /// What the ceiling is.
    pub why: String,
    /// What the ideal controller served under it.
    pub ideal: IdealRun,
    /// A regime that peaked at this ceiling, with what it served (s), if any.
    pub regime: Option<(RegimeKind, f64)>,
}

/// The bound for one scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioBound {
    /// Scenario name.
    pub scenario: String,
    /// The ceilings, coolest first.
    pub ceilings: Vec<Ceiling>,
    /// What firmware-only throttling served (share) and its peak (°C).
    pub firmware_only: (f64, f64),
    /// The lowest peak at which the ideal serves more than firmware-only (°C); `None`
    /// when no peak up to firmware-only's own does.
    pub break_even_c: Option<f64>,
}

/// The bound of every scenario whose fan cannot hold the die below [`HOT_C`].
pub fn bounds(all: &[ScenarioRuns]) -> Result<Vec<ScenarioBound>> {
    let shed_c = PolicyConfig::default().thresholds.shed.on_c;
    let mut out = Vec::new();
    for (scenario, runs) in all {
        let find = |kind| runs.iter().map(|r| &r.metrics).find(|m| m.regime == kind);
        let Some(bare) = find(RegimeKind::FirmwareOnly) else {
            continue;
        };
        if fan_alone_suffices(scenario) {
            continue;
        }
        let mut ceilings = Vec::new();
        let mut add = |why: String, ceiling_c: f64, regime: Option<&RunMetrics>| -> Result<()> {
            ceilings.push(Ceiling {
                why,
                ideal: ideal::run(scenario, ceiling_c)?,
                regime: regime.map(|m| (m.regime, m.served_work_s)),
            });
            Ok(())
        };
        add(
            format!("warden's shed threshold {shed_c:.1} °C"),
            shed_c,
            None,
        )?;
        for kind in [RegimeKind::WardenPwm, RegimeKind::WardenOnOff] {
            if let Some(m) = find(kind) {
                add(format!("{}'s peak", kind.label()), m.peak_c, Some(m))?;
            }
        }
        add(
            format!("{HOT_C:.1} °C, where the firmware starts capping"),
            HOT_C,
            None,
        )?;
        add("firmware-only's peak".to_owned(), bare.peak_c, Some(bare))?;
        ceilings.sort_by(|a, b| a.ideal.ceiling_c.total_cmp(&b.ideal.ceiling_c));
        let low_c = scenario.ambient.at(0.0);
        let break_even_c =
            ideal::break_even_ceiling(scenario, bare.served_work_s, low_c, bare.peak_c)?;
        out.push(ScenarioBound {
            scenario: scenario.name.clone(),
            ceilings,
            firmware_only: (bare.served_share(), bare.peak_c),
            break_even_c,
        });
    }
    Ok(out)
}

/// The bounds as a Markdown table and one conclusion per scenario.
pub fn markdown(bounds: &[ScenarioBound]) -> String {
    let mut out = String::from(
        "Ideal-controller bound where the fan is not enough (`tools/thermal-sim/src/ideal.rs`): \
         the most work any controller serves with the die held at or below a ceiling.\n\n\
         | scenario | ceiling | °C | ideal serves | a regime at this peak serves |\n\
         |---|---|---:|---:|---:|\n",
    );
    for bound in bounds {
        for ceiling in &bound.ceilings {
            let regime = match ceiling.regime {
                Some((kind, served_s)) => {
                    let share = served_s / ceiling.ideal.offered_work_s;
                    let of_ideal = served_s / ceiling.ideal.served_work_s;
                    format!(
                        "{}: {:.1} % ({:.0} % of the ideal)",
                        kind.label(),
                        share * 100.0,
                        of_ideal * 100.0
                    )
                }
                None => String::new(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} | {:.1} % | {} |",
                bound.scenario,
                ceiling.why,
                ceiling.ideal.ceiling_c,
                ceiling.ideal.served_share() * 100.0,
                regime
            );
        }
    }
    out.push('\n');
    for bound in bounds {
        let (bare_share, bare_peak) = bound.firmware_only;
        let verdict = match bound.break_even_c {
            Some(c) if c >= HOT_C => format!(
                "more work than firmware-only ({:.1} %) takes a peak of at least {c:.2} °C, \
                 and firmware-only peaks at {bare_peak:.2} °C: the only peaks that allow it \
                 lie inside the firmware's own capping band, above {HOT_C:.0} °C",
                bare_share * 100.0
            ),
            Some(c) => format!(
                "more work than firmware-only ({:.1} %) is possible from a peak of {c:.2} °C, \
                 below firmware-only's {bare_peak:.2} °C",
                bare_share * 100.0
            ),
            None => format!(
                "no peak below firmware-only's {bare_peak:.2} °C serves its {:.1} %",
                bare_share * 100.0
            ),
        };
        let _ = writeln!(out, "- {}: {verdict}.", bound.scenario);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::run_all;
    use crate::scenario::Scenario;

    fn scenario(fan: &str) -> Scenario {
        Scenario::from_toml(&format!(
            "name = \"t\"\nduration_s = 600\nseed = 9\n[ambient]\npoints = [[0.0, 34.0]]\n\
             [load]\nkind = \"constant\"\nlevel = 1.0\n{fan}"
        ))
        .unwrap()
    }

    #[test]
    fn only_scenarios_the_fan_cannot_hold_get_a_bound() {
        let working = scenario("");
        let dead = scenario("[fan]\nfails_at_s = 60.0\n");
        let all = vec![
            (working.clone(), run_all(&working).unwrap()),
            (dead.clone(), run_all(&dead).unwrap()),
        ];
        let found = bounds(&all).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let bound = &found[0];
        let ceilings: Vec<f64> = bound.ceilings.iter().map(|c| c.ideal.ceiling_c).collect();
        assert!(ceilings.windows(2).all(|p| p[0] <= p[1]), "{ceilings:?}");
        assert!(
            ceilings.contains(&75.0) && ceilings.contains(&HOT_C),
            "{ceilings:?}"
        );
        // The ideal serves at least what every regime served at its own peak.
        for ceiling in &bound.ceilings {
            if let Some((kind, served_s)) = ceiling.regime {
                assert!(ceiling.ideal.served_work_s >= served_s, "{kind:?}");
            }
        }
        let text = markdown(&found);
        assert!(
            text.contains("| t | warden's shed threshold 75.0 °C | 75.00 |"),
            "{text}"
        );
        assert!(text.contains("- t: "), "{text}");
    }
}
