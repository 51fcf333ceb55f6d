#!/bin/bash
# tests/62-demo.sh - the README's first command, make demo, does what it
# says and leaves nothing behind.
#
# - It exits 0, and its report shows host A's pings answered, host B's
#   answer over TCP, and iperf3's figures.
# - No namespace of its own is left, and the host's own network is as it
#   was: links, routes, firewall rules.
. "$(dirname "$0")/lib.sh"
need iperf3 nc iptables

host_state() {
	ip -o link | sed 's/^[0-9]*: //; s/ link\/ether .*//'
	ip route
	iptables-save | grep -v '^#'
	ip netns list | grep '^vpndemo-' || true
}
before=$(host_state)
rc=0
cd "$ROOT" && VPN=$VPN timeout 120 make demo >"$TMP/demo.out" 2>&1 || rc=$?
((rc == 0)) || fail "make demo: exit $rc: $(tail -5 "$TMP/demo.out")"
for want in ' 0% packet loss' 'host B answered: hello from host B' 'Mbits/sec receiver' 'Done.'; do
	grep -qF -- "$want" "$TMP/demo.out" || fail "make demo's report lacks '$want': $(cat "$TMP/demo.out")"
done
say "make demo: pings answered, TCP answered, iperf3 ran"
after=$(host_state)
[[ $after == "$before" ]] ||
	fail "make demo left behind: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | tr '\n' ' ')"
say "make demo: nothing left behind"
