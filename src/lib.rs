//! reasonscope: sample many reasoning paths from a local model and inspect
//! them. Layers (see docs/architecture in README): `run` → `analysis`;
//! `engine` produces runs; `cli` ties them together.

pub mod analysis;
pub mod charts;
pub mod cli;
pub mod engine;
pub mod export;
pub mod run;
pub mod ui;
