#!/bin/bash
# tests/77-howto-netcats.sh - whichever netcat is "nc": the article's
# pipeline by hand as docs/howto.md recipe 1 gives it for each, and the
# scripts over each that they drive.
#
# - By hand, nc being ncat, netcat-traditional or BusyBox's on both
#   gateways, each listening as the how-to says (nc -l 33960 for ncat;
#   nc -l -p 33960 for the other two): the gateways ping each other and
#   5 MiB cross the tunnel whole; Ctrl-C on the client ends both pipelines
#   and both devices go.
# - server.sh and client.sh with nc being ncat, then netcat-traditional, on
#   both gateways: the scripts see the peer come (the session comes up),
#   the hosts carry 5 MiB each way whole; the client leaves, the server's
#   nc ends with the connection and it waits for the next; SIGTERM to both
#   leaves the gateways as they were.
# - With BusyBox's nc, which says nothing when a peer connects, and with
#   netcat-traditional under -6, which has no IPv6, the scripts stop at
#   the start with one line saying what they need, and change nothing.
. "$(dirname "$0")/lib-howto.sh"
need ncat nc.traditional busybox iptables

sites
a0=$(snapshot "$GWA") b0=$(snapshot "$GWB")

# nc_is NS PROGRAM: on host NS, "nc" is PROGRAM (a link first on its PATH).
nc_is() { ln -sfn "$(command -v "$2")" "$(home_of "$1")/root/bin/nc"; }

# both_run PROGRAM: PROGRAM runs on both gateways: it is the transport.
both_run() {
	local exe gw
	exe=$(realpath "$(command -v "$1")")
	for gw in "$GWB" "$GWA"; do
		pid_of "$gw" "$exe" >/dev/null ||
			fail "$1 does not run on $gw: $(ip netns exec "$gw" ss -Htnp)"
	done
}

# by_hand PROGRAM <<'EOF': the server's line of the how-to on gateway B,
# the client's on gateway A, nc being PROGRAM on both; ping, 5 MiB, Ctrl-C.
by_hand() {
	local prog=$1 gw pids
	nc_is "$GWB" "$prog"
	nc_is "$GWA" "$prog"
	on_bg "hand-srv-$prog" "$GWB"		# the line on our stdin
	wait_for 5 listening "$GWB" 33960
	on_bg "hand-cli-$prog" "$GWA" <<'EOF'
d=$(mktemp -d) && mkfifo "$d/fifo" && cat "$d/fifo" | ./vpn | nc 198.51.100.2 33960 > "$d/fifo"
EOF
	wait_for 5 has_link "$GWB" tun0
	wait_for 5 has_link "$GWA" tun0
	on "$GWB" <<'EOF'
ip addr add 10.1.1.1/24 dev tun0; ip link set dev tun0 up
EOF
	on "$GWA" <<'EOF'
ip addr add 10.1.1.2/24 dev tun0; ip link set dev tun0 up
EOF
	wait_for 5 carrier "$GWB" tun0
	wait_for 5 carrier "$GWA" tun0
	on "$GWA" <<'EOF'
ping -c 3 10.1.1.1
EOF
	both_run "$prog"
	transfer_check "$GWA" "$GWB" 10.1.1.1 5
	mapfile -t pids < <(ip netns pids "$GWA")
	kill -INT "${pids[@]}"			# Ctrl-C on the client
	wait_for 5 no_link "$GWA" tun0
	wait_for 5 no_link "$GWB" tun0
	for gw in "$GWA" "$GWB"; do
		wait_for 5 no_procs "$gw"
		rm -f "$(home_of "$gw")/tmp/fifo"
	done
	SCRIPTS=()
	say "by hand, nc being $prog: ping, 5 MiB whole; Ctrl-C ends both ends"
}
no_procs() { [[ -z $(ip netns pids "$1") ]]; }

check "by hand, nc being ncat" by_hand ncat <<'EOF'
d=$(mktemp -d) && mkfifo "$d/fifo" && cat "$d/fifo" | ./vpn | nc -l 33960 > "$d/fifo"
EOF
check "by hand, nc being netcat-traditional" by_hand nc.traditional <<'EOF'
d=$(mktemp -d) && mkfifo "$d/fifo" && cat "$d/fifo" | ./vpn | nc -l -p 33960 > "$d/fifo"
EOF
check "by hand, nc being BusyBox's" by_hand busybox <<'EOF'
d=$(mktemp -d) && mkfifo "$d/fifo" && cat "$d/fifo" | ./vpn | nc -l -p 33960 > "$d/fifo"
EOF
same_as "$a0" "$GWA" "the pipelines by hand"
same_as "$b0" "$GWB" "the pipelines by hand"

# path_to PROGRAM: a directory whose nc is PROGRAM, to put first on PATH.
path_to() {
	local dir=$TMP/nc-$1
	mkdir -p "$dir"
	ln -sfn "$(command -v "$1")" "$dir/nc"
	echo "$dir"
}

# scripts_with PROGRAM ACCEPTED CONNECTED: server.sh and client.sh, nc
# being PROGRAM, whose -v says ACCEPTED and CONNECTED when the peer comes.
scripts_with() {
	local prog=$1 dir srv cli
	dir=$(path_to "$prog")
	PATH=$dir:$PATH server "srv-$prog" -r 172.16.1.0/24
	srv=$!
	wait_for 5 listening "$GWB" 33960
	PATH=$dir:$PATH client "cli-$prog" -s 198.51.100.2 -l 10.1.1.2/24 -r 172.20.1.0/24
	cli=$!
	up_both
	said "srv-$prog" "nc: $2" || fail "$prog: the server did not say '$2': $(cat "$TMP/srv-$prog.log")"
	said "cli-$prog" "$3" || fail "$prog: the client did not say '$3': $(cat "$TMP/cli-$prog.log")"
	both_run "$prog"
	transfer_check "$A" "$B" 172.20.1.2 5
	transfer_check "$B" "$A" 172.16.1.1 5
	stop "$cli" "cli-$prog"
	wait_for 10 said "srv-$prog" "waiting for the next client"
	wait_for 5 listening "$GWB" 33960
	stop "$srv" "srv-$prog"
	SCRIPTS=()
	same_as "$a0" "$GWA" "client.sh over $prog"
	same_as "$b0" "$GWB" "server.sh over $prog"
	[[ -z $(tmpdirs) ]] || fail "$prog: left in the scripts' directories: $(tmpdirs)"
	say "scripts over $prog: session up, 5 MiB each way whole, next client awaited, nothing left"
}
check "scripts over ncat" scripts_with ncat "Connection from 192.0.2.2" "nc: Connected to 198.51.100.2:33960."
check "scripts over netcat-traditional" scripts_with nc.traditional \
    "connect to [198.51.100.2] from" " 33960 (?) open"

# refused SCRIPT PROGRAM WANT ARGS...: SCRIPT, nc being PROGRAM, exits 1
# at once saying the one line WANT, and changes nothing.
refused() {
	local script=$1 prog=$2 want=$3 dir out rc=0
	shift 3
	dir=$(path_to "$prog")
	out=$(ip netns exec "$GWB" env PATH="$dir:$PATH" VPN="$VPN" TMPDIR="$TMP/run" \
	    VPN_RUNDIR="$TMP/rundir" "$ROOT/scripts/$script" "$@" 2>&1) || rc=$?
	((rc == 1)) || fail "$script over $prog: exit $rc, want 1: $out"
	[[ $out == "$script: $want" ]] || fail "$script over $prog said '$out', want '$script: $want'"
	same_as "$b0" "$GWB" "$script refused"
}
refused_all() {
	local bb="nc: BusyBox nc does not say when a peer connects (no -v); install netcat-openbsd or ncat"
	refused server.sh busybox "$bb" -r 172.16.1.0/24
	refused client.sh busybox "$bb" -s 198.51.100.1 -l 10.1.1.2/24
	refused server.sh nc.traditional \
	    "nc: netcat-traditional has no IPv6; install netcat-openbsd or ncat" -6
	[[ -z $(tmpdirs) ]] || fail "left in the scripts' directories: $(tmpdirs)"
}
check "refused: BusyBox nc; traditional's -6" refused_all
