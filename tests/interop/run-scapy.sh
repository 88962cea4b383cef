#!/bin/sh
# ESP interop against scapy: install scapy if needed, build the esp-tool example, run the cases.
# Usage: tests/interop/run-scapy.sh   (from anywhere; honours CARGO_TARGET_DIR and SEED)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

# scapy with ChaCha20-Poly1305 in its ESP, and cryptography (which scapy's ipsec needs).
have_scapy() {
    python3 -c 'import cryptography; from scapy.layers.ipsec import CRYPT_ALGOS as c; assert "CHACHA20-POLY1305" in c' \
        2>/dev/null
}
if ! have_scapy; then
    # Debian 12's system Python refuses plain pip installs (PEP 668): allow it for this test tool.
    python3 -m pip install --quiet --upgrade scapy cryptography ||
        python3 -m pip install --quiet --upgrade --break-system-packages scapy cryptography
    have_scapy || { echo "scapy or cryptography unusable after pip install" >&2; exit 1; }
fi

# Build once and run the binary: cargo's own progress stays off the tool's stdout.
tool=$(cargo build -q -p vpn-esp --example esp-tool --message-format=json-render-diagnostics |
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "esp-tool" and m.get("executable"):
        print(m["executable"])')
[ -x "$tool" ] || { echo "esp-tool was not built" >&2; exit 1; }

ESP_TOOL=$tool exec python3 tests/interop/scapy_esp.py
