//! The INFORMATIONAL exchange (RFC 7296 §1.4): Delete of Child SAs and of the IKE SA, error
//! notifications and liveness checks.

use alloc::vec::Vec;

use super::child::ChildState;
use super::tasks::Exchange;
use super::{Ctx, IkeSa, State};
use crate::event::{ChildDownReason, DownReason};
use crate::message::{Delete, ExchangeType, Header, NotifyType, Payload, ProtocolId};

impl IkeSa {
    /// A request from the peer: answer it, and end the SA on a Delete of the IKE SA or an error.
    pub(super) fn on_informational_request(&mut self, ctx: &mut Ctx<'_>, h: &Header, payloads: &[Payload]) {
        let delete_ike =
            payloads.iter().any(|p| matches!(p, Payload::Delete(d) if d.protocol == ProtocolId::Ike));
        // RFC 7296 §2.21.2: AUTHENTICATION_FAILED in an INFORMATIONAL request ends the SA; other
        // errors (INVALID_SPI about an ESP packet, types we do not know, §3.10.1) do not.
        let error = payloads
            .iter()
            .filter_map(Payload::as_notify)
            .find(|n| n.notify_type == NotifyType::AuthenticationFailed)
            .map(|n| n.notify_type);
        // RFC 7296 §1.4.1: Child SAs the peer deletes are answered with the paired SPIs; ones
        // we are deleting ourselves, or that are gone already, are left out.
        let mut ours = Vec::new();
        if !delete_ike {
            let esp = payloads.iter().filter_map(|p| match p {
                Payload::Delete(d) if d.protocol == ProtocolId::Esp => Some(d),
                _ => None,
            });
            for spi_out in esp.flat_map(|d| d.spis_u32()) {
                let Some(c) = self.children.by_out(spi_out) else { continue };
                let (spi_in, state) = (c.spi_in, c.state);
                if !matches!(state, ChildState::Deleting { .. }) {
                    ours.push(spi_in);
                }
                self.child_down(ctx, spi_in, ChildDownReason::DeletedByPeer);
            }
        }
        let reply: Vec<Payload> =
            if ours.is_empty() { Vec::new() } else { alloc::vec![Payload::from(Delete::esp(&ours))] };
        self.send_response(ctx, ExchangeType::Informational, h.message_id, &reply);
        if delete_ike {
            if let Some((theirs, _)) = self.tasks.ike_rekey_mut().and_then(|req| req.collision.take()) {
                // RFC 7296 §2.8.2: the peer's rekey won the collision and it deletes this
                // SA before our response came: its new IKE SA takes over; ours never starts.
                self.tasks.clear_in_flight();
                self.hand_over(ctx, *theirs);
            }
        }
        if delete_ike {
            self.down(ctx, DownReason::DeletedByPeer);
        } else if let Some(n) = error {
            self.down(ctx, DownReason::PeerError(n));
        }
    }

    /// The answer to our INFORMATIONAL request.
    pub(super) fn on_informational_response(&mut self, ctx: &mut Ctx<'_>, _h: &Header, _p: &[Payload]) {
        match self.state {
            State::Deleting(reason) => self.down(ctx, reason),
            State::Rekeyed => self.down(ctx, DownReason::Closed),
            _ => {}
        }
    }

    /// Sends INFORMATIONAL {D(ESP, spis)} for the Child SAs we still have (RFC 7296 §1.4.1).
    pub(super) fn request_delete_children(&mut self, ctx: &mut Ctx<'_>, spis: Vec<u32>) {
        let mut list = Vec::with_capacity(spis.len());
        for spi in spis {
            if let Some(c) = self.child_by_in(spi) {
                if !matches!(c.state, ChildState::Rekeyed { .. } | ChildState::Deleting { .. }) {
                    c.state = ChildState::Deleting { redundant: false };
                }
                list.push(spi);
            }
        }
        if list.is_empty() {
            return;
        }
        self.send_request(ctx, ExchangeType::Informational, &[Payload::from(Delete::esp(&list))]);
        self.tasks.started(Exchange::DeleteChildren(list));
    }

    /// The answer to our Delete of Child SAs: they are gone on both sides now.
    pub(super) fn on_delete_children_response(&mut self, ctx: &mut Ctx<'_>, spis: &[u32], _p: &[Payload]) {
        for &spi in spis {
            let expired = self.children.by_in(spi).is_some_and(|c| c.expired);
            let reason = if expired { ChildDownReason::Expired } else { ChildDownReason::Deleted };
            self.child_down(ctx, spi, reason);
        }
    }

    /// Deletes the IKE SA (RFC 7296 §1.4.1); it ends when the peer answers or gives up.
    pub(crate) fn close(&mut self, ctx: &mut Ctx<'_>) {
        self.close_with(ctx, DownReason::Closed)
    }

    /// Deletes the IKE SA; `IkeSaDown` will carry `reason`.
    pub(crate) fn close_with(&mut self, ctx: &mut Ctx<'_>, reason: DownReason) {
        match self.state {
            State::Established => {
                self.state = State::Deleting(reason);
                self.tasks.clear_queue();
                if !self.window.in_flight() {
                    self.send_delete_ike(ctx);
                }
            }
            State::Deleting(_) | State::Lingering | State::Dead | State::Rekeyed => {}
            _ => self.down(ctx, reason),
        }
    }

    /// Sends INFORMATIONAL {D(IKE)}.
    pub(super) fn send_delete_ike(&mut self, ctx: &mut Ctx<'_>) {
        self.tasks.clear_in_flight();
        self.send_request(ctx, ExchangeType::Informational, &[Payload::from(Delete::ike())]);
    }
}
