#!/bin/bash
# tests/lib-many.sh - lib-howto.sh, plus clients of their own: one server
# (server.sh -M on gateway B) and N client hosts, each with client.sh
# and no -l, reaching gateway B through the router.  Sourced by the
# many-client tests (8x).
#
#  $C1 wan0 203.0.113.2/30 ── c1 .1 ┐
#  $C2 wan0 203.0.113.6/30 ── c2 .5 ├ $INET ── $GWB (server.sh -M) ── $B
#  ...                              ┘           tun0-N 10.1.1.1 peer …

# shellcheck disable=SC2034 # names here are for the tests that source this
# shellcheck source=tests/lib-howto.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib-howto.sh"

CLIENTS=()			# the client hosts' namespaces

# many_sites N: the two sites, and N client hosts on the router.
many_sites() {
	local i c
	sites
	for ((i = 1; i <= $1; i++)); do
		c=$NS_PREFIX-c$i
		ns_add "$c"
		CLIENTS+=("$c")
		ip -n "$INET" link add "c$i" type veth peer name wan0 netns "$c"
		ip -n "$INET" addr add "203.0.113.$((4 * i - 3))/30" dev "c$i"
		ip -n "$c" addr add "203.0.113.$((4 * i - 2))/30" dev wan0
		ip -n "$INET" link set "c$i" up
		ip -n "$c" link set wan0 up
		ip -n "$c" route add default via "203.0.113.$((4 * i - 3))"
		# Only our packets on the tunnel: no IPv6 chatter to count.
		ip netns exec "$c" sysctl -qw net.ipv6.conf.default.accept_ra=0
	done
}

# client_on I NAME ARGS...: client.sh on client host I, its stderr in
# $TMP/NAME.log; $! is the script.
client_on() {
	local c=${CLIENTS[$1 - 1]} name=$2
	shift 2
	spawn ip netns exec "$c" env --default-signal=INT VPN="$VPN" TMPDIR="$TMP/run" \
	    VPN_RUNDIR="$TMP/rundir" "$CLIENT_SH" -s 198.51.100.2 "$@" 2>"$TMP/$name.log"
	SCRIPTS+=("$!")
}

# tun_addr NS [4|6]: the global address of tun0 in NS, no prefix length.
tun_addr() {
	ip -n "$1" "-${2:-4}" -o addr show dev tun0 scope global 2>/dev/null |
	    awk '{ sub(/\/.*/, "", $4); print $4; exit }'
}

has_addr() { [[ -n $(tun_addr "$@") ]]; }

# -- servers that lie: what a client.sh without -l must survive

# fake_server PORT LINE [udp]: on gateway B, a server that answers each
# client with LINE (over UDP, after the client's first datagram, with its
# hello's nonce, as the client wants), then
# holds the connection HOLD s (default 5) and says nothing more.  It runs
# in a process group of its own, FAKE, which fake_stop ends.
fake_server() {
	local port=$1 line=$2 proto=${3:-tcp} listen=(TCP-LISTEN EXEC:"$TMP/fake.sh")
	cat >"$TMP/fake.sh" <<'EOS'
#!/bin/sh
n=''
[ "${1:-}" != udp ] || n=" nonce=$(dd bs=2048 count=1 status=none | head -n 1 | sed -n 's/^vpn-hello 1 //p')"
printf '%s%s\n' "$LINE" "$n"
exec sleep "$HOLD"
EOS
	chmod +x "$TMP/fake.sh"
	# shellcheck disable=SC2054 # ",nofork" is socat's, in one argument
	[[ $proto != udp ]] || listen=(UDP-LISTEN EXEC:"$TMP/fake.sh udp",nofork)
	spawn ip netns exec "$GWB" env LINE="$line" HOLD="${HOLD:-5}" setsid \
	    socat "${listen[0]}:$port,reuseaddr,fork" "${listen[1]}" 2>>"$TMP/fake.log"
	FAKE=$!
	wait_for 5 listening "$GWB" "$port" "${proto:0:1}"
}

# fake_stop: the fake server and the children it forked, ended.
fake_stop() {
	kill -- -"$FAKE" 2>/dev/null || true
	# shellcheck disable=SC2317 # called by wait_for
	group_gone() { ! kill -0 -- -"$FAKE" 2>/dev/null; }
	wait_for 5 group_gone
}

# retries NAME PID WHY: client NAME (PID) said WHY and tried again, more
# than once, and runs; then SIGTERM ends it as ever.
retries() {
	wait_for 8 attempts "$1" 2
	said "$1" "$3" || fail "$1 did not say '$3': $(grep -v '^\[#' "$TMP/$1.log" | tail -4)"
	! said "$1" "giving up" || fail "$1 gave up: $(grep -v '^\[#' "$TMP/$1.log" | tail -4)"
	kill -0 "$2" 2>/dev/null || fail "$1 exited: $(grep -v '^\[#' "$TMP/$1.log" | tail -4)"
	stop "$2" "$1"
}

# configured NAME DEV N: client NAME took N configurations for DEV.
configured() { (($(grep -c "the server gave $2 " "$TMP/$1.log") >= $3)); }

# routes NS: the routes of both families in NS, for before/after diffs.
routes() {
	ip -n "$1" route
	ip -n "$1" -6 route | grep -v '^fe80::/64 \|^multicast \|^ff00::/8 ' || true
}

# same_routes BEFORE NS: NS's routes are as in BEFORE (routes's output).
same_routes() {
	[[ $(routes "$2") == "$1" ]] ||
		fail "routes of $2: $(diff <(echo "$1") <(routes "$2") | grep '^[<>]' | tr '\n' ' ')"
}

# has_route NS FAMILY CIDR TEXT: NS's route of CIDR reads TEXT.
has_route() {
	local got
	got=$(ip -n "$1" "$2" route show exact "$3")
	[[ $got == *"$4"* ]] || fail "route $3 in $1: '$got', want '$4'"
}

# says NAME TEXT...: client NAME said each TEXT.
says() {
	local t
	for t in "${@:2}"; do
		said "$1" "$t" || fail "$1 did not say '$t': $(grep -v '^\[#' "$TMP/$1.log" | tail -8)"
	done
}

# session_devs: the session devices on gateway B.
session_devs() {
	ip -n "$GWB" -o link show | grep -o ' tun0-[0-9]*' | tr -d ' ' | sort || true
}

# leases: the leases of the server's sessions, by number.
leases() {
	local conf
	for conf in "$TMP"/rundir/*/tun0/conf; do
		grep -q '^ROLE=server$' "$conf" 2>/dev/null || continue
		find "${conf%/conf}/sessions" -type f ! -name '*.lock' ! -name '*.stats' \
		    -printf '%f\n' 2>/dev/null
	done | sort
}

# concurrent_transfers MB NS...: MB MiB from each NS to host B at once,
# each on its own port, all checksummed.
concurrent_transfers() {
	local mb=$1 i=0 ns pids=() sinks=()
	shift
	head -c "$((mb << 20))" /dev/urandom >"$TMP/payload"
	for ns in "$@"; do
		i=$((i + 1))
		# shellcheck disable=SC2016 # expanded by the inner sh
		spawn ip netns exec "$B" sh -c 'nc -l "$2" >"$1"' - "$TMP/got.$i" $((5000 + i))
		sinks+=("$!")
		wait_for 5 listening "$B" $((5000 + i))
	done
	i=0
	for ns in "$@"; do
		i=$((i + 1))
		spawn timeout 120 ip netns exec "$ns" nc -N 172.20.1.2 $((5000 + i)) <"$TMP/payload"
		pids+=("$!")
	done
	for i in "${!pids[@]}"; do
		wait "${pids[i]}" || fail "transfer $((i + 1)) from ${*:i+1:1}: nc exited $?"
	done
	for i in "${!sinks[@]}"; do
		wait_for 30 exited "${sinks[i]}"
		cmp -s "$TMP/payload" "$TMP/got.$((i + 1))" ||
			fail "transfer $((i + 1)): $(stat -c %s "$TMP/got.$((i + 1))") bytes arrived, not the $mb MiB sent"
	done
}

# -- the checks each transport passes (tests/80-83): call many_checks
# with the transport's server arguments in SARGS, and with cargs N
# setting client N's in CA (default: CARGS).  TOGETHER=1 runs the server
# with -x, where clients reach each other.  A test's own checks, in
# many_extra, run before the server is stopped.

TOGETHER=0
cargs() { CA=("${CARGS[@]}"); }

# four_up: four clients, each with its own address from the pool, each
# reaching the server's tunnel address and host B.
four_up() {
	local i a addrs=()
	B0=$(snapshot "$GWB")
	if ((TOGETHER)); then
		server srv -M 4 -x -k 1 -t 3 -r 172.20.1.0/24 "${SARGS[@]}"
	else
		server srv -M 4 -k 1 -t 3 -r 172.20.1.0/24 "${SARGS[@]}"
	fi
	SRV=$!
	wait_for 5 said srv "listening on port 33960"
	for i in 1 2 3 4; do
		cargs "$i"
		client_on "$i" "c$i" "${CA[@]}"
	done
	for i in 1 2 3 4; do
		wait_for 15 has_addr "${CLIENTS[i - 1]}"
		a=$(tun_addr "${CLIENTS[i - 1]}")
		[[ " ${addrs[*]} " != *" $a "* ]] || fail "client $i got $a, which another has: ${addrs[*]}"
		addrs+=("$a")
		wait_for 5 reach "${CLIENTS[i - 1]}" 10.1.1.1
		reach "${CLIENTS[i - 1]}" 172.20.1.2 || fail "client $i ($a) cannot reach host B"
	done
	[[ $(session_devs | wc -l) == 4 ]] || fail "gateway B has session devices $(session_devs | tr '\n' ' '), want 4"
	# The status command: a line a session, each with its client's address.
	ip netns exec "$GWB" env VPN_RUNDIR="$TMP/rundir" "$ROOT/scripts/status.sh" -k >"$TMP/status"
	(($(grep -c '^dev=tun0-[0-9]* role=server ' "$TMP/status") == 4)) ||
		fail "status on gateway B: $(cat "$TMP/status")"
	for a in "${addrs[@]}"; do
		grep -q " addr=$a/24[ ,]" "$TMP/status" || fail "status lacks $a: $(cat "$TMP/status")"
	done
	say "four clients: ${addrs[*]}"
}

# fifth_refused: with four up, a fifth is refused, and says so; the four
# keep their tunnels.
fifth_refused() {
	local i
	cargs 5
	client_on 5 c5 "${CA[@]}"
	C5=$!
	wait_for 10 said c5 "refused by the server: all 4 sessions are up"
	# The server says it after it has told the client: wait for it too.
	wait_for 5 said srv "refused: all 4 sessions are up" ||
		fail "the server did not log the refusal"
	! has_addr "${CLIENTS[4]}" || fail "the fifth client got an address"
	[[ $(session_devs | wc -l) == 4 ]] || fail "session devices: $(session_devs | tr '\n' ' ')"
	stop "$C5" c5
	for i in 1 2 3 4; do
		reach "${CLIENTS[i - 1]}" 10.1.1.1 || fail "client $i lost its tunnel"
	done
}

# isolated: a client reaches no other client, and what it sends from
# another client's address is dropped at the server (and counted there);
# with an IPv4 pool, the server's session devices have no IPv6.
isolated() {
	local a1 a2 dropped dev
	a1=$(tun_addr "${CLIENTS[0]}") a2=$(tun_addr "${CLIENTS[1]}")
	! reach "${CLIENTS[0]}" "$a2" || fail "client 1 reached client 2 ($a2)"
	ip -n "${CLIENTS[0]}" addr add "$a2/32" dev tun0
	! ip netns exec "${CLIENTS[0]}" ping -c 2 -i 0.2 -W 1 -I "$a2" 172.20.1.2 >/dev/null ||
		fail "client 1 got through to host B from client 2's address"
	ip -n "${CLIENTS[0]}" addr del "$a2/32" dev tun0
	dropped=$(ip netns exec "$GWB" iptables -w -t raw -L PREROUTING -v -n -x |
	    awk -v a="$a1" '$0 ~ "!" a " " { print $1 }')
	((dropped >= 2)) || fail "the server's rule for client 1 dropped $dropped packets, want >= 2"
	reach "${CLIENTS[0]}" 172.20.1.2 || fail "client 1 lost its own way to host B"
	# An IPv4 pool: the server's end of a session has no IPv6 at all, not
	# even a link-local address, which a client could reach unfiltered.
	[[ -z $(tun_addr "${CLIENTS[0]}" 6) ]] || return 0
	for dev in $(session_devs); do
		[[ -z $(ip -n "$GWB" -6 -o addr show dev "$dev") ]] ||
			fail "$dev has IPv6, the pool none: $(ip -n "$GWB" -6 -o addr show dev "$dev")"
	done
}

# cut_one: client 4's link goes dead (no FIN, no RST): within -t its
# session's device and lease are gone; meanwhile the three others move
# 20 MiB each, intact, and client 1's pings are all answered.
cut_one() {
	local dev n before start
	n=$(lease_of "$(tun_addr "${CLIENTS[3]}")")
	dev=tun0-$n
	has_link "$GWB" "$dev" || fail "no $dev for client 4"
	ip netns exec "$INET" iptables -w -A FORWARD -i c4 -j DROP
	ip netns exec "$INET" iptables -w -A FORWARD -o c4 -j DROP
	start=$SECONDS
	ip netns exec "${CLIENTS[0]}" ping -q -c 25 -i 0.2 -W 2 10.1.1.1 >"$TMP/ping1" 2>&1 &
	PIDS+=("$!")
	before=$!
	concurrent_transfers 20 "${CLIENTS[@]:0:3}"
	wait_for 6 no_link "$GWB" "$dev"
	((SECONDS - start <= 3 + 3)) || fail "client 4's session ended $((SECONDS - start)) s after the cut, want about 3 (-t)"
	# shellcheck disable=SC2317 # called by wait_for
	no_lease() { [[ " $(leases | tr '\n' ' ') " != *" $1 "* ]]; }
	wait_for 2 no_lease "$n"
	wait "$before" || fail "client 1's pings during the cut: $(cat "$TMP/ping1")"
	grep -q ' 0% packet loss' "$TMP/ping1" || fail "client 1's pings during the cut: $(cat "$TMP/ping1")"
	ip netns exec "$INET" iptables -w -F FORWARD
	said srv "session on $dev ended" || fail "the server did not say the session ended"
}

# lease_of ADDR: the number of the server's session for ADDR.
lease_of() {
	grep -l "^dev=" "$TMP"/rundir/*/tun0/sessions/* 2>/dev/null |
	    while read -r f; do
		[[ $(ip -n "$GWB" -o -4 addr show dev "$(sed -n 's/^dev=//p' "$f")" 2>/dev/null) != *"peer $1/"* ]] ||
			basename "$f"
	    done
}

# back: client 4 reconnects and has a tunnel again.
back() {
	wait_for 40 reach "${CLIENTS[3]}" 10.1.1.1
	say "client 4 back as $(tun_addr "${CLIENTS[3]}")"
}

# all_stopped: SIGTERM to the server with four sessions up: every device,
# rule, route and sysctl of gateway B as before it started, and no lease.
all_stopped() {
	stop "$SRV" srv
	same_as "$B0" "$GWB" "server with four sessions, after SIGTERM"
	[[ -z $(session_devs) ]] || fail "session devices left: $(session_devs)"
	[[ -z $(leases) ]] || fail "leases left: $(leases | tr '\n' ' ')"
	[[ -z $(find "$TMP/rundir" -name conf -exec grep -l ROLE=server {} +) ]] ||
		fail "the server's state directory stayed"
}

# together: with -x, clients reach each other through the server.
together() {
	local i a
	for i in 2 3 4; do
		a=$(tun_addr "${CLIENTS[i - 1]}")
		reach "${CLIENTS[0]}" "$a" || fail "with -x, client 1 cannot reach client $i ($a)"
	done
}

# vpns_whole WANT: the vpn of each of the four sessions, on gateway B and
# on its client's host, sends TCP super-packets whole (-W) if WANT is 1
# (over a stream, client.sh greets and session.sh answers whole=1), and
# packets of the MTU if 0 (over UDP); each end's log says which.
vpns_whole() {
	local ns pid n=0 w logs
	for ns in "$GWB" "${CLIENTS[@]:0:4}"; do
		for pid in $(ip netns pids "$ns"); do
			[[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$VPN" ]] || continue
			w=0
			! tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qx -- -W || w=1
			((w == $1)) || fail "vpn $pid in $ns ($(tr '\0' ' ' <"/proc/$pid/cmdline")): -W $w, want $1"
			n=$((n + 1))
		done
	done
	((n == 8)) || fail "$n vpns on gateway B and the four client hosts, want 8"
	logs=$(cat "$TMP"/srv.log "$TMP"/c[1-4].log | grep -c "session up on .*, super-packets whole") || true
	(($1 == 0 ? logs == 0 : logs >= 8)) ||
		fail "$logs lines of the server's and the clients' say super-packets whole, want $((8 * $1)) at least"
}

many_checks() {
	check "four clients, four addresses, each reaches the server and host B" four_up
	if [[ " ${SARGS[*]} " == *" -T udp "* ]]; then
		check "over UDP, both ends of each session send packets of the MTU" vpns_whole 0
	else
		check "client.sh greets: both ends of each session send super-packets whole" vpns_whole 1
	fi
	check "20 MiB from each of the four at once, intact" concurrent_transfers 20 "${CLIENTS[@]:0:4}"
	check "a fifth client is refused, and the four keep their tunnels" fifth_refused
	if ((TOGETHER)); then
		check "with -x, clients reach each other" together
	else
		check "clients are kept apart, and cannot send from another's address" isolated
	fi
	check "a client's link dies: its session goes within -t; the others go on" cut_one
	check "that client comes back" back
	! declare -F many_extra >/dev/null || many_extra
	check "SIGTERM with four sessions up: gateway B as it was" all_stopped
}

# -- raw clients, from the last client host, for what client.sh would
# hide: what the server answers, and what it leaves.

# first_line PORT: the first line a many-client server on gateway B
# sends a new TCP client on PORT (the server's -k should be short: the
# connection ends at the next keepalive after it).
first_line() {
	# shellcheck disable=SC2016 # expanded by the inner sh
	timeout 10 ip netns exec "${CLIENTS[-1]}" sh -c 'sleep 5 | nc 198.51.100.2 "$1"' - "$1" |
	    head -n 1 || true
}

# greeted_line PORT BYTES: as first_line, from a client that sends BYTES
# (printf's escapes) at once.
greeted_line() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout 10 ip netns exec "${CLIENTS[-1]}" bash -c '{ printf "$2"; sleep 5; } | nc 198.51.100.2 "$1"' - "$1" "$2" |
	    head -n 1 || true
}

# holder PORT [BYTES]: a TCP client that takes a session on PORT and keeps
# it, silent but for BYTES (printf's escapes) at once, for the server's -t
# (30 s by default) or until the test ends.  Without a greeting ('\0\0'),
# the server waits a second for one before it sets the session up.
holder() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	spawn ip netns exec "${CLIENTS[-1]}" bash -c '{ printf "$2"; sleep 60; } | nc 198.51.100.2 "$1" >/dev/null' - "$1" "${2:-}"
}

# session_pid DEV: the session.sh serving DEV on gateway B (its lease
# names it).
session_pid() {
	sed -n 's/^pid=//p' "$(grep -lx "dev=$1" "$TMP"/rundir/*/*/sessions/* 2>/dev/null | head -n 1)"
}

# vpn_of PID: the vpn that the session.sh PID runs.
vpn_of() {
	local pid
	for pid in $(ps -o pid= --ppid "$1"); do
		[[ $(readlink "/proc/$pid/exe") != "$VPN" ]] || echo "$pid"
	done
}
