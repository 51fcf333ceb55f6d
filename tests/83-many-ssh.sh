#!/bin/bash
# tests/83-many-ssh.sh - one server, many clients, over ssh.
#
# A private sshd on gateway B (port 2222, its own config, host key and
# authorized keys in this test's directory; a tmpfs /run of its own), and
# server.sh -M 2 -T ssh, which prints the forced command that makes each
# login a session.  Two client hosts, each with a key of its own, whose
# authorized_keys line runs that command with the client's name:
# - each login gets its own device and address (bob's fixed by -A), and
#   reaches the server's tunnel address and host B;
# - the sessions log to the server's log, not the clients';
# - client.sh greets through ssh, and both ends send super-packets whole;
# - SIGTERM to the server ends both sessions and leaves gateway B as it
#   was.
. "$(dirname "$0")/lib-many.sh"
need ssh ssh-keygen
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[[ -x $SSHD ]] || skip "sshd is not installed (openssh-server)"

K=$TMP/ssh
mkdir -m 700 "$K"
ssh-keygen -q -t ed25519 -N '' -f "$K/host" -C host
for n in alice bob; do
	ssh-keygen -q -t ed25519 -N '' -f "$K/$n" -C "$n"
done
printf '[198.51.100.2]:2222 %s\n' "$(cut -d' ' -f1,2 "$K/host.pub")" >"$K/known_hosts"
cat >"$K/sshd_config" <<EOC
ListenAddress 198.51.100.2:2222
HostKey $K/host
AuthorizedKeysFile $K/authorized_keys
PermitRootLogin forced-commands-only
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
SetEnv VPN_RUNDIR=$TMP/rundir
EOC
printf 'bob 10.1.1.20\n' >"$TMP/ids"

many_sites 2
# shellcheck disable=SC2016 # expanded by the inner sh
spawn ip netns exec "$GWB" unshare -m --propagation private sh -c \
    'mount -t tmpfs tmpfs /run && mkdir /run/sshd && exec "$1" -D -e -f "$2"' \
    - "$SSHD" "$K/sshd_config" 2>"$TMP/sshd.log"
for _ in {1..50}; do	# not wait_for: a failure here is a skip
	! listening "$GWB" 2222 || break
	sleep 0.1
done
listening "$GWB" 2222 || skip "private sshd did not start: $(head -3 "$TMP/sshd.log")"

up() {
	local cmd n i
	B0=$(snapshot "$GWB")
	server srv -M 2 -T ssh -A "$TMP/ids" -k 1 -t 3 -r 172.20.1.0/24
	SRV=$!
	wait_for 5 said srv "  command=\""
	cmd=$(sed -n 's/^server\.sh:   \(command=.*\) KEY$/\1/p' "$TMP/srv.log")
	[[ -n $cmd ]] || fail "server.sh printed no forced command: $(cat "$TMP/srv.log")"
	for n in alice bob; do
		printf '%s %s\n' "${cmd/ NAME\"/ $n\"}" "$(cat "$K/$n.pub")" >>"$K/authorized_keys"
	done
	i=0
	for n in alice bob; do
		i=$((i + 1))
		client_on "$i" "c$i" -T ssh -s root@198.51.100.2 -p 2222 -k 1 -t 3 \
		    -o "IdentityFile=$K/$n" -o "UserKnownHostsFile=$K/known_hosts" \
		    -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes \
		    -o BatchMode=yes
	done
	for i in 1 2; do
		wait_for 15 reach "${CLIENTS[i - 1]}" 10.1.1.1
		reach "${CLIENTS[i - 1]}" 172.20.1.2 || fail "client $i cannot reach host B"
	done
	[[ $(tun_addr "${CLIENTS[1]}") == 10.1.1.20 ]] || fail "bob has $(tun_addr "${CLIENTS[1]}"), want 10.1.1.20"
	[[ $(tun_addr "${CLIENTS[0]}") != 10.1.1.20 ]] || fail "alice has bob's address"
	[[ $(session_devs | wc -l) == 2 ]] || fail "session devices: $(session_devs | tr '\n' ' ')"
	said srv "(bob): session up on" || fail "the server's log lacks bob's session: $(cat "$TMP/srv.log")"
	# client.sh greeted through ssh: both ends send super-packets whole.
	grep "(bob): session up on" "$TMP/srv.log" | grep -q ", super-packets whole$" ||
		fail "bob's session on the server: $(grep '(bob): session up' "$TMP/srv.log")"
	said c2 "session up on tun0, super-packets whole" ||
		fail "bob's client: $(grep 'session up' "$TMP/c2.log")"
	! said c2 "ip tuntap add dev tun0-" || fail "the session's log went to the client"
}
check "each ssh login a session: its own device and address" up
check "SIGTERM with two sessions up: gateway B as it was" all_stopped
