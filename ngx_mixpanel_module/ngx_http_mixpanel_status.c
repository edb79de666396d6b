
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * mixpanel_status: the delivery counters of all workers, from the shared
 * zone, as JSON or, with ?format=prometheus, in Prometheus' text format;
 * with the queue's capacity and the age of its oldest event, from what
 * each live worker reports.
 */


#include "ngx_http_mixpanel_module.h"


typedef struct {
    ngx_str_t                      name;
    ngx_str_t                      reason;
    ngx_str_t                      help;
    size_t                         offset;
} ngx_http_mixpanel_counter_t;


typedef struct {
    ngx_atomic_uint_t              capacity;
    ngx_atomic_uint_t              oldest_age;
} ngx_http_mixpanel_queue_stat_t;


static ngx_int_t ngx_http_mixpanel_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_mixpanel_status_refuse(ngx_http_request_t *r,
    ngx_str_t *format);
static void ngx_http_mixpanel_status_queue(ngx_http_mixpanel_counters_t *c,
    ngx_http_mixpanel_queue_stat_t *q);
static u_char *ngx_http_mixpanel_status_json(u_char *p,
    ngx_http_mixpanel_counters_t *c, ngx_http_mixpanel_queue_stat_t *q);
static u_char *ngx_http_mixpanel_status_prometheus(u_char *p,
    ngx_http_mixpanel_counters_t *c, ngx_http_mixpanel_queue_stat_t *q);


#define ngx_http_mixpanel_counter(name, reason, help, field)                  \
    { ngx_string(name), ngx_string(reason), ngx_string(help),                 \
      offsetof(ngx_http_mixpanel_counters_t, field) }

static ngx_http_mixpanel_counter_t  ngx_http_mixpanel_counters[] = {
    ngx_http_mixpanel_counter("events_queued", "",
        "Events and people updates accepted into a worker's queue.",
        events_queued),
    ngx_http_mixpanel_counter("events_sent", "",
        "Events and people updates Mixpanel accepted.", events_sent),
    ngx_http_mixpanel_counter("events_rejected", "",
        "Events and people updates Mixpanel refused as invalid.",
        events_rejected),
    ngx_http_mixpanel_counter("events_dropped", "queue_full",
        "Events dropped, by reason.", dropped_queue_full),
    ngx_http_mixpanel_counter("events_dropped", "retry_expired",
        "Events dropped, by reason.", dropped_retry_expired),
    ngx_http_mixpanel_counter("events_dropped", "shutdown",
        "Events dropped, by reason.", dropped_shutdown),
    ngx_http_mixpanel_counter("events_dropped", "worker_died",
        "Events dropped, by reason.", dropped_worker_died),
    ngx_http_mixpanel_counter("events_dropped", "memory",
        "Events dropped, by reason.", dropped_memory),
    ngx_http_mixpanel_counter("events_spooled", "",
        "Events written to the spool directory.", events_spooled),
    ngx_http_mixpanel_counter("events_replayed", "",
        "Spooled events sent again and accepted.", events_replayed),
    ngx_http_mixpanel_counter("events_replay_rejected", "",
        "Spooled events sent again and refused as invalid.",
        events_replay_rejected),
    ngx_http_mixpanel_counter("batches_sent", "",
        "Requests Mixpanel answered with success.", batches_sent),
    ngx_http_mixpanel_counter("retries", "",
        "Requests retried after 429, 5xx, timeouts or connection errors.",
        retries),
    ngx_http_mixpanel_counter("identify_sent", "",
        "$identify calls Mixpanel accepted.", identify_sent),
    { ngx_null_string, ngx_null_string, ngx_null_string, 0 }
};


static ngx_int_t
ngx_http_mixpanel_status_handler(ngx_http_request_t *r)
{
    size_t                          size;
    ngx_int_t                       rc;
    ngx_str_t                       format;
    ngx_buf_t                      *b;
    ngx_uint_t                      prometheus;
    ngx_chain_t                     out;
    ngx_http_mixpanel_counters_t   *c;
    ngx_http_mixpanel_main_conf_t  *mmcf;
    ngx_http_mixpanel_queue_stat_t  q;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mixpanel_module);
    c = mmcf->counters;

    prometheus = 0;

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK) {

        if (format.len == 10
            && ngx_strncmp(format.data, "prometheus", 10) == 0)
        {
            prometheus = 1;

        } else if (format.len != 4
                   || ngx_strncmp(format.data, "json", 4) != 0)
        {
            return ngx_http_mixpanel_status_refuse(r, &format);
        }
    }

    ngx_http_mixpanel_status_queue(c, &q);

    size = 6144 + sizeof(c->last_error) * 6;

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (prometheus) {
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4");
        b->last = ngx_http_mixpanel_status_prometheus(b->last, c, &q);

    } else {
        ngx_str_set(&r->headers_out.content_type, "application/json");
        b->last = ngx_http_mixpanel_status_json(b->last, c, &q);
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* an unknown ?format= is a mistake to say, not to answer with JSON */

static ngx_int_t
ngx_http_mixpanel_status_refuse(ngx_http_request_t *r, ngx_str_t *format)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    b = ngx_create_temp_buf(r->pool, sizeof("unknown format \"\": use "
                                            "\"json\" or \"prometheus\"\n")
                                     + 64);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_sprintf(b->last, "unknown format \"%*s\": use \"json\" or "
                          "\"prometheus\"\n",
                          (size_t) ngx_min(format->len, 64), format->data);

    ngx_str_set(&r->headers_out.content_type, "text/plain");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = NGX_HTTP_BAD_REQUEST;
    r->headers_out.content_length_n = b->last - b->pos;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * The live workers' capacities, summed, and the oldest event any of them
 * holds; a worker that has not reported for a while is gone.
 */

static void
ngx_http_mixpanel_status_queue(ngx_http_mixpanel_counters_t *c,
    ngx_http_mixpanel_queue_stat_t *q)
{
    time_t                            now, oldest;
    ngx_uint_t                        i;
    ngx_http_mixpanel_worker_stat_t  *w;

    now = ngx_time();

    q->capacity = 0;
    q->oldest_age = 0;

    for (i = 0; i < NGX_HTTP_MIXPANEL_WORKERS; i++) {
        w = &c->workers[i];

        if (w->pid == 0 || (time_t) w->seen + 10 < now) {
            continue;
        }

        q->capacity += w->capacity;
        oldest = (time_t) w->oldest;

        if (oldest && oldest < now
            && (ngx_atomic_uint_t) (now - oldest) > q->oldest_age)
        {
            q->oldest_age = now - oldest;
        }
    }
}


static u_char *
ngx_http_mixpanel_status_json(u_char *p, ngx_http_mixpanel_counters_t *c,
    ngx_http_mixpanel_queue_stat_t *q)
{
    size_t  len, i;
    u_char  ch;

    p = ngx_sprintf(p, "{\"events_queued\":%uA,\"events_sent\":%uA,"
                    "\"events_rejected\":%uA,"
                    "\"events_dropped\":{\"queue_full\":%uA,"
                    "\"retry_expired\":%uA,\"shutdown\":%uA,"
                    "\"worker_died\":%uA,\"memory\":%uA},"
                    "\"events_spooled\":%uA,\"events_replayed\":%uA,"
                    "\"events_replay_rejected\":%uA,"
                    "\"batches_sent\":%uA,\"retries\":%uA,"
                    "\"identify_sent\":%uA,\"queue_depth\":%uA,"
                    "\"queue_capacity\":%uA,\"queue_oldest_age\":%uA,"
                    "\"last_success_time\":%uA,\"last_error_time\":%uA,"
                    "\"last_error\":\"",
                    c->events_queued, c->events_sent, c->events_rejected,
                    c->dropped_queue_full, c->dropped_retry_expired,
                    c->dropped_shutdown, c->dropped_worker_died,
                    c->dropped_memory, c->events_spooled,
                    c->events_replayed, c->events_replay_rejected,
                    c->batches_sent, c->retries, c->identify_sent,
                    c->queue_depth, q->capacity, q->oldest_age,
                    c->last_success_time, c->last_error_time);

    len = ngx_min(c->last_error_len, sizeof(c->last_error));

    for (i = 0; i < len; i++) {
        ch = c->last_error[i];

        if (ch == '"' || ch == '\\') {
            *p++ = '\\';
            *p++ = ch;

        } else if (ch < 0x20 || ch >= 0x7f) {
            p = ngx_sprintf(p, "\\u%04xD", (uint32_t) ch);

        } else {
            *p++ = ch;
        }
    }

    return ngx_cpymem(p, "\"}\n", 3);
}


static u_char *
ngx_http_mixpanel_status_prometheus(u_char *p,
    ngx_http_mixpanel_counters_t *c, ngx_http_mixpanel_queue_stat_t *q)
{
    ngx_atomic_uint_t             v;
    ngx_http_mixpanel_counter_t  *k;

    for (k = ngx_http_mixpanel_counters; k->name.len; k++) {
        v = *(ngx_atomic_t *) ((u_char *) c + k->offset);

        if (k == ngx_http_mixpanel_counters
            || ngx_strcmp(k[-1].name.data, k->name.data) != 0)
        {
            p = ngx_sprintf(p, "# HELP nginx_mixpanel_%V_total %V\n"
                            "# TYPE nginx_mixpanel_%V_total counter\n",
                            &k->name, &k->help, &k->name);
        }

        if (k->reason.len) {
            p = ngx_sprintf(p, "nginx_mixpanel_%V_total{reason=\"%V\"} %uA\n",
                            &k->name, &k->reason, v);

        } else {
            p = ngx_sprintf(p, "nginx_mixpanel_%V_total %uA\n", &k->name, v);
        }
    }

    p = ngx_sprintf(p, "# HELP nginx_mixpanel_queue_depth "
                    "Events held by all workers' queues.\n"
                    "# TYPE nginx_mixpanel_queue_depth gauge\n"
                    "nginx_mixpanel_queue_depth %uA\n"
                    "# HELP nginx_mixpanel_queue_capacity "
                    "Events all workers' queues can hold.\n"
                    "# TYPE nginx_mixpanel_queue_capacity gauge\n"
                    "nginx_mixpanel_queue_capacity %uA\n"
                    "# HELP nginx_mixpanel_queue_oldest_age_seconds "
                    "How long the oldest queued event has waited.\n"
                    "# TYPE nginx_mixpanel_queue_oldest_age_seconds gauge\n"
                    "nginx_mixpanel_queue_oldest_age_seconds %uA\n"
                    "# HELP nginx_mixpanel_last_success_time_seconds "
                    "When Mixpanel last accepted a request (0: never).\n"
                    "# TYPE nginx_mixpanel_last_success_time_seconds gauge\n"
                    "nginx_mixpanel_last_success_time_seconds %uA\n"
                    "# HELP nginx_mixpanel_last_error_time_seconds "
                    "When delivery last failed (0: never).\n"
                    "# TYPE nginx_mixpanel_last_error_time_seconds gauge\n"
                    "nginx_mixpanel_last_error_time_seconds %uA\n",
                    c->queue_depth, q->capacity, q->oldest_age,
                    c->last_success_time, c->last_error_time);

    return p;
}


char *
ngx_http_mixpanel_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_mixpanel_main_conf_t  *mmcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_mixpanel_status_handler;

    /* the counters live in the zone, which the status needs */

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mixpanel_module);
    mmcf->status = 1;

    return NGX_CONF_OK;
}
