#!/bin/bash
# tests/lib-howto.sh - lib-sites.sh, plus "on": run lines of docs/howto.md
# (or of the man page), exactly as written there, on one host of the
# picture.  Sourced by the how-to tests (7x).
#
# Each host has a home of its own, $TMP/home/NS, laid out like a built
# source tree with vpn also installed: ./vpn, scripts/, bin/vpn.  A command
# runs in a mount namespace of its own, with that home bound over /root (its
# working directory and $HOME) and $TMP/home/NS/tmp over /tmp, so the docs'
# /tmp/fifo and ~/.ssh are per host, and nothing outside this test changes.

# shellcheck disable=SC2034 # names here are for the tests that source this
# shellcheck source=tests/lib-sites.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib-sites.sh"

# home_of NS: NS's home; made on first use.
home_of() {
	local h=$TMP/home/$1
	if [[ ! -d $h ]]; then
		chmod 0755 "$TMP"	# "nobody" must reach ./vpn (recipe 8)
		install -d -m 0755 "$TMP/home" "$h" "$h/root" "$h/root/bin"
		install -d -m 1777 "$h/tmp"
		install -d -m 0755 "$h/run"
		install -m 0755 "$VPN" "$h/root/vpn"
		install -m 0755 "$VPN" "$h/root/bin/vpn"
		cp -R "$ROOT/scripts" "$h/root/scripts"
	fi
	echo "$h"
}

# on_cmd NS SCRIPT [SRC DST]...: set ON to the command that runs SCRIPT
# with bash -e as root on host NS, after binding each SRC over DST (before
# /root and /tmp, so SRC may be anywhere).  SIGINT is restored: & would
# have ignored it, and the docs stop things with Ctrl-C.
on_cmd() {
	local ns=$1 script=$2 h
	shift 2
	h=$(home_of "$ns")
	# shellcheck disable=SC2016 # expanded by the inner sh
	ON=(ip netns exec "$ns" unshare -m --propagation private sh -c '
	    h=$1 script=$2
	    shift 2
	    while [ "$#" -ge 2 ]; do
		mount --bind "$1" "$2" || exit
		shift 2
	    done
	    mount --bind "$h/root" /root && mount --bind "$h/tmp" /tmp && cd /root &&
	    exec env -u VPN --default-signal=INT HOME=/root PATH="/root/bin:$PATH" \
		VPN_RUNDIR="$h/run" \
		bash -e -c "$script"' - "$h" "$script" "$@")
}

# on NS [SRC DST]... <<'EOF': run the lines on host NS and wait; a failure
# fails the test, showing the lines and what they printed.
on() {
	local ns=$1 script rc=0
	shift
	script=$(cat)
	on_cmd "$ns" "$script" "$@"
	"${ON[@]}" </dev/null >"$TMP/on.out" 2>&1 || rc=$?
	((rc == 0)) || fail "on $ns: '$script': exit $rc: $(tail -5 "$TMP/on.out")"
}

# on_bg NAME NS [SRC DST]... <<'EOF': the same in the background, output in
# $TMP/NAME.log; $! is the bash running the lines (or the one command they
# are), stopped with SIGTERM on the way out like the scripts.
on_bg() {
	local name=$1 ns=$2 script
	shift 2
	script=$(cat)
	on_cmd "$ns" "$script" "$@"
	spawn "${ON[@]}" </dev/null >"$TMP/$name.log" 2>&1
	SCRIPTS+=("$!")
}

# procs NS NAME: PIDs of the processes in NS whose command name is NAME.
procs() {
	local pid
	for pid in $(ip netns pids "$1"); do
		[[ $(cat "/proc/$pid/comm" 2>/dev/null) != "$2" ]] || echo "$pid"
	done
}

# rule_hits NS TABLE CHAIN TARGET: packets counted by the rule of
# iptables -t TABLE CHAIN that jumps to TARGET (there must be one).
rule_hits() {
	ip netns exec "$1" iptables -w -t "$2" -S "$3" -v |
	    sed -n "s/.* -c \([0-9]*\) [0-9]* -j $4\( .*\)\{0,1\}\$/\1/p"
}
