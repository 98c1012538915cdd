//! warden-thermal
