#!/bin/bash
# tests/16-device.sh - creating and attaching to devices.
#
# - A name with %d lets the kernel choose; -v says which name it got.
# - A persistent device made with "ip tuntap add ... user U" is usable by U
#   without root; a device owned by another user is refused with a clear error.
# - -a (TAP) carries Ethernet frames: an ARP request gets the kernel's reply.
# - A device that is down refuses packets: each is dropped and counted, and
#   vpn goes on.
# - A device made and brought up before vpn attaches (as server.sh -M makes
#   a session's) answers the peer's first packet: vpn waits for the kernel
#   to start its queue, which it does a moment after the carrier comes, and
#   drops what is sent to it before (it did for 2 to 8 first pings in 20).
. "$(dirname "$0")/lib.sh"

ns=$NS_PREFIX-1
ns_add "$ns"
mkfifo "$TMP/in"

# 1. %d, and -v names the device.
named() {
	exec 5<>"$TMP/in"
	spawn ip netns exec "$ns" "$VPN" -v -i 'vt%d' <"$TMP/in" >/dev/null 2>"$TMP/err" 5>&-
	pid=$!
	wait_for 5 grep -q 'TUN device' "$TMP/err"
	[[ $(head -1 "$TMP/err") == "vpn: vt0: TUN device, stream mode, offloads" ]] ||
		fail "-i vt%d: said '$(head -1 "$TMP/err")'"
	has_link "$ns" vt0 || fail "-i vt%d: no vt0"
	exec 5>&-
	wait "$pid" || fail "-i vt%d: exit $?"
	say "-i vt%d made vt0"
}
check "-i vt%d: the kernel picks, -v says which" named

# 2. A user's persistent device, without root.  Distributions make
# /dev/net/tun 0666; this machine may not, so the user gets a 0666 node of
# its own, bound over /dev/net/tun in a private mount namespace.
has_reply() { frames_in "$TMP/out" | grep -E "^45.{16}01.{20}00" >/dev/null; }
user_device() {
	install -d -m 0755 "$TMP/bin"
	install -m 0755 "$VPN" "$TMP/bin/vpn"
	chmod 0755 "$TMP"
	mknod -m 0666 "$TMP/tun" c 10 200
	# "${as_nobody[@]}" CMD...: CMD in $ns as user nobody, with a usable
	# /dev/net/tun.  An array, not a function, so that spawn runs a command.
	# shellcheck disable=SC2016 # expanded by the inner sh
	as_nobody=(ip netns exec "$ns" unshare -m sh -c
	    'mount --bind "$0" /dev/net/tun && exec setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"'
	    "$TMP/tun")
	ip -n "$ns" tuntap add dev tu0 mode tun user nobody
	tun_up "$ns" tu0 10.9.0.1/24
	exec 5<>"$TMP/in"
	spawn "${as_nobody[@]}" "$TMP/bin/vpn" -v -i tu0 <"$TMP/in" >"$TMP/out" 2>"$TMP/err" 5>&-
	pid=$!
	wait_for 5 carrier "$ns" tu0
	uid=$(awk '/^Uid:/ { print $2 }' "/proc/$(pid_of "$ns" "$TMP/bin/vpn")/status")
	((uid == $(id -u nobody))) || fail "vpn as nobody runs as uid $uid"
	hexbin "$(frame "$(ip4_echo 10.9.0.2 10.9.0.1 1)")" >&5
	wait_for 5 has_reply
	exec 5>&-
	wait "$pid" || fail "vpn as nobody: exit $?: $(cat "$TMP/err")"
	say "nobody used its own persistent device tu0"

	ip -n "$ns" tuntap add dev tr0 mode tun user root
	rc=0
	msg=$("${as_nobody[@]}" "$TMP/bin/vpn" -i tr0 </dev/null 2>&1 >/dev/null) || rc=$?
	((rc == 1)) || fail "nobody on root's device: exit $rc, want 1"
	[[ $msg == "vpn: TUNSETIFF tr0: Operation not permitted" ]] ||
		fail "nobody on root's device: said '$msg'"
	say "another user's device: $msg"
}
check "a user's persistent device, without root" user_device

# 3. TAP: an ARP request for the device's address is answered.
is_reply() { frames_in "$TMP/out" | grep "^020000000002020000000001080600010800060400020200000000010a090001020000000002" >/dev/null; }
tap_arp() {
	ip -n "$ns" tuntap add dev ta0 mode tap
	ip -n "$ns" link set dev ta0 address 02:00:00:00:00:01
	tun_up "$ns" ta0 10.9.0.1/24
	exec 5<>"$TMP/in"
	spawn ip netns exec "$ns" "$VPN" -a -i ta0 <"$TMP/in" >"$TMP/out" 2>"$TMP/err" 5>&-
	pid=$!
	wait_for 5 carrier "$ns" ta0
	# Ethernet: broadcast, from 02:..:02, ARP.  ARP: Ethernet/IPv4, request,
	# who has 10.9.0.1, tell 10.9.0.2 at 02:..:02.
	arp=ffffffffffff0200000000020806
	arp+=0001080006040001020000000002$(ip4hex 10.9.0.2)
	arp+=000000000000$(ip4hex 10.9.0.1)
	hexbin "$(frame "$arp")" >&5
	wait_for 5 is_reply
	exec 5>&-
	wait "$pid" || fail "TAP: exit $?: $(cat "$TMP/err")"
	say "TAP: the kernel answered an ARP request"
}
check "TAP: an ARP request is answered" tap_arp

# 4. A device that is down: three packets dropped and counted, exit 0.
device_down() {
	ip -n "$ns" tuntap add dev td0 mode tun
	rc=0
	hexbin "$(frame "$(ip4_echo 10.9.0.2 10.9.0.1 1)")0000$(frame "$(ip4_echo 10.9.0.2 10.9.0.1 2)")$(frame "$(ip4_echo 10.9.0.2 10.9.0.1 3)")" |
		ip netns exec "$ns" "$VPN" -v -i td0 >/dev/null 2>"$TMP/err" || rc=$?
	((rc == 0)) || fail "device down: exit $rc, want 0: $(cat "$TMP/err")"
	counters_are "$TMP/err" rx_packets=0 rx_bytes=0 rx_dropped=3 rx_invalid=0 \
	    keepalives_rx=1 keepalives_tx=0
	say "device down: 3 packets dropped and counted"
}
check "a device that is down: packets dropped and counted" device_down

# 5. A device up before vpn attaches (on a subnet of its own: tu0 stays):
# the first echo request, given at once, is answered, each of 10 times.
first_answered() {
	local i n
	hexbin "$(frame "$(ip4_echo 10.9.5.2 10.9.5.1 1)")" >"$TMP/req"
	for i in $(seq 10); do
		ip -n "$ns" tuntap add dev vf0 mode tun
		tun_up "$ns" vf0 10.9.5.1/24
		timeout 5 ip netns exec "$ns" "$VPN" -i vf0 \
		    < <(cat "$TMP/req"; sleep 0.3) >"$TMP/out" ||
			fail "try $i: exit $?"
		n=$(frames_in "$TMP/out" | grep -c '^45' || true)
		((n == 1)) || fail "try $i: $n echo replies, want 1"
		ip -n "$ns" link del vf0
	done
	say "a device up before vpn: the first echo answered 10 times of 10"
}
check "a device up before vpn attaches: the first packet answered" first_answered
