
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * The per-worker sender: a thread that owns the queue's records, batches
 * them per token, compresses and delivers them with libcurl.  It touches
 * no nginx structure but the shared counters and the log; the request
 * path only appends a record under a mutex.
 */


#include "ngx_http_mixpanel_module.h"

#include <pthread.h>
#include <sched.h>
#include <curl/curl.h>

#if (__GLIBC__)
#include <malloc.h>
#endif


#define NGX_HTTP_MIXPANEL_ANSWER_MAX    (64 * 1024)
#define NGX_HTTP_MIXPANEL_LOG_EVERY     60000

#define NGX_HTTP_MIXPANEL_BACKOFF_MIN   2000
#define NGX_HTTP_MIXPANEL_BACKOFF_MAX   60000
#define NGX_HTTP_MIXPANEL_AUTH_BACKOFF  60000

/* records between two yields: about 50 us of copying or freeing */
#define NGX_HTTP_MIXPANEL_YIELD_EVERY   256


typedef enum {
    ngx_http_mixpanel_log_network = 0,
    ngx_http_mixpanel_log_status,
    ngx_http_mixpanel_log_auth,
    ngx_http_mixpanel_log_rejected,
    ngx_http_mixpanel_log_queue_full,
    ngx_http_mixpanel_log_expired,
    ngx_http_mixpanel_log_file,
    ngx_http_mixpanel_log_last
} ngx_http_mixpanel_log_reason_e;


typedef enum {
    NGX_HTTP_MIXPANEL_DONE = 0,
    NGX_HTTP_MIXPANEL_RETRY,
    NGX_HTTP_MIXPANEL_RETRY_SLOW,
    NGX_HTTP_MIXPANEL_SPLIT
} ngx_http_mixpanel_result_e;


struct ngx_http_mixpanel_sender_s {
    pthread_t                         tid;
    pthread_mutex_t                   mutex;
    pthread_cond_t                    cond;

    ngx_http_mixpanel_record_t       *head;
    ngx_http_mixpanel_record_t      **tail;
    ngx_uint_t                        nqueued;
    ngx_uint_t                        held;

    ngx_uint_t                        stop;
    ngx_uint_t                        idle;
    ngx_uint_t                        exited;
    ngx_msec_t                        deadline;

    ngx_http_mixpanel_sender_conf_t   conf;
    ngx_http_mixpanel_counters_t     *counters;
    ngx_open_file_t                  *file;
    ngx_log_t                        *log;

    CURL                             *curl;
    char                             *url_import;
    char                             *url_engage;
    char                              errbuf[CURL_ERROR_SIZE];
    ngx_http_mixpanel_buf_t           body;
    ngx_http_mixpanel_buf_t           answer;
    ngx_msec_t                        retry_after;
    ngx_uint_t                        accepted;
    ngx_http_mixpanel_gzip_t         *gz;
    u_char                           *gzbuf;
    size_t                            gzsize;

    u_char                           *upload;     /* the body being sent */
    size_t                            upload_len;
    size_t                            upload_pos;

    ngx_msec_t                        replay_at;
    ngx_msec_t                        replayed_at;
    ngx_uint_t                        peak;

    ngx_msec_t                        logged[ngx_http_mixpanel_log_last];
};


static void *ngx_http_mixpanel_sender_thread(void *data);
static void ngx_http_mixpanel_sender_process(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_record_t *list);
static void ngx_http_mixpanel_sender_deliver(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_record_t *batch, ngx_uint_t n);
static ngx_http_mixpanel_result_e ngx_http_mixpanel_sender_post(
    ngx_http_mixpanel_sender_t *s, ngx_http_mixpanel_record_t *batch,
    ngx_uint_t n);
static ngx_http_mixpanel_result_e ngx_http_mixpanel_sender_write(
    ngx_http_mixpanel_sender_t *s, ngx_http_mixpanel_record_t *batch,
    ngx_uint_t n);
static ngx_int_t ngx_http_mixpanel_sender_body(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_record_t *batch, ngx_uint_t n);
static ngx_int_t ngx_http_mixpanel_sender_spool(
    ngx_http_mixpanel_sender_t *s, ngx_http_mixpanel_record_t *batch,
    ngx_uint_t n);
static void ngx_http_mixpanel_sender_replay(ngx_http_mixpanel_sender_t *s);
static void ngx_http_mixpanel_sender_done(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_record_t *batch, ngx_uint_t n);
static ngx_int_t ngx_http_mixpanel_sender_sleep(
    ngx_http_mixpanel_sender_t *s, ngx_msec_t ms);
static void ngx_http_mixpanel_sender_free(ngx_http_mixpanel_sender_t *s);
static ngx_uint_t ngx_http_mixpanel_sender_log_allowed(
    ngx_http_mixpanel_sender_t *s, ngx_http_mixpanel_log_reason_e reason);
static size_t ngx_http_mixpanel_sender_on_read(char *ptr, size_t size,
    size_t nmemb, void *data);
static int ngx_http_mixpanel_sender_on_seek(void *data, curl_off_t offset,
    int origin);
static size_t ngx_http_mixpanel_sender_on_data(char *ptr, size_t size,
    size_t nmemb, void *data);
static size_t ngx_http_mixpanel_sender_on_header(char *ptr, size_t size,
    size_t nmemb, void *data);
static int ngx_http_mixpanel_sender_on_progress(void *data, curl_off_t dt,
    curl_off_t dn, curl_off_t ut, curl_off_t un);
static void ngx_http_mixpanel_sender_error(ngx_http_mixpanel_sender_t *s,
    const char *fmt, ...);
static ngx_msec_t ngx_http_mixpanel_now(void);
static void ngx_http_mixpanel_abstime(struct timespec *ts, ngx_msec_t at);


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
                      "this only delays the sender thread, never requests",
                      ver->version);
    }

    return NGX_OK;
}


ngx_http_mixpanel_sender_t *
ngx_http_mixpanel_sender_start(ngx_http_mixpanel_sender_conf_t *conf,
    ngx_http_mixpanel_counters_t *counters, ngx_open_file_t *file,
    ngx_log_t *log)
{
    int                          err;
    sigset_t                     set, old;
    pthread_condattr_t           cattr;
    ngx_http_mixpanel_sender_t  *s;

    s = calloc(1, sizeof(ngx_http_mixpanel_sender_t));
    if (s == NULL) {
        return NULL;
    }

    s->conf = *conf;
    s->counters = counters;
    s->file = file;
    s->log = log;
    s->tail = &s->head;

    if (conf->sink == NGX_HTTP_MIXPANEL_SINK_HTTP) {

        s->url_import = malloc(conf->url.len + sizeof("/import?strict=1")
                               + sizeof("&project_id=") + conf->project_id.len);
        s->url_engage = malloc(conf->url.len + sizeof("/engage?verbose=1"));

        if (s->url_import == NULL || s->url_engage == NULL) {
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

        s->curl = curl_easy_init();
        if (s->curl == NULL) {
            goto failed;
        }

        if (conf->gzip) {
            s->gz = ngx_http_mixpanel_gzip_create();
            if (s->gz == NULL) {
                goto failed;
            }
        }
    }

    if (pthread_mutex_init(&s->mutex, NULL) != 0) {
        goto failed;
    }

    if (pthread_condattr_init(&cattr) != 0) {
        goto failed_mutex;
    }

    (void) pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);

    if (pthread_cond_init(&s->cond, &cattr) != 0) {
        (void) pthread_condattr_destroy(&cattr);
        goto failed_mutex;
    }

    (void) pthread_condattr_destroy(&cattr);

    /* signals are the worker's business, never the sender's */

    sigfillset(&set);
    pthread_sigmask(SIG_SETMASK, &set, &old);

    err = pthread_create(&s->tid, NULL, ngx_http_mixpanel_sender_thread, s);

    pthread_sigmask(SIG_SETMASK, &old, NULL);

    if (err != 0) {
        ngx_log_error(NGX_LOG_ALERT, log, err,
                      "mixpanel: pthread_create() failed");
        (void) pthread_cond_destroy(&s->cond);
        goto failed_mutex;
    }

    return s;

failed_mutex:

    (void) pthread_mutex_destroy(&s->mutex);

failed:

    ngx_http_mixpanel_sender_free(s);

    return NULL;
}


ngx_int_t
ngx_http_mixpanel_sender_push(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_record_t *rec)
{
    ngx_uint_t  wake, full;

    rec->next = NULL;

    pthread_mutex_lock(&s->mutex);

    full = (s->held >= s->conf.queue_size || s->stop);

    if (!full) {
        *s->tail = rec;
        s->tail = &rec->next;
        s->nqueued++;
        s->held++;
    }

    wake = (s->nqueued == s->conf.batch_size
            || (s->nqueued == 1 && s->idle));

    pthread_mutex_unlock(&s->mutex);

    if (full) {
        free(rec);
        (void) ngx_atomic_fetch_add(&s->counters->dropped_queue_full, 1);

        if (ngx_http_mixpanel_sender_log_allowed(s,
                                          ngx_http_mixpanel_log_queue_full))
        {
            ngx_log_error(NGX_LOG_WARN, s->log, 0,
                          "mixpanel: queue of %ui events is full, "
                          "new events are dropped", s->conf.queue_size);
        }

        return NGX_DECLINED;
    }

    (void) ngx_atomic_fetch_add(&s->counters->events_queued, 1);
    (void) ngx_atomic_fetch_add(&s->counters->queue_depth, 1);

    if (wake) {
        pthread_cond_signal(&s->cond);
    }

    return NGX_OK;
}


/*
 * Called on worker exit: the thread flushes what it holds within the
 * budget and counts the rest as dropped; the worker never waits longer.
 */

void
ngx_http_mixpanel_sender_stop(ngx_http_mixpanel_sender_t *s,
    ngx_msec_t budget)
{
    int              rc;
    ngx_uint_t       exited;
    struct timespec  ts;

    pthread_mutex_lock(&s->mutex);

    s->stop = 1;
    s->deadline = ngx_http_mixpanel_now() + budget;

    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mutex);

    ngx_http_mixpanel_abstime(&ts, s->deadline + 1000);

    rc = 0;

    pthread_mutex_lock(&s->mutex);

    while (!s->exited && rc != ETIMEDOUT) {
        rc = pthread_cond_timedwait(&s->cond, &s->mutex, &ts);
    }

    exited = s->exited;

    pthread_mutex_unlock(&s->mutex);

    if (!exited) {
        ngx_log_error(NGX_LOG_ERR, s->log, 0,
                      "mixpanel: sender did not finish in %M ms, "
                      "leaving it to the process exit", budget);
        return;
    }

    (void) pthread_join(s->tid, NULL);
    (void) pthread_cond_destroy(&s->cond);
    (void) pthread_mutex_destroy(&s->mutex);

    ngx_http_mixpanel_sender_free(s);

    curl_global_cleanup();
}


/*
 * The sender shares a core with its worker when worker_cpu_affinity (or
 * taskset) pins the process: it gives the core back between slices of a
 * batch's work, so that requests wait for at most one slice (about 50 us)
 * instead of the whole batch (about 1.5 ms for 2000 events).  When the
 * worker is idle, the call returns at once.
 */

void
ngx_http_mixpanel_sender_yield(void)
{
    (void) sched_yield();
}


static void *
ngx_http_mixpanel_sender_thread(void *data)
{
    ngx_http_mixpanel_sender_t  *s = data;

    int                          rc;
    ngx_msec_t                   first;
    ngx_uint_t                   stop;
    struct timespec              ts;
    ngx_http_mixpanel_record_t  *list;

    if (s->conf.spool_dir.len) {
        ngx_http_mixpanel_spool_recover(&s->conf.spool_dir);
        ngx_http_mixpanel_sender_replay(s);
    }

    for ( ;; ) {

        pthread_mutex_lock(&s->mutex);

        /* a partial batch leaves flush_interval after its first event */

        first = 0;

        while (!s->stop && s->nqueued < s->conf.batch_size) {

            if (s->nqueued == 0) {
                s->idle = 1;

                if (s->conf.spool_dir.len) {
                    ngx_http_mixpanel_abstime(&ts, s->replay_at);
                    rc = pthread_cond_timedwait(&s->cond, &s->mutex, &ts);

                } else {
                    rc = pthread_cond_wait(&s->cond, &s->mutex);
                }

                s->idle = 0;

                if (rc == ETIMEDOUT) {
                    break;
                }

                continue;
            }

            if (first == 0) {
                first = ngx_http_mixpanel_now();
                ngx_http_mixpanel_abstime(&ts,
                                          first + s->conf.flush_interval);
            }

            if (pthread_cond_timedwait(&s->cond, &s->mutex, &ts)
                == ETIMEDOUT)
            {
                break;
            }
        }

        list = s->head;
        s->head = NULL;
        s->tail = &s->head;
        stop = s->stop;

        if (stop && s->nqueued) {
            ngx_log_error(NGX_LOG_NOTICE, s->log, 0,
                          "mixpanel: sending %ui queued events before exit",
                          s->nqueued);
        }

        s->nqueued = 0;

        pthread_mutex_unlock(&s->mutex);

        if (list) {
            ngx_http_mixpanel_sender_process(s, list);
        }

        if (s->conf.spool_dir.len && !stop
            && ngx_http_mixpanel_now() >= s->replay_at)
        {
            ngx_http_mixpanel_sender_replay(s);
        }

        if (stop) {
            pthread_mutex_lock(&s->mutex);

            if (s->head == NULL) {
                s->exited = 1;
                pthread_cond_broadcast(&s->cond);
                pthread_mutex_unlock(&s->mutex);
                break;
            }

            pthread_mutex_unlock(&s->mutex);
        }
    }

    return NULL;
}


/*
 * Splits what was taken from the queue into batches of one kind and one
 * token each, in order, within Mixpanel's count and size limits.
 */

static void
ngx_http_mixpanel_sender_process(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_record_t *list)
{
    size_t                        size;
    ngx_uint_t                    n;
    ngx_http_mixpanel_record_t   *first, *rec, **prev, *batch, **tail;

    while (list) {
        first = list;
        batch = NULL;
        tail = &batch;
        n = 0;
        size = 2;

        prev = &list;

        for (rec = list; rec; rec = *prev) {

            if (rec->kind != first->kind
                || rec->token_len != first->token_len
                || ngx_memcmp(rec->token, first->token, rec->token_len) != 0)
            {
                prev = &rec->next;
                continue;
            }

            if (n == s->conf.batch_size
                || (n > 0 && size + rec->len + 1
                             > NGX_HTTP_MIXPANEL_MAX_BODY))
            {
                break;
            }

            *prev = rec->next;
            rec->next = NULL;
            *tail = rec;
            tail = &rec->next;

            n++;
            size += rec->len + 1;
        }

        ngx_http_mixpanel_sender_deliver(s, batch, n);
    }
}


static void
ngx_http_mixpanel_sender_deliver(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_record_t *batch, ngx_uint_t n)
{
    ngx_uint_t                   half, i, expired;
    ngx_msec_t                   started, backoff, wait, now;
    ngx_http_mixpanel_record_t  *rec, *second;
    ngx_http_mixpanel_result_e   rc;

    started = ngx_http_mixpanel_now();
    backoff = NGX_HTTP_MIXPANEL_BACKOFF_MIN;

    for ( ;; ) {

        if (s->conf.sink == NGX_HTTP_MIXPANEL_SINK_FILE) {
            rc = ngx_http_mixpanel_sender_write(s, batch, n);

        } else {
            rc = ngx_http_mixpanel_sender_post(s, batch, n);
        }

        if (rc == NGX_HTTP_MIXPANEL_DONE) {
            ngx_http_mixpanel_sender_done(s, batch, s->accepted);
            return;
        }

        if (rc == NGX_HTTP_MIXPANEL_SPLIT) {

            if (n == 1) {
                (void) ngx_atomic_fetch_add(&s->counters->events_rejected, 1);
                ngx_http_mixpanel_sender_done(s, batch, 0);
                return;
            }

            half = n / 2;
            rec = batch;

            for (i = 1; i < half; i++) {
                rec = rec->next;
            }

            second = rec->next;
            rec->next = NULL;

            ngx_http_mixpanel_sender_deliver(s, batch, half);
            ngx_http_mixpanel_sender_deliver(s, second, n - half);
            return;
        }

        /* a retry */

        now = ngx_http_mixpanel_now();

        if (rc == NGX_HTTP_MIXPANEL_RETRY_SLOW) {
            wait = NGX_HTTP_MIXPANEL_AUTH_BACKOFF;

        } else if (s->retry_after) {
            wait = s->retry_after;

        } else {
            wait = backoff;
            backoff = ngx_min(backoff * 2, NGX_HTTP_MIXPANEL_BACKOFF_MAX);
        }

        wait += 1000 + (ngx_msec_t) (ngx_random() % 4001);

        expired = (now + wait - started > s->conf.retry_max_time);

        if (!expired && ngx_http_mixpanel_sender_sleep(s, wait) == NGX_OK) {
            (void) ngx_atomic_fetch_add(&s->counters->retries, 1);
            continue;
        }

        if (s->conf.spool_dir.len
            && ngx_http_mixpanel_sender_spool(s, batch, n) == NGX_OK)
        {
            (void) ngx_atomic_fetch_add(&s->counters->events_spooled, n);

            ngx_log_error(NGX_LOG_WARN, s->log, 0,
                          "mixpanel: %ui events spooled to \"%V\"%s", n,
                          &s->conf.spool_dir,
                          s->stop ? " on exit" : ", retry time spent");

            ngx_http_mixpanel_sender_done(s, batch, 0);
            return;
        }

        if (s->stop) {
            (void) ngx_atomic_fetch_add(&s->counters->dropped_shutdown, n);

            ngx_log_error(NGX_LOG_WARN, s->log, 0,
                          "mixpanel: %ui events dropped on exit, "
                          "Mixpanel could not be reached in time", n);

        } else {
            (void) ngx_atomic_fetch_add(&s->counters->dropped_retry_expired,
                                        n);

            if (ngx_http_mixpanel_sender_log_allowed(s,
                                             ngx_http_mixpanel_log_expired))
            {
                ngx_log_error(NGX_LOG_ERR, s->log, 0,
                              "mixpanel: %ui events dropped, retried for "
                              "%M ms without success", n, now - started);
            }
        }

        ngx_http_mixpanel_sender_done(s, batch, 0);
        return;
    }
}


static ngx_http_mixpanel_result_e
ngx_http_mixpanel_sender_post(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_record_t *batch, ngx_uint_t n)
{
    long                    status;
    u_char                  errtext[128];
    size_t                  len;
    CURL                   *c;
    CURLcode                rc;
    ngx_int_t               imported, failed;
    ngx_str_t               error;
    ngx_msec_t              timeout, now;
    ngx_uint_t              engage;
    struct curl_slist      *headers, *more;

    engage = (batch->kind == NGX_HTTP_MIXPANEL_RECORD_ENGAGE);

    s->body.pos = s->body.start;

    if (ngx_http_mixpanel_sender_body(s, batch, n) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, s->log, 0,
                      "mixpanel: out of memory building a batch");
        return NGX_HTTP_MIXPANEL_RETRY;
    }

    c = s->curl;
    curl_easy_reset(c);

    /* no "Expect: 100-continue": a round trip per large batch */

    headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (headers == NULL) {
        return NGX_HTTP_MIXPANEL_RETRY;
    }

    more = curl_slist_append(headers, "Expect:");
    if (more == NULL) {
        curl_slist_free_all(headers);
        return NGX_HTTP_MIXPANEL_RETRY;
    }

    headers = more;

    len = s->body.pos - s->body.start;

    if (!engage && s->gz) {
        size_t  bound;

        bound = ngx_http_mixpanel_gzip_bound(s->gz, len);

        if (bound > s->gzsize) {
            free(s->gzbuf);
            s->gzbuf = malloc(bound);
            s->gzsize = s->gzbuf ? bound : 0;
        }

        if (s->gzbuf) {
            len = ngx_http_mixpanel_gzip(s->gz, s->body.start, len,
                                         s->gzbuf, s->gzsize);
        }

        if (s->gzbuf == NULL || len == 0) {
            curl_slist_free_all(headers);
            return NGX_HTTP_MIXPANEL_RETRY;
        }

        more = curl_slist_append(headers, "Content-Encoding: gzip");
        if (more == NULL) {
            curl_slist_free_all(headers);
            return NGX_HTTP_MIXPANEL_RETRY;
        }

        headers = more;

        s->upload = s->gzbuf;

    } else {
        s->upload = s->body.start;
    }

    /*
     * the body through a read callback, not CURLOPT_POSTFIELDS: libcurl
     * asks for it 64 KB at a time, and the thread yields in between
     */

    s->upload_len = len;
    s->upload_pos = 0;

    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION,
                     ngx_http_mixpanel_sender_on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, s);
    curl_easy_setopt(c, CURLOPT_SEEKFUNCTION,
                     ngx_http_mixpanel_sender_on_seek);
    curl_easy_setopt(c, CURLOPT_SEEKDATA, s);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
    curl_easy_setopt(c, CURLOPT_URL, engage ? s->url_engage : s->url_import);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_USERAGENT,
                     "ngx_http_mixpanel_module/" NGX_HTTP_MIXPANEL_VERSION);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION,
                     ngx_http_mixpanel_sender_on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION,
                     ngx_http_mixpanel_sender_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION,
                     ngx_http_mixpanel_sender_on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, s->conf.ssl_verify ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, s->conf.ssl_verify ? 2L : 0L);

    if (s->conf.ssl_trusted_certificate.len) {
        curl_easy_setopt(c, CURLOPT_CAINFO,
                         s->conf.ssl_trusted_certificate.data);
    }

    if (!engage) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);

        if (s->conf.service_user.len) {
            curl_easy_setopt(c, CURLOPT_USERNAME, s->conf.service_user.data);
            curl_easy_setopt(c, CURLOPT_PASSWORD,
                             s->conf.service_secret.data);

        } else {
            curl_easy_setopt(c, CURLOPT_USERNAME, batch->token);
            curl_easy_setopt(c, CURLOPT_PASSWORD, "");
        }
    }

    timeout = s->conf.timeout;

    if (s->stop) {
        now = ngx_http_mixpanel_now();
        timeout = (s->deadline > now) ? ngx_min(timeout, s->deadline - now)
                                      : 1;
    }

    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long) timeout);

    s->answer.pos = s->answer.start;
    s->retry_after = 0;
    s->errbuf[0] = '\0';

    rc = curl_easy_perform(c);

    curl_slist_free_all(headers);

    if (rc != CURLE_OK) {
        ngx_http_mixpanel_sender_error(s, "%s",
                                       s->errbuf[0] ? s->errbuf
                                                    : curl_easy_strerror(rc));

        if (ngx_http_mixpanel_sender_log_allowed(s,
                                             ngx_http_mixpanel_log_network))
        {
            ngx_log_error(NGX_LOG_ERR, s->log, 0,
                          "mixpanel: sending %ui %s to \"%V\" failed: %s",
                          n, engage ? "updates" : "events", &s->conf.url,
                          s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
        }

        return NGX_HTTP_MIXPANEL_RETRY;
    }

    status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);

    imported = -1;
    failed = 0;
    error.len = 0;

    (void) ngx_http_mixpanel_answer_parse(s->answer.start,
                                          s->answer.pos - s->answer.start,
                                          &imported, &failed, &error,
                                          errtext, sizeof(errtext));

    if (status == 200 && failed == 0) {
        s->accepted = n;
        return NGX_HTTP_MIXPANEL_DONE;
    }

    ngx_http_mixpanel_sender_error(s, "HTTP %l from %s%s%V", status,
                                   engage ? "/engage" : "/import",
                                   error.len ? ": " : "", &error);

    if (status == 413) {
        return NGX_HTTP_MIXPANEL_SPLIT;
    }

    if (status == 429 || status >= 500) {
        if (ngx_http_mixpanel_sender_log_allowed(s,
                                             ngx_http_mixpanel_log_status))
        {
            ngx_log_error(NGX_LOG_WARN, s->log, 0,
                          "mixpanel: \"%V\" answered %l, will retry",
                          &s->conf.url, status);
        }

        return NGX_HTTP_MIXPANEL_RETRY;
    }

    if (status == 401 || status == 403) {
        if (ngx_http_mixpanel_sender_log_allowed(s,
                                             ngx_http_mixpanel_log_auth))
        {
            ngx_log_error(NGX_LOG_ERR, s->log, 0,
                          "mixpanel: \"%V\" refused the credentials (%l), "
                          "check mixpanel_token or "
                          "mixpanel_service_account; will retry",
                          &s->conf.url, status);
        }

        return NGX_HTTP_MIXPANEL_RETRY_SLOW;
    }

    /* 400 with failed_records, an /engage error, or another 4xx */

    if (failed == 0 || status != 400 || imported < 0) {
        failed = (status == 200 && engage) ? (ngx_int_t) n
                                           : (ngx_int_t) n - ngx_max(imported,
                                                                     0);
    }

    if (failed > (ngx_int_t) n) {
        failed = n;
    }

    (void) ngx_atomic_fetch_add(&s->counters->events_rejected, failed);

    if (ngx_http_mixpanel_sender_log_allowed(s,
                                         ngx_http_mixpanel_log_rejected))
    {
        ngx_log_error(NGX_LOG_ERR, s->log, 0,
                      "mixpanel: \"%V\" rejected %i of %ui %s (%l): \"%V\"",
                      &s->conf.url, failed, n,
                      engage ? "updates" : "events", status, &error);
    }

    s->accepted = n - failed;

    return NGX_HTTP_MIXPANEL_DONE;
}


static ngx_http_mixpanel_result_e
ngx_http_mixpanel_sender_write(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_record_t *batch, ngx_uint_t n)
{
    u_char     *p, *last;
    ssize_t     w;
    ngx_int_t   engage;

    engage = (batch->kind == NGX_HTTP_MIXPANEL_RECORD_ENGAGE);

    s->body.pos = s->body.start;

    if (ngx_http_mixpanel_buf_append(&s->body,
                                     engage
                                     ? (u_char *) "{\"endpoint\":\"/engage\","
                                                  "\"body\":"
                                     : (u_char *) "{\"endpoint\":\"/import\","
                                                  "\"body\":",
                                     sizeof("{\"endpoint\":\"/import\","
                                            "\"body\":") - 1)
        != NGX_OK)
    {
        return NGX_HTTP_MIXPANEL_RETRY;
    }

    if (ngx_http_mixpanel_sender_body(s, batch, n) != NGX_OK
        || ngx_http_mixpanel_buf_append(&s->body, (u_char *) "}\n", 2)
           != NGX_OK)
    {
        return NGX_HTTP_MIXPANEL_RETRY;
    }

    p = s->body.start;
    last = s->body.pos;

    while (p < last) {
        w = write(s->file->fd, p, last - p);

        if (w == -1) {
            if (ngx_errno == NGX_EINTR) {
                continue;
            }

            if (ngx_http_mixpanel_sender_log_allowed(s,
                                                ngx_http_mixpanel_log_file))
            {
                ngx_log_error(NGX_LOG_ALERT, s->log, ngx_errno,
                              "mixpanel: write() to \"%V\" failed",
                              &s->file->name);
            }

            return NGX_HTTP_MIXPANEL_RETRY;
        }

        p += w;
    }

    s->accepted = n;

    return NGX_HTTP_MIXPANEL_DONE;
}


/* appends "[rec,rec,...]" to what s->body holds */

static ngx_int_t
ngx_http_mixpanel_sender_body(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_record_t *batch, ngx_uint_t n)
{
    size_t                       size;
    ngx_uint_t                   i;
    ngx_http_mixpanel_record_t  *rec;

    size = 2;

    for (rec = batch; rec; rec = rec->next) {
        size += rec->len + 1;
    }

    if (ngx_http_mixpanel_buf_reserve(&s->body, size) != NGX_OK) {
        return NGX_ERROR;
    }

    *s->body.pos++ = '[';

    for (rec = batch, i = 1; rec; rec = rec->next, i++) {
        if (rec != batch) {
            *s->body.pos++ = ',';
        }

        s->body.pos = ngx_cpymem(s->body.pos, rec->data, rec->len);

        if (i % NGX_HTTP_MIXPANEL_YIELD_EVERY == 0) {
            ngx_http_mixpanel_sender_yield();
        }
    }

    *s->body.pos++ = ']';

    return NGX_OK;
}


static ngx_int_t
ngx_http_mixpanel_sender_spool(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_record_t *batch, ngx_uint_t n)
{
    ngx_int_t  rc;

    s->body.pos = s->body.start;

    if (ngx_http_mixpanel_sender_body(s, batch, n) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_http_mixpanel_spool_write(&s->conf.spool_dir,
                                       s->conf.spool_max, batch->kind,
                                       batch->token, batch->token_len,
                                       s->body.start,
                                       s->body.pos - s->body.start, n,
                                       s->log);
    if (rc == NGX_OK) {
        s->replay_at = ngx_http_mixpanel_now() + 10000;
    }

    return rc;
}


/* sends spooled batches again, until one fails or none is left */

static void
ngx_http_mixpanel_sender_replay(ngx_http_mixpanel_sender_t *s)
{
    ngx_http_mixpanel_record_t   *rec;
    ngx_http_mixpanel_result_e    rc;
    ngx_http_mixpanel_spooled_t   sp;

    /*
     * The spool is looked at when the worker starts, every 30 s, and
     * soon after a live batch succeeds: another worker may have put
     * files there, so none of them can know it is empty.
     */

    s->replayed_at = ngx_http_mixpanel_now();
    s->replay_at = s->replayed_at + 30000;

    while (!s->stop
           && ngx_http_mixpanel_spool_next(&s->conf.spool_dir, &sp, s->log)
              == NGX_OK)
    {
        rec = malloc(offsetof(ngx_http_mixpanel_record_t, data) + sp.len
                     + sp.token_len + 1);
        if (rec == NULL) {
            ngx_http_mixpanel_spool_done(&sp, 0);
            break;
        }

        rec->next = NULL;
        rec->kind = sp.kind;
        rec->len = sp.len;
        rec->identify = 0;
        rec->device = NULL;
        rec->token = ngx_cpymem(rec->data, sp.body, sp.len);
        rec->token_len = sp.token_len;
        *ngx_cpymem(rec->token, sp.token, sp.token_len) = '\0';

        /* one record holding the whole array, standing for sp.count */

        if (s->conf.sink == NGX_HTTP_MIXPANEL_SINK_FILE) {
            rc = ngx_http_mixpanel_sender_write(s, rec, sp.count);

        } else {
            rc = ngx_http_mixpanel_sender_post(s, rec, sp.count);
        }

        free(rec);

        if (rc == NGX_HTTP_MIXPANEL_DONE) {
            (void) ngx_atomic_fetch_add(&s->counters->events_replayed,
                                        s->accepted);
            ngx_http_mixpanel_spool_done(&sp, 1);

            ngx_log_error(NGX_LOG_NOTICE, s->log, 0,
                          "mixpanel: %ui spooled events sent from \"%s\"",
                          s->accepted, sp.path);
            continue;
        }

        if (rc == NGX_HTTP_MIXPANEL_SPLIT) {
            (void) ngx_atomic_fetch_add(&s->counters->events_rejected,
                                        sp.count);
            ngx_http_mixpanel_spool_done(&sp, 1);
            continue;
        }

        ngx_http_mixpanel_spool_done(&sp, 0);
        break;
    }
}


/* frees a finished batch, of which "sent" records were accepted */

static void
ngx_http_mixpanel_sender_done(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_record_t *batch, ngx_uint_t sent)
{
    ngx_uint_t                   n, identify, held;
    ngx_http_mixpanel_record_t  *rec, *next;

    n = 0;
    identify = 0;

    for (rec = batch; rec; rec = next) {
        next = rec->next;
        identify += rec->identify;
        n++;
        free(rec);

        if (n % NGX_HTTP_MIXPANEL_YIELD_EVERY == 0) {
            ngx_http_mixpanel_sender_yield();
        }
    }

    if (sent) {
        s->replay_at = ngx_min(s->replay_at, s->replayed_at + 5000);
        (void) ngx_atomic_fetch_add(&s->counters->events_sent, sent);
        (void) ngx_atomic_fetch_add(&s->counters->batches_sent, 1);
        s->counters->last_success_time = ngx_time();

        if (sent == n) {
            (void) ngx_atomic_fetch_add(&s->counters->identify_sent,
                                        identify);
        }
    }

    (void) ngx_atomic_fetch_add(&s->counters->queue_depth,
                                -(ngx_atomic_int_t) n);

    pthread_mutex_lock(&s->mutex);

    if (s->held > s->peak) {
        s->peak = s->held;
    }

    s->held -= n;
    held = s->held;

    pthread_mutex_unlock(&s->mutex);

#if (__GLIBC__)

    /* after an outage, give the queue's memory back to the system */

    if (held == 0 && s->peak >= 1000) {
        s->peak = 0;
        (void) malloc_trim(0);
    }

#else

    (void) held;

#endif
}


/* waits before a retry; NGX_ABORT when the worker is exiting meanwhile */

static ngx_int_t
ngx_http_mixpanel_sender_sleep(ngx_http_mixpanel_sender_t *s, ngx_msec_t ms)
{
    ngx_int_t        rc;
    struct timespec  ts;

    pthread_mutex_lock(&s->mutex);

    if (s->stop) {
        ms = ngx_min(ms, 250);
    }

    ngx_http_mixpanel_abstime(&ts, ngx_http_mixpanel_now() + ms);

    while (pthread_cond_timedwait(&s->cond, &s->mutex, &ts) != ETIMEDOUT) {
        if (s->stop && ms > 250) {
            ngx_http_mixpanel_abstime(&ts, ngx_http_mixpanel_now() + 250);
            ms = 250;
        }
    }

    rc = NGX_OK;

    if (s->stop && ngx_http_mixpanel_now() + 100 >= s->deadline) {
        rc = NGX_ABORT;
    }

    pthread_mutex_unlock(&s->mutex);

    return rc;
}


static void
ngx_http_mixpanel_sender_free(ngx_http_mixpanel_sender_t *s)
{
    ngx_http_mixpanel_record_t  *rec, *next;

    for (rec = s->head; rec; rec = next) {
        next = rec->next;
        free(rec);
    }

    if (s->curl) {
        curl_easy_cleanup(s->curl);
    }

    ngx_http_mixpanel_gzip_destroy(s->gz);

    free(s->gzbuf);
    free(s->body.start);
    free(s->answer.start);
    free(s->url_import);
    free(s->url_engage);
    free(s);
}


static ngx_uint_t
ngx_http_mixpanel_sender_log_allowed(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_log_reason_e reason)
{
    ngx_msec_t  now;

    now = ngx_http_mixpanel_now();

    if (s->logged[reason] && now - s->logged[reason]
                             < NGX_HTTP_MIXPANEL_LOG_EVERY)
    {
        return 0;
    }

    s->logged[reason] = now ? now : 1;

    return 1;
}


static size_t
ngx_http_mixpanel_sender_on_read(char *ptr, size_t size, size_t nmemb,
    void *data)
{
    ngx_http_mixpanel_sender_t *s = data;

    size_t  n;

    if (s->upload_pos) {
        ngx_http_mixpanel_sender_yield();
    }

    n = ngx_min(size * nmemb, s->upload_len - s->upload_pos);

    ngx_memcpy(ptr, s->upload + s->upload_pos, n);
    s->upload_pos += n;

    return n;
}


/* libcurl rewinds the body to send it again on a fresh connection */

static int
ngx_http_mixpanel_sender_on_seek(void *data, curl_off_t offset, int origin)
{
    ngx_http_mixpanel_sender_t *s = data;

    if (origin != SEEK_SET || offset < 0
        || (size_t) offset > s->upload_len)
    {
        return CURL_SEEKFUNC_CANTSEEK;
    }

    s->upload_pos = (size_t) offset;

    return CURL_SEEKFUNC_OK;
}


static size_t
ngx_http_mixpanel_sender_on_data(char *ptr, size_t size, size_t nmemb,
    void *data)
{
    ngx_http_mixpanel_sender_t *s = data;

    size_t  len, room;

    len = size * nmemb;
    room = NGX_HTTP_MIXPANEL_ANSWER_MAX - (s->answer.pos - s->answer.start);

    if (room == 0) {
        return len;
    }

    if (ngx_http_mixpanel_buf_append(&s->answer, (u_char *) ptr,
                                     ngx_min(len, room))
        != NGX_OK)
    {
        return 0;
    }

    return len;
}


static size_t
ngx_http_mixpanel_sender_on_header(char *ptr, size_t size, size_t nmemb,
    void *data)
{
    ngx_http_mixpanel_sender_t *s = data;

    size_t     len;
    u_char    *p, *last;
    ngx_int_t  secs;

    len = size * nmemb;
    p = (u_char *) ptr;
    last = p + len;

    if (len > sizeof("Retry-After:") - 1
        && ngx_strncasecmp(p, (u_char *) "Retry-After:",
                           sizeof("Retry-After:") - 1) == 0)
    {
        p += sizeof("Retry-After:") - 1;

        while (p < last && *p == ' ') {
            p++;
        }

        while (last > p && (last[-1] == '\r' || last[-1] == '\n'
                            || last[-1] == ' '))
        {
            last--;
        }

        secs = ngx_atoi(p, last - p);

        if (secs >= 0 && secs <= 3600) {
            s->retry_after = (ngx_msec_t) secs * 1000;
        }
    }

    return len;
}


static int
ngx_http_mixpanel_sender_on_progress(void *data, curl_off_t dt,
    curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    ngx_http_mixpanel_sender_t *s = data;

    return s->stop && ngx_http_mixpanel_now() >= s->deadline;
}


/* the status page's last_error; a torn read shows a garbled line at worst */

static void
ngx_http_mixpanel_sender_error(ngx_http_mixpanel_sender_t *s,
    const char *fmt, ...)
{
    u_char   *p, buf[sizeof(s->counters->last_error)];
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    ngx_memcpy(s->counters->last_error, buf, p - buf);
    s->counters->last_error_len = p - buf;
    s->counters->last_error_time = ngx_time();
}


static ngx_msec_t
ngx_http_mixpanel_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (ngx_msec_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static void
ngx_http_mixpanel_abstime(struct timespec *ts, ngx_msec_t at)
{
    ts->tv_sec = at / 1000;
    ts->tv_nsec = (at % 1000) * 1000000;
}
