
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * The nginx runtime the fuzz targets need: time, page size, a log that
 * formats every message (debug included) into /dev/null, a pool per
 * input, and a request skeleton with a connection and module confs.
 */


#ifndef _NGX_MIXPANEL_FUZZ_H_INCLUDED_
#define _NGX_MIXPANEL_FUZZ_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_MIXPANEL_FUZZ_CONFS  256


static ngx_log_t         ngx_mixpanel_fuzz_log;
static ngx_open_file_t   ngx_mixpanel_fuzz_log_file;


static void
ngx_mixpanel_fuzz_init(void)
{
    static ngx_uint_t  done;

    if (done) {
        return;
    }

    done = 1;

    ngx_pagesize = getpagesize();
    for (ngx_pagesize_shift = 0; (ngx_pagesize >> ngx_pagesize_shift) > 1;
         ngx_pagesize_shift++) { /* void */ }
    ngx_cacheline_size = NGX_CPU_CACHE_LINE;
    ngx_ncpu = 1;
    ngx_pid = getpid();
    ngx_use_stderr = 0;

    ngx_time_init();

    ngx_mixpanel_fuzz_log_file.fd = open("/dev/null", O_WRONLY);
    ngx_mixpanel_fuzz_log.file = &ngx_mixpanel_fuzz_log_file;
    ngx_mixpanel_fuzz_log.log_level = NGX_LOG_DEBUG_ALL;
}


static ngx_pool_t *
ngx_mixpanel_fuzz_pool(void)
{
    ngx_pool_t  *pool;

    pool = ngx_create_pool(4096, &ngx_mixpanel_fuzz_log);
    if (pool == NULL) {
        abort();
    }

    return pool;
}


static ngx_http_request_t *
ngx_mixpanel_fuzz_request(ngx_pool_t *pool)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    c = ngx_pcalloc(pool, sizeof(ngx_connection_t));
    r = ngx_pcalloc(pool, sizeof(ngx_http_request_t));

    if (c == NULL || r == NULL) {
        abort();
    }

    c->log = &ngx_mixpanel_fuzz_log;
    c->pool = pool;

    r->connection = c;
    r->pool = pool;
    r->main = r;

    r->ctx = ngx_pcalloc(pool, NGX_MIXPANEL_FUZZ_CONFS * sizeof(void *));
    r->main_conf = ngx_pcalloc(pool, NGX_MIXPANEL_FUZZ_CONFS * sizeof(void *));
    r->srv_conf = ngx_pcalloc(pool, NGX_MIXPANEL_FUZZ_CONFS * sizeof(void *));
    r->loc_conf = ngx_pcalloc(pool, NGX_MIXPANEL_FUZZ_CONFS * sizeof(void *));

    if (r->ctx == NULL || r->main_conf == NULL || r->srv_conf == NULL
        || r->loc_conf == NULL)
    {
        abort();
    }

    if (ngx_list_init(&r->headers_in.headers, pool, 4,
                      sizeof(ngx_table_elt_t))
        != NGX_OK
        || ngx_list_init(&r->headers_out.headers, pool, 4,
                         sizeof(ngx_table_elt_t))
           != NGX_OK)
    {
        abort();
    }

    return r;
}


static ngx_conf_t *
ngx_mixpanel_fuzz_conf(ngx_pool_t *pool)
{
    ngx_conf_t  *cf;

    cf = ngx_pcalloc(pool, sizeof(ngx_conf_t));
    if (cf == NULL) {
        abort();
    }

    cf->pool = pool;
    cf->temp_pool = pool;
    cf->log = &ngx_mixpanel_fuzz_log;

    return cf;
}


/* the next chunk of the input up to a separator byte, or to its end */

static ngx_int_t
ngx_mixpanel_fuzz_next(u_char **p, u_char *last, u_char sep, ngx_str_t *s)
{
    u_char  *e;

    if (*p > last) {
        ngx_str_null(s);
        return NGX_DECLINED;
    }

    e = ngx_strlchr(*p, last, sep);

    if (e == NULL) {
        e = last;
    }

    s->data = *p;
    s->len = e - *p;

    *p = e + 1;

    return NGX_OK;
}


/* a malloc()ed copy of exactly the given bytes: ASan sees every overread */

static u_char *
ngx_mixpanel_fuzz_copy(ngx_str_t *s)
{
    u_char  *p;

    p = malloc(s->len ? s->len : 1);
    if (p == NULL) {
        abort();
    }

    if (s->len) {
        ngx_memcpy(p, s->data, s->len);
    }

    return p;
}


#endif /* _NGX_MIXPANEL_FUZZ_H_INCLUDED_ */
