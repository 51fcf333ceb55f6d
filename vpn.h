// SPDX-License-Identifier: MIT
/*
 * vpn.h - what the files of vpn share: the frame format's limits, the
 * one struct vpn that holds the whole state, and the buffers it holds.
 * vpn.c is the program; each of the others declares here what it gives.
 */

#ifndef VPN_H
#define VPN_H

#include <linux/if.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct iovec;
struct passwd;

#define FRAME_HDR	2		/* length prefix, network byte order */
#define FRAME_MAX	0xffff		/* the most FRAME_HDR can express */
#define READ_BATCH	64		/* reads a wakeup; stdin gets a turn */
#define JOIN_MAX	64		/* segments offered to one join */
#define FLOW_BUCKETS	1024		/* flows told apart, by a hash */
#define FLOW_QUANTUM	1514		/* a flow's bytes in fast: fq_codel's */

struct buf {
	uint8_t		*p;
	size_t		 off;		/* first byte held */
	size_t		 len;		/* bytes held, from p[off] */
	size_t		 cap;
};

/*
 * What the counters say, each one thing; stats_print() names them as the
 * man page does.  rx is from the peer to the device, tx from the device
 * to the peer, counted once stdout has taken the whole packet.
 */
struct stats {
	unsigned long long rx_packets, rx_bytes;	/* given to the device */
	unsigned long long rx_dropped;	/* refused by the device */
	unsigned long long rx_invalid;	/* a bad datagram, or a long TCP
					   packet with a wrong checksum */
	unsigned long long tx_packets, tx_bytes;	/* taken by stdout */
	unsigned long long tx_dropped;	/* refused by the socket, or no room */
	unsigned long long tx_invalid;	/* not a packet, from the device */
	unsigned long long keepalives_rx, keepalives_tx;
	unsigned long long socket_errors;	/* ICMP's, on a datagram socket */
};

struct vpn {
	int		 tun;
	const char	*name;		/* -i, as asked for */
	char		 ifname[IFNAMSIZ];	/* as the kernel made it */
	const char	*user;		/* -u */
	int		 tap;		/* -a: Ethernet frames, not IP */
	int		 vnet;		/* TUN: packets behind virtio_net_hdr */
	int		 offload;	/* and TCP super-packets from tun */
	int		 whole;		/* -W: sent whole on a stream */
	int		 ctl;		/* a socket, to ask of the device */
	size_t		 mtu;		/* the device's, for segment sizes */
	long long	 mtu_ms;	/* when mtu was read */
	int		 dgram;		/* -D: a packet per read and write */
	int		 dgram_eof;	/* empty read: EOF, not keepalive */
	int		 gso;		/* -D: stdout sends runs of datagrams */
	long long	 gso_retry_ms;	/* refused: none until then */
	int		 gro;		/* -D: stdin reads runs of datagrams */
	int		 pmtu_said;	/* -D: told that the path is too narrow */
	int		 cut;		/* cut super-packets to the MTU */
	uint8_t		*aside;		/* cut: a packet from the device */
	size_t		*seg_len;	/* cut: its segments' lengths */
	int		 verbose;
	const char	*status;	/* -s: a file for the counters */
	int		 status_fd;
	long long	 status_ms;	/* when it was written */
	struct stats	 st_said;	/* what it says */
	long long	 wall_ms;	/* CLOCK_REALTIME when now_ms was 0... */
	int		 peer_up;	/* a frame has come from the peer */
	int		 tun_blocked;	/* tun said EAGAIN: wait POLLOUT */
	int		 out_blocked;	/* stdout said EAGAIN: wait POLLOUT */
	int		 eof;		/* stdin ended; give the frames held */
	int		 quitting;	/* SIGINT, SIGTERM: give them too */
	struct buf	 in;		/* stdin bytes not yet given to tun */
	struct buf	 out;		/* frames not yet taken by stdout */
	size_t		 out_left;	/* bytes of out's first frame unsent */
	size_t		 out_plen;	/* and the length of its packet */
	struct buf	 fast;		/* stream: frames sent before out's */
	size_t		 fast_left;	/* bytes of fast's first frame unsent */
	size_t		 fast_plen;
	size_t		 flow_out[FLOW_BUCKETS];	/* a flow's bytes in out */
	size_t		 flow_fast[FLOW_BUCKETS];	/* and in fast */
	int		 held_kind;	/* stream: what stdout is (queue.c) */
	size_t		 held;		/* the bytes stdout itself may hold */
	size_t		 held_want;	/* a pipe too full to shrink to it */
	long long	 shrink_ms;	/* then tried again after this long */
	long long	 shrink_at;	/* and next at this time */
	long long	 drain_ms;	/* since when drained counts */
	unsigned long long drained;	/* bytes stdout took since then */
	unsigned long long inpos;	/* stdin offset of in.p[in.off] */
	unsigned long long wait_end;	/* where a run's awaited frame ends */
	long long	 wait_ms;	/* when that run began to wait */
	int		 waiting;	/* a run waits now */
	long long	 fill_ms;	/* since when filled counts */
	unsigned long long filled;	/* bytes read from stdin since then */
	unsigned long long in_rate;	/* stdin's bytes a ms, of late */
	long long	 now_ms;	/* CLOCK_MONOTONIC, once per turn */
	long long	 last_tx_ms;	/* last frame queued for stdout */
	long long	 last_rx_ms;	/* last byte read from stdin */
	long long	 keepalive_ms;	/* -k, 0 for off */
	long long	 silent_ms;	/* -t, 0 for off */
	struct stats	 st;
};

/* Free bytes after the data in ${b}. */
static inline size_t
buf_room(const struct buf *b)
{
	return b->cap - b->off - b->len;
}

/* Where the next bytes go: just after the data in ${b}. */
static inline uint8_t *
buf_tail(const struct buf *b)
{
	return b->p + b->off + b->len;
}

/* The first ${n} bytes of data in ${b} are done with. */
static inline void
buf_consume(struct buf *b, size_t n)
{
	b->off += n;
	b->len -= n;
}

/*
 * buf_compact(b, want): if fewer than ${want} bytes are free after the
 * data in ${b}, move the data to the front: rarely, since ${want} is a
 * read's worth (a maximal frame, or two) and the buffers hold several
 * frames; never per packet.  An empty buffer starts at the front again.
 */
static inline void
buf_compact(struct buf *b, size_t want)
{
	if (b->len == 0)
		b->off = 0;
	else if (buf_room(b) < want && b->off > 0) {
		memmove(b->p, b->p + b->off, b->len);
		b->off = 0;
	}
}

/* Frames held for stdout, in out and in fast. */
static inline size_t
out_held(const struct vpn *v)
{
	return v->out.len + v->fast.len;
}

/* vpn.c: the frame format and the device, which dgram.c uses too. */

/* Why a packet may not go to the device, or NULL if it may. */
const char	*frame_error(const uint8_t *pkt, size_t have, size_t len,
		    int tap);
/* The bytes of the first frame in p, if all there; else 0. */
size_t		 frame_next(const uint8_t *p, size_t len, size_t *plen);
/* One packet to the device; 0 if it cannot take it now. */
int		 tun_write(struct vpn *v, uint8_t *pkt, size_t len);
/* Segments of one TCP stream joined for the device; took says how many. */
int		 tun_join(struct vpn *v, const struct iovec *seg, size_t n,
		    size_t *took);
/* Something came from the peer (for -t and -v). */
void		 peer_heard(struct vpn *v);

/* dgram.c: the datagram transport, which the loop and main() call. */

/* Is stdin a socket that keeps message boundaries (-D implied)? */
int		 stdin_is_dgram(int *eof_on_empty);
/* Socket buffers, UDP_SEGMENT and UDP_GRO, before privileges go. */
void		 dgram_setup(struct vpn *v);
/* Read datagrams from stdin, each to the device; at EOF, set v->eof. */
void		 dgram_read(struct vpn *v);
/* Write out's frames to stdout as datagrams; 0 if stdout is full. */
int		 dgram_flush(struct vpn *v);
/* Count a soft socket error (ICMP's) and go on; 0 if not soft. */
int		 dgram_error(struct vpn *v, int e, const char *what);

/* queue.c: what waits for stdout on a stream, which vpn.c fills. */

/* The flow hash's key, and stdout's own queue, before the sandbox. */
void		 queue_setup(struct vpn *v);
/* The packet at out's tail, behind room for its prefix, as a frame. */
void		 queue_packet(struct vpn *v, size_t plen);
/* The segments of a cut at out's tail, each as a frame (v->seg_len). */
void		 queue_segments(struct vpn *v, int n);
/* An empty frame. */
void		 queue_keepalive(struct vpn *v);
/* With out full, a packet of a sparse flow to fast; 0 if it is not. */
int		 queue_sparse(struct vpn *v, const uint8_t *p, size_t len);
/* Write what stdout takes, fast first; 0 if it is full. */
int		 stdout_flush(struct vpn *v);
/* Each turn: stdout's own queue, to what it took. */
void		 held_tick(struct vpn *v);
/* A pipe refused to shrink to ${bytes}, or 0: it need not any more. */
void		 held_wait(struct vpn *v, size_t bytes);

/* sandbox.c: what vpn gives up once set up, which main() calls. */

/* -u's user, looked up before anything changes; exits if there is none. */
struct passwd	*user_lookup(const char *user);
/* Become that user, for good. */
void		 sandbox_drop(const struct passwd *pw);
/* From here on, only the system calls the loop makes. */
void		 sandbox_enter(void);

#endif
