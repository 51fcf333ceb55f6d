#!/bin/bash
# tests/75-howto-user.sh - docs/howto.md recipe 8 (and the man page's
# persistent device), line for line: vpn without root on a device made
# with ip tuntap add ... user.
#
# Debian makes /dev/net/tun 0666; this machine may not, so the server's
# commands see a 0666 node of the test's own bound over it.
# - The server's vpn runs as nobody, and the gateways ping each other.
# - Ctrl-C on the server ends both pipelines; the server's device stays,
#   with its address, until ip tuntap del.
. "$(dirname "$0")/lib-howto.sh"
need nc runuser

sites
mknod -m 0666 "$TMP/tun" c 10 200
on "$GWB" <<'EOF'
ip tuntap add dev tun0 mode tun user nobody
ip addr add 10.1.1.1/24 dev tun0; ip link set dev tun0 up
EOF
on_bg srv "$GWB" "$TMP/tun" /dev/net/tun <<'EOF'
runuser -u nobody -- sh -c 'd=$(mktemp -d) && mkfifo "$d/fifo" && cat "$d/fifo" | vpn | nc -l 33960 > "$d/fifo"'
EOF
wait_for 5 listening "$GWB" 33960
on_bg cli "$GWA" <<'EOF'
d=$(mktemp -d) && mkfifo "$d/fifo" && cat "$d/fifo" | ./vpn | nc 198.51.100.2 33960 > "$d/fifo"
EOF
wait_for 5 has_link "$GWA" tun0
on "$GWA" <<'EOF'
ip addr add 10.1.1.2/24 dev tun0; ip link set dev tun0 up
EOF
wait_for 5 carrier "$GWA" tun0
wait_for 5 carrier "$GWB" tun0
on "$GWA" <<'EOF'
ping -c 3 10.1.1.1
EOF
pid=$(procs "$GWB" vpn)
uid=$(awk '/^Uid:/ { print $2 $3 $4 $5 }' "/proc/$pid/status")
nobody=$(id -u nobody)
[[ $uid == "$nobody$nobody$nobody$nobody" ]] || fail "the server's vpn has uids $uid, want all $nobody"
say "recipe 8: vpn as nobody on its own device; the gateways ping each other"

mapfile -t pids < <(ip netns pids "$GWB")
kill -INT "${pids[@]}"
wait_for 10 no_link "$GWA" tun0
for p in "${SCRIPTS[@]}"; do
	timeout 5 tail --pid="$p" -f /dev/null || fail "a pipeline is still running"
done
ip -n "$GWB" addr show dev tun0 | grep 'inet 10\.1\.1\.1/24' >/dev/null ||
	fail "the persistent tun0 lost its address: $(ip -n "$GWB" addr show dev tun0 2>&1)"
say "recipe 8: Ctrl-C on the server ended both pipelines; its tun0 stays, addressed"

on "$GWB" <<'EOF'
ip tuntap del dev tun0 mode tun
EOF
no_link "$GWB" tun0 || fail "ip tuntap del left tun0"
say "recipe 8: ip tuntap del removed it"
