#!/bin/bash
# tests/36-tls.sh - the TLS transport: mutual certificates, or no session.
#
# - A client with a certificate from another CA, and a client with no
#   certificate, are refused during the handshake: server.sh never starts
#   vpn for them, not a packet reaches gateway B's tun0, and the server
#   goes on listening.
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
timeout 10 ip netns exec "$GWA" socat -u \
    "OPENSSL:198.51.100.2:33960,cert=$P/intruder.crt,key=$P/intruder.key,cafile=$P/ca.crt" \
    - <<<'not a vpn' 2>/dev/null || true
wait_for 5 said srv "the listener ended before a client came"
wait_for 5 listening "$GWB" 33960
timeout 10 ip netns exec "$GWA" socat -u "OPENSSL:198.51.100.2:33960,cafile=$P/ca.crt" \
    - <<<'not a vpn' 2>/dev/null || true
wait_for 5 listening "$GWB" 33960
# And client.sh itself with the intruder's certificate.
client bad -T tls -s 198.51.100.2 -c "$P/intruder.crt" -K "$P/intruder.key" -C "$P/ca.crt"
bad=$!
wait_for 5 said bad "reconnecting in 2 s"
stop "$bad" bad
rx=$(link_stat "$GWB" tun0 rx_packets)
((rx == 0)) || fail "$rx packets reached the server's tun0 from refused clients"
! pid_of "$GWB" "$VPN" >/dev/null || fail "server started vpn for a refused client"
n=$(grep -c 'socat: accepting connection' "$TMP/srv.log" || true)
((n >= 3)) || fail "server saw $n connections, want at least 3: $(cat "$TMP/srv.log")"
said srv "client gone" && fail "server counted a refused client as a session"
say "wrong certificate and no certificate refused at the handshake"

client cli -T tls -s 198.51.100.2 -c "$P/client.crt" -K "$P/client.key" -C "$P/ca.crt" \
    -r 172.20.1.0/24
up_both
ip netns exec "$B" ping -c 3 -i 0.2 -W 2 172.16.1.1 >/dev/null || fail "host B cannot ping host A"
transfer_check "$A" "$B" 172.20.1.2 10
say "the right certificate: ping and 10 MiB through TLS"
