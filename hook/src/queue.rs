//! The bounded queue Kea's threads hand background work to (a run to start, a line for a
//! worker): admission never blocks and never grows past its limit; what it refuses is counted.
//! A replay's thread alone waits for room instead ([`BoundedQueue::offer_waiting`]): a replay
//! drops nothing.

use crate::thread::{lock, Doorbell};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

pub struct BoundedQueue<T> {
    jobs: Mutex<VecDeque<T>>,
    /// Jobs refused since load.
    dropped: AtomicU64,
    /// Rung when jobs are taken, for a replay waiting for room.
    room: Condvar,
}

/// What [`BoundedQueue::offer_waiting`] did with a job.
#[derive(Debug, PartialEq, Eq)]
pub enum Waited {
    Queued,
    /// `admit` said no (a replayed lease that a live event has made stale).
    Refused,
    /// The replay was stopped while it waited.
    Cancelled,
}

impl<T> BoundedQueue<T> {
    pub fn new() -> BoundedQueue<T> {
        BoundedQueue { jobs: Mutex::new(VecDeque::new()), dropped: AtomicU64::new(0), room: Condvar::new() }
    }

    /// From a replay's thread: wait until fewer than `limit()` jobs wait (or `cancel`), then,
    /// still under the queue's lock, queue `job` if `admit(job)` says so (it may finish the job:
    /// give it its event id). Under the lock, so that a live event queued after `admit` looked
    /// is also queued after this job.
    pub fn offer_waiting(
        &self,
        mut job: T,
        limit: impl Fn() -> usize,
        bell: &Doorbell,
        admit: impl FnOnce(&mut T) -> bool,
        cancel: &AtomicBool,
    ) -> Waited {
        let mut jobs = lock(&self.jobs);
        loop {
            if cancel.load(Ordering::SeqCst) {
                return Waited::Cancelled;
            }
            if jobs.len() < limit().max(1) {
                break;
            }
            // Timed: `limit` also grows when a run ends, which does not ring `room`; and `cancel`.
            jobs = self.room.wait_timeout(jobs, Duration::from_millis(5)).unwrap_or_else(|p| p.into_inner()).0;
        }
        if !admit(&mut job) {
            return Waited::Refused;
        }
        jobs.push_back(job);
        drop(jobs);
        bell.ring_once();
        Waited::Queued
    }

    /// Jobs were taken: a replay waiting for room looks again.
    pub fn taken(&self) {
        self.room.notify_all();
    }

    /// From a Kea thread: queue `job` if fewer than `limit` wait, else drop and count it; either
    /// way ring the library thread (once per burst). `mark` runs first, under the queue's lock
    /// (a replay's mark of a live lease: in one order with the replay's own queueing).
    pub fn offer(&self, job: T, limit: usize, bell: &Doorbell, mark: impl FnOnce()) {
        let admitted = {
            let mut jobs = lock(&self.jobs);
            mark();
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

    /// Count a job refused by a check its caller made under the lock (a line for a worker that
    /// cannot take it yet, with `redeliver`).
    pub fn refuse(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// The jobs, locked (for a thread that takes them, or a check made under the lock).
    pub fn lock(&self) -> MutexGuard<'_, VecDeque<T>> {
        lock(&self.jobs)
    }

    /// The oldest job, if any.
    pub fn pop(&self) -> Option<T> {
        let job = self.lock().pop_front();
        self.taken();
        job
    }

    /// Every job waiting (at unload, to discard them).
    pub fn take_all(&self) -> VecDeque<T> {
        let jobs = std::mem::take(&mut *self.lock());
        self.taken();
        jobs
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
