#!/usr/bin/env bash
# Capture real strongSwan 5.9.8 IKE messages (as initiator and as responder, AES-GCM and
# AES-CBC/HMAC suites) against vpn-gateway, decrypt them with vpn-gateway's keylog, and write
# them as fixtures to vpn-ike/tests/vectors/strongswan-5.9.8.txt (a maintainer's tool; the
# fixtures are committed). Run as root: VPN_GATEWAY=... tests/interop/capture-fixtures.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/strongswan/lib.sh"
need_root
iop_supervise "$@"
IOP_WANT_TSHARK=1 ss_install
: "${VPN_GATEWAY:?set VPN_GATEWAY to the vpn-gateway binary}"
OUT=$here/../../vpn-ike/tests/vectors/strongswan-5.9.8.txt
PSK="fixture capture psk"
ss_gw_setup
{
    echo "# IKEv2 messages sent by strongSwan 5.9.8 (Debian 12 packages, userspace ESP) to vpn-gateway,"
    echo "# captured on the wire by tests/interop/capture-fixtures.sh; SK payloads decrypted with the"
    echo "# keys vpn-gateway logged: 'message' is the datagram (non-ESP marker removed), 'chain' the"
    echo "# decrypted inner payload chain whose first payload type is 'first_inner'."
    echo
} >"$OUT"
for c in "gcm ss aes256gcm16-prfsha256-x25519 aes256gcm16" "cbc gw aes256-sha256-modp2048 aes256-sha256"; do
    set -- $c
    label=$1 who=$2 ike=$3 esp=$4
    rm -rf "$GWDIR/keylog" "$GWDIR/capture.pcap"
    write_swanctl_conn "$SS" net local_addrs=192.0.2.1 remote_addrs=192.0.2.2 local_id=left remote_id=right \
        psk="$PSK" local_ts=10.1.0.0/24 remote_ts=10.2.0.0/24 ike="$ike" esp="$esp" start_action=none
    ss_load "$SS" "$SSDIR"
    mode=responder-only
    [ "$who" = gw ] && mode=initiator-only
    gw_write_config "$GWDIR/gateway.toml" name=right listen=192.0.2.2 control_socket="$GWDIR/gateway.sock" \
        tun=vpn0 tun_addresses=10.2.0.1/32
    gw_add_connection "$GWDIR/gateway.toml" name=net remote_address=192.0.2.1 local_id=right remote_id=left \
        psk="$PSK" connection_mode=$mode local_selectors=10.2.0.0/24 remote_selectors=10.1.0.0/24 \
        ike_proposals="$ike" esp_proposals="$esp"
    ip netns exec "$GW" timeout 60 tshark -q -i "$LINK_IF2" -w "$GWDIR/capture.pcap" -f udp >/dev/null 2>&1 &
    cap=$!
    iop_track_pid "$cap"
    sleep 2
    gw_start "$GW" "$GWDIR" "$GWDIR/gateway.toml" || die "vpn-gateway did not start"
    [ "$who" = ss ] && swanctl "$SS" "$SSDIR" --initiate --child net --timeout 20 >/dev/null
    wait_for_gw_sa "$GW" net 20 || die "no SA"
    ip netns exec "$SS" ping -I 10.1.0.1 10.2.0.1 -c 2 -W 2 -q >/dev/null
    swanctl "$SS" "$SSDIR" --terminate --ike net --timeout 15 >/dev/null
    sleep 1
    kill -INT "$cap" 2>/dev/null
    wait "$cap" 2>/dev/null
    gw_stop "$GW"
    python3 "$here/ike-fixtures.py" "$GWDIR/capture.pcap" "$GWDIR/keylog" 192.0.2.1 "$label" >>"$OUT" ||
        die "fixture extraction failed"
done
log "wrote $(grep -c '^\[case' "$OUT") fixtures to $OUT"
