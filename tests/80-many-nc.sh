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
# Then, with raw clients (nc) on a server of its own:
# - a session.sh killed with SIGKILL: the next client gets its slot, and
#   the vpn it left running is ended.
# run.sh: heavy long
. "$(dirname "$0")/lib-many.sh"
need socat nc

SARGS=() CARGS=(-k 1 -t 3)
many_sites 5
many_checks

# A server with no -r pushes no route: its client is served all the same.
no_routes() {
	server srv0 -M 1 -k 1 -p 33970 -i tun9
	SRV0=$!
	wait_for 5 said srv0 "listening on port 33970"
	client_on 5 c50 -p 33970 -i tun9
	wait_for 15 reach "${CLIENTS[4]}" 10.1.1.1
	said c50 "the server gave tun9 10.1.1.2/24, MTU 1500" ||
		fail "client: $(grep -v '^\[#' "$TMP/c50.log")"
}
check "a server with no -r: its client gets an address, no route" no_routes

# A session.sh killed with SIGKILL (no clean-up): the next client is
# served in its slot (the server's only one), and the killed session's
# vpn, which went on, is ended.
killed_session() {
	local s v line
	stop "${SCRIPTS[-1]}" c50
	holder 33970
	wait_for 10 has_link "$GWB" tun9-1
	s=$(session_pid tun9-1)
	# shellcheck disable=SC2317 # called by wait_for
	runs_vpn() { [[ -n $(vpn_of "$1") ]]; }
	wait_for 5 runs_vpn "$s"
	v=$(vpn_of "$s")
	kill -KILL "$s"
	line=$(first_line 33970)
	[[ $line == "vpn-config 1 addr=10.1.1.2/24 "* ]] ||
		fail "after a session.sh was killed, the next client got '$line': $(grep -v '^\[#' "$TMP/srv0.log" | tail -n 3)"
	wait_for 2 exited "$v"
	stop "$SRV0" srv0
}
check "a session killed (SIGKILL): the next is served in its slot, its vpn ended" killed_session
