#!/bin/bash
# tests/33-teardown.sh - what the scripts set up, they take down, exactly.
#
# - Snapshots of both gateways (links, routes of both families, rules tagged
#   vpn:, forwarding, processes) and of the scripts' FIFO directories, taken
#   before the scripts start, equal those taken after SIGTERM, after
#   SIGINT, and after a server that served two sessions.
# - Forwarding is put back to what it was (gateway B: off).
# - IPv4 and IPv6 tunnel addresses and routes (-l, -r of both families).
# - Gateway A forwards already (a NAT gateway): client.sh leaves it on.
# - More signals during the teardown (10 to 40 ms apart) change nothing:
#   the teardown finishes, and the gateways are as they were.
. "$(dirname "$0")/lib-sites.sh"

sites
a0=$(snapshot "$GWA") b0=$(snapshot "$GWB")
[[ $(ip netns exec "$GWB" sysctl -n net.ipv4.ip_forward) == 0 ]] || fail "gateway B forwards before the test"

# checks SIG: start both, pass traffic, stop both with SIG, compare.
checks() {
	local sig=$1 srv cli rc
	server "srv$sig" -l 10.1.1.1/24 -l fd00:1::1/64 -r 172.16.1.0/24 -r fd00:a::/64
	srv=$!
	wait_for 5 listening "$GWB" 33960
	client "cli$sig" -s 198.51.100.2 -l 10.1.1.2/24 -l fd00:1::2/64 -r 172.20.1.0/24 -r fd00:b::/64
	cli=$!
	up_both
	ip netns exec "$GWA" ping -c 1 -W 2 fd00:1::1 >/dev/null || fail "$sig: no IPv6 across the tunnel"
	[[ $(ip netns exec "$GWB" sysctl -n net.ipv4.ip_forward) == 1 ]] || fail "$sig: server did not turn forwarding on"
	[[ -n $(tmpdirs) ]] || fail "$sig: no FIFO directory seen"
	for p in "$cli" "$srv"; do
		kill "-$sig" "$p"
		rc=0
		wait "$p" || rc=$?
		case $sig:$rc in
		TERM:143|INT:130) ;;
		*) fail "SIG$sig: exit $rc" ;;
		esac
	done
	same_as "$a0" "$GWA" "client after SIG$sig"
	same_as "$b0" "$GWB" "server after SIG$sig"
	[[ -z $(tmpdirs) ]] || fail "SIG$sig: FIFO directories left: $(tmpdirs)"
	grep -q '^\[#\] sysctl -qw net.ipv4.ip_forward=0$' "$TMP/srv$sig.log" ||
		fail "SIG$sig: server did not say it restored forwarding"
	grep -q '^\[#\] ip link del dev tun0$' "$TMP/cli$sig.log" ||
		fail "SIG$sig: client did not say it deleted tun0"
	say "SIG$sig: both gateways as they were"
}
check "SIGTERM: both gateways as they were" checks TERM
check "SIGINT: both gateways as they were" checks INT

# A server that served a client, lost it, and waits for the next.
between() {
	local srv cli
	server srvn -r 172.16.1.0/24
	srv=$!
	wait_for 5 listening "$GWB" 33960
	client clin -s 198.51.100.2 -l 10.1.1.2/24
	cli=$!
	wait_for 10 reach "$GWA" 10.1.1.1
	stop "$cli" clin
	wait_for 5 said srvn "waiting for the next client"
	wait_for 5 listening "$GWB" 33960
	stop "$srv" srvn
	same_as "$a0" "$GWA" "client after one session"
	same_as "$b0" "$GWB" "server waiting for its second client"
	[[ -z $(tmpdirs) ]] || fail "FIFO directories left: $(tmpdirs)"
}
check "a server between two clients: nothing left either" between

# A second signal during the teardown is ignored: the first one's teardown
# finishes.  Each signal goes 10 to 40 ms after the one before, while the
# scripts undo their changes (sysctl, rules, device).
twice() {
	local sig=$1 srv cli p rc
	server "srv2$sig" -l 10.1.1.1/24 -l fd00:1::1/64 -r 172.16.1.0/24 -r fd00:a::/64
	srv=$!
	wait_for 5 listening "$GWB" 33960
	client "cli2$sig" -s 198.51.100.2 -l 10.1.1.2/24 -l fd00:1::2/64 -r 172.20.1.0/24
	cli=$!
	up_both
	for p in "$cli" "$srv"; do
		kill "-$sig" "$p"
		sleep 0.0$((RANDOM % 3 + 1))
		kill "-$sig" "$p" 2>/dev/null || true
		sleep 0.0$((RANDOM % 3 + 1))
		kill "-$sig" "$p" 2>/dev/null || true
		rc=0
		wait "$p" || rc=$?
		case $sig:$rc in
		TERM:143|INT:130) ;;
		*) fail "SIG$sig twice: exit $rc" ;;
		esac
	done
	same_as "$a0" "$GWA" "client after SIG$sig three times"
	same_as "$b0" "$GWB" "server after SIG$sig three times"
	[[ -z $(tmpdirs) ]] || fail "SIG$sig three times: left: $(tmpdirs)"
}
check "SIGTERM three times in 100 ms: the first one's teardown finishes" twice TERM
check "SIGINT three times in 100 ms: the same" twice INT
