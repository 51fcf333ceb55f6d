#!/bin/bash
# tests/24-datagram-offloads.sh - offloads in datagram mode, over UDP.
#
#  $NS1 socat UDP-LISTEN, vpn -D ══ UDP over veth ══ $NS2 socat UDP, vpn -D
#
# For every mix of -O on the two ends, with a tunnel MTU of 1400 (so that a
# datagram fits the veth's 1500):
# - 20 MiB each way, checksummed; each end's counters match the other's
#   (packets and bytes), and nothing is dropped, unless the kernel says a
#   socket buffer overflowed.  No IPv6 on the devices: only our packets.
# - No datagram is longer than the path: the sending namespace makes no IP
#   fragment, though with offloads its device hands vpn 64 KiB packets.
# - Both ends with offloads: the receiver joins what the sender cut, and its
#   device takes packets of several times the MTU.  A receiver with -O
#   gives each datagram as it came.
# With the tunnel's MTU at 1500 a datagram does not fit the veth, and the
# kernel refuses to cut a run of them: the sender says it sends one by one,
# and 20 MiB still cross intact.  With the MTU then lowered to 1400, runs go
# out again within 10 s: 20 MiB more arrive as joined packets.
# run.sh: heavy long
. "$(dirname "$0")/lib.sh"
need socat nc

# snmp NS GROUP FIELD: a counter from NS's /proc/net/snmp.
snmp() {
	# shellcheck disable=SC2016 # awk's
	ip netns exec "$1" awk -v g="$2:" -v f="$3" '$1 == g {
	    if (!n) { for (i = 2; i <= NF; i++) col[$i] = i; n = 1 }
	    else print $col[f] }' /proc/net/snmp
}

# fragments: IP fragments both namespaces made.
fragments() {
	echo $(($(snmp "$NS1" Ip FragCreates) + $(snmp "$NS2" Ip FragCreates)))
}

# moved FILE: "rx-packets rx-bytes tx-packets tx-bytes dropped" from the
# last counters line vpn wrote to FILE.
moved() {
	local k
	for k in rx_packets rx_bytes tx_packets tx_bytes rx_dropped; do
		printf '%s ' "$(counter "$1" "$k")"
	done
}

# avg_rx NS: the average size of the packets tun0 took from vpn.
avg_rx() {
	echo $(($(link_stat "$1" tun0 rx_bytes) / $(link_stat "$1" tun0 rx_packets)))
}

# lowered: after UDP_SEGMENT was refused at MTU 1500, lower the MTU to
# 1400; within 10 s, runs of datagrams go out again, and the far end joins
# them.  The refusal was said once.
lowered() {
	local b0 p0 avg
	for ns in "$NS1" "$NS2"; do
		ip -n "$ns" link set dev tun0 mtu 1400
	done
	sleep 10
	b0=$(link_stat "$NS1" tun0 rx_bytes) p0=$(link_stat "$NS1" tun0 rx_packets)
	transfer_check "$NS2" "$NS1" 10.9.0.1 20
	avg=$((($(link_stat "$NS1" tun0 rx_bytes) - b0) / ($(link_stat "$NS1" tun0 rx_packets) - p0)))
	((avg > 3000)) || fail "MTU lowered to 1400: tun0 took packets of $avg bytes on average, want joined ones (> 3000)"
	(($(grep -c UDP_SEGMENT "$TMP/e2") == 1)) || fail "said more than once: $(grep UDP_SEGMENT "$TMP/e2")"
	say "MTU lowered to 1400: 20 MiB in packets of $avg bytes on average"
}

# run F1 F2 MTU: a UDP tunnel with these flags and MTU; transfers; checks.
run() {
	local f1=$1 f2=$2 mtu=$3 tag="[${1:-default}|${2:-default}|$3]"
	local srv cli frags a b rx1 rx2 errs ns
	pair
	for ns in "$NS1" "$NS2"; do	# no IPv6 chatter: only our packets
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
	done
	udp_pair "-D $f1" "-D -k 1 $f2"
	srv=$SRV cli=$CLI
	for ns in "$NS1" "$NS2"; do
		ip -n "$ns" link set dev tun0 mtu "$mtu"
	done
	tun_up "$NS1" tun0 10.9.0.1/24
	tun_up "$NS2" tun0 10.9.0.2/24
	# said once the device is there, which is what udp_pair waits for
	wait_for 5 grep -q '^vpn: tun0: TUN device' "$TMP/e1" ||
		fail "$tag: the server said nothing of its device: '$(cat "$TMP/e1")'"
	[[ -z $f1 ]] || ! grep -q offloads "$TMP/e1" || fail "$tag: -O, yet: $(head -1 "$TMP/e1")"
	[[ -n $f1 ]] || grep -q '^vpn: tun0: TUN device, datagram mode, offloads, UDP GSO, UDP GRO$' "$TMP/e1" ||
		fail "$tag: server said '$(head -1 "$TMP/e1")'"
	ip netns exec "$NS2" ping -c 2 -i 0.2 -W 2 10.9.0.1 >/dev/null || fail "$tag: ping 10.9.0.1"
	frags=$(fragments)
	transfer_check "$NS2" "$NS1" 10.9.0.1 20
	transfer_check "$NS1" "$NS2" 10.9.0.2 20
	((mtu > 1400 || $(fragments) == frags)) ||
		fail "$tag: the senders made $(($(fragments) - frags)) IP fragments"
	sleep 0.5		# nothing in flight
	kill -USR1 "$srv" "$cli"
	wait_for 5 grep -q ' rx_packets=' "$TMP/e1"
	wait_for 5 grep -q ' rx_packets=' "$TMP/e2"
	read -ra a <<<"$(moved "$TMP/e1")"
	read -ra b <<<"$(moved "$TMP/e2")"
	errs=$(($(snmp "$NS1" Udp RcvbufErrors) + $(snmp "$NS2" Udp RcvbufErrors)))
	if ((errs == 0)); then
		[[ "${a[0]} ${a[1]} ${a[4]}" == "${b[2]} ${b[3]} 0" &&
		    "${b[0]} ${b[1]} ${b[4]}" == "${a[2]} ${a[3]} 0" ]] ||
			fail "$tag: counters differ: server ${a[*]}, client ${b[*]}"
	else
		((a[0] <= b[2] && b[0] <= a[2])) ||
			fail "$tag: more received than sent: server ${a[*]}, client ${b[*]}"
		say "$tag: socket buffers overflowed $errs times: counters not compared"
	fi
	rx1=$(avg_rx "$NS1") rx2=$(avg_rx "$NS2")
	if [[ $mtu == 1400 && -z $f1 && -z $f2 ]]; then
		((rx1 > 3000 && rx2 > 3000)) ||
			fail "$tag: devices took packets of $rx1 and $rx2 bytes on average, want joined ones (> 3000)"
	fi
	[[ $f1 != -O ]] || ((rx1 <= mtu)) || fail "$tag: -O, yet tun0 took packets of $rx1 bytes on average"
	[[ $f2 != -O ]] || ((rx2 <= mtu)) || fail "$tag: -O, yet tun0 took packets of $rx2 bytes on average"
	if [[ $mtu == 1500 && -z $f2 ]]; then
		# EMSGSIZE, or EINVAL before Linux 6.13 and its backports
		grep -q '^vpn: stdout: UDP_SEGMENT refused; sending datagrams one by one: ' "$TMP/e2" ||
			fail "$tag: the sender did not say UDP_SEGMENT is off: $(cat "$TMP/e2")"
	else
		! grep -q 'UDP_SEGMENT' "$TMP/e2" || fail "$tag: $(grep UDP_SEGMENT "$TMP/e2")"
	fi
	say "$tag: 20 MiB each way; counters match; devices took $rx1 and $rx2 bytes a packet"
	[[ $mtu != 1500 ]] || lowered
	kill "$srv" "$cli"
	wait "$srv" "$cli" || true
	ip netns del "$NS1"
	ip netns del "$NS2"
}

for flags in ':' ':-O' '-O:' '-O:-O'; do
	f1=${flags%%:*} f2=${flags#*:}
	check "[${f1:-default}|${f2:-default}|1400]" run "$f1" "$f2" 1400
done
check "[default|default|1500], then 1400" run '' '' 1500
