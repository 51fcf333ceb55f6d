#!/bin/bash
# tests/38-ipv6.sh - IPv6 inside the tunnel and outside it.
#
# - Tunnel addresses of both families (-l fd00:1::1/64 ...) and routes to
#   IPv6 LANs (-r): gateway A pings fd00:1::1 across the tunnel, and
#   reaches an address of gateway B's routed IPv6 prefix.
# - The server listens on IPv6 (-6); the client is given an IPv6 literal
#   (-s 2001:db8:b::2), for nc, and for socat (TLS would be the same).
. "$(dirname "$0")/lib-sites.sh"
need socat

sites
ip -n "$GWB" addr add fd00:b::1/64 dev lan0 nodad
ip -n "$B" addr add fd00:b::2/64 dev eth0 nodad
ip -n "$B" -6 route add default via fd00:b::1

# checks TRANSPORT PROTO
checks() {
	local t=$1 p=$2 srv cli
	server "srv-$t" -6 -T "$t" -l 10.1.1.1/24 -l fd00:1::1/64 -r fd00:a::/64
	srv=$!
	wait_for 5 listening "$GWB" 33960 "$p"
	client "cli-$t" -T "$t" -s 2001:db8:b::2 -l 10.1.1.2/24 -l fd00:1::2/64 -r fd00:b::/64
	cli=$!
	wait_for 10 reach "$GWA" fd00:1::1
	ip netns exec "$GWA" ping -c 3 -i 0.2 -W 2 fd00:1::1 >/dev/null || fail "$t: ping fd00:1::1"
	ip netns exec "$GWA" ping -c 3 -i 0.2 -W 2 fd00:b::2 >/dev/null || fail "$t: ping host B's fd00:b::2"
	ip netns exec "$GWB" ping -c 3 -i 0.2 -W 2 10.1.1.2 >/dev/null || fail "$t: IPv4 beside IPv6"
	[[ -n $(ip netns exec "$GWB" ss -Hn "dst [2001:db8:a::2]") ]] ||
		fail "$t: the outer connection is not IPv6: $(ip netns exec "$GWB" ss -Han)"
	[[ $(ip netns exec "$GWB" sysctl -n net.ipv6.conf.all.forwarding) == 1 ]] ||
		fail "$t: IPv6 forwarding off"
	stop "$cli" "cli-$t"
	stop "$srv" "srv-$t"
	[[ $(ip netns exec "$GWB" sysctl -n net.ipv6.conf.all.forwarding) == 0 ]] ||
		fail "$t: IPv6 forwarding left on"
	say "$t: IPv6 in the tunnel and under it"
}
check "nc: IPv6 in the tunnel and under it" checks nc t
check "udp: IPv6 in the tunnel and under it" checks udp u
