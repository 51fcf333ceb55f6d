#!/bin/bash
# tests/79-howto-many.sh - docs/howto.md recipe 9, line for line: one
# server, several laptops over TLS.
#
# Host B plays the CA's machine (neither gateway); two client hosts play
# the laptops alice and bob, each making its own key and request.
# - The certificates made by the recipe verify against its CA.
# - server.sh -M 10 on gateway B; both laptops connect without -l: alice
#   gets the address the clients file gives her, bob another; both ping
#   host B through their tunnels, and 5 MiB from alice arrive whole.
. "$(dirname "$0")/lib-many.sh"
need socat openssl iptables

many_sites 2
hb=$(home_of "$B")/root hg=$(home_of "$GWB")/root
ha=$(home_of "${CLIENTS[0]}")/root hbob=$(home_of "${CLIENTS[1]}")/root

certs() {
	on "$B" <<'EOF2'
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days 3650 -subj /CN=vpn-ca
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr -subj /CN=server -addext subjectAltName=IP:198.51.100.2
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -copy_extensions copy -out server.crt
EOF2
	cp "$hb/ca.crt" "$hb/server.crt" "$hb/server.key" "$hg/"	# "copy to gateway B"
	on "${CLIENTS[0]}" <<'EOF2'
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout alice.key -out alice.csr -subj /CN=alice
EOF2
	cp "$ha/alice.csr" "$hb/"
	on "$B" <<'EOF2'
openssl x509 -req -in alice.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -out alice.crt
EOF2
	cp "$hb/alice.crt" "$hb/ca.crt" "$ha/"
	# bob: the same lines with bob's names
	on "${CLIENTS[1]}" <<'EOF2'
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout bob.key -out bob.csr -subj /CN=bob
EOF2
	cp "$hbob/bob.csr" "$hb/"
	on "$B" <<'EOF2'
openssl x509 -req -in bob.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -out bob.crt
EOF2
	cp "$hb/bob.crt" "$hb/ca.crt" "$hbob/"
	for c in "$hg/server.crt" "$ha/alice.crt" "$hbob/bob.crt"; do
		openssl verify -CAfile "$hb/ca.crt" "$c" >/dev/null || fail "$c does not verify"
	done
	[[ ! -e $hg/ca.key && ! -e $ha/ca.key ]] || fail "the CA's key left its machine"
}
check "the certificates: a CA off the gateways, a key of its own per laptop" certs

laptops() {
	on_bg srv "$GWB" <<'EOF2'
echo 'alice 10.1.1.50' > clients
scripts/server.sh -M 10 -T tls -c server.crt -K server.key -C ca.crt -A clients -r 172.20.1.0/24
EOF2
	wait_for 5 listening "$GWB" 33960
	on_bg alice "${CLIENTS[0]}" <<'EOF2'
scripts/client.sh -T tls -s 198.51.100.2 -c alice.crt -K alice.key -C ca.crt
EOF2
	# bob's: the same with bob's files
	on_bg bob "${CLIENTS[1]}" <<'EOF2'
scripts/client.sh -T tls -s 198.51.100.2 -c bob.crt -K bob.key -C ca.crt
EOF2
	wait_for 15 said alice "the server gave tun0 10.1.1.50/24"
	wait_for 15 said bob "the server gave tun0 10.1.1."
	on "${CLIENTS[0]}" <<'EOF2'
ping -c 3 172.20.1.2
EOF2
	on "${CLIENTS[1]}" <<'EOF2'
ping -c 3 172.20.1.2
EOF2
	transfer_check "${CLIENTS[0]}" "$B" 172.20.1.2 5
	said srv "(alice): session up on" || fail "the server did not say alice's session is up"
}
check "recipe 9: two laptops, alice at her fixed address; ping and 5 MiB" laptops
