#!/bin/bash
# tests/corpus.sh - write the fuzzers' seed inputs into tests/corpus/.
#
# tests/corpus/frame/ holds what tests/fuzz-frame.c reads: a byte whose bit
# 0 means -a, bit 1 -O, and bits 2-7 n for a device MTU of 68 + 24n (50:
# MTU 548; e8: MTU 1460; 02: -O); a byte bounding the chunk sizes (00: one
# byte per read, ff: up to 64 KiB); then the stream, built from the same
# frames the end-to-end tests send.  tests/corpus/offload/ holds what
# tests/fuzz-offload.c reads: the same first byte (its MTU only), then one
# packet.  Inputs the fuzzers found that add coverage (tests/corpus.new
# merged in with -merge=1; named by their SHA-1) and crashers (under
# their own names) are kept there too; this script only rewrites the
# seeds it names.
. "$(dirname "$0")/lib.sh"

dir=$ROOT/tests/corpus
mkdir -p "$dir/frame" "$dir/offload"

# seed NAME FLAGS CHUNK HEX: one seed file for the frame target.
seed() {
	hexbin "$2$3$4" >"$dir/frame/$1"
}

# oseed NAME FLAGS HEX: one seed file for the offload target.
oseed() {
	hexbin "$2$3" >"$dir/offload/$1"
}

v4=$(ip4_echo 10.9.0.2 10.9.0.1 1 "$(printf 'ab%.0s' {1..56})")
v4small=$(ip4_echo 10.9.0.2 10.9.0.1 2)
v6=$(ip6_echo fd000009000000000000000000000002 \
    fd000009000000000000000000000001 3)
big=$(ip4_echo 10.9.0.2 10.9.0.1 4 "$(printf '5a%.0s' {1..1372})")	# 1400 bytes
opts=46${v4small:2:2}$(printf '%04x' $((${#v4small} / 2 + 4)))${v4small:8:32}01010100${v4small:40}
# An Ethernet broadcast from 02:00:00:00:00:01: ARP, who has 10.9.0.2?
arp=ffffffffffff0200000000010806
arp+=00010800060400010200000000010a0900010000000000000a090002
eth6=33330000000102000000000186dd$v6
# TCP segments longer than a small MTU, for the offloads: 20 bytes of IPv4
# or 40 of IPv6, 20 of TCP (ACK|PSH; CWR on the IPv6 one), then the payload.
pay=$(printf '5a%.0s' {1..1360})
tcp4=450005780000400040060000$(ip4hex 10.9.0.2)$(ip4hex 10.9.0.1)
tcp4+=d43114510000000100000001501801f500000000$pay
tcp6=60000000$(printf '%04x' $((20 + 1360)))0640
tcp6+=fd000009000000000000000000000002fd000009000000000000000000000001
tcp6+=d43114510000000100000001509801f500000000$pay
# The same, as datagrams for -D, where the offloads cut them into segments
# and join those again: ACK only (ACK|CWR on IPv6), and a right IPv4 header
# checksum.
d4h=450005780000400040060000$(ip4hex 10.9.0.2)$(ip4hex 10.9.0.1)
dtcp4=${d4h:0:20}$(csum "$d4h")${d4h:24}
dtcp4+=d43114510000000100000001501001f500000000$pay
dtcp6=${tcp6:0:106}90${tcp6:108}

# Segments of one TCP stream, 500 bytes each (540 with headers: at MTU 548,
# 50, the receiver joins them; at 1460, e8, too), the last with PSH, and
# the third once with a wrong checksum; a 600-byte one (longer than 548),
# its checksum right and wrong, and two in a row, which are not joined.
p500=$(printf '5a%.0s' {1..500})
segs='' bad=''
for i in 0 1 2 3; do
	seg=$(frame "$(ip4_tcp 10.9.0.2 10.9.0.1 5000 6000 $((1 + 500 * i)) \
	    "$( ((i < 3)) && echo 10 || echo 18)" "$p500")")
	segs+=$seg
	# the checksum: after the prefix, 20 + 16 bytes in
	if ((i == 2)); then bad+=${seg:0:76}ffff${seg:80}; else bad+=$seg; fi
done
long=$(ip4_tcp 10.9.0.2 10.9.0.1 5000 6000 1 10 "$p500$(printf '5a%.0s' {1..60})")
# 40 segments of one stream, the last with PSH: in chunks of up to 138^2
# bytes (89), the first read ends inside the 35th, and the 34 before it
# wait for it (run_waits() in vpn.c); in chunks of up to 144 bytes (0b),
# each run waits for the frame after it; then a ping, which never waits.
segs40=''
for i in $(seq 0 39); do
	segs40+=$(frame "$(ip4_tcp 10.9.0.2 10.9.0.1 5000 6000 $((1 + 500 * i)) \
	    "$( ((i < 39)) && echo 10 || echo 18)" "$p500")")
done
seed join-40-split 50 0b "$segs40$(frame "$v4")"
seed join-40 50 89 "$segs40"
seed join-4 50 ff "$segs"
seed join-4-split 50 02 "$segs"
seed join-4-then-ping e8 0b "$segs$(frame "$v4")$segs"
seed join-bad-sum 50 ff "$bad"
seed long-sum-right 50 ff "$(frame "$long")"
seed long-sum-wrong 50 13 "$(frame "${long:0:72}ffff${long:76}")"
seed long-2 50 ff "$(frame "$long")$(frame "$(ip4_tcp 10.9.0.2 10.9.0.1 5000 6000 561 10 "${long:80}")")"
seed ip4-echo 02 ff "$(frame "$v4")"
seed ip4-echo-bytewise 02 00 "$(frame "$v4")"
seed ip6-echo 02 ff "$(frame "$v6")"
seed ip4-options 02 ff "$(frame "$opts")"
seed ip4-1400 02 ff "$(frame "$big")"
seed tap-arp 01 ff "$(frame "$arp")"
seed tap-ip6 01 07 "$(frame "$eth6")"
seed keepalive 02 ff 0000
seed keepalives-split 02 00 000000000000
seed merged 02 ff "$(frame "$v4")0000$(frame "$v6")$(frame "$v4small")0000"
seed split3 02 02 "$(frame "$v4small")$(frame "$v6")0000$(frame "$v4")"
seed split-odd 02 0c "$(frame "$v6")$(frame "$big")$(frame "$v4small")"
seed tap-merged 01 ff "$(frame "$arp")0000$(frame "$eth6")"
seed o-tcp4 50 ff "$(frame "$tcp4")"
seed o-tcp6 e8 0f "$(frame "$tcp6")$(frame "$v4")"
seed d-tcp4 50 ff "$dtcp4"
seed d-tcp6 a0 ff "$dtcp6"
seed bad-not-ip 02 ff "$(frame "$v4small")$(frame 616263)$(frame "$v4small")"
seed bad-ip4-length 02 03 "$(frame "${v4small}00")"
seed bad-ip4-ihl 02 ff "$(frame "44${v4small:2}")"
seed bad-ip6-length 02 05 "$(frame "${v6:0:94}")"
seed bad-tap-short 01 ff "$(frame ffffffffffff02000000000108)"
seed bad-http 02 ff "$(printf 'GET / HTTP/1.0\r\n\r\n' | od -An -v -tx1 | tr -d ' \n')"
seed truncated 02 ff "$(frame "$v4")$(frame "$v4small" | head -c 40)"
seed truncated-prefix 02 ff "$(frame "$v4small")00"
oseed tcp4-548 50 "$dtcp4"
oseed tcp6-1028 a0 "$dtcp6"
oseed tcp4-psh-1460 e8 "$tcp4"
oseed tcp6-cwr-1460 e8 "$tcp6"
oseed ip4-echo-548 50 "$v4"
oseed ip6-echo-548 50 "$v6"
