/* SPDX-License-Identifier: MIT */
/*
 * demo.h - the commands of build/tools/demo (main.c dispatches).
 */
#ifndef DEMO_DEMO_H
#define DEMO_DEMO_H

/* `demo serve [options]`: the HTTP service until SIGINT/SIGTERM. */
int cmd_serve(int argc, char **argv);
/* `demo tour`: the service in-process, every endpoint explained. */
int cmd_tour(int argc, char **argv);
/* `demo patterns [NAME]`: one pattern as a console walk-through. */
int cmd_patterns(int argc, char **argv);

#endif /* DEMO_DEMO_H */
