#!/usr/bin/env bash
# Baseline: strongSwan against strongSwan, userspace ESP, in two network namespaces.
#
#   left  ns ssl<pid>: 192.0.2.1 on veth1, inner 10.1.0.1 on lo, protects 10.1.0.0/24
#   right ns ssr<pid>: 192.0.2.2 on veth1, inner 10.2.0.1 on lo, protects 10.2.0.0/24
#
# For each proposal, first left then right initiates; each time: both sides list an INSTALLED
# CHILD_SA, `ping -I 10.1.0.1 10.2.0.1 -c 3` from left gets 3 replies, a 2 MB TCP transfer
# crosses, both sides' --list-sas agree (IKE SPIs; left's ESP SPI in = right's out and the other
# way; the same algorithms, and the ones the proposal names; UDP encapsulation, tunnel mode),
# the counters saw the ping, and the IKE_SA is deleted from the initiating side.
# This proves the harness (lib.sh) and the machine before our vpn-gateway takes one side.
#
# Usage (as root): tests/interop/strongswan/charon-pair.sh
#   IOP_KEEP=1   keep the work dirs (charon.log of both sides) and print where they are
# Last line: "charon-pair: N passed, M failed"; exit status 0 only when M = 0.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
need_root
iop_supervise "$@" # from here on we are the worker; the supervisor cleans up whatever happens
ss_install

# IKE proposal | ESP proposal | expected IKE encr/keysize/integ/prf/dh | expected ESP encr/keysize/integ
# ("-" = the key is absent: AEADs have no integrity algorithm, ChaCha20 no key size). These are the names strongSwan's
# --list-sas uses; our `vpn-gateway status` should print the same ones.
CASES=(
    "aes256gcm16-prfsha256-x25519|aes256gcm16|AES_GCM_16/256/-/PRF_HMAC_SHA2_256/CURVE_25519|AES_GCM_16/256/-"
    "aes128gcm16-prfsha256-ecp256|aes128gcm16|AES_GCM_16/128/-/PRF_HMAC_SHA2_256/ECP_256|AES_GCM_16/128/-"
    "aes256-sha256-modp2048|aes256-sha256|AES_CBC/256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048|AES_CBC/256/HMAC_SHA2_256_128"
    "chacha20poly1305-prfsha256-x25519|chacha20poly1305|CHACHA20_POLY1305/-/-/PRF_HMAC_SHA2_256/CURVE_25519|CHACHA20_POLY1305/-/-"
)
# ${CHARON_PAIR_CASES} (space-separated indexes into CASES) runs a subset, e.g. "0 2".
SELECT=${CHARON_PAIR_CASES:-$(seq 0 $((${#CASES[@]} - 1)))}

passed=0 failed=0
expected=$((2 * $(wc -w <<<"$SELECT")))
started=$(date +%s)

ss_pair_setup || die "could not set up the strongSwan pair"

# expect WHAT VALUE WANTED: records a mismatch in $why.
why=""
expect() {
    [ "$2" = "$3" ] || why+="${why:+; }$1: got '$2', want '$3'"
}

# g KV KEY: one value of list_sas_kv output
g() { kv_get "$2" <<<"$1"; }

# run_case IKE ESP EXPECT_IKE EXPECT_ESP INITIATOR(left|right)
run_case() {
    local ike=$1 esp=$2 want_ike=$3 want_esp=$4 who=$5
    local ins idir
    if [ "$who" = left ]; then ins=$SS_L idir=$SS_LDIR; else ins=$SS_R idir=$SS_RDIR; fi
    why=""
    local t0
    t0=$(date +%s.%N)

    # 1. initiate from one side (swanctl blocks until IKE_AUTH is done; --timeout bounds it)
    local out
    if ! out=$(swanctl "$ins" "$idir" --initiate --child net --timeout 20 2>&1); then
        why="initiate failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
        return 1
    fi
    wait_for_sa "$SS_L" "$SS_LDIR" net 15 || why+="${why:+; }left has no INSTALLED SA"
    wait_for_sa "$SS_R" "$SS_RDIR" net 15 || why+="${why:+; }right has no INSTALLED SA"
    [ -z "$why" ] || return 1
    local up_ms
    up_ms=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%d", (b - a) * 1000 }')

    # 2. traffic: ping from left's inner address to right's, then a TCP transfer
    local pout
    pout=$(ip netns exec "$SS_L" timeout 15 ping -I "$SS_L_INNER" "$SS_R_INNER" -c 3 -W 2 -i 0.3 2>&1)
    grep -q ' 3 received' <<<"$pout" || why+="${why:+; }ping: $(grep -E 'transmitted' <<<"$pout")"
    tcp_transfer "$SS_L" "$SS_L_INNER" "$SS_R" "$SS_R_INNER" 2M 2>/dev/null || why+="${why:+; }TCP transfer failed"

    # 3. both sides' SAs
    local lk rk
    lk=$(list_sas_kv "$SS_L" "$SS_LDIR" net)
    rk=$(list_sas_kv "$SS_R" "$SS_RDIR" net)
    if [ "${IOP_VERBOSE:-0}" = 1 ]; then
        awk '{ print "  left:  " $0 }' <<<"$lk"
        awk '{ print "  right: " $0 }' <<<"$rk"
    fi
    # the two ends agree (lib.sh's sa_compare, the same check a vpn-gateway test makes):
    # left's ESP SPI in = right's out and the other way, same IKE SPIs and algorithms, mirrored TS
    local diff
    diff=$(sa_compare "$lk" "$rk") || why+="${why:+; }left vs right: $(tr '\n' ';' <<<"$diff")"
    # and each side lists the algorithms the proposal names, in strongSwan's words
    local side kv
    for side in left right; do
        if [ $side = left ]; then kv=$lk; else kv=$rk; fi
        local -a wi we
        IFS=/ read -r -a wi <<<"$want_ike"
        IFS=/ read -r -a we <<<"$want_esp"
        expect "$side IKE encr" "$(g "$kv" ike_encr_alg)" "${wi[0]}"
        expect "$side IKE keysize" "$(g "$kv" ike_encr_keysize)" "${wi[1]/#-/}"
        expect "$side IKE integ" "$(g "$kv" ike_integ_alg)" "${wi[2]/#-/}"
        expect "$side IKE prf" "$(g "$kv" ike_prf_alg)" "${wi[3]}"
        expect "$side IKE dh" "$(g "$kv" ike_dh_group)" "${wi[4]}"
        expect "$side ESP encr" "$(g "$kv" child_encr_alg)" "${we[0]}"
        expect "$side ESP keysize" "$(g "$kv" child_encr_keysize)" "${we[1]/#-/}"
        expect "$side ESP integ" "$(g "$kv" child_integ_alg)" "${we[2]/#-/}"
        expect "$side mode" "$(g "$kv" child_mode)" TUNNEL
        expect "$side UDP encapsulation" "$(g "$kv" child_encap)" yes
        expect "$side IKE port" "$(g "$kv" ike_local_port)" 4500
    done
    if [ "$who" = left ]; then kv=$lk; else kv=$rk; fi
    expect "initiator flag on $who" "$(g "$kv" ike_initiator)" yes
    expect "left TS" "$(g "$lk" child_local_ts)=$(g "$lk" child_remote_ts)" "$SS_L_NET=$SS_R_NET"
    expect "right TS" "$(g "$rk" child_local_ts)=$(g "$rk" child_remote_ts)" "$SS_R_NET=$SS_L_NET"
    # the ping (3 out, 3 in) and the TCP transfer went through this SA's counters
    [ "$(g "$lk" child_packets_out)" -ge 3 ] 2>/dev/null || why+="${why:+; }left packets-out $(g "$lk" child_packets_out)"
    [ "$(g "$rk" child_packets_in)" -ge 3 ] 2>/dev/null || why+="${why:+; }right packets-in $(g "$rk" child_packets_in)"

    # 4. delete from the initiating side; both sides drop the IKE_SA
    swanctl "$ins" "$idir" --terminate --ike net --timeout 15 >/dev/null 2>&1 || why+="${why:+; }terminate failed"
    wait_no_sa "$SS_L" "$SS_LDIR" net 15 || why+="${why:+; }left kept the IKE_SA"
    wait_no_sa "$SS_R" "$SS_RDIR" net 15 || why+="${why:+; }right kept the IKE_SA"

    CASE_INFO="up in ${up_ms} ms, ESP SPIs in/out $(g "$lk" child_spi_in)/$(g "$lk" child_spi_out) (left)"
    [ -z "$why" ]
}

for i in $SELECT; do
    IFS='|' read -r ike esp want_ike want_esp <<<"${CASES[$i]}"
    if ! ss_pair_conn "$ike" "$esp"; then
        for who in left right; do
            echo "FAIL $ike/$esp, $who initiates: loading the connection failed"
            failed=$((failed + 1))
        done
        continue
    fi
    for who in left right; do
        CASE_INFO=""
        if run_case "$ike" "$esp" "$want_ike" "$want_esp" "$who"; then
            echo "ok   $ike/$esp, $who initiates: $CASE_INFO"
            passed=$((passed + 1))
        else
            echo "FAIL $ike/$esp, $who initiates: $why"
            failed=$((failed + 1))
            log "last lines of left's charon.log ($SS_LDIR/charon.log):"
            tail -n 15 "$SS_LDIR/charon.log" >&2
            log "last lines of right's charon.log ($SS_RDIR/charon.log):"
            tail -n 15 "$SS_RDIR/charon.log" >&2
            # leave a clean state for the next case
            swanctl "$SS_L" "$SS_LDIR" --terminate --ike net --timeout 5 >/dev/null 2>&1
            swanctl "$SS_R" "$SS_RDIR" --terminate --ike net --timeout 5 >/dev/null 2>&1
            wait_no_sa "$SS_L" "$SS_LDIR" net 10
            wait_no_sa "$SS_R" "$SS_RDIR" net 10
        fi
    done
done

log "charon-pair took $(($(date +%s) - started)) s"
# A case that never reported (the loop was cut short) counts as failed.
if [ $((passed + failed)) -lt "$expected" ]; then
    echo "FAIL $((expected - passed - failed)) case(s) did not run"
    failed=$((expected - passed))
fi
echo "charon-pair: $passed passed, $failed failed"
[ "$failed" = 0 ]
