//! The `vpn-gateway` binary's library half: configuration, the running gateway, status and key logging.
//!
//! The binary (`src/main.rs`) is a thin CLI over these modules; the IKE endpoint and the
//! transport driver slot in as further modules once those crates land.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod demo;
pub mod keylog;
pub mod report;
pub mod runtime;
pub mod status;
