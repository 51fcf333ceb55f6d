#!/bin/bash
# tests/54-seccomp.sh - the system call filter: on, and it bites.
#
# - A running vpn (TUN, stream; and datagram mode; and after -u) has a
#   seccomp filter and no new privileges (/proc/PID/status), and still
#   moves packets: every other test of the suite runs under it too.
# - tests/seccomp-probe.c, sandbox.c with the filter on, is let write and
#   set stdout's queue (TCP_NOTSENT_LOWAT, SO_SNDBUF), and killed by SIGSYS
#   for a socket(), an open(), an ioctl that is not one of the loop's,
#   executable memory, and any other setsockopt() (SO_BINDTODEVICE, whose
#   number is TCP_NOTSENT_LOWAT's; TCP_SYNCNT, SO_SNDBUF's), and an fcntl
#   that is not the loop's (F_SETOWN).
# Not for the sanitized build, which goes without the filter (its runtime
# makes calls of its own): make check runs this file once.
. "$(dirname "$0")/lib-pipe.sh"
need cc
((VPN_SANITIZED != 1)) || fail "run this on the unsanitized build: the ASan build has no filter"

# filtered PID: seccomp mode 2 (filter), and no new privileges.
filtered() {
	grep -qx 'Seccomp:[[:space:]]*2' "/proc/$1/status" &&
	    grep -qx 'NoNewPrivs:[[:space:]]*1' "/proc/$1/status"
}

on() {
	local pid srv cli
	pair
	rc_pair -k 1
	wait_for 5 ip netns exec "$NS2" ping -c 1 -W 1 10.9.0.1
	for pid in $(pid_of "$NS1" "$VPN") $(pid_of "$NS2" "$VPN"); do
		wait_for 5 filtered "$pid"
	done
	transfer_check "$NS2" "$NS1" 10.9.0.1 2
	spawn ip netns exec "$NS1" socat UDP-LISTEN:33970 EXEC:"$VPN -k 1 -i tun7",nofork
	srv=$!
	wait_for 5 listening "$NS1" 33970 u
	spawn ip netns exec "$NS2" socat UDP:192.0.2.1:33970 \
	    EXEC:"$VPN -k 1 -u nobody -i tun7",nofork
	cli=$!
	wait_for 5 has_link "$NS1" tun7
	wait_for 5 filtered "$srv"
	wait_for 5 filtered "$cli"
}
check "a running vpn is filtered, and carries packets" on

bites() {
	local rc how
	cc -D_GNU_SOURCE -O1 -o "$TMP/probe" "$ROOT/tests/seccomp-probe.c" 2>"$TMP/cc.log" ||
		fail "cc: $(head -3 "$TMP/cc.log")"
	[[ $("$TMP/probe" write) == ok ]] || fail "the filter does not let write through"
	[[ $("$TMP/probe" sockopt) == ok ]] ||
		fail "the filter does not let TCP_NOTSENT_LOWAT and SO_SNDBUF through"
	[[ $("$TMP/probe" fcntl) == ok ]] ||
		fail "the filter does not let F_SETPIPE_SZ and F_SETFL through"
	for how in socket open ioctl mmap-exec sockopt-level sockopt-name \
	    fcntl-owner; do
		rc=0
		"$TMP/probe" "$how" 2>/dev/null || rc=$?
		((rc == 128 + $(kill -l SYS))) || fail "$how: exit $rc, want death by SIGSYS"
	done
}
check "a call the loop does not make kills: socket, open, ioctl, exec memory, setsockopt" bites
