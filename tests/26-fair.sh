#!/bin/bash
# tests/26-fair.sh - a flow with little queued does not wait behind a bulk
# flow's backlog on the stream.
#
# - stdout is a pipe nobody reads; bursts of full-size pings to 10.9.0.2
#   fill it, until BACKLOG_MIN or more of their frames wait in vpn.  The
#   pipe takes no more than HELD_MIN bytes of them: vpn keeps stdout's own
#   queue, first come first served, to what its reader takes in 2 ms (none
#   here), 16 KiB at least; it took 1 MiB (730 frames) before.  One ping
#   to 10.9.0.3, read after them, leaves before them all: at least
#   BACKLOG_MIN of the bursts' frames follow it on stdout (in arrival
#   order, none would).
# - The same with vpn's queue full: it still reads the device, sends the
#   lone ping first, and drops what it has no room for (tx_dropped), so
#   that the device's own queue drops nothing.
# - Every packet leaves, none twice, and the bursts in their order.
# - The flow hash is keyed: a lone ping to an address that shared the
#   bursts' bucket under an unkeyed hash overtakes them as well.
# - With each wire: the default, -O and -W.
. "$(dirname "$0")/lib.sh"
with_each_wire

BURST=20		# pings sent at once; fewer than vpn's queue takes
BULK_MAX=3000		# pings sent at most: the pipe takes some 11, vpn 600
LONE=10.9.0.3 LONE_HEX=0a090003	# the lone ping's destination
# An address whose pings from 10.9.0.1 shared the bursts' bucket under the
# unkeyed hash vpn had (FNV-1a of addresses and protocol, mod 1024).
SHARED=10.9.5.33 SHARED_HEX=0a090521
HELD_MIN=16384		# what stdout itself may hold, at least
BACKLOG_MIN=32		# frames read but not yet taken by stdout
SIZE=1400		# ICMP payload: IPv4 packets of 1428 bytes
IP_LEN=$((SIZE + 28))
VNET_HDR=10		# what each read from a TUN device adds (virtio_net_hdr)

ns=$NS_PREFIX-1
ns_add "$ns"
ip -n "$ns" tuntap add dev tv0 mode tun
tun_up "$ns" tv0 10.9.0.1/24

# read_at_least BYTES: vpn has read BYTES or more (its device, mostly).
read_at_least() {
	local got
	got=$(awk '$1 == "rchar:" { print $2 }' "/proc/$vpn/io")
	((got >= $1))
}

# frame_list FILE: for each IPv4 ICMP frame in FILE, its destination
# address, the echo's identifier and sequence number, in hex, one frame a
# line.
frame_list() {
	od -An -v -tx1 "$1" | tr -d ' \n' | awk '
	BEGIN { hex = "0123456789abcdef" }
	function num(h,    i, n) {
		for (i = 1; i <= length(h); i++)
			n = n * 16 + index(hex, substr(h, i, 1)) - 1
		return n
	}
	{
		for (at = 1; at + 4 <= length($0); at += 4 + 2 * len) {
			len = num(substr($0, at, 4))
			p = substr($0, at + 4, 2 * len)
			if (substr(p, 1, 2) == "45" && substr(p, 19, 2) == "01")
				print substr(p, 33, 8), substr(p, 49, 4),
				    substr(p, 53, 4)
		}
	}'
}

# start: vpn on tv0, its stdout a pipe to a reader that waits for a line
# on $TMP/in.go before it reads: until then the pipe fills, then vpn's
# own queue.
start() {
	rm -f "$TMP/in" "$TMP/in.go"
	mkfifo "$TMP/in" "$TMP/in.go"
	exec 5<>"$TMP/in"
	exec 6<>"$TMP/in.go"
	# shellcheck disable=SC2016 # expanded by the inner sh
	spawn ip netns exec "$ns" sh -c '"$@" <"$0" 2>"$0.err" |
	    { read -r _ <"$0.go"; exec cat; }' "$TMP/in" \
	    "$VPN" -v "${VPN_FLAGS[@]}" -i tv0 >"$TMP/out" 5>&- 6>&-
	pid=$!
	wait_for 5 carrier "$ns" tv0
	wait_for 5 pid_of "$ns" "$VPN"
	vpn=$(pid_of "$ns" "$VPN")
	dropped0=$(link_stat "$ns" tv0 tx_dropped)
}

# backlog SENT: SENT pings of the bursts read, how many wait in vpn.
backlog() {
	local taken
	counters_now "$vpn" "$TMP/in.err" >/dev/null
	taken=$(counter "$TMP/in.err" tx_packets)
	echo $(($1 - taken))
}

# fair [full]: bursts until BACKLOG_MIN frames wait in vpn (or, with full,
# until vpn drops), then the lone ping; all of it checked on stdout.
fair() {
	local list before n seqs sent=0 waiting=0 lost=0 slack
	start
	while ((sent < BULK_MAX)) && if [[ ${1:-} == full ]]; then
	    ((lost == 0)); else ((waiting < BACKLOG_MIN)); fi; do
		ip netns exec "$ns" ping -q -l "$BURST" -c "$BURST" -s "$SIZE" \
		    -W 0.01 10.9.0.2 >/dev/null || true
		sent=$((sent + BURST))
		wait_for 5 read_at_least $((sent * (IP_LEN + VNET_HDR)))
		waiting=$(backlog "$sent")
		lost=$(counter "$TMP/in.err" tx_dropped)
		waiting=$((waiting - lost))
	done
	((waiting >= BACKLOG_MIN)) ||
		fail "$waiting frames wait in vpn after $sent pings," \
		    "want $BACKLOG_MIN"
	n=$(($(counter "$TMP/in.err" tx_bytes) + 2 * $(counter "$TMP/in.err" tx_packets)))
	((n <= HELD_MIN)) ||
		fail "the pipe nobody reads took $n bytes of frames, want $HELD_MIN at most"
	ip netns exec "$ns" ping -q -c 1 -W 0.01 "$LONE" >/dev/null || true
	wait_for 5 read_at_least $((sent * (IP_LEN + VNET_HDR) + 84 + VNET_HDR))
	echo go >&6
	exec 5>&-
	wait "$pid" || fail "exit $?, want 0: $(cat "$TMP/in.err")"
	n=$(($(link_stat "$ns" tv0 tx_dropped) - dropped0))
	((n == 0)) || fail "tv0 dropped $n packets, want 0"
	lost=$(counter "$TMP/in.err" tx_dropped)
	[[ ${1:-} == full ]] || ((lost == 0)) ||
		fail "vpn dropped $lost packets, want 0"
	sent=$((sent - lost))
	list=$(frame_list "$TMP/out")
	n=$(grep -c '^0a090002' <<<"$list" || true)
	((n == sent)) || fail "$n frames of the bursts on stdout, want $sent"
	n=$(grep -c "^$LONE_HEX" <<<"$list" || true)
	((n == 1)) || fail "$n frames of the lone ping on stdout, want 1"
	# Each burst is a ping of its own: identifiers apart, each from 1.
	n=$(grep '^0a090002' <<<"$list" | sort -u | wc -l)
	((n == sent)) || fail "$((sent - n)) frames of the bursts twice"
	seqs=$(grep '^0a090002' <<<"$list" | cut -d' ' -f3 | tr '\n' ' ')
	((lost > 0)) || [[ $seqs == "$(for ((n = 0; n < sent; n++)); do
	    printf '%04x ' $((n % BURST + 1)); done)" ]] ||
		fail "the bursts' frames out of order"
	before=$(sed "/^$LONE_HEX/,\$d" <<<"$list" | wc -l)
	n=$((sent - before))
	# All those waiting but the one begun.  With the queue full, one
	# more went first in about 1 run in 20 (not yet explained; the old
	# vpn sends the lone ping after all of them).
	slack=1
	[[ ${1:-} != full ]] || slack=2
	((n >= waiting - slack)) ||
		fail "the lone ping left with $n frames after it, want" \
		    "$((waiting - slack)) or more (those waiting, but $slack)"
	say "the lone ping left before the last $n of $sent frames" \
	    "($waiting waited in vpn, $lost dropped)"
}
check "a lone ping overtakes a bulk backlog" fair
check "and a full queue; the rest dropped by vpn" fair full

# keyed: the lone ping to SHARED overtakes the bursts as any other does:
# no one can pick a flow that shares another's bucket (and so its turn,
# and with the queue full its packets) without knowing the hash's key,
# drawn by each vpn at start.  Under this run's key the two share a bucket
# 1 time in 1024: then once more, with a new vpn and a new key.
keyed() {
	LONE=$SHARED LONE_HEX=$SHARED_HEX
	ip -n "$ns" route add "$SHARED/32" dev tv0
	if ! (fair "" >"$TMP/keyed.err" 2>&1); then
		say "the lone ping shared the bursts' bucket under this vpn's key" \
		    "($(tail -1 "$TMP/keyed.err")): again, with a new key"
		fair ""
	else
		cat "$TMP/keyed.err"
	fi
}
[[ -n ${VPN_FLAGS_RUN:-} ]] ||
	check "a flow that shared the bulk's bucket unkeyed overtakes it too" keyed
