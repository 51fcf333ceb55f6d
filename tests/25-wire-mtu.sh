#!/bin/bash
# tests/25-wire-mtu.sh - by default every frame on the wire is a packet no
# longer than the sending device's MTU, and any peer that takes those keeps
# the tunnel.
#
#  ┌──────────── $NS1 ─────────────┐     ┌──────────── $NS2 ──────────────┐
#  │ tun0 10.9.0.1/24 (MTU 1500)   │     │ tun0 10.9.0.2/24 (MTU 1500)    │
#  │ cat f | vpn | nc -l 33960 > f │     │ cat f | vpn | tee wire | nc …  │
#  │ veth1 192.0.2.1/24 ───────────┼─────┼── veth2 192.0.2.2/24           │
#  └───────────────────────────────┘     └────────────────────────────────┘
#
# - Defaults: while 20 MiB go from ns2 to ns1, no frame in the stream ns2's
#   vpn writes (captured by tee) is longer than 1500 bytes, though its
#   device hands it super-packets; and ns1's tun0 takes packets of more
#   than 30,000 bytes on average: the segments joined again, a join waiting
#   for its next segment when a read ends inside it (about 23,000 without,
#   36,000 with).
# - -W at both ends: the same stream carries frames longer than 1500.
# - An independent peer, tests/simpletun.c, in ns2 (the framing as the
#   simplest tunnels write it: a 2000-byte buffer; a frame longer than 1500
#   ends it): with vpn's defaults in ns1, ping, and 20 MiB each way, and it
#   is still there.
# run.sh: heavy
. "$(dirname "$0")/lib.sh"
need cc nc

cc -O2 -Wall -o "$TMP/simpletun" "$ROOT/tests/simpletun.c"
pair

# up LEFT RIGHT: the article's pipeline with LEFT in ns1 (listening) and
# RIGHT in ns2, each in vpn's place, as sh command lines; their devices up.
up() {
	rm -f "$TMP/f1" "$TMP/f2"
	mkfifo "$TMP/f1" "$TMP/f2"
	spawn ip netns exec "$NS1" sh -c \
	    "cat $TMP/f1 | $1 | nc -l 33960 >$TMP/f1" 2>"$TMP/err1"
	wait_for 5 listening "$NS1" 33960
	spawn ip netns exec "$NS2" sh -c \
	    "cat $TMP/f2 | $2 | nc 192.0.2.1 33960 >$TMP/f2" 2>"$TMP/err2"
	wait_for 5 has_link "$NS1" tun0
	wait_for 5 has_link "$NS2" tun0
	tun_up "$NS1" tun0 10.9.0.1/24
	tun_up "$NS2" tun0 10.9.0.2/24
	wait_for 5 carrier "$NS1" tun0
	wait_for 5 carrier "$NS2" tun0
	ip netns exec "$NS2" ping -c 2 -i 0.2 -W 2 10.9.0.1 >/dev/null ||
		fail "ping 10.9.0.1 from ns2"
}

# down: end the pipelines; their devices go with them.
down() {
	ns_kill "$NS1" "$NS2"
	wait_for 5 no_link "$NS1" tun0
	wait_for 5 no_link "$NS2" tun0
}

vpn=$(printf '%q' "$VPN")

# wire FLAGS: ns2 to ns1 through vpn FLAGS at both ends, ns2's stream
# captured; what simpletun -n says of it, and its status, in $TMP/walk.
wire() {
	local rc=0
	up "$vpn $1" "$vpn $1 | tee $TMP/wire"
	transfer_check "$NS2" "$NS1" 10.9.0.1 20
	"$TMP/simpletun" -n -m 1500 <"$TMP/wire" >"$TMP/walk" 2>&1 || rc=$?
	echo "status $rc" >>"$TMP/walk"
	avg=$(($(link_stat "$NS1" tun0 rx_bytes) / $(link_stat "$NS1" tun0 rx_packets)))
	down
}

defaults() {
	wire ''
	[[ $(tail -1 "$TMP/walk") == 'status 0' ]] ||
		fail "a frame longer than the MTU on the wire: $(head -1 "$TMP/walk")"
	read -r n _ <"$TMP/walk"
	((n > 14000)) || fail "only $n frames for 20 MiB: $(head -1 "$TMP/walk")"
	((avg > 30000)) ||
		fail "ns1's tun0 took packets of $avg bytes on average, want joined ones (> 30000)"
	say "$(head -1 "$TMP/walk"); ns1's tun0 took $avg bytes a packet"
}
check "defaults: frames of the MTU, joined again" defaults

whole() {
	wire -W
	[[ $(head -1 "$TMP/walk") == 'simpletun: frame of '*' bytes, longer than 1500' &&
	    $(tail -1 "$TMP/walk") == 'status 1' ]] ||
		fail "-W: no frame longer than the MTU: $(head -1 "$TMP/walk")"
}
check "-W: super-packets whole on the wire" whole

peer() {
	up "$vpn" "$TMP/simpletun -i tun0"
	ip netns exec "$NS1" ping -c 2 -i 0.2 -W 2 10.9.0.2 >/dev/null ||
		fail "ping 10.9.0.2 from ns1"
	transfer_check "$NS1" "$NS2" 10.9.0.2 20
	transfer_check "$NS2" "$NS1" 10.9.0.1 20
	if [[ -z $(ip netns pids "$NS2") ]] || no_link "$NS2" tun0; then
		fail "simpletun is gone: $(cat "$TMP/err2")"
	fi
	down
}
check "an MTU-sized peer keeps the tunnel" peer
