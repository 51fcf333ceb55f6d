// SPDX-License-Identifier: MIT
/*
 * offload.h - what vpn.c asks of offload.c: a TCP super-packet from the
 * device cut into the packets a wire of its MTU carries, segments of one
 * TCP stream joined again for the device, and the checksums and virtio
 * headers that go with them.  Pure functions over the caller's buffers.
 */

#ifndef OFFLOAD_H
#define OFFLOAD_H

#include <stddef.h>
#include <stdint.h>

struct iovec;
struct virtio_net_hdr;

#define IP4_HLEN	20		/* IPv4 header without options */
#define IP6_HLEN	40		/* IPv6 fixed header */
#define IP4_LEN_OFF	2		/* IPv4 total length */
#define IP6_LEN_OFF	4		/* IPv6 payload length */
#define IP4_FRAG_OFF	6		/* IPv4 flags and fragment offset */
#define IP4_FRAG_MASK	0x3fff		/* more fragments, offset: a fragment */
#define IP4_PROTO_OFF	9		/* IPv4 protocol */
#define IP4_ADDRS_OFF	12		/* source, then destination address */
#define IP4_ADDRS_LEN	8
#define IP6_NEXT_OFF	6		/* IPv6 next header */
#define IP6_ADDRS_OFF	8		/* source, then destination address */
#define IP6_ADDRS_LEN	32
#define OFFLOAD_SEG_MIN	41		/* shortest cut: IPv4, TCP, a byte */
#define OFFLOAD_HDR_MAX	120		/* IPv4 and TCP headers at most */

/* Why offload_cut() wrote nothing. */
#define OFFLOAD_INVALID	(-1)		/* the header makes no sense */
#define OFFLOAD_NOROOM	(-2)		/* the segments do not fit */

/*
 * From the device to the wire: complete a packet's partial checksum in
 * place; or copy the packet to dst as the packets a wire of its MTU
 * carries, a gap before each, their lengths in lens.
 */
int	offload_csum(uint8_t *pkt, size_t len, const struct virtio_net_hdr *h);
int	offload_whole(const uint8_t *pkt, size_t len,
	    const struct virtio_net_hdr *h);
int	offload_cut(const uint8_t *pkt, size_t len,
	    const struct virtio_net_hdr *h, uint8_t *dst, size_t room,
	    size_t gap, size_t *lens, size_t nlens);

/*
 * From the wire to the device: join the leading segments of one TCP
 * stream among seg[0..n), behind headers written to hdr; the header a
 * packet goes under.
 */
size_t	offload_join(const struct iovec *seg, size_t n, uint8_t *hdr,
	    size_t *hlen, size_t *took);
/* Whether a join of seg[0..n) is worth waiting for q, not whole yet. */
int	offload_join_waits(const struct iovec *seg, size_t n,
	    const uint8_t *q, size_t qlen, size_t qfull);
/* Whether a packet may begin a join: if not, it goes alone, unscanned. */
int	offload_may_join(const uint8_t *p, size_t len);
int	offload_hdr(uint8_t *pkt, size_t len, size_t mtu, int joined,
	    struct virtio_net_hdr *h);

/* The 16-bit number at ${p}, in network byte order. */
static inline size_t
be16(const uint8_t *p)
{
	return (size_t)p[0] << 8 | p[1];
}

/* Store ${v} at ${p} in network byte order: its low 16 bits. */
static inline void
put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The IP version of the packet ${p}: its first 4 bits. */
static inline unsigned
ip_version(const uint8_t *p)
{
	return p[0] >> 4;
}

#endif
