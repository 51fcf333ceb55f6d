# shellcheck shell=bash
# scripts/netns.sh - what the demo, the lab, the tests and the bench share:
# bounded waits, network namespaces and the devices in them, vpn's
# counters, and the article's picture of two sites.  Sourced, never run; it
# changes nothing outside the namespaces its callers make.
#
# A sourcer may define wait_failed SECS CMD... to act when a wait times
# out (the tests fail, the demo dies); wait_for then returns 1.

# -- waits

# wait_for SECS CMD...: retry CMD until it succeeds, for at most SECS (and
# at most SECS * 20 tries).  CMD's arguments are expanded once, here: put a
# $(...) in a function.
wait_for() {
	local secs=$1 end=$((SECONDS + $1 + 1)) i=0
	shift
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= end || i >= secs * 20)); then
			! declare -F wait_failed >/dev/null || wait_failed "$secs" "$@"
			return 1
		fi
		sleep 0.05
		i=$((i + 1))
	done
}

# exited PID: PID has ended (a zombie counts: its parent may be a pipeline).
exited() {
	! kill -0 "$1" 2>/dev/null || [[ $(ps -o stat= "$1") == Z* ]]
}

# -- namespaces and devices

# listening NS PORT [t|u]: something in NS listens on TCP (or UDP) PORT.
# ss exits 0 whether or not it finds anything, so test its output.
listening() {
	local proto=${3:-t}
	[[ -n $(ip netns exec "$1" ss "-Hl${proto}n" "sport = :$2") ]]
}

# has_link NS DEV: the device exists in NS; no_link NS DEV: it does not.
has_link() { ip -n "$1" link show dev "$2" >/dev/null 2>&1; }
no_link() { ! has_link "$@"; }

# carrier NS DEV: DEV is up with a reader attached, and the kernel has
# noticed.  Until linkwatch runs (up to a second after vpn attaches), the
# device's queue drops everything it is given to send.
carrier() {
	local state
	state=$(ip netns exec "$1" cat "/sys/class/net/$2/operstate")
	[[ $state == up || $state == unknown ]]	# unknown: no carrier events
}

# link_stat NS DEV COUNTER: a counter from /sys/class/net/DEV/statistics.
link_stat() {
	ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"
}

# tun_up NS DEV ADDR...: give DEV its addresses and bring it up.
tun_up() {
	local ns=$1 dev=$2 a
	shift 2
	for a in "$@"; do
		if [[ $a == *:* ]]; then
			ip -n "$ns" addr add "$a" dev "$dev" nodad
		else
			ip -n "$ns" addr add "$a" dev "$dev"
		fi
	done
	ip -n "$ns" link set dev "$dev" up
}

# pid_of NS EXE: the PID of the one process in NS running EXE.
pid_of() {
	local pid
	for pid in $(ip netns pids "$1"); do
		if [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$2" ]]; then
			echo "$pid"
			return 0
		fi
	done
	echo "pid_of: no $2 runs in $1" >&2	# a test's set -e would say nothing
	return 1
}

# ns_kill NS...: end what runs in the namespaces, by PID: SIGTERM, then
# after 5 s SIGKILL.
ns_kill() {
	local ns pids=() i
	for ((i = 0; i < 50; i++)); do
		pids=()
		for ns in "$@"; do
			mapfile -t -O "${#pids[@]}" pids < <(ip netns pids "$ns" 2>/dev/null)
		done
		((${#pids[@]} > 0)) || return 0
		if ((i == 0)); then
			kill "${pids[@]}" 2>/dev/null || true
		fi
		sleep 0.1
	done
	kill -9 "${pids[@]}" 2>/dev/null || true
}

# -- vpn's counters: one line of key=value pairs (see vpn(1), SIGNALS)

# counters FILE: the pairs of the last counters line vpn wrote to FILE.
counters() {
	grep ' rx_packets=' "$1" | tail -1 | sed 's/^vpn: [^ ]*: //'
}

# counter FILE KEY: one value from the last counters line in FILE.
counter() {
	counters "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# counters_lines FILE: how many counters lines FILE holds.
counters_lines() { grep -c ' rx_packets=' "$1" || true; }

# counters_now PID FILE: SIGUSR1 to the vpn PID, whose stderr is FILE; its
# counters, once it has written them.
counters_now() {
	local n
	n=$(counters_lines "$2")
	kill -USR1 "$1"
	wait_for 5 counters_more "$2" "$n" || return 1
	counters "$2"
}
counters_more() { (($(counters_lines "$1") > $2)); }

# -- the article's picture: two sites, each a LAN behind a gateway, joined
# by an "internet"
#
#   $P-a                $P-gwa                $P-inet              $P-gwb               $P-b
#  host A   ── lan0 ──  gateway A  ── wan0 ──  router  ── wan0 ──  gateway B ── lan0 ──  host B
#  172.16.1.1   172.16.1.254    192.0.2.2  192.0.2.1  198.51.100.1  198.51.100.2  172.20.1.1  172.20.1.2
#                              2001:db8:a::2  ::1     2001:db8:b::1  ::2
#
# Gateway A masquerades its LAN out of wan0 (a NAT gateway) and forwards;
# gateway B forwards nothing until server.sh turns forwarding on.  The
# outer addresses are documentation ranges (RFC 5737, RFC 3849), routed
# only between these namespaces.

# sites_names P: the five namespaces' names, in the order above.
sites_names() {
	echo "$1-a $1-gwa $1-inet $1-gwb $1-b"
}

# sites_link NS1 DEV1 NS2 DEV2: a veth pair between two namespaces.
sites_link() {
	ip -n "$1" link add "$2" type veth peer name "$4" netns "$3"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

# sites_up P: build the picture.  The caller deletes the namespaces
# (sites_down).
sites_up() {
	local p=$1 ns
	for ns in $(sites_names "$p"); do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
	done
	sites_link "$p-a" eth0 "$p-gwa" lan0
	sites_link "$p-gwa" wan0 "$p-inet" wa
	sites_link "$p-inet" wb "$p-gwb" wan0
	sites_link "$p-gwb" lan0 "$p-b" eth0

	ip -n "$p-a" addr add 172.16.1.1/24 dev eth0
	ip -n "$p-a" route add default via 172.16.1.254
	ip -n "$p-gwa" addr add 172.16.1.254/24 dev lan0
	ip -n "$p-gwa" addr add 192.0.2.2/24 dev wan0
	ip -n "$p-gwa" addr add 2001:db8:a::2/64 dev wan0 nodad
	ip -n "$p-gwa" route add default via 192.0.2.1
	ip -n "$p-gwa" -6 route add default via 2001:db8:a::1
	ip netns exec "$p-gwa" sysctl -qw net.ipv4.ip_forward=1
	ip netns exec "$p-gwa" iptables -w -t nat -A POSTROUTING \
	    -s 172.16.1.0/24 -o wan0 -j MASQUERADE

	ip -n "$p-inet" addr add 192.0.2.1/24 dev wa
	ip -n "$p-inet" addr add 2001:db8:a::1/64 dev wa nodad
	ip -n "$p-inet" addr add 198.51.100.1/24 dev wb
	ip -n "$p-inet" addr add 2001:db8:b::1/64 dev wb nodad
	ip netns exec "$p-inet" sysctl -qw net.ipv4.ip_forward=1
	ip netns exec "$p-inet" sysctl -qw net.ipv6.conf.all.forwarding=1

	ip -n "$p-gwb" addr add 198.51.100.2/24 dev wan0
	ip -n "$p-gwb" addr add 2001:db8:b::2/64 dev wan0 nodad
	ip -n "$p-gwb" route add default via 198.51.100.1
	ip -n "$p-gwb" -6 route add default via 2001:db8:b::1
	ip -n "$p-gwb" addr add 172.20.1.1/24 dev lan0
	ip -n "$p-b" addr add 172.20.1.2/24 dev eth0
	ip -n "$p-b" route add default via 172.20.1.1
}

# sites_down P: stop what runs in the namespaces (by PID) and delete them.
sites_down() {
	local ns
	# shellcheck disable=SC2046 # the names, one word each
	ns_kill $(sites_names "$1")
	for ns in $(sites_names "$1"); do
		ip netns del "$ns" 2>/dev/null || true
	done
}
