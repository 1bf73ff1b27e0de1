//! One inspectable, time-ordered queue of zone events (STYLE principle 6).
//!
//! Each zone has at most one pending refresh and one pending expiry. Inputs
//! (NOTIFY, API calls, start-up) call [`Scheduler::refresh`]; requests for the
//! same zone merge: the earlier time wins and `force_axfr` accumulates. A request
//! that arrives while the zone's event runs is remembered and runs once after it
//! (RFC 1996 §4.4), never N times. One event runs at a time per zone, and at most
//! `concurrency` run at once overall; among due events, urgent ones (NOTIFY,
//! operator) go before routine timer refreshes, so a backlog of due zones never
//! delays a NOTIFY.
//!
//! The handler returns the zone's next [`Plan`] (derived from persisted timers),
//! which replaces the zone's timers.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{watch, Notify, Semaphore};
use tokio::time::Instant;

pub type ZoneId = i64;

/// The closed set of zone events (README: "Transfers, refresh and NOTIFY").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Check the primary's serial and transfer if newer (or always, with `force_axfr`).
    Refresh { force_axfr: bool },
    /// The zone's expire timer ran out without a successful refresh.
    Expire,
}

/// What to schedule for a zone after an event: `None` = no such timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Plan {
    pub refresh_at: Option<Instant>,
    pub expire_at: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// Ordered first: an expiry due at the same time as a refresh marks the zone expired first.
    Expire,
    Refresh,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// NOTIFY and operator requests.
    Urgent = 0,
    /// Timer-driven refreshes.
    Routine = 1,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    at: Instant,
    priority: Priority,
    force_axfr: bool,
}

#[derive(Debug, Default)]
struct Entry {
    refresh: Option<Pending>,
    expire: Option<Instant>,
    running: bool,
    /// A refresh asked for while the zone's event ran: runs right after it.
    again: Option<(Priority, bool)>,
}

/// Every pending event, a time-ordered set per priority.
#[derive(Default)]
struct Timeline {
    /// Indexed by `Priority as usize`: (due time, kind, zone).
    sets: [BTreeSet<(Instant, Kind, ZoneId)>; 2],
}

impl Timeline {
    fn insert(&mut self, (priority, at, kind, zone): (Priority, Instant, Kind, ZoneId)) {
        self.sets[priority as usize].insert((at, kind, zone));
    }

    fn remove(&mut self, (priority, at, kind, zone): &(Priority, Instant, Kind, ZoneId)) {
        self.sets[*priority as usize].remove(&(*at, *kind, *zone));
    }

    fn len(&self) -> usize {
        self.sets.iter().map(BTreeSet::len).sum()
    }

    /// Events due at `now`.
    fn due(&self, now: Instant) -> usize {
        self.sets.iter().map(|s| s.iter().take_while(|(at, ..)| *at <= now).count()).sum()
    }

    /// The most urgent event, then the earliest, of a zone that is `ready`:
    /// among those due at `due` when given (the next to run), or of all (the
    /// next to wake for). Skips only the events of zones not ready.
    fn first_ready(
        &self,
        ready: impl Fn(ZoneId) -> bool,
        due: Option<Instant>,
    ) -> Option<(Priority, Instant, Kind, ZoneId)> {
        let firsts = [Priority::Urgent, Priority::Routine].into_iter().filter_map(|priority| {
            self.sets[priority as usize]
                .iter()
                .take_while(|(at, ..)| due.is_none_or(|now| *at <= now))
                .find(|(.., zone)| ready(*zone))
                .map(|&(at, kind, zone)| (priority, at, kind, zone))
        });
        match due {
            // Due now: the first priority that has one wins.
            Some(_) => firsts.into_iter().next(),
            // To wake for: the earliest of any priority.
            None => firsts.min_by_key(|(_, at, ..)| *at),
        }
    }
}

#[derive(Default)]
struct State {
    /// (priority, due time, kind, zone): the timeline the loop walks. Priority
    /// first, so the most urgent due event is the first due one of a priority,
    /// found without walking every due event (at 10,000 zones due at once,
    /// that walk made each pick cost 10,000 steps).
    timeline: Timeline,
    entries: HashMap<ZoneId, Entry>,
    running: usize,
    /// The most events ever running at once (status: proves the limit holds).
    peak: usize,
}

/// A zone's place in the schedule, for status output.
#[derive(Debug, Clone, Copy, Default)]
pub struct ZoneSchedule {
    pub running: bool,
    pub refresh_at: Option<Instant>,
    pub expire_at: Option<Instant>,
    /// A refresh is queued (due now or later) or will run again after the current one.
    pub queued: bool,
}

/// Counts for the daemon status.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub running: usize,
    pub peak_running: usize,
    pub concurrency: usize,
    /// Events due now but waiting for a free slot.
    pub waiting: usize,
    pub scheduled: usize,
}

pub type BoxFuture = Pin<Box<dyn Future<Output = Plan> + Send>>;
pub type Handler = Arc<dyn Fn(ZoneId, Event) -> BoxFuture + Send + Sync>;

pub struct Scheduler {
    state: Mutex<State>,
    wake: Notify,
    slots: Limit,
}

impl Scheduler {
    pub fn new(concurrency: usize) -> Arc<Scheduler> {
        Arc::new(Scheduler { state: Mutex::new(State::default()), wake: Notify::new(), slots: Limit::new(concurrency) })
    }

    /// Changes `transfer.concurrency` (config reload): more slots at once;
    /// fewer as running events finish.
    pub fn set_concurrency(&self, concurrency: usize) {
        self.slots.resize(concurrency);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (every update is
        // a few field writes), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks for a refresh of `zone` at `at`, merging with what is pending.
    pub fn refresh(&self, zone: ZoneId, at: Instant, priority: Priority, force_axfr: bool) {
        let mut st = self.lock();
        let State { timeline, entries, .. } = &mut *st;
        let e = entries.entry(zone).or_default();
        if e.running {
            let (p, f) = e.again.unwrap_or((priority, false));
            e.again = Some((p.min(priority), f || force_axfr));
            return;
        }
        let merged = match e.refresh {
            Some(old) => {
                timeline.remove(&(old.priority, old.at, Kind::Refresh, zone));
                Pending {
                    at: old.at.min(at),
                    priority: old.priority.min(priority),
                    force_axfr: old.force_axfr || force_axfr,
                }
            }
            None => Pending { at, priority, force_axfr },
        };
        timeline.insert((merged.priority, merged.at, Kind::Refresh, zone));
        e.refresh = Some(merged);
        drop(st);
        self.wake.notify_one();
    }

    /// Replaces the zone's timers with `plan` (start-up replan; after each event).
    pub fn plan(&self, zone: ZoneId, plan: Plan) {
        let mut st = self.lock();
        Self::apply_plan(&mut st, zone, plan);
        drop(st);
        self.wake.notify_one();
    }

    fn apply_plan(st: &mut State, zone: ZoneId, plan: Plan) {
        let State { timeline, entries, .. } = st;
        let e = entries.entry(zone).or_default();
        if let Some(old) = e.refresh.take() {
            timeline.remove(&(old.priority, old.at, Kind::Refresh, zone));
        }
        if let Some(old) = e.expire.take() {
            timeline.remove(&(Priority::Routine, old, Kind::Expire, zone));
        }
        if let Some(at) = plan.refresh_at {
            timeline.insert((Priority::Routine, at, Kind::Refresh, zone));
            e.refresh = Some(Pending { at, priority: Priority::Routine, force_axfr: false });
        }
        if let Some(at) = plan.expire_at {
            timeline.insert((Priority::Routine, at, Kind::Expire, zone));
            e.expire = Some(at);
        }
    }

    /// Forgets a deleted zone (a running event finishes; nothing follows it).
    pub fn remove(&self, zone: ZoneId) {
        let mut st = self.lock();
        let State { timeline, entries, .. } = &mut *st;
        if let Some(e) = entries.get_mut(&zone) {
            if let Some(old) = e.refresh.take() {
                timeline.remove(&(old.priority, old.at, Kind::Refresh, zone));
            }
            if let Some(old) = e.expire.take() {
                timeline.remove(&(Priority::Routine, old, Kind::Expire, zone));
            }
            e.again = None;
            if !e.running {
                entries.remove(&zone);
            }
        }
    }

    pub fn zone(&self, zone: ZoneId) -> ZoneSchedule {
        let st = self.lock();
        match st.entries.get(&zone) {
            None => ZoneSchedule::default(),
            Some(e) => ZoneSchedule {
                running: e.running,
                refresh_at: e.refresh.map(|p| p.at),
                expire_at: e.expire,
                queued: e.again.is_some() || e.refresh.is_some_and(|p| p.at <= Instant::now()),
            },
        }
    }

    /// The zones whose event is running now (one lock for all of them).
    pub fn running_zones(&self) -> std::collections::HashSet<ZoneId> {
        self.lock().entries.iter().filter(|(_, e)| e.running).map(|(z, _)| *z).collect()
    }

    pub fn counts(&self) -> Counts {
        let st = self.lock();
        let now = Instant::now();
        let waiting = st.timeline.due(now);
        Counts {
            running: st.running,
            peak_running: st.peak,
            concurrency: self.slots.size(),
            waiting,
            scheduled: st.timeline.len(),
        }
    }

    /// Takes the most urgent due event of a zone that is not running.
    fn pop_due(&self, now: Instant) -> Option<(ZoneId, Event)> {
        let mut st = self.lock();
        let State { timeline, entries, running, peak } = &mut *st;
        // Due events, urgent first, then by time; a priority's due events are
        // the start of its set, and only running zones are skipped.
        let pick = timeline.first_ready(|zone| entries.get(&zone).is_some_and(|e| !e.running), Some(now))?;
        timeline.remove(&pick);
        let (_, _, kind, zone) = pick;
        let e = entries.entry(zone).or_default();
        let event = match kind {
            Kind::Refresh => Event::Refresh { force_axfr: e.refresh.take().is_some_and(|p| p.force_axfr) },
            Kind::Expire => {
                e.expire = None;
                Event::Expire
            }
        };
        e.running = true;
        *running += 1;
        *peak = (*peak).max(*running);
        Some((zone, event))
    }

    /// The earliest event of a zone that is not running (a running zone's
    /// events wait for [`Scheduler::finished`], which wakes the loop).
    fn next_wake(&self) -> Option<Instant> {
        let st = self.lock();
        st.timeline.first_ready(|zone| st.entries.get(&zone).is_some_and(|e| !e.running), None).map(|(_, at, ..)| at)
    }

    fn finished(&self, zone: ZoneId, plan: Plan) {
        let mut st = self.lock();
        st.running = st.running.saturating_sub(1);
        let Some(e) = st.entries.get_mut(&zone) else { return };
        e.running = false;
        let again = e.again.take();
        Self::apply_plan(&mut st, zone, plan);
        drop(st);
        if let Some((priority, force_axfr)) = again {
            self.refresh(zone, Instant::now(), priority, force_axfr);
        }
        self.wake.notify_one();
    }

    /// Runs due events with `handler` until `shutdown` turns true, then waits
    /// (briefly) for the running ones to finish.
    /// Runs `wait` (waiting for a primary's transfer slot) without holding
    /// this event's place under `transfer.concurrency`: a zone queued behind a
    /// slow primary must not keep the zones of other primaries from running.
    /// The place is taken back (waiting for one if need be) when `wait` ends.
    /// Outside an event (a test, the API), it just runs `wait`.
    pub async fn without_slot<F: Future>(wait: F) -> F::Output {
        let Ok(cell) = SLOT.try_with(Arc::clone) else { return wait.await };
        let held = cell.permit.lock().unwrap_or_else(|e| e.into_inner()).take();
        if held.is_none() {
            return wait.await;
        }
        drop(held);
        cell.scheduler.lock().running -= 1;
        cell.scheduler.wake.notify_one();
        let out = wait.await;
        if let Ok(p) = cell.scheduler.slots.semaphore().acquire_owned().await {
            *cell.permit.lock().unwrap_or_else(|e| e.into_inner()) = Some(p);
        }
        let mut st = cell.scheduler.lock();
        st.running += 1;
        st.peak = st.peak.max(st.running);
        out
    }

    pub async fn run(self: Arc<Self>, handler: Handler, mut shutdown: watch::Receiver<bool>) {
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            // Wait for a free slot first, so the choice of event is made as late
            // as possible (an urgent event arriving meanwhile goes first).
            let permit = tokio::select! {
                p = self.slots.semaphore().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                _ = shutdown.changed() => continue,
            };
            let now = Instant::now();
            if let Some((zone, event)) = self.pop_due(now) {
                let me = self.clone();
                let fut = handler(zone, event);
                let cell = Arc::new(Slot { permit: Mutex::new(Some(permit)), scheduler: self.clone() });
                tasks.spawn(async move {
                    let plan = SLOT.scope(cell.clone(), fut).await;
                    me.finished(zone, plan);
                    drop(cell);
                });
                continue;
            }
            drop(permit);
            let sleep_until = self.next_wake().unwrap_or(now + std::time::Duration::from_secs(3600));
            tokio::select! {
                _ = tokio::time::sleep_until(sleep_until) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.changed() => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        // Give running events a moment to finish; then abort them. Aborting is
        // safe: a transfer's rows stay invisible until its commit, which is one
        // store transaction, and start-up removes what an aborted one wrote.
        let drain = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(std::time::Duration::from_secs(5), drain).await.is_err() {
            tracing::warn!(running = tasks.len(), "aborting zone events still running at shutdown");
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
    }
}

/// A semaphore whose size a config reload can change: growing adds permits
/// at once; shrinking takes permits back as their holders release them, so
/// nothing running is cut short. At least one permit.
pub struct Limit {
    semaphore: Arc<Semaphore>,
    size: AtomicUsize,
}

impl Limit {
    pub fn new(size: usize) -> Limit {
        let size = size.max(1);
        Limit { semaphore: Arc::new(Semaphore::new(size)), size: AtomicUsize::new(size) }
    }

    pub fn size(&self) -> usize {
        self.size.load(Ordering::Relaxed)
    }

    pub fn semaphore(&self) -> Arc<Semaphore> {
        self.semaphore.clone()
    }

    pub fn resize(&self, size: usize) {
        let size = size.max(1);
        let old = self.size.swap(size, Ordering::Relaxed);
        if size > old {
            self.semaphore.add_permits(size - old);
        } else if size < old {
            let missing = (old - size) - self.semaphore.forget_permits(old - size);
            if missing > 0 {
                let semaphore = self.semaphore.clone();
                let n = u32::try_from(missing).unwrap_or(u32::MAX);
                tokio::spawn(async move {
                    if let Ok(p) = semaphore.acquire_many_owned(n).await {
                        p.forget();
                    }
                });
            }
        }
    }
}

/// A running event's place under the concurrency limit (see
/// [`Scheduler::without_slot`]).
struct Slot {
    permit: Mutex<Option<tokio::sync::OwnedSemaphorePermit>>,
    scheduler: Arc<Scheduler>,
}

tokio::task_local! {
    static SLOT: Arc<Slot>;
}

#[cfg(test)]
mod tests;
