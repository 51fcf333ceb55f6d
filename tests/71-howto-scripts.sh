#!/bin/bash
# tests/71-howto-scripts.sh - docs/howto.md recipes 3 and 4, line for line:
# the scripts over nc, then over TLS with certificates from openssl req.
#
# - Over nc: host A and host B ping each other; SIGTERM to both scripts
#   leaves the gateways as they were.
# - The certificates made by the recipe's openssl lines verify against its
#   CA, and the server's names 198.51.100.2.
# - Over TLS with them: host A and host B ping each other, and 5 MiB from
#   host A to host B arrive whole.
. "$(dirname "$0")/lib-howto.sh"
need nc socat openssl iptables

sites
before_a=$(snapshot "$GWA") before_b=$(snapshot "$GWB")

on_bg srv "$GWB" <<'EOF'
scripts/server.sh -r 172.16.1.0/24
EOF
srv=$!
wait_for 5 listening "$GWB" 33960
on_bg cli "$GWA" <<'EOF'
scripts/client.sh -s 198.51.100.2 -l 10.1.1.2/24 -r 172.20.1.0/24
EOF
cli=$!
up_both
on "$A" <<'EOF'
ping -c 3 172.20.1.2
EOF
on "$B" <<'EOF'
ping -c 3 172.16.1.1
EOF
say "recipe 3: the scripts over nc; the hosts ping each other"
stop "$cli" cli
stop "$srv" srv
SCRIPTS=()
same_as "$before_a" "$GWA" "client.sh"
same_as "$before_b" "$GWB" "server.sh"
say "recipe 3: SIGTERM to both scripts; the gateways are as they were"

# The CA's machine: host B, which is neither gateway.
hca=$(home_of "$B")/root hb=$(home_of "$GWB")/root ha=$(home_of "$GWA")/root
on "$B" <<'EOF'
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days 365 -subj /CN=vpn-ca
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr -subj /CN=server -addext subjectAltName=IP:198.51.100.2
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -copy_extensions copy -out server.crt
EOF
cp "$hca/ca.crt" "$hca/server.crt" "$hca/server.key" "$hb/"	# "copy to gateway B"
on "$GWA" <<'EOF'
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout client.key -out client.csr -subj /CN=client
EOF
cp "$ha/client.csr" "$hca/"
on "$B" <<'EOF'
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -out client.crt
EOF
cp "$hca/client.crt" "$hca/ca.crt" "$ha/"	# "give gateway A back"
for c in "$hb/server.crt" "$ha/client.crt"; do
	openssl verify -CAfile "$hca/ca.crt" "$c" >/dev/null || fail "$c does not verify against ca.crt"
done
openssl x509 -in "$hb/server.crt" -noout -ext subjectAltName | grep 'IP Address:198.51.100.2' >/dev/null ||
	fail "server.crt does not name 198.51.100.2"
[[ ! -e $hb/ca.key && ! -e $ha/ca.key ]] || fail "the CA's key is on a gateway"
say "recipe 4: a CA off the gateways, certificates that verify, the client's key made where it stays"

on_bg tsrv "$GWB" <<'EOF'
scripts/server.sh -T tls -c server.crt -K server.key -C ca.crt -r 172.16.1.0/24
EOF
tsrv=$!
wait_for 5 listening "$GWB" 33960
on_bg tcli "$GWA" <<'EOF'
scripts/client.sh -T tls -s 198.51.100.2 -l 10.1.1.2/24 -c client.crt -K client.key -C ca.crt -r 172.20.1.0/24
EOF
up_both
on "$B" <<'EOF'
ping -c 3 172.16.1.1
EOF
transfer_check "$A" "$B" 172.20.1.2 5
[[ -n $(procs "$GWB" socat) && -z $(procs "$GWB" nc) ]] ||
	fail "gateway B's end is not socat: $(ip netns exec "$GWB" ss -Htnp)"
say "recipe 4: the scripts over TLS; ping and 5 MiB host to host"

# Without root but for the set-up: gateway B's server again, as nobody.
# Debian makes /dev/net/tun 0666; this machine may not: nobody gets a 0666
# node of the test's own.
stop "$tsrv" tsrv
mknod -m 0666 "$TMP/tun" c 10 200
on_bg usrv "$GWB" "$TMP/tun" /dev/net/tun <<'EOF'
chgrp nogroup server.key && chmod 0640 server.key
scripts/server.sh -T tls -u nobody -c server.crt -K server.key -C ca.crt -r 172.16.1.0/24
EOF
wait_for 5 listening "$GWB" 33960
up_both 40		# the client tries again after up to 8 s
for pid in $(ip netns pids "$GWB"); do
	[[ $(stat -c %U "/proc/$pid") != root || $(cat "/proc/$pid/comm") == server.sh ||
	    $(cat "/proc/$pid/comm") == sh ]] ||
		fail "runs as root on gateway B: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
done
say "recipe 4, -u nobody: socat and vpn as nobody; root only for server.sh"
