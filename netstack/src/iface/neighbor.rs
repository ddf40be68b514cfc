//! The neighbour (ARP) cache: IPv4 address → Ethernet address, with expiry.
//!
//! Contract: lookups are O(1); entries expire `ttl` after they were last
//! confirmed; the table is bounded (when full, expired entries are swept,
//! and if none are, the new entry is not stored — the next packet simply
//! triggers another request). Requests for the same address are rate
//! limited to one per [`REQUEST_INTERVAL`] (RFC 1122 §2.3.2.1).

use std::collections::HashMap;

use crate::time::{Duration, Instant};
use crate::wire::{EthernetAddress, Ipv4Address};

/// At most one ARP request per address per second (RFC 1122 §2.3.2.1).
pub const REQUEST_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
struct Entry {
    hw_addr: EthernetAddress,
    expires_at: Instant,
}

/// IPv4 → MAC map with expiry and request rate-limiting.
#[derive(Debug)]
pub struct NeighborCache {
    entries: HashMap<Ipv4Address, Entry>,
    requested: HashMap<Ipv4Address, Instant>,
    capacity: usize,
    ttl: Duration,
}

/// What to do about a destination we want to send to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Known: send to this MAC.
    Found(EthernetAddress),
    /// Unknown and no request is outstanding: send an ARP request now.
    RequestNow,
    /// Unknown, a request went out recently: wait for its reply.
    Pending,
}

impl NeighborCache {
    /// An empty cache holding at most `capacity` entries for `ttl` each.
    pub fn new(capacity: usize, ttl: Duration) -> NeighborCache {
        NeighborCache {
            entries: HashMap::new(),
            requested: HashMap::new(),
            capacity,
            ttl,
        }
    }

    /// Record that `ip` is at `hw_addr`, as of `now`.
    pub fn fill(&mut self, ip: Ipv4Address, hw_addr: EthernetAddress, now: Instant) {
        self.requested.remove(&ip);
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&ip) {
            self.entries.retain(|_, e| e.expires_at > now);
            if self.entries.len() >= self.capacity {
                return;
            }
        }
        self.entries.insert(
            ip,
            Entry {
                hw_addr,
                expires_at: now + self.ttl,
            },
        );
    }

    /// Update `ip` only if it is already known (RFC 826 "merge" for ARP
    /// packets that are not addressed to us).
    pub fn refresh(&mut self, ip: Ipv4Address, hw_addr: EthernetAddress, now: Instant) -> bool {
        match self.entries.get_mut(&ip) {
            Some(e) => {
                e.hw_addr = hw_addr;
                e.expires_at = now + self.ttl;
                true
            }
            None => false,
        }
    }

    /// Find `ip`'s MAC, or say whether a request should go out.
    pub fn lookup(&mut self, ip: Ipv4Address, now: Instant) -> Lookup {
        if let Some(e) = self.entries.get(&ip) {
            if e.expires_at > now {
                return Lookup::Found(e.hw_addr);
            }
        }
        match self.requested.get(&ip) {
            Some(&at) if now < at + REQUEST_INTERVAL => Lookup::Pending,
            _ => {
                if self.requested.len() >= self.capacity {
                    self.requested.retain(|_, at| now < *at + REQUEST_INTERVAL);
                }
                self.requested.insert(ip, now);
                Lookup::RequestNow
            }
        }
    }

    /// Number of entries, expired ones included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: Ipv4Address = Ipv4Address([10, 7, 0, 1]);
    const MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);

    #[test]
    fn unknown_address_requests_once_per_interval() {
        let mut c = NeighborCache::new(4, Duration::from_secs(60));
        assert_eq!(c.lookup(IP, Instant::ZERO), Lookup::RequestNow);
        assert_eq!(c.lookup(IP, Instant::from_millis(500)), Lookup::Pending);
        assert_eq!(c.lookup(IP, Instant::from_millis(1000)), Lookup::RequestNow);
    }

    #[test]
    fn filled_entry_found_until_it_expires() {
        let mut c = NeighborCache::new(4, Duration::from_secs(60));
        c.fill(IP, MAC, Instant::ZERO);
        assert_eq!(c.lookup(IP, Instant::from_secs(59)), Lookup::Found(MAC));
        assert_eq!(c.lookup(IP, Instant::from_secs(60)), Lookup::RequestNow);
    }

    #[test]
    fn full_cache_sweeps_expired_entries() {
        let mut c = NeighborCache::new(1, Duration::from_secs(1));
        c.fill(IP, MAC, Instant::ZERO);
        let other = Ipv4Address([10, 7, 0, 9]);
        c.fill(other, MAC, Instant::from_secs(5));
        assert_eq!(c.len(), 1);
        assert_eq!(c.lookup(other, Instant::from_secs(5)), Lookup::Found(MAC));
    }

    #[test]
    fn refresh_only_updates_known_entries() {
        let mut c = NeighborCache::new(4, Duration::from_secs(60));
        assert!(!c.refresh(IP, MAC, Instant::ZERO));
        c.fill(IP, EthernetAddress([2, 0, 0, 0, 0, 2]), Instant::ZERO);
        assert!(c.refresh(IP, MAC, Instant::ZERO));
        assert_eq!(c.lookup(IP, Instant::ZERO), Lookup::Found(MAC));
    }
}
