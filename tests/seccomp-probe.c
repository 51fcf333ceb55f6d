// SPDX-License-Identifier: MIT
/*
 * tests/seccomp-probe.c - vpn's system call filter, tried (tests/54).
 *
 * sandbox.c is included whole, as the fuzzers include vpn.c; after
 * sandbox_enter(), argv[1] says what to call: "write", "sockopt" (the
 * two setsockopt() calls of queue.c's held_set()) and "fcntl" (F_SETPIPE_SZ
 * on a pipe, F_SETFL) are allowed (print "ok");
 * "socket", "open", "ioctl" (TUNSETIFF), "mmap-exec", "sockopt-level"
 * (SO_BINDTODEVICE: TCP_NOTSENT_LOWAT's number, at SOL_SOCKET) and
 * "sockopt-name" (TCP_SYNCNT: SO_SNDBUF's number, at IPPROTO_TCP) and
 * "fcntl-owner" (F_SETOWN) are not,
 * and the kernel kills the process (SIGSYS) before any of them returns.
 */

#include <sys/socket.h>

#include <fcntl.h>

#include "../sandbox.c"

int
main(int argc, char *argv[])
{
	struct ifreq ifr;
	int n = 0, fds[2];
	pid_t me = getpid();	/* before: getpid() is not allowed */

	if (argc != 2)
		errx(2, "usage: seccomp-probe write|sockopt|fcntl|socket|open|"
		    "ioctl|mmap-exec|sockopt-level|sockopt-name|fcntl-owner");
	memset(&ifr, 0, sizeof(ifr));
	if (pipe(fds) == -1)
		err(1, "pipe");
	sandbox_enter();
	if (strcmp(argv[1], "write") == 0)
		(void)write(STDOUT_FILENO, "ok\n", 3);
	else if (strcmp(argv[1], "sockopt") == 0) {
		(void)setsockopt(-1, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &n,
		    sizeof(n));
		(void)setsockopt(-1, SOL_SOCKET, SO_SNDBUF, &n, sizeof(n));
		(void)write(STDOUT_FILENO, "ok\n", 3);
	} else if (strcmp(argv[1], "sockopt-level") == 0)
		(void)setsockopt(-1, SOL_SOCKET, SO_BINDTODEVICE, &n, sizeof(n));
	else if (strcmp(argv[1], "sockopt-name") == 0)
		(void)setsockopt(-1, IPPROTO_TCP, TCP_SYNCNT, &n, sizeof(n));
	else if (strcmp(argv[1], "fcntl") == 0) {
		(void)fcntl(fds[1], F_SETPIPE_SZ, 16384);
		(void)fcntl(fds[1], F_SETFL, O_NONBLOCK);
		(void)write(STDOUT_FILENO, "ok\n", 3);
	} else if (strcmp(argv[1], "fcntl-owner") == 0)
		(void)fcntl(STDOUT_FILENO, F_SETOWN, me);
	else if (strcmp(argv[1], "socket") == 0)
		(void)socket(AF_INET, SOCK_DGRAM, 0);
	else if (strcmp(argv[1], "open") == 0)
		(void)open("/etc/passwd", O_RDONLY);
	else if (strcmp(argv[1], "ioctl") == 0)
		(void)ioctl(STDIN_FILENO, TUNSETIFF, &ifr);
	else if (strcmp(argv[1], "mmap-exec") == 0)
		(void)mmap(NULL, 4096, PROT_READ | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return 0;
}
