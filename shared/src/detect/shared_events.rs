//! One cross-account call, counted once across the month's files.
//!
//! For a call by one account on a key of another, CloudTrail delivers a copy to each
//! account: the caller's, with its full `userIdentity`, and the key owner's, whose
//! `userIdentity` is only `{"type": "AWSAccount", "accountId": <caller>}`. Each copy
//! has its own `eventID`; both carry the same `sharedEventID`. An organisation trail
//! writes both into one bucket, so a summary of each file counts both.
//!
//! Each summary therefore remembers, per `sharedEventID`, the caller's copies it
//! holds and what each key owner's copy added to it. When the review has merged the
//! month, [`SharedEvents::owner_copies_to_remove`] names the owner's copies whose
//! caller's copy is in the month too; the summary takes them back out, keeping the
//! copy that names the principal. An owner's copy whose caller is outside the logs
//! read (another organisation) stays: it is the only record of that call.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::detect::event::{ErrorClass, KmsEvent};

/// The most copies one summary tracks; past it, copies are counted in
/// [`SharedEvents::untracked`] and not deduplicated.
pub const MAX_SHARED_EVENTS: usize = 1_000_000;

/// Which copy of a cross-account call a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedCopy {
    /// Delivered to the caller's account: it names the principal.
    Caller,
    /// Delivered to the key owner's account.
    Owner,
}

/// Which copy the event is, when it is one of two (`sharedEventID` set, the caller's
/// account known, and delivered to the caller's account or to another one).
pub fn copy_of<'a>(e: &'a KmsEvent) -> Option<(SharedCopy, &'a str)> {
    let shared = e
        .record
        .shared_event_id
        .as_deref()
        .filter(|s| !s.is_empty())?;
    let caller = e.principal.account.as_deref()?;
    let recipient = e.record.recipient_account_id.as_deref()?;
    Some((
        if recipient == caller {
            SharedCopy::Caller
        } else {
            SharedCopy::Owner
        },
        shared,
    ))
}

/// What a key owner's copy added to a summary: its usage cells (one per key, or the
/// no-key cell), its day, and the rules it matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerCopy {
    pub keys: Vec<String>,
    pub principal: String,
    pub event_name: String,
    pub error_class: Option<ErrorClass>,
    pub service_originated: bool,
    /// `YYYY-MM-DD` of its eventTime.
    pub day: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
}

/// The copies of cross-account calls a summary holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedEvents {
    /// `sharedEventID` -> the key owner's copy.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub owner: BTreeMap<String, OwnerCopy>,
    /// `sharedEventID`s of the callers' copies.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub caller: BTreeSet<String>,
    /// Copies past [`MAX_SHARED_EVENTS`], counted but not deduplicated.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub untracked: u64,
    /// Owner's copies already taken out because their caller's copy was there too.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub counted_once: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl SharedEvents {
    pub fn is_empty(&self) -> bool {
        self.owner.is_empty()
            && self.caller.is_empty()
            && self.untracked == 0
            && self.counted_once == 0
    }

    fn len(&self) -> usize {
        self.owner.len() + self.caller.len()
    }

    /// Notes a caller's copy.
    pub fn note_caller(&mut self, shared: &str) {
        if self.caller.contains(shared) {
            return;
        }
        if self.len() >= MAX_SHARED_EVENTS {
            self.untracked += 1;
            return;
        }
        self.caller.insert(shared.to_owned());
    }

    /// Notes a key owner's copy and what it added. A second owner's copy of the same
    /// call (the same call in two of the owner's files) is not tracked again.
    pub fn note_owner(&mut self, shared: &str, copy: impl FnOnce() -> OwnerCopy) {
        if self.owner.contains_key(shared) {
            return;
        }
        if self.len() >= MAX_SHARED_EVENTS {
            self.untracked += 1;
            return;
        }
        self.owner.insert(shared.to_owned(), copy());
    }

    pub fn merge(&mut self, o: SharedEvents) {
        self.untracked += o.untracked;
        self.counted_once += o.counted_once;
        for id in o.caller {
            self.note_caller(&id);
        }
        for (id, c) in o.owner {
            self.note_owner(&id, || c);
        }
    }

    /// Takes out the owner's copies whose caller's copy is here too, and returns them.
    pub fn owner_copies_to_remove(&mut self) -> Vec<OwnerCopy> {
        let ids: Vec<String> = self
            .owner
            .keys()
            .filter(|id| self.caller.contains(*id))
            .cloned()
            .collect();
        let out: Vec<OwnerCopy> = ids.iter().filter_map(|id| self.owner.remove(id)).collect();
        self.counted_once += out.len() as u64;
        out
    }
}
