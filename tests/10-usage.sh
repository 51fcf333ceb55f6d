#!/bin/bash
# tests/10-usage.sh - options: usage, version, and misuse.
#
# - -h prints the usage line on stdout and exits 0.
# - -V prints the version and exits 0.
# - Unknown options, stray arguments and bad numbers exit 2 with usage or a
#   message naming the option and quoting the value, on stderr only.
# - A device that cannot be opened is a runtime error: exit 1.
. "$(dirname "$0")/lib.sh"

USAGE='usage: vpn [-aDhOVvW] [-i ifname] [-k secs] [-s file] [-t secs] [-u user]'

# expect STATUS STDOUT STDERR -- ARGS...: one case: run vpn and compare
# all three.
expect() { check "vpn ${*:5}" expect_run "$@"; }
expect_run() {
	local want_rc=$1 want_out=$2 want_err=$3 rc=0 out err
	shift 4
	out=$("$VPN" "$@" </dev/null 2>"$TMP/err") || rc=$?
	err=$(cat "$TMP/err")
	((rc == want_rc)) || fail "vpn $*: exit $rc, want $want_rc"
	[[ $out == "$want_out" ]] || fail "vpn $*: stdout '$out', want '$want_out'"
	[[ $err == "$want_err" ]] || fail "vpn $*: stderr '$err', want '$want_err'"
}

expect 0 "$USAGE" '' -- -h
expect 0 "vpn 0.1" '' -- -V
expect 2 '' "vpn: -x: unknown option"$'\n'"$USAGE" -- -x
expect 2 '' "vpn: -i: needs an argument"$'\n'"$USAGE" -- -i
expect 2 '' "$USAGE" -- extra
expect 2 '' "vpn: -k: not a number from 1 to 86400: 'soon'" -- -k soon
expect 2 '' "vpn: -k: not a number from 1 to 86400: '0'" -- -k 0
expect 2 '' "vpn: -t: not a number from 1 to 86400: '86401'" -- -t 86401
expect 2 '' "vpn: -t: not a number from 1 to 86400: '5s'" -- -t 5s
expect 2 '' "vpn: -i: not an interface name (1 to 15 bytes): 'abcdefghijklmnop'" \
    -- -i abcdefghijklmnop
expect 2 '' "vpn: -i: not an interface name (1 to 15 bytes): ''" -- -i ''

# A TUN name taken by a TAP device: exit 1, and the message says why.
taken() {
	local ns rc err
	ns_add "$NS_PREFIX-1"
	ns=$NS_PREFIX-1
	ip -n "$ns" tuntap add dev tap7 mode tap
	rc=0
	err=$(ip netns exec "$ns" "$VPN" -i tap7 </dev/null 2>&1 >/dev/null) || rc=$?
	((rc == 1)) || fail "tun on a tap device: exit $rc, want 1"
	[[ $err == "vpn: TUNSETIFF tap7: the device exists and is not a TUN device" ]] ||
		fail "tun on a tap device: said '$err'"
}
check "a TUN name taken by a TAP device" taken
