#!/bin/bash
# tests/51-valgrind.sh - valgrind memcheck on a bidirectional transfer.
#
# Side 1's vpn runs under valgrind (--error-exitcode=99, full leak check,
# definite leaks are errors) in the article's pipeline.
# - 4 MiB go each way through the tunnel and arrive intact (sha256).
# - SIGTERM ends it: exit 0, so valgrind found no invalid access, no use of
#   uninitialised memory and no leak.
# - Once more, on its own, answering an echo request and ended by EOF on
#   stdin: exit 0 again.
# Skipped for the ASan build: valgrind cannot run it.
# run.sh: heavy
. "$(dirname "$0")/lib-pipe.sh"
need valgrind
((VPN_SANITIZED != 1)) || skip "valgrind cannot run an ASan build"

VG=(valgrind -q --error-exitcode=99 --leak-check=full
    --errors-for-leak-kinds=definite --track-fds=no)

# vg_said LOG: valgrind's report, if any.
vg_said() { grep -v '^vpn: ' "$1" | head -20 || true; }

pair
pipe_side 1 "$NS1" "-l 33960" "${VG[@]}" "$VPN" -v
wait_for 10 listening "$NS1" 33960
pipe_side 2 "$NS2" "192.0.2.1 33960" "$VPN" -v
wait_for 10 has_link "$NS1" tun0
wait_for 5 has_link "$NS2" tun0
tun_up "$NS1" tun0 10.9.0.1/24
tun_up "$NS2" tun0 10.9.0.2/24
wait_for 10 ip netns exec "$NS2" ping -c 1 -W 1 10.9.0.1

t0=$(date +%s%N)
transfer_check "$NS2" "$NS1" 10.9.0.1 4
transfer_check "$NS1" "$NS2" 10.9.0.2 4
say "4 MiB each way intact in $(ms_since "$t0") ms, side 1 under valgrind"

vg=''
for pid in $(ip netns pids "$NS1"); do
	[[ $(readlink "/proc/$pid/exe") != */memcheck-* ]] || vg=$pid
done
[[ -n $vg ]] || fail "no valgrind process in $NS1"
kill -TERM "$vg"
wait_for 10 vpn_rc 1
rc=$(vpn_rc 1)
((rc == 0)) || fail "under valgrind, SIGTERM: exit $rc, want 0: $(vg_said "$TMP/vpn1.err")"
grep -q '^vpn: tun0: rx_packets=[1-9][0-9]* ' "$TMP/vpn1.err" ||
	fail "under valgrind: no counters at exit: $(cat "$TMP/vpn1.err")"
say "SIGTERM: exit 0, valgrind clean"

# Alone, ended by EOF.
ns=$NS1
mkfifo "$TMP/in"
exec 5<>"$TMP/in"
spawn ip netns exec "$ns" "${VG[@]}" "$VPN" -v -i tv0 <"$TMP/in" >"$TMP/out" 2>"$TMP/err" 5>&-
pid=$!
wait_for 10 has_link "$ns" tv0
tun_up "$ns" tv0 10.9.1.1/24
wait_for 5 carrier "$ns" tv0
hexbin "$(frame "$(ip4_echo 10.9.1.2 10.9.1.1 1 abcdef)")" >&5
reply() { frames_in "$TMP/out" | grep -E '^45.{16}01.{20}00' >/dev/null; }
wait_for 10 reply
exec 5>&-
rc=0
wait "$pid" || rc=$?
((rc == 0)) || fail "under valgrind, EOF: exit $rc, want 0: $(vg_said "$TMP/err")"
say "EOF: exit 0, valgrind clean"
