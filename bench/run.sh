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
#      both ends to a 50 Mbit/s uplink (SHAPE);
#   5. vpn's peak resident size (VmHWM), and how the counters (vpn's, the
#      devices', the UDP sockets' drops) moved over steps 1 to 4;
# and takes the tunnel down again, so each round's figures are a fresh
# tunnel's.  Each figure is one line of BENCH_TSV (round, row, metric, raw
# value: bit/s, bytes, ms, clock ticks, KiB); bench/table.awk turns them
# into medians, and ratios to the direct row of the same round.
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
BENCH_ROWS=${BENCH_ROWS:-direct socket socket-cubic pipe udp socat-tcp socat-udp openvpn wireguard tinc}
BENCH_SHAPED=${BENCH_SHAPED-direct socket pipe udp openvpn wireguard tinc}
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
declare -A LABEL=(
	[direct]='direct veth (the limit)'
	[pipe]='vpn, nc pipeline'
	[socket]='vpn, TCP socket'
	[socket-cubic]='vpn, TCP socket, cubic'
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
	[socket]='socat TCP-LISTEN:PORT EXEC:vpn,nofork'
	[socket-cubic]="socat TCP-LISTEN:PORT,$CUBIC EXEC:vpn,nofork"
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
	[socket]='socat TCP:HOST:PORT EXEC:vpn,nofork'
	[socket-cubic]="socat TCP:HOST:PORT,$CUBIC EXEC:vpn,nofork"
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
over the veth shaped to a 50 Mbit/s uplink (tbf).  Prints medians and
ratios to the bare link; asserts nothing.  Writes every figure to
\$BENCH_TSV and the tables as markdown to \$BENCH_OUT (to print a run's
tables again: awk [-v md=1] -f bench/table.awk bench/last.tsv).  Takes
about 10 minutes with the defaults on 2 CPUs.  Must run as root.

Environment, with the defaults:
EOF
	printf '  %-24s %s\n' \
	    "BENCH_ROUNDS=$BENCH_ROUNDS" 'rounds; each measures every row once' \
	    "BENCH_SECS=$BENCH_SECS" 'seconds per iperf3 run (3 or more)' \
	    "BENCH_PINGS=$BENCH_PINGS" 'pings for the idle RTT, 10 ms apart' \
	    "BENCH_MTU=$BENCH_MTU" 'tunnel MTU over TCP' \
	    "BENCH_UDP_MTU=$BENCH_UDP_MTU" 'tunnel MTU over UDP' \
	    "VPN_FLAGS='$VPN_FLAGS'" 'more flags for every vpn (e.g. -O)' \
	    "BENCH_TSV=${BENCH_TSV#"$ROOT"/}" 'every figure, one a line' \
	    "BENCH_OUT=${BENCH_OUT#"$ROOT"/}" 'the markdown table'
	printf '  %s\n' "BENCH_ROWS='$BENCH_ROWS'" \
	    '  (the rows, in this order: all of them by default)' \
	    "BENCH_SHAPED='$BENCH_SHAPED'" \
	    '  (the rows measured on the shaped link too; empty for none)'
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
}

# tunnel_pids: the processes that carry the tunnel, one PID a line.
tunnel_pids() {
	local pid comm
	for pid in $(ip netns pids "${NS[1]}"; ip netns pids "${NS[2]}"); do
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

# vpn_exec [FLAGS...]: vpn's command line for socat's EXEC, which splits
# it at spaces (so no empty words).
vpn_exec() {
	local words=("$VPN" -i "$TUN" "$@" "${VFLAGS[@]}")
	echo "${words[*]}"
}

# up_socket [SOCKOPT]: the socket row, SOCKOPT on both sockets.
up_socket() {
	local opt=${1:+,$1} exe
	exe=$(vpn_exec)
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

# ping_emit PREFIX: from $TMP/ping, PREFIX_min, _avg and _max in ms and
# PREFIX_loss in %.
ping_emit() {
	local k v
	while read -r k v; do
		emit "$1_$k" "$v"
	done < <(sed -nE 's/.* ([0-9.]+)% packet loss.*/loss \1/p
	    s|^rtt [^=]*= ([0-9.]+)/([0-9.]+)/([0-9.]+)/.*|min \1\navg \2\nmax \3|p' \
	    "$TMP/ping")
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
	local rc=0 i r bps bytes
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
	r=$(jq -r '.end.sum_received | select(.bytes > 0) | "\(.bits_per_second) " +
	    "\(.bytes) \(.bits_per_second / 1e6 | round / 1e3)"' "$TMP/iperf.json" \
	    2>/dev/null) || r=''
	if ((rc != 0)) || [[ -z $r ]]; then
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
	mapfile -t ROW_PIDS < <(tunnel_pids)
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

# -- the run's description, in round 0 of the TSV

describe() {
	local cpu
	printf 'round\trow\tmetric\tvalue\n' >"$BENCH_TSV"
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
	emit date "$(date -u '+%Y-%m-%d %H:%M UTC')"
	emit machine "${cpu:-unknown CPU}, $(nproc) CPUs, $(uname -sr)"
	emit cc "$(cat "$CC" 2>/dev/null || echo unknown)"
	emit vpn "$("$VPN" -V 2>&1 || true)"
	emit commit "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
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
}

main() {
	local i
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
	done
	ROUND=0 ROW=-
	emit load_end "$(cut -d ' ' -f 1-3 /proc/loadavg)"
	emit seconds "$SECONDS"
	awk -f "$ROOT/bench/table.awk" "$BENCH_TSV"
	awk -v md=1 -f "$ROOT/bench/table.awk" "$BENCH_TSV" >"$BENCH_OUT"
	say "figures: $BENCH_TSV; markdown: $BENCH_OUT (${SECONDS} s in all)"
}

main "$@"
