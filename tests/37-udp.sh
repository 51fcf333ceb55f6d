#!/bin/bash
# tests/37-udp.sh - the UDP transport: vpn in datagram mode under socat.
#
# - Host to host ping both ways and 20 MiB checksummed each way, over UDP;
#   the devices get the UDP default MTU, 1400.
# - The client goes silently: the server's session ends after -t, and the
#   server takes the next client (a new source port).
. "$(dirname "$0")/lib-sites.sh"
need socat

sites
server srv -T udp -k 1 -t 3 -r 172.16.1.0/24
wait_for 5 listening "$GWB" 33960 u
client cli -T udp -k 1 -s 198.51.100.2 -l 10.1.1.2/24 -r 172.20.1.0/24
cli=$!
up_both
ip netns exec "$B" ping -c 3 -i 0.2 -W 2 172.16.1.1 >/dev/null || fail "host B cannot ping host A"
transfer_check "$A" "$B" 172.20.1.2 20
transfer_check "$B" "$A" 172.16.1.1 20
for ns in "$GWA" "$GWB"; do
	mtu=$(ip netns exec "$ns" cat /sys/class/net/tun0/mtu)
	((mtu == 1400)) || fail "$ns: tun0 MTU $mtu, want 1400"
done
[[ -z $(ip netns exec "$GWB" ss -Htn "sport = :33960") ]] || fail "TCP on port 33960"
say "UDP: ping and 20 MiB each way"

ip netns exec "$GWA" iptables -w -A OUTPUT -o wan0 -j DROP
wait_for 8 said srv "vpn: peer silent for 3 s"
wait_for 5 said srv "session ended: vpn ended it (exit 1; its message is above); waiting for the next client"
stop "$cli" cli
ip netns exec "$GWA" iptables -w -F
wait_for 5 listening "$GWB" 33960 u
client cli2 -T udp -k 1 -s 198.51.100.2 -l 10.1.1.2/24 -r 172.20.1.0/24
up_both
say "UDP: a silent client given up after -t; the next one served"
