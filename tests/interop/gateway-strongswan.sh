#!/usr/bin/env bash
# vpn-gateway against strongSwan 5.9 (userspace ESP) in network namespaces: for each proposal,
# each side initiates in turn; ping and a TCP transfer cross the tunnel; both sides' SA listings
# agree on algorithms and SPIs; the initiator's side deletes and both forget the SA.
# Last line: `gateway-strongswan: N passed, M failed`. Run as root.
#   VPN_GATEWAY=path/to/vpn-gateway tests/interop/gateway-strongswan.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/strongswan/lib.sh"
need_root
iop_supervise "$@"
ss_install
: "${VPN_GATEWAY:?set VPN_GATEWAY to the vpn-gateway binary}"

PROPOSALS=(
    "aes256gcm16-prfsha256-x25519 aes256gcm16"
    "aes128gcm16-prfsha256-ecp256 aes128gcm16"
    "aes256-sha256-modp2048 aes256-sha256"
    "chacha20poly1305-prfsha256-x25519 chacha20poly1305"
)
PSK="interop test psk, long enough"
ss_gw_setup

passed=0 failed=0
fail() { log "FAIL [$case]: $*"; ok=0; }

run_case() { # IKE ESP INITIATOR(ss|gw)
    local ike=$1 esp=$2 who=$3 mode kv_s kv_g diffs
    case="$ike/$esp, $who initiates"
    ok=1
    write_swanctl_conn "$SS" net local_addrs=192.0.2.1 remote_addrs=192.0.2.2 \
        local_id=left remote_id=right psk="$PSK" local_ts=10.1.0.0/24 remote_ts=10.2.0.0/24 \
        ike="$ike" esp="$esp" start_action=none
    ss_load "$SS" "$SSDIR" || fail "swanctl --load-all"
    mode=responder-only
    [ "$who" = gw ] && mode=initiator-only
    gw_write_config "$GWDIR/gateway.toml" name=right listen=192.0.2.2 \
        control_socket="$GWDIR/gateway.sock" tun=vpn0 tun_addresses=10.2.0.1/32
    gw_add_connection "$GWDIR/gateway.toml" name=net remote_address=192.0.2.1 \
        local_id=right remote_id=left psk="$PSK" connection_mode=$mode \
        local_selectors=10.2.0.0/24 remote_selectors=10.1.0.0/24 ike_proposals="$ike" esp_proposals="$esp"
    gw_start "$GW" "$GWDIR" "$GWDIR/gateway.toml" || fail "vpn-gateway did not start"
    if [ "$who" = ss ]; then
        swanctl "$SS" "$SSDIR" --initiate --child net --timeout 20 >/dev/null || fail "strongSwan --initiate"
    fi
    wait_for_sa "$SS" "$SSDIR" net 20 || fail "no SA on strongSwan"
    wait_for_gw_sa "$GW" net 20 || fail "no SA on vpn-gateway"
    ip netns exec "$SS" ping -I 10.1.0.1 10.2.0.1 -c 3 -W 2 -q >/dev/null || fail "ping"
    tcp_transfer "$SS" 10.1.0.1 "$GW" 10.2.0.1 2M || fail "TCP transfer strongSwan -> ours"
    tcp_transfer "$GW" 10.2.0.1 "$SS" 10.1.0.1 2M || fail "TCP transfer ours -> strongSwan"
    kv_s=$(list_sas_kv "$SS" "$SSDIR" net)
    kv_g=$(gw_sas_kv "$GW" net)
    if ! diffs=$(sa_compare "$kv_s" "$kv_g"); then
        fail "SA listings differ: $diffs"
    fi
    # The side that initiated deletes; both forget the SA.
    if [ "$who" = ss ]; then
        swanctl "$SS" "$SSDIR" --terminate --ike net --timeout 15 >/dev/null || fail "strongSwan --terminate"
    else
        gw_ctl "$GW" terminate net >/dev/null || fail "vpn-gateway terminate"
    fi
    wait_no_sa "$SS" "$SSDIR" net 15 || fail "strongSwan kept the SA"
    local t=0
    while [ -n "$(gw_sas_kv "$GW" net | kv_get ike_spi_i)" ] && [ $t -lt 50 ]; do sleep 0.2; t=$((t + 1)); done
    [ $t -lt 50 ] || fail "vpn-gateway kept the SA"
    gw_stop "$GW"
    if [ $ok = 1 ]; then passed=$((passed + 1)); log "ok [$case]"; else failed=$((failed + 1)); fi
}

for p in "${PROPOSALS[@]}"; do
    set -- $p
    run_case "$1" "$2" ss
    run_case "$1" "$2" gw
done
echo "gateway-strongswan: $passed passed, $failed failed"
[ $failed = 0 ] && [ $passed -gt 0 ]
