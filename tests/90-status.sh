#!/bin/bash
# tests/90-status.sh - the status command: tunnels at a glance.
#
# scripts/status.sh (installed as vpn-status) reads what the scripts keep
# in VPN_RUNDIR; it changes nothing.
# - With no tunnel in this namespace it says so and exits 0.
# - With two tunnels up on gateway A (client.sh on tun0 and tun1), it shows
#   two lines, one each; after 2 MiB through tun0, tun0's line has the
#   counters vpn itself gives (SIGUSR1), tun1's does not carry them.
# - -k gives one line of key=value pairs a tunnel, with the keys of vpn's
#   counters, and the time since the last frame each way.
# - Gateway B's two servers are two more lines there; -a sees all four.
# - From state files made by hand: a tunnel not connected shows "-" for
#   UP; a conf caught as it is written is skipped with a note, the others
#   listed; a conf is parsed, never run; a FIFO in place of the counters
#   does not hang it; a name's blanks and control characters are escaped.
. "$(dirname "$0")/lib-sites.sh"

STATUS=$ROOT/scripts/status.sh
st() { ip netns exec "$1" env VPN_RUNDIR="$TMP/rundir" "$STATUS" "${@:2}"; }

sites
none() {
	local out rc=0
	out=$(st "$GWA") || rc=$?
	((rc == 0)) || fail "no tunnel: exit $rc"
	[[ $out == "no tunnel is running (nothing in $TMP/rundir)" ]] || fail "no tunnel: said '$out'"
}
check "no tunnel: says so, exit 0" none

# agree: status -k's packets and bytes for tun0 are vpn's own, as its
# last counters line (SIGUSR1) in client c0's log says.
agree() {
	local k want line
	line=$(st "$GWA" -k | grep '^dev=tun0 ')
	for k in rx_packets rx_bytes tx_packets tx_bytes; do
		want=$(counter "$TMP/c0.log" "$k")
		[[ -n $want && " $line " == *" $k=$want "* ]] || return 1
	done
}

two() {
	local kv got vpn0
	server s0 -r 172.16.1.0/24
	wait_for 5 listening "$GWB" 33960
	server s1 -i tun1 -p 33961 -l 10.2.2.1/24
	wait_for 5 listening "$GWB" 33961
	client c0 -s 198.51.100.2 -l 10.1.1.2/24 -r 172.20.1.0/24
	client c1 -s 198.51.100.2 -i tun1 -p 33961 -l 10.2.2.2/24
	up_both
	wait_for 10 reach "$GWA" 10.2.2.1
	transfer_check "$A" "$B" 172.20.1.2 2
	sleep 1.5		# the status file: at most a second stale
	st "$GWA" >"$TMP/table"
	(($(wc -l <"$TMP/table") == 3)) || fail "want a head and 2 lines: $(cat "$TMP/table")"
	grep -E '^tun0 +client +nc +198\.51\.100\.2:33960 +- +10\.1\.1\.2/24 ' "$TMP/table" >/dev/null ||
		fail "no line for tun0: $(cat "$TMP/table")"
	grep -E '^tun1 +client +nc +198\.51\.100\.2:33961 +- +10\.2\.2\.2/24 ' "$TMP/table" >/dev/null ||
		fail "no line for tun1: $(cat "$TMP/table")"
	st "$GWA" -k >"$TMP/kv"
	(($(wc -l <"$TMP/kv") == 2)) || fail "-k: want 2 lines: $(cat "$TMP/kv")"
	kv=$(grep '^dev=tun0 ' "$TMP/kv")
	got=$(tr ' ' '\n' <<<"$kv" | sed -n 's/^tx_bytes=//p')
	((got > 2 * 1024 * 1024)) || fail "tun0's tx_bytes is $got after 2 MiB out: $kv"
	# The same as vpn's own counters (SIGUSR1), once the file caught up.
	vpn0=$(for p in $(ip netns pids "$GWA"); do
		[[ $(tr '\0' ' ' <"/proc/$p/cmdline") != "$VPN -i tun0 "* ]] || echo "$p"
	done)
	[[ -n $vpn0 ]] || fail "no vpn on tun0 in gateway A"
	counters_now "$vpn0" "$TMP/c0.log" >/dev/null
	wait_for 3 agree
	[[ $kv == *" last_rx_s="[0-9]* && $kv == *" last_tx_s="[0-9]* && $kv == *" up_s="[0-9]* ]] ||
		fail "-k lacks the times: $kv"
	kv=$(grep '^dev=tun1 ' "$TMP/kv")
	got=$(tr ' ' '\n' <<<"$kv" | sed -n 's/^tx_bytes=//p')
	((got < 1024 * 1024)) || fail "tun1 carried $got bytes it did not: $kv"
	(($(st "$GWB" | wc -l) == 3)) || fail "gateway B: $(st "$GWB")"
	(($(st "$GWA" -a -k | wc -l) == 4)) || fail "-a: $(st "$GWA" -a -k)"
}
check "two tunnels: two lines, with the counters of a 2 MiB transfer" two

same() {
	local before after
	before=$(find "$TMP/rundir" -type f -printf '%p %s\n' | sort)
	st "$GWA" -k >/dev/null
	after=$(find "$TMP/rundir" -type f -printf '%p %s\n' | sort)
	[[ $before == "$after" ]] || fail "status changed files: $(diff <(echo "$before") <(echo "$after"))"
}
check "the status command changes nothing" same

# The example in README.md and vpn-status.8 looks as the real thing: the
# same head, and rows with the same columns.
example() {
	local head row doc
	head=$(head -1 "$TMP/table")
	for doc in "$ROOT/README.md" "$ROOT/README.zh.md" "$ROOT/docs/vpn-status.8"; do
		grep -qxF -- "$head" "$doc" || fail "${doc##*/}: no example with the head '$head'"
		row=$(grep -A1 -xF -- "$head" "$doc" | tail -1)
		[[ $(awk '{ print NF }' <<<"$row") == $(awk 'NR == 2 { print NF }' "$TMP/table") ]] ||
			fail "${doc##*/}: the example row '$row' has not the columns of '$(sed -n 2p "$TMP/table")'"
	done
}
check "the documented example looks as the real output" example

# -- state files as status may find them: hand-made, in a VPN_RUNDIR of
# their own, for gateway A's namespace

FAKE=$TMP/fake
fake_dir() {
	local d
	d=$FAKE/net-$(ip netns exec "$GWA" stat -L -c %i /proc/self/ns/net)/$1
	mkdir -p "$d/sessions"
	echo "$d"
}
fst() { ip netns exec "$GWA" env VPN_RUNDIR="$FAKE" timeout 5 "$STATUS" "$@"; }

# A tunnel without a session, and a session whose "since" is "-": UP is
# "-" (it was 20789d, the time since 1970).
idle() {
	local d out
	d=$(fake_dir tun5)
	printf 'IFACE=tun5\nTRANSPORT=nc\nSERVER=198.51.100.2\nPORT=33960\nADDRS=(10.5.5.2/24 )\nROLE=client\n' >"$d/conf"
	d=$(fake_dir tun6)
	printf 'IFACE=tun6\nTRANSPORT=tls\nADDRS=(10.6.6.1/24 )\nROLE=server\n' >"$d/conf"
	printf 'pid=1\nname=bob\npeer=192.0.2.9:1\ndev=tun6-1\naddr=10.6.6.2/24\nsince=-\n' >"$d/sessions/1"
	out=$(fst)
	grep -qE '^tun5 +client +nc +198\.51\.100\.2:33960 +- +10\.5\.5\.2/24 +- +- +- +- +-$' <<<"$out" ||
		fail "an idle client: $out"
	grep -qE '^tun6-1 +server +tls +192\.0\.2\.9:1 +bob +10\.6\.6\.2/24 +- ' <<<"$out" ||
		fail "a session not up: $out"
	[[ $(fst -k) == *"dev=tun6-1 "*" up_s=- "*" rx_packets=- "* ]] || fail "-k: $(fst -k)"
}
check "a tunnel not connected: UP is -, not the time since 1970" idle

# A conf caught as it is written is skipped, with a note, and the others
# are listed; a conf is read, never run; a FIFO where the counters should
# be does not hang the listing.
torn() {
	local d out rc=0
	d=$(fake_dir tun7)
	printf 'IFACE=tun7\nTRANSP' >"$d/conf"
	d=$(fake_dir tun8)
	# shellcheck disable=SC2016 # code, for status not to run
	printf 'IFACE=tun8\nSTARTED=$(touch %s)\nTRANSPORT=nc\nADDRS=(10.8.8.1/24 )\nROLE=server\n' \
	    "$TMP/ran" >"$d/conf"
	printf 'pid=1\nname=\npeer=192.0.2.8:1\ndev=tun8-1\naddr=10.8.8.2/24\nsince=1\n' >"$d/sessions/1"
	mkfifo "$d/sessions/1.stats"
	out=$(fst 2>"$TMP/err") || rc=$?
	((rc == 0)) || fail "exit $rc, want 0 (124: it hung): $out $(cat "$TMP/err")"
	[[ $(cat "$TMP/err") == "status.sh: $FAKE/"*"/tun7/conf: not a whole description (being written?): skipped" ]] ||
		fail "no note for the torn conf: '$(cat "$TMP/err")'"
	grep -q '^tun5 ' <<<"$out" || fail "the others are not listed: $out"
	grep -q '^tun8-1 ' <<<"$out" || fail "tun8-1, its counters a FIFO, is not listed: $out"
	[[ ! -e $TMP/ran ]] || fail "a conf ran code"
}
check "a torn conf is skipped with a note; code in one is not run; no hang" torn

# What a client wrote (a certificate's common name) is printed as one
# field: its blanks and control characters escaped with -k, "_" and "?" in
# the table.
names() {
	local d line
	d=$(fake_dir tun9)
	printf 'IFACE=tun9\nTRANSPORT=tls\nADDRS=(10.9.9.1/24 )\nROLE=server\n' >"$d/conf"
	printf 'pid=1\nname=mallory addr=6.6.6.6/32 \033[2J\npeer=192.0.2.7:1\ndev=tun9-1\naddr=10.9.9.2/24\nsince=1\n' \
	    >"$d/sessions/1"
	line=$(fst -k | grep '^dev=tun9-1 ')
	[[ $line == *" name=mallory\x20addr=6.6.6.6/32\x20\x1b[2J addr=10.9.9.2/24 "* ]] ||
		fail "-k: $line"
	[[ $(tr ' ' '\n' <<<"$line" | grep -c '^addr=') == 1 ]] || fail "-k: two addr fields: $line"
	line=$(fst | grep '^tun9-1 ')
	[[ $line == *" mallory_addr=6.6.6.6/32_?[2J "* ]] || fail "table: $(cat -v <<<"$line")"
}
check "a name with blanks and control characters: one field, escaped" names
