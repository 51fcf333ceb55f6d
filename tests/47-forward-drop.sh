#!/bin/bash
# tests/47-forward-drop.sh - a gateway whose FORWARD chain drops by default.
#
# - server.sh on gateway B, whose FORWARD policy is DROP (as Docker leaves
#   it), says so, and prints rules that would let the tunnel through; it
#   adds no rule to the filter table itself.
# - Until those rules are in, host A does not reach host B; with the very
#   rules it printed, it does, and 4 MiB cross intact.
# - After SIGTERM, gateway B's filter table is as it was: policy DROP, and
#   the printed rules, which the admin added, are the admin's to keep.
. "$(dirname "$0")/lib-sites.sh"

sites
ip netns exec "$GWB" iptables -w -P FORWARD DROP
filter0=$(ip netns exec "$GWB" iptables -w -S)

server srv -r 172.16.1.0/24
srv=$!
wait_for 5 listening "$GWB" 33960
said srv "iptables: the FORWARD chain's policy is DROP" ||
	fail "server did not say FORWARD drops: $(cat "$TMP/srv.log")"
[[ $(ip netns exec "$GWB" iptables -w -S) == "$filter0" ]] ||
	fail "server changed the filter table: $(ip netns exec "$GWB" iptables -w -S)"
client cli -s 198.51.100.2 -l 10.1.1.2/24 -r 172.20.1.0/24
wait_for 10 reach "$GWA" 10.1.1.1
! reach "$A" 172.20.1.2 || fail "host A reached host B through a DROP policy"
say "the server warned; FORWARD drops the tunnel's traffic"

mapfile -t rules < <(sed -n 's/^server\.sh:   \(iptables -I FORWARD .*\)$/\1/p' \
    "$TMP/srv.log")
((${#rules[@]} == 2)) || fail "want 2 suggested rules, got: ${rules[*]}"
for r in "${rules[@]}"; do
	# shellcheck disable=SC2086 # the rule's words, as printed
	ip netns exec "$GWB" $r
done
up_both
transfer_check "$A" "$B" 172.20.1.2 4
say "with the 2 rules it printed, 4 MiB cross intact"

kill -TERM "$srv"
wait "$srv" || true
ip netns exec "$GWB" iptables -w -S FORWARD | grep -x -- '-P FORWARD DROP' >/dev/null ||
	fail "the FORWARD policy changed: $(ip netns exec "$GWB" iptables -w -S FORWARD)"
for r in "${rules[@]}"; do
	# shellcheck disable=SC2086
	ip netns exec "$GWB" ${r/-I/-D}
done
[[ $(ip netns exec "$GWB" iptables -w -S) == "$filter0" ]] ||
	fail "filter table after the server: $(ip netns exec "$GWB" iptables -w -S)"
say "after SIGTERM and less the 2 rules this test added, the filter table is as before"
