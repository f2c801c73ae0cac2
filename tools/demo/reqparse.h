/* SPDX-License-Identifier: MIT */
/*
 * reqparse.h - HTTP/1.1 requests out of a byte stream, with the service's
 * limits. A thin layer over Debian's http-parser (nodejs http-parser
 * 2.9): it copies the URL and the few headers the service needs, streams
 * the body through a length count and a hash (nothing is buffered), and
 * stops at the end of each request so that pipelined requests are
 * answered one at a time, in order. No I/O: the connection code (http.c)
 * and the fuzzer (fuzz/fuzz_reqparse.c) feed it bytes.
 */
#ifndef DEMO_REQPARSE_H
#define DEMO_REQPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#define RP_HEADER_MAX (8 * 1024)	/* request line + headers: else 431 */
#define RP_BODY_MAX (1024 * 1024)	/* body: else 413 */
#define RP_URL_MAX RP_HEADER_MAX

enum rp_event {
	RP_MORE,	/* every byte consumed; feed more */
	RP_REQUEST,	/* a complete request: rp->req; then rp_next() */
	RP_ERROR,	/* rp->status (400, 413, 431, 505) and rp->error */
};

/* The request as the handlers see it. */
struct rp_request {
	int method;			/* enum http_method */
	unsigned short major, minor;	/* HTTP version */
	char url[RP_URL_MAX + 1];	/* NUL-terminated request target */
	size_t url_len;
	bool keep_alive;		/* the client allows another request */
	bool chunked;			/* the body came chunked */
	bool expect_continue;		/* "Expect: 100-continue" */
	bool has_host;
	uint64_t body_len;		/* body bytes (after de-chunking) */
	uint32_t body_fnv;		/* FNV-1a 32 of the body */
};

struct reqparser {
	http_parser p;
	struct rp_request req;
	size_t max_body;
	bool started;		/* a request's first byte has been seen */
	bool headers_done;	/* ... and its whole header */
	int status;		/* RP_ERROR: the status to answer */
	const char *error;	/* RP_ERROR: why, for the client */
	/* The header being read: only names and values that matter. */
	char hname[24];
	size_t hname_len;
	char hval[24];
	size_t hval_len;
	int hstate;		/* 0 none, 1 in a name, 2 in a value */
};

/* Once per process: the header limit is global to http-parser. */
void rp_global_init(void);
void rp_init(struct reqparser *rp, size_t max_body);
/*
 * Parse @len bytes of @data; *@used is set to the bytes consumed. Stops
 * after a complete request (RP_REQUEST: the rest is for the next one,
 * after rp_next) or an error (RP_ERROR: the connection must be closed
 * after the answer). RP_MORE: all was consumed.
 */
enum rp_event rp_feed(struct reqparser *rp, const char *data, size_t len,
		      size_t *used);
/* After RP_REQUEST: get ready for the next request on the connection. */
void rp_next(struct reqparser *rp);

#endif /* DEMO_REQPARSE_H */
