//! Configuration from a TOML file and the environment: every key, the
//! precedence (code over environment over file), placement rules by
//! name, and each kind of bad configuration refused before anything
//! starts, with the key, the value and what is allowed.

use std::path::{Path, PathBuf};

use ferrotp_scheduler::config::{ConfigError, NamePattern, PlaceOn};
use ferrotp_scheduler::placement::Binding;
use ferrotp_scheduler::topology::{Topology, allowed_cpus};
use ferrotp_scheduler::{
    BuildError, Runtime, SpawnError, SpawnOptions, process_info, receive, self_pid, send,
    spawn_opt, whereis,
};

/// A config file with `text`, removed when dropped.
struct File(PathBuf);

impl File {
    fn new(name: &str, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!("ferrotp-{}-{name}.toml", std::process::id()));
        std::fs::write(&path, text).unwrap();
        File(path)
    }
}

impl Drop for File {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    vars.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/topology")
        .join(name)
}

#[test]
fn the_example_file_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/ferrotp.toml");
    let builder = Runtime::from_config_file(&path).unwrap();
    // Its rule pins to CPU 1 with two packed workers: build it where
    // the first two allowed CPUs are 0 and 1.
    if allowed_cpus().unwrap().starts_with(&[0, 1]) {
        let rt = builder.environment([]).build().unwrap();
        assert_eq!(rt.workers(), 2);
        assert!(rt.settings().pin_workers);
    }
}

#[test]
fn every_file_key_takes_effect() {
    let topology_dir = fixture("two_nodes");
    let file = File::new(
        "every-key",
        &format!(
            r#"
workers = 2
stack_size = 131072
reductions = 100
busy_wait = "0s"
max_processes = 1000
long_schedule = "off"
long_message_queue = "100, 10"
blocking_threads = 8
on_stack_overflow = "abort"
pin_workers = false
binding = "pack"
topology = "{}"

[[placement]]
name = "db.*"
node = 0
"#,
            topology_dir.display()
        ),
    );
    let rt = Runtime::from_config_file(&file.0)
        .unwrap()
        .environment([])
        .build()
        .unwrap();
    let settings = rt.settings();
    assert_eq!(settings.workers, 2);
    assert_eq!(settings.stack_size, 131072);
    assert_eq!(settings.reductions, 100);
    assert_eq!(settings.busy_wait, std::time::Duration::ZERO);
    assert_eq!(settings.max_processes, 1000);
    assert_eq!(settings.long_schedule, None);
    assert_eq!(settings.blocking_threads, 8);
    assert_eq!(
        settings.long_message_queue,
        Some(ferrotp_scheduler::QueueMarks::new(100, 10))
    );
    assert_eq!(
        settings.on_stack_overflow,
        ferrotp_scheduler::OnStackOverflow::Abort
    );
    assert!(!settings.pin_workers);
    assert_eq!(settings.binding, Binding::Pack);
    assert_eq!(settings.placement_rules.len(), 1);
    assert_eq!(settings.placement_rules[0].on, PlaceOn::Node(0));
    // The fixture, restricted to the CPUs this process may use.
    let allowed = allowed_cpus().unwrap();
    let expected: Vec<usize> = [0, 1, 2, 3, 4, 5, 6, 7]
        .into_iter()
        .filter(|cpu| allowed.contains(cpu))
        .collect();
    assert_eq!(rt.topology().cpus().collect::<Vec<_>>(), expected);
}

/// Each source may give different keys: all of them apply.
#[test]
fn each_source_supplies_its_own_keys() {
    let file = File::new(
        "mixed",
        "reductions = 77
workers = 1
",
    );
    let rt = Runtime::from_config_file(&file.0)
        .unwrap()
        .environment(env(&[("FERROTP_BUSY_WAIT", "3us")]))
        .max_processes(500)
        .build()
        .unwrap();
    let settings = rt.settings();
    assert_eq!(
        (
            settings.reductions,
            settings.workers,
            settings.busy_wait,
            settings.max_processes
        ),
        (77, 1, std::time::Duration::from_micros(3), 500)
    );
}

/// Rules from code replace the file's rules.
#[test]
fn rules_from_code_replace_the_files() {
    let file = File::new("rules", "[[placement]]\nname = \"db.*\"\nnode = 0\n");
    let rt = Runtime::from_config_file(&file.0)
        .unwrap()
        .environment([])
        .placement_rule(NamePattern::new("cache.?").unwrap(), PlaceOn::Node(0))
        .build()
        .unwrap();
    let patterns: Vec<String> = rt
        .settings()
        .placement_rules
        .iter()
        .map(|r| r.pattern.to_string())
        .collect();
    assert_eq!(patterns, ["cache.?"]);
}

#[test]
fn overlapping_rules_from_code_are_refused() {
    let error = Runtime::builder()
        .environment([])
        .placement_rule(NamePattern::new("db.*").unwrap(), PlaceOn::Node(0))
        .placement_rule(NamePattern::new("*.primary").unwrap(), PlaceOn::Node(0))
        .build()
        .unwrap_err();
    assert!(
        error.to_string().contains("`db.*` and `*.primary` overlap"),
        "{error}"
    );
}

#[test]
fn a_missing_topology_directory_is_refused() {
    let message = file_error("no-topology", "topology = \"/no/such/directory\"\n");
    assert!(message.contains("`topology`"), "{message}");
    assert!(message.contains("an existing directory"), "{message}");
    let message = env_error(&[("FERROTP_TOPOLOGY", "")]);
    assert!(message.contains("`FERROTP_TOPOLOGY` = \"\""), "{message}");
}

/// Code over environment over file.
#[test]
fn code_wins_over_the_environment_which_wins_over_the_file() {
    let file = File::new("precedence", "workers = 3\nreductions = 7\n");
    let from_file = Runtime::from_config_file(&file.0)
        .unwrap()
        .environment([])
        .build()
        .unwrap();
    assert_eq!(from_file.workers(), 3);
    let from_env = Runtime::from_config_file(&file.0)
        .unwrap()
        .environment(env(&[("FERROTP_WORKERS", "2")]))
        .build()
        .unwrap();
    assert_eq!(from_env.workers(), 2);
    let from_code = Runtime::from_config_file(&file.0)
        .unwrap()
        .environment(env(&[("FERROTP_WORKERS", "2")]))
        .workers(1)
        .build()
        .unwrap();
    assert_eq!(from_code.workers(), 1);
}

/// FERROTP_CONFIG names a file the builder reads when it has none.
#[test]
fn ferrotp_config_names_a_file() {
    let file = File::new("named-by-env", "workers = 2\n");
    let rt = Runtime::builder()
        .environment(env(&[("FERROTP_CONFIG", file.0.to_str().unwrap())]))
        .build()
        .unwrap();
    assert_eq!(rt.workers(), 2);
}

/// A fake two-node machine: "db.*" processes go to node 1's worker, by
/// spawn name or registered name, even when spawned on node 0's worker;
/// explicit spawn options win over a rule.
#[test]
fn placement_rules_pin_processes_by_name() {
    let two_nodes = Topology::uniform(vec![vec![0], vec![1]], 21).unwrap();
    let rt = Runtime::builder()
        .environment([])
        .workers(2)
        .topology(two_nodes)
        .binding(Binding::Spread)
        .placement_rule(NamePattern::new("db.*").unwrap(), PlaceOn::Node(1))
        .build()
        .unwrap();
    let node_0 = rt.placement().iter().position(|p| p.node == 0).unwrap();
    let node_1 = rt.placement().iter().position(|p| p.node == 1).unwrap();
    let (workers, registered, taken, explicit) = rt.block_on(move || {
        let root = self_pid();
        // The spawner runs on node 0's worker.
        let spawner = spawn_opt(SpawnOptions::new().worker(node_0), move || {
            let report = |me: ferrotp_scheduler::Pid| {
                move || {
                    let mut seen = Vec::new();
                    for _ in 0..50 {
                        seen.push(process_info(&self_pid()).unwrap().worker.unwrap());
                        ferrotp_scheduler::yield_now();
                    }
                    // Alive (and named) until the spawner has looked.
                    receive::<()>();
                    send(&me, seen);
                }
            };
            let me = self_pid();
            let by_register = spawn_opt(
                SpawnOptions::new().register("db.primary"),
                report(me.clone()),
            )
            .unwrap();
            let registered = whereis("db.primary") == Some(by_register.clone());
            let replica =
                spawn_opt(SpawnOptions::new().name("db.replica"), report(me.clone())).unwrap();
            // Explicit options win over the rule.
            let local = spawn_opt(
                SpawnOptions::new().name("db.local").worker(node_0),
                report(me.clone()),
            )
            .unwrap();
            for reporter in [&by_register, &replica, &local] {
                send(reporter, ());
            }
            let mut workers = vec![
                receive::<Vec<usize>>(),
                receive::<Vec<usize>>(),
                receive::<Vec<usize>>(),
            ];
            workers.sort();
            let explicit = workers.remove(0);
            let holder = spawn_opt(SpawnOptions::new().register("db.lock"), || {
                receive::<()>();
            })
            .unwrap();
            let taken = spawn_opt(SpawnOptions::new().register("db.lock"), || {}).unwrap_err();
            let still_held = whereis("db.lock") == Some(holder.clone());
            send(&holder, ());
            send(&root, (workers, registered && still_held, taken, explicit));
        })
        .unwrap();
        let _ = spawner;
        receive::<(Vec<Vec<usize>>, bool, SpawnError, Vec<usize>)>()
    });
    assert_eq!(node_0, 0, "spread puts worker 0 on node 0");
    for seen in workers {
        assert!(seen.iter().all(|w| *w == node_1), "{seen:?}");
    }
    assert!(explicit.iter().all(|w| *w == node_0), "{explicit:?}");
    assert!(registered);
    assert!(matches!(taken, SpawnError::Register(_)), "{taken}");
}

/// A `core` rule, with pinned workers: the process runs on that CPU.
#[test]
fn a_core_rule_pins_a_named_process_to_its_cpu() {
    let allowed = allowed_cpus().unwrap();
    if allowed.len() < 2 {
        eprintln!("skipped: needs two CPUs");
        return;
    }
    let (first, second) = (allowed[0], allowed[1]);
    let rt = Runtime::builder()
        .environment([])
        .workers(2)
        .topology(Topology::single_node(vec![first, second]).unwrap())
        .pin_workers(true)
        .placement_rule(NamePattern::new("hot.*").unwrap(), PlaceOn::Core(second))
        .build()
        .unwrap();
    let cpus = rt.block_on(|| {
        let me = self_pid();
        spawn_opt(SpawnOptions::new().name("hot.loop"), move || {
            let mut cpus = Vec::new();
            for _ in 0..100 {
                // SAFETY: sched_getcpu has no preconditions.
                cpus.push(unsafe { libc::sched_getcpu() } as usize);
                ferrotp_scheduler::yield_now();
            }
            send(&me, cpus);
        })
        .unwrap();
        receive::<Vec<usize>>()
    });
    assert!(cpus.iter().all(|c| *c == second), "{cpus:?}");
}

fn file_error(name: &str, text: &str) -> String {
    let file = File::new(name, text);
    match Runtime::from_config_file(&file.0) {
        Err(e) => e.to_string(),
        Ok(builder) => builder.environment([]).build().unwrap_err().to_string(),
    }
}

fn env_error(vars: &[(&str, &str)]) -> String {
    Runtime::builder()
        .environment(env(vars))
        .build()
        .unwrap_err()
        .to_string()
}

#[test]
fn an_unknown_key_is_refused_with_the_known_ones() {
    let message = file_error("unknown", "worker = 2 # two\n");
    assert!(
        message.contains("unknown setting `worker` = 2 (from "),
        "{message}"
    );
    assert!(message.contains("workers, stack_size"), "{message}");
    let message = file_error("unknown-text", "busy_wate = \"1ms # not a comment\"\n");
    assert!(
        message.contains("unknown setting `busy_wate` = \"1ms # not a comment\" (from "),
        "{message}"
    );
    let message = env_error(&[("FERROTP_WORKRS", "2")]);
    assert!(
        message.contains("unknown setting `FERROTP_WORKRS` = \"2\" (from the environment)"),
        "{message}"
    );
    assert!(message.contains("FERROTP_WORKERS"), "{message}");
}

#[test]
fn an_unknown_key_in_a_rule_names_the_rule_keys() {
    let message = file_error("rule-key", "[[placement]]\nname = \"x\"\ncor = 1\n");
    assert!(
        message.contains("unknown setting `placement.cor` = 1 (from "),
        "{message}"
    );
    assert!(message.contains("name, core, node"), "{message}");
}

#[test]
fn zero_workers_is_refused_from_every_source() {
    let message = file_error("zero", "workers = 0\n");
    assert!(message.contains("`workers` = 0"), "{message}");
    assert!(
        message.contains("allowed is 1 to 65535 workers"),
        "{message}"
    );
    let message = env_error(&[("FERROTP_WORKERS", "0")]);
    assert!(
        message.contains("`FERROTP_WORKERS` = \"0\" (from the environment)"),
        "{message}"
    );
    let code = Runtime::builder()
        .environment([])
        .workers(0)
        .build()
        .unwrap_err();
    assert!(matches!(code, BuildError::Workers(0)));
}

#[test]
fn bad_values_name_what_is_allowed() {
    let cases = [
        (
            "busy_wait = \"fast\"\n",
            "`busy_wait` = \"fast\"",
            "a duration such as",
        ),
        ("long_schedule = \"0ms\"\n", "`long_schedule`", "or \"off\""),
        (
            "long_message_queue = \"10,10\"\n",
            "`long_message_queue` = \"10,10\"",
            "LOW below HIGH",
        ),
        (
            "long_message_queue = \"many\"\n",
            "`long_message_queue` = \"many\"",
            "or \"off\"",
        ),
        (
            "binding = \"scatter\"\n",
            "`binding` = \"scatter\"",
            "\"spread\" or \"pack\"",
        ),
        (
            "on_stack_overflow = \"ignore\"\n",
            "`on_stack_overflow` = \"ignore\"",
            "allowed is \"abort\"",
        ),
        (
            "on_stack_overflow = \"exit_process\"\n",
            "`on_stack_overflow` = \"exit_process\"",
            "only \"abort\" here: ending only the overflowing process is an unsafe opt-in that \
             only code can make (Builder::exit_process_on_stack_overflow",
        ),
        ("stack_size = 100\n", "`stack_size` = 100", "bytes"),
        ("reductions = 0\n", "`reductions` = 0", "at least 1"),
        (
            "blocking_threads = 0\n",
            "`blocking_threads` = 0",
            "allowed is 1 to 4096 blocking threads",
        ),
        (
            "blocking_threads = 4097\n",
            "`blocking_threads` = 4097",
            "allowed is 1 to 4096 blocking threads",
        ),
    ];
    for (n, (text, key, allowed)) in cases.into_iter().enumerate() {
        let message = file_error(&format!("bad-{n}"), text);
        assert!(message.contains(key), "{message}");
        assert!(message.contains(allowed), "{message}");
    }
    let message = env_error(&[("FERROTP_LONG_MESSAGE_QUEUE", "5")]);
    assert!(
        message.contains("`FERROTP_LONG_MESSAGE_QUEUE` = \"5\" (from the environment)"),
        "{message}"
    );
    let rt = Runtime::builder()
        .environment(env(&[("FERROTP_LONG_MESSAGE_QUEUE", "off")]))
        .long_message_queue(None)
        .build()
        .unwrap();
    assert_eq!(rt.settings().long_message_queue, None);
    let rt = Runtime::builder()
        .environment(env(&[("FERROTP_LONG_MESSAGE_QUEUE", "8,2")]))
        .build()
        .unwrap();
    assert_eq!(
        rt.settings().long_message_queue,
        Some(ferrotp_scheduler::QueueMarks::new(8, 2))
    );
    let message = env_error(&[("FERROTP_PIN_WORKERS", "yes")]);
    assert!(message.contains("true, false, 1 or 0"), "{message}");
}

/// The blocking pool's bound, from each source, and refused out of
/// range from each.
#[test]
fn blocking_threads_comes_from_every_source_and_is_checked() {
    let from_env = Runtime::builder()
        .environment(env(&[("FERROTP_BLOCKING_THREADS", "16")]))
        .build()
        .unwrap();
    assert_eq!(from_env.settings().blocking_threads, 16);
    let default = Runtime::builder().environment([]).build().unwrap();
    assert_eq!(
        default.settings().blocking_threads,
        ferrotp_scheduler::DEFAULT_BLOCKING_THREADS
    );
    for bad in ["0", "5000", "lots"] {
        let message = env_error(&[("FERROTP_BLOCKING_THREADS", bad)]);
        assert!(
            message.contains(&format!(
                "`FERROTP_BLOCKING_THREADS` = \"{bad}\" (from the environment)"
            )),
            "{message}"
        );
    }
    assert!(
        env_error(&[("FERROTP_BLOCKING_THREADS", "0")])
            .ends_with("allowed is 1 to 4096 blocking threads"),
    );
    for bad in [0, 4097] {
        let code = Runtime::builder()
            .environment([])
            .blocking_threads(bad)
            .build()
            .unwrap_err();
        assert!(matches!(code, BuildError::BlockingThreads(n) if n == bad));
        assert_eq!(
            code.to_string(),
            format!(
                "invalid runtime setting `blocking_threads` = {bad}: allowed are 1 to 4096 \
                 blocking threads"
            )
        );
    }
}

#[test]
fn a_syntax_error_names_the_file_and_line() {
    let message = file_error("syntax", "workers = 2\nbinding = \n");
    assert!(message.contains("syntax.toml"), "{message}");
    assert!(message.contains("line 2"), "{message}");
}

#[test]
fn a_core_this_process_may_not_use_is_refused() {
    let forbidden = allowed_cpus().unwrap().iter().max().unwrap() + 1;
    let fake = std::env::temp_dir().join(format!("ferrotp-{}-forbidden", std::process::id()));
    let node0 = fake.join("node/node0");
    std::fs::create_dir_all(&node0).unwrap();
    std::fs::write(node0.join("cpulist"), format!("{forbidden}\n")).unwrap();
    std::fs::write(node0.join("distance"), "10\n").unwrap();
    // The file's topology has no CPU this process may use.
    let message = file_error(
        "forbidden-topology",
        &format!("topology = \"{}\"\n", fake.display()),
    );
    assert!(message.contains("`topology`"), "{message}");
    assert!(
        message.contains("no CPU is both online and in this process's affinity mask"),
        "{message}"
    );
    // A rule pinning to a CPU no worker is on.
    let message = file_error(
        "forbidden-rule",
        &format!(
            "pin_workers = true\nworkers = 1\n[[placement]]\nname = \"x\"\ncore = {forbidden}\n"
        ),
    );
    assert!(
        message.contains(&format!("pins to CPU {forbidden}, which has no worker")),
        "{message}"
    );
    std::fs::remove_dir_all(&fake).unwrap();
}

#[test]
fn a_malformed_pattern_is_refused() {
    let message = file_error("pattern", "[[placement]]\nname = \"db[0-9]\"\nnode = 0\n");
    assert!(message.contains("placement[0].name"), "{message}");
    assert!(message.contains("`[` is not supported"), "{message}");
    let message = file_error("both", "[[placement]]\nname = \"db\"\nnode = 0\ncore = 0\n");
    assert!(
        message.contains("exactly one of `core` and `node`"),
        "{message}"
    );
}

#[test]
fn overlapping_rules_are_refused() {
    let message = file_error(
        "overlap",
        "[[placement]]\nname = \"db.*\"\nnode = 0\n[[placement]]\nname = \"*.primary\"\nnode = 0\n",
    );
    assert!(
        message.contains("`placement[1].name` = \"*.primary\""),
        "{message}"
    );
    assert!(
        message.contains("placement[0].name = \"db.*\""),
        "{message}"
    );
    assert!(message.contains("rules must not overlap"), "{message}");
}

#[test]
fn errors_are_config_errors_from_the_file() {
    let file = File::new("typed", "workers = 0\n");
    let error = Runtime::from_config_file(&file.0).unwrap_err();
    assert!(matches!(error, ConfigError::Value { ref key, .. } if key == "workers"));
}

/// Issue 12, item 1: ending only the overflowing process is an `unsafe`
/// opt-in in code; neither a file nor the environment can switch it on.
#[test]
fn exit_process_on_overflow_cannot_come_from_a_file_or_the_environment() {
    let from_file = file_error("exit-process", "on_stack_overflow = \"exit_process\"\n");
    let from_env = env_error(&[("FERROTP_ON_STACK_OVERFLOW", "exit_process")]);
    for message in [from_file, from_env] {
        assert!(
            message.contains("Builder::exit_process_on_stack_overflow"),
            "{message}"
        );
        assert!(
            message.contains("`on_stack_overflow` = \"exit_process\"")
                || message.contains("`FERROTP_ON_STACK_OVERFLOW` = \"exit_process\""),
            "{message}"
        );
    }
    let rt = Runtime::builder()
        .environment(env(&[("FERROTP_ON_STACK_OVERFLOW", "abort")]))
        .workers(1)
        .build()
        .unwrap();
    assert_eq!(
        rt.settings().on_stack_overflow,
        ferrotp_scheduler::OnStackOverflow::Abort
    );
}
