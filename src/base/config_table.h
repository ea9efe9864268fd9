/*
 * base/config_table.h - the table of settings as config.c and settings.c share
 * it: the row type, the rows (config.c), and helpers on a row's value in a
 * dtxi_env. Private to base/: everything else goes through base/config.h.
 */
#ifndef DTXI_CONFIG_TABLE_H
#define DTXI_CONFIG_TABLE_H

#include <stddef.h>
#include <string.h>

#include "base/config.h"

/* DTXI_KIND_STRING: any non-empty text. DTXI_KIND_SIZE: a size or percentage for
 * dtxi_parse_size, more than zero, or "none" where the row allows it. */
typedef enum dtxi_kind {
  DTXI_KIND_ENUM,
  DTXI_KIND_INT,
  DTXI_KIND_REAL,
  DTXI_KIND_STRING,
  DTXI_KIND_SIZE
} dtxi_kind;

typedef struct dtxi_word {
  const char *text;
  int value;
  const char *cname; /* the enum constant, for messages about config fields */
} dtxi_word;         /* lists end with {NULL, 0, NULL} */

typedef struct dtxi_row {
  const char *name;
  dtxi_kind kind;
  const char *def;   /* the default as shown to users: a word, a number, "cores", "stderr" */
  int def_value;     /* DTXI_KIND_ENUM, DTXI_KIND_INT: the value stored when unset or bad */
  long min, max;     /* DTXI_KIND_INT: accepted range */
  double rmin, rmax; /* DTXI_KIND_REAL: accepted range; the default (def_real) is stored when unset or bad */
  double def_real;
  const dtxi_word *words; /* DTXI_KIND_ENUM: accepted words */
  const char *help;       /* one line; the accepted words, range or syntax are appended when printed */
  size_t offset;          /* offsetof(dtxi_env, field): int for enums and ints, double for reals,
                             const char * for strings and sizes */
  int (*def_now)(void);   /* DTXI_KIND_INT, may be NULL: what def_value means on this machine (printed) */
  /* DTXI_KIND_STRING, DTXI_KIND_SIZE, may be NULL: the text stored (copied) when unset
   * or bad; NULL here or from the call stores NULL. */
  const char *(*def_text)(void);
  int none_ok; /* DTXI_KIND_SIZE: "none" (case ignored) is accepted and stored as NULL */
  /* The setting's field of dtx_cluster_config: its name, its offset, and the
   * value that means unset there (DTXI_KIND_ENUM: always 0, the DEFAULT constant;
   * DTXI_KIND_INT: unset; DTXI_KIND_REAL: -1; DTXI_KIND_STRING, DTXI_KIND_SIZE: NULL). */
  const char *field;
  size_t cfg_offset;
  int unset;
  /* DTXI_KIND_STRING: "" in the field is accepted and means the default (NULL:
   * none, stderr; or def_text). Otherwise "" there is DTX_EINVAL. */
  int field_empty_ok;
} dtxi_row;

/* The rows, indexed by dtxi_var (config.c). */
extern const dtxi_row dtxi_rows[DTXI_NVARS];

/* Longest value quoted in a message, with its "..." (dtxi_show_value). */
#define DTXI_SHOWN_MAX 80

/* A row's value in a dtxi_env, by its offset and kind. */
static inline void store_int(dtxi_env *e, const dtxi_row *r, int v) {
  memcpy((char *)e + r->offset, &v, sizeof v);
}

static inline int load_int(const dtxi_env *e, const dtxi_row *r) {
  int v;
  memcpy(&v, (const char *)e + r->offset, sizeof v);
  return v;
}

static inline void store_real(dtxi_env *e, const dtxi_row *r, double v) {
  memcpy((char *)e + r->offset, &v, sizeof v);
}

static inline double load_real(const dtxi_env *e, const dtxi_row *r) {
  double v;
  memcpy(&v, (const char *)e + r->offset, sizeof v);
  return v;
}

static inline void store_string(dtxi_env *e, const dtxi_row *r, const char *s) {
  memcpy((char *)e + r->offset, &s, sizeof s);
}

static inline const char *load_string(const dtxi_env *e, const dtxi_row *r) {
  const char *s;
  memcpy(&s, (const char *)e + r->offset, sizeof s);
  return s;
}

/* The word of value in list w; NULL for another value. */
const char *dtxi_word_name(const dtxi_word *w, int value);
/* DTXI_KIND_SIZE: a size dtxi_parse_size accepts that is more than 0 bytes. */
int dtxi_size_ok(const char *s);
/* s fit to quote in a one-line message: control characters become '?', long
 * values are cut and end in "..." (size: at most DTXI_SHOWN_MAX). */
void dtxi_show_value(const char *s, char *buf, size_t size);
/* Row r's value in e as text: buf, or a string of e or of the row. */
const char *dtxi_row_value_text(const dtxi_env *e, const dtxi_row *r, char *buf, size_t size);

#endif /* DTXI_CONFIG_TABLE_H */
