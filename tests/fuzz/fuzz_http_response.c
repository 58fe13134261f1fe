/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the HTTP CONNECT response-head decoder: its length contract
 * (NEED_MORE, -EPROTO, -EMSGSIZE or a length within the input), that the head alone
 * gives the same answer and one byte less is incomplete, and the status table.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_proto.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_proto_response r1, r2;
	struct proxy_tcp_result res;
	uint8_t *copy;
	int r, again;

	/* An exact-size copy, so that ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	r = http_proto_decode_response(copy, size, &r1);
	FUZZ_CHECK(r == HTTP_PROTO_NEED_MORE || r == -EPROTO || r == -EMSGSIZE ||
		   (r > 0 && (size_t)r <= size && r <= HTTP_PROTO_MAX_RESPONSE));
	FUZZ_CHECK(r != -EMSGSIZE || size >= HTTP_PROTO_MAX_RESPONSE);
	if (r > 0) {
		FUZZ_CHECK(r1.status >= 100 && r1.status <= 599 && strlen(r1.reason) <= PROXY_TCP_REASON_MAX);
		again = http_proto_decode_response(copy, (size_t)r, &r2);
		FUZZ_CHECK(again == r && r2.status == r1.status && strcmp(r2.reason, r1.reason) == 0);
		FUZZ_CHECK(http_proto_decode_response(copy, (size_t)r - 1, &r2) == HTTP_PROTO_NEED_MORE);
		memset(&res, 0, sizeof(res));
		http_proto_classify(r1.status, &res);
		FUZZ_CHECK(res.http_status == r1.status && (res.failure == PROXY_TCP_OK) == (r1.status / 100 == 2));
		FUZZ_CHECK(res.failure == PROXY_TCP_OK ? res.err == 0 : res.err < 0);
	}
	free(copy);
	return 0;
}
