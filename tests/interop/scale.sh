#!/usr/bin/env bash
# Scale: one vpn-gateway hub with N PSK site-to-site connections, against ONE strongSwan charon
# that stands in for N sites (N outer addresses on one veth link, N inner subnets on its lo).
# Last line: `scale: N passed, M failed`. Run as root.
#   VPN_GATEWAY=path/to/vpn-gateway [SCALE_N=1000] tests/interop/scale.sh
#
# Layout (198.18.0.0/15 is the benchmarking range, RFC 2544):
#   hub namespace H:  veth 198.18.0.1/15, TUN vpn0 10.1.0.1/32, local networks 10.1.0.0/24
#   site namespace S: veth 198.18.1.1/15 plus one secondary address per site:
#                     site i (1..N) speaks IKE from 198.18.(1+(i-1)/250).(1+(i-1)%250) and
#                     protects 10.(100+i/250).(i%250).0/24, with 10.(100+i/250).(i%250).1 on lo.
#   hub connection site$i: remote_address = site i's address, local_id hub, remote_id site$i,
#   its own PSK, local_selectors 10.1.0.0/24, remote_selectors = site i's subnet,
#   aes256gcm16-prfsha256-x25519 / aes256gcm16.
#
# Cases (each prints one figure line; the summary block at the end can go into a README):
#   a. strongSwan initiates all N at once (the hub is responder-only): time from the first
#      initiate until the hub lists N ESTABLISHED IKE SAs each with an INSTALLED Child SA; the
#      hub's RSS before any SA and with N up, and (difference) / N per connection. charon itself
#      accepts vici initiate requests at about 100/s here while it runs the exchanges (2 cores),
#      so for large N this figure is bounded by strongSwan's initiation rate; it is printed too.
#   c. every site pings through its own tunnel (hub -> 10.x.y.1 from 10.1.0.1, batches of 50):
#      N replies; then in the hub's status JSON each site's child counted packets in and out
#      and its remote_ts is that site's subnet.
#   d. `status` (text) lists N IKE SA blocks, one per site.
#   b. the hub restarts with connection_mode=default (strongSwan only answers): every site up
#      and pinging within SCALE_B_LIMIT (30) s, with no cookie or retransmission storm (COOKIE
#      notifies, "peer too aggressive" drops and retransmissions counted in strongSwan's
#      charon.log and the hub's gateway.log since the restart; at most SCALE_MAX_STORM each,
#      default N/20).
#
# strongSwan settings (strongswan.conf charon { }) and why:
#   retransmit_timeout = 4.0, retransmit_base = 1.8  strongSwan's defaults again (lib.sh shortens
#                        them to 2.0/1.4 to keep small tests short; at scale a short timeout
#                        would itself cause a retransmission storm), retransmit_tries = 4 keeps
#                        a dead exchange bounded (4 + 7.2 + 13 + 23 s).
#   ikesa_table_size = 1024, ikesa_table_segments = 16   the IKE SA manager's hash table (default
#                        32 buckets, 1 lock segment) sized for 1000 SAs.
#   cookie_threshold = SCALE_SS_COOKIE_THRESHOLD (default 10; strongSwan 5.9.8's is 30): cookies
#                        once 10 SAs are half-open in all. One charon plays all N sites, so this
#                        counts the hub's IKE_SA_INITs in flight to every site together: the
#                        hub's pacing (gateway.max_connecting, default 4) must keep it below 10.
#   cookie_threshold_ip = block_threshold = SCALE_SS_IP_THRESHOLD (default N + 1; strongSwan's are
#                        3 and 5 per source address): every site would see one half-open SA
#                        from the hub, but here all N sites are one charon that sees the hub's
#                        one address N times, so the per-address limits are raised to emulate N
#                        independent peers (left at 3/5 they would measure the harness).
#   init_limit_half_open = 0 (strongSwan's default, no limit).
#   threads: left at 16 (2 cores here; more workers do not help).
#   IKE log level: lib.sh's (ike 2, others 1); "N(COOKIE)" lines are ENC level 1.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/strongswan/lib.sh"
. "$here/strongswan/scale-lib.sh"
need_root
iop_supervise "$@"
ss_install
: "${VPN_GATEWAY:?set VPN_GATEWAY to the vpn-gateway binary}"

N=${SCALE_N:-1000}
[ "$N" -ge 1 ] && [ "$N" -le 1000 ] || die "SCALE_N must be 1..1000 (the address plan holds 1000 sites)"
: "${SCALE_SS_COOKIE_THRESHOLD:=10}" "${SCALE_SS_IP_THRESHOLD:=$((N + 1))}"
: "${SCALE_A_TIMEOUT:=$((60 + N / 10))}" # seconds case a may take before it counts as failed
: "${SCALE_B_LIMIT:=30}"                 # the requirement for case b
: "${SCALE_B_TIMEOUT:=$((60 + N / 10))}" # how long case b keeps measuring beyond the limit
: "${SCALE_MAX_STORM:=$((N / 20))}"
IKE=aes256gcm16-prfsha256-x25519 ESP=aes256gcm16
export IOP_SWANCTL_TIMEOUT=$((60 + N / 5)) # loading N connections
IOP_CHARON_EXTRA="retransmit_timeout = 4.0
  retransmit_base = 1.8
  retransmit_tries = 4
  ikesa_table_size = 1024
  ikesa_table_segments = 16
  cookie_threshold = $SCALE_SS_COOKIE_THRESHOLD
  cookie_threshold_ip = $SCALE_SS_IP_THRESHOLD
  block_threshold = $SCALE_SS_IP_THRESHOLD
  init_limit_half_open = 0"

passed=0 failed=0
fail() { log "FAIL [$case]: $*"; ok=0; }
done_case() {
    if [ $ok = 1 ]; then passed=$((passed + 1)); log "ok [$case]"; else failed=$((failed + 1)); fi
}
SUMMARY=()
figure() { echo "$*"; SUMMARY+=("$*"); }

H=sch$$ S=scs$$
mk_workdir HDIR scale-hub
mk_workdir SDIR scale-ss
ns_create "$H"
ns_create "$S"
link_pair "$H" 198.18.0.1/15 "$S" 198.18.1.1/15
HIF=$LINK_IF1 SIF=$LINK_IF2

# The address plan, generated once: DIR/sites has "i name peer_addr subnet inner" per site.
python3 - "$N" >"$SDIR/sites" <<'EOF'
import sys
n = int(sys.argv[1])
for i in range(1, n + 1):
    peer = "198.18.%d.%d" % (1 + (i - 1) // 250, 1 + (i - 1) % 250)
    a, b = 100 + i // 250, i % 250
    print(i, "site%d" % i, peer, "10.%d.%d.0/24" % (a, b), "10.%d.%d.1" % (a, b))
EOF

# strongSwan's side: N-1 more addresses on its veth, N inner addresses on lo (ip -batch: one
# process instead of 2N).
awk -v dev="$SIF" 'NR > 1 { print "addr add " $3 "/15 dev " dev } { print "addr add " $5 "/32 dev lo" }' \
    "$SDIR/sites" | ip -n "$S" -batch - || die "adding the sites' addresses failed"
# The kernel's ARP table is shared by all namespaces (gc_thresh3 = 1024 entries in all); N
# dynamic entries on the hub could overflow it. Permanent entries are exempt from that limit.
smac=$(ip -n "$S" -j link show dev "$SIF" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')
hmac=$(ip -n "$H" -j link show dev "$HIF" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')
awk -v dev="$HIF" -v mac="$smac" '{ print "neigh replace " $3 " lladdr " mac " dev " dev " nud permanent" }' \
    "$SDIR/sites" | ip -n "$H" -batch - || die "hub neighbour entries failed"
ip -n "$S" neigh replace 198.18.0.1 lladdr "$hmac" dev "$SIF" nud permanent

# Hub config for MODE, written directly (see the timing of gw_add_connection below).
hub_config() { # FILE MODE
    python3 - "$SDIR/sites" "$1" "$2" "$HDIR/gateway.sock" "$IKE" "$ESP" <<'EOF'
import sys
sites, out, mode, sock, ike, esp = sys.argv[1:]
with open(out, "w") as f:
    f.write('# vpn-gateway hub config written by tests/interop/scale.sh\n[gateway]\nname = "hub"\n'
            'listen = ["198.18.0.1"]\ncontrol_socket = "%s"\ntun = "vpn0"\n'
            'tun_addresses = ["10.1.0.1/32"]\n' % sock)
    for line in open(sites):
        i, name, peer, subnet, inner = line.split()
        f.write('\n[[connection]]\nname = "%s"\nremote_address = "%s"\nlocal_id = "hub"\n'
                'remote_id = "%s"\npsk = "scale psk %s, long enough"\nconnection_mode = "%s"\n'
                'local_selectors = ["10.1.0.0/24"]\nremote_selectors = ["%s"]\n'
                'ike_proposals = ["%s"]\nesp_proposals = ["%s"]\n'
                % (name, peer, name, i, mode, subnet, ike, esp))
EOF
}
t0=$(now_ms)
hub_config "$HDIR/responder.toml" responder-only
hub_config "$HDIR/default.toml" default
gen_ms=$(($(now_ms) - t0))
# For the record: the same config through lib.sh's gw_add_connection, one call per connection.
t0=$(now_ms)
gw_write_config "$HDIR/lib.toml" name=hub listen=198.18.0.1 control_socket="$HDIR/gateway.sock" tun=vpn0 \
    tun_addresses=10.1.0.1/32
while read -r i name peer subnet inner; do
    gw_add_connection "$HDIR/lib.toml" name="$name" remote_address="$peer" local_id=hub remote_id="$name" \
        psk="scale psk $i, long enough" connection_mode=responder-only local_selectors=10.1.0.0/24 \
        remote_selectors="$subnet" ike_proposals="$IKE" esp_proposals="$ESP"
done <"$SDIR/sites"
lib_ms=$(($(now_ms) - t0))
log "hub config for $N connections: python $(ms_to_s $gen_ms) s for two files, gw_add_connection $(ms_to_s $lib_ms) s"
out=$(timeout 60 "$VPN_GATEWAY" check --config "$HDIR/default.toml" 2>&1) ||
    log "vpn-gateway check refused the generated config: $out"

# strongSwan: N connections in one file, start_action=none (case a initiates over vici).
charon_start "$S" "$SDIR" || die "charon did not start"
python3 - "$SDIR/sites" "/etc/netns/$S/swanctl/conf.d/scale.conf" "$IKE" "$ESP" <<'EOF'
import sys
sites, out, ike, esp = sys.argv[1:]
conns, secrets = [], []
for line in open(sites):
    i, name, peer, subnet, inner = line.split()
    conns.append("""  %(n)s {
    version = 2
    local_addrs = %(p)s
    remote_addrs = 198.18.0.1
    proposals = %(ike)s
    reauth_time = 0
    dpd_delay = 0s
    local {
      auth = psk
      id = %(n)s
    }
    remote {
      auth = psk
      id = hub
    }
    children {
      %(n)s {
        mode = tunnel
        local_ts = %(s)s
        remote_ts = 10.1.0.0/24
        esp_proposals = %(esp)s
        start_action = none
        dpd_action = clear
        close_action = none
      }
    }
  }
""" % dict(n=name, p=peer, s=subnet, ike=ike, esp=esp))
    secrets.append('  ike-%s {\n    id-local = %s\n    id-remote = hub\n    secret = "scale psk %s, long enough"\n  }\n'
                   % (name, name, i))
with open(out, "w") as f:
    f.write("# %d site connections, written by tests/interop/scale.sh\nconnections {\n" % len(conns))
    f.writelines(conns)
    f.write("}\nsecrets {\n")
    f.writelines(secrets)
    f.write("}\n")
EOF
t0=$(now_ms)
ss_load "$S" "$SDIR" || die "swanctl --load-all failed"
log "strongSwan loaded $N connections in $(ms_to_s $(($(now_ms) - t0))) s"
ss_conns=$(swanctl "$S" "$SDIR" --list-conns 2>/dev/null | grep -c '^site[0-9]*: IKEv2')
[ "$ss_conns" = "$N" ] || die "strongSwan lists $ss_conns connections, not $N"

# wait_up LIMIT_S: polls the hub's status every 0.5 s until N sites are up; sets UP (count) and
# UP_MS (ms since $T0, or empty when LIMIT_S passed first).
wait_up() {
    local end=$(($(now_ms) + $1 * 1000)) last=-1
    UP=0 UP_MS=""
    while :; do
        UP=$(gw_json "$H" | gw_count_up site)
        if [ "$UP" -ge "$N" ]; then UP_MS=$(($(now_ms) - T0)); return 0; fi
        if [ "$UP" != "$last" ]; then log "  $UP of $N up after $(ms_to_s $(($(now_ms) - T0))) s"; last=$UP; fi
        [ "$(now_ms)" -lt "$end" ] || return 1
        sleep 0.5
    done
}

# ping_sweep: from the hub, one ping per site (batches of 50 in parallel); sets REPLIES and
# PING_FAILED (the first few sites without a reply).
ping_sweep() {
    local res
    res=$(awk '{ print $5 }' "$SDIR/sites" | ip netns exec "$H" timeout $((30 + N / 10)) \
        xargs -P 50 -I{} sh -c 'ping -I 10.1.0.1 -c 1 -W 2 -q {} >/dev/null 2>&1 && echo "ok {}" || echo "no {}"')
    REPLIES=$(grep -c '^ok ' <<<"$res")
    PING_FAILED=$(grep '^no ' <<<"$res" | head -5 | awk '{ printf "%s ", $2 }')
}

# check_counters: each site's child counted packets both ways and has remote_ts = its subnet;
# prints the problems (at most 5) and returns 1 if any.
check_counters() {
    gw_json "$H" | python3 -c '
import json, sys
r = json.load(sys.stdin)
want = {}
for line in open(sys.argv[1]):
    i, name, peer, subnet, inner = line.split()
    want[name] = subnet
seen, bad = set(), []
for sa in r.get("ike_sas", []):
    name = sa.get("name")
    if name not in want or sa.get("state") != "ESTABLISHED":
        continue
    for c in sa.get("children", []):
        if c.get("state") not in ("INSTALLED", "REKEYING"):
            continue
        seen.add(name)
        if c.get("remote_ts") != [want[name]]:
            bad.append("%s: remote_ts %s, want [%s]" % (name, c.get("remote_ts"), want[name]))
        elif c.get("packets_in", 0) < 1 or c.get("packets_out", 0) < 1:
            bad.append("%s: packets_in %s packets_out %s" % (name, c.get("packets_in"), c.get("packets_out")))
for name in want:
    if name not in seen:
        bad.append("%s: no installed child" % name)
for b in bad[:5]:
    print(b)
if len(bad) > 5:
    print("... %d problems in all" % len(bad))
sys.exit(1 if bad else 0)
' "$SDIR/sites"
}

# storm_counts SS_FROM GW_FROM: cookies, drops and retransmissions in charon.log after line
# SS_FROM and gateway.log after line GW_FROM; sets ST_* and STORM (one line). Not in a $(...).
storm_counts() {
    local ss gw
    ss=$(tail -n +"$(($1 + 1))" "$SDIR/charon.log" 2>/dev/null)
    gw=$(tail -n +"$(($2 + 1))" "$HDIR/gateway.log" 2>/dev/null)
    ST_SS_COOKIE_SENT=$(grep -c 'generating IKE_SA_INIT response 0 \[ N(COOKIE) \]' <<<"$ss")
    ST_SS_COOKIE_RCVD=$(grep -c 'parsed IKE_SA_INIT response 0 \[ N(COOKIE) \]' <<<"$ss")
    ST_SS_COOKIE_BACK=$(grep -c 'parsed IKE_SA_INIT request 0 \[ N(COOKIE)' <<<"$ss")
    ST_SS_DROPPED=$(grep -c 'ignoring IKE_SA setup\|peer too aggressive\|ignoring IKE_SA_INIT' <<<"$ss")
    ST_SS_RETR_RCVD=$(grep -c 'received retransmit of request' <<<"$ss")
    ST_SS_RETR_SENT=$(grep -c 'retransmit [0-9]* of request' <<<"$ss")
    ST_GW_COOKIE=$(grep -ci 'cookie' <<<"$gw")
    ST_GW_RETR=$(grep -ci 'retransmit' <<<"$gw")
    ST_GW_INIT=$(grep -c 'initiating' <<<"$gw")
    ST_GW_RETRY=$(grep -c 'retry failed\|not started' <<<"$gw")
    ST_GW_DOWN=$(grep -c 'IKE SA down' <<<"$gw")
    ST_COOKIES=$((ST_SS_COOKIE_SENT + ST_SS_COOKIE_RCVD + ST_GW_COOKIE))
    ST_RETR=$((ST_SS_RETR_RCVD + ST_SS_RETR_SENT + ST_GW_RETR))
    STORM="strongSwan: $ST_SS_COOKIE_SENT COOKIEs sent (and $ST_SS_COOKIE_BACK requests returning one),"
    STORM+=" $ST_SS_COOKIE_RCVD received, $ST_SS_DROPPED IKE_SA_INITs dropped,"
    STORM+=" $ST_SS_RETR_RCVD retransmitted requests received, $ST_SS_RETR_SENT retransmits sent;"
    STORM+=" hub log: $ST_GW_COOKIE cookie lines, $ST_GW_RETR retransmit lines, $ST_GW_INIT initiations,"
    STORM+=" $ST_GW_RETRY failed (re)starts, $ST_GW_DOWN IKE SAs down"
}

# ---------------------------------------------------------------------------------------------
case="a: strongSwan initiates $N connections at once"
ok=1
gw_start "$H" "$HDIR" "$HDIR/responder.toml" || die "the hub did not start"
HPID=${IOP_GW_PID[$H]}
sleep 1
rss0=$(gw_rss_kb "$HPID")
ss_lines0=$(wc -l <"$SDIR/charon.log") gw_lines0=$(wc -l <"$HDIR/gateway.log")
names=$(awk '{ printf "%s ", $2 }' "$SDIR/sites")
T0=$(now_ms)
# shellcheck disable=SC2086
refused=$(vici_initiate "$SDIR/charon.vici" $names) || fail "charon refused $refused initiations"
init_ms=$(($(now_ms) - T0))
log "  $N initiations requested over vici in $(ms_to_s $init_ms) s"
if wait_up "$SCALE_A_TIMEOUT"; then a_ms=$UP_MS; else a_ms=""; fail "only $UP of $N up after $SCALE_A_TIMEOUT s"; fi
sleep 1
rss1=$(gw_rss_kb "$HPID")
ss_rss=$(gw_rss_kb "${IOP_CHARON_PID[$S]}")
per_kb=$(awk -v a="$rss0" -v b="$rss1" -v n="$N" 'BEGIN { printf "%.1f", (b - a) / n }')
storm_counts "$ss_lines0" "$gw_lines0"
storm_a=$STORM
if [ -n "$a_ms" ]; then
    figure "scale: $N connections up in $(ms_to_s "$a_ms") s (strongSwan initiating), hub RSS $((rss1 / 1024)) MB" \
        "($((rss0 / 1024)) MB before any SA, $per_kb kB per connection), charon RSS $((ss_rss / 1024)) MB;" \
        "charon took $(ms_to_s "$init_ms") s to accept the $N initiate requests"
else
    figure "scale: only $UP of $N connections up after $SCALE_A_TIMEOUT s (strongSwan initiating), hub RSS $((rss1 / 1024)) MB"
fi
figure "scale:   case a, $storm_a"
done_case

# ---------------------------------------------------------------------------------------------
case="c: $N sites ping through their own tunnels"
ok=1
T0=$(now_ms)
ping_sweep
c_ms=$(($(now_ms) - T0))
[ "$REPLIES" = "$N" ] || fail "$REPLIES of $N sites answered (no reply from: $PING_FAILED)"
if ! probs=$(check_counters); then fail "child SA counters / selectors: $probs"; fi
figure "scale: $REPLIES of $N sites answered a ping through their own tunnel ($(ms_to_s $c_ms) s for the sweep)"
done_case

# ---------------------------------------------------------------------------------------------
case="d: status lists $N IKE SAs"
ok=1
text=$(gw_ctl "$H" status 2>/dev/null)
blocks=$(grep -cE '^site[0-9]+: #[0-9]+, ESTABLISHED, IKEv2, ' <<<"$text")
distinct=$(grep -oE '^site[0-9]+: #[0-9]+, ESTABLISHED, IKEv2, ' <<<"$text" | cut -d: -f1 | sort -u | wc -l)
children=$(grep -cE '^  site[0-9]+: #[0-9]+, INSTALLED, TUNNEL, ' <<<"$text")
[ "$blocks" = "$N" ] || fail "status lists $blocks ESTABLISHED IKE SA blocks, not $N"
[ "$distinct" = "$N" ] || fail "status lists $distinct distinct sites, not $N"
[ "$children" = "$N" ] || fail "status lists $children INSTALLED Child SAs, not $N"
figure "scale: status lists $blocks IKE SA blocks ($distinct sites, $children Child SAs)"
done_case

# ---------------------------------------------------------------------------------------------
case="b: the hub restarts and brings $N up itself within $SCALE_B_LIMIT s"
ok=1
T0=$(now_ms)
gw_stop "$H"
stop_ms=$(($(now_ms) - T0))
# The hub sends Deletes as it stops; wait (bounded) until strongSwan holds no SA, so that
# nothing left from case a takes part in case b.
left=""
for _ in $(seq 100); do
    left=$(swanctl "$S" "$SDIR" --stats 2>/dev/null | awk '/^IKE_SAs:/ { print $2 }')
    [ "$left" = 0 ] && break
    sleep 0.2
done
log "  hub stopped in $(ms_to_s $stop_ms) s; strongSwan holds ${left:-?} IKE SAs"
[ "$left" = 0 ] || log "  (strongSwan still holds $left IKE SAs; the hub's INITIAL_CONTACT replaces them)"
ss_lines0=$(wc -l <"$SDIR/charon.log") gw_lines0=$(wc -l <"$HDIR/gateway.log")
rss0=$(gw_rss_kb "$HPID")
T0=$(now_ms)
gw_start "$H" "$HDIR" "$HDIR/default.toml" || die "the hub did not restart"
HPID=${IOP_GW_PID[$H]}
if wait_up "$SCALE_B_TIMEOUT"; then b_up_ms=$UP_MS; else b_up_ms=""; fail "only $UP of $N up after $SCALE_B_TIMEOUT s"; fi
ping_sweep
b_ms=$(($(now_ms) - T0))
[ "$REPLIES" = "$N" ] || fail "$REPLIES of $N sites answered a ping (no reply from: $PING_FAILED)"
[ "$b_ms" -le $((SCALE_B_LIMIT * 1000)) ] || fail "up and pinging after $(ms_to_s $b_ms) s, over $SCALE_B_LIMIT s"
if ! probs=$(check_counters); then fail "child SA counters / selectors: $probs"; fi
sleep 1
storm_counts "$ss_lines0" "$gw_lines0"
storm_b=$STORM
[ "$ST_COOKIES" -le "$SCALE_MAX_STORM" ] || fail "cookie storm: $ST_COOKIES COOKIE lines (limit $SCALE_MAX_STORM)"
[ "$ST_SS_DROPPED" -le "$SCALE_MAX_STORM" ] || fail "strongSwan dropped $ST_SS_DROPPED IKE_SA_INITs (limit $SCALE_MAX_STORM)"
[ "$ST_RETR" -le "$SCALE_MAX_STORM" ] || fail "retransmission storm: $ST_RETR retransmissions (limit $SCALE_MAX_STORM)"
rss2=$(gw_rss_kb "$HPID")
if [ -n "$b_up_ms" ]; then
    figure "scale: $N connections up in $(ms_to_s "$b_up_ms") s after a hub restart (hub initiating)," \
        "all pinging after $(ms_to_s $b_ms) s (requirement: $SCALE_B_LIMIT s), hub RSS $((rss2 / 1024)) MB"
else
    figure "scale: only $UP of $N connections up $SCALE_B_TIMEOUT s after a hub restart (hub initiating)," \
        "$REPLIES answered a ping"
fi
figure "scale:   case b, $storm_b"
done_case

gw_stop "$H"
cat <<EOF

----- scale summary (paste into a README) -----
Scale test (tests/interop/scale.sh, SCALE_N=$N): one hub, $N PSK site-to-site connections,
one strongSwan 5.9.8 charon (userspace ESP) for all sites, $(nproc) cores, $(uname -r).
strongSwan responder limits: cookie_threshold $SCALE_SS_COOKIE_THRESHOLD (all sites together), cookie_threshold_ip and block_threshold $SCALE_SS_IP_THRESHOLD (one charon plays N independent sites).
$(printf '%s\n' "${SUMMARY[@]}")
Hub config: generated in $(ms_to_s $gen_ms) s (python) vs $(ms_to_s $lib_ms) s with gw_add_connection.
-----------------------------------------------
EOF
echo "scale: $passed passed, $failed failed"
[ $failed = 0 ] && [ $passed -gt 0 ]
