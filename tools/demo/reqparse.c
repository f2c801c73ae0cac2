// SPDX-License-Identifier: MIT
/*
 * reqparse.c - requests out of a byte stream (reqparse.h) with
 * http-parser's callbacks.
 *
 * http-parser calls back with pieces of the URL, header names and values
 * as they arrive, possibly split across reads: pieces are appended. The
 * parser pauses itself at the end of a message (http_parser_pause), which
 * makes http_parser_execute() return there: the bytes after it are the
 * next pipelined request and stay unparsed until the caller has answered
 * this one.
 */
#include <string.h>
#include <strings.h>

#include "reqparse.h"

#define FNV_OFFSET 2166136261u
#define FNV_PRIME 16777619u

static struct reqparser *rp_of(http_parser *p)
{
	return p->data;
}

static int fail(struct reqparser *rp, int status, const char *why)
{
	rp->status = status;
	rp->error = why;
	return -1;
}

static void append(char *dst, size_t *len, size_t cap, const char *at,
		   size_t n)
{
	size_t room = cap - 1 - *len;

	if (n > room)
		n = room;
	memcpy(dst + *len, at, n);
	*len += n;
	dst[*len] = '\0';
}

static bool is(const char *s, size_t len, const char *lit)
{
	return len == strlen(lit) && !strncasecmp(s, lit, len);
}

/* A header name and value are complete: note the ones that matter. */
static void header_done(struct reqparser *rp)
{
	if (is(rp->hname, rp->hname_len, "expect") &&
	    is(rp->hval, rp->hval_len, "100-continue"))
		rp->req.expect_continue = true;
	else if (is(rp->hname, rp->hname_len, "host"))
		rp->req.has_host = true;
	rp->hname_len = rp->hval_len = 0;
	rp->hstate = 0;
}

static int on_message_begin(http_parser *p)
{
	struct reqparser *rp = rp_of(p);

	rp->req.method = 0;
	rp->req.major = rp->req.minor = 0;
	rp->req.url[0] = '\0';
	rp->req.url_len = 0;
	rp->req.keep_alive = false;
	rp->req.chunked = false;
	rp->req.expect_continue = false;
	rp->req.has_host = false;
	rp->req.body_len = 0;
	rp->req.body_fnv = FNV_OFFSET;
	rp->started = true;
	rp->headers_done = false;
	rp->hname_len = rp->hval_len = 0;
	rp->hstate = 0;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct reqparser *rp = rp_of(p);

	if (n > RP_URL_MAX - rp->req.url_len)
		return fail(rp, 431, "request line too long");
	memcpy(rp->req.url + rp->req.url_len, at, n);
	rp->req.url_len += n;
	rp->req.url[rp->req.url_len] = '\0';
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
	struct reqparser *rp = rp_of(p);

	if (rp->hstate == 2)
		header_done(rp);
	rp->hstate = 1;
	append(rp->hname, &rp->hname_len, sizeof(rp->hname), at, n);
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	struct reqparser *rp = rp_of(p);

	rp->hstate = 2;
	append(rp->hval, &rp->hval_len, sizeof(rp->hval), at, n);
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct reqparser *rp = rp_of(p);

	if (rp->hstate == 2)
		header_done(rp);
	rp->headers_done = true;
	rp->req.method = p->method;
	rp->req.major = p->http_major;
	rp->req.minor = p->http_minor;
	rp->req.chunked = p->flags & F_CHUNKED;
	if (p->http_major != 1)
		return fail(rp, 505, "only HTTP/1.x is served");
	if (p->http_minor >= 1 && !rp->req.has_host)
		return fail(rp, 400, "missing required Host header");
	if (!rp->req.chunked && p->content_length != (uint64_t)-1 &&
	    p->content_length > rp->max_body)
		return fail(rp, 413, "request body too large");
	if (rp->req.url_len == 0 || rp->req.url[0] != '/')
		return fail(rp, 400, "request target must be a path");
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct reqparser *rp = rp_of(p);
	uint32_t h = rp->req.body_fnv;
	size_t i;

	rp->req.body_len += n;
	if (rp->req.body_len > rp->max_body)
		return fail(rp, 413, "request body too large");
	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)at[i]) * FNV_PRIME;
	rp->req.body_fnv = h;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct reqparser *rp = rp_of(p);

	/* An Upgrade or CONNECT is not served: answer, then close. */
	rp->req.keep_alive = http_should_keep_alive(p) && !p->upgrade;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

void rp_global_init(void)
{
	http_parser_set_max_header_size(RP_HEADER_MAX);
}

/* Field by field: the URL buffer is left untouched until used. */
void rp_init(struct reqparser *rp, size_t max_body)
{
	http_parser_init(&rp->p, HTTP_REQUEST);
	rp->p.data = rp;
	rp->max_body = max_body;
	rp->started = rp->headers_done = false;
	rp->status = 0;
	rp->error = NULL;
	rp->hname_len = rp->hval_len = 0;
	rp->hstate = 0;
	on_message_begin(&rp->p);
	rp->started = false;
}

enum rp_event rp_feed(struct reqparser *rp, const char *data, size_t len,
		      size_t *used)
{
	enum http_errno err;
	size_t n;

	*used = 0;
	if (rp->status)
		return RP_ERROR;
	if (!len)
		return RP_MORE;
	n = http_parser_execute(&rp->p, &settings, data, len);
	*used = n;
	err = HTTP_PARSER_ERRNO(&rp->p);
	if (err == HPE_PAUSED)
		return RP_REQUEST;
	if (err == HPE_OK) {
		/*
		 * An upgrade stops the parser short without an error; the
		 * request was complete (on_message_complete ran and paused
		 * it, so this is not reached for it): treat it as bad.
		 */
		if (n < len)
			return fail(rp, 400, "unexpected data"), RP_ERROR;
		return RP_MORE;
	}
	if (!rp->status) {
		if (err == HPE_HEADER_OVERFLOW)
			fail(rp, 431, "request header too large");
		else
			fail(rp, 400, http_errno_description(err));
	}
	return RP_ERROR;
}

void rp_next(struct reqparser *rp)
{
	rp->started = false;
	rp->headers_done = false;
	/*
	 * http-parser counts a chunked request's trailer bytes against the
	 * header limit and, when the trailer's end came in a later read than
	 * its start, does not zero the count at the end of the message: the
	 * next request would then start with them counted and get a 431
	 * that the same bytes read at once do not (found by the fuzzer;
	 * corpus/regress-trailer-count). Each request starts from zero.
	 */
	rp->p.nread = 0;
	http_parser_pause(&rp->p, 0);
}
