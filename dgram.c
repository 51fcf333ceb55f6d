// SPDX-License-Identifier: MIT
/*
 * dgram.c - the datagram transport: stdin and stdout a datagram socket (a
 * UDP socket from socat, say), or -D, where each datagram is one packet,
 * with no length prefix.  A bad datagram is dropped alone, and an ICMP
 * error costs a packet, never the tunnel.  On UDP, runs of datagrams cross
 * the stack in one call each way (UDP_SEGMENT, UDP_GRO).
 */

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <err.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <unistd.h>

#include "vpn.h"

#define DGRAM_BUF	(4 * 1024 * 1024) /* UDP socket buffers; ~200 KiB default */
#define CMSG_ROOM	256		/* ancillary data socat asked for */
#define UDP_SEGS_MAX	64		/* datagrams a UDP_SEGMENT send cuts */
#define UDP_GSO_MAX	(63 * 1024)	/* bytes it carries: under 64 KiB */
#define UDP4_OVERHEAD	28		/* IPv4 and UDP headers */
#define UDP6_OVERHEAD	48		/* IPv6 and UDP headers */
#define GSO_RETRY_MS	10000		/* UDP_SEGMENT refused: one by one */

/* -- set-up */

/* Is stdin a socket that keeps message boundaries?  Then -D is implied. */
int
stdin_is_dgram(int *eof_on_empty)
{
	int type;
	socklen_t len = sizeof(type);

	if (getsockopt(STDIN_FILENO, SOL_SOCKET, SO_TYPE, &type, &len) == -1) {
		if (errno == ENOTSOCK || errno == EBADF)
			return 0;
		err(1, "stdin: SO_TYPE");
	}
	*eof_on_empty = type == SOCK_SEQPACKET;
	return type == SOCK_DGRAM || type == SOCK_SEQPACKET;
}

/*
 * A datagram socket drops what arrives while its buffer is full, and the
 * default (about 200 KiB, a hundred-odd packets) fills in a moment of a
 * TCP flow's burst: ask for more.  Root may pass net.core.rmem_max; others
 * get at most that.  Best effort: a small buffer is slow, not wrong.
 */
static void
dgram_bufs(void)
{
	int size = DGRAM_BUF;

	if (setsockopt(STDIN_FILENO, SOL_SOCKET, SO_RCVBUFFORCE, &size,
	    sizeof(size)) == -1)
		(void)setsockopt(STDIN_FILENO, SOL_SOCKET, SO_RCVBUF, &size,
		    sizeof(size));
	if (setsockopt(STDOUT_FILENO, SOL_SOCKET, SO_SNDBUFFORCE, &size,
	    sizeof(size)) == -1)
		(void)setsockopt(STDOUT_FILENO, SOL_SOCKET, SO_SNDBUF, &size,
		    sizeof(size));
}

/*
 * On a UDP socket, have the kernel cut a run of datagrams from one send
 * (UDP_SEGMENT), and keep a run that arrives together for one read
 * (UDP_GRO): what a super-packet becomes crosses the stack once.  Either
 * may be missing (not UDP, an old kernel): then a datagram a call.
 */
void
dgram_setup(struct vpn *v)
{
	int on = 1, size;
	socklen_t len = sizeof(size);

	dgram_bufs();
	v->gso = getsockopt(STDOUT_FILENO, IPPROTO_UDP, UDP_SEGMENT, &size,
	    &len) == 0;
	v->gro = setsockopt(STDIN_FILENO, IPPROTO_UDP, UDP_GRO, &on,
	    sizeof(on)) == 0;
}

/* -- from stdin to the device */

/*
 * Is ${e} what a datagram socket reports of the network for one packet: an
 * ICMP error, pending on a connected socket until the next call, or a
 * local refusal of that packet?  Then it costs that packet at most, never
 * the tunnel: anyone on the path, or off it with a spoofed ICMP message,
 * could otherwise end it.
 */
static int
dgram_soft(int e)
{
	switch (e) {
	case ECONNREFUSED:	/* port unreachable: the peer is not up */
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENONET:
	case ENETDOWN:
	case EPROTO:
	case ENOPROTOOPT:	/* protocol unreachable */
	case EACCES:		/* administratively prohibited */
	case EPERM:		/* a local firewall */
	case ENOBUFS:
	case EMSGSIZE:		/* fragmentation needed */
	case ETIMEDOUT:
		return 1;
	}
	return 0;
}

/*
 * dgram_error(v, e, what): count the soft error ${e} that ${what} reported
 * and go on; EMSGSIZE also says, once, how narrow the path is and what
 * tunnel MTU fits it.  Returns 0 for an error that is not soft.
 */
int
dgram_error(struct vpn *v, int e, const char *what)
{
	int mtu, fit, domain;
	socklen_t len = sizeof(mtu);

	if (!dgram_soft(e))
		return 0;
	v->st.socket_errors++;
	if (e != EMSGSIZE || v->pmtu_said++)
		return 1;
	len = sizeof(domain);
	if (getsockopt(STDOUT_FILENO, SOL_SOCKET, SO_DOMAIN, &domain, &len) ==
	    -1 || (domain != AF_INET && domain != AF_INET6))
		return 1;
	len = sizeof(mtu);
	if (getsockopt(STDOUT_FILENO, domain == AF_INET ? IPPROTO_IP :
	    IPPROTO_IPV6, domain == AF_INET ? IP_MTU : IPV6_MTU, &mtu, &len) ==
	    -1)
		return 1;
	fit = mtu - (domain == AF_INET ? UDP4_OVERHEAD : UDP6_OVERHEAD);
	warnx("%s: the path to the peer takes packets of %d bytes at most: "
	    "set %s's MTU to %d or less (ip link set dev %s mtu %d)", what,
	    mtu, v->ifname, fit, v->ifname, fit);
	return 1;
}

/* One datagram from stdin to the device; a bad one is dropped alone. */
static void
dgram_to_tun(struct vpn *v, uint8_t *pkt, size_t len)
{
	const char *why;

	if (len == 0) {
		v->st.keepalives_rx++;
		return;
	}
	if (len > FRAME_MAX)
		why = "longer than a frame may be";
	else
		why = frame_error(pkt, len, len, v->tap);
	if (why) {
		if (v->st.rx_invalid++ == 0 || v->verbose)
			warnx("stdin: datagram is %s (length %zu), dropped",
			    why, len);
		return;
	}
	if (!tun_write(v, pkt, len))
		v->st.rx_dropped++;	/* no queue for datagrams */
}

/*
 * dgram_recv(v, &seg): read a datagram, or with UDP_GRO a run of them that
 * the kernel kept together, ${seg} bytes each but maybe the last.
 */
static ssize_t
dgram_recv(struct vpn *v, size_t *seg)
{
	union {
		char		 buf[CMSG_ROOM];
		struct cmsghdr	 align;
	} u;
	struct iovec iov = { .iov_base = v->in.p, .iov_len = v->in.cap };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t n;
	int size;

	if (!v->gro) {
		*seg = v->in.cap;
		return read(STDIN_FILENO, v->in.p, v->in.cap);
	}
	m.msg_control = u.buf;
	m.msg_controllen = sizeof(u.buf);
	if ((n = recvmsg(STDIN_FILENO, &m, 0)) == -1)
		return -1;
	*seg = (size_t)n;
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO) {
			memcpy(&size, CMSG_DATA(c), sizeof(size));
			if (size > 0)
				*seg = (size_t)size;
		}
	return n;
}

/*
 * gro_to_tun(v, p, len, seg): give the device a run of datagrams read at
 * once, ${seg} bytes each but maybe the last, as ${p}[0..${len}).
 */
static void
gro_to_tun(struct vpn *v, uint8_t *p, size_t len, size_t seg)
{
	struct iovec dg[JOIN_MAX];
	size_t off, at, n, i, took;

	for (off = 0; off < len; off += n * seg) {
		for (n = 0; n < JOIN_MAX && (at = off + n * seg) < len; n++) {
			dg[n].iov_base = p + at;
			dg[n].iov_len = len - at < seg ? len - at : seg;
		}
		for (i = 0; i < n; i += took) {
			if (!tun_join(v, dg + i, n - i, &took))
				v->st.rx_dropped += took; /* no queue here */
			else if (took == 0) {
				dgram_to_tun(v, dg[i].iov_base, dg[i].iov_len);
				took = 1;
			}
		}
	}
}

/* Read datagrams, give each to the device; at EOF, set v->eof. */
void
dgram_read(struct vpn *v)
{
	ssize_t n;
	size_t seg;
	int i;

	for (i = 0; i < READ_BATCH; i++) {
		n = dgram_recv(v, &seg);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (dgram_error(v, errno, "stdin"))
				continue;
			err(1, "stdin");
		}
		peer_heard(v);
		if (n == 0 && v->dgram_eof) {
			v->eof = 1;
			return;
		}
		if (n == 0)
			dgram_to_tun(v, v->in.p, 0);	/* a keepalive */
		gro_to_tun(v, v->in.p, (size_t)n, seg);
	}
}

/* -- from the device to stdout */

/*
 * gso_batch(v, iov, &bytes): the frames at the head of out that one send
 * can carry as datagrams, each in an iov: with UDP_SEGMENT, a run of
 * packets of one length and maybe a shorter last one (as a super-packet
 * cut up makes), else one.  Returns how many, 0 for none; their frames
 * take ${bytes} of out.
 */
static size_t
gso_batch(const struct vpn *v, struct iovec *iov, size_t *bytes)
{
	const uint8_t *f = v->out.p + v->out.off;
	size_t k = 0, flen, plen, seg = 0, sum = 0, max = 1;

	if (v->gso && v->now_ms >= v->gso_retry_ms)
		max = UDP_SEGS_MAX;
	*bytes = 0;
	while (k < max &&
	    (flen = frame_next(f + *bytes, v->out.len - *bytes, &plen))) {
		if (k > 0 && (plen == 0 || plen > seg ||
		    sum + plen > UDP_GSO_MAX))
			break;
		iov[k].iov_base = (void *)(f + *bytes + FRAME_HDR);
		iov[k++].iov_len = plen;
		*bytes += flen;
		sum += plen;
		if (k == 1)
			seg = plen;
		else if (plen < seg)
			break;		/* a short one ends a run */
	}
	return k;
}

/* Count the ${k} datagrams of ${iov} just sent (one, if a keepalive). */
static void
dgram_sent(struct vpn *v, const struct iovec *iov, size_t k)
{
	size_t i;

	if (iov[0].iov_len == 0) {
		v->st.keepalives_tx++;
		return;
	}
	for (i = 0; i < k; i++)
		v->st.tx_bytes += iov[i].iov_len;
	v->st.tx_packets += k;
}

/* Send ${k} datagrams of ${iov} in one call, cut at iov[0]'s length. */
static ssize_t
dgram_send(struct iovec *iov, size_t k)
{
	union {
		char		 buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr	 align;
	} u;
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = k };
	struct cmsghdr *c;
	uint16_t seg = (uint16_t)iov[0].iov_len;

	if (k == 1)		/* any datagram socket */
		return write(STDOUT_FILENO, iov[0].iov_base, iov[0].iov_len);
	memset(&u, 0, sizeof(u));
	m.msg_control = u.buf;
	m.msg_controllen = sizeof(u.buf);
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = IPPROTO_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(seg));
	memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	return sendmsg(STDOUT_FILENO, &m, 0);
}

/*
 * Write queued frames one datagram each, runs of them in one send where
 * UDP_SEGMENT works; 0 if stdout is full.  A run the kernel will not cut
 * (a datagram longer than the path's MTU, a device without checksum
 * offload) goes again one by one, and so does all for GSO_RETRY_MS: the
 * MTU may be lowered meanwhile.  The tunnel still works, slower: say so,
 * the first time.
 */
int
dgram_flush(struct vpn *v)
{
	struct iovec iov[UDP_SEGS_MAX];
	size_t k, bytes;

	while ((k = gso_batch(v, iov, &bytes)) > 0) {
		if (dgram_send(iov, k) == -1) {
			if (errno == EAGAIN || errno == EINTR) {
				v->out_blocked = 1;
				return 0;
			}
			if (k > 1 && (errno == EINVAL || errno == EIO ||
			    errno == EMSGSIZE || errno == EOPNOTSUPP)) {
				if (v->gso_retry_ms == 0)
					warn("stdout: UDP_SEGMENT refused; "
					    "sending datagrams one by one");
				v->gso_retry_ms = v->now_ms + GSO_RETRY_MS;
				continue;
			}
			if (!dgram_error(v, errno, "stdout"))
				err(1, "stdout");
			if (iov[0].iov_len > 0)
				v->st.tx_dropped += k;	/* as UDP would */
		} else
			dgram_sent(v, iov, k);
		buf_consume(&v->out, bytes);
	}
	return 1;
}
