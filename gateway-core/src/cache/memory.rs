//! [`MemoryStore`]: cache entries in the process, bounded.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use futures_util::future::BoxFuture;
use indexmap::IndexMap;
use tokio::time::Instant;

use super::{CacheError, CacheStore};

/// Entries in the process's memory, at most `max` of them: when full, the oldest entry goes
/// (expired ones first). Nest's default in-memory store (which is unbounded: this one is not,
/// so no caller can grow it without end).
pub struct MemoryStore {
    entries: Mutex<IndexMap<String, Entry>>,
    max: usize,
}

struct Entry {
    json: Vec<u8>,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| at > now)
    }
}

impl MemoryStore {
    /// How many entries [`CacheModule::register`](super::CacheModule::register) keeps.
    pub const DEFAULT_MAX: usize = 10_000;

    /// A store of at most `max` entries.
    pub fn new(max: usize) -> Self {
        MemoryStore {
            entries: Mutex::new(IndexMap::new()),
            max: max.max(1),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, IndexMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many entries the store holds (expired ones not yet dropped included).
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether the store holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new(Self::DEFAULT_MAX)
    }
}

impl CacheStore for MemoryStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, CacheError>> {
        let now = Instant::now();
        let mut entries = self.entries();
        let found = match entries.get(key) {
            Some(entry) if entry.live(now) => Some(entry.json.clone()),
            Some(_) => {
                entries.shift_remove(key);
                None
            }
            None => None,
        };
        Box::pin(std::future::ready(Ok(found)))
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        json: Vec<u8>,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        let now = Instant::now();
        let entry = Entry {
            json,
            expires: ttl.map(|ttl| now + ttl),
        };
        let mut entries = self.entries();
        entries.shift_remove(key);
        if entries.len() >= self.max {
            entries.retain(|_, e| e.live(now));
        }
        while entries.len() >= self.max {
            entries.shift_remove_index(0);
        }
        entries.insert(key.to_owned(), entry);
        Box::pin(std::future::ready(Ok(())))
    }

    fn del<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        self.entries().shift_remove(key);
        Box::pin(std::future::ready(Ok(())))
    }

    fn clear(&self) -> BoxFuture<'_, Result<(), CacheError>> {
        self.entries().clear();
        Box::pin(std::future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn entries_expire_and_the_oldest_go_when_full() {
        let store = MemoryStore::new(2);
        store
            .set("a", b"1".to_vec(), Some(Duration::from_secs(1)))
            .await
            .unwrap();
        store.set("b", b"2".to_vec(), None).await.unwrap();
        assert_eq!(store.get("a").await.unwrap(), Some(b"1".to_vec()));
        tokio::time::advance(Duration::from_millis(1001)).await;
        assert_eq!(store.get("a").await.unwrap(), None, "expired");
        store.set("c", b"3".to_vec(), None).await.unwrap();
        store.set("d", b"4".to_vec(), None).await.unwrap();
        assert_eq!(store.len(), 2);
        assert_eq!(store.get("b").await.unwrap(), None, "the oldest went");
        assert_eq!(store.get("d").await.unwrap(), Some(b"4".to_vec()));
        store.del("d").await.unwrap();
        store.clear().await.unwrap();
        assert!(store.is_empty());
    }
}
