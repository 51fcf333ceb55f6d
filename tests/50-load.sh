#!/bin/bash
# tests/50-load.sh - 8 TCP streams each way through the tunnel at once.
#
# iperf3 -P 8 --bidir for LOAD_SECS seconds (default 20; 10 for the ASan
# build) through the article's pipeline.
# - No stall: every 1 s interval moves bytes in each direction.
# - No error: iperf3 exits 0, and neither vpn exits or drops a frame as bad.
# - Memory: each vpn's VmHWM and VmRSS under 4 MiB (not for the ASan build).
# - The counters agree: with both devices down and the pipes drained, each
#   side sent exactly the packets the other wrote to its device or dropped
#   (the framed stream over TCP loses nothing between the two).
# run.sh: heavy long
. "$(dirname "$0")/lib-pipe.sh"
need iperf3 jq

if ((VPN_SANITIZED == 1)); then
	LOAD_SECS=${LOAD_SECS:-10}
else
	LOAD_SECS=${LOAD_SECS:-20}
fi
MEM_MAX_KIB=4096

pair
rc_pair
wait_for 5 ip netns exec "$NS2" ping -c 1 -W 1 10.9.0.1
vpn1=$(pid_of "$NS1" "$VPN")
vpn2=$(pid_of "$NS2" "$VPN")

spawn ip netns exec "$NS1" iperf3 -s -1 -B 10.9.0.1 >/dev/null
wait_for 5 listening "$NS1" 5201
rc=0
timeout $((LOAD_SECS + 30)) ip netns exec "$NS2" iperf3 -c 10.9.0.1 -P 8 \
    --bidir -t "$LOAD_SECS" -i 1 --json >"$TMP/iperf.json" || rc=$?
((rc == 0)) || fail "iperf3 exited $rc: $(grep -m1 '"error"' "$TMP/iperf.json")"

# Every interval, each direction: the lowest sum of bytes, and per stream.
read -r intervals min_up min_down min_stream got_up got_down < <(jq -r '
    [.intervals[] | .sum.bytes] as $up |
    [.intervals[] | .sum_bidir_reverse.bytes] as $down |
    [.intervals[] | .streams[].bytes] as $streams |
    "\(.intervals | length) \($up | min) \($down | min) \($streams | min) " +
    "\(.end.sum_received.bytes) \(.end.sum_received_bidir_reverse.bytes)"
' "$TMP/iperf.json")
((intervals >= LOAD_SECS)) || fail "$intervals intervals, want $LOAD_SECS"
((min_up > 0 && min_down > 0)) ||
	fail "a stall: the slowest second moved $min_up bytes up, $min_down down"
say "${LOAD_SECS}s, 8+8 streams: $((got_up >> 20)) MiB up, $((got_down >> 20)) MiB down; slowest second $((min_up >> 10)) KiB up, $((min_down >> 10)) KiB down; slowest stream-second $((min_stream >> 10)) KiB"

for pid in "$vpn1" "$vpn2"; do
	rss=$(vm_kib "$pid" VmRSS)
	hwm=$(vm_kib "$pid" VmHWM)
	say "vpn $pid: VmRSS $rss KiB, VmHWM $hwm KiB"
	((VPN_SANITIZED == 1)) || ((rss < MEM_MAX_KIB && hwm < MEM_MAX_KIB)) ||
		fail "vpn $pid: VmRSS $rss KiB, VmHWM $hwm KiB, want < $MEM_MAX_KIB"
done

# Quiet both devices, then read the counters until they stop moving.
ip -n "$NS1" link set tun0 down
ip -n "$NS2" link set tun0 down
# side N: side N's counters, as "rx_packets rx_bytes tx_packets tx_bytes
# rx_dropped rx_invalid", after a fresh SIGUSR1.
side() {
	local pid k
	pid=$([[ $1 == 1 ]] && echo "$vpn1" || echo "$vpn2")
	counters_now "$pid" "$TMP/vpn$1.err" >/dev/null
	for k in rx_packets rx_bytes tx_packets tx_bytes rx_dropped rx_invalid; do
		printf '%s ' "$(counter "$TMP/vpn$1.err" "$k")"
	done
}
last='' settled=0
for _ in $(seq 1 20); do
	now="$(side 1) $(side 2)"
	[[ $now != "$last" ]] || { settled=1; break; }
	last=$now
	sleep 0.2
done
((settled)) || fail "the counters did not settle in 4 s: $now"
read -r rx1 rxb1 tx1 txb1 drop1 inv1 rx2 rxb2 tx2 txb2 drop2 inv2 <<<"$now"
((inv1 == 0 && inv2 == 0)) || fail "invalid frames: $inv1 and $inv2"
((tx1 == rx2 + drop2)) ||
	fail "side 1 sent $tx1 packets; side 2 wrote $rx2 and dropped $drop2"
((tx2 == rx1 + drop1)) ||
	fail "side 2 sent $tx2 packets; side 1 wrote $rx1 and dropped $drop1"
((txb1 >= rxb2 && txb2 >= rxb1)) ||
	fail "bytes: side 1 sent $txb1, side 2 wrote $rxb2; side 2 sent $txb2, side 1 wrote $rxb1"
# What iperf3 received went through the tunnel, with headers on top.
((txb2 > got_up && txb1 > got_down)) ||
	fail "the tunnel carried less than iperf3 received: $txb2 <= $got_up or $txb1 <= $got_down"
[[ ! -e $TMP/vpn1.rc && ! -e $TMP/vpn2.rc ]] ||
	fail "a vpn exited: side 1: $(vpn_said 1); side 2: $(vpn_said 2)"
say "counters agree: 1->2 $tx1 = $rx2 + $drop2 dropped; 2->1 $tx2 = $rx1 + $drop1 dropped"
