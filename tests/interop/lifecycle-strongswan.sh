#!/usr/bin/env bash
# The life of a tunnel between vpn-gateway and strongSwan 5.9 (userspace ESP), in namespaces:
# Child SA and IKE SA rekeys started by each side with short lifetimes while a ping runs (no ping
# lost, the SPIs change), delete from each side, strongSwan killed (ours declares it dead by DPD),
# strongSwan restarted (its INITIAL_CONTACT clears our stale SA).
# Last line: `lifecycle-strongswan: N passed, M failed`. Run as root.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/strongswan/lib.sh"
need_root
iop_supervise "$@"
ss_install
: "${VPN_GATEWAY:?set VPN_GATEWAY to the vpn-gateway binary}"

IKE=aes256gcm16-prfsha256-x25519 ESP=aes256gcm16 PSK="lifecycle test psk, long enough"
ss_gw_setup
passed=0 failed=0
fail() { log "FAIL [$case]: $*"; ok=0; }
finish() { if [ $ok = 1 ]; then passed=$((passed + 1)); log "ok [$case]"; else failed=$((failed + 1)); fi; }

# setup SS_ARGS... -- GW_ARGS...: strongSwan answers; ours initiates.
setup() {
    local ss=() gw=() side=ss a
    for a in "$@"; do
        if [ "$a" = -- ]; then side=gw; elif [ $side = ss ]; then ss+=("$a"); else gw+=("$a"); fi
    done
    write_swanctl_conn "$SS" net local_addrs=192.0.2.1 remote_addrs=192.0.2.2 local_id=left remote_id=right \
        psk="$PSK" local_ts=10.1.0.0/24 remote_ts=10.2.0.0/24 ike="$IKE" esp="$ESP" start_action=none "${ss[@]}"
    ss_load "$SS" "$SSDIR" || fail "swanctl --load-all"
    gw_write_config "$GWDIR/gateway.toml" name=right listen=192.0.2.2 control_socket="$GWDIR/gateway.sock" \
        tun=vpn0 tun_addresses=10.2.0.1/32 retransmit_timeout=1s retransmit_tries=3
    gw_add_connection "$GWDIR/gateway.toml" name=net remote_address=192.0.2.1 local_id=right remote_id=left \
        psk="$PSK" local_selectors=10.2.0.0/24 remote_selectors=10.1.0.0/24 \
        ike_proposals="$IKE" esp_proposals="$ESP" "${gw[@]}"
    gw_start "$GW" "$GWDIR" "$GWDIR/gateway.toml" || fail "vpn-gateway did not start"
    # Ours initiates at start, unless it only answers: then strongSwan starts the tunnel.
    case " ${gw[*]} " in
        *" connection_mode=responder-only "*)
            swanctl "$SS" "$SSDIR" --initiate --child net --timeout 20 >/dev/null || fail "strongSwan --initiate" ;;
    esac
    wait_for_sa "$SS" "$SSDIR" net 20 || fail "no SA on strongSwan"
    wait_for_gw_sa "$GW" net 20 || fail "no SA on vpn-gateway"
}

teardown() {
    swanctl "$SS" "$SSDIR" --terminate --ike net --timeout 10 >/dev/null 2>&1
    gw_stop "$GW"
    wait_no_sa "$SS" "$SSDIR" net 10 >/dev/null 2>&1
}

# ping_through SECONDS: pings every 0.2 s from strongSwan's side; fails if any is lost.
ping_through() {
    local n=$(($1 * 5)) out
    out=$(ip netns exec "$SS" ping -I 10.1.0.1 -i 0.2 -c "$n" -W 1 10.2.0.1 2>&1 | grep "packets transmitted")
    log "  $out"
    grep -q " 0% packet loss" <<<"$out"
}

spis() { gw_sas_kv "$GW" net | kv_get "$1"; }

rekey_case() { # NAME WHICH(child|ike) SS_ARGS -- GW_ARGS
    case=$1
    local which=$2 before after
    shift 2
    ok=1
    setup "$@"
    before=$(spis "${which}_spi_in")
    [ "$which" = ike ] && before=$(spis ike_initiator_spi)
    ping_through 15 || fail "pings were lost during the rekeys"
    after=$(spis "${which}_spi_in")
    [ "$which" = ike ] && after=$(spis ike_initiator_spi)
    [ -n "$after" ] && [ "$after" != "$before" ] || fail "the $which SA was not rekeyed ($before -> $after)"
    if ! diffs=$(sa_compare "$(list_sas_kv "$SS" "$SSDIR" net)" "$(gw_sas_kv "$GW" net)"); then
        fail "after the rekeys the listings differ: $diffs"
    fi
    teardown
    finish
}

rekey_case "Child SA rekeyed by strongSwan" child child_rekey_time=4s child_life_time=8s child_rand_time=0s --
rekey_case "Child SA rekeyed by vpn-gateway" child -- child_lifetime=4s
rekey_case "IKE SA rekeyed by strongSwan" ike ike_rekey_time=6s ike_life_time=12s ike_rand_time=0s --
rekey_case "IKE SA rekeyed by vpn-gateway" ike -- ike_lifetime=6s

case="delete from strongSwan"
ok=1
setup --
old=$(spis ike_initiator_spi)
swanctl "$SS" "$SSDIR" --terminate --ike net --timeout 10 >/dev/null || fail "terminate"
# The deleted SA goes; being always-on, the gateway may already have a new one (always-on.sh).
t=0
while [ "$(spis ike_initiator_spi)" = "$old" ] && [ $t -lt 50 ]; do sleep 0.2; t=$((t + 1)); done
[ $t -lt 50 ] || fail "vpn-gateway kept the SA strongSwan deleted"
gw_stop "$GW"
finish

case="delete from vpn-gateway"
ok=1
setup --
gw_ctl "$GW" terminate net >/dev/null || fail "terminate"
wait_no_sa "$SS" "$SSDIR" net 10 || fail "strongSwan kept the SA we deleted"
gw_stop "$GW"
finish

case="strongSwan killed: declared dead by DPD"
ok=1
setup -- dpd_timeout=2s connection_mode=responder-only
charon_stop "$SS" --kill
t=0
while [ -n "$(spis ike_initiator_spi)" ] && [ $t -lt 100 ]; do sleep 0.2; t=$((t + 1)); done
[ $t -lt 100 ] || fail "vpn-gateway still holds the SA of a dead peer after 20 s"
log "  dead peer noticed after $((t / 5)) s"
grep -q "reason=Timeout" "$GWDIR/gateway.log" || fail "the log does not say the peer timed out"
gw_stop "$GW"
charon_start "$SS" "$SSDIR"
finish

case="strongSwan restarted: INITIAL_CONTACT clears the stale SA"
ok=1
setup -- connection_mode=responder-only
old=$(spis ike_initiator_spi)
charon_stop "$SS" --kill
charon_start "$SS" "$SSDIR"
ss_load "$SS" "$SSDIR"
swanctl "$SS" "$SSDIR" --initiate --child net --timeout 20 >/dev/null || fail "initiate after restart"
wait_for_sa "$SS" "$SSDIR" net 20 || fail "no SA after restart"
sleep 1
n=$(gw_ctl "$GW" status --json | grep -c '"spi_i"')
[ "$n" = 1 ] || fail "vpn-gateway lists $n IKE SAs (the stale one should be gone)"
[ "$(spis ike_initiator_spi)" != "$old" ] || fail "the stale SA is the one left"
ping_through 2 || fail "no traffic through the new SA"
teardown
finish

echo "lifecycle-strongswan: $passed passed, $failed failed"
[ $failed = 0 ] && [ $passed -gt 0 ]
