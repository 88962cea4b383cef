//! IKE fragmentation, RFC 7383 (issue 6 item 7): the initiator's real IKE_AUTH payload chain is
//! split into authentic SKF fragments under the fixed keys and delivered to a half-open
//! responder too short, overlapping, duplicated, out of order, over the fragment and size caps,
//! in worst-case orders, and interleaved with fragments of other messages.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use vpn_core::time::Duration;
use vpn_ike::message::{encode_payload_chain, ExchangeType, Header, HeaderFlags, NotifyType, PayloadType};
use vpn_ike::DownReason;

use crate::ike_util::*;
use crate::{expect_eq, Case};

/// The IKE_AUTH chain and its first payload type.
fn auth_chain(hs: &Hs) -> (PayloadType, Vec<u8>) {
    let mut chain = Vec::new();
    let first = encode_payload_chain(&hs.auth_payloads, &mut chain);
    (first, chain)
}

/// One SKF fragment of message `mid` (flags `flags`) carrying `piece`.
fn frag(
    hs: &mut Hs,
    mid: u32,
    flags: u8,
    first: PayloadType,
    number: u16,
    total: u16,
    piece: &[u8],
) -> Vec<u8> {
    let h = Header::new(ExchangeType::IkeAuth, hs.spi_i, hs.spi_r, mid, HeaderFlags(flags));
    hs.sk.protect_fragment(&h, first, number, total, piece, &mut hs.rng).expect("fragment")
}

/// The IKE_AUTH split into `n` authentic fragments (numbered 1..=n, Total Fragments `n`).
fn split(hs: &mut Hs, n: usize) -> Vec<Vec<u8>> {
    let (first, chain) = auth_chain(hs);
    let len = chain.len();
    assert!(len >= n, "chain of {len} bytes does not split into {n}");
    let pieces: Vec<Vec<u8>> = (0..n).map(|i| chain[i * len / n..(i + 1) * len / n].to_vec()).collect();
    (0..n).map(|i| frag(hs, 1, 0x08, first, i as u16 + 1, n as u16, &pieces[i])).collect()
}

/// Delivers `order` of `frags`; the responder must stay silent until the last and then answer
/// once with a successful IKE_AUTH response; returns every reply.
fn deliver_expect_up(hs: &mut Hs, frags: &[Vec<u8>], order: &[usize]) -> Result<Vec<Vec<u8>>, String> {
    let mut replies = Vec::new();
    for (k, &i) in order.iter().enumerate() {
        let out = hs.to_r(&frags[i]);
        let complete = (0..frags.len()).all(|j| order[..=k].contains(&j));
        let was_complete = k > 0 && (0..frags.len()).all(|j| order[..k].contains(&j));
        if !complete && !out.is_empty() {
            return Err(format!("answered before complete (after {:?})", &order[..=k]));
        }
        if complete && !was_complete && out.len() != 1 {
            return Err(format!("{} replies on completion", out.len()));
        }
        replies.extend(out);
    }
    let first = replies.first().ok_or("no response")?.clone();
    let p = hs.one_response(&[first], ExchangeType::IkeAuth, 1)?;
    ensure(!notify_types(&p).iter().any(|n| n.is_error()), || {
        format!("IKE_AUTH failed: {:?}", notify_types(&p))
    })?;
    expect_eq("responder IkeSaUp", hs.r_ups(), 1)?;
    Ok(replies)
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for pos in 0..=p.len() {
            let mut q = p.clone();
            q.insert(pos, n - 1);
            out.push(q);
        }
    }
    out
}

fn still_half_open(hs: &Hs, what: &str) -> Result<(), String> {
    let got = (hs.r.sa_count(), hs.r.half_open_count(), hs.r_ups(), hs.r_downs().len());
    ensure(got == (1, 1, 0, 0), || format!("{what}: SAs/half-open/ups/downs {got:?}, want (1, 1, 0, 0)"))
}

pub fn cases() -> Vec<Case> {
    let mut v = initiator_cases();
    for n in [1usize, 2, 5, 32] {
        v.push(Case::new(format!("ike-fragments/in-order-{n}-fragments-establish"), move || {
            let mut hs = Hs::new(100 + n as u64);
            let f = split(&mut hs, n);
            deliver_expect_up(&mut hs, &f, &(0..n).collect::<Vec<_>>()).map(|_| ())
        }));
    }
    v.push(Case::new("ike-fragments/all-24-arrival-orders-of-4-establish", || {
        for (k, order) in permutations(4).into_iter().enumerate() {
            let mut hs = Hs::new(200 + k as u64);
            let f = split(&mut hs, 4);
            deliver_expect_up(&mut hs, &f, &order).map_err(|e| format!("order {order:?}: {e}"))?;
        }
        Ok(())
    }));
    v.push(Case::new("ike-fragments/reverse-and-random-orders-of-12-establish", || {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        for round in 0..10u64 {
            let mut hs = Hs::new(300 + round);
            let f = split(&mut hs, 12);
            let mut order: Vec<usize> = (0..12).rev().collect();
            if round > 0 {
                for i in (1..order.len()).rev() {
                    order.swap(i, rng.next_u32() as usize % (i + 1));
                }
            }
            deliver_expect_up(&mut hs, &f, &order).map_err(|e| format!("order {order:?}: {e}"))?;
        }
        Ok(())
    }));
    v.push(Case::new(
        "ike-fragments/duplicated-fragments-establish-once-fragment-1-repeats-the-response",
        || {
            let mut hs = Hs::new(400);
            let f = split(&mut hs, 3);
            let mut replies = Vec::new();
            for i in [0usize, 0, 1, 1, 0, 2] {
                replies.extend(hs.to_r(&f[i]));
            }
            expect_eq("replies before and at completion", replies.len(), 1)?;
            // After completion: fragment 1 again repeats the response (RFC 7383 §2.6.1), others do not.
            for (i, want) in [(1usize, 0usize), (2, 0), (0, 1), (0, 1)] {
                let out = hs.to_r(&f[i]);
                expect_eq(&format!("replies to fragment {} after completion", i + 1), out.len(), want)?;
                if want == 1 {
                    expect_eq("repeated response", out[0].clone(), replies[0].clone())?;
                }
            }
            expect_eq("IkeSaUp", hs.r_ups(), 1)
        },
    ));
    v.push(Case::new("ike-fragments/overlapping-same-number-first-wins", || {
        // Genuine first, then an authentic but different fragment 2: ignored.
        let mut hs = Hs::new(500);
        let f = split(&mut hs, 3);
        let (first, _) = auth_chain(&hs);
        ensure(hs.to_r(&f[0]).is_empty() && hs.to_r(&f[1]).is_empty(), || "answered early".into())?;
        let other = frag(&mut hs, 1, 0x08, first, 2, 3, &[0xff; 40]);
        ensure(hs.to_r(&other).is_empty(), || "overlap answered".into())?;
        let out = hs.to_r(&f[2]);
        ensure(out.len() == 1 && hs.r_ups() == 1, || "genuine fragments did not establish".into())?;
        // Bogus fragment 1 first: the reassembled chain is malformed, answered INVALID_SYNTAX.
        let mut hs = Hs::new(501);
        let f = split(&mut hs, 3);
        let bogus = frag(&mut hs, 1, 0x08, first, 1, 3, &[0xff; 40]);
        let mut out = hs.to_r(&bogus);
        for d in &f {
            out.extend(hs.to_r(d));
        }
        let p = hs.one_response(&out[..1], ExchangeType::IkeAuth, 1)?;
        expect_eq("notifies", notify_types(&p), vec![NotifyType::InvalidSyntax])?;
        expect_eq("downs", hs.r_downs(), vec![DownReason::Rejected(NotifyType::InvalidSyntax)])?;
        expect_eq("ups", hs.r_ups(), 0)
    }));
    v.push(Case::new(
        "ike-fragments/too-short-or-misnumbered-dropped-silently-then-valid-establishes",
        || {
            let mut hs = Hs::new(600);
            let (first, chain) = auth_chain(&hs);
            let f1 = frag(&mut hs, 1, 0x08, first, 1, 1, &chain);
            // SKF payload lengths 4..=7 (shorter than its fixed part) and body without room for
            // IV and ICV.
            for skf_len in 4u16..=31 {
                let mut m = f1[..28 + skf_len as usize].to_vec();
                m[30..32].copy_from_slice(&skf_len.to_be_bytes());
                let total = m.len() as u32;
                m[24..28].copy_from_slice(&total.to_be_bytes());
                ensure(hs.to_r(&m).is_empty(), || format!("SKF length {skf_len}: answered"))?;
            }
            // Number 0, number > total, total 0 (raw, since the header is in the AAD the ICV fails
            // too; and authentic ones built by hand below).
            for (number, total) in [(0u16, 1u16), (2, 1), (0, 0), (5, 4), (u16::MAX, 1)] {
                let m = frag(&mut hs, 1, 0x08, first, number, total, &chain);
                ensure(hs.to_r(&m).is_empty(), || format!("fragment {number}/{total}: answered"))?;
            }
            still_half_open(&hs, "after bad fragments")?;
            let f = split(&mut hs, 2);
            deliver_expect_up(&mut hs, &f, &[0, 1]).map(|_| ())
        },
    ));
    v.push(Case::new("ike-fragments/more-than-32-fragments-dropped-then-valid-establishes", || {
        let mut hs = Hs::new(700);
        let (first, chain) = auth_chain(&hs);
        for total in [33u16, 1000, u16::MAX] {
            let size = chain.len().div_ceil(33);
            for (i, piece) in chain.chunks(size).enumerate() {
                let m = frag(&mut hs, 1, 0x08, first, i as u16 + 1, total.max(33), piece);
                ensure(hs.to_r(&m).is_empty(), || format!("fragment {} of {total}: answered", i + 1))?;
            }
        }
        still_half_open(&hs, "after 33+ fragments")?;
        let f = split(&mut hs, 32);
        deliver_expect_up(&mut hs, &f, &(0..32).rev().collect::<Vec<_>>()).map(|_| ())
    }));
    v.push(Case::new("ike-fragments/reassembled-size-over-64k-dropped-then-valid-establishes", || {
        let mut hs = Hs::new(800);
        let (first, _) = auth_chain(&hs);
        let big = vec![0x5a; 40_000];
        for number in 1..=2u16 {
            let m = frag(&mut hs, 1, 0x08, first, number, 3, &big);
            ensure(hs.to_r(&m).is_empty(), || format!("big fragment {number}: answered"))?;
        }
        // The third would complete the message, but the partial was dropped at 80,000 bytes.
        let m = frag(&mut hs, 1, 0x08, first, 3, 3, &[0; 16]);
        ensure(hs.to_r(&m).is_empty(), || "completion of an over-size message answered".into())?;
        still_half_open(&hs, "after over-size")?;
        // (Four genuine fragments: a larger total restarts collection.)
        let f = split(&mut hs, 4);
        deliver_expect_up(&mut hs, &f, &[3, 2, 1, 0]).map(|_| ())
    }));
    v.push(Case::new("ike-fragments/size-cap-of-100-bytes-never-completes-then-half-open-timeout", || {
        let mut hs = Hs::with(
            900,
            |c| {
                c.fragmentation.max_reassembly = 100;
                c.half_open_timeout = Duration::from_secs(30);
            },
            |_| {},
        );
        let f = split(&mut hs, 4);
        for round in 0..3 {
            for d in &f {
                ensure(hs.to_r(d).is_empty(), || format!("round {round}: answered"))?;
            }
        }
        still_half_open(&hs, "over the cap")?;
        let deadline = hs.r.poll_timeout().ok_or("no timer")?;
        let t0 = hs.now;
        hs.now = deadline;
        hs.r.handle_timeout(deadline);
        hs.from_r();
        expect_eq("timer after", deadline.saturating_duration_since(t0), Duration::from_secs(30))?;
        expect_eq("downs", hs.r_downs(), vec![DownReason::HalfOpenTimeout])?;
        expect_eq("SAs", hs.r.sa_count(), 0)
    }));
    v.push(Case::new("ike-fragments/interleaved-with-other-messages-fragments-establish", || {
        let mut hs = Hs::new(1000);
        let f = split(&mut hs, 4);
        let (first, _) = auth_chain(&hs);
        let mut others = Vec::new();
        for (mid, flags) in [(2u32, 0x08u8), (1, 0x28), (0, 0x08), (7, 0x08), (1, 0x00)] {
            for n in 1..=4u16 {
                others.push(frag(&mut hs, mid, flags, first, n, 4, &[0x11; 30]));
            }
        }
        let mut replies = Vec::new();
        for (k, d) in f.iter().enumerate() {
            for o in others.iter().skip(k).step_by(4) {
                let out = hs.to_r(o);
                // Message ID 0 with fragment 1 repeats the cached IKE_SA_INIT response.
                ensure(out.iter().all(|r| *r == hs.init_response), || {
                    "another message's fragment answered".into()
                })?;
            }
            replies.extend(hs.to_r(d));
        }
        expect_eq("IKE_AUTH responses", replies.len(), 1)?;
        let p = hs.one_response(&replies, ExchangeType::IkeAuth, 1)?;
        ensure(!notify_types(&p).iter().any(|n| n.is_error()), || "IKE_AUTH failed".into())?;
        expect_eq("ups", hs.r_ups(), 1)
    }));
    v.push(Case::new("ike-fragments/larger-total-restarts-smaller-total-ignored", || {
        let mut hs = Hs::new(1100);
        let three = split(&mut hs, 3);
        let five = split(&mut hs, 5);
        // Two of three, then all five: the larger total restarts collection.
        ensure(hs.to_r(&three[0]).is_empty() && hs.to_r(&three[1]).is_empty(), || "answered".into())?;
        deliver_expect_up(&mut hs, &five, &[4, 3, 2, 1, 0])?;
        // One of five, then all three: ignored; then the rest of the five completes.
        let mut hs = Hs::new(1101);
        let three = split(&mut hs, 3);
        let five = split(&mut hs, 5);
        ensure(hs.to_r(&five[0]).is_empty(), || "answered".into())?;
        for d in &three {
            ensure(hs.to_r(d).is_empty(), || "a smaller total was used".into())?;
        }
        still_half_open(&hs, "after the smaller total")?;
        deliver_expect_up(&mut hs, &five, &[0, 1, 2, 3, 4]).map(|_| ())
    }));
    v.push(Case::new("ike-fragments/worst-case-31-of-32-repeated-then-the-missing-one", || {
        let mut hs = Hs::new(1200);
        let f = split(&mut hs, 32);
        for _ in 0..10 {
            for d in &f[1..] {
                ensure(hs.to_r(d).is_empty(), || "answered before fragment 1".into())?;
            }
        }
        still_half_open(&hs, "31 of 32")?;
        let out = hs.to_r(&f[0]);
        expect_eq("replies on completion", out.len(), 1)?;
        expect_eq("ups", hs.r_ups(), 1)
    }));
    v
}

/// The responder's IKE_AUTH response re-sent to the initiator as authentic SKF fragments.
fn response_fragments(hs: &mut Hs, n: usize, mid: u32) -> Result<Vec<Vec<u8>>, String> {
    let auth = hs.auth[0].clone();
    let out = hs.to_r(&auth);
    let (_, payloads) = hs.open(out.first().ok_or("no IKE_AUTH response")?)?;
    let mut chain = Vec::new();
    let first = encode_payload_chain(&payloads, &mut chain);
    let len = chain.len();
    let mut v = Vec::new();
    for i in 0..n {
        let h = Header::new(ExchangeType::IkeAuth, hs.spi_i, hs.spi_r, mid, HeaderFlags(0x20));
        let piece = &chain[i * len / n..(i + 1) * len / n];
        v.push(
            hs.sk_resp
                .protect_fragment(&h, first, i as u16 + 1, n as u16, piece, &mut hs.rng)
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(v)
}

fn initiator_cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.push(Case::new(
        "ike-fragments/initiator-reassembles-a-fragmented-response-in-any-order-with-duplicates",
        || {
            let mut hs = Hs::new(1300);
            let f = response_fragments(&mut hs, 6, 1)?;
            for i in [5usize, 3, 3, 1, 4, 0, 0] {
                ensure(hs.to_i(&f[i]).is_empty() && hs.i_ups() == 0, || {
                    format!("up or sending before complete (fragment {})", i + 1)
                })?;
            }
            ensure(hs.to_i(&f[2]).is_empty(), || "sent something".into())?;
            expect_eq("initiator up", (hs.i_ups(), hs.i_downs()), (1, vec![]))?;
            for d in &f {
                ensure(hs.to_i(d).is_empty(), || "a late duplicate was acted on".into())?;
            }
            expect_eq("initiator ups", hs.i_ups(), 1)
        },
    ));
    v.push(Case::new(
        "ike-fragments/initiator-ignores-fragments-of-unsolicited-responses-and-requests",
        || {
            let mut hs = Hs::new(1301);
            let stray = response_fragments(&mut hs, 3, 2)?;
            for d in &stray {
                ensure(hs.to_i(d).is_empty(), || "stray response fragment answered".into())?;
            }
            // Request fragments (R clear) with the response's message ID.
            let (first, chain) = auth_chain(&hs);
            for n in 1..=2u16 {
                let h = Header::new(ExchangeType::IkeAuth, hs.spi_i, hs.spi_r, 1, HeaderFlags(0x00));
                let d = hs
                    .sk_resp
                    .protect_fragment(&h, first, n, 2, &chain[..10], &mut hs.rng)
                    .map_err(|e| e.to_string())?;
                ensure(hs.to_i(&d).is_empty(), || "request fragment answered".into())?;
            }
            expect_eq("initiator events", (hs.i_ups(), hs.i_downs()), (0, vec![]))?;
            let good = response_fragments(&mut hs, 2, 1)?;
            hs.to_i(&good[1]);
            hs.to_i(&good[0]);
            expect_eq("initiator up", hs.i_ups(), 1)
        },
    ));
    v
}

/// Cases of defects this suite found and that are fixed: kept as regression tests.
pub fn regressions() -> Vec<Case> {
    Vec::new()
}
