#!/bin/bash
# tests/11-echo.sh - the kernel answers a framed echo request.
#
# - An ICMP echo request framed into stdin, addressed to the device's own
#   address, comes back as one framed echo reply on stdout (IPv4 and IPv6).
# - The device counts exactly the packets vpn gave it.
# - EOF on stdin at a frame boundary ends vpn with status 0.
# - With each wire: the default, -O and -W.
. "$(dirname "$0")/lib.sh"
with_each_wire

ns_add "$NS_PREFIX-1"
ns=$NS_PREFIX-1
ip -n "$ns" tuntap add dev tv0 mode tun
tun_up "$ns" tv0 10.9.0.1/24 fd00:9::1/64

a6=fd000009000000000000000000000001
b6=fd000009000000000000000000000002
req4=$(ip4_echo 10.9.0.2 10.9.0.1 1 "$(printf 'ab%.0s' {1..56})")
req6=$(ip6_echo "$b6" "$a6" 2)

# Keep stdin open until both replies are out, then end it: EOF.  The FIFO
# is opened read-write first, so that no open() below blocks.
mkfifo "$TMP/in"
exec 5<>"$TMP/in"
spawn ip netns exec "$ns" "$VPN" -v "${VPN_FLAGS[@]}" -i tv0 <"$TMP/in" >"$TMP/out" 2>"$TMP/err" 5>&-
pid=$!
wait_for 5 carrier "$ns" tv0
hexbin "$(frame "$req4")$(frame "$req6")" >&5
has_two() { [[ $(frames_in "$TMP/out" | grep -cE '^45.{16}01.{20}00|^6.{11}3a.{66}81') -ge 2 ]]; }
wait_for 5 has_two
exec 5>&-
rc=0
wait "$pid" || rc=$?
((rc == 0)) || fail "exit $rc at EOF, want 0: $(cat "$TMP/err")"

# The kernel may add its own packets (IPv6 router solicitations): keep only
# the ICMP and ICMPv6 echo replies.
mapfile -t got < <(frames_in "$TMP/out" | grep -E '^45.{16}01.{20}00|^6.{11}3a.{66}81')
((${#got[@]} == 2)) || fail "${#got[@]} echo replies out, want 2"
r4=${got[0]} r6=${got[1]}
[[ ${r4:0:2} == 45 && ${r4:18:2} == 01 && ${r4:40:2} == 00 ]] ||
	fail "first frame is not an ICMP echo reply: $r4"
[[ ${r4:24:16} == "$(ip4hex 10.9.0.1)$(ip4hex 10.9.0.2)" ]] ||
	fail "echo reply addresses: ${r4:24:16}"
((${#r4} == ${#req4})) || fail "reply length $((${#r4} / 2)), want $((${#req4} / 2))"
[[ ${r6:0:1} == 6 && ${r6:12:2} == 3a && ${r6:80:2} == 81 ]] ||
	fail "second frame is not an ICMPv6 echo reply: $r6"
[[ ${r6:16:32} == "$a6" && ${r6:48:32} == "$b6" ]] ||
	fail "ICMPv6 reply addresses: ${r6:16:64}"

rx=$(link_stat "$ns" tv0 rx_packets)
((rx == 2)) || fail "tv0 rx_packets $rx, want 2"
counters_are "$TMP/err" rx_packets=2
say "echo requests answered over IPv4 and IPv6"
