#!/bin/bash
# tests/27-notsent.sh - on a TCP stdout, what the socket has not sent stays
# short; the backlog waits in vpn, where a lone flow can overtake it.
#
# - vpn on a TCP socket (socat's nofork) whose buffer may hold 4 MiB, to a
#   reader that stops reading at once; 8 MiB of UDP from the device.  The
#   socket's unsent bytes (ss's notsent) stay under LOWAT_MAX: vpn's
#   TCP_NOTSENT_LOWAT (128 KiB), and what one write may add past it.
# - Without the option they grow to the buffer's size: 6.9 MB of the
#   8 MiB the kernel makes of SO_SNDBUF 4 MiB, with the vpn before it.
. "$(dirname "$0")/lib.sh"
need socat ss

PORT=33960
SNDBUF=$((4 * 1024 * 1024))
LOWAT_MAX=$((256 * 1024))
DGRAMS=2000		# a blast: 2000 datagrams of 1400 bytes
BLASTS=3

ns=$NS_PREFIX-1
ns_add "$ns"

# notsent: the bytes vpn's socket holds and has not sent (0 if ss says none).
notsent() {
	local n
	n=$(ip netns exec "$ns" ss -Htni state established "dport = :$PORT" |
	    grep -o 'notsent:[0-9]*' | head -1) || true
	n=${n#notsent:}
	echo "${n:-0}"
}
some_unsent() { (($(notsent) > 0)); }

# The reader: socat takes what fits in the pipe to sleep, then reads no more.
spawn ip netns exec "$ns" socat -u TCP-LISTEN:"$PORT",reuseaddr,rcvbuf=8192 \
    SYSTEM:'exec sleep 60'
wait_for 5 listening "$ns" "$PORT"
spawn ip netns exec "$ns" socat TCP:127.0.0.1:"$PORT",sndbuf="$SNDBUF" \
    EXEC:"$VPN -i tv0",nofork 2>"$TMP/err"
wait_for 5 has_link "$ns" tv0
tun_up "$ns" tv0 10.9.0.1/24
wait_for 5 carrier "$ns" tv0

short() {
	local i n max=0
	for ((i = 0; i < BLASTS; i++)); do
		# shellcheck disable=SC2016 # expanded by the inner bash
		ip netns exec "$ns" bash -c 'dd if=/dev/zero bs=1400 count="$1" \
		    status=none >/dev/udp/10.9.0.2/9' - "$DGRAMS" || true
	done
	wait_for 5 some_unsent
	for ((i = 0; i < 10; i++)); do
		n=$(notsent)
		((n <= max)) || max=$n
		sleep 0.05
	done
	((max <= LOWAT_MAX)) ||
		fail "the socket held $max bytes unsent, want $LOWAT_MAX at most"
	say "the socket held $max bytes unsent at most"
}
check "a TCP stdout holds little unsent" short
