// SPDX-License-Identifier: MIT
/*
 * tests/simpletun.c - vpn's framing as the simplest tunnels implement it
 * (simpletun, and the article's readers): one buffer of 2000 bytes,
 * blocking reads and writes, a frame at a time.  A frame longer than -m
 * bytes (default 1500, its device's MTU) it cannot take: it says so and
 * exits 1, and the tunnel is gone.  It is the peer that vpn's defaults
 * must keep (tests/25-wire-mtu.sh).
 *
 * usage: simpletun [-m max] -i ifname	a TUN device on stdin and stdout
 *        simpletun [-m max] -n		frames from stdin, counted: how
 *					many, the longest; 1 if too long
 */

#include <sys/ioctl.h>

#include <linux/if.h>
#include <linux/if_tun.h>

#include <err.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUFSIZE		2000		/* simpletun's */
#define FRAME_HDR	2

static uint8_t	buf[BUFSIZE];

/* Read exactly ${n} bytes, or return 0 at EOF before the first. */
static int
read_n(int fd, uint8_t *p, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		if ((r = read(fd, p + got, n - got)) == -1)
			err(1, "read");
		if (r == 0) {
			if (got == 0)
				return 0;
			errx(1, "EOF inside a frame");
		}
		got += (size_t)r;
	}
	return 1;
}

static void
write_n(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	for (; n > 0; p += w, n -= (size_t)w)
		if ((w = write(fd, p, n)) == -1)
			err(1, "write");
}

/* The next frame's packet into buf; its length, or -1 at EOF. */
static long
frame_read(size_t max)
{
	size_t len;

	if (!read_n(STDIN_FILENO, buf, FRAME_HDR))
		return -1;
	len = (size_t)buf[0] << 8 | buf[1];
	if (len > max)
		errx(1, "frame of %zu bytes, longer than %zu", len, max);
	if (len > 0)
		(void)read_n(STDIN_FILENO, buf, len);
	return (long)len;
}

static int
tun_open(const char *name)
{
	struct ifreq ifr;
	int fd;

	if ((fd = open("/dev/net/tun", O_RDWR)) == -1)
		err(1, "/dev/net/tun");
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) == -1)
		err(1, "TUNSETIFF %s", name);
	return fd;
}

static void
tunnel(int tun, size_t max)
{
	struct pollfd pfd[2] = {
		{ .fd = tun, .events = POLLIN },
		{ .fd = STDIN_FILENO, .events = POLLIN },
	};
	ssize_t n;
	long len;

	for (;;) {
		if (poll(pfd, 2, -1) == -1)
			err(1, "poll");
		if (pfd[0].revents & POLLIN) {
			if ((n = read(tun, buf + FRAME_HDR, BUFSIZE - FRAME_HDR))
			    == -1)
				err(1, "read tun");
			buf[0] = (uint8_t)(n >> 8);
			buf[1] = (uint8_t)n;
			write_n(STDOUT_FILENO, buf, FRAME_HDR + (size_t)n);
		}
		if (pfd[1].revents) {
			if ((len = frame_read(max)) == -1)
				return;
			if (len > 0 && write(tun, buf, (size_t)len) == -1)
				warn("write tun");
		}
	}
}

static void
count(size_t max)
{
	unsigned long long frames = 0;
	long len, longest = 0;

	while ((len = frame_read(max)) != -1) {
		frames++;
		if (len > longest)
			longest = len;
	}
	printf("%llu frames, the longest %ld bytes\n", frames, longest);
}

int
main(int argc, char *argv[])
{
	const char *name = NULL;
	size_t max = 1500;
	int ch, only_count = 0;

	while ((ch = getopt(argc, argv, "i:m:n")) != -1) {
		switch (ch) {
		case 'i':
			name = optarg;
			break;
		case 'm':
			max = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			only_count = 1;
			break;
		default:
			return 2;
		}
	}
	if (max > BUFSIZE)
		errx(2, "-m: more than its buffer, %d bytes", BUFSIZE);
	if (only_count)
		count(max);
	else if (name != NULL)
		tunnel(tun_open(name), max);
	else
		errx(2, "usage: simpletun [-m max] -i ifname | -n");
	return 0;
}
