use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;

type Log = Arc<Mutex<Vec<(ZoneId, Event, Instant)>>>;

/// A handler that records events and takes `work` of (paused) time per event.
fn recorder(work: Duration) -> (Handler, Log, Arc<AtomicUsize>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let peak = Arc::new(AtomicUsize::new(0));
    let current = Arc::new(AtomicUsize::new(0));
    let (l, p) = (log.clone(), peak.clone());
    let handler: Handler = Arc::new(move |zone, event| {
        let (l, p, c) = (l.clone(), p.clone(), current.clone());
        Box::pin(async move {
            let now = c.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(now, Ordering::SeqCst);
            l.lock().expect("log").push((zone, event, Instant::now()));
            tokio::time::sleep(work).await;
            c.fetch_sub(1, Ordering::SeqCst);
            Plan::default()
        })
    });
    (handler, log, peak)
}

#[tokio::test(start_paused = true)]
async fn requests_during_a_running_refresh_run_once_after_it() {
    let s = Scheduler::new(4);
    let (handler, log, _) = recorder(Duration::from_secs(5));
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(s.clone().run(handler, rx));
    s.refresh(1, Instant::now(), Priority::Urgent, false);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(s.zone(1).running);
    for _ in 0..10 {
        s.refresh(1, Instant::now(), Priority::Urgent, false);
    }
    s.refresh(1, Instant::now(), Priority::Urgent, true);
    tokio::time::sleep(Duration::from_secs(30)).await;
    let events: Vec<Event> = log.lock().expect("log").iter().map(|(_, e, _)| *e).collect();
    assert_eq!(events, vec![Event::Refresh { force_axfr: false }, Event::Refresh { force_axfr: true }]);
    let _ = stop.send(true);
    task.await.expect("scheduler stops");
}

#[tokio::test(start_paused = true)]
async fn urgent_refreshes_overtake_a_backlog_of_routine_ones() {
    let s = Scheduler::new(1);
    let (handler, log, peak) = recorder(Duration::from_secs(1));
    let start = Instant::now();
    for zone in 1..=20 {
        s.plan(zone, Plan { refresh_at: Some(start), expire_at: None });
    }
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(s.clone().run(handler, rx));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    s.refresh(99, Instant::now(), Priority::Urgent, false);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let order: Vec<ZoneId> = log.lock().expect("log").iter().map(|(z, ..)| *z).collect();
    assert_eq!(order.len(), 21);
    let pos = order.iter().position(|z| *z == 99).expect("urgent ran");
    assert!(pos <= 2, "the urgent refresh ran at position {pos}: {order:?}");
    assert_eq!(peak.load(Ordering::SeqCst), 1, "never more than the concurrency limit");
    let _ = stop.send(true);
    task.await.expect("scheduler stops");
}

#[tokio::test(start_paused = true)]
async fn timers_fire_at_their_time_and_merge_to_the_earliest() {
    let s = Scheduler::new(4);
    let (handler, log, _) = recorder(Duration::from_millis(10));
    let t0 = Instant::now();
    s.plan(7, Plan { refresh_at: Some(t0 + Duration::from_secs(100)), expire_at: Some(t0 + Duration::from_secs(500)) });
    s.refresh(7, t0 + Duration::from_secs(40), Priority::Routine, false);
    s.refresh(7, t0 + Duration::from_secs(60), Priority::Routine, false);
    assert_eq!(s.zone(7).refresh_at, Some(t0 + Duration::from_secs(40)));
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(s.clone().run(handler, rx));
    tokio::time::sleep(Duration::from_secs(600)).await;
    let got: Vec<(Event, u64)> = log.lock().expect("log").iter().map(|(_, e, at)| (*e, (*at - t0).as_secs())).collect();
    // The refresh's plan (empty) replaced the timers, so the expiry did not fire.
    assert_eq!(got, vec![(Event::Refresh { force_axfr: false }, 40)]);
    s.plan(7, Plan { refresh_at: None, expire_at: Some(Instant::now() + Duration::from_secs(5)) });
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(log.lock().expect("log").last().map(|(_, e, _)| *e), Some(Event::Expire));
    let _ = stop.send(true);
    task.await.expect("scheduler stops");
}

#[tokio::test(start_paused = true)]
async fn a_removed_zone_gets_no_more_events() {
    let s = Scheduler::new(4);
    let (handler, log, _) = recorder(Duration::from_millis(10));
    s.plan(3, Plan { refresh_at: Some(Instant::now() + Duration::from_secs(10)), expire_at: None });
    s.remove(3);
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(s.clone().run(handler, rx));
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(log.lock().expect("log").is_empty());
    assert_eq!(s.counts().scheduled, 0);
    let _ = stop.send(true);
    task.await.expect("scheduler stops");
}
