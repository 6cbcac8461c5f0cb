/* cmd_scan.c — `portreg scan TARGETS`: what is really reachable. Parses targets (scan/targets.h)
 * and ports (port specs, -p-, --top-ports from the registry's nmap open-frequency), picks an
 * engine by name (scan/engine.h: syn as root, else connect; udp), runs it with a sink that
 * corrects local results from live sockets (a full accept queue is open, not filtered),
 * collects or streams the results, and renders a table (plain rows when piped), JSON, NDJSON
 * and nmap's XML, normal and grepable files (scan_xml.c, scan_normal.c, scan_grepable.c).
 * nmap's timing templates (-T0..-T5) set the timing options not given. A progress line on a
 * TTY; -v says what was found as it is found. Exit 0 open ports found, 1 none, 2 bad input,
 * 3 failure (including probes that failed locally). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "registry/record.h"
#include "scan/accept_queue_fix.h"
#include "scan/collect.h"
#include "scan/engine.h"
#include "scan/local_view.h"
#include "scan/timing.h"
#include "scan_output.h"
#include "socket_view.h"

static const char scan_usage[] =
    "usage: portreg scan [options] TARGET...\n\n"
    "Which ports of the targets are open, closed or filtered, with the reason and round-trip\n"
    "time. TARGET: an address (10.0.0.1, ::1), a CIDR block (10.0.0.0/24), a range\n"
    "(10.0.0.1-20, 10.0.0.1-10.0.1.5), or a host name (every A and AAAA record).\n\n";
static const char scan_usage_tail[] =
    "Exit status: 0 open ports found, 1 none, 2 bad input, 3 failure (also when probes failed\n"
    "with local errors such as EMFILE; they are never reported as closed).\n";

enum { OPT_TOP = 256, OPT_EXCLUDE, OPT_EXCLUDE_FILE, OPT_RATE, OPT_INFLIGHT, OPT_TIMEOUT,
       OPT_RETRIES, OPT_THREADS, OPT_SHARD, OPT_SEED, OPT_BANNERS, OPT_LOCAL, OPT_JSON,
       OPT_NDJSON, OPT_XML, OPT_NO_PROGRESS, OPT_INPUT, OPT_SYN, OPT_CONNECT, OPT_UDP, OPT_NO_PING,
       OPT_OPEN, OPT_REASON, OPT_NORMAL, OPT_GREPABLE, OPT_ALL_FORMATS };
/* nmap's spellings are single-dash words (-iL FILE, -sS, -Pn); the hidden -s and -P keep
 * `-s S` working and name a wrong one ("-sX: only -sS, -sT and -sU"). */
const struct cli_option cli_scan_options[] = {
    { NULL, 0, CLI_OPTION_NO_VALUE, NULL, "targets and ports:", 0, CLI_OPTION_HEADING },
    { "iL", 0, CLI_OPTION_REQUIRED_VALUE, "FILE", "read targets from FILE ('-' = stdin, '#' comments)",
      OPT_INPUT, CLI_OPTION_SINGLE_DASH },
    { "input-file", 0, CLI_OPTION_REQUIRED_VALUE, "FILE", NULL, OPT_INPUT, 0 },
    { "exclude", 0, CLI_OPTION_REQUIRED_VALUE, "SPEC[,SPEC]", "do not scan these targets", OPT_EXCLUDE, 0 },
    { NULL, 'p', CLI_OPTION_REQUIRED_VALUE, "SPEC", "ports: 22, 1-1024, -p- (all), T:80,U:53, ssh,mysql", 'p', 0 },
    { "top-ports", 0, CLI_OPTION_REQUIRED_VALUE, "N",
      "the N ports most often found open (nmap-services);\ndefault: --top-ports 1000", OPT_TOP, 0 },
    { NULL, 'F', CLI_OPTION_NO_VALUE, NULL, "fast: the 100 ports most often found open", 'F', 0 },
    { NULL, '4', CLI_OPTION_NO_VALUE, NULL, "only IPv4 targets", '4', 0 },
    { NULL, '6', CLI_OPTION_NO_VALUE, NULL, "only IPv6 targets", '6', 0 },
    { NULL, 0, CLI_OPTION_NO_VALUE, NULL, "engines:", 0, CLI_OPTION_HEADING },
    { "engine", 'e', CLI_OPTION_REQUIRED_VALUE, "NAME",
      "syn (raw SYN probes; default as root), connect (default\notherwise), udp", 'e', 0 },
    { "sS", 0, CLI_OPTION_NO_VALUE, NULL, "TCP with the syn engine", OPT_SYN, CLI_OPTION_SINGLE_DASH },
    { "sT", 0, CLI_OPTION_NO_VALUE, NULL, "TCP with the connect engine", OPT_CONNECT, CLI_OPTION_SINGLE_DASH },
    { "sU", 0, CLI_OPTION_NO_VALUE, NULL, "UDP as well (-sS -sU, -sSU: both in one run)", OPT_UDP, CLI_OPTION_SINGLE_DASH },
    { NULL, 's', CLI_OPTION_REQUIRED_VALUE, "S|T|U", "the scan type", 's', CLI_OPTION_HIDDEN },
    { NULL, 0, CLI_OPTION_NO_VALUE, NULL, "timing:", 0, CLI_OPTION_HEADING },
    { NULL, 'T', CLI_OPTION_REQUIRED_VALUE, "0-5",
      "nmap's timing template: -T0 paranoid, -T1 sneaky, -T2 polite,\n-T3 normal, -T4 aggressive, "
      "-T5 insane (the options\nbelow override it)", 'T', 0 },
    { "rate", 0, CLI_OPTION_REQUIRED_VALUE, "PPS",
      "probes per second (0 = unlimited; default unlimited for\n"
      "this host's own addresses, 2000 otherwise)", OPT_RATE, 0 },
    { "max-inflight", 0, CLI_OPTION_REQUIRED_VALUE, "N", "probes waiting for an answer at once", OPT_INFLIGHT, 0 },
    { "timeout", 0, CLI_OPTION_REQUIRED_VALUE, "DURATION",
      "longest wait for one answer (e.g. 500ms, 2s; default 1s)", OPT_TIMEOUT, 0 },
    { "retries", 0, CLI_OPTION_REQUIRED_VALUE, "N", "resends after silence (default 1)", OPT_RETRIES, 0 },
    { "threads", 0, CLI_OPTION_REQUIRED_VALUE, "N", "event loops / senders (default: one per core)", OPT_THREADS, 0 },
    { "shard", 0, CLI_OPTION_REQUIRED_VALUE, "I/N", "scan only the I-th of N interleaved shares (1-based)", OPT_SHARD, 0 },
    { "seed", 0, CLI_OPTION_REQUIRED_VALUE, "N", "the order of probes (a permutation; default random)", OPT_SEED, 0 },
    { NULL, 0, CLI_OPTION_NO_VALUE, NULL, "output:", 0, CLI_OPTION_HEADING },
    { "banners", 0, CLI_OPTION_NO_VALUE, NULL, "read the first bytes each open TCP service sends", OPT_BANNERS, 0 },
    { "local", 0, CLI_OPTION_NO_VALUE, NULL,
      "compare the result for this host's addresses with its\nlive sockets and explain the differences", OPT_LOCAL, 0 },
    { "json", 0, CLI_OPTION_NO_VALUE, NULL, "one JSON document on stdout", OPT_JSON, 0 },
    { "ndjson", 0, CLI_OPTION_NO_VALUE, NULL, "one JSON object per probe, streamed as results arrive", OPT_NDJSON, 0 },
    { "oX", 0, CLI_OPTION_REQUIRED_VALUE, "FILE", "also write nmap's XML format to FILE (- for stdout)", OPT_XML, CLI_OPTION_SINGLE_DASH },
    { "xml", 0, CLI_OPTION_REQUIRED_VALUE, "FILE", NULL, OPT_XML, 0 },
    { "oN", 0, CLI_OPTION_REQUIRED_VALUE, "FILE", "also write nmap's normal output to FILE", OPT_NORMAL,
      CLI_OPTION_SINGLE_DASH },
    { "oG", 0, CLI_OPTION_REQUIRED_VALUE, "FILE", "also write nmap's grepable output to FILE", OPT_GREPABLE,
      CLI_OPTION_SINGLE_DASH },
    { "oA", 0, CLI_OPTION_REQUIRED_VALUE, "BASE", "-oN BASE.nmap -oG BASE.gnmap -oX BASE.xml", OPT_ALL_FORMATS,
      CLI_OPTION_SINGLE_DASH },
    { "open", 0, CLI_OPTION_NO_VALUE, NULL, "only ports open or open|filtered (and their hosts)", OPT_OPEN, 0 },
    { "reason", 0, CLI_OPTION_NO_VALUE, NULL,
      "the reason of each state (the table always has it;\nadds nmap's REASON column to -oN)", OPT_REASON, 0 },
    { NULL, 'v', CLI_OPTION_OPTIONAL_VALUE, "LEVEL",
      "verbose: open ports on stderr as found, timing at the\nend (-vv or -v2: and the timing before)", 'v', 0 },
    { "no-progress", 0, CLI_OPTION_NO_VALUE, NULL, "no progress line on a terminal", OPT_NO_PROGRESS, 0 },
    { NULL, 'n', CLI_OPTION_NO_VALUE, NULL,
      "accepted for nmap users (portreg never resolves results\nback to names)", 'n', 0 },
    { "Pn", 0, CLI_OPTION_NO_VALUE, NULL, "accepted for nmap users (portreg never pings first)",
      OPT_NO_PING, CLI_OPTION_SINGLE_DASH },
    { NULL, 'P', CLI_OPTION_REQUIRED_VALUE, "n", "no ping", 'P', CLI_OPTION_HIDDEN },
    CLI_OPTION_HELP_ENTRY,
    CLI_OPTIONS_END,
};

#define DEFAULT_REMOTE_RATE 2000.0

struct scan_cli {
    const struct cli_context *ctx;
    struct target_set targets;
    struct portspec spec;
    bool spec_given;
    uint32_t top_ports;
    /* scan types: a TCP engine (syn or connect; NULL when none was asked) and UDP, as nmap's
     * -sS -sU; with neither, the default TCP engine */
    const struct scan_engine *tcp_engine;
    bool udp;
    struct scan_pass passes[SCAN_PASSES_MAX];
    size_t pass_count;
    struct scan_job job;
    bool rate_given;
    struct scan_progress progress;
    struct scan_collect collect;
    bool json, ndjson, progress_bar, compare_local, only_open, reason, fast;
    int verbose;
    bool progress_shown;                      /* the progress line is drawn: -v clears it first */
    int template_level;                       /* -T: 0..5, -1 when not given */
    bool inflight_given, timeout_given, threads_given;
    const char *xml_path, *normal_path, *grepable_path;
    char *all_formats_paths[3];               /* -oA BASE: BASE.nmap, BASE.gnmap, BASE.xml */
    struct registry_index *ix;
    struct socket_view_context view;   /* for IANA service names */
    struct host_addresses host;
    struct accept_queue_fix queue_fix;   /* full accept queues: open, not filtered */
    int collect_error;
    double elapsed;
    time_t started;
    char args[1024];
};

/* ---- option parsing ---- */

static int parse_count(const char *option, const char *text, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(text, &end, 10);
    if (!*text || *end || errno || text[0] == '-' || n > max)
        return cli_usage_error("scan", "%s \"%s\": expected a number from 0 to %" PRIu64, option,
                               text, max);
    *out = n;
    return CLI_EXIT_OK;
}

/* "500ms", "2s", "1.5s", "250" (milliseconds) */
static int parse_duration_ms(const char *option, const char *text, uint32_t *out)
{
    char *end;
    errno = 0;
    double value = strtod(text, &end);
    double scale = 1;
    if (strcmp(end, "ms") == 0 || *end == '\0')
        scale = 1;
    else if (strcmp(end, "s") == 0)
        scale = 1000;
    else
        value = -1;
    value *= scale;
    if (end == text || errno || !(value >= 1) || value > 3600000)
        return cli_usage_error("scan", "%s \"%s\": expected a duration such as 500ms or 2s",
                               option, text);
    *out = (uint32_t)value;
    return CLI_EXIT_OK;
}

static int parse_shard(const char *text, struct scan_job *job)
{
    unsigned index, count;
    char tail;
    if (sscanf(text, "%u/%u%c", &index, &count, &tail) != 2 || count == 0 || index == 0 ||
        index > count)
        return cli_usage_error("scan", "--shard \"%s\": expected I/N with 1 <= I <= N", text);
    job->shard_index = index - 1;
    job->shard_count = count;
    return CLI_EXIT_OK;
}

/* nmap's timing templates (nmap.cc, case 'T') on portreg's timing: nmap's scan delay is a
 * --rate (one probe per delay), max-parallelism 1 is --max-inflight 1 and one thread, its
 * max-, initial- and min-rtt-timeout are --timeout and the RTT table's first timeout and floor.
 * nmap's max-retries (10, 6, 2) are ceilings of an adaptive retransmission; portreg resends a
 * fixed number of times (1 by default, below every ceiling), so no template changes --retries.
 * -T3 (normal) is the default: nothing changes. 0 in a field: portreg's default. */
struct timing_template {
    const char *name;
    double rate_pps;
    uint32_t max_inflight, threads, timeout_ms, initial_timeout_ms, min_timeout_ms;
};
static const struct timing_template timing_templates[6] = {
    { "paranoid", 1.0 / 300, 1, 1, 300000, 300000, 100 },   /* 5 min between probes */
    { "sneaky", 1.0 / 15, 1, 1, 15000, 15000, 100 },        /* 15 s */
    { "polite", 2.5, 1, 1, 10000, 1000, 100 },              /* 400 ms */
    { "normal", 0, 0, 0, 0, 0, 0 },
    { "aggressive", 0, 0, 0, 1250, 500, 100 },
    { "insane", 0, 0, 0, 300, 250, 50 },
};

/* -v, -vv, -vvv and nmap's -v<level> (-v3); the value is optional, so getopt hands over
 * what follows the v in the same word ("v" of -vv, "3" of -v3, NULL for -v). */
static int add_verbosity(int *verbose, const char *value)
{
    if (!value) {
        (*verbose)++;
        return CLI_EXIT_OK;
    }
    if (value[0] >= '0' && value[0] <= '9' && value[1] == '\0') {
        *verbose = value[0] - '0';
        return CLI_EXIT_OK;
    }
    if (strspn(value, "v") != strlen(value))
        return cli_usage_error("scan", "-v%s: a verbosity is -v, -vv... or -v0 to -v9", value);
    *verbose += 1 + (int)strlen(value);
    return CLI_EXIT_OK;
}

/* -T4, -T 4, -Taggressive, -T Aggressive (nmap compares names without case) */
static int parse_template(const char *text, int *level)
{
    if (text[0] >= '0' && text[0] <= '5' && text[1] == '\0') {
        *level = text[0] - '0';
        return CLI_EXIT_OK;
    }
    for (int i = 0; i < 6; i++)
        if (strcasecmp(text, timing_templates[i].name) == 0) {
            *level = i;
            return CLI_EXIT_OK;
        }
    return cli_usage_error("scan", "-T%s: a timing template is 0-5 or paranoid, sneaky, polite, normal, "
                           "aggressive or insane", text);
}

/* The template's values for the options not given on the command line. */
static void apply_template(struct scan_cli *s)
{
    if (s->template_level < 0)
        return;
    const struct timing_template *t = &timing_templates[s->template_level];
    if (t->rate_pps > 0 && !s->rate_given) {
        s->job.rate_pps = t->rate_pps;
        s->rate_given = true;   /* a template's rate is asked for: not the remote default */
    }
    if (t->max_inflight && !s->inflight_given)
        s->job.max_inflight = t->max_inflight;
    if (t->threads && !s->threads_given)
        s->job.threads = t->threads;
    if (t->timeout_ms && !s->timeout_given) {
        s->job.timeout_ms = t->timeout_ms;
        s->job.initial_timeout_ms = t->initial_timeout_ms;
        s->job.min_timeout_ms = t->min_timeout_ms;
    } else if (t->timeout_ms) {   /* --timeout caps the template's first timeout and floor */
        s->job.initial_timeout_ms = t->initial_timeout_ms;
        s->job.min_timeout_ms = t->min_timeout_ms;
    }
}

/* The timing a run used, every default resolved as the engines resolve it. */
static void describe_timing(const struct scan_cli *s, struct scan_timing_info *out)
{
    memset(out, 0, sizeof *out);
    out->template_level = s->template_level;
    out->template_name = s->template_level >= 0 ? timing_templates[s->template_level].name : NULL;
    out->rate_pps = s->job.rate_pps;
    out->max_inflight = s->job.max_inflight;
    out->threads = s->job.threads;
    uint32_t min_us, initial_us, max_us;
    scan_job_rtt_bounds(&s->job, 1000, 100000, &min_us, &initial_us, &max_us);
    out->timeout_ms = max_us / 1000;
    out->initial_timeout_ms = initial_us / 1000;
    out->min_timeout_ms = min_us / 1000;
    out->retries = SCAN_JOB_RETRIES(&s->job);
}

static void print_timing(const char *when, const struct scan_timing_info *t)
{
    char level[32] = "", rate[48], inflight[32];
    if (t->template_name)
        snprintf(level, sizeof level, " -T%d (%s)", t->template_level, t->template_name);
    if (t->rate_pps > 0)
        snprintf(rate, sizeof rate, "%g probes/s", t->rate_pps);
    else
        snprintf(rate, sizeof rate, "unlimited");
    if (t->max_inflight)
        snprintf(inflight, sizeof inflight, "%u", t->max_inflight);
    else
        snprintf(inflight, sizeof inflight, "from the limits");
    fprintf(stderr, "portreg: scan: %s timing%s: timeout %u ms (first %u ms, at least %u ms), %u retr%s, "
            "rate %s, in flight %s\n", when, level, t->timeout_ms, t->initial_timeout_ms, t->min_timeout_ms,
            t->retries, t->retries == 1 ? "y" : "ies", rate, inflight);
}

/* --engine NAME: exactly that engine (the last --engine wins, as before -sU could be added) */
static int set_engine(struct scan_cli *s, const char *name, const char *option)
{
    const struct scan_engine *e = scan_engine_find(name);
    if (!e)
        return cli_usage_error("scan", "%s \"%s\": unknown engine (syn, connect or udp)", option, name);
    s->udp = e->proto == REGISTRY_PROTO_UDP;
    s->tcp_engine = e->proto == REGISTRY_PROTO_UDP ? NULL : e;
    return CLI_EXIT_OK;
}

/* -sS, -sT, -sU and nmap's combined -sSU, -sTU: one TCP scan type and UDP may be combined */
static int add_scan_types(struct scan_cli *s, const char *letters)
{
    if (!letters[0])
        return cli_usage_error("scan", "-s: give a scan type: -sS, -sT or -sU");
    for (const char *l = letters; *l; l++) {
        if (*l == 'U') {
            s->udp = true;
            continue;
        }
        const struct scan_engine *e = *l == 'S' ? &scan_engine_syn : *l == 'T' ? &scan_engine_connect : NULL;
        if (!e)
            return cli_usage_error("scan", "-s%s: only -sS, -sT and -sU (and -sSU, -sTU)", letters);
        if (s->tcp_engine && s->tcp_engine != e)
            return cli_usage_error("scan", "-sS and -sT exclude each other: one TCP scan type");
        s->tcp_engine = e;
    }
    return CLI_EXIT_OK;
}

/* -oA BASE: BASE.nmap, BASE.gnmap and BASE.xml, as nmap (not "-": three formats cannot share
 * stdout) */
static int set_all_formats(struct scan_cli *s, const char *base)
{
    if (strcmp(base, "-") == 0 || !base[0])
        return cli_usage_error("scan", "-oA \"%s\": a base name for three files (.nmap, .gnmap, .xml)", base);
    static const char *const suffix[3] = { ".nmap", ".gnmap", ".xml" };
    for (size_t i = 0; i < 3; i++) {
        free(s->all_formats_paths[i]);
        if (asprintf(&s->all_formats_paths[i], "%s%s", base, suffix[i]) < 0) {
            s->all_formats_paths[i] = NULL;
            return cli_error(CLI_EXIT_FAILURE, "scan", "out of memory");
        }
    }
    s->normal_path = s->all_formats_paths[0];
    s->grepable_path = s->all_formats_paths[1];
    s->xml_path = s->all_formats_paths[2];
    return CLI_EXIT_OK;
}

static int add_target(struct scan_cli *s, const char *text, bool exclude, bool file)
{
    struct pr_error err;
    pr_error_clear(&err);
    int rc = file ? target_set_add_file(&s->targets, text, &err)
           : exclude ? target_set_exclude(&s->targets, text, &err)
                     : target_set_add(&s->targets, text, &err);
    if (rc == 0)
        return CLI_EXIT_OK;
    if (file)   /* the message names file:line:column */
        return cli_error_from(cli_exit_for_input_error(rc), "scan", &err);
    if (err.column)
        return cli_error(CLI_EXIT_USAGE, "scan", "%s\"%s\": column %u: %s", exclude ? "--exclude " : "",
                         text, cli_argument_column(text, err.line, err.column), err.message);
    return cli_error(rc == -ENOENT || rc == -EINVAL || rc == -E2BIG ? CLI_EXIT_USAGE : cli_exit_for_error(rc),
                     "scan", "%s%s", exclude ? "--exclude: " : "", err.message);
}

/* ---- ports ---- */

/* The ports of one pass: the spec's ranges for proto (those without a prefix are for every
 * protocol) and --top-ports of proto. 1 when the pass has no port (the caller decides). */
static int build_ports(struct scan_cli *s, struct scan_pass *pass)
{
    uint8_t proto = pass->engine->proto;
    struct port_set chosen;
    port_set_clear(&chosen);
    size_t count = 0;
    if (s->spec_given) {
        for (size_t i = 0; i < s->spec.count; i++) {
            const struct portspec_range *r = &s->spec.ranges[i];
            if (r->proto != REGISTRY_PROTO_ANY && r->proto != proto)
                continue;
            for (uint32_t p = r->first; p <= r->last; p++) {
                if (p == 0 && !(r->first == 0 && r->last == 0))
                    continue;   /* "-" and "-1024" mean from port 1, as nmap's -p- */
                if (!port_set_has(&chosen, (uint16_t)p)) {
                    port_set_add(&chosen, (uint16_t)p);
                    count++;
                }
            }
        }
    }
    uint32_t top = s->fast ? 100 : s->spec_given ? s->top_ports : (s->top_ports ? s->top_ports : 1000);
    if (top) {
        if (!s->ix) {
            struct registry_paths paths;
            struct registry_open_report report;
            if (cli_open_registry(s->ctx, &paths, &s->ix, &report) != CLI_EXIT_OK)
                s->ix = NULL;
        }
        uint32_t n = 0;
        uint16_t port;
        while (n < top && s->ix && registry_index_top_port(s->ix, proto, n, &port)) {
            if (port && !port_set_has(&chosen, port)) {
                port_set_add(&chosen, port);
                count++;
            }
            n++;
        }
        if (n < top && !s->spec_given && !s->fast) {
            cli_warning("scan: the registry knows the open-frequency of only %u %s ports "
                        "(nmap-services); scanning 1-1024 as well", n, registry_proto_name(proto));
            for (uint32_t p = 1; p <= 1024; p++)
                if (!port_set_has(&chosen, (uint16_t)p)) {
                    port_set_add(&chosen, (uint16_t)p);
                    count++;
                }
        }
    }
    if (count == 0)
        return CLI_EXIT_NO;
    pass->ports = malloc(count * sizeof *pass->ports);
    if (!pass->ports)
        return cli_error(CLI_EXIT_FAILURE, "scan", "out of memory");
    for (uint32_t p = 0; p < 65536; p++)
        if (port_set_has(&chosen, (uint16_t)p))
            pass->ports[pass->port_count++] = (uint16_t)p;
    return CLI_EXIT_OK;
}

/* The passes of the run: TCP (the engine asked, or the default) and UDP. A U: or T: range of
 * the spec for a protocol no scan type covers is said, as nmap does, never dropped silently;
 * --banners needs connections, so the syn engine gives way to connect (and says so). */
static int build_passes(struct scan_cli *s)
{
    if (!s->tcp_engine && !s->udp)
        s->tcp_engine = scan_engine_default_tcp();
    if (s->job.banners && s->tcp_engine && s->tcp_engine->proto == REGISTRY_PROTO_TCP &&
        strcmp(s->tcp_engine->name, "connect") != 0) {
        cli_warning("scan: --banners reads from connections: TCP is scanned with the connect engine, "
                    "not %s", s->tcp_engine->name);
        s->tcp_engine = &scan_engine_connect;
    }
    if (s->spec_given) {
        bool named[REGISTRY_PROTO_COUNT] = { false };
        for (size_t i = 0; i < s->spec.count; i++)
            if (s->spec.ranges[i].proto < REGISTRY_PROTO_COUNT)
                named[s->spec.ranges[i].proto] = true;
        if (named[REGISTRY_PROTO_UDP] && !s->udp)
            cli_warning("scan: -p names UDP ports (U:) but no UDP scan type is given: add -sU to "
                        "scan them; they are not scanned");
        if (named[REGISTRY_PROTO_TCP] && !s->tcp_engine)
            cli_warning("scan: -p names TCP ports (T:) but no TCP scan type is given: add -sS or "
                        "-sT to scan them; they are not scanned");
        if (named[REGISTRY_PROTO_SCTP])
            cli_warning("scan: -p names SCTP ports (S:): portreg does not scan SCTP; they are not "
                        "scanned");
    }
    const struct scan_engine *wanted[SCAN_PASSES_MAX] = { s->tcp_engine, s->udp ? &scan_engine_udp : NULL };
    for (size_t i = 0; i < SCAN_PASSES_MAX; i++) {
        if (!wanted[i])
            continue;
        struct scan_pass *pass = &s->passes[s->pass_count];
        pass->engine = wanted[i];
        int rc = build_ports(s, pass);
        if (rc == CLI_EXIT_NO) {
            if (s->tcp_engine && s->udp)
                cli_warning("scan: -p names no %s port: no %s scan", registry_proto_name(pass->engine->proto),
                            registry_proto_name(pass->engine->proto));
            continue;
        }
        if (rc != CLI_EXIT_OK)
            return rc;
        s->pass_count++;
    }
    if (s->pass_count == 0)
        return cli_usage_error("scan", "-p: no %s ports in the spec",
                               s->tcp_engine && s->udp ? "tcp or udp" : s->udp ? "udp" : "tcp");
    return CLI_EXIT_OK;
}

/* ---- results ---- */

static void emit_result(void *context, const struct scan_result *in)
{
    struct scan_cli *s = context;
    struct scan_result r = *in;
    accept_queue_fix_apply(&s->queue_fix, &r);
    if (s->collect_error == 0)
        s->collect_error = scan_collect_add(&s->collect, &r);
    bool open = r.state == SCAN_STATE_OPEN || r.state == SCAN_STATE_OPEN_FILTERED;
    if (s->ndjson && (open || !s->only_open)) {
        struct scan_cli_view v = { &s->view, s->passes, s->pass_count, &s->collect, s->only_open, s->reason,
                                   s->job.banners };
        scan_output_ndjson_line(&v, &r);
    }
    if (s->verbose && r.state == SCAN_STATE_OPEN) {   /* as nmap -v, while the scan runs */
        char addr[64], reason[48];
        scan_address_format(&r.target, addr, sizeof addr);
        const char *name = target_set_name(&s->targets, &r.target);
        fprintf(stderr, "%sDiscovered open port %u/%s on %s%s%s%s", s->progress_shown ? "\r\033[K" : "",
                r.port, registry_proto_name(r.proto), name ? name : "", name ? " (" : "", addr, name ? ")" : "");
        if (s->verbose > 1)
            fprintf(stderr, " (%s, %.3f ms)", scan_cli_reason(r.reason, r.icmp_type, r.icmp_code, r.error, reason,
                                                             sizeof reason), r.rtt_us / 1000.0);
        fputc('\n', stderr);
    }
}

/* ---- progress ---- */

struct progress_thread {
    struct scan_cli *cli;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
};

static void *progress_main(void *arg)
{
    struct progress_thread *p = arg;
    struct scan_progress *g = &p->cli->progress;
    uint64_t start = scan_now_ns();
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 250 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->wake, &p->lock, &until);
        if (p->stop)
            break;
        uint64_t total = atomic_load(&g->total), done = atomic_load(&g->done);
        double seconds = (double)(scan_now_ns() - start) / 1e9;
        double rate = seconds > 0 ? (double)done / seconds : 0;
        double eta = rate > 0 ? (double)(total - done) / rate : 0;
        int width = 30, filled = total ? (int)((double)width * (double)done / (double)total) : 0;
        fprintf(stderr, "\r[%.*s%*s] %3d%%  %" PRIu64 "/%" PRIu64 "  %.0f/s  ETA %d:%02d  %" PRIu64
                " open ", filled, "##############################", width - filled, "",
                total ? (int)(100.0 * (double)done / (double)total) : 0, done, total, rate,
                (int)eta / 60, (int)eta % 60, (uint64_t)atomic_load(&g->open));
    }
    fprintf(stderr, "\r%*s\r", 100, "");
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* ---- the command ---- */

static int run_scan(struct scan_cli *s)
{
    struct pr_error err;
    pr_error_clear(&err);
    for (size_t i = 0; i < s->pass_count; i++)
        if (s->passes[i].engine->usable(&err) < 0)
            return cli_error(err.code == -EPERM ? CLI_EXIT_FAILURE : cli_exit_for_error(err.code), "scan",
                             "the %s engine cannot run here: %s", s->passes[i].engine->name, err.message);
    if (host_addresses_read(&s->host, &err) < 0)
        return cli_error_from(CLI_EXIT_FAILURE, "scan", &err);
    accept_queue_fix_init(&s->queue_fix, &s->host, NULL, NULL);
    if (!s->rate_given && !host_addresses_cover(&s->host, &s->targets)) {
        s->job.rate_pps = DEFAULT_REMOTE_RATE;
        cli_warning("scan: targets beyond this host: at most %.0f probes/s (--rate to change)",
                    DEFAULT_REMOTE_RATE);
    }
    s->job.targets = &s->targets;
    struct scan_job jobs[SCAN_PASSES_MAX];
    uint64_t probes = 0;
    for (size_t i = 0; i < s->pass_count; i++) {
        jobs[i] = s->job;
        jobs[i].ports = s->passes[i].ports;
        jobs[i].port_count = s->passes[i].port_count;
        if (scan_job_prepare(&jobs[i], &err) < 0)
            return cli_error_from(CLI_EXIT_USAGE, "scan", &err);
        s->passes[i].probes = jobs[i].probe_count;
        probes += jobs[i].probe_count;
    }
    if (scan_collect_init(&s->collect, &s->targets) < 0)
        return cli_error(CLI_EXIT_FAILURE, "scan", "out of memory");
    atomic_store(&s->progress.total, probes);

    struct scan_sink sink;
    scan_sink_init(&sink, emit_result, s, &s->progress);
    struct progress_thread progress = { .cli = s };
    bool show_progress = s->progress_bar && s->ctx->stderr_is_tty;
    struct scan_timing_info timing;
    describe_timing(s, &timing);
    if (s->verbose > 1)
        print_timing("the", &timing);
    if (show_progress) {
        pthread_mutex_init(&progress.lock, NULL);
        pthread_cond_init(&progress.wake, NULL);
        if (pthread_create(&progress.thread, NULL, progress_main, &progress) != 0)
            show_progress = false;
    }
    s->progress_shown = show_progress;
    s->started = time(NULL);
    uint64_t t0 = scan_now_ns();
    int rc = 0;
    for (size_t i = 0; i < s->pass_count && rc == 0; i++)
        rc = s->passes[i].engine->run(&jobs[i], &sink, &err);
    s->elapsed = (double)(scan_now_ns() - t0) / 1e9;
    if (show_progress) {
        pthread_mutex_lock(&progress.lock);
        progress.stop = true;
        pthread_cond_signal(&progress.wake);
        pthread_mutex_unlock(&progress.lock);
        pthread_join(progress.thread, NULL);
        pthread_mutex_destroy(&progress.lock);
        pthread_cond_destroy(&progress.wake);
    }
    scan_sink_destroy(&sink);
    if (rc < 0)
        return cli_error_from(CLI_EXIT_FAILURE, "scan", &err);
    if (s->collect_error)
        return cli_error(CLI_EXIT_FAILURE, "scan", "keeping the results: %s", strerror(-s->collect_error));
    if (s->collect.results != probes)
        cli_warning("scan: the engines reported %" PRIu64 " results for %" PRIu64 " probes: "
                    "this is a bug, please report it", s->collect.results, probes);
    scan_collect_sort(&s->collect);

    struct scan_cli_view v = { &s->view, s->passes, s->pass_count, &s->collect, s->only_open, s->reason,
                               s->job.banners };
    struct scan_run_info info = {
        .elapsed = s->elapsed, .started = s->started, .probes = probes,
        .shard_index = jobs[0].shard_index, .shard_count = jobs[0].shard_count, .seed = s->job.seed,
        .args = s->args, .queue_full_corrected = s->queue_fix.corrected,
        .resent = atomic_load(&s->progress.retries), .verbose = s->verbose, .timing = timing,
    };
    if (s->verbose) {   /* as nmap -v's statistics at the end */
        fprintf(stderr, "portreg: scan: %" PRIu64 " probe%s in %.2f s (%.0f probes/s), %" PRIu64 " resent after "
                "silence\n", probes, probes == 1 ? "" : "s", s->elapsed,
                s->elapsed > 0 ? (double)probes / s->elapsed : 0.0, info.resent);
        print_timing("its", &timing);
    }
    struct local_diffs diffs = { 0 };
    if (s->compare_local && scan_local_compare(&v, &s->host, &diffs, &err) < 0)
        return cli_error_from(CLI_EXIT_FAILURE, "scan: --local", &err);
    int out_rc = CLI_EXIT_OK;
    /* -oX, -oN, -oG (and -oA's three): "-" is stdout, and then stdout is that format alone */
    bool file_on_stdout = false;
    if (s->xml_path && scan_output_xml(&v, &info, s->xml_path, &err) < 0 && out_rc == CLI_EXIT_OK)
        out_rc = cli_error_from(cli_exit_for_output_error(err.code), "scan", &err);
    if (s->normal_path &&
        scan_output_text_file(&v, &info, s->normal_path, scan_output_normal, &err) < 0 && out_rc == CLI_EXIT_OK)
        out_rc = cli_error_from(cli_exit_for_output_error(err.code), "scan", &err);
    if (s->grepable_path &&
        scan_output_text_file(&v, &info, s->grepable_path, scan_output_grepable, &err) < 0 && out_rc == CLI_EXIT_OK)
        out_rc = cli_error_from(cli_exit_for_output_error(err.code), "scan", &err);
    const char *paths[3] = { s->xml_path, s->normal_path, s->grepable_path };
    for (size_t i = 0; i < 3; i++)
        file_on_stdout |= paths[i] && strcmp(paths[i], "-") == 0;
    if (s->json)
        scan_output_json(s->ctx, &v, &info, s->compare_local ? &diffs : NULL);
    else if (!s->ndjson && !file_on_stdout)   /* -oX -: stdout is the XML alone, as with nmap */
        scan_output_table(s->ctx, &v, &info, s->compare_local ? &diffs : NULL);
    local_diffs_free(&diffs);
    if (out_rc != CLI_EXIT_OK)
        return out_rc;
    if (s->collect.totals[SCAN_STATE_ERROR]) {
        uint64_t failed = s->collect.totals[SCAN_STATE_ERROR];
        cli_warning("scan: %" PRIu64 " probe%s failed with local errors (see the error column); "
                    "%s not counted as closed", failed, failed == 1 ? "" : "s", failed == 1 ? "it is" : "they are");
        return CLI_EXIT_FAILURE;
    }
    return s->collect.totals[SCAN_STATE_OPEN] ? CLI_EXIT_OK : CLI_EXIT_NO;
}

static void record_args(struct scan_cli *s, int argc, char **argv)
{
    size_t used = (size_t)snprintf(s->args, sizeof s->args, "portreg");
    for (int i = 0; i < argc && used < sizeof s->args; i++)
        used += (size_t)snprintf(s->args + used, sizeof s->args - used, " %s", argv[i]);
}

int cmd_scan(int argc, char **argv, struct cli_context *ctx)
{
    struct scan_cli s;
    memset(&s, 0, sizeof s);
    s.ctx = ctx;
    s.progress_bar = true;
    s.template_level = -1;
    target_set_init(&s.targets);
    s.job.seed = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ (uint64_t)clock();
    record_args(&s, argc, argv);
    /* nmap's other -o and -i forms (-oS, -oM, -iR) are not there: say which are */
    static const char *const known[] = { "-iL", "-oX", "-oN", "-oG", "-oA" };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strncmp(argv[i], "-o", 2) != 0 && strncmp(argv[i], "-i", 2) != 0)
            continue;
        bool ok = false;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            ok |= strcmp(argv[i], known[k]) == 0;
        if (!ok)
            return cli_usage_error("scan", "%s: only -iL FILE and -oX, -oN, -oG FILE, -oA BASE", argv[i]);
        i++;   /* the file name that follows may start with -o or -i */
    }
    int rc = CLI_EXIT_OK;
    int c;
    uint64_t n;
    struct cli_option_parser parser;
    cli_options_begin(&parser, "scan", cli_scan_options, argc, argv, 0);
    while (rc == CLI_EXIT_OK && (c = cli_options_next(&parser)) != CLI_OPTIONS_DONE) {
        switch (c) {
        case 'p':
            rc = cli_parse_port_spec(ctx, "scan", "-p", optarg, &s.spec, &s.ix);
            s.spec_given = true;
            break;
        case OPT_TOP:
            rc = parse_count("--top-ports", optarg, 65535, &n);
            if (rc == CLI_EXIT_OK && n == 0)
                rc = cli_usage_error("scan", "--top-ports \"%s\": expected 1 or more", optarg);
            s.top_ports = (uint32_t)n;
            break;
        case 'e': rc = set_engine(&s, optarg, "--engine"); break;
        case 's': rc = add_scan_types(&s, optarg); break;
        case OPT_SYN: rc = add_scan_types(&s, "S"); break;
        case OPT_CONNECT: rc = add_scan_types(&s, "T"); break;
        case OPT_UDP: rc = add_scan_types(&s, "U"); break;
        case OPT_INPUT: rc = add_target(&s, optarg, false, true); break;
        case OPT_XML: s.xml_path = optarg; break;
        case OPT_NORMAL: s.normal_path = optarg; break;
        case OPT_GREPABLE: s.grepable_path = optarg; break;
        case OPT_ALL_FORMATS: rc = set_all_formats(&s, optarg); break;
        case OPT_OPEN: s.only_open = true; break;
        case OPT_REASON: s.reason = true; break;
        case 'v': rc = add_verbosity(&s.verbose, optarg); break;
        case 'F': s.fast = true; break;
        case 'T': rc = parse_template(optarg, &s.template_level); break;
        case 'P':
            if (strcmp(optarg, "n") != 0)
                rc = cli_usage_error("scan", "-P%s: only -Pn (portreg never pings first)", optarg);
            break;
        case 'n': case OPT_NO_PING: break;
        case '4': s.targets.family_filter = AF_INET; break;
        case '6': s.targets.family_filter = AF_INET6; break;
        case OPT_EXCLUDE: rc = add_target(&s, optarg, true, false); break;
        case OPT_RATE: {
            char *end;
            double rate = strtod(optarg, &end);
            if (end == optarg || *end || !(rate >= 0) || rate > 1e9)
                rc = cli_usage_error("scan", "--rate \"%s\": expected probes per second (0 = "
                                     "unlimited)", optarg);
            s.job.rate_pps = rate;
            s.rate_given = true;
            break;
        }
        case OPT_INFLIGHT:
            rc = parse_count("--max-inflight", optarg, 1000000, &n);
            s.job.max_inflight = (uint32_t)n;
            s.inflight_given = true;
            break;
        case OPT_TIMEOUT:
            rc = parse_duration_ms("--timeout", optarg, &s.job.timeout_ms);
            s.timeout_given = true;
            break;
        case OPT_RETRIES:
            rc = parse_count("--retries", optarg, 20, &n);
            s.job.retries = n == 0 ? SCAN_RETRIES_NONE : (uint32_t)n;
            break;
        case OPT_THREADS:
            rc = parse_count("--threads", optarg, 256, &n);
            s.job.threads = (uint32_t)n;
            s.threads_given = n != 0;
            break;
        case OPT_SHARD: rc = parse_shard(optarg, &s.job); break;
        case OPT_SEED: rc = parse_count("--seed", optarg, UINT64_MAX, &s.job.seed); break;
        case OPT_BANNERS: s.job.banners = true; break;
        case OPT_LOCAL: s.compare_local = true; break;
        case OPT_JSON: s.json = true; break;
        case OPT_NDJSON: s.ndjson = true; break;
        case OPT_NO_PROGRESS: s.progress_bar = false; break;
        case 'h': cli_options_print_help(stdout, scan_usage, cli_scan_options, scan_usage_tail); goto out;
        default:
            rc = cli_options_error(&parser);
        }
    }
    /* GNU getopt moved the targets after the options */
    while (rc == CLI_EXIT_OK && optind < argc)
        rc = add_target(&s, argv[optind++], false, false);
    if (rc != CLI_EXIT_OK)
        goto out;
    if (s.json && s.ndjson) {
        rc = cli_usage_error("scan", "--json and --ndjson exclude each other");
        goto out;
    }
    {
        const char *names[3] = { "-oX", "-oN", "-oG" };
        const char *paths[3] = { s.xml_path, s.normal_path, s.grepable_path };
        const char *on_stdout = NULL;
        for (size_t i = 0; i < 3 && rc == CLI_EXIT_OK; i++) {
            if (!paths[i] || strcmp(paths[i], "-") != 0)
                continue;
            if (on_stdout)
                rc = cli_usage_error("scan", "%s - and %s - both write to stdout", on_stdout, names[i]);
            else if (s.json || s.ndjson)
                rc = cli_usage_error("scan", "%s - and --%s both write to stdout", names[i], s.json ? "json" : "ndjson");
            on_stdout = names[i];
        }
        if (rc != CLI_EXIT_OK)
            goto out;
    }
    if (s.fast && (s.spec_given || s.top_ports)) {   /* as nmap: -F is a port list of its own */
        rc = cli_usage_error("scan", "-F (the top 100 ports) and %s exclude each other", s.spec_given ? "-p" : "--top-ports");
        goto out;
    }
    apply_template(&s);
    if (s.targets.count == 0) {
        rc = cli_usage_error("scan", "no targets (an address, CIDR block, range or host name; "
                             "or -iL FILE)");
        goto out;
    }
    struct pr_error err;
    pr_error_clear(&err);
    if (target_set_finish(&s.targets, &err) < 0) {
        rc = cli_error_from(err.code == -ENOENT || err.code == -E2BIG ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE,
                            "scan", &err);
        goto out;
    }
    rc = build_passes(&s);
    if (rc != CLI_EXIT_OK)
        goto out;
    if (!s.ix) {
        struct registry_paths paths;
        struct registry_open_report report;
        if (cli_open_registry(ctx, &paths, &s.ix, &report) != CLI_EXIT_OK)
            s.ix = NULL;   /* warned; no SERVICE column */
    }
    s.view.registry = s.ix;
    s.view.cache = socket_view_cache_new();
    rc = run_scan(&s);
out:
    if (s.view.cache)
        socket_view_cache_free(s.view.cache);
    scan_collect_free(&s.collect);
    host_addresses_free(&s.host);
    target_set_free(&s.targets);
    portspec_free(&s.spec);
    for (size_t i = 0; i < s.pass_count; i++)
        free(s.passes[i].ports);
    for (size_t i = 0; i < 3; i++)
        free(s.all_formats_paths[i]);
    registry_index_close(s.ix);
    return rc;
}
