#!/bin/bash
# tests/76-man-examples.sh - the EXAMPLES of docs/vpn.1, line for line, with
# vpn installed (on PATH), between the two gateways.  (Its UDP lines are
# run by 72-howto-udp, its persistent device by 75-howto-user.)
#
# - The article's pipeline: the gateways ping each other.
# - socat with the TCP socket as vpn's standard input and output: the
#   gateways ping each other, and vpn holds the TCP socket itself.
. "$(dirname "$0")/lib-howto.sh"
need nc socat

sites
# addr_up: the man page's address line on gateway B, and the same for A.
addr_up() {
	wait_for 5 has_link "$GWB" tun0
	wait_for 5 has_link "$GWA" tun0
	on "$GWB" <<'EOF'
ip addr add 10.1.1.1/24 dev tun0; ip link set dev tun0 up
EOF
	on "$GWA" <<'EOF'
ip addr add 10.1.1.2/24 dev tun0; ip link set dev tun0 up
EOF
	wait_for 5 carrier "$GWB" tun0
	wait_for 5 carrier "$GWA" tun0
}

on_bg srv "$GWB" <<'EOF'
d=$(mktemp -d) && mkfifo "$d/fifo" && cat "$d/fifo" | vpn | nc -l 33960 > "$d/fifo"
EOF
wait_for 5 listening "$GWB" 33960
on_bg cli "$GWA" <<'EOF'
d=$(mktemp -d) && mkfifo "$d/fifo" && cat "$d/fifo" | vpn | nc 198.51.100.2 33960 > "$d/fifo"
EOF
addr_up
on "$GWA" <<'EOF'
ping -c 3 10.1.1.1
EOF
say "the article's pipeline with vpn installed"
mapfile -t pids < <(ip netns pids "$GWA")
kill -INT "${pids[@]}"
wait_for 5 no_link "$GWA" tun0
wait_for 5 no_link "$GWB" tun0
empty() { [[ -z $(ip netns pids "$1") ]]; }
wait_for 5 empty "$GWB"
SCRIPTS=()

on_bg ssrv "$GWB" <<'EOF'
socat TCP-LISTEN:33960 EXEC:"vpn -i tun0",nofork
EOF
wait_for 5 listening "$GWB" 33960
on_bg scli "$GWA" <<'EOF'
socat TCP:198.51.100.2:33960 EXEC:"vpn -i tun0",nofork
EOF
addr_up
on "$GWA" <<'EOF'
ping -c 3 10.1.1.1
EOF
for gw in "$GWA" "$GWB"; do
	ip netns exec "$gw" ss -Htnp | grep '"vpn",pid=[0-9]*,fd=0' >/dev/null ||
		fail "$gw: vpn does not hold the TCP socket: $(ip netns exec "$gw" ss -Htnp)"
done
say "socat TCP with vpn on the socket itself"
