#!/bin/bash
# tests/30-sites.sh - the article's picture, with the real scripts.
#
#  host A ── gateway A (client.sh) ── internet ── gateway B (server.sh) ── host B
#
# - Host A (172.16.1.1) and host B (172.20.1.2), each behind its gateway,
#   ping each other through the tunnel, and 20 MiB go each way intact.
# - The tunnel's own addresses answer: 10.1.1.1 from gateway A.
# - server.sh tagged its NAT and MSS rules vpn:tun0; client.sh its MSS
#   rule; each added the routes it was given.  With FORWARD's policy
#   ACCEPT, the server says nothing of it.
. "$(dirname "$0")/lib-sites.sh"

sites
server srv -r 172.16.1.0/24
wait_for 5 listening "$GWB" 33960
client cli -s 198.51.100.2 -l 10.1.1.2/24 -r 172.20.1.0/24
up_both
say "tunnel up"

ip netns exec "$A" ping -c 3 -i 0.2 -W 2 172.20.1.2 >/dev/null || fail "host A cannot ping host B"
ip netns exec "$B" ping -c 3 -i 0.2 -W 2 172.16.1.1 >/dev/null || fail "host B cannot ping host A"
ip netns exec "$GWA" ping -c 1 -W 2 10.1.1.1 >/dev/null || fail "gateway A cannot ping 10.1.1.1"
say "host to host ping, both ways"

transfer_check "$A" "$B" 172.20.1.2 20
transfer_check "$B" "$A" 172.16.1.1 20
say "20 MiB each way between the LAN hosts, checksums match"

rules=$(ip netns exec "$GWB" iptables-save | grep -c -- '--comment "\?vpn:tun0' || true)
((rules == 2)) || fail "server: $rules tagged rules, want 2 (NAT, MSS)"
ip netns exec "$GWB" iptables-save -t nat | grep -- '-A POSTROUTING -s 10.1.1.0/24 -o wan0 .*vpn:tun0.* -j MASQUERADE' >/dev/null ||
	fail "server: no MASQUERADE for 10.1.1.0/24 out of wan0: $(ip netns exec "$GWB" iptables-save -t nat | grep vpn:)"
ip netns exec "$GWA" iptables-save -t mangle | grep -- '-A FORWARD -o tun0 -p tcp .*vpn:tun0.* -j TCPMSS --clamp-mss-to-pmtu' >/dev/null ||
	fail "client: no MSS clamp: $(ip netns exec "$GWA" iptables-save -t mangle | grep vpn:)"
[[ $(ip -n "$GWB" route show 172.16.1.0/24) == "172.16.1.0/24 dev tun0 scope link " ]] ||
	fail "server's route: '$(ip -n "$GWB" route show 172.16.1.0/24)'"
[[ $(ip -n "$GWA" route show 172.20.1.0/24) == "172.20.1.0/24 dev tun0 scope link " ]] ||
	fail "client's route: '$(ip -n "$GWA" route show 172.20.1.0/24)'"
said srv "nc: Connection received on 192.0.2.2 " || fail "server log: $(cat "$TMP/srv.log")"
! said srv "FORWARD chain's policy" || fail "server warned of a FORWARD policy that accepts"
say "rules tagged vpn:tun0, routes in place"
