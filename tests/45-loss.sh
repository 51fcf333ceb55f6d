#!/bin/bash
# tests/45-loss.sh - 1% random packet loss on the "internet" link.
#
# Each namespace drops 1% of the packets that arrive on its veth (iptables
# -m statistic), so both directions of the nc connection carrying the
# tunnel lose packets and TCP retransmits them.
# - A checksummed transfer through the tunnel arrives intact: LOSS_MB MiB
#   (default 50: about 4 s, under ASan too).
# - The drop rules did drop packets (the test tested something), and
#   neither vpn saw a bad frame or exited.
# run.sh: heavy
. "$(dirname "$0")/lib-pipe.sh"

LOSS_MB=${LOSS_MB:-50}

rule=(INPUT -m statistic --mode random --probability 0.01 -j DROP)
pair
# One packet per MTU, as on the Internet, not 64 KiB GSO bursts that a
# single drop would take away whole.
ip -n "$NS1" link set dev veth1 gso_max_segs 1
ip -n "$NS2" link set dev veth2 gso_max_segs 1
ip netns exec "$NS1" iptables -w -A "${rule[0]}" -i veth1 "${rule[@]:1}"
ip netns exec "$NS2" iptables -w -A "${rule[0]}" -i veth2 "${rule[@]:1}"
rc_pair -k 1 -t 10
wait_for 5 ip netns exec "$NS2" ping -c 1 -W 1 10.9.0.1

# dropped NS: packets the loss rule in NS has dropped.
dropped() {
	ip netns exec "$1" iptables -w -S INPUT -v |
	    sed -n 's/.* -c \([0-9]*\) [0-9]* -j DROP.*/\1/p'
}

t0=$(date +%s%N)
transfer_check "$NS2" "$NS1" 10.9.0.1 "$LOSS_MB"
ms=$(ms_since "$t0")
d1=$(dropped "$NS1") d2=$(dropped "$NS2")
((d1 > 0 && d2 > 0)) || fail "the loss rules dropped $d1 and $d2 packets, want > 0 each"
[[ ! -e $TMP/vpn1.rc && ! -e $TMP/vpn2.rc ]] ||
	fail "a vpn exited: side 1: $(vpn_said 1); side 2: $(vpn_said 2)"
say "$LOSS_MB MiB intact through 1% loss in $ms ms ($d1 and $d2 packets dropped)"
