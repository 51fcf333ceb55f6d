// SPDX-License-Identifier: MIT
/*
 * tests/fuzz-offload.c - libFuzzer target for the offloads: the checksum
 * (vector and scalar) against a byte-wise reference, the device header,
 * TCP super-packets cut into segments and joined again, a changed segment
 * that must not join, and the counters of a joined run.
 *
 * Input: byte 0, bits 2-7, is n for a device MTU of 68 + 24n; the rest is
 * one packet, and the same bytes as a run of datagrams of the MTU each.
 * tests/corpus.sh writes the seeds in tests/corpus/offload/.
 */

#include "fuzz.h"

#define IN_HDR		1	/* bytes of input that are not the packet */

/* The Internet checksum of ${p}[0..${len}) added to ${sum}, big-endian. */
static uint32_t
sum_be(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (i < len)
		sum += (uint32_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* ${ours} is the one's complement sum ${ref}, byte-swapped. */
static void
csum_same(uint16_t ours, uint32_t ref)
{
	assert(ours == (uint16_t)(ref >> 8 | ref << 8) ||
	    (ours == 0 && ref == 0xffff) || (ours == 0xffff && ref == 0));
}

/*
 * csum_add() at any alignment and length is the byte-wise sum; so is
 * csum_add_scalar(), which csum_add() leaves whole vector steps to where
 * the CPU has them.
 */
static void
csum_check(const uint8_t *p, size_t len)
{
	size_t skip = len > 8 ? p[0] % 8 : 0;	/* misalign the start */
	uint32_t ref = sum_be(0, p + skip, len - skip);

	csum_same(csum_fold(csum_add(0, p + skip, len - skip)), ref);
	csum_same(csum_fold(csum_add_scalar(0, p + skip, len - skip)), ref);
}

/*
 * A packet frame_error() passed, as -o gives it to the device: a header
 * that stays inside the packet, segments that fit the MTU, and a checksum
 * that, completed as the kernel completes it (vnet_csum), is right.
 */
static void
vnet_check(const uint8_t *pkt, size_t len, size_t mtu)
{
	struct virtio_net_hdr h;
	uint8_t *p;
	uint32_t sum;
	size_t iphl;
	int v6;

	if ((p = malloc(len)) == NULL)
		err(1, "malloc");
	memcpy(p, pkt, len);
	vnet_hdr(p, len, mtu, &h);
	if (h.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		assert(h.flags == 0 && memcmp(p, pkt, len) == 0);
		free(p);
		return;
	}
	assert(len > mtu && h.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert(h.hdr_len < len && h.gso_size > 0);
	assert((size_t)h.hdr_len + h.gso_size == mtu);
	assert((size_t)h.csum_start + h.csum_offset + 2 <= h.hdr_len);
	assert(vnet_csum(p, len, &h));
	v6 = p[0] >> 4 == 6;
	iphl = h.csum_start;
	sum = v6 ? sum_be(0, p + 8, 32) : sum_be(0, p + 12, 8);
	sum = sum_be(sum + IPPROTO_TCP + (uint32_t)(len - iphl), p + iphl,
	    len - iphl);
	assert(sum == 0xffff);
	free(p);
}

/* vnet_csum() on any header the device might give: it stays inside. */
static void
vnet_csum_check(const uint8_t *p, size_t len)
{
	struct virtio_net_hdr h;
	uint8_t *copy;
	size_t at;

	if (len < sizeof(h))
		return;
	memcpy(&h, p, sizeof(h));
	len -= sizeof(h);
	if ((copy = malloc(len + 1)) == NULL)
		err(1, "malloc");
	memcpy(copy, p + sizeof(h), len);
	at = (size_t)h.csum_start + h.csum_offset;
	assert(vnet_csum(copy, len, &h) ==
	    (!(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) ||
	    (h.csum_start < len && at + 2 <= len)));
	free(copy);
}

/*
 * tcp_merge() on any run of datagrams stays inside it.  What it joins is a
 * packet frame_error() passes, whose payload is the joined datagrams'
 * payloads end to end, and which the device can cut again at ${seg}, with
 * its TCP checksum right once filled in.
 */
static void
merge_check(const uint8_t *p, size_t len, size_t seg)
{
	uint8_t *copy;
	size_t used, plen, th, hl, off, at, qlen;
	int tcp;

	if (len == 0 || seg == 0)
		return;
	if ((copy = malloc(len)) == NULL)
		err(1, "malloc");
	memcpy(copy, p, len);
	plen = tcp_merge(copy, len, seg, &used);
	assert(used > 0 && used <= len);
	if (plen > 0) {
		assert(used > seg && plen > seg && plen <= used);
		assert(frame_error(copy, plen, plen, 0) == NULL);
		th = ip_tcp(copy, &tcp);
		hl = th + tcp_hlen(copy + th);
		assert(tcp && plen - hl == used - (used + seg - 1) / seg * hl);
		for (off = 0, at = hl; off < used; off += seg) {
			qlen = used - off < seg ? used - off : seg;
			assert(memcmp(copy + at, p + off + hl, qlen - hl) == 0);
			at += qlen - hl;
		}
		vnet_check(copy, plen, seg);
	} else
		assert(used == (seg < len ? seg : len));
	free(copy);
}

/* The TCP checksum of the packet ${q}, as the byte-wise sum has it. */
static int
tcp_sum_ok(const uint8_t *q, size_t len, size_t th)
{
	uint32_t sum;

	sum = q[0] >> 4 == 6 ? sum_be(0, q + 8, 32) : sum_be(0, q + 12, 8);
	return sum_be(sum + IPPROTO_TCP + (uint32_t)(len - th), q + th,
	    len - th) == 0xffff;
}

/*
 * seg_check(p, hl, th, q, qlen, i, off, last): the segment ${q} tcp_segment()
 * cut as the ${i}th from the super-packet ${p}: its ${off}th payload bytes,
 * the sequence number that says so, IPv4 ID + i, PSH and FIN on the last
 * segment only, CWR on the first only, and checksums right by the
 * byte-wise sum.
 */
static void
seg_check(const uint8_t *p, size_t hl, size_t th, const uint8_t *q,
    size_t qlen, size_t i, size_t off, int last)
{
	uint32_t seq0, seq;
	uint8_t f = p[th + TCP_FLAGS_OFF];

	assert(frame_error(q, qlen, qlen, 0) == NULL && qlen > hl);
	assert(memcmp(q + hl, p + hl + off, qlen - hl) == 0);
	memcpy(&seq0, p + th + TCP_SEQ_OFF, sizeof(seq0));
	memcpy(&seq, q + th + TCP_SEQ_OFF, sizeof(seq));
	assert(ntohl(seq) == ntohl(seq0) + (uint32_t)off);
	if (i > 0)
		f &= (uint8_t)~TCP_CWR;
	if (!last)
		f &= (uint8_t)~(TCP_PSH | TCP_FIN);
	assert(q[th + TCP_FLAGS_OFF] == f);
	if (q[0] >> 4 == 4) {
		assert(((q[IP4_ID_OFF] << 8 | q[IP4_ID_OFF + 1]) & 0xffff) ==
		    (((p[IP4_ID_OFF] << 8 | p[IP4_ID_OFF + 1]) + i) & 0xffff));
		assert(sum_be(0, q, th) == 0xffff);
	}
	assert(tcp_sum_ok(q, qlen, th));
}

/*
 * segments(v, p, hl, th, mtu, run, &at, &seg): take the frames
 * tcp_segment() queued in out from ${p}, check each (seg_check: at most
 * ${mtu}, none longer than the first), and lay them end to end in ${run},
 * as UDP_GRO would give them.  Returns their number; ${at} is the run's
 * length, ${seg} the first's.
 */
static size_t
segments(struct vpn *v, const uint8_t *p, size_t hl, size_t th, size_t mtu,
    uint8_t *run, size_t *at, size_t *seg)
{
	size_t flen, plen, n = 0, off = 0;
	const uint8_t *q;

	*at = *seg = 0;
	while ((flen = frame_next(v->out.p + v->out.off, v->out.len, &plen))) {
		q = v->out.p + v->out.off + FRAME_HDR;
		assert(plen <= mtu && (n == 0 || plen <= *seg));
		seg_check(p, hl, th, q, plen, n, off,
		    v->out.len == flen);
		off += plen - hl;
		*seg = n++ == 0 ? plen : *seg;
		memcpy(run + *at, q, plen);
		*at += plen;
		buf_consume(&v->out, flen);
	}
	return n;
}

/*
 * The run, given to the device as stdin_read_dgram() gives it, counts as
 * the ${n} packets and ${at} bytes the far end sent, joined or not.
 */
static void
run_counts(const uint8_t *run, size_t at, size_t seg, size_t n, size_t mtu)
{
	struct mode m = { 0, 1, mtu };
	struct vpn w;
	size_t off, used;

	vpn_new(&w, &m, at);
	memcpy(w.in.p, run, at);
	for (off = 0; off < at; off += used)
		dgram_run_to_tun(&w, w.in.p + off, at - off, seg, &used);
	assert(w.st.rx_packets == n && w.st.rx_bytes == at);
	assert(w.st.rx_dropped == 0 && w.st.rx_invalid == 0);
	free(w.in.p);
}

/* Make the TCP checksum of ${q} right again, by the byte-wise sum. */
static void
tcp_resum(uint8_t *q, size_t len, size_t th)
{
	uint32_t sum;

	q[th + TCP_CSUM_OFF] = q[th + TCP_CSUM_OFF + 1] = 0;
	sum = q[0] >> 4 == 6 ? sum_be(0, q + 8, 32) : sum_be(0, q + 12, 8);
	sum = ~sum_be(sum + IPPROTO_TCP + (uint32_t)(len - th), q + th,
	    len - th);
	q[th + TCP_CSUM_OFF] = (uint8_t)(sum >> 8);
	q[th + TCP_CSUM_OFF + 1] = (uint8_t)sum;
}

/*
 * change_check(run, at, seg, th, i, how): change datagram ${i} of the run
 * so that it may not join, as ${how} picks: one bit flipped anywhere,
 * or, its checksum made right again, another source port, a sequence
 * number one off, FIN, or (IPv6, under no checksum) another hop limit.
 * tcp_merge() then joins nothing from datagram ${i} on.
 */
static void
change_check(const uint8_t *run, size_t at, size_t seg, size_t th, size_t i,
    size_t how)
{
	uint8_t *mut, *q;
	size_t used, len = at - i * seg < seg ? at - i * seg : seg;

	if ((mut = malloc(at)) == NULL)
		err(1, "malloc");
	memcpy(mut, run, at);
	q = mut + i * seg;
	switch (how % 4) {
	case 0:
		q[how / 4 / 8 % len] ^= (uint8_t)(1 << how / 4 % 8);
		break;
	case 1:
		q[th + 1]++;			/* the source port */
		tcp_resum(q, len, th);
		break;
	case 2:
		q[th + TCP_SEQ_OFF + 3]++;
		tcp_resum(q, len, th);
		break;
	case 3:
		if (q[0] >> 4 == 6)
			q[7]--;			/* the hop limit */
		else {
			q[th + TCP_FLAGS_OFF] |= TCP_FIN;
			tcp_resum(q, len, th);
		}
		break;
	}
	if (tcp_merge(mut, at, seg, &used) > 0)
		assert(i > 0 && used <= i * seg);
	free(mut);
}

/*
 * tcp_segment() cuts a super-packet into whole packets of the MTU, every
 * checksum right, that tcp_merge() joins back into the packet it was (but
 * for the TCP checksum, which the device is told to fill in, and the
 * IPv4 one, which it makes again).
 */
static void
segment_check(const uint8_t *p, size_t len, size_t mtu)
{
	struct virtio_net_hdr h;
	struct vpn v;
	struct mode none = { 0, 0, 0 };
	uint8_t *run, *orig, f;
	size_t th, hl, at, seg, used, n;
	int v6, tcp;

	if (len < IP4_HLEN || (th = ip_tcp(p, &tcp), !tcp) ||
	    th + TCP_HLEN > len)
		return;
	hl = th + tcp_hlen(p + th);
	if (hl >= len || hl < th + TCP_HLEN || mtu <= hl)
		return;
	v6 = p[0] >> 4 == 6;
	memset(&h, 0, sizeof(h));
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	h.csum_start = (uint16_t)th;
	h.gso_size = (uint16_t)(mtu - hl);
	vpn_new(&v, &none, 1);
	buf_init(&v.out, OUT_MAX);
	if ((run = malloc(OUT_MAX)) == NULL || (orig = malloc(len)) == NULL)
		err(1, "malloc");
	memcpy(orig, p, len);
	if (tcp_segment(&v, orig, len, &h) > 0) {
		n = segments(&v, p, hl, th, mtu, run, &at, &seg);
		assert(at == len + (n - 1) * hl);
		merge_check(run, at, seg);
		run_counts(run, at, seg, n, mtu);
		f = p[th + TCP_FLAGS_OFF] & (uint8_t)~(TCP_CWR | TCP_PSH);
		if (n > 1 && f == TCP_ACK && (v6 || th == IP4_HLEN)) {
			change_check(run, at, seg, th, p[len - 1] % n,
			    (size_t)p[len - 2] << 8 | p[len - 3]);
			assert(tcp_merge(run, at, seg, &used) == len);
			assert(used == at);
			vnet_check(run, len, seg);
			memcpy(run + th + TCP_CSUM_OFF, p + th + TCP_CSUM_OFF,
			    sizeof(uint16_t));
			if (!v6) {
				assert(sum_be(0, run, th) == 0xffff);
				memcpy(run + IP4_CSUM_OFF, p + IP4_CSUM_OFF,
				    sizeof(uint16_t));
			}
			assert(memcmp(run, p, len) == 0);
		}
	}
	free(run);
	free(orig);
	free(v.out.p);
	free(v.in.p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data + IN_HDR;
	size_t len, mtu;
	int ip;

	if (size < IN_HDR)
		return 0;
	mtu = mtu_pick(data[0]);
	len = size - IN_HDR;
	ip = len <= FRAME_MAX && frame_error(p, len, len, 0) == NULL;

	csum_check(p, len);
	vnet_csum_check(p, len);
	if (ip) {
		vnet_check(p, len, mtu);
		segment_check(p, len, mtu);
	}
	merge_check(p, len, mtu);
	return 0;
}
