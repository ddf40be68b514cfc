//! Storage behind each TCP socket: a byte ring for queued data and an
//! assembler for out-of-order ranges.
//!
//! Contract: nothing here allocates per packet. A [`RingBuffer`] allocates
//! lazily (4 KiB first, then doubling up to its fixed capacity) and releases
//! its storage when it drains empty, so an idle connection holds no buffer
//! memory. An [`Assembler`] is a fixed array of ranges.

mod assembler;
mod ring_buffer;

pub use assembler::{Assembler, TooManyHoles, ASSEMBLER_MAX_RANGES};
pub use ring_buffer::RingBuffer;
