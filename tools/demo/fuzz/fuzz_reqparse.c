// SPDX-License-Identifier: MIT
/*
 * fuzz_reqparse.c - libFuzzer target for the request parsing of
 * `demo serve` (reqparse.c over Debian's http-parser).
 *
 * Each input is parsed twice: in one piece, and cut into pieces at
 * places derived from the input itself (down to single bytes), as reads
 * from a socket would cut it. Both must give the same requests and the
 * same error: a parser that depends on how the bytes arrive is a bug
 * (and a request smuggling risk). Sanitizers catch the rest. Limits are
 * small here (a 64-byte body, a 300-byte header) so that the 413 and 431
 * paths are reached by short inputs.
 *
 *   make fuzz                  a longer run, new inputs in build/fuzz/
 *   build/fuzz/fuzz_reqparse tools/demo/fuzz/corpus   the regressions
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../reqparse.h"

#define MAX_BODY 64
#define MAX_EVENTS 64

struct event {
	int kind;		/* enum rp_event */
	int method, status;
	unsigned short major, minor;
	bool keep_alive, chunked, expect;
	uint64_t body_len;
	uint32_t fnv;
	uint32_t url_hash;
	size_t url_len;
};

struct trace {
	struct event ev[MAX_EVENTS];
	int n;
	bool started, headers_done;	/* at the end of the input */
};

static uint32_t hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static void record(struct trace *t, struct reqparser *rp, enum rp_event ev)
{
	struct event *e;

	if (t->n == MAX_EVENTS)
		return;
	e = &t->ev[t->n++];
	memset(e, 0, sizeof(*e));
	e->kind = ev;
	if (ev == RP_ERROR) {
		/*
		 * Which error is not compared, only that there is one: a
		 * header both malformed and too long is 400 or 431 depending
		 * on whether the limit or the bad byte arrives first (found
		 * by this fuzzer; corpus/regress-400-or-431).
		 */
		if (rp->status != 400 && rp->status != 413 &&
		    rp->status != 431 && rp->status != 505)
			abort();	/* a status the server never answers */
		if (!rp->error)
			abort();
		return;
	}
	/* The URL is NUL-terminated and within its buffer. */
	if (rp->req.url_len > RP_URL_MAX || rp->req.url[rp->req.url_len])
		abort();
	if (rp->req.body_len > MAX_BODY)
		abort();
	e->method = rp->req.method;
	e->major = rp->req.major;
	e->minor = rp->req.minor;
	e->keep_alive = rp->req.keep_alive;
	e->chunked = rp->req.chunked;
	e->expect = rp->req.expect_continue;
	e->body_len = rp->req.body_len;
	e->fnv = rp->req.body_fnv;
	e->url_len = rp->req.url_len;
	e->url_hash = hash(rp->req.url, rp->req.url_len);
}

/*
 * Parse @data fed in pieces: @cut(i) gives the size of the next piece,
 * as the connection code feeds what each read returned.
 */
static void parse(const uint8_t *data, size_t size, struct trace *t,
		  size_t (*cut)(const uint8_t *, size_t, size_t))
{
	static struct reqparser rp;
	size_t off = 0, end, used;
	enum rp_event ev;

	memset(t, 0, sizeof(*t));
	rp_init(&rp, MAX_BODY);
	while (off < size) {
		end = off + cut(data, size, off);
		if (end > size || end <= off)
			end = size;
		while (off < end) {
			ev = rp_feed(&rp, (const char *)data + off, end - off,
				     &used);
			if (used > end - off)
				abort();
			off += used;
			if (ev == RP_MORE) {
				if (off != end)
					abort(); /* MORE: all used */
				break;
			}
			record(t, &rp, ev);
			if (ev == RP_ERROR)
				goto out;
			rp_next(&rp);
		}
	}
out:
	t->started = rp.started;
	t->headers_done = rp.headers_done;
}

static size_t whole(const uint8_t *d, size_t size, size_t off)
{
	return size - off;
}

/* Pieces of 1 to 16 bytes, chosen by the input's own bytes. */
static size_t pieces(const uint8_t *d, size_t size, size_t off)
{
	return 1 + (d[(off * 7 + 3) % size] & 15);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct trace a, b;
	int i;

	if (!size)
		return 0;
	/* A small header limit (the server's is 8 KiB): 431 within reach. */
	http_parser_set_max_header_size(300);
	parse(data, size, &a, whole);
	parse(data, size, &b, pieces);
	if (a.n != b.n)
		goto differ;
	for (i = 0; i < a.n; i++)
		if (memcmp(&a.ev[i], &b.ev[i], sizeof(a.ev[i])))
			goto differ;
	return 0;
differ:
	fprintf(stderr, "fuzz_reqparse: the same bytes parse differently when cut into pieces (%d vs %d events)\n",
		a.n, b.n);
	for (i = 0; i < a.n || i < b.n; i++)
		fprintf(stderr, "  %d: kind %d/%d status %d/%d url %zu/%zu body %llu/%llu\n",
			i, a.ev[i].kind, b.ev[i].kind, a.ev[i].status,
			b.ev[i].status, a.ev[i].url_len, b.ev[i].url_len,
			(unsigned long long)a.ev[i].body_len,
			(unsigned long long)b.ev[i].body_len);
	abort();
}
