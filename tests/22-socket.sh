#!/bin/bash
# tests/22-socket.sh - vpn on the TCP socket itself (socat ... nofork).
#
# - With stdin and stdout one TCP socket, vpn stays in stream mode: ping
#   and 50 MiB checksummed each way.
# - SIGTERM ends one side with status 0; the other then ends at EOF (0),
#   or at a reset (1) if the first closed with bytes unread, as TCP does;
#   its device goes with it.
# - All of it with each wire: the default, -O and -W.
# run.sh: heavy
. "$(dirname "$0")/lib.sh"
with_each_wire

pair
spawn ip netns exec "$NS1" socat TCP-LISTEN:33960,reuseaddr \
    EXEC:"$VPN -v ${VPN_FLAGS[*]} -i tun0",nofork 2>"$TMP/e1"
srv=$!
wait_for 5 listening "$NS1" 33960
spawn ip netns exec "$NS2" socat TCP:192.0.2.1:33960 \
    EXEC:"$VPN -v ${VPN_FLAGS[*]} -i tun0",nofork 2>"$TMP/e2"
cli=$!
wait_for 5 has_link "$NS1" tun0
wait_for 5 has_link "$NS2" tun0
case ${VPN_FLAGS[*]} in
-O)	want='' ;;
-W)	want=', offloads, super-packets whole' ;;
*)	want=', offloads' ;;
esac
want="vpn: tun0: TUN device, stream mode$want"
grep -qx "$want" "$TMP/e1" ||
	fail "server side: said '$(cat "$TMP/e1")', want stream mode"
tun_up "$NS1" tun0 10.9.0.1/24 fd00:9::1/64
tun_up "$NS2" tun0 10.9.0.2/24 fd00:9::2/64

ip netns exec "$NS2" ping -c 3 -i 0.2 -W 2 10.9.0.1 >/dev/null || fail "ping 10.9.0.1"
ip netns exec "$NS1" ping -c 3 -i 0.2 -W 2 fd00:9::2 >/dev/null || fail "ping fd00:9::2"
transfer_check "$NS2" "$NS1" 10.9.0.1 50
transfer_check "$NS1" "$NS2" 10.9.0.2 50
say "socket: ping and 50 MiB each way"

kill -TERM "$cli"
rc=0
wait "$cli" || rc=$?
((rc == 0)) || fail "client on SIGTERM: exit $rc, want 0"
rc=0
wait "$srv" || rc=$?
# EOF, or a reset: the client's kernel resets a connection it closes with
# bytes unread (the server's router solicitation, say), as TCP does.
((rc == 0)) || { ((rc == 1)) && grep -qx "vpn: stdin: Connection reset by peer" "$TMP/e1"; } ||
	fail "server at the client's end: exit $rc, want 0 (EOF) or 1 (reset): $(cat "$TMP/e1")"
! has_link "$NS1" tun0 || fail "server's tun0 outlived it"
say "SIGTERM on one end: exit 0; the other: exit $rc at EOF or a reset, its device gone"
