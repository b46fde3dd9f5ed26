/* `perfshim flame --format svg`: one self-contained, interactive SVG.
 *
 * The stacks are merged by frame names into a tree (outermost frame first,
 * under a root "all" that spans the total; with --per-thread the thread
 * label of ps_flame_thread_label is the first frame, as in folded text).
 * Siblings are sorted by name, so the output does not depend on the order
 * of the stacks.  One row per depth, the root at the bottom; a frame's x
 * and width are proportional to its weight.  Every drawn frame is
 *
 *   <g class="frame" data-name data-start data-weight data-count data-depth>
 *     <title>name (weight unit, percent, count count_unit)</title>
 *     <rect .../> <text>label</text> </g>
 *
 * (data-start: the weight to its left in the whole graph; the script and
 * tests read these attributes).  Colours come from an FNV-1a hash of the
 * name in a palette per type: warm for cpu, blue for offcpu, green for
 * alloc and leak.  Labels are cut to fit with "..".
 *
 * Frames narrower than MIN_PX at full width are not drawn: they go, with a
 * table of their names, into the script's data (PS_OMITTED), so that a
 * search still counts them and a zoom that makes them wide enough draws
 * them.  A note says how many were left out.
 *
 * The inline script (no external reference anywhere) does the rest: click
 * to zoom, "Reset zoom" or a click on the root to go back, "Search" or
 * Ctrl-F for a regular expression (a substring; the literal text when it
 * is not a valid expression), "Clear" or Escape to drop it.  It records
 * errors in window.psErrors, sets data-ready="1" on the root element once
 * set up and exposes window.psFlame for tests: search(term) returns the
 * matched percent, clear(), zoomTo(element, node or name), reset(),
 * matched(), frames() (every frame, drawn or not: [name, start, weight,
 * count, depth]).  rsvg-convert and other static renderers ignore the
 * script and show the graph as written.  Weights above 2^53 would lose
 * precision in the script (not in the markup).
 *
 * Embedded in an HTML page (ps_flame_write_svg_embedded, for `report
 * --format html`) the same markup and script run with every id prefixed,
 * the styles scoped to the graph's own root, psFlame on that root instead
 * of window, and Ctrl-F left to the browser: several graphs share a page. */
#include "flame.h"
#include "markup.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

#define WIDTH 1200
#define PAD 10
#define FRAME_H 16
#define CHAR_W 7.2  /* 12px monospace: 0.6 em a character */
#define MIN_PX 0.1
#define TOP 92      /* the header's height: the first row's y */
#define BOTTOM 48   /* below the root: details, matched, the note */

struct node {
    const char *name; /* valid UTF-8 without control characters */
    size_t parent;
    uint64_t weight, count, start;
    uint32_t depth;
    bool owned;       /* name is a cleaned copy to free */
};

/* ---- names: valid UTF-8 for XML and JavaScript ----------------------------------- */

/* Length of the valid UTF-8 sequence at S that XML allows (1 to 4), or 0. */
static size_t utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return (s[0] >= 0x20 && s[0] != 0x7f) ? 1 : 0;
    return (size_t)ps_utf8_seq(s);
}

/* S itself when it is clean, else a copy with control characters made
 * spaces and invalid bytes '?' (*OWNED set); NULL when out of memory. */
static const char *clean_name(const char *s, bool *owned)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n;
    *owned = false;
    for (; *p; p += n)
        if (!(n = utf8_len(p)))
            break;
    if (!*p)
        return s;
    char *c = malloc(strlen(s) + 1), *o = c;
    if (!c)
        return NULL;
    for (p = (const unsigned char *)s; *p;) {
        n = utf8_len(p);
        if (n) {
            memcpy(o, p, n);
            o += n, p += n;
        } else {
            *o++ = *p < 0x20 || *p == 0x7f ? ' ' : '?';
            p++;
        }
    }
    *o = 0;
    *owned = true;
    return c;
}

static void put_xml_n(FILE *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&apos;", out); break;
        default: fputc(s[i], out);
        }
    }
}

static void put_xml(FILE *out, const char *s)
{
    put_xml_n(out, s, strlen(s));
}

/* A JavaScript string literal inside CDATA: no '<', '>' or '&' as such. */
static void put_js(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(out, "\\%c", *s);
        else if (*s == '<' || *s == '>' || *s == '&')
            fprintf(out, "\\u%04x", *s);
        else
            fputc(*s, out);
    }
    fputc('"', out);
}

/* The label of a frame W px wide, counted in characters (code points) as
 * the script does: S when it fits, else its first characters and "..",
 * nothing when not even 3 characters fit. */
static void put_label(FILE *out, const char *s, double w)
{
    double fit = (w - 6) / CHAR_W;
    if (fit < 3)
        return;
    size_t max = (size_t)fit, n = 0, cut = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xc0) != 0x80 && ++n == max - 1)
            cut = (size_t)((const char *)p - s); /* where the first max - 2 characters end */
    if (n <= max) {
        put_xml(out, s);
    } else {
        put_xml_n(out, s, cut);
        fputs("..", out);
    }
}

static void put_num(FILE *out, uint64_t v)
{
    char d[24];
    int n = snprintf(d, sizeof d, "%" PRIu64, v);
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            fputc(',', out);
        fputc(d[i], out);
    }
}

/* ---- colours -------------------------------------------------------------------- */

/* {r lo, r hi, g lo, g hi, b lo, b hi} for each type */
static const int palettes[][6] = {
    [PS_FLAME_ALLOC] = {60, 150, 170, 235, 50, 120},
    [PS_FLAME_LEAK] = {60, 150, 170, 235, 50, 120},
    [PS_FLAME_CPU] = {205, 255, 50, 200, 0, 55},
    [PS_FLAME_OFFCPU] = {40, 120, 100, 190, 200, 255},
};
#define ROOT_RGB "200,200,200"
#define THREAD_RGB "196,186,226"

static void put_colour(FILE *out, const struct ps_flame *f, const struct node *n)
{
    if (n->depth == 0) {
        fputs("rgb(" ROOT_RGB ")", out);
        return;
    }
    if (f->per_thread && n->depth == 1) {
        fputs("rgb(" THREAD_RGB ")", out);
        return;
    }
    uint32_t h = 0x811c9dc5u;
    for (const unsigned char *p = (const unsigned char *)n->name; *p; p++)
        h = (h ^ *p) * 16777619u;
    const int *pal = palettes[f->type];
    int c[3];
    for (int i = 0; i < 3; i++)
        c[i] = pal[2 * i] + (int)((h >> (8 * i)) & 255) * (pal[2 * i + 1] - pal[2 * i]) / 255;
    fprintf(out, "rgb(%d,%d,%d)", c[0], c[1], c[2]);
}

/* ---- the tree ------------------------------------------------------------------- */

struct path {
    const char **names; /* outermost first */
    size_t n;
    uint64_t weight, count;
};

static int path_cmp(const void *a, const void *b)
{
    const struct path *x = a, *y = b;
    for (size_t i = 0; i < x->n && i < y->n; i++) {
        int c = strcmp(x->names[i], y->names[i]);
        if (c)
            return c;
    }
    return (x->n > y->n) - (x->n < y->n);
}

struct tree {
    struct node *nodes; /* preorder: a node's subtree follows it */
    size_t n;
    uint32_t max_depth;
    char (*labels)[48]; /* --per-thread: the thread frames' names */
};

static void tree_free(struct tree *t)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->nodes[i].owned)
            free((char *)t->nodes[i].name);
    free(t->nodes);
    free(t->labels);
}

/* Merge F's stacks into T: sorted paths share their common prefix with the
 * previous one, so every node is made once, in preorder, and siblings come
 * in name order.  Then each child starts where its earlier siblings end. */
static int tree_build(const struct ps_flame *f, struct tree *t)
{
    memset(t, 0, sizeof *t);
    size_t extra = f->per_thread ? 1 : 0, nnames = 0, longest = 0;
    for (size_t i = 0; i < f->nstacks; i++)
        nnames += f->stacks[i].nframes + extra;
    struct path *paths = calloc(f->nstacks ? f->nstacks : 1, sizeof *paths);
    const char **pool = calloc(nnames ? nnames : 1, sizeof *pool);
    char(*labels)[48] = t->labels = extra ? calloc(f->nstacks ? f->nstacks : 1, sizeof *labels) : NULL;
    t->nodes = calloc(nnames + 1, sizeof *t->nodes);
    size_t *chain = NULL, *cursor = NULL;
    int rc = PS_ENOMEM;
    if (!paths || !pool || (extra && !labels) || !t->nodes)
        goto out;
    const char **next = pool;
    for (size_t i = 0; i < f->nstacks; i++) {
        const struct ps_flame_stack *s = &f->stacks[i];
        struct path *p = &paths[i];
        p->names = next;
        if (extra) {
            ps_flame_thread_label(f, s->tid, labels[i], sizeof labels[i]);
            p->names[p->n++] = labels[i];
        }
        for (size_t k = s->nframes; k-- > 0;)
            p->names[p->n++] = ps_flame_frame_name(&s->frames[k]);
        next += p->n;
        p->weight = s->weight;
        p->count = s->count;
        if (p->n > longest)
            longest = p->n;
    }
    qsort(paths, f->nstacks, sizeof *paths, path_cmp);

    chain = calloc(longest + 1, sizeof *chain);
    if (!chain)
        goto out;
    t->nodes[0] = (struct node){.name = "all", .parent = SIZE_MAX};
    t->n = 1;
    const struct path *prev = NULL;
    for (size_t i = 0; i < f->nstacks; i++) {
        const struct path *p = &paths[i];
        size_t k = 0;
        while (prev && k < prev->n && k < p->n && strcmp(prev->names[k], p->names[k]) == 0)
            k++;
        for (; k < p->n; k++) {
            struct node *nd = &t->nodes[t->n];
            *nd = (struct node){.parent = chain[k], .depth = (uint32_t)(k + 1)};
            nd->name = clean_name(p->names[k], &nd->owned);
            if (!nd->name)
                goto out;
            chain[k + 1] = t->n++;
            if (nd->depth > t->max_depth)
                t->max_depth = nd->depth;
        }
        for (k = 0; k <= p->n; k++) {
            t->nodes[chain[k]].weight += p->weight;
            t->nodes[chain[k]].count += p->count;
        }
        prev = p;
    }
    cursor = calloc(t->n, sizeof *cursor);
    if (!cursor)
        goto out;
    for (size_t i = 1; i < t->n; i++) {
        struct node *nd = &t->nodes[i];
        nd->start = cursor[nd->parent];
        cursor[nd->parent] += nd->weight;
        cursor[i] = nd->start;
    }
    rc = 0;
out:
    free(cursor);
    free(chain);
    free(pool);
    free(paths);
    if (rc)
        tree_free(t);
    return rc;
}

/* ---- output --------------------------------------------------------------------- */

/* '@' stands for the scope of every rule ("" standalone, "#IDPflame "
 * embedded, so that a page's other SVGs keep their own look) and '$' for
 * the id prefix (see put_style). */
static const char style[] =
    "@text { font-family: monospace; font-size: 12px; fill: #000; }\n"
    "@#$ps-title { font-family: sans-serif; font-size: 17px; }\n"
    "@.sub { fill: #444; }\n"
    "@.frame rect { cursor: pointer; }\n"
    "@.frame:hover rect { stroke: #000; stroke-width: 0.5; }\n"
    "@.frame text { pointer-events: none; }\n"
    "@.frame.anc rect { opacity: 0.55; }\n"
    "@.frame.match rect { fill: rgb(230,30,230); }\n"
    "@.hide { display: none; }\n"
    "@.ctl { cursor: pointer; }\n"
    "@.ctl rect { fill: #f2f2f2; stroke: #888; }\n"
    "@.ctl.off { opacity: 0.45; }\n"
    "@#$ps-matched { font-weight: bold; }\n";

static void put_style(FILE *out, const char *idp)
{
    for (const char *p = style; *p; p++) {
        if (*p == '@' && *idp)
            fprintf(out, "#%sflame ", idp);
        else if (*p == '$')
            fputs(idp, out);
        else if (*p != '@')
            fputc(*p, out);
    }
}

/* window.onerror first, so that nothing goes unrecorded. */
static const char script_errors[] =
    "window.psErrors = window.psErrors || [];\n"
    "window.onerror = function (msg, src, line, col) {\n"
    "  window.psErrors.push(String(msg) + ' (' + (src || '') + ':' + line + ':' + col + ')');\n"
    "};\n";

/* The script; PS_CONF, PS_NAMES and PS_OMITTED come before it. */
static const char script[] =
    "(function () {\n"
    "'use strict';\n"
    "var C = PS_CONF, NS = 'http://www.w3.org/2000/svg', doc = document;\n"
    "var root = C.idp ? doc.getElementById(C.idp + 'flame') : doc.documentElement;\n"
    "var full = C.width - 2 * C.pad, nodes = [], view = null, re = null, pct = 0;\n"
    "var frames = doc.getElementById(C.idp + 'ps-frames'), details = doc.getElementById(C.idp + 'ps-details');\n"
    "var matched = doc.getElementById(C.idp + 'ps-matched'), resetCtl = doc.getElementById(C.idp + 'ps-reset');\n"
    "var enc = typeof TextEncoder === 'function' ? new TextEncoder() : null;\n"
    "\n"
    "function num(n) { return String(n).replace(/\\B(?=(\\d{3})+(?!\\d))/g, ','); }\n"
    "function share(w) { return C.total ? w * 100 / C.total : 0; }\n"
    "function tip(n) {\n"
    "  return n.name + ' (' + num(n.weight) + ' ' + C.unit + ', ' + share(n.weight).toFixed(2) + '%, ' +\n"
    "    num(n.count) + ' ' + C.countUnit + ')';\n"
    "}\n"
    "/* The colour of a name: FNV-1a of its UTF-8 bytes into the type's palette\n"
    " * (the same arithmetic as flame_svg.c's colour()). */\n"
    "function colour(n) {\n"
    "  if (n.depth === 0) return 'rgb(' + C.rootRgb + ')';\n"
    "  if (C.perThread && n.depth === 1) return 'rgb(' + C.threadRgb + ')';\n"
    "  var b = enc ? enc.encode(n.name) : [], h = 0x811c9dc5, i, p = C.palette, c = [];\n"
    "  for (i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 16777619) >>> 0;\n"
    "  for (i = 0; i < 3; i++)\n"
    "    c.push(p[2 * i] + Math.floor(((h >>> (8 * i)) & 255) * (p[2 * i + 1] - p[2 * i]) / 255));\n"
    "  return 'rgb(' + c.join(',') + ')';\n"
    "}\n"
    "/* The label that fits W px: the name, or its start and '..' ('' below 3 characters). */\n"
    "function label(n, w) {\n"
    "  var max = Math.floor((w - 6) / C.charW);\n"
    "  if (max < 3) return '';\n"
    "  if (!n.chars) n.chars = Array.from(n.name);\n"
    "  return n.chars.length <= max ? n.name : n.chars.slice(0, max - 2).join('') + '..';\n"
    "}\n"
    "function rowY(d) { return C.top + (C.maxDepth - d) * C.frameH; }\n"
    "\n"
    "function create(n) {\n"
    "  var g = doc.createElementNS(NS, 'g'), t = doc.createElementNS(NS, 'title');\n"
    "  var r = doc.createElementNS(NS, 'rect'), x = doc.createElementNS(NS, 'text');\n"
    "  g.setAttribute('class', 'frame');\n"
    "  g.setAttribute('data-name', n.name);\n"
    "  g.setAttribute('data-start', String(n.start));\n"
    "  g.setAttribute('data-weight', String(n.weight));\n"
    "  g.setAttribute('data-count', String(n.count));\n"
    "  g.setAttribute('data-depth', String(n.depth));\n"
    "  t.textContent = tip(n);\n"
    "  r.setAttribute('y', String(rowY(n.depth)));\n"
    "  r.setAttribute('height', String(C.frameH - 1));\n"
    "  r.setAttribute('rx', '2');\n"
    "  r.setAttribute('fill', colour(n));\n"
    "  x.setAttribute('y', String(rowY(n.depth) + C.frameH - 4));\n"
    "  g.appendChild(t);\n"
    "  g.appendChild(r);\n"
    "  g.appendChild(x);\n"
    "  frames.appendChild(g);\n"
    "  g.psNode = n;\n"
    "  n.el = g;\n"
    "  if (re && n.depth > 0 && re.test(n.name)) g.classList.add('match');\n"
    "}\n"
    "\n"
    "/* Show VIEW's subtree across the full width, its ancestors full width too\n"
    " * (faded), everything else hidden; frames below minPx stay undrawn. */\n"
    "function layout() {\n"
    "  if (!view.weight) return;\n"
    "  var vs = view.start, ve = view.start + view.weight, i;\n"
    "  for (i = 0; i < nodes.length; i++) {\n"
    "    var n = nodes[i], ne = n.start + n.weight, show = false, anc = false, x = 0, w = 0;\n"
    "    if (n.depth < view.depth) {\n"
    "      anc = show = n.start <= vs && ne >= ve;\n"
    "      x = C.pad;\n"
    "      w = full;\n"
    "    } else if (n.start >= vs && ne <= ve) {\n"
    "      x = C.pad + (n.start - vs) / view.weight * full;\n"
    "      w = n.weight / view.weight * full;\n"
    "      show = w >= C.minPx;\n"
    "    }\n"
    "    if (!show) {\n"
    "      if (n.el) n.el.classList.add('hide');\n"
    "      continue;\n"
    "    }\n"
    "    if (!n.el) create(n);\n"
    "    var r = n.el.getElementsByTagName('rect')[0], t = n.el.getElementsByTagName('text')[0];\n"
    "    r.setAttribute('x', x.toFixed(2));\n"
    "    r.setAttribute('width', w.toFixed(2));\n"
    "    t.setAttribute('x', (x + 3).toFixed(2));\n"
    "    t.textContent = label(n, w);\n"
    "    n.el.classList.toggle('anc', anc);\n"
    "    n.el.classList.remove('hide');\n"
    "  }\n"
    "  resetCtl.classList.toggle('off', view === nodes[0]);\n"
    "}\n"
    "\n"
    "function nodeOf(x) {\n"
    "  if (x && x.psNode) return x.psNode;\n"
    "  if (x && typeof x.start === 'number') return x;\n"
    "  if (typeof x === 'string') {\n"
    "    for (var i = 0; i < nodes.length; i++) if (nodes[i].name === x) return nodes[i];\n"
    "  }\n"
    "  return null;\n"
    "}\n"
    "function zoomTo(x) {\n"
    "  var n = nodeOf(x);\n"
    "  if (!n) throw new Error('psFlame.zoomTo: not a frame: ' + x);\n"
    "  view = n;\n"
    "  layout();\n"
    "  return n.el;\n"
    "}\n"
    "function reset() { return zoomTo(nodes[0]); }\n"
    "\n"
    "/* Highlight the frames whose name matches TERM (a regular expression, or\n"
    " * the literal text when it is not one) and return the share of the total\n"
    " * they cover: the union of their spans, so nested matches count once. */\n"
    "function search(term) {\n"
    "  if (term === null || term === undefined || term === '') return clear();\n"
    "  try {\n"
    "    re = new RegExp(term);\n"
    "  } catch (e) {\n"
    "    re = new RegExp(String(term).replace(/[.*+?^${}()|[\\]\\\\]/g, '\\\\$&'));\n"
    "  }\n"
    "  var spans = [], i;\n"
    "  for (i = 0; i < nodes.length; i++) {\n"
    "    var n = nodes[i], m = n.depth > 0 && re.test(n.name);\n"
    "    if (n.el) n.el.classList.toggle('match', m);\n"
    "    if (m) spans.push([n.start, n.start + n.weight]);\n"
    "  }\n"
    "  spans.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });\n"
    "  var covered = 0, end = -1;\n"
    "  for (i = 0; i < spans.length; i++) {\n"
    "    if (spans[i][0] >= end) {\n"
    "      covered += spans[i][1] - spans[i][0];\n"
    "      end = spans[i][1];\n"
    "    } else if (spans[i][1] > end) {\n"
    "      covered += spans[i][1] - end;\n"
    "      end = spans[i][1];\n"
    "    }\n"
    "  }\n"
    "  pct = share(covered);\n"
    "  matched.textContent = 'Matched: ' + (pct >= 10 ? pct.toFixed(1) : pct.toFixed(2)) + '%';\n"
    "  matched.classList.remove('hide');\n"
    "  return pct;\n"
    "}\n"
    "function clear() {\n"
    "  re = null;\n"
    "  pct = 0;\n"
    "  for (var i = 0; i < nodes.length; i++) if (nodes[i].el) nodes[i].el.classList.remove('match');\n"
    "  matched.textContent = '';\n"
    "  matched.classList.add('hide');\n"
    "  return 0;\n"
    "}\n"
    "function ask() {\n"
    "  var term = window.prompt('Search frames (substring or regular expression):', re ? re.source : '');\n"
    "  if (term !== null) search(term);\n"
    "}\n"
    "\n"
    "var els = frames.querySelectorAll('g.frame'), i;\n"
    "for (i = 0; i < els.length; i++) {\n"
    "  var e = els[i], n = {\n"
    "    name: e.getAttribute('data-name'), start: +e.getAttribute('data-start'),\n"
    "    weight: +e.getAttribute('data-weight'), count: +e.getAttribute('data-count'),\n"
    "    depth: +e.getAttribute('data-depth'), el: e\n"
    "  };\n"
    "  e.psNode = n;\n"
    "  nodes.push(n);\n"
    "}\n"
    "for (i = 0; i + 4 < PS_OMITTED.length; i += 5)\n"
    "  nodes.push({start: PS_OMITTED[i], weight: PS_OMITTED[i + 1], count: PS_OMITTED[i + 2],\n"
    "              depth: PS_OMITTED[i + 3], name: PS_NAMES[PS_OMITTED[i + 4]], el: null});\n"
    "view = nodes[0];\n"
    "\n"
    "root.addEventListener('click', function (ev) {\n"
    "  var t = ev.target, g = t && t.closest ? t.closest('g.frame, g.ctl') : null;\n"
    "  if (!g) return;\n"
    "  if (g.id === C.idp + 'ps-reset') reset();\n"
    "  else if (g.id === C.idp + 'ps-search') ask();\n"
    "  else if (g.id === C.idp + 'ps-clear') clear();\n"
    "  else if (g.psNode) zoomTo(g.psNode);\n"
    "});\n"
    "root.addEventListener('mouseover', function (ev) {\n"
    "  var g = ev.target && ev.target.closest ? ev.target.closest('g.frame') : null;\n"
    "  if (g && g.psNode) details.textContent = tip(g.psNode);\n"
    "});\n"
    "root.addEventListener('mouseout', function () { details.textContent = ' '; });\n"
    "/* Embedded in a page with other graphs, Ctrl-F stays the browser's. */\n"
    "if (!C.idp) window.addEventListener('keydown', function (ev) {\n"
    "  if ((ev.ctrlKey || ev.metaKey) && (ev.key === 'f' || ev.key === 'F')) {\n"
    "    ev.preventDefault();\n"
    "    ask();\n"
    "  } else if (ev.key === 'Escape') {\n"
    "    clear();\n"
    "  }\n"
    "});\n"
    "root.psFlame = {search: search, clear: clear, zoomTo: zoomTo, reset: reset,\n"
    "                matched: function () { return pct; },\n"
    "                frames: function () {\n"
    "                  return nodes.map(function (n) { return [n.name, n.start, n.weight, n.count, n.depth]; });\n"
    "                }};\n"
    "if (!C.idp) window.psFlame = root.psFlame;\n"
    "layout();\n"
    "root.setAttribute('data-ready', '1');\n"
    "})();\n";

static void put_button(FILE *out, const char *idp, const char *id, const char *cls, double x, int y, double w,
                       const char *text, const char *tip)
{
    fprintf(out,
            "<g id=\"%s%s\" class=\"ctl%s\"><title>%s</title>"
            "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"18\" rx=\"3\"/>"
            "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text></g>\n",
            idp, id, cls, tip, x, y, w, x + w / 2, y + 13, text);
}

static void put_frame(FILE *out, const struct ps_flame *f, const struct tree *t, const struct node *n)
{
    double full = WIDTH - 2 * PAD, total = (double)t->nodes[0].weight;
    double x = PAD + (total > 0 ? (double)n->start / total * full : 0);
    double w = total > 0 ? (double)n->weight / total * full : full;
    int y = TOP + (int)(t->max_depth - n->depth) * FRAME_H;
    fputs("<g class=\"frame\" data-name=\"", out);
    put_xml(out, n->name);
    fprintf(out, "\" data-start=\"%" PRIu64 "\" data-weight=\"%" PRIu64 "\" data-count=\"%" PRIu64
                 "\" data-depth=\"%" PRIu32 "\"><title>",
            n->start, n->weight, n->count, n->depth);
    put_xml(out, n->name);
    fputs(" (", out);
    put_num(out, n->weight);
    fprintf(out, " %s, %.2f%%, ", f->unit, total > 0 ? (double)n->weight * 100 / total : 0.0);
    put_num(out, n->count);
    fprintf(out, " %s)</title><rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" rx=\"2\" fill=\"", f->count_unit,
            x, y, w, FRAME_H - 1);
    put_colour(out, f, n);
    fprintf(out, "\"/><text x=\"%.2f\" y=\"%d\">", x + 3, y + FRAME_H - 4);
    put_label(out, n->name, w);
    fputs("</text></g>\n", out);
}

/* The omitted frames' names, each once (an open-addressing table of nodes
 * by name), as PS_NAMES; NAME_OF[i] is node i's index in it. */
static int put_names(FILE *out, const struct tree *t, const bool *drawn, uint32_t *name_of)
{
    size_t cap = 16;
    while (cap < 2 * t->n)
        cap *= 2;
    size_t *slot = malloc(cap * sizeof *slot);
    if (!slot)
        return PS_ENOMEM;
    memset(slot, 0xff, cap * sizeof *slot); /* SIZE_MAX: empty */
    uint32_t names = 0;
    fputs("var PS_NAMES = [", out);
    for (size_t i = 0; i < t->n; i++) {
        if (drawn[i])
            continue;
        uint32_t h = 0x811c9dc5u;
        for (const unsigned char *p = (const unsigned char *)t->nodes[i].name; *p; p++)
            h = (h ^ *p) * 16777619u;
        size_t j = h & (cap - 1);
        while (slot[j] != SIZE_MAX && strcmp(t->nodes[slot[j]].name, t->nodes[i].name) != 0)
            j = (j + 1) & (cap - 1);
        if (slot[j] == SIZE_MAX) {
            slot[j] = i;
            name_of[i] = names++;
            if (name_of[i])
                fputc(',', out);
            put_js(out, t->nodes[i].name);
        } else {
            name_of[i] = name_of[slot[j]];
        }
    }
    fputs("];\n", out);
    free(slot);
    return 0;
}

/* Title, command line, totals, then the controls. */
static int put_header(FILE *out, const struct ps_flame *f, const struct tree *t, const char *idp)
{
    fprintf(out, "<text id=\"%sps-title\" x=\"%d\" y=\"24\" text-anchor=\"middle\">", idp, WIDTH / 2);
    put_xml(out, f->title);
    fputs(" flame graph</text>\n", out);
    bool owned;
    const char *cmd = clean_name(f->command ? f->command : "", &owned);
    if (!cmd)
        return PS_ENOMEM;
    fprintf(out, "<text id=\"%sps-command\" class=\"sub\" x=\"%d\" y=\"44\" text-anchor=\"middle\"><title>",
            idp, WIDTH / 2);
    put_xml(out, cmd);
    fputs("</title>", out);
    put_label(out, cmd, WIDTH - 2 * PAD);
    fputs("</text>\n", out);
    if (owned)
        free((char *)cmd);
    fprintf(out, "<text id=\"%sps-total\" class=\"sub\" x=\"%d\" y=\"62\" text-anchor=\"middle\">total ", idp,
            WIDTH / 2);
    put_num(out, t->nodes[0].weight);
    fprintf(out, " %s in ", f->unit);
    put_num(out, t->nodes[0].count);
    fprintf(out, " %s; pid %" PRIu64 ", %.2f s", f->count_unit, f->pid, f->duration_s);
    if (f->cpu_hz)
        fprintf(out, ", sampled at %" PRIu64 " Hz of CPU time", f->cpu_hz);
    if (f->per_thread)
        fputs(", by thread", out);
    fputs("</text>\n", out);
    put_button(out, idp, "ps-reset", " off", PAD, TOP - 24, 92, "Reset zoom", "Show the whole graph (or click the root)");
    put_button(out, idp, "ps-search", "", WIDTH - PAD - 124, TOP - 24, 64, "Search",
               "Highlight frames matching a substring or regular expression (Ctrl-F)");
    put_button(out, idp, "ps-clear", "", WIDTH - PAD - 52, TOP - 24, 52, "Clear", "Clear the search (Escape)");
    return 0;
}

/* The script's data (PS_CONF, PS_NAMES, PS_OMITTED: start, weight, count,
 * depth and name index of each frame not drawn), then the script. */
static int put_script(FILE *out, const struct ps_flame *f, const struct tree *t, const bool *drawn,
                      const char *idp)
{
    uint32_t *name_of = calloc(t->n, sizeof *name_of);
    if (!name_of)
        return PS_ENOMEM;
    fputs("<script type=\"text/javascript\"><![CDATA[\n", out);
    const int *pal = palettes[f->type];
    fprintf(out,
            "var PS_CONF = {type: \"%s\", unit: \"%s\", countUnit: \"%s\", perThread: %s, total: %" PRIu64
            ", width: %d, pad: %d, top: %d, frameH: %d, maxDepth: %" PRIu32 ", minPx: %g, charW: %g"
            ", palette: [%d,%d,%d,%d,%d,%d], rootRgb: \"" ROOT_RGB "\", threadRgb: \"" THREAD_RGB "\""
            ", idp: \"%s\"};\n",
            f->type_name, f->unit, f->count_unit, f->per_thread ? "true" : "false", t->nodes[0].weight, WIDTH, PAD,
            TOP, FRAME_H, t->max_depth, MIN_PX, CHAR_W, pal[0], pal[1], pal[2], pal[3], pal[4], pal[5], idp);
    int rc = put_names(out, t, drawn, name_of);
    if (!rc) {
        fputs("var PS_OMITTED = [", out);
        const char *sep = "";
        for (size_t i = 0; i < t->n; i++) {
            const struct node *n = &t->nodes[i];
            if (drawn[i])
                continue;
            fprintf(out, "%s%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu32 ",%" PRIu32, sep, n->start, n->weight,
                    n->count, n->depth, name_of[i]);
            sep = ",\n";
        }
        fputs("];\n", out);
        fputs(script, out);
        fputs("]]></script>\n", out);
    }
    free(name_of);
    return rc;
}

/* The SVG; IDP "" for a document of its own, else an <svg> to put inside
 * an HTML page (see flame.h). */
static int write_svg(FILE *out, const struct ps_flame *f, const char *idp)
{
    struct tree t;
    int rc = tree_build(f, &t);
    if (rc)
        return rc;
    bool *drawn = calloc(t.n, sizeof *drawn);
    if (!drawn) {
        tree_free(&t);
        return PS_ENOMEM;
    }
    double full = WIDTH - 2 * PAD, total = (double)t.nodes[0].weight;
    size_t omitted = 0;
    for (size_t i = 0; i < t.n; i++) {
        drawn[i] = i == 0 || (total > 0 && (double)t.nodes[i].weight / total * full >= MIN_PX);
        omitted += !drawn[i];
    }
    int below = TOP + (int)(t.max_depth + 1) * FRAME_H, height = below + BOTTOM;

    if (!*idp)
        fputs("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n", out);
    fputs("<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" ", out);
    if (*idp)
        fprintf(out, "id=\"%sflame\" class=\"ps-flame\" ", idp);
    fprintf(out, "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" data-type=\"%s\" data-total=\"%" PRIu64
                 "\" data-omitted=\"%zu\">\n",
            WIDTH, height, WIDTH, height, f->type_name, t.nodes[0].weight, omitted);
    /* embedded, the page records errors itself, before any graph */
    if (!*idp)
        fprintf(out, "<script type=\"text/javascript\"><![CDATA[\n%s]]></script>\n", script_errors);
    fputs("<style type=\"text/css\"><![CDATA[\n", out);
    put_style(out, idp);
    fputs("]]></style>\n", out);
    fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fdfdf8\"/>\n", WIDTH, height);
    rc = put_header(out, f, &t, idp);
    if (!rc) {
        fprintf(out, "<g id=\"%sps-frames\">\n", idp);
        for (size_t i = 0; i < t.n; i++)
            if (drawn[i])
                put_frame(out, f, &t, &t.nodes[i]);
        fputs("</g>\n", out);
        fprintf(out, "<text id=\"%sps-details\" x=\"%d\" y=\"%d\"> </text>\n", idp, PAD, below + 18);
        fprintf(out, "<text id=\"%sps-matched\" class=\"hide\" x=\"%d\" y=\"%d\" text-anchor=\"end\"></text>\n",
                idp, WIDTH - PAD, below + 18);
        if (omitted)
            fprintf(out,
                    "<text id=\"%sps-omitted\" class=\"sub\" x=\"%d\" y=\"%d\">%zu frame%s narrower than %.1f px "
                    "not drawn (zoom in to see them)</text>\n",
                    idp, PAD, below + 36, omitted, omitted == 1 ? "" : "s", MIN_PX);
        if (!t.nodes[0].weight)
            fprintf(out, "<text class=\"sub\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">no %s in this trace</text>\n",
                    WIDTH / 2, below + 36, f->unit);
        rc = put_script(out, f, &t, drawn, idp);
    }
    if (!rc)
        fputs("</svg>\n", out);
    free(drawn);
    tree_free(&t);
    if (!rc && ferror(out))
        rc = PS_EIO;
    return rc;
}

int ps_flame_write_svg(FILE *out, const struct ps_flame *f)
{
    return write_svg(out, f, "");
}

int ps_flame_write_svg_embedded(FILE *out, const struct ps_flame *f, const char *idp)
{
    return write_svg(out, f, idp && *idp ? idp : "ps-");
}
