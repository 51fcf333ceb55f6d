#!/bin/bash
# tests/78-howto-service.sh - docs/howto.md recipe 9 and the man pages'
# services, line for line: vpn-server@branch on gateway B and
# vpn-client@office on gateway A, each from its own make install.
#
# Each gateway sees its install at its real paths: DESTDIR's /usr and /etc
# over the machine's, in a private mount namespace (overlayfs, whose
# changes land in DESTDIR).  systemd is not PID 1 here, so "systemctl" is
# a stand-in that does what systemd does with these units, read from the
# installed files: ExecStart (%i replaced) with the unit's capability
# bounding set and no new privileges, in a clean environment; on stop,
# ExecStop if any, then KillSignal to the main process, which must be gone
# within TimeoutStopSec with a status that is 0 or in SuccessExitStatus.
# PrivateTmp and RuntimeDirectory become the test's own TMPDIR and
# VPN_RUNDIR.
#
# - systemd-analyze verify has nothing to say of either unit, installed;
#   of one whose ExecStart is nowhere, it does.
# - The how-to's lines: the example configurations copied, the services
#   started; host A and host B ping each other, and 5 MiB cross each way.
# - systemctl stop: each script exits 143 (clean, to systemd) in time, and
#   the gateways are as they were before.
. "$(dirname "$0")/lib-sites.sh"
need systemd-analyze man setpriv

# dest_of NS: the DESTDIR installed for gateway NS.
dest_of() { echo "$TMP/dest-${1##*-}"; }

# installed_cmd NS: set INSTALLED to the command prefix that runs a
# command on host NS with its install seen at the real paths.
installed_cmd() {
	local work
	work=$(mktemp -d "$TMP/work.XXXXXX")
	# shellcheck disable=SC2016 # expanded by the inner sh
	INSTALLED=(ip netns exec "$1" unshare -m --propagation private sh -c '
	    d=$1 w=$2
	    shift 2
	    for t in usr etc; do
		mkdir "$w/$t" &&
		mount -t overlay overlay -o "lowerdir=/$t,upperdir=$d/$t,workdir=$w/$t" "/$t" ||
		exit
	    done
	    exec "$@"' - "$(dest_of "$1")" "$work")
}

# as_installed NS <<'EOF': the lines, with bash -e, on host NS, installed.
as_installed() {
	local script rc=0
	script=$(cat)
	installed_cmd "$1"
	"${INSTALLED[@]}" bash -e -c "$script" </dev/null >"$TMP/on.out" 2>&1 || rc=$?
	((rc == 0)) || fail "on $1: '$script': exit $rc: $(tail -5 "$TMP/on.out")"
}

# unit_key UNIT KEY: KEY's values in the installed UNIT on host $HOST.
unit_key() {
	sed -n "s/^$2=//p" "$(dest_of "$HOST")/usr/lib/systemd/system/$1"
}

declare -A MAIN=()		# instance -> PID of its main process

# systemctl enable --now NAME@INST | stop NAME@INST: systemd's part, on
# host $HOST (see the top).
systemctl() {
	case $1:${2:-} in
	enable:--now) unit_start "$3" ;;
	stop:*)	unit_stop "$2" ;;
	*)	fail "systemctl $*: not in the stand-in" ;;
	esac
}

unit_start() {
	local unit=${1%@*}@.service caps argv
	[[ $(unit_key "$unit" NoNewPrivileges) == yes ]] || fail "$unit: NoNewPrivileges is not yes"
	caps=$(unit_key "$unit" CapabilityBoundingSet | tr 'A-Z ' 'a-z\n' | sed 's/^cap_/+/' | paste -sd,)
	read -ra argv <<<"$(unit_key "$unit" ExecStart)"
	argv=("${argv[@]//"%i"/${1#*@}}")
	installed_cmd "$HOST"
	spawn "${INSTALLED[@]}" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	    TMPDIR="$TMP/run" VPN_RUNDIR="$TMP/rundir" \
	    setpriv --no-new-privs --bounding-set "-all,$caps" -- "${argv[@]}" 2>"$TMP/$1.log"
	MAIN[$1]=$!
	SCRIPTS+=("$!")
}

unit_stop() {
	local unit=${1%@*}@.service pid=${MAIN[$1]} stop sig secs rc=0
	stop=$(unit_key "$unit" ExecStop)
	if [[ -n $stop ]]; then
		installed_cmd "$HOST"
		# shellcheck disable=SC2086 # the command line's words
		"${INSTALLED[@]}" ${stop//"%i"/${1#*@}}
	fi
	sig=$(unit_key "$unit" KillSignal) secs=$(unit_key "$unit" TimeoutStopSec)
	kill -s "${sig#SIG}" "$pid"
	timeout "$secs" tail --pid="$pid" -f /dev/null ||
		fail "$1: still running $secs s after $sig: $(tail -3 "$TMP/$1.log")"
	wait "$pid" || rc=$?
	[[ " 0 $(unit_key "$unit" SuccessExitStatus) " == *" $rc "* ]] ||
		fail "$1: exit $rc, a failure to systemd: $(tail -3 "$TMP/$1.log")"
	unset "MAIN[$1]"
}

installs() {
	local ns
	for ns in "$GWA" "$GWB"; do
		make -C "$ROOT" install DESTDIR="$(dest_of "$ns")" PREFIX=/usr >"$TMP/install.log" 2>&1 ||
			fail "make install: $(tail -3 "$TMP/install.log")"
	done
}

verifies() {
	local out unit
	for unit in vpn-server@branch.service vpn-client@office.service; do
		installed_cmd "$GWB"
		out=$("${INSTALLED[@]}" systemd-analyze verify "$unit" 2>&1) ||
			fail "systemd-analyze verify $unit: $out"
		[[ -z $out ]] || fail "systemd-analyze verify $unit said: $out"
	done
	mkdir "$TMP/broken"
	sed 's|^ExecStart=/usr/sbin/|ExecStart=/nowhere/|' \
	    "$(dest_of "$GWB")/usr/lib/systemd/system/vpn-server@.service" >"$TMP/broken/vpn-server@x.service"
	installed_cmd "$GWB"
	! "${INSTALLED[@]}" systemd-analyze verify "$TMP/broken/vpn-server@x.service" >/dev/null 2>&1 ||
		fail "systemd-analyze verify passed a unit whose ExecStart is nowhere"
}

sites
a0=$(snapshot "$GWA") b0=$(snapshot "$GWB")
check "make install on both gateways" installs
check "systemd-analyze verify the units" verifies

services() {
	as_installed "$GWB" <<'EOF'
cp /etc/vpn/server.conf.example /etc/vpn/branch.conf
EOF
	HOST=$GWB systemctl enable --now vpn-server@branch
	wait_for 5 listening "$GWB" 33960
	as_installed "$GWA" <<'EOF'
cp /etc/vpn/client.conf.example /etc/vpn/office.conf
EOF
	HOST=$GWA systemctl enable --now vpn-client@office
	up_both
	ip netns exec "$B" ping -c 3 -W 2 172.16.1.1 >/dev/null || fail "host B cannot ping host A"
	transfer_check "$A" "$B" 172.20.1.2 5
	transfer_check "$B" "$A" 172.16.1.1 5
}
check "services up: ping, 5 MiB each way" services

stops() {
	HOST=$GWA systemctl stop vpn-client@office
	HOST=$GWB systemctl stop vpn-server@branch
	SCRIPTS=()
	same_as "$a0" "$GWA" "systemctl stop vpn-client@office"
	same_as "$b0" "$GWB" "systemctl stop vpn-server@branch"
	[[ -z $(tmpdirs) ]] || fail "left in the scripts' directories: $(tmpdirs)"
}
check "systemctl stop: exit 143, nothing left" stops
