//! Runtime configuration from the environment and from a TOML file, and
//! placement rules that pin processes by name.
//!
//! # Precedence
//!
//! A setting made in code ([`Builder`](crate::Builder) methods) wins over
//! the same setting from the environment, which wins over the file
//! ([`Runtime::from_config_file`](crate::Runtime::from_config_file)),
//! which wins over the default. Each source is checked on its own before
//! anything starts, and an error names the source, the key, the bad value
//! and what is allowed.
//!
//! # Keys
//!
//! | file key            | environment variable        | value                                      |
//! |---------------------|-----------------------------|--------------------------------------------|
//! | `workers`           | `FERROTP_WORKERS`           | 1 to 65535                                 |
//! | `stack_size`        | `FERROTP_STACK_SIZE`        | bytes, 16 KiB to 256 MiB                   |
//! | `reductions`        | `FERROTP_REDUCTIONS`        | at least 1                                 |
//! | `busy_wait`         | `FERROTP_BUSY_WAIT`         | a duration: `"100us"`, `"2ms"`, `"0s"`     |
//! | `max_processes`     | `FERROTP_MAX_PROCESSES`     | at least 1                                 |
//! | `long_schedule`     | `FERROTP_LONG_SCHEDULE`     | a duration above zero, or `"off"`          |
//! | `cleanup_timeout`   | `FERROTP_CLEANUP_TIMEOUT`   | a duration above zero                      |
//! | `blocking_threads`  | `FERROTP_BLOCKING_THREADS`  | 1 to 4096                                  |
//! | `long_message_queue` | `FERROTP_LONG_MESSAGE_QUEUE` | `"HIGH,LOW"` (LOW below HIGH), or `"off"` |
//! | `on_stack_overflow` | `FERROTP_ON_STACK_OVERFLOW` | `"abort"` (the only choice outside code)   |
//! | `pin_workers`       | `FERROTP_PIN_WORKERS`       | `true` or `false` (env: also `1` or `0`)   |
//! | `binding`           | `FERROTP_BINDING`           | `"spread"` or `"pack"`                     |
//! | `topology`          | `FERROTP_TOPOLOGY`          | a directory laid out like `/sys/devices/system` |
//! | `[[placement]]`     | –                           | `name` = a pattern, and `core` or `node`   |
//!
//! `FERROTP_CONFIG` names a file that [`Builder::build`](crate::Builder::build)
//! reads when the builder has none. Any other `FERROTP_*` variable is an
//! error (a misspelt setting should not be silently ignored). The hooks
//! (dead letters, long schedules, long message queues) can only be set in code, and so can the
//! `unsafe` opt-in that ends only the process that overflows its stack
//! ([`Builder::exit_process_on_stack_overflow`](crate::Builder::exit_process_on_stack_overflow)):
//! a file or a variable cannot take on the promise its safety contract
//! asks for.
//!
//! # Placement rules
//!
//! ```toml
//! [[placement]]
//! name = "db.*"     # `*` any run of characters, `?` any one
//! core = 2          # or: node = 1
//! ```
//!
//! A process spawned with a name ([`SpawnOptions::name`](crate::SpawnOptions::name)
//! or [`SpawnOptions::register`](crate::SpawnOptions::register)) that a
//! rule's pattern matches is pinned as the rule says, unless its spawn
//! options pin it themselves. Rules must not overlap: two patterns that
//! some name could match both are refused (which rule wins would
//! otherwise depend on their order). A `core` rule needs pinned workers
//! and a worker on that CPU; a `node` rule, a worker on that node.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::blocking::MAX_BLOCKING_THREADS;
use crate::messaging::long_queue::QueueMarks;
use crate::process::stack::{MAX_STACK_SIZE, MIN_STACK_SIZE, OnStackOverflow};
use crate::runtime::placement::Binding;
use crate::runtime::topology::Topology;

// The placement rules are defined with the placement they drive; they keep
// their paths here too, where the settings that carry them are.
pub use crate::runtime::placement::{NamePattern, PlaceOn, PlacementRule};

/// The most workers a runtime can have.
pub(crate) const MAX_WORKERS: usize = 65535;

/// The settings of a runtime, checked by [`Builder::build`].
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) workers: usize,
    pub(crate) stack_size: usize,
    pub(crate) reductions: u32,
    pub(crate) busy_wait: Duration,
    pub(crate) max_processes: usize,
    pub(crate) on_stack_overflow: OnStackOverflow,
    pub(crate) cleanup_timeout: Duration,
    pub(crate) long_message_queue: Option<QueueMarks>,
}

/// The settings a runtime runs with, once code, environment and file have
/// been merged ([`Runtime::settings`](crate::Runtime::settings)): what to log at start-up.
///
/// ```
/// use ferrotp_scheduler::{DEFAULT_STACK_SIZE, Runtime};
/// let rt = Runtime::builder()
///     .environment([("FERROTP_REDUCTIONS".to_owned(), "2000".to_owned())])
///     .workers(2)
///     .build()?;
/// let settings = rt.settings();
/// assert_eq!(settings.workers, 2);                      // from code
/// assert_eq!(settings.reductions, 2000);                // from the environment
/// assert_eq!(settings.stack_size, DEFAULT_STACK_SIZE); // the default
/// # Ok::<(), ferrotp_scheduler::BuildError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EffectiveSettings {
    /// Worker threads.
    pub workers: usize,
    /// Default process stack bytes.
    pub stack_size: usize,
    /// Reductions per time slice.
    pub reductions: u32,
    /// Idle busy-wait.
    pub busy_wait: Duration,
    /// The most live processes.
    pub max_processes: usize,
    /// The long-schedule threshold (`None`: off).
    pub long_schedule: Option<Duration>,
    /// What a stack overflow does.
    pub on_stack_overflow: OnStackOverflow,
    /// How long a process may block in its clean-up.
    pub cleanup_timeout: Duration,
    /// The runtime-wide long-message-queue marks (`None`: off).
    pub long_message_queue: Option<QueueMarks>,
    /// The most threads of the blocking pool ([`blocking`](crate::blocking)).
    pub blocking_threads: usize,
    /// Whether workers are pinned to their CPUs.
    pub pin_workers: bool,
    /// How workers are laid out over nodes.
    pub binding: Binding,
    /// Placement rules by process name.
    pub placement_rules: Vec<PlacementRule>,
}

/// Where a setting came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A configuration file.
    File(PathBuf),
    /// An environment variable.
    Environment,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Environment => f.write_str("the environment"),
        }
    }
}

/// A configuration that cannot be used; nothing has started.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A setting has a value outside what is allowed.
    Value {
        /// Where it came from.
        source: Source,
        /// The key (file) or variable (environment).
        key: String,
        /// The value given.
        value: String,
        /// What is allowed.
        allowed: String,
    },
    /// A key or variable that is not a setting.
    UnknownKey {
        /// Where it came from.
        source: Source,
        /// The key.
        key: String,
        /// Its value, as written.
        value: String,
        /// The keys there are.
        known: String,
    },
    /// The file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// The file is not valid TOML, or a value has the wrong type.
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        why: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Value {
                source,
                key,
                value,
                allowed,
            } => write!(
                f,
                "invalid setting `{key}` = {value} (from {source}): allowed is {allowed}"
            ),
            ConfigError::UnknownKey {
                source,
                key,
                value,
                known,
            } => {
                write!(
                    f,
                    "unknown setting `{key}` = {value} (from {source}); the settings are {known}"
                )
            }
            ConfigError::Read { path, why } => write!(f, "reading {}: {why}", path.display()),
            ConfigError::Syntax { path, why } => write!(f, "{}: {why}", path.display()),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The settings one source gives; `None`: not given there.
#[derive(Clone, Debug, Default)]
pub(crate) struct Settings {
    pub(crate) workers: Option<usize>,
    pub(crate) stack_size: Option<usize>,
    pub(crate) reductions: Option<u32>,
    pub(crate) busy_wait: Option<Duration>,
    pub(crate) max_processes: Option<usize>,
    pub(crate) long_schedule: Option<Option<Duration>>,
    pub(crate) long_message_queue: Option<Option<QueueMarks>>,
    pub(crate) cleanup_timeout: Option<Duration>,
    pub(crate) blocking_threads: Option<usize>,
    pub(crate) on_stack_overflow: Option<OnStackOverflow>,
    pub(crate) pin_workers: Option<bool>,
    pub(crate) binding: Option<Binding>,
    pub(crate) topology: Option<Topology>,
    pub(crate) rules: Option<Vec<PlacementRule>>,
}

impl Settings {
    /// Each setting from `self` if given there, else from `lower`.
    pub(crate) fn over(self, lower: Settings) -> Settings {
        Settings {
            workers: self.workers.or(lower.workers),
            stack_size: self.stack_size.or(lower.stack_size),
            reductions: self.reductions.or(lower.reductions),
            busy_wait: self.busy_wait.or(lower.busy_wait),
            max_processes: self.max_processes.or(lower.max_processes),
            long_schedule: self.long_schedule.or(lower.long_schedule),
            long_message_queue: self.long_message_queue.or(lower.long_message_queue),
            cleanup_timeout: self.cleanup_timeout.or(lower.cleanup_timeout),
            blocking_threads: self.blocking_threads.or(lower.blocking_threads),
            on_stack_overflow: self.on_stack_overflow.or(lower.on_stack_overflow),
            pin_workers: self.pin_workers.or(lower.pin_workers),
            binding: self.binding.or(lower.binding),
            topology: self.topology.or(lower.topology),
            rules: self.rules.or(lower.rules),
        }
    }

    /// Reads and checks a TOML file.
    pub(crate) fn from_file(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_owned(),
            why: e.to_string(),
        })?;
        Self::from_toml(&text, path)
    }

    /// Parses and checks TOML text (`path` names it in errors).
    pub(crate) fn from_toml(text: &str, path: &Path) -> Result<Settings, ConfigError> {
        let file: FileSettings = toml::from_str(text).map_err(|e| {
            let why = e.to_string();
            // serde's message for an unknown field lists the known ones.
            match unknown_field(e.message()) {
                Some(key) => {
                    // A rule's table lists its own keys.
                    let in_rule = e.message().contains("expected one of `name`");
                    let value = e
                        .span()
                        .and_then(|span| written_value(text, span.start))
                        .unwrap_or_else(|| "?".to_owned());
                    ConfigError::UnknownKey {
                        source: Source::File(path.to_owned()),
                        value,
                        key: if in_rule {
                            format!("placement.{key}")
                        } else {
                            key
                        },
                        known: if in_rule {
                            "name, core, node (in a [[placement]] rule)".to_owned()
                        } else {
                            FILE_KEYS.join(", ")
                        },
                    }
                }
                None => ConfigError::Syntax {
                    path: path.to_owned(),
                    why: why.trim_end().to_owned(),
                },
            }
        })?;
        let source = Source::File(path.to_owned());
        let mut settings = Settings::default();
        let given = |key: &str, value: String| Given {
            source: source.clone(),
            key: key.to_owned(),
            value,
        };
        if let Some(n) = file.workers {
            settings.workers = Some(check_workers(n, given("workers", n.to_string()))?);
        }
        if let Some(n) = file.stack_size {
            settings.stack_size = Some(check_stack_size(n, given("stack_size", n.to_string()))?);
        }
        if let Some(n) = file.reductions {
            settings.reductions = Some(check_reductions(n, given("reductions", n.to_string()))?);
        }
        if let Some(text) = file.busy_wait {
            settings.busy_wait = Some(parse_busy_wait(&text, given("busy_wait", quoted(&text)))?);
        }
        if let Some(n) = file.max_processes {
            settings.max_processes = Some(check_max_processes(
                n,
                given("max_processes", n.to_string()),
            )?);
        }
        if let Some(text) = file.cleanup_timeout {
            settings.cleanup_timeout = Some(parse_cleanup_timeout(
                &text,
                given("cleanup_timeout", quoted(&text)),
            )?);
        }
        if let Some(n) = file.blocking_threads {
            settings.blocking_threads = Some(check_blocking_threads(
                n,
                given("blocking_threads", n.to_string()),
            )?);
        }
        if let Some(text) = file.long_schedule {
            settings.long_schedule = Some(parse_long_schedule(
                &text,
                given("long_schedule", quoted(&text)),
            )?);
        }
        if let Some(text) = file.long_message_queue {
            settings.long_message_queue = Some(parse_long_message_queue(
                &text,
                given("long_message_queue", quoted(&text)),
            )?);
        }
        if let Some(text) = file.on_stack_overflow {
            settings.on_stack_overflow = Some(parse_on_stack_overflow(
                &text,
                given("on_stack_overflow", quoted(&text)),
            )?);
        }
        settings.pin_workers = file.pin_workers;
        if let Some(text) = file.binding {
            settings.binding = Some(parse_binding(&text, given("binding", quoted(&text)))?);
        }
        if let Some(dir) = file.topology {
            // Relative to the file.
            let dir = path.parent().map_or_else(|| dir.clone(), |p| p.join(&dir));
            settings.topology = Some(read_topology(&dir, given("topology", quoted_path(&dir)))?);
        }
        if let Some(rules) = file.placement {
            settings.rules = Some(check_rules(rules, &source)?);
        }
        Ok(settings)
    }

    /// Reads the `FERROTP_*` variables of `vars`; also returns the path
    /// of `FERROTP_CONFIG`, if set.
    pub(crate) fn from_env(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Settings, Option<PathBuf>), ConfigError> {
        let mut settings = Settings::default();
        let mut config_file = None;
        for (key, value) in vars {
            let Some(name) = key.strip_prefix("FERROTP_") else {
                continue;
            };
            let given = Given {
                source: Source::Environment,
                key: key.clone(),
                value: quoted(&value),
            };
            let number = |given: &Given| -> Result<u64, ConfigError> {
                value
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| given.refuse("a whole number"))
            };
            match name {
                "WORKERS" => {
                    let n = number(&given)?;
                    settings.workers = Some(check_workers(to_usize(n), given)?);
                }
                "STACK_SIZE" => {
                    let n = number(&given)?;
                    settings.stack_size = Some(check_stack_size(to_usize(n), given)?);
                }
                "REDUCTIONS" => {
                    let n = number(&given)?;
                    let n = u32::try_from(n).map_err(|_| given.refuse("1 to 4294967295"))?;
                    settings.reductions = Some(check_reductions(n, given)?);
                }
                "BUSY_WAIT" => settings.busy_wait = Some(parse_busy_wait(&value, given)?),
                "MAX_PROCESSES" => {
                    let n = number(&given)?;
                    settings.max_processes = Some(check_max_processes(to_usize(n), given)?);
                }
                "CLEANUP_TIMEOUT" => {
                    settings.cleanup_timeout = Some(parse_cleanup_timeout(&value, given)?);
                }
                "BLOCKING_THREADS" => {
                    let n = number(&given)?;
                    settings.blocking_threads = Some(check_blocking_threads(to_usize(n), given)?);
                }
                "LONG_SCHEDULE" => {
                    settings.long_schedule = Some(parse_long_schedule(&value, given)?);
                }
                "LONG_MESSAGE_QUEUE" => {
                    settings.long_message_queue = Some(parse_long_message_queue(&value, given)?);
                }
                "ON_STACK_OVERFLOW" => {
                    settings.on_stack_overflow = Some(parse_on_stack_overflow(&value, given)?);
                }
                "PIN_WORKERS" => {
                    settings.pin_workers = Some(match value.trim() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(given.refuse("true, false, 1 or 0")),
                    });
                }
                "BINDING" => settings.binding = Some(parse_binding(&value, given)?),
                "TOPOLOGY" => {
                    settings.topology = Some(read_topology(Path::new(&value), given)?);
                }
                "CONFIG" => config_file = Some(PathBuf::from(value)),
                _ => {
                    return Err(ConfigError::UnknownKey {
                        source: Source::Environment,
                        key,
                        value: quoted(&value),
                        known: ENV_KEYS.join(", "),
                    });
                }
            }
        }
        Ok((settings, config_file))
    }
}

/// What a file may hold (unknown keys are refused).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    workers: Option<usize>,
    stack_size: Option<usize>,
    reductions: Option<u32>,
    busy_wait: Option<String>,
    max_processes: Option<usize>,
    long_schedule: Option<String>,
    long_message_queue: Option<String>,
    cleanup_timeout: Option<String>,
    blocking_threads: Option<usize>,
    on_stack_overflow: Option<String>,
    pin_workers: Option<bool>,
    binding: Option<String>,
    topology: Option<PathBuf>,
    placement: Option<Vec<FileRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRule {
    name: String,
    core: Option<usize>,
    node: Option<usize>,
}

const FILE_KEYS: [&str; 14] = [
    "workers",
    "stack_size",
    "reductions",
    "busy_wait",
    "max_processes",
    "long_schedule",
    "long_message_queue",
    "cleanup_timeout",
    "blocking_threads",
    "on_stack_overflow",
    "pin_workers",
    "binding",
    "topology",
    "[[placement]] (name, core, node)",
];

const ENV_KEYS: [&str; 14] = [
    "FERROTP_WORKERS",
    "FERROTP_STACK_SIZE",
    "FERROTP_REDUCTIONS",
    "FERROTP_BUSY_WAIT",
    "FERROTP_MAX_PROCESSES",
    "FERROTP_LONG_SCHEDULE",
    "FERROTP_LONG_MESSAGE_QUEUE",
    "FERROTP_CLEANUP_TIMEOUT",
    "FERROTP_BLOCKING_THREADS",
    "FERROTP_ON_STACK_OVERFLOW",
    "FERROTP_PIN_WORKERS",
    "FERROTP_BINDING",
    "FERROTP_TOPOLOGY",
    "FERROTP_CONFIG",
];

/// A value as given, for an error about it.
struct Given {
    source: Source,
    key: String,
    value: String,
}

impl Given {
    fn refuse(&self, allowed: impl Into<String>) -> ConfigError {
        ConfigError::Value {
            source: self.source.clone(),
            key: self.key.clone(),
            value: self.value.clone(),
            allowed: allowed.into(),
        }
    }
}

fn quoted(text: &str) -> String {
    format!("{text:?}")
}

fn quoted_path(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// The name of the unknown field in serde's message, if that is what it
/// is about.
/// The value written after the key at byte `at` of `text`, as written
/// (up to the end of its line, without a trailing comment).
fn written_value(text: &str, at: usize) -> Option<String> {
    let line_start = text.get(..at)?.rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next()?;
    let (_, value) = line.split_once('=')?;
    let value = value.trim();
    let end = match value.chars().next()? {
        // A quoted value ends at its closing quote (a `#` inside is text).
        quote @ ('"' | '\'') => value[1..].find(quote).map_or(value.len(), |i| i + 2),
        _ => value.find('#').unwrap_or(value.len()),
    };
    Some(value[..end].trim().to_owned())
}

fn unknown_field(message: &str) -> Option<String> {
    let rest = message.split("unknown field `").nth(1)?;
    Some(rest.split('`').next()?.to_owned())
}

fn check_workers(n: usize, given: Given) -> Result<usize, ConfigError> {
    if (1..=MAX_WORKERS).contains(&n) {
        Ok(n)
    } else {
        Err(given.refuse(format!("1 to {MAX_WORKERS} workers")))
    }
}

fn check_stack_size(n: usize, given: Given) -> Result<usize, ConfigError> {
    if (MIN_STACK_SIZE..=MAX_STACK_SIZE).contains(&n) {
        Ok(n)
    } else {
        Err(given.refuse(format!("{MIN_STACK_SIZE} to {MAX_STACK_SIZE} bytes")))
    }
}

fn check_reductions(n: u32, given: Given) -> Result<u32, ConfigError> {
    if n >= 1 {
        Ok(n)
    } else {
        Err(given.refuse("at least 1 reduction per time slice"))
    }
}

fn check_blocking_threads(n: usize, given: Given) -> Result<usize, ConfigError> {
    if (1..=MAX_BLOCKING_THREADS).contains(&n) {
        Ok(n)
    } else {
        Err(given.refuse(format!("1 to {MAX_BLOCKING_THREADS} blocking threads")))
    }
}

fn check_max_processes(n: usize, given: Given) -> Result<usize, ConfigError> {
    if n >= 1 {
        Ok(n)
    } else {
        Err(given.refuse("at least 1 process"))
    }
}

const DURATION_FORMS: &str = "a duration such as \"250us\", \"5ms\" or \"2s\"";

/// `"100us"`, `"5ms"`, `"2s"`, `"1m"` (also `"0s"`).
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    match unit.trim() {
        "ns" => Some(Duration::from_nanos(n)),
        "us" | "µs" => Some(Duration::from_micros(n)),
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n.checked_mul(60)?)),
        _ => None,
    }
}

fn parse_busy_wait(text: &str, given: Given) -> Result<Duration, ConfigError> {
    parse_duration(text).ok_or_else(|| given.refuse(DURATION_FORMS))
}

/// Parses a clean-up timeout (above zero).
fn parse_cleanup_timeout(text: &str, given: Given) -> Result<Duration, ConfigError> {
    match parse_duration(text) {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(given.refuse(format!("{DURATION_FORMS} above zero"))),
    }
}

fn parse_long_schedule(text: &str, given: Given) -> Result<Option<Duration>, ConfigError> {
    if text.trim() == "off" {
        return Ok(None);
    }
    match parse_duration(text) {
        Some(d) if !d.is_zero() => Ok(Some(d)),
        _ => Err(given.refuse(format!("{DURATION_FORMS} above zero, or \"off\""))),
    }
}

/// `"HIGH,LOW"` with LOW below HIGH, or `"off"`.
fn parse_long_message_queue(text: &str, given: Given) -> Result<Option<QueueMarks>, ConfigError> {
    let text = text.trim();
    if text == "off" {
        return Ok(None);
    }
    let marks = text.split_once(',').and_then(|(high, low)| {
        QueueMarks::try_new(high.trim().parse().ok()?, low.trim().parse().ok()?)
    });
    match marks {
        Some(marks) => Ok(Some(marks)),
        None => Err(given.refuse(
            "\"HIGH,LOW\": two whole numbers up to 4294967295, LOW below HIGH (\"10000,5000\"), \
             or \"off\"",
        )),
    }
}

fn parse_on_stack_overflow(text: &str, given: Given) -> Result<OnStackOverflow, ConfigError> {
    match text.trim() {
        "abort" => Ok(OnStackOverflow::Abort),
        "exit_process" => Err(given.refuse(
            "only \"abort\" here: ending only the overflowing process is an unsafe opt-in \
             that only code can make (Builder::exit_process_on_stack_overflow, whose safety \
             contract says why)",
        )),
        _ => Err(given.refuse("\"abort\"")),
    }
}

fn parse_binding(text: &str, given: Given) -> Result<Binding, ConfigError> {
    match text.trim() {
        "spread" => Ok(Binding::Spread),
        "pack" => Ok(Binding::Pack),
        _ => Err(given.refuse("\"spread\" or \"pack\"")),
    }
}

fn read_topology(dir: &Path, given: Given) -> Result<Topology, ConfigError> {
    if dir.as_os_str().is_empty() || !dir.is_dir() {
        return Err(given.refuse("an existing directory laid out like /sys/devices/system"));
    }
    let allowed = crate::runtime::topology::allowed_cpus()
        .map_err(|e| given.refuse(format!("a readable topology ({e})")))?;
    Topology::from_sysfs(dir, &allowed).map_err(|e| {
        given.refuse(format!(
            "a directory laid out like /sys/devices/system with CPUs this process may use ({e})"
        ))
    })
}

/// Checks each rule and that no two overlap.
fn check_rules(rules: Vec<FileRule>, source: &Source) -> Result<Vec<PlacementRule>, ConfigError> {
    let mut checked: Vec<PlacementRule> = Vec::with_capacity(rules.len());
    for (n, rule) in rules.into_iter().enumerate() {
        let at = |field: &str, value: String| Given {
            source: source.clone(),
            key: format!("placement[{n}].{field}"),
            value,
        };
        let pattern = NamePattern::new(&rule.name)
            .map_err(|allowed| at("name", quoted(&rule.name)).refuse(allowed))?;
        let on = match (rule.core, rule.node) {
            (Some(cpu), None) => PlaceOn::Core(cpu),
            (None, Some(node)) => PlaceOn::Node(node),
            (core, node) => {
                let given = match (core, node) {
                    (Some(core), Some(node)) => format!("core = {core} and node = {node}"),
                    _ => "neither".to_owned(),
                };
                return Err(at("core/node", given).refuse("exactly one of `core` and `node`"));
            }
        };
        if let Some((m, earlier)) = checked
            .iter()
            .enumerate()
            .find(|(_, earlier)| earlier.pattern.overlaps(&pattern))
        {
            return Err(at("name", quoted(&rule.name)).refuse(format!(
                "a pattern that no name matches together with placement[{m}].name = \"{}\" \
                 (rules must not overlap)",
                earlier.pattern
            )));
        }
        checked.push(PlacementRule { pattern, on });
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(p: &str) -> NamePattern {
        NamePattern::new(p).unwrap()
    }

    #[test]
    fn patterns_match_as_globs() {
        assert!(pattern("*").matches(""));
        assert!(pattern("a*c").matches("abbbc"));
        assert!(pattern("a?c").matches("abc"));
        assert!(!pattern("a?c").matches("ac"));
        assert!(pattern("*.*").matches("db.primary"));
        assert!(!pattern("db").matches("db2"));
        // A `*` in the name is an ordinary character there.
        assert!(pattern("*").matches("*a"));
        assert!(pattern("db.*").matches("db.*x"));
        assert!(pattern("?b").matches("éb"));
        assert!(!pattern("a*b").matches("a*c"));
    }

    /// The matcher against a slow, obviously right one, on every pattern
    /// and name of up to 4 characters over a, b, `*`, `?`.
    #[test]
    fn matches_agrees_with_a_reference() {
        fn reference(p: &[char], n: &[char]) -> bool {
            match (p.first(), n.first()) {
                (None, None) => true,
                (Some('*'), _) => reference(&p[1..], n) || (!n.is_empty() && reference(p, &n[1..])),
                (Some(c), Some(d)) if *c == '?' || c == d => reference(&p[1..], &n[1..]),
                _ => false,
            }
        }
        let alphabet = ['a', 'b', '*', '?'];
        let words = |len: usize| -> Vec<String> {
            (0..alphabet.len().pow(len as u32))
                .map(|mut k| {
                    (0..len)
                        .map(|_| {
                            let c = alphabet[k % alphabet.len()];
                            k /= alphabet.len();
                            c
                        })
                        .collect()
                })
                .collect()
        };
        let all: Vec<String> = (0..=4).flat_map(words).collect();
        for p in all.iter().filter(|p| !p.is_empty()) {
            let pattern = NamePattern::new(p).unwrap();
            let pc: Vec<char> = p.chars().collect();
            for n in &all {
                let nc: Vec<char> = n.chars().collect();
                assert_eq!(pattern.matches(n), reference(&pc, &nc), "{p:?} on {n:?}");
            }
        }
    }

    #[test]
    fn overlap_is_exact_for_star_and_question_mark() {
        assert!(pattern("a*").overlaps(&pattern("*b"))); // "ab"
        assert!(pattern("db.*").overlaps(&pattern("db.primary")));
        assert!(!pattern("db.*").overlaps(&pattern("cache.*")));
        assert!(!pattern("a?").overlaps(&pattern("a")));
        assert!(pattern("a?").overlaps(&pattern("*z")));
        assert!(!pattern("x*y").overlaps(&pattern("x*z")));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250us"), Some(Duration::from_micros(250)));
        assert_eq!(parse_duration("5ms"), Some(Duration::from_millis(5)));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("ms"), None);
        assert_eq!(parse_duration("5 hours"), None);
    }
}
