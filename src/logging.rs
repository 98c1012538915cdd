//! A small stderr logger for the `log` facade.
//!
//! Under journald each line carries a `<N>` syslog priority prefix and, in the
//! text format, no timestamp, since the journal adds its own. stderr counts as
//! the journal only when `JOURNAL_STREAM` names its device and inode, as
//! systemd.exec(5) asks: a child that inherits the variable but writes to a
//! file or pipe gets plain lines. With `log.format = "json"` each line is one
//! JSON object (for Logstash or Loki), after the prefix under journald.
//! `WARDEN_LOG` overrides the configured level. A record is always one line: control
//! and invisible characters in a text or journald message are escaped (the JSON format
//! escapes them its own way), so text quoted from outside cannot forge a record.
//! [`print_error`] writes the fatal lines that bypass the logger with the same `<3>`
//! prefix, and as JSON records once the logger runs in the JSON format.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::fmt::{self, Write as _};
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::text::escape_controls;

mod rate_limit;

pub use rate_limit::RateLimit;

/// How each line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human text.
    Text,
    /// One JSON object per line.
    Json,
}

struct StderrLogger {
    journald: bool,
    json: AtomicBool,
}

static LOGGER: std::sync::OnceLock<StderrLogger> = std::sync::OnceLock::new();

/// Set once `warden run` drives the simulated Pi ([`mark_simulated`]).
static SIMULATED: AtomicBool = AtomicBool::new(false);

/// Put before the message of a line about the hardware while it is simulated, so that a
/// journal read later never takes a model's step for the board's.
const SIMULATED_MARK: &str = "[simulated Pi] ";

/// From now on, lines from the crates that drive the hardware (warden-thermal,
/// warden-hw) carry [`SIMULATED_MARK`], and in JSON `"fields": {"simulated": true}`.
pub fn mark_simulated() {
    SIMULATED.store(true, Relaxed);
}

/// True for a record about the hardware: logged by warden-thermal or warden-hw.
fn about_hardware(target: &str) -> bool {
    ["warden_thermal", "warden_hw"].iter().any(|krate| {
        target
            .strip_prefix(krate)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// Installs the logger (once) and sets the level and format (any time).
///
/// `WARDEN_LOG` (error, warn, info, debug, trace), when set and valid, wins
/// over `level`.
pub fn init(level: LevelFilter, format: LogFormat) {
    let logger = LOGGER.get_or_init(|| StderrLogger {
        journald: stderr_is_journal(),
        json: AtomicBool::new(false),
    });
    logger.json.store(format == LogFormat::Json, Relaxed);
    let _ = log::set_logger(logger);
    let from_env = std::env::var("WARDEN_LOG").ok();
    let parsed = from_env.as_deref().map(str::parse::<LevelFilter>);
    log::set_max_level(match parsed {
        Some(Ok(env_level)) => env_level,
        _ => level,
    });
    if let (Some(text), Some(Err(_))) = (&from_env, parsed) {
        log::warn!(
            "WARDEN_LOG={text:?} is not a log level (error, warn, info, debug, trace or off): \
             ignored, logging at log.level = {}",
            level.as_str().to_ascii_lowercase()
        );
    }
}

/// The level `WARDEN_LOG` sets, when it is set to a valid level: it wins over `log.level`.
pub fn level_override() -> Option<LevelFilter> {
    std::env::var("WARDEN_LOG").ok()?.parse().ok()
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let simulated = SIMULATED.load(Relaxed) && about_hardware(record.target());
        let line = if self.json.load(Relaxed) {
            let line = json_line(&rfc3339_now(), record, simulated);
            match self.journald {
                true => format!("<{}>{line}", syslog_priority(record.level())),
                false => line,
            }
        } else if self.journald {
            journald_line(record, simulated)
        } else {
            text_line(&rfc3339_now(), record, simulated)
        };
        // One write per line keeps lines from different threads whole.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

/// True when stderr is the stream systemd connected to the journal: `JOURNAL_STREAM`
/// holds stderr's `device:inode` (decided once, on the first call).
pub fn stderr_is_journal() -> bool {
    static DECIDED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DECIDED.get_or_init(|| {
        journal_stream_names(
            std::env::var_os("JOURNAL_STREAM").as_deref(),
            stderr_device_inode(),
        )
    })
}

/// stderr's (device, inode), from fstat on a duplicate of descriptor 2.
fn stderr_device_inode() -> Option<(u64, u64)> {
    let fd = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
    let metadata = std::fs::File::from(fd).metadata().ok()?;
    Some((metadata.dev(), metadata.ino()))
}

/// True when a `JOURNAL_STREAM` value (`DEVICE:INODE`, both decimal) names `stderr`.
fn journal_stream_names(value: Option<&OsStr>, stderr: Option<(u64, u64)>) -> bool {
    let parsed = value.and_then(OsStr::to_str).and_then(|text| {
        let (device, inode) = text.trim().split_once(':')?;
        Some((device.parse::<u64>().ok()?, inode.parse::<u64>().ok()?))
    });
    parsed.is_some() && parsed == stderr
}

/// Writes `text` to stderr as an error that bypasses the logger (the fatal line, `warden
/// restore`'s failures), whatever the log level: under journald every line gets the `<3>`
/// (err) prefix, so `journalctl -p err` shows it. Once the logger is installed with
/// `log.format = "json"`, `text` is written as one JSON record ([`error_json`]), so a log
/// collector parses it like every other line; before that (a bad command line, a file that
/// does not load) no format is known and it stays plain text.
pub fn print_error(text: &str) {
    let journald = stderr_is_journal();
    let json = LOGGER.get().is_some_and(|logger| logger.json.load(Relaxed));
    let text = match json {
        true => error_json(&rfc3339_now(), text, journald),
        false => error_text(text, journald),
    };
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// The program name that starts each plain fatal line; a JSON record says it in `target`.
const PROGRAM_PREFIX: &str = "warden: ";

/// The fatal `text` as a JSON record with the fields of every other one: level `error`,
/// target `warden`, `text` as the message without its leading `warden: `; it comes from
/// no log call, so `fields.module` and `fields.line` are null.
fn error_json(time: &str, text: &str, journald: bool) -> String {
    let message = text.strip_prefix(PROGRAM_PREFIX).unwrap_or(text);
    let line = json_line(
        time,
        &Record::builder()
            .level(Level::Error)
            .target("warden")
            .args(format_args!("{message}"))
            .build(),
        false,
    );
    match journald {
        true => format!("<{}>{line}", syslog_priority(Level::Error)),
        false => line,
    }
}

/// `text` with a trailing newline, and with `<3>` before every line when `journald`.
fn error_text(text: &str, journald: bool) -> String {
    if !journald {
        return format!("{text}\n");
    }
    text.lines()
        .map(|line| format!("<{}>{line}\n", syslog_priority(Level::Error)))
        .collect()
}

/// A line for journald: the `<N>` syslog priority, then the message (the journal adds
/// the time), marked when it is about the `simulated` Pi.
fn journald_line(record: &Record<'_>, simulated: bool) -> String {
    let mut line = format!("<{}>", syslog_priority(record.level()));
    push_mark(&mut line, simulated);
    push_message(&mut line, record.args());
    line
}

/// A human line: `time`, the level padded to five columns, the message, marked when it
/// is about the `simulated` Pi.
fn text_line(time: &str, record: &Record<'_>, simulated: bool) -> String {
    let mut line = format!("{time} {:5} ", record.level());
    push_mark(&mut line, simulated);
    push_message(&mut line, record.args());
    line
}

fn push_mark(line: &mut String, simulated: bool) {
    if simulated {
        line.push_str(SIMULATED_MARK);
    }
}

/// Appends `message` and the newline to `line`, with its control and invisible characters
/// escaped ([`escape_controls`]): a message may quote text from outside (a sysfs file, an
/// error from the kernel), and a newline in it must not start a record of its own, without
/// a timestamp, or under journald without a priority. No message is meant to span lines.
///
/// The message is formatted straight into `line`, and copied again only when something in
/// it must be escaped, which is rare.
fn push_message(line: &mut String, message: &fmt::Arguments<'_>) {
    let start = line.len();
    let _ = line.write_fmt(*message);
    if let Cow::Owned(escaped) = escape_controls(&line[start..]) {
        line.truncate(start);
        line.push_str(&escaped);
    }
    line.push('\n');
}

fn syslog_priority(level: Level) -> u8 {
    match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    }
}

/// A JSON line for `record` at `time`; serde_json escapes control characters in the
/// message (`\n` as `\\n`), so it is one line whatever the message holds.
/// A record about the `simulated` Pi says so in `fields`.
fn json_line(time: &str, record: &Record<'_>, simulated: bool) -> String {
    let mut object = serde_json::json!({
        "time": time,
        "level": record.level().as_str().to_ascii_lowercase(),
        "target": record.target(),
        "message": record.args().to_string(),
        "fields": {
            "module": record.module_path(),
            "line": record.line(),
        },
    });
    if simulated {
        object["fields"]["simulated"] = true.into();
    }
    format!("{object}\n")
}

/// The current UTC time as RFC 3339 with milliseconds.
pub fn rfc3339_now() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(since)
}

/// Formats a time since the Unix epoch as RFC 3339 UTC with milliseconds.
pub fn rfc3339(since_epoch: Duration) -> String {
    let secs = since_epoch.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since_epoch.subsec_millis()
    )
}

/// Days since 1970-01-01 to a (year, month, day) in the proleptic Gregorian calendar.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_dates() {
        assert_eq!(
            rfc3339(Duration::from_millis(0)),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            rfc3339(Duration::from_millis(951_782_400_123)),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(
            rfc3339(Duration::from_secs(1_795_478_400)),
            "2026-11-24T00:00:00.000Z"
        );
    }

    #[test]
    fn each_level_maps_to_its_syslog_priority() {
        let priorities = [
            (Level::Error, 3),
            (Level::Warn, 4),
            (Level::Info, 6),
            (Level::Debug, 7),
            (Level::Trace, 7),
        ];
        for (level, priority) in priorities {
            assert_eq!(syslog_priority(level), priority, "{level}");
        }
    }

    /// The failing-sensor tick line of docs/CONFIG.md, without the logger's prefix.
    const TICK_MESSAGE: &str = "thermal tick: raw unreadable, filtered none, level sensor_fault";

    #[test]
    fn a_journald_line_is_the_priority_then_the_message() {
        let line = journald_line(
            &Record::builder()
                .level(Level::Debug)
                .args(format_args!("{TICK_MESSAGE}"))
                .build(),
            false,
        );
        assert_eq!(line, format!("<7>{TICK_MESSAGE}\n"));
        let line = journald_line(
            &Record::builder()
                .level(Level::Warn)
                .args(format_args!("fan: write failed"))
                .build(),
            false,
        );
        assert_eq!(line, "<4>fan: write failed\n");
    }

    #[test]
    fn a_text_line_is_time_padded_level_and_message() {
        let line = text_line(
            "2025-06-01T12:00:07.000Z",
            &Record::builder()
                .level(Level::Debug)
                .args(format_args!("{TICK_MESSAGE}"))
                .build(),
            false,
        );
        assert_eq!(
            line,
            format!("2025-06-01T12:00:07.000Z DEBUG {TICK_MESSAGE}\n")
        );
        let line = text_line(
            "2025-06-01T12:00:07.000Z",
            &Record::builder()
                .level(Level::Info)
                .args(format_args!("ready"))
                .build(),
            false,
        );
        assert_eq!(line, "2025-06-01T12:00:07.000Z INFO  ready\n");
    }

    /// A message quoting text from outside: a zone `type` holding a newline, a carriage
    /// return, an escape sequence and a bidirectional override.
    const HOSTILE: &str = "sensor: thermal_zone0 (cpu-thermal\nX\r\u{1b}[2J\u{202e}) ok";
    /// [`HOSTILE`] as a text or journald line shows it.
    const HOSTILE_ESCAPED: &str =
        "sensor: thermal_zone0 (cpu-thermal\\nX\\r\\u{1b}[2J\\u{202e}) ok";

    #[test]
    fn a_text_or_journald_line_escapes_what_would_split_or_hide_it() {
        let line = text_line(
            "2025-06-01T12:00:07.000Z",
            &Record::builder()
                .level(Level::Info)
                .args(format_args!("{HOSTILE}"))
                .build(),
            false,
        );
        assert_eq!(
            line,
            format!("2025-06-01T12:00:07.000Z INFO  {HOSTILE_ESCAPED}\n")
        );
        let line = journald_line(
            &Record::builder()
                .level(Level::Warn)
                .args(format_args!("{HOSTILE}"))
                .build(),
            false,
        );
        assert_eq!(line, format!("<4>{HOSTILE_ESCAPED}\n"));
        // Escaped characters in a message written as escapes stay as written.
        let line = journald_line(
            &Record::builder()
                .level(Level::Info)
                .args(format_args!("{HOSTILE_ESCAPED}"))
                .build(),
            false,
        );
        assert_eq!(line, format!("<6>{HOSTILE_ESCAPED}\n"));
    }

    #[test]
    fn a_json_line_is_one_line_and_decodes_to_the_message_as_it_was() {
        let line = json_line(
            "2025-06-01T12:00:07.000Z",
            &Record::builder()
                .level(Level::Info)
                .target("warden::daemon")
                .args(format_args!("{HOSTILE}"))
                .build(),
            false,
        );
        assert_eq!(line.matches('\n').count(), 1, "{line:?}");
        assert!(line.ends_with('\n'), "{line:?}");
        let record: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(record["message"], HOSTILE, "not escaped twice: {line}");
    }

    #[test]
    fn a_line_about_the_simulated_pi_says_so_in_every_format() {
        let record = |target: &'static str| {
            Record::builder()
                .level(Level::Info)
                .target(target)
                .args(format_args!(
                    "cpufreq: scaling_max_freq 1500000 -> 1000000 kHz"
                ))
                .build()
        };
        let cpu = record("warden_thermal::controller");
        assert_eq!(
            text_line("T", &cpu, true),
            "T INFO  [simulated Pi] cpufreq: scaling_max_freq 1500000 -> 1000000 kHz\n"
        );
        assert_eq!(
            journald_line(&cpu, true),
            "<6>[simulated Pi] cpufreq: scaling_max_freq 1500000 -> 1000000 kHz\n"
        );
        let json: serde_json::Value = serde_json::from_str(&json_line("T", &cpu, true)).unwrap();
        assert_eq!(json["fields"]["simulated"], true);
        let real: serde_json::Value = serde_json::from_str(&json_line("T", &cpu, false)).unwrap();
        assert!(real["fields"].get("simulated").is_none(), "{real}");
        // Which records are about the hardware: warden-thermal's and warden-hw's only.
        assert!(about_hardware("warden_thermal"));
        assert!(about_hardware("warden_hw::cpufreq"));
        assert!(!about_hardware("warden::engine"));
        assert!(!about_hardware("warden_thermal_sim"));
    }

    #[test]
    fn a_fatal_json_line_is_a_record_like_the_others() {
        let line = error_json(
            "2025-06-01T12:00:07.000Z",
            "warden: hardware: /x does not exist\nsecond line",
            false,
        );
        assert_eq!(line.matches('\n').count(), 1, "{line:?}");
        let record: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            record,
            serde_json::json!({
                "time": "2025-06-01T12:00:07.000Z",
                "level": "error",
                "target": "warden",
                "message": "hardware: /x does not exist\nsecond line",
                "fields": { "module": null, "line": null },
            })
        );
        let journald = error_json("2025-06-01T12:00:07.000Z", "warden: x", true);
        assert_eq!(
            journald,
            format!(
                "<3>{}",
                error_json("2025-06-01T12:00:07.000Z", "warden: x", false)
            )
        );
    }

    #[test]
    fn journal_stream_counts_only_when_it_names_stderr() {
        let stderr = Some((8, 12345));
        assert!(journal_stream_names(Some(OsStr::new("8:12345")), stderr));
        // Inherited by a process whose stderr went elsewhere: another inode.
        assert!(!journal_stream_names(Some(OsStr::new("8:1")), stderr));
        assert!(!journal_stream_names(None, stderr));
        assert!(!journal_stream_names(Some(OsStr::new("8:12345")), None));
        for malformed in ["", "8", "8:", ":12345", "x:12345", "8:12345:1"] {
            assert!(
                !journal_stream_names(Some(OsStr::new(malformed)), stderr),
                "{malformed:?}"
            );
        }
    }

    #[test]
    fn an_error_under_journald_gets_the_err_prefix_on_every_line() {
        assert_eq!(
            error_text("warden: bad config", true),
            "<3>warden: bad config\n"
        );
        assert_eq!(error_text("one\ntwo", true), "<3>one\n<3>two\n");
        assert_eq!(
            error_text("warden: bad config", false),
            "warden: bad config\n"
        );
    }
}
