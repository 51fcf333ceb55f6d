#!/bin/bash
# tests/70-howto-pipeline.sh - docs/howto.md recipes 1 and 2, line for line:
# the article's pipeline by hand between the two gateways.
#
# - The gateways ping each other through tun0.
# - With the LAN routes, host A pings host B.
# - With all its traffic in the tunnel (two /1 routes, the default route
#   kept), gateway A reaches the router, which has no route back to
#   10.1.1.0/24: gateway B's MASQUERADE rule counted the packets.
# - With MTU 1400 and MSS clamping, 5 MiB from host A to host B arrive
#   whole, and host B's SYN and host A's SYN-ACK arrive with MSS 1360.
# - Ctrl-C on the client ends both pipelines and both devices go, and
#   gateway A's own default route is there at once; with the undo lines
#   the gateways are as they were: gateway B, which forwarded before,
#   still does; the FIFO directories are gone.
. "$(dirname "$0")/lib-howto.sh"
need nc iptables

sites
# Gateway B forwards already, as a site's router does: the undo must leave
# it so.
ip netns exec "$GWB" sysctl -qw net.ipv4.ip_forward=1
before_a=$(snapshot "$GWA") before_b=$(snapshot "$GWB")

on_bg srv "$GWB" <<'EOF'
d=$(mktemp -d) && mkfifo "$d/fifo" && cat "$d/fifo" | ./vpn | nc -l 33960 > "$d/fifo"
EOF
wait_for 5 listening "$GWB" 33960
on_bg cli "$GWA" <<'EOF'
d=$(mktemp -d) && mkfifo "$d/fifo" && cat "$d/fifo" | ./vpn | nc 198.51.100.2 33960 > "$d/fifo"
EOF
wait_for 5 has_link "$GWB" tun0
wait_for 5 has_link "$GWA" tun0
on "$GWB" <<'EOF'
ip addr add 10.1.1.1/24 dev tun0; ip link set dev tun0 up
sysctl -n net.ipv4.ip_forward > ip_forward.was
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
ip route add 0.0.0.0/1 dev tun0; ip route add 128.0.0.0/1 dev tun0
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
[[ $(ip -n "$GWA" route show default) == "default via 192.0.2.1 dev wan0 "* ]] ||
	fail "gateway A has no default route of its own after Ctrl-C: '$(ip -n "$GWA" route show default)'"
say "recipe 1: Ctrl-C on the client ended both pipelines; both tun0 are gone, gateway A's default route is there"

on "$GWB" <<'EOF'
iptables -t nat -D POSTROUTING -s 10.1.1.0/24 -o wan0 -j MASQUERADE
iptables -t mangle -D FORWARD -o tun0 -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
sysctl -w net.ipv4.ip_forward=$(cat ip_forward.was)
EOF
on "$GWA" <<'EOF'
iptables -t mangle -D FORWARD -o tun0 -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
ip route del 198.51.100.2/32 via 192.0.2.1
EOF
for gw in "$GWA" "$GWB"; do
	on "$gw" <<'EOF'
d=$(echo /tmp/tmp.*)
rm -r "$d"
EOF
	[[ -z $(find "$(home_of "$gw")/tmp" -mindepth 1) ]] ||
		fail "$gw: /tmp keeps $(find "$(home_of "$gw")/tmp" -mindepth 1)"
done
same_as "$before_a" "$GWA" "the undo lines"
same_as "$before_b" "$GWB" "the undo lines"
for gw in "$GWA" "$GWB"; do
	left=$(ip netns exec "$gw" iptables-save | grep -e '10\.1\.1\.0' -e TCPMSS || true)
	[[ -z $left ]] || fail "$gw: rules left: $left"
done
say "recipes 1 and 2: the undo lines leave the gateways as they were"
