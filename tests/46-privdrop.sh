#!/bin/bash
# tests/46-privdrop.sh - -u USER: vpn drops root once the device is open.
#
# - With -u nobody, /proc/PID/status shows nobody's uid and gid (real,
#   effective, saved and fs), exactly nobody's groups, and no
#   capabilities.
# - It still moves packets: a framed echo request is answered, and EOF
#   ends it with status 0; its device goes with it.
# - -u with a user that does not exist: no device made, exit 1, "vpn: -u: no such user:
#   'NAME'", and no device is left behind.
. "$(dirname "$0")/lib-pipe.sh"

user=nobody
uid=$(id -u "$user") gid=$(id -g "$user")
groups=$(id -G "$user" | tr ' ' '\n' | sort -n | tr '\n' ' ')
((uid != 0)) || skip "$user is root here"

ns=$NS_PREFIX-1
ns_add "$ns"
mkfifo "$TMP/in"
exec 5<>"$TMP/in"
spawn ip netns exec "$ns" "$VPN" -v -u "$user" -i tp0 <"$TMP/in" >"$TMP/out" 2>"$TMP/err" 5>&-
pid=$!
wait_for 5 grep -q 'TUN device' "$TMP/err"	# said after the drop

# ids FIELD: the numbers on FIELD's line of /proc/PID/status, sorted; the
# file read whole, once (lib-pipe.sh's vm_kib says why).
ids() {
	local k rest status
	status=$(<"/proc/$pid/status")
	while read -r k rest; do
		[[ $k != "$1:" ]] || break
	done <<<"$status"
	tr -s ' \t' '\n' <<<"$rest" | sed '/^$/d' | sort -n | tr '\n' ' '
}
[[ $(ids Uid) == "$uid $uid $uid $uid " ]] || fail "Uid: $(ids Uid), want $uid x4"
[[ $(ids Gid) == "$gid $gid $gid $gid " ]] || fail "Gid: $(ids Gid), want $gid x4"
[[ $(ids Groups) == "$groups" ]] || fail "Groups: $(ids Groups), want $groups"
for c in CapPrm CapEff; do
	[[ $(ids "$c") == "0000000000000000 " ]] || fail "$c: $(ids "$c"), want none"
done
say "-u $user: uid $uid, gid $gid, groups $groups"

tun_up "$ns" tp0 10.9.0.1/24
wait_for 5 carrier "$ns" tp0
hexbin "$(frame "$(ip4_echo 10.9.0.2 10.9.0.1 1 abcdef)")" >&5
reply() { frames_in "$TMP/out" | grep -E '^45.{16}01.{20}00' >/dev/null; }
wait_for 5 reply
exec 5>&-
rc=0
wait "$pid" || rc=$?
((rc == 0)) || fail "-u $user: exit $rc at EOF, want 0: $(cat "$TMP/err")"
counters_are "$TMP/err" rx_packets=1
wait_for 2 no_link "$ns" tp0
say "-u $user: an echo request answered; exit 0 at EOF; tp0 gone"

bad=vpnt-no-such-user-$$
rc=0
# The user is looked up before the device is made: if vpn made tq0 at all,
# even for a moment, the second marker device's ifindex skips one.
ip -n "$ns" tuntap add dev dum1 mode tun
msg=$(ip netns exec "$ns" "$VPN" -u "$bad" -i tq0 </dev/null 2>&1 >/dev/null) || rc=$?
ip -n "$ns" tuntap add dev dum2 mode tun
i1=$(ip netns exec "$ns" cat /sys/class/net/dum1/ifindex)
i2=$(ip netns exec "$ns" cat /sys/class/net/dum2/ifindex)
((i2 == i1 + 1)) || fail "-u $bad: a device was made before the user was checked (ifindex $i1, then $i2)"
((rc == 1)) || fail "-u $bad: exit $rc, want 1 ($msg)"
[[ $msg == "vpn: -u: no such user: '$bad'" ]] ||
	fail "-u $bad: said '$msg', want \"vpn: -u: no such user: '$bad'\""
no_link "$ns" tq0 || fail "-u $bad: tq0 left behind"
say "-u $bad: exit 1: $msg"
