/* Verdict sinks: JSON lines (DESIGN §3). */
#ifndef CS_SINKS_H
#define CS_SINKS_H

#include <stdio.h>

#include "click.h"

/*
 * Writes one verdict record as a JSON line, keys in DESIGN order, reasons in
 * bit (vocabulary) order, file and line only when pos.file is set. Output
 * is always valid JSON: invalid UTF-8 bytes become \ufffd.
 */
void cs_sink_json_write(FILE *f, const struct cs_click *click, const struct cs_verdict *v);

#endif
