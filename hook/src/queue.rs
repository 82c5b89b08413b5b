//! The bounded queue Kea's threads hand background work to (a run to start, a line for a
//! worker): admission never blocks and never grows past its limit; what it refuses is counted.

use crate::thread::{lock, Doorbell};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

pub struct BoundedQueue<T> {
    jobs: Mutex<VecDeque<T>>,
    /// Jobs refused since load.
    dropped: AtomicU64,
}

impl<T> BoundedQueue<T> {
    pub fn new() -> BoundedQueue<T> {
        BoundedQueue { jobs: Mutex::new(VecDeque::new()), dropped: AtomicU64::new(0) }
    }

    /// From a Kea thread: queue `job` if fewer than `limit` wait, else drop and count it; either
    /// way ring the library thread (once per burst).
    pub fn offer(&self, job: T, limit: usize, bell: &Doorbell) {
        let admitted = {
            let mut jobs = lock(&self.jobs);
            let room = jobs.len() < limit;
            if room {
                jobs.push_back(job);
            }
            room
        };
        if !admitted {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        bell.ring_once();
    }

    /// The jobs, locked (for a thread that takes them, or a check made under the lock).
    pub fn lock(&self) -> MutexGuard<'_, VecDeque<T>> {
        lock(&self.jobs)
    }

    /// The oldest job, if any.
    pub fn pop(&self) -> Option<T> {
        self.lock().pop_front()
    }

    /// Every job waiting (at unload, to discard them).
    pub fn take_all(&self) -> VecDeque<T> {
        std::mem::take(&mut *self.lock())
    }

    /// Jobs refused since load.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl<T> Default for BoundedQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}
