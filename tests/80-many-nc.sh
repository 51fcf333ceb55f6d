#!/bin/bash
# tests/80-many-nc.sh - one server, many clients, over plain TCP.
#
# server.sh -M 4 on gateway B (socat TCP-LISTEN, one child per client),
# five client hosts running client.sh without -l:
# - four clients get distinct addresses from 10.1.1.0/24, reach the
#   server's tunnel address and host B, and move 20 MiB each at once;
# - a fifth is refused, and says why; the server logs it;
# - clients do not reach each other, and a client sending from another's
#   address gets nothing through (the server's rule counts the drops);
# - a client whose link dies loses its session (device, lease) within -t,
#   while the others move 20 MiB each without a lost ping; it comes back;
# - SIGTERM to the server with four sessions up leaves gateway B as it
#   was.
# - A server that sends a bad configuration line, or no line, costs the
#   client one attempt, said; it tries again.
# run.sh: heavy long
. "$(dirname "$0")/lib-many.sh"
need socat nc

SARGS=() CARGS=(-k 1 -t 3)
many_sites 5
many_checks

# A server with no -r pushes no route: its client is served all the same.
no_routes() {
	server srv0 -M 1 -p 33970 -i tun9
	wait_for 5 said srv0 "listening on port 33970"
	client_on 5 c50 -p 33970 -i tun9
	wait_for 15 reach "${CLIENTS[4]}" 10.1.1.1
	said c50 "the server gave tun9 10.1.1.2/24, MTU 1500" ||
		fail "client: $(grep -v '^\[#' "$TMP/c50.log")"
}
check "a server with no -r: its client gets an address, no route" no_routes

# A line with a bad item, or bytes that are no line, is one failed attempt:
# the client says why and tries again (it exited 1 for good before).
bad_lines() {
	fake_server 33971 "vpn-config 1 addr=10.8.8.7/24 mtu=abc"
	client_on 5 c51 -p 33971 -i tun8 -k 1 -t 3
	retries c51 "$!" "the server's configuration has a bad item: 'mtu=abc'"
	fake_server 33972 "GET / HTTP/1.0"
	client_on 5 c52 -p 33972 -i tun8 -k 1 -t 3
	retries c52 "$!" "the server sent packets, not its configuration"
}
check "a bad configuration line: said, and tried again, never the end" bad_lines
