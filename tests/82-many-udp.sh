#!/bin/bash
# tests/82-many-udp.sh - one server, many clients, over UDP, with -x.
#
# server.sh -M 4 -x -T udp on gateway B; five client hosts running
# client.sh -T udp without -l, each asking the server for its
# configuration in datagrams before vpn starts.  The checks of tests/80,
# but that with -x the clients reach each other; and one datagram with a
# bad configuration line costs the client one attempt, not its life.
# run.sh: heavy long
. "$(dirname "$0")/lib-many.sh"
need socat nc

SARGS=(-T udp) CARGS=(-T udp -k 1 -t 3) TOGETHER=1
many_sites 5
many_checks

# One datagram with a bad line (the server's, or spoofed from its address)
# is one failed attempt: the client tries again (it exited 1 for good).
bad_line() {
	fake_server 33971 "vpn-config 1 addr=10.8.8.7/24 mtu=abc" udp
	client_on 5 c51 -T udp -p 33971 -i tun8 -k 1 -t 3
	retries c51 "$!" "the server's configuration has a bad item: 'mtu=abc'"
}
check "one bad configuration datagram: said, and tried again" bad_line
