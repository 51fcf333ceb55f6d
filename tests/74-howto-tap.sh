#!/bin/bash
# tests/74-howto-tap.sh - docs/howto.md recipe 7, line for line: vpn -a
# bridges the two LANs into one Ethernet segment.
#
# - With tap0 and lan0 in a bridge on each gateway, host A pings host B on
#   a subnet they share.
# - It is one segment: host B learned host A's own MAC address by ARP,
#   across the tunnel.
. "$(dirname "$0")/lib-howto.sh"
need nc

sites
on_bg srv "$GWB" <<'EOF'
d=$(mktemp -d) && mkfifo "$d/fifo" && cat "$d/fifo" | ./vpn -a -i tap0 | nc -l 33960 > "$d/fifo"
EOF
wait_for 5 listening "$GWB" 33960
on_bg cli "$GWA" <<'EOF'
d=$(mktemp -d) && mkfifo "$d/fifo" && cat "$d/fifo" | ./vpn -a -i tap0 | nc 198.51.100.2 33960 > "$d/fifo"
EOF
wait_for 5 has_link "$GWB" tap0
wait_for 5 has_link "$GWA" tap0
for gw in "$GWA" "$GWB"; do
	on "$gw" <<'EOF'
ip link add br0 type bridge; ip link set lan0 master br0; ip link set tap0 master br0
ip link set dev tap0 up; ip link set dev br0 up
EOF
done
on "$A" <<'EOF'
ip addr add 10.2.2.1/24 dev eth0
EOF
on "$B" <<'EOF'
ip addr add 10.2.2.2/24 dev eth0
EOF
wait_for 5 carrier "$GWA" tap0
wait_for 5 carrier "$GWB" tap0
# A new bridge port learns for a moment before it forwards: wait for it.
fwd() { [[ $(ip netns exec "$1" cat /sys/class/net/tap0/brport/state) == 3 ]]; }
wait_for 35 fwd "$GWA"
wait_for 35 fwd "$GWB"
on "$A" <<'EOF'
ping -c 3 10.2.2.2
EOF
mac=$(ip netns exec "$A" cat /sys/class/net/eth0/address)
ip -n "$B" neigh show 10.2.2.1 | grep "lladdr $mac" >/dev/null ||
	fail "host B's neighbour entry for 10.2.2.1 is '$(ip -n "$B" neigh show 10.2.2.1)', want $mac"
say "recipe 7: one segment across the sites; host B knows host A's MAC $mac"
