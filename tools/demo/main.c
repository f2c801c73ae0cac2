// SPDX-License-Identifier: MIT
/*
 * demo - Go's concurrency patterns as an HTTP microservice on libgreen.
 *
 *   demo tour                  what `make demo` runs: the service started
 *                              in-process, each endpoint called and
 *                              explained, a stats summary
 *   demo serve [options]       the service, until SIGINT or SIGTERM
 *   demo patterns [NAME]       one pattern at a time, on the console
 *
 * The service is in http.c (connections) and handlers.c (routes); each
 * pattern has its own file. tools/demo/README.md explains each pattern
 * next to its Go equivalent (tools/demo/go/main.go is the same service
 * in Go).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "demo.h"
#include "handlers.h"
#include "http.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: demo tour\n"
		"       demo serve [--listen HOST:PORT] [--procs N] [--log]\n"
		"                  [--header-timeout-ms MS] [--idle-timeout-ms MS]\n"
		"                  [--drain-ms MS] [--rate N] [--burst N]\n"
		"       demo patterns [NAME]     (no NAME: the list)\n"
		"\n"
		"serve: an HTTP/1.1 service, a task per connection, on\n"
		"127.0.0.1:8080 by default (port 0: any free port, printed).\n"
		"Endpoints: / /fanout /pipeline /pool /ratelimit /sleep /cancel\n"
		"/stats /metrics /echo; see tools/demo/README.md.\n"
		"SIGINT or SIGTERM: stop accepting, finish the requests in\n"
		"flight (at most --drain-ms, default 5000; a second signal\n"
		"cancels them at once), exit 0.\n");
}

struct serve_args {
	struct server_config cfg;
	int sfd;		/* signalfd for SIGINT and SIGTERM */
	int ret;
	struct server *srv;
	green_wg_t wg;		/* the second-signal task */
};

/* During the drain, a second signal cancels what is still running. */
static void second_signal(void *arg)
{
	struct serve_args *a = arg;
	struct signalfd_siginfo si;

	if (green_read(a->sfd, &si, sizeof(si)) == sizeof(si)) {
		printf("demo: %s again: cancelling the requests in flight\n",
		       strsignal(si.ssi_signo));
		server_force(a->srv);
	}
	green_wg_done(&a->wg);
}

static void serve_main(void *arg)
{
	struct serve_args *a = arg;
	struct green_stats st = { .size = sizeof(st) };
	struct signalfd_siginfo si;
	struct server srv;
	char host[INET_ADDRSTRLEN];
	ssize_t n;
	int forced;

	a->ret = 1;
	if (server_start(&srv, &a->cfg))
		return;
	a->srv = &srv;
	green_stats(&st, NULL, 0);
	inet_ntop(AF_INET, &srv.addr.sin_addr, host, sizeof(host));
	printf("demo: listening on http://%s:%d (%u processors, poller %s, parker %s); pid %d\n",
	       host, ntohs(srv.addr.sin_port), st.nprocs, st.poller,
	       st.parker, getpid());
	fflush(stdout);
	/* A signal is a read on the signalfd: the task parks until then. */
	n = green_read(a->sfd, &si, sizeof(si));
	printf("demo: %s: shutting down (in-flight requests get up to %d ms;\n"
	       "      signal again to cancel them now)\n",
	       n == sizeof(si) ? strsignal(si.ssi_signo) : "signalfd failed",
	       a->cfg.drain_ms);
	fflush(stdout);
	green_wg_init(&a->wg);
	green_wg_add(&a->wg, 1);
	if (green_go(second_signal, a))
		green_wg_done(&a->wg);
	forced = server_shutdown(&srv);
	green_close(a->sfd);	/* ends second_signal's read: -EBADF */
	a->sfd = -1;
	green_wg_wait(&a->wg);
	printf("demo: stopped%s: %llu requests on %llu connections\n",
	       forced ? " (requests still running were cancelled)" :
	       " cleanly",
	       (unsigned long long)srv.requests,
	       (unsigned long long)srv.conns_total);
	fflush(stdout);
	a->ret = 0;
}

static int positive(const char *opt, const char *v, long max)
{
	char *end;
	long n = strtol(v, &end, 10);

	if (*end || end == v || n < 1 || n > max) {
		fprintf(stderr, "demo: %s: want a number in [1, %ld]\n", opt,
			max);
		exit(2);
	}
	return n;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "procs", required_argument, NULL, 'p' },
		{ "header-timeout-ms", required_argument, NULL, 'H' },
		{ "idle-timeout-ms", required_argument, NULL, 'I' },
		{ "drain-ms", required_argument, NULL, 'D' },
		{ "rate", required_argument, NULL, 'r' },
		{ "burst", required_argument, NULL, 'b' },
		{ "log", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct serve_args a = { .ret = 1 };
	int rate = 100, burst = 20;
	sigset_t mask;
	int c, ret;

	server_config_default(&a.cfg);
	while ((c = getopt_long(argc, argv, "l:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			a.cfg.listen = optarg;
			break;
		case 'p':
			positive("--procs", optarg, GREEN_MAX_PROCS);
			setenv("GREEN_PROCS", optarg, 1);
			break;
		case 'H':
			a.cfg.header_timeout_ms = positive(optarg, optarg,
							   3600000);
			break;
		case 'I':
			a.cfg.idle_timeout_ms = positive(optarg, optarg,
							 3600000);
			break;
		case 'D':
			a.cfg.drain_ms = positive(optarg, optarg, 3600000);
			break;
		case 'r':
			rate = positive("--rate", optarg, 1000000);
			break;
		case 'b':
			burst = positive("--burst", optarg, 1000000);
			break;
		case 'L':
			a.cfg.access_log = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	ratelimit_configure(rate, burst);
	/*
	 * Block the signals in this thread before green_run starts the
	 * workers (they inherit the mask), so that they arrive only through
	 * the signalfd, which a task reads like any other file.
	 */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	a.sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (a.sfd < 0) {
		perror("demo: signalfd");
		return 1;
	}
	ret = green_run(serve_main, &a);
	if (a.sfd >= 0)
		close(a.sfd);
	if (ret) {
		fprintf(stderr, "demo: green_run: %s\n", strerror(-ret));
		return 1;
	}
	return a.ret;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);	/* a peer that left is -EPIPE */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || !strcmp(argv[1], "tour"))
		return cmd_tour(argc - 1, argv + 1);
	if (!strcmp(argv[1], "serve"))
		return cmd_serve(argc - 1, argv + 1);
	if (!strcmp(argv[1], "patterns"))
		return cmd_patterns(argc - 1, argv + 1);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
