#!/bin/bash
# tests/20-pipeline.sh - the article's pipeline, as it is, in two namespaces.
#
#  ┌──────────── $NS1 ─────────────┐     ┌──────────── $NS2 ─────────────┐
#  │ tun0 10.9.0.1/24 fd00:9::1/64 │     │ tun0 10.9.0.2/24 fd00:9::2/64 │
#  │ cat f | vpn | nc -l 33960 > f │     │ cat f | vpn | nc 192.0.2.1 …  │
#  │ veth1 192.0.2.1/24 ───────────┼─────┼── veth2 192.0.2.2/24          │
#  └───────────────────────────────┘     └───────────────────────────────┘
#
# - ping both ways over IPv4 and IPv6, and nothing answers for 10.9.0.3.
# - 50 MiB each way, checksummed.
# - Both directions saturated at once: 50 MiB each way concurrently, both
#   intact, neither stalls.
# - The counters of the two ends agree: what one sent, the other received.
# - All of it with each wire: the default (super-packets cut to the MTU and
#   joined again), -O and -W (super-packets whole).
# run.sh: heavy long
. "$(dirname "$0")/lib.sh"
with_each_wire

pair
article_pair "${VPN_FLAGS[@]}"

ip netns exec "$NS2" ping -c 3 -i 0.2 -W 2 10.9.0.1 >/dev/null || fail "ping 10.9.0.1 from ns2"
ip netns exec "$NS1" ping -c 3 -i 0.2 -W 2 10.9.0.2 >/dev/null || fail "ping 10.9.0.2 from ns1"
ip netns exec "$NS2" ping -c 3 -i 0.2 -W 2 fd00:9::1 >/dev/null || fail "ping fd00:9::1 from ns2"
! ip netns exec "$NS1" ping -c 1 -W 1 10.9.0.3 >/dev/null || fail "10.9.0.3 answered"
say "ping over IPv4 and IPv6"

transfer_check "$NS2" "$NS1" 10.9.0.1 50
transfer_check "$NS1" "$NS2" fd00:9::2 50
say "50 MiB each way, checksums match"

# Both ways at once.
head -c $((50 << 20)) /dev/urandom >"$TMP/a"
head -c $((50 << 20)) /dev/urandom >"$TMP/b"
# shellcheck disable=SC2016 # expanded by the inner sh
spawn ip netns exec "$NS1" sh -c 'nc -l 5101 >"$1"' - "$TMP/a.got"
r1=$!
# shellcheck disable=SC2016
spawn ip netns exec "$NS2" sh -c 'nc -l 5102 >"$1"' - "$TMP/b.got"
r2=$!
wait_for 5 listening "$NS1" 5101
wait_for 5 listening "$NS2" 5102
start=$SECONDS
spawn timeout 120 ip netns exec "$NS2" nc -N 10.9.0.1 5101 <"$TMP/a"
s1=$!
spawn timeout 120 ip netns exec "$NS1" nc -N 10.9.0.2 5102 <"$TMP/b"
s2=$!
for p in "$s1" "$s2" "$r1" "$r2"; do
	wait "$p" || fail "concurrent transfer: a sender or receiver exited $?"
done
cmp -s "$TMP/a" "$TMP/a.got" || fail "concurrent: ns2 to ns1 corrupted ($(stat -c %s "$TMP/a.got") bytes)"
cmp -s "$TMP/b" "$TMP/b.got" || fail "concurrent: ns1 to ns2 corrupted ($(stat -c %s "$TMP/b.got") bytes)"
say "50 MiB both ways at once in $((SECONDS - start)) s, both intact"

# The two ends' counters agree once traffic has stopped: the stream loses
# nothing between them, so what one wrote to nc the other read.  The
# devices go down first, so that the kernel sends nothing more; the
# counters are read until both ends have had the last frames.
v1=$(pid_of "$NS1" "$VPN") v2=$(pid_of "$NS2" "$VPN")
ip -n "$NS1" link set tun0 down
ip -n "$NS2" link set tun0 down
agree() {
	counters_now "$v1" "$TMP/vpn1.err" >/dev/null
	counters_now "$v2" "$TMP/vpn2.err" >/dev/null
	tx1=$(counter "$TMP/vpn1.err" tx_packets) rx1=$(counter "$TMP/vpn1.err" rx_packets)
	drop1=$(counter "$TMP/vpn1.err" rx_dropped)
	tx2=$(counter "$TMP/vpn2.err" tx_packets) rx2=$(counter "$TMP/vpn2.err" rx_packets)
	drop2=$(counter "$TMP/vpn2.err" rx_dropped)
	((tx1 == rx2 + drop2 && tx2 == rx1 + drop1))
}
for _ in $(seq 1 25); do
	! agree || break
	sleep 0.2
done
((tx1 == rx2 + drop2)) || fail "ns1 sent $tx1 packets, ns2 took $rx2 and dropped $drop2"
((tx2 == rx1 + drop1)) || fail "ns2 sent $tx2 packets, ns1 took $rx1 and dropped $drop1"
((tx1 > 1000 && tx2 > 1000)) || fail "counters too low: $tx1 and $tx2 packets"
say "counters agree: $tx1 and $tx2 packets each way, dropped $drop1/$drop2"
