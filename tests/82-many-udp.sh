#!/bin/bash
# tests/82-many-udp.sh - one server, many clients, over UDP, with -x.
#
# server.sh -M 4 -x -T udp on gateway B; five client hosts running
# client.sh -T udp without -l, each asking the server for its
# configuration in datagrams before vpn starts.  The checks of tests/80,
# but that with -x the clients reach each other.
# run.sh: heavy long
. "$(dirname "$0")/lib-many.sh"
need socat nc

SARGS=(-T udp) CARGS=(-T udp -k 1 -t 3) TOGETHER=1
many_sites 5
many_checks
