#!/usr/bin/env bash
# Hub routing: one vpn-gateway hub with a POLICY-BASED strongSwan site and a ROUTE-BASED
# vpn-gateway peer at once; traffic of each peer must cross its own tunnel only, whatever order
# the tunnels came up in and after either peer restarts. Last line: `hub: N passed, M failed`.
# Run as root.
#   VPN_GATEWAY=path/to/vpn-gateway tests/interop/hub.sh
#   HUB_LEGACY=1: leave out the `interface` field (for a gateway that does not know it yet: the
#                 route-based tunnel then shares the hub's vpn0, and the vti-east checks fail)
#
# Layout:
#   H (hub):   veth 192.0.2.1 (to S) and 198.51.100.1 (to V); TUN vpn0 10.1.0.1/32; local
#              networks 10.1.0.0/24. Connections, both responder-only (the peers initiate, so
#              the test decides the order):
#                dc1:  site-to-site, routing policy-based, 10.1.0.0/24 <-> 10.2.0.0/24
#                east: vnet-to-vnet, routing route-based, remote_selectors 10.4.0.0/16,
#                      interface "vti-east" (its own TUN device; 10.4.0.0/16 routed into it)
#   S (site):  strongSwan, veth 192.0.2.2, 10.2.0.1 on lo, connection dc1 (10.2.0.0/24 <->
#              10.1.0.0/24)
#   V (east):  vpn-gateway, veth 198.51.100.2, TUN vpn0 10.4.0.1/32, connection hub:
#              route-based, remote_selectors 10.1.0.0/16, interface "vti-hub"; initiates at start
#
# Checks, after each way of bringing the tunnels up:
#   - ping S(10.2.0.1) -> hub(10.1.0.1), hub -> S, V(10.4.0.1) -> hub, hub -> V;
#   - isolation: across each ping batch (3 echo requests), the hub's status JSON shows the
#     packets_in and packets_out of the child of the connection that should carry it grow by
#     >= 3, and those of the other connection's child do not move; `ip -s link show vti-east`
#     RX packets grow with V's pings (inbound packets of a route-based tunnel come out of its
#     own interface) and not with S's;
#   - a TCP transfer S -> hub and V -> hub (iperf3, tcp_transfer).
# IPv6 is off in H and V so that no stray kernel IPv6 packet (router solicitations on a new
# TUN device) takes the route-based tunnel's ::/0 selector and moves a counter.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/strongswan/lib.sh"
. "$here/strongswan/scale-lib.sh"
need_root
iop_supervise "$@"
ss_install
: "${VPN_GATEWAY:?set VPN_GATEWAY to the vpn-gateway binary}"
: "${HUB_LEGACY:=0}"

PSK="hub routing test psk, long enough"
IKE=aes256gcm16-prfsha256-x25519 ESP=aes256gcm16
passed=0 failed=0
fail() { log "FAIL [$case]: $*"; ok=0; }
done_case() {
    if [ $ok = 1 ]; then passed=$((passed + 1)); log "ok [$case]"; else failed=$((failed + 1)); fi
}

H=hbh$$ S=hbs$$ V=hbv$$
mk_workdir HDIR hub
mk_workdir SDIR site
mk_workdir VDIR east
for ns in "$H" "$S" "$V"; do ns_create "$ns"; done
for ns in "$H" "$V"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
link_pair "$H" 192.0.2.1 "$S" 192.0.2.2
link_pair "$H" 198.51.100.1 "$V" 198.51.100.2
inner_addr "$S" 10.2.0.1

hub_if=(interface=vti-east) v_if=(interface=vti-hub)
if [ "$HUB_LEGACY" = 1 ]; then
    log "HUB_LEGACY=1: no interface field (route-based tunnels share vpn0); the vti-east checks will fail"
    hub_if=() v_if=()
fi
gw_write_config "$HDIR/gateway.toml" name=hub listen=192.0.2.1,198.51.100.1 control_socket="$HDIR/gateway.sock" \
    tun=vpn0 tun_addresses=10.1.0.1/32
gw_add_connection "$HDIR/gateway.toml" name=dc1 kind=site-to-site remote_address=192.0.2.2 local_id=hub \
    remote_id=dc1 psk="$PSK" routing=policy-based connection_mode=responder-only \
    local_selectors=10.1.0.0/24 remote_selectors=10.2.0.0/24 ike_proposals="$IKE" esp_proposals="$ESP"
gw_add_connection "$HDIR/gateway.toml" name=east kind=vnet-to-vnet remote_address=198.51.100.2 local_id=hub \
    remote_id=east psk="$PSK" routing=route-based connection_mode=responder-only \
    remote_selectors=10.4.0.0/16 "${hub_if[@]}" ike_proposals="$IKE" esp_proposals="$ESP"
gw_write_config "$VDIR/gateway.toml" name=east listen=198.51.100.2 control_socket="$VDIR/gateway.sock" \
    tun=vpn0 tun_addresses=10.4.0.1/32
gw_add_connection "$VDIR/gateway.toml" name=hub kind=vnet-to-vnet remote_address=198.51.100.1 local_id=east \
    remote_id=hub psk="$PSK" routing=route-based remote_selectors=10.1.0.0/16 "${v_if[@]}" \
    ike_proposals="$IKE" esp_proposals="$ESP"
for f in "$HDIR/gateway.toml" "$VDIR/gateway.toml"; do
    out=$(timeout 30 "$VPN_GATEWAY" check --config "$f" 2>&1) || log "vpn-gateway check refuses $f: $out"
done

# --- starting and stopping the three --------------------------------------------------------
start_hub() { gw_start "$H" "$HDIR" "$HDIR/gateway.toml"; }

# up_dc1: strongSwan started (if it is not running), connection loaded and initiated; waits until
# the hub lists the very IKE SA strongSwan has (same SPIs: not a stale one).
up_dc1() {
    if [ -z "${IOP_CHARON_PID[$S]:-}" ]; then charon_start "$S" "$SDIR" || return 1; fi
    write_swanctl_conn "$S" dc1 local_addrs=192.0.2.2 remote_addrs=192.0.2.1 local_id=dc1 remote_id=hub \
        psk="$PSK" local_ts=10.2.0.0/24 remote_ts=10.1.0.0/24 ike="$IKE" esp="$ESP" start_action=none
    ss_load "$S" "$SDIR" || { log "strongSwan: load failed"; return 1; }
    swanctl "$S" "$SDIR" --initiate --child dc1 --timeout 20 >/dev/null || { log "strongSwan: initiate dc1 failed"; return 1; }
    wait_same_sa dc1 "$(list_sas_kv "$S" "$SDIR" dc1 | kv_get ike_initiator_spi)"
}

# up_east: V started (it initiates at start); waits until the hub lists V's IKE SA.
up_east() {
    if [ -z "${IOP_GW_PID[$V]:-}" ]; then gw_start "$V" "$VDIR" "$VDIR/gateway.toml" || return 1; fi
    wait_for_gw_sa "$V" hub 20 || return 1
    wait_same_sa east "$(gw_sas_kv "$V" hub | kv_get ike_initiator_spi)"
}

# wait_same_sa NAME SPI_I: the hub lists an ESTABLISHED IKE SA NAME with initiator SPI SPI_I and
# an INSTALLED child (10 s at most).
wait_same_sa() {
    local name=$1 spi=$2 i
    [ -n "$spi" ] || { log "no initiator SPI for $name"; return 1; }
    for i in $(seq 50); do
        gw_json "$H" | python3 -c '
import json, sys
r = json.load(sys.stdin)
sys.exit(0 if any(sa.get("name") == sys.argv[1] and sa.get("spi_i") == sys.argv[2] and
                  sa.get("state") == "ESTABLISHED" and
                  any(c.get("state") == "INSTALLED" for c in sa.get("children", []))
                  for sa in r.get("ike_sas", [])) else 1)
' "$name" "$spi" 2>/dev/null && return 0
        sleep 0.2
    done
    log "the hub lists no ESTABLISHED $name IKE SA with initiator SPI $spi"
    return 1
}

stop_all() {
    gw_stop "$V"
    charon_stop "$S"
    gw_stop "$H"
    rm -f "/etc/netns/$S/swanctl/conf.d/dc1.conf"
}

# --- the checks -------------------------------------------------------------------------------
# ping_iso WHAT SRC_NS SRC_IP DST_IP RIGHT WRONG VTI: 3 pings, then the counters (see the top).
# VTI: "grow" (vti-east RX must grow) or "same" (must not move).
ping_iso() {
    local what=$1 ns=$2 src=$3 dst=$4 right=$5 wrong=$6 vti=$7 j r0 r1 w0 w1 rx0 rx1
    j=$(gw_json "$H")
    r0=$(gw_child_counters "$right" <<<"$j") w0=$(gw_child_counters "$wrong" <<<"$j")
    rx0=$(link_rx_packets "$H" vti-east)
    ip netns exec "$ns" ping -I "$src" "$dst" -c 3 -i 0.2 -W 2 -q >/dev/null 2>&1 || fail "$what: ping $src -> $dst"
    sleep 0.3
    j=$(gw_json "$H")
    r1=$(gw_child_counters "$right" <<<"$j") w1=$(gw_child_counters "$wrong" <<<"$j")
    rx1=$(link_rx_packets "$H" vti-east)
    read -r ri0 ro0 <<<"$r0"
    read -r ri1 ro1 <<<"$r1"
    if [ $((ri1 - ri0)) -lt 3 ] || [ $((ro1 - ro0)) -lt 3 ]; then
        fail "$what: $right's child moved in +$((ri1 - ri0)) out +$((ro1 - ro0)) packets (want >= 3 each)"
    fi
    [ "$w0" = "$w1" ] || fail "$what: $wrong's child moved (in/out $w0 -> $w1): traffic took the wrong tunnel"
    if [ -z "$rx0" ] || [ -z "$rx1" ]; then
        fail "$what: the hub has no interface vti-east (a route-based connection with interface = \"vti-east\" gets its own TUN device)"
    elif [ "$vti" = grow ] && [ $((rx1 - rx0)) -lt 3 ]; then
        fail "$what: vti-east RX grew by $((rx1 - rx0)) packets (want >= 3: V's packets come out of vti-east)"
    elif [ "$vti" = same ] && [ "$rx1" != "$rx0" ]; then
        fail "$what: vti-east RX grew by $((rx1 - rx0)) packets with S's traffic (want 0)"
    fi
}

check_all() { # LABEL
    ping_iso "$1: S->hub" "$S" 10.2.0.1 10.1.0.1 dc1 east same
    ping_iso "$1: hub->S" "$H" 10.1.0.1 10.2.0.1 dc1 east same
    ping_iso "$1: V->hub" "$V" 10.4.0.1 10.1.0.1 east dc1 grow
    ping_iso "$1: hub->V" "$H" 10.1.0.1 10.4.0.1 east dc1 grow
    tcp_transfer "$S" 10.2.0.1 "$H" 10.1.0.1 2M || fail "$1: TCP S -> hub"
    tcp_transfer "$V" 10.4.0.1 "$H" 10.1.0.1 2M || fail "$1: TCP V -> hub"
}

show_routes() { # for the log: where the hub routes the two remote networks
    log "  hub routes: $(ip -n "$H" route get 10.2.0.1 from 10.1.0.1 2>&1 | head -1) | $(ip -n "$H" route get 10.4.0.1 from 10.1.0.1 2>&1 | head -1)"
}

# ---------------------------------------------------------------------------------------------
case="a: dc1 up first, then east"
ok=1
if start_hub; then
    up_dc1 || fail "dc1 did not come up"
    up_east || fail "east did not come up"
    show_routes
    check_all a
else
    fail "the hub did not start (config refused? see above)"
fi
stop_all
done_case

case="b: east up first, then dc1"
ok=1
if start_hub; then
    up_east || fail "east did not come up"
    up_dc1 || fail "dc1 did not come up"
    show_routes
    check_all b
    hub_ok=1
else
    fail "the hub did not start (config refused? see above)"
    hub_ok=0
fi
done_case

case="c: each peer restarted"
ok=1
if [ "$hub_ok" = 1 ]; then
    # strongSwan dies (no Delete), comes back, loads and initiates again.
    charon_stop "$S" --kill
    up_dc1 || fail "dc1 did not come up after strongSwan restarted"
    check_all "c, strongSwan restarted"
    # V stops (sends a Delete) and starts again (initiates).
    gw_stop "$V"
    up_east || fail "east did not come up after V restarted"
    show_routes
    check_all "c, V restarted"
else
    fail "the hub did not start"
fi
stop_all
done_case

echo "hub: $passed passed, $failed failed"
[ $failed = 0 ] && [ $passed -gt 0 ]
