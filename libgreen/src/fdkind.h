/* SPDX-License-Identifier: MIT */
/*
 * fdkind.h - which descriptors are stream sockets, remembered as a hint
 * (fdkind.c).
 */
#ifndef GREEN_FDKIND_H
#define GREEN_FDKIND_H

#include <stdbool.h>

enum fd_kind {
	FDK_UNKNOWN,	/* not looked at, or forgotten */
	FDK_STREAM,	/* a SOCK_STREAM socket, when last looked at */
	FDK_OTHER,	/* anything else, or past the table */
};

/* Hint: was @fd a stream socket? Looks (one getsockopt) when unknown. */
bool fd_stream(int fd);

/* Record what @fd is (FDK_UNKNOWN forgets it). */
void fd_kind_set(int fd, enum fd_kind kind);

#endif /* GREEN_FDKIND_H */
