// SPDX-License-Identifier: MIT
/*
 * fdkind.c - which descriptors are stream sockets, remembered as a hint.
 *
 * On a stream socket read(2) and write(2) are recv(2) and send(2) with no
 * flags, and the socket calls take the shorter path through the kernel:
 * send(MSG_DONTWAIT) skips the iovec import of pwritev2(RWF_NOWAIT), and
 * io_uring's IORING_OP_RECV can wait for data before its first try
 * (IORING_RECVSEND_POLL_FIRST) where IORING_OP_READ tries, fails and then
 * waits. So green_read and green_write on a stream socket are made as
 * socket calls (io.c io_nowait, poller_uring.c).
 *
 * The table is one byte per descriptor number below FDKIND_MAX, filled
 * on first use with getsockopt(SO_TYPE). It is only a hint: a number
 * closed with close(2) can come back as another kind of file. So a
 * socket call that fails with ENOTSOCK (it did nothing) is made again
 * the generic way and the entry corrected, and an entry that says "not a
 * socket" for what is a socket again only costs the generic path.
 * green_close forgets the entry; green_accept on a stream listener
 * records the new connection. Only SOCK_STREAM counts: on a datagram
 * socket read(2) and recv(2) differ (a zero-length datagram).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "fdkind.h"

#define FDKIND_MAX 65536	/* 64 KiB of bss, touched where used */

static _Atomic uint8_t kinds[FDKIND_MAX];

void fd_kind_set(int fd, enum fd_kind kind)
{
	if (fd >= 0 && fd < FDKIND_MAX)
		atomic_store_explicit(&kinds[fd], kind, memory_order_relaxed);
}

bool fd_stream(int fd)
{
	enum fd_kind k;
	socklen_t len;
	int type;

	if (fd < 0 || fd >= FDKIND_MAX)
		return false;
	k = atomic_load_explicit(&kinds[fd], memory_order_relaxed);
	if (k == FDK_UNKNOWN) {
		len = sizeof(type);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0)
			k = type == SOCK_STREAM ? FDK_STREAM : FDK_OTHER;
		else if (errno == ENOTSOCK)
			k = FDK_OTHER;
		else
			return false;	/* not open (yet): nothing to keep */
		fd_kind_set(fd, k);
	}
	return k == FDK_STREAM;
}
