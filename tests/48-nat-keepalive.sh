#!/bin/bash
# tests/48-nat-keepalive.sh - keepalives hold a NAT's UDP mapping open.
#
#  $A (vpn -D, behind NAT) ── $GWA (MASQUERADE) ── $INET ── $GWB (vpn -D)
#
# docs/howto.md says the UDP transport's keepalive is there "so that NAT on
# the way keeps the mapping".  Gateway A here forgets an idle UDP mapping
# after 3 s (its conntrack timeouts; Linux's default is 30 s, 120 s once
# both ways have been seen).  After 6 s with nothing to carry:
# - with -k 1 on host A's end, gateway B still reaches host A's tunnel
#   address: the keepalives held the mapping;
# - without, it does not: the mapping is gone, and the server's datagrams
#   end at gateway A (so the first check can fail).
# No IPv6 on the devices, whose router solicitations would be traffic too.
# run.sh: long
. "$(dirname "$0")/lib-sites.sh"
need socat

sites
ip netns exec "$GWA" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=3 \
    net.netfilter.nf_conntrack_udp_timeout_stream=3
for ns in "$A" "$GWB"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
done

# run PORT FLAGS...: a tunnel from host A to gateway B on PORT, with FLAGS
# for host A's vpn; idle for twice the NAT's timeout; does B reach A?
run() {
	local port=$1 srv cli rc=0
	shift
	spawn ip netns exec "$GWB" socat UDP-LISTEN:"$port" \
	    EXEC:"$VPN -D -i tun$port",nofork 2>"$TMP/srv$port.log"
	srv=$!
	wait_for 5 listening "$GWB" "$port" u
	spawn ip netns exec "$A" socat UDP:198.51.100.2:"$port" \
	    EXEC:"$VPN -D $* -i tun$port",nofork 2>"$TMP/cli$port.log"
	cli=$!
	wait_for 5 has_link "$A" "tun$port"
	tun_up "$A" "tun$port" 10.7.0.2/24
	# The first datagram makes the server's device.
	ip netns exec "$A" ping -c 1 -W 1 10.7.0.1 >/dev/null 2>&1 || true
	wait_for 5 has_link "$GWB" "tun$port"
	tun_up "$GWB" "tun$port" 10.7.0.1/24
	wait_for 5 reach "$A" 10.7.0.1
	reach "$GWB" 10.7.0.2 || fail "[$*]: gateway B cannot reach host A at first"
	sleep 6
	reach "$GWB" 10.7.0.2 || rc=1
	kill "$srv" "$cli"
	wait "$srv" "$cli" || true
	return "$rc"
}

run 33961 -k 1 || fail "with -k 1, gateway B lost host A after 6 s idle behind the NAT"
say "-k 1: the NAT kept the mapping through 6 s with nothing to carry"
! run 33962 || fail "without -k, gateway B still reached host A: the NAT did not forget (the test proves nothing)"
say "without -k: the mapping expired, and gateway B no longer reaches host A"
