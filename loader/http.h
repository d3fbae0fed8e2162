/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The peer API's transport: a plain HTTP/1.0 GET (http:// only). Never prints. */
#ifndef WGXDP_HTTP_H
#define WGXDP_HTTP_H

/* GET base_url + "/" + suffix. *body is malloc'd, NUL-ended. 0 or -errno. */
int wgx_http_get(const char *base_url, const char *suffix, int timeout_ms, int *status,
		 char **body);
/* 0 if url is an http:// URL this client can use. */
int wgx_http_url_check(const char *url);

#endif /* WGXDP_HTTP_H */
