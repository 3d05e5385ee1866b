//! Transactions (multi.c): a session's MULTI state (its queued commands and whether
//! queueing failed), and the Db's WATCHed keys with the sessions watching each, so that
//! a change from any session, an expiry or an eviction makes a watcher's EXEC fail.
//! Invariant: a session id is in `by_client` iff it watches some key or is marked dirty
//! (CAS), and every (key, client) pair in `by_key` is listed in that client's keys; both
//! maps are ordered, so nothing depends on a hash seed.

use crate::repl::Command;
use std::collections::BTreeMap;

/// A session inside MULTI.
#[derive(Clone, Debug, Default)]
pub(crate) struct MultiState {
    /// The queued commands, argv owned.
    pub queued: Vec<Command>,
    /// A command failed to queue (CLIENT_DIRTY_EXEC): EXEC answers EXECABORT.
    pub dirty_exec: bool,
    /// The union of the queued commands' flags (Redis's `mstate.cmd_flags`).
    pub flags: u32,
}

/// One watcher of a key.
#[derive(Clone, Debug)]
struct Watcher {
    client_id: u64,
    /// The key was logically expired when WATCHed (watchedKey.expired).
    expired: bool,
}

#[derive(Clone, Debug, Default)]
struct ClientWatches {
    keys: Vec<Box<[u8]>>,
    /// A watched key was touched (CLIENT_DIRTY_CAS).
    dirty_cas: bool,
}

/// Watched keys (Redis's `db->watched_keys` and each client's `watched_keys`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Watches {
    by_key: BTreeMap<Box<[u8]>, Vec<Watcher>>,
    by_client: BTreeMap<u64, ClientWatches>,
}

impl Watches {
    /// No key is watched (the check every write pays).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// watchForKey: `expired` says whether the key is logically expired now.
    pub fn watch(&mut self, client_id: u64, key: &[u8], expired: bool) {
        let client = self.by_client.entry(client_id).or_default();
        if client.keys.iter().any(|k| **k == *key) {
            return;
        }
        client.keys.push(key.into());
        self.by_key
            .entry(key.into())
            .or_default()
            .push(Watcher { client_id, expired });
    }

    /// unwatchAllKeys (the CAS flag is the caller's to clear).
    pub fn unwatch_all(&mut self, client_id: u64) {
        let Some(client) = self.by_client.get_mut(&client_id) else {
            return;
        };
        let keys = std::mem::take(&mut client.keys);
        if !client.dirty_cas {
            self.by_client.remove(&client_id);
        }
        for key in keys {
            if let Some(watchers) = self.by_key.get_mut(&key) {
                watchers.retain(|w| w.client_id != client_id);
                if watchers.is_empty() {
                    self.by_key.remove(&key);
                }
            }
        }
    }

    /// Forgets a session entirely (its connection closed, or UNWATCH / EXEC / DISCARD).
    pub fn reset_client(&mut self, client_id: u64) {
        self.unwatch_all(client_id);
        self.by_client.remove(&client_id);
    }

    pub fn is_dirty(&self, client_id: u64) -> bool {
        self.by_client.get(&client_id).is_some_and(|c| c.dirty_cas)
    }

    /// The keys `client_id` watches that were not expired when watched
    /// (isWatchedKeyExpired checks those).
    pub fn live_watched_keys(&self, client_id: u64) -> Vec<Box<[u8]>> {
        let Some(client) = self.by_client.get(&client_id) else {
            return Vec::new();
        };
        client
            .keys
            .iter()
            .filter(|key| {
                self.by_key
                    .get(*key)
                    .is_some_and(|ws| ws.iter().any(|w| w.client_id == client_id && !w.expired))
            })
            .cloned()
            .collect()
    }

    /// touchWatchedKey after `key` changed; `stored` says whether it is in the keyspace
    /// now. A watcher that watched it already expired is not dirtied by its deletion;
    /// Redis 7.0.15 stops at such a watcher when the key still exists (its `break`).
    pub fn touch(&mut self, key: &[u8], stored: bool) {
        let Some(watchers) = self.by_key.get_mut(key) else {
            return;
        };
        let mut dirtied = Vec::new();
        for w in watchers.iter_mut() {
            if w.expired {
                if !stored {
                    w.expired = false;
                    continue;
                }
                break;
            }
            dirtied.push(w.client_id);
        }
        for client_id in dirtied {
            self.by_client.entry(client_id).or_default().dirty_cas = true;
            self.unwatch_all(client_id);
        }
    }

    /// touchAllWatchedKeysInDb for a flush: `existed` says whether a key was in the
    /// keyspace being emptied. Watchers stay watching (as in Redis).
    pub fn touch_all_flushed(&mut self, mut existed: impl FnMut(&[u8]) -> bool) {
        let mut dirtied = Vec::new();
        for (key, watchers) in self.by_key.iter_mut() {
            if !existed(key) {
                continue;
            }
            for w in watchers.iter_mut() {
                if w.expired {
                    w.expired = false;
                    continue;
                }
                dirtied.push(w.client_id);
            }
        }
        for client_id in dirtied {
            self.by_client.entry(client_id).or_default().dirty_cas = true;
        }
    }
}
