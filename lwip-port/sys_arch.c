/* SPDX-License-Identifier: MIT */
/* sys_now() for NO_SYS lwIP: a monotonic clock, immune to wall-clock steps. */
#include <time.h>

#include <lwip/sys.h>

#include "lwip_port.h"

u32_t
lwip_port_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u32_t)((u64_t)ts.tv_sec * 1000u + (u64_t)ts.tv_nsec / 1000000u);
}

u32_t
sys_now(void)
{
	return lwip_port_now_ms();
}
