#!/usr/bin/env bash
# NAT rebinding: strongSwan 5.9 (userspace ESP, so always ESP in UDP on 4500) behind a NAT router
# that masquerades with random ports initiates to vpn-gateway (remote_address=%any,
# responder-only). Topology, all in namespaces this script creates:
#
#   SS 192.168.50.2/24 --- 192.168.50.1/24 NAT 192.0.2.1/24 --- 192.0.2.2/24 GW
#   (inner 10.1.0.1 on lo,   masquerade random on the           (tun vpn0, 10.2.0.1/32)
#    default via .50.1)      outside interface)
#
#   a. the tunnel comes up; the gateway sees the peer at the NAT's outside address and at the
#      external port conntrack lists for 192.168.50.2:4500.
#   b. while SS pings 10.2.0.1 every 0.2 s, the NAT's conntrack table is flushed: the next packet
#      leaves on a NEW external port. The gateway must follow: at least 80% of the echo requests
#      sent more than 5 s after the flush answered, a ping from GW started 6 s after the flush
#      answered, the same IKE SA (IKE SPIs) before and after, and the gateway's status showing
#      the new port. strongSwan sends no DPD (dpd_delay=0), so no IKE message tells the gateway
#      about the new port: it has to learn it from the ESP packets.
#   (The reverse, the gateway pinging across a flushed NAT, is not tested: nothing reaches SS
#   until it sends something itself, i.e. its NAT keepalive, 20 s later.)
# NAT_MASQ_OPTS (default "random") are the masquerade options; NAT_MASQ_OPTS="" (port-preserving
# NAT: the flushed mapping comes back on the same port) is a control run of the measurements:
# then the ping checks must pass and only the "new port" checks fail.
# Each case prints what it measured. Last line: `nat-rebind: N passed, M failed`. Run as root.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/strongswan/lib.sh"
need_root
iop_supervise "$@"
ss_install
: "${VPN_GATEWAY:?set VPN_GATEWAY to the vpn-gateway binary}"
command -v conntrack >/dev/null || die "conntrack (conntrack-tools) is needed"
command -v nft >/dev/null || die "nft (nftables) is needed"

IKE=aes256gcm16-prfsha256-x25519 ESP=aes256gcm16 PSK="nat rebind test psk, long enough"
SS_IN=192.168.50.2 NAT_IN=192.168.50.1 NAT_OUT=192.0.2.1 GW_IP=192.0.2.2
NAT_MASQ_OPTS=${NAT_MASQ_OPTS-random}
passed=0 failed=0
fail() { log "FAIL [$case]: $*"; ok=0; }
finish() { if [ $ok = 1 ]; then passed=$((passed + 1)); log "ok [$case]"; else failed=$((failed + 1)); fi; }
now() { date +%s.%N; }

SS=ssn$$ NAT=nat$$ GW=gwn$$
mk_workdir SSDIR strongswan
mk_workdir GWDIR gateway
mk_workdir PINGDIR ping
ns_create "$SS"
ns_create "$GW"
nat_router_create "$NAT" "$SS" "$SS_IN/24" "$NAT_IN/24" "$GW" "$GW_IP/24" "$NAT_OUT/24" "$NAT_MASQ_OPTS"
inner_addr "$SS" 10.1.0.1
log "NAT router $NAT: inside $NAT_IN_IF, outside $NAT_OUT_IF (masquerade $NAT_MASQ_OPTS)"

charon_start "$SS" "$SSDIR" || die "charon did not start"
write_swanctl_conn "$SS" net local_addrs=$SS_IN remote_addrs=$GW_IP local_id=left remote_id=right \
    psk="$PSK" local_ts=10.1.0.0/24 remote_ts=10.2.0.0/24 ike="$IKE" esp="$ESP" start_action=none
ss_load "$SS" "$SSDIR" || die "swanctl --load-all"
gw_write_config "$GWDIR/gateway.toml" name=right listen=$GW_IP control_socket="$GWDIR/gateway.sock" \
    tun=vpn0 tun_addresses=10.2.0.1/32 retransmit_timeout=1s retransmit_tries=3
gw_add_connection "$GWDIR/gateway.toml" name=net remote_address=%any local_id=right remote_id=left \
    psk="$PSK" local_selectors=10.2.0.0/24 remote_selectors=10.1.0.0/24 \
    ike_proposals="$IKE" esp_proposals="$ESP" connection_mode=responder-only
gw_start "$GW" "$GWDIR" "$GWDIR/gateway.toml" || die "vpn-gateway did not start"

gw_kv() { gw_sas_kv "$GW" net; }
ext_port() { nat_external_port "$NAT" "$SS_IN" 4500; }

# ---------------------------------------------------------------------------------------------
case="a. established through the NAT"
ok=1
swanctl "$SS" "$SSDIR" --initiate --child net --timeout 20 >/dev/null || fail "strongSwan --initiate"
wait_for_sa "$SS" "$SSDIR" net 20 || fail "no SA on strongSwan"
wait_for_gw_sa "$GW" net 20 || fail "no SA on vpn-gateway"
kv=$(gw_kv)
log "  the gateway's IKE SA: $(grep -E '^ike_(remote|local)_(host|port)=|^ike_(initiator|responder)_spi=' <<<"$kv" | tr '\n' ' ')"
log "  NAT conntrack (udp):"
nat_conntrack "$NAT" | sed 's/^/    /' >&2
port1=$(kv_get ike_remote_port <<<"$kv")
host1=$(kv_get ike_remote_host <<<"$kv")
ext1=$(ext_port) || ext1=""
spi_i1=$(kv_get ike_initiator_spi <<<"$kv")
spi_r1=$(kv_get ike_responder_spi <<<"$kv")
log "  MEASURED: the gateway sees the peer at $host1:$port1; conntrack maps $SS_IN:4500 to $NAT_OUT:${ext1:-?}"
[ "$host1" = "$NAT_OUT" ] || fail "the gateway lists the peer at '$host1', not the NAT's outside address $NAT_OUT"
[ -n "$ext1" ] || fail "conntrack lists no mapping for $SS_IN:4500"
[ -n "$port1" ] && [ "$port1" = "$ext1" ] || fail "the gateway's remote port '$port1' is not the NAT's external port '$ext1'"
ip netns exec "$SS" ping -I 10.1.0.1 -c 3 -i 0.2 -W 1 -q 10.2.0.1 >/dev/null 2>&1 || fail "no ping through the tunnel"
finish

# ---------------------------------------------------------------------------------------------
# ping_stats FILE FLUSH_T: reads `ping -D -O` output (FILE) of a ping started with -i 0.2 and
# prints "SENT_LATE ANSWERED_LATE FIRST_REPLY_AFTER": the echo requests sent more than 5 s after
# FLUSH_T (epoch seconds), how many of those were answered, and the seconds from FLUSH_T to the
# first reply to a request sent after FLUSH_T (-1 if none). A request's send time is taken from
# the replies (timestamp - rtt), extrapolated at 0.2 s per sequence number.
ping_stats() {
    awk -v flush="$2" '
        /icmp_seq=/ {
            ts = $1; gsub(/[][]/, "", ts)
            seq = $0; sub(/.*icmp_seq=/, "", seq); sub(/[^0-9].*/, "", seq); seq += 0
            if (seq > maxseq) maxseq = seq
            if ($0 ~ / time=/) {
                rtt = $0; sub(/.* time=/, "", rtt); sub(/ .*/, "", rtt)
                sent = ts - rtt / 1000
                if (base == "") base = sent - (seq - 1) * 0.2
                got[seq] = ts
            }
        }
        END {
            if (base == "") { print 0, 0, -1; exit }
            first = -1
            for (s = 1; s <= maxseq; s++) {
                t = base + (s - 1) * 0.2
                if (t > flush + 5) { late++; if (s in got) lateok++ }
                if (t > flush && (s in got) && (first < 0 || got[s] - flush < first)) first = got[s] - flush
            }
            printf "%d %d %.2f\n", late, lateok, first
        }' "$1"
}

case="b. NAT rebinding while strongSwan pings"
ok=1
ip netns exec "$SS" timeout 40 ping -D -O -I 10.1.0.1 -i 0.2 -c 100 -W 1 10.2.0.1 >"$PINGDIR/ss.txt" 2>&1 &
ss_ping=$!
iop_track_pid "$ss_ping"
sleep 3
flush_t=$(now)
nat_flush "$NAT" || fail "conntrack -F"
log "  conntrack flushed at $(date -u -d "@${flush_t%.*}" +%H:%M:%S)"
# the next packet from SS makes a new mapping: wait for it (3 s at most)
ext2=""
for i in $(seq 30); do
    ext2=$(ext_port) && [ -n "$ext2" ] && break
    sleep 0.1
done
log "  MEASURED: external port before $ext1, after the flush ${ext2:-none}"
[ -n "$ext2" ] || fail "no new conntrack mapping for $SS_IN:4500 after the flush"
[ -n "$ext2" ] && [ "$ext2" = "$ext1" ] && fail "the new mapping has the same external port $ext2 (masquerade random?)"
# 6 s after the flush: a ping from the gateway's side too
sleep "$(awk -v f="$flush_t" -v n="$(now)" 'BEGIN { d = f + 6 - n; print (d > 0 ? d : 0) }')"
gw_out=$(ip netns exec "$GW" timeout 20 ping -I 10.2.0.1 -i 0.2 -c 25 -W 1 -q 10.1.0.1 2>&1 | grep "packets transmitted")
log "  ping from GW 6 s after the flush: ${gw_out:-no output}"
gw_rx=$(awk '{ print $4 }' <<<"$gw_out")
gw_tx=$(awk '{ print $1 }' <<<"$gw_out")
if [ -z "$gw_rx" ] || [ "$gw_rx" -eq 0 ] || [ $((gw_rx * 100)) -lt $((gw_tx * 80)) ]; then
    fail "the ping from GW 6 s after the flush: ${gw_rx:-0} of ${gw_tx:-?} answered (want at least 80%)"
fi
wait "$ss_ping" 2>/dev/null
read -r late lateok first < <(ping_stats "$PINGDIR/ss.txt" "$flush_t")
log "  ping from SS: $(grep "packets transmitted" "$PINGDIR/ss.txt")"
if awk -v f="$first" 'BEGIN { exit !(f >= 0) }'; then
    log "  MEASURED: recovery: first reply $first s after the flush"
else
    log "  MEASURED: recovery: no reply to a request sent after the flush"
fi
log "  MEASURED: requests sent more than 5 s after the flush: $lateok of $late answered"
if [ "$late" -eq 0 ] || [ $((lateok * 100)) -lt $((late * 80)) ]; then
    fail "only $lateok of $late echo requests sent more than 5 s after the flush were answered (want 80%)"
fi
kv=$(gw_kv)
spi_i2=$(kv_get ike_initiator_spi <<<"$kv")
spi_r2=$(kv_get ike_responder_spi <<<"$kv")
port2=$(kv_get ike_remote_port <<<"$kv")
ext3=$(ext_port) || ext3=""
log "  MEASURED: the gateway now lists the peer at $(kv_get ike_remote_host <<<"$kv"):${port2:-?} (before $host1:$port1); conntrack's external port ${ext3:-none}"
[ "$spi_i2" = "$spi_i1" ] && [ "$spi_r2" = "$spi_r1" ] ||
    fail "not the same IKE SA: SPIs ${spi_i1}_i ${spi_r1}_r before, ${spi_i2:-none}_i ${spi_r2:-none}_r after"
[ -n "$port2" ] && [ "$port2" != "$port1" ] && [ "$port2" = "${ext3:-$ext2}" ] ||
    fail "the gateway lists remote port '${port2}', not the new external port '${ext3:-$ext2}' (was $port1)"
finish

echo "nat-rebind: $passed passed, $failed failed"
[ $failed = 0 ] && [ $passed -gt 0 ]
