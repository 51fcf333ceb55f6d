#!/bin/bash
# tests/42-stdout-closed.sh - stdout is closed under vpn while it sends.
#
# vpn's device gets a UDP flood; its stdout is a FIFO read by a process of
# ours.
# - The reader exits after 200000 bytes, mid-stream: vpn exits 1 at once
#   with "vpn: stdout: Broken pipe" (or "closed by the reader", if the
#   close finds nothing queued).
# - The reader is stopped until vpn's backlog is full (its tx counter,
#   from SIGUSR1, stops while the flood goes on), then killed: vpn, with
#   frames queued, exits 1 with "vpn: stdout: Broken pipe".
. "$(dirname "$0")/lib-pipe.sh"
need socat

ns=$NS_PREFIX-1
ns_add "$ns"
mkfifo "$TMP/in" "$TMP/out"
exec 5<>"$TMP/in"		# stdin stays open and silent

# start READER...: vpn on tv0, stdout to the FIFO that READER reads, and a
# UDP flood into tv0.  Sets $vpn, $reader and $flood.
start() {
	spawn "$@" "$TMP/out" >/dev/null
	reader=$!
	spawn ip netns exec "$ns" "$VPN" -i tv0 <"$TMP/in" >"$TMP/out" 2>"$TMP/err" 5>&-
	vpn=$!
	wait_for 5 has_link "$ns" tv0
	tun_up "$ns" tv0 10.9.0.1/24
	spawn ip netns exec "$ns" socat -u /dev/zero UDP-SENDTO:10.9.0.2:9 2>/dev/null
	flood=$!
}

# ended WANT...: vpn exits 1 within a second, saying one of WANT.
ended() {
	local rc=0 t0 ms w msg
	t0=$(date +%s%N)
	wait_for 2 exited "$vpn"
	wait "$vpn" || rc=$?
	ms=$(ms_since "$t0")
	msg=$(grep -v ' rx_packets=' "$TMP/err" || true)
	((rc == 1)) || fail "exit $rc, want 1 ($msg)"
	for w in "$@"; do
		[[ $msg != "$w" ]] || break
	done
	[[ $msg == "$w" ]] || fail "said '$msg', want '$1'"
	((ms < 1000)) || fail "exited ${ms} ms after stdout closed, want < 1000"
	kill "$flood" 2>/dev/null || true	# it fails once tv0 is gone
	wait "$flood" 2>/dev/null || true
	wait_for 2 no_link "$ns" tv0
	say "exit 1 after $ms ms: $msg"
}

# 1. The reader leaves mid-stream.
start head -c 200000
wait "$reader" || fail "head exited $?"
ended "vpn: stdout: Broken pipe" "vpn: stdout: closed by the reader"

# 2. A full backlog, then the reader dies.
start cat
kill -STOP "$reader"
# tx_now: vpn's count of packets written to stdout, from SIGUSR1.
tx_now() {
	counters_now "$vpn" "$TMP/err" >/dev/null
	counter "$TMP/err" tx_packets
}
# full: vpn has stopped taking packets from the flooded device, so its
# backlog is full: the pipe, and out behind it.
full() {
	local a b
	a=$(tx_now)
	sleep 0.2
	b=$(tx_now)
	((a > 0 && a == b))
}
wait_for 10 full
kill -0 "$vpn" || fail "vpn exited while its reader was stopped"
kill -KILL "$reader"
ended "vpn: stdout: Broken pipe"
