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

#endif
