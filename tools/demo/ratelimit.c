// SPDX-License-Identifier: MIT
/*
 * ratelimit.c - a token bucket shared by every connection, and
 * GET /ratelimit.
 *
 * The Go shape (the "bursty limiter" of Go by Example):
 *
 *	tokens := make(chan struct{}, burst)     // the bucket
 *	for i := 0; i < burst; i++ { tokens <- struct{}{} }
 *	go func() {
 *		for range time.Tick(time.Second / rate) {
 *			select {
 *			case tokens <- struct{}{}:       // one more token
 *			default:                         // bucket full
 *			}
 *		}
 *	}()
 *	// per request:
 *	select {
 *	case <-tokens:                           // allowed
 *	default:                                 // over the rate: 429
 *	}
 *
 * The bucket is a buffered channel of empty elements, so taking a token
 * is one non-blocking receive, safe from any task on any processor with
 * no lock of our own; a ticker task puts tokens back at the rate.
 */
#include <errno.h>
#include <stdlib.h>

#include "handlers.h"
#include "patterns.h"

struct bucket {
	green_chan_t *tokens;		/* element size 0, cap burst */
	green_chan_t *quit;		/* closed by bucket_free */
	green_ticker_t *ticker;
	green_wg_t wg;			/* the refill task */
	int rate, burst;
};

static void refill(void *arg)
{
	struct bucket *b = arg;
	struct green_select_case cases[2] = {
		{ .op = GREEN_SELECT_RECV,
		  .chan = green_ticker_chan(b->ticker) },
		{ .op = GREEN_SELECT_RECV, .chan = b->quit },
	};

	while (green_select(cases, 2, 0, 0) == 0)
		green_chan_try_send(b->tokens, NULL);	/* full: dropped */
	green_wg_done(&b->wg);
}

struct bucket *bucket_make(int rate_per_s, int burst)
{
	struct bucket *b;
	int i;

	if (rate_per_s < 1 || rate_per_s > 1000000 || burst < 1)
		return NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->rate = rate_per_s;
	b->burst = burst;
	green_wg_init(&b->wg);
	b->tokens = green_chan_make(0, burst);
	b->quit = green_chan_make(0, 0);
	b->ticker = green_ticker_make(1000000000LL / rate_per_s);
	if (!b->tokens || !b->quit || !b->ticker)
		goto fail;
	for (i = 0; i < burst; i++)
		green_chan_try_send(b->tokens, NULL);
	green_wg_add(&b->wg, 1);
	if (green_go(refill, b)) {
		green_wg_done(&b->wg);
		goto fail;
	}
	return b;
fail:
	green_ticker_free(b->ticker);
	green_chan_free(b->quit);
	green_chan_free(b->tokens);
	free(b);
	return NULL;
}

int bucket_take(struct bucket *b)
{
	return green_chan_try_recv(b->tokens, NULL) ? -EAGAIN : 0;
}

int bucket_tokens(const struct bucket *b)
{
	return green_chan_len(b->tokens);
}

int bucket_rate(const struct bucket *b)
{
	return b->rate;
}

int bucket_burst(const struct bucket *b)
{
	return b->burst;
}

void bucket_free(struct bucket *b)
{
	if (!b)
		return;
	green_chan_close(b->quit);
	green_wg_wait(&b->wg);
	green_ticker_free(b->ticker);
	green_chan_free(b->quit);
	green_chan_free(b->tokens);
	free(b);
}

static struct bucket *service_bucket;
static int service_rate = 100, service_burst = 20;

void ratelimit_configure(int rate_per_s, int burst)
{
	service_rate = rate_per_s;
	service_burst = burst;
}

int ratelimit_service_start(void)
{
	service_bucket = bucket_make(service_rate, service_burst);
	return service_bucket ? 0 : -ENOMEM;
}

void ratelimit_service_stop(void)
{
	bucket_free(service_bucket);
	service_bucket = NULL;
}

/* GET /ratelimit */
void ep_ratelimit(struct http_req *req, struct http_resp *resp)
{
	struct bucket *b = service_bucket;
	bool allowed = bucket_take(b) == 0;
	struct json j;

	if (!allowed) {
		resp->status = 429;
		/* Retry-After counts whole seconds: 1/rate, rounded up. */
		http_resp_header(resp, "Retry-After", "1");
	}
	resp_json(resp, &j);
	json_bool(&j, "allowed", allowed);
	json_int(&j, "tokens_left", bucket_tokens(b));
	json_int(&j, "rate_per_s", bucket_rate(b));
	json_int(&j, "burst", bucket_burst(b));
	resp_json_end(&j);
}
