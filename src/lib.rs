//! partyline: who speaks, at whom, and how, in news about conflict and diplomacy.
//!
//! The library follows the pipeline one way:
//! [`ingest`] → [`segment`] → [`attribute`] (with [`parties`]) → [`aggregate`] → [`export`]
//! and [`report`].
//! [`pipeline`] drives the stages for the CLI; `main.rs` only parses arguments.

pub mod aggregate;
pub mod attribute;
pub mod bench;
pub mod error;
pub mod eval;
pub mod export;
pub mod ingest;
pub mod model;
pub mod parties;
pub mod pipeline;
pub mod record;
pub mod report;
pub mod segment;

pub use error::{Error, Result};
