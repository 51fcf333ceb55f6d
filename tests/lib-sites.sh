#!/bin/bash
# tests/lib-sites.sh - lib.sh, plus the two sites of scripts/netns.sh with
# server.sh and client.sh between them.  Sourced, instead of lib.sh, by the
# script tests (3x).
#
#  $A ── $GWA (client.sh) ── $INET ── $GWB (server.sh) ── $B
#  172.16.1.1    tun0 10.1.1.2            tun0 10.1.1.1    172.20.1.2

# shellcheck disable=SC2034 # names here are for the tests that source this
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# On the way out, as well as lib.sh's cleanup: a sanitizer's report in any
# script's log fails the test, even when a reconnect hid the crash.
sites_exit() {
	local rc=$? bad pid
	for pid in "${SCRIPTS[@]}"; do	# let the scripts undo their work
		kill -TERM "$pid" 2>/dev/null || continue
		timeout 10 tail --pid="$pid" -f /dev/null || true
	done
	bad=$(grep -l 'Sanitizer\|runtime error' "$TMP"/*.log 2>/dev/null || true)
	if ((rc == 0)) && [[ -n $bad ]]; then
		printf 'FAIL: %s: sanitizer report in %s\n' "$TEST_NAME" "$bad" >&3
		# shellcheck disable=SC2086 # a list of files
		grep -h -A5 'Sanitizer\|runtime error' $bad >&3
		rc=1
	fi
	lib_cleanup "$rc"
	exit "$rc"
}
trap sites_exit EXIT
SCRIPTS=()

SERVER_SH=$ROOT/scripts/server.sh
CLIENT_SH=$ROOT/scripts/client.sh

# sites: build the picture; lib.sh's cleanup deletes the namespaces.
sites() {
	local ns
	A=$NS_PREFIX-a GWA=$NS_PREFIX-gwa INET=$NS_PREFIX-inet
	GWB=$NS_PREFIX-gwb B=$NS_PREFIX-b
	for ns in $(sites_names "$NS_PREFIX"); do
		NSES+=("$ns")
	done
	sites_up "$NS_PREFIX"
	mkdir "$TMP/run"		# the scripts' TMPDIR: their FIFO directories
}

# server NAME ARGS...: server.sh on gateway B, its stderr in $TMP/NAME.log;
# $! is the script.  env restores SIGINT, which & would have ignored.
server() {
	local name=$1
	shift
	spawn ip netns exec "$GWB" env --default-signal=INT VPN="$VPN" TMPDIR="$TMP/run" VPN_RUNDIR="$TMP/rundir" "$SERVER_SH" "$@" \
	    2>"$TMP/$name.log"
	SCRIPTS+=("$!")
}

# client NAME ARGS...: client.sh on gateway A, likewise.
client() {
	local name=$1
	shift
	spawn ip netns exec "$GWA" env --default-signal=INT VPN="$VPN" TMPDIR="$TMP/run" VPN_RUNDIR="$TMP/rundir" "$CLIENT_SH" "$@" \
	    2>"$TMP/$name.log"
	SCRIPTS+=("$!")
}

# said NAME TEXT: the script's log holds TEXT (a fixed string).
said() { grep -qF -- "$2" "$TMP/$1.log"; }

# attempts NAME N: client NAME has failed N attempts and tries again.
attempts() { (($(grep -c 'trying again in' "$TMP/$1.log") >= $2)); }

# reach NS ADDR: one ping from NS to ADDR is answered.
reach() { ip netns exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1; }

# up_both [SECS]: the sites reach each other through the tunnel.
up_both() {
	wait_for "${1:-10}" reach "$A" 172.20.1.2
}

# stop PID NAME: SIGTERM to a script; it exits 143 having cleaned up.
stop() {
	local rc=0
	kill -TERM "$1"
	wait "$1" || rc=$?
	((rc == 143)) || fail "$2 on SIGTERM: exit $rc, want 143: $(tail -3 "$TMP/$2.log")"
}

# snapshot NS: what the scripts may change in NS, for before/after diffs:
# links, routes of both families, tagged rules, forwarding, our FIFO
# directories, and processes.
snapshot() {
	local ns=$1
	ip -n "$ns" -o link | sed 's/^[0-9]*: //; s/ link\/ether .*//'
	ip -n "$ns" route
	ip -n "$ns" -6 route | grep -v '^fe80::/64 \|^multicast \|^ff00::/8 ' || true
	ip netns exec "$ns" iptables-save | grep 'vpn:' || true
	ip netns exec "$ns" ip6tables-save | grep 'vpn:' || true
	ip netns exec "$ns" sysctl net.ipv4.ip_forward net.ipv6.conf.all.forwarding
	echo "pids: $(ip netns pids "$ns" | tr '\n' ' ')"
}

# tmpdirs: the scripts' private FIFO directories, and what they keep in
# VPN_RUNDIR but the one lock file they share.
tmpdirs() {
	find "$TMP/run" -mindepth 1 -maxdepth 1 | sort
	find "$TMP/rundir" -mindepth 1 ! -name lock 2>/dev/null | sort
}

# same_as BEFORE NS WHAT: NS looks as it did in BEFORE (a snapshot).
same_as() {
	local now
	now=$(snapshot "$2")
	[[ $now == "$1" ]] ||
		fail "$3: left behind in $2: $(diff <(echo "$1") <(echo "$now") | grep '^[<>]' | tr '\n' ' ')"
}
