/* SPDX-License-Identifier: MIT */
/*
 * http.h - the HTTP/1.1 server: one task accepts, one task per
 * connection reads, parses (reqparse.h) and answers its requests in order,
 * with keep-alive and pipelining, deadlines on every read and write, and
 * a graceful shutdown. What each path answers is handlers.c's business.
 */
#ifndef DEMO_HTTP_H
#define DEMO_HTTP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "green.h"

#define MS (1000000LL)		/* nanoseconds in a millisecond */

struct server_config {
	const char *listen;		/* "host:port"; port 0 picks one */
	int header_timeout_ms;		/* first byte to end of header */
	int body_timeout_ms;		/* end of header to end of body */
	int idle_timeout_ms;		/* keep-alive: between requests */
	int write_timeout_ms;		/* each response */
	int drain_ms;			/* shutdown: in-flight requests */
	int backlog;
	bool access_log;		/* a line per request on stderr */
	bool quiet;			/* no log at all (the tour) */
};

/* Defaults: 5 s header, 10 s body, 60 s idle, 10 s write, 5 s drain. */
void server_config_default(struct server_config *cfg);

struct server {
	struct server_config cfg;
	int lfd;				/* listening socket */
	struct sockaddr_in addr;		/* where it listens */
	green_ctx_t *hard;	/* every connection: cancelled at the bound */
	green_ctx_t *idle;	/* waits between requests: at shutdown */
	uint64_t live;		/* the acceptor and connection tasks */
	bool draining;		/* shutdown has begun (atomic) */
	int64_t started;	/* green_now() at server_start */
	/* Counters, updated atomically. */
	uint64_t conns_open, conns_total;
	uint64_t requests, in_flight;
	uint64_t header_timeouts;	/* slow clients cut off (408) */
	uint64_t idle_closed;		/* idle keep-alive timeouts */
	uint64_t client_gone;		/* /cancel: work cancelled */
	uint64_t drained_at_shutdown;	/* idle ones shutdown closed */
};

/* A request as a handler sees it. */
struct http_req {
	struct server *srv;
	int fd;				/* the connection (/cancel) */
	int method;			/* enum http_method */
	bool head;			/* HEAD: the body is not sent */
	const char *path;		/* NUL-terminated, without the query */
	const char *query;		/* after '?' (not decoded), or "" */
	uint64_t body_len;
	uint32_t body_fnv;
	bool chunked;
	uint64_t conn_id;		/* 1, 2, ... in accept order */
	unsigned int seq;		/* 1: the connection's first */
	int64_t start;			/* green_now() once parsed */
};

/* What a handler answers: status, JSON in body, extra header lines. */
struct http_resp {
	int status;
	struct buf *body;
	const char *ctype;		/* NULL: application/json */
	char headers[192];		/* extra lines, each ending "\r\n" */
	bool close;			/* close the connection afterwards */
	bool client_gone;		/* nothing to send: the client left */
};

/*
 * server_start() - listen on cfg->listen and start the acceptor task.
 * Called from a task. Returns 0 or -errno (with a message on stderr).
 */
int server_start(struct server *s, const struct server_config *cfg);

/*
 * server_shutdown() - stop accepting, close idle connections, let the
 * requests in flight finish within cfg->drain_ms, then cancel what is
 * left. Called from a task; returns 0 when every request finished, 1
 * when they were cancelled (at the bound, or by server_force()).
 */
int server_shutdown(struct server *s);

/*
 * server_force() - cancel every request still running now, as the drain
 * bound would (a second Ctrl-C). Callable while server_shutdown() waits.
 */
void server_force(struct server *s);

/* Append "Name: value\r\n" to the response's extra headers. */
void http_resp_header(struct http_resp *r, const char *name,
		      const char *value);

/* The reason phrase of @status ("OK", "Not Found", ...). */
const char *http_reason(int status);

#endif /* DEMO_HTTP_H */
