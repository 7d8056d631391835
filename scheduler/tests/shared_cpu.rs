//! Two workers on one CPU (the OS may put them there on a loaded
//! machine): a worker's busy-wait must not hold the CPU that the other
//! worker needs to answer it. Here both are pinned to one CPU and the
//! busy-wait is an hour, so a worker that spun on would never park: the
//! parks and the cut spins count the hand-overs, with no timing involved.

use std::time::Duration;

use ferrotp_scheduler::placement::WorkerPlace;
use ferrotp_scheduler::topology::{Topology, allowed_cpus};
use ferrotp_scheduler::{Pid, Runtime, SpawnOptions, receive, self_pid, send, spawn_opt};

const ROUND_TRIPS: u64 = 200;

fn cpu_now() -> usize {
    // SAFETY: sched_getcpu has no preconditions.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).expect("sched_getcpu works on Linux")
}

#[test]
fn a_spinning_worker_parks_for_a_sibling_waiting_on_its_cpu() {
    let cpu = allowed_cpus().unwrap()[0];
    let rt = Runtime::builder()
        .environment([])
        .workers(2)
        .topology(Topology::single_node(vec![cpu]).unwrap())
        .pin_workers(true)
        .busy_wait(Duration::from_secs(3600))
        .build()
        .unwrap();
    assert_eq!(rt.placement(), [WorkerPlace { cpu, node: 0 }; 2]);
    let seen = rt.block_on(move || {
        let root = self_pid();
        spawn_opt(SpawnOptions::new().worker(0), move || {
            let me = self_pid();
            let ponger = spawn_opt(SpawnOptions::new().worker(1), move || {
                let pinger = receive::<Pid>();
                loop {
                    let n = receive::<u64>();
                    send(&pinger, (n, cpu_now()));
                    if n == 0 {
                        return;
                    }
                }
            })
            .unwrap();
            send(&ponger, me);
            let mut seen = Vec::new();
            for n in (0..ROUND_TRIPS).rev() {
                send(&ponger, n);
                let (back, ponger_cpu) = receive::<(u64, usize)>();
                assert_eq!(back, n);
                seen.extend([cpu_now(), ponger_cpu]);
            }
            send(&root, seen);
        })
        .unwrap();
        receive::<Vec<usize>>()
    });
    assert!(seen.iter().all(|&on| on == cpu), "both ran on CPU {cpu}");
    let workers = rt.metrics().workers;
    let cut: u64 = workers.iter().map(|w| w.spins_cut).sum();
    let parks: u64 = workers.iter().map(|w| w.parks).sum();
    // A spin of an hour never runs out here: a worker parks only when it
    // cuts its spin short. Each round trip needs two hand-overs of the CPU
    // between the workers; without a park, only the kernel's tick (every
    // few milliseconds) takes the CPU from a spinner. With the cut, one
    // of the two hand-overs is a park at least (the other may be the
    // kernel running the parked worker at once when it is woken).
    assert!(
        cut >= ROUND_TRIPS / 2 && parks >= ROUND_TRIPS / 2,
        "spins cut {cut}, parks {parks}, for {ROUND_TRIPS} round trips"
    );
}
