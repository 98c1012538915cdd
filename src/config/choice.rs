//! `choice_enum!`: enums whose values are fixed strings in the config file.
//!
//! Each generated enum carries its spellings (`CHOICES`) so that parsing,
//! error messages ("allowed one of ...") and `Display` share one list.

/// Declares a `Copy` enum whose variants map one-to-one onto config-file strings.
macro_rules! choice_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$variant_meta])* $variant ),+
        }

        impl $name {
            /// Every accepted spelling with its variant, in documentation order.
            pub const CHOICES: &'static [(&'static str, $name)] = &[ $( ($text, $name::$variant) ),+ ];

            /// The spelling of this value in the config file.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
