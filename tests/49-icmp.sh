#!/bin/bash
# tests/49-icmp.sh - ICMP errors on a datagram tunnel: counted, never fatal.
#
#  $A ── $GWA (client, vpn -D) ── $INET ── $GWB (server, vpn -D) ── $B
#
# vpn on a connected UDP socket (socat's nofork) at each gateway, tunnel
# MTU 1400.  On such a socket the kernel turns an ICMP error into an error
# of the next call.
# - A narrow path: the router's link to gateway B takes 1300 bytes; a full
#   ping through the tunnel makes the router answer "fragmentation needed".
#   The client goes on, says once what MTU the path takes (1272 for the
#   tunnel), and full pings cross again (fragmented by its kernel).
# - Off the path, host B sprays ICMP "destination unreachable" (protocol,
#   fragmentation needed, administratively prohibited) at gateway B quoting
#   its tunnel's UDP ports, and host A the same at gateway A: both vpns go
#   on, count them (socket_errors), and the tunnel carries a ping.
. "$(dirname "$0")/lib-sites.sh"
need socat

sites
for ns in "$GWA" "$GWB"; do	# only our packets
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
done
spawn ip netns exec "$GWB" socat UDP-LISTEN:33960 \
    EXEC:"$VPN -v -D -k 1 -i tun0",nofork 2>"$TMP/srv.log"
SRV=$!
wait_for 5 listening "$GWB" 33960 u
spawn ip netns exec "$GWA" socat UDP:198.51.100.2:33960 \
    EXEC:"$VPN -v -D -k 1 -i tun0",nofork 2>"$TMP/cli.log"
CLI=$!
wait_for 5 has_link "$GWA" tun0
wait_for 5 has_link "$GWB" tun0
for ns in "$GWA" "$GWB"; do
	ip -n "$ns" link set dev tun0 mtu 1400
done
tun_up "$GWB" tun0 10.1.1.1/24
tun_up "$GWA" tun0 10.1.1.2/24
wait_for 10 reach "$GWA" 10.1.1.1
cport=$(ip netns exec "$GWA" ss -Hun "dport = :33960" | awk '{ n = split($(NF - 1), a, ":"); print a[n]; exit }')
[[ -n $cport ]] || fail "no UDP socket to port 33960 on gateway A"

# unreach FROM TO CODE SRC SPORT DST DPORT: from host FROM, an ICMP
# "destination unreachable" with CODE to TO, quoting a UDP datagram from
# SRC:SPORT to DST:DPORT (what TO itself sent).
unreach() {
	local from=$1 to=$2 code=$3 ip udp icmp
	ip="45000024000040004011""0000$(ip4hex "$4")$(ip4hex "$6")"
	ip=${ip:0:20}$(csum "$ip")${ip:24}
	udp=$(printf '%04x%04x00100000' "$5" "$7")
	# Fragmentation needed says the next hop's MTU: 576, the least.
	icmp="03$(printf '%02x' "$code")0000""0000$( ((code == 4)) && echo 0240 || echo 0000)$ip$udp"
	icmp=${icmp:0:4}$(csum "$icmp")${icmp:8}
	hexbin "$icmp" | ip netns exec "$from" socat -u - "IP4-SENDTO:$to:1"
}

alive() { kill -0 "$SRV" 2>/dev/null && kill -0 "$CLI" 2>/dev/null; }

spoofed() {
	local code i
	for code in 2 4 13; do
		for i in 1 2 3; do
			unreach "$B" 172.20.1.1 "$code" 198.51.100.2 33960 192.0.2.2 "$cport"
			unreach "$A" 172.16.1.254 "$code" 192.0.2.2 "$cport" 198.51.100.2 33960
			sleep 0.1
		done
	done
	sleep 1
	alive || fail "a vpn exited: server: $(tail -2 "$TMP/srv.log"); client: $(tail -2 "$TMP/cli.log")"
	wait_for 5 reach "$GWA" 10.1.1.1
	counters_now "$SRV" "$TMP/srv.log" >/dev/null
	counters_now "$CLI" "$TMP/cli.log" >/dev/null
	for f in srv cli; do
		(($(counter "$TMP/$f.log" socket_errors) >= 3)) ||
			fail "$f counted $(counter "$TMP/$f.log" socket_errors) socket errors, want >= 3"
	done
}

narrow() {
	local n
	ip -n "$INET" link set dev wb mtu 1300
	ip -n "$GWB" link set dev wan0 mtu 1300
	counters_now "$CLI" "$TMP/cli.log" >/dev/null
	n=$(counter "$TMP/cli.log" socket_errors)
	ip netns exec "$GWA" ping -c 2 -i 0.3 -W 1 -s 1372 10.1.1.1 >/dev/null 2>&1 || true
	sleep 0.5
	alive || fail "a vpn exited on a narrow path: client: $(tail -2 "$TMP/cli.log")"
	wait_for 5 grep -q 'the path to the peer takes packets of 1300 bytes at most: set tun0.s MTU to 1272 or less' "$TMP/cli.log"
	ip netns exec "$GWA" ping -c 5 -i 0.3 -W 1 -s 1372 10.1.1.1 >"$TMP/ping" 2>&1 || true
	grep -q ' [1-5] received' "$TMP/ping" || fail "no full ping crossed the narrow path: $(cat "$TMP/ping")"
	ip netns exec "$GWA" ping -c 2 -i 0.3 -W 1 -s 1372 10.1.1.1 >/dev/null 2>&1 || true
	(($(grep -c 'the path to the peer takes' "$TMP/cli.log") == 1)) ||
		fail "said more than once: $(grep 'the path to the peer' "$TMP/cli.log")"
	counters_now "$CLI" "$TMP/cli.log" >/dev/null
	(($(counter "$TMP/cli.log" socket_errors) > n)) || fail "the narrow path's error was not counted"
}
check "a narrow path: the client goes on, says once what MTU fits, full pings cross" narrow
check "spoofed ICMP errors off the path: counted, and both ends go on" spoofed
