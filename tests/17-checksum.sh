#!/bin/bash
# tests/17-checksum.sh - a long TCP packet's checksum is checked before the
# device takes it.
#
# A TCP packet from the peer longer than the device's MTU goes to the
# kernel as a super-packet, whose checksum the kernel takes on trust: vpn
# checks it first.
# - A 3000-byte SYN to a closed port, its TCP checksum wrong: dropped and
#   counted (rx_invalid=1); the device's rx_packets does not move, and no
#   reset comes back.
# - The same SYN with its checksum right, after it: the device takes it,
#   and the kernel answers with a reset, the only one.
# - With each wire: the default, -O and -W.
. "$(dirname "$0")/lib.sh"
with_each_wire

ns=$NS_PREFIX-1
ns_add "$ns"
ip -n "$ns" tuntap add dev tv0 mode tun
tun_up "$ns" tv0 10.9.0.1/24

# Port 9 (discard) listens on nothing here.  The TCP checksum is at byte
# 20 + 16 of the packet: one more than right is wrong.
syn=$(ip4_tcp 10.9.0.2 10.9.0.1 40000 9 1 02 "$(printf '5a%.0s' {1..2960})")
((${#syn} == 6000)) || fail "the SYN is $((${#syn} / 2)) bytes, want 3000"
bad=${syn:0:72}$(printf '%04x' $(((16#${syn:72:4} + 1) & 0xffff)))${syn:76}

# resets: how many TCP resets from 10.9.0.1 vpn has written so far.
resets() {
	frames_in "$TMP/out" |
	    grep -cE "^45.{16}06.{4}$(ip4hex 10.9.0.1).{34}(04|14)" || true
}
a_reset() { (($(resets) > 0)); }

checksums() {
	local pid rx0
	mkfifo "$TMP/in"
	exec 5<>"$TMP/in"
	spawn ip netns exec "$ns" "$VPN" -v "${VPN_FLAGS[@]}" -i tv0 \
	    <"$TMP/in" >"$TMP/out" 2>"$TMP/err" 5>&-
	pid=$!
	wait_for 5 carrier "$ns" tv0
	rx0=$(link_stat "$ns" tv0 rx_packets)
	hexbin "$(frame "$bad")$(frame "$syn")" >&5
	wait_for 5 a_reset
	counters_now "$pid" "$TMP/err" >/dev/null
	counters_are "$TMP/err" rx_invalid=1 rx_packets=1 rx_bytes=3000
	(($(link_stat "$ns" tv0 rx_packets) - rx0 == 1)) ||
		fail "tv0 took $(($(link_stat "$ns" tv0 rx_packets) - rx0)) packets, want 1"
	exec 5>&-
	wait "$pid" || fail "exit $? at EOF, want 0: $(cat "$TMP/err")"
	(($(resets) == 1)) || fail "$(resets) resets came back, want 1"
}
check "3000-byte SYN: wrong checksum dropped, right one in" checksums
