#!/bin/bash
# tests/13-stream.sh - frames survive any split of the byte stream.
#
# - Frames delivered one byte per read reach the device whole.
# - Many frames in one write all reach the device, in order.
# - Keepalive frames between them are counted and never reach the device.
# - With each wire: the default, -O and -W.
. "$(dirname "$0")/lib.sh"
with_each_wire

ns=$NS_PREFIX-1
ns_add "$ns"
ip -n "$ns" tuntap add dev tv0 mode tun
tun_up "$ns" tv0 10.9.0.1/24

# replies: how many echo replies vpn has written to $TMP/out so far.
replies() { frames_in "$TMP/out" | grep -cE '^45.{16}01.{20}00' || true; }
at_least() { (($(replies) >= $1)); }	# at_least N: N echo replies out

# 1. One byte per read: each byte is its own write, with a pause.
bytewise() {
	mkfifo "$TMP/in"
	exec 5<>"$TMP/in"
	spawn ip netns exec "$ns" "$VPN" -v "${VPN_FLAGS[@]}" -i tv0 <"$TMP/in" >"$TMP/out" 2>"$TMP/err" 5>&-
	pid=$!
	wait_for 5 carrier "$ns" tv0
	hex=$(frame "$(ip4_echo 10.9.0.2 10.9.0.1 1 0102030405)")0000$(frame "$(ip4_echo 10.9.0.2 10.9.0.1 2)")
	for ((i = 0; i < ${#hex}; i += 2)); do
		hexbin "${hex:i:2}" >&5
		sleep 0.005
	done
	wait_for 5 at_least 2
	exec 5>&-
	wait "$pid" || fail "one byte at a time: exit $?, want 0: $(cat "$TMP/err")"
	counters_are "$TMP/err" rx_packets=2 rx_bytes=61 keepalives_rx=1
	n=$(replies)
	((n == 2)) || fail "one byte at a time: $n echo replies, want 2"
	say "frames split into single bytes arrive whole"
}
check "one byte a read: frames arrive whole" bytewise

# 2. Two hundred frames and keepalives in one write.
many() {
	hex=''
	for i in $(seq 1 200); do
		hex+=$(frame "$(ip4_echo 10.9.0.2 10.9.0.1 "$i" cafe)")0000
	done
	hexbin "$hex" >"$TMP/many"
	rx0=$(link_stat "$ns" tv0 rx_packets)
	exec 5<>"$TMP/in"
	spawn ip netns exec "$ns" "$VPN" -v "${VPN_FLAGS[@]}" -i tv0 <"$TMP/in" >"$TMP/out" 2>"$TMP/err" 5>&-
	pid=$!
	wait_for 5 carrier "$ns" tv0
	cat "$TMP/many" >&5		# one write: 200 x 32 + 200 x 2 bytes
	wait_for 10 at_least 200
	exec 5>&-
	wait "$pid" || fail "many frames: exit $?, want 0: $(cat "$TMP/err")"
	rx=$(($(link_stat "$ns" tv0 rx_packets) - rx0))
	((rx == 200)) || fail "many frames: $rx packets reached tv0, want 200"
	counters_are "$TMP/err" rx_packets=200 rx_bytes=6000 keepalives_rx=200
	# In order: the replies' sequence numbers count up from 1.
	seqs=$(frames_in "$TMP/out" | grep -E '^45.{16}01.{20}00' | cut -c 53-56 |
	    while read -r s; do echo $((16#$s)); done | tr '\n' ' ')
	[[ $seqs == "$(seq -s ' ' 1 200) " ]] || fail "many frames: replies out of order: $seqs"
	say "200 frames and 200 keepalives in one write"
}
check "200 frames and 200 keepalives in one write, in order" many
