/* SPDX-License-Identifier: MIT */
/*
 * handlers.h - the service's endpoints, one pattern each, and what they
 * share: the route table, query parameters, error answers. Each pattern
 * lives in its own file (fanout.c, pipeline.c, pool.c, ratelimit.c,
 * sleep.c, cancel.c, stats.c); patterns.c runs the same code from the
 * console.
 */
#ifndef DEMO_HANDLERS_H
#define DEMO_HANDLERS_H

#include <stdbool.h>
#include <stdint.h>

#include "http.h"
#include "json.h"

enum ep {
	EP_OTHER,	/* no such path, or no request (400, 431, ...) */
	EP_ROOT,
	EP_FANOUT,
	EP_PIPELINE,
	EP_POOL,
	EP_RATELIMIT,
	EP_SLEEP,
	EP_CANCEL,
	EP_STATS,
	EP_METRICS,
	EP_ECHO,
	EP_COUNT
};

/* The path of each endpoint, "other" for EP_OTHER (metrics labels). */
extern const char *const ep_name[EP_COUNT];

/* The endpoint serving @path (EP_OTHER: none). */
int route_lookup(const char *path);
/* Whether @ep answers without waiting (so pipelined answers can wait). */
bool route_fast(int ep);
/* Serve @req with endpoint @ep: 404, 405 or the handler's answer. */
void route_serve(int ep, struct http_req *req, struct http_resp *resp);

/* Start and stop what endpoints keep between requests (pool, bucket). */
int handlers_start(struct server *s);
void handlers_stop(struct server *s);
int pool_service_start(void);
void pool_service_stop(void);
/* The service's token bucket: @rate_per_s, @burst (before start). */
void ratelimit_configure(int rate_per_s, int burst);
int ratelimit_service_start(void);
void ratelimit_service_stop(void);

/*
 * query_long() - the integer query parameter @name of @req in
 * [@min, @max], @def when absent. On a bad value answers 400 in @resp
 * and returns -EINVAL.
 */
int query_long(const struct http_req *req, struct http_resp *resp,
	       const char *name, long def, long min, long max, long *out);
/* Answer @status with {"error": @msg, "status": @status}. */
void resp_error(struct http_resp *resp, int status, const char *msg);
/* Start a JSON object answer (status 200 unless set). */
void resp_json(struct http_resp *resp, struct json *j);
/* The end of a JSON answer started with resp_json(). */
void resp_json_end(struct json *j);

/* The endpoints. */
void ep_root(struct http_req *req, struct http_resp *resp);
void ep_echo(struct http_req *req, struct http_resp *resp);
void ep_fanout(struct http_req *req, struct http_resp *resp);
void ep_pipeline(struct http_req *req, struct http_resp *resp);
void ep_pool(struct http_req *req, struct http_resp *resp);
void ep_ratelimit(struct http_req *req, struct http_resp *resp);
void ep_sleep(struct http_req *req, struct http_resp *resp);
void ep_cancel(struct http_req *req, struct http_resp *resp);
void ep_stats(struct http_req *req, struct http_resp *resp);
void ep_metrics(struct http_req *req, struct http_resp *resp);

/* Milliseconds between two green_now() readings, as a double. */
static inline double ms_since(int64_t t0, int64_t t1)
{
	return (double)(t1 - t0) / 1e6;
}

#endif /* DEMO_HANDLERS_H */
