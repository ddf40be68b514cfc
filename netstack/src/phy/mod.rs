//! Devices: where frames come from and go to.
//!
//! - [`sys`]: the Linux TAP device (the only `unsafe` code in the stack).
//! - [`link`]: a deterministic in-memory link between two endpoints with
//!   seeded loss, duplication, reordering and delay, for tests and the
//!   simulator. Time is virtual: the link says when its next frame arrives.
//!
//! The interface itself is device-agnostic: it takes frames as byte slices
//! and emits frames through a callback, so any device composes with it.

pub mod link;
pub mod sys;
