/*
 * diag/view.h - a Chrome trace JSON file read back for analysis: the tracks,
 * slices, instants, counters and flows the summary and the HTML page need.
 *
 * A view is built by one thread and then only read. Times are microseconds
 * (the file's unit) as doubles. Strings (names, keys, links, messages) live in
 * the view's arena and stay valid until dtxi_view_free.
 *
 * Reading streams through the traceEvents array one event at a time (each
 * event is parsed with libjansson and dropped), so memory grows with the
 * compact records kept, not with the JSON text. A file that ends early (the
 * program died before closing its trace) gives the events read so far and
 * sets `truncated`. Without libjansson at build time, loading fails with a
 * message naming the package to install.
 */
#ifndef DTXI_DIAG_VIEW_H
#define DTXI_DIAG_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "dtx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a slice or an instant shows. */
typedef enum dtxi_vkind {
  DTXI_VK_TASK = 0,     /* a task (cat "task", "future", or anything else) */
  DTXI_VK_TRANSFER = 1, /* cat "transfer" */
  DTXI_VK_SPILL = 2,    /* cat or name "spill..." */
  DTXI_VK_UNSPILL = 3,  /* cat or name "unspill..." */
  DTXI_VK_ERROR = 4,    /* an instant with cat "error" (failed slices keep their kind and set `error`) */
  DTXI_VK_OTHER = 5,    /* instants that are none of the above */
} dtxi_vkind;

typedef struct dtxi_vtrack {
  int pid, tid;
  const char *process; /* process_name, or "pid N" */
  const char *name;    /* thread_name, or "tid N" */
  int sort;            /* thread_sort_index, else tid */
  int psort;           /* process_sort_index, else pid */
} dtxi_vtrack;

typedef struct dtxi_vslice {
  uint32_t track;
  dtxi_vkind kind;
  double ts, dur;       /* microseconds */
  const char *name;     /* the event's name */
  const char *key;      /* args.key, else the name */
  const char *prefix;   /* args.prefix, else the name up to '[' */
  const char *link;     /* transfers: args.link, else NULL */
  const char *error;    /* args.error, or NULL */
  int device;           /* args.device, else -1 */
  int64_t bytes;        /* args.bytes, else -1 */
  uint32_t in_off, nin; /* input keys: view->inputs[in_off .. in_off + nin) */
} dtxi_vslice;

typedef struct dtxi_vinstant {
  uint32_t track;
  dtxi_vkind kind;
  double ts;
  const char *name;
  const char *msg; /* args.error or args.message, or NULL */
  int64_t bytes;   /* args.bytes, else -1 */
} dtxi_vinstant;

typedef struct dtxi_vcounter {
  int pid;
  const char *name; /* counter name + " " + series, e.g. "device memory used" */
  double ts, value;
} dtxi_vcounter;

typedef struct dtxi_vflow {
  uint32_t track;
  double ts;
  uint64_t id;
  char ph; /* 's', 't', 'f' */
} dtxi_vflow;

typedef struct dtxi_view {
  dtxi_vtrack *tracks;
  uint32_t ntracks;
  dtxi_vslice *slices;
  size_t nslices;
  dtxi_vinstant *instants;
  size_t ninstants;
  dtxi_vcounter *counters;
  size_t ncounters;
  dtxi_vflow *flows;
  size_t nflows;
  const char **inputs; /* input keys of all slices */
  size_t ninputs;
  int truncated;       /* the text ended inside the events */
  int capped;          /* the writer capped it (otherData.capped or the capped instant) */
  uint64_t max_events; /* the cap, when capped */
  uint64_t dropped;    /* events dropped, when known */
  uint64_t events;     /* events read */
  void *priv;          /* arena and indexes */
} dtxi_view;

/* 1 when this build can read traces (it has libjansson), else 0. */
int dtxi_diag_available(void);
/* Reads a trace file. DTX_EIO (path and reason) when it cannot be read,
 * DTX_EINVAL when it is not a Chrome trace JSON (what and where) or when this
 * build has no libjansson. */
dtx_status dtxi_view_load_file(const char *path, dtxi_view **out);
/* Reads a trace from text (len bytes); `what` names it in messages. */
dtx_status dtxi_view_load_text(const char *text, size_t len, const char *what, dtxi_view **out);
void dtxi_view_free(dtxi_view *v);

/* A track's label: "<process> / <name>". */
void dtxi_view_track_label(const dtxi_view *v, uint32_t track, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* DTXI_DIAG_VIEW_H */
