#!/bin/bash
# tests/15-signals.sh - signals and the ends of the stream.
#
# - SIGTERM and SIGINT end vpn with status 0 within a second.
# - SIGUSR1 prints the counters and vpn goes on.
# - stdout closed by its reader: a packet to send makes vpn exit 1 with
#   "vpn: stdout: Broken pipe" (SIGPIPE is ignored), or, with nothing to
#   send, "vpn: stdout: closed by the reader".
# - The device vpn created disappears with it.
# - A stream that stops inside a frame: a run of one TCP stream's segments
#   that waits for the rest of the next one (docs/vpn.1: stdin brings 100
#   Mbit/s or more) reaches the device all the same, within a second.
. "$(dirname "$0")/lib.sh"

ns=$NS_PREFIX-1
ns_add "$ns"
mkfifo "$TMP/in"

# start NAME: vpn on a new device NAME, stdin held open on fd 5.
start() {
	exec 5<>"$TMP/in"
	spawn ip netns exec "$ns" "$VPN" -v -i "$1" <"$TMP/in" >"$TMP/out" 2>"$TMP/err" 5>&-
	pid=$!
	wait_for 5 has_link "$ns" "$1"
}

for sig in TERM INT; do
	start ts0
	t0=$(date +%s%N)
	kill -"$sig" "$pid"
	rc=0
	wait "$pid" || rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	exec 5>&-
	((rc == 0)) || fail "SIG$sig: exit $rc, want 0: $(cat "$TMP/err")"
	((ms < 1000)) || fail "SIG$sig: took $ms ms to exit"
	grep -q '^vpn: ts0: rx_packets=0 ' "$TMP/err" || fail "SIG$sig: no counters at exit"
	! has_link "$ns" ts0 || fail "SIG$sig: ts0 still exists after exit"
	say "SIG$sig: exit 0 in $ms ms, device gone"
done

start ts1
kill -USR1 "$pid"
wait_for 5 grep -q '^vpn: ts1: rx_packets=0 rx_bytes=0 .*tx_packets=0 ' "$TMP/err"
kill -0 "$pid" || fail "SIGUSR1: vpn exited"
exec 5>&-
wait "$pid" || fail "after SIGUSR1: exit $?, want 0"
say "SIGUSR1 printed the counters"

# A run that waits, and what it waits for never comes.  16 MB of
# keepalives come first, so that stdin's rate is measured fast; then three
# 1000-byte segments of one TCP stream, and the headers and 20 bytes of
# the fourth, all from one file (no pause between).
seg() { ip4_tcp 10.9.0.2 10.9.0.1 40000 9 "$1" 10 "$payload"; }
kas=8000000
kas_read() { [[ $(counter "$TMP/err" keepalives_rx) == "$kas" ]]; }
kas_read_now() { counters_now "$pid" "$TMP/err" >/dev/null && kas_read; }
held_gone() {
	counters_now "$pid" "$TMP/err" >/dev/null &&
	    [[ $(counter "$TMP/err" rx_packets) == 3 ]]
}
payload=$(printf '5a%.0s' {1..1000})
held=$(frame "$(seg 1)")$(frame "$(seg 1001)")$(frame "$(seg 2001)")
next=$(frame "$(seg 3001)")
next=${next:0:2 * (2 + 40 + 20)}
{ head -c $((2 * kas)) /dev/zero; hexbin "$held$next"; } >"$TMP/held"
start ts2
tun_up "$ns" ts2 10.9.0.1/24
cat "$TMP/held" >&5
wait_for 10 kas_read_now
wait_for 1 held_gone
counters_are "$TMP/err" rx_packets=3 rx_bytes=3120 rx_dropped=0
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
exec 5>&-
((rc == 0)) || fail "held run, SIGTERM: exit $rc, want 0: $(cat "$TMP/err")"
say "a stream stopped in a frame: the 3 segments before it reached ts2"

# stdout's reader goes away while a packet is waiting to be sent.
ip -n "$ns" tuntap add dev tv0 mode tun
tun_up "$ns" tv0 10.9.0.1/24
exec 5<>"$TMP/in"
rc=0
ip netns exec "$ns" "$VPN" -i tv0 <"$TMP/in" 2>"$TMP/err" 5>&- | true &
PIDS+=("$!")
sleep 0.5			# 'true' has exited: stdout has no reader
ip netns exec "$ns" ping -c 1 -W 1 10.9.0.2 >/dev/null 2>&1 || true
wait_for 5 test -s "$TMP/err"
exec 5>&-
[[ $(cat "$TMP/err") == "vpn: stdout: Broken pipe" || $(cat "$TMP/err") == "vpn: stdout: closed by the reader" ]] ||
	fail "stdout closed: said '$(cat "$TMP/err")'"
say "stdout closed: $(cat "$TMP/err")"

# The exit status, directly: a closed pipe and nothing to send.
rc=0
# shellcheck disable=SC2094 # the FIFO's writer end is only held open
ip netns exec "$ns" "$VPN" -i tv0 5<>"$TMP/in" <"$TMP/in" 2>"$TMP/err" | true || rc=$?
((rc == 1)) || fail "stdout closed: exit $rc, want 1"
[[ $(cat "$TMP/err") == "vpn: stdout: closed by the reader" ]] ||
	fail "stdout closed, idle: said '$(cat "$TMP/err")'"
say "stdout closed while idle: exit 1"
