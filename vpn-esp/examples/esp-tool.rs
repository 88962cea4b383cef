//! `esp-tool`: encapsulate or decapsulate one ESP packet per line of stdin, for interop tests
//! (`tests/interop/scapy_esp.py` drives it against scapy) and as a short example of building
//! SAs and calling [`OutboundSa::encapsulate`] / [`InboundSa::decapsulate`] on whole IP packets.
//!
//! Each line is a command of space-separated `key=value` tokens; each gets one line back:
//!
//! ```text
//! encap alg=aes256gcm16 key=HEX [integ=sha256|sha384|sha512 ikey=HEX] spi=0x1234|4660
//!       mode=tunnel|transport local=IP remote=IP [udp=SPORT,DPORT] [esn=1] [seq=N]
//!       [backend=rustcrypto|ring] packet=HEX                     -> ok HEX | err REASON
//! decap ...the same SA tokens... packet=HEX                      -> ok HEX | drop REASON
//! ```
//!
//! `alg` is one of aes128gcm16, aes256gcm16, chacha20poly1305 (the key ends with the 4-byte
//! salt, as KEYMAT gives it: RFC 4106 §8.1, RFC 7634 §2), aes128cbc, aes256cbc. `local`,
//! `remote` and `udp` are seen from this host: the outer source and destination for `encap`, the
//! outer destination and source for `decap`. `encap` takes an inner IP packet (tunnel) or the
//! packet to protect (transport) and prints the whole outer IP packet; `decap` takes a whole IP
//! packet carrying ESP and prints the inner IP packet (tunnel) or the rebuilt one (transport).
//! `seq` is the sequence number the packet carries (all 64 bits with `esn=1`).
//!
//! Run: `cargo run -q -p vpn-esp --example esp-tool`.

use std::io::{self, BufRead, Write};
use std::net::IpAddr;

use vpn_core::alg::{EncrAlg, IntegAlg};
use vpn_core::crypto::Backend;
use vpn_core::time::Instant;
use vpn_esp::{EspKeys, Framing, InboundSa, OutboundSa, SaParams, UdpEncap};

/// Room on either side of the packet for outer headers, padding and the ICV.
const ROOM: usize = 128;

/// One parsed command line.
struct Command {
    encap: bool,
    params: SaParams,
    seq: u64,
    packet: Vec<u8>,
}

fn parse(line: &str) -> Result<Command, String> {
    let mut words = line.split_whitespace();
    let encap = match words.next() {
        Some("encap") => true,
        Some("decap") => false,
        other => return Err(format!("unknown command {other:?}")),
    };
    let mut get = std::collections::HashMap::new();
    for w in words {
        let (k, v) = w.split_once('=').ok_or_else(|| format!("token {w:?} is not key=value"))?;
        get.insert(k, v);
    }
    let need = |k: &str| get.get(k).copied().ok_or_else(|| format!("missing {k}="));
    let hex_of = |k: &str| hex::decode(need(k)?).map_err(|e| format!("{k}: {e}"));
    let addr = |k: &str| need(k)?.parse::<IpAddr>().map_err(|e| format!("{k}: {e}"));

    let encr = match need("alg")? {
        "aes128gcm16" | "aes256gcm16" => EncrAlg::AesGcm16,
        "chacha20poly1305" => EncrAlg::ChaCha20Poly1305,
        "aes128cbc" | "aes256cbc" => EncrAlg::AesCbc,
        a => return Err(format!("unknown alg {a}")),
    };
    let integ = match get.get("integ").copied() {
        None => IntegAlg::None,
        Some("sha256") => IntegAlg::HmacSha256_128,
        Some("sha384") => IntegAlg::HmacSha384_192,
        Some("sha512") => IntegAlg::HmacSha512_256,
        Some(i) => return Err(format!("unknown integ {i}")),
    };
    let ikey = if get.contains_key("ikey") { hex_of("ikey")? } else { Vec::new() };
    let keys = EspKeys::new(encr, &hex_of("key")?, integ, &ikey).map_err(|e| e.to_string())?;

    let spi = need("spi")?;
    let spi = match spi.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16),
        None => spi.parse(),
    }
    .map_err(|e| format!("spi: {e}"))?;
    let (local, remote) = (addr("local")?, addr("remote")?);
    let mut params = match need("mode")? {
        "tunnel" => SaParams::tunnel(spi, keys, local, remote),
        "transport" => SaParams::transport(spi, keys, local, remote),
        m => return Err(format!("unknown mode {m}")),
    };
    if let Some(ports) = get.get("udp") {
        let (l, r) = ports.split_once(',').ok_or("udp= wants SPORT,DPORT")?;
        let port = |p: &str| p.parse::<u16>().map_err(|e| format!("udp: {e}"));
        params.udp_encap = Some(UdpEncap { local_port: port(l)?, remote_port: port(r)? });
    }
    params.esn = get.get("esn").is_some_and(|v| *v == "1");
    params.backend = match get.get("backend").copied().unwrap_or("rustcrypto") {
        "rustcrypto" => Backend::RustCrypto,
        "ring" => Backend::Ring,
        b => return Err(format!("unknown backend {b}")),
    };
    let seq = match get.get("seq") {
        Some(s) => s.parse().map_err(|e| format!("seq: {e}"))?,
        None => 1,
    };
    Ok(Command { encap, params, seq, packet: hex_of("packet")? })
}

/// Run one command; the line to print.
fn run(line: &str) -> String {
    let cmd = match parse(line) {
        Ok(c) => c,
        Err(e) => return format!("err {}", e.replace('\n', " ")),
    };
    let mut buf = vec![0u8; ROOM + cmd.packet.len() + ROOM];
    buf[ROOM..ROOM + cmd.packet.len()].copy_from_slice(&cmd.packet);
    let range = ROOM..ROOM + cmd.packet.len();
    if cmd.encap {
        let mut sa = match OutboundSa::new(&cmd.params) {
            Ok(sa) => sa,
            Err(e) => return format!("err {e}"),
        };
        sa.set_last_seq(cmd.seq.saturating_sub(1));
        match sa.encapsulate(Instant::ZERO, &mut buf, range, Framing::Ip) {
            Ok(out) => format!("ok {}", hex::encode(&buf[out.range])),
            Err(e) => format!("err {e}"),
        }
    } else {
        let mut sa = match InboundSa::new(&cmd.params) {
            Ok(sa) => sa,
            Err(e) => return format!("err {e}"),
        };
        if cmd.seq > 1 {
            // So that ESN high-bit inference (RFC 4303 appendix A) lands on `seq`.
            sa.set_highest_seq(cmd.seq - 1);
        }
        match sa.decapsulate(Instant::ZERO, &mut buf, range, Framing::Ip) {
            Ok(d) => format!("ok {}", hex::encode(&buf[d.inner])),
            Err(r) => format!("drop {}", r.name()),
        }
    }
}

fn main() -> io::Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for line in io::stdin().lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        writeln!(out, "{}", run(&line))?;
        out.flush()?;
    }
    Ok(())
}
