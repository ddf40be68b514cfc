//! The interface's TIME-WAIT buckets: an O(1) index by 4-tuple, a timer
//! heap, and a cap (Linux `tcp_max_tw_buckets`).
//!
//! Contract: [`TimeWaitTable::insert`] refuses a bucket beyond the cap (the
//! caller counts it and lets the connection close at once, as Linux does);
//! [`TimeWaitTable::expire`] frees every bucket whose time is up. A bucket
//! whose TIME-WAIT was restarted keeps its old heap entry, which is skipped
//! when it surfaces.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use slab::Slab;

use crate::tcp::{FourTuple, TimeWaitBucket};
use crate::time::Instant;

/// TIME-WAIT buckets of one interface.
#[derive(Debug)]
pub(crate) struct TimeWaitTable {
    buckets: Slab<TimeWaitBucket>,
    by_tuple: HashMap<FourTuple, usize>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    capacity: usize,
}

impl TimeWaitTable {
    /// An empty table holding at most `capacity` buckets.
    pub(crate) fn new(capacity: usize) -> TimeWaitTable {
        TimeWaitTable {
            buckets: Slab::new(),
            by_tuple: HashMap::new(),
            timers: BinaryHeap::new(),
            capacity,
        }
    }

    /// Add a bucket; `false` (and nothing stored) if the table is full or
    /// the 4-tuple already has one.
    pub(crate) fn insert(&mut self, bucket: TimeWaitBucket) -> bool {
        if self.buckets.len() >= self.capacity || self.by_tuple.contains_key(&bucket.tuple) {
            return false;
        }
        let expires_at = bucket.expires_at;
        let tuple = bucket.tuple;
        let key = self.buckets.insert(bucket);
        self.by_tuple.insert(tuple, key);
        self.timers.push(Reverse((expires_at, key)));
        true
    }

    /// The bucket for a 4-tuple.
    pub(crate) fn find(&self, tuple: &FourTuple) -> Option<usize> {
        self.by_tuple.get(tuple).copied()
    }

    pub(crate) fn get_mut(&mut self, key: usize) -> Option<&mut TimeWaitBucket> {
        self.buckets.get_mut(key)
    }

    /// The bucket's TIME-WAIT was restarted: arm its new expiry.
    pub(crate) fn rearm(&mut self, key: usize) {
        if let Some(bucket) = self.buckets.get(key) {
            self.timers.push(Reverse((bucket.expires_at, key)));
        }
    }

    /// Remove a bucket.
    pub(crate) fn remove(&mut self, key: usize) {
        if let Some(bucket) = self.buckets.try_remove(key) {
            self.by_tuple.remove(&bucket.tuple);
        }
    }

    /// Free every bucket expired by `now`; returns how many.
    pub(crate) fn expire(&mut self, now: Instant) -> usize {
        let mut freed = 0;
        while let Some(&Reverse((at, key))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            // A stale entry: restarted since, or the slot now holds a
            // younger bucket.
            if self.buckets.get(key).is_some_and(|b| b.expires_at <= now) {
                self.remove(key);
                freed += 1;
            }
        }
        freed
    }

    /// The earliest expiry.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// Buckets whose key is at least `from`, in key order.
    pub(crate) fn iter_from(
        &self,
        from: usize,
    ) -> impl Iterator<Item = (usize, &TimeWaitBucket)> + '_ {
        (from..self.buckets.capacity()).filter_map(move |k| self.buckets.get(k).map(|b| (k, b)))
    }

    /// Buckets held.
    pub(crate) fn len(&self) -> usize {
        self.buckets.len()
    }
}
