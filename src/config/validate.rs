//! Checks shared by every section: ranges, choices, addresses, paths.
//!
//! Each check takes the dotted key path so the error it returns names the key,
//! the offending value and what would have been accepted.

use std::fmt::Display;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use super::error::{ConfigError, ConfigErrorKind};

/// Example addresses quoted whenever an address is wrong.
const ADDRESS_HINT: &str =
    "an \"IP:port\" string such as \"0.0.0.0:7000\", \"127.0.0.1:9181\" or \"[::]:7000\" \
                            (host names are not resolved)";

/// `"1 to 65535"`: the text form of an inclusive range.
pub(super) fn range_text<T: Display>(range: &RangeInclusive<T>) -> String {
    format!("{} to {}", range.start(), range.end())
}

/// `"an integer 1 to 65535"`: what an integer key accepts.
pub(super) fn integer_in<T: Display>(range: &RangeInclusive<T>) -> String {
    format!("an integer {}", range_text(range))
}

/// `"a number 0 to 1"`: what a float key accepts (integers are fine too).
pub(super) fn number_in<T: Display>(range: &RangeInclusive<T>) -> String {
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
    T: PartialOrd + Display,
{
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::at_key(
            ConfigErrorKind::OutOfRange,
            key,
            format!("{value} is out of range"),
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

/// Accepts only a non-empty absolute path; a daemon's working directory is not meaningful.
pub(super) fn absolute_path(key: &str, text: &str, example: &str) -> Result<PathBuf, ConfigError> {
    let path = PathBuf::from(text);
    if path.is_absolute() {
        Ok(path)
    } else {
        Err(ConfigError::at_key(
            ConfigErrorKind::BadValue,
            key,
            format!("{text:?} is not an absolute path"),
        )
        .allowing(format!("allowed {}", absolute_path_text(example))))
    }
}
