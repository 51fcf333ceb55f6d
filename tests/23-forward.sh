#!/bin/bash
# tests/23-forward.sh - forwarded traffic, with offloads on either end.
#
#  $NS3 host a ── lan ── $NS1 gw ══ vpn over nc ══ $NS2 gw ── lan ── $NS4 host b
#  172.16.1.1/24   172.16.1.254    10.9.0.1  10.9.0.2   172.20.1.254   172.20.1.2
#
# - A checksummed transfer each way between the hosts, for every mix of
#   offload settings on the two gateways, and with -W: a super-packet read
#   from one gateway's device is split again by the other's kernel to fit
#   its LAN, never dropped for its size.
# - By default the tunnel carries packets of the MTU, and each gateway's
#   device takes packets of several times that: the segments joined again.
#   With -W at both ends, the tunnel carries the super-packets themselves;
#   with -O at both, there are none.
# run.sh: heavy long
. "$(dirname "$0")/lib.sh"

pair
NS3=$NS_PREFIX-3 NS4=$NS_PREFIX-4
ns_add "$NS3"
ns_add "$NS4"
ip -n "$NS3" link add lan type veth peer name lan netns "$NS1"
ip -n "$NS4" link add lan type veth peer name lan netns "$NS2"
ip -n "$NS3" addr add 172.16.1.1/24 dev lan
ip -n "$NS1" addr add 172.16.1.254/24 dev lan
ip -n "$NS4" addr add 172.20.1.2/24 dev lan
ip -n "$NS2" addr add 172.20.1.254/24 dev lan
for ns in "$NS1" "$NS2" "$NS3" "$NS4"; do
	ip -n "$ns" link set lan up
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
done
ip -n "$NS3" route add default via 172.16.1.254
ip -n "$NS4" route add default via 172.20.1.254

# run FLAGS1 FLAGS2: gateways joined with these vpn flags; transfers.
run() {
	local f1=$1 f2=$2 pid1 pid2 p1 p2
	rm -f "$TMP/f1" "$TMP/f2"
	mkfifo "$TMP/f1" "$TMP/f2"
	# shellcheck disable=SC2016 # expanded by the inner sh
	spawn ip netns exec "$NS1" sh -c 'cat "$1" | "$2" $3 | nc -l 33960 >"$1"' \
	    - "$TMP/f1" "$VPN" "$f1"
	p1=$!
	wait_for 5 listening "$NS1" 33960
	# shellcheck disable=SC2016
	spawn ip netns exec "$NS2" sh -c 'cat "$1" | "$2" $3 | nc 192.0.2.1 33960 >"$1"' \
	    - "$TMP/f2" "$VPN" "$f2"
	p2=$!
	wait_for 5 has_link "$NS1" tun0
	wait_for 5 has_link "$NS2" tun0
	tun_up "$NS1" tun0 10.9.0.1/24
	tun_up "$NS2" tun0 10.9.0.2/24
	ip -n "$NS1" route add 172.20.1.0/24 via 10.9.0.2
	ip -n "$NS2" route add 172.16.1.0/24 via 10.9.0.1
	ip netns exec "$NS3" ping -c 2 -i 0.2 -W 2 172.20.1.2 >/dev/null ||
		fail "[$f1|$f2] host a cannot ping host b"
	transfer_check "$NS3" "$NS4" 172.20.1.2 20
	transfer_check "$NS4" "$NS3" 172.16.1.1 20
	echo "$(avg_rx "$NS1") $(avg_rx "$NS2")" >"$TMP/rx.$f1:$f2"
	pid1=$(pid_of "$NS1" "$VPN")
	pid2=$(pid_of "$NS2" "$VPN")
	kill -USR1 "$pid1" "$pid2"
	sleep 0.3
	# The pipelines' cat, vpn and nc; nothing else runs in these two.
	# shellcheck disable=SC2046 # a list of PIDs
	kill $(ip netns pids "$NS1") $(ip netns pids "$NS2")
	wait "$p1" "$p2" || true
	wait_for 5 exited "$pid1"
	wait_for 5 exited "$pid2"
	say "[${f1:-default}|${f2:-default}] 20 MiB each way between the LANs"
}

# avg_pkt FILE: average tx packet size in the last counters line.
avg_pkt() {
	echo $(($(counter "$1" tx_bytes) / $(counter "$1" tx_packets)))
}

# avg_rx NS: the average size of the packets tun0 took from vpn.
avg_rx() {
	echo $(($(link_stat "$1" tun0 rx_bytes) / $(link_stat "$1" tun0 rx_packets)))
}

for flags in ':' ':-O' '-O:' '-O:-O' '-W:-W' '-W:-O'; do
	run "${flags%%:*}" "${flags#*:}" 2>"$TMP/err.$flags"
done
read -r rx1 rx2 <"$TMP/rx.:"
tx=$(avg_pkt "$TMP/err.:")
((tx <= 1500)) || fail "default: average packet on the wire $tx bytes, want <= the MTU"
((rx1 > 3000 && rx2 > 3000)) ||
	fail "default: the devices took packets of $rx1 and $rx2 bytes on average, want joined ones (> 3000)"
say "default: $tx bytes per packet on the wire, $rx1 and $rx2 into the devices"
read -r rx1 rx2 <"$TMP/rx.-O:-O"
tx=$(avg_pkt "$TMP/err.-O:-O")
((tx <= 1500 && rx1 <= 1500 && rx2 <= 1500)) ||
	fail "-O: packets of $tx bytes on the wire, $rx1 and $rx2 into the devices, want <= the MTU"
read -r rx1 rx2 <"$TMP/rx.-W:-W"
tx=$(avg_pkt "$TMP/err.-W:-W")
((tx > 3000)) || fail "-W: average packet on the wire $tx bytes, want super-packets (> 3000)"
say "-W: $tx bytes per packet on the wire, $rx1 and $rx2 into the devices"
