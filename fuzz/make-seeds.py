#!/usr/bin/env python3
"""Write seed corpora for the fuzz targets (run from the repository root; needs the esp-tool
example built: ESP_TOOL=path, default target/debug/examples/esp-tool).

- esp_decap: valid packets for each of the target's fixed SAs (so the fuzzer starts past the
  ICV check), ESP alone and whole IPv4/UDP packets, plus the published GCM vector packets.
- esp_wire: the published vector packets and trailers.
- ike_message: the IKE messages of vpn-ike's round-trip tests and RFC 7634 appendix B.
"""
import hashlib, os, re, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.environ.get("ESP_TOOL", os.path.join(ROOT, "target/debug/examples/esp-tool"))

# Must match SUITES and the SA order in fuzz_targets/esp_decap.rs.
SUITES = [("aes128gcm16", 20, None, 0), ("aes256gcm16", 36, None, 0), ("chacha20poly1305", 36, None, 0),
          ("aes128cbc", 16, "sha256", 32), ("aes256cbc", 32, "sha384", 48), ("aes256cbc", 32, "sha512", 64)]


def vectors(path):
    cases, cur = [], None
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[case "):
            cur = {}
            cases.append(cur)
        elif "+=" in line:
            k, v = line.split("+=", 1)
            cur[k.strip()] += v.strip()
        elif "=" in line:
            k, v = line.split("=", 1)
            cur[k.strip()] = v.strip()
    return cases


def save(target, data):
    d = os.path.join(ROOT, "fuzz", "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def ipv4_udp(src, dst, n):
    payload = bytes((i * 7) & 0xff for i in range(n))
    udp = (40000).to_bytes(2, "big") + (53).to_bytes(2, "big") + (8 + n).to_bytes(2, "big") + b"\0\0" + payload
    h = bytearray(b"\x45\x00" + (20 + len(udp)).to_bytes(2, "big") + b"\x00\x01\x00\x00\x40\x11\x00\x00")
    h += bytes(map(int, src.split("."))) + bytes(map(int, dst.split(".")))
    s = sum(int.from_bytes(h[i:i + 2], "big") for i in range(0, 20, 2))
    s = (s & 0xffff) + (s >> 16)
    s = (s & 0xffff) + (s >> 16)
    h[10:12] = (~s & 0xffff).to_bytes(2, "big")
    return bytes(h) + udp


def main():
    tool = subprocess.Popen([TOOL], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    index = 0
    for name, klen, integ, ilen in SUITES:
        for esn in (False, True):
            for transport in (False, True):
                backends = ["rustcrypto", "ring"] if integ is None else ["rustcrypto"]
                for backend in backends:
                    key = bytes(range(klen)).hex()
                    cmd = f"encap alg={name} key={key} spi=0x1000 local=192.0.2.1 remote=192.0.2.2 udp=4500,4500"
                    if integ:
                        cmd += f" integ={integ} ikey={bytes(range(ilen)).hex()}"
                    cmd += f" backend={backend} mode={'transport' if transport else 'tunnel'}"
                    cmd += f" seq={(1 << 32) + 101 if esn else 1}" + (" esn=1" if esn else "")
                    for n in (0, 17, 200):
                        src, dst = ("192.0.2.1", "192.0.2.2") if transport else ("10.1.0.1", "10.2.0.1")
                        tool.stdin.write(cmd + f" packet={ipv4_udp(src, dst, n).hex()}\n")
                        tool.stdin.flush()
                        status, _, out = tool.stdout.readline().strip().partition(" ")
                        if status != "ok":
                            sys.exit(f"esp-tool: {status} {out} for {cmd}")
                        pkt = bytes.fromhex(out)
                        save("esp_decap", bytes([0x80 | index]) + pkt)  # whole IPv4/UDP packet
                        save("esp_decap", bytes([index]) + pkt[28:])  # ESP alone
                        save("esp_wire", pkt[28:])
                    index += 1
    tool.stdin.close()
    tool.wait()
    for c in vectors(os.path.join(ROOT, "vpn-esp/tests/vectors/gcm-test-01.txt")):
        if "packet" in c:
            save("esp_decap", b"\x00" + bytes.fromhex(c["packet"]))
            save("esp_wire", bytes.fromhex(c["packet"]))
        if "plaintext" in c:
            save("esp_wire", bytes.fromhex(c["plaintext"]))
    # The hand-built IKE messages of vpn-ike's round-trip tests (hex_lines(&["..", ..]) blocks).
    src = open(os.path.join(ROOT, "vpn-ike/tests/roundtrip.rs")).read()
    for m in re.finditer(r'hex_lines\(&\[(.*?)\]\)', src, re.S):
        save("ike_message", bytes.fromhex("".join(re.findall(r'"([0-9a-fA-F ]*)"', m.group(1))).replace(" ", "")))
    for c in vectors(os.path.join(ROOT, "vpn-ike/tests/vectors/rfc7634-ike.txt")):
        for k in ("message", "full_message", "packet", "ike_message"):
            if k in c:
                save("ike_message", bytes.fromhex(c[k]))
    print("seeds:", {t: len(os.listdir(os.path.join(ROOT, "fuzz", "corpus", t))) for t in ("esp_decap", "esp_wire", "ike_message")})


if __name__ == "__main__":
    main()
