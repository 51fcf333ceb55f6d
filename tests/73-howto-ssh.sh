#!/bin/bash
# tests/73-howto-ssh.sh - docs/howto.md recipe 6, line for line: the ssh
# transport, with the client's key and known_hosts made by the recipe.
#
# Gateway B's sshd is a private one: its own config and host key in gateway
# B's home, on 198.51.100.2 port 22 inside that namespace, with a tmpfs
# /run and vpn "installed" by binding a directory over /usr/local/bin, all
# in a mount namespace of its own.  Nothing of the system's sshd is used.
# - ssh-keyscan saved gateway B's host key, as sshd has it.
# - server.sh -T ssh opens no port; client.sh -T ssh logs in with the key:
#   host A and host B ping each other, and 5 MiB arrive whole.
. "$(dirname "$0")/lib-howto.sh"
need ssh ssh-keygen ssh-keyscan iptables
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[[ -x $SSHD ]] || skip "sshd is not installed (openssh-server)"

sites
hb=$(home_of "$GWB")/root ha=$(home_of "$GWA")/root
ssh-keygen -q -t ed25519 -N '' -f "$hb/host_key" -C gateway-b
cat >"$hb/sshd_config" <<EOC
ListenAddress 198.51.100.2
HostKey /root/host_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
EOC
on_bg sshd "$GWB" "$hb/bin" /usr/local/bin <<EOF
mount -t tmpfs tmpfs /run && mkdir /run/sshd && exec $SSHD -D -e -f /root/sshd_config
EOF
for _ in {1..50}; do	# not wait_for: a failure here is a skip
	! listening "$GWB" 22 || break
	sleep 0.1
done
listening "$GWB" 22 || skip "private sshd did not start: $(head -3 "$TMP/sshd.log")"

on "$GWA" <<'EOF'
mkdir -p -m 700 ~/.ssh
ssh-keygen -q -t ed25519 -N '' -f ~/.ssh/id_ed25519
ssh-keyscan 198.51.100.2 >> ~/.ssh/known_hosts
EOF
grep -qF "$(cut -d' ' -f1,2 "$hb/host_key.pub")" "$ha/.ssh/known_hosts" ||
	fail "known_hosts lacks gateway B's host key: $(cat "$ha/.ssh/known_hosts")"
install -d -m 0700 "$hb/.ssh"	# "add it to gateway B's authorized_keys"
cat "$ha/.ssh/id_ed25519.pub" >>"$hb/.ssh/authorized_keys"
say "recipe 6: a key for gateway A, and gateway B's host key in known_hosts"

on_bg srv "$GWB" <<'EOF'
scripts/server.sh -T ssh -r 172.16.1.0/24
EOF
wait_for 5 said srv "ready: an ssh client runs"
! ip netns exec "$GWB" ss -Hltnu | grep -v ':22 ' ||
	fail "server.sh -T ssh listens: $(ip netns exec "$GWB" ss -Hltnu)"
on_bg cli "$GWA" <<'EOF'
scripts/client.sh -T ssh -s root@198.51.100.2 -l 10.1.1.2/24 -r 172.20.1.0/24
EOF
up_both 15
on "$B" <<'EOF'
ping -c 3 172.16.1.1
EOF
transfer_check "$A" "$B" 172.20.1.2 5
[[ -n $(procs "$GWB" vpn) && -n $(procs "$GWB" sshd) ]] ||
	fail "gateway B's vpn does not run under sshd"
say "recipe 6: over ssh with no port open; ping and 5 MiB host to host"
