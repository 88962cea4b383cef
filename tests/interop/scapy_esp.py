#!/usr/bin/env python3
"""ESP interop: vpn-esp against scapy's independent ESP (scapy.layers.ipsec.SecurityAssociation).

For every cipher (and crypto backend), mode, address family, ESN setting and UDP encapsulation:
  (a) scapy encrypts a packet and vpn-esp (the `esp-tool` example) must decapsulate it back to the
      exact original bytes;
  (b) vpn-esp encapsulates and scapy must decrypt it back to the original; the outer headers we
      write are checked too (lengths, IPv4 checksum, IPv6 UDP checksum, ports, SPI, sequence);
plus negative cases: a flipped ciphertext byte or wrong ESN high bits must be refused by both.

Run through tests/interop/run-scapy.sh, or directly with ESP_TOOL=/path/to/esp-tool (otherwise the
tool is started with `cargo run -q -p vpn-esp --example esp-tool`). SEED=N changes keys and
payloads. Prints one line per case and ends with `scapy-interop: N passed, M failed`.
"""

import os
import random
import shlex
import subprocess
import sys
from pathlib import Path

from scapy.all import (ICMP, IP, UDP, HBHOptUnknown, ICMPv6EchoRequest, IPOption_Router_Alert, IPv6,
                       IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop, Raw, RouterAlert, raw)
from scapy.layers.ipsec import (AUTH_ALGOS, CRYPT_ALGOS, ESP, IPSecIntegrityError,
                                SecurityAssociation)
import scapy

ROOT = Path(__file__).resolve().parents[2]

# esp-tool alg, scapy crypt_algo, encryption key bytes (salt included), esp-tool integ, scapy auth_algo
CIPHERS = [
    ("aes128gcm16", "AES-GCM", 16 + 4, None, None),
    ("aes256gcm16", "AES-GCM", 32 + 4, None, None),
    ("chacha20poly1305", "CHACHA20-POLY1305", 32 + 4, None, None),
    ("aes128cbc", "AES-CBC", 16, "sha256", "SHA2-256-128"),
    ("aes256cbc", "AES-CBC", 32, "sha256", "SHA2-256-128"),
    ("aes256cbc", "AES-CBC", 32, "sha384", "SHA2-384-192"),
    ("aes256cbc", "AES-CBC", 32, "sha512", "SHA2-512-256"),
]
INTEG_KEY_LEN = {"sha256": 32, "sha384": 48, "sha512": 64}
IV_LEN = {"AES-GCM": 8, "CHACHA20-POLY1305": 8, "AES-CBC": 16}

# Our outer address first, the peer's second; inner networks behind them.
OUTER = {4: ("192.0.2.1", "192.0.2.2"), 6: ("2001:db8::1", "2001:db8::2")}
INNER = {4: ("10.1.0.1", "10.2.0.1"), 6: ("fd00:1::1", "fd00:2::1")}

ESN_SEQ = (1 << 32) + 5  # high bits 1: only right if the ESN high half is in the ICV/AAD
PLAIN_SEQ = 7

# Sequence numbers at the edges of the 32-bit space, run for each cipher in tunnel mode over IPv4:
# (seq, esn). 1 << 32 carries a low half of 0, valid only with ESN (RFC 4303 appendix A).
EDGE_SEQS = [(0xFFFFFFFF, False), (0xFFFFFFFF, True), (1 << 32, True), (0xFFFFFFFE_00000003, True)]


class Tool:
    """The esp-tool process: one command line in, one answer line out."""

    def __init__(self):
        cmd = os.environ.get("ESP_TOOL")
        argv = shlex.split(cmd) if cmd else ["cargo", "run", "-q", "-p", "vpn-esp", "--example", "esp-tool"]
        self.p = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, bufsize=1)

    def ask(self, line):
        try:
            self.p.stdin.write(line + "\n")
            self.p.stdin.flush()
            answer = self.p.stdout.readline()
        except OSError:
            answer = ""
        if not answer:
            raise RuntimeError("esp-tool exited (status %s)" % self.p.poll())
        return answer.strip()

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)


class Case:
    """One SA configuration."""

    def __init__(self, rng, cipher, backend, mode, outer_v, inner_v, esn, udp, seq=None, options=False):
        self.name, self.scapy_crypt, klen, self.integ, self.scapy_auth = cipher
        self.backend, self.mode, self.outer_v, self.inner_v = backend, mode, outer_v, inner_v
        self.esn, self.udp = esn, udp  # udp: None or (our port, peer port)
        self.key = rng.randbytes(klen)
        self.ikey = rng.randbytes(INTEG_KEY_LEN[self.integ]) if self.integ else b""
        self.spi = rng.randrange(0x100, 0xFFFFFFFF)
        self.seq = seq if seq is not None else ESN_SEQ if esn else PLAIN_SEQ
        self.edge = seq is not None
        self.options = options  # IPv4 options or IPv6 extension headers on the packets

    def label(self):
        c = self.name + ("+" + self.integ if self.integ else "")
        fam = "v%d" % self.outer_v if self.inner_v == self.outer_v else "v%d-in-v%d" % (self.inner_v, self.outer_v)
        fam += ("+options" if self.inner_v == 4 else "+exthdrs") if self.options else ""
        udp = "udp%d,%d" % self.udp if self.udp else "noudp"
        esn = ("esn" if self.esn else "noesn") + (" seq=%#x" % self.seq if self.edge else "")
        return "%s/%s %s %s %s %s" % (c, self.backend, self.mode, fam, esn, udp)

    def tool_line(self, op, packet):
        us, peer = OUTER[self.outer_v]
        t = [op, "alg=" + self.name, "key=" + self.key.hex(), "spi=0x%x" % self.spi, "mode=" + self.mode,
             "local=" + us, "remote=" + peer, "seq=%d" % self.seq, "backend=" + self.backend]
        if self.integ:
            t += ["integ=" + self.integ, "ikey=" + self.ikey.hex()]
        if self.udp:
            t.append("udp=%d,%d" % self.udp)
        if self.esn:
            t.append("esn=1")
        t.append("packet=" + bytes(packet).hex())
        return " ".join(t)

    def scapy_sa(self, sending, esn_high=None):
        """scapy's SA: the peer's (sending=True, towards us) or ours seen by scapy (decrypting)."""
        us, peer = OUTER[self.outer_v]
        src, dst = (peer, us) if sending else (us, peer)
        ip = IP if self.outer_v == 4 else IPv6
        # scapy's ESP carries the low half; the high half goes in as `esn` (ICV/AAD only).
        kw = dict(spi=self.spi, seq_num=self.seq & 0xFFFFFFFF, crypt_algo=self.scapy_crypt, crypt_key=self.key,
                  esn_en=self.esn, esn=self.seq >> 32 if esn_high is None else esn_high)
        if self.scapy_auth:
            kw.update(auth_algo=self.scapy_auth, auth_key=self.ikey)
        if self.mode == "tunnel":
            kw["tunnel_header"] = ip(src=src, dst=dst)
        if self.udp:
            ours, theirs = self.udp
            kw["nat_t_header"] = UDP(sport=theirs, dport=ours) if sending else UDP(sport=ours, dport=theirs)
        return SecurityAssociation(ESP, **kw)

    def packets(self, rng):
        """Packets to protect: an ICMP echo and a UDP datagram, with payloads of odd lengths."""
        if self.mode == "tunnel":
            src, dst = INNER[self.inner_v]
        else:
            us, peer = OUTER[self.outer_v]
            src, dst = peer, us  # (a) direction; (b) swaps them
        if self.inner_v == 4:
            ip = (lambda **kw: IP(options=[IPOption_Router_Alert()], **kw)) if self.options else IP
        elif self.options:
            ip = lambda **kw: IPv6(**kw) / IPv6ExtHdrHopByHop(options=[RouterAlert()]) / IPv6ExtHdrDestOpt(
                options=[HBHOptUnknown(otype=0x1e, optdata=b"abcd")])
        else:
            ip = IPv6
        echo = ICMP(type=8, id=0x4242, seq=3) if self.inner_v == 4 else ICMPv6EchoRequest(id=0x4242, seq=3)
        n1, n2 = 2 * rng.randrange(0, 40) + 1, 2 * rng.randrange(0, 700) + 1
        return [("icmp%d" % n1, ip(src=src, dst=dst) / echo / Raw(rng.randbytes(n1))),
                ("udp%d" % n2, ip(src=src, dst=dst) / UDP(sport=40000, dport=40001) / Raw(rng.randbytes(n2)))]


def swap_addrs(pkt):
    p = pkt.copy()
    p.src, p.dst = pkt.dst, pkt.src
    return p.__class__(raw(p))


def ip_header(b):
    """(length of the IP header with options or extension headers, offset of its protocol byte)."""
    if b[0] >> 4 == 4:
        return (b[0] & 15) * 4, 9
    off, nh, nh_at = 40, b[6], 6
    while nh in (0, 43, 60):  # hop-by-hop, routing, destination options
        nh, nh_at, off = b[off], off, off + (b[off + 1] + 1) * 8
    return off, nh_at


def esp_offset(wire, udp):
    """Where ESP starts in a whole IP packet."""
    return ip_header(wire)[0] + (8 if udp else 0)


def check_outer(case, wire, original):
    """Check the outer headers vpn-esp wrote: a string saying what is wrong, or None."""
    us, peer = OUTER[case.outer_v]
    p = (IP if case.outer_v == 4 else IPv6)(wire)
    if p.src != us or p.dst != peer:
        return "outer addresses %s -> %s" % (p.src, p.dst)
    if case.udp:
        if UDP not in p or (p[UDP].sport, p[UDP].dport) != case.udp:
            return "UDP header missing or wrong ports"
    # Let scapy recompute lengths and checksums: the bytes must not change. IPv4 UDP may carry a
    # zero checksum (RFC 3948 §2.1), IPv6 UDP must not (RFC 8200 §8.1).
    q = p.copy()
    if case.outer_v == 4:
        del q[IP].len, q[IP].chksum
    else:
        del q[IPv6].plen
    if case.udp:
        del q[UDP].len
        if case.outer_v == 6 or q[UDP].chksum != 0:
            del q[UDP].chksum
    if raw(q) != wire:
        return "outer lengths/checksums differ from scapy's recomputation"
    esp = wire[esp_offset(wire, case.udp):]
    if int.from_bytes(esp[:4], "big") != case.spi or int.from_bytes(esp[4:8], "big") != case.seq & 0xFFFFFFFF:
        return "ESP header spi/seq wrong"
    if case.mode == "transport":
        # The original IP header stays, only protocol, length and checksum change.
        hl, nh_at = ip_header(raw(original))
        a, b = bytearray(wire[:hl]), bytearray(raw(original)[:hl])
        for i in ([2, 3, nh_at, 10, 11] if case.outer_v == 4 else [4, 5, nh_at]):
            a[i] = b[i] = 0
        if a != b:
            return "transport header changed beyond protocol/length/checksum"
    return None


def as_esp(wire, outer_v):
    """Parse our packet for scapy; make the UDP payload ESP even off port 4500."""
    p = (IP if outer_v == 4 else IPv6)(wire)
    if UDP in p and ESP not in p:
        esp = bytes(p[UDP].payload)
        p[UDP].remove_payload()
        p = p.__class__(raw(p / ESP(esp)))
    return p


class Runner:
    def __init__(self, tool):
        self.tool, self.passed, self.failed = tool, 0, 0

    def report(self, ok, what, detail=""):
        if ok:
            print("PASS  " + what)
            self.passed += 1
        else:
            print("FAIL  %s: %s" % (what, detail))
            self.failed += 1

    def scapy_to_ours(self, case, pname, pkt):
        what = "%s %s scapy->ours" % (case.label(), pname)
        try:
            sa = case.scapy_sa(sending=True)
            wire = raw(sa.encrypt(pkt))
        except Exception as e:  # scapy could not do it: a failure, never a skip
            return self.report(False, what, "scapy encrypt: %r" % e)
        answer = self.tool.ask(case.tool_line("decap", wire))
        want = raw(pkt)
        if answer == "ok " + want.hex():
            return self.report(True, what)
        self.report(False, what, "got %r, want ok %s (wire %s)" % (answer, want.hex(), wire.hex()))

    def ours_to_scapy(self, case, pname, pkt):
        what = "%s %s ours->scapy" % (case.label(), pname)
        if case.mode == "transport":
            pkt = swap_addrs(pkt)  # from us to the peer
        answer = self.tool.ask(case.tool_line("encap", pkt))
        if not answer.startswith("ok "):
            return self.report(False, what, "esp-tool: " + answer)
        wire = bytes.fromhex(answer[3:])
        bad = check_outer(case, wire, pkt)
        if bad:
            return self.report(False, what, "%s (wire %s)" % (bad, wire.hex()))
        try:
            got = raw(case.scapy_sa(sending=False).decrypt(as_esp(wire, case.outer_v)))
        except Exception as e:
            return self.report(False, what, "scapy decrypt: %r (wire %s)" % (e, wire.hex()))
        if got == raw(pkt):
            return self.report(True, what)
        self.report(False, what, "scapy got %s, want %s" % (got.hex(), raw(pkt).hex()))

    def negatives(self, case, pkt):
        """A flipped ciphertext byte and wrong ESN high bits must not pass, either way."""
        iv = IV_LEN[case.scapy_crypt]
        sa = case.scapy_sa(sending=True)
        wire = bytearray(raw(sa.encrypt(pkt)))
        wire[esp_offset(wire, case.udp) + 8 + iv + 1] ^= 0x01
        answer = self.tool.ask(case.tool_line("decap", wire))
        self.report(answer == "drop bad-icv", "%s flipped-byte scapy->ours" % case.label(),
                    "got %r, want 'drop bad-icv'" % answer)
        if case.esn:
            # scapy uses high bits 2, we infer 1 from the window: the ICV must not verify.
            sa = case.scapy_sa(sending=True, esn_high=2)
            wire = raw(sa.encrypt(pkt))
            answer = self.tool.ask(case.tool_line("decap", wire))
            self.report(answer == "drop bad-icv", "%s wrong-esn-high scapy->ours" % case.label(),
                        "got %r, want 'drop bad-icv'" % answer)
        out = pkt if case.mode == "tunnel" else swap_addrs(pkt)
        answer = self.tool.ask(case.tool_line("encap", out))
        what = "%s flipped-byte ours->scapy" % case.label()
        if not answer.startswith("ok "):
            return self.report(False, what, "esp-tool: " + answer)
        wire = bytearray.fromhex(answer[3:])
        wire[esp_offset(wire, case.udp) + 8 + iv + 1] ^= 0x01
        try:
            case.scapy_sa(sending=False).decrypt(as_esp(bytes(wire), case.outer_v))
            self.report(False, what, "scapy accepted a modified packet")
        except IPSecIntegrityError:
            self.report(True, what)
        except Exception as e:
            self.report(False, what, "scapy decrypt: %r" % e)


def cases(rng):
    for cipher in CIPHERS:
        aead = cipher[3] is None
        for backend in (["rustcrypto", "ring"] if aead else ["rustcrypto"]):
            for mode in ("tunnel", "transport"):
                fams = [(4, 4), (6, 6)] + ([(4, 6), (6, 4)] if mode == "tunnel" else [])
                for outer_v, inner_v in fams:
                    for esn in (False, True):
                        # Port 4500 both ways, and a NAT-mapped peer port.
                        for udp in (None, (4500, 4500), (4500, 61000)):
                            yield Case(rng, cipher, backend, mode, outer_v, inner_v, esn, udp)
            # IPv4 options and IPv6 extension headers stay in front of ESP in transport mode.
            # (Not IPv6 with UDP encapsulation: scapy 2.8.0 then puts the UDP header after the
            # extension headers but leaves the last one's next header at 50, a malformed packet.)
            for v, udp in ((4, None), (4, (4500, 4500)), (6, None)):
                for esn in (False, True):
                    yield Case(rng, cipher, backend, "transport", v, v, esn, udp, options=True)
            for seq, esn in EDGE_SEQS:
                yield Case(rng, cipher, backend, "tunnel", 4, 4, esn, None, seq)


def main():
    missing = sorted({c[1] for c in CIPHERS if c[1] not in CRYPT_ALGOS}
                     | {c[4] for c in CIPHERS if c[4] and c[4] not in AUTH_ALGOS})
    seed = int(os.environ.get("SEED", "4303"))
    print("scapy %s, seed %d%s" % (scapy.__version__, seed,
                                    ", MISSING in scapy: %s" % missing if missing else ""))
    rng = random.Random(seed)
    tool = Tool()
    r = Runner(tool)
    negated = set()
    try:
        for case in cases(rng):
            if case.scapy_crypt in missing or case.scapy_auth in missing:
                r.report(False, case.label(), "scapy %s lacks %s" % (scapy.__version__, missing))
                continue
            for pname, pkt in case.packets(rng):
                r.scapy_to_ours(case, pname, pkt)
                r.ours_to_scapy(case, pname, pkt)
            # Negative checks once per cipher/backend and mode, with and without ESN.
            key = (case.name, case.integ, case.backend, case.mode, case.esn)
            if key not in negated and not case.edge:
                negated.add(key)
                r.negatives(case, case.packets(rng)[1][1])
        tool.close()
    except RuntimeError as e:  # esp-tool died: the rest cannot run
        r.report(False, "esp-tool", str(e))
    print("scapy-interop: %d passed, %d failed" % (r.passed, r.failed))
    return 0 if r.failed == 0 and r.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
