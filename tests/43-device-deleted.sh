#!/bin/bash
# tests/43-device-deleted.sh - the device is deleted under a running vpn.
#
# - Idle, attached to a persistent device: "ip link del" makes vpn exit 1
#   at once with "vpn: tv0: device was deleted".
# - Busy, on a device it created, with packets going both ways (a UDP
#   flood out of the device, echo requests framed into stdin): the same.
. "$(dirname "$0")/lib-pipe.sh"
need socat

ns=$NS_PREFIX-1
ns_add "$ns"
mkfifo "$TMP/in"

# deleted DEV: delete DEV; vpn exits 1 within a second and says so.
deleted() {
	local rc=0 t0 ms msg
	ip -n "$ns" link del dev "$1"
	t0=$(date +%s%N)
	wait_for 2 exited "$vpn"
	ms=$(ms_since "$t0")
	wait "$vpn" || rc=$?
	msg=$(cat "$TMP/err")
	((rc == 1)) || fail "$1 deleted: exit $rc, want 1 ($msg)"
	[[ $msg == "vpn: $1: device was deleted" ]] ||
		fail "$1 deleted: said '$msg', want 'vpn: $1: device was deleted'"
	((ms < 1000)) || fail "$1 deleted: exit after ${ms} ms, want < 1000"
	say "$1 deleted: exit 1 after $ms ms: $msg"
}

# 1. Idle, on a persistent device.
ip -n "$ns" tuntap add dev tv0 mode tun
tun_up "$ns" tv0 10.9.0.1/24
exec 5<>"$TMP/in"
spawn ip netns exec "$ns" "$VPN" -i tv0 <"$TMP/in" >/dev/null 2>"$TMP/err" 5>&-
vpn=$!
wait_for 5 carrier "$ns" tv0
deleted tv0
exec 5>&-

# 2. Busy both ways, on its own device.
hex=''
for i in $(seq 1 100); do
	hex+=$(frame "$(ip4_echo 10.9.1.2 10.9.1.1 "$i" 00112233445566778899)")
done
hexbin "$hex" >"$TMP/frames"
exec 5<>"$TMP/in"
spawn ip netns exec "$ns" "$VPN" -i tv1 <"$TMP/in" >/dev/null 2>"$TMP/err" 5>&-
vpn=$!
wait_for 5 has_link "$ns" tv1
tun_up "$ns" tv1 10.9.1.1/24
spawn ip netns exec "$ns" socat -u /dev/zero UDP-SENDTO:10.9.1.2:9 2>/dev/null
# Echo requests to tv1's own address: the replies go out again.  Bounded:
# at most 10 s; the writes fail once vpn is gone and fd 5 is closed, for
# the writer holds the FIFO write-only.
(
	exec 5>&- 6>"$TMP/in"
	for _ in $(seq 1 1000); do
		cat "$TMP/frames" >&6 2>/dev/null || exit 0
		sleep 0.01
	done
) &
PIDS+=("$!")
busy() { (($(link_stat "$ns" tv1 rx_packets) > 500 && $(link_stat "$ns" tv1 tx_packets) > 500)); }
wait_for 5 busy
deleted tv1
exec 5>&-
