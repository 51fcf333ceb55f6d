#!/bin/bash
# tests/82-many-udp.sh - one server, many clients, over UDP, with -x.
#
# server.sh -M 4 -x -T udp on gateway B; five client hosts running
# client.sh -T udp without -l, each asking the server for its
# configuration in datagrams before vpn starts.  The checks of tests/80,
# but that with -x the clients reach each other; one datagram with a
# bad configuration line costs the client one attempt, not its life; and
# a pushed default route is refused.
# run.sh: heavy long
. "$(dirname "$0")/lib-many.sh"
need socat nc

SARGS=(-T udp) CARGS=(-T udp -k 1 -t 3) TOGETHER=1
many_sites 5

# Servers that lie, on ports of their own, to client host 5 (before the
# many-client checks): each case leaves nothing.

# One datagram with a bad line (the server's, or spoofed from its address)
# is one failed attempt: the client tries again (it exited 1 for good).
bad_line() {
	fake_server 33981 "vpn-config 1 addr=10.8.8.7/24 mtu=abc" udp
	client_on 5 c51 -T udp -p 33981 -i tun8 -k 1 -t 3
	retries c51 "$!" "the server's configuration has a bad item: 'mtu=abc'"
	fake_stop
}
check "one bad configuration datagram: said, and tried again" bad_line

# Over UDP too (session.sh applies the line), a pushed default route and
# a route over the server's address are refused, each said, and SIGTERM
# leaves the routes as they were.
hostile() {
	local c=${CLIENTS[4]} before cli
	before=$(routes "$c")
	fake_server 33982 "vpn-config 1 addr=10.8.8.7/24 mtu=1400 route=0.0.0.0/0 route=198.51.100.0/24 route=172.21.0.0/16" udp
	client_on 5 c52 -T udp -p 33982 -i tun7 -k 1 -t 3
	cli=$!
	wait_for 10 configured c52 tun7 1
	says c52 "refused the server's route=0.0.0.0/0: a default route (-D takes it)" \
	    "refused the server's route=198.51.100.0/24: it holds the server's address 198.51.100.2 (-D takes it)" \
	    "the server gave tun7 10.8.8.7/24, routes 172.21.0.0/16, MTU 1400"
	has_route "$c" -4 0.0.0.0/0 "default via 203.0.113.17 dev wan0"
	has_route "$c" -4 172.21.0.0/16 "dev tun7"
	stop "$cli" c52
	fake_stop
	same_routes "$before" "$c"
}
check "a pushed default route over UDP: refused, said; routes as they were" hostile

many_checks
