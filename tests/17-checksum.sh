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
# - A TCP stream whose packets carry an IPv6 routing header (SRv6, to
#   fd00:9::3 by way of fd00:9::2): its checksums' pseudo-header names the
#   final destination, not the IPv6 header's, and every segment a
#   super-packet is cut into keeps it, as the kernel's own segmentation
#   does: 4 MiB arrive within 10 s, and the far kernel counts no checksum
#   error (cut from the IPv6 header's addresses, nearly all were dropped).
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

# tcp_csum_errors NS: the kernel's count of TCP checksum errors in NS.
tcp_csum_errors() {
	# shellcheck disable=SC2016 # awk's
	ip netns exec "$1" awk '$1 == "Tcp:" && !n { for (i = 2; i <= NF; i++)
	    if ($i == "InCsumErrors") col = i; n = 1; next }
	    $1 == "Tcp:" { print $col }' /proc/net/snmp
}

# The routing header's bytes (IPV6_RTHDR; the kernel fills in the next
# header): type 4 (segment routing), segments left 1, the segments last
# first.
srh=0004040101000000$(printf 'fd00000900000000000000000000000%s' 3 2)
((${#srh} == 2 * 40)) || fail "the routing header is ${#srh} hex digits, want 80"

routed() {
	local ra=$NS_PREFIX-ra rb=$NS_PREFIX-rb exe size=$((4 * 1024 * 1024)) got
	exe="$VPN${VPN_FLAGS[*]:+ ${VPN_FLAGS[*]}} -i tun0"
	ns_add "$ra"
	ns_add "$rb"
	spawn socat EXEC:"ip netns exec $ra $exe" EXEC:"ip netns exec $rb $exe" \
	    2>"$TMP/routed.err"
	wait_for 5 has_link "$ra" tun0
	wait_for 5 has_link "$rb" tun0
	tun_up "$ra" tun0 fd00:9::1/64
	tun_up "$rb" tun0 fd00:9::2/64 fd00:9::3/64
	ip netns exec "$rb" sysctl -qw net.ipv6.conf.all.seg6_enabled=1 \
	    net.ipv6.conf.tun0.seg6_enabled=1
	spawn ip netns exec "$rb" socat -u "TCP6-LISTEN:5001,bind=[fd00:9::3]" \
	    CREATE:"$TMP/routed"
	wait_for 5 listening "$rb" 5001
	head -c "$size" /dev/zero | timeout 20 ip netns exec "$ra" socat -u - \
	    "TCP6:[fd00:9::3]:5001,setsockopt-bin=41:57:x$srh" ||
		fail "socat to fd00:9::3 exited $? with $(stat -c %s "$TMP/routed") bytes of $size there: $(cat "$TMP/routed.err")"
	wait_for 10 exited "${PIDS[-1]}"
	got=$(stat -c %s "$TMP/routed")
	((got == size)) || fail "$got bytes of $size arrived"
	(($(tcp_csum_errors "$rb") == 0)) ||
		fail "$(tcp_csum_errors "$rb") TCP checksum errors at fd00:9::3"
}
check "IPv6 routing header: 4 MiB, no checksum error" routed
