#!/bin/bash
# bench/run.sh - vpn's throughput, latency, CPU and memory, against the
# veth pair it runs over and against its peers.  Prints; asserts nothing.
#
#  ┌───────── ${NS[1]} ──────────┐        ┌───────── ${NS[2]} ──────────┐
#  │ iperf3 -s, ping target    │        │ iperf3 -c, ping           │
#  │ tun0 10.9.0.1             │        │ tun0 10.9.0.2             │
#  │ the row's tunnel (server) │        │ the row's tunnel (client) │
#  │ veth1 192.0.2.1 ──────────┼────────┼── veth2 192.0.2.2         │
#  └───────────────────────────┘        └───────────────────────────┘
#
# A row is one way across: the veth pair itself, or a tunnel over it.  The
# bench runs BENCH_ROUNDS rounds, and each round measures every row once,
# in the same order, so that whatever else the machine does falls on every
# row alike.  In each round, a row sets its tunnel up and measures, from
# the client end to the server end:
#   1. the idle RTT: BENCH_PINGS pings, 10 ms apart;
#   2. one iperf3 TCP stream for BENCH_SECS, and the loaded RTT: pings 10 ms
#      apart, from the stream's second second to one before its end, which
#      queue with its packets; the CPU time of the tunnel's processes at
#      both ends over the run;
#   3. the same stream the other way (iperf3 -R);
#   4. for the rows in BENCH_SHAPED, step 2 again with the veth shaped on
#      both ends to a 50 Mbit/s uplink (SHAPE), with the host's congestion
#      control and with cubic (iperf3 -C), which fills every queue;
#   5. vpn's peak resident size (VmHWM), and how the counters (vpn's, the
#      devices', the UDP sockets' drops) moved over steps 1 to 4;
# and takes the tunnel down again, so each round's figures are a fresh
# tunnel's.
#
# Then, in the same round, the many-client section (BENCH_MANY), in
# namespaces of its own: a gateway and four client hosts, each on a veth
# of its own, addressed point to point with the server's address on every
# link, as server.sh -M addresses its session devices:
#
#  ${MANY_NS[0]}  wan0 203.0.113.1 ── m1 ┐  $MANY_GW
#  ${MANY_NS[1]}  wan0 203.0.113.2 ── m2 ├─ 198.51.100.2 on each mI
#  ${MANY_NS[2]}  wan0 203.0.113.3 ── m3 │  server.sh -M 4, iperf3 -s x 4
#  ${MANY_NS[3]}  wan0 203.0.113.4 ── m4 ┘  tun0-N 10.1.1.1 peer 10.1.1.x
#  (client.sh, tun0 10.1.1.x; iperf3 -c, ping)
#
# Its rows are the bare veths, then each transport: server.sh -M 4 on the
# gateway and client.sh (without -l) on each host, started afresh for the
# row, and stopped with SIGTERM after it, as the rows' tunnels are.  Each
# row measures one iperf3 TCP stream from every host to the gateway, all at
# once for BENCH_SECS, with pings from each meanwhile as in step 2, and
# the CPU time of the tunnels' processes on all five.
#
# Each figure is one line of BENCH_TSV (round, row, metric, raw value:
# bit/s, bytes, ms, clock ticks, KiB); bench/table.awk turns them into
# medians, ratios to the direct row of the same round and, for the many
# clients, sums and Jain's fairness index of each round's streams.
set -eu -o pipefail
export LC_ALL=C

PROGRAM=${0##*/}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/netns.sh
. "$ROOT/scripts/netns.sh"

BENCH_ROUNDS=${BENCH_ROUNDS:-5}
BENCH_SECS=${BENCH_SECS:-4}		# length of one iperf3 run
BENCH_PINGS=${BENCH_PINGS:-20}		# idle RTT: echo requests, 10 ms apart
BENCH_MTU=${BENCH_MTU:-1500}		# tunnel MTU over TCP
BENCH_UDP_MTU=${BENCH_UDP_MTU:-1400}	# over UDP: a datagram fits the link
BENCH_ROWS=${BENCH_ROWS:-direct socket socket-cubic socket-whole pipe pipe-socat udp socat-tcp socat-udp openvpn wireguard tinc}
BENCH_SHAPED=${BENCH_SHAPED-direct socket pipe pipe-socat udp openvpn wireguard tinc}
BENCH_MANY=${BENCH_MANY-nc tls udp}	# server.sh -M's transports
BENCH_TSV=${BENCH_TSV:-$ROOT/bench/last.tsv}
BENCH_OUT=${BENCH_OUT:-$ROOT/bench/last.md}
VPN_FLAGS=${VPN_FLAGS:-}
PORT=33960			# the tunnels' ports: PORT + 20 * round + row
# A 50 Mbit/s uplink as a cable or DSL modem's shaper makes it: bursts of
# up to 2 ms at the rate (12.5 KB, eight full-size packets), and a queue
# that holds a packet for 20 ms at most (125 KB) before it drops.
SHAPE=(tbf rate 50mbit burst 12500 latency 20ms)
NS=([1]=vpnb-$$-1 [2]=vpnb-$$-2)
LINK=([1]=192.0.2.1 [2]=192.0.2.2)	# TEST-NET-1, only inside our namespaces
ADDR=([1]=10.9.0.1 [2]=10.9.0.2)
VETH=([1]=veth1 [2]=veth2)
END=([1]=server [2]=client)
DEV=()				# the row's devices: tun0 but for wireguard-go
TUN=tun0
CC=/proc/sys/net/ipv4/tcp_congestion_control
CC_AVAILABLE=/proc/sys/net/ipv4/tcp_available_congestion_control
# socat's option for cubic on its socket: TCP_CONGESTION (13) at IPPROTO_TCP (6)
CUBIC=setsockopt-string=6:13:cubic
WG_RUN=/var/run/wireguard	# wireguard-go's UAPI sockets, for every namespace
TUNNEL_COMMS='cat nc openvpn socat tincd wireguard-go'	# CPU time of the tunnel
VPN='' VPN_COMM='' TMP='' UNDO=() VFLAGS=() ROW_PIDS=()
ROUND=0 ROW=- ROW_PORT='' ROW_ERR='' DST='' IPERF_SRV='' IPERF_CLI=''
MANY=4				# the many-client section's client hosts
MANY_GW=vpnb-$$-gw MANY_NS=()	# their gateway; the hosts
MANY_SERVER=198.51.100.2	# the server's address, on each of the gateway's links
MANY_TUN=10.1.1.1		# its tunnel address, on every session's device
MANY_LAN=172.20.1.0/24		# a network behind it, pushed to the clients
MANY_PIDS=() MANY_NAMES=() MANY_TLS=()
declare -A MANY_LABEL=(
	[direct]='bare veths (the reference)'
	[nc]='server.sh -M 4, TCP (socat)'
	[tls]='server.sh -M 4, TLS (socat)'
	[udp]='server.sh -M 4, UDP (vpn -D)'
)
declare -A MANY_SERVER_CMD=(
	[direct]='iperf3 -s -p 520I'
	[nc]="server.sh -M 4 -l $MANY_TUN/24 -r $MANY_LAN -p PORT -m $BENCH_MTU"
	[tls]="server.sh -M 4 -l $MANY_TUN/24 -r $MANY_LAN -p PORT -T tls -c CERT -K KEY -C CA -m $BENCH_MTU"
	[udp]="server.sh -M 4 -l $MANY_TUN/24 -r $MANY_LAN -p PORT -T udp -m $BENCH_UDP_MTU"
)
declare -A MANY_CLIENT_CMD=(
	[direct]="iperf3 -c $MANY_SERVER -p 520I"
	[nc]="client.sh -s $MANY_SERVER -p PORT"
	[tls]="client.sh -s $MANY_SERVER -p PORT -T tls -c CERT -K KEY -C CA"
	[udp]="client.sh -s $MANY_SERVER -p PORT -T udp"
)
declare -A LABEL=(
	[direct]='direct veth (the limit)'
	[pipe]='vpn, nc pipeline'
	[pipe-socat]='vpn, the pipeline with socat nodelay for nc'
	[socket]='vpn, TCP socket'
	[socket-cubic]='vpn, TCP socket, cubic'
	[socket-whole]='vpn -W, TCP socket, super-packets whole'
	[udp]='vpn -D, UDP'
	[socat-tcp]='socat TUN, TCP (peer)'
	[socat-udp]='socat TUN, UDP (peer)'
	[openvpn]='OpenVPN TCP, no crypto (peer)'
	[wireguard]='wireguard-go (peer)'
	[tinc]='tinc 1.0, UDP, no crypto (peer)'
)
declare -A SERVER=(			# for the markdown's legend
	[direct]='iperf3 -s'
	[pipe]='cat fifo | vpn | nc -l PORT >fifo'
	[pipe-socat]='cat fifo | vpn | socat - TCP-LISTEN:PORT,nodelay >fifo'
	[socket]='socat TCP-LISTEN:PORT EXEC:vpn,nofork'
	[socket-cubic]="socat TCP-LISTEN:PORT,$CUBIC EXEC:vpn,nofork"
	[socket-whole]='socat TCP-LISTEN:PORT EXEC:"vpn -W",nofork'
	[udp]='socat UDP-LISTEN:PORT EXEC:"vpn -D",nofork'
	[socat-tcp]='socat TCP-LISTEN:PORT TUN:10.9.0.1/24,iff-no-pi,up'
	[socat-udp]='socat UDP-LISTEN:PORT TUN:10.9.0.1/24,iff-no-pi,up'
	[openvpn]='openvpn --proto tcp-server --dev tun --ifconfig 10.9.0.1 10.9.0.2 --cipher none --auth none --tcp-nodelay --txqueuelen 500'
	[wireguard]='wireguard-go DEV; wg set DEV private-key KEY listen-port PORT peer PEERKEY allowed-ips 10.9.0.2/32 endpoint HOST:PORT'
	[tinc]='tincd -c DIR -D; Mode = router, and in the hosts/ files Cipher = none, Digest = none, PMTUDiscovery = no'
)
declare -A CLIENT=(
	[direct]='iperf3 -c HOST'
	[pipe]='cat fifo | vpn | nc HOST PORT >fifo'
	[pipe-socat]='cat fifo | vpn | socat - TCP:HOST:PORT,nodelay >fifo'
	[socket]='socat TCP:HOST:PORT EXEC:vpn,nofork'
	[socket-cubic]="socat TCP:HOST:PORT,$CUBIC EXEC:vpn,nofork"
	[socket-whole]='socat TCP:HOST:PORT EXEC:"vpn -W",nofork'
	[udp]='socat UDP:HOST:PORT EXEC:"vpn -D -k 1",nofork'
	[socat-tcp]='socat TCP:HOST:PORT TUN:10.9.0.2/24,iff-no-pi,up'
	[socat-udp]='socat UDP:HOST:PORT TUN:10.9.0.2/24,iff-no-pi,up'
	[openvpn]='openvpn --proto tcp-client --remote HOST PORT ...'
	[wireguard]='the same, with the keys swapped and 10.9.0.1/32'
	[tinc]='the same, with ConnectTo'
)
declare -A NEEDS=([openvpn]=openvpn [wireguard]='wireguard-go wg' [tinc]=tincd)

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

Measure vpn (default ./vpn) over a veth pair between two namespaces,
against the pair itself and against its peers (socat's TUN address,
OpenVPN, wireguard-go, tinc): in interleaved rounds, iperf3 TCP both ways,
ping idle and under load, CPU time and memory; then one stream and ping
over the veth shaped to a 50 Mbit/s uplink (tbf); then four clients of
one server.sh -M 4 at once, a stream from each: their sum and fairness.
Prints medians and ratios to the bare link; asserts nothing.  Writes every
figure to \$BENCH_TSV and the tables as markdown to \$BENCH_OUT (to print
a run's tables again: awk [-v md=1] -f bench/table.awk bench/last.tsv).
Takes about 12 minutes with the defaults on 2 CPUs, of which the four
clients take 2.  Must run as root.

Environment, with the defaults:
EOF
	printf '  %-24s %s\n' \
	    "BENCH_ROUNDS=$BENCH_ROUNDS" 'rounds; each measures every row once' \
	    "BENCH_SECS=$BENCH_SECS" 'seconds per iperf3 run (3 or more)' \
	    "BENCH_PINGS=$BENCH_PINGS" 'pings for the idle RTT, 10 ms apart' \
	    "BENCH_MTU=$BENCH_MTU" 'tunnel MTU over TCP' \
	    "BENCH_UDP_MTU=$BENCH_UDP_MTU" 'tunnel MTU over UDP' \
	    "VPN_FLAGS='$VPN_FLAGS'" "more flags for the rows' vpn (e.g. -O)" \
	    "BENCH_TSV=${BENCH_TSV#"$ROOT"/}" 'every figure, one a line' \
	    "BENCH_OUT=${BENCH_OUT#"$ROOT"/}" 'the markdown table'
	printf '  %s\n' "BENCH_ROWS='$BENCH_ROWS'" \
	    '  (the rows, in this order: all of them by default)' \
	    "BENCH_SHAPED='$BENCH_SHAPED'" \
	    '  (the rows measured on the shaped link too; empty for none)' \
	    "BENCH_MANY='$BENCH_MANY'" \
	    '  (server.sh -T transports for the four clients; empty for none)'
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
	VPN=$(realpath -e "${1:-$ROOT/vpn}") ||	# socat's EXEC runs it elsewhere
		die "${1:-$ROOT/vpn}: no such file"
	VPN_COMM=$(basename "$VPN")
	VPN_COMM=${VPN_COMM:0:15}		# as /proc/PID/comm has it
	read -ra VFLAGS <<<"$VPN_FLAGS"
}

preflight() {
	local c r n
	[[ $EUID -eq 0 ]] || die "must be run as root"
	[[ -x $VPN ]] || die "$VPN: not an executable"
	for n in BENCH_ROUNDS BENCH_SECS BENCH_PINGS BENCH_MTU BENCH_UDP_MTU; do
		[[ ${!n} =~ ^[1-9][0-9]{0,4}$ ]] || die "$n: not a positive number: '${!n}'"
	done
	((BENCH_SECS >= 3)) || die "BENCH_SECS: less than 3: '$BENCH_SECS'"
	for n in BENCH_MTU BENCH_UDP_MTU; do
		((${!n} >= 576 && ${!n} <= 65535)) ||
			die "$n: not between 576 and 65535: '${!n}'"
	done
	for r in $BENCH_ROWS; do
		[[ -n ${LABEL[$r]+x} ]] || die "BENCH_ROWS: no such row: '$r'"
		for c in ${NEEDS[$r]:-}; do
			command -v "$c" >/dev/null ||
				die "$c: not found, for the $r row (scripts/deps.sh bench)"
		done
	done
	for r in $BENCH_SHAPED; do
		[[ " $BENCH_ROWS " == *" $r "* ]] ||
			die "BENCH_SHAPED: '$r' is not one of BENCH_ROWS"
	done
	for r in $BENCH_MANY; do
		[[ $r != direct && -n ${MANY_LABEL[$r]+x} ]] ||
			die "BENCH_MANY: not nc, tls or udp: '$r'"
	done
	[[ " $BENCH_MANY " != *" tls "* ]] || command -v openssl >/dev/null ||
		die "openssl: not found, for BENCH_MANY's tls"
	for c in awk ip iperf3 jq nc ping socat ss tc; do
		command -v "$c" >/dev/null || die "$c: not found"
	done
	for n in "$BENCH_TSV" "$BENCH_OUT"; do
		[[ -d $(dirname "$n") ]] || die "$n: no such directory"
	done
}

# -- namespaces and processes

ns_del() {
	ns_kill "${NS[1]}" "${NS[2]}"
	ip netns del "${NS[1]}" 2>/dev/null || true
	ip netns del "${NS[2]}" 2>/dev/null || true
}

setup() {
	local i
	TMP=$(mktemp -d "/tmp/vpnb-$$.XXXXXX")
	undo rm -rf "$TMP"
	# Pushed before the namespaces, so undone once wireguard-go has ended.
	if [[ " $BENCH_ROWS " == *" wireguard "* ]]; then
		[[ -d $WG_RUN ]] || undo rmdir --ignore-fail-on-non-empty "$WG_RUN"
		undo rm -f "$WG_RUN/${NS[1]}.sock" "$WG_RUN/${NS[2]}.sock"
	fi
	run ip netns add "${NS[1]}"
	undo ns_del
	run ip netns add "${NS[2]}"
	run ip -n "${NS[1]}" link add "${VETH[1]}" type veth \
	    peer name "${VETH[2]}" netns "${NS[2]}"
	for i in 1 2; do
		ip -n "${NS[i]}" link set lo up
		ip -n "${NS[i]}" addr add "${LINK[i]}/24" dev "${VETH[i]}"
		ip -n "${NS[i]}" link set "${VETH[i]}" up
	done
	wait_for 5 ip netns exec "${NS[2]}" ping -c 1 -W 1 "${LINK[1]}" ||
		die "the veth pair does not carry a ping"
	[[ -z $BENCH_MANY ]] || many_setup
}

# tunnel_pids NS...: the processes in NS... that carry the tunnel, one PID
# a line.
tunnel_pids() {
	local ns pid comm
	for pid in $(for ns in "$@"; do ip netns pids "$ns"; done); do
		comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
		[[ " $TUNNEL_COMMS $VPN_COMM " != *" $comm "* ]] || echo "$pid"
	done
}

# tunnel_alive: every process that carried the row's tunnel still runs.
tunnel_alive() {
	local pid
	for pid in "${ROW_PIDS[@]}"; do
		! exited "$pid" || return 1
	done
}

# cpu_ticks: the user and system time of the tunnel's processes, in clock
# ticks (fields 14 and 15 of /proc/PID/stat; the name, field 2, may hold
# spaces).
cpu_ticks() {
	local pid
	for pid in "${ROW_PIDS[@]}"; do
		cat "/proc/$pid/stat" 2>/dev/null || true
	done | awk '{ sub(/.*\) /, ""); t += $12 + $13 } END { print t + 0 }'
}

# -- tunnels: each starts both ends and returns once ping crosses it

# ends CMD1... -- CMD2...: run CMD1 in ${NS[1]} and, once it listens on
# ROW_PORT, CMD2 in ${NS[2]}; their output goes to $TMP/ROW.1 and .2.
ends() {
	local proto=t cmd1=()
	while [[ $1 != -- ]]; do
		cmd1+=("$1")
		shift
	done
	shift
	[[ ${cmd1[*]} != *UDP-LISTEN* ]] || proto=u
	ip netns exec "${NS[1]}" "${cmd1[@]}" </dev/null >"$TMP/$ROW.1" 2>&1 &
	wait_for 5 listening "${NS[1]}" "$ROW_PORT" "$proto" ||
		{ ROW_ERR="${NS[1]} does not listen on $ROW_PORT"; return 1; }
	ip netns exec "${NS[2]}" "$@" </dev/null >"$TMP/$ROW.2" 2>&1 &
}

# tun_conf MTU NS DEV ADDR: MTU, address and link state of a device.
tun_conf() {
	ip -n "$2" link set dev "$3" mtu "$1"
	tun_up "$2" "$3" "$4/24"
}

# tun_mtu MTU NS DEV ADDR: the MTU only, for a device its maker configured.
tun_mtu() { ip -n "$2" link set dev "$3" mtu "$1"; }

# tun_ready CONFIG...: both devices exist, CONFIG... NS DEV ADDR has
# configured each, and ping crosses the tunnel (once the kernel has seen
# the carrier).
tun_ready() {
	wait_for 5 has_link "${NS[2]}" "${DEV[2]}" ||
		{ ROW_ERR="no ${DEV[2]} in ${NS[2]}"; return 1; }
	"$@" "${NS[2]}" "${DEV[2]}" "${ADDR[2]}"
	# A UDP server makes its device on the first datagram: send one.
	has_link "${NS[1]}" "${DEV[1]}" ||
		ip netns exec "${NS[2]}" ping -c 1 -W 0.5 "${ADDR[1]}" >/dev/null 2>&1 || true
	wait_for 5 has_link "${NS[1]}" "${DEV[1]}" ||
		{ ROW_ERR="no ${DEV[1]} in ${NS[1]}"; return 1; }
	"$@" "${NS[1]}" "${DEV[1]}" "${ADDR[1]}"
	wait_for 10 ip netns exec "${NS[2]}" ping -c 1 -W 1 "${ADDR[1]}" ||
		{ ROW_ERR="ping does not cross the tunnel"; return 1; }
}

up_direct() { DST=${LINK[1]}; }

up_pipe() {
	mkfifo "$TMP/f1" "$TMP/f2"
	# shellcheck disable=SC2016 # expanded by the inner sh
	ends sh -c 'f=$1 port=$2; shift 2
	    cat "$f" | "$@" | nc -l "$port" >"$f"' - "$TMP/f1" "$ROW_PORT" \
	    "$VPN" -i "$TUN" "${VFLAGS[@]}" -- \
	    sh -c 'f=$1 host=$2 port=$3; shift 3
	    cat "$f" | "$@" | nc "$host" "$port" >"$f"' - "$TMP/f2" "${LINK[1]}" \
	    "$ROW_PORT" "$VPN" -i "$TUN" "${VFLAGS[@]}" &&
		tun_ready tun_conf "$BENCH_MTU"
}

# The same pipeline with socat in nc's place, with nodelay: nc sends with
# Nagle's algorithm (no option turns it off), and the difference between
# the two rows under load is that.
up_pipe_socat() {
	mkfifo "$TMP/f1" "$TMP/f2"
	# shellcheck disable=SC2016 # expanded by the inner sh
	ends sh -c 'f=$1 port=$2; shift 2
	    cat "$f" | "$@" | socat - "TCP-LISTEN:$port,nodelay" >"$f"' - \
	    "$TMP/f1" "$ROW_PORT" "$VPN" -i "$TUN" "${VFLAGS[@]}" -- \
	    sh -c 'f=$1 host=$2 port=$3; shift 3
	    cat "$f" | "$@" | socat - "TCP:$host:$port,nodelay" >"$f"' - \
	    "$TMP/f2" "${LINK[1]}" "$ROW_PORT" "$VPN" -i "$TUN" "${VFLAGS[@]}" &&
		tun_ready tun_conf "$BENCH_MTU"
}

# vpn_exec [FLAGS...]: vpn's command line for socat's EXEC, which splits
# it at spaces (so no empty words).
vpn_exec() {
	local words=("$VPN" -i "$TUN" "$@" "${VFLAGS[@]}")
	echo "${words[*]}"
}

# up_socket [SOCKOPT [FLAG...]]: the socket row, SOCKOPT on both sockets,
# the FLAGs to both vpns.
up_socket() {
	local opt=${1:+,$1} exe
	shift || true
	exe=$(vpn_exec "$@")
	ends socat "TCP-LISTEN:$ROW_PORT,reuseaddr$opt" "EXEC:$exe,nofork" -- \
	    socat "TCP:${LINK[1]}:$ROW_PORT$opt" "EXEC:$exe,nofork" &&
		tun_ready tun_conf "$BENCH_MTU"
}

# The same with cubic as the tunnel connection's congestion control: BBR,
# the default on some hosts, paces that connection, and the tunnel pays for
# it.  The flows inside keep the host's default.  It keeps its row: in six
# runs of 5 rounds on 2026-12-02 (load average 2 to 7), cubic was ahead in
# five, 55 to 66 % of direct against BBR's 36 to 49 %, and behind in one,
# 47 % against 55 %.
up_socket_cubic() {
	if ! grep -qw cubic "$CC_AVAILABLE"; then
		ROW_ERR="cubic is not in $CC_AVAILABLE"
		return 1
	fi
	up_socket "$CUBIC"
}

# The same with -W at both ends: TCP super-packets cross whole, as they
# did before frames were cut to the MTU.  -W stays only while this row
# is worth more than 10 % over the socket row.
up_socket_whole() { up_socket '' -W; }

# vpn -D over UDP, at a tunnel MTU whose datagrams fit the link.  At the
# link's MTU (1500) each full-size packet crosses as two IP fragments, the
# kernel will not send a run of them in one call (UDP_SEGMENT), and the row
# gave 7 % of direct against 47 % at 1400 (2026-12-02, 5 rounds): not a
# set-up to compare, so no row for it.
up_udp() {
	ends socat "UDP-LISTEN:$ROW_PORT" "EXEC:$(vpn_exec -D),nofork" -- \
	    socat "UDP:${LINK[1]}:$ROW_PORT" "EXEC:$(vpn_exec -D -k 1),nofork" &&
		tun_ready tun_conf "$BENCH_UDP_MTU"
}

# socat's own TUN address: packets written to the socket as they are, with
# nothing to mark where one ends (the naive tunnel).
socat_tun() {
	echo "TUN:$1/24,tun-name=$TUN,tun-type=tun,iff-no-pi,up"
}

up_socat_tcp() {
	ends socat -b 65536 "TCP-LISTEN:$ROW_PORT,reuseaddr" \
	    "$(socat_tun "${ADDR[1]}")" -- \
	    socat -b 65536 "TCP:${LINK[1]}:$ROW_PORT" "$(socat_tun "${ADDR[2]}")" &&
		tun_ready tun_mtu "$BENCH_MTU"
}

up_socat_udp() {
	ends socat -b 65536 "UDP-LISTEN:$ROW_PORT" "$(socat_tun "${ADDR[1]}")" -- \
	    socat -b 65536 "UDP:${LINK[1]}:$ROW_PORT" "$(socat_tun "${ADDR[2]}")" &&
		tun_ready tun_mtu "$BENCH_UDP_MTU"
}

up_openvpn() {
	local common=(--dev "$TUN" --dev-type tun --tun-mtu "$BENCH_MTU"
	    --cipher none --auth none --disable-dco --tcp-nodelay
	    --txqueuelen 500 --verb 1)	# the queue vpn's device gets by default
	ends openvpn "${common[@]}" --proto tcp-server \
	    --lport "$ROW_PORT" --ifconfig "${ADDR[1]}" "${ADDR[2]}" -- \
	    openvpn "${common[@]}" --proto tcp-client --nobind \
	    --remote "${LINK[1]}" "$ROW_PORT" --ifconfig "${ADDR[2]}" "${ADDR[1]}" &&
		tun_ready :
}

# wireguard-go, with its crypto.  Its UAPI socket is $WG_RUN/DEV.sock,
# whatever the namespace: devices named after our namespaces do not
# collide.  WG_PROCESS_FOREGROUND=1 keeps it in the foreground, without the
# banner that says the kernel's module would do.
up_wireguard() {
	local i
	DEV=([1]="${NS[1]}" [2]="${NS[2]}")
	for i in 1 2; do
		[[ -e $TMP/wg$i.pub ]] || wg_keys "$i"
		ip netns exec "${NS[i]}" env WG_PROCESS_FOREGROUND=1 \
		    wireguard-go "${DEV[i]}" </dev/null >"$TMP/$ROW.$i" 2>&1 &
	done
	for i in 1 2; do
		wait_for 5 wg_sock "${DEV[i]}" ||
			{ ROW_ERR="no $WG_RUN/${DEV[i]}.sock"; return 1; }
	done
	wg_peer 1 2 && wg_peer 2 1 && tun_ready tun_conf "$BENCH_UDP_MTU"
}

wg_keys() {
	(umask 077 && wg genkey >"$TMP/wg$1.key")
	wg pubkey <"$TMP/wg$1.key" >"$TMP/wg$1.pub"
}

wg_sock() { [[ -S $WG_RUN/$1.sock ]]; }

# wg_peer I J: end I's key and port, and end J as its one peer.
wg_peer() {
	ip netns exec "${NS[$1]}" wg set "${DEV[$1]}" \
	    private-key "$TMP/wg$1.key" listen-port "$ROW_PORT" \
	    peer "$(cat "$TMP/wg$2.pub")" allowed-ips "${ADDR[$2]}/32" \
	    endpoint "${LINK[$2]}:$ROW_PORT"
}

# tinc 1.0 over UDP, with neither cipher nor digest.  Until its path MTU
# discovery has found a size, a few seconds in, it sends larger packets
# over its TCP connection; it is given the MTU instead (PMTUDiscovery = no),
# as vpn -D and wireguard-go are given theirs.
up_tinc() {
	local i
	for i in 1 2; do
		[[ -e $TMP/tinc$i.pub ]] || tinc_node "$i" ||
			{ ROW_ERR="tincd -K failed"; return 1; }
	done
	tinc_hosts "$TMP/tinc1" && tinc_hosts "$TMP/tinc2" &&
		ends tincd -c "$TMP/tinc1" -D --pidfile="$TMP/tinc1.pid" -- \
		    tincd -c "$TMP/tinc2" -D --pidfile="$TMP/tinc2.pid" &&
		tun_ready tun_conf "$BENCH_UDP_MTU"
}

# tinc_node I: node I's directory, its tinc.conf and keys.
tinc_node() {
	local dir=$TMP/tinc$1
	mkdir -p "$dir/hosts"
	printf 'Name = n%s\nInterface = %s\nMode = router\nAddressFamily = ipv4\n' \
	    "$1" "$TUN" >"$dir/tinc.conf"
	[[ $1 == 1 ]] || echo 'ConnectTo = n1' >>"$dir/tinc.conf"
	tincd -c "$dir" -K2048 </dev/null >/dev/null 2>&1 || return 1
	mv "$dir/hosts/n$1" "$TMP/tinc$1.pub"	# the public key, alone
}

# tinc_hosts DIR: both nodes' host files in DIR/hosts, for this round's port.
tinc_hosts() {
	local j
	for j in 1 2; do
		{
			printf 'Address = %s\nPort = %s\nSubnet = %s/32\n' \
			    "${LINK[j]}" "$ROW_PORT" "${ADDR[j]}"
			printf 'Cipher = none\nDigest = none\nPMTUDiscovery = no\n'
			cat "$TMP/tinc$j.pub"
		} >"$1/hosts/n$j"
	done
}

# -- measurements: each figure goes out as it is taken

# emit METRIC VALUE: one line of BENCH_TSV, for the current round and row.
emit() {
	printf '%s\t%s\t%s\t%s\n' "$ROUND" "$ROW" "$1" "${2//[$'\t\n']/ }" \
	    >>"$BENCH_TSV"
}
note() { emit note "$1"; }

# ping_run ARGS...: ping DST from the client end, 10 ms apart, with ARGS;
# its summary in $TMP/ping.
ping_run() {
	ip netns exec "${NS[2]}" ping -q -i 0.01 -W 1 "$@" "$DST" >"$TMP/ping" 2>&1 ||
		true
}

# ping_emit PREFIX [FILE]: from ping's summary in FILE (default $TMP/ping),
# PREFIX_min, _avg and _max in ms and PREFIX_loss in %.
ping_emit() {
	local k v
	while read -r k v; do
		emit "$1_$k" "$v"
	done < <(sed -nE 's/.* ([0-9.]+)% packet loss.*/loss \1/p
	    s|^rtt [^=]*= ([0-9.]+)/([0-9.]+)/([0-9.]+)/.*|min \1\navg \2\nmax \3|p' \
	    "${2:-$TMP/ping}")
}

# iperf_start ARGS...: an iperf3 server for one test at the server end, and
# a client at the other sending to DST for BENCH_SECS.
iperf_start() {
	IPERF_CLI=''
	ip netns exec "${NS[1]}" iperf3 -s -1 >/dev/null 2>&1 &
	IPERF_SRV=$!
	wait_for 5 listening "${NS[1]}" 5201 || return 1
	ip netns exec "${NS[2]}" iperf3 -c "$DST" -t "$BENCH_SECS" -J \
	    --connect-timeout 3000 "$@" >"$TMP/iperf.json" 2>&1 &
	IPERF_CLI=$!
}

# iperf_end NAME: wait for the run, at most BENCH_SECS + 20 s and no longer
# than the tunnel lasts; NAME_bps and NAME_bytes, as the receiver counted.
iperf_end() {
	local rc=0 i
	if [[ -n $IPERF_CLI ]]; then
		for ((i = 0; i < (BENCH_SECS + 20) * 10; i++)); do
			if exited "$IPERF_CLI" || ! tunnel_alive; then
				break
			fi
			sleep 0.1
		done
		kill "$IPERF_CLI" 2>/dev/null || true
		wait "$IPERF_CLI" || rc=$?
	else
		rc=1
	fi
	wait_for 3 exited "$IPERF_SRV" || kill "$IPERF_SRV" 2>/dev/null || true
	wait "$IPERF_SRV" 2>/dev/null || true
	iperf_emit "$1" "$TMP/iperf.json" "$rc"
}

# iperf_emit NAME FILE RC: from iperf3's report in FILE, NAME_bps and
# NAME_bytes as the receiver counted; a note instead if the client exited
# RC other than 0 or received nothing.
iperf_emit() {
	local r bps bytes
	r=$(jq -r '.end.sum_received | select(.bytes > 0) | "\(.bits_per_second) " +
	    "\(.bytes) \(.bits_per_second / 1e6 | round / 1e3)"' "$2" \
	    2>/dev/null) || r=''
	if (($3 != 0)) || [[ -z $r ]]; then
		note "iperf3 $1 failed"
		return 1
	fi
	read -r bps bytes r <<<"$r"
	emit "$1_bps" "$bps"
	emit "$1_bytes" "$bytes"
	say "  $1: $r Gbit/s"
}

# stream NAME PINGED ARGS...: one iperf3 run with ARGS; if PINGED is 1, the
# loaded RTT as NAME_rtt_*, from its second second to one before its end,
# if the run went through.
stream() {
	local name=$1 pinged=$2
	shift 2
	if iperf_start "$@" && ((pinged)); then
		sleep 1
		# A count, not a deadline alone, which would count the last
		# request, still on its way, as lost.
		ping_run -c $(((BENCH_SECS - 2) * 100)) -w $((BENCH_SECS - 1))
	fi
	iperf_end "$name" || return 1
	((pinged == 0)) || ping_emit "${name}_rtt"
}

# shape add|del [QDISC...]: QDISC at the root of both veth ends.
shape() {
	local i rc=0
	for i in 1 2; do
		tc -n "${NS[i]}" qdisc "$1" dev "${VETH[i]}" root "${@:2}" || rc=1
	done
	return "$rc"
}

shaped() {
	if shape add "${SHAPE[@]}"; then
		stream shaped 1 || true
		# cubic fills every queue it finds until one drops (BBR keeps
		# its own short): the tunnel's queues, not the flow's, show.
		! grep -qw cubic "$CC_AVAILABLE" ||
			stream shaped_cubic 1 -C cubic || true
	else
		note "tc qdisc add ${SHAPE[*]} failed"
	fi
	shape del 2>/dev/null || true
}

# ends_counters: at each end, KEY VALUE lines: datagrams dropped for want
# of socket buffer, packets its device's queue dropped and, for vpn, its
# counters (SIGUSR1).
ends_counters() {
	local i pid kv
	for i in 1 2; do
		printf '%s_udp_rcvbuf_errors %s\n' "${END[i]}" \
		    "$(ip netns exec "${NS[i]}" cat /proc/net/snmp |
		    awk '$1 == "Udp:" && $2 ~ /^[0-9]/ { print $6 }')"
		printf '%s_dev_tx_dropped %s\n' "${END[i]}" \
		    "$(link_stat "${NS[i]}" "${DEV[i]}" tx_dropped)"
		pid=$(pid_of "${NS[i]}" "$VPN") || continue
		for kv in $(counters_now "$pid" "$TMP/$ROW.$i"); do
			printf '%s_%s %s\n' "${END[i]}" "${kv%%=*}" "${kv#*=}"
		done
	done
}

# vpn_rss: each vpn's peak resident size (VmHWM), in KiB.
vpn_rss() {
	local i pid
	for i in 1 2; do
		pid=$(pid_of "${NS[i]}" "$VPN") || continue
		emit "${END[i]}_rss_kib" \
		    "$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$pid/status")"
	done
}

# broken: a process that carried the tunnel has gone; say so.
broken() {
	! tunnel_alive || return 1
	note "the tunnel broke (one of its processes exited)"
	logs
}

# logs: the last line each end wrote, as notes.
logs() {
	local i line
	for i in 1 2; do
		[[ -s $TMP/$ROW.$i ]] || continue
		line=$(tail -1 "$TMP/$ROW.$i" | sed -E 's|^[0-9]{4}[-/][0-9]{2}[-/][0-9]{2} [0-9:]{8} ||
		    s/^([a-z]+)\[[0-9]+\] /\1: /; s/0x[0-9a-f]+, [0-9]+/.../g')
		note "${END[i]} said '$line'"
	done
}

# measure: every figure of the row, through the tunnel that is up; the
# counters as they moved meanwhile (the set-up's packets left out).
measure() {
	local t0 k n
	local -A c0=()
	mapfile -t ROW_PIDS < <(tunnel_pids "${NS[1]}" "${NS[2]}")
	if [[ $ROW != direct ]]; then
		while read -r k n; do
			c0[$k]=$n
		done < <(ends_counters)
	fi
	ping_run -c "$BENCH_PINGS"
	ping_emit idle_rtt
	t0=$(cpu_ticks)
	stream up 1 || true
	((${#ROW_PIDS[@]} == 0)) || emit cpu_ticks $(($(cpu_ticks) - t0))
	! broken || return 0
	stream down 0 -R || true
	! broken || return 0
	[[ " $BENCH_SHAPED " != *" $ROW "* ]] || shaped
	! broken || return 0
	[[ $ROW != direct ]] || return 0
	vpn_rss
	while read -r k n; do
		emit "$k" $((n - ${c0[$k]:-0}))
	done < <(ends_counters)
}

# bench_row: set the row's tunnel up, measure it, tear it down.
bench_row() {
	ROW_ERR='' DST=${ADDR[1]} DEV=([1]=$TUN [2]=$TUN) ROW_PIDS=()
	say "round $ROUND of $BENCH_ROUNDS: ${LABEL[$ROW]}"
	if "up_${ROW//-/_}"; then
		measure
	else
		note "failed: ${ROW_ERR:-its set-up failed}"
		logs
	fi
	ns_kill "${NS[1]}" "${NS[2]}"
	rm -f "$TMP/f1" "$TMP/f2"
	wait_for 5 devs_gone || die "${DEV[*]} left over after ${LABEL[$ROW]}"
}

devs_gone() { no_link "${NS[1]}" "${DEV[1]}" && no_link "${NS[2]}" "${DEV[2]}"; }

# -- many clients: server.sh -M on a gateway, client.sh on each client host

# many_setup: the gateway and its client hosts, each host on a veth of its
# own; for TLS, a CA, and a certificate it signed for the server and for
# each client.  The links are addressed point to point, the server's
# address on each, so that its answers to a host come from the address the
# host sent to (a UDP client takes nothing from any other); and a host has
# no other route, so that it reaches the gateway's tunnel address, which
# the gateway answers for on every link, only through its tunnel.
many_setup() {
	local i c
	mkdir "$TMP/run" "$TMP/rundir"
	run ip netns add "$MANY_GW"
	undo many_del
	ip -n "$MANY_GW" link set lo up
	for ((i = 1; i <= MANY; i++)); do
		c=vpnb-$$-c$i
		MANY_NS+=("$c")
		run ip netns add "$c"
		ip -n "$c" link set lo up
		ip -n "$MANY_GW" link add "m$i" type veth peer name wan0 netns "$c"
		ip -n "$MANY_GW" addr add "$MANY_SERVER" peer "203.0.113.$i" dev "m$i"
		ip -n "$c" addr add "203.0.113.$i" peer "$MANY_SERVER" dev wan0
		ip -n "$MANY_GW" link set "m$i" up
		ip -n "$c" link set wan0 up
	done
	for c in "${MANY_NS[@]}"; do
		wait_for 5 ip netns exec "$c" ping -c 1 -W 1 "$MANY_SERVER" ||
			die "$c does not reach $MANY_SERVER on ${MANY_GW}"
	done
	[[ " $BENCH_MANY " != *" tls "* ]] || many_pki
}

# many_del: stop what runs in the section's namespaces, and delete them.
many_del() {
	local ns
	many_stop
	ns_kill "$MANY_GW" "${MANY_NS[@]}"
	for ns in "$MANY_GW" "${MANY_NS[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
}

# many_pki: in $TMP/pki, a CA, and a key and certificate for the server
# (naming its address, which the clients check) and for each client.
many_pki() {
	local d=$TMP/pki n san
	mkdir "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$d/ca.key" -out "$d/ca.crt" -days 2 -subj /CN=ca 2>/dev/null
	for n in server $(seq -f 'c%g' "$MANY"); do
		san=DNS:$n
		[[ $n != server ]] || san=IP:$MANY_SERVER
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		    -keyout "$d/$n.key" -out "$d/$n.csr" -subj "/CN=$n" 2>/dev/null
		printf 'subjectAltName=%s\n' "$san" >"$d/$n.ext"
		openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
		    -CAcreateserial -days 2 -extfile "$d/$n.ext" -out "$d/$n.crt" \
		    2>/dev/null
	done
}

# many_script NS NAME SCRIPT ARGS...: server.sh or client.sh in NS, its
# FIFOs and state under $TMP, its output in $TMP/many.NAME; many_stop
# ends it.
many_script() {
	local ns=$1 name=$2
	shift 2
	ip netns exec "$ns" env VPN="$VPN" TMPDIR="$TMP/run" \
	    VPN_RUNDIR="$TMP/rundir" "$@" </dev/null >"$TMP/many.$name" 2>&1 &
	MANY_PIDS+=("$!")
	MANY_NAMES+=("$name")
}

many_said() { grep -qsF -- "$2" "$TMP/many.$1"; }

# many_tls NAME: the -T tls options for the key and certificate of NAME.
many_tls() {
	local d=$TMP/pki
	MANY_TLS=(-T tls -c "$d/$1.crt" -K "$d/$1.key" -C "$d/ca.crt")
}

# many_up TRANSPORT: server.sh -M on the gateway and, once it listens,
# client.sh on each client host; returns once each reaches the server's
# tunnel address.  For the bare veths, nothing to set up.
many_up() {
	local t=$1 i s=() c=()
	DST=$MANY_TUN
	case $t in
	direct)	DST=$MANY_SERVER
		return 0 ;;
	nc)	s=(-m "$BENCH_MTU") ;;
	tls)	many_tls server
		s=("${MANY_TLS[@]}" -m "$BENCH_MTU") ;;
	udp)	s=(-T udp -m "$BENCH_UDP_MTU") c=(-T udp) ;;
	esac
	# -r: without one, server.sh -M pushes an empty "route=", which
	# client.sh refuses ("a bad item"), and gives up.
	many_script "$MANY_GW" server "$ROOT/scripts/server.sh" -M "$MANY" \
	    -l "$MANY_TUN/24" -r "$MANY_LAN" -p "$ROW_PORT" "${s[@]}"
	wait_for 10 many_said server "listening on port $ROW_PORT" ||
		{ ROW_ERR="server.sh does not listen after 10 s"; return 1; }
	for ((i = 1; i <= MANY; i++)); do
		[[ $t != tls ]] || { many_tls "c$i"; c=("${MANY_TLS[@]}"); }
		many_script "${MANY_NS[i - 1]}" "c$i" "$ROOT/scripts/client.sh" \
		    -s "$MANY_SERVER" -p "$ROW_PORT" "${c[@]}"
	done
	for ((i = 1; i <= MANY; i++)); do
		wait_for 15 ip netns exec "${MANY_NS[i - 1]}" ping -c 1 -W 1 "$DST" ||
			{ ROW_ERR="client $i has no tunnel after 15 s"; return 1; }
	done
}

# many_measure: one iperf3 stream from each client host to the gateway, all
# at once, for BENCH_SECS, with pings from each meanwhile (as in stream);
# each client's figures as cI_bps, cI_bytes and cI_rtt_*, and the CPU time
# of the tunnels' processes on every host.
many_measure() {
	local i n rc t0 srv=() cli=() pings=()
	mapfile -t ROW_PIDS < <(tunnel_pids "$MANY_GW" "${MANY_NS[@]}")
	for ((i = 1; i <= MANY; i++)); do
		ip netns exec "$MANY_GW" iperf3 -s -1 -p $((5200 + i)) >/dev/null 2>&1 &
		srv+=("$!")
	done
	for ((i = 1; i <= MANY; i++)); do
		wait_for 5 listening "$MANY_GW" $((5200 + i)) ||
			{ note "iperf3 -s does not listen on $((5200 + i))"; break; }
	done
	t0=$(cpu_ticks)
	for ((i = 1; i <= MANY; i++)); do
		ip netns exec "${MANY_NS[i - 1]}" iperf3 -c "$DST" -p $((5200 + i)) \
		    -t "$BENCH_SECS" -J --connect-timeout 3000 >"$TMP/iperf.$i.json" 2>&1 &
		cli+=("$!")
	done
	sleep 1
	for ((i = 1; i <= MANY; i++)); do
		ip netns exec "${MANY_NS[i - 1]}" ping -q -i 0.01 -W 1 \
		    -c $(((BENCH_SECS - 2) * 100)) -w $((BENCH_SECS - 1)) "$DST" \
		    >"$TMP/ping.$i" 2>&1 &
		pings+=("$!")
	done
	for ((n = 0; n < (BENCH_SECS + 20) * 10; n++)); do
		all_exited "${cli[@]}" && break
		sleep 0.1
	done
	((${#ROW_PIDS[@]} == 0)) || emit cpu_ticks $(($(cpu_ticks) - t0))
	for ((i = 1; i <= MANY; i++)); do
		rc=0
		kill "${cli[i - 1]}" 2>/dev/null || true
		wait "${cli[i - 1]}" || rc=$?
		wait "${pings[i - 1]}" || true		# ends by its -w
		wait_for 3 exited "${srv[i - 1]}" || kill "${srv[i - 1]}" 2>/dev/null || true
		wait "${srv[i - 1]}" 2>/dev/null || true
		iperf_emit "c$i" "$TMP/iperf.$i.json" "$rc" || continue
		ping_emit "c${i}_rtt" "$TMP/ping.$i"
		! many_said "c$i" "reconnecting in" ||
			note "client $i's session ended during the round"
	done
}

all_exited() {
	local pid
	for pid in "$@"; do
		exited "$pid" || return 1
	done
}

# many_stop: SIGTERM to the scripts, which undo what they did, and wait for
# them, at most 15 s each (then SIGKILL); a note for one that did not exit
# 143, as SIGTERM has it do.
many_stop() {
	local i pid rc
	((${#MANY_PIDS[@]} > 0)) || return 0
	kill -TERM "${MANY_PIDS[@]}" 2>/dev/null || true
	for i in "${!MANY_PIDS[@]}"; do
		pid=${MANY_PIDS[i]} rc=0
		wait_for 15 exited "$pid" || kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || rc=$?
		((rc == 143)) || note "${MANY_NAMES[i]} exited $rc on SIGTERM, not 143"
	done
	MANY_PIDS=() MANY_NAMES=()
}

# many_logs: the last line each script wrote, as notes, with the run's
# temporary directory as TMP, so that a line said in several rounds is one
# note.
many_logs() {
	local f line
	for f in "$TMP"/many.*; do
		[[ -s $f ]] || continue
		line=$(tail -1 "$f")
		note "${f##*/many.} said '${line//"$TMP"/TMP}'"
	done
}

# many_row TRANSPORT: the section's row for TRANSPORT: set up, measure,
# tear down, and check that the scripts took their devices with them.
many_row() {
	ROW=many-$1 ROW_ERR='' ROW_PIDS=()
	say "round $ROUND of $BENCH_ROUNDS: ${MANY_LABEL[$1]}"
	rm -f "$TMP"/many.*
	if many_up "$1"; then
		many_measure
	else
		note "failed: ${ROW_ERR:-its set-up failed}"
		many_logs
	fi
	many_stop
	ns_kill "$MANY_GW" "${MANY_NS[@]}"
	wait_for 5 many_devs_gone || die "devices left over after ${MANY_LABEL[$1]}"
}

many_devs_gone() {
	local ns
	[[ -z $(ip -n "$MANY_GW" -o link show | grep -o " $TUN-[0-9]*[:@]" || true) ]] ||
		return 1
	for ns in "${MANY_NS[@]}"; do
		no_link "$ns" "$TUN" || return 1
	done
}

# -- the run's description, in round 0 of the TSV

describe() {
	local cpu r commit
	printf 'round\trow\tmetric\tvalue\n' >"$BENCH_TSV"
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
	emit date "$(date -u '+%Y-%m-%d %H:%M UTC')"
	emit machine "${cpu:-unknown CPU}, $(nproc) CPUs, $(uname -sr)"
	emit cc "$(cat "$CC" 2>/dev/null || echo unknown)"
	emit vpn "$("$VPN" -V 2>&1 || true)"
	commit=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
	# Another build than the tree's own: the commit is the tree's only.
	[[ $VPN == "$(realpath -e "$ROOT/vpn" 2>/dev/null)" ]] ||
		commit+=" (the tree's; the binary is $VPN)"
	emit commit "$commit"
	emit flags "$VPN_FLAGS"
	emit load_start "$(cut -d ' ' -f 1-3 /proc/loadavg)"
	emit rounds "$BENCH_ROUNDS"
	emit secs "$BENCH_SECS"
	emit pings "$BENCH_PINGS"
	emit mtu "$BENCH_MTU"
	emit udp_mtu "$BENCH_UDP_MTU"
	emit shape "${SHAPE[*]}"
	emit hz "$(getconf CLK_TCK)"
	for ROW in $BENCH_ROWS; do
		emit label "${LABEL[$ROW]}"
		emit server "${SERVER[$ROW]}"
		emit client "${CLIENT[$ROW]}"
		[[ " $BENCH_SHAPED " != *" $ROW "* ]] || emit shaped 1
	done
	ROW=-
	emit many_clients "$MANY"
	for r in $(many_rows); do
		ROW=many-$r
		emit many "${MANY_LABEL[$r]}"
		emit server "${MANY_SERVER_CMD[$r]}"
		emit client "${MANY_CLIENT_CMD[$r]}"
	done
	ROW=-
}

# many_rows: the many-client section's rows: the bare veths, then
# BENCH_MANY's transports; none if BENCH_MANY is empty.
many_rows() {
	[[ -z $BENCH_MANY ]] || echo "direct $BENCH_MANY"
}

main() {
	local i r
	parse_args "$@"
	preflight
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 141' PIPE
	describe
	setup
	for ((ROUND = 1; ROUND <= BENCH_ROUNDS; ROUND++)); do
		i=0
		for ROW in $BENCH_ROWS; do
			ROW_PORT=$((PORT + 20 * ROUND + i))
			i=$((i + 1))
			bench_row
		done
		for r in $(many_rows); do
			ROW_PORT=$((PORT + 20 * ROUND + i))
			i=$((i + 1))
			many_row "$r"
		done
	done
	ROUND=0 ROW=-
	emit load_end "$(cut -d ' ' -f 1-3 /proc/loadavg)"
	emit seconds "$SECONDS"
	awk -f "$ROOT/bench/table.awk" "$BENCH_TSV"
	awk -v md=1 -f "$ROOT/bench/table.awk" "$BENCH_TSV" >"$BENCH_OUT"
	say "figures: $BENCH_TSV; markdown: $BENCH_OUT (${SECONDS} s in all)"
}

main "$@"
