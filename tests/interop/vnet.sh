#!/usr/bin/env bash
# vpn-gateway to vpn-gateway (VNet-to-VNet), and one gateway serving three peers at once, in
# network namespaces. Last line: `vnet: N passed, M failed`. Run as root.
#   VPN_GATEWAY=path/to/vpn-gateway tests/interop/vnet.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/strongswan/lib.sh"
need_root
iop_supervise "$@"
ss_install
: "${VPN_GATEWAY:?set VPN_GATEWAY to the vpn-gateway binary}"

PSK="vnet test psk, long enough"
IKE=aes256gcm16-prfsha256-x25519 ESP=aes256gcm16
passed=0 failed=0
fail() { log "FAIL [$case]: $*"; ok=0; }
done_case() {
    if [ $ok = 1 ]; then passed=$((passed + 1)); log "ok [$case]"; else failed=$((failed + 1)); fi
}

# 1. Two gateways: west initiates at start (connection_mode default), east answers.
case="vnet-to-vnet: west <-> east"
ok=1
gw_pair_setup default || fail "a gateway did not start"
wait_for_gw_sa "$W" east 20 || fail "no SA on west"
wait_for_gw_sa "$E" west 20 || fail "no SA on east"
ip netns exec "$W" ping -I 10.1.0.1 10.2.0.1 -c 3 -W 2 -q >/dev/null || fail "ping west -> east"
ip netns exec "$E" ping -I 10.2.0.1 10.1.0.1 -c 3 -W 2 -q >/dev/null || fail "ping east -> west"
tcp_transfer "$W" 10.1.0.1 "$E" 10.2.0.1 4M || fail "TCP west -> east"
tcp_transfer "$E" 10.2.0.1 "$W" 10.1.0.1 4M || fail "TCP east -> west"
if ! diffs=$(sa_compare "$(gw_sas_kv "$W" east)" "$(gw_sas_kv "$E" west)"); then
    fail "the two gateways' SA listings differ: $diffs"
fi
gw_stop "$W"
t=0
while [ -n "$(gw_sas_kv "$E" west | kv_get ike_spi_i)" ] && [ $t -lt 50 ]; do sleep 0.2; t=$((t + 1)); done
[ $t -lt 50 ] || fail "east kept the SA after west stopped (it sends a Delete on exit)"
gw_stop "$E"
ip netns exec "$W" ip link show vpn0 >/dev/null 2>&1 && fail "west left its TUN device behind"
ip netns exec "$W" ip route | grep -q 10.2.0.0 && fail "west left its route behind"
done_case

# 2. A hub serving three peers at once: two strongSwans and a vpn-gateway, each on its own link
#    and subnet; each peer initiates; traffic crosses every tunnel in both directions.
case="hub with three peers"
ok=1
H=hub$$ P1=sp1$$ P2=sp2$$ P3=gwp$$
mk_workdir HDIR hub
mk_workdir P1DIR peer1
mk_workdir P2DIR peer2
mk_workdir P3DIR peer3
for ns in "$H" "$P1" "$P2" "$P3"; do ns_create "$ns"; done
link_pair "$H" 192.0.2.1 "$P1" 192.0.2.2
link_pair "$H" 198.51.100.1 "$P2" 198.51.100.2
link_pair "$H" 203.0.113.1 "$P3" 203.0.113.2
inner_addr "$P1" 10.11.0.1
inner_addr "$P2" 10.12.0.1
gw_write_config "$HDIR/gateway.toml" name=hub listen=192.0.2.1,198.51.100.1,203.0.113.1 \
    control_socket="$HDIR/gateway.sock" tun=vpn0 tun_addresses=10.10.0.1/32
# The hub initiates to peer2 (from its second address, the one the route to peer2 goes out of);
# peer1 and peer3 initiate to the hub.
for i in 1 2 3; do
    case $i in 1) ra=192.0.2.2 ;; 2) ra=198.51.100.2 ;; 3) ra=203.0.113.2 ;; esac
    mode=responder-only
    [ $i = 2 ] && mode=initiator-only
    gw_add_connection "$HDIR/gateway.toml" name=peer$i remote_address=$ra local_id=hub remote_id=peer$i \
        psk="$PSK" connection_mode=$mode local_selectors=10.10.0.0/24 \
        remote_selectors=10.1$i.0.0/24 ike_proposals="$IKE" esp_proposals="$ESP"
done
gw_start "$H" "$HDIR" "$HDIR/gateway.toml" || fail "hub did not start"
for i in 1 2; do
    ns=P$i dir=P${i}DIR la=$([ $i = 1 ] && echo 192.0.2.2 || echo 198.51.100.2)
    ra=$([ $i = 1 ] && echo 192.0.2.1 || echo 198.51.100.1)
    charon_start "${!ns}" "${!dir}"
    write_swanctl_conn "${!ns}" hub local_addrs=$la remote_addrs=$ra local_id=peer$i remote_id=hub \
        psk="$PSK" local_ts=10.1$i.0.0/24 remote_ts=10.10.0.0/24 ike="$IKE" esp="$ESP" start_action=none
    ss_load "${!ns}" "${!dir}" || fail "peer$i: load"
    if [ $i = 1 ]; then
        swanctl "${!ns}" "${!dir}" --initiate --child hub --timeout 20 >/dev/null || fail "peer$i: initiate"
    else
        gw_ctl "$H" initiate peer2 >/dev/null || fail "hub: initiate peer2"
    fi
done
gw_write_config "$P3DIR/gateway.toml" name=peer3 listen=203.0.113.2 control_socket="$P3DIR/gateway.sock" \
    tun=vpn0 tun_addresses=10.13.0.1/32
gw_add_connection "$P3DIR/gateway.toml" name=hub kind=vnet-to-vnet remote_address=203.0.113.1 local_id=peer3 \
    remote_id=hub psk="$PSK" local_selectors=10.13.0.0/24 remote_selectors=10.10.0.0/24 \
    ike_proposals="$IKE" esp_proposals="$ESP"
gw_start "$P3" "$P3DIR" "$P3DIR/gateway.toml" || fail "peer3 did not start"
for i in 1 2 3; do wait_for_gw_sa "$H" peer$i 20 || fail "hub has no SA for peer$i"; done
[ "$(gw_ctl "$H" status --json | grep -c '"spi_in"')" = 3 ] || fail "hub does not list three Child SAs"
for i in 1 2 3; do
    ns=P$i
    ip netns exec "${!ns}" ping -I 10.1$i.0.1 10.10.0.1 -c 2 -W 2 -q >/dev/null || fail "ping peer$i -> hub"
    ip netns exec "$H" ping -I 10.10.0.1 10.1$i.0.1 -c 2 -W 2 -q >/dev/null || fail "ping hub -> peer$i"
    tcp_transfer "${!ns}" 10.1$i.0.1 "$H" 10.10.0.1 1M || fail "TCP peer$i -> hub"
done
for i in 1 2; do
    ns=P$i dir=P${i}DIR
    if ! diffs=$(sa_compare "$(list_sas_kv "${!ns}" "${!dir}" hub)" "$(gw_sas_kv "$H" peer$i)"); then
        fail "peer$i and hub disagree: $diffs"
    fi
done
if ! diffs=$(sa_compare "$(gw_sas_kv "$P3" hub)" "$(gw_sas_kv "$H" peer3)"); then
    fail "peer3 and hub disagree: $diffs"
fi
gw_stop "$P3"
gw_stop "$H"
done_case

echo "vnet: $passed passed, $failed failed"
[ $failed = 0 ] && [ $passed -gt 0 ]
