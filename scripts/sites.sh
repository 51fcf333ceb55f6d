# shellcheck shell=bash
# scripts/sites.sh - the article's picture in network namespaces: two sites,
# each a LAN behind a gateway, joined by an "internet".  Sourced by demo.sh
# and by the tests (tests/lib-sites.sh); it changes nothing outside the
# namespaces it makes.
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

# sites_up P: build the picture.  The caller deletes the namespaces.
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
	local ns pids=()
	for ns in $(sites_names "$1"); do
		mapfile -t -O "${#pids[@]}" pids < <(ip netns pids "$ns" 2>/dev/null)
	done
	((${#pids[@]} == 0)) || kill "${pids[@]}" 2>/dev/null || true
	for ns in $(sites_names "$1"); do
		ip netns del "$ns" 2>/dev/null || true
	done
}
