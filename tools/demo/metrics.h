/* SPDX-License-Identifier: MIT */
/*
 * metrics.h - request counters and latency histograms per endpoint, and
 * their Prometheus text exposition with the scheduler's gauges (/metrics).
 */
#ifndef DEMO_METRICS_H
#define DEMO_METRICS_H

#include <stdint.h>

#include "buf.h"
#include "http.h"

/* Count one answer of endpoint @ep (enum ep) with @status in @ns. */
void metrics_observe(int ep, int status, int64_t ns);
/* Requests answered so far by endpoint @ep with @status (the tour). */
uint64_t metrics_count(int ep, int status);
/* The Prometheus text format (version 0.0.4) of everything, into @b. */
void metrics_write(struct buf *b, struct server *s);

#endif /* DEMO_METRICS_H */
