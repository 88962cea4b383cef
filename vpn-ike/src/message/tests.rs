//! Message and payload chain tests: every payload in a chain, length errors, unknown and
//! critical payloads, caps and trailing bytes.

use alloc::vec;
use alloc::vec::Vec;
use core::net::Ipv4Addr;

use vpn_core::alg::{EncrAlg, KeGroup, PrfAlg};

use super::*;

fn header() -> Header {
    Header::new(
        ExchangeType::IkeAuth,
        0x0102_0304_0506_0708,
        0x1112_1314_1516_1718,
        1,
        HeaderFlags::INITIATOR,
    )
}

fn every_payload() -> Vec<Payload> {
    vec![
        Sa {
            proposals: vec![Proposal::new(
                1,
                ProtocolId::Ike,
                vec![
                    Transform::encr(EncrAlg::AesGcm16, Some(256)),
                    Transform::prf(PrfAlg::HmacSha256),
                    Transform::ke(KeGroup::Curve25519),
                ],
            )],
        }
        .into(),
        KeyExchange::new(KeGroup::Curve25519, vec![9; 32]).into(),
        Payload::id_i(Id::new(Identity::Fqdn(b"client.example".to_vec()))),
        Payload::id_r(Id::new(Identity::Ipv4(Ipv4Addr::new(192, 0, 2, 1)))),
        Cert { encoding: CertEncoding::X509Signature, data: vec![0x30, 0x03, 1, 2, 3] }.into(),
        CertReq { encoding: CertEncoding::X509Signature, authorities: vec![0x11; 20] }.into(),
        Auth::new(AuthMethod::SharedKeyMic, vec![0x5a; 32]).into(),
        Nonce::new(vec![0xa5; 32]).into(),
        Notify::status(NotifyType::InitialContact).into(),
        Delete::esp(&[0xc001_d00d]).into(),
        VendorId::new(VendorId::STRONGSWAN.to_vec()).into(),
        Payload::ts_i(TrafficSelectors::new(["10.1.0.0/24".parse().unwrap()])),
        Payload::ts_r(TrafficSelectors::new(["10.2.0.0/24".parse().unwrap()])),
        Config::new(
            CfgType::Request,
            vec![ConfigAttribute::new(ConfigAttributeType::InternalIp4Address, vec![])],
        )
        .into(),
        Eap::new(vec![2, 1, 0, 6, 1, b'a']).unwrap().into(),
        Payload::Unknown {
            payload_type: PayloadType::Unknown(49),
            flags: PayloadFlags(0x01),
            body: vec![1, 2],
        },
        Encrypted { inner_first: PayloadType::IdI, data: vec![0xee; 40] }.into(),
    ]
}

#[test]
fn every_payload_round_trips_in_a_message() {
    let msg = Message { header: header(), payloads: every_payload() };
    let bytes = msg.encode();
    assert_eq!(usize::try_from(u32::from_be_bytes(bytes[24..28].try_into().unwrap())).unwrap(), bytes.len());
    assert_eq!(bytes[16], 33, "first payload is SA");
    let back = Message::decode(&bytes, &Limits::default()).unwrap();
    assert_eq!(back, msg);
    assert_eq!(back.encode(), bytes);
    assert_eq!(
        back.find_notify(NotifyType::InitialContact),
        Some(&Notify::status(NotifyType::InitialContact))
    );
}

#[test]
fn every_payload_round_trips_as_a_plain_chain() {
    let mut payloads = every_payload();
    payloads.pop(); // plaintext inside SK holds no SK
    payloads.push(
        EncryptedFragment { inner_first: PayloadType::NoNext, number: 2, total: 2, data: vec![1; 9] }.into(),
    );
    let mut bytes = Vec::new();
    let first = encode_payload_chain(&payloads, &mut bytes);
    assert_eq!(first, PayloadType::Sa);
    assert_eq!(decode_payload_chain(first, &bytes, &Limits::default()), Ok(payloads));
    assert_eq!(decode_payload_chain(PayloadType::NoNext, &[], &Limits::default()), Ok(vec![]));
}

#[test]
fn encode_into_appends_and_critical_bit_is_kept() {
    let mut n: Flagged<Nonce> = Nonce::new(vec![1; 16]).into();
    n.flags = PayloadFlags(PayloadFlags::CRITICAL);
    let msg = Message { header: header(), payloads: vec![Payload::Nonce(n)] };
    let mut out = vec![0xff; 3];
    msg.encode_into(&mut out);
    assert_eq!(&out[..3], &[0xff; 3]);
    assert_eq!(&out[3 + 28..3 + 32], &[0, 0x80, 0, 20]);
    let back = Message::decode(&out[3..], &Limits::default()).unwrap();
    assert!(back.payloads[0].flags().critical());
    assert_eq!(back, msg);
}

/// A chain with one Nonce payload of 16 bytes: generic header 00 00 00 14.
fn nonce_chain() -> Vec<u8> {
    let mut b = vec![0, 0, 0, 20];
    b.extend_from_slice(&[7; 16]);
    b
}

#[test]
fn payload_length_errors() {
    let l = Limits::default();
    let e = |length| Err(DecodeError::PayloadLength { payload: PayloadType::Nonce, length });
    let mut b = nonce_chain();
    b[3] = 3; // below the generic header
    assert_eq!(decode_payload_chain(PayloadType::Nonce, &b, &l), e(3));
    b[3] = 19; // below the fixed part (16-byte nonce)
    assert_eq!(decode_payload_chain(PayloadType::Nonce, &b, &l), e(19));
    b[3] = 21; // one past the end
    assert_eq!(decode_payload_chain(PayloadType::Nonce, &b, &l), e(21));
    b[2] = 1; // far past the end
    assert_eq!(decode_payload_chain(PayloadType::Nonce, &b, &l), e(277));
    let mut b = nonce_chain();
    b.push(0); // one byte after the last payload
    assert_eq!(decode_payload_chain(PayloadType::Nonce, &b, &l), Err(DecodeError::TrailingBytes));
    // Generic header cut short.
    assert_eq!(
        decode_payload_chain(PayloadType::Nonce, &[0, 0, 0], &l),
        Err(DecodeError::PayloadTruncated { payload: PayloadType::Nonce })
    );
    assert_eq!(
        decode_payload_chain(PayloadType::Sa, &[], &l),
        Err(DecodeError::PayloadTruncated { payload: PayloadType::Sa })
    );
    // A body field cut short is attributed to its payload.
    assert_eq!(
        decode_payload_chain(PayloadType::Notify, &[0, 0, 0, 8, 0, 4, 0x40, 0], &l),
        Err(DecodeError::PayloadTruncated { payload: PayloadType::Notify })
    );
    // Shorter than the fixed part of each payload with one.
    for ty in [PayloadType::Sa, PayloadType::Ke, PayloadType::Auth, PayloadType::IdI, PayloadType::Notify] {
        assert_eq!(
            decode_payload_chain(ty, &[0, 0, 0, 4], &l),
            Err(DecodeError::PayloadLength { payload: ty, length: 4 })
        );
    }
}

#[test]
fn message_length_errors() {
    let l = Limits::default();
    let msg = Message { header: header(), payloads: vec![Nonce::new(vec![1; 16]).into()] };
    let bytes = msg.encode();
    assert_eq!(
        Message::decode(&bytes[..bytes.len() - 1], &l),
        Err(DecodeError::MessageLength { header: 48, datagram: 47 })
    );
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(Message::decode(&longer, &l), Err(DecodeError::MessageLength { header: 48, datagram: 49 }));
    // Header length right, payload length one past the message.
    let mut b = bytes.clone();
    b[31] = 21;
    assert_eq!(
        Message::decode(&b, &l),
        Err(DecodeError::PayloadLength { payload: PayloadType::Nonce, length: 21 })
    );
    // Header says no payloads but bytes follow.
    let mut b = bytes.clone();
    b[16] = 0;
    assert_eq!(Message::decode(&b, &l), Err(DecodeError::TrailingBytes));
    assert_eq!(Message::decode(&bytes[..20], &l), Err(DecodeError::Truncated));
    let mut b = bytes;
    b[17] = 0x30;
    assert_eq!(Message::decode(&b, &l), Err(DecodeError::InvalidMajorVersion(3)));
    assert_eq!(DecodeError::InvalidMajorVersion(3).notify(), NotifyType::InvalidMajorVersion);
}

#[test]
fn unknown_payloads_are_kept_unless_critical() {
    let l = Limits::default();
    // Unknown type 60, not critical, then a nonce.
    let mut b = vec![40, 0x00, 0, 6, 0xaa, 0xbb];
    b.extend_from_slice(&nonce_chain());
    let chain = decode_payload_chain(PayloadType::Unknown(60), &b, &l).unwrap();
    assert_eq!(
        chain[0],
        Payload::Unknown {
            payload_type: PayloadType::Unknown(60),
            flags: PayloadFlags(0),
            body: vec![0xaa, 0xbb]
        }
    );
    let mut out = Vec::new();
    assert_eq!(encode_payload_chain(&chain, &mut out), PayloadType::Unknown(60));
    assert_eq!(out, b);
    // The same with the critical bit: rejected, naming the type.
    b[1] = 0x80;
    let err = decode_payload_chain(PayloadType::Unknown(60), &b, &l).unwrap_err();
    assert_eq!(err, DecodeError::UnsupportedCriticalPayload(60));
    assert_eq!(err.notify(), NotifyType::UnsupportedCriticalPayload);
    assert_eq!(err.notify_payload().data, NotifyData::UnsupportedCriticalPayload(60));
    assert_eq!(DecodeError::TrailingBytes.notify(), NotifyType::InvalidSyntax);
    // Reserved flag bits of unknown payloads are kept too.
    b[1] = 0x7f;
    let chain = decode_payload_chain(PayloadType::Unknown(60), &b, &l).unwrap();
    let mut out = Vec::new();
    encode_payload_chain(&chain, &mut out);
    assert_eq!(out, b);
}

#[test]
fn encrypted_payload_must_be_last() {
    let l = Limits::default();
    // SK whose next payload (the inner first) is IDi, then a nonce after it.
    let mut b = vec![35, 0, 0, 8, 1, 2, 3, 4];
    assert_eq!(
        decode_payload_chain(PayloadType::Sk, &b, &l),
        Ok(vec![Encrypted { inner_first: PayloadType::IdI, data: vec![1, 2, 3, 4] }.into()])
    );
    b.extend_from_slice(&nonce_chain());
    assert_eq!(
        decode_payload_chain(PayloadType::Sk, &b, &l),
        Err(DecodeError::EncryptedNotLast { payload: PayloadType::Sk })
    );
    let mut f = vec![35, 0, 0, 10, 0, 1, 0, 2, 0xee, 0xee];
    assert!(decode_payload_chain(PayloadType::Skf, &f, &l).is_ok());
    f.push(0);
    assert_eq!(
        decode_payload_chain(PayloadType::Skf, &f, &l),
        Err(DecodeError::EncryptedNotLast { payload: PayloadType::Skf })
    );
    f[5] = 3;
    f.pop();
    assert_eq!(
        decode_payload_chain(PayloadType::Skf, &f, &l),
        Err(DecodeError::FragmentNumber { number: 3, total: 2 })
    );
}

fn chain_of(payloads: Vec<Payload>) -> (PayloadType, Vec<u8>) {
    let mut out = Vec::new();
    let first = encode_payload_chain(&payloads, &mut out);
    (first, out)
}

#[test]
fn caps_are_enforced() {
    let l = Limits::default();
    let too_many = |what, max| Err(DecodeError::TooMany { what, max });
    let (t, b) = chain_of(vec![Nonce::new(vec![1; 16]).into(); 65]);
    assert_eq!(decode_payload_chain(t, &b, &l), too_many(Cap::Payloads, 64));
    let (t, b) = chain_of(vec![VendorId::new(vec![1]).into(); 17]);
    assert_eq!(decode_payload_chain(t, &b, &l), too_many(Cap::VendorIds, 16));
    let (t, b) = chain_of(vec![Notify::status(NotifyType::InitialContact).into(); 33]);
    assert_eq!(decode_payload_chain(t, &b, &l), too_many(Cap::Notifies, 32));
    let cert: Payload = Cert { encoding: CertEncoding::X509Signature, data: vec![0] }.into();
    let (t, b) = chain_of(vec![cert; 9]);
    assert_eq!(decode_payload_chain(t, &b, &l), too_many(Cap::Certs, 8));
    let req: Payload = CertReq { encoding: CertEncoding::X509Signature, authorities: vec![] }.into();
    let (t, b) = chain_of(vec![req; 9]);
    assert_eq!(decode_payload_chain(t, &b, &l), too_many(Cap::Certs, 8));
    let (t, b) = chain_of(vec![VendorId::new(vec![1]).into(); 16]);
    assert!(decode_payload_chain(t, &b, &l).is_ok());
    let spis: Vec<u32> = (0..257).collect();
    let (t, b) = chain_of(vec![Delete::esp(&spis).into()]);
    assert_eq!(decode_payload_chain(t, &b, &l), too_many(Cap::DeleteSpis, 256));
    let small = Limits { max_message_size: 100, ..l };
    let msg = Message { header: header(), payloads: vec![Nonce::new(vec![0; 100]).into()] };
    assert_eq!(
        Message::decode(&msg.encode(), &small),
        Err(DecodeError::MessageTooLarge { length: 132, max: 100 })
    );
    assert_eq!(
        decode_payload_chain(PayloadType::Nonce, &[0; 101], &small),
        Err(DecodeError::MessageTooLarge { length: 101, max: 100 })
    );
}

#[test]
fn nested_errors_name_their_field() {
    let l = Limits::default();
    // Notify with NAT detection data of 19 bytes.
    let mut b = vec![0, 0, 0, 27, 0, 0, 0x40, 0x04];
    b.extend_from_slice(&[0; 19]);
    assert_eq!(
        decode_payload_chain(PayloadType::Notify, &b, &l),
        Err(DecodeError::NotifyDataLength { notify: NotifyType::NatDetectionSourceIp, length: 19 })
    );
    // Nonce of 15 bytes passes the generic header check only when claimed longer: below fixed part.
    let mut b = vec![0, 0, 0, 19];
    b.extend_from_slice(&[0; 15]);
    assert_eq!(
        decode_payload_chain(PayloadType::Nonce, &b, &l),
        Err(DecodeError::PayloadLength { payload: PayloadType::Nonce, length: 19 })
    );
}

#[test]
fn code_points_round_trip() {
    for v in 0..=255u8 {
        assert_eq!(u8::from(PayloadType::from(v)), v);
        assert_eq!(u8::from(ProtocolId::from(v)), v);
        assert_eq!(u8::from(IdType::from(v)), v);
        assert_eq!(u8::from(AuthMethod::from(v)), v);
        assert_eq!(u8::from(CertEncoding::from(v)), v);
        assert_eq!(u8::from(CfgType::from(v)), v);
        assert_eq!(u8::from(TsType::from(v)), v);
        assert_eq!(u8::from(EapCode::from(v)), v);
    }
    assert_eq!(PayloadType::from(53), PayloadType::Skf);
    assert_eq!(PayloadType::from(46), PayloadType::Sk);
}
