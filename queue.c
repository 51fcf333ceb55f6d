// SPDX-License-Identifier: MIT
/*
 * queue.c - what waits for stdout on a stream, and for how long.  Frames
 * of flows with little queued (fast) go before the bursts of bulk flows
 * (out), flows told apart by a keyed hash, as fq_codel tells them apart;
 * and what stdout itself holds (a pipe, a socket's buffer), a queue first
 * come first served, is kept to a few milliseconds of what it takes.
 * vpn.c queues what it reads from the device here, and flushes.
 */

#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <linux/if_ether.h>

#include <endian.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "offload.h"
#include "vpn.h"

#define HELD_MS		2		/* what stdout itself holds, in time */
#define HELD_MIN	(16 * 1024)	/* and in bytes, at least */
#define HELD_MAX	(1024 * 1024)	/* at most (a pipe's, a socketpair's) */
#define NOTSENT_MAX	(128 * 1024)	/* a TCP stdout's unsent, at most */
#define DRAIN_MS	100		/* stdout's rate: measured this often */
#define SHRINK_MS	HELD_MS		/* a full pipe to shrink: tried after */
#define PORTS_LEN	4		/* TCP's or UDP's two ports */
/* What flow_of() hashes, at most: two IPv6 addresses, protocol, ports. */
#define FLOW_KEY_MAX	(IP6_ADDRS_LEN + 1 + PORTS_LEN)

enum { HELD_NONE, HELD_TCP, HELD_PIPE, HELD_UNIX };	/* for held_set() */

/* -- the flow hash */

/*
 * flow_of()'s key, drawn at start: without one, anyone who picks a source
 * port could put a flow in the bucket of another's (a ping's), and take
 * its turn ahead and, with out full, its packets.  As the kernel keys its
 * flow hashes (with SipHash too).
 */
static uint64_t flow_key[2];

/*
 * The last key hashed, and its bucket: each frame is hashed twice (queued,
 * then sent), and a bulk flow's frames come one after another, so most
 * hashes are the one before (SipHash was 3 % of a tunnel's CPU time).
 */
static struct {
	uint8_t	 key[FLOW_KEY_MAX];
	size_t	 len;			/* 0: none yet */
	size_t	 bucket;
} flow_memo;

static inline uint64_t
rotl64(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static void
sip_round(uint64_t v[4])
{
	v[0] += v[1]; v[1] = rotl64(v[1], 13); v[1] ^= v[0];
	v[0] = rotl64(v[0], 32);
	v[2] += v[3]; v[3] = rotl64(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = rotl64(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = rotl64(v[1], 17); v[1] ^= v[2];
	v[2] = rotl64(v[2], 32);
}

/* SipHash-1-3 of ${p}[0..${n}) under flow_key (its reference constants). */
static uint64_t
siphash13(const uint8_t *p, size_t n)
{
	uint64_t v[4] = {
		flow_key[0] ^ 0x736f6d6570736575ULL,
		flow_key[1] ^ 0x646f72616e646f6dULL,
		flow_key[0] ^ 0x6c7967656e657261ULL,
		flow_key[1] ^ 0x7465646279746573ULL,
	};
	uint64_t m, last = (uint64_t)n << 56;
	size_t i;

	for (; n >= sizeof(m); p += sizeof(m), n -= sizeof(m)) {
		memcpy(&m, p, sizeof(m));
		m = le64toh(m);
		v[3] ^= m;
		sip_round(v);
		v[0] ^= m;
	}
	for (i = 0; i < n; i++)
		last |= (uint64_t)p[i] << (8 * i);
	v[3] ^= last;
	sip_round(v);
	v[0] ^= last;
	v[2] ^= 0xff;
	sip_round(v);
	sip_round(v);
	sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/*
 * flow_of(pkt, len, tap): the bucket of the flow of the packet ${pkt},
 * ${len} bytes: a hash of its addresses, its protocol and, for TCP and UDP
 * not in fragments, its ports, as fq_codel tells flows apart.  What is not
 * IP is bucket 0.  It depends on the packet alone (flow_memo only saves
 * the hash); a packet checked by frame_error() only.
 */
static size_t
flow_of(const uint8_t *pkt, size_t len, int tap)
{
	size_t hl, at, n, frag = 0;
	uint8_t key[FLOW_KEY_MAX];

	if (tap) {
		if (len < ETH_HLEN || (be16(pkt + 2 * ETH_ALEN) != ETH_P_IP &&
		    be16(pkt + 2 * ETH_ALEN) != ETH_P_IPV6))
			return 0;
		pkt += ETH_HLEN;
		len -= ETH_HLEN;
	}
	if (len >= IP4_HLEN && ip_version(pkt) == 4) {
		hl = (size_t)(pkt[0] & 0xf) * 4;
		key[0] = pkt[IP4_PROTO_OFF];
		at = IP4_ADDRS_OFF;
		n = IP4_ADDRS_LEN;
		frag = be16(pkt + IP4_FRAG_OFF) & IP4_FRAG_MASK;
	} else if (len >= IP6_HLEN && ip_version(pkt) == 6) {
		hl = IP6_HLEN;
		key[0] = pkt[IP6_NEXT_OFF];
		at = IP6_ADDRS_OFF;
		n = IP6_ADDRS_LEN;
	} else
		return 0;
	memcpy(key + 1, pkt + at, n);
	n++;
	if ((key[0] == IPPROTO_TCP || key[0] == IPPROTO_UDP) && frag == 0 &&
	    hl + PORTS_LEN <= len) {
		memcpy(key + n, pkt + hl, PORTS_LEN);
		n += PORTS_LEN;
	}
	if (n != flow_memo.len || memcmp(key, flow_memo.key, n) != 0) {
		memcpy(flow_memo.key, key, n);
		flow_memo.len = n;
		flow_memo.bucket = siphash13(key, n) % FLOW_BUCKETS;
	}
	return flow_memo.bucket;
}

/* -- the flow-fair queue: fast, then out */

/* The flow of the frame ${f}, whose packet is ${plen} bytes; on a stream. */
static size_t
frame_flow(const struct vpn *v, const uint8_t *f, size_t plen)
{
	return v->dgram ? 0 : flow_of(f + FRAME_HDR, plen, v->tap);
}

/*
 * Queue in out the frame of a packet at its tail, ${plen} bytes of the
 * flow ${flow}, or a keepalive.
 */
static void
frame_queue(struct vpn *v, size_t plen, size_t flow)
{
	put16(buf_tail(&v->out), plen);
	v->out.len += FRAME_HDR + plen;
	if (!v->dgram)
		v->flow_out[flow] += plen;
	v->last_tx_ms = v->now_ms;
}

/*
 * Does a packet of ${plen} bytes of the flow ${flow} go to fast?  If the
 * flow has nothing in out, and less than a full-size packet in fast with
 * it: a ping, an ACK, a DNS query, the first packet of a new flow.  Then
 * it waits for out's frame begun and for fast only, never for the bursts
 * of bulk flows queued in out (fq_codel's sparse flows, in one rule).  A
 * flow's packets still leave in order: fast goes before out.  Not on a
 * datagram socket, where dgram_flush() sends out alone.
 */
static int
frame_fast(const struct vpn *v, size_t flow, size_t plen)
{
	return !v->dgram && plen > 0 && v->flow_out[flow] == 0 &&
	    v->flow_fast[flow] + plen <= FLOW_QUANTUM &&
	    buf_room(&v->fast) >= FRAME_HDR + plen;
}

/* Queue in fast the packet ${p}, ${plen} bytes of the flow ${flow}. */
static void
fast_queue(struct vpn *v, const uint8_t *p, size_t plen, size_t flow)
{
	put16(buf_tail(&v->fast), plen);
	memcpy(buf_tail(&v->fast) + FRAME_HDR, p, plen);
	v->fast.len += FRAME_HDR + plen;
	v->flow_fast[flow] += plen;
	v->last_tx_ms = v->now_ms;
}

/* Queue the packet just read to out's tail, ${plen} bytes, as a frame. */
void
queue_packet(struct vpn *v, size_t plen)
{
	uint8_t *f = buf_tail(&v->out);
	size_t flow = frame_flow(v, f, plen);

	buf_compact(&v->fast, FRAME_HDR + plen);
	if (frame_fast(v, flow, plen))
		fast_queue(v, f + FRAME_HDR, plen, flow);
	else
		frame_queue(v, plen, flow);
}

/*
 * Queue the ${n} segments that a super-packet was cut into, laid end to end
 * as frames at out's tail, their lengths in v->seg_len: in out, a burst of
 * one flow anyway, whose segments have the headers of the first.
 */
void
queue_segments(struct vpn *v, int n)
{
	size_t flow = frame_flow(v, buf_tail(&v->out), v->seg_len[0]);
	int i;

	for (i = 0; i < n; i++)
		frame_queue(v, v->seg_len[i], flow);
}

/* A keepalive: an empty frame, in out. */
void
queue_keepalive(struct vpn *v)
{
	frame_queue(v, 0, 0);
}

/*
 * out is full: the packet ${p}, ${len} bytes, read aside, goes to fast if
 * its flow is sparse (frame_fast()).  Returns 0 if it is not: the caller
 * drops it.
 */
int
queue_sparse(struct vpn *v, const uint8_t *p, size_t len)
{
	size_t flow;

	buf_compact(&v->fast, FRAME_HDR + FLOW_QUANTUM);
	if (!frame_fast(v, (flow = flow_of(p, len, v->tap)), len))
		return 0;
	fast_queue(v, p, len, flow);
	return 1;
}

/*
 * frames_sent(v, b, n, left, plen, flows): the first ${n} bytes of ${b}
 * have been written: take them, and count the frames they complete.
 * ${left} and ${plen} are the bytes unsent of ${b}'s first frame and its
 * packet's length.  A frame is queued whole, so its length prefix is there
 * when its first byte goes; from then on it is the wire's, and no longer
 * counts in its flow's ${flows}: what the flow queues next may go to fast,
 * to follow it.
 */
static void
frames_sent(struct vpn *v, struct buf *b, size_t n, size_t *left,
    size_t *plen, size_t *flows)
{
	const uint8_t *p = b->p + b->off;
	size_t step;

	buf_consume(b, n);
	while (n > 0) {
		if (*left == 0) {
			*plen = be16(p);
			*left = FRAME_HDR + *plen;
			flows[frame_flow(v, p, *plen)] -= *plen;
		}
		step = n < *left ? n : *left;
		p += step;
		n -= step;
		*left -= step;
		if (*left > 0)
			break;
		if (*plen == 0)
			v->st.keepalives_tx++;
		else {
			v->st.tx_packets++;
			v->st.tx_bytes += *plen;
		}
	}
}

/*
 * Write what stdout takes; a partial write keeps its remainder.  0 if full.
 * The rest of out's frame begun goes first, then fast, then out: one
 * writev(), whatever fast holds.
 */
int
stdout_flush(struct vpn *v)
{
	struct iovec iov[3];
	size_t head, k;
	ssize_t n;

	if (v->dgram)
		return dgram_flush(v);
	while (out_held(v) > 0) {
		head = v->out_left;
		iov[0].iov_base = v->out.p + v->out.off;
		iov[0].iov_len = head;
		iov[1].iov_base = v->fast.p + v->fast.off;
		iov[1].iov_len = v->fast.len;
		iov[2].iov_base = v->out.p + v->out.off + head;
		iov[2].iov_len = v->out.len - head;
		if ((n = writev(STDOUT_FILENO, iov, 3)) == -1) {
			if (errno == EAGAIN || errno == EINTR) {
				v->out_blocked = 1;
				return 0;
			}
			err(1, "stdout");
		}
		v->drained += (unsigned long long)n;
		k = (size_t)n < head ? (size_t)n : head;
		frames_sent(v, &v->out, k, &v->out_left, &v->out_plen,
		    v->flow_out);
		n -= (ssize_t)k;
		k = (size_t)n < v->fast.len ? (size_t)n : v->fast.len;
		frames_sent(v, &v->fast, k, &v->fast_left, &v->fast_plen,
		    v->flow_fast);
		frames_sent(v, &v->out, (size_t)n - k, &v->out_left,
		    &v->out_plen, v->flow_out);
	}
	return 1;
}

/* -- stdout's own queue */

/*
 * What stdout holds before its reader takes it (a pipe, a socket's send
 * buffer) is a queue first come first served, in front of which fast no
 * longer goes first.  It is kept to what stdout takes in about HELD_MS,
 * not to a number of bytes: 128 KiB is 21 ms on a 50 Mbit/s uplink, a
 * pipe of 1 MiB 170 ms, a ping's wait behind a bulk transfer whose flows
 * (cubic) fill every queue they find.  What stdout took is measured every
 * DRAIN_MS; a queue at HELD_MIN still passes many times that in HELD_MS,
 * so a fast reader takes it to its ceiling within a window or two.
 */
static int
held_kind(int fd)
{
	struct stat sb;
	int domain, type;
	socklen_t len = sizeof(domain);

	if (fstat(fd, &sb) == 0 && S_ISFIFO(sb.st_mode))
		return HELD_PIPE;
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == -1)
		return HELD_NONE;
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != SOCK_STREAM)
		return HELD_NONE;
	if (domain == AF_INET || domain == AF_INET6)
		return HELD_TCP;
	return domain == AF_UNIX ? HELD_UNIX : HELD_NONE;
}

/* The largest power of two at most ${n} (a pipe's sizes), or HELD_MIN. */
static size_t
pow2_floor(size_t n)
{
	size_t p = HELD_MIN;

	while (p * 2 <= n)
		p *= 2;
	return p;
}

/*
 * held_wait(v, bytes): a pipe refused to shrink to ${bytes} (0: it did):
 * try again after SHRINK_MS, then twice as long each time up to DRAIN_MS,
 * so that a reader stopped for good costs few wakeups.  While it waits,
 * what stdout takes is not measured (nothing is written): a new window
 * starts when it ends.
 */
void
held_wait(struct vpn *v, size_t bytes)
{
	if (bytes == 0) {
		if (v->held_want) {
			v->drained = 0;
			v->drain_ms = v->now_ms;
		}
		v->held_want = 0;
		v->shrink_ms = 0;
		return;
	}
	v->held_want = bytes;
	v->shrink_ms = v->shrink_ms == 0 ? SHRINK_MS :
	    v->shrink_ms * 2 > DRAIN_MS ? DRAIN_MS : v->shrink_ms * 2;
	v->shrink_at = v->now_ms + v->shrink_ms;
}

/*
 * Let stdout hold about ${bytes}: a TCP socket's unsent bytes; a pipe's
 * size (a power of two pages: the one at most ${bytes}); a socket's send
 * buffer (which the kernel doubles, and caps at net.core.wmem_max).  A
 * pipe that holds more than that refuses (EBUSY), and under a backlog
 * always would: then held_want says so, and nothing is written to it
 * until it has drained enough to shrink (vpn.c's loop(); held_tick()
 * tries again).  Another failure leaves the size it had, to be tried
 * again.
 */
static void
held_set(struct vpn *v, size_t bytes)
{
	int n = (int)bytes, rc = 0;

	switch (v->held_kind) {
	case HELD_TCP:
		rc = setsockopt(STDOUT_FILENO, IPPROTO_TCP, TCP_NOTSENT_LOWAT,
		    &n, sizeof(n));
		break;
	case HELD_PIPE:
		bytes = pow2_floor(bytes);
		rc = fcntl(STDOUT_FILENO, F_SETPIPE_SZ, (int)bytes);
		held_wait(v, rc == -1 && errno == EBUSY ? bytes : 0);
		if (rc > 0)
			bytes = (size_t)rc;	/* the size it took */
		break;
	case HELD_UNIX:
		n /= 2;
		rc = setsockopt(STDOUT_FILENO, SOL_SOCKET, SO_SNDBUF, &n,
		    sizeof(n));
		break;
	default:
		return;
	}
	if (rc != -1)
		v->held = bytes;
}

/* Each DRAIN_MS: what stdout may hold, from what it took meanwhile. */
static void
held_adjust(struct vpn *v)
{
	long long dt = v->now_ms - v->drain_ms;
	size_t want, max = v->held_kind == HELD_TCP ? NOTSENT_MAX : HELD_MAX;

	if (v->held_kind == HELD_NONE || v->held_want || dt < DRAIN_MS)
		return;
	want = (size_t)(v->drained * HELD_MS / (unsigned long long)dt);
	want = want < HELD_MIN ? HELD_MIN : want > max ? max : want;
	if (want > v->held || want < v->held / 2)	/* not every window */
		held_set(v, want);
	v->drained = 0;
	v->drain_ms = v->now_ms;
}

/*
 * Each turn of the loop: what stdout may hold, to its rate; and a pipe
 * that refused to shrink, tried again when due.
 */
void
held_tick(struct vpn *v)
{
	held_adjust(v);
	if (v->held_want && v->now_ms >= v->shrink_at)
		held_set(v, v->held_want);	/* drained enough? */
}

/*
 * On a TCP socket (socat's nofork), Nagle's algorithm would hold a small
 * frame back until the last one is acknowledged: a delayed ACK's 40 ms on
 * a ping, or on a loaded uplink the wait behind the bulk queued there.
 * Frames are batched here already, so send at once.
 */
static void
tcp_tune(const struct vpn *v)
{
	int on = 1;

	if (v->held_kind == HELD_TCP)
		(void)setsockopt(STDOUT_FILENO, IPPROTO_TCP, TCP_NODELAY, &on,
		    sizeof(on));
}

/*
 * On a stream, before the sandbox: the flow hash's key, and what stdout
 * is, to bound what it holds (HELD_MIN, until its rate is known).
 */
void
queue_setup(struct vpn *v)
{
	if (getrandom(flow_key, sizeof(flow_key), 0) != sizeof(flow_key))
		err(1, "getrandom: the flow hash's key");
	v->held_kind = held_kind(STDOUT_FILENO);
	tcp_tune(v);
	held_set(v, HELD_MIN);
}
