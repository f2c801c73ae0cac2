/* SPDX-License-Identifier: MIT */
/*
 * config.h - the runtime's configuration, read from GREEN_* variables.
 */
#ifndef GREEN_CONFIG_H
#define GREEN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "parker.h"
#include "poller.h"
#include "stack.h"

struct green_config {
	int nprocs;
	size_t stack_size;
	enum stack_guard_mode guard_mode;
	enum parker_choice parker;
	bool hold;			/* GREEN_HOLD: green.ko's held resume */
	enum poller_choice poller;
};

/*
 * Fill @cfg from the environment. Returns 0, or -EINVAL after printing a
 * one-line reason to stderr.
 */
int config_read(struct green_config *cfg);

#endif /* GREEN_CONFIG_H */
