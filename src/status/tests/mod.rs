//! Tests of the whole status module, by concern: the documents against their docs
//! ([`documented`]), and the server on loopback ([`wire`]).

mod documented;
mod wire;
