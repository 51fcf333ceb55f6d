#!/bin/bash
# bench/run.sh - vpn's throughput, latency, CPU and memory, against the
# veth pair it runs over and against its peers.  Prints; asserts nothing.
#
#  ┌────────── $NS1 ───────────┐        ┌────────── $NS2 ───────────┐
#  │ iperf3 -s, ping target    │        │ iperf3 -c, ping           │
#  │ tun0 10.9.0.1             │        │ tun0 10.9.0.2             │
#  │ the row's tunnel (server) │        │ the row's tunnel (client) │
#  │ veth1 192.0.2.1 ──────────┼────────┼── veth2 192.0.2.2         │
#  └───────────────────────────┘        └───────────────────────────┘
#
# Each row sets its tunnel up, measures it and tears it down; every row is
# measured in the same run, so the ratios to the direct row mean something.
set -eu -o pipefail
shopt -s extglob
export LC_ALL=C

PROGRAM=${0##*/}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/netns.sh
. "$ROOT/scripts/netns.sh"
BENCH_SECS=${BENCH_SECS:-4}		# length of one iperf3 run
BENCH_RUNS=${BENCH_RUNS:-3}		# runs per cell; the cell is their median
BENCH_MTU=${BENCH_MTU:-1500}		# tunnel MTU; the targets assume 1500
BENCH_PINGS=${BENCH_PINGS:-20}		# echo requests, 10 ms apart
BENCH_ROWS=${BENCH_ROWS:-direct pipe socket socket-cubic udp udp-fit socat-tcp socat-udp openvpn}
BENCH_OUT=${BENCH_OUT:-$ROOT/bench/last.md}
VPN_FLAGS=${VPN_FLAGS:-}
PORT=33960				# the tunnel's port; each row adds its index
NS1=vpnb-$$-1 NS2=vpnb-$$-2
LINK1=192.0.2.1 LINK2=192.0.2.2		# TEST-NET-1, only inside our namespaces
ADDR1=10.9.0.1 ADDR2=10.9.0.2
TUN=tun0
FIT_MTU=1400			# server.sh -T udp's: a datagram fits 1500
CC_DEFAULT=/proc/sys/net/ipv4/tcp_congestion_control
CC_AVAILABLE=/proc/sys/net/ipv4/tcp_available_congestion_control
# socat's option for cubic on its socket: TCP_CONGESTION (13) at IPPROTO_TCP (6)
CUBIC=setsockopt-string=6:13:cubic
TUNNEL_COMMS='cat nc openvpn socat'	# processes whose CPU time is the tunnel's
VPN='' VPN_COMM='' TMP='' UNDO=() VFLAGS=() ROW_PIDS=()
declare -A LABEL=(
	[direct]='direct veth (the limit)'
	[pipe]='vpn, nc pipeline'
	[socket]='vpn, TCP socket'
	[socket-cubic]='vpn, TCP socket, cubic'
	[udp]='vpn -D, UDP'
	[udp-fit]="vpn -D, UDP, MTU $FIT_MTU"
	[socat-tcp]='socat TUN, TCP (peer)'
	[socat-udp]='socat TUN, UDP (peer)'
	[openvpn]='OpenVPN TCP, no crypto (peer)'
)
declare -A SERVER=(			# for the markdown's legend
	[pipe]='cat fifo | vpn | nc -l PORT >fifo'
	[socket]='socat TCP-LISTEN:PORT EXEC:vpn,nofork'
	[socket-cubic]="socat TCP-LISTEN:PORT,$CUBIC EXEC:vpn,nofork"
	[udp]='socat UDP-LISTEN:PORT EXEC:"vpn -D",nofork'
	[udp-fit]='socat UDP-LISTEN:PORT EXEC:"vpn -D",nofork'
	[socat-tcp]='socat TCP-LISTEN:PORT TUN:10.9.0.1/24,iff-no-pi,up'
	[socat-udp]='socat UDP-LISTEN:PORT TUN:10.9.0.1/24,iff-no-pi,up'
	[openvpn]='openvpn --proto tcp-server --dev tun --ifconfig 10.9.0.1 10.9.0.2
	    --cipher none --auth none --tcp-nodelay --txqueuelen 500'
)
declare -A CLIENT=(
	[pipe]='cat fifo | vpn | nc HOST PORT >fifo'
	[socket]='socat TCP:HOST:PORT EXEC:vpn,nofork'
	[socket-cubic]="socat TCP:HOST:PORT,$CUBIC EXEC:vpn,nofork"
	[udp]='socat UDP:HOST:PORT EXEC:"vpn -D -k 1",nofork'
	[udp-fit]="socat UDP:HOST:PORT EXEC:\"vpn -D -k 1\",nofork; MTU $FIT_MTU"
	[socat-tcp]='socat TCP:HOST:PORT TUN:10.9.0.2/24,iff-no-pi,up'
	[socat-udp]='socat UDP:HOST:PORT TUN:10.9.0.2/24,iff-no-pi,up'
	[openvpn]='openvpn --proto tcp-client --remote HOST PORT ...'
)
declare -A CELL=()			# CELL[row:column]: a figure, or empty
declare -A STATUS=() NOTE=()		# why a row has no figures; remarks

run() { printf '[#] %s\n' "$*" >&2; "$@"; }
die() { printf '%s: %s\n' "$PROGRAM" "$*" >&2; exit 1; }
say() { printf '[+] %s\n' "$*" >&2; }

# undo CMD...: remember how to reverse the step just taken.
undo() { UNDO+=("$(printf '%q ' "$@")"); }

cleanup() {
	local i
	trap - EXIT INT TERM
	trap '' PIPE		# a reader gone: still undo, silently
	for ((i = ${#UNDO[@]} - 1; i >= 0; i--)); do
		eval "run ${UNDO[i]}" || true
	done
}

usage() {
	cat <<EOF
usage: $PROGRAM [-h] [vpn]

Measure vpn (default ./vpn) against a veth pair between two namespaces
and against socat's TUN address and OpenVPN, with iperf3 and ping through
each tunnel.  Prints one table and how it compares with the targets of
issue 5; writes the same as markdown to \$BENCH_OUT.  Must run as root.

Environment, with the defaults:
EOF
	printf '  %-24s %s\n' \
	    "BENCH_SECS=$BENCH_SECS" 'seconds per iperf3 run' \
	    "BENCH_RUNS=$BENCH_RUNS" 'runs per cell; the cell shows their median' \
	    "BENCH_MTU=$BENCH_MTU" 'the tunnel MTU' \
	    "BENCH_PINGS=$BENCH_PINGS" 'echo requests for the RTT, 10 ms apart' \
	    "VPN_FLAGS='$VPN_FLAGS'" 'more flags for every vpn (e.g. -O)' \
	    "BENCH_OUT=${BENCH_OUT#"$ROOT"/}" 'the markdown table'
	printf '  BENCH_ROWS=%s\n' "'$BENCH_ROWS'"
}

parse_args() {
	local opt
	while getopts h opt; do
		case $opt in
		h) usage; exit 0 ;;
		*) usage >&2; exit 2 ;;
		esac
	done
	shift $((OPTIND - 1))
	(($# <= 1)) || { usage >&2; exit 2; }
	VPN=${1:-$ROOT/vpn}
	[[ $VPN == /* ]] || VPN=$PWD/$VPN	# socat's EXEC runs it elsewhere
	VPN_COMM=$(basename "$VPN")
	VPN_COMM=${VPN_COMM:0:15}		# as /proc/PID/comm has it
	read -ra VFLAGS <<<"$VPN_FLAGS"
}

preflight() {
	local c r n
	for c in ip iperf3 jq nc ping socat ss timeout; do
		command -v "$c" >/dev/null || die "$c: not found"
	done
	[[ $EUID -eq 0 ]] || die "must be run as root"
	[[ -x $VPN ]] || die "$VPN: not an executable"
	for n in BENCH_SECS BENCH_RUNS BENCH_MTU BENCH_PINGS; do
		[[ ${!n} =~ ^[1-9][0-9]*$ ]] || die "$n: not a positive number: '${!n}'"
	done
	((BENCH_MTU >= 576 && BENCH_MTU <= 65535)) ||
		die "BENCH_MTU: not between 576 and 65535: '$BENCH_MTU'"
	for r in $BENCH_ROWS; do
		[[ -n ${LABEL[$r]+x} ]] || die "BENCH_ROWS: no such row: '$r'"
	done
	[[ -d $(dirname "$BENCH_OUT") ]] || die "$BENCH_OUT: no such directory"
}

# -- namespaces and processes

# ns_pids: every process in our namespaces (all of them ours).
ns_pids() {
	ip netns pids "$NS1" 2>/dev/null
	ip netns pids "$NS2" 2>/dev/null
}

ns_del() {
	ns_kill "$NS1" "$NS2"
	ip netns del "$NS1" 2>/dev/null || true
	ip netns del "$NS2" 2>/dev/null || true
}

setup() {
	TMP=$(mktemp -d "/tmp/vpnb-$$.XXXXXX")
	undo rm -rf "$TMP"
	run ip netns add "$NS1"
	undo ns_del
	run ip netns add "$NS2"
	ip -n "$NS1" link set lo up
	ip -n "$NS2" link set lo up
	run ip -n "$NS1" link add veth1 type veth peer name veth2 netns "$NS2"
	ip -n "$NS1" addr add "$LINK1/24" dev veth1
	ip -n "$NS2" addr add "$LINK2/24" dev veth2
	ip -n "$NS1" link set veth1 up
	ip -n "$NS2" link set veth2 up
	wait_for 5 ip netns exec "$NS2" ping -c 1 -W 1 "$LINK1" ||
		die "the veth pair does not carry a ping"
}

# tun_conf MTU NS ADDR: MTU, address and link state of a device vpn made.
tun_conf() {
	ip -n "$2" link set dev "$TUN" mtu "$1"
	tun_up "$2" "$TUN" "$3/24"
}

# tun_mtu MTU NS ADDR: the MTU only, for a device its maker configured.
tun_mtu() { ip -n "$2" link set dev "$TUN" mtu "$1"; }

# tunnel_pids: the processes that carry the tunnel, one PID a line.
tunnel_pids() {
	local pid comm
	for pid in $(ns_pids); do
		comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
		[[ " $TUNNEL_COMMS $VPN_COMM " != *" $comm "* ]] || echo "$pid"
	done
}

# cpu_ticks PID...: their user and system time, in clock ticks.
cpu_ticks() {
	local pid line f sum=0
	for pid in "$@"; do
		line=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		read -ra f <<<"${line##*) }"	# f[0] is field 3, state
		sum=$((sum + f[11] + f[12]))	# fields 14 and 15
	done
	echo "$sum"
}

# vpn_hwm_kib: the largest VmHWM of the vpn processes, in KiB.
vpn_hwm_kib() {
	local pid kib max=0
	for pid in $(ns_pids); do
		[[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$VPN_COMM" ]] || continue
		kib=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$pid/status" \
		    2>/dev/null) || continue
		((${kib:-0} <= max)) || max=$kib
	done
	if ((max > 0)); then
		echo "$max"
	fi
}

# -- tunnels: each starts both ends and returns once ping crosses it

# ends NAME CMD1 -- CMD2: run CMD1 in $NS1 and, once it listens, CMD2 in
# $NS2; their output goes to $TMP/NAME.1 and $TMP/NAME.2.
ends() {
	local name=$1 proto=t cmd1=()
	shift
	while [[ $1 != -- ]]; do
		cmd1+=("$1")
		shift
	done
	shift
	[[ ${cmd1[*]} != *UDP-LISTEN* ]] || proto=u
	ip netns exec "$NS1" "${cmd1[@]}" </dev/null >"$TMP/$name.1" 2>&1 &
	wait_for 5 listening "$NS1" "$ROW_PORT" "$proto" ||
		{ ROW_ERR="$NS1 does not listen on $ROW_PORT"; return 1; }
	ip netns exec "$NS2" "$@" </dev/null >"$TMP/$name.2" 2>&1 &
}

# tun_ready CONFIG...: both devices exist, CONFIG... NS ADDR has configured
# each, and ping crosses the tunnel (once the kernel has seen the carrier).
tun_ready() {
	wait_for 5 has_link "$NS2" "$TUN" || { ROW_ERR="no $TUN in $NS2"; return 1; }
	"$@" "$NS2" "$ADDR2"
	# A UDP server makes its device on the first datagram: send one.
	ip netns exec "$NS2" ping -c 1 -W 1 "$ADDR1" >/dev/null 2>&1 || true
	wait_for 5 has_link "$NS1" "$TUN" || { ROW_ERR="no $TUN in $NS1"; return 1; }
	"$@" "$NS1" "$ADDR1"
	wait_for 10 ip netns exec "$NS2" ping -c 1 -W 1 "$ADDR1" ||
		{ ROW_ERR="ping does not cross the tunnel"; return 1; }
}

up_direct() { DST=$LINK1; }

up_pipe() {
	mkfifo "$TMP/f1" "$TMP/f2"
	# shellcheck disable=SC2016 # expanded by the inner sh
	ends pipe sh -c 'f=$1 port=$2; shift 2
	    cat "$f" | "$@" | nc -l "$port" >"$f"' - "$TMP/f1" "$ROW_PORT" \
	    "$VPN" -i "$TUN" "${VFLAGS[@]}" -- \
	    sh -c 'f=$1 host=$2 port=$3; shift 3
	    cat "$f" | "$@" | nc "$host" "$port" >"$f"' - "$TMP/f2" "$LINK1" \
	    "$ROW_PORT" "$VPN" -i "$TUN" "${VFLAGS[@]}" &&
		tun_ready tun_conf "$BENCH_MTU"
}

# vpn_exec [FLAGS...]: vpn's command line for socat's EXEC, which splits
# it at spaces (so no empty words).
vpn_exec() {
	local words=("$VPN" -i "$TUN" "$@" "${VFLAGS[@]}")
	echo "${words[*]}"
}

# up_socket [NAME [SOCKOPT]]: the socket row, SOCKOPT on both sockets.
up_socket() {
	local name=${1:-socket} opt=${2:+,$2} exe
	exe=$(vpn_exec)
	ends "$name" socat "TCP-LISTEN:$ROW_PORT,reuseaddr$opt" \
	    "EXEC:$exe,nofork" -- \
	    socat "TCP:$LINK1:$ROW_PORT$opt" "EXEC:$exe,nofork" &&
		tun_ready tun_conf "$BENCH_MTU"
}

# The same with cubic as the tunnel connection's congestion control: BBR,
# the default on some hosts, paces that connection, and the tunnel pays for
# it.  The flows inside keep the host's default.
up_socket_cubic() {
	if ! grep -qw cubic "$CC_AVAILABLE"; then
		ROW_SKIP="cubic is not in $CC_AVAILABLE"
		return 1
	fi
	up_socket socket-cubic "$CUBIC"
}

# up_udp [NAME MTU]: the UDP row, its tunnel MTU (default $BENCH_MTU).
up_udp() {
	ends "${1:-udp}" socat "UDP-LISTEN:$ROW_PORT" \
	    "EXEC:$(vpn_exec -D),nofork" -- \
	    socat "UDP:$LINK1:$ROW_PORT" "EXEC:$(vpn_exec -D -k 1),nofork" &&
		tun_ready tun_conf "${2:-$BENCH_MTU}"
}

# The same with a tunnel MTU at which a datagram fits the link: at 1500 each
# full-size packet crosses as two IP fragments, and the kernel will not send
# a run of such datagrams in one call (UDP_SEGMENT).
up_udp_fit() { up_udp udp-fit "$FIT_MTU"; }

# socat's own TUN address: packets written to the socket as they are, with
# nothing to mark where one ends (the naive tunnel).
socat_tun() {
	echo "TUN:$1/24,tun-name=$TUN,tun-type=tun,iff-no-pi,up"
}

up_socat_tcp() {
	ends socat-tcp socat -b 65536 "TCP-LISTEN:$ROW_PORT,reuseaddr" \
	    "$(socat_tun "$ADDR1")" -- \
	    socat -b 65536 "TCP:$LINK1:$ROW_PORT" "$(socat_tun "$ADDR2")" &&
		tun_ready tun_mtu "$BENCH_MTU"
}

up_socat_udp() {
	ends socat-udp socat -b 65536 "UDP-LISTEN:$ROW_PORT" \
	    "$(socat_tun "$ADDR1")" -- \
	    socat -b 65536 "UDP:$LINK1:$ROW_PORT" "$(socat_tun "$ADDR2")" &&
		tun_ready tun_mtu "$BENCH_MTU"
}

up_openvpn() {
	local common=(--dev "$TUN" --dev-type tun --tun-mtu "$BENCH_MTU"
	    --cipher none --auth none --disable-dco --tcp-nodelay
	    --txqueuelen 500 --verb 1)	# the queue vpn's device gets by default
	if ! command -v openvpn >/dev/null; then
		ROW_SKIP="openvpn is not installed (Debian package openvpn)"
		return 1
	fi
	ends openvpn openvpn "${common[@]}" --proto tcp-server \
	    --lport "$ROW_PORT" --ifconfig "$ADDR1" "$ADDR2" -- \
	    openvpn "${common[@]}" --proto tcp-client --nobind \
	    --remote "$LINK1" "$ROW_PORT" --ifconfig "$ADDR2" "$ADDR1" &&
		tun_ready :
}

# -- measurements

# iperf ARGS...: one iperf3 run from $NS2 to $DST; prints the bits per
# second and the bytes the receiver got.  A client whose tunnel breaks
# would wait for it for long: it is ended as soon as the tunnel has gone.
iperf() {
	local srv cli rc=0 i
	ip netns exec "$NS1" iperf3 -s -1 >/dev/null 2>&1 &
	srv=$!
	wait_for 5 listening "$NS1" 5201 || rc=1
	if ((rc == 0)); then
		ip netns exec "$NS2" iperf3 -c "$DST" -t "$BENCH_SECS" -J \
		    --connect-timeout 3000 "$@" >"$TMP/iperf.json" 2>&1 &
		cli=$!
		for ((i = 0; i < (BENCH_SECS + 20) * 10; i++)); do
			if exited "$cli" || ! pids_alive; then
				break
			fi
			sleep 0.1
		done
		kill "$cli" 2>/dev/null || true
		wait "$cli" || rc=$?
	fi
	wait_for 3 exited "$srv" || kill "$srv" 2>/dev/null || true
	wait "$srv" 2>/dev/null || true
	((rc == 0)) || return 1
	jq -r '.end.sum_received | select(.bytes > 0) |
	    "\(.bits_per_second) \(.bytes)"' "$TMP/iperf.json" | grep .
}

# pids_alive: every process that carried the row's tunnel still runs.
pids_alive() {
	local pid
	for pid in "${ROW_PIDS[@]}"; do
		exited "$pid" && return 1
	done
	return 0
}

# broken ROW: a process that carried ROW's tunnel has gone; say so once.
broken() {
	! pids_alive || return 1
	if [[ ${NOTE[$1]:-} != *"tunnel broke"* ]]; then
		note "$1" "the tunnel broke (one of its processes exited)"
		logs "$1"
	fi
}

# median: the median of the numbers on stdin, or nothing.
median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
	    else if (NR) print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# throughput ROW COLUMN ARGS...: $BENCH_RUNS iperf3 runs; the median in
# Gbit/s goes to CELL[ROW:COLUMN], the bytes moved to BYTES.
throughput() {
	local row=$1 col=$2 i r bps bytes rates=()
	shift 2
	BYTES=0
	for ((i = 1; i <= BENCH_RUNS; i++)); do
		! broken "$row" || return 0
		if r=$(iperf "$@"); then
			read -r bps bytes <<<"$r"
			rates+=("$(awk -v b="$bps" 'BEGIN { printf "%.3f", b / 1e9 }')")
			BYTES=$((BYTES + ${bytes%.*}))
			say "${LABEL[$row]}: $col run $i: ${rates[-1]} Gbit/s"
		else
			say "${LABEL[$row]}: $col run $i: failed"
			note "$row" "iperf3${*:+ $*} failed in run $i"
		fi
	done
	((${#rates[@]} == 0)) ||
		CELL[$row:$col]=$(printf '%s\n' "${rates[@]}" | median)
}

# rtt ROW: min and avg of $BENCH_PINGS echo requests, in ms.
rtt() {
	local out
	out=$(ip netns exec "$NS2" ping -c "$BENCH_PINGS" -i 0.01 -W 1 -q "$DST") ||
		note "$1" "ping lost replies"
	out=$(sed -nE 's|^rtt [a-z/]+ = ([0-9.]+)/([0-9.]+)/.*|\1 \2|p' <<<"$out")
	[[ -z $out ]] || { CELL[$1:rttmin]=${out% *} CELL[$1:rttavg]=${out#* }; }
}

# measure ROW: every column of ROW, through the tunnel that is up.  The
# CPU time is the tunnel processes' during the single-stream runs.
measure() {
	local row=$1 t0 t1 u0
	mapfile -t ROW_PIDS < <(tunnel_pids)
	u0=$(udp_drops)
	rtt "$row"
	t0=$(cpu_ticks "${ROW_PIDS[@]}")
	throughput "$row" up
	t1=$(cpu_ticks "${ROW_PIDS[@]}")
	if ((${#ROW_PIDS[@]} > 0 && BYTES > 0)); then
		CELL[$row:cpu]=$(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
		    -v b="$BYTES" 'BEGIN { printf "%.2f", t / hz / (b / 1e9) }')
	fi
	throughput "$row" down -R
	throughput "$row" p4 -P 4
	CELL[$row:rss]=$(vpn_hwm_kib)
	broken "$row" || true
	drops_note "$row" "$u0"
}

# udp_drops: datagrams dropped for want of socket buffer, both sides.
udp_drops() {
	local ns n sum=0
	for ns in "$NS1" "$NS2"; do
		n=$(ip netns exec "$ns" cat /proc/net/snmp |
		    awk '$1 == "Udp:" && $2 ~ /^[0-9]/ { print $6 }')
		sum=$((sum + ${n:-0}))
	done
	echo "$sum"
}

# drops_note ROW UDP0: where packets were lost during ROW (a tunnel over
# TCP loses none on the way; these are what slow its TCP inside).
drops_note() {
	local row=$1 u n1 n2
	u=$(($(udp_drops) - $2))
	((u == 0)) || note "$row" "UDP socket buffers dropped $u datagrams"
	n1=$(tun_dropped "$NS1")
	n2=$(tun_dropped "$NS2")
	((n1 + n2 == 0)) ||
		note "$row" "$TUN dropped $n1 + $n2 packets on their way out"
}

tun_dropped() {
	ip netns exec "$1" cat "/sys/class/net/$TUN/statistics/tx_dropped" \
	    2>/dev/null || echo 0
}

# note ROW TEXT: add a remark to ROW's notes.
note() { NOTE[$1]+="${NOTE[$1]:+; }$2"; }

# logs ROW: the last line each end of ROW wrote, into its notes.
logs() {
	local f end line
	for f in "$TMP/$1".[12]; do
		[[ -s $f ]] || continue
		end=server
		[[ $f == *2 ]] && end=client
		line=$(tail -1 "$f" | sed -E 's|^[0-9]{4}[-/][0-9]{2}[-/][0-9]{2} [0-9:]{8} ||
		    s/^([a-z]+)\[[0-9]+\] /\1: /')
		note "$1" "$end said '$line'"
	done
}

# bench_row ROW: set ROW's tunnel up, measure it, tear it down.
bench_row() {
	local row=$1
	ROW_ERR='' ROW_SKIP='' DST=$ADDR1
	say "${LABEL[$row]}: setting up"
	if "up_${row//-/_}"; then
		measure "$row"
	elif [[ -n $ROW_SKIP ]]; then
		STATUS[$row]="skipped: $ROW_SKIP"
	else
		STATUS[$row]="failed: $ROW_ERR"
		logs "$row"
	fi
	ns_kill "$NS1" "$NS2"
	rm -f "$TMP/f1" "$TMP/f2"
	wait_for 5 tun_gone || die "$TUN left over after ${LABEL[$row]}"
}

tun_gone() { no_link "$NS1" "$TUN" && no_link "$NS2" "$TUN"; }

# -- report

# pct ROW COLUMN: the cell as a percentage of the direct row's.
pct() {
	local v=${CELL[$1:$2]:-} d=${CELL[direct:$2]:-}
	[[ -n $v && -n $d ]] || return 0
	awk -v v="$v" -v d="$d" 'BEGIN { printf "%.0f", 100 * v / d }'
}

# cells ROW: the row's figures, tab-separated, in column order.
cells() {
	local row=$1 col p out=() none=-
	[[ ${NOTE[$row]:-} != *"tunnel broke"* ]] || none=broke
	for col in up down p4; do
		p=$(pct "$row" "$col")
		if [[ -z ${CELL[$row:$col]:-} ]]; then
			out+=("$none")
		elif [[ -z $p ]]; then
			out+=("$(printf '%.2f' "${CELL[$row:$col]}")")
		else
			out+=("$(printf '%.2f (%s %%)' "${CELL[$row:$col]}" "$p")")
		fi
	done
	if [[ -n ${CELL[$row:rttavg]:-} ]]; then
		out+=("${CELL[$row:rttmin]} / ${CELL[$row:rttavg]}")
	else
		out+=(-)
	fi
	out+=("${CELL[$row:cpu]:--}")
	if [[ -n ${CELL[$row:rss]:-} ]]; then
		out+=("$(awk -v k="${CELL[$row:rss]}" 'BEGIN { printf "%.2f", k / 1024 }')")
	else
		out+=(-)
	fi
	(IFS=$'\t'; echo "${out[*]}")
}

HEADS=$'1 stream, Gbit/s\t1 stream -R\t4 streams\tRTT min / avg, ms'
HEADS+=$'\tCPU s/GB\tvpn RSS, MiB'

table_text() {
	local row
	{
		printf 'tunnel\t%s\n' "$HEADS"
		for row in $BENCH_ROWS; do
			if [[ -n ${STATUS[$row]:-} ]]; then
				printf '%s\t%s\n' "${LABEL[$row]}" "${STATUS[$row]}"
			else
				printf '%s\t%s\n' "${LABEL[$row]}" "$(cells "$row")"
			fi
		done
	} | awk -F '\t' '
	    { n[NR] = NF
		for (i = 1; i <= NF; i++) {
			c[NR, i] = $i
			if ((NF > 2 || i == 1) && length($i) > w[i])
				w[i] = length($i)
		} }
	    END { for (r = 1; r <= NR; r++) {
		line = sprintf("%-" w[1] "s", c[r, 1])
		for (i = 2; i <= n[r]; i++)
			line = line "  " (n[r] > 2 ? sprintf("%" w[i] "s", c[r, i]) : c[r, i])
		print line } }'
}

table_md() {
	local row
	printf '| tunnel | %s |\n' "${HEADS//$'\t'/ | }"
	printf '|---|---:|---:|---:|---:|---:|---:|\n'
	for row in $BENCH_ROWS; do
		if [[ -n ${STATUS[$row]:-} ]]; then
			printf '| %s | %s | | | | | |\n' "${LABEL[$row]}" "${STATUS[$row]}"
		else
			printf '| %s | %s |\n' "${LABEL[$row]}" "$(cells "$row" | sed 's/\t/ | /g')"
		fi
	done
}

# -- targets (issue 5): informational

lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# verdict COND: "met" or "not met"; "n/a" when a figure is missing.
verdict() {
	case $1 in
	1) echo met ;;
	0) echo 'not met' ;;
	*) echo n/a ;;
	esac
}

# ratio_target ROW MIN: both single-stream directions at MIN % or more.
ratio_target() {
	local up down
	up=$(pct "$1" up) down=$(pct "$1" down)
	if [[ -z $up || -z $down ]]; then
		printf 'no figures\tn/a'
		return
	fi
	printf '%s %% / %s %% of direct\t%s' "$up" "$down" \
	    "$(verdict $((up >= $2 && down >= $2)))"
}

# ahead_target "VPNROWS" "PEERROWS": in each single-stream direction the
# slowest vpn row beats the fastest peer row.
ahead_target() {
	local col r v slow fast ok=1 text='' any=0
	local -A name=([up]='1 stream' [down]='-R')
	for col in up down; do
		slow='' fast=''
		for r in $1; do
			v=${CELL[$r:$col]:-}
			if [[ -n $v ]] && { [[ -z $slow ]] || lt "$v" "$slow"; }; then
				slow=$v
			fi
		done
		for r in $2; do
			v=${CELL[$r:$col]:-}
			if [[ -n $v ]] && { [[ -z $fast ]] || lt "$fast" "$v"; }; then
				fast=$v
			fi
		done
		[[ -n $slow && -n $fast ]] || continue
		any=1
		lt "$fast" "$slow" || ok=0
		text+="$(printf '%s %.2f vs %.2f; ' "${name[$col]}" "$slow" "$fast")"
	done
	if ((any)); then
		printf 'slowest vpn vs fastest peer, Gbit/s: %s\t%s' "${text%; }" \
		    "$(verdict "$ok")"
	else
		printf 'no figures\tn/a'
	fi
}

targets() {
	local added rss max=0 r
	printf 'socket transport >= 50 %% of direct\t%s\n' "$(ratio_target socket 50)"
	printf 'nc pipeline >= 15 %% of direct\t%s\n' "$(ratio_target pipe 15)"
	printf 'vpn ahead of the TCP peers\t%s\n' \
	    "$(ahead_target 'pipe socket socket-cubic' 'socat-tcp openvpn')"
	printf 'vpn ahead of the UDP peer\t%s\n' "$(ahead_target udp socat-udp)"
	if [[ -n ${CELL[socket:rttavg]:-} && -n ${CELL[direct:rttavg]:-} ]]; then
		added=$(awk -v s="${CELL[socket:rttavg]}" -v d="${CELL[direct:rttavg]}" \
		    'BEGIN { printf "%.3f", s - d }')
		printf 'added RTT on the socket <= 0.2 ms\tavg +%s ms (min +%s)\t%s\n' \
		    "$added" "$(awk -v s="${CELL[socket:rttmin]}" \
		    -v d="${CELL[direct:rttmin]}" 'BEGIN { printf "%.3f", s - d }')" \
		    "$(verdict "$(awk -v a="$added" 'BEGIN { print (a <= 0.2) }')")"
	else
		printf 'added RTT on the socket <= 0.2 ms\tno figures\tn/a\n'
	fi
	for r in $BENCH_ROWS; do
		rss=${CELL[$r:rss]:-0}
		((rss <= max)) || max=$rss
	done
	if ((max > 0)); then
		printf 'vpn RSS <= 4 MiB\t%s MiB (largest VmHWM)\t%s\n' \
		    "$(awk -v k="$max" 'BEGIN { printf "%.2f", k / 1024 }')" \
		    "$(verdict $((max <= 4096)))"
	else
		printf 'vpn RSS <= 4 MiB\tno figures\tn/a\n'
	fi
}

machine() {
	local cpu
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
	printf '%s; %s, %s cores; %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" \
	    "${cpu:-unknown CPU}" "$(nproc)" "$(uname -sr)"
	printf 'TCP congestion control: %s\n' \
	    "$(cat "$CC_DEFAULT" 2>/dev/null || echo unknown)"
	printf '%s (%s), flags '"'%s'"'; tunnel MTU %s; median of %s runs of %s s\n' \
	    "$("$VPN" -V 2>&1 || true)" \
	    "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo git?)" \
	    "$VPN_FLAGS" "$BENCH_MTU" "$BENCH_RUNS" "$BENCH_SECS"
	printf 'load average %s at the start, %s at the end\n' \
	    "$LOAD" "$(cut -d ' ' -f 1-3 /proc/loadavg)"
	awk -v l="${LOAD%% *}" 'BEGIN { if (l >= 0.5) print "(the machine " \
	    "was busy: the ratios may not hold on a quiet one)" }'
}

notes() {
	local row
	for row in $BENCH_ROWS; do
		[[ -z ${NOTE[$row]:-} ]] ||
			printf '%s: %s.\n' "${LABEL[$row]}" "${NOTE[$row]}"
	done
}

report() {
	local t n
	t=$(targets)
	n=$(notes)
	machine
	echo
	table_text
	echo
	[[ -z $n ]] || printf '%s\n\n' "$n"
	echo 'targets (issue 5; for the default 1500-byte tunnel MTU):'
	awk -F '\t' '{ printf "  %-37s %-9s %s\n", $1, $3, $2 }' <<<"$t"
}

legend() {
	local row
	echo 'Rows (server side / client side):'
	echo
	for row in $BENCH_ROWS; do
		if [[ -z ${SERVER[$row]:-} ]]; then
			printf -- '- %s: iperf3 over the veth pair itself\n' "${LABEL[$row]}"
		else
			printf -- "- %s: \`%s\` / \`%s\`\n" "${LABEL[$row]}" \
			    "${SERVER[$row]//$'\n'+([[:space:]])/ }" "${CLIENT[$row]}"
		fi
	done
	echo
	cat <<'EOF'
Columns: iperf3 TCP from the client side to the server side (`-R`: the
other way), one stream and four; ping from the client side; the user and
system CPU time of the processes that carry the tunnel on both sides during
the single-stream runs, per 10^9 bytes received; the largest VmHWM of vpn.
EOF
}

report_md() {
	local n lines
	n=$(notes)
	echo '<!-- written by bench/run.sh; see README.md, Performance -->'
	machine | sed 's/$/  /'
	echo
	table_md
	echo
	if [[ -n $n ]]; then
		mapfile -t lines <<<"$n"
		printf -- '- %s\n' "${lines[@]}"
		echo
	fi
	legend
	echo
	echo '| target (issue 5, 1500-byte tunnel MTU) | measured | |'
	echo '|---|---|---|'
	targets | awk -F '\t' '{ printf "| %s | %s | %s |\n", $1, $2, $3 }'
}

main() {
	local row i=0
	parse_args "$@"
	preflight
	LOAD=$(cut -d ' ' -f 1-3 /proc/loadavg)
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 141' PIPE
	setup
	for row in $BENCH_ROWS; do
		ROW_PORT=$((PORT + i))
		i=$((i + 1))
		bench_row "$row"
	done
	report
	report_md >"$BENCH_OUT"
	say "markdown: $BENCH_OUT (${SECONDS}s in all)"
}

main "$@"
