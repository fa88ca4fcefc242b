/* Prometheus exposition: text format and the in-loop HTTP server. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "metrics.h"

static void render(void *ctx, struct cs_prom *p)
{
	static const double bounds[] = { 0.5, 2 };
	static const uint64_t counts[] = { 1, 2 };
	int *scrapes = ctx;

	(*scrapes)++;
	cs_prom_family(p, "clicksieve_clicks_total", CS_PROM_COUNTER, "Clicks by verdict.");
	cs_prom_sample(p, "clicksieve_clicks_total", "verdict=\"human\"", 3);
	cs_prom_sample(p, "clicksieve_clicks_total", "verdict=\"machine\"", 12345678901.0);
	cs_prom_histogram(p, "clicksieve_verdict_delay_seconds", "Delay.", bounds, counts, 2, 4, 9.5);
}

static const char expected[] =
	"# HELP clicksieve_clicks_total Clicks by verdict.\n"
	"# TYPE clicksieve_clicks_total counter\n"
	"clicksieve_clicks_total{verdict=\"human\"} 3\n"
	"clicksieve_clicks_total{verdict=\"machine\"} 12345678901\n"
	"# HELP clicksieve_verdict_delay_seconds Delay.\n"
	"# TYPE clicksieve_verdict_delay_seconds histogram\n"
	"clicksieve_verdict_delay_seconds_bucket{le=\"0.5\"} 1\n"
	"clicksieve_verdict_delay_seconds_bucket{le=\"2\"} 3\n"
	"clicksieve_verdict_delay_seconds_bucket{le=\"+Inf\"} 7\n"
	"clicksieve_verdict_delay_seconds_sum 9.5\n"
	"clicksieve_verdict_delay_seconds_count 7\n";

static void test_text_format(void **state)
{
	struct cs_prom p = { 0 };
	int scrapes = 0;

	render(&scrapes, &p);
	assert_false(p.failed);
	assert_int_equal(p.len, strlen(expected));
	assert_memory_equal(p.buf, expected, p.len);
	free(p.buf);
}

/* Fetches path over loopback while driving the server from this thread. */
static char *fetch(struct cs_metrics_server *s, int port, const char *path)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	static char resp[65536];
	char req[256];
	size_t got = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	for (int i = 0; i < 200; i++) {
		struct pollfd pfd = { .fd = cs_metrics_fd(s), .events = POLLIN };

		poll(&pfd, 1, 10);
		cs_metrics_run(s);
		ssize_t n = read(fd, resp + got, sizeof(resp) - 1 - got);
		if (n == 0)
			break;
		if (n > 0)
			got += (size_t)n;
	}
	close(fd);
	resp[got] = '\0';
	return resp;
}

static void test_server(void **state)
{
	char err[256], listen[64];
	int scrapes = 0;
	struct cs_metrics_server *s = NULL;
	int port;

	/* Find a free port by trying a few; the range avoids well-known services. */
	for (port = 39100 + getpid() % 1000; port < 41000 && !s; port++) {
		snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
		s = cs_metrics_start(listen, render, &scrapes, err, sizeof(err));
	}
	assert_non_null(s);
	port--;
	assert_true(cs_metrics_fd(s) >= 0);

	char *r = fetch(s, port, "/metrics");
	assert_non_null(strstr(r, "HTTP/1.1 200"));
	assert_non_null(strstr(r, "text/plain; version=0.0.4"));
	assert_non_null(strstr(r, expected));
	assert_int_equal(scrapes, 1);

	r = fetch(s, port, "/other");
	assert_non_null(strstr(r, "HTTP/1.1 404"));
	assert_int_equal(scrapes, 1);
	cs_metrics_stop(s);
}

static void test_bad_listen(void **state)
{
	static const char *const bad[] = { "", "abc", "127.0.0.1:", "127.0.0.1:0",
					   "127.0.0.1:70000", "nohost:80", "[::1]:x" };
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_null(cs_metrics_start(bad[i], render, NULL, err, sizeof(err)));
		assert_non_null(strstr(err, "bad metrics address"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_format),
		cmocka_unit_test(test_server),
		cmocka_unit_test(test_bad_listen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
