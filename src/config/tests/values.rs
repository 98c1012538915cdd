//! Well-typed values that validation rejects: ranges, choices, addresses, list rules,
//! missing keys and cross-section conflicts. (Thermal stage rules: `stages.rs`; the
//! path keys: `paths.rs`.)

use super::{assert_error, check_rows};
use crate::config::ConfigErrorKind::*;

#[test]
fn out_of_range_values_quote_the_range() {
    check_rows(&[
        (
            "[server]\nbacklog = 0\n",
            OutOfRange,
            Some("server.backlog"),
            &["0 is out of range; allowed 1 to 65535"],
        ),
        (
            "[server]\nbacklog = 65536\n",
            OutOfRange,
            Some("server.backlog"),
            &["65536 is out of range"],
        ),
        (
            "[server]\nmax_connections = 1000001\n",
            OutOfRange,
            Some("server.max_connections"),
            &["allowed 1 to 1000000"],
        ),
        (
            "[server]\nmax_pending_bytes = 1023\n",
            OutOfRange,
            Some("server.max_pending_bytes"),
            &["allowed 1024 to 67108864"],
        ),
        (
            "[server]\nread_buffer_bytes = 4095\n",
            OutOfRange,
            Some("server.read_buffer_bytes"),
            &["allowed 4096 to 4194304"],
        ),
        (
            "[server]\nidle_timeout_s = 604801\n",
            OutOfRange,
            Some("server.idle_timeout_s"),
            &["allowed 0 to 604800"],
        ),
        (
            "[server]\ndrain_timeout_s = 3601\n",
            OutOfRange,
            Some("server.drain_timeout_s"),
            &["allowed 0 to 3600"],
        ),
        (
            "[thermal]\ninterval_ms = 49\n",
            OutOfRange,
            Some("thermal.interval_ms"),
            &["allowed 50 to 60000"],
        ),
        (
            "[thermal]\nhorizon_s = 600.5\n",
            OutOfRange,
            Some("thermal.horizon_s"),
            &["600.5 is out of range; allowed 0 to 600"],
        ),
        (
            "[thermal]\nhorizon_s = nan\n",
            OutOfRange,
            Some("thermal.horizon_s"),
            &["nan is out of range"],
        ),
        (
            "[thermal]\nfilter_tau_s = -1\n",
            OutOfRange,
            Some("thermal.filter_tau_s"),
            &["allowed 0 to 60"],
        ),
        (
            "[thermal]\ntrend_window_s = 0.5\n",
            OutOfRange,
            Some("thermal.trend_window_s"),
            &["allowed 1 to 600"],
        ),
        (
            "[thermal]\ncritical_on_c = 151\n",
            OutOfRange,
            Some("thermal.critical_on_c"),
            &["allowed -40 to 150"],
        ),
        (
            "[thermal]\nfan_off_c = -41\n",
            OutOfRange,
            Some("thermal.fan_off_c"),
            &["-41 is out of range"],
        ),
        (
            "[thermal]\nmax_step_c = -1\n",
            OutOfRange,
            Some("thermal.max_step_c"),
            &["allowed 0 to 190"],
        ),
        (
            "[thermal]\nstuck_s = 86401\n",
            OutOfRange,
            Some("thermal.stuck_s"),
            &["allowed 0 to 86400"],
        ),
        (
            "[fan]\npin = 28\n",
            OutOfRange,
            Some("fan.pin"),
            &["28 is out of range; allowed 0 to 27"],
        ),
        (
            "[fan]\npwm_channel = 2\n",
            OutOfRange,
            Some("fan.pwm_channel"),
            &["allowed 0 to 1"],
        ),
        (
            "[fan]\npwm_frequency_hz = 0\n",
            OutOfRange,
            Some("fan.pwm_frequency_hz"),
            &["allowed 1 to 100000"],
        ),
        (
            "[fan]\nmin_duty = 1.5\n",
            OutOfRange,
            Some("fan.min_duty"),
            &["allowed 0 to 1"],
        ),
        (
            "[fan]\nkick_ms = 10001\n",
            OutOfRange,
            Some("fan.kick_ms"),
            &["allowed 0 to 10000"],
        ),
        (
            "[fan]\nmin_on_s = 3601\n",
            OutOfRange,
            Some("fan.min_on_s"),
            &["allowed 0 to 3600"],
        ),
        (
            "[fan]\nmin_off_s = 3601\n",
            OutOfRange,
            Some("fan.min_off_s"),
            &["allowed 0 to 3600"],
        ),
        (
            "[fan]\ncurve_hysteresis_c = -1\n",
            OutOfRange,
            Some("fan.curve_hysteresis_c"),
            &["allowed 0 to 50"],
        ),
        (
            "[fan]\ncurve = [[50, 0.3], [160, 1]]\n",
            OutOfRange,
            Some("fan.curve[1][0]"),
            &["160 is out of range"],
        ),
        (
            "[fan]\ncurve = [[50, 0.3], [60]]\n",
            BadValue,
            Some("fan.curve[1]"),
            &["has 1 number;", "allowed 1 to 16 [temp_c, duty] pairs"],
        ),
        (
            "[fan]\ncurve = [[50.0, 0.5, 99.0], [60.0, 1.0, 0.0]]\n",
            BadValue,
            Some("fan.curve[0]"),
            &["has 3 numbers;", "[temp_c, duty] pairs"],
        ),
        (
            "[fan]\ndriver = \"file\"\npath = \"fan\"\n",
            BadValue,
            Some("fan.path"),
            &[
                "\"fan\" is not an absolute path",
                "allowed an absolute path",
            ],
        ),
        (
            "[fan]\ncurve = [[50, 1.2]]\n",
            OutOfRange,
            Some("fan.curve[0][1]"),
            &["1.2 is out of range; allowed 0 to 1"],
        ),
        (
            "[status]\nworkers = 0\n",
            OutOfRange,
            Some("status.workers"),
            &["allowed 1 to 64"],
        ),
        (
            "[status]\nworkers = 65\n",
            OutOfRange,
            Some("status.workers"),
            &["allowed 1 to 64"],
        ),
        (
            "[status]\nrequest_timeout_ms = 99\n",
            OutOfRange,
            Some("status.request_timeout_ms"),
            &["allowed 100 to 60000"],
        ),
    ]);
}

#[test]
fn bad_choices_list_the_choices() {
    check_rows(&[
        (
            "[server]\nservice = \"http\"\n",
            BadChoice,
            Some("server.service"),
            &["\"http\" is not a valid choice", "allowed only \"echo\""],
        ),
        (
            "[server]\nat_capacity = \"drop\"\n",
            BadChoice,
            Some("server.at_capacity"),
            &["allowed one of \"pause\", \"reject\""],
        ),
        (
            "[thermal]\nshed_mode = \"close\"\n",
            BadChoice,
            Some("thermal.shed_mode"),
            &["allowed one of \"reject\", \"pause\""],
        ),
        (
            "[thermal]\non_sensor_fault = \"fan\"\n",
            BadChoice,
            Some("thermal.on_sensor_fault"),
            &["\"fan-full\", \"fan-full-and-shed\""],
        ),
        (
            "[fan]\ndriver = \"pwm2\"\n",
            BadChoice,
            Some("fan.driver"),
            &["\"auto\", \"gpio\", \"pwm\", \"soft-pwm\", \"hwmon\", \"file\", \"none\""],
        ),
        (
            "[fan]\non_exit = \"stop\"\n",
            BadChoice,
            Some("fan.on_exit"),
            &["\"full\", \"off\", \"leave\""],
        ),
        (
            "[cpufreq]\nstrategy = \"ondemand\"\n",
            BadChoice,
            Some("cpufreq.strategy"),
            &["\"max-freq\", \"governor\", \"off\""],
        ),
        (
            "[log]\nlevel = \"verbose\"\n",
            BadChoice,
            Some("log.level"),
            &["\"verbose\" is not a valid choice"],
        ),
        (
            "[log]\nformat = \"xml\"\n",
            BadChoice,
            Some("log.format"),
            &["allowed one of \"text\", \"json\""],
        ),
        (
            "[log]\nlevel = \"INFO\"\n",
            BadChoice,
            Some("log.level"),
            &["\"INFO\""],
        ),
    ]);
}

#[test]
fn bad_addresses_name_the_list_entry() {
    check_rows(&[
        (
            "[server]\nlisten = [\"0.0.0.0\"]\n",
            BadAddress,
            Some("server.listen[0]"),
            &["\"0.0.0.0\" is not a socket address", "\"[::]:7000\""],
        ),
        (
            "[server]\nlisten = [\"0.0.0.0:7000\", \"localhost:7000\"]\n",
            BadAddress,
            Some("server.listen[1]"),
            &["host names are not resolved"],
        ),
        (
            "[server]\nlisten = [\"0.0.0.0:70000\"]\n",
            BadAddress,
            Some("server.listen[0]"),
            &["\"0.0.0.0:70000\""],
        ),
        (
            "[server]\nlisten = [\":::7000\"]\n",
            BadAddress,
            Some("server.listen[0]"),
            &["IP:port"],
        ),
        (
            "[status]\nlisten = \"9181\"\n",
            BadAddress,
            Some("status.listen"),
            &["\"9181\" is not a socket address"],
        ),
    ]);
}

#[test]
fn bad_values_and_missing_keys_say_what_is_needed() {
    check_rows(&[
        (
            "[server]\nlisten = []\n",
            BadValue,
            Some("server.listen"),
            &["the list is empty", "at least one address"],
        ),
        (
            "[server]\nlisten = [\"0.0.0.0:7000\", \"[::]:7000\", \"0.0.0.0:7000\"]\n",
            BadValue,
            Some("server.listen[2]"),
            &["0.0.0.0:7000 is listed twice (also server.listen[0])"],
        ),
        (
            "[server]\nlisten = [\"[::ffff:127.0.0.1]:7000\"]\n",
            BadAddress,
            Some("server.listen[0]"),
            &[
                "is an IPv4-mapped IPv6 address",
                "write it as the IPv4 address 127.0.0.1:7000",
            ],
        ),
        (
            "[status]\nlisten = \"[::ffff:127.0.0.1]:9181\"\n",
            BadAddress,
            Some("status.listen"),
            &["is an IPv4-mapped IPv6 address", "127.0.0.1:9181"],
        ),
        (
            "[thermal]\nsensor = \"\"\n",
            BadValue,
            Some("thermal.sensor"),
            &["the path is empty"],
        ),
        (
            "[fan]\ndriver = \"file\"\npath = \"\"\n",
            BadValue,
            Some("fan.path"),
            &["the path is empty"],
        ),
        (
            "[hardware]\nsysfs_root = \"tmp/root\"\n",
            BadValue,
            Some("hardware.sysfs_root"),
            &["\"tmp/root\" is not an absolute path"],
        ),
        (
            "[hardware]\nstate_dir = \"run/warden\"\n",
            BadValue,
            Some("hardware.state_dir"),
            &["allowed an absolute path such as \"/run/warden\""],
        ),
        (
            "[cpufreq]\npowersave_governor = \"power save\"\n",
            BadValue,
            Some("cpufreq.powersave_governor"),
            &["\"power save\" is not a governor name"],
        ),
        (
            "[cpufreq]\npowersave_governor = \"\"\n",
            BadValue,
            Some("cpufreq.powersave_governor"),
            &["1 to 15 letters"],
        ),
        (
            "[cpufreq]\npowersave_governor = \"abcdefghijklmnop\"\n",
            BadValue,
            Some("cpufreq.powersave_governor"),
            &["is not a governor name"],
        ),
        (
            "[fan]\ncurve = []\n",
            BadValue,
            Some("fan.curve"),
            &["has 0 points", "allowed 1 to 16"],
        ),
        (
            "[fan]\ncurve = [[50, 0.3], [50, 0.5]]\n",
            BadValue,
            Some("fan.curve[1][0]"),
            &[
                "50 is not above fan.curve[0][0] (50)",
                "strictly increasing",
            ],
        ),
        (
            "[fan]\ncurve = [[50, 0.3], [60, 0.5], [55, 0.6]]\n",
            BadValue,
            Some("fan.curve[2][0]"),
            &["55 is not above fan.curve[1][0] (60)"],
        ),
        (
            "[fan]\ncurve = [[50, 0.5], [60, 0.4]]\n",
            BadValue,
            Some("fan.curve[1][1]"),
            &["0.4 is below fan.curve[0][1] (0.5)", "never decrease"],
        ),
        (
            "[fan]\ndriver = \"gpio\"\n",
            Missing,
            Some("fan.pin"),
            &[
                "missing, but fan.driver = \"gpio\" requires it",
                "allowed an integer 0 to 27",
            ],
        ),
        (
            "[fan]\ndriver = \"soft-pwm\"\n",
            Missing,
            Some("fan.pin"),
            &["fan.driver = \"soft-pwm\""],
        ),
        (
            "[fan]\ndriver = \"file\"\n",
            Missing,
            Some("fan.path"),
            &["missing, but fan.driver = \"file\" requires it"],
        ),
    ]);
}

#[test]
fn curve_longer_than_sixteen_points_is_rejected() {
    let points: Vec<String> = (0..17)
        .map(|index| format!("[{}, 0.5]", 40 + index))
        .collect();
    let text = format!("[fan]\ncurve = [{}]\n", points.join(", "));
    assert_error(
        &text,
        BadValue,
        Some("fan.curve"),
        &["has 17 points", "allowed 1 to 16"],
    );
}

#[test]
fn cross_section_conflicts_name_both_keys() {
    check_rows(&[
        (
            "[fan]\ndriver = \"soft-pwm\"\npin = 18\npwm_frequency_hz = 25000\n",
            Conflict,
            Some("fan.pwm_frequency_hz"),
            &[
                "25000 is too high for fan.driver = \"soft-pwm\"",
                "allowed 1 to 1000 with soft-pwm",
            ],
        ),
        (
            "[server]\nlisten = [\"0.0.0.0:7000\", \"0.0.0.0:9181\"]\n",
            Conflict,
            Some("server.listen[1]"),
            &[
                "0.0.0.0:9181 collides with status.listen, whose default is 127.0.0.1:9181",
                "give this listener another port",
            ],
        ),
        (
            "[server]\nlisten = [\"[::]:9181\"]\n[status]\nlisten = \"[::1]:9181\"\n",
            Conflict,
            Some("status.listen"),
            &["collides with server.listen[0] ([::]:9181)"],
        ),
        (
            "[server]\nlisten = [\"0.0.0.0:7000\", \"127.0.0.1:7000\"]\n",
            Conflict,
            Some("server.listen[1]"),
            &["127.0.0.1:7000 overlaps server.listen[0] (0.0.0.0:7000): both cannot be bound"],
        ),
        (
            "[status]\nlisten = \"127.0.0.1:7000\"\n",
            Conflict,
            Some("status.listen"),
            &[
                "127.0.0.1:7000 collides with server.listen, whose default is [\"0.0.0.0:7000\"]",
                "use a port other than 7000",
            ],
        ),
        (
            "[server]\nlisten = [\"127.0.0.1:9000\"]\n[status]\nlisten = \"0.0.0.0:9000\"\n",
            Conflict,
            Some("status.listen"),
            &["0.0.0.0:9000 collides with server.listen[0] (127.0.0.1:9000)"],
        ),
    ]);
}

#[test]
fn more_listen_addresses_than_one_loop_serves_are_refused() {
    let list = |n: u8| {
        (1..=n)
            .map(|i| format!("\"127.0.0.{i}:7000\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    assert!(
        crate::config::Config::from_toml_str(&format!("[server]\nlisten = [{}]\n", list(64)))
            .is_ok()
    );
    assert_error(
        &format!("[server]\nlisten = [{}]\n", list(65)),
        BadValue,
        Some("server.listen"),
        &["65 addresses are listed", "at most 64"],
    );
}
