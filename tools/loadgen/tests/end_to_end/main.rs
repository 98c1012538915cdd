//! End-to-end tests: the real warden-loadgen binary against throwaway echo
//! servers running in this test process (honest, corrupting, hanging up,
//! absent), checking reports, error kinds and exit codes.

mod churn;
mod cli;
mod hold;
mod pingpong;
mod run;
mod servers;
