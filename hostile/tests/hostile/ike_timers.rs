//! Peers that never answer, answer late, answer twice, or flood (issue 6 item 9): timers fire
//! at the exact simulated instants (retransmission after 4 s × 1.8^n, 5 retransmissions, then
//! IkeSaDown{Timeout}; half-open expiry; the lingering of failed SAs), and nothing grows past
//! its configured limit (SA and half-open counts; memory is not measured here).

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use vpn_core::time::{Duration, Instant};
use vpn_ike::message::{Header, Limits, Message, Notify, NotifyData, NotifyType, PayloadType};
use vpn_ike::{DownReason, Endpoint, EndpointConfig, RetransmitConfig};

use crate::ike_util::*;
use crate::{expect_eq, Case};

fn initiator(seed: u64) -> Endpoint<ChaCha20Rng> {
    let config = EndpointConfig { local_addr: addr(I_ADDR), ..EndpointConfig::default() };
    Endpoint::new(config, ChaCha20Rng::seed_from_u64(seed))
}

fn drain(ep: &mut Endpoint<ChaCha20Rng>) -> (Vec<Vec<u8>>, Vec<vpn_ike::Event>) {
    let mut buf = vec![0u8; 70_000];
    let mut out = Vec::new();
    while let Some(t) = ep.poll_transmit(&mut buf) {
        out.push(buf[..t.len].to_vec());
    }
    (out, std::iter::from_fn(|| ep.poll_event()).collect())
}

/// Runs `ep`'s timers until none is armed; returns (instant, datagrams sent, events) per firing.
/// One timer firing: when, what was sent, what the host was told.
type Fired = (Instant, Vec<Vec<u8>>, Vec<vpn_ike::Event>);

fn run_timers(ep: &mut Endpoint<ChaCha20Rng>, limit: usize) -> Vec<Fired> {
    let mut v = Vec::new();
    while let Some(t) = ep.poll_timeout() {
        if v.len() >= limit {
            break;
        }
        ep.handle_timeout(t);
        let (out, ev) = drain(ep);
        v.push((t, out, ev));
    }
    v
}

/// The expected offsets of the retransmissions and of giving up, from the first transmission.
fn schedule(r: &RetransmitConfig) -> (Vec<Duration>, Duration) {
    let mut at = Duration::ZERO;
    let mut v = Vec::new();
    for n in 0..r.tries {
        at += r.timeout_after(n);
        v.push(at);
    }
    (v, at + r.timeout_after(r.tries))
}

fn check_backoff(fired: &[Fired], t0: Instant, first: &[u8]) -> Result<(), String> {
    let r = RetransmitConfig::default();
    let (resend, give_up) = schedule(&r);
    // 4, 7.2, 12.96, 23.328, 41.9904 s apart; giving up 75.58272 s after the last.
    let want_ms: Vec<u128> = vec![4_000, 11_200, 24_160, 47_488, 89_478];
    expect_eq(
        "retransmission offsets (ms)",
        resend.iter().map(|d| d.as_millis()).collect::<Vec<_>>(),
        want_ms,
    )?;
    expect_eq("give-up offset (ns)", give_up.as_nanos(), 165_061_120_000)?;
    expect_eq("timer firings", fired.len(), resend.len() + 1)?;
    for (k, (t, out, ev)) in fired.iter().enumerate() {
        let off = t.saturating_duration_since(t0);
        if k < resend.len() {
            expect_eq(&format!("retransmission {} at", k + 1), off, resend[k])?;
            expect_eq(&format!("retransmission {} bytes", k + 1), out.clone(), vec![first.to_vec()])?;
            ensure(ev.is_empty(), || format!("events at retransmission {}: {ev:?}", k + 1))?;
        } else {
            expect_eq("gave up at", off, give_up)?;
            ensure(out.is_empty(), || "sent something when giving up".into())?;
            expect_eq("events when giving up", downs(ev), vec![DownReason::Timeout])?;
        }
    }
    Ok(())
}

pub fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.push(Case::new(
        "ike-timers/init-never-answered-retransmits-4s-x1.8-five-times-then-timeout-exactly",
        || {
            let mut ep = initiator(1);
            let t0 = Instant::from_secs(50);
            ep.connect(t0, initiator_peer(), addr(R_ADDR)).map_err(|e| e.to_string())?;
            let (first, _) = drain(&mut ep);
            expect_eq("datagrams at connect", first.len(), 1)?;
            let fired = run_timers(&mut ep, 20);
            check_backoff(&fired, t0, &first[0])?;
            expect_eq("after giving up: SAs, timer", (ep.sa_count(), ep.poll_timeout()), (0, None))
        },
    ));
    v.push(Case::new("ike-timers/auth-never-answered-retransmits-on-schedule-then-timeout-exactly", || {
        let mut hs = Hs::new(2);
        let t0 = hs.now;
        let fired = run_timers(&mut hs.i, 20);
        check_backoff(&fired, t0, &hs.auth[0])?;
        expect_eq("initiator SAs", hs.i.sa_count(), 0)
    }));
    v.push(Case::new(
        "ike-timers/init-answered-late-after-second-retransmission-proceeds-no-more-init",
        || {
            let mut ep = initiator(3);
            let mut r = Resp::new();
            let t0 = Instant::from_secs(50);
            ep.connect(t0, initiator_peer(), addr(R_ADDR)).map_err(|e| e.to_string())?;
            let (first, _) = drain(&mut ep);
            let fired = run_timers(&mut ep, 2);
            expect_eq("two retransmissions", fired.len(), 2)?;
            r.now = t0 + Duration::from_secs(12);
            let reply = r.ask(&first[0]);
            ep.handle_datagram(r.now, addr(I_ADDR), addr(R_ADDR), vpn_ike::PortKind::Ike, &reply[0]);
            let (out, _) = drain(&mut ep);
            expect_eq("datagrams after the late answer", out.len(), 1)?;
            expect_eq("the next is IKE_AUTH", out[0][18], 35)?;
            expect_eq("next timer", ep.poll_timeout(), Some(r.now + Duration::from_secs(4)))
        },
    ));
    v.push(Case::new("ike-timers/responses-answered-twice-second-ignored", || {
        let mut hs = Hs::new(4);
        // The IKE_SA_INIT response again: no second IKE_AUTH.
        let again = hs.init_response.clone();
        ensure(hs.to_i(&again).is_empty(), || "a duplicate IKE_SA_INIT response was followed".into())?;
        let auth = hs.auth[0].clone();
        let reply = hs.to_r(&auth);
        ensure(hs.to_i(&reply[0]).is_empty() && hs.i_ups() == 1, || "first IKE_AUTH response".into())?;
        ensure(hs.to_i(&reply[0]).is_empty(), || "the duplicate was answered".into())?;
        expect_eq("initiator ups/downs", (hs.i_ups(), hs.i_downs()), (1, vec![]))?;
        // Nothing is retransmitted: no datagram for as long as the retransmissions would last.
        let end = hs.now + RetransmitConfig::default().total();
        while let Some(t) = hs.i.poll_timeout().filter(|t| *t <= end) {
            hs.i.handle_timeout(t);
            let out = hs.from_i();
            ensure(out.is_empty(), || format!("initiator sent {} datagrams at {t:?}", out.len()))?;
        }
        Ok(())
    }));
    v.push(Case::new("ike-timers/response-after-timeout-ignored", || {
        let mut hs = Hs::new(5);
        let fired = run_timers(&mut hs.i, 20);
        ensure(fired.last().is_some_and(|f| downs(&f.2) == vec![DownReason::Timeout]), || {
            "no timeout".into()
        })?;
        let auth = hs.auth[0].clone();
        let reply = hs.to_r(&auth);
        ensure(hs.to_i(&reply[0]).is_empty(), || "answered".into())?;
        expect_eq("initiator events after the late response", hs.i_ups(), 0)
    }));
    v.push(Case::new("ike-timers/half-open-expires-exactly-after-30s", || {
        let mut hs = Hs::new(6);
        let t0 = hs.now;
        expect_eq("responder timer", hs.r.poll_timeout(), Some(t0 + Duration::from_secs(30)))?;
        hs.r.handle_timeout(Instant::from_nanos((t0 + Duration::from_secs(30)).as_nanos() - 1));
        hs.from_r();
        expect_eq("1 ns before", (hs.r.half_open_count(), hs.r_downs()), (1, vec![]))?;
        hs.r.handle_timeout(t0 + Duration::from_secs(30));
        hs.from_r();
        expect_eq(
            "at 30 s",
            (hs.r.sa_count(), hs.r.half_open_count(), hs.r_downs()),
            (0, 0, vec![DownReason::HalfOpenTimeout]),
        )?;
        // The IKE_AUTH arriving now finds nothing.
        hs.now = t0 + Duration::from_secs(31);
        let auth = hs.auth[0].clone();
        ensure(hs.to_r(&auth).is_empty(), || "answered after expiry".into())
    }));
    v.push(Case::new(
        "ike-timers/failed-auth-lingers-exactly-the-retransmission-total-answering-from-cache",
        || {
            let mut hs = Hs::new(7);
            let t1 = hs.now;
            let bad = hs.seal_raw(35, 1, 0x08, 35, &[0, 0, 0, 3]);
            let first = hs.to_r(&bad);
            expect_eq("replies", first.len(), 1)?;
            expect_eq("downs", hs.r_downs(), vec![DownReason::Rejected(NotifyType::InvalidSyntax)])?;
            let total = RetransmitConfig::default().total();
            expect_eq("linger timer", hs.r.poll_timeout(), Some(t1 + total))?;
            hs.now = t1 + Duration::from_secs(100);
            expect_eq("retransmission 100 s later", hs.to_r(&bad), first.clone())?;
            hs.r.handle_timeout(Instant::from_nanos((t1 + total).as_nanos() - 1));
            expect_eq("SAs 1 ns before", hs.r.sa_count(), 1)?;
            hs.r.handle_timeout(t1 + total);
            expect_eq("SAs at the end", (hs.r.sa_count(), hs.r.poll_timeout()), (0, None))?;
            hs.now = t1 + total;
            ensure(hs.to_r(&bad).is_empty(), || "answered after lingering".into())?;
            expect_eq("downs", hs.r_downs().len(), 1)
        },
    ));
    v.push(Case::new(
        "ike-flood/100000-init-requests-from-many-addresses-stay-under-cookie-threshold",
        || {
            let mut r = Resp::new();
            let threshold = r.ep.config().cookie_threshold;
            let base = raw_message(RawH::init(), &good_init_payloads());
            let (mut normal, mut cookies) = (0usize, 0usize);
            for k in 0..100_000u64 {
                let mut req = base.clone();
                req[..8].copy_from_slice(&(0x100_0000 + k).to_be_bytes());
                let from = std::net::SocketAddr::from((
                    [10, (k >> 16) as u8, (k >> 8) as u8, k as u8],
                    500 + (k % 7) as u16,
                ));
                let out = r.ask_from(from, addr(R_ADDR), &req);
                ensure(out.len() == 1, || format!("request {k}: {} replies", out.len()))?;
                let h = Header::peek(&out[0]).map_err(|e| e.to_string())?.0;
                if h.spi_r != 0 {
                    normal += 1;
                } else {
                    expect_stateless(&out[0], 0x100_0000 + k, NotifyType::Cookie)?;
                    cookies += 1;
                }
                if k % 10_000 == 0 {
                    ensure(r.ep.sa_count() <= threshold, || format!("{} SAs after {k}", r.ep.sa_count()))?;
                }
            }
            expect_eq("SAs created, cookies asked", (normal, cookies), (threshold, 100_000 - threshold))?;
            expect_eq("SAs, half-open", (r.ep.sa_count(), r.ep.half_open_count()), (threshold, threshold))?;
            r.now += Duration::from_secs(31);
            r.ep.handle_timeout(r.now);
            r.drain();
            expect_eq("after the half-open timeout", (r.ep.sa_count(), r.ep.half_open_count()), (0, 0))
        },
    ));
    v.push(Case::new("ike-flood/cookie-echoing-flood-stops-at-max-half-open", || {
        let config = EndpointConfig { cookie_threshold: 10, max_half_open: 50, ..responder_config() };
        let mut r = Resp::with(config);
        let (mut created, mut dropped) = (0usize, 0usize);
        for k in 0..400u64 {
            let spi = 0x200_0000 + k;
            let from = std::net::SocketAddr::from(([10, 9, (k >> 8) as u8, k as u8], 500));
            let mut ps = good_init_payloads();
            let mut req = raw_message(RawH { spi_i: spi, ..RawH::init() }, &ps);
            let mut out = r.ask_from(from, addr(R_ADDR), &req);
            if out.len() == 1 && Header::peek(&out[0]).map_err(|e| e.to_string())?.0.spi_r == 0 {
                let n = expect_stateless(&out[0], spi, NotifyType::Cookie)?;
                let NotifyData::Cookie(c) = n.data else { return Err("cookie without data".into()) };
                ps.insert(0, RawP::of(PayloadType::Notify, &Notify::cookie(c)));
                req = raw_message(RawH { spi_i: spi, ..RawH::init() }, &ps);
                out = r.ask_from(from, addr(R_ADDR), &req);
            }
            match out.len() {
                0 => dropped += 1,
                1 if Header::peek(&out[0]).map_err(|e| e.to_string())?.0.spi_r != 0 => created += 1,
                n => {
                    return Err(format!(
                        "request {k}: {n} replies {:?}",
                        Message::decode(&out[0], &Limits::default())
                    ))
                }
            }
        }
        expect_eq("created, dropped", (created, dropped), (50, 350))?;
        expect_eq("SAs, half-open", (r.ep.sa_count(), r.ep.half_open_count()), (50, 50))
    }));
    v.push(Case::new("ike-flood/10000-retransmissions-of-one-init-one-sa-identical-replies", || {
        let mut r = Resp::new();
        let req = raw_message(RawH::init(), &good_init_payloads());
        let first = r.ask(&req);
        for k in 0..10_000 {
            let out = r.ask(&req);
            ensure(out == first, || format!("retransmission {k} answered differently"))?;
        }
        expect_eq("SAs", (r.ep.sa_count(), r.ep.half_open_count()), (1, 1))
    }));
    v.push(Case::new("ike-flood/10000-forged-ike-auth-to-a-half-open-sa-nothing-grows", || {
        let mut hs = Hs::new(8);
        let auth = hs.auth[0].clone();
        for k in 0..10_000usize {
            let mut m = auth.clone();
            let i = 28 + k % (m.len() - 28);
            m[i] ^= 1 << (k % 8);
            if i == 23 {
                continue;
            }
            ensure(hs.to_r(&m).is_empty(), || format!("forgery {k} answered"))?;
        }
        expect_eq(
            "SAs, half-open, events",
            (hs.r.sa_count(), hs.r.half_open_count(), hs.r_events.len()),
            (1, 1, 0),
        )?;
        hs.establish()
    }));
    v
}

/// Cases of defects this suite found and that are fixed: kept as regression tests.
pub fn regressions() -> Vec<Case> {
    Vec::new()
}
