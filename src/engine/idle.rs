//! Idle-timeout bookkeeping whose per-tick cost does not grow with the number
//! of connections.
//!
//! Sessions form an intrusive doubly-linked list ordered by the coarse tick of
//! their last activity: touching a session moves it to the tail, so the head
//! is always the session idle longest. Expiry looks only at the head and stops
//! at the first session that is not due, so a tick costs O(expired), and a
//! touch costs a few index writes (nothing when the session was already
//! touched in the same tick, because equal stamps keep the list sorted).

/// Index meaning "no session".
pub const NIL: u32 = u32::MAX;

/// The list links embedded in each session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdleLink {
    prev: u32,
    next: u32,
    /// Coarse tick (seconds since loop start) of the last activity.
    stamp: u32,
}

impl IdleLink {
    /// A link for a session not yet in the list.
    pub const fn detached() -> Self {
        IdleLink {
            prev: NIL,
            next: NIL,
            stamp: 0,
        }
    }

    /// The tick of the last activity.
    pub fn stamp(&self) -> u32 {
        self.stamp
    }
}

/// Access to the links stored inside the slab entries.
pub trait LinkStore {
    /// The link of session `key`.
    fn link_mut(&mut self, key: u32) -> &mut IdleLink;
}

/// Head and tail of the list; the links live in the sessions.
#[derive(Debug)]
pub struct IdleList {
    head: u32,
    tail: u32,
}

impl Default for IdleList {
    fn default() -> Self {
        IdleList {
            head: NIL,
            tail: NIL,
        }
    }
}

impl IdleList {
    /// The session idle longest, if any.
    pub fn head(&self) -> Option<u32> {
        (self.head != NIL).then_some(self.head)
    }

    /// Appends a new session stamped `now`.
    pub fn push_back<S: LinkStore>(&mut self, store: &mut S, key: u32, now: u32) {
        let old_tail = self.tail;
        *store.link_mut(key) = IdleLink {
            prev: old_tail,
            next: NIL,
            stamp: now,
        };
        if old_tail == NIL {
            self.head = key;
        } else {
            store.link_mut(old_tail).next = key;
        }
        self.tail = key;
    }

    /// Removes a session from the list.
    pub fn unlink<S: LinkStore>(&mut self, store: &mut S, key: u32) {
        let IdleLink { prev, next, .. } = *store.link_mut(key);
        if prev == NIL {
            self.head = next;
        } else {
            store.link_mut(prev).next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            store.link_mut(next).prev = prev;
        }
        let link = store.link_mut(key);
        link.prev = NIL;
        link.next = NIL;
    }

    /// Marks activity on `key` at tick `now`.
    #[inline]
    pub fn touch<S: LinkStore>(&mut self, store: &mut S, key: u32, now: u32) {
        if store.link_mut(key).stamp == now {
            return;
        }
        self.unlink(store, key);
        self.push_back(store, key, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Links(Vec<IdleLink>);
    impl LinkStore for Links {
        fn link_mut(&mut self, key: u32) -> &mut IdleLink {
            &mut self.0[key as usize]
        }
    }

    fn order(list: &IdleList, links: &mut Links) -> Vec<u32> {
        let mut out = Vec::new();
        let mut at = list.head;
        while at != NIL {
            out.push(at);
            at = links.link_mut(at).next;
        }
        out
    }

    #[test]
    fn touch_moves_to_tail_and_unlink_repairs_neighbours() {
        let mut links = Links(vec![IdleLink::detached(); 4]);
        let mut list = IdleList::default();
        for k in 0..4 {
            list.push_back(&mut links, k, 0);
        }
        assert_eq!(order(&list, &mut links), [0, 1, 2, 3]);
        list.touch(&mut links, 1, 5);
        assert_eq!(order(&list, &mut links), [0, 2, 3, 1]);
        list.touch(&mut links, 1, 5); // same tick: no move
        list.unlink(&mut links, 0);
        assert_eq!(order(&list, &mut links), [2, 3, 1]);
        list.unlink(&mut links, 1);
        assert_eq!(order(&list, &mut links), [2, 3]);
        assert_eq!(list.tail, 3);
        list.unlink(&mut links, 2);
        list.unlink(&mut links, 3);
        assert_eq!(list.head(), None);
        assert_eq!(list.tail, NIL);
    }

    #[test]
    fn same_tick_touch_keeps_stamps_sorted() {
        let mut links = Links(vec![IdleLink::detached(); 3]);
        let mut list = IdleList::default();
        list.push_back(&mut links, 0, 1);
        list.push_back(&mut links, 1, 2);
        list.push_back(&mut links, 2, 2);
        list.touch(&mut links, 1, 2);
        let stamps: Vec<u32> = order(&list, &mut links)
            .iter()
            .map(|&k| links.link_mut(k).stamp)
            .collect();
        assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{stamps:?}");
    }
}
