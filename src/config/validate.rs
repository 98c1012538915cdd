//! Checks shared by every section: ranges, choices, addresses, paths, and the
//! [`Setting`] that lets a rule between two keys blame the one the file wrote.
//!
//! Each check takes the dotted key path so the error it returns names the key,
//! the offending value and what would have been accepted.

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::{ConfigError, ConfigErrorKind};
use super::number::MessageNumber;
use crate::text::{escape_controls, needs_escape};

/// A key's value and whether the file wrote it or it is the key's default.
///
/// A rule between two keys blames the one the user wrote: a message about a
/// default the file never mentions sends the user looking for a line that is
/// not there.
#[derive(Clone, Copy, Debug)]
pub(super) struct Setting<T> {
    /// Dotted key path.
    pub key: &'static str,
    /// The value in force.
    pub value: T,
    /// True if the file wrote the key, false if the value is the default.
    pub written: bool,
}

impl<T: MessageNumber> Setting<T> {
    /// The value the file gave `key`, or `default`.
    pub fn from_file(key: &'static str, written: Option<T>, default: T) -> Self {
        Setting {
            key,
            value: written.unwrap_or(default),
            written: written.is_some(),
        }
    }

    /// "thermal.shed_on_c (75)" if written, "thermal.shed_on_c, whose default is 75" if not.
    pub fn reference(&self) -> String {
        if self.written {
            format!("{} ({})", self.key, self.value.message_text())
        } else {
            format!(
                "{}, whose default is {}",
                self.key,
                self.value.message_text()
            )
        }
    }
}

/// Example addresses quoted whenever an address is wrong.
const ADDRESS_HINT: &str =
    "an \"IP:port\" string such as \"0.0.0.0:7000\", \"127.0.0.1:9181\" or \"[::]:7000\" \
                            (host names are not resolved)";

/// `"1 to 65535"`: the text form of an inclusive range.
pub(super) fn range_text<T: MessageNumber>(range: &RangeInclusive<T>) -> String {
    format!(
        "{} to {}",
        range.start().message_text(),
        range.end().message_text()
    )
}

/// `"an integer 1 to 65535"`: what an integer key accepts.
pub(super) fn integer_in<T: MessageNumber>(range: &RangeInclusive<T>) -> String {
    format!("an integer {}", range_text(range))
}

/// `"a number 0 to 1"`: what a float key accepts (integers are fine too).
pub(super) fn number_in<T: MessageNumber>(range: &RangeInclusive<T>) -> String {
    format!("a number {}", range_text(range))
}

/// `one of "pause", "reject"`: what a choice key accepts.
pub(super) fn choices_text<T>(choices: &[(&str, T)]) -> String {
    let quoted: Vec<String> = choices
        .iter()
        .map(|(text, _)| format!("{text:?}"))
        .collect();
    match quoted.as_slice() {
        [only] => format!("only {only}"),
        _ => format!("one of {}", quoted.join(", ")),
    }
}

/// What a socket-address key accepts.
pub(super) fn address_text() -> String {
    ADDRESS_HINT.to_string()
}

/// What an absolute-path key accepts, with an example.
pub(super) fn absolute_path_text(example: &str) -> String {
    format!("an absolute path such as {example:?}")
}

/// Returns `value` if `range` contains it, else an out-of-range error for `key`.
pub(super) fn in_range<T>(key: &str, value: T, range: &RangeInclusive<T>) -> Result<T, ConfigError>
where
    T: PartialOrd + MessageNumber,
{
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::at_key(
            ConfigErrorKind::OutOfRange,
            key,
            format!("{} is out of range", value.message_text()),
        )
        .allowing(format!("allowed {}", range_text(range))))
    }
}

/// `in_range` for a count of seconds, returned as a `Duration`.
pub(super) fn seconds_in_range(
    key: &str,
    seconds: u64,
    range: &RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    in_range(key, seconds, range).map(Duration::from_secs)
}

/// `in_range` for a count of milliseconds, returned as a `Duration`.
pub(super) fn millis_in_range(
    key: &str,
    millis: u64,
    range: &RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    in_range(key, millis, range).map(Duration::from_millis)
}

/// `seconds_in_range` where 0 means "off", returned as `None`.
pub(super) fn optional_seconds(
    key: &str,
    seconds: u64,
    range: &RangeInclusive<u64>,
) -> Result<Option<Duration>, ConfigError> {
    let duration = seconds_in_range(key, seconds, range)?;
    Ok((!duration.is_zero()).then_some(duration))
}

/// Maps a config string onto its enum value, or lists the accepted spellings.
pub(super) fn choice<T: Copy>(
    key: &str,
    text: &str,
    choices: &[(&str, T)],
) -> Result<T, ConfigError> {
    choices
        .iter()
        .find(|(spelling, _)| *spelling == text)
        .map(|(_, value)| *value)
        .ok_or_else(|| {
            ConfigError::at_key(
                ConfigErrorKind::BadChoice,
                key,
                format!("{text:?} is not a valid choice"),
            )
            .allowing(format!("allowed {}", choices_text(choices)))
        })
}

/// Parses an `IP:port` socket address (IPv6 in brackets).
pub(super) fn socket_address(key: &str, text: &str) -> Result<SocketAddr, ConfigError> {
    let address: SocketAddr = text.parse().map_err(|_| {
        ConfigError::at_key(
            ConfigErrorKind::BadAddress,
            key,
            format!("{text:?} is not a socket address"),
        )
        .allowing(format!("allowed {ADDRESS_HINT}"))
    })?;
    // An IPv6 listener is IPv6-only, so it cannot bind an IPv4-mapped address, and
    // the overlap checks would miss its IPv4 twin.
    if let SocketAddr::V6(v6) = address {
        if let Some(v4) = v6.ip().to_ipv4_mapped() {
            return Err(ConfigError::at_key(
                ConfigErrorKind::BadAddress,
                key,
                format!("{text:?} is an IPv4-mapped IPv6 address"),
            )
            .allowing(format!("write it as the IPv4 address {v4}:{}", v6.port())));
        }
    }
    Ok(address)
}

/// Accepts only an absolute path, written without blanks around it, without NUL and
/// without any other control or invisible character; `allowed` says what the key takes.
/// A daemon started at boot has no meaningful working directory, a stray blank would make
/// a path that exists nowhere, and a NUL cannot be passed to the kernel at all.
///
/// The other control characters (C0, DEL, C1) are legal in a file name, but a path is
/// written into log lines and into the crash-restore state, whose lines a newline or tab
/// would split; the invisible characters that [`needs_escape`] also flags (zero-width,
/// bidirectional overrides, BOM) are what a copy from a web page leaves behind, and make
/// the path shown differ from the path opened. No sysfs, device or runtime path warden
/// is pointed at holds either, so both are refused at load.
pub(super) fn absolute_path(key: &str, text: &str, allowed: &str) -> Result<PathBuf, ConfigError> {
    let hidden = text.chars().enumerate().find(|&(_, c)| needs_escape(c));
    let problem = if text.is_empty() {
        "the path is empty".to_string()
    } else if text.contains('\0') {
        // No file name can hold NUL: the open would fail only later, at run time.
        format!("{text:?} holds a NUL character (\\0), which no path can contain")
    } else if let Some((index, c)) = hidden {
        let kind = if c.is_control() {
            "a control character"
        } else {
            "an invisible character"
        };
        format!(
            "{text:?} holds {kind} ({}) at character {}, which a path must not hold",
            escape_controls(c.encode_utf8(&mut [0; 4])),
            index + 1
        )
    } else if text.trim() != text {
        format!("{text:?} has blanks at its start or end")
    } else if !Path::new(text).is_absolute() {
        format!("{text:?} is not an absolute path (it does not start with /)")
    } else {
        return Ok(PathBuf::from(text));
    };
    Err(ConfigError::at_key(ConfigErrorKind::BadValue, key, problem)
        .allowing(format!("allowed {allowed}")))
}
