/*
 * The INI configuration file (libinih), shared by `run`, `classify` and
 * `replay`. Every key is documented in data/clicksieve.conf.example.
 * Command-line options override what the file sets.
 *
 *   [track]     path, message_param, recipient_param, link_param, template
 *   [classify]  burst_window, multi_ip_window, double_click_window,
 *               reorder_window, idle_advance, v4_client_prefix,
 *               v6_client_prefix, max_pairs, honeypot (repeatable)
 *   [learn]     enabled, threshold, window, ttl, max_entries
 *   [ranges]    file (repeatable)
 *   [proxy]     trusted (repeatable CIDR)
 *   [log]       format
 *   [json]      <nginx variable> = <JSON key>, e.g. remote_addr = client
 *   [run]       interface, ports, xdp_mode, metrics, output
 */
#ifndef CS_CONFIG_H
#define CS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "learned.h"
#include "verdicts.h"

struct cs_track;

/* One [json] mapping: nginx variable name (without '$') -> JSON key. */
struct cs_config_json_key {
	char *var;
	char *key;
};

struct cs_config {
	/* [track]; NULL = default */
	char *track_path;
	char *track_message_param;
	char *track_recipient_param;
	char *track_link_param;
	char *track_template;           /* wins over the query form when set */

	/* [classify]; classifier defaults until set */
	struct cs_classifier_config classifier;
	uint64_t idle_advance_us;       /* classify --follow: idle time before event time moves */
	char **honeypots;               /* also pointed to by classifier.honeypot_links */
	size_t n_honeypots;

	/* [learn]; defaults until set (prefixes follow [classify]) */
	struct cs_learned_config learn;

	/* [ranges] */
	char **range_files;
	size_t n_range_files;

	/* [proxy] */
	char **trusted_proxies;         /* CIDR strings, checked when loading */
	size_t n_trusted_proxies;

	/* [log] and [json] */
	char *log_format;               /* NULL = combined */
	struct cs_config_json_key *json_keys;
	size_t n_json_keys;

	/* [run]; NULL / 0 = not set */
	char *run_interface;
	char *run_ports;
	char *run_xdp_mode;
	char *run_metrics;
	char *run_output;
};

/* Defaults: classifier defaults, nothing else set. */
void cs_config_init(struct cs_config *cfg);
void cs_config_free(struct cs_config *cfg);

/*
 * Reads an INI file on top of what cfg holds (repeatable keys append).
 * Unknown sections or keys and bad values are errors: returns -1 with
 * "FILE:LINE: reason" in err; returns -1 with "FILE: reason" when the file
 * cannot be read. cfg stays valid for cs_config_free() either way.
 */
int cs_config_load(struct cs_config *cfg, const char *path, char *err, size_t errlen);

/* Appends a honeypot link / trusted proxy / range file (copies the string). */
int cs_config_add_honeypot(struct cs_config *cfg, const char *link);
int cs_config_add_trusted_proxy(struct cs_config *cfg, const char *cidr);
int cs_config_add_range_file(struct cs_config *cfg, const char *path);

/* Builds the tracking-URL matcher the config describes (default if unset). */
struct cs_track *cs_config_track_new(const struct cs_config *cfg, char *err, size_t errlen);

/* Builds the trusted-proxy list; NULL with "CIDR: reason" in err on a bad entry. */
struct cs_proxies *cs_config_proxies_new(const struct cs_config *cfg, char *err, size_t errlen);

/*
 * Parses a duration: a number with unit us, ms, s, m, h or d ("2s", "500ms",
 * "10m", "1.5s", "7d"); a bare number means seconds. False on garbage/overflow.
 */
bool cs_parse_duration(const char *text, uint64_t *out_us);

#endif
