//! Our requests of an IKE SA: the work queued for the window and what the request in flight
//! is about (RFC 7296 §2.3: we keep one request in flight).

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;

use super::child::ChildRequest;
use super::rekey::IkeRekeyRequest;

/// Work waiting for the request window (RFC 7296 §2.3: we keep one request in flight).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Task {
    /// Another Child SA with the peer configuration's selectors.
    CreateChild,
    /// Rekey the Child SA with this inbound SPI.
    RekeyChild(u32),
    /// Delete these Child SAs (inbound SPIs).
    DeleteChildren(Vec<u32>),
    /// Rekey the IKE SA.
    RekeyIke,
    /// A liveness check (an empty INFORMATIONAL, RFC 7296 §1.4).
    Dpd,
}

/// Our request in flight, with what its response needs.
pub(crate) enum Exchange {
    CreateChild(Box<ChildRequest>),
    DeleteChildren(Vec<u32>),
    Dpd,
    RekeyIke(Box<IkeRekeyRequest>),
}

/// The queued tasks and the exchange of our request in flight.
#[derive(Default)]
pub(crate) struct TaskQueue {
    queued: VecDeque<Task>,
    /// What our request in flight is about (`None`: IKE_SA_INIT, IKE_AUTH or a Delete of the IKE SA).
    in_flight: Option<Exchange>,
}

impl TaskQueue {
    /// Queues a task unless the same is queued already.
    pub(crate) fn queue(&mut self, t: Task) {
        if !self.queued.contains(&t) {
            self.queued.push_back(t);
        }
    }

    /// Queues a task to run next (a Delete that finishes a rekey, RFC 7296 §2.8).
    pub(crate) fn queue_front(&mut self, t: Task) {
        self.queued.retain(|x| *x != t);
        self.queued.push_front(t);
    }

    /// The next task to start when the window is free.
    pub(crate) fn pop(&mut self) -> Option<Task> {
        self.queued.pop_front()
    }

    /// Whether work waits for the window.
    pub(crate) fn has_queued(&self) -> bool {
        !self.queued.is_empty()
    }

    /// Drops the queued work (the IKE SA is being deleted).
    pub(crate) fn clear_queue(&mut self) {
        self.queued.clear();
    }

    /// Drops the queued work and forgets the request in flight (the IKE SA ended).
    pub(crate) fn clear(&mut self) {
        self.queued.clear();
        self.in_flight = None;
    }

    /// Takes over the queued Child SA work of a rekeyed IKE SA (RFC 7296 §2.18); its own
    /// rekey and liveness check are of no use here.
    pub(crate) fn inherit(&mut self, from: &mut TaskQueue) {
        self.queued = core::mem::take(&mut from.queued);
        self.queued.retain(|t| !matches!(t, Task::RekeyIke | Task::Dpd));
    }

    /// Our request about `x` is in flight.
    pub(crate) fn started(&mut self, x: Exchange) {
        self.in_flight = Some(x);
    }

    /// The exchange our request in flight was about, now that it is answered.
    pub(crate) fn take_in_flight(&mut self) -> Option<Exchange> {
        self.in_flight.take()
    }

    /// The request in flight (if any) is about the IKE SA itself.
    pub(crate) fn clear_in_flight(&mut self) {
        self.in_flight = None;
    }

    /// Whether our IKE SA rekey is in flight.
    pub(crate) fn rekeying_ike(&self) -> bool {
        matches!(self.in_flight, Some(Exchange::RekeyIke(_)))
    }

    /// Whether one of our Child SA exchanges is in flight (RFC 7296 §2.25).
    pub(crate) fn child_exchange_in_flight(&self) -> bool {
        matches!(self.in_flight, Some(Exchange::CreateChild(_) | Exchange::DeleteChildren(_)))
    }

    /// Our CREATE_CHILD_SA request for a Child SA in flight.
    pub(crate) fn child_request_mut(&mut self) -> Option<&mut ChildRequest> {
        match self.in_flight.as_mut() {
            Some(Exchange::CreateChild(req)) => Some(req),
            _ => None,
        }
    }

    /// Our IKE SA rekey request in flight.
    pub(crate) fn ike_rekey_mut(&mut self) -> Option<&mut IkeRekeyRequest> {
        match self.in_flight.as_mut() {
            Some(Exchange::RekeyIke(req)) => Some(req),
            _ => None,
        }
    }
}
