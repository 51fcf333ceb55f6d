#!/bin/bash
# tests/34-two-servers.sh - two servers side by side on one gateway.
#
# - Server 1 (tun0, port 33960, 10.1.1.0/24) and server 2 (tun1, port
#   33961, 10.2.2.0/24) run at once on gateway B, each with its client.
# - Stopping server 1 first leaves server 2's device, routes and vpn:tun1
#   rules, and its client still pings; forwarding stays on for it, and
#   server 1 says so.
# - Stopping server 2 then leaves the gateway as it was, forwarding too:
#   the last server out puts back the value the first one found.
. "$(dirname "$0")/lib-sites.sh"

sites
b0=$(snapshot "$GWB")
server s1 -r 172.16.1.0/24
s1=$!
wait_for 5 listening "$GWB" 33960
server s2 -i tun1 -p 33961 -l 10.2.2.1/24
s2=$!
wait_for 5 listening "$GWB" 33961
client c1 -s 198.51.100.2 -l 10.1.1.2/24 -r 172.20.1.0/24
client c2 -s 198.51.100.2 -i tun1 -p 33961 -l 10.2.2.2/24
up_both
wait_for 10 reach "$GWA" 10.2.2.1
say "two servers, two clients"

rules2=$(ip netns exec "$GWB" iptables-save | grep -- 'vpn:tun1')
stop "$s1" s1
has_link "$GWB" tun1 || fail "server 2's tun1 went with server 1"
! has_link "$GWB" tun0 || fail "server 1's tun0 outlived it"
[[ $(ip netns exec "$GWB" iptables-save | grep -- 'vpn:tun1') == "$rules2" ]] ||
	fail "server 2's rules changed: $(ip netns exec "$GWB" iptables-save | grep vpn:)"
! ip netns exec "$GWB" iptables-save | grep -- 'vpn:tun0' >/dev/null || fail "server 1's rules stayed"
[[ $(ip netns exec "$GWB" sysctl -n net.ipv4.ip_forward) == 1 ]] || fail "forwarding turned off under server 2"
said s1 "leaving net.ipv4.ip_forward=1 (it was 0): vpn:tun1 still forwarding" ||
	fail "server 1 said: $(tail -4 "$TMP/s1.log")"
ip netns exec "$GWA" ping -c 2 -i 0.2 -W 2 10.2.2.1 >/dev/null || fail "server 2's client lost its tunnel"
say "server 1 stopped: server 2 and its rules intact"

stop "$s2" s2
same_as "$b0" "$GWB" "both servers stopped"
said s2 "[#] sysctl -qw net.ipv4.ip_forward=0" ||
	fail "server 2, the last, did not put forwarding back: $(tail -4 "$TMP/s2.log")"
say "server 2 stopped: the gateway as it was, forwarding off again"
