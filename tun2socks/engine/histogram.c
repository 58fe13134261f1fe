/* SPDX-License-Identifier: MIT */
/* The bucket bounds every histogram of the engine uses (histogram.h). */
#include "histogram.h"

const double histogram_latency[HISTOGRAM_LATENCY_N] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
						       0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
const double histogram_duration[HISTOGRAM_DURATION_N] = {0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200};
