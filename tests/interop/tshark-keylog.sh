#!/usr/bin/env bash
# tshark reads a capture of a vpn-gateway <-> strongSwan session, with the keys vpn-gateway wrote
# (`run --keylog DIR`, Wireshark's ikev2_decryption_table and esp_sa formats): no packet is
# malformed, IKE_AUTH decrypts (the identities show), and the ESP decrypts (the pings show).
# Last line: `tshark-keylog: N passed, M failed`. Run as root.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/strongswan/lib.sh"
need_root
iop_supervise "$@"
IOP_WANT_TSHARK=1 ss_install
: "${VPN_GATEWAY:?set VPN_GATEWAY to the vpn-gateway binary}"
command -v tshark >/dev/null || die "tshark is not installed"

passed=0 failed=0
check() { # WHAT CONDITION...
    local what=$1
    shift
    if "$@"; then passed=$((passed + 1)); log "ok: $what"; else failed=$((failed + 1)); log "FAIL: $what"; fi
}

PSK="keylog test psk, long enough"
ss_gw_setup
for p in "aes256gcm16-prfsha256-x25519 aes256gcm16" "aes256-sha256-modp2048 aes256-sha256"; do
    set -- $p
    ike=$1 esp=$2
    rm -f "$GWDIR"/keylog/* "$GWDIR/capture.pcap"
    write_swanctl_conn "$SS" net local_addrs=192.0.2.1 remote_addrs=192.0.2.2 \
        local_id=left remote_id=right psk="$PSK" local_ts=10.1.0.0/24 remote_ts=10.2.0.0/24 \
        ike="$ike" esp="$esp" start_action=none
    ss_load "$SS" "$SSDIR"
    gw_write_config "$GWDIR/gateway.toml" name=right listen=192.0.2.2 \
        control_socket="$GWDIR/gateway.sock" tun=vpn0 tun_addresses=10.2.0.1/32
    gw_add_connection "$GWDIR/gateway.toml" name=net remote_address=192.0.2.1 \
        local_id=right remote_id=left psk="$PSK" connection_mode=responder-only \
        local_selectors=10.2.0.0/24 remote_selectors=10.1.0.0/24 ike_proposals="$ike" esp_proposals="$esp"
    gw_start "$GW" "$GWDIR" "$GWDIR/gateway.toml" || die "vpn-gateway did not start"
    ip netns exec "$GW" timeout 60 tshark -q -i "$LINK_IF2" -w "$GWDIR/capture.pcap" -f "udp" >/dev/null 2>&1 &
    cap=$!
    iop_track_pid "$cap"
    sleep 2
    swanctl "$SS" "$SSDIR" --initiate --child net --timeout 20 >/dev/null
    wait_for_gw_sa "$GW" net 20
    ip netns exec "$SS" ping -I 10.1.0.1 10.2.0.1 -c 5 -W 2 -q >/dev/null
    swanctl "$SS" "$SSDIR" --terminate --ike net --timeout 15 >/dev/null
    sleep 1
    kill -INT "$cap" 2>/dev/null
    wait "$cap" 2>/dev/null
    gw_stop "$GW"
    # tshark reads the tables from its personal configuration directory.
    export WIRESHARK_CONFIG_DIR="$GWDIR/keylog"
    all=$(tshark -r "$GWDIR/capture.pcap" -o esp.enable_encryption_decode:TRUE -o esp.enable_null_encryption_decode_heuristic:FALSE 2>&1)
    esp=$(tshark -r "$GWDIR/capture.pcap" -Y "esp" 2>/dev/null | wc -l)
    auth=$(grep -c "IKE_AUTH" <<<"$all")
    check "$ike: capture holds IKE_AUTH and ESP-in-UDP" [ $((esp >= 10 && auth >= 2)) = 1 ]
    check "$ike: no malformed packet" sh -c '! grep -qi "malformed" "$1"' _ <(printf '%s\n' "$all")
    ids=$(tshark -r "$GWDIR/capture.pcap" -Y "isakmp.id.type" -T fields -e isakmp.id.type 2>/dev/null | wc -l)
    check "$ike: IKE_AUTH decrypts (identification payloads seen)" [ "$ids" -ge 2 ]
    icmp=$(tshark -r "$GWDIR/capture.pcap" -o esp.enable_encryption_decode:TRUE -Y "icmp" 2>/dev/null | wc -l)
    check "$ike: ESP decrypts (the pings seen inside)" [ "$icmp" -ge 10 ]
    unset WIRESHARK_CONFIG_DIR
done
echo "tshark-keylog: $passed passed, $failed failed"
[ $failed = 0 ] && [ $passed -gt 0 ]
