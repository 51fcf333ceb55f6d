#!/bin/bash
# tests/70-howto-pipeline.sh - docs/howto.md recipes 1 and 2, line for line:
# the article's pipeline by hand between the two gateways.
#
# - The gateways ping each other through tun0.
# - With the LAN routes, host A pings host B.
# - With its default route in the tunnel, gateway A reaches the router,
#   which has no route back to 10.1.1.0/24: gateway B's MASQUERADE rule
#   counted the packets.
# - With MTU 1400 and MSS clamping, 5 MiB from host A to host B arrive
#   whole, and host B's SYN and host A's SYN-ACK arrive with MSS 1360.
# - Ctrl-C on the client ends both pipelines and both devices go; with the
#   undo lines the gateways are as they were.
. "$(dirname "$0")/lib-howto.sh"
need nc iptables

sites
before_a=$(snapshot "$GWA") before_b=$(snapshot "$GWB")

on_bg srv "$GWB" <<'EOF'
mkfifo /tmp/fifo; cat /tmp/fifo | ./vpn | nc -l 33960 > /tmp/fifo
EOF
wait_for 5 listening "$GWB" 33960
on_bg cli "$GWA" <<'EOF'
mkfifo /tmp/fifo; cat /tmp/fifo | ./vpn | nc 198.51.100.2 33960 > /tmp/fifo
EOF
wait_for 5 has_link "$GWB" tun0
wait_for 5 has_link "$GWA" tun0
on "$GWB" <<'EOF'
ip addr add 10.1.1.1/24 dev tun0; ip link set dev tun0 up
sysctl -w net.ipv4.ip_forward=1
iptables -t nat -A POSTROUTING -s 10.1.1.0/24 -o wan0 -j MASQUERADE
EOF
on "$GWA" <<'EOF'
ip addr add 10.1.1.2/24 dev tun0; ip link set dev tun0 up
EOF
wait_for 5 carrier "$GWB" tun0
wait_for 5 carrier "$GWA" tun0
on "$GWA" <<'EOF'
ping -c 3 10.1.1.1
EOF
say "recipe 1: the gateways ping each other through the pipeline"

on "$GWB" <<'EOF'
ip route add 172.16.1.0/24 dev tun0
EOF
on "$GWA" <<'EOF'
ip route add 172.20.1.0/24 dev tun0
EOF
on "$A" <<'EOF'
ping -c 3 172.20.1.2
EOF
say "recipe 1: host A pings host B"

rx=$(link_stat "$GWB" tun0 rx_packets)
on "$GWA" <<'EOF'
ip route add 198.51.100.2/32 via 192.0.2.1
ip route replace default dev tun0
ping -c 3 198.51.100.1
EOF
n=$(rule_hits "$GWB" nat POSTROUTING MASQUERADE)
((n >= 1)) || fail "gateway B's MASQUERADE rule counted $n packets"
((rx < $(link_stat "$GWB" tun0 rx_packets))) || fail "the pings did not cross the tunnel"
say "recipe 1: gateway A reaches the router through gateway B's NAT"

for gw in "$GWA" "$GWB"; do
	on "$gw" <<'EOF'
ip link set dev tun0 mtu 1400
iptables -t mangle -A FORWARD -o tun0 -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
EOF
done
# Count, on each host, the SYN or SYN-ACK that arrives with the clamped
# MSS: 1400 less 40 bytes of headers (the hosts themselves offer 1460).
for h in "$A" "$B"; do
	ip netns exec "$h" iptables -w -A INPUT -p tcp --tcp-flags SYN SYN \
	    -m tcpmss --mss 1360 -j ACCEPT
done
transfer_check "$A" "$B" 172.20.1.2 5
for h in "$A" "$B"; do
	n=$(rule_hits "$h" filter INPUT ACCEPT)
	((n >= 1)) || fail "$h: no SYN arrived with MSS 1360"
done
say "recipe 2: MTU 1400 and MSS clamping; 5 MiB host to host, both SYNs clamped to 1360"

# Ctrl-C: SIGINT to every process of the client's pipeline.
mapfile -t pids < <(ip netns pids "$GWA")
kill -INT "${pids[@]}"
wait_for 5 no_link "$GWA" tun0
wait_for 5 no_link "$GWB" tun0
for p in "${SCRIPTS[@]}"; do
	timeout 5 tail --pid="$p" -f /dev/null || fail "a pipeline is still running: $(cat "$TMP/srv.log")"
done
say "recipe 1: Ctrl-C on the client ended both pipelines; both tun0 are gone"

on "$GWB" <<'EOF'
iptables -t nat -D POSTROUTING -s 10.1.1.0/24 -o wan0 -j MASQUERADE
iptables -t mangle -D FORWARD -o tun0 -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
sysctl -w net.ipv4.ip_forward=0
EOF
on "$GWA" <<'EOF'
iptables -t mangle -D FORWARD -o tun0 -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
ip route del 198.51.100.2/32 via 192.0.2.1
ip route add default via 192.0.2.1
EOF
same_as "$before_a" "$GWA" "the undo lines"
same_as "$before_b" "$GWB" "the undo lines"
for gw in "$GWA" "$GWB"; do
	left=$(ip netns exec "$gw" iptables-save | grep -e '10\.1\.1\.0' -e TCPMSS || true)
	[[ -z $left ]] || fail "$gw: rules left: $left"
done
say "recipes 1 and 2: the undo lines leave the gateways as they were"
