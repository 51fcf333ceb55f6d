#!/bin/bash
# tests/64-lab.sh - make lab: the README's picture to practise in.
#
# - scripts/lab.sh -h prints its usage and exits 0, changing nothing.
# - Started, it builds the five hosts and says how to enter each; host A
#   reaches gateway A, and gateway A the router, as docs/howto.md expects.
# - SIGTERM (and Ctrl-C) deletes the namespaces: none is left, nor any
#   process in them.
. "$(dirname "$0")/lib.sh"

lab=t$$
usage() {
	local out rc=0
	out=$("$ROOT/scripts/lab.sh" -h) || rc=$?
	((rc == 0)) || fail "lab.sh -h: exit $rc"
	[[ $out == "usage: lab.sh [-h]"* ]] || fail "lab.sh -h: '${out:0:40}'"
	[[ $(ip netns list) != *"$lab-"* ]] || fail "lab.sh -h made namespaces"
}
check "-h prints the usage, and changes nothing" usage

# up SIG: a lab, used, then stopped with SIG.
up() {
	local pid rc=0
	spawn env --default-signal=INT LAB="$lab" "$ROOT/scripts/lab.sh" 2>"$TMP/lab.log"
	pid=$!
	wait_for 10 grep -q "Ctrl-C here takes it all down" "$TMP/lab.log"
	grep -q "ip netns exec $lab-gwb bash" "$TMP/lab.log" || fail "lab.sh said: $(cat "$TMP/lab.log")"
	ip netns exec "$lab-a" ping -c 1 -W 2 172.16.1.254 >/dev/null || fail "host A cannot reach gateway A"
	ip netns exec "$lab-gwa" ping -c 1 -W 2 198.51.100.2 >/dev/null || fail "gateway A cannot reach gateway B"
	kill "-$1" "$pid"
	wait "$pid" || rc=$?
	[[ $rc == 143 || $rc == 130 ]] || fail "lab.sh on SIG$1: exit $rc"
	[[ $(ip netns list) != *"$lab-"* ]] || fail "SIG$1: left: $(ip netns list | grep "^$lab-")"
}
check "up, used, and gone after SIGTERM" up TERM
check "up, used, and gone after SIGINT" up INT
