#!/bin/bash
# tests/80-many-nc.sh - one server, many clients, over plain TCP.
#
# server.sh -M 4 on gateway B (socat TCP-LISTEN, one child per client),
# client hosts running client.sh without -l:
# - four clients get distinct addresses from 10.1.1.0/24, reach the
#   server's tunnel address and host B, and, having greeted the server,
#   send super-packets whole at both ends of each session (vpn -W); they
#   move 20 MiB each at once;
# - a fifth is refused, and says why; the server logs it;
# - clients do not reach each other, and a client sending from another's
#   address gets nothing through (the server's rule counts the drops);
# - a client whose link dies loses its session (device, lease) within -t,
#   while the others move 20 MiB each without a lost ping; it comes back;
# - SIGTERM to the server with four sessions up leaves gateway B as it
#   was.
# Servers that lie, and raw clients: tests/84-many-raw.sh.
# run.sh: heavy long
. "$(dirname "$0")/lib-many.sh"
need socat nc

SARGS=() CARGS=(-k 1 -t 3)
many_sites 5

many_checks
