// SPDX-License-Identifier: MIT
/*
 * vpn - move packets between a TUN/TAP device and stdin/stdout.
 *
 * On a byte stream every packet travels as a frame: a 2-byte length in
 * network order, then the packet.  Length 0 is a keepalive.  On a datagram
 * socket (or with -D) each datagram is one packet, with no prefix.  The wire
 * format is specified in docs/protocol.md; this file is the reference.
 *
 * queue.c orders what waits for stdout on a stream, dgram.c carries
 * datagrams, sandbox.c gives up root and system calls once set up, and
 * offload.c cuts and joins TCP super-packets.
 */

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <linux/if.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "offload.h"
#include "vpn.h"

#ifndef VERSION
#define VERSION		"unknown"
#endif

#define TUN_PATH	"/dev/net/tun"
/* Room for a maximal frame, and a byte more to see a longer packet. */
#define FRAME_ROOM	(FRAME_HDR + FRAME_MAX + 1)
#define IN_MAX		(256 * 1024)	/* stdin bytes held while decoding */
#define RATE_MS		10		/* stdin's rate: measured this often */
/* A run waits above this rate (100 Mbit/s): a frame's rest in 0.12 ms. */
#define WAIT_RATE	(100ULL * 1000 * 1000 / CHAR_BIT / MS_PER_S)
#define WAIT_MS		2		/* a run waits no longer, in now_ms */
#define OUT_MAX		(1024 * 1024)	/* stdout backlog; then tun_skim() */
#define FAST_MAX	(32 * 1024)	/* frames of flows with little queued */
#define PIPE_WANT	(1024 * 1024)	/* stdin's pipe size; default 64 KiB */
/* The most segments out can hold, however short. */
#define CUT_MAX		(OUT_MAX / (FRAME_HDR + OFFLOAD_SEG_MIN))
#define TUN_OFFLOADS	(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)
#define MTU_REFRESH_MS	1000		/* how stale the device's MTU may be */
#define STATUS_MS	1000		/* -s: how stale the file may be */
#define STATUS_MAX	512		/* -s: bytes of its one line */
#define STATUS_MODE	0644		/* -s: anyone may look */
#define MS_PER_S	1000
#define RUN_WAIT_MS	1000		/* tun_running(): a device's queue */
#define RUN_STEP_MS	5		/* looked at this often */
#define NS_PER_MS	1000000
#define SECS_MAX	86400		/* a day; longer timers are a typo */

enum { P_TUN, P_IN, P_OUT, P_N };	/* fixed poll slots */

static volatile sig_atomic_t	 quit, dump;
static int			 fl_saved[] = { -1, -1 };	/* fd 0, 1 */

/* -- helpers */

static long
parse_num(const char *s, long min, long max, const char *what)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno == ERANGE || n < min ||
	    n > max)
		errx(2, "%s: not a number from %ld to %ld: '%s'", what, min,
		    max, s);
	return n;
}

static long long
now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		err(1, "clock_gettime");
	return (long long)ts.tv_sec * MS_PER_S + ts.tv_nsec / NS_PER_MS;
}

static long long
wall_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		err(1, "clock_gettime");
	return (long long)ts.tv_sec * MS_PER_S + ts.tv_nsec / NS_PER_MS;
}

/*
 * Our stdin and stdout may be shared with the shell that started us (a
 * terminal, say), and O_NONBLOCK belongs to the open file, so put back
 * what we found.
 */
static void
fl_restore(void)
{
	int fd;

	for (fd = STDIN_FILENO; fd <= STDOUT_FILENO; fd++)
		if (fl_saved[fd] != -1)
			(void)fcntl(fd, F_SETFL, fl_saved[fd]);
}

static void
set_nonblock(int fd, const char *what)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		err(1, "%s", what);
	if (fd <= STDOUT_FILENO)
		fl_saved[fd] = fl;
	if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		err(1, "%s: O_NONBLOCK", what);
}

static void *
mem_alloc(size_t size)
{
	void *p;

	if ((p = malloc(size)) == NULL)
		err(1, "malloc");
	return p;
}

static void
buf_init(struct buf *b, size_t cap)
{
	b->p = mem_alloc(cap);
	b->off = b->len = 0;
	b->cap = cap;
}

/* -- frames */

/*
 * frame_error(pkt, have, len, tap): why a ${len}-byte packet whose first
 * ${have} bytes are ${pkt} cannot be one whole packet the device may be
 * given, or NULL if it can.  Called with have < len as the bytes arrive, so
 * that a peer speaking another protocol is caught at its first bytes, not
 * after up to 64 KiB.  Pure, so the fuzzer calls it exactly as the loop
 * does.
 */
const char *
frame_error(const uint8_t *pkt, size_t have, size_t len, int tap)
{
	size_t ihl;

	if (tap)
		return len < ETH_HLEN ? "shorter than an Ethernet header" :
		    NULL;
	if (have == 0)
		return NULL;
	switch (ip_version(pkt)) {
	case 4:
		ihl = (size_t)(pkt[0] & 0xf) * 4;
		if (len < IP4_HLEN)
			break;
		if (ihl < IP4_HLEN || ihl > len ||
		    (have >= IP4_LEN_OFF + sizeof(uint16_t) &&
		    be16(pkt + IP4_LEN_OFF) != len))
			return "not a whole IPv4 packet";
		return NULL;
	case 6:
		if (len < IP6_HLEN)
			break;
		if (have >= IP6_LEN_OFF + sizeof(uint16_t) &&
		    IP6_HLEN + be16(pkt + IP6_LEN_OFF) != len)
			return "not a whole IPv6 packet";
		return NULL;
	}
	return "not an IP packet";
}

/*
 * frame_next(p, len, &plen): the length of the first frame in
 * ${p}[0..${len}) including its prefix, or 0 if the frame is not all there
 * yet.  Its packet length goes to ${plen} once the prefix is there.
 */
size_t
frame_next(const uint8_t *p, size_t len, size_t *plen)
{
	*plen = 0;
	if (len < FRAME_HDR)
		return 0;
	*plen = be16(p);
	return len < FRAME_HDR + *plen ? 0 : FRAME_HDR + *plen;
}

/* -- device */

static int
tun_open(const char *name, int tap, int vnet, char ifname[IFNAMSIZ])
{
	struct ifreq ifr;
	int fd, hdr = sizeof(struct virtio_net_hdr);

	if ((fd = open(TUN_PATH, O_RDWR | O_CLOEXEC)) == -1)
		err(1, "%s", TUN_PATH);
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = (tap ? IFF_TAP : IFF_TUN) | IFF_NO_PI |
	    (vnet ? IFF_VNET_HDR : 0);
	memcpy(ifr.ifr_name, name, strlen(name));	/* checked < IFNAMSIZ */
	if (ioctl(fd, TUNSETIFF, &ifr) == -1) {
		if (errno == EINVAL)
			errx(1, "TUNSETIFF %s: the device exists and is not a "
			    "%s device", name, tap ? "TAP" : "TUN");
		err(1, "TUNSETIFF %s", name);
	}
	memcpy(ifname, ifr.ifr_name, IFNAMSIZ);
	ifname[IFNAMSIZ - 1] = '\0';
	/* A persistent device keeps the size its last user set. */
	if (vnet && ioctl(fd, TUNSETVNETHDRSZ, &hdr) == -1)
		err(1, "TUNSETVNETHDRSZ %s", ifname);
	return fd;
}

/*
 * tun_running(ctl, ifname): a device that is up before we attach (one
 * that server.sh -M made) gets its carrier as we do, but the kernel starts
 * its queue a moment later (linkwatch), and drops what is sent to it
 * before: the answer to the peer's first packet, as often as not.  So wait
 * for it to run, RUN_WAIT_MS at most, before the peer is heard, asking the
 * socket ${ctl}.  A device that is down, as ours are when we make them,
 * needs no wait.
 */
static void
tun_running(int ctl, const char *ifname)
{
	struct ifreq ifr;
	struct timespec step = { 0, RUN_STEP_MS * NS_PER_MS };
	int i;

	for (i = 0; i < RUN_WAIT_MS / RUN_STEP_MS; i++) {
		memset(&ifr, 0, sizeof(ifr));
		memcpy(ifr.ifr_name, ifname, IFNAMSIZ);
		if (ioctl(ctl, SIOCGIFFLAGS, &ifr) == -1)
			err(1, "SIOCGIFFLAGS %s", ifname);
		if (!(ifr.ifr_flags & IFF_UP) || ifr.ifr_flags & IFF_RUNNING)
			break;
		if (nanosleep(&step, NULL) == -1 && errno != EINTR)
			err(1, "nanosleep");
	}
}

/*
 * Ask for super-packets, or say we take none: a persistent device keeps
 * what its last user asked for.
 */
static void
tun_offload(int fd, const char *ifname, int offload)
{
	if (ioctl(fd, TUNSETOFFLOAD, offload ? TUN_OFFLOADS : 0) == -1)
		err(1, "TUNSETOFFLOAD %s", ifname);
}

/*
 * The device's MTU, read again when it may have changed.  The device may
 * have been renamed (its name comes from our fd: TUNGETIFF), or moved to
 * another network namespace, where our socket cannot ask: then the MTU
 * last read stands, for it only sizes the segments the device cuts.
 */
static size_t
tun_mtu(struct vpn *v)
{
	struct ifreq ifr;

	if (v->mtu && v->now_ms - v->mtu_ms < MTU_REFRESH_MS)
		return v->mtu;
	v->mtu_ms = v->now_ms;
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(v->tun, TUNGETIFF, &ifr) == 0)
		memcpy(v->ifname, ifr.ifr_name, IFNAMSIZ - 1);
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, v->ifname, sizeof(ifr.ifr_name));
	if (ioctl(v->ctl, SIOCGIFMTU, &ifr) == 0)
		v->mtu = (size_t)ifr.ifr_mtu;
	else if (v->mtu == 0)
		v->mtu = ETH_DATA_LEN;	/* never read: the usual */
	return v->mtu;
}

/*
 * tun_writev(v, iov, cnt, len, seg): give the device one packet of ${len}
 * bytes, ${iov}[1..${cnt}), in one write; iov[0] is for its virtio header.
 * The device may cut a TCP packet into packets of ${seg} bytes, if
 * offload_join() joined it from segments of that length (iov[1] its
 * headers, then their payloads), or else (${seg} 0, the packet whole in
 * iov[1]) into packets of its MTU, if longer and its checksums are right;
 * a wrong one is dropped and counted as invalid.
 * Returns 0 if the device cannot take it now (EAGAIN), else 1: written or
 * dropped.  A device that is down, or refuses this packet, loses only the
 * packet, as a router's queue would; a device that is gone ends us.
 */
static int
tun_writev(struct vpn *v, struct iovec *iov, int cnt, size_t len,
    size_t seg)
{
	struct virtio_net_hdr h;
	uint8_t *pkt = iov[1].iov_base;
	ssize_t n;

	if (v->vnet) {
		if (!offload_hdr(pkt, len, seg ? seg : tun_mtu(v), seg != 0,
		    &h)) {
			v->st.rx_invalid++;
			return 1;
		}
		iov[0].iov_base = &h;
		iov[0].iov_len = sizeof(h);
		n = writev(v->tun, iov, cnt);
	} else
		n = writev(v->tun, iov + 1, cnt - 1);
	if (n == -1) {
		switch (errno) {
		case EAGAIN:
		case EINTR:
			/* It waits as it came: offload_hdr() made it partial. */
			if (v->vnet && seg == 0)
				(void)offload_csum(pkt, len, &h);
			v->tun_blocked = 1;
			return 0;
		case EBADFD:
		case ENODEV:
		case ENXIO:
			errx(1, "%s: device was deleted", v->ifname);
		case EIO:		/* the device is down */
		case EINVAL:
		case ENOBUFS:
		case ENOMEM:
		case EMSGSIZE:
			v->st.rx_dropped++;
			return 1;
		default:
			err(1, "%s: write", v->ifname);
		}
	}
	v->st.rx_packets++;
	v->st.rx_bytes += len;
	return 1;
}

/* tun_writev() for the packet ${pkt} of ${len} bytes, as it came. */
int
tun_write(struct vpn *v, uint8_t *pkt, size_t len)
{
	struct iovec iov[2] = { { NULL, 0 }, { pkt, len } };

	return tun_writev(v, iov, 2, len, 0);
}

/*
 * tun_join(v, seg, n, &took): with offloads, give the device the first
 * packets of ${seg}[0..${n}) joined into one, if two or more can be;
 * ${took} says how many, 0 for none.  Not packets longer than the MTU: the
 * device would cut the join into packets as long, which a next hop may
 * not take, where it cuts one alone to fit.  Returns what tun_writev()
 * returns: 0 if the device cannot take the join now, and then none is
 * counted.
 */
int
tun_join(struct vpn *v, const struct iovec *seg, size_t n, size_t *took)
{
	unsigned long long dropped = v->st.rx_dropped;
	struct iovec iov[2 + JOIN_MAX];
	uint8_t hdr[OFFLOAD_HDR_MAX];
	size_t plen, hl, bytes, i;

	*took = 0;
	if (!v->offload || n < 2 || seg[0].iov_len > tun_mtu(v) ||
	    (plen = offload_join(seg, n, hdr, &hl, took)) == 0)
		return 1;
	iov[1].iov_base = hdr;
	iov[1].iov_len = hl;
	for (i = 0; i < *took; i++) {
		iov[2 + i].iov_base = (uint8_t *)seg[i].iov_base + hl;
		iov[2 + i].iov_len = seg[i].iov_len - hl;
	}
	if (!tun_writev(v, iov, 2 + (int)*took, plen, seg[0].iov_len))
		return 0;
	/* Count the packets that came, as the sender counted them. */
	for (bytes = i = 0; i < *took; i++)
		bytes += seg[i].iov_len;
	if (v->st.rx_dropped != dropped)
		v->st.rx_dropped += *took - 1;
	else {
		v->st.rx_packets += *took - 1;
		v->st.rx_bytes += bytes - plen;
	}
	return 1;
}

/* -- I/O steps */

/*
 * frames_run(v, seg, &end): the packets of the whole frames at the head of
 * v->in, as many as one join is offered and up to a keepalive, into
 * ${seg}; where in v->in they end, in ${end}.  Returns how many.
 */
static size_t
frames_run(const struct vpn *v, struct iovec *seg, size_t *end)
{
	uint8_t *f = v->in.p + v->in.off;
	size_t n, at, flen, plen;

	for (n = at = 0; n < JOIN_MAX; n++, at += flen) {
		flen = frame_next(f + at, v->in.len - at, &plen);
		if (flen == 0 || plen == 0)
			break;
		seg[n].iov_base = f + at + FRAME_HDR;
		seg[n].iov_len = plen;
		/* A packet that cannot begin a join goes alone: */
		if (n == 0 && !offload_may_join(seg[0].iov_base, plen))
			return 0;	/* not the walk of 64 frames */
	}
	*end = at;
	return n;
}

/*
 * run_waits(v, seg, n, end): does the run ${seg}[0..${n}), whole frames
 * up to byte ${end} of v->in, wait there for the frame begun after it?
 * Only if that frame's headers have come and say it is its stream's next
 * segment (offload_join_waits()), and more may come.  A read ends anywhere
 * in the stream, most often in a frame, and would cut each of a bulk
 * transfer's joins in two: twice the trips through the stack above the
 * device, each of half the bytes.  The peer sent that frame with the run,
 * so the wait is the time the rest of one frame takes to come, and once:
 * a run that waited goes when that frame is whole, with what came after
 * it (v->wait_end), or after WAIT_MS without it, whatever the peer sends
 * meanwhile: a peer that stops, or trickles, in a frame holds no more.
 * Only that stream's packets wait; a ping, the packets of other streams,
 * never do.  Nor do any while stdin brings less than
 * WAIT_RATE: on a slow link the rest of a frame is a packet's time on the
 * link behind, which bigger joins are not worth (on a 50 Mbit/s uplink,
 * BBR's queue grew with them).  Not at EOF, nor if v->in could not take
 * the rest, nor if the frame is already bad: frames_to_tun() says so now,
 * nor once a signal ends us (in_last()).
 */
static int
run_waits(struct vpn *v, const struct iovec *seg, size_t n, size_t end)
{
	const uint8_t *f = v->in.p + v->in.off + end;
	size_t have = v->in.len - end, flen;
	unsigned long long fend;

	if (v->eof || v->quitting || n == 0 || n >= JOIN_MAX ||
	    v->in_rate < WAIT_RATE || have <= FRAME_HDR)
		return 0;
	flen = FRAME_HDR + be16(f);	/* a keepalive's is there whole */
	fend = v->inpos + end + flen;
	if (v->inpos < v->wait_end && (fend != v->wait_end ||
	    v->now_ms - v->wait_ms >= WAIT_MS))
		return 0;	/* it waited once, or long enough */
	if (have >= flen || v->in.cap - v->in.len < flen - have ||
	    seg[0].iov_len > tun_mtu(v) ||
	    frame_error(f + FRAME_HDR, have - FRAME_HDR, flen - FRAME_HDR,
	    v->tap) ||
	    !offload_join_waits(seg, n, f + FRAME_HDR, have - FRAME_HDR,
	    flen - FRAME_HDR))
		return 0;
	if (v->inpos >= v->wait_end)
		v->wait_ms = v->now_ms;		/* it begins to wait */
	v->wait_end = fend;
	v->waiting = 1;
	return 1;
}

/*
 * frame_to_tun(v, plen): give the device the packet of the first frame in
 * v->in, ${plen} bytes, or the packets of the frames from there joined
 * into one (TCP segments of one stream, in order), as a receive offload
 * would: vpn to vpn, 64 KiB cross each stack in one trip.  Joins what is
 * there, and waits for no more than the rest of a frame begun
 * (run_waits()).  Returns the bytes of v->in taken, 0 if the device
 * cannot take them now or the run waits: then they stay, whole, for the
 * next try.
 */
static size_t
frame_to_tun(struct vpn *v, size_t plen)
{
	struct iovec seg[JOIN_MAX];
	uint8_t *f = v->in.p + v->in.off;
	size_t n = 0, end = 0, took, bytes, i;

	if (v->offload && (n = frames_run(v, seg, &end)) > 0 &&
	    run_waits(v, seg, n, end))
		return 0;
	if (!tun_join(v, seg, n, &took))
		return 0;
	if (took == 0)
		return tun_write(v, f + FRAME_HDR, plen) ? FRAME_HDR + plen : 0;
	for (bytes = i = 0; i < took; i++)
		bytes += FRAME_HDR + seg[i].iov_len;
	return bytes;
}

/*
 * frames_to_tun(v): give every whole frame in v->in to the device, but a
 * run that waits for the rest of the frame after it (run_waits()).  Returns
 * NULL, or why the stream is bad; then v->inpos is where the bad frame
 * starts and nothing of it has reached the device.  No I/O but the device
 * writes, so the fuzzer runs it on a struct vpn of its own.
 */
static const char *
frames_to_tun(struct vpn *v)
{
	uint8_t *f;
	const char *why;
	size_t flen, plen;

	v->tun_blocked = v->waiting = 0;
	for (;;) {
		f = v->in.p + v->in.off;
		if ((flen = frame_next(f, v->in.len, &plen)) == 0)
			break;
		if (plen == 0)
			v->st.keepalives_rx++;
		else if ((why = frame_error(f + FRAME_HDR, plen, plen, v->tap)))
			return why;
		else if ((flen = frame_to_tun(v, plen)) == 0)
			return NULL;	/* they stay: POLLOUT, or more */
		buf_consume(&v->in, flen);
		v->inpos += flen;
	}
	if (v->in.len > FRAME_HDR && plen > 0)	/* the start of a frame */
		return frame_error(f + FRAME_HDR, v->in.len - FRAME_HDR, plen,
		    v->tap);
	return NULL;
}

/*
 * Give the device what whole frames stdin brought; a bad frame ends us.  At
 * EOF, bytes left that are not a frame waiting for the device are a
 * truncated frame.
 */
static void
in_decode(struct vpn *v)
{
	const char *why;
	const uint8_t *f;

	if ((why = frames_to_tun(v))) {
		f = v->in.p + v->in.off;
		errx(1, "stdin: frame at byte %llu is %s (length %zu); "
		    "is the peer a vpn?", v->inpos, why, be16(f));
	}
	if (v->eof && !v->tun_blocked && v->in.len > 0)
		errx(1, "stdin: truncated frame at byte %llu (stream ends "
		    "%zu byte%s into it)", v->inpos, v->in.len,
		    v->in.len == 1 ? "" : "s");
}

/*
 * SIGINT or SIGTERM: the whole frames that wait for the rest of one
 * (run_waits()) go to the device now, as they would have gone without the
 * wait, if it takes them without waiting; a frame begun is not one.
 */
static void
in_last(struct vpn *v)
{
	v->quitting = 1;
	if (!v->dgram && v->in.len > 0)
		in_decode(v);
}

/* Something came from the peer: -t starts again; -v says the first time. */
void
peer_heard(struct vpn *v)
{
	v->last_rx_ms = v->now_ms;
	if (!v->peer_up && v->verbose)
		warnx("%s: the peer is up: bytes came from it", v->ifname);
	v->peer_up = 1;
}

/* stdin's rate, for run_waits(): its bytes a ms over RATE_MS or more. */
static void
stdin_rate(struct vpn *v, size_t n)
{
	long long dt = v->now_ms - v->fill_ms;

	v->filled += n;
	if (dt >= RATE_MS) {
		v->in_rate = v->filled / (unsigned long long)dt;
		v->filled = 0;
		v->fill_ms = v->now_ms;
	}
}

/*
 * Read what stdin has and give each whole frame to the device; at EOF,
 * set v->eof: the loop ends once the frames held have reached the device.
 */
static void
stdin_read(struct vpn *v)
{
	size_t room;
	ssize_t n;

	if (v->dgram) {
		dgram_read(v);
		return;
	}
	room = buf_room(&v->in);
	n = read(STDIN_FILENO, buf_tail(&v->in), room);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		err(1, "stdin");
	}
	if (n == 0)
		v->eof = 1;
	else {
		peer_heard(v);
		v->in.len += (size_t)n;
		stdin_rate(v, (size_t)n);
	}
	in_decode(v);	/* at EOF: what waits, then a truncated frame */
}

/*
 * tun_packet(v, p, h): read one packet from the device to ${p}, its virtio
 * header (TUN) to ${h}.  Returns its length, 0 for none now, or -1 for one
 * to drop: longer than a frame may be (a TAP MTU near 64 KiB).
 */
static ssize_t
tun_packet(struct vpn *v, uint8_t *p, struct virtio_net_hdr *h)
{
	struct iovec iov[2] = {
		{ .iov_base = h, .iov_len = sizeof(*h) },
		{ .iov_base = p, .iov_len = FRAME_MAX + 1 },
	};
	ssize_t n;

	if (v->vnet)
		n = readv(v->tun, iov, 2);
	else
		n = read(v->tun, p, FRAME_MAX + 1);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		if (errno == EBADFD)
			errx(1, "%s: device was deleted", v->ifname);
		err(1, "%s: read", v->ifname);
	}
	if (v->vnet)
		n = n < (ssize_t)sizeof(*h) ? 0 : n - (ssize_t)sizeof(*h);
	return n > FRAME_MAX ? -1 : n;
}

/*
 * What one read from the device may become in out: a frame; or, to be
 * cut, a super-packet cut into segments, each with headers of its own: at
 * most twice its size, unless the MSS is under about 120 bytes (then
 * offload_cut() finds no room, and it is dropped).
 */
static size_t
tun_want(const struct vpn *v)
{
	return (v->offload ? 2 : 1) * FRAME_ROOM;
}

/* Has out room for what one read from the device may become? */
static int
tun_room(const struct vpn *v)
{
	return buf_room(&v->out) >= tun_want(v);
}

/*
 * Queue as frames the packets that the packet v->aside from the device,
 * ${len} bytes behind the header ${h}, is cut into.
 */
static void
tun_cut(struct vpn *v, const struct virtio_net_hdr *h, size_t len)
{
	int n;

	n = offload_cut(v->aside, len, h, buf_tail(&v->out), buf_room(&v->out),
	    FRAME_HDR, v->seg_len, CUT_MAX);
	if (n == OFFLOAD_INVALID)
		v->st.tx_invalid++;
	else if (n == OFFLOAD_NOROOM)
		v->st.tx_dropped++;
	if (n == 1)			/* not cut: a packet like another */
		queue_packet(v, v->seg_len[0]);
	else if (n > 1)
		queue_segments(v, n);
}

/* Does tun_read() go on reading the device when out is full? */
static int
tun_skims(const struct vpn *v)
{
	return !v->dgram;	/* then v->aside is there */
}

/*
 * tun_skim(v): out is full, and still a packet is read from the device, so
 * that the device's queue, first come first served (the tun driver never
 * leaves a packet to its qdisc), stays short: one of a sparse flow goes to
 * fast, any other is dropped, as the device would drop it once its queue
 * was full, only sooner.  Returns 0 if the device had none.
 */
static int
tun_skim(struct vpn *v)
{
	struct virtio_net_hdr h;
	uint8_t *p = v->aside;
	size_t len;
	ssize_t n;

	memset(&h, 0, sizeof(h));
	if ((n = tun_packet(v, p, &h)) == 0)
		return 0;
	len = (size_t)n;
	if (n != -1 && frame_error(p, len, len, v->tap)) {
		v->st.tx_invalid++;		/* as tun_read() counts it */
		return 1;
	}
	/*
	 * A super-packet is never sparse, even one of 1514 bytes or less (a
	 * small MSS): it is not cut here, so it is dropped, not sent whole.
	 * The checksum is completed only for what may go, before the flow is
	 * hashed, as queue_packet() hashes the bytes sent.
	 */
	if (n == -1 || len > FLOW_QUANTUM ||
	    h.gso_type != VIRTIO_NET_HDR_GSO_NONE)
		v->st.tx_dropped++;
	else if (v->vnet && !offload_csum(p, len, &h))
		v->st.tx_invalid++;
	else if (!queue_sparse(v, p, len))
		v->st.tx_dropped++;
	return 1;
}

/*
 * Read packets from the device while out has room for one more.  In
 * datagram mode each is read aside, to be cut into segments in out.
 */
static void
tun_read(struct vpn *v)
{
	struct virtio_net_hdr h;
	uint8_t *p;
	ssize_t n;
	int i;

	memset(&h, 0, sizeof(h));
	for (i = 0; i < READ_BATCH; i++) {
		buf_compact(&v->out, tun_want(v));
		if (!tun_room(v)) {
			if (!tun_skims(v) || !tun_skim(v))
				return;
			continue;
		}
		p = v->cut ? v->aside : buf_tail(&v->out) + FRAME_HDR;
		if ((n = tun_packet(v, p, &h)) == 0)
			return;
		if (n == -1)
			v->st.tx_dropped++;	/* longer than a frame */
		else if (frame_error(p, (size_t)n, (size_t)n, v->tap))
			/* Sent, it would end the peer (a raw socket's write). */
			v->st.tx_invalid++;
		else if (v->cut)
			tun_cut(v, &h, (size_t)n);
		else if (v->offload && !offload_whole(p, (size_t)n, &h)) {
			memcpy(v->aside, p, (size_t)n);
			tun_cut(v, &h, (size_t)n);
		} else if (v->vnet && !offload_csum(p, (size_t)n, &h))
			v->st.tx_invalid++;	/* a header making no sense */
		else
			queue_packet(v, (size_t)n);
	}
}

/*
 * stdout reported an error with nothing queued for it.  On a pipe or a
 * stream socket the reader is gone: the tunnel is over.  On a datagram
 * socket it is an ICMP error for a packet sent (ECONNREFUSED from a peer
 * not up yet, a narrow path...): read it to clear it, count it, go on.
 */
static void
stdout_error(struct vpn *v)
{
	int e = 0;
	socklen_t len = sizeof(e);

	if (!v->dgram)
		errx(1, "stdout: closed by the reader");
	if (getsockopt(STDOUT_FILENO, SOL_SOCKET, SO_ERROR, &e, &len) == -1) {
		if (errno == ENOTSOCK)
			errx(1, "stdout: closed by the reader");
		err(1, "stdout: SO_ERROR");
	}
	if (e != 0 && !dgram_error(v, e, "stdout")) {
		errno = e;
		err(1, "stdout");
	}
}

/* -- signals and timers */

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		dump = 1;
	else
		quit = 1;
}

/* Handlers run only inside ppoll(), with the mask left in ${waitmask}. */
static void
signals_block(sigset_t *waitmask)
{
	struct sigaction sa;
	sigset_t block;
	const int sigs[] = { SIGINT, SIGTERM, SIGUSR1 };
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		err(1, "sigaction SIGPIPE");
	sa.sa_handler = on_signal;
	sigemptyset(&block);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaddset(&block, sigs[i]);
		if (sigaction(sigs[i], &sa, NULL) == -1)
			err(1, "sigaction");
	}
	if (sigprocmask(SIG_BLOCK, &block, waitmask) == -1)
		err(1, "sigprocmask");
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigdelset(waitmask, sigs[i]);
}

/* The counters as key=value pairs, as vpn(1) documents them. */
static int
stats_line(const struct vpn *v, char *line, size_t size)
{
	const struct stats *s = &v->st;

	return snprintf(line, size, "vpn: %s: rx_packets=%llu rx_bytes=%llu "
	    "rx_dropped=%llu rx_invalid=%llu tx_packets=%llu tx_bytes=%llu "
	    "tx_dropped=%llu tx_invalid=%llu keepalives_rx=%llu "
	    "keepalives_tx=%llu socket_errors=%llu", v->ifname, s->rx_packets,
	    s->rx_bytes, s->rx_dropped, s->rx_invalid, s->tx_packets,
	    s->tx_bytes, s->tx_dropped, s->tx_invalid, s->keepalives_rx,
	    s->keepalives_tx, s->socket_errors);
}

static void
stats_print(const struct vpn *v)
{
	char line[STATUS_MAX];

	(void)stats_line(v, line, sizeof(line));
	fprintf(stderr, "%s\n", line);
}

/* The wall-clock time, in seconds, of the monotonic ${ms}. */
static double
wall_s(const struct vpn *v, long long ms)
{
	return (double)(v->wall_ms + ms) / MS_PER_S;
}

/*
 * -s: rewrite the status file with the counters and when a frame last came
 * from the peer and went to it (wall-clock seconds), for vpn-status.  At
 * most once a STATUS_MS, and only when the counters moved.  Best effort:
 * the tunnel does not depend on it.
 */
static void
status_write(struct vpn *v, int force)
{
	char line[STATUS_MAX];
	int n;

	if (v->status_fd == -1 || (!force &&
	    (v->now_ms - v->status_ms < STATUS_MS ||
	    memcmp(&v->st, &v->st_said, sizeof(v->st)) == 0)))
		return;
	n = stats_line(v, line, sizeof(line));
	n += snprintf(line + n, sizeof(line) - (size_t)n, " last_rx=%.3f "
	    "last_tx=%.3f written=%.3f\n", wall_s(v, v->last_rx_ms),
	    wall_s(v, v->last_tx_ms), wall_s(v, v->now_ms));
	if (n > 0 && (size_t)n < sizeof(line)) {
		(void)pwrite(v->status_fd, line, (size_t)n, 0);
		(void)ftruncate(v->status_fd, n);
	}
	v->st_said = v->st;
	v->status_ms = v->now_ms;
}

/*
 * The tunnel whose counters an exit on an error says (exit_say()): set
 * once it runs, NULL once main() has said them itself.
 */
static struct vpn *said_at_exit;

/*
 * An exit on an error (a bad frame, a silent peer, a reset) is how most
 * tunnels end: -s and -v say the counters then too, as at a clean exit.
 */
static void
exit_say(void)
{
	if (said_at_exit == NULL)
		return;
	status_write(said_at_exit, 1);
	if (said_at_exit->verbose)
		stats_print(said_at_exit);
}

/*
 * Is the keepalive timer running?  Not where an empty message reads as
 * EOF (SOCK_SEQPACKET, or -D on a pipe), and not while frames wait for
 * stdout: they will tell the peer we are here, and POLLOUT wakes us when
 * they have gone.  Else a timer that sends nothing would spin the loop.
 */
static int
keepalive_on(const struct vpn *v)
{
	return v->keepalive_ms && !(v->dgram && v->dgram_eof) &&
	    out_held(v) == 0;
}

/* Milliseconds until the nearest timer, or -1 for none. */
static long long
timer_next(const struct vpn *v)
{
	long long t = -1, d;

	if (keepalive_on(v)) {
		d = v->last_tx_ms + v->keepalive_ms - v->now_ms;
		t = d < 0 ? 0 : d;
	}
	if (v->silent_ms) {
		d = v->last_rx_ms + v->silent_ms - v->now_ms;
		d = d < 0 ? 0 : d;
		t = t == -1 || d < t ? d : t;
	}
	if (v->waiting) {
		d = v->wait_ms + WAIT_MS - v->now_ms;
		d = d < 0 ? 0 : d;
		t = t == -1 || d < t ? d : t;
	}
	if (v->held_want) {
		d = v->shrink_at - v->now_ms;
		d = d < 0 ? 0 : d;
		t = t == -1 || d < t ? d : t;
	}
	if (v->status_fd != -1 && memcmp(&v->st, &v->st_said, sizeof(v->st))) {
		d = v->status_ms + STATUS_MS - v->now_ms;
		d = d < 0 ? 0 : d;
		t = t == -1 || d < t ? d : t;
	}
	return t;
}

static void
timers_check(struct vpn *v)
{
	if (v->silent_ms && v->now_ms - v->last_rx_ms >= v->silent_ms)
		errx(1, "peer silent for %lld s", v->silent_ms / MS_PER_S);
	if (v->waiting && v->now_ms - v->wait_ms >= WAIT_MS)
		in_decode(v);		/* the run goes without its next */
	if (keepalive_on(v) && v->now_ms - v->last_tx_ms >= v->keepalive_ms) {
		/* out is empty here: it starts at its front again. */
		buf_compact(&v->out, FRAME_HDR);
		queue_keepalive(v);
	}
}

/* -- the loop */

static int
do_ppoll(struct pollfd *pfd, nfds_t n, long long ms, const sigset_t *mask)
{
	struct timespec ts, *tp = NULL;
	nfds_t i;

	if (ms >= 0) {
		ts.tv_sec = ms / MS_PER_S;
		ts.tv_nsec = (ms % MS_PER_S) * NS_PER_MS;
		tp = &ts;
	}
	if (ppoll(pfd, n, tp, mask) == -1) {
		if (errno != EINTR)
			err(1, "ppoll");
		for (i = 0; i < n; i++)
			pfd[i].revents = 0;	/* a signal, no events */
		return 0;
	}
	return 1;
}

/*
 * At EOF, give stdout what is queued; SIGINT or SIGTERM cut it short, and
 * so does -t if stdout takes nothing for that long.
 */
static void
stdout_drain(struct vpn *v, const sigset_t *waitmask)
{
	struct pollfd pfd = { .fd = STDOUT_FILENO, .events = POLLOUT };
	long long ms = v->silent_ms ? v->silent_ms : -1;

	while (!quit && !stdout_flush(v))	/* or EPIPE if closed */
		if (do_ppoll(&pfd, 1, ms, waitmask) && pfd.revents == 0)
			errx(1, "stdout: took nothing for %lld s",
			    v->silent_ms / MS_PER_S);
}

/*
 * loop(v, waitmask): move packets until stdin ends at a frame boundary
 * (return) or a signal asks us to stop (return).  Everything else that
 * ends the tunnel is fatal, and exits where it is found.
 */
static void
loop(struct vpn *v, const sigset_t *waitmask)
{
	struct pollfd pfd[P_N] = {
		[P_TUN] = { .fd = v->tun },
		[P_IN] = { .fd = STDIN_FILENO, .events = POLLIN },
		[P_OUT] = { .fd = STDOUT_FILENO },
	};

	v->last_tx_ms = v->last_rx_ms = v->drain_ms = v->fill_ms =
	    v->now_ms = now_ms();
	v->wall_ms = wall_now_ms() - v->now_ms;
	while (!quit && !(v->eof && v->in.len == 0)) {
		/* Room for a read's worth, where the data has moved on. */
		buf_compact(&v->in, FRAME_ROOM);
		buf_compact(&v->out, tun_want(v));
		/* Ask only for what we have room for: this is backpressure. */
		pfd[P_TUN].events = (tun_room(v) || tun_skims(v) ? POLLIN : 0) |
		    (v->tun_blocked ? POLLOUT : 0);
		pfd[P_IN].fd = !v->eof && (v->dgram || buf_room(&v->in) > 0) ?
		    STDIN_FILENO : -1;
		pfd[P_OUT].events = out_held(v) > 0 && !v->held_want ?
		    POLLOUT : 0;

		do_ppoll(pfd, P_N, timer_next(v), waitmask);
		v->now_ms = now_ms();
		if (dump) {
			dump = 0;
			stats_print(v);
		}
		if (pfd[P_IN].revents)
			stdin_read(v);	/* at EOF: leave when frames given */
		if (pfd[P_TUN].revents & POLLOUT)
			in_decode(v);
		if (pfd[P_TUN].revents & (POLLERR | POLLHUP | POLLNVAL))
			errx(1, "%s: device was deleted", v->ifname);
		if (pfd[P_TUN].revents & POLLIN)
			tun_read(v);	/* packets become frames in out */
		if (pfd[P_OUT].revents & (POLLERR | POLLHUP) &&
		    out_held(v) == 0)
			stdout_error(v);
		if (pfd[P_OUT].revents & (POLLERR | POLLHUP))
			held_wait(v, 0);	/* no shrink: the write says */
		if (pfd[P_OUT].revents)
			v->out_blocked = 0;
		timers_check(v);	/* -k keepalive, -t silent peer */
		held_tick(v);		/* stdout's own queue, to its rate */
		status_write(v, 0);	/* -s, when due */
		if (out_held(v) > 0 && !v->out_blocked && !v->held_want)
			stdout_flush(v);	/* at once: saves a ppoll */
	}
	if (quit)
		in_last(v);
	else
		stdout_drain(v, waitmask);
}

/* -- options, usage, main */

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout, "usage: vpn [-aDhOVvW] [-i ifname] "
	    "[-k secs] [-s file] [-t secs] [-u user]\n");
	exit(status);
}

/*
 * stdin's pipe: bigger means fewer wakeups (the default 64 KiB is fine,
 * just slow).  stdout's is queue.c's: a queue in front of fast.
 */
static void
pipe_grow(int fd)
{
	struct stat sb;

	if (fstat(fd, &sb) == 0 && S_ISFIFO(sb.st_mode))
		(void)fcntl(fd, F_SETPIPE_SZ, PIPE_WANT);
}

/* Parse the options into ${v}; exit 2 on misuse, 0 after -h or -V. */
static void
options(int argc, char *argv[], struct vpn *v)
{
	int ch;

	opterr = 0;
	while ((ch = getopt(argc, argv, ":aDhi:k:Os:t:u:VvW")) != -1) {
		switch (ch) {
		case 'a':
			v->tap = 1;
			break;
		case 'D':
			v->dgram = 1;
			break;
		case 'h':
			usage(0);
		case 'i':
			v->name = optarg;
			break;
		case 'k':
			v->keepalive_ms = parse_num(optarg, 1, SECS_MAX, "-k") *
			    MS_PER_S;
			break;
		case 'O':
			v->offload = 0;
			break;
		case 's':
			v->status = optarg;
			break;
		case 't':
			v->silent_ms = parse_num(optarg, 1, SECS_MAX, "-t") *
			    MS_PER_S;
			break;
		case 'u':
			v->user = optarg;
			break;
		case 'V':
			printf("vpn %s\n", VERSION);
			exit(0);
		case 'v':
			v->verbose++;
			break;
		case 'W':
			v->whole = 1;
			break;
		case ':':
			warnx("-%c: needs an argument", optopt);
			usage(2);
		default:
			warnx("-%c: unknown option", optopt);
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (strlen(v->name) == 0 || strlen(v->name) >= IFNAMSIZ)
		errx(2, "-i: not an interface name (1 to %d bytes): '%s'",
		    IFNAMSIZ - 1, v->name);
}

/* The buffers ${v}'s mode needs: in and out, and the offloads' own. */
static void
bufs_alloc(struct vpn *v)
{
	buf_init(&v->in, v->dgram ? FRAME_MAX + 1 : IN_MAX);
	buf_init(&v->out, OUT_MAX);
	if (!v->dgram)
		buf_init(&v->fast, FAST_MAX);
	if (v->offload || !v->dgram)
		v->aside = mem_alloc(FRAME_MAX + 1);
	if (v->offload)
		v->seg_len = mem_alloc(CUT_MAX * sizeof(*v->seg_len));
}

static void
bufs_free(struct vpn *v)
{
	free(v->in.p);
	free(v->out.p);
	free(v->fast.p);
	free(v->aside);
	free(v->seg_len);
}

int
main(int argc, char *argv[])
{
	struct vpn v;
	struct passwd *pw;
	sigset_t waitmask;

	/* Messages say "vpn:" whatever the file is called (vpn-asan). */
	program_invocation_short_name = (char *)"vpn";
	memset(&v, 0, sizeof(v));
	v.name = "tun0";
	v.dgram_eof = 1;
	v.offload = 1;
	options(argc, argv, &v);

	v.dgram = stdin_is_dgram(&v.dgram_eof) || v.dgram;
	v.vnet = !v.tap;
	v.offload = v.offload && v.vnet;
	v.cut = v.offload && (v.dgram || !v.whole);	/* packets of the MTU */
	pw = v.user ? user_lookup(v.user) : NULL;
	v.status_fd = -1;
	if (v.status && (v.status_fd = open(v.status,
	    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, STATUS_MODE)) == -1)
		err(1, "%s", v.status);	/* before -u: it may be root's */
	if (v.dgram)
		dgram_setup(&v);	/* before -u: SO_RCVBUFFORCE: root */
	v.tun = tun_open(v.name, v.tap, v.vnet, v.ifname);
	if ((v.ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		err(1, "socket");
	tun_running(v.ctl, v.ifname);
	if (v.vnet)
		tun_offload(v.tun, v.ifname, v.offload);
	if (pw)
		sandbox_drop(pw);
	if (v.verbose)
		warnx("%s: %s device, %s mode%s%s%s%s", v.ifname, v.tap ?
		    "TAP" : "TUN", v.dgram ? "datagram" : "stream",
		    v.offload ? ", offloads" : "",
		    v.offload && !v.cut ? ", super-packets whole" : "",
		    v.gso ? ", UDP GSO" : "", v.gro ? ", UDP GRO" : "");

	bufs_alloc(&v);
	if (atexit(fl_restore) != 0 || atexit(exit_say) != 0)
		errx(1, "atexit");
	set_nonblock(v.tun, v.ifname);
	set_nonblock(STDIN_FILENO, "stdin");
	set_nonblock(STDOUT_FILENO, "stdout");
	pipe_grow(STDIN_FILENO);
	signals_block(&waitmask);	/* getrandom() may wait, at boot */
	if (!v.dgram)
		queue_setup(&v);	/* the flow hash, stdout's own queue */
	sandbox_enter();

	said_at_exit = &v;
	loop(&v, &waitmask);
	said_at_exit = NULL;	/* v is main()'s, gone at exit: said here */
	status_write(&v, 1);
	if (v.verbose)
		stats_print(&v);
	bufs_free(&v);
	if (close(v.tun) == -1)
		err(1, "%s: close", v.ifname);
	return 0;
}
