//! The INFORMATIONAL exchange (RFC 7296 §1.4): Delete of the IKE SA, error notifications and
//! liveness checks.

use super::{Ctx, IkeSa, State};
use crate::event::DownReason;
use crate::message::{ExchangeType, Header, Payload, ProtocolId};

impl IkeSa {
    /// A request from the peer: answer it, and end the SA on a Delete of the IKE SA or an error.
    pub(super) fn on_informational_request(&mut self, ctx: &mut Ctx<'_>, h: &Header, payloads: &[Payload]) {
        let delete_ike =
            payloads.iter().any(|p| matches!(p, Payload::Delete(d) if d.protocol == ProtocolId::Ike));
        let error = payloads.iter().filter_map(Payload::as_notify).find(|n| n.notify_type.is_error());
        let error = error.map(|n| n.notify_type);
        // RFC 7296 §1.4.1: a Delete of the IKE SA is answered with an empty INFORMATIONAL.
        self.send_response(ctx, ExchangeType::Informational, h.message_id, &[]);
        if delete_ike {
            self.down(ctx, DownReason::DeletedByPeer);
        } else if let Some(n) = error {
            self.down(ctx, DownReason::PeerError(n));
        }
    }

    /// The answer to our INFORMATIONAL request.
    pub(super) fn on_informational_response(&mut self, ctx: &mut Ctx<'_>, _h: &Header, _p: &[Payload]) {
        if let State::Deleting(reason) = self.state {
            self.down(ctx, reason);
        }
    }

    /// Deletes the IKE SA (RFC 7296 §1.4.1); it ends when the peer answers or gives up.
    pub(crate) fn close(&mut self, ctx: &mut Ctx<'_>) {
        match self.state {
            State::Established => {
                self.state = State::Deleting(DownReason::Closed);
                self.send_request(
                    ctx,
                    ExchangeType::Informational,
                    &[Payload::from(crate::message::Delete::ike())],
                );
            }
            State::Deleting(_) | State::Lingering | State::Dead => {}
            _ => self.down(ctx, DownReason::Closed),
        }
    }
}
