#!/usr/bin/env python3
"""Turn a capture of a strongSwan <-> vpn-gateway session (and vpn-gateway's keylog) into IKE
fixtures for vpn-ike's tests: every IKE message strongSwan sent, as on the wire, and for
encrypted ones the decrypted inner payload chain, in the vector-file format.

  ike-fixtures.py CAPTURE.pcap KEYLOG_DIR STRONGSWAN_IP LABEL >> vpn-ike/tests/vectors/strongswan-5.9.8.txt

Decrypts AES-CBC + HMAC-SHA2-256-128 and AES-GCM-16 SK payloads (RFC 7296 §3.14, RFC 5282)."""
import subprocess, sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
import hmac, hashlib

pcap, keydir, ss_ip, label = sys.argv[1:5]
keys = {}
for line in open(f"{keydir}/ikev2_decryption_table"):
    if line.startswith("#") or not line.strip():
        continue
    f = [x.strip('"') for x in line.strip().split(",")]
    keys[(f[0], f[1])] = dict(sk_ei=f[2], sk_er=f[3], encr=f[4], sk_ai=f[5], sk_ar=f[6], integ=f[7])

out = subprocess.run(["tshark", "-r", pcap, "-Y", f"ip.src == {ss_ip} && udp", "-T", "fields",
                      "-e", "udp.dstport", "-e", "udp.payload"],
                     capture_output=True, text=True, check=True).stdout.splitlines()
names = {34: "ike-sa-init", 35: "ike-auth", 36: "create-child-sa", 37: "informational"}
seen = {}
for line in out:
    port, hexmsg = line.split()
    b = bytes.fromhex(hexmsg)
    if port != "500":
        if b[:4] != b"\0\0\0\0":
            continue  # ESP or a keepalive (RFC 3948 §2.2)
        b = b[4:]
    exch, flags = b[18], b[19]
    kind = names.get(exch, f"exchange-{exch}") + ("-response" if flags & 0x20 else "-request")
    seen[kind] = seen.get(kind, 0) + 1
    name = f"strongswan-{label}-{kind}-{seen[kind]}"
    print(f"[case {name}]")
    print("# sent by strongSwan 5.9.8 (Debian 12), captured on the wire")
    print(f"message = {b.hex()}")
    if b[16] == 46:  # SK payload: decrypt
        k = keys[(b[0:8].hex(), b[8:16].hex())]
        from_initiator = bool(flags & 0x08)
        ek = bytes.fromhex(k["sk_ei"] if from_initiator else k["sk_er"])
        sk = b[28:]
        first = sk[0]
        if "GCM" in k["encr"]:
            key, salt = ek[:-4], ek[-4:]
            iv, ct = sk[4:12], sk[12:]
            plain = AESGCM(key).decrypt(salt + iv, ct, b[:32])
        else:
            ak = bytes.fromhex(k["sk_ai"] if from_initiator else k["sk_ar"])
            icv = b[-16:]
            assert hmac.compare_digest(hmac.new(ak, b[:-16], hashlib.sha256).digest()[:16], icv), "ICV"
            iv, ct = sk[4:20], sk[20:-16]
            d = Cipher(algorithms.AES(ek), modes.CBC(iv)).decryptor()
            plain = d.update(ct) + d.finalize()
        pad = plain[-1]
        chain = plain[: len(plain) - 1 - pad]
        print(f"first_inner = {first:02x}")
        print(f"chain = {chain.hex()}")
        print(f"sk_e = {ek.hex()}")
        if "GCM" not in k["encr"]:
            print(f"sk_a = {(bytes.fromhex(k['sk_ai'] if from_initiator else k['sk_ar'])).hex()}")
        print(f"note = {'AES-GCM-16' if 'GCM' in k['encr'] else 'AES-CBC-256/HMAC-SHA2-256-128'}")
    print()
