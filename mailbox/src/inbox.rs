//! The receiver's private queue: messages that a selective receive has
//! looked at and passed over, in arrival order, removable from anywhere.
//!
//! This is BEAM's "inner" message queue. Only the receiver touches it, so it
//! uses no atomics. A message moves here from the arrivals when a scan
//! passes it; a plain `pop` with nothing here takes straight from the
//! arrivals and never touches this queue. Nodes are recycled through a
//! small pool owned by the receiver, so steady-state selective receive
//! allocates nothing.
//!
//! # Arrival numbers and the cursor
//!
//! Each node carries its message's arrival number (`seq`), which strictly
//! increases from `head` to `tail` because messages move here in arrival
//! order. A [`Mark`](crate::Mark) is an arrival number: "the messages from
//! here on". To start a scan at a mark without walking older messages, the
//! queue caches one position, the cursor:
//!
//! > every node after `cursor.prev` (every node, when `prev` is null) has
//! > `seq >= cursor.seq`, and `cursor.prev`, when not null, is in the queue
//! > with `seq < cursor.seq`.
//!
//! Appending a node numbered below `cursor.seq` (a message from before the
//! mark, moved in late) moves `cursor.prev` to it; unlinking `cursor.prev`
//! moves it back to its predecessor. A scan from a mark that is not the
//! cursor's walks once and re-targets the cursor, so a receive that waits
//! and rescans, or a `call` waiting for its reply, costs O(new messages)
//! per attempt however many older messages are queued.

use std::mem::MaybeUninit;
use std::ptr;

/// One message in the inbox (or a spare node in the pool).
struct Node<T> {
    next: *mut Node<T>,
    seq: u64,
    /// Initialised while the node is in the queue, not while pooled.
    value: MaybeUninit<T>,
}

/// A position in the queue: all nodes after `prev` have `seq >= seq`.
#[derive(Clone, Copy)]
struct Cursor<T> {
    seq: u64,
    prev: *mut Node<T>,
}

/// How many spare nodes the pool keeps.
const POOL_MAX: usize = 32;

/// The private queue.
pub(crate) struct Inbox<T> {
    head: *mut Node<T>,
    tail: *mut Node<T>,
    len: usize,
    cursor: Cursor<T>,
    /// Spare nodes, linked through `next`.
    pool: *mut Node<T>,
    pooled: usize,
}

/// A node of the inbox, as returned by [`Inbox::find_from`].
pub(crate) struct Found<T> {
    prev: *mut Node<T>,
    node: *mut Node<T>,
}

impl<T> Inbox<T> {
    pub(crate) fn new() -> Self {
        Self {
            head: ptr::null_mut(),
            tail: ptr::null_mut(),
            len: 0,
            cursor: Cursor {
                seq: 0,
                prev: ptr::null_mut(),
            },
            pool: ptr::null_mut(),
            pooled: 0,
        }
    }

    /// Whether no message is queued.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends a message whose arrival number is above every queued one.
    pub(crate) fn push_back(&mut self, value: T, seq: u64) {
        // SAFETY: `tail`, when not null, is a node of ours.
        debug_assert!(self.tail.is_null() || unsafe { (*self.tail).seq } < seq);
        let node = if self.pool.is_null() {
            Box::into_raw(Box::new(Node {
                next: ptr::null_mut(),
                seq,
                value: MaybeUninit::new(value),
            }))
        } else {
            let node = self.pool;
            // SAFETY: pooled nodes are ours and hold no message.
            unsafe {
                self.pool = (*node).next;
                (*node).next = ptr::null_mut();
                (*node).seq = seq;
                (*node).value.write(value);
            }
            self.pooled -= 1;
            node
        };
        if self.tail.is_null() {
            self.head = node;
        } else {
            // SAFETY: `tail` is a node of ours.
            unsafe { (*self.tail).next = node };
        }
        self.tail = node;
        self.len += 1;
        if seq < self.cursor.seq {
            self.cursor.prev = node;
        }
    }

    /// The node after `prev` (the head when `prev` is null).
    #[inline]
    fn after(&self, prev: *mut Node<T>) -> *mut Node<T> {
        if prev.is_null() {
            self.head
        } else {
            // SAFETY: `prev` is a node of this queue, which we own.
            unsafe { (*prev).next }
        }
    }

    /// The position after which every node has `seq >= seq`.
    ///
    /// O(1) for the cursor's mark, the origin and the end; otherwise one
    /// walk, after which the cursor points there.
    fn seek(&mut self, seq: u64) -> *mut Node<T> {
        if seq == self.cursor.seq {
            return self.cursor.prev;
        }
        if self.head.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: the queue is not empty, so `head` and `tail` are nodes we
        // own.
        let (first, last) = unsafe { ((*self.head).seq, (*self.tail).seq) };
        if first >= seq {
            return ptr::null_mut();
        }
        let prev = if last < seq {
            self.tail
        } else {
            let mut prev = self.head;
            loop {
                let next = self.after(prev);
                // SAFETY: the tail has `seq >= seq`, so the walk stops at a
                // node before running off the end.
                if unsafe { (*next).seq } >= seq {
                    break prev;
                }
                prev = next;
            }
        };
        self.cursor = Cursor { seq, prev };
        prev
    }

    /// Points the cursor at the end of the queue for mark `seq`, which is
    /// above every queued message's number.
    pub(crate) fn set_cursor_at_end(&mut self, seq: u64) {
        self.cursor = Cursor {
            seq,
            prev: self.tail,
        };
    }

    /// Finds the first message numbered `seq` or above that satisfies
    /// `pred`. `pred` runs on each candidate in arrival order; if it
    /// panics, the queue is unchanged.
    pub(crate) fn find_from(
        &mut self,
        seq: u64,
        pred: &mut impl FnMut(&T) -> bool,
    ) -> Option<Found<T>> {
        let mut prev = self.seek(seq);
        let mut node = self.after(prev);
        while !node.is_null() {
            // SAFETY: `node` is in our queue, so its message is
            // initialised; the borrow ends before anything can unlink it.
            if pred(unsafe { (*node).value.assume_init_ref() }) {
                return Some(Found { prev, node });
            }
            prev = node;
            node = self.after(node);
        }
        None
    }

    /// Unlinks `found` (fresh from `find_from`, nothing changed since) and
    /// returns its message and arrival number. The cursor then points at
    /// the gap, for the mark at that number.
    pub(crate) fn take(&mut self, found: Found<T>) -> (T, u64) {
        let Found { prev, node } = found;
        // SAFETY: `find_from` returned a node of this queue and its predecessor,
        // and `&mut self` guarantees nothing changed since.
        let (value, seq) = unsafe { self.unlink(prev, node) };
        // `prev` (if any) is older than the taken node and everything after
        // it newer, so the invariant holds for `seq`.
        self.cursor = Cursor { seq, prev };
        (value, seq)
    }

    /// Unlinks `node`, whose predecessor is `prev`, returning its message.
    ///
    /// # Safety
    /// `node` is in this queue and `prev` is its predecessor (null when it
    /// is the head).
    unsafe fn unlink(&mut self, prev: *mut Node<T>, node: *mut Node<T>) -> (T, u64) {
        // SAFETY: `node` and `prev` are ours (caller contract).
        unsafe {
            let next = (*node).next;
            if prev.is_null() {
                self.head = next;
            } else {
                (*prev).next = next;
            }
            if self.tail == node {
                self.tail = prev;
            }
            if self.cursor.prev == node {
                self.cursor.prev = prev;
            }
            self.len -= 1;
            let seq = (*node).seq;
            let value = (*node).value.assume_init_read();
            self.recycle(node);
            (value, seq)
        }
    }

    /// Returns an emptied node to the pool, or frees it.
    ///
    /// # Safety
    /// `node` is ours, unlinked, and its message was moved out.
    unsafe fn recycle(&mut self, node: *mut Node<T>) {
        if self.pooled < POOL_MAX {
            // SAFETY: caller contract.
            unsafe { (*node).next = self.pool };
            self.pool = node;
            self.pooled += 1;
        } else {
            // SAFETY: caller contract; `value` is uninitialised now, so
            // freeing drops nothing.
            drop(unsafe { Box::from_raw(node) });
        }
    }

    /// Removes the oldest message.
    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        if self.head.is_null() {
            return None;
        }
        // SAFETY: the head is in the queue and has no predecessor.
        Some(unsafe { self.unlink(ptr::null_mut(), self.head) }.0)
    }

    /// Moves every message out, oldest first, into `out`.
    pub(crate) fn drain_into(&mut self, out: &mut Vec<T>) {
        out.reserve(self.len);
        while let Some(value) = self.pop_front() {
            out.push(value);
        }
        self.cursor = Cursor {
            seq: self.cursor.seq,
            prev: ptr::null_mut(),
        };
    }

    /// Iterates over the messages in arrival order.
    pub(crate) fn iter(&self) -> InboxIter<'_, T> {
        InboxIter {
            node: self.head,
            _inbox: std::marker::PhantomData,
        }
    }
}

impl<T> Drop for Inbox<T> {
    fn drop(&mut self) {
        if self.head.is_null() && self.pool.is_null() {
            // Nothing queued and nothing pooled: the usual end of a process.
            return;
        }
        /// Frees the pool and drops what is left, even if a message's
        /// destructor panics (like dropping a `Vec`).
        struct Rest<'a, T>(&'a mut Inbox<T>);
        impl<T> Drop for Rest<'_, T> {
            fn drop(&mut self) {
                while self.0.pop_front().is_some() {}
                let mut node = std::mem::replace(&mut self.0.pool, ptr::null_mut());
                while !node.is_null() {
                    // SAFETY: pooled nodes are ours and hold no message, so
                    // freeing one drops nothing.
                    unsafe {
                        let next = (*node).next;
                        drop(Box::from_raw(node));
                        node = next;
                    }
                }
            }
        }
        let rest = Rest(self);
        while rest.0.pop_front().is_some() {}
    }
}

/// Messages of the inbox, oldest first.
pub(crate) struct InboxIter<'a, T> {
    node: *mut Node<T>,
    _inbox: std::marker::PhantomData<&'a T>,
}

impl<'a, T> Iterator for InboxIter<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        if self.node.is_null() {
            return None;
        }
        // SAFETY: the iterator borrows the inbox shared for 'a, so the
        // queue cannot change and queued nodes hold initialised messages.
        unsafe {
            let node = self.node;
            self.node = (*node).next;
            Some((*node).value.assume_init_ref())
        }
    }
}
