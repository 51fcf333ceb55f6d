// SPDX-License-Identifier: MIT
/*
 * tests/fuzz-frame.c - libFuzzer target for the frame decoder and the
 * packet check: frames_to_tun() fed as stdin_read() feeds it, the stream
 * whole and split, and dgram_to_tun() on the same bytes as one datagram.
 * Whole or split, and whether or not the device says EAGAIN at times, the
 * device is given the same packets, once cut as it cuts them: the frames
 * joined differently (there is only what has arrived to join), never
 * differently cut, lost, repeated or reordered.
 *
 * Input: byte 0 bit 0 is -a (TAP), bit 1 is -O (no offloads; TUN only),
 * bits 2-7 are n for a device MTU of 68 + 24n; byte 1, b, bounds the chunk
 * sizes (1 to (b + 1)^2 bytes), and says how often the device refuses a
 * write in the split run (every 2 + b % 5th); the rest is the stream from
 * the peer.  tests/corpus.sh writes the seeds in tests/corpus/frame/.
 */

#include "fuzz.h"

#define IN_HDR		2	/* bytes of input that are not the stream */

struct run {
	const char		*why;	/* frames_to_tun's verdict, or NULL */
	unsigned long long	 inpos;	/* bytes given to the device */
	size_t			 held;	/* bytes held after inpos */
	struct stats		 st;
	struct dev_log		 dev;	/* what the device took */
};

/* The next chunk size, 1 to max, from a generator seeded by the input. */
static size_t
chunk_next(uint32_t *state, size_t max)
{
	*state = *state * 1103515245 + 12345;
	return 1 + (*state >> 16) % max;
}

/*
 * Is ${q} the ${k}th segment after ${p} in its TCP stream, each of ${len}
 * bytes: the same addresses and ports, its sequence number k segments on?
 * ${p} passed offload_may_join(); of ${q}, its headers are there.
 */
static int
seg_next(const uint8_t *p, const uint8_t *q, size_t len, size_t k)
{
	size_t th = ip_version(p) == 6 ? IP6_HLEN : ip4_hlen(p), hl;
	uint32_t a, b;

	hl = th + tcp_hlen(p + th);
	memcpy(&a, p + th + TCP_SEQ_OFF, sizeof(a));
	memcpy(&b, q + th + TCP_SEQ_OFF, sizeof(b));
	return q[0] == p[0] && (ip_version(p) == 6 ?
	    memcmp(p + IP6_ADDRS_OFF, q + IP6_ADDRS_OFF, IP6_ADDRS_LEN) == 0 &&
	    q[IP6_NEXT_OFF] == IPPROTO_TCP :
	    memcmp(p + IP4_ADDRS_OFF, q + IP4_ADDRS_OFF, IP4_ADDRS_LEN) == 0 &&
	    q[IP4_PROTO_OFF] == IPPROTO_TCP) &&
	    memcmp(p + th, q + th, PORTS_LEN) == 0 &&
	    ntohl(b) == ntohl(a) + (uint32_t)(k * (len - hl));
}

/*
 * What v->in holds after frames_to_tun(), with offloads: fewer whole
 * frames than a join is offered, the segments of one TCP stream in order,
 * each as long as the first (never a ping, nor another stream's); then a
 * frame begun, the next segment, no longer, not bad so far, of which v->in
 * has room for the rest.
 */
static void
waits_check(const struct vpn *v)
{
	const uint8_t *f = v->in.p + v->in.off;
	size_t at = 0, n = 0, flen, plen, len0 = 0;

	while ((flen = frame_next(f + at, v->in.len - at, &plen)) > 0) {
		assert(v->offload && plen > 0 && ++n < JOIN_MAX);
		if (n == 1) {
			assert(offload_may_join(f + FRAME_HDR, plen));
			len0 = plen;
		} else
			assert(plen == len0 && seg_next(f + FRAME_HDR,
			    f + at + FRAME_HDR, len0, n - 1));
		at += flen;
	}
	if (n == 0)
		return;
	assert(v->in.len - at > FRAME_HDR &&
	    v->in.cap - at >= FRAME_HDR + plen && plen <= len0);
	assert(seg_next(f + FRAME_HDR, f + at + FRAME_HDR, len0, n));
	assert(frame_error(f + at + FRAME_HDR, v->in.len - at - FRAME_HDR,
	    plen, v->tap) == NULL);
}

/*
 * feed(p, len, m, cap, max, eagain): give ${p} to frames_to_tun in chunks
 * of 1 to ${max} bytes (0: as many as fit), each appended as stdin_read()
 * appends a read, and stop at the first bad frame; the device refuses
 * every ${eagain}th write (0: none), and is tried again at once, as
 * POLLOUT would.  Checks the bookkeeping after every chunk, and lets a
 * run's wait run out after every other; then, as at EOF, gives what
 * waits.
 */
static struct run
feed(const uint8_t *p, size_t len, const struct mode *m, size_t cap,
    size_t max, unsigned eagain)
{
	struct vpn v;
	struct run r;
	uint32_t state = (uint32_t)max;
	size_t fed = 0, n, room, flen, plen;

	vpn_new(&v, m, cap);
	memset(&r, 0, sizeof(r));
	r.dev.eagain = eagain;
	dev_log = &r.dev;
	while (fed < len && r.why == NULL) {
		buf_compact(&v.in, FRAME_ROOM);		/* as the loop does */
		room = buf_room(&v.in);
		assert(room > 0);	/* else the loop stops polling stdin */
		n = max ? chunk_next(&state, max) : room;
		n = n < room ? n : room;
		n = n < len - fed ? n : len - fed;
		memcpy(buf_tail(&v.in), p + fed, n);
		v.in.len += n;
		fed += n;
		r.why = frames_to_tun(&v);
		while (r.why == NULL && v.tun_blocked)
			r.why = frames_to_tun(&v);
		assert(v.inpos + v.in.len == fed);
		assert(v.in.off + v.in.len <= v.in.cap);
		assert(memcmp(v.in.p + v.in.off, p + v.inpos, v.in.len) == 0);
		/*
		 * /dev/null takes every write: whole frames wait only as a
		 * run, for the frame begun after it (run_waits()).
		 */
		if (r.why == NULL)
			waits_check(&v);
		/*
		 * WAIT_MS pass, after every other chunk, as timers_check()
		 * finds: a run that waits goes, and nothing whole stays.
		 */
		if (r.why == NULL && v.waiting && fed % 2 == 0) {
			v.now_ms += WAIT_MS;
			r.why = frames_to_tun(&v);
			while (r.why == NULL && v.tun_blocked)
				r.why = frames_to_tun(&v);
			assert(r.why != NULL || !v.waiting);
			assert(r.why != NULL ||
			    frame_next(v.in.p + v.in.off, v.in.len, &plen) == 0);
		}
	}
	if (r.why == NULL) {	/* at EOF, as in_decode() is called */
		v.eof = 1;
		r.why = frames_to_tun(&v);
		while (r.why == NULL && v.tun_blocked)
			r.why = frames_to_tun(&v);
		flen = frame_next(v.in.p + v.in.off, v.in.len, &plen);
		assert(r.why != NULL || flen == 0);
	}
	dev_log = NULL;
	r.inpos = v.inpos;
	r.held = v.in.len;
	r.st = v.st;
	vpn_free(&v);
	return r;
}

/*
 * Would the device refuse the ${len}-byte packet ${p}, which frame_error()
 * passes: a TCP packet longer than the MTU whose checksums are wrong?
 */
static int
refused(const uint8_t *p, size_t len, const struct mode *m)
{
	struct virtio_net_hdr h;
	uint8_t *copy;
	int no;

	if (m->tap)
		return 0;
	copy = mem_alloc(len);
	memcpy(copy, p, len);
	no = !offload_hdr(copy, len, m->mtu, 0, &h);
	free(copy);
	return no;
}

/*
 * The bytes before r->inpos are whole frames, each keepalive or a packet
 * that frame_error() passes, and the counters say so, counting a packet
 * the device refuses as invalid; a verdict names a frame that
 * frame_error() refuses on the bytes it had.
 */
static void
run_check(const struct run *r, const uint8_t *p, size_t len,
    const struct mode *m)
{
	unsigned long long pkts = 0, bytes = 0, ka = 0, bad = 0;
	size_t pos = 0, plen, have;
	int tap = m->tap;

	while (pos < r->inpos) {
		assert(r->inpos - pos >= FRAME_HDR);
		plen = (size_t)p[pos] << 8 | p[pos + 1];
		assert(r->inpos - pos - FRAME_HDR >= plen);
		if (plen == 0)
			ka++;
		else {
			assert(frame_error(p + pos + FRAME_HDR, plen, plen,
			    tap) == NULL);
			if (refused(p + pos + FRAME_HDR, plen, m))
				bad++;
			else {
				pkts++;
				bytes += plen;
			}
		}
		pos += FRAME_HDR + plen;
	}
	assert(pos == r->inpos);
	assert(r->st.rx_packets == pkts && r->st.rx_bytes == bytes);
	assert(r->st.rx_invalid == bad);
	assert(r->st.keepalives_rx == ka && r->st.rx_dropped == 0);
	if (r->why == NULL) {
		assert(r->inpos + r->held == len);
		return;
	}
	assert(len - pos > FRAME_HDR);
	plen = (size_t)p[pos] << 8 | p[pos + 1];
	have = len - pos - FRAME_HDR < plen ? len - pos - FRAME_HDR : plen;
	assert(plen > 0 && frame_error(p + pos + FRAME_HDR, have, plen, tap));
}

/*
 * Once frame_error() refuses a packet from its first bytes, more bytes never
 * make it acceptable; else a stream split differently would be judged
 * differently.
 */
static void
frame_error_monotone(const uint8_t *p, size_t len, int tap)
{
	size_t have;
	int bad = 0;

	for (have = 0; have <= len; have++) {
		if (frame_error(p, have, len, tap))
			bad = 1;
		else
			assert(!bad);
	}
}

/* The same bytes as one datagram: exactly one counter moves, rightly. */
static void
dgram_check(const uint8_t *p, size_t len, const struct mode *m)
{
	struct vpn v;
	uint8_t *copy;
	int ok, bad, tap = m->tap;

	vpn_new(&v, m, FRAME_MAX + 1);
	v.dgram = 1;
	v.st.rx_invalid = 1;	/* warnx speaks of the first only: stay quiet */
	if ((copy = malloc(len + 1)) == NULL)	/* offloads write in packets */
		err(1, "malloc");
	memcpy(copy, p, len);
	dgram_to_tun(&v, copy, len);
	free(copy);
	ok = len > 0 && len <= FRAME_MAX &&
	    frame_error(p, len, len, tap) == NULL;
	bad = (len > 0 && !ok) || (ok && refused(p, len, m));
	ok = ok && !bad;
	assert(v.st.keepalives_rx == (len == 0));
	assert(v.st.rx_packets == (unsigned long long)ok);
	assert(v.st.rx_bytes == (ok ? len : 0));
	assert(v.st.rx_invalid == 1 + (unsigned long long)bad);
	assert(v.st.rx_dropped == 0);
	if (len <= FRAME_MAX)
		frame_error_monotone(p, len, tap);
	vpn_free(&v);
}

/*
 * canon(q, len, out): the packet ${q} as out appends it: its length, then
 * its bytes but for what the device's cutting sets anew (IPv4's ID and
 * header checksum, TCP's checksum).
 */
static void
canon(const uint8_t *q, size_t len, struct dev_log *out)
{
	uint8_t *c;
	size_t th;
	int tcp;

	log_add(out, &len, sizeof(len));
	log_add(out, q, len);
	c = out->p + out->len - len;
	if (len < IP4_HLEN || (ip_version(c) == 6 && len < IP6_HLEN))
		return;
	if (ip_version(c) == 4) {
		memset(c + IP4_ID_OFF, 0, sizeof(uint16_t));
		memset(c + IP4_CSUM_OFF, 0, sizeof(uint16_t));
	} else if (ip_version(c) != 6)
		return;
	th = ip_tcp(c, &tcp);
	if (tcp && th + TCP_CSUM_OFF + sizeof(uint16_t) <= len)
		memset(c + th + TCP_CSUM_OFF, 0, sizeof(uint16_t));
}

/*
 * segments(dev): the packets the device was given, each cut as the device
 * cuts a super-packet, in canonical form (canon), end to end.
 */
static struct dev_log
segments(const struct dev_log *dev)
{
	struct dev_log out = { 0 };
	struct virtio_net_hdr h;
	const uint8_t *q;
	uint8_t *dst;
	size_t at, len, n, need, *lens, i;

	for (at = 0; at < dev->len; at += sizeof(len) + sizeof(h) + len) {
		memcpy(&len, dev->p + at, sizeof(len));
		memcpy(&h, dev->p + at + sizeof(len), sizeof(h));
		q = dev->p + at + sizeof(len) + sizeof(h);
		if (h.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
			canon(q, len, &out);
			continue;
		}
		assert(h.gso_size > 0 && h.hdr_len < len);
		n = (len - h.hdr_len + h.gso_size - 1) / h.gso_size;
		need = len - h.hdr_len + n * h.hdr_len;
		dst = mem_alloc(need);
		lens = mem_alloc(n * sizeof(*lens));
		assert(offload_cut(q, len, &h, dst, need, 0, lens, n) ==
		    (int)n);
		for (i = 0, need = 0; i < n; need += lens[i++])
			canon(dst + need, lens[i], &out);
		free(lens);
		free(dst);
	}
	return out;
}

/* The device took the same packets in runs ${a} and ${b}, once cut. */
static void
same_segments(const struct run *a, const struct run *b)
{
	struct dev_log x = segments(&a->dev), y = segments(&b->dev);

	assert(x.len == y.len && (x.len == 0 || memcmp(x.p, y.p, x.len) == 0));
	free(x.p);
	free(y.p);
}

/*
 * The same bytes as a run of datagrams read at once (UDP_GRO), cut at any
 * size the kernel might say, 1 to 65536: each datagram is counted once,
 * as a packet given, dropped or invalid (joined ones as the datagrams they
 * were), and no more bytes reach the device than came.
 */
static void
gro_check(const uint8_t *p, size_t len, size_t seg, const struct mode *m)
{
	struct vpn v;
	size_t n;

	if (len == 0 || len > FRAME_MAX + 1)
		return;
	vpn_new(&v, m, FRAME_MAX + 1);
	v.dgram = 1;
	v.st.rx_invalid = 1;	/* warnx speaks of the first only: stay quiet */
	memcpy(v.in.p, p, len);
	gro_to_tun(&v, v.in.p, len, seg);
	n = (len + seg - 1) / seg;
	assert(v.st.rx_packets + v.st.rx_dropped + v.st.rx_invalid - 1 == n);
	assert(v.st.rx_bytes <= len && v.st.keepalives_rx == 0);
	vpn_free(&v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, split;
	struct mode m;
	const uint8_t *p = data + IN_HDR;
	size_t len, max;

	if (size < IN_HDR)
		return 0;
	m.tap = data[0] & 1;
	m.offload = !m.tap && !(data[0] & 2);
	m.mtu = mtu_pick(data[0]);
	max = ((size_t)data[1] + 1) * ((size_t)data[1] + 1);
	len = size - IN_HDR;

	/* As the program reads: a buffer of IN_MAX, reads as big as fit. */
	whole = feed(p, len, &m, IN_MAX, 0, 0);
	run_check(&whole, p, len, &m);
	/*
	 * Small reads into the smallest buffer, so it compacts all the time,
	 * and a device that is full at times.
	 */
	split = feed(p, len, &m, FRAME_ROOM, max, 2 + data[1] % 5);
	run_check(&split, p, len, &m);
	assert(split.why == whole.why && split.inpos == whole.inpos);
	assert(split.st.rx_packets == whole.st.rx_packets);
	assert(split.st.keepalives_rx == whole.st.keepalives_rx);
	same_segments(&whole, &split);
	free(whole.dev.p);
	free(split.dev.p);

	dgram_check(p, len, &m);
	/* A GRO segment size from the stream's last two bytes: 1 to 65536. */
	if (len >= 2)
		gro_check(p, len - 2, be16(p + len - 2) + 1, &m);
	return 0;
}
