#!/usr/bin/env bash
# One TCP stream through a vpn-gateway pair and through a strongSwan pair (userspace ESP), same
# algorithms (aes256gcm16-prfsha256-x25519 / aes256gcm16), same machine, same run.
# Last line: `throughput: vpn-gateway X Mbit/s, strongswan Y Mbit/s, ratio R`. Run as root.
#   VPN_GATEWAY=path/to/vpn-gateway tests/interop/throughput.sh   (THROUGHPUT_SECONDS, default 10)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/strongswan/lib.sh"
need_root
iop_supervise "$@"
ss_install
: "${VPN_GATEWAY:?set VPN_GATEWAY to the vpn-gateway binary}"
SECS=${THROUGHPUT_SECONDS:-10}
IKE=aes256gcm16-prfsha256-x25519 ESP=aes256gcm16 PSK="throughput test psk"

# Our pair: west (10.1.0.1) initiates to east (10.2.0.1).
gw_pair_setup responder-only || die "a vpn-gateway did not start"
wait_for_gw_sa "$W" east 20 || die "vpn-gateway tunnel did not come up"
ours=$(iperf_mbps "$W" 10.1.0.1 "$E" 10.2.0.1 "$SECS") || die "iperf3 through vpn-gateway failed"
bytes=$(gw_sas_kv "$W" east | kv_get child_bytes_out)
[ "${bytes:-0}" -gt 1000000 ] || die "the stream did not go through our SA ($bytes bytes)"
gw_stop "$W"
gw_stop "$E"
log "vpn-gateway: $ours Mbit/s"

# The strongSwan pair, the same way (lib.sh).
ss_throughput_mbps "$SECS" "$IKE" "$ESP" || die "strongSwan throughput failed"
log "strongswan: $SS_MBPS Mbit/s"
ratio=$(awk -v a="$ours" -v b="$SS_MBPS" 'BEGIN { printf "%.2f", a / b }')
echo "throughput: vpn-gateway $ours Mbit/s, strongswan $SS_MBPS Mbit/s, ratio $ratio"
