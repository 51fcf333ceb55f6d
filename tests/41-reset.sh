#!/bin/bash
# tests/41-reset.sh - the TCP connection carrying the tunnel is reset.
#
# Side 1 is "socat TCP-LISTEN EXEC:vpn,nofork": vpn's stdin and stdout are
# the TCP socket itself.  Side 2 is the article's nc pipeline.  A REJECT
# rule in side 2 answers side 1's segments with a TCP reset.
#
# - Side 1's vpn exits 1 with "Connection reset by peer" on stdin or
#   stdout, at once.
# - Side 1's reset reaches side 2 in turn: its whole pipeline ends, its vpn
#   with 0 (EOF) or 1 and a message about stdin or stdout, before -t.
# - Both devices are gone.
. "$(dirname "$0")/lib-pipe.sh"
need socat

pair
spawn ip netns exec "$NS1" socat TCP-LISTEN:33960,reuseaddr \
    EXEC:"$VPN -v -k 1 -t 5",nofork 2>"$TMP/vpn1.err"
vpn1=$!
wait_for 5 listening "$NS1" 33960
pipe_side 2 "$NS2" "192.0.2.1 33960" "$VPN" -v -k 1 -t 5
pipe2=$!
wait_for 5 has_link "$NS1" tun0
wait_for 5 has_link "$NS2" tun0
tun_up "$NS1" tun0 10.9.0.1/24
tun_up "$NS2" tun0 10.9.0.2/24
wait_for 5 ip netns exec "$NS2" ping -c 1 -W 1 10.9.0.1
ip netns exec "$NS2" ping -q -i 0.01 10.9.0.1 >/dev/null 2>&1 &
PIDS+=("$!")

# Reset every segment from side 1 but resets themselves, so that side 1's
# own reset, sent when side 2's next segment finds no connection, gets in.
rule=(INPUT -p tcp --sport 33960 ! --tcp-flags RST RST
    -j REJECT --reject-with tcp-reset)
ip netns exec "$NS2" iptables -w -A "${rule[@]}"
t0=$(date +%s%N)
rc=0
wait "$vpn1" || rc=$?
ms=$(ms_since "$t0")
msg=$(vpn_said 1)
((rc == 1)) || fail "side 1: exit $rc, want 1 ($msg)"
[[ $msg == "vpn: std"@(in|out)": Connection reset by peer" ]] ||
	fail "side 1: said '$msg', want 'vpn: stdin: Connection reset by peer'"
((ms < 1000)) || fail "side 1 exited ${ms} ms after the reset, want < 1000"
n=$(ip netns exec "$NS2" iptables -w -S INPUT -v | sed -n 's/.* -c \([0-9]*\) [0-9]* -j REJECT.*/\1/p')
((n >= 1)) || fail "the REJECT rule matched $n packets, want >= 1"
say "side 1: exit 1 after $ms ms: $msg ($n segments reset)"

wait_for 5 exited "$pipe2"
rc=$(vpn_rc 2)
msg=$(vpn_said 2)
case $rc:$msg in
0:) ;;
"1:vpn: stdout: closed by the reader") ;;
"1:vpn: stdout: Broken pipe") ;;
1:"vpn: stdin: truncated frame at byte "*) ;;
*) fail "side 2: exit $rc, said '$msg'; want 0 and nothing, or 1 and stdin/stdout" ;;
esac
wait_for 2 no_link "$NS1" tun0
wait_for 2 no_link "$NS2" tun0
say "side 2: pipeline ended after $(ms_since "$t0") ms, exit $rc ${msg:-(EOF)}"
