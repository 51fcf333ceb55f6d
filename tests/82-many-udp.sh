#!/bin/bash
# tests/82-many-udp.sh - one server, many clients, over UDP, with -x.
#
# server.sh -M 4 -x -T udp on gateway B; five client hosts running
# client.sh -T udp without -l, each asking the server for its
# configuration in datagrams before vpn starts.  The checks of tests/80,
# but that with -x the clients reach each other; one datagram with a
# bad configuration line costs the client one attempt, not its life; and
# a pushed default route is refused.
# Before them, on a server of its own, what a raw UDP client gets:
# - a server whose line could pass 1024 bytes (too many -r) does not start;
# - a hello shorter than 1200 bytes gets no answer, and datagrams that are
#   no hello are said once a minute, not one line each; a whole one gets one
#   configuration, echoing its nonce, no bigger than the hello;
# - an ack with the hello's nonce but not the answer's cookie (what a host
#   spoofing another's address can send) makes no session;
# - a flood of hellos from one address (no ack) makes no device, and
#   gets no more answers than hellos;
# - then a client.sh is served as ever;
# - a full server answers each hello with a refusal, and says it once a
#   minute, not once each;
# - hellos never acked hold no slot, and do not keep a client out.
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

# udp_raw: the datagrams on stdin (each read of at most 1200 bytes is one)
# to the server on port 33983, from client host 5; what came back (2 s
# after the last one) on stdout.
udp_raw() {
	ip netns exec "${CLIENTS[4]}" socat -b 1200 -t 2 - UDP:198.51.100.2:33983
}

# hello NONCE: a client's hello, padded to 1200 bytes.
hello() {
	{ echo "vpn-hello 1 $1"; head -c 1200 /dev/zero; } | head -c 1200
}

raw_hellos() {
	local got n srv r=()
	# Routes that would make the answer longer than 1024 bytes (bigger
	# than the hello, and cut by the client): refused at the start.
	for ((n = 1; n <= 60; n++)); do r+=(-r "172.21.$n.0/24"); done
	got=0
	ip netns exec "$GWB" env VPN_RUNDIR="$TMP/rundir" "$SERVER_SH" \
	    -M 2 -T udp -p 33983 -i tun6 "${r[@]}" 2>"$TMP/srv-long.log" || got=$?
	if ((got != 2)) || ! grep -q 'more than 1024: fewer routes' "$TMP/srv-long.log"; then
		fail "a server whose line could pass 1024 bytes: exit $got, $(head -1 "$TMP/srv-long.log")"
	fi
	server srv2 -M 2 -T udp -k 1 -t 3 -p 33983 -i tun6
	srv=$!
	wait_for 5 said srv2 "listening on port 33983"
	got=$(printf 'vpn-hello 1 0123456789abcdef\n' | udp_raw | wc -c)
	((got == 0)) || fail "a short hello got $got bytes back"
	# Each datagram that is no hello, from a port of its own, is a session
	# of its own: the log says one a minute, not one each.
	for ((n = 0; n < 10; n++)); do
		echo x | ip netns exec "${CLIENTS[4]}" socat -t 0.2 - UDP:198.51.100.2:33983
	done
	sleep 1
	n=$(grep -c 'no vpn-hello' "$TMP/srv2.log" || true)
	((n <= 2)) || fail "11 datagrams that are no hello: $n lines in the log"
	got=$(hello 0123456789abcdef | udp_raw)
	[[ $got =~ ^vpn-config\ 1\ addr=10\.1\.1\.2/24\ .*\ nonce=0123456789abcdef\ cookie=[0-9a-f]{16}$ ]] ||
		fail "a whole hello got '$got'"
	((${#got} < 1200)) || fail "a 1200-byte hello got ${#got} bytes back"
	# An ack that echoes the nonce but not the answer's cookie (a host
	# that spoofs another's address knows its own nonce, never the
	# cookie) makes no session.
	got=$({ hello 00000000000000aa; sleep 0.5; echo "vpn-ack 1 00000000000000aa"; } | udp_raw)
	! said srv2 "session up" || fail "an ack without the cookie made a session"
	# 40 hellos from one socket, each its own nonce, none acked: the
	# session that took the first answers only it.  (Those that come
	# while socat forks it go to a session of their own, and get one
	# answer each: a few.)
	got=$(for ((n = 0; n < 40; n++)); do hello "$(printf '%016x' "$n")"; done | udp_raw)
	n=$(grep -c '^vpn-config' <<<"$got" || true)
	((n <= 4)) || fail "40 hellos of one socket got $n answers, want a few at most"
	! ip -n "$GWB" -o link show | grep -q ' tun6-' ||
		fail "hellos without an ack made a device: $(ip -n "$GWB" -o link show | grep -o ' tun6-[0-9]*')"
	! said srv2 "session up" || fail "hellos without an ack made a session"
	client_on 5 c56 -T udp -p 33983 -i tun8 -k 1 -t 3
	wait_for 10 said c56 "session up on tun8"
	wait_for 5 reach "${CLIENTS[4]}" 10.1.1.1
	stop "${SCRIPTS[-1]}" c56
	stop "$srv" srv2
}
check "raw hellos: a short one unanswered, a flood makes no device; a client served" raw_hellos

# A full server refuses every hello, each from a port of its own, with one
# answer each; its log says so once a minute, not once each (anyone may
# send them, as often as they like).
full_hellos() {
	local got n srv
	server srv3 -M 1 -T udp -k 1 -t 3 -p 33983 -i tun6
	srv=$!
	wait_for 5 said srv3 "listening on port 33983"
	client_on 5 c57 -T udp -p 33983 -i tun8 -k 1 -t 3
	wait_for 10 said c57 "session up on tun8"
	# One after the other: socat's listener is bound again only once the
	# session it forked for the last one has ended (meanwhile, the port
	# is closed), as a client's next try would find it.
	got=$(for ((n = 0; n < 10; n++)); do
		hello "$(printf '%016x' "$n")" | ip netns exec "${CLIENTS[4]}" \
		    socat -b 1200 -t 1 - UDP:198.51.100.2:33983
		echo
	done | grep -cx 'vpn-refused 1 all 1 sessions are up' || true)
	((got == 10)) || fail "10 hellos to a full server: $got refused"
	n=$(grep -c 'refused: all 1 sessions are up' "$TMP/srv3.log" || true)
	((n >= 1 && n <= 2)) || fail "10 hellos refused: $n lines in the log, want 1 or 2"
	stop "${SCRIPTS[-1]}" c57
	stop "$srv" srv3
}
check "a full server: each hello refused, the log says it once a minute" full_hellos

# Hellos never acked (what a host spoofing others' addresses sends) hold
# no slot: 10 of them, from ports of their own, just before a client's,
# keep it out neither of the server (socat serves HANDSHAKES exchanges at
# once) nor of a slot (both are only offered to them).
unacked_hellos() {
	local n srv pids=()
	server srv4 -M 2 -T udp -k 1 -t 3 -p 33983 -i tun6
	srv=$!
	wait_for 5 said srv4 "listening on port 33983"
	for ((n = 0; n < 10; n++)); do
		hello "$(printf '%016x' "$((n + 100))")" | ip netns exec "${CLIENTS[4]}" \
		    socat -b 1200 -t 3 - UDP:198.51.100.2:33983 >/dev/null 2>&1 &
		pids+=("$!")
	done
	sleep 0.3
	client_on 5 c58 -T udp -p 33983 -i tun8 -k 1 -t 3
	wait_for 4 said c58 "session up on tun8" ||
		fail "a client after 10 hellos not acked: no session in 4 s: $(grep -h 'refused\|session' "$TMP/c58.log" "$TMP/srv4.log" | tail -n 3)"
	! said srv4 "sessions are up" || fail "10 hellos not acked filled the server"
	# Not their status: a hello sent while socat's listener is closed
	# between two forks (see full_hellos) meets ICMP port unreachable, and
	# its socat exits 1; wait gave the last one's, and set -e ended the
	# test without a word (CI at 5c02bca, a loaded run).
	wait "${pids[@]}" || true
	stop "${SCRIPTS[-1]}" c58
	stop "$srv" srv4
}
check "10 hellos never acked hold no slot: a client comes in at once" unacked_hellos

# raw_open NAME: a raw client on client host 5, a socket of its own: what
# is written to fd RAW_FD goes out (a write, a datagram), what comes back
# is in TMP/NAME.out; its socat's PID is added to RAW_PIDS.
raw_open() {
	mkfifo "$TMP/$1.in"
	ip netns exec "${CLIENTS[4]}" socat -b 1200 -t 2 - UDP:198.51.100.2:33983 \
	    <"$TMP/$1.in" >"$TMP/$1.out" &
	RAW_PIDS+=("$!")
	exec {RAW_FD}>"$TMP/$1.in"
}

# raw_send FD: stdin as one datagram to the raw client of FD.
raw_send() { dd bs=1200 count=1 iflag=fullblock status=none >&"$1"; }

# Two hellos, neither acked yet, on a server with one address: both are
# offered it (neither holds it); the first ack takes it, and the second
# ack gets a refusal saying why, not a second session on the same
# address.  The second hello goes once the first is answered: socat's
# listener gives its socket to the session it forks, and binds the port
# again just after, so that a datagram in between finds the port closed
# (a client tries again; this raw one would not).
offer_race() {
	local a b cookie srv RAW_PIDS=()
	server srv5 -M 1 -T udp -k 1 -t 3 -p 33983 -i tun6
	srv=$!
	wait_for 5 said srv5 "listening on port 33983"
	raw_open ra; a=$RAW_FD
	raw_open rb; b=$RAW_FD
	hello 00000000000000a1 | raw_send "$a"
	wait_for 3 grep -q 'nonce=00000000000000a1 ' "$TMP/ra.out"
	hello 00000000000000b1 | raw_send "$b"
	wait_for 3 grep -q 'nonce=00000000000000b1 ' "$TMP/rb.out"
	if ! grep -q ' addr=10\.1\.1\.2/24 ' "$TMP/ra.out" ||
	    ! grep -q ' addr=10\.1\.1\.2/24 ' "$TMP/rb.out"; then
		fail "two hellos on one free address: '$(head -c 60 "$TMP/ra.out")', '$(head -c 60 "$TMP/rb.out")'"
	fi
	cookie=$(grep -m1 -o 'cookie=[0-9a-f]*' "$TMP/ra.out" | cut -d= -f2)
	echo "vpn-ack 1 00000000000000a1 $cookie" | raw_send "$a" || true
	wait_for 5 said srv5 "session up on tun6-1"
	cookie=$(grep -m1 -o 'cookie=[0-9a-f]*' "$TMP/rb.out" | cut -d= -f2)
	echo "vpn-ack 1 00000000000000b1 $cookie" | raw_send "$b" || true
	wait_for 3 grep -q '^vpn-refused 1 its address was taken meanwhile' "$TMP/rb.out" ||
		fail "the second ack: '$(tail -c 80 "$TMP/rb.out")'"
	(($(grep -c 'session up' "$TMP/srv5.log") == 1)) || fail "two sessions on one address"
	exec {a}>&- {b}>&-
	wait "${RAW_PIDS[@]}" || true
	stop "$srv" srv5
}
check "two hellos, one address: the first ack takes it, the second is refused" offer_race

many_checks
