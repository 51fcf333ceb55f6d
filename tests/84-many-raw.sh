#!/bin/bash
# tests/84-many-raw.sh - server.sh -M over plain TCP, against what
# client.sh would hide: servers that lie to a client.sh, and raw clients
# (nc) of a server.  Nothing here moves bulk: it runs beside the heavy
# files.
#
# Servers that lie, to one client host:
# - a bad configuration line, or no line, costs one attempt, said, and it
#   tries again;
# - a default route, and routes or addresses over the server's own
#   address or over routes the client has, are each refused and said, the
#   rest taken;
# - with -D, the default route goes in as two halves and the server's
#   address is routed outside; the routes are as they were at the end;
# - an older server.sh -M, which does not wait for the greeting: its vpn
#   takes it as a keepalive, and the client sends packets of the MTU.
# Raw clients (nc), on servers of their own:
# - a server with no -r: its client gets an address and no route;
# - a session.sh killed with SIGKILL: the next client gets its slot, and
#   the vpn it left running is ended;
# - SIGTERM while a burst of 40 clients' sessions are being set up leaves
#   gateway B as it was: no session device, no tagged rule;
# - a server killed with SIGKILL, a session up: its listener goes with it;
#   a new server on the same port and prefix ends what it left, says so,
#   serves a client in the same slot, and its SIGTERM leaves gateway B
#   as it was;
# - a device not the server's with a session device's name (tun3-1): its
#   slot is skipped, said; a client is served in the next; the device
#   survives the server;
# - a client that sends nothing gets a line without whole=1, after a
#   second, and its session's vpn sends packets of the MTU; one that
#   greets with a keepalive gets whole=1, and its session's vpn sends
#   super-packets whole; one that sends a frame first is refused, and one
#   that closes at once gets nothing.
# run.sh: long
. "$(dirname "$0")/lib-many.sh"
need socat nc

many_sites 5

# Servers that lie, on ports of their own, to client host 5: each case
# leaves nothing.

# A line with a bad item, or bytes that are no line, is one failed attempt:
# the client says why and tries again (it exited 1 for good before).
bad_lines() {
	fake_server 33981 "vpn-config 1 addr=10.8.8.7/24 mtu=abc"
	client_on 5 c51 -p 33981 -i tun8 -k 1 -t 3
	retries c51 "$!" "the server's configuration has a bad item: 'mtu=abc'"
	fake_stop
	fake_server 33982 "GET / HTTP/1.0"
	client_on 5 c52 -p 33982 -i tun8 -k 1 -t 3
	retries c52 "$!" "the server sent packets, not its configuration"
	fake_stop
	# ip reads 063 as octal 51: 198.51.100.0/24, which the client would check
	# as 198.63.100.0/24.
	fake_server 33983 "vpn-config 1 addr=10.8.8.7/24 route=198.063.100.0/24"
	client_on 5 c53 -p 33983 -i tun8 -k 1 -t 3
	retries c53 "$!" "the server's configuration has a bad item: 'route=198.063.100.0/24'"
	fake_stop
}
check "a bad configuration line: said, and tried again, never the end" bad_lines

# A server (or anyone on the path of plain TCP) pushes what would take
# the client's default route, its WAN's route and the server's own address
# into the tunnel: each is refused, in a line naming it; what is left is
# taken.  A pushed route the client routes already (-r) stays its own
# through the next session's clean-up, and SIGTERM leaves the routes as
# they were.
hostile() {
	local c=${CLIENTS[4]} before cli
	before=$(routes "$c")
	HOLD=1 fake_server 33984 "vpn-config 1 addr=198.51.100.2/24 addr=198.51.100.7/24 addr=10.8.8.7/24 mtu=1400 route=0.0.0.0/0 route=::/0 route=203.0.113.16/30 route=198.51.100.0/24 route=172.20.1.0/24 route=172.21.0.0/16"
	client_on 5 c54 -p 33984 -i tun7 -k 1 -t 3 -r 172.20.1.0/24
	cli=$!
	wait_for 10 configured c54 tun7 2
	says c54 "refused the server's addr=198.51.100.2/24: it is the server's address" \
	    "refused the server's addr=198.51.100.7/24: it holds the server's address 198.51.100.2 (-D takes it)" \
	    "refused the server's route=0.0.0.0/0: a default route (-D takes it)" \
	    "refused the server's route=::/0: a default route (-D takes it)" \
	    "refused the server's route=203.0.113.16/30: there is a route of it already (203.0.113.16/30 dev wan0" \
	    "refused the server's route=198.51.100.0/24: it holds the server's address 198.51.100.2 (-D takes it)" \
	    "refused the server's route=172.20.1.0/24: there is a route of it already (172.20.1.0/24 dev tun7" \
	    "the server gave tun7 10.8.8.7/24, routes 172.21.0.0/16, MTU 1400"
	has_route "$c" -4 0.0.0.0/0 "default via 203.0.113.17 dev wan0"
	has_route "$c" -4 172.20.1.0/24 "dev tun7"
	has_route "$c" -4 172.21.0.0/16 "dev tun7"
	[[ -z $(ip -n "$c" route show exact 198.51.100.0/24) ]] || fail "198.51.100.0/24 was routed"
	stop "$cli" c54
	fake_stop
	same_routes "$before" "$c"
}
check "a hostile server's routes and addresses: refused, each said" hostile

# With -D, a pushed default route goes in as two halves, and the server's
# address is routed outside the tunnel first: the next session comes
# through; SIGTERM takes out exactly what was added.
redirect() {
	local c=${CLIENTS[4]} before cli
	before=$(routes "$c")
	HOLD=1 fake_server 33985 "vpn-config 1 addr=198.51.100.7/24 addr=10.8.8.7/24 mtu=1400 route=0.0.0.0/0 route=::/0"
	client_on 5 c55 -D -p 33985 -i tun7 -k 1 -t 3
	cli=$!
	wait_for 10 configured c55 tun7 2
	has_route "$c" -4 198.51.100.2/32 "198.51.100.2 via 203.0.113.17 dev wan0"
	has_route "$c" -4 0.0.0.0/0 "default via 203.0.113.17 dev wan0"
	has_route "$c" -4 0.0.0.0/1 "dev tun7"
	has_route "$c" -4 128.0.0.0/1 "dev tun7"
	has_route "$c" -6 ::/1 "dev tun7"
	has_route "$c" -6 8000::/1 "dev tun7"
	has_route "$c" -4 198.51.100.0/24 "dev tun7 proto kernel"
	stop "$cli" c55
	fake_stop
	same_routes "$before" "$c"
}
check "-D: a pushed default route in two halves, the server's address outside" redirect

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

# SIGTERM to a server while a burst of clients' sessions are being set
# up, at two delays: each session undoes what it did, including what it
# did just as the signal came (an undo recorded after its step was lost
# to a signal between the two), and gateway B is as it was.
term_in_setup() {
	local d i b0 srv
	for d in 0.1 0.4; do
		b0=$(snapshot "$GWB")
		server srv1 -M 40 -k 5 -t 60 -p 33972 -i tun5 -l 10.2.0.1/16 -l fd00:2::1/64
		srv=$!
		wait_for 5 said srv1 "listening on port 33972"
		for ((i = 0; i < 40; i++)); do
			holder 33972 '\0\0'	# greets: no wait for one
		done
		sleep "$d"
		stop "$srv" srv1
		same_as "$b0" "$GWB" "SIGTERM $d s into a burst of 40 set-ups"
	done
}
check "SIGTERM during a burst of set-ups: gateway B as it was" term_in_setup

# A server killed with SIGKILL, with a session up (a holder, silent for
# less than -t): its listener goes with it, within a few seconds; the
# next server finds the state it left, ends its session and deletes its
# device, rules and lease (one line), serves a client in that slot, and
# its SIGTERM leaves gateway B as before the first.
server_killed() {
	local b0 srv line
	b0=$(snapshot "$GWB")
	server srv3 -M 1 -k 1 -p 33973 -i tun4
	srv=$!
	wait_for 5 said srv3 "listening on port 33973"
	holder 33973
	wait_for 10 has_link "$GWB" tun4-1
	kill -KILL "$srv"
	wait "$srv" || true
	# shellcheck disable=SC2317 # called by wait_for
	no_listener() { ! listening "$GWB" 33973; }
	wait_for 3 no_listener
	server srv4 -M 1 -k 1 -p 33973 -i tun4
	srv=$!
	wait_for 15 said srv4 "listening on port 33973"
	said srv4 "its server.sh (pid " || fail "the new server did not say it cleaned: $(grep -v '^\[#' "$TMP/srv4.log" | head -n 3)"
	line=$(first_line 33973)
	[[ $line == "vpn-config 1 addr=10.1.1.2/24 "* ]] ||
		fail "after a server was killed, the next one's client got '$line': $(grep -v '^\[#' "$TMP/srv4.log" | tail -n 3)"
	stop "$srv" srv4
	same_as "$b0" "$GWB" "a server killed (SIGKILL), then another stopped"
}
check "a server killed (SIGKILL): listener gone, the next one cleans up and serves" server_killed

# Another's device named as a session's (another tunnel, tun3-1), there
# before the server: the server starts, skips that slot (said), serves a
# client in the next, and leaves the device as it was at its stop.
foreign_device() {
	local b0 srv line
	ip -n "$GWB" tuntap add dev tun3-1 mode tun
	b0=$(snapshot "$GWB")
	server srv5 -M 2 -k 1 -p 33974 -i tun3
	srv=$!
	wait_for 5 said srv5 "listening on port 33974"
	line=$(first_line 33974)
	[[ $line == "vpn-config 1 addr=10.1.1.3/24 "* ]] ||
		fail "with another's tun3-1, the client got '$line': $(grep -v '^\[#' "$TMP/srv5.log" | tail -n 3)"
	said srv5 "slot 1 skipped: tun3-1 is a device not the server's" ||
		fail "the server did not say it skipped slot 1: $(grep -v '^\[#' "$TMP/srv5.log" | tail -n 3)"
	stop "$srv" srv5
	same_as "$b0" "$GWB" "a server beside another's tun3-1"
	ip -n "$GWB" link del tun3-1
}
check "another's device named tun3-1: its slot skipped, a client served, the device kept" foreign_device

# The greeting (docs/protocol.md): a raw client that sends nothing (an
# older client.sh, another program) gets its line without whole=1, after
# the server's wait of a second, and its session's vpn sends packets of
# the MTU; one that sends a keepalive first gets whole=1, and its
# session's vpn sends super-packets whole (-W); one that sends a frame
# first is refused, and one that closes at once gets nothing: neither
# gets a device.
greetings() {
	local srv line t0 v
	server srv6 -M 3 -k 1 -p 33975 -i tun6
	srv=$!
	wait_for 5 said srv6 "listening on port 33975"
	t0=$(date +%s%N)
	line=$(first_line 33975)
	[[ $line == "vpn-config 1 addr=10.1.1."* && " $line " != *" whole=1 "* ]] ||
		fail "a client that did not greet got '$line'"
	(($(date +%s%N) - t0 >= 1000000000)) || fail "a client that did not greet got its line within a second"
	line=$(greeted_line 33975 '\0\0')
	[[ $line == "vpn-config 1 addr=10.1.1."*" whole=1" ]] || fail "a client that greeted got '$line'"
	# shellcheck disable=SC2317 # called by wait_for
	no_tun6() { ! ip -n "$GWB" -o link show | grep -q ' tun6-'; }
	wait_for 10 no_tun6
	line=$(greeted_line 33975 '\0\124\105\0')
	[[ $line == "vpn-refused 1 it sent bytes before its configuration (hex 0054), not a keepalive" ]] ||
		fail "a client that sent a frame first got '$line'"
	wait_for 5 said srv6 "refused: it sent bytes before its configuration (hex 0054)"
	ip netns exec "${CLIENTS[-1]}" nc -z 198.51.100.2 33975
	wait_for 5 said srv6 "closed the connection before its configuration"
	no_tun6 || fail "a refused client, or one gone, got a device: $(ip -n "$GWB" -o link show | grep -o ' tun6-[0-9]*')"
	# Two that stay: each session's vpn as its client asked.
	holder 33975
	wait_for 5 has_link "$GWB" tun6-1
	holder 33975 '\0\0'
	wait_for 5 has_link "$GWB" tun6-2
	# shellcheck disable=SC2317 # called by wait_for
	runs_vpn() { [[ -n $(vpn_of "$(session_pid "$1")") ]]; }
	for line in tun6-1:0 tun6-2:1; do
		wait_for 5 runs_vpn "${line%:*}"
		v=$(vpn_of "$(session_pid "${line%:*}")")
		(($(tr '\0' '\n' <"/proc/$v/cmdline" | grep -cx -- -W) == ${line#*:})) ||
			fail "${line%:*}'s vpn: $(tr '\0' ' ' <"/proc/$v/cmdline"), want -W ${line#*:} times"
	done
	if ! grep -q "session up on tun6-1 as 10.1.1.2/24$" "$TMP/srv6.log" ||
	    ! grep -q "session up on tun6-2 as 10.1.1.3/24, super-packets whole$" "$TMP/srv6.log"; then
		fail "the server's lines: $(grep 'session up on tun6-[12] ' "$TMP/srv6.log")"
	fi
	stop "$srv" srv6
}
check "a greeting keepalive: whole=1; none: packets of the MTU; a frame first: refused" greetings

# A client.sh greets an older server.sh -M, which sends its line at once
# and runs vpn: that vpn takes the greeting as a keepalive, the client
# gets no whole=1 and sends packets of the MTU, and pings cross.
older_server() {
	local cli v
	ip -n "$GWB" tuntap add dev tun8 mode tun
	ip -n "$GWB" addr add 10.8.8.1/24 dev tun8
	ip -n "$GWB" link set dev tun8 up
	cat >"$TMP/older.sh" <<EOS
#!/bin/sh
echo 'vpn-config 1 addr=10.8.8.7/24 peer=10.8.8.1 mtu=1500'
exec "$VPN" -i tun8 -k 1 -t 3
EOS
	chmod +x "$TMP/older.sh"
	spawn ip netns exec "$GWB" setsid socat TCP-LISTEN:33986,reuseaddr \
	    EXEC:"$TMP/older.sh",nofork 2>>"$TMP/older.log"
	FAKE=$!
	wait_for 5 listening "$GWB" 33986 t
	client_on 5 c59 -p 33986 -i tun8 -k 1 -t 3
	cli=$!
	wait_for 10 reach "${CLIENTS[4]}" 10.8.8.1 ||
		fail "no ping through an older server: $(grep -v '^\[#' "$TMP/c59.log" | tail -n 3; cat "$TMP/older.log")"
	if ! said c59 "session up on tun8" || said c59 "super-packets whole"; then
		fail "the client: $(grep 'session up' "$TMP/c59.log")"
	fi
	for v in $(ip netns pids "${CLIENTS[4]}"); do
		[[ $(readlink "/proc/$v/exe") == "$VPN" ]] || continue
		! tr '\0' '\n' <"/proc/$v/cmdline" | grep -qx -- -W ||
			fail "the client's vpn runs with -W: $(tr '\0' ' ' <"/proc/$v/cmdline")"
	done
	stop "$cli" c59
	fake_stop
	ip -n "$GWB" link del tun8
}
check "a client.sh and an older server: the greeting a keepalive, packets of the MTU" older_server
