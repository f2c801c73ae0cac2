/* SPDX-License-Identifier: MIT */
/*
 * client.h - a small HTTP/1.1 client on libgreen's I/O, for the tour: a
 * connection per struct hc, keep-alive, requests written raw when a test
 * needs a malformed one, answers parsed with http-parser. Call from tasks.
 */
#ifndef DEMO_CLIENT_H
#define DEMO_CLIENT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include <http_parser.h>

#include "buf.h"

struct hc_resp {
	int status;
	struct buf body;
	char retry_after[16];		/* the header's value, or "" */
	char allow[32];			/* the header's value, or "" */
	bool close;			/* the server will close after it */
	int64_t ns;			/* request sent to answer complete */
};

struct hc {
	int fd;
	http_parser p;
	struct buf in;			/* read, not yet parsed */
	struct hc_resp *r;		/* the answer being parsed */
	bool complete;
	int64_t sent_at;
	char hname[32];
	size_t hname_len;
	char hval[32];
	size_t hval_len;
	int hstate;
};

/* Connect to @sa. 0 or -errno. */
int hc_dial(struct hc *c, const struct sockaddr_in *sa, int64_t deadline);
/* Write @len raw bytes (anything, valid HTTP or not). */
int hc_send_raw(struct hc *c, const void *data, size_t len,
		int64_t deadline);
/*
 * Write a request: @method @path, a Host header, @headers (lines ending
 * "\r\n", may be NULL) and a body of @blen bytes with Content-Length.
 */
int hc_send(struct hc *c, const char *method, const char *path,
	    const char *headers, const void *body, size_t blen,
	    int64_t deadline);
/*
 * Read one answer into @r (initialised by this call; hc_resp_free it).
 * 0, -EPIPE when the server closed first, -ETIMEDOUT, -EPROTO.
 */
int hc_recv(struct hc *c, struct hc_resp *r, int64_t deadline);
/* hc_send a GET and hc_recv its answer. */
int hc_get(struct hc *c, const char *path, struct hc_resp *r,
	   int64_t deadline);
void hc_close(struct hc *c);
void hc_resp_free(struct hc_resp *r);

#endif /* DEMO_CLIENT_H */
