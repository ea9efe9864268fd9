/*
 * diag/html.c - the self-contained HTML page of a trace (see report.h): the
 * task stream as inline SVG, the memory plot, the summary tables, and a small
 * script for tooltips. Borrows the view and the summary; one thread.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "diag/report.h"

#define PAGE_W 1200 /* SVG width in px */
#define LEFT 230    /* label column */
#define PLOT_W (PAGE_W - LEFT - 10)
#define ROW_H 16
#define ROW_GAP 3
#define AXIS_H 22
#define MEM_H 170

static const char *const palette[] = {
    "#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#8c564b", "#e377c2",
    "#bcbd22", "#7f7f7f", "#aec7e8", "#98df8a", "#c5b0d5", "#9edae5",
};
#define NPALETTE (sizeof palette / sizeof palette[0])

const char *dtxi_html_prefix_colour(size_t i) { return palette[i % NPALETTE]; }

/* Writes s escaped for HTML text and attribute values. */
static void esc(FILE *out, const char *s) {
  if (s == NULL) return;
  for (; *s; s++) {
    switch (*s) {
      case '&':
        fputs("&amp;", out);
        break;
      case '<':
        fputs("&lt;", out);
        break;
      case '>':
        fputs("&gt;", out);
        break;
      case '"':
        fputs("&quot;", out);
        break;
      case '\'':
        fputs("&#39;", out);
        break;
      default:
        if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
          fputc(' ', out);
        else
          fputc(*s, out);
    }
  }
}

typedef struct pcol {
  const char *prefix;
  size_t index;
} pcol;

static int pcol_cmp(const void *a, const void *b) {
  return strcmp(((const pcol *)a)->prefix, ((const pcol *)b)->prefix);
}

typedef struct page {
  const dtxi_view *v;
  const dtxi_summary *s;
  FILE *out;
  pcol *cols;
  size_t ncols;
  double t0, wall;
} page;

static const char *slice_fill(const page *pg, const dtxi_vslice *x, const char **cls) {
  if (x->error != NULL) {
    *cls = "err";
    return DTXI_HTML_ERROR;
  }
  switch (x->kind) {
    case DTXI_VK_TRANSFER:
      *cls = "xfer";
      return DTXI_HTML_TRANSFER;
    case DTXI_VK_SPILL:
    case DTXI_VK_UNSPILL:
      *cls = "spill";
      return DTXI_HTML_SPILL;
    default:
      break;
  }
  *cls = "task";
  pcol key = {x->prefix, 0};
  const pcol *hit = bsearch(&key, pg->cols, pg->ncols, sizeof *pg->cols, pcol_cmp);
  return palette[(hit != NULL ? hit->index : 0) % NPALETTE];
}

static double xpos(const page *pg, double ts) {
  double f = pg->wall > 0 ? (ts - pg->t0) / pg->wall : 0;
  if (f < 0) f = 0;
  if (f > 1) f = 1;
  return LEFT + f * PLOT_W;
}

/* A slice rectangle waiting to be written (so neighbours can merge into it). */
typedef struct pending {
  bool live;
  size_t slice; /* the first slice */
  double x0, x1;
  const char *fill, *cls;
  size_t merged;
} pending;

static void flush_rect(const page *pg, pending *p, double y, const char *where) {
  if (!p->live) return;
  const dtxi_vslice *x = &pg->v->slices[p->slice];
  char d[64], b[64];
  double w = p->x1 - p->x0;
  if (w < 0.5) w = 0.5;
  fprintf(pg->out,
          "<rect class=\"s %s\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" fill=\"%s\" data-k=\"",
          p->cls, p->x0, y, w, ROW_H, p->fill);
  esc(pg->out, x->key);
  fputs("\" data-v=\"", pg->out);
  esc(pg->out, where);
  if (x->device >= 0) fprintf(pg->out, " (device %d)", x->device);
  dtxi_fmt_time(x->dur, d, sizeof d);
  fprintf(pg->out, "\" data-d=\"%s\"", d);
  if (x->bytes >= 0) {
    dtxi_fmt_bytes((double)x->bytes, b, sizeof b);
    fprintf(pg->out, " data-b=\"%s", b);
    if (x->link != NULL) {
      fputs(", ", pg->out);
      esc(pg->out, x->link);
    }
    fputc('"', pg->out);
  }
  if (x->error != NULL) {
    fputs(" data-e=\"", pg->out);
    esc(pg->out, x->error);
    fputc('"', pg->out);
  }
  if (p->merged > 1) fprintf(pg->out, " data-n=\"%zu\"", p->merged);
  fputs("/>\n", pg->out);
  p->live = false;
}

static const dtxi_view *sort_v;

static int by_track_then_start(const void *a, const void *b) {
  const dtxi_vslice *x = &sort_v->slices[*(const size_t *)a], *y = &sort_v->slices[*(const size_t *)b];
  if (x->track != y->track) return x->track < y->track ? -1 : 1;
  if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
  return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static void axis(const page *pg, double y) {
  fprintf(pg->out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#999\"/>\n", LEFT, y,
          LEFT + PLOT_W, y);
  for (int k = 0; k <= 10; k++) {
    double x = LEFT + PLOT_W * k / 10.0;
    char t[64];
    dtxi_fmt_time(pg->wall * k / 10.0, t, sizeof t);
    fprintf(pg->out,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\"/>"
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" class=\"ax\">%s</text>\n",
            x, y, x, y + 4, x, y + 15,
            k == 0    ? "start"
            : k == 10 ? "end"
                      : "middle",
            t);
  }
}

/* Returns the number of slice rectangles written. */
static dtx_status stream(page *pg, size_t *rects) {
  const dtxi_view *v = pg->v;
  const dtxi_summary *s = pg->s;
  size_t n = v->nslices;
  size_t *idx = malloc((n + 1) * sizeof *idx);
  int *row = malloc(((size_t)v->ntracks + 1) * sizeof *row);
  if (idx == NULL || row == NULL) {
    free(idx);
    free(row);
    return dtxi_fail(DTX_ENOMEM, "trace page: out of memory");
  }
  for (size_t i = 0; i < n; i++) idx[i] = i;
  sort_v = v;
  qsort(idx, n, sizeof *idx, by_track_then_start);
  for (uint32_t t = 0; t < v->ntracks; t++) row[t] = -1;
  for (size_t r = 0; r < s->ntracks; r++) row[s->tracks[r].track] = (int)r;
  int height = (int)s->ntracks * (ROW_H + ROW_GAP) + AXIS_H + 6;
  fprintf(pg->out,
          "<svg id=\"stream\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 "
          "%d %d\">\n",
          PAGE_W, height, PAGE_W, height);
  for (size_t r = 0; r < s->ntracks; r++) {
    double y = 4 + (double)r * (ROW_H + ROW_GAP);
    char lab[256];
    dtxi_view_track_label(v, s->tracks[r].track, lab, sizeof lab);
    fprintf(pg->out,
            "<rect class=\"row\" x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"#ffffff\" "
            "stroke=\"#e4e4e4\"/>",
            LEFT, y, PLOT_W, ROW_H);
    fprintf(pg->out, "<text class=\"lab\" x=\"4\" y=\"%.1f\">", y + ROW_H - 4);
    esc(pg->out, lab);
    fputs("</text>\n", pg->out);
  }
  bool merge = n > DTXI_HTML_MERGE_ABOVE;
  pending p = {0};
  uint32_t cur = UINT32_MAX;
  char where[256] = "";
  size_t count = 0;
  for (size_t k = 0; k < n; k++) {
    const dtxi_vslice *x = &v->slices[idx[k]];
    if (row[x->track] < 0) continue;
    double y = 4 + (double)row[x->track] * (ROW_H + ROW_GAP);
    if (x->track != cur) {
      if (cur != UINT32_MAX) flush_rect(pg, &p, 4 + (double)row[cur] * (ROW_H + ROW_GAP), where);
      cur = x->track;
      dtxi_view_track_label(v, cur, where, sizeof where);
    }
    const char *cls, *fill = slice_fill(pg, x, &cls);
    double x0 = xpos(pg, x->ts), x1 = xpos(pg, x->ts + x->dur);
    if (merge && p.live && x1 - x0 < 1.0 && p.fill == fill && x0 <= p.x1 + 1.0) {
      if (x1 > p.x1) p.x1 = x1;
      p.merged++;
      continue;
    }
    if (p.live) flush_rect(pg, &p, y, where);
    p = (pending){true, idx[k], x0, x1, fill, cls, 1};
    count++;
  }
  if (cur != UINT32_MAX) flush_rect(pg, &p, 4 + (double)row[cur] * (ROW_H + ROW_GAP), where);
  /* instants: spill, unspill and error marks */
  for (size_t i = 0; i < v->ninstants; i++) {
    const dtxi_vinstant *x = &v->instants[i];
    if (x->kind == DTXI_VK_OTHER || row[x->track] < 0) continue;
    double y = 4 + (double)row[x->track] * (ROW_H + ROW_GAP);
    const char *fill = x->kind == DTXI_VK_ERROR ? DTXI_HTML_ERROR : DTXI_HTML_SPILL;
    fprintf(pg->out,
            "<rect class=\"i %s\" x=\"%.2f\" y=\"%.1f\" width=\"2\" height=\"%d\" fill=\"%s\" data-k=\"",
            x->kind == DTXI_VK_ERROR ? "err" : "spill", xpos(pg, x->ts) - 1, y, ROW_H, fill);
    esc(pg->out, x->name);
    fputs("\" data-v=\"instant\" data-d=\"0 ns\"", pg->out);
    if (x->bytes >= 0) {
      char b[64];
      dtxi_fmt_bytes((double)x->bytes, b, sizeof b);
      fprintf(pg->out, " data-b=\"%s\"", b);
    }
    if (x->msg != NULL) {
      fputs(" data-e=\"", pg->out);
      esc(pg->out, x->msg);
      fputc('"', pg->out);
    }
    fputs("/>\n", pg->out);
  }
  axis(pg, 4 + (double)s->ntracks * (ROW_H + ROW_GAP) + 2);
  fputs("</svg>\n", pg->out);
  free(idx);
  free(row);
  *rects = count;
  return DTX_OK;
}

typedef struct sample {
  double ts, value;
} sample;

static int sample_cmp(const void *a, const void *b) {
  const sample *x = a, *y = b;
  return x->ts < y->ts ? -1 : x->ts > y->ts;
}

static dtx_status memory_plot(page *pg) {
  const dtxi_view *v = pg->v;
  const dtxi_summary *s = pg->s;
  if (s->nmemory == 0) {
    fputs("<p>No memory counters in this trace.</p>\n", pg->out);
    return DTX_OK;
  }
  double top = 0;
  for (size_t m = 0; m < s->nmemory; m++)
    if (s->memory[m].peak > top) top = s->memory[m].peak;
  if (top <= 0) top = 1;
  sample *buf = malloc((v->ncounters + 1) * sizeof *buf);
  if (buf == NULL) return dtxi_fail(DTX_ENOMEM, "trace page: out of memory");
  char tb[64];
  dtxi_fmt_bytes(top, tb, sizeof tb);
  fprintf(pg->out,
          "<svg id=\"memory\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 "
          "%d %d\">\n"
          "<rect x=\"%d\" y=\"4\" width=\"%d\" height=\"%d\" fill=\"#fff\" stroke=\"#ccc\"/>"
          "<text class=\"ax\" x=\"%d\" y=\"14\" text-anchor=\"end\">%s</text>"
          "<text class=\"ax\" x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>\n",
          PAGE_W, MEM_H + AXIS_H, PAGE_W, MEM_H + AXIS_H, LEFT, PLOT_W, MEM_H - 8, LEFT - 4, tb, LEFT - 4,
          MEM_H - 4);
  for (size_t m = 0; m < s->nmemory; m++) {
    size_t ns = 0;
    for (size_t i = 0; i < v->ncounters; i++)
      if (v->counters[i].pid == s->memory[m].pid && strcmp(v->counters[i].name, s->memory[m].name) == 0)
        buf[ns++] = (sample){v->counters[i].ts, v->counters[i].value};
    qsort(buf, ns, sizeof *buf, sample_cmp);
    const char *colour = palette[m % NPALETTE];
    fprintf(pg->out, "<polyline class=\"mem\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
            colour);
    double base = MEM_H - 4, scale = (MEM_H - 12) / top, prev_y = base;
    for (size_t i = 0; i < ns; i++) {
      double x = xpos(pg, buf[i].ts), y = base - buf[i].value * scale;
      fprintf(pg->out, "%.1f,%.1f %.1f,%.1f ", x, prev_y, x, y); /* a step */
      prev_y = y;
    }
    fprintf(pg->out, "%d,%.1f\"/>\n", LEFT + PLOT_W, prev_y);
    char peak[64];
    dtxi_fmt_bytes(s->memory[m].peak, peak, sizeof peak);
    fprintf(pg->out, "<text class=\"lab\" x=\"4\" y=\"%d\" fill=\"%s\">", (int)(20 + 14 * m), colour);
    esc(pg->out, s->memory[m].process);
    fputs(": ", pg->out);
    esc(pg->out, s->memory[m].name);
    fprintf(pg->out, " (peak %s)</text>\n", peak);
  }
  axis(pg, MEM_H + 2);
  fputs("</svg>\n", pg->out);
  free(buf);
  return DTX_OK;
}

static void tables(page *pg) {
  const dtxi_view *v = pg->v;
  const dtxi_summary *s = pg->s;
  FILE *out = pg->out;
  char a[64], b[64], c[64], d[64], lab[256];
  fputs(
      "<h2>Tracks</h2>\n<table><tr><th>track</th><th>slices</th><th>busy</th><th>util</th>"
      "<th>idle gaps</th><th>longest gap</th><th>at</th></tr>\n",
      out);
  for (size_t i = 0; i < s->ntracks; i++) {
    const dtxi_strack *t = &s->tracks[i];
    dtxi_view_track_label(v, t->track, lab, sizeof lab);
    dtxi_fmt_time(t->busy, a, sizeof a);
    dtxi_fmt_time(t->longest_gap, b, sizeof b);
    dtxi_fmt_time(t->gap_at - s->t0, c, sizeof c);
    fputs("<tr><td>", out);
    esc(out, lab);
    fprintf(out, "</td><td>%zu</td><td>%s</td><td>%.1f%%</td><td>%zu</td><td>%s</td><td>%s</td></tr>\n",
            t->slices, a, 100.0 * t->util, t->gaps, b, c);
  }
  fprintf(out,
          "</table>\n<p class=\"note\">Idle gaps: stretches of at least %.0f%% of the wall time with nothing "
          "on the track.</p>\n",
          100.0 * DTXI_GAP_FRACTION);
  fputs(
      "<h2>Task "
      "prefixes</h2>\n<table><tr><th>prefix</th><th>count</th><th>total</th><th>mean</th><th>max</th>"
      "<th>longest</th><th>failed</th></tr>\n",
      out);
  for (size_t i = 0; i < s->nprefixes; i++) {
    const dtxi_sprefix *p = &s->prefixes[i];
    dtxi_fmt_time(p->total, a, sizeof a);
    dtxi_fmt_time(p->mean, b, sizeof b);
    dtxi_fmt_time(p->max, c, sizeof c);
    fprintf(out, "<tr><td><span class=\"sw\" style=\"background:%s\"></span>", dtxi_html_prefix_colour(i));
    esc(out, p->prefix);
    fprintf(out, "</td><td>%zu</td><td>%s</td><td>%s</td><td>%s</td><td>", p->count, a, b, c);
    esc(out, p->max_key);
    fprintf(out, "</td><td>%zu</td></tr>\n", p->failed);
  }
  fputs("</table>\n<h2>Critical path</h2>\n<p>", out);
  dtxi_fmt_time(s->critical, a, sizeof a);
  dtxi_fmt_time(s->wall, b, sizeof b);
  if (s->nslices == 0) {
    fputs("No slices.", out);
  } else if (!s->has_deps) {
    fprintf(out,
            "Unknown: the trace records no dependencies (task inputs or flow arrows). The longest slice "
            "takes %s.",
            a);
  } else {
    fprintf(out, "%s over %zu slices; the wall time, %s, is %.2fx the critical path.<br>", a, s->npath, b,
            s->critical > 0 ? s->wall / s->critical : 0.0);
    for (size_t i = 0; i < s->npath; i++) {
      if (i > 0) fputs(" &rarr; ", out);
      if (s->npath > 40 && i == 20) {
        fputs("&hellip; &rarr; ", out);
        i = s->npath - 20;
      }
      esc(out, v->slices[s->path[i]].name);
    }
  }
  fputs("</p>\n<h2>Transfers by link</h2>\n", out);
  if (s->nlinks == 0) {
    fputs("<p>None.</p>\n", out);
  } else {
    fputs("<table><tr><th>link</th><th>count</th><th>bytes</th><th>time</th><th>GB/s</th></tr>\n", out);
    for (size_t i = 0; i < s->nlinks; i++) {
      const dtxi_slink *l = &s->links[i];
      dtxi_fmt_bytes((double)l->bytes, a, sizeof a);
      dtxi_fmt_time(l->time, b, sizeof b);
      fputs("<tr><td>", out);
      esc(out, l->link);
      fprintf(out, "</td><td>%zu</td><td>%s</td><td>%s</td><td>%.3f</td></tr>\n", l->count, a, b, l->gbps);
    }
    fputs("</table>\n", out);
  }
  dtxi_fmt_bytes((double)s->spill_bytes, a, sizeof a);
  dtxi_fmt_bytes((double)s->unspill_bytes, b, sizeof b);
  fprintf(out, "<h2>Spills and errors</h2>\n<p>%zu spilled (%s), %zu brought back (%s); %zu errors.</p>\n",
          s->spills, a, s->unspills, b, s->nerrors);
  if (s->nerrors > 0) {
    fputs("<table><tr><th>task</th><th>at</th><th>error</th></tr>\n", out);
    for (size_t i = 0; i < s->nerrors && i < 50; i++) {
      dtxi_fmt_time(s->errors[i].ts - s->t0, d, sizeof d);
      fputs("<tr><td>", out);
      esc(out, s->errors[i].key);
      fprintf(out, "</td><td>%s</td><td style=\"text-align:left\">", d);
      esc(out, s->errors[i].msg != NULL ? s->errors[i].msg : "");
      fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);
  }
}

static const char css[] =
    "body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#222}"
    "h1{font-size:18px;margin:0 0 6px}h2{font-size:15px;margin:22px 0 6px}"
    "table{border-collapse:collapse}td,th{padding:2px 10px;text-align:right;border-bottom:1px solid #eee}"
    "td:first-child,th:first-child{text-align:left}"
    "svg text{font:11px sans-serif}.lab{fill:#333}.ax{fill:#666;font-size:10px}"
    "rect.s:hover,rect.i:hover{stroke:#000;stroke-width:1}"
    "#tip{position:fixed;display:none;background:#fffff0;border:1px solid #999;padding:4px 6px;"
    "font:12px monospace;white-space:pre;pointer-events:none;z-index:9}"
    ".legend span{display:inline-block;margin-right:14px}"
    ".sw{display:inline-block;width:12px;height:12px;vertical-align:middle;margin-right:4px;border:1px solid "
    "#999}"
    ".note{color:#666}#errors{color:#b00}";

static const char head_script[] =
    "window.onerror=function(m,src,line){var e=document.getElementById('errors');"
    "if(e)e.textContent+='script error: '+m+' (line '+line+') ';"
    "if(document.body)document.body.setAttribute('data-error','1');};";

static const char body_script[] =
    "(function(){var tip=document.getElementById('tip');"
    "function show(ev){var "
    "t=ev.target;if(!t.classList||!(t.classList.contains('s')||t.classList.contains('i'))){"
    "tip.style.display='none';return;}var d=t.dataset,s=d.k+'\\n'+d.v+'\\n'+d.d;"
    "if(d.b)s+='\\n'+d.b;if(d.e)s+='\\nerror: '+d.e;if(d.n)s+='\\n'+d.n+' slices drawn as one';"
    "tip.textContent=s;tip.style.display='block';tip.style.left=(ev.clientX+14)+'px';"
    "tip.style.top=(ev.clientY+14)+'px';}"
    "var svg=document.getElementById('stream');svg.addEventListener('mousemove',show);"
    "svg.addEventListener('mouseleave',function(){tip.style.display='none';});"
    "document.getElementById('drawn').textContent=String(document.querySelectorAll('#stream rect.s').length);"
    "document.body.setAttribute('data-ready','1');})();";

dtx_status dtxi_html_write(const dtxi_view *v, const dtxi_summary *s, const char *title, FILE *out) {
  if (v == NULL || s == NULL || out == NULL) return dtxi_fail(DTX_EINVAL, "dtxi_html_write: NULL argument");
  page pg = {.v = v, .s = s, .out = out, .t0 = s->t0, .wall = s->wall};
  pg.cols = malloc((s->nprefixes + 1) * sizeof *pg.cols);
  if (pg.cols == NULL) return dtxi_fail(DTX_ENOMEM, "trace page: out of memory");
  for (size_t i = 0; i < s->nprefixes; i++) pg.cols[i] = (pcol){s->prefixes[i].prefix, i};
  pg.ncols = s->nprefixes;
  qsort(pg.cols, pg.ncols, sizeof *pg.cols, pcol_cmp);

  fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>dtx: ", out);
  esc(out, title);
  fprintf(out, "</title>\n<style>%s</style>\n<script>%s</script>\n</head>\n<body data-ready=\"0\">\n", css,
          head_script);
  fputs("<h1>dtx task stream: ", out);
  esc(out, title);
  char a[64];
  dtxi_fmt_time(s->wall, a, sizeof a);
  fprintf(
      out,
      "</h1>\n<p>Wall time %s; %zu slices on %zu rows; <span id=\"drawn\">0</span> slice rectangles drawn", a,
      s->nslices, s->ntracks);
  if (s->nslices > DTXI_HTML_MERGE_ABOVE)
    fputs(" (slices narrower than a pixel next to one of the same colour are drawn together)", out);
  fputs(".</p>\n", out);
  if (v->capped)
    fprintf(
        out,
        "<p class=\"note\">The trace was capped after %llu events (%llu dropped): this is its start.</p>\n",
        (unsigned long long)v->max_events, (unsigned long long)v->dropped);
  if (v->truncated)
    fputs("<p class=\"note\">The trace file ends early (not closed?): these are the events read.</p>\n", out);
  fputs("<p id=\"errors\"></p>\n<div class=\"legend\">", out);
  for (size_t i = 0; i < s->nprefixes && i < 24; i++) {
    fprintf(out, "<span><span class=\"sw\" style=\"background:%s\"></span>", dtxi_html_prefix_colour(i));
    esc(out, s->prefixes[i].prefix);
    fputs("</span>", out);
  }
  fprintf(out,
          "<span><span class=\"sw\" style=\"background:%s\"></span>transfer</span>"
          "<span><span class=\"sw\" style=\"background:%s\"></span>spill</span>"
          "<span><span class=\"sw\" style=\"background:%s\"></span>error</span>"
          "<span><span class=\"sw\" style=\"background:#fff\"></span>idle</span></div>\n",
          DTXI_HTML_TRANSFER, DTXI_HTML_SPILL, DTXI_HTML_ERROR);
  size_t rects = 0;
  dtx_status rc = stream(&pg, &rects);
  if (rc == DTX_OK) {
    fputs("<h2>Memory</h2>\n", out);
    rc = memory_plot(&pg);
  }
  if (rc == DTX_OK) tables(&pg);
  fprintf(out, "<div id=\"tip\"></div>\n<script>%s</script>\n</body></html>\n", body_script);
  free(pg.cols);
  if (rc == DTX_OK && ferror(out)) rc = dtxi_fail(DTX_EIO, "trace page: write failed");
  return rc;
}
