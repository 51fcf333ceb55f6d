#!/bin/bash
# tests/40-peer-kill.sh - the peer dies mid-transfer; nothing hangs.
#
# - The peer's vpn is killed with SIGKILL during a bulk transfer: within the
#   -t time both pipelines end, and the surviving vpn has exited 0 (EOF) or
#   1 with a message about its stdin or stdout; its device is gone.
# - The peer's host dies (all its processes killed while its link drops
#   everything, so no FIN or RST arrives): the surviving vpn exits 1 with
#   "peer silent for 3 s", three seconds after the last frame.
. "$(dirname "$0")/lib-pipe.sh"

pair

# 1. SIGKILL to side 1's vpn while side 2 sends to side 1.
rc_pair -k 1 -t 3
wait_for 5 ip netns exec "$NS2" ping -c 1 -W 1 10.9.0.1
spawn ip netns exec "$NS1" nc -l 5001 >/dev/null
sink=$!
wait_for 5 listening "$NS1" 5001
# shellcheck disable=SC2016 # expanded by the inner sh
spawn ip netns exec "$NS2" sh -c 'head -c 1G /dev/zero | nc 10.9.0.1 5001'
source=$!
moving() { (($(link_stat "$NS1" tun0 rx_bytes) > 4 * 1024 * 1024)); }
wait_for 10 moving
pid2=$(pid_of "$NS2" "$VPN")
kill -KILL "$(pid_of "$NS1" "$VPN")"
t0=$(date +%s%N)
wait_for 3 vpn_rc 2
wait_for 3 exited "$PIPE1"
wait_for 3 exited "$PIPE2"
ms=$(ms_since "$t0")
exited "$pid2" || fail "side 2's vpn $pid2 is still running"
rc=$(vpn_rc 2)
msg=$(vpn_said 2)
# Which end of side 2's pipeline learns first is a race: nc may close
# side 2's stdout (the TCP connection ended), or its stdin (then EOF lands
# at a frame boundary or inside a frame the dead vpn was writing).
case $rc:$msg in
0:) ;;
"1:vpn: stdout: closed by the reader") ;;
"1:vpn: stdout: Broken pipe") ;;
1:"vpn: stdin: truncated frame at byte "*) ;;
*) fail "side 2: exit $rc, said '$msg'; want 0 and nothing, or 1 and stdin/stdout" ;;
esac
((ms <= 3000)) || fail "pipelines ended ${ms} ms after the kill, want <= 3000 (-t 3)"
wait_for 2 no_link "$NS2" tun0
say "peer's vpn killed: both pipelines ended in $ms ms; side 2: exit $rc ${msg:-(EOF)}"
kill "$sink" "$source"
wait "$sink" "$source" 2>/dev/null || true

# 2. The peer's host dies: its link drops everything, then its processes
# are killed, so side 2 hears nothing more, not even a FIN.
rm -f "$TMP"/vpn[12].rc "$TMP"/vpn[12].err
rc_pair -k 1 -t 3
wait_for 5 ip netns exec "$NS2" ping -c 1 -W 1 10.9.0.1
pid2=$(pid_of "$NS2" "$VPN")
ip netns exec "$NS1" iptables -w -A INPUT -i veth1 -j DROP
ip netns exec "$NS1" iptables -w -A OUTPUT -o veth1 -j DROP
mapfile -t pids < <(ip netns pids "$NS1")
kill -KILL "${pids[@]}"
t0=$(date +%s%N)
wait_for 6 vpn_rc 2
ms=$(ms_since "$t0")
rc=$(vpn_rc 2)
msg=$(vpn_said 2)
((rc == 1)) || fail "host gone: side 2 exit $rc, want 1 ($msg)"
[[ $msg == "vpn: peer silent for 3 s" ]] ||
	fail "host gone: side 2 said '$msg', want 'vpn: peer silent for 3 s'"
((ms >= 2000 && ms <= 4000)) ||
	fail "host gone: side 2 exited after ${ms} ms, want 3000 (+-1000)"
exited "$pid2" || fail "host gone: side 2's vpn $pid2 is still running"
wait_for 2 no_link "$NS2" tun0
say "peer's host gone: side 2 exited 1 after $ms ms, '$msg'"
