#!/bin/bash
# tests/53-device-moved.sh - the device changes under a running vpn.
#
# - Renamed (tun0 to tunz): vpn goes on, and the tunnel still carries a
#   ping and a checksummed transfer; its counters name the new name.
# - Moved to another network namespace: vpn goes on, and the tunnel
#   carries a ping from there.
# - A persistent device whose virtio header size another program set to 12
#   (TUNSETVNETHDRSZ, which the device keeps): vpn sets its own, and a
#   framed echo request is answered whole.
. "$(dirname "$0")/lib-pipe.sh"
need perl

pair
rc_pair -k 1
wait_for 5 ip netns exec "$NS2" ping -c 1 -W 1 10.9.0.1
vpn1=$(pid_of "$NS1" "$VPN")

renamed() {
	ip -n "$NS1" link set dev tun0 down
	ip -n "$NS1" link set dev tun0 name tunz
	ip -n "$NS1" link set dev tunz up
	ip -n "$NS1" addr add 10.9.0.1/24 dev tunz 2>/dev/null || true
	sleep 1.2		# past the MTU's refresh
	wait_for 5 ip netns exec "$NS2" ping -c 1 -W 1 10.9.0.1
	transfer_check "$NS2" "$NS1" 10.9.0.1 2
	[[ ! -e $TMP/vpn1.rc ]] || fail "vpn exited after the rename: $(vpn_said 1)"
	counters_now "$vpn1" "$TMP/vpn1.err" | grep -q . || fail "no counters"
	grep -q '^vpn: tunz: rx_packets=' "$TMP/vpn1.err" || fail "the counters do not name tunz: $(tail -1 "$TMP/vpn1.err")"
}
check "renamed under vpn: it goes on, under the new name" renamed

moved() {
	local ns3=$NS_PREFIX-3
	ns_add "$ns3"
	ip -n "$NS1" link set dev tunz netns "$ns3"
	tun_up "$ns3" tunz 10.9.0.1/24
	sleep 1.2
	wait_for 5 ip netns exec "$ns3" ping -c 1 -W 1 10.9.0.2
	[[ ! -e $TMP/vpn1.rc ]] || fail "vpn exited after the move: $(vpn_said 1)"
}
check "moved to another namespace: it goes on, the tunnel from there" moved

# vnet_hdr_12 NS DEV: make DEV persistent, with virtio headers of 12 bytes.
# (Perl is Debian's, always there: TUNSETIFF, TUNSETVNETHDRSZ, TUNSETPERSIST.)
vnet_hdr_12() {
	# shellcheck disable=SC2016 # perl's variables
	ip netns exec "$1" perl -e '
	    open(my $t, "+<", "/dev/net/tun") or die "tun: $!";
	    my $ifr = pack("a16 s x22", $ARGV[0], 0x5001);	# TUN, NO_PI, VNET_HDR
	    ioctl($t, 0x400454ca, $ifr) or die "TUNSETIFF: $!";
	    my $size = pack("i", 12);
	    ioctl($t, 0x400454d8, $size) or die "TUNSETVNETHDRSZ: $!";
	    ioctl($t, 0x400454cb, 1) or die "TUNSETPERSIST: $!"' "$2"
}
reply9() { frames_in "$TMP/out9" | grep -E '^45.{16}01.{20}00' >/dev/null; }

header() {
	local ns=$NS_PREFIX-4 rc=0
	ns_add "$ns"
	vnet_hdr_12 "$ns" tv9
	tun_up "$ns" tv9 10.9.9.1/24
	mkfifo "$TMP/in9"
	exec 5<>"$TMP/in9"
	spawn ip netns exec "$ns" "$VPN" -i tv9 <"$TMP/in9" >"$TMP/out9" 2>"$TMP/err9" 5>&-
	wait_for 5 carrier "$ns" tv9
	hexbin "$(frame "$(ip4_echo 10.9.9.2 10.9.9.1 1 abcdef)")" >&5
	wait_for 5 reply9
	exec 5>&-
	wait "${PIDS[-1]}" || rc=$?
	((rc == 0)) || fail "exit $rc: $(cat "$TMP/err9")"
}
check "a persistent device left with 12-byte virtio headers: vpn sets its own" header
