#!/bin/bash
# tests/52-device-stray.sh - what the device hands over is checked before it
# is sent.
#
# A raw socket on one end's tun0 (socat's INTERFACE, AF_PACKET) writes 20
# bytes that are no IP packet; the device hands them to vpn like any
# packet.  Sent, they would end the far end ("not an IP packet").
# - The sending vpn drops them and counts them (tx_invalid); the far end
#   goes on, and a ping still crosses.  With each wire: the default, -O
#   and -W.
. "$(dirname "$0")/lib-pipe.sh"
need socat
with_each_wire

pair
rc_pair "${VPN_FLAGS[@]}"
wait_for 5 ip netns exec "$NS2" ping -c 1 -W 1 10.9.0.1
vpn1=$(pid_of "$NS1" "$VPN")

stray() {
	local i
	for i in 1 2 3; do
		printf 'not an IP packet....' | ip netns exec "$NS1" socat -u - INTERFACE:tun0
	done
	sleep 0.5
	[[ ! -e $TMP/vpn2.rc ]] || fail "the far end exited: $(vpn_said 2)"
	ip netns exec "$NS2" ping -c 2 -i 0.2 -W 1 10.9.0.1 >/dev/null || fail "no ping after the stray packets"
	counters_now "$vpn1" "$TMP/vpn1.err" >/dev/null
	(($(counter "$TMP/vpn1.err" tx_invalid) == 3)) ||
		fail "the sender counted $(counter "$TMP/vpn1.err" tx_invalid) invalid, want 3"
}
check "20 stray bytes from the device: dropped, counted, never sent" stray
