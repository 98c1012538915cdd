//! warden-hw
