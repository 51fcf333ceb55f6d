#!/bin/bash
# tests/lib.sh - helpers for the tests: namespaces, bounded waits, frames.
#
# Sourced by each tests/NN-*.sh.  A test names its namespaces with $NS_PREFIX
# (unique per test process), registers them with ns_add, and lets the EXIT
# trap kill what runs inside them, by PID, and delete them.
#
# Environment, set by tests/run.sh:
#   VPN            absolute path of the binary under test (default ./vpn)
#   VPN_SANITIZED  1 when VPN is an ASan/UBSan build (memory figures differ)

# shellcheck disable=SC2034 # variables here are used by the tests that source it

set -eu -o pipefail
shopt -s extglob
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/netns.sh
. "$ROOT/scripts/netns.sh"
VPN=${VPN:-$ROOT/vpn}
VPN_SANITIZED=${VPN_SANITIZED:-0}
TEST_NAME=$(basename "$0" .sh)
NS_PREFIX=vpnt-$$
NSES=()
PIDS=()
TMP=$(mktemp -d "/tmp/vpnt-$$.XXXXXX")
SKIP=4				# exit status for "skipped", never a pass

exec 3>&2			# progress and failures: fd 3, never inside $(...)

say() { printf '[+] %s: %s\n' "$TEST_NAME" "$*" >&3; }
fail() { printf 'FAIL: %s: %s\n' "$TEST_NAME" "$*" >&3; exit 1; }
skip() { printf 'SKIP: %s: %s\n' "$TEST_NAME" "$*" >&3; exit "$SKIP"; }

# check NAME CMD...: one case of this file.  CMD (a function) runs in this
# shell, so that what it sets up stays for the next case; then "TEST:
# file: NAME [ OK ]".  If it fails (fail, or any command under set -e),
# the file stops, and the EXIT trap says "TEST: file: NAME [FAIL]".
CASE=''
check() {
	CASE=$1
	shift
	"$@"
	printf 'TEST: %s: %-40s [ OK ]\n' "$TEST_NAME" "$CASE" >&3
	CASE=''
}

# need CMD...: skip the test unless every command is installed.
need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || skip "$c is not installed"
	done
}

# ns_add NAME: create a namespace with loopback up; cleanup deletes it.
ns_add() {
	ip netns add "$1"
	NSES+=("$1")
	ip -n "$1" link set lo up
}

# spawn CMD...: run CMD in the background and remember its PID for cleanup.
# Use it as "spawn cmd; pid=$!" only at top level, never inside $(...).
# Redirections on the spawn line are opened by this shell before CMD starts,
# so a FIFO must already have its other end open (exec 5<>FIFO).  CMD must be
# a command, not a shell function: a function runs in a forked bash that
# keeps bash's saved copies of redirected descriptors (a FIFO's writer).
spawn() {
	"$@" <&0 &	# explicit, or bash gives a background job /dev/null

	PIDS+=("$!")
}

lib_cleanup() {
	local rc=${1:-$?} ns pid pids=()
	set +e
	if ((rc != 0 && rc != SKIP)) && [[ -n $CASE ]]; then
		printf 'TEST: %s: %-40s [FAIL]\n' "$TEST_NAME" "$CASE" >&3
	fi
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for ns in "${NSES[@]}"; do
		mapfile -t -O "${#pids[@]}" pids < <(ip netns pids "$ns" 2>/dev/null)
	done
	((${#pids[@]} == 0)) || kill "${pids[@]}" 2>/dev/null
	for pid in "${PIDS[@]}"; do	# bounded: 5 s for everything
		timeout 5 tail --pid="$pid" -f /dev/null 2>/dev/null
	done
	for ns in "${NSES[@]}"; do
		mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null)
		((${#pids[@]} == 0)) || kill -9 "${pids[@]}" 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap lib_cleanup EXIT
# run.sh's timeout sends SIGTERM: exit, so that the EXIT trap cleans up
# (a signal that kills bash skips it, and leaves the namespaces behind).
trap 'exit 143' TERM
trap 'exit 130' INT

# A wait that times out fails the test.
wait_failed() { fail "not true after ${1}s: ${*:2}"; }

# counters_are FILE KEY=VALUE...: vpn's last counters line in FILE says so.
counters_are() {
	local file=$1 kv got
	shift
	for kv in "$@"; do
		got=$(counter "$file" "${kv%%=*}")
		[[ $got == "${kv#*=}" ]] ||
			fail "${kv%%=*} is '$got', want ${kv#*=} (counters: $(counters "$file"))"
	done
}

# pair: namespaces $NS1 and $NS2 joined by veth, 192.0.2.1/24 and
# 192.0.2.2/24 (TEST-NET-1, reachable only inside these namespaces), and
# 2001:db8::1/64, 2001:db8::2/64.
pair() {
	NS1=$NS_PREFIX-1 NS2=$NS_PREFIX-2
	ns_add "$NS1"
	ns_add "$NS2"
	ip -n "$NS1" link add veth1 type veth peer name veth2 netns "$NS2"
	ip -n "$NS1" addr add 192.0.2.1/24 dev veth1
	ip -n "$NS2" addr add 192.0.2.2/24 dev veth2
	ip -n "$NS1" addr add 2001:db8::1/64 dev veth1 nodad
	ip -n "$NS2" addr add 2001:db8::2/64 dev veth2 nodad
	ip -n "$NS1" link set veth1 up
	ip -n "$NS2" link set veth2 up
}

# udp_pair SRVFLAGS CLIFLAGS: vpn on a UDP socket at each end of pair()
# (socat's nofork), port 33960; the client's flags must make it send first
# (-k), for its first datagram makes the server's tun0.  Their stderr goes
# to $TMP/e1 and $TMP/e2, their PIDs to SRV and CLI.
udp_pair() {
	spawn ip netns exec "$NS1" socat UDP-LISTEN:33960 \
	    EXEC:"$VPN -v $1 -i tun0",nofork 2>"$TMP/e1"
	SRV=$!
	wait_for 5 listening "$NS1" 33960 u
	spawn ip netns exec "$NS2" socat UDP:192.0.2.1:33960 \
	    EXEC:"$VPN -v $2 -i tun0",nofork 2>"$TMP/e2"
	CLI=$!
	wait_for 5 has_link "$NS2" tun0
	wait_for 5 has_link "$NS1" tun0
}

# article_pair [VPNFLAGS...]: the article's pipeline, as it is, on each side
# of pair(), joined by nc on port 33960; tun0 up as 10.9.0.1 and 10.9.0.2
# (and fd00:9::1, fd00:9::2).  Each side's stderr goes to $TMP/vpn1.err and
# $TMP/vpn2.err; the pipelines' shells are $PIPE1 and $PIPE2.
article_pair() {
	mkfifo "$TMP/f1" "$TMP/f2"
	# shellcheck disable=SC2016 # expanded by the inner sh
	spawn ip netns exec "$NS1" sh -c 'f=$1 vpn=$2; shift 2
	    cat "$f" | "$vpn" "$@" | nc -l 33960 >"$f"' \
	    - "$TMP/f1" "$VPN" "$@" 2>"$TMP/vpn1.err"
	PIPE1=$!
	wait_for 5 listening "$NS1" 33960
	# shellcheck disable=SC2016
	spawn ip netns exec "$NS2" sh -c 'f=$1 vpn=$2; shift 2
	    cat "$f" | "$vpn" "$@" | nc 192.0.2.1 33960 >"$f"' \
	    - "$TMP/f2" "$VPN" "$@" 2>"$TMP/vpn2.err"
	PIPE2=$!
	wait_for 5 has_link "$NS1" tun0
	wait_for 5 has_link "$NS2" tun0
	tun_up "$NS1" tun0 10.9.0.1/24 fd00:9::1/64
	tun_up "$NS2" tun0 10.9.0.2/24 fd00:9::2/64
	wait_for 5 carrier "$NS1" tun0
	wait_for 5 carrier "$NS2" tun0
}

# transfer_check NSSRC NSDST DSTADDR MB: send MB MiB of random bytes from
# NSSRC to DSTADDR:5001 in NSDST through nc, and compare checksums.
transfer_check() {
	local src=$1 dst=$2 addr=$3 mb=$4 want got fam=-4
	[[ $addr != *:* ]] || fam=-6	# nc -l listens on one family
	head -c "$((mb * 1024 * 1024))" /dev/urandom >"$TMP/payload"
	want=$(sha256sum <"$TMP/payload")
	# shellcheck disable=SC2016 # expanded by the inner sh
	spawn ip netns exec "$dst" sh -c 'nc "$2" -l 5001 >"$1"' - "$TMP/received" "$fam"
	wait_for 5 listening "$dst" 5001
	timeout 120 ip netns exec "$src" nc -N "$addr" 5001 <"$TMP/payload" ||
		fail "nc to $addr exited $?"
	wait_for 30 exited "${PIDS[-1]}"
	got=$(sha256sum <"$TMP/received")
	[[ $got == "$want" ]] ||
		fail "transfer of $mb MiB: sha256 $got, want $want ($(stat -c %s "$TMP/received") bytes arrived)"
}

# with_each_wire: run this test file three times, each in namespaces of its
# own: with vpn's default (TCP super-packets through the device, cut to the
# MTU on the wire and joined again), with -O (no super-packets), and with
# -W (super-packets whole on the wire).  The flags of the current run are
# in the array VPN_FLAGS.
with_each_wire() {
	local f
	if [[ -z ${VPN_FLAGS_RUN+x} ]]; then
		for f in '' -O -W; do
			say "vpn flags '$f'"
			VPN_FLAGS_RUN=$f bash "$0" || exit
		done
		exit 0
	fi
	TEST_NAME+="[${VPN_FLAGS_RUN:-default}]"
	read -ra VPN_FLAGS <<<"$VPN_FLAGS_RUN"
}

# -- frames: hex strings in, bytes out

# hexbin HEX: write the bytes HEX spells (no spaces).
hexbin() {
	local h=$1 out='' i
	for ((i = 0; i < ${#h}; i += 2)); do
		out+="\\x${h:i:2}"
	done
	printf '%b' "$out"
}

# frame HEX: HEX as one frame, the 2-byte length first.
frame() {
	printf '%04x%s' "$((${#1} / 2))" "$1"
}

# csum HEX: the Internet checksum of HEX, as 4 hex digits.
csum() {
	local h=$1 s=0 i
	((${#h} % 4 == 0)) || h+=00
	for ((i = 0; i < ${#h}; i += 4)); do
		s=$((s + 16#${h:i:4}))
	done
	while ((s >> 16)); do
		s=$(((s & 0xffff) + (s >> 16)))
	done
	printf '%04x' $((~s & 0xffff))
}

# ip4hex A.B.C.D: the address as 8 hex digits.
ip4hex() {
	local IFS=. a
	read -ra a <<<"$1"
	printf '%02x%02x%02x%02x' "${a[@]}"
}

# ip4_echo SRC DST SEQ [PAYLOADHEX]: an ICMP echo request, as hex.
ip4_echo() {
	local src dst icmp ip len
	src=$(ip4hex "$1") dst=$(ip4hex "$2")
	icmp="0800""0000""1234$(printf '%04x' "$3")${4:-}"
	icmp="0800$(csum "$icmp")${icmp:8}"
	len=$((20 + ${#icmp} / 2))
	ip="4500$(printf '%04x' "$len")00004000""4001""0000$src$dst"
	printf '45%s%s%s%s' "${ip:2:18}" "$(csum "$ip")" "${ip:24}" "$icmp"
}

# ip4_tcp SRC DST SPORT DPORT SEQ FLAGS [PAYLOADHEX]: a TCP segment with
# every checksum right (ACK number 1, window 501), as hex; FLAGS in hex
# (10: ACK, 02: SYN).
ip4_tcp() {
	local src dst tcp ip len
	src=$(ip4hex "$1") dst=$(ip4hex "$2")
	tcp=$(printf '%04x%04x%08x00000001' "$3" "$4" "$5")50$6'01f5''00000000'${7:-}
	len=$((${#tcp} / 2))
	tcp=${tcp:0:32}$(csum "$src$dst""0006$(printf '%04x' "$len")$tcp")${tcp:36}
	ip="4500$(printf '%04x' $((20 + len)))00004000""4006""0000$src$dst"
	printf '%s%s%s%s' "${ip:0:20}" "$(csum "$ip")" "${ip:24}" "$tcp"
}

# ip6_echo SRC DST SEQ: an ICMPv6 echo request, as hex.  Addresses are
# given as 32 hex digits.
ip6_echo() {
	local icmp len pseudo
	icmp="8000""0000""1234$(printf '%04x' "$3")"
	len=$((${#icmp} / 2))
	pseudo="$1$2$(printf '%08x' "$len")0000003a"
	icmp="8000$(csum "$pseudo$icmp")${icmp:8}"
	printf '60000000%04x3a40%s%s%s' "$len" "$1" "$2" "$icmp"
}

# frames_in FILE: the packets in a file of frames, one hex line each.
frames_in() {
	local hex len
	hex=$(od -An -v -tx1 "$1" | tr -d ' \n')
	while ((${#hex} >= 4)); do
		len=$((16#${hex:0:4}))
		printf '%s\n' "${hex:4:len * 2}"
		hex=${hex:4 + len * 2}
	done
}
