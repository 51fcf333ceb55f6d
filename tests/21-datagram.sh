#!/bin/bash
# tests/21-datagram.sh - datagram mode: over UDP, and on a SEQPACKET socket.
#
# - socat's UDP, with vpn as the socket's own process (nofork): vpn sees a
#   SOCK_DGRAM stdin and switches to datagram mode by itself; ping both
#   families and 50 MiB checksummed.
# - The dead-peer timeout ends a UDP session whose peer went silent.
# - On a SOCK_SEQPACKET stdin, a bad datagram is dropped, counted and
#   warned about, and the next good one still reaches the device.  With -k,
#   no keepalive goes (an empty message is EOF there), and idle, vpn sleeps.
. "$(dirname "$0")/lib.sh"

pair
udp_pair '-t 3' '-k 1'		# the server's tun0: on the first keepalive
srv=$SRV cli=$CLI
# vpn says so once its device is there, which is what udp_pair waits for
wait_for 5 grep -q '^vpn: tun0: TUN device, datagram mode, offloads, UDP GSO, UDP GRO$' "$TMP/e1" ||
	fail "server side: said '$(cat "$TMP/e1")', want datagram mode"
tun_up "$NS1" tun0 10.9.0.1/24 fd00:9::1/64
tun_up "$NS2" tun0 10.9.0.2/24 fd00:9::2/64

ip netns exec "$NS2" ping -c 3 -i 0.2 -W 2 10.9.0.1 >/dev/null || fail "ping 10.9.0.1"
ip netns exec "$NS1" ping -c 3 -i 0.2 -W 2 fd00:9::2 >/dev/null || fail "ping fd00:9::2"
transfer_check "$NS2" "$NS1" 10.9.0.1 50
say "UDP: ping and 50 MiB checksummed"

# The client goes; the server hears nothing more and gives up after -t 3.
kill "$cli"
wait "$cli" || true
start=$SECONDS
rc=0
wait "$srv" || rc=$?
((rc == 1)) || fail "server after its peer left: exit $rc, want 1"
grep -q '^vpn: peer silent for 3 s$' "$TMP/e1" || fail "server said '$(cat "$TMP/e1")'"
((SECONDS - start <= 5)) || fail "server took $((SECONDS - start)) s to notice"
say "UDP: a silent peer ends the session after -t"

# SOCK_SEQPACKET: each write of the client is one message.
ip -n "$NS1" tuntap add dev tq0 mode tun
tun_up "$NS1" tq0 10.8.0.1/24
spawn ip netns exec "$NS1" socat UNIX-LISTEN:"$TMP/sock",type=5 \
    EXEC:"$VPN -v -k 1 -i tq0",nofork 2>"$TMP/e3"
srv=$!
wait_for 5 test -S "$TMP/sock"
mkfifo "$TMP/in"
exec 5<>"$TMP/in"
spawn socat -b 65536 UNIX-CONNECT:"$TMP/sock",type=5 - <"$TMP/in" >"$TMP/out" 5>&-
wait_for 5 carrier "$NS1" tq0
printf 'junk' >&5
sleep 0.2
hexbin "$(ip4_echo 10.8.0.2 10.8.0.1 7)" >"$TMP/echo"
cat "$TMP/echo" >&5		# one write, one message (printf may write in parts)
# Messages arrive unframed on socat's stdout, after whatever the kernel
# sent first (router solicitations): look for the reply's addresses and type.
has_reply() {
	od -An -v -tx1 "$TMP/out" | tr -d ' \n' |
	    grep -q "$(ip4hex 10.8.0.1)$(ip4hex 10.8.0.2)00"
}
wait_for 5 has_reply
# -k 1, but an empty message would read as EOF: no keepalive, and no timer
# that fires for nothing; idle, vpn sleeps.
sleep 2.5
ticks=$(awk '{ print $14 + $15 }' "/proc/$srv/stat")
((ticks < $(getconf CLK_TCK) / 2)) ||
	fail "SEQPACKET, -k 1: vpn used $ticks ticks of CPU, idle for 2.5 s"
exec 5>&-
rc=0
wait "$srv" || rc=$?
((rc == 0)) || fail "SEQPACKET: exit $rc at EOF, want 0: $(cat "$TMP/e3")"
grep -q '^vpn: stdin: datagram is not an IP packet (length 4), dropped$' "$TMP/e3" ||
	fail "SEQPACKET: no warning for the bad datagram: $(cat "$TMP/e3")"
counters_are "$TMP/e3" rx_packets=1 rx_bytes=28 keepalives_rx=0 keepalives_tx=0 \
    rx_invalid=1
say "SEQPACKET: a bad datagram dropped and counted, the next one answered; with -k 1, no keepalive and $ticks ticks of CPU"
