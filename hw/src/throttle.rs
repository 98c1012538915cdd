//! The Raspberry Pi firmware's throttle flags (`get_throttled`).
//!
//! The firmware reports, as a hex word, whether it is under-volted, capping the ARM
//! frequency, throttling, or at its soft temperature limit — now (bits 0..3) and since
//! boot (bits 16..19). Reading it asks the firmware over the mailbox, so the real reader
//! caches the value and asks at most every [`THROTTLE_MIN_INTERVAL`].

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::HwError;
use crate::sysfs_io::{parse_error, read_trimmed};
use crate::ThrottleReader;

/// The firmware file, relative to the sysfs root.
pub const THROTTLE_FILE: &str = "sys/devices/platform/soc/soc:firmware/get_throttled";
/// The real reader asks the firmware at most this often.
pub const THROTTLE_MIN_INTERVAL: Duration = Duration::from_secs(2);

/// What the throttle file must hold.
const THROTTLE_HEX: &str = "a hex throttle word such as 0x50005";

/// Decoded `get_throttled` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThrottleFlags {
    /// The raw word as read.
    pub raw: u32,
    /// Bit 0: under-voltage now.
    pub under_voltage: bool,
    /// Bit 1: ARM frequency capped now.
    pub freq_capped: bool,
    /// Bit 2: throttled now.
    pub throttled: bool,
    /// Bit 3: soft temperature limit active now.
    pub soft_temp_limit: bool,
    /// Bit 16: under-voltage has occurred since boot.
    pub under_voltage_since_boot: bool,
    /// Bit 17: ARM frequency capping has occurred since boot.
    pub freq_capped_since_boot: bool,
    /// Bit 18: throttling has occurred since boot.
    pub throttled_since_boot: bool,
    /// Bit 19: the soft temperature limit has been active since boot.
    pub soft_temp_limit_since_boot: bool,
}

impl ThrottleFlags {
    /// Decodes a raw word.
    pub fn from_raw(raw: u32) -> Self {
        let bit = |n: u32| raw & (1 << n) != 0;
        ThrottleFlags {
            raw,
            under_voltage: bit(0),
            freq_capped: bit(1),
            throttled: bit(2),
            soft_temp_limit: bit(3),
            under_voltage_since_boot: bit(16),
            freq_capped_since_boot: bit(17),
            throttled_since_boot: bit(18),
            soft_temp_limit_since_boot: bit(19),
        }
    }

    /// Parses "0x50005", "50005" or vcgencmd's "throttled=0x50005" (`path` names the source).
    pub fn parse(path: &Path, text: &str) -> Result<Self, HwError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(HwError::Empty {
                path: path.to_path_buf(),
                expected: THROTTLE_HEX,
            });
        }
        let word = trimmed.strip_prefix("throttled=").unwrap_or(trimmed);
        let digits = word
            .strip_prefix("0x")
            .or_else(|| word.strip_prefix("0X"))
            .unwrap_or(word);
        u32::from_str_radix(digits, 16)
            .map(Self::from_raw)
            .map_err(|_| parse_error(path, trimmed, THROTTLE_HEX))
    }

    /// True when any "now" flag is set.
    pub fn any_now(&self) -> bool {
        self.raw & 0xF != 0
    }
}

/// Reads `get_throttled` under the sysfs root, at most every [`THROTTLE_MIN_INTERVAL`].
#[derive(Debug)]
pub struct SysfsThrottleReader {
    path: PathBuf,
    last_attempt: Option<Instant>,
    cached: Option<ThrottleFlags>,
    /// The file was read once: from then on, its going missing is an error, not "no
    /// such file here" (the firmware driver went away).
    seen: bool,
}

impl SysfsThrottleReader {
    /// A reader of `<sysfs_root>/sys/devices/platform/soc/soc:firmware/get_throttled`.
    pub fn new(sysfs_root: &Path) -> Self {
        Self::at(sysfs_root.join(THROTTLE_FILE))
    }

    /// A reader of an explicit file.
    pub fn at(path: PathBuf) -> Self {
        SysfsThrottleReader {
            path,
            last_attempt: None,
            cached: None,
            seen: false,
        }
    }

    /// The file read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// As [`ThrottleReader::read`] with the time injected: re-reads only when
    /// [`THROTTLE_MIN_INTERVAL`] has passed since the last attempt, else returns the cache.
    /// A file that was never there is `None` (not a Pi); one that went missing after a
    /// read is [`HwError::NotFound`].
    pub fn read_at(&mut self, now: Instant) -> Result<Option<ThrottleFlags>, HwError> {
        if let Some(last) = self.last_attempt {
            if now.saturating_duration_since(last) < THROTTLE_MIN_INTERVAL {
                return Ok(self.cached);
            }
        }
        self.last_attempt = Some(now);
        let read = match read_trimmed(&self.path, THROTTLE_HEX) {
            Ok(text) => ThrottleFlags::parse(&self.path, &text).map(Some),
            Err(HwError::NotFound { .. }) if !self.seen => Ok(None),
            Err(e) => Err(e),
        };
        self.seen |= matches!(read, Ok(Some(_)));
        // A failed read caches nothing: until the next attempt the flags are unknown, never
        // the last ones read before the file went bad.
        self.cached = read.as_ref().ok().copied().flatten();
        read
    }
}

impl ThrottleReader for SysfsThrottleReader {
    fn read(&mut self) -> Result<Option<ThrottleFlags>, HwError> {
        self.read_at(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_now_and_since_boot_bits() {
        let flags = ThrottleFlags::parse(Path::new("t"), "0x50005\n").unwrap();
        assert_eq!(flags.raw, 0x50005);
        assert!(flags.under_voltage && flags.throttled);
        assert!(!flags.freq_capped && !flags.soft_temp_limit);
        assert!(flags.under_voltage_since_boot && flags.throttled_since_boot);
        assert!(!flags.freq_capped_since_boot && !flags.soft_temp_limit_since_boot);
        assert!(flags.any_now());
    }

    #[test]
    fn accepts_bare_hex_and_vcgencmd_form() {
        let p = Path::new("t");
        assert_eq!(ThrottleFlags::parse(p, "8").unwrap().raw, 8);
        assert!(ThrottleFlags::parse(p, "8").unwrap().soft_temp_limit);
        assert_eq!(
            ThrottleFlags::parse(p, "throttled=0xA0000").unwrap().raw,
            0xA0000
        );
        assert!(!ThrottleFlags::parse(p, "0x0").unwrap().any_now());
    }

    #[test]
    fn a_failed_read_leaves_no_flags_cached() {
        let dir = std::env::temp_dir().join(format!("warden-hw-throttle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("get_throttled");
        std::fs::write(&file, "0x50005\n").unwrap();
        let mut reader = SysfsThrottleReader::at(file.clone());
        let start = Instant::now();
        assert_eq!(reader.read_at(start).unwrap().map(|f| f.raw), Some(0x50005));
        std::fs::write(&file, "garbage\n").unwrap();
        let later = start + THROTTLE_MIN_INTERVAL;
        assert!(reader.read_at(later).is_err());
        // Within the interval after the failure: unknown, not the flags read before it.
        let soon = later + THROTTLE_MIN_INTERVAL / 2;
        assert_eq!(reader.read_at(soon).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_that_goes_missing_after_a_read_is_an_error_one_never_there_is_not() {
        let dir =
            std::env::temp_dir().join(format!("warden-hw-throttle-gone-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("get_throttled");
        let mut reader = SysfsThrottleReader::at(file.clone());
        let start = Instant::now();
        let at = |reads: u32| start + THROTTLE_MIN_INTERVAL * reads;
        assert_eq!(reader.read_at(at(0)).unwrap(), None, "not a Pi");
        assert_eq!(reader.read_at(at(1)).unwrap(), None, "still not a Pi");
        std::fs::write(&file, "0x0\n").unwrap();
        assert!(reader.read_at(at(2)).unwrap().is_some());
        std::fs::remove_file(&file).unwrap();
        let gone = reader.read_at(at(3)).unwrap_err();
        assert!(matches!(gone, HwError::NotFound { .. }), "{gone}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rejects_garbage_and_empty() {
        let p = Path::new("t");
        assert!(matches!(
            ThrottleFlags::parse(p, "hot"),
            Err(HwError::Parse { .. })
        ));
        assert!(matches!(
            ThrottleFlags::parse(p, ""),
            Err(HwError::Empty { .. })
        ));
        assert!(matches!(
            ThrottleFlags::parse(p, "0x1FFFFFFFF"),
            Err(HwError::Parse { .. })
        ));
    }
}
