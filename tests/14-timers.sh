#!/bin/bash
# tests/14-timers.sh - keepalives (-k) and the dead-peer timeout (-t).
#
# - With -k 1 and nothing to send, a keepalive frame goes out each second.
# - With -t 1 and nothing arriving, vpn exits 1 with "peer silent for 1 s".
# - Keepalives arriving on stdin keep -t from firing.
# - An exit on an error says the counters as a clean one does: after
#   "peer silent", -v prints them; after a bad frame read with a keepalive,
#   so that no write of the loop's comes between, -s writes them.
. "$(dirname "$0")/lib.sh"

ns=$NS_PREFIX-1
ns_add "$ns"

# 1. -k 1: keepalive frames (two zero bytes) on stdout.
keepalive() {
	mkfifo "$TMP/in"
	exec 5<>"$TMP/in"
	spawn ip netns exec "$ns" "$VPN" -v -k 1 -i tk%d <"$TMP/in" >"$TMP/out" 2>"$TMP/err" 5>&-
	pid=$!
	sleep 3.5
	exec 5>&-
	wait "$pid" || fail "-k: exit $?, want 0: $(cat "$TMP/err")"
	n=$(frames_in "$TMP/out" | grep -c '^$' || true)
	((n >= 2 && n <= 4)) || fail "-k 1 for 3.5 s: $n keepalives out, want 3 (2 to 4)"
	counters_are "$TMP/err" keepalives_rx=0 "keepalives_tx=$n"
	say "-k 1 sent $n keepalives in 3.5 s"
}
check "-k 1: a keepalive frame each second" keepalive

# 2. -t 1 with a silent peer: exit 1 after about a second.
silent() {
	exec 5<>"$TMP/in"
	start=$(date +%s%N)
	rc=0
	msg=$(timeout 10 ip netns exec "$ns" "$VPN" -t 1 -i tk%d <"$TMP/in" 2>&1 >/dev/null 5>&-) ||
		rc=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	exec 5>&-
	((rc == 1)) || fail "-t 1: exit $rc, want 1 (said '$msg')"
	[[ $msg == "vpn: peer silent for 1 s" ]] || fail "-t 1: said '$msg'"
	((ms >= 900 && ms < 3000)) || fail "-t 1: exited after $ms ms, want about 1000"
	say "-t 1 ended a silent peer after $ms ms"
}
check "-t 1, a silent peer: exit 1 after a second" silent

# 2b. The same with -v and -s, after one keepalive: the counters at exit.
silent_said() {
	exec 5<>"$TMP/in"
	spawn ip netns exec "$ns" "$VPN" -v -s "$TMP/status" -t 1 -i tk%d \
	    <"$TMP/in" >/dev/null 2>"$TMP/err" 5>&-
	pid=$!
	hexbin 0000 >&5
	rc=0
	wait "$pid" || rc=$?
	exec 5>&-
	((rc == 1)) || fail "-t 1 -v: exit $rc, want 1: $(cat "$TMP/err")"
	grep -q '^vpn: peer silent for 1 s$' "$TMP/err" ||
		fail "-t 1 -v: said '$(cat "$TMP/err")'"
	counters_are "$TMP/err" keepalives_rx=1 rx_packets=0
	say "after 'peer silent', -v said keepalives_rx=1"

	# A keepalive and a frame that is no IP packet, in one read: vpn
	# exits on the frame before its loop could write the file.
	rc=0
	hexbin "0000$(frame "$(printf '00%.0s' {1..20})")" |
		ip netns exec "$ns" "$VPN" -s "$TMP/status" -i tk%d \
		    >/dev/null 2>"$TMP/err" || rc=$?
	((rc == 1)) || fail "a bad frame: exit $rc, want 1: $(cat "$TMP/err")"
	grep -q 'is not an IP packet' "$TMP/err" ||
		fail "a bad frame: said '$(cat "$TMP/err")'"
	grep -q ' keepalives_rx=1 .* written=' "$TMP/status" ||
		fail "-s at an exit on a bad frame: '$(cat "$TMP/status")'"
	say "after a bad frame, -s said keepalives_rx=1"
}
check "-v, -s: the counters at an exit on an error" silent_said

# 3. -t 1 with a keepalive every 0.3 s for 3 s: still running, then EOF.
kept() {
	exec 5<>"$TMP/in"
	spawn ip netns exec "$ns" "$VPN" -v -t 1 -i tk%d <"$TMP/in" >/dev/null 2>"$TMP/err" 5>&-
	pid=$!
	for _ in $(seq 1 10); do
		hexbin 0000 >&5
		sleep 0.3
	done
	kill -0 "$pid" 2>/dev/null || fail "-t 1 with keepalives: exited: $(cat "$TMP/err")"
	exec 5>&-
	wait "$pid" || fail "-t 1 with keepalives: exit $?, want 0: $(cat "$TMP/err")"
	counters_are "$TMP/err" keepalives_rx=10 keepalives_tx=0
	say "keepalives keep -t from firing"
}
check "-t 1, keepalives every 0.3 s: still running" kept
