
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * The per-worker sender.  The worker appends records to an inbox under a
 * mutex and, on a timer, drains an outbox: log lines, counter deltas and
 * the $identify records that were dropped.  A thread does everything
 * else with its own copies of the configuration: it keeps a lane per
 * (kind, token), cuts batches, keeps several in flight with curl multi,
 * backs off per lane, spools and replays.  The thread calls nothing of
 * nginx's but pure helpers (ngx_memcpy, ngx_vslprintf...): no logger, no
 * cycle, no cached time, no pool, no shared zone.
 */


#include "ngx_http_mixpanel_module.h"
#include <ngx_channel.h>

#include <pthread.h>
#include <sched.h>
#include <curl/curl.h>


/*
 * a strict 400 lists up to 2000 failed records of about 200 bytes each;
 * other answers are short, and a buffer grown past the small size is freed
 * after its answer
 */
#define NGX_HTTP_MIXPANEL_ANSWER_MAX    (1024 * 1024)
#define NGX_HTTP_MIXPANEL_ANSWER_SMALL  (64 * 1024)
#define NGX_HTTP_MIXPANEL_LOG_EVERY     60000

#define NGX_HTTP_MIXPANEL_BACKOFF_MIN   2000
#define NGX_HTTP_MIXPANEL_BACKOFF_MAX   60000
#define NGX_HTTP_MIXPANEL_AUTH_BACKOFF  60000
#define NGX_HTTP_MIXPANEL_STOP_BACKOFF  250
#define NGX_HTTP_MIXPANEL_RETRY_AFTER   3600

#define NGX_HTTP_MIXPANEL_REPLAY_EVERY  30000
#define NGX_HTTP_MIXPANEL_REPLAY_SOON   5000
#define NGX_HTTP_MIXPANEL_REPLAY_FAIR   5000

/* a spool file written at exit holds at most this much */
#define NGX_HTTP_MIXPANEL_SPOOL_FILE    (4 * 1024 * 1024)

/*
 * and the files of an exit are written within the exit's budget again,
 * 1.5 s at least, then synced at once: nginx's master kills a worker
 * about 3 s after a fast shutdown, whose budget is 300 ms
 */
#define NGX_HTTP_MIXPANEL_SPOOL_GRACE   1500

#define NGX_HTTP_MIXPANEL_LANES         64    /* hash buckets */
#define NGX_HTTP_MIXPANEL_LANE_IDLE     300000

#define NGX_HTTP_MIXPANEL_LINES         64    /* log lines the outbox holds */
#define NGX_HTTP_MIXPANEL_LINE_LEN      512
#define NGX_HTTP_MIXPANEL_DRAIN         100   /* ms between the worker's
                                                 drains */
#define NGX_HTTP_MIXPANEL_STALE         10    /* s: a worker's report is
                                                 gone without a drain */

/* records between two yields: about 50 us of copying or freeing */
#define NGX_HTTP_MIXPANEL_YIELD_EVERY   256


typedef enum {
    ngx_http_mixpanel_log_network = 0,
    ngx_http_mixpanel_log_status,
    ngx_http_mixpanel_log_auth,
    ngx_http_mixpanel_log_rejected,
    ngx_http_mixpanel_log_accepted,
    ngx_http_mixpanel_log_expired,
    ngx_http_mixpanel_log_spooled,
    ngx_http_mixpanel_log_spool,
    ngx_http_mixpanel_log_file,
    ngx_http_mixpanel_log_memory,
    ngx_http_mixpanel_log_redirect,
    ngx_http_mixpanel_log_spool_file,
    ngx_http_mixpanel_log_spool_remove,
    ngx_http_mixpanel_log_last
} ngx_http_mixpanel_log_reason_e;


/* why a batch is not delivered yet: kept for what is logged about it */

typedef enum {
    ngx_http_mixpanel_fail_none = 0,
    ngx_http_mixpanel_fail_connect,
    ngx_http_mixpanel_fail_resolve,
    ngx_http_mixpanel_fail_timeout,
    ngx_http_mixpanel_fail_network,
    ngx_http_mixpanel_fail_status,
    ngx_http_mixpanel_fail_auth,
    ngx_http_mixpanel_fail_redirect,
    ngx_http_mixpanel_fail_file,
    ngx_http_mixpanel_fail_memory,
    ngx_http_mixpanel_fail_aborted
} ngx_http_mixpanel_fail_e;


typedef struct ngx_http_mixpanel_batch_s  ngx_http_mixpanel_batch_t;
typedef struct ngx_http_mixpanel_lane_s   ngx_http_mixpanel_lane_t;
typedef struct ngx_http_mixpanel_slot_s   ngx_http_mixpanel_slot_t;


typedef struct {
    ngx_uint_t                        failure;
    long                              status;
    int                               code;
} ngx_http_mixpanel_why_t;


struct ngx_http_mixpanel_batch_s {
    ngx_http_mixpanel_batch_t        *next;
    ngx_http_mixpanel_lane_t         *lane;
    ngx_http_mixpanel_record_t       *head;
    ngx_uint_t                        n;
    uint64_t                          seq;
    ngx_msec_t                        created;
    ngx_msec_t                        first;      /* first attempt, or 0 */
    ngx_uint_t                        attempts;
    ngx_http_mixpanel_why_t           why;
    unsigned                          replay:1;
};


struct ngx_http_mixpanel_lane_s {
    ngx_http_mixpanel_lane_t         *hnext;
    ngx_queue_t                       queue;      /* s->lanes, a ring */
    ngx_uint_t                        kind;

    ngx_http_mixpanel_record_t       *pending;    /* not in a batch yet */
    ngx_http_mixpanel_record_t      **tail;
    ngx_uint_t                        npending;
    size_t                            psize;

    ngx_http_mixpanel_batch_t        *batches;    /* ready or waiting,
                                                     by seq */
    ngx_uint_t                        inflight;
    ngx_msec_t                        retry_at;   /* paused until then */
    ngx_msec_t                        backoff;
    ngx_msec_t                        idle;       /* empty since then */
    ngx_http_mixpanel_why_t           why;        /* the last failure */
    ngx_msec_t                        told_until; /* the server said */

    size_t                            token_len;
    u_char                            token[1];
};


struct ngx_http_mixpanel_slot_s {
    CURL                             *easy;
    ngx_http_mixpanel_sender_t       *sender;
    ngx_http_mixpanel_batch_t        *batch;      /* NULL: free */
    ngx_http_mixpanel_buf_t           body;
    u_char                           *gz;
    size_t                            gzsize;
    u_char                           *upload;
    size_t                            upload_len;
    size_t                            upload_pos;
    ngx_http_mixpanel_buf_t           answer;
    size_t                            answer_max;
    ngx_msec_t                        retry_after;
    char                              errbuf[CURL_ERROR_SIZE];
};


typedef struct {
    ngx_uint_t                        level;
    size_t                            len;
    u_char                            text[NGX_HTTP_MIXPANEL_LINE_LEN];
} ngx_http_mixpanel_line_t;


/* what the thread adds to the counters, until the worker drains it */

typedef struct {
    ngx_uint_t                        sent;
    ngx_uint_t                        rejected;
    ngx_uint_t                        retry_expired;
    ngx_uint_t                        shutdown;
    ngx_uint_t                        memory;
    ngx_uint_t                        spooled;
    ngx_uint_t                        replayed;
    ngx_uint_t                        replay_rejected;
    ngx_uint_t                        batches;
    ngx_uint_t                        retries;
    ngx_uint_t                        identify;
    ngx_uint_t                        done;       /* records that left */
    time_t                            last_success;
    time_t                            last_error_time;
    size_t                            last_error_len;
    u_char                            last_error[128];
} ngx_http_mixpanel_delta_t;


/* the drops of an exit, by what was wrong */

typedef struct {
    ngx_uint_t                        n;
    size_t                            len;
    u_char                            text[200];
} ngx_http_mixpanel_tally_t;


struct ngx_http_mixpanel_sender_s {

    /* shared by the worker and the thread, under the mutex */

    pthread_t                         tid;
    pthread_mutex_t                   mutex;

    ngx_http_mixpanel_record_t       *inbox;
    ngx_http_mixpanel_record_t      **inbox_tail;
    ngx_uint_t                        ninbox;
    time_t                            inbox_since;
    ngx_uint_t                        held;       /* pushed, not done */
    ngx_uint_t                        stop;
    ngx_msec_t                        deadline;
    ngx_msec_t                        budget;
    ngx_uint_t                        sleeping;
    ngx_uint_t                        wake_at;    /* records in the inbox
                                                     that may complete a
                                                     lane's batch */
    int                               file_next;  /* the reopened file */

    ngx_http_mixpanel_delta_t         delta;
    time_t                            oldest;     /* of what the thread
                                                     holds, or 0 */
    ngx_http_mixpanel_line_t         *lines;
    ngx_uint_t                        nlines;
    ngx_uint_t                        lines_lost;
    ngx_http_mixpanel_record_t       *unbind;

    /* the worker's */

    CURLM                            *multi;      /* for its wakeup only */
    ngx_http_mixpanel_counters_t     *counters;
    ngx_http_mixpanel_worker_stat_t  *stat;
    ngx_uint_t                        depth;      /* its part of
                                                     queue_depth */
    ngx_msec_t                        full_logged;
    ngx_msec_t                        exiting_at; /* a quit began then */
    ngx_str_t                         file_name;
    dev_t                             file_dev;
    ino_t                             file_ino;

    /* the thread's */

    ngx_http_mixpanel_sender_conf_t   conf;       /* its strings are not */
    char                             *url;
    char                             *url_import;
    char                             *url_engage;
    char                             *cafile;
    char                             *user;
    char                             *secret;
    int                               fd;         /* the file: sink */

    struct curl_slist                *headers;
    struct curl_slist                *headers_gzip;
    ngx_http_mixpanel_gzip_t         *gz;

    ngx_http_mixpanel_slot_t         *slots;
    ngx_uint_t                        nslots;
    ngx_uint_t                        inflight;
    ngx_uint_t                        window;
    ngx_uint_t                        successes;

    ngx_http_mixpanel_lane_t         *hash[NGX_HTTP_MIXPANEL_LANES];
    ngx_queue_t                       lanes;
    ngx_queue_t                      *rr;
    ngx_uint_t                        nrecords;   /* taken, not done */
    uint64_t                          seq;
    ngx_msec_t                        taken_at;
    ngx_uint_t                        slept;
    ngx_uint_t                        stopping;
    ngx_uint_t                        sent_since_stop;

    ngx_http_mixpanel_spool_t         spool;
    ngx_http_mixpanel_spooled_t       file;       /* being replayed */
    ngx_http_mixpanel_batch_t        *replay;     /* its batches, by seq */
    ngx_uint_t                        replay_left;
    ngx_uint_t                        replay_accepted;
    ngx_uint_t                        replay_rejected;
    ngx_uint_t                        replay_file_accepted;
    ngx_uint_t                        replay_file_rejected;
    size_t                            replay_first;  /* the first section
                                                        claimed */
    ngx_uint_t                        replay_inflight;
    ngx_msec_t                        replay_at;  /* the next look */
    ngx_msec_t                        replay_sent;
    ngx_msec_t                        replay_skip;  /* a skipped file's
                                                       lane resumes */
    ngx_uint_t                        files_wait;

    ngx_msec_t                        logged[ngx_http_mixpanel_log_last];
};


static void *ngx_http_mixpanel_sender_thread(void *data);
static ngx_int_t ngx_http_mixpanel_sender_slots(
    ngx_http_mixpanel_sender_t *s);
static void ngx_http_mixpanel_sender_take(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_record_t *list, ngx_msec_t at);
static ngx_http_mixpanel_lane_t *ngx_http_mixpanel_sender_lane(
    ngx_http_mixpanel_sender_t *s, ngx_uint_t kind, u_char *token,
    size_t len, ngx_uint_t create);
static void ngx_http_mixpanel_sender_start_stop(
    ngx_http_mixpanel_sender_t *s);
static ngx_uint_t ngx_http_mixpanel_sender_finished(
    ngx_http_mixpanel_sender_t *s, ngx_msec_t now, ngx_msec_t deadline);
static void ngx_http_mixpanel_sender_cut(ngx_http_mixpanel_sender_t *s,
    ngx_msec_t now);
static ngx_http_mixpanel_batch_t *ngx_http_mixpanel_sender_batch(
    ngx_http_mixpanel_sender_t *s, ngx_http_mixpanel_record_t **list,
    size_t *size, ngx_msec_t now);
static void ngx_http_mixpanel_sender_expire_waiting(
    ngx_http_mixpanel_sender_t *s, ngx_msec_t now);
static void ngx_http_mixpanel_sender_dispatch(ngx_http_mixpanel_sender_t *s,
    ngx_msec_t now);
static ngx_uint_t ngx_http_mixpanel_sender_ready(
    ngx_http_mixpanel_lane_t *lane, ngx_msec_t now);
static void ngx_http_mixpanel_sender_send(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_batch_t *b, ngx_msec_t now);
static ngx_int_t ngx_http_mixpanel_sender_body(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_buf_t *body, ngx_http_mixpanel_batch_t *b);
static void ngx_http_mixpanel_sender_write(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_batch_t *b);
static void ngx_http_mixpanel_sender_perform(ngx_http_mixpanel_sender_t *s);
static void ngx_http_mixpanel_sender_answer(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_slot_t *slot, CURLcode code);
static void ngx_http_mixpanel_sender_done(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_batch_t *b, ngx_uint_t sent, ngx_uint_t rejected,
    u_char *failed);
static void ngx_http_mixpanel_sender_split(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_batch_t *b);
static void ngx_http_mixpanel_sender_retry(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_batch_t *b, ngx_msec_t wait, ngx_uint_t told);
static void ngx_http_mixpanel_sender_put_back(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_batch_t *b);
static void ngx_http_mixpanel_sender_expire(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_batch_t *b, ngx_msec_t now);
static void ngx_http_mixpanel_sender_replay(ngx_http_mixpanel_sender_t *s,
    ngx_msec_t now);
static ngx_int_t ngx_http_mixpanel_sender_paused(void *data, ngx_uint_t kind,
    u_char *token, size_t len);
static void ngx_http_mixpanel_sender_replay_done(
    ngx_http_mixpanel_sender_t *s);
static ngx_uint_t ngx_http_mixpanel_sender_replay_marked(
    ngx_http_mixpanel_sender_t *s);
static void ngx_http_mixpanel_sender_replay_drop(
    ngx_http_mixpanel_sender_t *s);
static void ngx_http_mixpanel_sender_replay_remove(
    ngx_http_mixpanel_sender_t *s);
static void ngx_http_mixpanel_sender_replay_load(
    ngx_http_mixpanel_sender_t *s, ngx_msec_t now);
static void ngx_http_mixpanel_sender_replay_end(
    ngx_http_mixpanel_sender_t *s);
static void ngx_http_mixpanel_sender_finish(ngx_http_mixpanel_sender_t *s);
static ngx_uint_t ngx_http_mixpanel_sender_wake_at(
    ngx_http_mixpanel_sender_t *s);
static void ngx_http_mixpanel_sender_finish_replay(
    ngx_http_mixpanel_sender_t *s);
static ngx_int_t ngx_http_mixpanel_sender_replay_rest(
    ngx_http_mixpanel_sender_t *s, u_char *err, size_t len);
static void ngx_http_mixpanel_sender_tally(ngx_http_mixpanel_tally_t *tally,
    ngx_uint_t n, u_char *text, size_t len);
static void ngx_http_mixpanel_sender_release(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_record_t *list, ngx_uint_t drop);
static ngx_msec_t ngx_http_mixpanel_sender_timeout(
    ngx_http_mixpanel_sender_t *s, ngx_msec_t now, ngx_msec_t deadline);
static time_t ngx_http_mixpanel_sender_oldest(ngx_http_mixpanel_sender_t *s,
    ngx_msec_t now);
static void ngx_http_mixpanel_sender_housekeep(ngx_http_mixpanel_sender_t *s,
    ngx_msec_t now);
static u_char *ngx_http_mixpanel_sender_why(ngx_http_mixpanel_sender_t *s,
    u_char *p, u_char *last, ngx_http_mixpanel_why_t *why);
static void ngx_http_mixpanel_sender_log(ngx_http_mixpanel_sender_t *s,
    ngx_uint_t level, ngx_int_t reason, const char *fmt, ...);
static void ngx_http_mixpanel_sender_error(ngx_http_mixpanel_sender_t *s,
    const char *fmt, ...);
static u_char *ngx_http_mixpanel_sender_escape(u_char *p, u_char *last,
    u_char *src, size_t len, u_char *token, size_t token_len,
    ngx_uint_t backslash, ngx_uint_t cut);
static void ngx_http_mixpanel_sender_yield(void *data);
static size_t ngx_http_mixpanel_sender_on_read(char *ptr, size_t size,
    size_t nmemb, void *data);
static int ngx_http_mixpanel_sender_on_seek(void *data, curl_off_t offset,
    int origin);
static size_t ngx_http_mixpanel_sender_on_data(char *ptr, size_t size,
    size_t nmemb, void *data);
static size_t ngx_http_mixpanel_sender_on_header(char *ptr, size_t size,
    size_t nmemb, void *data);
static ngx_msec_t ngx_http_mixpanel_now(void);

static void ngx_http_mixpanel_sender_drain_handler(ngx_event_t *ev);
static void ngx_http_mixpanel_sender_drain(ngx_http_mixpanel_sender_t *s);
static void ngx_http_mixpanel_sender_report(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_counters_t *c, ngx_uint_t held, time_t oldest);
static void ngx_http_mixpanel_sender_reclaim(ngx_http_mixpanel_counters_t *c);
static ngx_http_mixpanel_counters_t *ngx_http_mixpanel_sender_counters(void);
static void ngx_http_mixpanel_sender_reopen(ngx_http_mixpanel_sender_t *s);
static char *ngx_http_mixpanel_strdup(ngx_str_t *s);
static void ngx_http_mixpanel_sender_free(ngx_http_mixpanel_sender_t *s);
static ngx_socket_t ngx_http_mixpanel_sender_channel(void);
static void ngx_http_mixpanel_sender_commands(ngx_socket_t *channel);


static ngx_event_t                    ngx_http_mixpanel_drain_event;
static ngx_http_mixpanel_counters_t   ngx_http_mixpanel_no_counters;


ngx_int_t
ngx_http_mixpanel_sender_init(ngx_log_t *log)
{
    CURLcode                 rc;
    curl_version_info_data  *ver;

    rc = curl_global_init(CURL_GLOBAL_DEFAULT);

    if (rc != CURLE_OK) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "mixpanel: curl_global_init() failed: %s",
                      curl_easy_strerror(rc));
        return NGX_ERROR;
    }

    ver = curl_version_info(CURLVERSION_NOW);

    if (!(ver->features & CURL_VERSION_ASYNCHDNS)) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "mixpanel: libcurl %s resolves names synchronously; "
                      "this only delays the sender thread, never requests, "
                      "but an exit may wait for a lookup",
                      ver->version);
    }

    return NGX_OK;
}


/*
 * Called in init_process: the thread gets its own copies of everything it
 * uses (strings, the file: sink's descriptor), so that a reload or an
 * exit that frees the cycle cannot pull anything from under it.
 */

ngx_http_mixpanel_sender_t *
ngx_http_mixpanel_sender_start(ngx_http_mixpanel_sender_conf_t *conf,
    ngx_open_file_t *file, ngx_cycle_t *cycle)
{
    int                          err;
    u_char                      *p;
    sigset_t                     set, old;
    struct stat                  st;
    struct timespec              ts;
    ngx_http_mixpanel_sender_t  *s;

    s = calloc(1, sizeof(ngx_http_mixpanel_sender_t));
    if (s == NULL) {
        return NULL;
    }

    s->inbox_tail = &s->inbox;
    s->file_next = -1;
    s->fd = -1;
    s->file.fd = -1;
    s->conf = *conf;
    s->wake_at = conf->batch_size;
    ngx_queue_init(&s->lanes);
    s->rr = &s->lanes;

    s->lines = calloc(NGX_HTTP_MIXPANEL_LINES,
                      sizeof(ngx_http_mixpanel_line_t));
    if (s->lines == NULL) {
        goto failed;
    }

    s->multi = curl_multi_init();
    if (s->multi == NULL) {
        goto failed;
    }

    if (conf->sink == NGX_HTTP_MIXPANEL_SINK_FILE) {
        s->fd = fcntl(file->fd, F_DUPFD_CLOEXEC, 0);

        if (s->fd == -1 || fstat(s->fd, &st) == -1) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                          "mixpanel: dup(\"%V\") failed", &file->name);
            goto failed;
        }

        s->file_dev = st.st_dev;
        s->file_ino = st.st_ino;

        s->file_name.data = malloc(file->name.len + 1);
        if (s->file_name.data == NULL) {
            goto failed;
        }

        s->file_name.len = file->name.len;
        *ngx_cpymem(s->file_name.data, file->name.data, file->name.len)
            = '\0';

    } else {
        s->url = ngx_http_mixpanel_strdup(&conf->url);
        s->url_import = malloc(conf->url.len + sizeof("/import?strict=1")
                               + sizeof("&project_id=") + conf->project_id.len);
        s->url_engage = malloc(conf->url.len + sizeof("/engage?verbose=1"));

        if (s->url == NULL || s->url_import == NULL || s->url_engage == NULL)
        {
            goto failed;
        }

        if (conf->project_id.len) {
            ngx_sprintf((u_char *) s->url_import,
                        "%V/import?strict=1&project_id=%V%Z",
                        &conf->url, &conf->project_id);

        } else {
            ngx_sprintf((u_char *) s->url_import, "%V/import?strict=1%Z",
                        &conf->url);
        }

        ngx_sprintf((u_char *) s->url_engage, "%V/engage?verbose=1%Z",
                    &conf->url);

        if (conf->ssl_trusted_certificate.len) {
            s->cafile = ngx_http_mixpanel_strdup(
                                             &conf->ssl_trusted_certificate);
            if (s->cafile == NULL) {
                goto failed;
            }
        }

        if (conf->service_user.len) {
            s->user = ngx_http_mixpanel_strdup(&conf->service_user);
            s->secret = ngx_http_mixpanel_strdup(&conf->service_secret);

            if (s->user == NULL || s->secret == NULL) {
                goto failed;
            }
        }

        /* no "Expect: 100-continue": a round trip per large batch */

        s->headers = curl_slist_append(NULL,
                                       "Content-Type: application/json");
        if (s->headers == NULL
            || curl_slist_append(s->headers, "Expect:") == NULL)
        {
            goto failed;
        }

        s->headers_gzip = curl_slist_append(NULL,
                                            "Content-Type: application/json");
        if (s->headers_gzip == NULL
            || curl_slist_append(s->headers_gzip, "Expect:") == NULL
            || curl_slist_append(s->headers_gzip, "Content-Encoding: gzip")
               == NULL)
        {
            goto failed;
        }

        if (conf->gzip) {
            s->gz = ngx_http_mixpanel_gzip_create();
            if (s->gz == NULL) {
                goto failed;
            }
        }

        if (ngx_http_mixpanel_sender_slots(s) != NGX_OK) {
            goto failed;
        }
    }

    /* the strings of the cycle are not the thread's */

    ngx_str_null(&s->conf.url);
    ngx_str_null(&s->conf.file);
    ngx_str_null(&s->conf.ssl_trusted_certificate);
    ngx_str_null(&s->conf.service_user);
    ngx_str_null(&s->conf.service_secret);
    ngx_str_null(&s->conf.project_id);
    ngx_str_null(&s->conf.spool_dir);

    if (conf->spool_dir.len) {
        p = malloc(conf->spool_dir.len + 1);
        if (p == NULL) {
            goto failed;
        }

        *ngx_cpymem(p, conf->spool_dir.data, conf->spool_dir.len) = '\0';

        s->spool.dir = p;
        s->spool.len = conf->spool_dir.len;
        s->spool.max_size = conf->spool_max;
        s->spool.pid = ngx_pid;

        /* the files of another pid namespace's worker have other names */

        if (ngx_http_mixpanel_random((u_char *) &s->spool.nonce,
                                     sizeof(uint64_t))
            != NGX_OK)
        {
            (void) clock_gettime(CLOCK_REALTIME, &ts);
            s->spool.nonce = (uint64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
        }
    }

    if (pthread_mutex_init(&s->mutex, NULL) != 0) {
        goto failed;
    }

    s->counters = ngx_http_mixpanel_sender_counters();
    ngx_http_mixpanel_sender_report(s, s->counters, 0, 0);

    /* signals are the worker's business, never the sender's */

    sigfillset(&set);
    pthread_sigmask(SIG_SETMASK, &set, &old);

    err = pthread_create(&s->tid, NULL, ngx_http_mixpanel_sender_thread, s);

    pthread_sigmask(SIG_SETMASK, &old, NULL);

    if (err != 0) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, err,
                      "mixpanel: pthread_create() failed");
        (void) pthread_mutex_destroy(&s->mutex);

        if (s->stat) {
            (void) ngx_atomic_cmp_set(&s->stat->pid, ngx_pid, 0);
        }

        goto failed;
    }

    /* cancelable: a graceful shutdown never waits for it */

    ngx_http_mixpanel_drain_event.handler =
                                        ngx_http_mixpanel_sender_drain_handler;
    ngx_http_mixpanel_drain_event.data = s;
    ngx_http_mixpanel_drain_event.log = cycle->log;
    ngx_http_mixpanel_drain_event.cancelable = 1;

    ngx_add_timer(&ngx_http_mixpanel_drain_event, NGX_HTTP_MIXPANEL_DRAIN);

    return s;

failed:

    ngx_http_mixpanel_sender_free(s);

    return NULL;
}


static ngx_int_t
ngx_http_mixpanel_sender_slots(ngx_http_mixpanel_sender_t *s)
{
    CURL                      *c;
    ngx_uint_t                 i;
    ngx_http_mixpanel_slot_t  *slot;

    s->nslots = s->conf.concurrency;
    s->window = s->nslots;

    s->slots = calloc(s->nslots, sizeof(ngx_http_mixpanel_slot_t));
    if (s->slots == NULL) {
        return NGX_ERROR;
    }

    /* one connection cache for all: kept alive, reused by any slot */

    (void) curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS,
                             (long) s->nslots);

    for (i = 0; i < s->nslots; i++) {
        slot = &s->slots[i];
        slot->sender = s;

        c = curl_easy_init();
        if (c == NULL) {
            return NGX_ERROR;
        }

        slot->easy = c;

        curl_easy_setopt(c, CURLOPT_PRIVATE, slot);
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION,
                         ngx_http_mixpanel_sender_on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, slot);
        curl_easy_setopt(c, CURLOPT_SEEKFUNCTION,
                         ngx_http_mixpanel_sender_on_seek);
        curl_easy_setopt(c, CURLOPT_SEEKDATA, slot);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION,
                         ngx_http_mixpanel_sender_on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, slot);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION,
                         ngx_http_mixpanel_sender_on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, slot);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, slot->errbuf);
        curl_easy_setopt(c, CURLOPT_USERAGENT,
                         "ngx_http_mixpanel_module/"
                         NGX_HTTP_MIXPANEL_VERSION);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER,
                         s->conf.ssl_verify ? 1L : 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST,
                         s->conf.ssl_verify ? 2L : 0L);

        if (s->cafile) {
            curl_easy_setopt(c, CURLOPT_CAINFO, s->cafile);
        }

#if (LIBCURL_VERSION_NUM >= 0x075700)
        /* a transfer removed at the deadline does not wait for its DNS */
        curl_easy_setopt(c, CURLOPT_QUICK_EXIT, 1L);
#endif
    }

    return NGX_OK;
}


/* on the worker: the record is the sender's from now on */

ngx_int_t
ngx_http_mixpanel_sender_push(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_record_t *rec)
{
    ngx_uint_t                     wake, full, stop;
    ngx_http_mixpanel_counters_t  *c;

    c = ngx_http_mixpanel_sender_counters();

    rec->next = NULL;
    wake = 0;

    pthread_mutex_lock(&s->mutex);

    stop = s->stop;
    full = (s->held >= s->conf.queue_size);

    if (!stop && !full) {
        *s->inbox_tail = rec;
        s->inbox_tail = &rec->next;
        s->held++;

        if (s->ninbox++ == 0) {
            s->inbox_since = ngx_time();
            wake = s->sleeping;
        }

        if (s->ninbox == s->wake_at) {
            wake = 1;
        }

        if (wake) {
            s->sleeping = 0;
        }
    }

    pthread_mutex_unlock(&s->mutex);

    if (stop) {

        /* queued and dropped at once: it came after the exit began */

        free(rec);
        (void) ngx_atomic_fetch_add(&c->events_queued, 1);
        (void) ngx_atomic_fetch_add(&c->dropped_shutdown, 1);
        return NGX_DECLINED;
    }

    if (full) {
        free(rec);
        (void) ngx_atomic_fetch_add(&c->dropped_queue_full, 1);

        if (s->full_logged == 0
            || ngx_current_msec - s->full_logged >= NGX_HTTP_MIXPANEL_LOG_EVERY)
        {
            s->full_logged = ngx_current_msec ? ngx_current_msec : 1;
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "mixpanel: queue of %ui events is full, "
                          "new events are dropped", s->conf.queue_size);
        }

        return NGX_DECLINED;
    }

    (void) ngx_atomic_fetch_add(&c->events_queued, 1);
    (void) ngx_atomic_fetch_add(&c->queue_depth, 1);

    /* what a worker that dies held leaves queue_depth: see reclaim() */

    s->depth++;

    if (s->stat) {
        s->stat->held = s->depth;
    }

    if (wake) {
        (void) curl_multi_wakeup(s->multi);
    }

    return NGX_OK;
}


/*
 * Called in exit_process: the thread sends what it holds until the
 * deadline, then spools or counts as dropped everything left, in one
 * step, and returns.  The worker always waits for it: nothing the thread
 * uses may go away while it runs.
 */

void
ngx_http_mixpanel_sender_stop(ngx_http_mixpanel_sender_t *s,
    ngx_msec_t budget)
{
    ngx_msec_t       deadline;
    ngx_uint_t       terminate;
    ngx_socket_t     channel;
    struct timespec  ts;

    terminate = (ngx_terminate != 0);
    channel = ngx_http_mixpanel_sender_channel();

    pthread_mutex_lock(&s->mutex);

    s->stop = 1;
    s->deadline = ngx_http_mixpanel_now() + budget;
    s->budget = budget;

    (void) curl_multi_wakeup(s->multi);

    pthread_mutex_unlock(&s->mutex);

    /*
     * A SIGTERM during a quit's exit (nginx -s stop after -s quit, or a
     * service manager that follows QUIT with TERM) ends up in SIGKILL from
     * the master about 3 s later: the budget becomes the fast shutdown's
     * at once, so that what is held is spooled or counted before then.
     */

    for ( ;; ) {
        (void) clock_gettime(CLOCK_REALTIME, &ts);

        ts.tv_nsec += 50000000;

        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }

        if (pthread_timedjoin_np(s->tid, NULL, &ts) == 0) {
            break;
        }

        ngx_http_mixpanel_sender_commands(&channel);

        /* logrotate's "nginx -s reopen": the exit's lines go to the new log */

        if (ngx_reopen) {
            ngx_reopen = 0;
            ngx_time_update();

            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "reopening logs");
            ngx_reopen_files((ngx_cycle_t *) ngx_cycle, (ngx_uid_t) -1);
        }

        if (terminate || !ngx_terminate) {
            continue;
        }

        terminate = 1;

        pthread_mutex_lock(&s->mutex);

        deadline = ngx_http_mixpanel_now()
                   + NGX_HTTP_MIXPANEL_TERMINATE_BUDGET;

        if (deadline < s->deadline) {
            s->deadline = deadline;
            s->budget = NGX_HTTP_MIXPANEL_TERMINATE_BUDGET;
            (void) curl_multi_wakeup(s->multi);
        }

        pthread_mutex_unlock(&s->mutex);
    }

    if (ngx_http_mixpanel_drain_event.timer_set) {
        ngx_del_timer(&ngx_http_mixpanel_drain_event);
    }

    /* the exit's lines with the time they are written, not the quit's */

    ngx_time_update();

    ngx_http_mixpanel_sender_drain(s);

    if (s->stat) {
        s->stat->oldest = 0;
        s->stat->capacity = 0;
        s->stat->held = 0;
        (void) ngx_atomic_cmp_set(&s->stat->pid, ngx_pid, 0);
    }

    (void) pthread_mutex_destroy(&s->mutex);

    ngx_http_mixpanel_sender_free(s);

    curl_global_cleanup();
}


/* how long ago the worker began to exit (a quit), within 100 ms, or 0 */

ngx_msec_t
ngx_http_mixpanel_sender_exiting(ngx_http_mixpanel_sender_t *s)
{
    if (s->exiting_at == 0) {
        return 0;
    }

    return ngx_http_mixpanel_now() - s->exiting_at;
}


/*
 * The master's channel, or -1: nginx closes it when it reads its end (the
 * master is gone), and its number may be taken since, by a descriptor of
 * the sender's; it is open while its connection is.
 */

static ngx_socket_t
ngx_http_mixpanel_sender_channel(void)
{
    ngx_uint_t         i;
    ngx_connection_t  *c;

    if (ngx_process != NGX_PROCESS_WORKER || ngx_cycle->connections == NULL) {
        return (ngx_socket_t) -1;
    }

    c = ngx_cycle->connections;

    for (i = 0; i < ngx_cycle->connection_n; i++) {
        if (c[i].fd == ngx_channel && c[i].read && c[i].read->channel) {
            return ngx_channel;
        }
    }

    return (ngx_socket_t) -1;
}


/*
 * The master's commands, on the channel that the event loop does not read
 * while the worker waits for its sender: a fast shutdown sets
 * ngx_terminate, a reopen ngx_reopen, as their signals do.  The channel's
 * end, or an error, ends the reading: *channel becomes -1.
 */

static void
ngx_http_mixpanel_sender_commands(ngx_socket_t *channel)
{
    ngx_int_t      n;
    ngx_channel_t  ch;

    if (*channel == (ngx_socket_t) -1) {
        return;
    }

    for ( ;; ) {
        ngx_memzero(&ch, sizeof(ngx_channel_t));

        n = ngx_read_channel(*channel, &ch, sizeof(ngx_channel_t),
                             ngx_cycle->log);

        if (n == NGX_AGAIN) {
            return;
        }

        if (n == NGX_ERROR) {
            *channel = (ngx_socket_t) -1;
            return;
        }

        /* the rest is of no use to an exiting worker */

        switch (ch.command) {

        case NGX_CMD_TERMINATE:
            ngx_terminate = 1;
            break;

        case NGX_CMD_REOPEN:
            ngx_reopen = 1;
            break;

        case NGX_CMD_OPEN_CHANNEL:
            (void) close(ch.fd);
            break;
        }
    }
}


/*
 * The sender shares a core with its worker when worker_cpu_affinity (or
 * taskset) pins the process: it gives the core back between slices of a
 * batch's work, so that requests wait for at most one slice (about 50 us)
 * instead of the whole batch (about 1.5 ms for 2000 events).  When the
 * worker is idle, the call returns at once.
 */

static void
ngx_http_mixpanel_sender_yield(void *data)
{
    (void) sched_yield();
}


static void *
ngx_http_mixpanel_sender_thread(void *data)
{
    ngx_http_mixpanel_sender_t *s = data;

    int                          fd;
    time_t                       oldest;
    ngx_uint_t                   stop, wake_at;
    ngx_msec_t                   now, at, deadline, timeout;
    ngx_http_mixpanel_record_t  *list;

    now = ngx_http_mixpanel_now();
    s->taken_at = now;

    if (s->spool.dir) {
        ngx_http_mixpanel_spool_sweep(&s->spool);
        s->replay_at = now;
    }

    for ( ;; ) {

        pthread_mutex_lock(&s->mutex);

        list = s->inbox;
        s->inbox = NULL;
        s->inbox_tail = &s->inbox;
        s->ninbox = 0;
        s->sleeping = 0;
        stop = s->stop;
        deadline = s->deadline;
        fd = s->file_next;
        s->file_next = -1;

        pthread_mutex_unlock(&s->mutex);

        if (fd != -1) {
            (void) close(s->fd);
            s->fd = fd;
        }

        now = ngx_http_mixpanel_now();

        /*
         * What came in arrived after the previous take, or, when the
         * worker woke the thread from a long sleep, just now: flushing
         * counts from then, never late.
         */

        at = s->slept ? now : s->taken_at;
        s->taken_at = now;
        s->slept = 0;

        ngx_http_mixpanel_sender_take(s, list, at);

        if (stop && !s->stopping) {
            ngx_http_mixpanel_sender_start_stop(s);
        }

        ngx_http_mixpanel_sender_perform(s);

        now = ngx_http_mixpanel_now();

        if (s->stopping
            && ngx_http_mixpanel_sender_finished(s, now, deadline))
        {
            ngx_http_mixpanel_sender_finish(s);
            break;
        }

        ngx_http_mixpanel_sender_cut(s, now);
        ngx_http_mixpanel_sender_expire_waiting(s, now);

        if (s->spool.dir && !s->stopping) {
            ngx_http_mixpanel_sender_replay(s, now);
        }

        ngx_http_mixpanel_sender_dispatch(s, now);
        ngx_http_mixpanel_sender_perform(s);

        now = ngx_http_mixpanel_now();
        ngx_http_mixpanel_sender_housekeep(s, now);

        timeout = ngx_http_mixpanel_sender_timeout(s, now, deadline);

        if (s->stopping
            && ngx_http_mixpanel_sender_finished(s, now, deadline))
        {
            /* all sent already: no reason to wait for the deadline */
            timeout = 0;
        }

        oldest = ngx_http_mixpanel_sender_oldest(s, now);
        wake_at = ngx_http_mixpanel_sender_wake_at(s);

        pthread_mutex_lock(&s->mutex);

        s->oldest = oldest;
        s->wake_at = wake_at;

        if (s->ninbox) {
            timeout = ngx_min(timeout, s->conf.flush_interval);

        } else if (timeout > s->conf.flush_interval) {

            /* the first record to come must wake the thread */

            s->sleeping = 1;
            s->slept = 1;
        }

        pthread_mutex_unlock(&s->mutex);

        (void) curl_multi_poll(s->multi, NULL, 0, (int) timeout, NULL);
    }

    return NULL;
}


/* records from the inbox to the end of their lanes, in order */

static void
ngx_http_mixpanel_sender_take(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_record_t *list, ngx_msec_t at)
{
    ngx_http_mixpanel_lane_t    *lane;
    ngx_http_mixpanel_record_t  *rec, *next;

    lane = NULL;

    for (rec = list; rec; rec = next) {
        next = rec->next;
        rec->next = NULL;
        rec->at = at;

        s->nrecords++;

        if (lane == NULL || lane->kind != rec->kind
            || lane->token_len != rec->token_len
            || ngx_memcmp(lane->token, rec->token, rec->token_len) != 0)
        {
            lane = ngx_http_mixpanel_sender_lane(s, rec->kind, rec->token,
                                                 rec->token_len, 1);
        }

        if (lane == NULL) {
            ngx_http_mixpanel_sender_log(s, NGX_LOG_ALERT,
                                         ngx_http_mixpanel_log_memory,
                                         "mixpanel: out of memory, "
                                         "an event is dropped");

            pthread_mutex_lock(&s->mutex);
            s->delta.memory++;
            pthread_mutex_unlock(&s->mutex);

            ngx_http_mixpanel_sender_release(s, rec, 1);
            continue;
        }

        if (lane->npending == 0) {
            lane->pending = NULL;
            lane->tail = &lane->pending;
        }

        *lane->tail = rec;
        lane->tail = &rec->next;
        lane->npending++;
        lane->psize += rec->len + 1;
    }
}


static ngx_http_mixpanel_lane_t *
ngx_http_mixpanel_sender_lane(ngx_http_mixpanel_sender_t *s, ngx_uint_t kind,
    u_char *token, size_t len, ngx_uint_t create)
{
    ngx_uint_t                 key;
    ngx_http_mixpanel_lane_t  *lane;

    key = (ngx_hash_key(token, len) + kind) % NGX_HTTP_MIXPANEL_LANES;

    for (lane = s->hash[key]; lane; lane = lane->hnext) {
        if (lane->kind == kind && lane->token_len == len
            && ngx_memcmp(lane->token, token, len) == 0)
        {
            return lane;
        }
    }

    if (!create) {
        return NULL;
    }

    lane = calloc(1, sizeof(ngx_http_mixpanel_lane_t) + len);
    if (lane == NULL) {
        return NULL;
    }

    lane->kind = kind;
    lane->tail = &lane->pending;
    lane->backoff = NGX_HTTP_MIXPANEL_BACKOFF_MIN;
    lane->token_len = len;
    ngx_memcpy(lane->token, token, len);

    lane->hnext = s->hash[key];
    s->hash[key] = lane;

    ngx_queue_insert_tail(&s->lanes, &lane->queue);

    return lane;
}


static void
ngx_http_mixpanel_sender_start_stop(ngx_http_mixpanel_sender_t *s)
{
    ngx_msec_t                 now;
    ngx_queue_t               *q;
    ngx_http_mixpanel_lane_t  *lane;

    s->stopping = 1;

    if (s->nrecords) {
        ngx_http_mixpanel_sender_log(s, NGX_LOG_NOTICE, -1,
                                     "mixpanel: sending %ui queued events "
                                     "before exit", s->nrecords);
    }

    /* one more try for every lane, unless the server said when */

    now = ngx_http_mixpanel_now();

    for (q = ngx_queue_head(&s->lanes);
         q != ngx_queue_sentinel(&s->lanes);
         q = ngx_queue_next(q))
    {
        lane = ngx_queue_data(q, ngx_http_mixpanel_lane_t, queue);

        lane->retry_at = (lane->told_until > now) ? lane->told_until : 0;
    }
}


/*
 * An exiting sender is done at the deadline, or when it holds nothing, or
 * when nothing it holds can be sent before the deadline.
 */

static ngx_uint_t
ngx_http_mixpanel_sender_finished(ngx_http_mixpanel_sender_t *s,
    ngx_msec_t now, ngx_msec_t deadline)
{
    ngx_queue_t               *q;
    ngx_http_mixpanel_lane_t  *lane;

    if (now >= deadline) {
        return 1;
    }

    if (s->inflight) {
        return 0;
    }

    for (q = ngx_queue_head(&s->lanes);
         q != ngx_queue_sentinel(&s->lanes);
         q = ngx_queue_next(q))
    {
        lane = ngx_queue_data(q, ngx_http_mixpanel_lane_t, queue);

        if ((lane->npending || lane->batches) && lane->retry_at < deadline) {
            return 0;
        }
    }

    return 1;
}


/*
 * A lane cuts a batch when it holds batch_size records or 2 MB, when its
 * oldest record waited flush_interval, and at exit.
 */

static void
ngx_http_mixpanel_sender_cut(ngx_http_mixpanel_sender_t *s, ngx_msec_t now)
{
    size_t                      size;
    ngx_queue_t                *q;
    ngx_http_mixpanel_lane_t   *lane;
    ngx_http_mixpanel_batch_t  *b, **last;

    for (q = ngx_queue_head(&s->lanes);
         q != ngx_queue_sentinel(&s->lanes);
         q = ngx_queue_next(q))
    {
        lane = ngx_queue_data(q, ngx_http_mixpanel_lane_t, queue);

        while (lane->npending) {

            if (lane->npending < s->conf.batch_size
                && lane->psize + 1 < NGX_HTTP_MIXPANEL_MAX_BODY
                && !s->stopping
                && now - lane->pending->at < s->conf.flush_interval)
            {
                break;
            }

            b = ngx_http_mixpanel_sender_batch(s, &lane->pending, &size,
                                               now);
            if (b == NULL) {
                break;
            }

            b->lane = lane;

            lane->npending -= b->n;
            lane->psize -= size - 1;

            if (lane->npending == 0) {
                lane->tail = &lane->pending;
            }

            for (last = &lane->batches; *last; last = &(*last)->next) {
                /* void */
            }

            *last = b;
        }
    }
}


/*
 * The first records of a list, up to batch_size and 2 MB (one at least),
 * as a new batch of "size" bytes of JSON; the list keeps the rest.
 */

static ngx_http_mixpanel_batch_t *
ngx_http_mixpanel_sender_batch(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_record_t **list, size_t *size, ngx_msec_t now)
{
    size_t                       bytes;
    ngx_uint_t                   i;
    ngx_http_mixpanel_batch_t   *b;
    ngx_http_mixpanel_record_t  *rec, *last;

    b = calloc(1, sizeof(ngx_http_mixpanel_batch_t));
    if (b == NULL) {
        return NULL;
    }

    /* "[", the records and a comma after each but the last, "]" */

    bytes = 1;
    last = NULL;
    i = 0;

    for (rec = *list; rec; rec = rec->next) {

        if (i == s->conf.batch_size
            || (i > 0 && bytes + rec->len + 1 > NGX_HTTP_MIXPANEL_MAX_BODY))
        {
            break;
        }

        bytes += rec->len + 1;
        last = rec;
        i++;
    }

    b->head = *list;
    b->n = i;
    b->seq = ++s->seq;
    b->created = now;

    *list = last->next;
    last->next = NULL;

    *size = bytes;

    return b;
}


/*
 * A batch waiting behind a paused lane is given up when the pause ends
 * past its mixpanel_retry_max_time.
 */

static void
ngx_http_mixpanel_sender_expire_waiting(ngx_http_mixpanel_sender_t *s,
    ngx_msec_t now)
{
    ngx_queue_t                *q;
    ngx_http_mixpanel_lane_t   *lane;
    ngx_http_mixpanel_batch_t  *b;

    if (s->stopping) {
        return;
    }

    for (q = ngx_queue_head(&s->lanes);
         q != ngx_queue_sentinel(&s->lanes);
         q = ngx_queue_next(q))
    {
        lane = ngx_queue_data(q, ngx_http_mixpanel_lane_t, queue);

        while (lane->batches && lane->retry_at > now
               && lane->retry_at - lane->batches->created
                  > s->conf.retry_max_time)
        {
            b = lane->batches;
            lane->batches = b->next;
            b->next = NULL;

            if (b->why.failure == ngx_http_mixpanel_fail_none) {
                b->why = lane->why;
            }

            ngx_http_mixpanel_sender_expire(s, b, now);
        }
    }
}


/*
 * Up to "window" transfers in flight, taken round robin from the lanes
 * that are not paused; a lane of people updates has one at most, so that
 * they are applied in order.  A replay batch goes when a slot is free and
 * no live batch is ready, or when none went for a few seconds.
 */

static void
ngx_http_mixpanel_sender_dispatch(ngx_http_mixpanel_sender_t *s,
    ngx_msec_t now)
{
    ngx_uint_t                  file, replay;
    ngx_queue_t                *q, *start;
    ngx_http_mixpanel_lane_t   *lane, *pick;
    ngx_http_mixpanel_batch_t  *b;

    file = (s->conf.sink == NGX_HTTP_MIXPANEL_SINK_FILE);

    for ( ;; ) {

        if (!file && s->inflight >= ngx_min(s->window, s->nslots)) {
            return;
        }

        pick = NULL;

        if (!ngx_queue_empty(&s->lanes)) {

            if (s->rr == &s->lanes) {
                s->rr = ngx_queue_head(&s->lanes);
            }

            start = s->rr;
            q = start;

            do {
                if (q != &s->lanes) {
                    lane = ngx_queue_data(q, ngx_http_mixpanel_lane_t,
                                          queue);

                    if (lane->batches
                        && ngx_http_mixpanel_sender_ready(lane, now))
                    {
                        pick = lane;
                        s->rr = ngx_queue_next(q);
                        break;
                    }
                }

                q = ngx_queue_next(q);

            } while (q != start);
        }

        replay = 0;

        if (s->replay && s->replay_inflight == 0 && !s->stopping
            && ngx_http_mixpanel_sender_ready(s->replay->lane, now)
            && (pick == NULL
                || now - s->replay_sent >= NGX_HTTP_MIXPANEL_REPLAY_FAIR))
        {
            replay = 1;
        }

        if (replay) {
            b = s->replay;
            s->replay = b->next;

        } else if (pick) {
            b = pick->batches;
            pick->batches = b->next;

        } else {
            return;
        }

        b->next = NULL;

        ngx_http_mixpanel_sender_send(s, b, now);
    }
}


static ngx_uint_t
ngx_http_mixpanel_sender_ready(ngx_http_mixpanel_lane_t *lane,
    ngx_msec_t now)
{
    if (lane->retry_at > now) {
        return 0;
    }

    return lane->kind != NGX_HTTP_MIXPANEL_RECORD_ENGAGE
           || lane->inflight == 0;
}


static void
ngx_http_mixpanel_sender_send(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_batch_t *b, ngx_msec_t now)
{
    size_t                     len, bound;
    CURL                      *c;
    ngx_uint_t                 i, engage;
    ngx_msec_t                 timeout;
    ngx_http_mixpanel_slot_t  *slot;

    if (b->attempts++) {
        pthread_mutex_lock(&s->mutex);
        s->delta.retries++;
        pthread_mutex_unlock(&s->mutex);
    }

    if (b->first == 0) {
        b->first = now;
    }

    if (b->replay) {
        s->replay_sent = now;
    }

    if (s->conf.sink == NGX_HTTP_MIXPANEL_SINK_FILE) {
        ngx_http_mixpanel_sender_write(s, b);
        return;
    }

    b->lane->inflight++;

    if (b->replay) {
        s->replay_inflight++;
    }

    slot = NULL;

    for (i = 0; i < s->nslots; i++) {
        if (s->slots[i].batch == NULL) {
            slot = &s->slots[i];
            break;
        }
    }

    slot->batch = b;
    s->inflight++;

    engage = (b->lane->kind == NGX_HTTP_MIXPANEL_RECORD_ENGAGE);

    slot->body.pos = slot->body.start;

    if (ngx_http_mixpanel_sender_body(s, &slot->body, b) != NGX_OK) {
        goto nomem;
    }

    len = slot->body.pos - slot->body.start;
    c = slot->easy;

    if (!engage && s->gz) {
        bound = ngx_http_mixpanel_gzip_bound(s->gz, len);

        if (bound > slot->gzsize) {
            free(slot->gz);
            slot->gz = malloc(bound);
            slot->gzsize = slot->gz ? bound : 0;

            if (slot->gz == NULL) {
                goto nomem;
            }
        }

        len = ngx_http_mixpanel_gzip(s->gz, slot->body.start, len, slot->gz,
                                     slot->gzsize,
                                     ngx_http_mixpanel_sender_yield, NULL);
        if (len == 0) {
            goto nomem;
        }

        slot->upload = slot->gz;
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, s->headers_gzip);

    } else {
        slot->upload = slot->body.start;
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, s->headers);
    }

    /*
     * the body through a read callback, not CURLOPT_POSTFIELDS: libcurl
     * asks for it 64 KB at a time, and the thread yields in between
     */

    slot->upload_len = len;
    slot->upload_pos = 0;
    slot->answer.pos = slot->answer.start;
    slot->answer_max = engage ? NGX_HTTP_MIXPANEL_ANSWER_SMALL
                              : NGX_HTTP_MIXPANEL_ANSWER_MAX;
    slot->retry_after = NGX_CONF_UNSET_MSEC;
    slot->errbuf[0] = '\0';

    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
    curl_easy_setopt(c, CURLOPT_URL, engage ? s->url_engage : s->url_import);

    if (engage) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long) CURLAUTH_NONE);
        curl_easy_setopt(c, CURLOPT_USERNAME, NULL);
        curl_easy_setopt(c, CURLOPT_PASSWORD, NULL);

    } else {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);

        if (s->user) {
            curl_easy_setopt(c, CURLOPT_USERNAME, s->user);
            curl_easy_setopt(c, CURLOPT_PASSWORD, s->secret);

        } else {
            curl_easy_setopt(c, CURLOPT_USERNAME, b->head->token);
            curl_easy_setopt(c, CURLOPT_PASSWORD, "");
        }
    }

    timeout = s->conf.timeout;

    if (s->stopping) {
        pthread_mutex_lock(&s->mutex);
        timeout = (s->deadline > now) ? ngx_min(timeout, s->deadline - now)
                                      : 1;
        pthread_mutex_unlock(&s->mutex);
    }

    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long) timeout);

    if (curl_multi_add_handle(s->multi, c) != CURLM_OK) {
        goto nomem;
    }

    return;

nomem:

    ngx_http_mixpanel_sender_log(s, NGX_LOG_ALERT,
                                 ngx_http_mixpanel_log_memory,
                                 "mixpanel: out of memory building a batch");

    slot->batch = NULL;
    s->inflight--;
    b->lane->inflight--;

    if (b->replay) {
        s->replay_inflight--;
    }

    b->why.failure = ngx_http_mixpanel_fail_memory;

    ngx_http_mixpanel_sender_retry(s, b, NGX_HTTP_MIXPANEL_BACKOFF_MIN, 0);
}


/* "[rec,rec,...]" */

static ngx_int_t
ngx_http_mixpanel_sender_body(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_buf_t *body, ngx_http_mixpanel_batch_t *b)
{
    size_t                       size;
    ngx_uint_t                   i;
    ngx_http_mixpanel_record_t  *rec;

    size = 2;

    for (rec = b->head; rec; rec = rec->next) {
        size += rec->len + 1;
    }

    if (ngx_http_mixpanel_buf_reserve(body, size) != NGX_OK) {
        return NGX_ERROR;
    }

    *body->pos++ = '[';

    for (rec = b->head, i = 1; rec; rec = rec->next, i++) {
        if (rec != b->head) {
            *body->pos++ = ',';
        }

        body->pos = ngx_cpymem(body->pos, rec->data, rec->len);

        if (i % NGX_HTTP_MIXPANEL_YIELD_EVERY == 0) {
            ngx_http_mixpanel_sender_yield(NULL);
        }
    }

    *body->pos++ = ']';

    return NGX_OK;
}


/* the file: sink, a line per batch, written at once */

static void
ngx_http_mixpanel_sender_write(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_batch_t *b)
{
    u_char                   *p, *last;
    ssize_t                   w;
    ngx_err_t                 err;
    ngx_http_mixpanel_buf_t   body;

    ngx_memzero(&body, sizeof(ngx_http_mixpanel_buf_t));

    if (ngx_http_mixpanel_buf_append(&body,
                                     b->lane->kind
                                     == NGX_HTTP_MIXPANEL_RECORD_ENGAGE
                                     ? (u_char *) "{\"endpoint\":\"/engage\","
                                                  "\"body\":"
                                     : (u_char *) "{\"endpoint\":\"/import\","
                                                  "\"body\":",
                                     sizeof("{\"endpoint\":\"/import\","
                                            "\"body\":") - 1)
           != NGX_OK
        || ngx_http_mixpanel_sender_body(s, &body, b) != NGX_OK
        || ngx_http_mixpanel_buf_append(&body, (u_char *) "}\n", 2)
           != NGX_OK)
    {
        free(body.start);

        b->why.failure = ngx_http_mixpanel_fail_memory;
        ngx_http_mixpanel_sender_retry(s, b, NGX_HTTP_MIXPANEL_BACKOFF_MIN,
                                       0);
        return;
    }

    p = body.start;
    last = body.pos;

    while (p < last) {
        w = write(s->fd, p, last - p);

        if (w == -1) {
            err = ngx_errno;

            if (err == NGX_EINTR) {
                continue;
            }

            free(body.start);

            ngx_http_mixpanel_sender_error(s, "write() to \"%V\" failed",
                                           &s->file_name);
            ngx_http_mixpanel_sender_log(s, NGX_LOG_ALERT,
                                         ngx_http_mixpanel_log_file,
                                         "mixpanel: write() to \"%V\" "
                                         "failed (%d)", &s->file_name, err);

            b->why.failure = ngx_http_mixpanel_fail_file;
            ngx_http_mixpanel_sender_retry(s, b, 0, 0);
            return;
        }

        p += w;
    }

    free(body.start);

    ngx_http_mixpanel_sender_done(s, b, b->n, 0, NULL);
}


/* runs libcurl and handles the transfers that ended */

static void
ngx_http_mixpanel_sender_perform(ngx_http_mixpanel_sender_t *s)
{
    int                        running, left;
    CURL                      *c;
    CURLMsg                   *msg;
    CURLcode                   code;
    ngx_http_mixpanel_slot_t  *slot;

    if (s->nslots == 0) {
        return;
    }

    (void) curl_multi_perform(s->multi, &running);

    while ((msg = curl_multi_info_read(s->multi, &left)) != NULL) {

        if (msg->msg != CURLMSG_DONE) {
            continue;
        }

        c = msg->easy_handle;
        code = msg->data.result;

        slot = NULL;
        (void) curl_easy_getinfo(c, CURLINFO_PRIVATE, (char **) &slot);

        (void) curl_multi_remove_handle(s->multi, c);

        if (slot == NULL || slot->batch == NULL) {
            continue;
        }

        ngx_http_mixpanel_sender_answer(s, slot, code);

        if ((size_t) (slot->answer.end - slot->answer.start)
            > NGX_HTTP_MIXPANEL_ANSWER_SMALL)
        {
            free(slot->answer.start);
            ngx_memzero(&slot->answer, sizeof(ngx_http_mixpanel_buf_t));
        }
    }
}


static void
ngx_http_mixpanel_sender_answer(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_slot_t *slot, CURLcode code)
{
    long                        status;
    char                       *location;
    u_char                      raw[1024], text[512], *p;
    u_char                      failed[NGX_HTTP_MIXPANEL_MAX_BATCH];
    ngx_int_t                   imported, nfailed;
    ngx_str_t                   error, to;
    ngx_uint_t                  n, engage, rejected, marked;
    ngx_msec_t                  wait;
    ngx_http_mixpanel_lane_t   *lane;
    ngx_http_mixpanel_batch_t  *b;

    b = slot->batch;
    slot->batch = NULL;
    lane = b->lane;
    n = b->n;

    s->inflight--;
    lane->inflight--;

    if (b->replay) {
        s->replay_inflight--;
    }

    engage = (lane->kind == NGX_HTTP_MIXPANEL_RECORD_ENGAGE);

    if (code != CURLE_OK) {
        b->why.code = code;
        b->why.status = 0;

        switch (code) {

        case CURLE_COULDNT_CONNECT:
            b->why.failure = ngx_http_mixpanel_fail_connect;
            break;

        case CURLE_COULDNT_RESOLVE_HOST:
            b->why.failure = ngx_http_mixpanel_fail_resolve;
            break;

        case CURLE_OPERATION_TIMEDOUT:
            b->why.failure = ngx_http_mixpanel_fail_timeout;
            break;

        default:
            b->why.failure = ngx_http_mixpanel_fail_network;
        }

        ngx_http_mixpanel_sender_error(s, "%s",
                                       slot->errbuf[0]
                                       ? slot->errbuf
                                       : curl_easy_strerror(code));

        ngx_http_mixpanel_sender_log(s, NGX_LOG_ERR,
                                     ngx_http_mixpanel_log_network,
                                     "mixpanel: sending %ui %s to \"%s\" "
                                     "failed: %s", n,
                                     engage ? "updates" : "events", s->url,
                                     slot->errbuf[0]
                                     ? slot->errbuf
                                     : curl_easy_strerror(code));

        ngx_http_mixpanel_sender_retry(s, b, 0, 0);
        return;
    }

    status = 0;
    (void) curl_easy_getinfo(slot->easy, CURLINFO_RESPONSE_CODE, &status);

    (void) ngx_http_mixpanel_answer_parse(slot->answer.start,
                                          slot->answer.pos
                                          - slot->answer.start,
                                          &imported, &nfailed, &error,
                                          raw, sizeof(raw));

    /*
     * Mixpanel's words, escaped, and never the token: masked in what the
     * parser kept, a start of it too where the parser cut the text
     */

    p = ngx_http_mixpanel_sender_escape(text, text + sizeof(text),
                                        error.data, error.len,
                                        b->head->token, b->head->token_len,
                                        1, error.len == sizeof(raw));

    error.data = text;
    error.len = p - text;

    /*
     * Any 2xx is an acceptance: a relay or proxy in front of Mixpanel may
     * answer 202 or 204, with no Mixpanel answer to read; sending again
     * would apply people updates twice.
     */

    if (status >= 200 && status < 300 && nfailed == 0) {

        if (engage && error.len) {
            ngx_http_mixpanel_sender_log(s, NGX_LOG_WARN,
                                         ngx_http_mixpanel_log_accepted,
                                         "mixpanel: \"%s\" accepted %ui "
                                         "updates with an error: \"%V\"",
                                         s->url, n, &error);
        }

        ngx_http_mixpanel_sender_done(s, b, n, 0, NULL);
        return;
    }

    ngx_http_mixpanel_sender_error(s, "HTTP %l from %s%s%V", status,
                                   engage ? "/engage" : "/import",
                                   error.len ? ": " : "", &error);

    b->why.status = status;
    b->why.code = 0;

    if (status == 413) {
        ngx_http_mixpanel_sender_split(s, b);
        return;
    }

    /*
     * A redirect refuses nothing: mixpanel_api points at the wrong place
     * (http:// for https://, a moved relay).  It is not followed, since
     * the Basic credentials would go along, and retried, with the lane's
     * backoff, until the configuration is fixed or retry time is spent.
     */

    if (status >= 300 && status < 400) {
        b->why.failure = ngx_http_mixpanel_fail_redirect;

        location = NULL;
        (void) curl_easy_getinfo(slot->easy, CURLINFO_REDIRECT_URL,
                                 &location);

        to.len = 0;
        to.data = raw;

        if (location) {
            p = ngx_http_mixpanel_sender_escape(raw, raw + sizeof(raw) / 2,
                                                (u_char *) location,
                                                ngx_strlen(location),
                                                b->head->token,
                                                b->head->token_len, 1, 0);
            to.len = p - raw;
        }

        ngx_http_mixpanel_sender_log(s, NGX_LOG_ERR,
                                     ngx_http_mixpanel_log_redirect,
                                     "mixpanel: \"%s\" answered %l, a "
                                     "redirect%s%V%s, check mixpanel_api; "
                                     "will retry", s->url, status,
                                     to.len ? " to \"" : " with no Location",
                                     &to, to.len ? "\"" : "");

        ngx_http_mixpanel_sender_retry(s, b, 0, 0);
        return;
    }

    /* 429, 5xx, and what is no HTTP answer at all (status 0, 1xx) */

    if (status == 429 || status >= 500 || status < 200) {
        b->why.failure = ngx_http_mixpanel_fail_status;

        ngx_http_mixpanel_sender_log(s, NGX_LOG_WARN,
                                     ngx_http_mixpanel_log_status,
                                     "mixpanel: \"%s\" answered %l, "
                                     "will retry", s->url, status);

        if (status == 429) {

            /* fewer requests at once, more again after as many successes */

            s->window = ngx_max(1, s->window / 2);
            s->successes = 0;
        }

        wait = 0;

        if ((status == 429 || status == 503)
            && slot->retry_after != NGX_CONF_UNSET_MSEC)
        {
            wait = slot->retry_after;
        }

        ngx_http_mixpanel_sender_retry(s, b, wait, wait != 0);
        return;
    }

    if (status == 401 || status == 403) {
        b->why.failure = ngx_http_mixpanel_fail_auth;

        ngx_http_mixpanel_sender_log(s, NGX_LOG_ERR,
                                     ngx_http_mixpanel_log_auth,
                                     "mixpanel: \"%s\" refused the "
                                     "credentials (%l), check "
                                     "mixpanel_token or "
                                     "mixpanel_service_account; will retry",
                                     s->url, status);

        ngx_http_mixpanel_sender_retry(s, b, NGX_HTTP_MIXPANEL_AUTH_BACKOFF,
                                       0);
        return;
    }

    /*
     * A strict 400 lists the records it refused, the rest were accepted
     * (with or without num_records_imported); other 4xx, and /engage's
     * status 0, refuse the batch.
     */

    marked = 0;

    if ((status == 400 || status < 300) && !engage && nfailed > 0
        && n <= NGX_HTTP_MIXPANEL_MAX_BATCH)
    {
        ngx_memzero(failed, n);
        marked = ngx_http_mixpanel_answer_failed(slot->answer.start,
                                                 slot->answer.pos
                                                 - slot->answer.start,
                                                 failed, n);
    }

    if (marked) {
        rejected = marked;

    } else if ((status == 400 || status < 300) && !engage && nfailed > 0) {
        rejected = ngx_min((ngx_uint_t) nfailed, n);

    } else if (status < 300 && engage) {
        rejected = n;

    } else {
        rejected = n - ngx_min(n, (ngx_uint_t) ngx_max(imported, 0));
    }

    ngx_http_mixpanel_sender_log(s, NGX_LOG_ERR,
                                 ngx_http_mixpanel_log_rejected,
                                 "mixpanel: \"%s\" rejected %ui of %ui %s "
                                 "(%l): \"%V\"", s->url, rejected, n,
                                 engage ? "updates" : "events", status,
                                 &error);

    ngx_http_mixpanel_sender_done(s, b, n - rejected, rejected,
                                  marked ? failed : NULL);
}


/*
 * A batch that ended: "sent" records accepted, "rejected" refused, the
 * refused ones marked in failed[] when Mixpanel said which.
 */

static void
ngx_http_mixpanel_sender_done(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_batch_t *b, ngx_uint_t sent, ngx_uint_t rejected,
    u_char *failed)
{
    ngx_uint_t                   i, identify;
    ngx_http_mixpanel_lane_t    *lane;
    ngx_http_mixpanel_record_t  *rec;

    lane = b->lane;
    identify = 0;

    /* exactly: when some were refused, only if Mixpanel said which */

    for (rec = b->head, i = 0; rec && sent; rec = rec->next, i++) {
        if (rec->identify
            && (failed ? !failed[i] : rejected == 0))
        {
            identify++;
        }
    }

    if (sent) {
        lane->backoff = NGX_HTTP_MIXPANEL_BACKOFF_MIN;
        lane->why.failure = ngx_http_mixpanel_fail_none;

        if (s->nslots && ++s->successes >= s->window) {
            s->window = ngx_min(s->nslots, s->window + 1);
            s->successes = 0;
        }

        if (s->files_wait && s->file.fd == -1) {
            s->replay_at = ngx_min(s->replay_at,
                                   ngx_http_mixpanel_now()
                                   + NGX_HTTP_MIXPANEL_REPLAY_SOON);
        }
    }

    pthread_mutex_lock(&s->mutex);

    if (sent) {
        s->delta.batches++;
        s->delta.last_success = time(NULL);
    }

    s->delta.identify += identify;

    if (b->replay) {
        s->delta.replayed += sent;
        s->delta.replay_rejected += rejected;

    } else {
        s->delta.sent += sent;
        s->delta.rejected += rejected;
    }

    pthread_mutex_unlock(&s->mutex);

    if (s->stopping && !b->replay) {
        s->sent_since_stop += sent;
    }

    if (b->replay) {
        s->replay_left -= b->n;
        s->replay_accepted += sent;
        s->replay_rejected += rejected;

        ngx_http_mixpanel_sender_release(s, b->head, 2);
        free(b);

        if (s->replay_left == 0) {
            ngx_http_mixpanel_sender_replay_done(s);
        }

        return;
    }

    ngx_http_mixpanel_sender_release(s, b->head, 0);
    free(b);
}


/* 413: the halves go back at the head, in order; one record is refused */

static void
ngx_http_mixpanel_sender_split(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_batch_t *b)
{
    ngx_uint_t                   half, i;
    ngx_http_mixpanel_batch_t   *second;
    ngx_http_mixpanel_record_t  *rec;

    if (b->n == 1) {
        ngx_http_mixpanel_sender_log(s, NGX_LOG_ERR,
                                     ngx_http_mixpanel_log_rejected,
                                     "mixpanel: \"%s\" refused a record of "
                                     "%uD bytes as too large (413)",
                                     s->url, b->head->len);

        ngx_http_mixpanel_sender_done(s, b, 0, 1, NULL);
        return;
    }

    second = calloc(1, sizeof(ngx_http_mixpanel_batch_t));
    if (second == NULL) {
        b->why.failure = ngx_http_mixpanel_fail_memory;
        ngx_http_mixpanel_sender_retry(s, b, NGX_HTTP_MIXPANEL_BACKOFF_MIN,
                                       0);
        return;
    }

    half = b->n / 2;
    rec = b->head;

    for (i = 1; i < half; i++) {
        rec = rec->next;
    }

    *second = *b;
    second->head = rec->next;
    second->n = b->n - half;
    second->attempts = 0;
    rec->next = NULL;

    b->n = half;
    b->attempts = 0;

    /* second first: the first half ends up in front of it */

    ngx_http_mixpanel_sender_put_back(s, second);
    ngx_http_mixpanel_sender_put_back(s, b);
}


/*
 * A failed attempt pauses the batch's lane: "wait" when the server said
 * (told) or for a 401, else the lane's backoff, 2 s doubling to 60 s;
 * plus 1 to 5 s of jitter.  While exiting, a lane waits 250 ms at most,
 * unless the server said when.
 */

static void
ngx_http_mixpanel_sender_retry(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_batch_t *b, ngx_msec_t wait, ngx_uint_t told)
{
    u_char                     err[NGX_HTTP_MIXPANEL_LINE_LEN];
    ngx_msec_t                 now;
    ngx_http_mixpanel_lane_t  *lane;

    lane = b->lane;
    now = ngx_http_mixpanel_now();

    lane->why = b->why;

    if (wait == 0) {
        wait = lane->backoff;
        lane->backoff = ngx_min(lane->backoff * 2,
                                NGX_HTTP_MIXPANEL_BACKOFF_MAX);
    }

    if (s->stopping && !told) {
        wait = ngx_min(wait, NGX_HTTP_MIXPANEL_STOP_BACKOFF);

    } else {
        wait += 1000 + (ngx_msec_t) (ngx_random() % 4001);
    }

    if (now + wait > lane->retry_at) {
        lane->retry_at = now + wait;
    }

    /*
     * what the server said holds whatever its other batches meet, before
     * or after: a success, a 401's longer pause, a 500's shorter one
     */

    if (told && now + wait > lane->told_until) {
        lane->told_until = now + wait;
    }

    if (b->replay) {
        ngx_http_mixpanel_sender_put_back(s, b);

        if (s->stopping) {
            return;
        }

        /*
         * The file is given back: left as it is when nothing of its
         * section was sent, else what is left goes to a file of its own
         * (when that cannot be written, the file is kept and waits for
         * its lane, lest what was sent be sent again).  Its lane's files
         * are skipped while the lane is paused, and looked at again when
         * it resumes; the other files go now: a token refused for good
         * must not hold up the others.
         */

        if (s->replay_accepted + s->replay_rejected == 0
            && ngx_http_mixpanel_sender_replay_marked(s))
        {
            ngx_http_mixpanel_sender_replay_drop(s);

        } else if (ngx_http_mixpanel_sender_replay_rest(s, err, sizeof(err))
                   != NGX_OK)
        {
            ngx_http_mixpanel_sender_log(s, NGX_LOG_ERR,
                                         ngx_http_mixpanel_log_spool,
                                         "mixpanel: %s, \"%s\" is kept",
                                         err, s->file.path);
            return;
        }

        s->files_wait = 1;
        s->replay_at = now;

        return;
    }

    if (!s->stopping
        && lane->retry_at - b->created > s->conf.retry_max_time)
    {
        ngx_http_mixpanel_sender_expire(s, b, now);
        return;
    }

    ngx_http_mixpanel_sender_put_back(s, b);
}


/* back in its queue, by seq: the lane's, or the replay's */

static void
ngx_http_mixpanel_sender_put_back(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_batch_t *b)
{
    ngx_http_mixpanel_batch_t  **pb;

    pb = b->replay ? &s->replay : &b->lane->batches;

    while (*pb && (*pb)->seq < b->seq) {
        pb = &(*pb)->next;
    }

    b->next = *pb;
    *pb = b;
}


/* retry time spent: to the spool, or dropped */

static void
ngx_http_mixpanel_sender_expire(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_batch_t *b, ngx_msec_t now)
{
    u_char      err[NGX_HTTP_MIXPANEL_LINE_LEN], why[200], *p;
    ngx_int_t   rc;
    ngx_msec_t  since;

    if (s->spool.dir) {
        rc = ngx_http_mixpanel_spool_write(&s->spool, b->lane->kind,
                                           b->lane->token,
                                           b->lane->token_len, b->head,
                                           b->n, err, sizeof(err));
        if (rc == NGX_OK) {
            pthread_mutex_lock(&s->mutex);
            s->delta.spooled += b->n;
            pthread_mutex_unlock(&s->mutex);

            s->files_wait = 1;

            ngx_http_mixpanel_sender_log(s, NGX_LOG_WARN,
                                         ngx_http_mixpanel_log_spooled,
                                         "mixpanel: %ui events spooled to "
                                         "\"%s\", retry time spent",
                                         b->n, s->spool.dir);

            ngx_http_mixpanel_sender_release(s, b->head, 0);
            free(b);
            return;
        }

        ngx_http_mixpanel_sender_log(s, NGX_LOG_ERR,
                                     ngx_http_mixpanel_log_spool,
                                     "mixpanel: %s, %ui events not spooled",
                                     err, b->n);
    }

    pthread_mutex_lock(&s->mutex);
    s->delta.retry_expired += b->n;
    pthread_mutex_unlock(&s->mutex);

    since = now - (b->first ? b->first : b->created);
    p = ngx_http_mixpanel_sender_why(s, why, why + sizeof(why) - 1, &b->why);
    *p = '\0';

    ngx_http_mixpanel_sender_log(s, NGX_LOG_ERR,
                                 ngx_http_mixpanel_log_expired,
                                 "mixpanel: %ui events dropped after %ui "
                                 "attempt%s in %M ms "
                                 "(mixpanel_retry_max_time %M ms), "
                                 "last failure: %s", b->n, b->attempts,
                                 b->attempts == 1 ? "" : "s", since,
                                 s->conf.retry_max_time, why);

    ngx_http_mixpanel_sender_release(s, b->head, 1);
    free(b);
}


/*
 * Spool files are looked at when the thread starts, 5 s after a live
 * success while some wait, and every 30 s: other workers, earlier ones
 * included, put files there.  One file at a time is loaded; its batches
 * go through their lanes' rules.
 */

static void
ngx_http_mixpanel_sender_replay(ngx_http_mixpanel_sender_t *s,
    ngx_msec_t now)
{
    u_char     err[NGX_HTTP_MIXPANEL_LINE_LEN];
    ngx_int_t  rc;

    if (s->file.fd != -1 || now < s->replay_at) {
        return;
    }

    s->replay_at = now + NGX_HTTP_MIXPANEL_REPLAY_EVERY;
    s->replay_skip = 0;

    for ( ;; ) {
        rc = ngx_http_mixpanel_spool_claim(&s->spool, &s->file,
                                           ngx_http_mixpanel_sender_paused,
                                           s, err, sizeof(err));
        if (rc != NGX_ABORT) {
            break;
        }

        ngx_http_mixpanel_sender_log(s, NGX_LOG_ERR, -1, "mixpanel: %s",
                                     err);
    }

    if (s->spool.nbad) {
        ngx_http_mixpanel_sender_log(s, NGX_LOG_ERR,
                                     ngx_http_mixpanel_log_spool_file,
                                     "mixpanel: %ui spool file%s cannot be "
                                     "opened, the first %s; %s skipped and "
                                     "not counted against max_size",
                                     s->spool.nbad,
                                     s->spool.nbad == 1 ? "" : "s",
                                     s->spool.bad,
                                     s->spool.nbad == 1 ? "it is" : "they are");
    }

    if (rc != NGX_OK) {
        s->files_wait = (s->replay_skip != 0);

        if (s->replay_skip) {

            /* the files of a paused lane: looked at again when it resumes */

            s->replay_at = ngx_min(s->replay_at, s->replay_skip);
        }

        return;
    }

    s->files_wait = 1;
    s->replay_file_accepted = 0;
    s->replay_file_rejected = 0;
    s->replay_first = s->file.offset;

    ngx_http_mixpanel_sender_replay_load(s, now);
}


/* the records of the file's section being replayed, in batches */

static void
ngx_http_mixpanel_sender_replay_load(ngx_http_mixpanel_sender_t *s,
    ngx_msec_t now)
{
    size_t                       size;
    ngx_http_mixpanel_lane_t    *lane;
    ngx_http_mixpanel_batch_t   *b, **last;
    ngx_http_mixpanel_record_t  *list;

    lane = ngx_http_mixpanel_sender_lane(s, s->file.kind, s->file.token,
                                         s->file.token_len, 1);
    if (lane == NULL) {
        ngx_http_mixpanel_sender_release(s, s->file.records, 2);
        s->file.records = NULL;
        ngx_http_mixpanel_spool_release(&s->file, 0);
        return;
    }

    s->replay_left = s->file.count;
    s->replay_accepted = 0;
    s->replay_rejected = 0;

    list = s->file.records;
    s->file.records = NULL;

    last = &s->replay;

    while (list) {
        b = ngx_http_mixpanel_sender_batch(s, &list, &size, now);

        if (b == NULL) {
            ngx_http_mixpanel_sender_release(s, list, 2);
            ngx_http_mixpanel_sender_replay_drop(s);
            return;
        }

        b->lane = lane;
        b->replay = 1;

        *last = b;
        last = &b->next;
    }
}


/* a file whose lane is paused is left for later: it would only wait */

static ngx_int_t
ngx_http_mixpanel_sender_paused(void *data, ngx_uint_t kind, u_char *token,
    size_t len)
{
    ngx_http_mixpanel_sender_t *s = data;

    ngx_http_mixpanel_lane_t  *lane;

    lane = ngx_http_mixpanel_sender_lane(s, kind, token, len, 0);

    if (lane == NULL || lane->retry_at <= ngx_http_mixpanel_now()) {
        return 0;
    }

    if (s->replay_skip == 0 || lane->retry_at < s->replay_skip) {
        s->replay_skip = lane->retry_at;
    }

    return 1;
}


/* a section sent: the file's next one, or the file is done */

static void
ngx_http_mixpanel_sender_replay_done(ngx_http_mixpanel_sender_t *s)
{
    u_char     err[NGX_HTTP_MIXPANEL_LINE_LEN];
    ngx_int_t  rc;

    s->replay_file_accepted += s->replay_accepted;
    s->replay_file_rejected += s->replay_rejected;

    rc = ngx_http_mixpanel_spool_next(&s->spool, &s->file, err,
                                      sizeof(err));

    if (rc == NGX_OK) {
        ngx_http_mixpanel_sender_replay_load(s, ngx_http_mixpanel_now());
        return;
    }

    if (rc == NGX_ERROR) {
        ngx_http_mixpanel_sender_log(s, NGX_LOG_ERR, -1, "mixpanel: %s", err);
        s->replay_at = ngx_http_mixpanel_now();
        return;
    }

    ngx_http_mixpanel_sender_log(s, NGX_LOG_NOTICE, -1,
                                 "mixpanel: %ui spooled events sent from "
                                 "\"%s\"%s", s->replay_file_accepted,
                                 s->file.path,
                                 s->replay_file_rejected ? ", some rejected"
                                                         : "");

    ngx_http_mixpanel_sender_replay_remove(s);

    /* the next file at once: they are sent when nothing live is ready */

    s->replay_at = ngx_http_mixpanel_now();
}


/* at exit, a section sent: the rest of its file is left for later */

static void
ngx_http_mixpanel_sender_replay_end(ngx_http_mixpanel_sender_t *s)
{
    if (ngx_http_mixpanel_spool_mark(&s->file)) {
        ngx_http_mixpanel_spool_release(&s->file, 0);
        return;
    }

    ngx_http_mixpanel_sender_replay_remove(s);
}


/* a file sent: removed, or, when it cannot be, never sent again */

static void
ngx_http_mixpanel_sender_replay_remove(ngx_http_mixpanel_sender_t *s)
{
    u_char  err[NGX_HTTP_MIXPANEL_LINE_LEN];

    if (ngx_http_mixpanel_spool_remove(&s->spool, &s->file, err, sizeof(err))
        != NGX_OK)
    {
        ngx_http_mixpanel_sender_log(s, NGX_LOG_ERR,
                                     ngx_http_mixpanel_log_spool_remove,
                                     "mixpanel: %s", err);
    }
}


/*
 * Whether the file may be given back as it is: no section was sent since
 * it was claimed, or those sent are marked.  In a read-only file they are
 * not: it is copied from the section being replayed on, when it can be.
 */

static ngx_uint_t
ngx_http_mixpanel_sender_replay_marked(ngx_http_mixpanel_sender_t *s)
{
    if (!s->file.readonly || s->file.offset == s->replay_first) {
        return 1;
    }

    return ngx_http_mixpanel_spool_own(&s->spool, &s->file) == NGX_OK;
}


/* the file is left for a later look, unlocked; what was loaded is freed */

static void
ngx_http_mixpanel_sender_replay_drop(ngx_http_mixpanel_sender_t *s)
{
    ngx_http_mixpanel_batch_t  *b, *next;

    for (b = s->replay; b; b = next) {
        next = b->next;
        ngx_http_mixpanel_sender_release(s, b->head, 2);
        free(b);
    }

    s->replay = NULL;
    s->replay_left = 0;

    ngx_http_mixpanel_spool_release(&s->file, 0);

    s->files_wait = 1;
}


/*
 * The end of an exit: at the deadline, or when nothing is left to try.
 * Transfers still in flight are abandoned (Mixpanel may have received
 * them: an event's $insert_id makes it count once, a people update may be
 * applied twice), and every record held is spooled, or counted as
 * dropped.shutdown, in one step.
 */

static void
ngx_http_mixpanel_sender_finish(ngx_http_mixpanel_sender_t *s)
{
    u_char                       err[NGX_HTTP_MIXPANEL_LINE_LEN], *p;
    u_char                       refused[NGX_HTTP_MIXPANEL_LINE_LEN];
    u_char                       text[200];
    size_t                       size;
    ngx_int_t                    rc;
    ngx_uint_t                   i, n, spooled, files, dropped, late, lost;
    ngx_uint_t                   unspooled;
    ngx_msec_t                   start, grace;
    ngx_queue_t                 *q;
    ngx_http_mixpanel_why_t      why;
    ngx_http_mixpanel_lane_t    *lane;
    ngx_http_mixpanel_slot_t    *slot;
    ngx_http_mixpanel_batch_t   *b, *next;
    ngx_http_mixpanel_tally_t    tally[4];
    ngx_http_mixpanel_record_t  *list, **tail, *rec, *chunk, *end;

    for (i = 0; i < s->nslots; i++) {
        slot = &s->slots[i];
        b = slot->batch;

        if (b == NULL) {
            continue;
        }

        (void) curl_multi_remove_handle(s->multi, slot->easy);

        slot->batch = NULL;
        s->inflight--;
        b->lane->inflight--;

        if (b->replay) {
            s->replay_inflight--;
        }

        b->why.failure = ngx_http_mixpanel_fail_aborted;
        ngx_http_mixpanel_sender_put_back(s, b);
    }

    /* nothing comes in any more: the stop flag refuses it */

    pthread_mutex_lock(&s->mutex);

    list = s->inbox;
    s->inbox = NULL;
    s->inbox_tail = &s->inbox;
    s->ninbox = 0;

    pthread_mutex_unlock(&s->mutex);

    ngx_http_mixpanel_sender_take(s, list, 0);

    ngx_http_mixpanel_sender_finish_replay(s);

    ngx_memzero(tally, sizeof(tally));
    spooled = 0;
    files = 0;
    dropped = 0;
    late = 0;
    unspooled = 0;

    /* files not synced one by one: all at once, after the last */

    s->spool.defer = 1;
    start = ngx_http_mixpanel_now();

    pthread_mutex_lock(&s->mutex);
    grace = ngx_max(s->budget, NGX_HTTP_MIXPANEL_SPOOL_GRACE);
    pthread_mutex_unlock(&s->mutex);

    for (q = ngx_queue_head(&s->lanes);
         q != ngx_queue_sentinel(&s->lanes);
         q = ngx_queue_next(q))
    {
        lane = ngx_queue_data(q, ngx_http_mixpanel_lane_t, queue);

        /* the lane's records in order: its batches, then what is pending */

        list = NULL;
        tail = &list;
        n = 0;
        why = lane->why;

        for (b = lane->batches; b; b = next) {
            next = b->next;

            if (why.failure == ngx_http_mixpanel_fail_none) {
                why = b->why;
            }

            if (b->why.failure == ngx_http_mixpanel_fail_aborted) {
                why = b->why;
            }

            *tail = b->head;

            for (rec = b->head; rec; rec = rec->next) {
                tail = &rec->next;
                n++;
            }

            free(b);
        }

        lane->batches = NULL;

        *tail = lane->npending ? lane->pending : NULL;
        n += lane->npending;
        lane->pending = NULL;
        lane->tail = &lane->pending;
        lane->npending = 0;
        lane->psize = 0;

        if (n == 0) {
            continue;
        }

        /* in files of 4 MB at most, while there is time */

        if (s->spool.dir && !late
            && ngx_http_mixpanel_now() - start >= grace)
        {
            late = 1;
        }

        while (list && s->spool.dir && !late) {
            chunk = list;
            size = 0;
            i = 0;

            for (rec = list, end = NULL; rec; end = rec, rec = rec->next) {
                if (i > 0 && size + rec->len + 1
                             > NGX_HTTP_MIXPANEL_SPOOL_FILE)
                {
                    break;
                }

                size += rec->len + 1;
                i++;
            }

            end->next = NULL;
            list = rec;

            rc = ngx_http_mixpanel_spool_write(&s->spool, lane->kind,
                                               lane->token, lane->token_len,
                                               chunk, i, err, sizeof(err));
            if (rc != NGX_OK) {

                /*
                 * one line for all the lanes, after them: a line each
                 * would fill the log's outbox, and the exit's report
                 * would be lost
                 */

                if (unspooled == 0) {
                    ngx_cpystrn(refused, err, sizeof(refused));
                }

                unspooled += n;

                end->next = list;
                list = chunk;
                break;
            }

            spooled += i;
            files++;
            n -= i;

            ngx_http_mixpanel_sender_release(s, chunk, 0);
        }

        if (list == NULL) {
            continue;
        }

        dropped += n;

        if (late) {
            p = ngx_slprintf(text, text + sizeof(text),
                             "no time left to write the spool files "
                             "(%M ms)", grace);

        } else {
            p = ngx_http_mixpanel_sender_why(s, text, text + sizeof(text),
                                             &why);
        }

        ngx_http_mixpanel_sender_tally(tally, n, text, p - text);

        ngx_http_mixpanel_sender_release(s, list, 1);
    }

    if (unspooled) {
        ngx_http_mixpanel_sender_log(s, NGX_LOG_ERR, -1,
                                     "mixpanel: %s, %ui events not spooled",
                                     refused, unspooled);
    }

    if (s->spool.dir) {
        files = s->spool.npending;
    }

    lost = ngx_http_mixpanel_spool_commit(&s->spool, err, sizeof(err));

    if (lost) {
        ngx_http_mixpanel_sender_log(s, NGX_LOG_ERR, -1,
                                     "mixpanel: %s, %ui events not spooled",
                                     err, lost);

        p = ngx_slprintf(text, text + sizeof(text), "%s", err);
        ngx_http_mixpanel_sender_tally(tally, lost, text, p - text);

        spooled -= lost;
        dropped += lost;
    }

    pthread_mutex_lock(&s->mutex);
    s->delta.spooled += spooled;
    s->delta.shutdown += dropped;
    pthread_mutex_unlock(&s->mutex);

    if (spooled) {
        ngx_http_mixpanel_sender_log(s, NGX_LOG_WARN, -1,
                                     "mixpanel: %ui events spooled to \"%s\" "
                                     "on exit (%ui file%s)", spooled,
                                     s->spool.dir, files,
                                     files == 1 ? "" : "s");
    }

    for (i = 0; i < 4 && tally[i].n; i++) {
        ngx_http_mixpanel_sender_log(s, NGX_LOG_ERR, -1,
                                     "mixpanel: %ui events dropped on exit, "
                                     "last failure: %*s", tally[i].n,
                                     tally[i].len, tally[i].text);
    }

    if (s->sent_since_stop || spooled || dropped) {
        ngx_http_mixpanel_sender_log(s, NGX_LOG_NOTICE, -1,
                                     "mixpanel: on exit %ui events were "
                                     "sent, %ui spooled, %ui dropped",
                                     s->sent_since_stop, spooled, dropped);
    }
}


/*
 * The file being replayed at exit: left as it is when nothing of its
 * section was sent, else what is left of the section goes to a new file
 * and the section is marked sent (or the file removed); when that file
 * cannot be written, the whole file is left.
 */

static void
ngx_http_mixpanel_sender_finish_replay(ngx_http_mixpanel_sender_t *s)
{
    u_char  err[NGX_HTTP_MIXPANEL_LINE_LEN];

    if (s->file.fd == -1) {
        return;
    }

    if (s->replay_accepted + s->replay_rejected == 0
        && ngx_http_mixpanel_sender_replay_marked(s))
    {
        ngx_http_mixpanel_sender_replay_drop(s);
        return;
    }

    if (ngx_http_mixpanel_sender_replay_rest(s, err, sizeof(err))
        == NGX_OK)
    {
        return;
    }

    /* all of it again later: events count once, updates may twice */

    ngx_http_mixpanel_sender_log(s, NGX_LOG_ERR, -1,
                                 "mixpanel: %s, \"%s\" is left whole",
                                 err, s->file.path);

    ngx_http_mixpanel_sender_replay_drop(s);
}


/*
 * What is left of the section being replayed, to a file of its own; the
 * section is marked sent, or its file removed.  NGX_ERROR: the file could
 * not be written, err says why, and nothing changed.
 */

static ngx_int_t
ngx_http_mixpanel_sender_replay_rest(ngx_http_mixpanel_sender_t *s,
    u_char *err, size_t len)
{
    off_t                        max_size;
    ngx_int_t                    rc;
    ngx_uint_t                   i, n;
    ngx_http_mixpanel_batch_t   *b, *next;
    ngx_http_mixpanel_record_t  *list, **tail, *rec;

    /* sections follow that it cannot be marked before: sent again whole */

    if (s->file.readonly && s->file.next < s->file.len
        && ngx_http_mixpanel_spool_own(&s->spool, &s->file) != NGX_OK)
    {
        *ngx_slprintf(err, err + len - 1, "a section sent cannot be marked "
                      "in a read-only file") = '\0';
        return NGX_ERROR;
    }

    list = NULL;
    tail = &list;
    n = 0;

    for (b = s->replay; b; b = b->next) {
        *tail = b->head;

        for (rec = b->head; rec; rec = rec->next) {
            tail = &rec->next;
            n++;
        }
    }

    /*
     * The rest takes the place of its section, counted against max_size
     * already: a full spool does not refuse it, or the file would be
     * given back whole at exit and what was sent be sent again.
     */

    max_size = s->spool.max_size;
    s->spool.max_size = 0;

    rc = n ? ngx_http_mixpanel_spool_write(&s->spool, s->file.kind,
                                           s->file.token, s->file.token_len,
                                           list, n, err, len)
           : NGX_OK;

    s->spool.max_size = max_size;

    if (rc != NGX_OK) {

        /* the batches as they were */

        for (b = s->replay; b; b = b->next) {
            rec = b->head;

            for (i = 1; i < b->n; i++) {
                rec = rec->next;
            }

            rec->next = NULL;
        }

        return NGX_ERROR;
    }

    ngx_http_mixpanel_sender_replay_end(s);

    for (b = s->replay; b; b = next) {
        next = b->next;
        free(b);
    }

    s->replay = NULL;
    s->replay_left = 0;

    ngx_http_mixpanel_sender_release(s, list, 2);

    return NGX_OK;
}


static void
ngx_http_mixpanel_sender_tally(ngx_http_mixpanel_tally_t *tally,
    ngx_uint_t n, u_char *text, size_t len)
{
    ngx_uint_t  i;

    len = ngx_min(len, sizeof(tally[0].text));

    for (i = 0; i < 4; i++) {

        if (tally[i].n == 0) {
            tally[i].len = len;
            ngx_memcpy(tally[i].text, text, len);
        }

        if ((tally[i].len == len
             && ngx_memcmp(tally[i].text, text, len) == 0)
            || i == 3)
        {
            tally[i].n += n;

            if (i == 3 && (tally[i].len != len
                           || ngx_memcmp(tally[i].text, text, len) != 0))
            {
                tally[i].len = sizeof("several failures") - 1;
                ngx_memcpy(tally[i].text, "several failures",
                           tally[i].len);
            }

            return;
        }
    }
}


/*
 * Records the thread is done with.  drop 0: sent, rejected or spooled;
 * 1: dropped, a $identify among them is handed to the worker, whose zone
 * binding must not stand; 2: replayed records, which the queue never
 * counted.
 */

static void
ngx_http_mixpanel_sender_release(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_record_t *list, ngx_uint_t drop)
{
    ngx_uint_t                   n;
    ngx_http_mixpanel_record_t  *rec, *next, *unbind, **tail;

    n = 0;
    unbind = NULL;
    tail = &unbind;

    for (rec = list; rec; rec = next) {
        next = rec->next;
        n++;

        if (drop == 1 && rec->identify && rec->device) {
            rec->next = NULL;
            *tail = rec;
            tail = &rec->next;
            continue;
        }

        free(rec);

        if (n % NGX_HTTP_MIXPANEL_YIELD_EVERY == 0) {
            ngx_http_mixpanel_sender_yield(NULL);
        }
    }

    if (drop == 2) {
        return;
    }

    s->nrecords -= n;

    pthread_mutex_lock(&s->mutex);

    s->held -= n;
    s->delta.done += n;

    if (unbind) {
        *tail = s->unbind;
        s->unbind = unbind;
    }

    pthread_mutex_unlock(&s->mutex);
}


/* how long the thread may wait: bounded by everything it has to do */

static ngx_msec_t
ngx_http_mixpanel_sender_timeout(ngx_http_mixpanel_sender_t *s,
    ngx_msec_t now, ngx_msec_t deadline)
{
    long                       ms;
    ngx_msec_t                 t, at;
    ngx_queue_t               *q;
    ngx_http_mixpanel_lane_t  *lane;

    t = 60000;

    if (s->spool.dir && !s->stopping && s->file.fd == -1) {
        t = (s->replay_at > now) ? ngx_min(t, s->replay_at - now) : 0;
    }

    if (s->replay && s->replay_inflight == 0) {
        at = s->replay->lane->retry_at;
        t = ngx_min(t, ((at > now) ? at - now : 1000));
    }

    for (q = ngx_queue_head(&s->lanes);
         q != ngx_queue_sentinel(&s->lanes);
         q = ngx_queue_next(q))
    {
        lane = ngx_queue_data(q, ngx_http_mixpanel_lane_t, queue);

        if (lane->npending) {
            at = lane->pending->at + s->conf.flush_interval;
            t = ngx_min(t, ((at > now) ? at - now : 0));
        }

        if (lane->batches) {

            /* a paused lane is also looked at for batches to give up */

            at = lane->retry_at;
            t = ngx_min(t, ((at > now) ? ngx_min(at - now, 1000) : 1000));
        }
    }

    if (s->nslots && curl_multi_timeout(s->multi, &ms) == CURLM_OK
        && ms >= 0)
    {
        t = ngx_min(t, (ngx_msec_t) ms);
    }

    if (s->stopping) {
        t = (deadline > now) ? ngx_min(t, deadline - now) : 0;
    }

    return t;
}


/*
 * How many records the worker lets into the inbox before it wakes the
 * thread: a batch's worth, less what the fullest lane holds already (the
 * records may be that lane's: a batch it completes leaves at once, not
 * when the lane's flush interval ends); 1 when a lane nears the size of
 * a request's body, which a record may complete as well.
 */

static ngx_uint_t
ngx_http_mixpanel_sender_wake_at(ngx_http_mixpanel_sender_t *s)
{
    ngx_uint_t                 most;
    ngx_queue_t               *q;
    ngx_http_mixpanel_lane_t  *lane;

    most = 0;

    for (q = ngx_queue_head(&s->lanes);
         q != ngx_queue_sentinel(&s->lanes);
         q = ngx_queue_next(q))
    {
        lane = ngx_queue_data(q, ngx_http_mixpanel_lane_t, queue);

        if (lane->psize + NGX_HTTP_MIXPANEL_MAX_STRING * 256
            >= NGX_HTTP_MIXPANEL_MAX_BODY)
        {
            return 1;
        }

        if (lane->npending > most) {
            most = lane->npending;
        }
    }

    return (most < s->conf.batch_size) ? s->conf.batch_size - most : 1;
}


/* when the oldest record the thread holds was taken, as a wall clock */

static time_t
ngx_http_mixpanel_sender_oldest(ngx_http_mixpanel_sender_t *s,
    ngx_msec_t now)
{
    ngx_uint_t                  i, found;
    ngx_msec_t                  oldest;
    ngx_queue_t                *q;
    ngx_http_mixpanel_lane_t   *lane;
    ngx_http_mixpanel_batch_t  *b;

    found = 0;
    oldest = now;

    for (q = ngx_queue_head(&s->lanes);
         q != ngx_queue_sentinel(&s->lanes);
         q = ngx_queue_next(q))
    {
        lane = ngx_queue_data(q, ngx_http_mixpanel_lane_t, queue);

        if (lane->batches && lane->batches->head->at <= oldest) {
            oldest = lane->batches->head->at;
            found = 1;
        }

        if (lane->npending && lane->pending->at <= oldest) {
            oldest = lane->pending->at;
            found = 1;
        }
    }

    for (i = 0; i < s->nslots; i++) {
        b = s->slots[i].batch;

        if (b && !b->replay && b->head->at <= oldest) {
            oldest = b->head->at;
            found = 1;
        }
    }

    if (!found) {
        return 0;
    }

    return time(NULL) - (time_t) ((now - oldest) / 1000);
}


/* lanes empty for 5 minutes are freed: tokens may come and go */

static void
ngx_http_mixpanel_sender_housekeep(ngx_http_mixpanel_sender_t *s,
    ngx_msec_t now)
{
    ngx_uint_t                  key;
    ngx_queue_t                *q, *next;
    ngx_http_mixpanel_lane_t   *lane, **pl;

    if (s->file.fd != -1) {
        return;
    }

    for (q = ngx_queue_head(&s->lanes);
         q != ngx_queue_sentinel(&s->lanes);
         q = next)
    {
        next = ngx_queue_next(q);
        lane = ngx_queue_data(q, ngx_http_mixpanel_lane_t, queue);

        if (lane->npending || lane->batches || lane->inflight
            || lane->retry_at > now)
        {
            lane->idle = 0;
            continue;
        }

        if (lane->idle == 0) {
            lane->idle = now;
            continue;
        }

        if (now - lane->idle < NGX_HTTP_MIXPANEL_LANE_IDLE) {
            continue;
        }

        key = (ngx_hash_key(lane->token, lane->token_len) + lane->kind)
              % NGX_HTTP_MIXPANEL_LANES;

        for (pl = &s->hash[key]; *pl != lane; pl = &(*pl)->hnext) {
            /* void */
        }

        *pl = lane->hnext;

        if (s->rr == q) {
            s->rr = next;
        }

        ngx_queue_remove(q);
        free(lane);
    }
}


/* what went wrong last, in words for the log */

static u_char *
ngx_http_mixpanel_sender_why(ngx_http_mixpanel_sender_t *s, u_char *p,
    u_char *last, ngx_http_mixpanel_why_t *why)
{
    switch (why->failure) {

    case ngx_http_mixpanel_fail_connect:
        return ngx_slprintf(p, last, "could not connect to \"%s\"", s->url);

    case ngx_http_mixpanel_fail_resolve:
        return ngx_slprintf(p, last, "could not resolve \"%s\"", s->url);

    case ngx_http_mixpanel_fail_timeout:
        return ngx_slprintf(p, last, "\"%s\" did not answer in time",
                            s->url);

    case ngx_http_mixpanel_fail_network:
        return ngx_slprintf(p, last, "sending to \"%s\" failed: %s", s->url,
                            curl_easy_strerror((CURLcode) why->code));

    case ngx_http_mixpanel_fail_status:
        return ngx_slprintf(p, last, "\"%s\" answered %l", s->url,
                            why->status);

    case ngx_http_mixpanel_fail_auth:
        return ngx_slprintf(p, last, "\"%s\" refused the credentials (%l)",
                            s->url, why->status);

    case ngx_http_mixpanel_fail_redirect:
        return ngx_slprintf(p, last, "\"%s\" answered %l, a redirect",
                            s->url, why->status);

    case ngx_http_mixpanel_fail_file:
        return ngx_slprintf(p, last, "write() to \"%V\" failed",
                            &s->file_name);

    case ngx_http_mixpanel_fail_memory:
        return ngx_slprintf(p, last, "out of memory");

    case ngx_http_mixpanel_fail_aborted:
        return ngx_slprintf(p, last, "still in flight at the deadline");

    default:
        return ngx_slprintf(p, last, "not sent before the deadline");
    }
}


/*
 * A line for the worker to log.  reason >= 0: at most one a minute for
 * it; the rest are counted by the counters, not the log.
 */

static void
ngx_http_mixpanel_sender_log(ngx_http_mixpanel_sender_t *s, ngx_uint_t level,
    ngx_int_t reason, const char *fmt, ...)
{
    u_char                    *p, buf[NGX_HTTP_MIXPANEL_LINE_LEN];
    va_list                    args;
    ngx_msec_t                 now;
    ngx_http_mixpanel_line_t  *line;

    if (reason >= 0) {
        now = ngx_http_mixpanel_now();

        if (s->logged[reason]
            && now - s->logged[reason] < NGX_HTTP_MIXPANEL_LOG_EVERY)
        {
            return;
        }

        s->logged[reason] = now ? now : 1;
    }

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    pthread_mutex_lock(&s->mutex);

    if (s->nlines == NGX_HTTP_MIXPANEL_LINES) {
        s->lines_lost++;

    } else {
        line = &s->lines[s->nlines++];
        line->level = level;
        line->len = p - buf;
        ngx_memcpy(line->text, buf, line->len);
    }

    pthread_mutex_unlock(&s->mutex);
}


/* the status page's last_error, escaped: the status prints it as it is */

static void
ngx_http_mixpanel_sender_error(ngx_http_mixpanel_sender_t *s,
    const char *fmt, ...)
{
    u_char   *p, buf[NGX_HTTP_MIXPANEL_LINE_LEN];
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    pthread_mutex_lock(&s->mutex);

    p = ngx_http_mixpanel_sender_escape(s->delta.last_error,
                                        s->delta.last_error
                                        + sizeof(s->delta.last_error),
                                        buf, p - buf, NULL, 0, 0, 0);

    s->delta.last_error_len = p - s->delta.last_error;
    s->delta.last_error_time = time(NULL);

    pthread_mutex_unlock(&s->mutex);
}


/*
 * Text from elsewhere (Mixpanel's answers) made safe to log: printable
 * ASCII stays, other bytes are \xNN, and the token is never shown.  A
 * backslash is escaped too, unless the text is escaped already.  When the
 * text was cut ("cut"), a start of the token at its end is masked too:
 * the masking comes before any cut, the output's own cut comes after.
 */

static u_char *
ngx_http_mixpanel_sender_escape(u_char *p, u_char *last, u_char *src,
    size_t len, u_char *token, size_t token_len, ngx_uint_t backslash,
    ngx_uint_t cut)
{
    u_char  *end;

    end = src + len;

    while (src < end) {

        if (token_len >= 4
            && (((size_t) (end - src) >= token_len
                 && ngx_memcmp(src, token, token_len) == 0)
                || (cut && (size_t) (end - src) < token_len
                    && ngx_memcmp(src, token, end - src) == 0)))
        {
            if (last - p < 7) {
                break;
            }

            p = ngx_cpymem(p, "[token]", 7);
            src += ngx_min(token_len, (size_t) (end - src));
            continue;
        }

        if (*src >= 0x20 && *src < 0x7f && (*src != '\\' || !backslash)) {
            if (p == last) {
                break;
            }

            *p++ = *src++;
            continue;
        }

        if (last - p < 4) {
            break;
        }

        p = ngx_sprintf(p, "\\x%02XD", (uint32_t) *src++);
    }

    return p;
}


static size_t
ngx_http_mixpanel_sender_on_read(char *ptr, size_t size, size_t nmemb,
    void *data)
{
    ngx_http_mixpanel_slot_t *slot = data;

    size_t  n;

    if (slot->upload_pos) {
        ngx_http_mixpanel_sender_yield(NULL);
    }

    n = ngx_min(size * nmemb, slot->upload_len - slot->upload_pos);

    ngx_memcpy(ptr, slot->upload + slot->upload_pos, n);
    slot->upload_pos += n;

    return n;
}


/* libcurl rewinds the body to send it again on a fresh connection */

static int
ngx_http_mixpanel_sender_on_seek(void *data, curl_off_t offset, int origin)
{
    ngx_http_mixpanel_slot_t *slot = data;

    if (origin != SEEK_SET || offset < 0
        || (size_t) offset > slot->upload_len)
    {
        return CURL_SEEKFUNC_CANTSEEK;
    }

    slot->upload_pos = (size_t) offset;

    return CURL_SEEKFUNC_OK;
}


static size_t
ngx_http_mixpanel_sender_on_data(char *ptr, size_t size, size_t nmemb,
    void *data)
{
    ngx_http_mixpanel_slot_t *slot = data;

    size_t  len, room;

    len = size * nmemb;
    room = slot->answer_max - (slot->answer.pos - slot->answer.start);

    if (room == 0) {
        return len;
    }

    if (ngx_http_mixpanel_buf_append(&slot->answer, (u_char *) ptr,
                                     ngx_min(len, room))
        != NGX_OK)
    {
        return 0;
    }

    return len;
}


/* Retry-After: seconds, or an HTTP date */

static size_t
ngx_http_mixpanel_sender_on_header(char *ptr, size_t size, size_t nmemb,
    void *data)
{
    ngx_http_mixpanel_slot_t *slot = data;

    char       date[64];
    size_t     len;
    time_t     at, now;
    u_char    *p, *q, *last;
    ngx_int_t  secs;

    len = size * nmemb;
    p = (u_char *) ptr;
    last = p + len;

    if (len <= sizeof("Retry-After:") - 1
        || ngx_strncasecmp(p, (u_char *) "Retry-After:",
                           sizeof("Retry-After:") - 1) != 0)
    {
        return len;
    }

    p += sizeof("Retry-After:") - 1;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (last > p && (last[-1] == '\r' || last[-1] == '\n'
                        || last[-1] == ' ' || last[-1] == '\t'))
    {
        last--;
    }

    /* delay-seconds, read up to an hour: any more digits are past it too */

    secs = (p < last) ? 0 : NGX_ERROR;

    for (q = p; q < last && *q >= '0' && *q <= '9'; q++) {
        secs = ngx_min(secs * 10 + (*q - '0'), NGX_HTTP_MIXPANEL_RETRY_AFTER);
    }

    if (q < last) {
        secs = NGX_ERROR;
    }

    if (secs == NGX_ERROR && (size_t) (last - p) < sizeof(date)) {
        *ngx_cpymem(date, p, last - p) = '\0';

        at = curl_getdate(date, NULL);
        now = time(NULL);

        if (at != -1) {
            secs = (at > now)
                   ? (ngx_int_t) ngx_min(at - now,
                                         NGX_HTTP_MIXPANEL_RETRY_AFTER)
                   : 0;
        }
    }

    if (secs >= 0) {
        slot->retry_after = (ngx_msec_t) ngx_min(secs,
                                               NGX_HTTP_MIXPANEL_RETRY_AFTER)
                            * 1000;
    }

    return len;
}


static ngx_msec_t
ngx_http_mixpanel_now(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (ngx_msec_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* the worker's side: the outbox, on a timer */

static void
ngx_http_mixpanel_sender_drain_handler(ngx_event_t *ev)
{
    ngx_http_mixpanel_sender_t *s = ev->data;

    if (ngx_exiting && s->exiting_at == 0) {
        s->exiting_at = ngx_http_mixpanel_now();
    }

    ngx_http_mixpanel_sender_drain(s);

    /* a reload with master_process off frees the log it was armed with */

    ev->log = ngx_cycle->log;

    ngx_add_timer(ev, NGX_HTTP_MIXPANEL_DRAIN);
}


static void
ngx_http_mixpanel_sender_drain(ngx_http_mixpanel_sender_t *s)
{
    time_t                         oldest;
    ngx_uint_t                     i, nlines, lost, held, ninbox;
    ngx_http_mixpanel_line_t      *lines;
    ngx_http_mixpanel_delta_t      d;
    ngx_http_mixpanel_record_t    *unbind, *rec, *next;
    ngx_http_mixpanel_counters_t  *c;

    static ngx_http_mixpanel_line_t  copy[NGX_HTTP_MIXPANEL_LINES];

    lines = copy;

    pthread_mutex_lock(&s->mutex);

    nlines = s->nlines;
    ngx_memcpy(lines, s->lines, nlines * sizeof(ngx_http_mixpanel_line_t));
    s->nlines = 0;
    lost = s->lines_lost;
    s->lines_lost = 0;

    d = s->delta;
    ngx_memzero(&s->delta, sizeof(ngx_http_mixpanel_delta_t));

    unbind = s->unbind;
    s->unbind = NULL;

    held = s->held;
    ninbox = s->ninbox;
    oldest = s->oldest;

    if (ninbox && (oldest == 0 || s->inbox_since < oldest)) {
        oldest = s->inbox_since;
    }

    pthread_mutex_unlock(&s->mutex);

    for (i = 0; i < nlines; i++) {
        ngx_log_error(lines[i].level, ngx_cycle->log, 0, "%*s",
                      lines[i].len, lines[i].text);
    }

    if (lost) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "mixpanel: %ui lines of the sender were not logged, "
                      "too many at once", lost);
    }

    c = ngx_http_mixpanel_sender_counters();

    if (c != s->counters) {

        /*
         * A reload with master_process off made a new zone: it counts
         * what this sender holds from now on.
         */

        s->counters = c;
        s->stat = NULL;
        s->depth = held + d.done;

        (void) ngx_atomic_fetch_add(&c->events_queued, held + d.done);
        (void) ngx_atomic_fetch_add(&c->queue_depth, held + d.done);
    }

    (void) ngx_atomic_fetch_add(&c->events_sent, d.sent);
    (void) ngx_atomic_fetch_add(&c->events_rejected, d.rejected);
    (void) ngx_atomic_fetch_add(&c->dropped_retry_expired, d.retry_expired);
    (void) ngx_atomic_fetch_add(&c->dropped_shutdown, d.shutdown);
    (void) ngx_atomic_fetch_add(&c->dropped_memory, d.memory);
    (void) ngx_atomic_fetch_add(&c->events_spooled, d.spooled);
    (void) ngx_atomic_fetch_add(&c->events_replayed, d.replayed);
    (void) ngx_atomic_fetch_add(&c->events_replay_rejected,
                                d.replay_rejected);
    (void) ngx_atomic_fetch_add(&c->batches_sent, d.batches);
    (void) ngx_atomic_fetch_add(&c->retries, d.retries);
    (void) ngx_atomic_fetch_add(&c->identify_sent, d.identify);

    /*
     * last: a status that sees the queue empty sees where it all went;
     * this worker's part first: should it die in between, what it held
     * is counted too little, never twice
     */

    s->depth -= d.done;

    if (s->stat) {
        s->stat->held = s->depth;
    }

    (void) ngx_atomic_fetch_add(&c->queue_depth, -(ngx_atomic_int_t) d.done);

    if (d.last_success) {
        c->last_success_time = d.last_success;
    }

    if (d.last_error_time) {

        /* a torn read shows a garbled line at worst */

        ngx_memcpy(c->last_error, d.last_error, d.last_error_len);
        c->last_error_len = d.last_error_len;
        c->last_error_time = d.last_error_time;
    }

    ngx_http_mixpanel_sender_report(s, c, held, oldest);
    ngx_http_mixpanel_sender_reclaim(c);

    for (rec = unbind; rec; rec = next) {
        next = rec->next;
        ngx_http_mixpanel_identity_unbind((ngx_cycle_t *) ngx_cycle,
                                          rec->device);
        free(rec);
    }

    if (s->file_name.len) {
        ngx_http_mixpanel_sender_reopen(s);
    }
}


/* this worker's line in the status: its capacity, its oldest event */

static void
ngx_http_mixpanel_sender_report(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_counters_t *c, ngx_uint_t held, time_t oldest)
{
    time_t                            now;
    ngx_uint_t                        i;
    ngx_atomic_uint_t                 pid;
    ngx_http_mixpanel_worker_stat_t  *w;

    now = ngx_time();

    if (s->stat == NULL || s->stat->pid != (ngx_atomic_uint_t) ngx_pid) {

        /* a free line: those of workers that died are freed by reclaim() */

        s->stat = NULL;

        for (i = 0; i < NGX_HTTP_MIXPANEL_WORKERS; i++) {
            w = &c->workers[i];
            pid = w->pid;

            if (pid == 0 && ngx_atomic_cmp_set(&w->pid, 0, ngx_pid)) {
                s->stat = w;
                break;
            }
        }

        if (s->stat == NULL) {
            return;
        }
    }

    s->stat->held = s->depth;
    s->stat->capacity = s->conf.queue_size;
    s->stat->oldest = oldest;
    s->stat->seen = now;
}


/*
 * The line of a worker that died (a crash, kill -9, the OOM killer): what
 * it held will never be sent nor counted by it, so it leaves queue_depth
 * as events_dropped.worker_died.  A worker is dead when it has not
 * reported for a while and its pid is gone; the line is taken with this
 * worker's pid while it is emptied, so that no one else uses it meanwhile.
 */

static void
ngx_http_mixpanel_sender_reclaim(ngx_http_mixpanel_counters_t *c)
{
    time_t                            now;
    ngx_uint_t                        i;
    ngx_atomic_uint_t                 pid, held;
    ngx_http_mixpanel_worker_stat_t  *w;

    if (c == &ngx_http_mixpanel_no_counters) {
        return;
    }

    now = ngx_time();

    for (i = 0; i < NGX_HTTP_MIXPANEL_WORKERS; i++) {
        w = &c->workers[i];
        pid = w->pid;

        if (pid == 0 || pid == (ngx_atomic_uint_t) ngx_pid
            || (time_t) w->seen + NGX_HTTP_MIXPANEL_STALE >= now
            || kill((ngx_pid_t) pid, 0) == 0 || ngx_errno != NGX_ESRCH
            || !ngx_atomic_cmp_set(&w->pid, pid, ngx_pid))
        {
            continue;
        }

        held = w->held;

        w->held = 0;
        w->oldest = 0;
        w->capacity = 0;

        if (held) {
            (void) ngx_atomic_fetch_add(&c->dropped_worker_died, held);
            (void) ngx_atomic_fetch_add(&c->queue_depth,
                                        -(ngx_atomic_int_t) held);

            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "mixpanel: worker process %P died holding %uA "
                          "events, counted as dropped (worker_died)",
                          (ngx_pid_t) pid, held);
        }

        ngx_memory_barrier();
        w->pid = 0;
    }
}


static ngx_http_mixpanel_counters_t *
ngx_http_mixpanel_sender_counters(void)
{
    ngx_http_mixpanel_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_mixpanel_module);

    if (mmcf == NULL || mmcf->counters == NULL) {
        return &ngx_http_mixpanel_no_counters;
    }

    return mmcf->counters;
}


/*
 * nginx -s reopen gives the file: sink a new descriptor; the thread writes
 * through its own, so it gets a copy of the new one.
 */

static void
ngx_http_mixpanel_sender_reopen(ngx_http_mixpanel_sender_t *s)
{
    int                             fd;
    struct stat                     st;
    ngx_open_file_t                *file;
    ngx_http_mixpanel_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_mixpanel_module);

    if (mmcf == NULL || mmcf->file == NULL) {
        return;
    }

    file = mmcf->file;

    if (file->fd == NGX_INVALID_FILE
        || file->name.len != s->file_name.len
        || ngx_strncmp(file->name.data, s->file_name.data, file->name.len)
           != 0
        || fstat(file->fd, &st) == -1
        || (st.st_dev == s->file_dev && st.st_ino == s->file_ino))
    {
        return;
    }

    fd = fcntl(file->fd, F_DUPFD_CLOEXEC, 0);

    if (fd == -1) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                      "mixpanel: dup(\"%V\") failed", &file->name);
        return;
    }

    s->file_dev = st.st_dev;
    s->file_ino = st.st_ino;

    pthread_mutex_lock(&s->mutex);

    if (s->file_next != -1) {
        (void) close(s->file_next);
    }

    s->file_next = fd;

    pthread_mutex_unlock(&s->mutex);
}


static char *
ngx_http_mixpanel_strdup(ngx_str_t *s)
{
    char  *p;

    p = malloc(s->len + 1);
    if (p == NULL) {
        return NULL;
    }

    *ngx_cpymem(p, s->data, s->len) = '\0';

    return p;
}


/* after the thread: everything it had is released or the worker's now */

static void
ngx_http_mixpanel_sender_free(ngx_http_mixpanel_sender_t *s)
{
    ngx_uint_t                   i;
    ngx_queue_t                 *q;
    ngx_http_mixpanel_slot_t    *slot;
    ngx_http_mixpanel_lane_t    *lane;
    ngx_http_mixpanel_record_t  *rec, *next;

    for (rec = s->inbox; rec; rec = next) {
        next = rec->next;
        free(rec);
    }

    while (!ngx_queue_empty(&s->lanes)) {
        q = ngx_queue_head(&s->lanes);
        ngx_queue_remove(q);
        lane = ngx_queue_data(q, ngx_http_mixpanel_lane_t, queue);
        free(lane);
    }

    if (s->slots) {
        for (i = 0; i < s->nslots; i++) {
            slot = &s->slots[i];

            if (slot->easy) {
                curl_easy_cleanup(slot->easy);
            }

            free(slot->body.start);
            free(slot->answer.start);
            free(slot->gz);
        }

        free(s->slots);
    }

    if (s->multi) {
        curl_multi_cleanup(s->multi);
    }

    if (s->headers) {
        curl_slist_free_all(s->headers);
    }

    if (s->headers_gzip) {
        curl_slist_free_all(s->headers_gzip);
    }

    ngx_http_mixpanel_gzip_destroy(s->gz);

    if (s->fd != -1) {
        (void) close(s->fd);
    }

    if (s->file_next != -1) {
        (void) close(s->file_next);
    }

    free(s->file_name.data);
    free(s->spool.dir);
    free(s->spool.gone);
    free(s->spool.pending);
    free(s->url);
    free(s->url_import);
    free(s->url_engage);
    free(s->cafile);
    free(s->user);
    free(s->secret);
    free(s->lines);
    free(s);
}
