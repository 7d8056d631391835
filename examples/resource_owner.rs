//! `actor::start_resource_owner`, Gleam `distribute`'s helper: a
//! resource (here a scratch directory on disk) that lives exactly as long
//! as another process (here a user's session), and is closed whatever
//! way that process ends: normally, by a crash, or by a kill.
//!
//! With ferrotp a resource held in an actor's own state is released by
//! its `Drop` even on a kill, so this helper is only needed when the
//! resource's life follows a *different* process.
//!
//! Run: `cargo run --example resource_owner`

use std::path::PathBuf;

use ferrotp::actor::start_resource_owner;
use ferrotp::{ExitReason, Pid, exit, receive, spawn, yield_now};

/// A session: waits until told how to end.
fn session() -> Pid {
    spawn(|| {
        if receive::<&str>() == "crash" {
            panic!("the session crashed");
        }
    })
}

/// A scratch directory owned for `lifetime`'s life; its path.
fn scratch_for(lifetime: &Pid, name: &str) -> (Pid, PathBuf) {
    let dir = std::env::temp_dir().join(format!("ferrotp-example-{}-{name}", std::process::id()));
    start_resource_owner(
        lifetime,
        move || {
            std::fs::create_dir_all(&dir)
                .map_err(|error| ExitReason::custom(format!("cannot create {dir:?}: {error}")))?;
            Ok(dir)
        },
        |dir| {
            let _ = std::fs::remove_dir_all(&dir);
        },
    )
    .expect("the owner starts")
}

fn main() {
    let results = ferrotp::run(|| {
        ["normal", "crash", "kill"].map(|ending| {
            let user = session();
            let (owner, dir) = scratch_for(&user, ending);
            let existed = dir.is_dir();
            match ending {
                "kill" => exit(&user, ExitReason::Kill),
                how => ferrotp::send(&user, how),
            }
            while !owner.has_exited() {
                yield_now();
            }
            (ending, existed, dir.exists())
        })
    })
    .expect("the runtime runs");

    for (ending, existed, exists) in results {
        println!(
            "session ended by {ending}: directory made {existed}, still there afterwards {exists}"
        );
        assert!(existed && !exists);
    }
    println!("checked: the directory was removed on every way out");
}
