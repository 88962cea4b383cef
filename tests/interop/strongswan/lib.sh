# shellcheck shell=bash
# shellcheck disable=SC2034 # variables set here for the scripts that source this file
# strongSwan side of the interop and throughput harness: a library, sourced by the test scripts.
#
#   . "$(dirname "$0")/lib.sh"
#
# Everything here runs as root and touches only what it creates itself:
#   - network namespaces it creates with ns_create (names chosen by the caller; ns_create refuses a
#     name that already exists, so a stale or foreign namespace is never reused or deleted),
#   - veth pairs created directly inside those namespaces (they never appear in the host's
#     namespace, so the host's interfaces and routes are never touched),
#   - /etc/netns/NS/ for each namespace it created (ip netns exec bind-mounts its entries over /etc),
#   - temporary directories made with mk_workdir,
#   - charon processes started with charon_start, and background processes registered with
#     iop_track_pid.
# cleanup_all removes all of that; sourcing this file installs it as an EXIT/INT/TERM trap.
#
# Why it is done this way (see ../../../../shared/notes/real-peers.md and README.md here):
#   - The kernel here has no ESP transform, so charon uses userspace ESP (kernel-libipsec) over a
#     TUN device it creates, "ipsec0", with routes for the remote selectors in table 220. With
#     kernel-libipsec charon always uses UDP encapsulation (it fakes NAT detection), so after
#     IKE_SA_INIT everything runs on port 4500, ESP in UDP (the SA shows encap=yes).
#   - There is no "dummy" link type: inner addresses go on "lo" in the namespace.
#   - ip netns exec bind-mounts /etc/netns/NS/* over /etc/*, so each namespace's charon and swanctl
#     read their own /etc/strongswan.conf and /etc/swanctl/. charon writes its pid file under /run,
#     so each one gets a private tmpfs /run (unshare -m). Hence DIR (the vici socket and the log)
#     must not be under /run: mk_workdir uses /tmp.
#
# Functions (details above each):
#   ss_install                          idempotent apt-get install of strongSwan, iperf3, ping...
#   mk_workdir VAR [NAME]               temp dir (path in $VAR), removed on exit
#   ns_create NS                        new netns with lo up, and /etc/netns/NS/
#   ns_delete NS                        kills what runs in it, deletes it and /etc/netns/NS/
#   link_pair NS1 IP1 NS2 IP2           veth NS1<->NS2, IPs default to /24; sets LINK_IF1 LINK_IF2
#   inner_addr NS CIDR                  inner address on lo (default /32)
#   charon_start NS DIR                 writes /etc/netns/NS/{strongswan.conf,swanctl/} and starts charon
#   charon_stop NS [--kill]             stops it (SIGTERM, then SIGKILL after 5 s; --kill: SIGKILL at once)
#   swanctl NS DIR --CMD [args...]      swanctl against that charon's vici socket (with a timeout)
#   write_swanctl_conn NS NAME k=v...   writes a PSK site-to-site connection + its secret
#   ss_load NS DIR                      swanctl --load-all (conns and secrets)
#   wait_for_sa NS DIR CHILD TIMEOUT    waits for an INSTALLED CHILD_SA of that name
#   ss_gw_setup                         the strongSwan (left) / vpn-gateway (right) layout: $SS $GW $SSDIR $GWDIR
#   gw_pair_setup EAST_MODE             two vpn-gateways, west initiating: $W $E $WDIR $EDIR
#   wait_no_sa NS DIR IKE TIMEOUT       waits until no IKE_SA of that name is left
#   list_sas_kv NS DIR [IKE [CHILD]]    key=value lines: the IKE_SA's and CHILD_SA's algorithms, SPIs...
#   kv_get KEY <<<"$kv"                 one value from list_sas_kv output
#   ss_pair_setup [IKE ESP]             two charons, two namespaces, one connection "net"
#   ss_pair_conn IKE ESP [k=v...]       rewrites + reloads the pair's connection
#   ss_pair_teardown                    stops the pair, deletes its namespaces
#   ss_throughput_mbps [SECS] [IKE ESP] pair up, tunnel up, iperf3 for SECS, teardown; sets SS_MBPS
#   iperf_mbps CLIENT_NS CLIENT_IP SERVER_NS SERVER_IP SECONDS   one TCP stream; prints Mbit/s
#   tcp_transfer CLIENT_NS CLIENT_IP SERVER_NS SERVER_IP [BYTES] a bounded TCP transfer (iperf3 -n)
#   sa_compare A_KV B_KV                the two ends of one tunnel agree? (SPIs crossed, algorithms...)
#   gw_write_config, gw_add_connection, gw_start, gw_stop, gw_ctl, gw_sas_kv, wait_for_gw_sa
#                                       our vpn-gateway in a namespace (see "Our side" below)
#   nat_router_create NAT IN_NS IN_HOST_CIDR NAT_IN_CIDR OUT_NS OUT_HOST_CIDR NAT_OUT_CIDR [MASQ_OPTS]
#                                       a NAT router namespace between two others (masquerade random)
#   nat_flush NAT, nat_conntrack NAT, nat_external_port NAT SRC_IP SPORT
#                                       its conntrack: flush, list, the outside port of a mapping
#                                       (see "NAT router" at the end)
#   cleanup_all                         kills, deletes and removes all of the above
#   iop_supervise "$@"                  call first: re-runs the script as a supervised worker

# ---------------------------------------------------------------------------------------------
# State (arrays of what this process created; cleanup_all walks them)
IOP_NETNS=()      # namespaces we created
IOP_ETC_NETNS=()  # /etc/netns/NS directories we created
IOP_TMPDIRS=()    # temp dirs from mk_workdir
IOP_PIDS=()       # other background processes (iperf3 servers, captures...)
declare -A IOP_CHARON_PID=()  # NS -> pid of its charon
declare -A IOP_CHARON_DIR=()  # NS -> its DIR
IOP_CREATED_ETC_NETNS=0       # 1 if /etc/netns itself did not exist before us
IOP_LINK_COUNT=0

# Tunables (environment overrides).
# Plugins charon loads. gmp is for the MODP groups; kernel-libipsec is the userspace ESP.
: "${IOP_CHARON_LOAD:=random nonce openssl aes sha1 sha2 hmac gcm chapoly curve25519 gmp kdf pem pkcs1 x509 pubkey vici kernel-libipsec kernel-netlink socket-default updown}"
# Extra lines inside strongswan.conf's "charon { }" section. Default: shorter retransmissions than
# strongSwan's (4 s, x1.8, 5 tries = 165 s) so that a dead peer is declared within ~25 s and every
# test stays bounded in time.
: "${IOP_CHARON_EXTRA:=retransmit_timeout = 2.0
  retransmit_base = 1.4
  retransmit_tries = 4}"
: "${IOP_LOG_LEVEL_IKE:=2}"   # charon.log levels (0..4) for the ike, cfg, net, esp... subsystems
: "${IOP_LOG_LEVEL_DEFAULT:=1}"
: "${IOP_SWANCTL_TIMEOUT:=30}" # seconds any single swanctl call may take

# ---------------------------------------------------------------------------------------------
# Supervision. A script calls `iop_supervise "$@"` right after sourcing this file. That process
# becomes a small supervisor that re-runs the script as its worker (IOP_WORKER=1) under
# `timeout` (IOP_TIME_LIMIT seconds, default 1800; SIGTERM, then SIGKILL 20 s later), forwards
# Ctrl-C/TERM/HUP to it (SIGKILL to its process group if it has not ended 15 s later), and once
# it has ended removes whatever it left, from the state file IOP_STATE the worker appends to as it
# creates things (namespaces, /etc/netns dirs, temp dirs). So even a worker killed with SIGKILL,
# or one whose trap bash lost (see iop_on_signal), leaves nothing behind. Exit status: the
# worker's (124 on the time limit).
iop_state() { [ -n "${IOP_STATE:-}" ] && printf '%s\n' "$*" >>"$IOP_STATE"; return 0; }

iop_supervise() {
    [ "${IOP_WORKER:-0}" = 1 ] && return 0
    set +e # the supervisor must get to its cleanup whatever the worker's status
    trap - EXIT INT TERM HUP
    IOP_STATE=$(mktemp /tmp/iop-state.XXXXXX) || die "mktemp failed"
    export IOP_STATE
    IOP_WORKER=1 timeout --kill-after=20 "${IOP_TIME_LIMIT:-1800}" "$BASH" "$0" "$@" &
    IOP_SUP_CHILD=$!
    IOP_SUP_WATCHDOG=""
    trap 'iop_sup_forward INT' INT
    trap 'iop_sup_forward TERM' TERM
    trap 'iop_sup_forward HUP' HUP
    local rc
    while :; do
        wait "$IOP_SUP_CHILD"
        rc=$?
        # a trap interrupts wait (status > 128) while the worker still runs: wait again
        kill -0 "$IOP_SUP_CHILD" 2>/dev/null || break
    done
    [ -n "$IOP_SUP_WATCHDOG" ] && kill "$IOP_SUP_WATCHDOG" 2>/dev/null
    [ "$rc" = 124 ] && log "time limit IOP_TIME_LIMIT=${IOP_TIME_LIMIT:-1800} s reached"
    iop_cleanup_state "$IOP_STATE"
    rm -f "$IOP_STATE"
    exit "$rc"
}

iop_sup_forward() {
    log "supervisor: SIG$1, stopping the worker"
    # Always TERM: a background job of a non-interactive shell starts with SIGINT ignored, and
    # bash cannot trap a signal ignored at entry, so a forwarded INT would do nothing.
    kill -s TERM "$IOP_SUP_CHILD" 2>/dev/null
    # timeout(1) made its own process group (id = its pid): the worker and all it started
    if [ -z "$IOP_SUP_WATCHDOG" ]; then
        { sleep 15 && kill -KILL -- "-$IOP_SUP_CHILD" 2>/dev/null; } &
        IOP_SUP_WATCHDOG=$!
    fi
}

# iop_cleanup_state FILE: removes what FILE lists and still exists (namespaces after killing what
# runs in them, /etc/netns dirs, temp dirs unless IOP_KEEP=1). Idempotent.
iop_cleanup_state() {
    local kind what pid
    local -
    set +e
    [ -s "$1" ] || return 0
    while read -r kind what; do
        case $kind in
            netns)
                ip netns list | awk '{print $1}' | grep -qx -- "$what" || continue
                for pid in $(ip netns pids "$what" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
                ip netns del "$what" 2>/dev/null && log "supervisor: deleted leftover namespace $what"
                ;;
            etc) [ -d "$what" ] && rm -rf -- "$what" ;;
            tmp) [ -d "$what" ] && [ "${IOP_KEEP:-0}" != 1 ] && rm -rf -- "$what" ;;
        esac
    done <"$1"
    grep -q '^etcroot ' "$1" && rmdir /etc/netns 2>/dev/null
    return 0
}

# ---------------------------------------------------------------------------------------------
# Small helpers
log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (network namespaces)"; }

# iop_track_pid PID: kill PID (and wait for it) in cleanup_all.
iop_track_pid() { IOP_PIDS+=("$1"); }

# Duration ("90", "90s", "5m", "2h") to seconds.
iop_seconds() {
    local v=$1
    case $v in
        *s) echo "${v%s}" ;;
        *m) echo $((${v%m} * 60)) ;;
        *h) echo $((${v%h} * 3600)) ;;
        *) echo "$v" ;;
    esac
}

# ---------------------------------------------------------------------------------------------
# ss_install: install what the harness needs, only if something is missing (idempotent).
# IOP_WANT_TSHARK=1 also installs tshark (its debconf question is pre-answered: no setuid dumpcap).
ss_install() {
    local missing=0 p
    command -v swanctl >/dev/null || missing=1
    [ -x /usr/lib/ipsec/charon ] || missing=1
    for p in kernel-libipsec gmp curve25519 chapoly openssl gcm vici kernel-netlink socket-default; do
        [ -e "/usr/lib/ipsec/plugins/libstrongswan-$p.so" ] || missing=1
    done
    command -v iperf3 >/dev/null || missing=1
    command -v python3 >/dev/null || missing=1 # gw_sas_kv reads our status JSON with it
    command -v ping >/dev/null || missing=1
    command -v ip >/dev/null || missing=1
    command -v unshare >/dev/null || missing=1
    command -v conntrack >/dev/null || missing=1 # nat-rebind.sh
    command -v nft >/dev/null || missing=1
    if [ "${IOP_WANT_TSHARK:-0}" = 1 ] && ! command -v tshark >/dev/null; then missing=1; fi
    [ "$missing" = 0 ] && return 0

    command -v apt-get >/dev/null || die "strongSwan/iperf3 missing and no apt-get to install them"
    log "installing strongSwan, iperf3, ping, iproute2 (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    # openssl and gcm are in the standard plugins (a --no-install-recommends install lacks them).
    local pkgs="strongswan-charon strongswan-swanctl libstrongswan-standard-plugins libcharon-extra-plugins libstrongswan-extra-plugins iperf3 iputils-ping iproute2 util-linux python3 conntrack nftables"
    if [ "${IOP_WANT_TSHARK:-0}" = 1 ]; then
        echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
        pkgs="$pkgs tshark"
    fi
    timeout 600 apt-get update -qq || die "apt-get update failed"
    # shellcheck disable=SC2086
    timeout 900 apt-get install -y -qq $pkgs >/dev/null || die "apt-get install failed"
}

# ---------------------------------------------------------------------------------------------
# mk_workdir VAR [NAME]: makes a temporary directory under /tmp (never /run: charon gets a private
# /run) and stores its path in the variable VAR (not printed: a $(...) subshell could not register
# it for cleanup). Removed by cleanup_all unless IOP_KEEP=1.
mk_workdir() {
    local d
    d=$(mktemp -d "/tmp/iop-${2:-work}.XXXXXX") || die "mktemp failed"
    chmod 755 "$d"
    IOP_TMPDIRS+=("$d")
    iop_state "tmp $d"
    printf -v "$1" '%s' "$d"
}

# ---------------------------------------------------------------------------------------------
# ns_create NS: a new network namespace with lo up, plus /etc/netns/NS/ for its config files.
# Refuses a namespace or /etc/netns/NS that already exists (we only ever delete our own).
ns_create() {
    local ns=$1
    [ -n "$ns" ] || die "ns_create: no name"
    if ip netns list | awk '{print $1}' | grep -qx -- "$ns"; then
        die "ns_create: namespace $ns already exists (a previous run? check and 'ip netns del $ns')"
    fi
    [ -e "/etc/netns/$ns" ] && die "ns_create: /etc/netns/$ns already exists"
    ip netns add "$ns" || die "ip netns add $ns failed"
    IOP_NETNS+=("$ns")
    iop_state "netns $ns"
    ip -n "$ns" link set lo up
    if [ ! -d /etc/netns ]; then
        mkdir -p /etc/netns
        IOP_CREATED_ETC_NETNS=1
        iop_state "etcroot /etc/netns"
    fi
    mkdir "/etc/netns/$ns"
    IOP_ETC_NETNS+=("/etc/netns/$ns")
    iop_state "etc /etc/netns/$ns"
}

# ns_delete NS: ends whatever still runs in NS (all started by us), deletes it and /etc/netns/NS.
ns_delete() {
    local ns=$1 pid i
    local -
    set +e
    [ -n "${IOP_CHARON_PID[$ns]:-}" ] && charon_stop "$ns"
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
    rm -rf -- "/etc/netns/$ns"
    local keep=()
    for i in "${IOP_NETNS[@]}"; do [ "$i" = "$ns" ] || keep+=("$i"); done
    IOP_NETNS=("${keep[@]}")
    keep=()
    for i in "${IOP_ETC_NETNS[@]}"; do [ "$i" = "/etc/netns/$ns" ] || keep+=("$i"); done
    IOP_ETC_NETNS=("${keep[@]}")
}

# link_pair NS1 IP1 NS2 IP2: a veth pair between two of our namespaces, created directly inside
# them (never in the host's namespace). IPs without a prefix length get /24. Both ends are named
# "vethN" (N counts the pairs this process made), left in LINK_IF1 and LINK_IF2.
link_pair() {
    local ns1=$1 ip1=$2 ns2=$3 ip2=$4
    IOP_LINK_COUNT=$((IOP_LINK_COUNT + 1))
    local if1="veth$IOP_LINK_COUNT" if2="veth$IOP_LINK_COUNT"
    [ "$ns1" != "$ns2" ] || die "link_pair: both ends in $ns1"
    case $ip1 in */*) ;; *) ip1="$ip1/24" ;; esac
    case $ip2 in */*) ;; *) ip2="$ip2/24" ;; esac
    ip link add name "$if1" netns "$ns1" type veth peer name "$if2" netns "$ns2" ||
        die "link_pair: creating veth $ns1<->$ns2 failed"
    ip -n "$ns1" addr add "$ip1" dev "$if1"
    ip -n "$ns2" addr add "$ip2" dev "$if2"
    ip -n "$ns1" link set "$if1" up
    ip -n "$ns2" link set "$if2" up
    LINK_IF1=$if1
    LINK_IF2=$if2
}

# inner_addr NS CIDR: an inner (protected-network) address on lo, /32 unless given.
inner_addr() {
    local ns=$1 a=$2
    case $a in */*) ;; *) a="$a/32" ;; esac
    ip -n "$ns" addr add "$a" dev lo || die "inner_addr: $a in $ns failed"
}

# ---------------------------------------------------------------------------------------------
# charon_start NS DIR: writes /etc/netns/NS/strongswan.conf (plugins, vici socket DIR/charon.vici,
# log DIR/charon.log) and /etc/netns/NS/swanctl/ (swanctl.conf including conf.d/*.conf, where
# write_swanctl_conn puts connections), copies strongswan.conf to DIR for the record, starts charon
# in NS with a private /run and waits (10 s at most) for its vici socket. Restartable: after
# charon_stop, charon_start again with the same NS and DIR keeps the connections in conf.d (load
# them again with ss_load) and appends to the same log.
charon_start() {
    local ns=$1 dir=$2 etc="/etc/netns/$1"
    [ -d "$etc" ] || die "charon_start: $etc missing (ns_create $ns first)"
    [ -d "$dir" ] || die "charon_start: DIR $dir missing"
    case $dir in /run/* | /var/run/*) die "charon_start: DIR must not be under /run (charon gets a private /run)" ;; esac
    [ -z "${IOP_CHARON_PID[$ns]:-}" ] || die "charon_start: a charon already runs in $ns"

    cat >"$etc/strongswan.conf" <<EOF
# strongswan.conf for namespace $ns, written by tests/interop/strongswan/lib.sh.
# ip netns exec bind-mounts this file over /etc/strongswan.conf for charon and swanctl in $ns.
charon {
  # Only these plugins (no load_modular, no strongswan.d includes): userspace ESP via
  # kernel-libipsec (TUN device ipsec0), routes into table 220 via kernel-netlink, MODP via gmp.
  load = $IOP_CHARON_LOAD
  install_routes = yes
  routing_table = 220
  routing_table_prio = 220
$IOP_CHARON_EXTRA
  plugins {
    vici {
      socket = unix://$dir/charon.vici
    }
  }
  filelog {
    iop {
      path = $dir/charon.log
      time_format = %H:%M:%S
      ike_name = yes
      append = yes
      flush_line = yes
      default = $IOP_LOG_LEVEL_DEFAULT
      ike = $IOP_LOG_LEVEL_IKE
      cfg = $IOP_LOG_LEVEL_DEFAULT
      net = $IOP_LOG_LEVEL_DEFAULT
      esp = $IOP_LOG_LEVEL_DEFAULT
      knl = $IOP_LOG_LEVEL_DEFAULT
    }
  }
  # no syslog: everything goes to the file above
  syslog {
    daemon {
      default = -1
    }
  }
}
swanctl {
  # swanctl run in $ns reads /etc/swanctl = /etc/netns/$ns/swanctl
}
EOF
    cp "$etc/strongswan.conf" "$dir/strongswan.conf"
    mkdir -p "$etc/swanctl/conf.d"
    local sub
    for sub in x509 x509ca x509aa x509ac x509crl x509ocsp pubkey private rsa ecdsa bliss pkcs8 pkcs12; do
        mkdir -p "$etc/swanctl/$sub"
    done
    [ -e "$etc/swanctl/swanctl.conf" ] || cat >"$etc/swanctl/swanctl.conf" <<EOF
# swanctl.conf for namespace $ns, written by tests/interop/strongswan/lib.sh.
# Each connection (and its secret) is a file in conf.d/, written by write_swanctl_conn.
include conf.d/*.conf
EOF

    rm -f "$dir/charon.vici"
    # ip netns exec, unshare and sh all exec, so $! is charon's own pid.
    ip netns exec "$ns" unshare -m sh -c 'mount -t tmpfs none /run && exec /usr/lib/ipsec/charon' \
        >>"$dir/charon.stderr" 2>&1 </dev/null &
    local pid=$!
    IOP_CHARON_PID[$ns]=$pid
    IOP_CHARON_DIR[$ns]=$dir
    local i
    for i in $(seq 100); do
        if [ -S "$dir/charon.vici" ]; then
            log "charon started in $ns (pid $pid, log $dir/charon.log)"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    log "charon in $ns did not come up; $dir/charon.stderr and charon.log:"
    tail -n 20 "$dir/charon.stderr" "$dir/charon.log" >&2 2>/dev/null
    charon_stop "$ns" --kill
    return 1
}

# charon_stop NS [--kill]: stops the charon we started in NS: SIGTERM and up to 5 s to exit, then
# SIGKILL (with --kill: SIGKILL at once, as a crash would; it sends no DELETE). Its TUN device
# and routes vanish with it. Config files and the log are kept (charon_start can restart it).
charon_stop() {
    local ns=$1 how=${2:-} pid=${IOP_CHARON_PID[$1]:-} i
    local -
    set +e
    [ -n "$pid" ] || return 0
    if [ "$how" = --kill ]; then
        kill -KILL "$pid" 2>/dev/null
    else
        kill -TERM "$pid" 2>/dev/null
        for i in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    unset "IOP_CHARON_PID[$ns]"
    return 0
}

# swanctl NS DIR --COMMAND [args...]: swanctl against the charon in NS (run inside NS, so it reads
# /etc/netns/NS/swanctl), bounded by IOP_SWANCTL_TIMEOUT seconds. swanctl wants its command
# first, so --uri goes right after it.
swanctl() {
    local ns=$1 dir=$2 cmd=$3
    shift 3
    timeout "$IOP_SWANCTL_TIMEOUT" ip netns exec "$ns" swanctl "$cmd" --uri "unix://$dir/charon.vici" "$@"
}

# ss_load NS DIR: (re)load all connections and secrets of NS; quiet unless it fails.
ss_load() {
    local out
    out=$(swanctl "$1" "$2" --load-all 2>&1) || {
        printf '%s\n' "$out" >&2
        return 1
    }
}

# ---------------------------------------------------------------------------------------------
# write_swanctl_conn NS NAME key=value...: writes /etc/netns/NS/swanctl/conf.d/NAME.conf with a PSK
# site-to-site (tunnel mode) connection NAME with one child NAME, and its IKE secret. Then ss_load.
# Keys (defaults in brackets):
#   local_addrs, remote_addrs   outer addresses (remote may be %any)                [required]
#   local_id, remote_id         IKE identities                          [the addresses]
#   psk                         pre-shared key                      ["interop test psk"]
#   local_ts, remote_ts         traffic selectors, comma-separated                  [required]
#   ike                         IKE proposal(s), strongSwan keywords [aes256gcm16-prfsha256-x25519]
#   esp                         ESP proposal(s) ("-x25519" adds PFS)               [aes256gcm16]
#   start_action                none | start | trap (of the child)                         [none]
#   ike_rekey_time              IKE rekey after (0: never)                                   [4h]
#   ike_life_time               IKE hard life (sets over_time = life - rekey; needs both)  [+10%]
#   ike_rand_time               random jitter subtracted from rekey time             [strongSwan's]
#   reauth_time                 IKE reauthentication (0: never)                               [0]
#   child_rekey_time            CHILD_SA rekey after (0: never)                              [1h]
#   child_life_time             CHILD_SA hard life                                [rekey + 10%]
#   child_rand_time             jitter                                            [strongSwan's]
#   dpd_delay                   liveness check interval when idle (0: off)                   [0s]
#   dpd_action                  clear | trap | restart (child, when the peer is dead)      [clear]
#   close_action                none | trap | start (child, when the peer deletes it)       [none]
#   remote_port                 peer's IKE port; 4500: charon sends IKE_SA_INIT to port 4500
#                               (with the non-ESP marker), still from its port 500           [500]
#   local_port                  charon's own port for this connection (e.g. 4500)            [500]
#   mobike                      yes | no                                           [strongSwan's]
#   version                     IKE version                                                   [2]
#   ike_extra, child_extra      raw lines added to the connection / child section
# Values are written verbatim (no quoting) except psk, so keep them to strongSwan's syntax.
write_swanctl_conn() {
    local ns=$1 name=$2
    shift 2
    local -A c=(
        [psk]="interop test psk" [ike]=aes256gcm16-prfsha256-x25519 [esp]=aes256gcm16
        [start_action]=none [reauth_time]=0 [dpd_action]=clear [close_action]=none [version]=2
        [dpd_delay]=0s
    )
    local kv
    for kv in "$@"; do
        case $kv in
            *=*) c[${kv%%=*}]=${kv#*=} ;;
            *) die "write_swanctl_conn: expected key=value, got '$kv'" ;;
        esac
    done
    local k
    for k in local_addrs remote_addrs local_ts remote_ts; do
        [ -n "${c[$k]:-}" ] || die "write_swanctl_conn: $k is required"
    done
    : "${c[local_id]:=${c[local_addrs]}}" "${c[remote_id]:=${c[remote_addrs]}}"

    local ike_times="" child_times=""
    [ -n "${c[ike_rekey_time]:-}" ] && ike_times+="    rekey_time = ${c[ike_rekey_time]}"$'\n'
    if [ -n "${c[ike_life_time]:-}" ]; then
        [ -n "${c[ike_rekey_time]:-}" ] || die "write_swanctl_conn: ike_life_time needs ike_rekey_time"
        ike_times+="    over_time = $(($(iop_seconds "${c[ike_life_time]}") - $(iop_seconds "${c[ike_rekey_time]}")))s"$'\n'
    fi
    [ -n "${c[ike_rand_time]:-}" ] && ike_times+="    rand_time = ${c[ike_rand_time]}"$'\n'
    [ -n "${c[child_rekey_time]:-}" ] && child_times+="        rekey_time = ${c[child_rekey_time]}"$'\n'
    [ -n "${c[child_life_time]:-}" ] && child_times+="        life_time = ${c[child_life_time]}"$'\n'
    [ -n "${c[child_rand_time]:-}" ] && child_times+="        rand_time = ${c[child_rand_time]}"$'\n'
    local opt=""
    [ -n "${c[remote_port]:-}" ] && opt+="    remote_port = ${c[remote_port]}"$'\n'
    [ -n "${c[local_port]:-}" ] && opt+="    local_port = ${c[local_port]}"$'\n'
    [ -n "${c[mobike]:-}" ] && opt+="    mobike = ${c[mobike]}"$'\n'

    local f="/etc/netns/$ns/swanctl/conf.d/$name.conf"
    [ -d "${f%/*}" ] || die "write_swanctl_conn: ${f%/*} missing (charon_start $ns first)"
    cat >"$f" <<EOF
# Connection $name in namespace $ns, written by tests/interop/strongswan/lib.sh.
connections {
  $name {
    version = ${c[version]}
    local_addrs = ${c[local_addrs]}
    remote_addrs = ${c[remote_addrs]}
    proposals = ${c[ike]}
    reauth_time = ${c[reauth_time]}
    dpd_delay = ${c[dpd_delay]}
${ike_times}${opt}${c[ike_extra]:-}
    local {
      auth = psk
      id = ${c[local_id]}
    }
    remote {
      auth = psk
      id = ${c[remote_id]}
    }
    children {
      $name {
        mode = tunnel
        local_ts = ${c[local_ts]}
        remote_ts = ${c[remote_ts]}
        esp_proposals = ${c[esp]}
        start_action = ${c[start_action]}
        dpd_action = ${c[dpd_action]}
        close_action = ${c[close_action]}
${child_times}${c[child_extra]:-}
      }
    }
  }
}
secrets {
  ike-$name {
    id-local = ${c[local_id]}
    id-remote = ${c[remote_id]}
    secret = "${c[psk]}"
  }
}
EOF
}

# ---------------------------------------------------------------------------------------------
# list_sas_kv NS DIR [IKE [CHILD]]: the current IKE_SA named IKE (default: any; ESTABLISHED and
# with the wanted child preferred, then the newest: after an IKE rekey the old one may still be
# listed) and, in it, the newest INSTALLED CHILD_SA named CHILD (default: IKE's name; after a
# rekey the old one may still be listed as REKEYED/DELETING/DELETED; while a rekey runs, e.g. in
# a collision, there may only be the old one, REKEYING, which still carries traffic) from
# `swanctl --list-sas --pretty`, flattened into
# key=value lines, keys prefixed ike_ and child_ with "-" turned into "_". The ones a test needs:
#   ike_name ike_state ike_initiator(yes|"") ike_local_host ike_local_port ike_remote_host
#   ike_remote_port ike_initiator_spi ike_responder_spi ike_encr_alg ike_encr_keysize
#   ike_integ_alg ike_prf_alg ike_dh_group ike_nat_remote ike_nat_any ike_uniqueid ...
#   child_name child_state child_mode child_protocol child_encap child_spi_in child_spi_out
#   child_encr_alg child_encr_keysize child_integ_alg child_dh_group (PFS only) child_esn (ESN only)
#   child_bytes_in child_packets_in child_bytes_out child_packets_out
#   child_local_ts child_remote_ts (comma-separated)
# Algorithm names are strongSwan's (AES_GCM_16, AES_CBC, HMAC_SHA2_256_128, PRF_HMAC_SHA2_256,
# CURVE_25519, ECP_256, MODP_2048, CHACHA20_POLY1305); SPIs are 8 hex digits (ESP) or 16 (IKE),
# lower case, no 0x. Prints nothing (and returns 1) when there is no such IKE_SA.
list_sas_kv() {
    local ns=$1 dir=$2 ike=${3:-} child=${4:-${3:-}}
    local args=(--pretty --noblock)
    [ -n "$ike" ] && args+=(--ike "$ike")
    swanctl "$ns" "$dir" --list-sas "${args[@]}" 2>/dev/null | iop_flatten_sas "$child"
}

# iop_flatten_sas [CHILD]: the awk behind list_sas_kv (reads --pretty output on stdin).
#   list-sa event {              <- one per IKE_SA
#     NAME {                     <- the IKE_SA (depth 2)
#       key = value
#       child-sas {
#         NAME-ID {              <- a CHILD_SA (depth 4, its keys too)
#           key = value
#           local-ts = [
#             10.1.0.0/24
#           ]
iop_flatten_sas() {
    awk -v want_child="${1:-}" '
        # A CHILD_SA block ended: keep the wanted one carrying traffic, INSTALLED before
        # REKEYING (the old one while a rekey runs, e.g. during a collision), then the highest
        # uniqueid. REKEYED/DELETING/DELETED ones (an old SA on its way out) are never chosen.
        function end_child(   k, rank) {
            rank = (cv["state"] == "INSTALLED") * 2 + (cv["state"] == "REKEYING")
            if ((want_child == "" || cv["name"] == want_child) && rank > 0 &&
                (rank > child_rank || (rank == child_rank && cv["uniqueid"] + 0 > child_id))) {
                child_out = ""; child_id = cv["uniqueid"] + 0; child_rank = rank
                for (k in cv) child_out = child_out "child_" k "=" cv[k] "\n"
            }
            delete cv
        }
        # An IKE_SA block ended: rank it (ESTABLISHED with a wanted child > ESTABLISHED > other;
        # then the newest) and keep the best. After an IKE rekey the old one may still be listed.
        function end_ike(   k, rank) {
            rank = (iv["state"] == "ESTABLISHED") * 2 + (child_out != "")
            if (best_rank < 0 || rank > best_rank || (rank == best_rank && iv["uniqueid"] + 0 > best_id)) {
                best_rank = rank; best_id = iv["uniqueid"] + 0
                best = ""
                for (k in iv) best = best "ike_" k "=" iv[k] "\n"
                best = best child_out
            }
            delete iv; child_out = ""; child_id = 0; child_rank = 0
        }
        BEGIN { best_rank = -1; depth = 0 }
        {
            line = $0; sub(/^[ \t]+/, "", line); sub(/[ \t]+$/, "", line)
        }
        line ~ /\{$/ {
            depth++
            sect = line; sub(/[ \t]*\{$/, "", sect)
            if (depth == 2) { iv["name"] = sect; in_ike = 1 }
            if (depth == 3) sub3 = sect
            if (depth == 4 && sub3 == "child-sas") in_child = 1
            next
        }
        line ~ /= \[$/ { key = line; sub(/[ \t]*= \[$/, "", key); gsub(/-/, "_", key); inlist = 1; listv = ""; next }
        inlist && line == "]" {
            inlist = 0
            if (in_child) cv[key] = listv; else if (depth == 2) iv[key] = listv
            next
        }
        inlist { listv = (listv == "" ? line : listv "," line); next }
        line == "}" {
            if (depth == 4 && in_child) { end_child(); in_child = 0 }
            if (depth == 3) sub3 = ""
            if (depth == 2 && in_ike) { end_ike(); in_ike = 0 }
            if (depth > 0) depth--
            next
        }
        line ~ / = / {
            key = line; sub(/ = .*/, "", key); gsub(/-/, "_", key)
            val = line; sub(/^[^=]* = /, "", val)
            if (in_child && depth == 4) cv[key] = val
            else if (depth == 2) iv[key] = val
        }
        END {
            if (best_rank < 0) exit 1
            printf "%s", best
        }
    ' | sort
}

# kv_get KEY: the value of KEY in key=value lines on stdin (e.g. kv_get child_spi_in <<<"$kv").
kv_get() { awk -v k="$1" 'index($0, k "=") == 1 { print substr($0, length(k) + 2); exit }'; }

# wait_for_sa NS DIR CHILD TIMEOUT: waits (polling every 0.2 s) until NS lists an INSTALLED
# CHILD_SA named CHILD in an ESTABLISHED IKE_SA; returns 1 after TIMEOUT seconds.
wait_for_sa() {
    local ns=$1 dir=$2 child=$3 t=$4 end kv
    end=$(($(date +%s) + t))
    while :; do
        kv=$(swanctl "$ns" "$dir" --list-sas --pretty --noblock 2>/dev/null | iop_flatten_sas "$child") || kv=""
        if [ "$(kv_get ike_state <<<"$kv")" = ESTABLISHED ] && [ "$(kv_get child_state <<<"$kv")" = INSTALLED ]; then
            return 0
        fi
        [ "$(date +%s)" -lt "$end" ] || { log "wait_for_sa: no $child SA in $ns after ${t}s"; return 1; }
        sleep 0.2
    done
}

# wait_no_sa NS DIR IKE TIMEOUT: waits until NS lists no IKE_SA named IKE.
wait_no_sa() {
    local ns=$1 dir=$2 ike=$3 t=$4 end
    end=$(($(date +%s) + t))
    while swanctl "$ns" "$dir" --list-sas --noblock --ike "$ike" --raw 2>/dev/null | grep -q "^list-sa event {$ike "; do
        [ "$(date +%s)" -lt "$end" ] || { log "wait_no_sa: $ike still in $ns after ${t}s"; return 1; }
        sleep 0.2
    done
}

# ---------------------------------------------------------------------------------------------
# A strongSwan pair: left (192.0.2.1, inner 10.1.0.1 in 10.1.0.0/24) and right (192.0.2.2, inner
# 10.2.0.1 in 10.2.0.0/24), one PSK connection "net" on each side (start_action none), charons
# running, connections loaded. ss_pair_setup [IKE ESP] sets SS_L SS_R (namespaces) and SS_LDIR
# SS_RDIR (work dirs: vici socket, charon.log). ss_pair_conn IKE ESP [key=value...] rewrites and
# reloads both sides' connection (extra keys go to write_swanctl_conn on both sides).
SS_L_OUTER=192.0.2.1 SS_R_OUTER=192.0.2.2
SS_L_INNER=10.1.0.1 SS_R_INNER=10.2.0.1
SS_L_NET=10.1.0.0/24 SS_R_NET=10.2.0.0/24
ss_pair_setup() {
    SS_L="ssl$$" SS_R="ssr$$"
    mk_workdir SS_LDIR left
    mk_workdir SS_RDIR right
    ns_create "$SS_L"
    ns_create "$SS_R"
    link_pair "$SS_L" "$SS_L_OUTER" "$SS_R" "$SS_R_OUTER"
    inner_addr "$SS_L" "$SS_L_INNER"
    inner_addr "$SS_R" "$SS_R_INNER"
    charon_start "$SS_L" "$SS_LDIR" || return 1
    charon_start "$SS_R" "$SS_RDIR" || return 1
    ss_pair_conn "${1:-aes256gcm16-prfsha256-x25519}" "${2:-aes256gcm16}"
}
ss_pair_conn() {
    local ike=$1 esp=$2
    shift 2
    write_swanctl_conn "$SS_L" net local_addrs=$SS_L_OUTER remote_addrs=$SS_R_OUTER \
        local_id=left remote_id=right local_ts=$SS_L_NET remote_ts=$SS_R_NET ike="$ike" esp="$esp" "$@"
    write_swanctl_conn "$SS_R" net local_addrs=$SS_R_OUTER remote_addrs=$SS_L_OUTER \
        local_id=right remote_id=left local_ts=$SS_R_NET remote_ts=$SS_L_NET ike="$ike" esp="$esp" "$@"
    ss_load "$SS_L" "$SS_LDIR" && ss_load "$SS_R" "$SS_RDIR"
}

# ss_pair_teardown: stops both charons and deletes the pair's namespaces (work dirs stay until
# exit, for the logs), so a script can go on and set up something else, e.g. a vpn-gateway pair.
ss_pair_teardown() {
    charon_stop "$SS_L"
    charon_stop "$SS_R"
    ns_delete "$SS_L"
    ns_delete "$SS_R"
}

# ss_throughput_mbps [SECONDS] [IKE] [ESP]: sets up a strongSwan pair (ss_pair_setup), brings the
# tunnel up from left, measures one TCP stream left -> right (10.1.0.1 -> 10.2.0.1) with iperf3
# for SECONDS (10), tears the pair down and sets SS_MBPS to the rate in Mbit/s. Default
# algorithms: aes256gcm16-prfsha256-x25519 / aes256gcm16. Call it directly, not in $(...): what a
# subshell creates is only cleaned up at exit.
ss_throughput_mbps() {
    local secs=${1:-10} ike=${2:-aes256gcm16-prfsha256-x25519} esp=${3:-aes256gcm16} rate
    ss_pair_setup "$ike" "$esp" || return 1
    if ! { swanctl "$SS_L" "$SS_LDIR" --initiate --child net --timeout 20 >/dev/null 2>&1 &&
        wait_for_sa "$SS_L" "$SS_LDIR" net 15 && wait_for_sa "$SS_R" "$SS_RDIR" net 15; }; then
        log "strongSwan tunnel did not come up (logs: $SS_LDIR $SS_RDIR)"
        return 1
    fi
    rate=$(iperf_mbps "$SS_L" "$SS_L_INNER" "$SS_R" "$SS_R_INNER" "$secs") || return 1
    # the traffic must have gone through the SA, not around it
    local kv
    kv=$(list_sas_kv "$SS_L" "$SS_LDIR" net)
    [ "$(kv_get child_bytes_out <<<"$kv")" -gt 1000000 ] 2>/dev/null ||
        { log "the iperf3 stream did not go through the SA"; return 1; }
    ss_pair_teardown
    SS_MBPS=$rate
}

# ---------------------------------------------------------------------------------------------
# iperf_mbps CLIENT_NS CLIENT_IP SERVER_NS SERVER_IP SECONDS: one TCP stream from CLIENT_IP to an
# iperf3 server on SERVER_IP for SECONDS; prints the receiver's rate in Mbit/s (e.g. 359.42).
# The iperf3 output is kept in $IOP_IPERF_LOG if set.
iperf_mbps() {
    local cns=$1 cip=$2 sns=$3 sip=$4 secs=$5 spid out i
    ip netns exec "$sns" timeout $((secs + 30)) iperf3 -s -1 -B "$sip" >/dev/null 2>&1 &
    spid=$!
    iop_track_pid "$spid"
    for i in $(seq 50); do # wait up to 5 s for the server to listen
        ip netns exec "$sns" ss -Hltn "src $sip:5201" 2>/dev/null | grep -q . && break
        sleep 0.1
    done
    local rc=0
    out=$(ip netns exec "$cns" timeout $((secs + 20)) iperf3 -c "$sip" -B "$cip" -t "$secs" -f m 2>&1) || rc=$?
    [ -n "${IOP_IPERF_LOG:-}" ] && printf '%s\n' "$out" >"$IOP_IPERF_LOG"
    wait "$spid" 2>/dev/null || true
    [ "$rc" = 0 ] || { printf '%s\n' "$out" >&2; return 1; }
    # "[  5]   0.00-10.04  sec   430 MBytes   359 Mbits/sec                  receiver"
    awk '/receiver$/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") { print $(i - 1); found = 1 } }
         END { exit !found }' <<<"$out"
}

# tcp_transfer CLIENT_NS CLIENT_IP SERVER_NS SERVER_IP [BYTES]: a bounded TCP transfer (iperf3
# -n BYTES, default 2M) from CLIENT_IP to SERVER_IP; returns 0 when it completed (20 s at most).
tcp_transfer() {
    local cns=$1 cip=$2 sns=$3 sip=$4 bytes=${5:-2M} spid out rc i
    ip netns exec "$sns" timeout 30 iperf3 -s -1 -B "$sip" >/dev/null 2>&1 &
    spid=$!
    iop_track_pid "$spid"
    for i in $(seq 50); do
        ip netns exec "$sns" ss -Hltn "src $sip:5201" 2>/dev/null | grep -q . && break
        sleep 0.1
    done
    rc=0
    out=$(ip netns exec "$cns" timeout 20 iperf3 -c "$sip" -B "$cip" -n "$bytes" -f m 2>&1) || rc=$?
    wait "$spid" 2>/dev/null || true
    [ "$rc" = 0 ] || printf '%s\n' "$out" >&2
    return "$rc"
}

# ---------------------------------------------------------------------------------------------
# Comparing two sides' SAs. sa_compare A_KV B_KV: A and B are list_sas_kv-style key=value lines of
# the two ends of one tunnel (strongSwan's from list_sas_kv, ours from gw_sas_kv). Prints one
# line per disagreement and returns 1 if there is any:
#   IKE SPIs equal; A's ESP SPI in = B's out and A's out = B's in; the same IKE and ESP algorithms
#   (encr, key size, integ, prf, dh); mirrored traffic selectors; exactly one side the initiator.
sa_compare() {
    local a=$1 b=$2 k bad=0
    sa_cmp1() { # WHAT A_VALUE B_VALUE
        [ "$2" = "$3" ] || { echo "$1: '$2' vs '$3'"; bad=1; }
    }
    [ -n "$(kv_get child_spi_in <<<"$a")" ] || { echo "A lists no CHILD_SA"; bad=1; }
    [ -n "$(kv_get child_spi_in <<<"$b")" ] || { echo "B lists no CHILD_SA"; bad=1; }
    sa_cmp1 "ESP SPI A in / B out" "$(kv_get child_spi_in <<<"$a")" "$(kv_get child_spi_out <<<"$b")"
    sa_cmp1 "ESP SPI A out / B in" "$(kv_get child_spi_out <<<"$a")" "$(kv_get child_spi_in <<<"$b")"
    for k in ike_initiator_spi ike_responder_spi ike_encr_alg ike_encr_keysize ike_integ_alg \
        ike_prf_alg ike_dh_group child_encr_alg child_encr_keysize child_integ_alg child_mode; do
        sa_cmp1 "$k" "$(kv_get "$k" <<<"$a")" "$(kv_get "$k" <<<"$b")"
    done
    sa_cmp1 "TS A local / B remote" "$(kv_get child_local_ts <<<"$a")" "$(kv_get child_remote_ts <<<"$b")"
    sa_cmp1 "TS A remote / B local" "$(kv_get child_remote_ts <<<"$a")" "$(kv_get child_local_ts <<<"$b")"
    [ "$(kv_get ike_initiator <<<"$a")" != "$(kv_get ike_initiator <<<"$b")" ] ||
        { echo "ike_initiator: both '$(kv_get ike_initiator <<<"$a")'"; bad=1; }
    return "$bad"
}

# ---------------------------------------------------------------------------------------------
# Our side: vpn-gateway in a namespace. NOT YET EXERCISED against a running gateway (`run` and
# `status` were stubs when this was written); gw_write_config/gw_add_connection output passes
# `vpn-gateway check`, and gw_sas_kv was checked on JSON shaped like examples/gateway/src/status.rs.
#   VPN_GATEWAY                       path to the vpn-gateway binary (required by gw_start/gw_ctl)
#   gw_write_config FILE k=v...       [gateway] section (starts FILE anew)
#   gw_add_connection FILE k=v...     appends one [[connection]]
#   gw_start NS DIR CONFIG            vpn-gateway run --config CONFIG --keylog DIR/keylog in NS,
#                                     stderr+stdout to DIR/gateway.log; waits for its control socket
#   gw_stop NS [--kill]               SIGTERM (5 s, then SIGKILL) or SIGKILL at once
#   gw_ctl NS SUBCMD [args...]        vpn-gateway SUBCMD --socket SOCK args (status/initiate/terminate)
#   gw_sas_kv NS [NAME]               `status --json` flattened into list_sas_kv's key=value form
#   wait_for_gw_sa NS NAME TIMEOUT    waits for an INSTALLED child NAME in an ESTABLISHED IKE SA
: "${VPN_GATEWAY:=}"
declare -A IOP_GW_PID=()  # NS -> pid of its vpn-gateway
declare -A IOP_GW_SOCK=() # NS -> its control socket

# TOML value: a list for the keys that are lists (comma-separated input), else a string.
iop_toml_value() {
    local key=$1 v=$2 out="" item
    case $key in
        listen | tun_addresses | local_selectors | remote_selectors | ike_proposals | esp_proposals)
            local IFS=,
            for item in $v; do
                item=${item//\\/\\\\}
                out+="${out:+, }\"${item//\"/\\\"}\""
            done
            echo "[$out]"
            ;;
        retransmit_tries) echo "$v" ;; # a number
        *)
            v=${v//\\/\\\\}
            echo "\"${v//\"/\\\"}\""
            ;;
    esac
}

# gw_write_config FILE key=value...: the [gateway] section (issue 5's names): name, listen
# (comma-separated), control_socket, tun, tun_addresses (comma-separated). FILE is started anew.
gw_write_config() {
    local f=$1 kv
    shift
    {
        echo "# vpn-gateway config written by tests/interop/strongswan/lib.sh"
        echo "[gateway]"
        for kv in "$@"; do
            case $kv in *=*) ;; *) die "gw_write_config: expected key=value, got '$kv'" ;; esac
            echo "${kv%%=*} = $(iop_toml_value "${kv%%=*}" "${kv#*=}")"
        done
    } >"$f"
}

# gw_add_connection FILE key=value...: appends a [[connection]] (issue 5's names): name, kind,
# remote_address, local_id, remote_id, psk | psk_file, routing, connection_mode, local_selectors,
# remote_selectors, ike_proposals, esp_proposals (lists comma-separated), ike_lifetime,
# child_lifetime, dpd_timeout. Any other key is written as a string.
gw_add_connection() {
    local f=$1 kv
    shift
    {
        echo
        echo "[[connection]]"
        for kv in "$@"; do
            case $kv in *=*) ;; *) die "gw_add_connection: expected key=value, got '$kv'" ;; esac
            echo "${kv%%=*} = $(iop_toml_value "${kv%%=*}" "${kv#*=}")"
        done
    } >>"$f"
}

# gw_start NS DIR CONFIG: runs our gateway in NS (foreground process, RUST_LOG default "info",
# keys for tshark in DIR/keylog), output to DIR/gateway.log, and waits 10 s at most for the control
# socket named in CONFIG (put it in DIR: control_socket=$DIR/gateway.sock).
gw_start() {
    local ns=$1 dir=$2 conf=$3 sock pid i
    [ -x "$VPN_GATEWAY" ] || die "gw_start: VPN_GATEWAY='$VPN_GATEWAY' is not an executable"
    [ -z "${IOP_GW_PID[$ns]:-}" ] || die "gw_start: a vpn-gateway already runs in $ns"
    sock=$(awk -F'"' '/^control_socket[ \t]*=/ { print $2; exit }' "$conf")
    [ -n "$sock" ] || sock=/run/vpn-gateway.sock
    mkdir -p "$dir/keylog"
    ip netns exec "$ns" env RUST_LOG="${RUST_LOG:-info}" "$VPN_GATEWAY" run --config "$conf" \
        --keylog "$dir/keylog" >>"$dir/gateway.log" 2>&1 </dev/null &
    pid=$!
    IOP_GW_PID[$ns]=$pid
    IOP_GW_SOCK[$ns]=$sock
    for i in $(seq 100); do
        if [ -S "$sock" ]; then
            log "vpn-gateway started in $ns (pid $pid, log $dir/gateway.log)"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    log "vpn-gateway in $ns did not come up (no socket $sock); last lines of $dir/gateway.log:"
    tail -n 20 "$dir/gateway.log" >&2
    gw_stop "$ns" --kill
    return 1
}

# gw_stop NS [--kill]: stops the gateway we started in NS (SIGTERM and 5 s, then SIGKILL).
gw_stop() {
    local ns=$1 how=${2:-} pid=${IOP_GW_PID[$1]:-} i
    local -
    set +e
    [ -n "$pid" ] || return 0
    if [ "$how" = --kill ]; then
        kill -KILL "$pid" 2>/dev/null
    else
        kill -TERM "$pid" 2>/dev/null
        for i in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    unset "IOP_GW_PID[$ns]"
    return 0
}

# gw_ctl NS SUBCMD [args...]: `vpn-gateway SUBCMD --socket SOCK args...` in NS, 30 s at most.
gw_ctl() {
    local ns=$1 cmd=$2
    shift 2
    timeout 30 ip netns exec "$ns" "$VPN_GATEWAY" "$cmd" --socket "${IOP_GW_SOCK[$ns]:-/run/vpn-gateway.sock}" "$@"
}

# gw_sas_kv NS [NAME]: our `status --json` as key=value lines named like list_sas_kv's (same
# choice of IKE SA and child), so sa_compare can put them side by side with strongSwan's.
gw_sas_kv() {
    gw_ctl "$1" status --json 2>/dev/null | iop_flatten_gw_json "${2:-}"
}

# iop_flatten_gw_json [NAME]: the python behind gw_sas_kv (JSON from stdin). The JSON is
# examples/gateway/src/status.rs's StatusReport: {"gateway", "ike_sas": [{"name", "unique_id",
# "state", "initiator", "local_addr": "ip:port", "remote_addr", "local_id", "remote_id", "spi_i",
# "spi_r", "encr": "AES_GCM_16-256", "integ", "prf", "ke", "children": [{"name", "unique_id",
# "state", "mode", "encr", "integ", "spi_in", "spi_out", "local_ts", "remote_ts", "bytes_in",
# "bytes_out", "packets_in", "packets_out", ...}]}]}.
iop_flatten_gw_json() {
    python3 -c '
import json, sys
want = sys.argv[1]
try:
    report = json.load(sys.stdin)
except ValueError:
    sys.exit(1)

def encr(name):
    # "AES_GCM_16-256" -> ("AES_GCM_16", "256"); strongSwan lists no key size for ChaCha20
    base, _, bits = (name or "").rpartition("-")
    if not base or not bits.isdigit():
        return name or "", ""
    return base, ("" if base == "CHACHA20_POLY1305" else bits)

def hostport(a):
    host, _, port = (a or "").rpartition(":")
    return host.strip("[]"), port

def child_rank(c):
    return ({"INSTALLED": 2, "REKEYING": 1}.get(c.get("state"), 0), c.get("unique_id", 0))

best = None
for sa in report.get("ike_sas", []):
    if want and sa.get("name") != want:
        continue
    kids = [c for c in sa.get("children", []) if (not want or c.get("name") == want) and child_rank(c)[0] > 0]
    kid = max(kids, key=child_rank) if kids else None
    rank = ((sa.get("state") == "ESTABLISHED") * 2 + (kid is not None), sa.get("unique_id", 0))
    if best is None or rank > best[0]:
        best = (rank, sa, kid)
if best is None:
    sys.exit(1)
_, sa, kid = best
out = {}
lh, lp = hostport(sa.get("local_addr"))
rh, rp = hostport(sa.get("remote_addr"))
e, bits = encr(sa.get("encr"))
out.update(ike_name=sa.get("name"), ike_uniqueid=sa.get("unique_id"), ike_state=sa.get("state"),
           ike_initiator="yes" if sa.get("initiator") else "", ike_local_host=lh, ike_local_port=lp,
           ike_remote_host=rh, ike_remote_port=rp, ike_local_id=sa.get("local_id"),
           ike_remote_id=sa.get("remote_id"), ike_initiator_spi=sa.get("spi_i"),
           ike_responder_spi=sa.get("spi_r"), ike_encr_alg=e, ike_encr_keysize=bits,
           ike_integ_alg=sa.get("integ") or "", ike_prf_alg=sa.get("prf"), ike_dh_group=sa.get("ke"))
if kid is not None:
    e, bits = encr(kid.get("encr"))
    out.update(child_name=kid.get("name"), child_uniqueid=kid.get("unique_id"),
               child_state=kid.get("state"), child_mode=kid.get("mode"), child_protocol="ESP",
               child_spi_in=kid.get("spi_in"), child_spi_out=kid.get("spi_out"),
               child_encr_alg=e, child_encr_keysize=bits, child_integ_alg=kid.get("integ") or "",
               child_bytes_in=kid.get("bytes_in"), child_bytes_out=kid.get("bytes_out"),
               child_packets_in=kid.get("packets_in"), child_packets_out=kid.get("packets_out"),
               child_local_ts=",".join(kid.get("local_ts", [])),
               child_remote_ts=",".join(kid.get("remote_ts", [])))
for k in sorted(out):
    v = out[k]
    if v is None or v == "":
        continue  # like strongSwan: absent rather than empty
    print("%s=%s" % (k, v))
' "${1:-}"
}

# wait_for_gw_sa NS NAME TIMEOUT: waits until our gateway in NS lists an INSTALLED child NAME in
# an ESTABLISHED IKE SA.
wait_for_gw_sa() {
    local ns=$1 name=$2 t=$3 end kv
    end=$(($(date +%s) + t))
    while :; do
        kv=$(gw_sas_kv "$ns" "$name") || kv=""
        if [ "$(kv_get ike_state <<<"$kv")" = ESTABLISHED ] && [ "$(kv_get child_state <<<"$kv")" = INSTALLED ]; then
            return 0
        fi
        [ "$(date +%s)" -lt "$end" ] || { log "wait_for_gw_sa: no $name SA in $ns after ${t}s"; return 1; }
        sleep 0.2
    done
}

# ---------------------------------------------------------------------------------------------
# cleanup_all: everything we started or created, in reverse order. Safe to call twice.
# ss_gw_setup: the usual strongSwan (left) / vpn-gateway (right) layout of the interop scripts:
# namespaces $SS and $GW, work dirs $SSDIR and $GWDIR, a veth 192.0.2.1 <-> 192.0.2.2, strongSwan's
# inner address 10.1.0.1 on lo, and its charon started.
ss_gw_setup() {
    SS=ssl$$ GW=gwr$$
    mk_workdir SSDIR strongswan
    mk_workdir GWDIR gateway
    ns_create "$SS"
    ns_create "$GW"
    link_pair "$SS" 192.0.2.1 "$GW" 192.0.2.2
    inner_addr "$SS" 10.1.0.1
    charon_start "$SS" "$SSDIR"
}

# gw_pair_setup EAST_MODE: two vpn-gateways (VNet-to-VNet): west (192.0.2.1, 10.1.0.0/24, TUN
# address 10.1.0.1) initiates at start, east (192.0.2.2, 10.2.0.0/24, 10.2.0.1) runs its
# connection in EAST_MODE (default | responder-only); both started. Sets $W $E $WDIR $EDIR; uses
# $PSK $IKE $ESP. Returns non-zero if a gateway did not start.
gw_pair_setup() {
    local east_mode=${1:-default}
    W=gww$$ E=gwe$$
    mk_workdir WDIR west
    mk_workdir EDIR east
    ns_create "$W"
    ns_create "$E"
    link_pair "$W" 192.0.2.1 "$E" 192.0.2.2
    gw_write_config "$EDIR/gateway.toml" name=east listen=192.0.2.2 control_socket="$EDIR/gateway.sock" \
        tun=vpn0 tun_addresses=10.2.0.1/32
    gw_add_connection "$EDIR/gateway.toml" name=west kind=vnet-to-vnet remote_address=192.0.2.1 \
        local_id=east remote_id=west psk="$PSK" connection_mode="$east_mode" \
        local_selectors=10.2.0.0/24 remote_selectors=10.1.0.0/24 ike_proposals="$IKE" esp_proposals="$ESP"
    gw_write_config "$WDIR/gateway.toml" name=west listen=192.0.2.1 control_socket="$WDIR/gateway.sock" \
        tun=vpn0 tun_addresses=10.1.0.1/32
    gw_add_connection "$WDIR/gateway.toml" name=east kind=vnet-to-vnet remote_address=192.0.2.2 \
        local_id=west remote_id=east psk="$PSK" local_selectors=10.1.0.0/24 remote_selectors=10.2.0.0/24 \
        ike_proposals="$IKE" esp_proposals="$ESP"
    gw_start "$E" "$EDIR" "$EDIR/gateway.toml" || return 1
    gw_start "$W" "$WDIR" "$WDIR/gateway.toml" || return 1
}

cleanup_all() {
    local - # set +e stays local: a failing kill or del must not end a `set -e` caller here
    set +e
    local ns pid d
    for ns in "${!IOP_CHARON_PID[@]}"; do charon_stop "$ns"; done
    for ns in "${!IOP_GW_PID[@]}"; do gw_stop "$ns"; done
    for pid in "${IOP_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${IOP_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    IOP_PIDS=()
    for ns in "${IOP_NETNS[@]}"; do
        # Anything still running inside a namespace we created was started by us (a vpn-gateway,
        # a ping...): end it before deleting the namespace.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    IOP_NETNS=()
    for d in "${IOP_ETC_NETNS[@]}"; do rm -rf -- "$d"; done
    IOP_ETC_NETNS=()
    if [ "$IOP_CREATED_ETC_NETNS" = 1 ]; then rmdir /etc/netns 2>/dev/null; IOP_CREATED_ETC_NETNS=0; fi
    if [ "${IOP_KEEP:-0}" = 1 ]; then
        [ ${#IOP_TMPDIRS[@]} -gt 0 ] && log "IOP_KEEP=1: logs kept in ${IOP_TMPDIRS[*]}"
    else
        for d in "${IOP_TMPDIRS[@]}"; do rm -rf -- "$d"; done
    fi
    IOP_TMPDIRS=()
    # Also what a $(...) subshell created (it could not add to our arrays, only to the state
    # file); then nothing is left for the supervisor.
    if [ -n "${IOP_STATE:-}" ]; then
        iop_cleanup_state "$IOP_STATE"
        : >"$IOP_STATE"
    fi
    return 0
}

# On any exit (also an error under set -e or a die), clean up.
iop_on_exit() {
    local rc=$?
    set +e
    trap - EXIT INT TERM HUP
    cleanup_all
    exit "$rc"
}
# On Ctrl-C, kill or hang-up: clean up, then die of the same signal (exit status 128+N). Not
# `exit` from the trap: bash 5.2 may run a trap while it parses a $(...) and then turns that
# `exit` into a syntax error and goes on with the next command (seen here: a TERMed
# charon-pair.sh printed its summary and exited 0). A trap that fires in a forked subshell
# only ends that subshell.
iop_on_signal() {
    if [ "${BASHPID:-$$}" != "$$" ]; then exit 1; fi
    set +e
    trap - EXIT INT TERM HUP
    log "caught SIG$1, cleaning up"
    cleanup_all
    trap - "$1"
    kill -s "$1" "$$"
}
trap iop_on_exit EXIT
trap 'iop_on_signal INT' INT
trap 'iop_on_signal TERM' TERM
trap 'iop_on_signal HUP' HUP

# ---------------------------------------------------------------------------------------------
# NAT router: a namespace between an inside host namespace and an outside one, masquerading what
# leaves by its outside interface (nftables, in that namespace only), with conntrack to look at
# and flush its mappings. Needs nft and conntrack (conntrack-tools).
#   nat_router_create NAT IN_NS IN_HOST_CIDR NAT_IN_CIDR OUT_NS OUT_HOST_CIDR NAT_OUT_CIDR [MASQ_OPTS]
#   nat_flush NAT                               conntrack -F: every mapping forgotten
#   nat_conntrack NAT                           conntrack -L -p udp (one line per entry)
#   nat_external_port NAT SRC_IP SPORT          the outside port that SRC_IP:SPORT is mapped to now

# nat_router_create NAT IN_NS IN_HOST_CIDR NAT_IN_CIDR OUT_NS OUT_HOST_CIDR NAT_OUT_CIDR [MASQ_OPTS]:
# creates namespace NAT (ns_create), a veth IN_NS (IN_HOST_CIDR) <-> NAT (NAT_IN_CIDR) and a veth
# NAT (NAT_OUT_CIDR) <-> OUT_NS (OUT_HOST_CIDR); IN_NS gets its default route via NAT's inside
# address; NAT forwards (net.ipv4.ip_forward=1 in NAT only) and masquerades to its outside address:
#   table ip nat { chain post { type nat hook postrouting priority srcnat; oif OUT masquerade MASQ_OPTS; } }
# MASQ_OPTS defaults to "random": every new conntrack entry gets a random external port, so a
# flushed mapping comes back on a NEW port (a NAT rebinding). Give "" for port-preserving NAT.
# IN_NS and OUT_NS must exist (ns_create). Sets NAT_IN_IF and NAT_OUT_IF (NAT's interfaces).
nat_router_create() {
    local nat=$1 in_ns=$2 in_host=$3 nat_in=$4 out_ns=$5 out_host=$6 nat_out=$7 opts=${8-random}
    ns_create "$nat"
    link_pair "$in_ns" "$in_host" "$nat" "$nat_in"
    NAT_IN_IF=$LINK_IF2
    link_pair "$nat" "$nat_out" "$out_ns" "$out_host"
    NAT_OUT_IF=$LINK_IF1
    ip -n "$in_ns" route add default via "${nat_in%/*}" || die "nat_router_create: default route in $in_ns"
    ip netns exec "$nat" sysctl -qw net.ipv4.ip_forward=1 || die "nat_router_create: ip_forward in $nat"
    ip netns exec "$nat" nft -f - <<EON || die "nat_router_create: nft in $nat"
table ip nat {
    chain post {
        type nat hook postrouting priority srcnat;
        oif "$NAT_OUT_IF" masquerade $opts
    }
}
EON
}

# nat_flush NAT: forgets every connection tracking entry (and so every NAT mapping) in NAT.
nat_flush() { ip netns exec "$1" conntrack -F >/dev/null 2>&1; }

# nat_conntrack NAT: NAT's UDP conntrack entries, one a line (conntrack -L -p udp).
nat_conntrack() { ip netns exec "$1" conntrack -L -p udp 2>/dev/null; }

# nat_external_port NAT SRC_IP SPORT: the port outside hosts see for SRC_IP:SPORT, i.e. the reply
# direction's dport of the entry whose original direction has src=SRC_IP sport=SPORT (the newest
# listed if several); nothing (status 1) when there is no such entry.
nat_external_port() {
    nat_conntrack "$1" | awk -v ip="$2" -v port="$3" '
        {
            n = 0; delete src; delete sp; delete dp
            for (i = 1; i <= NF; i++) {
                if ($i ~ /^src=/) { n++; src[n] = substr($i, 5) }
                if ($i ~ /^sport=/) sp[n] = substr($i, 7)
                if ($i ~ /^dport=/) dp[n] = substr($i, 7)
            }
            if (src[1] == ip && sp[1] == port && dp[2] != "") found = dp[2]
        }
        END { if (found == "") exit 1; print found }'
}
