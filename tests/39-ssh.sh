#!/bin/bash
# tests/39-ssh.sh - the ssh transport: no vpn port open on the server.
#
# - A private sshd (its own config, host key and authorized key in this
#   test's directory, on port 2222 in gateway B's namespace, with a tmpfs
#   /run of its own) stands in for the server's; nothing of the system's
#   sshd or ~/.ssh is used or changed.
# - server.sh -T ssh sets up tun0, NAT and routes, and listens on nothing;
#   client.sh -T ssh logs in and runs vpn there: host to host ping, and
#   10 MiB checksummed.
# - When the ssh session ends, the client reconnects.
. "$(dirname "$0")/lib-sites.sh"
need ssh ssh-keygen
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[[ -x $SSHD ]] || skip "sshd is not installed (openssh-server)"

K=$TMP/ssh
mkdir -m 700 "$K"
ssh-keygen -q -t ed25519 -N '' -f "$K/host" -C host
ssh-keygen -q -t ed25519 -N '' -f "$K/id" -C client
cp "$K/id.pub" "$K/authorized_keys"
printf '[198.51.100.2]:2222 %s\n' "$(cut -d' ' -f1,2 "$K/host.pub")" >"$K/known_hosts"
cat >"$K/sshd_config" <<EOC
ListenAddress 198.51.100.2:2222
HostKey $K/host
AuthorizedKeysFile $K/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
EOC

sites
# sshd wants /run/sshd: a tmpfs /run in a mount namespace of its own.
# shellcheck disable=SC2016 # expanded by the inner sh
spawn ip netns exec "$GWB" unshare -m --propagation private sh -c \
    'mount -t tmpfs tmpfs /run && mkdir /run/sshd && exec "$1" -D -e -f "$2"' \
    - "$SSHD" "$K/sshd_config" 2>"$TMP/sshd.log"
for _ in {1..50}; do	# not wait_for: a failure here is a skip
	! listening "$GWB" 2222 || break
	sleep 0.1
done
listening "$GWB" 2222 || skip "private sshd did not start: $(head -3 "$TMP/sshd.log")"

server srv -T ssh -r 172.16.1.0/24
wait_for 5 has_link "$GWB" tun0
wait_for 5 said srv "ready: an ssh client runs '$VPN -i tun0 -k 10 -t 30' here"
! ip netns exec "$GWB" ss -Hltnu | grep -v ':2222 ' ||
	fail "server.sh -T ssh listens: $(ip netns exec "$GWB" ss -Hltnu)"

client cli -T ssh -s root@198.51.100.2 -l 10.1.1.2/24 -p 2222 -o "IdentityFile=$K/id" \
    -o "UserKnownHostsFile=$K/known_hosts" -o GlobalKnownHostsFile=/dev/null \
    -o StrictHostKeyChecking=yes -o BatchMode=yes \
    -e "$VPN -i tun0 -k 2 -t 6" -r 172.20.1.0/24
up_both 15
ip netns exec "$B" ping -c 3 -i 0.2 -W 2 172.16.1.1 >/dev/null || fail "host B cannot ping host A"
transfer_check "$A" "$B" 172.20.1.2 10
say "ssh: ping and 10 MiB"

# The far side's vpn goes (as if the session were cut): the client is back.
kill "$(pid_of "$GWB" "$VPN")"
wait_for 5 said cli "reconnecting in 1 s"
up_both 15
say "ssh: the client reconnected after its session ended"
