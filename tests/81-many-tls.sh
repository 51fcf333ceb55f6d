#!/bin/bash
# tests/81-many-tls.sh - one server, many clients, over TLS, with fixed
# addresses for some and an IPv6 pool beside the IPv4 one.
#
# server.sh -M 4 -T tls -A ids -l 10.1.1.1/24 -l fd00:1::1/64 on gateway
# B; five client hosts, each with a certificate of its own (CN alice, bob,
# carol, dave, eve), running client.sh without -l.  Besides the checks of
# tests/80 (four up, 20 MiB each at once, a fifth refused, kept apart, a
# dead link's session gone within -t, SIGTERM restores gateway B):
# - alice, named in ids, gets 10.1.1.50 and fd00:1::32 (0x32 is 50); every client has
#   an IPv6 address too and reaches the server's fd00:1::1;
# - the IPv6 pool is masqueraded (ip6tables, tagged vpn:tun0);
# - alice's transport killed: she comes back with the same addresses;
#   her old session's device is gone.
# - Ten connections that never begin a handshake hold up no one: bob,
#   his transport killed, is back within 5 s of trying (1 s, then a
#   handshake).
# - Certificates the CA signed whose common name is no plain name (two
#   CNs, the first alice's; a newline and "pid=" in it; blanks) are each
#   refused, in one line naming the peer and why: no session, no device,
#   alice's session untouched.
# run.sh: heavy long
. "$(dirname "$0")/lib-many.sh"
need socat openssl ip6tables

# cert NAME CA: a key and a certificate for NAME signed by CA (or
# self-signed, a CA, when CA is -).
cert() {
	local d=$TMP/pki
	mkdir -p "$d"
	if [[ $2 == - ]]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		    -keyout "$d/$1.key" -out "$d/$1.crt" -days 2 -subj "/CN=$1" 2>/dev/null
		return
	fi
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$d/$1.key" -out "$d/$1.csr" -subj "/CN=$1" 2>/dev/null
	printf 'subjectAltName=%s\n' "${3:-DNS:$1}" >"$d/$1.ext"
	openssl x509 -req -in "$d/$1.csr" -CA "$d/$2.crt" -CAkey "$d/$2.key" \
	    -CAcreateserial -days 2 -extfile "$d/$1.ext" -out "$d/$1.crt" 2>/dev/null
}
# odd_cert FILE CN [CN2]: a certificate signed by ca whose subject has the
# common name CN (any bytes), and a second one CN2 if given.
# shellcheck disable=SC2016 # ${ENV::...} is openssl's, from the environment
odd_cert() {
	local d=$TMP/pki
	printf '[req]\ndistinguished_name = dn\nprompt = no\nstring_mask = utf8only\n[dn]\n0.CN = ${ENV::CN0}\n' >"$d/$1.cnf"
	[[ -z ${3:-} ]] || echo '1.CN = ${ENV::CN1}' >>"$d/$1.cnf"
	CN0=$2 CN1=${3:-} openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$d/$1.key" -out "$d/$1.csr" -config "$d/$1.cnf" 2>/dev/null
	openssl x509 -req -in "$d/$1.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
	    -CAcreateserial -days 2 -out "$d/$1.crt" 2>/dev/null
}
NAMES=(alice bob carol dave eve)
P=$TMP/pki
cert ca -
cert server ca IP:198.51.100.2
for n in "${NAMES[@]}"; do
	cert "$n" ca
done
odd_cert twocn alice mallory
odd_cert newline $'x\npid=1'
odd_cert blanks 'mallory addr=10.1.1.50/24'
printf '# name address [address6]\nalice 10.1.1.50 fd00:1::32\n' >"$TMP/ids"

SARGS=(-T tls -c "$P/server.crt" -K "$P/server.key" -C "$P/ca.crt" -A "$TMP/ids"
    -l 10.1.1.1/24 -l fd00:1::1/64)
cargs() {
	local n=${NAMES[$1 - 1]}
	CA=(-T tls -c "$P/$n.crt" -K "$P/$n.key" -C "$P/ca.crt" -k 1 -t 3)
}

ipv6() {
	local i
	[[ $(tun_addr "${CLIENTS[0]}") == 10.1.1.50 && $(tun_addr "${CLIENTS[0]}" 6) == fd00:1::32 ]] ||
		fail "alice has $(tun_addr "${CLIENTS[0]}") and $(tun_addr "${CLIENTS[0]}" 6), want 10.1.1.50 and fd00:1::32"
	for i in 1 2 3 4; do
		wait_for 5 reach "${CLIENTS[i - 1]}" fd00:1::1
	done
	ip netns exec "$GWB" ip6tables-save -t nat |
	    grep -q -- '-A POSTROUTING -s fd00:1::/64 -o wan0 .*vpn:tun0.* -j MASQUERADE' ||
		fail "no IPv6 MASQUERADE: $(ip netns exec "$GWB" ip6tables-save -t nat | grep vpn:)"
}

alice_back() {
	local dev
	dev=$(session_devs | grep -x 'tun0-[0-9]*' | while read -r d; do
		[[ $(ip -n "$GWB" -o -4 addr show dev "$d") != *"peer 10.1.1.50/"* ]] || echo "$d"
	done)
	kill "$(pid_of "${CLIENTS[0]}" "$(readlink -f "$(command -v socat)")")"
	wait_for 5 said c1 "reconnecting in"
	wait_for 10 reach "${CLIENTS[0]}" 10.1.1.1
	[[ $(tun_addr "${CLIENTS[0]}") == 10.1.1.50 && $(tun_addr "${CLIENTS[0]}" 6) == fd00:1::32 ]] ||
		fail "alice came back as $(tun_addr "${CLIENTS[0]}") and $(tun_addr "${CLIENTS[0]}" 6)"
	[[ $(session_devs | grep -c "^$dev$") == 1 ]] || fail "alice's device $dev: $(session_devs | tr '\n' ' ')"
}

# Ten connections that never start a handshake, from the fifth host: bob,
# his transport killed, has a session again within 5 s of trying.
idle() {
	local i start
	for i in $(seq 1 10); do
		spawn ip netns exec "${CLIENTS[4]}" sh -c 'sleep 30 | nc 198.51.100.2 33960' \
		    >/dev/null 2>&1
	done
	kill "$(pid_of "${CLIENTS[1]}" "$(readlink -f "$(command -v socat)")")"
	wait_for 5 said c2 "reconnecting in 1 s"
	start=$SECONDS
	wait_for 8 reach "${CLIENTS[1]}" 10.1.1.1
	((SECONDS - start <= 6)) || fail "bob's tunnel took $((SECONDS - start)) s with 10 idle connections"
}

# Certificates with a common name that is no plain name: each refused,
# said in one line, with no session; alice (whose name the first one
# starts with) keeps hers.
odd_names() {
	local c devs leases0 got n=0
	devs=$(session_devs) leases0=$(leases)
	# shellcheck disable=SC2317 # called by wait_for
	refusals() { (($(grep -c ': refused: its ' "$TMP/srv.log") >= $1)); }
	for c in twocn newline blanks; do
		n=$((n + 1))
		# shellcheck disable=SC2016 # expanded by the inner sh
		got=$(timeout 6 ip netns exec "${CLIENTS[4]}" sh -c 'sleep 3 | socat - "$1"' - \
		    "OPENSSL:198.51.100.2:33960,cert=$P/$c.crt,key=$P/$c.key,cafile=$P/ca.crt" 2>&1 |
		    head -n 1 || true)
		# What the server says may be lost to a reset as it closes.
		[[ $got != vpn-config* ]] || fail "$c: the client was configured: '$got'"
		wait_for 5 refusals "$n"
	done
	(($(grep -c 'refused: its certificate has more than one common name' "$TMP/srv.log") == 1)) ||
		fail "two CNs: $(grep refused "$TMP/srv.log" | tail -n 3)"
	(($(grep -c 'refused: its name is not a plain name' "$TMP/srv.log") == 2)) ||
		fail "odd names: $(grep refused "$TMP/srv.log" | tail -n 3)"
	! grep -q '^pid=1$' "$TMP"/rundir/*/tun0/sessions/* || fail "a lease has a line pid=1"
	[[ $(session_devs) == "$devs" && $(leases) == "$leases0" ]] ||
		fail "devices $(session_devs | tr '\n' ' ') leases $(leases | tr '\n' ' '), were $devs $leases0"
	reach "${CLIENTS[0]}" 10.1.1.1 || fail "alice lost her session"
}

many_extra() {
	check "common names that are no plain name: refused, said, no session" odd_names
	check "alice has her own addresses; IPv6 from the pool, masqueraded" ipv6
	check "alice's transport killed: she comes back with the same addresses" alice_back
	check "10 idle connections hold up no client" idle
}
many_sites 5
many_checks
