/* Verdict sinks: JSON lines (DESIGN §3). */
#ifndef CS_SINKS_H
#define CS_SINKS_H

#include <stdio.h>

#include "click.h"

/*
 * Reason bit indexes in alphabetical order of their names: records list
 * reasons in this order (as DESIGN §3's example does), so equal verdicts
 * print equal lines.
 */
extern const unsigned char cs_reasons_by_name[CS_R_COUNT];

/*
 * Writes one verdict record as a JSON line, keys in DESIGN order, reasons in
 * alphabetical order, file and line only when pos.file is set. Output
 * is always valid JSON: invalid UTF-8 bytes become \ufffd.
 */
void cs_sink_json_write(FILE *f, const struct cs_click *click, const struct cs_verdict *v);

/*
 * The same records, collected in a buffer of the sink's own and written to
 * f in large blocks: for many records in a row. Nothing reaches f before
 * cs_json_sink_flush() (which returns -1 when fwrite fails) or a full buffer.
 */
struct cs_json_sink;

struct cs_json_sink *cs_json_sink_new(FILE *f);
void cs_json_sink_write(struct cs_json_sink *s, const struct cs_click *click,
			const struct cs_verdict *v);
int cs_json_sink_flush(struct cs_json_sink *s);
/* Does not flush. */
void cs_json_sink_free(struct cs_json_sink *s);

#endif
