#!/bin/bash
# tests/12-bad-input.sh - untrusted input gets a clear error, and nothing
# of it reaches the device.
#
# - Each bad stream ends vpn with exit 1 and one exact line on stderr that
#   gives the byte position of the bad frame.
# - The device's rx_packets counter shows that only the good frames before
#   the bad one were written, whole.
# - With each wire: the default, -O and -W.
. "$(dirname "$0")/lib.sh"
with_each_wire

ns=$NS_PREFIX-1
ns_add "$ns"
ip -n "$ns" tuntap add dev tv0 mode tun
tun_up "$ns" tv0 10.9.0.1/24
ip -n "$ns" tuntap add dev ta0 mode tap
ip -n "$ns" link set ta0 up

good=$(ip4_echo 10.9.0.2 10.9.0.1 1 abababab)	# 32 bytes
good6=$(ip6_echo fd000009000000000000000000000002 \
    fd000009000000000000000000000001 1)	# 48 bytes

# bad NAME DEV WANT_RX WANT_MSG HEX [VPNFLAGS]: one case: feed HEX, want
# exit 1, WANT_MSG on stderr and WANT_RX packets on the device.
bad() { check "$1" bad_stream "$@"; }
bad_stream() {
	local name=$1 dev=$2 want_rx=$3 want=$4 hex=$5 rc=0 msg rx0 rx
	shift 5
	rx0=$(link_stat "$ns" "$dev" rx_packets)
	msg=$(hexbin "$hex" | ip netns exec "$ns" "$VPN" -i "$dev" "${VPN_FLAGS[@]}" "$@" 2>&1 >/dev/null) || rc=$?
	((rc == 1)) || fail "$name: exit $rc, want 1 (said '$msg')"
	# shellcheck disable=SC2053 # WANT_MSG may be a pattern
	[[ $msg == $want ]] || fail "$name: said '$msg', want '$want'"
	rx=$(($(link_stat "$ns" "$dev" rx_packets) - rx0))
	((rx == want_rx)) || fail "$name: $rx packets reached $dev, want $want_rx"
	say "$name: $msg"
}

hint='; is the peer a vpn?'
bad "not IP" tv0 0 \
    "vpn: stdin: frame at byte 0 is not an IP packet (length 3)$hint" \
    "$(frame 616263)"
bad "IPv4 length disagrees" tv0 0 \
    "vpn: stdin: frame at byte 0 is not a whole IPv4 packet (length 33)$hint" \
    "$(frame "${good}00")"
bad "IPv4 header length below 5" tv0 0 \
    "vpn: stdin: frame at byte 0 is not a whole IPv4 packet (length 32)$hint" \
    "$(frame "44${good:2}")"
bad "IPv6 length disagrees" tv0 0 \
    "vpn: stdin: frame at byte 0 is not a whole IPv6 packet (length 47)$hint" \
    "$(frame "${good6:0:94}")"
bad "IPv4 frame too short for a header" tv0 0 \
    "vpn: stdin: frame at byte 0 is not an IP packet (length 19)$hint" \
    "$(frame "${good:0:38}")"
bad "bad frame after good ones" tv0 2 \
    "vpn: stdin: frame at byte 84 is not an IP packet (length 3)$hint" \
    "$(frame "$good")$(frame "$good6")$(frame 616263)$(frame "$good")"
bad "truncated frame" tv0 1 \
    "vpn: stdin: truncated frame at byte 34 (stream ends 33 bytes into it)" \
    "$(frame "$good")$(frame "$good" | head -c 66)"
bad "truncated length prefix" tv0 1 \
    "vpn: stdin: truncated frame at byte 34 (stream ends 1 byte into it)" \
    "$(frame "$good")00"
bad "TAP frame shorter than Ethernet" ta0 0 \
    "vpn: stdin: frame at byte 0 is shorter than an Ethernet header (length 13)$hint" \
    "$(frame ffffffffffff02000000000108)" -a

# A peer that speaks another protocol is caught at its first bytes, not
# after the 18245 bytes that "GE" would announce; the stream stays open.
http() {
	local rc=0 msg
	mkfifo "$TMP/in"
	exec 5<>"$TMP/in"
	printf 'GET / HTTP/1.0\r\n\r\n' >&5
	msg=$(timeout 5 ip netns exec "$ns" "$VPN" -i tv0 "${VPN_FLAGS[@]}" <"$TMP/in" 2>&1 >/dev/null 5>&-) ||
		rc=$?
	exec 5>&-
	((rc == 1)) || fail "HTTP request: exit $rc, want 1 (said '$msg')"
	[[ $msg == "vpn: stdin: frame at byte 0 is not an IP packet (length 18245)$hint" ]] ||
		fail "HTTP request: said '$msg'"
}
check "HTTP request, caught at its first bytes" http

# Random bytes: the first two are a length, so either message may come;
# what matters is the exit, the message, and that the device got nothing.
for i in 1 2 3 4 5 6; do
	rnd=$(head -c 4096 /dev/urandom | od -An -v -tx1 | tr -d ' \n')
	((i % 2)) || rnd=0100${rnd:4}	# a length that fits: the packet is read
	bad "random bytes $i" tv0 0 \
	    "vpn: stdin: @(frame at byte 0 is *$hint|truncated frame at byte 0 *)" \
	    "$rnd"
done
