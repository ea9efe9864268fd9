/*
 * base/settings.c - a cluster's settings: each resolved from its field of
 * dtx_cluster_config if set, else its DTX_* variable as the process read it,
 * else the default; and printed with where each value came from.
 *
 * Runs on the thread creating a cluster (dtxi_settings_resolve) or printing
 * its report; reads the table (config_table.h) and dtxi_env_get, writes only
 * the dtxi_settings it is given, which owns copies of its strings.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/config_table.h"
#include "base/error.h"

const char *dtxi_var_name(dtxi_var v) { return (unsigned)v < DTXI_NVARS ? dtxi_rows[v].name : NULL; }
const char *dtxi_var_field(dtxi_var v) { return (unsigned)v < DTXI_NVARS ? dtxi_rows[v].field : NULL; }

static size_t field_bytes(const dtxi_row *r) {
  switch (r->kind) {
    case DTXI_KIND_ENUM:
    case DTXI_KIND_INT:
      return sizeof(int);
    case DTXI_KIND_REAL:
      return sizeof(double);
    case DTXI_KIND_STRING:
    case DTXI_KIND_SIZE:
      break;
  }
  return sizeof(const char *);
}

/* "DTX_P2P_AUTO, DTX_P2P_NCCL, DTX_P2P_PEER" */
static void cname_list(const dtxi_word *w, char *buf, size_t size) {
  size_t n = 0;
  buf[0] = '\0';
  for (const dtxi_word *p = w; p->text != NULL && n < size; p++)
    n += (size_t)snprintf(buf + n, size - n, "%s%s", p == w ? "" : ", ", p->cname);
}

/* DTX_EINVAL for row r's field set to a value it does not accept; `shown`
 * is that value as text. The message names the field, what it accepts, and
 * what leaving it unset means. */
static dtx_status bad_field(const char *who, const dtxi_row *r, const char *shown) {
  char allowed[160];
  switch (r->kind) {
    case DTXI_KIND_ENUM:
      cname_list(r->words, allowed, sizeof allowed);
      return dtxi_fail(DTX_EINVAL, "%s: config %s %s is not one of %s (0: %s, else %s)", who, r->field, shown,
                       allowed, r->name, r->def);
    case DTXI_KIND_INT:
      return dtxi_fail(DTX_EINVAL, "%s: config %s %s is not in %ld..%ld (%d: %s, else %s)", who, r->field,
                       shown, r->min, r->max, r->unset, r->name, r->def);
    case DTXI_KIND_REAL:
      return dtxi_fail(DTX_EINVAL, "%s: config %s %s is not a number in %g..%g (-1: %s, else %s)", who,
                       r->field, shown, r->rmin, r->rmax, r->name, r->def);
    case DTXI_KIND_STRING:
      return dtxi_fail(DTX_EINVAL, "%s: config %s \"%s\" is empty; give a path, or NULL for %s, else %s", who,
                       r->field, shown, r->name, r->def);
    case DTXI_KIND_SIZE:
      return dtxi_fail(DTX_EINVAL,
                       "%s: config %s \"%s\" is not a size above 0 (such as 12GiB, 512M, 1000000 or 80%%)%s "
                       "(NULL: %s, else %s)",
                       who, r->field, shown, r->none_ok ? " nor none" : "", r->name, r->def);
  }
  return DTX_EINVAL;
}

/* Row i from cfg's field (the caller checked that it lies within cfg->size).
 * Returns DTX_OK with *taken 0 when the field is unset, DTX_OK with *taken 1
 * when its value is stored in out, DTX_EINVAL for a value it does not accept. */
static dtx_status from_field(const char *who, size_t i, const dtx_cluster_config *cfg, dtxi_settings *out,
                             int *taken) {
  const dtxi_row *r = &dtxi_rows[i];
  const char *at = (const char *)cfg + r->cfg_offset;
  char shown[DTXI_SHOWN_MAX];
  int v;
  double d;
  const char *s;
  *taken = 0;
  switch (r->kind) {
    case DTXI_KIND_ENUM:
    case DTXI_KIND_INT:
      memcpy(&v, at, sizeof v);
      if (v == (r->kind == DTXI_KIND_ENUM ? 0 : r->unset)) return DTX_OK;
      snprintf(shown, sizeof shown, "%d", v);
      if (r->kind == DTXI_KIND_ENUM ? dtxi_word_name(r->words, v) == NULL : (v < r->min || v > r->max))
        return bad_field(who, r, shown);
      store_int(&out->v, r, v);
      break;
    case DTXI_KIND_REAL:
      memcpy(&d, at, sizeof d);
      if (d == -1.0) return DTX_OK;
      snprintf(shown, sizeof shown, "%g", d);
      if (!isfinite(d) || d < r->rmin || d > r->rmax) return bad_field(who, r, shown);
      store_real(&out->v, r, d);
      break;
    case DTXI_KIND_STRING:
    case DTXI_KIND_SIZE:
      memcpy(&s, at, sizeof s);
      if (s == NULL) return DTX_OK;
      dtxi_show_value(s, shown, sizeof shown);
      if (r->kind == DTXI_KIND_STRING && s[0] == '\0' && !r->field_empty_ok) return bad_field(who, r, shown);
      if (r->kind == DTXI_KIND_SIZE && !(r->none_ok && strcasecmp(s, "none") == 0) && !dtxi_size_ok(s))
        return bad_field(who, r, shown);
      if (r->kind == DTXI_KIND_SIZE && strcasecmp(s, "none") == 0)
        s = NULL;
      else if (s[0] == '\0')
        s = r->def_text != NULL ? r->def_text() : NULL; /* "" means the default */
      if (s != NULL && (out->owned[i] = strdup(s)) == NULL)
        return dtxi_fail(DTX_ENOMEM, "%s: out of memory", who);
      store_string(&out->v, r, out->owned[i]);
      break;
  }
  *taken = 1;
  return DTX_OK;
}

/* Row i from the environment as read (e), which says whether it was set. */
static dtx_status from_env(const char *who, size_t i, const dtxi_env *e, dtxi_settings *out) {
  const dtxi_row *r = &dtxi_rows[i];
  if (r->kind == DTXI_KIND_STRING || r->kind == DTXI_KIND_SIZE) {
    const char *s = load_string(e, r);
    if (s != NULL && (out->owned[i] = strdup(s)) == NULL)
      return dtxi_fail(DTX_ENOMEM, "%s: out of memory", who);
    store_string(&out->v, r, out->owned[i]);
  } else {
    memcpy((char *)&out->v + r->offset, (const char *)e + r->offset, field_bytes(r));
  }
  out->from[i] = e->given[i] ? DTXI_FROM_ENV : DTXI_FROM_DEFAULT;
  return DTX_OK;
}

dtx_status dtxi_settings_resolve(const dtx_cluster_config *cfg, const char *who, dtxi_settings *out) {
  const dtxi_env *e = dtxi_env_get();
  if (cfg != NULL && (cfg->size < sizeof(size_t) || cfg->size > sizeof *cfg))
    return dtxi_fail(DTX_EINVAL,
                     "%s: config size %zu is not valid; initialise it with DTX_CLUSTER_CONFIG_INIT", who,
                     cfg->size);
  memset(out, 0, sizeof *out);
  dtx_status rc = DTX_OK;
  for (size_t i = 0; i < DTXI_NVARS && rc == DTX_OK; i++) {
    int taken = 0;
    /* A field past the caller's size (an older struct) reads as unset. */
    if (cfg != NULL && dtxi_rows[i].cfg_offset + field_bytes(&dtxi_rows[i]) <= cfg->size)
      rc = from_field(who, i, cfg, out, &taken);
    if (rc == DTX_OK && taken)
      out->from[i] = DTXI_FROM_FIELD;
    else if (rc == DTX_OK)
      rc = from_env(who, i, e, out);
  }
  if (rc == DTX_OK && (out->owned[DTXI_NVARS] = strdup(e->tmp_dir)) == NULL)
    rc = dtxi_fail(DTX_ENOMEM, "%s: out of memory", who);
  if (rc != DTX_OK) {
    dtxi_settings_free(out);
    return rc;
  }
  out->v.tmp_dir = out->owned[DTXI_NVARS];
  if (out->v.num_threads == 0) out->v.num_threads = dtxi_num_cores(); /* stored resolved */
  memset(out->v.given, 0, sizeof out->v.given);
  out->v.scheduler_given = out->from[DTXI_VAR_SCHEDULER] != DTXI_FROM_DEFAULT;
  return DTX_OK;
}

void dtxi_settings_free(dtxi_settings *s) {
  if (s == NULL) return;
  for (size_t i = 0; i <= DTXI_NVARS; i++) free(s->owned[i]);
  memset(s, 0, sizeof *s);
}

/*
 *   setting              value       from
 *   scheduler            threads     default
 *   gpu_window           16          env (DTX_GPU_WINDOW)
 */
void dtxi_settings_print(const dtxi_settings *s, FILE *out) {
  char buf[DTXI_NVARS][64], from[DTXI_NVARS][48];
  const char *value[DTXI_NVARS];
  int wfield = (int)strlen("setting"), wvalue = (int)strlen("value");
  for (size_t i = 0; i < DTXI_NVARS; i++) {
    const dtxi_row *r = &dtxi_rows[i];
    if (r->kind == DTXI_KIND_INT && r->def_now != NULL && s->from[i] == DTXI_FROM_DEFAULT)
      snprintf(buf[i], sizeof buf[i], "%d (%s)", load_int(&s->v, r), r->def); /* "8 (cores)" */
    else if (r->kind == DTXI_KIND_INT)
      snprintf(buf[i], sizeof buf[i], "%d", load_int(&s->v, r));
    else if (r->kind == DTXI_KIND_REAL)
      snprintf(buf[i], sizeof buf[i], "%g", load_real(&s->v, r));
    value[i] = r->kind == DTXI_KIND_INT || r->kind == DTXI_KIND_REAL
                   ? buf[i]
                   : dtxi_row_value_text(&s->v, r, buf[i], sizeof buf[i]);
    if (s->from[i] == DTXI_FROM_ENV)
      snprintf(from[i], sizeof from[i], "env (%s)", r->name);
    else
      snprintf(from[i], sizeof from[i], "%s", s->from[i] == DTXI_FROM_FIELD ? "field" : "default");
    int f = (int)strlen(r->field), v = (int)strlen(value[i]);
    if (f > wfield) wfield = f;
    if (v > wvalue) wvalue = v;
  }
  fprintf(out, "%-*s  %-*s  %s\n", wfield, "setting", wvalue, "value", "from");
  for (size_t i = 0; i < DTXI_NVARS; i++)
    fprintf(out, "%-*s  %-*s  %s\n", wfield, dtxi_rows[i].field, wvalue, value[i], from[i]);
}
