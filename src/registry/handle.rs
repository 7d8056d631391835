//! [`Registry`]: the handle, its kinds of key, and its errors.

use std::borrow::Borrow;
use std::fmt;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::{Arc, Weak};

use ferrotp_scheduler::{ExitReason, Pid, self_pid, send};

use super::table::{Entries, Table};

/// Whether a key names one process or many (Elixir's `keys: :unique` /
/// `keys: :duplicate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Keys {
    /// A key has at most one entry: a name.
    Unique,
    /// A key may have any number of entries, from any processes (and
    /// several from one): a topic, a group.
    Duplicate,
}

/// [`Registry::register`] refused: the key is a [`Keys::Unique`] key
/// held by another living process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlreadyRegistered {
    /// The process that holds the key.
    pub holder: Pid,
}

impl fmt::Display for AlreadyRegistered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the key is already registered by {:?} (a unique key names one living process)",
            self.holder
        )
    }
}

impl std::error::Error for AlreadyRegistered {}

struct Shared<K, V> {
    keys: Keys,
    table: Table<K, V>,
}

/// A registry of processes by key, in the style of Elixir's `Registry`:
/// each process registers itself under keys, with a value per entry;
/// anyone looks keys up, or sends to every process under a key; a
/// process's entries go when it ends.
///
/// A cheap handle (an `Arc`): clone it into every process that uses the
/// registry. It needs no process of its own, so it needs no supervisor
/// either; keep it wherever the processes can reach it (a `static` in a
/// `LazyLock`, a field of their state).
///
/// ```
/// use std::time::Duration;
/// use ferrotp::registry::{Keys, Registry};
/// use ferrotp::{receive, self_pid, spawn};
///
/// let got = ferrotp::run(|| {
///     // Pub/sub: subscribers register under a topic, with a value each.
///     let topics: Registry<String, u32> = Registry::new(Keys::Duplicate);
///     let main = self_pid();
///     for id in 1..=3u32 {
///         let (topics, main) = (topics.clone(), main.clone());
///         spawn(move || {
///             topics.register("news".to_string(), id).unwrap();
///             ferrotp::send(&main, ());                // registered
///             let headline: String = receive();
///             ferrotp::send(&main, format!("{id} read {headline}"));
///         });
///     }
///     for _ in 0..3 { receive::<()>(); }
///     // Looked up by `&str`, as a `HashMap<String, _>` is.
///     let sent = topics.send("news", "ferrotp 1.0".to_string());
///     let mut got: Vec<String> = (0..sent).map(|_| receive()).collect();
///     got.sort();
///     got
/// }).unwrap();
/// assert_eq!(got, ["1 read ferrotp 1.0", "2 read ferrotp 1.0", "3 read ferrotp 1.0"]);
/// ```
pub struct Registry<K, V = ()> {
    shared: Arc<Shared<K, V>>,
}

impl<K, V> Clone for Registry<K, V> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<K, V> fmt::Debug for Registry<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("keys", &self.shared.keys)
            .field("partitions", &self.shared.table.partitions())
            .finish()
    }
}

/// Two handles are equal when they are the same registry.
impl<K, V> PartialEq for Registry<K, V> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<K, V> Eq for Registry<K, V> {}

impl<K, V> Registry<K, V>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A registry of `keys`, in as many partitions as the machine has
    /// CPUs.
    pub fn new(keys: Keys) -> Self {
        let cpus = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
        Self::with_partitions(keys, cpus)
    }

    /// A registry of `keys` in `partitions` partitions (each key lives in
    /// one, by its hash; more partitions, fewer writers meet).
    pub fn with_partitions(keys: Keys, partitions: NonZeroUsize) -> Self {
        Self {
            shared: Arc::new(Shared {
                keys,
                table: Table::new(partitions.get()),
            }),
        }
    }

    /// Unique or duplicate keys.
    pub fn keys_kind(&self) -> Keys {
        self.shared.keys
    }

    /// Registers the calling process under `key` with `value`, until it
    /// unregisters or ends. Under [`Keys::Duplicate`] a process may
    /// register one key several times (one entry each).
    ///
    /// A unique key still held by a process that has ended (whose entries
    /// are about to go) is taken over: a supervised child's replacement
    /// can register its name at once.
    ///
    /// # Errors
    /// [`AlreadyRegistered`]: a unique key held by a living process.
    ///
    /// # Panics
    /// Outside a process.
    pub fn register(&self, key: K, value: V) -> Result<(), AlreadyRegistered> {
        let me = self_pid();
        let unique = self.shared.keys == Keys::Unique;
        let first = self
            .shared
            .table
            .insert(key, &me, value, unique)
            .map_err(|holder| AlreadyRegistered { holder })?;
        if first {
            let registry = Arc::downgrade(&self.shared);
            let ended = me.clone();
            // Set once per process while it holds entries here: when it
            // ends, its entries go.
            me.on_exit(move |_| forget(&registry, &ended));
        }
        Ok(())
    }

    /// Removes every entry of the calling process under `key`; how many.
    ///
    /// # Panics
    /// Outside a process.
    pub fn unregister<Q>(&self, key: &Q) -> usize
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shared.table.remove(key, &self_pid(), |_| true)
    }

    /// Removes the calling process's entries under `key` whose value
    /// `matches`; how many.
    ///
    /// # Panics
    /// Outside a process.
    pub fn unregister_match<Q>(&self, key: &Q, matches: impl Fn(&V) -> bool) -> usize
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shared.table.remove(key, &self_pid(), matches)
    }

    /// The entries under `key`, `(pid, value)` in registration order: a
    /// snapshot, taken in O(1) (no copy), that later changes do not touch.
    pub fn lookup<Q>(&self, key: &Q) -> Entries<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shared.table.lookup(key).unwrap_or_default()
    }

    /// The process registered under `key` (the first, for duplicate
    /// keys).
    pub fn whereis<Q>(&self, key: &Q) -> Option<Pid>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shared.table.first(key)
    }

    /// The entries under `key` whose value `matches` (Elixir's `match`).
    pub fn match_values<Q>(&self, key: &Q, matches: impl Fn(&V) -> bool) -> Vec<(Pid, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lookup(key)
            .iter()
            .filter(|(_, value)| matches(value))
            .cloned()
            .collect()
    }

    /// Calls `each` with every entry under `key` (Elixir's `dispatch`),
    /// on a snapshot, outside any lock: `each` may send, block or
    /// register. Returns how many entries there were.
    pub fn dispatch<Q>(&self, key: &Q, mut each: impl FnMut(&Pid, &V)) -> usize
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let entries = self.lookup(key);
        for (pid, value) in entries.iter() {
            each(pid, value);
        }
        entries.len()
    }

    /// Sends `message` to every process under `key` (one copy per
    /// entry); how many were sent.
    pub fn send<Q, M>(&self, key: &Q, message: M) -> usize
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        M: Clone + Send + 'static,
    {
        self.dispatch(key, |pid, _| send(pid, message.clone()))
    }

    /// The keys `pid` holds here, once per entry.
    pub fn keys(&self, pid: &Pid) -> Vec<K> {
        self.shared.table.keys_of(pid)
    }

    /// The values of `pid`'s entries under `key`.
    pub fn values<Q>(&self, key: &Q, pid: &Pid) -> Vec<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lookup(key)
            .iter()
            .filter(|(holder, _)| holder == pid)
            .map(|(_, value)| value.clone())
            .collect()
    }

    /// Sets the value of the calling process's (first) entry under `key`;
    /// false if it has none.
    ///
    /// # Panics
    /// Outside a process.
    pub fn update_value<Q>(&self, key: &Q, value: V) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shared.table.set_value(key, &self_pid(), value)
    }

    /// How many entries there are, over every key.
    pub fn count(&self) -> usize {
        self.shared.table.count()
    }

    /// How many entries there are under `key`.
    pub fn count_key<Q>(&self, key: &Q) -> usize
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shared.table.count_key(key)
    }
}

/// A process that held entries in a registry has ended: its entries go
/// (if the registry is still there).
fn forget<K, V>(registry: &Weak<Shared<K, V>>, ended: &Pid)
where
    K: Eq + Hash + Clone,
    V: Clone,
{
    if let Some(shared) = registry.upgrade() {
        shared.table.remove_owner(ended);
    }
}

impl<K, V> Registry<K, V>
where
    K: Eq + Hash + Clone + Send + Sync + fmt::Debug + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// The name `key` (with `value`) for an actor or state machine to take
    /// as it starts: [`ViaName`](super::ViaName).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrotp::actor::{Builder, Next, StartError};
    /// use ferrotp::registry::{Keys, Registry};
    ///
    /// let (found, again) = ferrotp::run(|| {
    ///     let rooms: Registry<String> = Registry::new(Keys::Unique);
    ///     let lobby = Builder::new()
    ///         .via(rooms.via("lobby".to_string(), ()))
    ///         .start_fn(0u32, |n: u32, total| Next::Continue(total + n))
    ///         .unwrap();
    ///     let found = rooms.whereis("lobby") == Some(lobby.pid());
    ///     let again = Builder::new()
    ///         .via(rooms.via("lobby".to_string(), ()))
    ///         .start_fn(0u32, |n: u32, total| Next::Continue(total + n));
    ///     (found, again.unwrap_err())
    /// }).unwrap();
    /// assert!(found);
    /// assert!(matches!(again, StartError::InitFailed(_)));
    /// ```
    pub fn via(&self, key: K, value: V) -> super::ViaName {
        let registry = self.clone();
        let describe = format!("{key:?}");
        super::ViaName::new(format!("registry key {describe}"), move || {
            registry
                .register(key, value)
                .map_err(|taken| ExitReason::custom(format!("registry key {describe}: {taken}")))
        })
    }
}
