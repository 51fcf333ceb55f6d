#!/bin/bash
# tests/lib-pipe.sh - lib.sh, plus the article's pipeline with each vpn's
# exit status kept, and memory figures.  Sourced, instead of lib.sh, by the
# fault and load tests (4x, 5x).

# shellcheck disable=SC2034 # PIPE1, PIPE2 are for the tests that source this
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# pipe_side N NS NCARGS CMD...: the article's pipeline in NS, with CMD as
# the vpn: "cat fN | CMD | nc NCARGS >fN" (NCARGS split into words).  CMD's
# stderr goes to $TMP/vpnN.err, and its exit status to $TMP/vpnN.rc when it
# ends.  The pipeline's shell is $! (spawned).
pipe_side() {
	local n=$1 ns=$2 ncargs=$3
	shift 3
	[[ -p $TMP/f$n ]] || mkfifo "$TMP/f$n"
	# shellcheck disable=SC2016 # expanded by the inner sh
	spawn ip netns exec "$ns" sh -c 'f=$1 err=$2 rc=$3 nc=$4; shift 4
	    cat "$f" | { "$@" 2>"$err"; echo $? >"$rc"; } | nc $nc >"$f"' \
	    - "$TMP/f$n" "$TMP/vpn$n.err" "$TMP/vpn$n.rc" "$ncargs" "$@"
}

# rc_pair [VPNFLAGS...]: like lib.sh's article_pair (vpn -v), but each
# vpn's exit status is kept (pipe_side), so that a test can assert how each
# side ended.
rc_pair() {
	pipe_side 1 "$NS1" "-l 33960" "$VPN" -v "$@"
	PIPE1=$!
	wait_for 5 listening "$NS1" 33960
	pipe_side 2 "$NS2" "192.0.2.1 33960" "$VPN" -v "$@"
	PIPE2=$!
	wait_for 5 has_link "$NS1" tun0
	wait_for 5 has_link "$NS2" tun0
	tun_up "$NS1" tun0 10.9.0.1/24 fd00:9::1/64
	tun_up "$NS2" tun0 10.9.0.2/24 fd00:9::2/64
}

# vpn_rc N: side N's vpn exit status; fails while it is still running.
vpn_rc() {
	[[ -s $TMP/vpn$1.rc ]] || return 1
	cat "$TMP/vpn$1.rc"
}

# vpn_said N: what side N's vpn said, but the -v lines.
vpn_said() {
	grep -v '^vpn: tun0: \(TUN device\|rx_packets=\|the peer is up\)' "$TMP/vpn$1.err" || true
}

# ms_since NS: milliseconds since the date +%s%N reading NS.
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# vm_kib PID FIELD: a memory figure (VmRSS, VmHWM) of PID, in KiB.  The
# file is read whole, once: read(1) on it takes a line at a time and seeks
# back, the kernel writes the file anew for each read, and lines move when
# State's length does ("R (running)", "S (sleeping)"), so that a busy
# process's field could be missed (tests/44 failed so, 1 run in 4).
vm_kib() {
	local k v _ status
	status=$(<"/proc/$1/status")
	while read -r k v _; do
		[[ $k != "$2:" ]] || { echo "$v"; return 0; }
	done <<<"$status"
	return 1
}
