#!/bin/bash
# tests/32-next-client.sh - server.sh serves one client after another.
#
# - A first client connects, passes traffic and leaves (SIGTERM); a second
#   client, with other tunnel addresses, then connects to the same server
#   and passes traffic.
# - A client that vanishes without a word (its gateway's link to the
#   internet cut, no FIN, no RST) is given up after the server's -t, and
#   the server takes the next one.
. "$(dirname "$0")/lib-sites.sh"

sites
server srv -k 1 -t 3 -r 172.16.1.0/24
wait_for 5 listening "$GWB" 33960

client c1 -s 198.51.100.2 -l 10.1.1.2/24 -r 172.20.1.0/24
c1=$!
up_both
stop "$c1" c1
wait_for 5 said srv "session ended: the transport ended it; waiting for the next client"
! reach "$A" 172.20.1.2 || fail "host B still reachable with no client"

client c2 -s 198.51.100.2 -l 10.1.1.3/24 -r 172.20.1.0/24
c2=$!
up_both
ip netns exec "$GWB" ping -c 1 -W 2 10.1.1.3 >/dev/null || fail "server cannot ping the second client"
n=$(grep -c 'nc: Connection received on' "$TMP/srv.log")
((n == 2)) || fail "server took $n connections, want 2"
say "a second client served after the first left"

# The second client's gateway drops off the internet: nothing more arrives.
ip netns exec "$GWA" iptables -w -A OUTPUT -o wan0 -j DROP
ip netns exec "$GWA" iptables -w -A INPUT -i wan0 -j DROP
start=$SECONDS
wait_for 10 said srv "vpn: peer silent for 3 s"
((SECONDS - start <= 6)) || fail "server took $((SECONDS - start)) s to give up a silent client, want about 3"
wait_for 5 said srv "session ended: vpn ended it (exit 1; its message is above); waiting for the next client"
stop "$c2" c2
ip netns exec "$GWA" iptables -w -F
client c3 -s 198.51.100.2 -l 10.1.1.2/24 -r 172.20.1.0/24
up_both
say "a silent client given up after -t; the next one served"
