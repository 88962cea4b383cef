# shellcheck shell=bash
# Helpers for tests/interop/scale.sh and tests/interop/hub.sh, sourced after lib.sh:
#
#   . "$here/strongswan/lib.sh"
#   . "$here/strongswan/scale-lib.sh"
#
#   vici_initiate SOCKET NAME...        asks charon (vici socket path) to initiate each CHILD NAME
#                                       without waiting for the result (vici `initiate` with
#                                       timeout -1): all of them within milliseconds, where one
#                                       `swanctl --initiate` process per child would take ~10 ms each
#   gw_json NS                          the hub's `status --json` (empty on error)
#   gw_count_up [SITE_PREFIX]           (JSON on stdin) IKE SAs ESTABLISHED with >= 1 INSTALLED child
#   gw_child_counters NAME              (JSON on stdin) "packets_in packets_out" of NAME's installed
#                                       child(ren), summed; "0 0" when there is none
#   gw_rss_kb PID                       VmRSS of PID in kB
#   link_rx_packets NS DEV              RX packet counter of DEV in NS (empty if DEV is missing)
#   link_tx_packets NS DEV              TX packet counter
#   now_ms                              monotonic-enough wall clock in milliseconds
#   ms_to_s MS                          "1.234"

now_ms() { date +%s%3N; }
ms_to_s() { awk -v m="$1" 'BEGIN { printf "%.1f", m / 1000 }'; }

# vici_initiate SOCKET NAME...: a minimal vici client (strongSwan's documented wire format: 4-byte
# big-endian length, packet type CMD_REQUEST=0 with a 1-byte-length command name, then elements
# KEY_VALUE=3: 1-byte name length, name, 2-byte value length, value). One request per child,
# all sent before the responses are read (charon answers them in order),
# `initiate` with timeout=-1 (return at once, charon initiates in the background). Prints the
# number of requests charon refused (0 on success) and returns 1 if any was refused.
vici_initiate() {
    local sock=$1
    shift
    printf '%s\n' "$@" | python3 -c '
import socket, struct, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(sys.argv[1])
def kv(k, v):
    k, v = k.encode(), v.encode()
    return bytes([3, len(k)]) + k + struct.pack(">H", len(v)) + v
def recv_exact(n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise SystemExit("vici: connection closed")
        buf += chunk
    return buf
names = sys.stdin.read().split()
# Pipelined: a writer thread sends every request while this thread reads the responses, so the
# time is charon'"'"'s, not one scheduling round trip per request on a busy machine.
import threading
def writer():
    for name in names:
        body = kv("child", name) + kv("timeout", "-1") + kv("init-limits", "no")
        pkt = bytes([0, len("initiate")]) + b"initiate" + body
        sock.sendall(struct.pack(">I", len(pkt)) + pkt)
t = threading.Thread(target=writer)
t.start()
refused = 0
for name in names:
    while True:
        n, = struct.unpack(">I", recv_exact(4))
        data = recv_exact(n)
        if data[0] == 1:      # CMD_RESPONSE, in request order
            break
        if data[0] == 2:      # CMD_UNKNOWN
            raise SystemExit("vici: unknown command initiate")
    if b"success\x00\x03yes" not in data:
        refused += 1
        sys.stderr.write("vici initiate %s refused: %r\n" % (name, data[:200]))
t.join()
print(refused)
sys.exit(1 if refused else 0)
' "$sock"
}

gw_json() { gw_ctl "$1" status --json 2>/dev/null || true; }

# gw_count_up: number of IKE SAs in the JSON on stdin that are ESTABLISHED and have an INSTALLED
# (or REKEYING) child; with SITE_PREFIX only those whose name starts with it. Distinct names are
# counted (a duplicate SA of one connection counts once).
gw_count_up() {
    python3 -c '
import json, sys
try:
    r = json.load(sys.stdin)
except ValueError:
    print(0); sys.exit(0)
pre = sys.argv[1]
names = set()
for sa in r.get("ike_sas", []):
    if not sa.get("name", "").startswith(pre) or sa.get("state") != "ESTABLISHED":
        continue
    if any(c.get("state") in ("INSTALLED", "REKEYING") for c in sa.get("children", [])):
        names.add(sa["name"])
print(len(names))
' "${1:-}"
}

# gw_child_counters NAME: "packets_in packets_out" summed over NAME's IKE SAs' INSTALLED/REKEYING
# children (the JSON on stdin).
gw_child_counters() {
    python3 -c '
import json, sys
try:
    r = json.load(sys.stdin)
except ValueError:
    print("0 0"); sys.exit(0)
pi = po = 0
for sa in r.get("ike_sas", []):
    if sa.get("name") != sys.argv[1]:
        continue
    for c in sa.get("children", []):
        if c.get("state") in ("INSTALLED", "REKEYING"):
            pi += int(c.get("packets_in", 0)); po += int(c.get("packets_out", 0))
print(pi, po)
' "$1"
}

gw_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

link_rx_packets() {
    ip -n "$1" -s -j link show dev "$2" 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])' 2>/dev/null
}
link_tx_packets() {
    ip -n "$1" -s -j link show dev "$2" 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["packets"])' 2>/dev/null
}
