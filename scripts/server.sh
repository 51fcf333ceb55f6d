#!/bin/bash
# server.sh - serve vpn clients: one at a time, or many at once (-M).
# See server.sh -h.
set -eu -o pipefail
export LC_ALL=C

PROGRAM=${0##*/}
PORT=33960 PORT_SET=0 IFACE=tun0 ADDRS=() ROUTES=() OUT='' FAMILY=4
KEEPALIVE=10 TIMEOUT=30 TRANSPORT=nc MTU='' CERT='' KEY='' CAFILE=''
MAX=0 IDENTITIES='' CLIENT_TO_CLIENT=0 STATE=''
HANDSHAKE_SECS=5		# a TLS handshake not over by then is dropped
HANDSHAKES=32			# TLS handshakes, or UDP exchanges (-M), that may
				# be under way at once
OPTSTRING=6A:C:c:hi:K:k:l:M:m:n:p:r:T:t:u:x

# Installed, this is a link (vpn-server, vpn-client) to the file beside
# common.sh.
HERE=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
# shellcheck source=scripts/common.sh
. "$HERE/common.sh"
# shellcheck source=scripts/pool.sh
. "$HERE/pool.sh"

usage() {
	cat <<EOF
usage: $PROGRAM [-6hx] [-A file] [-C cafile] [-c cert] [-f file] [-i iface]
       [-K key] [-k secs] [-l addr/prefix]... [-M max] [-m mtu]
       [-n out_iface] [-p port] [-r cidr]... [-T nc|tls|udp|ssh]
       [-t secs] [-u user]

Make the device IFACE, address it, forward and NAT for it, and serve one
vpn client at a time on PORT; when a client leaves, wait for the next.
With -M, serve up to max clients at once, each on a device of its own
(IFACE-N), with an address from the -l prefixes that the server pushes to
the client (client.sh without -l takes it).  Runs in the foreground;
SIGINT or SIGTERM ends every session and undoes every change it made.

  -6           listen on IPv6 (and IPv4-mapped) instead of IPv4
  -A file      with -M: fixed addresses, one "NAME ADDRESS [ADDRESS6]" a
               line; NAME is the TLS certificate's common name, or the name
               in an ssh key's forced command (see -T ssh)
  -C cafile    CA certificate that client certificates must chain to (tls)
  -c cert      this server's certificate, PEM (tls)
  -f file      read options from file, one a line as here ("-r 10.0.0.0/8");
               the command line's come after them
  -h           print this help and exit
  -i iface     device to create (default tun0); with -M, the prefix of the
               session devices (IFACE-1, IFACE-2 ...), where a slot whose
               name another's device has is skipped
  -K key       this server's private key, PEM (tls)
  -k secs      keepalive after secs without output (default 10; 0: off)
  -l a/prefix  address of the device, IPv4 or IPv6; repeatable (default
               10.1.1.1/24); with -M, the server's address in a pool: each
               client gets another address of the prefix
  -M max       serve up to max clients at once (1 to 1000); more are refused
  -m mtu       device MTU (default 1500; 1400 with -T udp)
  -n out_iface masquerade the tunnel's subnets out of out_iface
               (default: the interface of the default route, if any)
  -p port      port to listen on (default 33960)
  -r cidr      route cidr (a client's LAN) into the tunnel; repeatable.
               With -M, a network of this side that each client routes
               into its tunnel (pushed to it)
  -T nc        plain TCP through nc -l: the article's pipeline (default);
               with -M, through socat TCP-LISTEN, which serves many
  -T tls       TCP through socat OPENSSL-LISTEN, with mutual certificate
               checks (-c, -K, -C): no client without a certificate
               signed by cafile gets a session; a handshake not done in
               $HANDSHAKE_SECS s is dropped
  -T udp       UDP through socat UDP-LISTEN, vpn in datagram mode: no
               TCP over TCP; a session ends when the client is silent -t secs
  -T ssh       no listener: set up and wait; clients log in with ssh and
               run "vpn -i iface" (see client.sh -h); with -M, each login
               runs the forced command this server prints
  -t secs      end a session when the client is silent secs (default 30)
  -u user      run vpn and the transport as user, root only for the device,
               addresses, routes and rules; the device belongs to user
  -x           with -M, let clients reach each other (default: they reach
               the server and what it routes, not each other)

Environment: VPN, the vpn binary (default: ../vpn beside this script, or
the installed one, else vpn on PATH); VPN_RUNDIR (default /run/vpn), where
the running tunnels are described.  Firewall rules are tagged "vpn:IFACE".
A FORWARD chain whose policy drops is reported, with rules that would
accept the tunnel's traffic, and left as it is.
EOF
}

own_opt() {
	case $1 in
	6)	FAMILY=6 ;;
	A)	IDENTITIES=$2 ;;
	M)	num -M "$2" 1 1000; MAX=$2 ;;
	n)	OUT=$2 ;;
	x)	CLIENT_TO_CLIENT=1 ;;
	esac
}

# many_args: what -M needs of the other options.
many_args() {
	((MAX > 0)) || {
		[[ -z $IDENTITIES ]] || usage_error "-A needs -M"
		((CLIENT_TO_CLIENT == 0)) || usage_error "-x needs -M"
		return 0
	}
	((${#IFACE} <= 15 - 1 - ${#MAX})) ||
		usage_error "-i: '$IFACE' leaves no room for -$MAX in 15 bytes"
	pool_check "${ADDRS[@]}"
	line_check
}

# line_check: the longest configuration line a client may be sent (each
# address at its longest, a nonce of 64 digits, the cookie; over a stream
# " whole=1" instead, shorter than those two, which are UDP's) has at most
# the 1024 bytes of docs/protocol.md: no client reads a longer one whole,
# and over UDP it would be an answer bigger than the hello that asked.
line_check() {
	local a r n=$((${#MAGIC} + 2 + 10 + 71 + 24))	# " 1", " mtu=", nonce, cookie
	for a in "${ADDRS[@]}"; do			# " addr=A/P peer=A"
		if [[ $a == *:* ]]; then n=$((n + 94)); else n=$((n + 45)); fi
	done
	for r in "${ROUTES[@]}"; do
		n=$((n + 7 + ${#r}))
	done
	((n <= 1024)) || usage_error "-r: with -M, a client's configuration line could take $n bytes, more than 1024: fewer routes"
}

checks() {
	local cmds=(ip iptables sysctl ss mkfifo mktemp flock) out
	case $TRANSPORT:$MAX in
	nc:0)	cmds+=(nc) ;;
	nc:*|tls:*|udp:*) cmds+=(socat) ;;
	esac
	[[ $TRANSPORT != tls ]] || cmds+=(openssl)
	[[ -z $RUN_USER && $TRANSPORT:$MAX == nc:0 ]] || cmds+=(setpriv)
	((MAX == 0)) || ! uses_ipv6 || cmds+=(ip6tables)
	preflight "${cmds[@]}"
	[[ $TRANSPORT:$MAX != nc:0 ]] || nc_flavour "$FAMILY"
	if [[ $TRANSPORT:$MAX == tls:0 ]]; then
		run_user tun	# socat's session runs vpn as -u's user
	else
		run_user
	fi
	[[ $TRANSPORT != tls ]] || tls_files
	[[ -z $IDENTITIES ]] || identities_check "$IDENTITIES"
	if ((MAX > 0)); then
		stale_state
		# A device of that name is another's: its slot is skipped.
		out=$(ip -o link show | grep -o " $IFACE-[0-9]*[:@]" | tr -d ' :@' | tr '\n' ' ' || true)
		[[ -z $out ]] || say "${out% }: devices not this server's; their slots are skipped"
		[[ ! -e $(netns_dir)/$IFACE ]] ||
			die "$(netns_dir)/$IFACE: another server.sh -i $IFACE runs here"
	else
		free_device
	fi
	case $TRANSPORT in
	nc|tls)	free_port tcp ;;
	udp)	free_port udp ;;
	esac
	if [[ -z $OUT ]]; then
		OUT=$(ip -o route show default | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -1)
		[[ -n $OUT ]] || say "no default route: no NAT (give -n out_iface)"
	else
		ip link show dev "$OUT" >/dev/null 2>&1 || die "-n: no such device: '$OUT'"
	fi
}

# setup_nat: masquerade the tunnel's subnets, IPv4 and IPv6, out of OUT.
setup_nat() {
	local a
	[[ -n $OUT ]] || return 0
	for a in "${ADDRS[@]}"; do
		if [[ $a != *:* ]]; then
			ipt iptables nat POSTROUTING -s "$a" -o "$OUT" -j MASQUERADE
		elif command -v ip6tables >/dev/null; then
			ipt ip6tables nat POSTROUTING -s "$a" -o "$OUT" -j MASQUERADE
		fi
	done
}

# setup_state: the instance's directory under RUNDIR: how it runs, for its
# sessions (session.sh) and for vpn-status.
setup_state() {
	local v
	STATE=$(netns_dir)/$IFACE
	mkdir -p "$STATE/sessions"
	undo_call state_gone "$STATE"
	{
		for v in PROGRAM IFACE TAG TRANSPORT PORT KEEPALIVE TIMEOUT MTU MTU_GIVEN \
		    MAX IDENTITIES RUN_USER VPN STATE CLIENT_TO_CLIENT; do
			printf '%s=%q\n' "$v" "${!v}"
		done
		array_decl ADDRS
		array_decl ROUTES
		printf 'STARTED=%q\n' "$(date +%s)"
		printf 'SERVER_PID=%s\nSERVER_START=%s\n' "$$" "$(proc_start "$$")"
		printf 'ROLE=server\n'
	} >"$STATE/conf"
	# Root's, also with -u: root writes leases and counters here, and a
	# user who could write the directory could put links in their place.
	chmod go-w "$STATE" "$STATE/sessions"
	# A TLS server without -M runs session.sh, and so its vpn, as -u's
	# user: the files they write are made here, and handed over one by one.
	if [[ -n $RUN_USER && $TRANSPORT:$MAX == tls:0 ]]; then
		user_file "$STATE/sessions/one"
		user_file "$STATE/sessions/one.lock"
		user_file "$STATE/sessions/one.stats"
	fi
}

# stale_state: what a server.sh -M -i IFACE killed without its clean-up
# (SIGKILL, the OOM killer) left: its state, its sessions, which may still
# run, their devices and rules, its own tagged rules, its listener.  If
# the server its conf names is gone, all that is ended and deleted, said
# in one line, and this one starts in its place.  A server that runs, or
# a state without a server's PID, is left to the check that refuses.
stale_state() {
	local old pid start
	old=$(netns_dir)/$IFACE
	[[ -f $old/conf ]] || return 0
	pid=$(sed -n 's/^SERVER_PID=//p' "$old/conf")
	start=$(sed -n 's/^SERVER_START=//p' "$old/conf")
	[[ -n $pid ]] && ! proc_is "$pid" "$start" || return 0
	say "$old: its server.sh (pid $pid) is gone: ending what it left (sessions, devices, rules, leases)"
	STATE=$old
	pid=$(lease_key "$old/listener" pid)
	! proc_is "$pid" "$(lease_key "$old/listener" start)" || kill "$pid" 2>/dev/null || true
	sessions_end 50
	stale_rules_gone "$IFACE"
	rules_gone "$TAG" filter nat mangle raw
	rm -rf "$old"
	STATE=''
}

# setup_many: the rules every session shares: clients do not reach each
# other but with -x (one rule), and the MSS clamp for all their devices.
setup_many() {
	setup_forwarding "$IFACE-+"
	((CLIENT_TO_CLIENT)) && return
	ipt iptables filter FORWARD -i "$IFACE-+" -o "$IFACE-+" -j DROP
	if uses_ipv6; then
		ipt ip6tables filter FORWARD -i "$IFACE-+" -o "$IFACE-+" -j DROP
	fi
}

# session_up: a session has begun (the nc gate opened).
session_up() {
	session_file "$(bracket "$PEER_ADDR"):$PEER_PORT" "${ADDRS[@]}"
	say "$(bracket "$PEER_ADDR"):$PEER_PORT: session up on $IFACE (nc, one client at a time)"
}

# one_session: serve one client, and return vpn's status (3: no client).
one_session() {
	local pf='' lst=UDP-LISTEN rc=0
	[[ $FAMILY == 4 ]] || pf=,pf=ip6
	case $TRANSPORT in
	nc)	session "$NC_ACCEPTED" as_user nc "${NC_LISTEN[@]}" "$PORT" ;;
	udp)	RUN_USER='' vpn_args "$IFACE" "$STATE/sessions/one.stats"	# as -u's user
		# which opens its counters' file by name: one of its own.
		[[ -z $RUN_USER ]] || user_file "$STATE/sessions/one.stats"
		as_user socat "$lst:$PORT$pf" EXEC:"${VPN_ARGS[*]}",nofork &
		CHILDREN=("$!")
		session_file - "${ADDRS[@]}"	# its peer is known to socat only
		wait "$!" || rc=$?
		ENDED=$(why_ended "$rc" vpn)
		return "$rc" ;;
	esac
}

# serve_one: the article's server: one client at a time, on IFACE.
serve_one() {
	local start rc first=1
	while :; do
		start=$SECONDS
		rc=0
		one_session || rc=$?
		CHILDREN=()
		session_gone
		if ((first && rc != 0 && !LISTENING && SECONDS - start < 2)); then
			die "port $PORT: could not serve on it (exit $rc)"
		fi
		first=0
		if ((rc == 3)); then
			say "the listener ended before a client came"
		else
			say "session ended: ${ENDED:-vpn exited $rc}; waiting for the next client"
		fi
		if ((SECONDS - start < 1)); then	# never spin
			sleep 1 &
			CHILDREN=("$!")
			wait "$!"
			CHILDREN=()
		fi
	done
}

# socat_timeout SECS: socat's option setting SO_RCVTIMEO on its socket (a
# struct timeval, native layout): a TLS handshake that waits longer for
# the peer fails, and its child exits.
socat_timeout() {
	local bits hex
	bits=$(getconf LONG_BIT)
	hex=$(printf "%0$((bits / 4))x" "$1" | sed 's/../& /g' |
	    awk '{ for (i = NF; i > 0; i--) printf "%s", $i }')
	printf 'setsockopt-bin=1:20:x%s%0*d' "$hex" $((bits / 4)) 0
}

# listener: socat accepting every client, each in a child of its own that
# runs session.sh; with TLS, after the handshake.
listener() {
	local pf='' session addr opts=reuseaddr,fork max=$MAX
	[[ $FAMILY == 4 ]] || pf=,pf=ip6
	((max > 0)) || max=1
	session="$HERE/session.sh serve $STATE"
	case $TRANSPORT in
	nc)	addr=TCP-LISTEN:$PORT,$opts,max-children=$((MAX + 1))$pf
		session+=",nofork" ;;
	udp)	# A hello not acked yet is a session, of a few seconds.
		addr=UDP-LISTEN:$PORT,$opts,max-children=$((max + HANDSHAKES))$pf
		session+=",nofork" ;;
	tls)	addr=OPENSSL-LISTEN:$PORT,$opts,max-children=$((max + HANDSHAKES))$pf
		addr+=,$(tls_opts),$(socat_timeout "$HANDSHAKE_SECS") ;;
	esac
	# --pdeathsig: a server killed (SIGKILL) takes its listener with it.
	if ((MAX > 0)); then	# sessions make devices: root
		setpriv --pdeathsig TERM -- socat "$addr" EXEC:"$session" 2>"$DIR/log" &
	else
		as_user setpriv --pdeathsig TERM -- socat "$addr" EXEC:"$session" 2>"$DIR/log" &
	fi
	LISTENER=$!
	undo_call stop_listener "$LISTENER"
	printf 'pid=%s\nstart=%s\n' "$LISTENER" "$(proc_start "$LISTENER")" >"$STATE/listener"
	wait_listening "$LISTENER"
	say "listening on port $PORT ($TRANSPORT$( ((MAX == 0)) || echo ", up to $MAX clients"))"
	wait "$LISTENER" || die "socat ended (exit $?)"
}

# log_filter: what socat and the sessions say goes through transport_said
# until the last of them has gone: on the way out, after the sessions.
log_filter() {
	local line
	while read -r line; do transport_said "$line"; done <"$DIR/log" &
	undo_call reap "$!"
}

# stop_listener PID: stop socat, and its children: those a handshake or a
# session's TLS keeps, and (without TLS) the sessions themselves.
stop_listener() {
	local kids
	kids=$(ps -o pid= --ppid "$1" || true)
	kill "$1" 2>/dev/null || true
	# Before the wait: socat caught in a burst of forks may wait for them.
	# shellcheck disable=SC2086 # a list of PIDs
	[[ -z $kids ]] || kill $kids 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# reap PID: a child that ends by itself, once its input is closed; within
# 2 s, else it is stopped.
reap() {
	local i
	for ((i = 0; i < 20; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# wait_listening PID: socat listens, or it has failed to.
wait_listening() {
	local i proto=t
	[[ $TRANSPORT != udp ]] || proto=u
	for ((i = 0; i < 100; i++)); do
		[[ -z $(ss "-Hl${proto}n" "sport = :$PORT") ]] || return 0
		kill -0 "$1" 2>/dev/null || die "port $PORT: could not serve on it"
		sleep 0.05
	done
	die "port $PORT: socat does not listen after 5 s"
}

# end_sessions: SIGTERM to every session (each undoes its own changes),
# and wait for them, at most 10 s; then whatever a killed one left.
end_sessions() {
	local lock
	exec {lock}>"$STATE/lock"	# no session starts from here on
	flock "$lock"
	: >"$STATE/stopping"
	exec {lock}>&-
	sessions_end 100
	stale_rules_gone "$IFACE"
}

# sessions_end TENTHS: SIGTERM to each session of STATE that still runs
# (a PID from a lease is signalled only if it is that session's), wait
# for them, at most TENTHS tenths of a second; then purge each lease.
sessions_end() {
	local f i
	for f in "$STATE"/sessions/*; do
		[[ $f == *.stats || $f == *.lock ]] || lease_stop "$f"
	done
	for ((i = 0; i < $1; i++)); do
		[[ -n $(sessions_live) ]] || break
		sleep 0.1
	done
	for f in "$STATE"/sessions/*; do
		! is_lease "$f" || purge_lease "$STATE" "$f"
	done
}

# sessions_live: the session files of STATE whose session still runs.
sessions_live() {
	local f
	for f in "$STATE"/sessions/*; do
		[[ $f == *.stats || $f == *.lock || ! -f $f ]] || ! lease_live "$f" || echo "$f"
	done
}

# ssh_many: with -T ssh -M, each login is a session: say the forced
# command that makes it one.
# The sessions log to STATE/log, which we pass on.
ssh_many() {
	: >"$STATE/log"
	tail -n +1 -F "$STATE/log" >&2 2>/dev/null &
	CHILDREN=("$!")
	say "ready: for each client, put in root's authorized_keys:"
	say "  command=\"$HERE/session.sh serve $STATE NAME\",no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty KEY"
	wait "$!"
}

main() {
	parse_args "$@"
	((${#ADDRS[@]} > 0)) || ADDRS=(10.1.1.1/24)
	many_args
	checks
	traps
	setup_state
	if ((MAX > 0)); then
		setup_many
		setup_nat
		fifos
		log_filter
		undo_call end_sessions
		case $TRANSPORT in
		ssh)	ssh_many ;;
		*)	listener ;;
		esac
		return
	fi
	setup_device
	setup_forwarding
	setup_nat
	setup_routes
	case $TRANSPORT in
	ssh)	RUN_USER='' vpn_args "$IFACE"	# the ssh user runs it
		say "ready: an ssh client runs '${VPN_ARGS[*]}' here"
		sleep infinity &
		CHILDREN=("$!")
		wait "$!" ;;
	tls)	fifos
		log_filter
		undo_call end_sessions
		listener ;;
	*)	fifos
		serve_one ;;
	esac
}

main "$@"
