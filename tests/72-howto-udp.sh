#!/bin/bash
# tests/72-howto-udp.sh - docs/howto.md recipe 5 (and the man page's UDP
# example), line for line.
#
# - By hand: socat UDP on each gateway with vpn installed; the server's
#   vpn starts with the client's first datagram, the gateways ping each
#   other, and vpn on both sides holds a UDP socket.
# - With the scripts: host A and host B ping each other, and 5 MiB from
#   host A to host B arrive whole, over UDP.
. "$(dirname "$0")/lib-howto.sh"
need socat iptables

sites
on_bg hsrv "$GWB" <<'EOF'
socat UDP-LISTEN:33960 EXEC:"vpn -t 30",nofork
EOF
hsrv=$!
wait_for 5 listening "$GWB" 33960 u
on_bg hcli "$GWA" <<'EOF'
socat UDP:198.51.100.2:33960 EXEC:"vpn -k 10",nofork
EOF
hcli=$!
wait_for 5 has_link "$GWA" tun0
on "$GWA" <<'EOF'
ip addr add 10.1.1.2/24 dev tun0; ip link set dev tun0 up
ip link set dev tun0 mtu 1400
EOF
# The server's vpn, and its tun0, start with the client's first datagram:
# here the packet the client's kernel sends as its tun0 comes up, at the
# latest the client's first keepalive, 10 s after it started.
wait_for 15 has_link "$GWB" tun0
on "$GWB" <<'EOF'
ip addr add 10.1.1.1/24 dev tun0; ip link set dev tun0 up
ip link set dev tun0 mtu 1400
EOF
wait_for 5 carrier "$GWA" tun0
wait_for 5 carrier "$GWB" tun0
on "$GWA" <<'EOF'
ping -c 3 10.1.1.1
EOF
for gw in "$GWA" "$GWB"; do
	n=$(ip netns exec "$gw" ss -Hunp | grep -c '"vpn"' || true)
	((n == 1)) || fail "$gw: vpn holds $n UDP sockets, want 1: $(ip netns exec "$gw" ss -Hunp)"
done
say "recipe 5 by hand: socat UDP and vpn on both gateways; ping"
kill -TERM "$hsrv" "$hcli"
for p in "$hsrv" "$hcli"; do
	wait "$p" || fail "vpn under socat: exit $? on SIGTERM, want 0"
done
wait_for 5 no_link "$GWA" tun0
wait_for 5 no_link "$GWB" tun0
SCRIPTS=()

on_bg srv "$GWB" <<'EOF'
scripts/server.sh -T udp -r 172.16.1.0/24
EOF
wait_for 5 listening "$GWB" 33960 u
on_bg cli "$GWA" <<'EOF'
scripts/client.sh -T udp -s 198.51.100.2 -l 10.1.1.2/24 -r 172.20.1.0/24
EOF
up_both 15
on "$B" <<'EOF'
ping -c 3 172.16.1.1
EOF
transfer_check "$A" "$B" 172.20.1.2 5
ip netns exec "$GWB" ss -Hunp | grep '"vpn"' >/dev/null ||
	fail "gateway B's vpn is not on a UDP socket: $(ip netns exec "$GWB" ss -Hnp)"
say "recipe 5 with the scripts: ping and 5 MiB host to host over UDP"
