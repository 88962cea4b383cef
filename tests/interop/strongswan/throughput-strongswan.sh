#!/usr/bin/env bash
# Throughput of a strongSwan pair with userspace ESP (kernel-libipsec), the reference for ours.
#
# Two charons in two namespaces (left 192.0.2.1 / 10.1.0.1, right 192.0.2.2 / 10.2.0.1, veth),
# IKE aes256gcm16-prfsha256-x25519, ESP aes256gcm16, tunnel initiated by left; then one TCP stream
# with iperf3 from 10.1.0.1 to 10.2.0.1 for 10 s (THROUGHPUT_SECONDS). On a 2-core machine both
# charons and both iperf3 processes share the CPUs, as a vpn-gateway pair measured the same way will.
#
# Usage (as root): tests/interop/strongswan/throughput-strongswan.sh
# Last line: "strongswan X Mbit/s" (X from iperf3's receiver line).
#
# A sibling script for our gateway pair (e.g. tests/interop/throughput.sh) either runs this script
# and takes X from its last line, or sources lib.sh and calls ss_throughput_mbps itself (it tears
# its pair down afterwards), then measures the vpn-gateway pair with iperf_mbps the same way and
# prints "throughput: vpn-gateway X Mbit/s, strongswan Y Mbit/s, ratio R". See README.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
need_root
iop_supervise "$@"
ss_install

secs=${THROUGHPUT_SECONDS:-10}
ss_throughput_mbps "$secs" aes256gcm16-prfsha256-x25519 aes256gcm16 || die "strongSwan throughput measurement failed"
echo "strongswan $SS_MBPS Mbit/s"
