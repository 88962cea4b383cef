#!/usr/bin/env bash
# Always-on connections: vpn-gateway with connection_mode=default (it initiates at start and keeps
# the tunnel up) against strongSwan 5.9 as a pure responder (start_action=none), in namespaces.
# The gateway: dpd_timeout=2s, retransmit_timeout=1s, retransmit_tries=2.
#   a. peer deletes: strongSwan terminates the IKE SA; a NEW IKE SA (other SPIs, on both sides)
#      carries a ping within 10 s.
#   b. peer killed (SIGKILL, no DELETE) and restarted 1 s later as a responder: back within
#      DPD timeout + retransmission give-up time + one backoff step (2 s) + 3 s slack.
#   c. `vpn-gateway terminate` keeps it down (no SA on either side for 15 s; the connection still
#      listed by `status --json`, DOWN, when the status has a "connections" array);
#      `vpn-gateway initiate` brings it back within 10 s.
#   d. peer unreachable at start: charon starts 8 s after the gateway; the tunnel is up within
#      15 s of that, without anyone running initiate.
# Each case prints what it measured. Last line: `always-on: N passed, M failed`. Run as root.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/strongswan/lib.sh"
need_root
iop_supervise "$@"
ss_install
: "${VPN_GATEWAY:?set VPN_GATEWAY to the vpn-gateway binary}"

IKE=aes256gcm16-prfsha256-x25519 ESP=aes256gcm16 PSK="always-on test psk, long enough"
DPD_TIMEOUT=2        # s, the gateway's dpd_timeout
RETRANSMIT_TIMEOUT=1 # s, the gateway's retransmit_timeout
RETRANSMIT_TRIES=2   # the gateway's retransmit_tries
RETRANSMIT_BASE=1.8  # the gateway's backoff factor between retransmissions
BACKOFF_STEP=2       # s allowed for one re-initiation backoff step (about 1 s)
SLACK=3              # s
# Time until the gateway gives up on an unanswered request: the first wait plus one per
# retransmission, each RETRANSMIT_BASE times the one before (1 + 1.8 + 3.24 = 6.04 s here).
GIVE_UP=$(awk -v t=$RETRANSMIT_TIMEOUT -v n=$RETRANSMIT_TRIES -v b=$RETRANSMIT_BASE \
    'BEGIN { s = 0; w = t; for (i = 0; i <= n; i++) { s += w; w *= b }; printf "%.2f", s }')

ss_gw_setup
passed=0 failed=0
fail() { log "FAIL [$case]: $*"; ok=0; }
finish() { if [ $ok = 1 ]; then passed=$((passed + 1)); log "ok [$case]"; else failed=$((failed + 1)); fi; }

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; } # seconds since $1
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }                 # $1 < $2 (decimals)

gw_kv() { gw_sas_kv "$GW" net; }
ss_kv() { list_sas_kv "$SS" "$SSDIR" net; }

# established: both sides list an ESTABLISHED IKE SA with an INSTALLED child, the same IKE SPIs
# on both, and (when given) an IKE initiator SPI other than $1. Sets NEW_SPI.
established() {
    local old=${1:-} g s
    g=$(gw_kv) || return 1
    s=$(ss_kv) || return 1
    [ "$(kv_get ike_state <<<"$g")" = ESTABLISHED ] && [ "$(kv_get child_state <<<"$g")" = INSTALLED ] || return 1
    [ "$(kv_get ike_state <<<"$s")" = ESTABLISHED ] && [ "$(kv_get child_state <<<"$s")" = INSTALLED ] || return 1
    NEW_SPI=$(kv_get ike_initiator_spi <<<"$g")
    [ -n "$NEW_SPI" ] && [ "$NEW_SPI" = "$(kv_get ike_initiator_spi <<<"$s")" ] || return 1
    [ "$(kv_get ike_responder_spi <<<"$g")" = "$(kv_get ike_responder_spi <<<"$s")" ] || return 1
    [ -z "$old" ] || [ "$NEW_SPI" != "$old" ]
}

# wait_back START LIMIT [OLD_SPI]: polls (0.2 s) until `established OLD_SPI` holds and a ping
# through the tunnel is answered, LIMIT seconds after START (a `now` value) at most. Sets BACK
# (seconds from START to the moment both sides listed the new SA), PING_OK, and GONE (seconds
# from START until the gateway no longer listed the IKE SA OLD_SPI).
wait_back() {
    local start=$1 limit=$2 old=${3:-}
    BACK="" PING_OK=0 GONE=""
    while lt "$(since "$start")" "$limit"; do
        # when the gateway stopped listing the old IKE SA (deleted, or its peer declared dead)
        if [ -n "$old" ] && [ -z "$GONE" ] && [ "$(gw_kv | kv_get ike_initiator_spi)" != "$old" ]; then
            GONE=$(since "$start")
        fi
        if established "$old"; then
            BACK=$(since "$start")
            ip netns exec "$SS" ping -I 10.1.0.1 -c 5 -i 0.2 -W 1 -q 10.2.0.1 >/dev/null 2>&1 && PING_OK=1
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# write_configs: strongSwan's responder connection (loaded if charon runs) and the gateway's config.
write_configs() {
    write_swanctl_conn "$SS" net local_addrs=192.0.2.1 remote_addrs=192.0.2.2 local_id=left remote_id=right \
        psk="$PSK" local_ts=10.1.0.0/24 remote_ts=10.2.0.0/24 ike="$IKE" esp="$ESP" start_action=none
    gw_write_config "$GWDIR/gateway.toml" name=right listen=192.0.2.2 control_socket="$GWDIR/gateway.sock" \
        tun=vpn0 tun_addresses=10.2.0.1/32 retransmit_timeout=${RETRANSMIT_TIMEOUT}s retransmit_tries=$RETRANSMIT_TRIES
    gw_add_connection "$GWDIR/gateway.toml" name=net remote_address=192.0.2.1 local_id=right remote_id=left \
        psk="$PSK" local_selectors=10.2.0.0/24 remote_selectors=10.1.0.0/24 \
        ike_proposals="$IKE" esp_proposals="$ESP" connection_mode=default dpd_timeout=${DPD_TIMEOUT}s
}

# setup: charon running with the connection loaded, the gateway started; it initiates by itself
# (always-on), nobody runs initiate. Returns 1 if the tunnel is not up within 20 s.
setup() {
    [ -n "${IOP_CHARON_PID[$SS]:-}" ] || charon_start "$SS" "$SSDIR" || { fail "charon did not start"; return 1; }
    write_configs
    ss_load "$SS" "$SSDIR" || { fail "swanctl --load-all"; return 1; }
    gw_start "$GW" "$GWDIR" "$GWDIR/gateway.toml" || { fail "vpn-gateway did not start"; return 1; }
    local t0
    t0=$(now)
    wait_back "$t0" 20 || { fail "the gateway did not bring the tunnel up at start (20 s)"; return 1; }
    log "  tunnel up $BACK s after the gateway started"
    [ $PING_OK = 1 ] || fail "no ping through the first tunnel"
    OLD_SPI=$NEW_SPI
}

teardown() {
    gw_stop "$GW"
    if [ -n "${IOP_CHARON_PID[$SS]:-}" ]; then
        swanctl "$SS" "$SSDIR" --terminate --ike net --timeout 5 >/dev/null 2>&1
        wait_no_sa "$SS" "$SSDIR" net 10 >/dev/null 2>&1
    fi
}

# ---------------------------------------------------------------------------------------------
case="a. peer deletes: the gateway re-establishes"
ok=1
if setup; then
    t0=$(now)
    swanctl "$SS" "$SSDIR" --terminate --ike net --timeout 10 >/dev/null || fail "swanctl --terminate"
    # wait past the limit (up to 20 s) so that a late recovery is measured too
    if wait_back "$t0" 20 "$OLD_SPI"; then
        log "  MEASURED: new IKE SA $NEW_SPI (was $OLD_SPI) on both sides $BACK s after strongSwan's delete (limit 10 s)"
        lt "$BACK" 10 || fail "the new tunnel took $BACK s (limit 10 s)"
        [ $PING_OK = 1 ] || fail "no ping through the new tunnel"
    else
        g=$(gw_kv | kv_get ike_initiator_spi)
        fail "no new tunnel within 20 s of the peer's delete (limit 10 s; gateway lists IKE SPI '${g:-none}', was $OLD_SPI)"
        log "  MEASURED: not back after 20 s"
    fi
fi
teardown
finish

# ---------------------------------------------------------------------------------------------
case="b. peer killed and restarted as a responder"
ok=1
BOUND=$(awk -v d=$DPD_TIMEOUT -v g="$GIVE_UP" -v b=$BACKOFF_STEP -v s=$SLACK 'BEGIN { printf "%.2f", d + g + b + s }')
if setup; then
    t0=$(now)
    charon_stop "$SS" --kill
    sleep 1
    charon_start "$SS" "$SSDIR" || fail "charon did not restart"
    ss_load "$SS" "$SSDIR" || fail "swanctl --load-all after the restart"
    # wait past the bound (10 s more) so that a late recovery is measured too
    cap=$(awk -v b="$BOUND" 'BEGIN { print b + 10 }')
    if wait_back "$t0" "$cap" "$OLD_SPI"; then
        log "  MEASURED: the gateway dropped the dead SA ${GONE:-?} s after the kill"
        log "  MEASURED: back $BACK s after the kill (bound $BOUND s = DPD $DPD_TIMEOUT + give-up $GIVE_UP + backoff $BACKOFF_STEP + slack $SLACK)"
        lt "$BACK" "$BOUND" || fail "back only after $BACK s, over the bound of $BOUND s"
        [ $PING_OK = 1 ] || fail "no ping through the new tunnel"
    else
        fail "not back within $cap s of the kill (bound $BOUND s = DPD $DPD_TIMEOUT + give-up $GIVE_UP + backoff $BACKOFF_STEP + slack $SLACK)"
        log "  MEASURED: the gateway dropped the dead SA ${GONE:-never} s after the kill; not back after $cap s (bound $BOUND s)"
    fi
fi
teardown
finish

# ---------------------------------------------------------------------------------------------
case="c. terminate keeps it down, initiate brings it back"
ok=1
if setup; then
    gw_ctl "$GW" terminate net >/dev/null || fail "vpn-gateway terminate net"
    wait_no_sa "$SS" "$SSDIR" net 5 || fail "strongSwan kept the SA 5 s after the gateway's terminate"
    up=0
    for i in $(seq 15); do
        sleep 1
        g=$(gw_kv | kv_get ike_initiator_spi)
        s=$(ss_kv | kv_get ike_initiator_spi)
        if [ -n "$g" ] || [ -n "$s" ]; then
            up=$i
            fail "an SA is back ${i} s after terminate (gateway '${g}', strongSwan '${s}')"
            break
        fi
    done
    [ $up = 0 ] && log "  MEASURED: no SA on either side for 15 s after terminate"
    # The connection itself is still there: status --json lists it (DOWN) if it lists connections.
    conn=$(gw_ctl "$GW" status --json 2>/dev/null | python3 -c '
import json, sys
try:
    r = json.load(sys.stdin)
except ValueError:
    print("no-json"); sys.exit()
cs = r.get("connections")
if cs is None:
    print("absent"); sys.exit()
for c in cs:
    if c.get("name") == "net":
        print("state=%s" % c.get("state")); sys.exit()
print("missing")')
    case $conn in
        absent) log "  note: status --json has no \"connections\" array (not checked)" ;;
        state=DOWN) log "  status --json lists connection net, DOWN" ;;
        state=*) fail "status --json lists connection net as ${conn#state=}, not DOWN" ;;
        missing) fail "status --json does not list connection net after terminate" ;;
        *) fail "status --json did not answer JSON" ;;
    esac
    t0=$(now)
    gw_ctl "$GW" initiate net >/dev/null || fail "vpn-gateway initiate net"
    if wait_back "$t0" 10 "$OLD_SPI"; then
        log "  MEASURED: back $BACK s after initiate"
        [ $PING_OK = 1 ] || fail "no ping through the new tunnel"
    else
        fail "initiate did not bring the tunnel back within 10 s"
    fi
fi
teardown
finish

# ---------------------------------------------------------------------------------------------
case="d. peer unreachable at start"
ok=1
charon_stop "$SS"
write_configs
if gw_start "$GW" "$GWDIR" "$GWDIR/gateway.toml"; then
    sleep 8
    if charon_start "$SS" "$SSDIR" && ss_load "$SS" "$SSDIR"; then
        t0=$(now)
        if wait_back "$t0" 15; then
            log "  MEASURED: up $BACK s after charon started (gateway started 8 s before it)"
            [ $PING_OK = 1 ] || fail "no ping through the tunnel"
        else
            fail "the tunnel was not up within 15 s of charon starting"
            log "  MEASURED: not up after 15 s"
        fi
    else
        fail "charon did not start"
    fi
else
    fail "vpn-gateway did not start"
fi
teardown
finish

echo "always-on: $passed passed, $failed failed"
[ $failed = 0 ] && [ $passed -gt 0 ]
