#!/bin/bash
# client.sh - keep a vpn link to a server.sh up.  See client.sh -h.
set -eu -o pipefail
export LC_ALL=C

PROGRAM=${0##*/}
SERVER='' PORT=33960 PORT_SET=0 IFACE=tun0 ADDRS=() ROUTES=() PUSHED=()
WHERE=
KEEPALIVE=10 TIMEOUT=30 TRANSPORT=nc MTU='' REMOTE='' SSH_OPTS=()
CERT='' KEY='' CAFILE='' PULL=0 PULL_RC=0 STATE='' MAX=0
WHOLE=0				# the server's vpn and ours send super-packets whole
ACCEPT_DEFAULT=0		# -D: take a pushed default route
BACKOFF_MAX=30			# seconds between attempts, at most
HEALTHY=10			# a session this long (s) resets the backoff
PULL_SECS=10			# the server's configuration comes by then, or by -t
OPTSTRING=C:c:De:hi:K:k:l:m:o:p:r:s:T:t:u:

# Installed, this is a link (vpn-server, vpn-client) to the file beside
# common.sh.
HERE=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
# shellcheck source=scripts/common.sh
. "$HERE/common.sh"

usage() {
	cat <<EOF
usage: $PROGRAM [-Dh] [-C cafile] [-c cert] [-e command] [-f file]
       [-i iface] [-K key] [-k secs] [-l addr/prefix]... [-m mtu]
       [-o ssh_option]... [-p port] [-r cidr]... [-T nc|tls|ssh|udp]
       [-t secs] [-u user] -s server

Make the device IFACE, address it, route the server's networks into it,
and keep a vpn session to server up: when it ends, or the server is not
there yet, try again after 1, 2, 4 ... 30 s.  Without -l, the server
(server.sh -M) gives the address, MTU and routes at the start of each
session; a route or address that would take the server's own address
into the tunnel, or a default route, is refused (but with -D), and a
route that exists is left as it is.  Runs in the foreground; SIGINT or
SIGTERM undoes every change it made.

  -C cafile    CA certificate the server's certificate must chain to (tls)
  -c cert      this client's certificate, PEM (tls)
  -D           take a pushed default route (as 0.0.0.0/1 and 128.0.0.0/1,
               or ::/1 and 8000::/1), and pushed routes and addresses
               that hold the server's address, which is first routed the
               way it goes now
  -e command   with -T ssh, the command run on the server (default
               "vpn -i tun0 -k SECS -t SECS"); it must attach to a device
               that is set up there, e.g. by "server.sh -T ssh -u USER"
  -f file      read options from file, one a line as here ("-r 10.0.0.0/8");
               the command line's come after them
  -h           print this help and exit
  -i iface     device to create (default tun0); it must not exist yet
  -K key       this client's private key, PEM (tls)
  -k secs      keepalive after secs without output (default 10; 0: off)
  -l a/prefix  address of the device, IPv4 or IPv6; repeatable.  Needed
               with a server that serves one client at a time; without it
               the server must push one (server.sh -M)
  -m mtu       device MTU (default 1500, 1400 with -T udp, or the server's)
  -o option    with -T ssh, an ssh -o option (IdentityFile=..., ...);
               repeatable
  -p port      server's port (default 33960; with -T ssh, ssh's default)
  -r cidr      route cidr (the server's LAN) into the tunnel; repeatable
  -s server    server's address or name (IPv6 literals too); with -T ssh,
               [user@]host
  -T nc        plain TCP through nc (default)
  -T tls       TCP through socat OPENSSL, with mutual certificate checks
               (-c, -K, -C); the server's certificate must name server
  -T ssh       ssh server command: the far side runs over ssh, no port open
  -T udp       UDP through socat, vpn in datagram mode: no TCP over TCP
  -t secs      end a session when the server is silent secs (default 30)
  -u user      run vpn and the transport as user, root only for the device,
               addresses, routes and rules

Environment: VPN, the vpn binary (default: ../vpn beside this script, or
the installed one, else vpn on PATH); VPN_RUNDIR (default /run/vpn), where
the running tunnels are described.  Firewall rules are tagged "vpn:IFACE".
A FORWARD chain whose policy drops is reported, with rules that would
accept the tunnel's traffic, and left as it is.
EOF
}

own_opt() {
	case $1 in
	D)	ACCEPT_DEFAULT=1 ;;
	e)	REMOTE=$2 ;;
	o)	SSH_OPTS+=(-o "$2") ;;
	s)	SERVER=$2 ;;
	esac
}

client_args() {
	[[ -n $SERVER ]] || usage_error "-s server is required"
	[[ $SERVER =~ ^[A-Za-z0-9_.@:%-]+$ ]] ||
		usage_error "-s: not a host name or address: '$SERVER'"
	[[ -z $REMOTE || $TRANSPORT == ssh ]] || usage_error "-e needs -T ssh"
	if ((${#SSH_OPTS[@]} > 0)) && [[ $TRANSPORT != ssh ]]; then
		usage_error "-o needs -T ssh"
	fi
	((${#ADDRS[@]} > 0)) || PULL=1
	((PULL || !ACCEPT_DEFAULT)) ||
		usage_error "-D is for a configuration the server pushes: not with -l"
	# A busy server is as late with its line as -t lets a silent one be.
	((TIMEOUT <= PULL_SECS)) || PULL_SECS=$TIMEOUT
	[[ -n $REMOTE ]] || REMOTE="vpn -i tun0 -k $KEEPALIVE -t $TIMEOUT"
}

checks() {
	local cmds=(ip iptables sysctl mkfifo mktemp flock)
	case $TRANSPORT in
	nc)	cmds+=(nc) ;;
	tls)	cmds+=(socat openssl) ;;
	udp)	cmds+=(socat) ;;
	ssh)	cmds+=(ssh) ;;
	esac
	[[ -z $RUN_USER ]] || cmds+=(setpriv)
	((PULL == 0)) || cmds+=(getent)
	preflight "${cmds[@]}"
	[[ $TRANSPORT != nc ]] || nc_flavour "$(family "$SERVER")"
	if [[ $TRANSPORT:$PULL == udp:0 ]]; then
		run_user tun	# socat runs vpn as -u's user
	else
		run_user
	fi
	[[ $TRANSPORT != tls ]] || tls_files
	free_device
}

# setup_state: the instance's directory under RUNDIR: how it runs, for
# vpn-status, and for session.sh, which pulls the configuration over UDP.
setup_state() {
	local v
	STATE=$(netns_dir)/$IFACE
	[[ ! -e $STATE/conf ]] || die "$STATE: another client.sh -i $IFACE runs here"
	mkdir -p "$STATE/sessions"
	undo_call state_gone "$STATE"
	: >"$STATE/pushed"
	{
		for v in PROGRAM IFACE TAG TRANSPORT SERVER PORT KEEPALIVE \
		    TIMEOUT MTU MTU_GIVEN RUN_USER VPN STATE ACCEPT_DEFAULT; do
			printf '%s=%q\n' "$v" "${!v}"
		done
		array_decl ADDRS
		array_decl ROUTES
		printf 'STARTED=%q\nROLE=client\n' "$(date +%s)"
	} >"$STATE/conf"
}

# pulled FD TRANSPORT_PID: the server's configuration, the first line on
# FD, applied to the device; 1 if none came (PULL_RC says why: 3, the
# transport ended; 4, the server pushes none).
pulled() {
	local head line
	WHOLE=0
	if ! readable "$1" "$PULL_SECS" "$2" && ! kill -0 "$2" 2>/dev/null; then
		PULL_RC=3
		return 1
	fi
	head=$(timeout "$PULL_SECS" dd bs=1 count=$((${#MAGIC} + 1)) status=none <&"$1" |
	    tr -d '\0') || true
	if [[ $head == vpn-refused ]]; then
		read -r -n 1024 -u "$1" line || true
		say "refused by the server: ${line#1 }"
		PULL_RC=3
		return 1
	fi
	if [[ $head != "$MAGIC " ]]; then
		PULL_RC=4
		if ! kill -0 "$2" 2>/dev/null; then
			PULL_RC=3
		elif [[ -z $head ]]; then
			say "no configuration from the server in $PULL_SECS s: a server.sh without -M sends none; give -l"
		else
			say "the server sent packets, not its configuration: a server.sh without -M sends none; give -l"
		fi
		return 1
	fi
	read -r -n 1024 -u "$1" line || true
	apply_config "$MAGIC $line" || { PULL_RC=4; return 1; }
	# It got our greeting: its vpn sends super-packets whole; so does ours.
	[[ " $line " != *" whole=1 "* ]] || WHOLE=1
}

# server_addrs: the addresses the server's name stands for now, one a
# line in STATE/server: what a pushed configuration must leave outside the
# tunnel (apply_config).  1 if it stands for none.
server_addrs() {
	local host=$SERVER addrs
	if [[ $TRANSPORT == ssh ]]; then	# ssh_config may name another host
		host=$(ssh -G "${SSH_OPTS[@]}" "$SERVER" 2>/dev/null |
		    awk '$1 == "hostname" { print $2; exit }') || true
		[[ -n $host ]] || host=${SERVER#*@}
	fi
	addrs=$(getent ahosts "$host" | awk '{ print $1 }' | sort -u) || true
	[[ -n $addrs ]] || { say "$host: no address for it"; return 1; }
	printf '%s\n' "$addrs" >"$STATE/server"
}

# session_up: the transport is connected (and the configuration applied).
session_up() {
	local who=$SERVER how=''
	[[ $TRANSPORT == ssh ]] || who=$(bracket "$SERVER"):$PORT
	if ((PULL)); then
		session_file "$who" "${PUSHED[@]}"
	else
		session_file "$who" "${ADDRS[@]}"
	fi
	((WHOLE == 0)) || how=', super-packets whole'
	say "connected to $WHERE ($TRANSPORT): session up on $IFACE$how"
}

# one_session: one attempt; vpn's status, 3 if the connection failed, or
# 4 if the server's configuration was not one.
one_session() {
	local host port=()
	host=$(bracket "$SERVER")
	case $TRANSPORT in
	nc)	session "$NC_CONNECTED" as_user nc -v "$SERVER" "$PORT" ;;
	tls)	session "starting data transfer loop" as_user socat -d -d \
		    "OPENSSL:$host:$PORT,$(tls_opts)" STDIO ;;
	ssh)	((PORT_SET == 0)) || port=(-p "$PORT")
		session '' as_user ssh -e none "${port[@]}" "${SSH_OPTS[@]}" \
		    "$SERVER" "$REMOTE" ;;
	udp)	udp_session "UDP:$host:$PORT" ;;
	esac
}

# udp_session ADDRESS: vpn as socat's own process on a UDP socket (EXEC
# nofork): vpn sees a datagram socket and keeps packets whole.  Without
# -l, session.sh asks the server for the configuration first.
udp_session() {
	local rc=0 exec
	ENDED=''
	RUN_USER='' vpn_args "$IFACE" "$STATE/sessions/one.stats"	# socat runs it as -u's user
	exec=${VPN_ARGS[*]}
	if ((PULL)); then
		exec="$HERE/session.sh pull $STATE"
		socat "$1" EXEC:"$exec",nofork &
	else
		session_file "$(bracket "$SERVER"):$PORT" "${ADDRS[@]}"
		say "sending to $WHERE (udp): session up on $IFACE"
		# vpn opens its counters' file as -u's user: one of its own,
		# in a directory that stays root's.
		[[ -z $RUN_USER ]] ||
			install -m 0644 -o "$RUN_USER" /dev/null "$STATE/sessions/one.stats"
		as_user socat "$1" EXEC:"$exec",nofork &
	fi
	CHILDREN=("$!")
	wait "$!" || rc=$?
	CHILDREN=()
	case $rc in
	3|4)	;;		# refused, or no configuration: said
	*)	ENDED=$(why_ended "$rc" vpn) ;;
	esac
	return "$rc"
}

connect() {
	local start rc delay=1
	WHERE=$SERVER
	[[ $TRANSPORT == ssh ]] || WHERE+=" port $PORT"
	while :; do
		start=$SECONDS
		rc=0
		say "connecting to $WHERE ($TRANSPORT)"
		if ((PULL)) && ! server_addrs; then
			rc=3
		else
			one_session || rc=$?
		fi
		session_gone
		((SECONDS - start < HEALTHY)) || delay=1
		# A bad or missing line is one failed attempt, never the end: a
		# slow server, or one spoofed datagram, must not stop the client.
		if ((rc == 3 || rc == 4)); then
			say "no session with $WHERE; trying again in $delay s"
		else
			say "session with $WHERE ended: ${ENDED:-vpn exited $rc}; reconnecting in $delay s"
		fi
		sleep "$delay" &
		CHILDREN=("$!")
		wait "$!"
		CHILDREN=()
		delay=$((delay * 2 > BACKOFF_MAX ? BACKOFF_MAX : delay * 2))
	done
}

main() {
	parse_args "$@"
	client_args
	checks
	traps
	setup_state
	setup_device
	setup_forwarding
	setup_routes
	# What pushed configurations add outside the device does not go with
	# it: undo that, before the device goes.
	undo_call pushed_del
	fifos
	connect
}

main "$@"
