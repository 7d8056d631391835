//! Configuration from a TOML file and the environment: every key, the
//! precedence (code over environment over file), placement rules by
//! name, and each kind of bad configuration refused before anything
//! starts, with the key, the value and what is allowed.

use std::path::{Path, PathBuf};

use ferrotp_scheduler::config::{ConfigError, NamePattern, PlaceOn};
use ferrotp_scheduler::placement::Binding;
use ferrotp_scheduler::topology::{Node, Topology, allowed_cpus};
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
    // Pinning to CPU 1 needs two CPUs; build only where there are.
    if allowed_cpus().unwrap().len() >= 2 {
        let rt = builder.environment([]).build().unwrap();
        assert_eq!(rt.workers(), 2);
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
on_stack_overflow = "exit_process"
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
    assert_eq!(rt.workers(), 2);
    // Pack: the first node's CPUs first (the fixture, restricted to the
    // CPUs this process may use).
    let first_cpus: Vec<usize> = rt.topology().nodes()[0]
        .cpus
        .iter()
        .copied()
        .cycle()
        .take(2)
        .collect();
    assert_eq!(
        rt.placement().iter().map(|p| p.cpu).collect::<Vec<_>>(),
        first_cpus
    );
    // The fixture restricted to the CPUs this process may use.
    assert!(rt.topology().nodes().iter().all(|n| n.id == 0));
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
/// spawn name or registered name; others are not pinned.
#[test]
fn placement_rules_pin_processes_by_name() {
    let two_nodes = Topology::new(
        vec![
            Node {
                id: 0,
                cpus: vec![0],
            },
            Node {
                id: 1,
                cpus: vec![1],
            },
        ],
        vec![vec![10, 21], vec![21, 10]],
    )
    .unwrap();
    let rt = Runtime::builder()
        .environment([])
        .workers(2)
        .topology(two_nodes)
        .binding(Binding::Spread)
        .placement_rule(NamePattern::new("db.*").unwrap(), PlaceOn::Node(1))
        .build()
        .unwrap();
    let node_1 = rt.placement().iter().position(|p| p.node == 1).unwrap();
    let (workers, registered, taken) = rt.block_on(|| {
        let me = self_pid();
        let report = move |me: ferrotp_scheduler::Pid| {
            move || {
                let mut seen = Vec::new();
                for _ in 0..50 {
                    seen.push(process_info(&self_pid()).unwrap().worker.unwrap());
                    ferrotp_scheduler::yield_now();
                }
                send(&me, seen);
            }
        };
        let by_register = spawn_opt(
            SpawnOptions::new().register("db.primary"),
            report(me.clone()),
        )
        .unwrap();
        let registered = whereis("db.primary") == Some(by_register);
        spawn_opt(SpawnOptions::new().name("db.replica"), report(me.clone())).unwrap();
        let mut workers = vec![receive::<Vec<usize>>(), receive::<Vec<usize>>()];
        workers.sort();
        let holder = spawn_opt(SpawnOptions::new().register("db.lock"), || {
            receive::<()>();
        })
        .unwrap();
        let taken = spawn_opt(SpawnOptions::new().register("db.lock"), || {}).unwrap_err();
        send(&holder, ());
        (workers, registered, taken)
    });
    for seen in workers {
        assert!(seen.iter().all(|w| *w == node_1), "{seen:?}");
    }
    assert!(registered);
    assert!(matches!(taken, SpawnError::Register(_)), "{taken}");
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
    let message = file_error("unknown", "worker = 2\n");
    assert!(message.contains("unknown setting `worker`"), "{message}");
    assert!(message.contains("workers, stack_size"), "{message}");
    let message = env_error(&[("FERROTP_WORKRS", "2")]);
    assert!(
        message.contains("unknown setting `FERROTP_WORKRS`"),
        "{message}"
    );
    assert!(message.contains("FERROTP_WORKERS"), "{message}");
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
            "binding = \"scatter\"\n",
            "`binding` = \"scatter\"",
            "\"spread\" or \"pack\"",
        ),
        (
            "on_stack_overflow = \"ignore\"\n",
            "`on_stack_overflow`",
            "\"abort\" or \"exit_process\"",
        ),
        ("stack_size = 100\n", "`stack_size` = 100", "bytes"),
        ("reductions = 0\n", "`reductions` = 0", "at least 1"),
    ];
    for (n, (text, key, allowed)) in cases.into_iter().enumerate() {
        let message = file_error(&format!("bad-{n}"), text);
        assert!(message.contains(key), "{message}");
        assert!(message.contains(allowed), "{message}");
    }
    let message = env_error(&[("FERROTP_PIN_WORKERS", "yes")]);
    assert!(message.contains("true, false, 1 or 0"), "{message}");
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
