#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cs_metrics_server {
	struct MHD_Daemon *daemon;
	cs_metrics_render_fn render;
	void *ctx;
};

static void prom_printf(struct cs_prom *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->failed)
		return;
	for (;;) {
		size_t room = p->cap - p->len;

		va_start(ap, fmt);
		n = vsnprintf(p->buf ? p->buf + p->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			p->failed = 1;
			return;
		}
		if ((size_t)n < room) {
			p->len += (size_t)n;
			return;
		}
		size_t cap = p->cap ? p->cap * 2 : 16384;
		while (cap - p->len <= (size_t)n)
			cap *= 2;
		char *nb = realloc(p->buf, cap);
		if (!nb) {
			p->failed = 1;
			return;
		}
		p->buf = nb;
		p->cap = cap;
	}
}

void cs_prom_family(struct cs_prom *p, const char *name, enum cs_prom_type type, const char *help)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };

	prom_printf(p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, types[type]);
}

void cs_prom_sample(struct cs_prom *p, const char *name, const char *labels, double value)
{
	if (labels && *labels)
		prom_printf(p, "%s{%s} %.17g\n", name, labels, value);
	else
		prom_printf(p, "%s %.17g\n", name, value);
}

void cs_prom_histogram(struct cs_prom *p, const char *name, const char *help,
		       const double *upper_bounds, const uint64_t *bucket_counts, size_t n_buckets,
		       uint64_t count_over, double sum)
{
	uint64_t cumulative = 0;

	cs_prom_family(p, name, CS_PROM_HISTOGRAM, help);
	for (size_t i = 0; i < n_buckets; i++) {
		cumulative += bucket_counts[i];
		prom_printf(p, "%s_bucket{le=\"%g\"} %llu\n", name, upper_bounds[i],
			    (unsigned long long)cumulative);
	}
	cumulative += count_over;
	prom_printf(p, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cumulative);
	prom_printf(p, "%s_sum %.17g\n%s_count %llu\n", name, sum, name,
		    (unsigned long long)cumulative);
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_ctx)
{
	struct cs_metrics_server *s = cls;
	struct MHD_Response *resp;
	struct cs_prom p = { 0 };
	unsigned status = MHD_HTTP_OK;
	enum MHD_Result ret;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return MHD_NO;
	if (strcmp(url, "/metrics")) {
		static const char hint[] = "clicksieve: metrics are at /metrics\n";
		status = MHD_HTTP_NOT_FOUND;
		resp = MHD_create_response_from_buffer(sizeof(hint) - 1, (void *)hint,
						       MHD_RESPMEM_PERSISTENT);
	} else {
		s->render(s->ctx, &p);
		if (p.failed) {
			free(p.buf);
			return MHD_NO;
		}
		resp = MHD_create_response_from_buffer(p.len, p.buf, MHD_RESPMEM_MUST_FREE);
	}
	if (!resp) {
		free(p.buf);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, char *err, size_t errlen)
{
	char host[64] = "127.0.0.1";
	const char *port_text = listen;
	const char *colon = strrchr(listen, ':');
	char *end;

	if (colon) {
		size_t n = (size_t)(colon - listen);
		const char *h = listen;

		if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
			h++;
			n -= 2;
		}
		if (n == 0 || n >= sizeof(host))
			goto bad;
		memcpy(host, h, n);
		host[n] = '\0';
		port_text = colon + 1;
	}
	errno = 0;
	unsigned long port = strtoul(port_text, &end, 10);
	if (errno || *end || end == port_text || port == 0 || port > 65535)
		goto bad;

	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		return 0;
	}
bad:
	snprintf(err, errlen, "bad metrics address '%s' (want ADDR:PORT, [V6]:PORT or PORT)", listen);
	return -1;
}

struct cs_metrics_server *cs_metrics_start(const char *listen, cs_metrics_render_fn fn, void *ctx,
					   char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct cs_metrics_server *s;
	unsigned flags = MHD_USE_EPOLL;

	if (parse_listen(listen, &ss, err, errlen))
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->render = fn;
	s->ctx = ctx;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, answer, s,
				     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				     MHD_OPTION_CONNECTION_LIMIT, 32u,
				     MHD_OPTION_CONNECTION_TIMEOUT, 10u,
				     MHD_OPTION_END);
	if (!s->daemon) {
		snprintf(err, errlen, "cannot listen for metrics on %s: %s", listen,
			 errno ? strerror(errno) : "libmicrohttpd failed");
		free(s);
		return NULL;
	}
	return s;
}

int cs_metrics_fd(const struct cs_metrics_server *s)
{
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD);

	return info ? info->epoll_fd : -1;
}

void cs_metrics_run(struct cs_metrics_server *s)
{
	MHD_run(s->daemon);
}

void cs_metrics_stop(struct cs_metrics_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->daemon);
	free(s);
}
