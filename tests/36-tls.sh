#!/bin/bash
# tests/36-tls.sh - the TLS transport: mutual certificates, or no session.
#
# - A client with a certificate from another CA, and a client with no
#   certificate, are refused during the handshake: server.sh never starts
#   vpn for them, not a packet reaches gateway B's tun0, and the server
#   goes on listening.
# - client.sh with a certificate its own CA does not sign, or with another
#   certificate's key, stops at once (exit 1) naming the file.
# - Ten TCP connections that never start a handshake do not hold the
#   server up: the right client's tunnel is up within 5 s, and the idle
#   connections are dropped after 5 s.
# - A client with the right certificate gets a session: host to host ping
#   and 10 MiB checksummed.
. "$(dirname "$0")/lib-sites.sh"
need openssl socat

# cert NAME CA SAN: a key and a certificate for NAME signed by CA (or
# self-signed, a CA, when CA is -).
cert() {
	local n=$1 ca=$2 san=$3 d=$TMP/pki
	mkdir -p "$d"
	if [[ $ca == - ]]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		    -keyout "$d/$n.key" -out "$d/$n.crt" -days 2 -subj "/CN=$n" 2>/dev/null
		return
	fi
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$d/$n.key" -out "$d/$n.csr" -subj "/CN=$n" 2>/dev/null
	printf 'subjectAltName=%s\n' "$san" >"$d/$n.ext"
	openssl x509 -req -in "$d/$n.csr" -CA "$d/$ca.crt" -CAkey "$d/$ca.key" \
	    -CAcreateserial -days 2 -extfile "$d/$n.ext" -out "$d/$n.crt" 2>/dev/null
}
cert ca - ''
cert rogue - ''
cert server ca IP:198.51.100.2
cert client ca DNS:client
cert intruder rogue DNS:client
P=$TMP/pki

sites
server srv -T tls -c "$P/server.crt" -K "$P/server.key" -C "$P/ca.crt" -r 172.16.1.0/24
wait_for 5 listening "$GWB" 33960

# The intruder: a certificate from another CA.  Then no certificate at all.
# (With TLS 1.3 the client may finish first and exit 0: the server's word
# is what counts.)
refused() {
	timeout 10 ip netns exec "$GWA" socat -u \
	    "OPENSSL:198.51.100.2:33960,cert=$P/intruder.crt,key=$P/intruder.key,cafile=$P/ca.crt" \
	    - <<<'not a vpn' 2>/dev/null || true
	timeout 10 ip netns exec "$GWA" socat -u "OPENSSL:198.51.100.2:33960,cafile=$P/ca.crt" \
	    - <<<'not a vpn' 2>/dev/null || true
	wait_for 5 said srv "refused a client at the TLS handshake"
	rx=$(link_stat "$GWB" tun0 rx_packets)
	((rx == 0)) || fail "$rx packets reached the server's tun0 from refused clients"
	! pid_of "$GWB" "$VPN" >/dev/null || fail "server started vpn for a refused client"
	! said srv "session up" || fail "server counted a refused client as a session"
	listening "$GWB" 33960 || fail "the server stopped listening"
}
check "wrong certificate and no certificate refused at the handshake" refused

# client.sh itself with the intruder's certificate: its own CA does not
# sign it, which no retry mends: it says which file, at once, exit 1.
own_check() {
	local rc=0 msg
	msg=$(timeout 10 ip netns exec "$GWA" env VPN="$VPN" VPN_RUNDIR="$TMP/rundir" \
	    "$CLIENT_SH" -T tls -s 198.51.100.2 -l 10.1.1.2/24 -c "$P/intruder.crt" \
	    -K "$P/intruder.key" -C "$P/ca.crt" 2>&1) || rc=$?
	((rc == 1)) || fail "client.sh with a certificate its CA does not sign: exit $rc, want 1: $msg"
	[[ $msg == "client.sh: $P/intruder.crt (-c): not signed by $P/ca.crt (-C): "* ]] ||
		fail "client.sh with a certificate its CA does not sign: said '$msg'"
	no_link "$GWA" tun0 || fail "client.sh made tun0 before checking its files"
	msg=$(timeout 10 ip netns exec "$GWA" env VPN="$VPN" VPN_RUNDIR="$TMP/rundir" \
	    "$CLIENT_SH" -T tls -s 198.51.100.2 -l 10.1.1.2/24 -c "$P/client.crt" \
	    -K "$P/intruder.key" -C "$P/ca.crt" 2>&1) || rc=$?
	[[ $msg == "client.sh: $P/intruder.key (-K): not the key of $P/client.crt" ]] ||
		fail "client.sh with another certificate's key: said '$msg'"
}
check "client.sh refuses a certificate its CA does not sign, or a key not its own" own_check

# Ten connections that never start a handshake hold nothing up: the right
# client gets its tunnel within 5 s, and the idle ones are dropped after
# the server's handshake time (5 s).
established() {
	ip netns exec "$GWB" ss -Htn state established "sport = :33960" | wc -l
}
idle_up() { (($(established) >= 10)); }
idle_gone() { (($(established) == 1)); }
idle() {
	local i start
	for i in $(seq 1 10); do
		spawn ip netns exec "$GWA" sh -c 'sleep 30 | nc 198.51.100.2 33960' >/dev/null 2>&1
	done
	wait_for 5 idle_up
	start=$SECONDS
	client cli -T tls -s 198.51.100.2 -l 10.1.1.2/24 -c "$P/client.crt" -K "$P/client.key" \
	    -C "$P/ca.crt" -r 172.20.1.0/24
	up_both 5
	say "with 10 idle connections open, the client's tunnel was up in $((SECONDS - start)) s"
	wait_for 8 idle_gone
	said srv "dropped a client whose TLS handshake did not complete in time" ||
		fail "the server did not say it dropped the idle connections"
}
check "10 idle connections: the right client still gets its tunnel within 5 s" idle

right() {
	ip netns exec "$B" ping -c 3 -i 0.2 -W 2 172.16.1.1 >/dev/null || fail "host B cannot ping host A"
	transfer_check "$A" "$B" 172.20.1.2 10
	said srv "session up on tun0" || fail "server did not say the session is up"
}
check "the right certificate: ping and 10 MiB through TLS" right
