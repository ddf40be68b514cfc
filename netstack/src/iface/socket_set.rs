//! The set of TCP connections: a slab addressed by generation-checked
//! handles, an O(1) index by 4-tuple, and a timer heap.
//!
//! Contract:
//! - [`SocketHandle`] is a small `Copy` value; a handle to a freed slot (or
//!   to a slot reused since) never reaches the new occupant.
//! - Lookup by [`FourTuple`] is one hash probe, never a scan.
//! - Timers are data: each socket reports its next deadline
//!   (`TcpSocket::poll_at`); the set keeps at most one heap entry per socket
//!   that is no later than that deadline. A socket whose deadline moved
//!   later keeps its earlier entry, which then fires once spuriously;
//!   `TcpSocket::dispatch` is idempotent, so that costs one call, and it
//!   saves a heap push on every ACK that re-arms the retransmission timer.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use slab::Slab;

use crate::tcp::{FourTuple, InfoTrack, State, TcpInfo, TcpSocket};
use crate::time::Instant;

/// A handle to a connection in the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketHandle {
    index: u32,
    generation: u32,
}

impl SocketHandle {
    /// The slot index (stable for the connection's life; for display).
    pub fn index(self) -> u32 {
        self.index
    }
}

impl core::fmt::Display for SocketHandle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "#{}.{}", self.index, self.generation)
    }
}

/// Who holds a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Still in a listener's SYN or accept queue: the app has not seen it.
    Listener(u16),
    /// Accepted: the app holds the handle.
    App,
    /// Released by the app; the stack finishes the teardown alone.
    Orphan,
}

#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) generation: u32,
    pub(crate) socket: TcpSocket,
    pub(crate) owner: Owner,
    /// The earliest deadline we have a heap entry for.
    timer_at: Option<Instant>,
    /// Already in the dispatch queue.
    queued: bool,
    /// Counted in CurrEstab.
    pub(crate) counted_estab: bool,
    /// Counted in the TIME-WAIT gauge.
    pub(crate) counted_time_wait: bool,
    /// The state when the interface last looked, to count transitions.
    pub(crate) last_state: State,
    /// An app event for this connection is already queued.
    pub(crate) event_queued: bool,
    /// What `TcpInfo` needs beyond the socket (byte counts, time in state).
    pub(crate) info: InfoTrack,
}

impl Slot {
    fn info(&self) -> TcpInfo {
        let mut info = self.socket.info();
        self.info.apply(&mut info);
        info
    }
}

/// All TCP connections of an interface.
#[derive(Debug, Default)]
pub struct SocketSet {
    slots: Slab<Slot>,
    by_tuple: HashMap<FourTuple, SocketHandle>,
    timers: BinaryHeap<Reverse<(Instant, SocketHandle)>>,
    due: VecDeque<SocketHandle>,
    next_generation: u32,
}

impl SocketSet {
    /// Insert a new connection; `None` (dropping it) if its 4-tuple is taken.
    pub(crate) fn insert(&mut self, socket: TcpSocket, owner: Owner) -> Option<SocketHandle> {
        let tuple = socket.tuple();
        if self.by_tuple.contains_key(&tuple) {
            return None;
        }
        self.next_generation = self.next_generation.wrapping_add(1);
        let generation = self.next_generation;
        let last_state = socket.state();
        let entry = self.slots.vacant_entry();
        let handle = SocketHandle {
            index: entry.key() as u32,
            generation,
        };
        entry.insert(Slot {
            generation,
            socket,
            owner,
            timer_at: None,
            queued: false,
            counted_estab: false,
            counted_time_wait: false,
            last_state,
            event_queued: false,
            info: InfoTrack::default(),
        });
        self.by_tuple.insert(tuple, handle);
        Some(handle)
    }

    /// Remove a connection; stale handles are ignored.
    pub(crate) fn remove(&mut self, handle: SocketHandle) -> Option<Slot> {
        self.get(handle)?;
        let slot = self.slots.remove(handle.index as usize);
        self.by_tuple.remove(&slot.socket.tuple());
        Some(slot)
    }

    /// The connection for a 4-tuple, if any.
    pub fn find(&self, tuple: &FourTuple) -> Option<SocketHandle> {
        self.by_tuple.get(tuple).copied()
    }

    pub(crate) fn get(&self, handle: SocketHandle) -> Option<&Slot> {
        self.slots
            .get(handle.index as usize)
            .filter(|s| s.generation == handle.generation)
    }

    pub(crate) fn get_mut(&mut self, handle: SocketHandle) -> Option<&mut Slot> {
        self.slots
            .get_mut(handle.index as usize)
            .filter(|s| s.generation == handle.generation)
    }

    /// The socket behind a handle.
    pub fn socket(&self, handle: SocketHandle) -> Option<&TcpSocket> {
        self.get(handle).map(|s| &s.socket)
    }

    /// Number of connections in the set.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Iterate over all connections (for status tables, not for packet paths).
    pub fn iter(&self) -> impl Iterator<Item = (SocketHandle, &TcpSocket)> + '_ {
        self.slots.iter().map(|(i, s)| {
            (
                SocketHandle {
                    index: i as u32,
                    generation: s.generation,
                },
                &s.socket,
            )
        })
    }

    /// A connection's [`TcpInfo`] snapshot, complete with what the set
    /// tracks beside the socket.
    pub fn info(&self, handle: SocketHandle) -> Option<TcpInfo> {
        self.get(handle).map(Slot::info)
    }

    /// Connections whose slot index is at least `from`, in index order, as
    /// `(index, handle, info)`: a cursor for tables streamed in pieces
    /// (resume at the last index + 1). Slots are visited one by one, so a
    /// caller bounds the work by how many items it takes.
    pub fn infos_from(
        &self,
        from: usize,
    ) -> impl Iterator<Item = (usize, SocketHandle, TcpInfo)> + '_ {
        (from..self.slots.capacity()).filter_map(move |i| {
            self.slots.get(i).map(|s| {
                let handle = SocketHandle {
                    index: i as u32,
                    generation: s.generation,
                };
                (i, handle, s.info())
            })
        })
    }

    /// Every slot with its handle (for the interface's own sweeps).
    pub(crate) fn iter_slots(&self) -> impl Iterator<Item = (SocketHandle, &Slot)> + '_ {
        self.slots.iter().map(|(i, s)| {
            (
                SocketHandle {
                    index: i as u32,
                    generation: s.generation,
                },
                s,
            )
        })
    }

    /// Queue a connection for `dispatch` at the next opportunity.
    pub(crate) fn mark_due(&mut self, handle: SocketHandle) {
        if let Some(slot) = self.get_mut(handle) {
            if !slot.queued {
                slot.queued = true;
                self.due.push_back(handle);
            }
        }
    }

    /// After anything touched a socket: queue it now or arm its timer.
    pub(crate) fn reschedule(&mut self, handle: SocketHandle, now: Instant) {
        let Some(slot) = self.get_mut(handle) else {
            return;
        };
        match slot.socket.poll_at() {
            None => {}
            Some(at) if at <= now => self.mark_due(handle),
            Some(at) if slot.timer_at.is_none_or(|t| at < t) => {
                slot.timer_at = Some(at);
                self.timers.push(Reverse((at, handle)));
            }
            Some(_) => {}
        }
    }

    /// Move every connection whose timer expired by `now` to the due queue.
    pub(crate) fn expire_timers(&mut self, now: Instant) {
        while let Some(&Reverse((at, handle))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            if let Some(slot) = self.get_mut(handle) {
                if slot.timer_at.is_some_and(|t| t <= now) {
                    slot.timer_at = None;
                }
                self.mark_due(handle);
            }
        }
    }

    /// Take the next connection to dispatch.
    pub(crate) fn pop_due(&mut self) -> Option<SocketHandle> {
        while let Some(handle) = self.due.pop_front() {
            if let Some(slot) = self.get_mut(handle) {
                slot.queued = false;
                return Some(handle);
            }
        }
        None
    }

    /// Whether any connection is waiting to dispatch.
    pub(crate) fn has_due(&self) -> bool {
        !self.due.is_empty()
    }

    /// The earliest armed timer.
    pub(crate) fn next_timer(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }
}
