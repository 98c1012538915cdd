//! Numbers in messages: every number a config error quotes, a limit or a value from the
//! file, is written by [`MessageNumber`], so `1e308` stays `1e308` rather than 309 digits
//! and `-0.0` stays `-0.0`.

/// How a number is written in a message: integers as they are, floats by [`compact_f64`].
pub trait MessageNumber: Copy {
    /// The number as a message shows it.
    fn message_text(self) -> String;
}

macro_rules! integer_message_number {
    ($($integer:ty),+) => {
        $(impl MessageNumber for $integer {
            fn message_text(self) -> String {
                self.to_string()
            }
        })+
    };
}

integer_message_number!(u8, u32, u64, usize);

impl MessageNumber for f64 {
    fn message_text(self) -> String {
        compact_f64(self)
    }
}

/// `value` in the shortest text that reads back as the same `f64`: `60`, `62.5`, `-0.0`,
/// `1e308`, `5e-324`; exponent form below 1e-4 and from 1e16 in magnitude (Rust's `{:?}`
/// rule), no trailing `.0` on whole numbers except negative zero, and `nan`, `inf`,
/// `-inf` as TOML spells them.
pub fn compact_f64(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    // `{}` would print 1e308 as 309 digits and -0.0 as "-0"; `{:?}` is the shortest
    // round-trip form and switches to an exponent for very large and small magnitudes.
    let text = format!("{value:?}");
    match text.strip_suffix(".0") {
        Some(whole) if value != 0.0 || value.is_sign_positive() => whole.to_string(),
        _ => text,
    }
}
