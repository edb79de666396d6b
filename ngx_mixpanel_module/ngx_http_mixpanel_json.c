
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * JSON body fields as nginx variables:
 * "mixpanel_json_set $var request|response /json/pointer".
 *
 * Request bodies are read only when nginx has already read them into
 * memory (proxy_pass does).  Response bodies are copied by a body filter
 * that passes every buffer on untouched; it is installed only when a
 * response variable is referenced somewhere in the configuration, and it
 * copies only identity-encoded JSON up to mixpanel_json_max_size, file
 * buffers included (proxy_cache hits, temporary files, static files: the
 * copy filter reads them into memory for it).  Values are extracted when
 * a variable is first read after the body is complete, all variables of
 * a body at once, and cached for the request.
 *
 * Holding: when the tracker's decision at the header (rotation, binding,
 * cookies) needs an account or profile that a response variable will
 * give only once the body is read, the header waits for the body, as in
 * the xslt and image filters: the header filter returns without calling
 * the next one, the body filter copies and consumes the buffers, then
 * sends the header and the whole body in one buffer.  The body is never
 * changed; past mixpanel_json_max_size, whatever was held goes on and the
 * response flows as if it had not been held.
 *
 * This is the only file that parses JSON with jansson on behalf of the
 * variables; the JWT module uses the two helpers at the end of the runtime
 * part for token headers, claims and key sets.
 */


#include "ngx_http_mixpanel_module.h"

#include <jansson.h>


#define NGX_HTTP_MIXPANEL_JSON_REQUEST   0
#define NGX_HTTP_MIXPANEL_JSON_RESPONSE  1

#define NGX_HTTP_MIXPANEL_JSON_IDLE      0
#define NGX_HTTP_MIXPANEL_JSON_READING   1
#define NGX_HTTP_MIXPANEL_JSON_DONE      2
#define NGX_HTTP_MIXPANEL_JSON_FAILED    3

#define NGX_HTTP_MIXPANEL_JSON_MIN_BUF   4096

/* the reals past the largest double read as null in one body, at most */
#define NGX_HTTP_MIXPANEL_JSON_OVERFLOWS  16

/* r->buffered while the response is held; the sub and ssi filters use 1, 2 */
#define NGX_HTTP_MIXPANEL_JSON_BUFFERED  0x08


typedef struct {
    ngx_array_t                   paths[2];      /* ngx_array_t of ngx_str_t */
    ngx_array_t                   response;      /* ngx_str_t */
} ngx_http_mixpanel_json_main_conf_t;


typedef struct {
    size_t                        max_size;
} ngx_http_mixpanel_json_loc_conf_t;


typedef struct {
    ngx_str_t                    *values[2];
    u_char                       *start;
    u_char                       *pos;
    u_char                       *end;
    ngx_uint_t                    state;

    unsigned                      holding:1;
    unsigned                      watch:1;     /* the header filter asks */
    unsigned                      awaited:1;   /* a variable waited */
    unsigned                      too_large:1;
    unsigned                      logged:1;
} ngx_http_mixpanel_json_ctx_t;


static ngx_int_t ngx_http_mixpanel_json_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_mixpanel_json_request_body(ngx_http_request_t *r,
    ngx_str_t *body);
static ngx_http_mixpanel_json_ctx_t *ngx_http_mixpanel_json_get_ctx(
    ngx_http_request_t *r, ngx_uint_t create);
static void ngx_http_mixpanel_json_cleanup(void *data);
static ngx_int_t ngx_http_mixpanel_json_type(ngx_str_t *type);
static ngx_int_t ngx_http_mixpanel_json_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_mixpanel_json_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_mixpanel_json_hold(ngx_http_request_t *r,
    ngx_http_mixpanel_json_ctx_t *ctx, ngx_chain_t *in);
static ngx_int_t ngx_http_mixpanel_json_release(ngx_http_request_t *r,
    ngx_http_mixpanel_json_ctx_t *ctx, ngx_chain_t *rest);
static ngx_int_t ngx_http_mixpanel_json_upstream_failed(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_mixpanel_json_copy(ngx_http_request_t *r,
    ngx_http_mixpanel_json_ctx_t *ctx, u_char *data, size_t size);
static ngx_int_t ngx_http_mixpanel_json_find(ngx_pool_t *pool, u_char *data,
    size_t len, ngx_array_t *paths, ngx_str_t *values, ngx_uint_t strings,
    uint32_t *present, ngx_uint_t lenient);
static json_t *ngx_http_mixpanel_json_load_lenient(ngx_pool_t *pool,
    u_char *data, size_t len, json_error_t *err);
static ngx_uint_t ngx_http_mixpanel_json_is_number(u_char *p,
    u_char *last);
static json_t *ngx_http_mixpanel_json_lookup(json_t *json,
    ngx_array_t *path);
static ngx_int_t ngx_http_mixpanel_json_text(ngx_pool_t *pool, json_t *json,
    ngx_uint_t depth, ngx_str_t *text);

static void *ngx_http_mixpanel_json_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_mixpanel_json_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_mixpanel_json_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_mixpanel_json_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_mixpanel_json_pointer(ngx_conf_t *cf,
    ngx_str_t *pointer, ngx_array_t *path);
static ngx_int_t ngx_http_mixpanel_json_init(ngx_conf_t *cf);


static ngx_command_t  ngx_http_mixpanel_json_commands[] = {

    { ngx_string("mixpanel_json_set"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE3,
      ngx_http_mixpanel_json_set,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mixpanel_json_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_json_loc_conf_t, max_size),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_mixpanel_json_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_mixpanel_json_init,           /* postconfiguration */

    ngx_http_mixpanel_json_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_mixpanel_json_create_loc_conf, /* create location configuration */
    ngx_http_mixpanel_json_merge_loc_conf  /* merge location configuration */
};


ngx_module_t  ngx_http_mixpanel_json_module = {
    NGX_MODULE_V1,
    &ngx_http_mixpanel_json_module_ctx,    /* module context */
    ngx_http_mixpanel_json_commands,       /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_int_t
ngx_http_mixpanel_json_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_int_t                            rc;
    ngx_str_t                            body, *value, *values;
    ngx_uint_t                           source, index;
    ngx_http_mixpanel_json_ctx_t        *ctx;
    ngx_http_mixpanel_json_main_conf_t  *jmcf;

    source = data & 1;
    index = data >> 1;

    v->not_found = 1;

    ctx = ngx_http_mixpanel_json_get_ctx(r, 1);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (ctx->values[source] == NULL) {

        if (source == NGX_HTTP_MIXPANEL_JSON_REQUEST) {
            rc = ngx_http_mixpanel_json_request_body(r, &body);

        } else {
            switch (ctx->state) {

            case NGX_HTTP_MIXPANEL_JSON_DONE:
                body.data = ctx->start;
                body.len = ctx->pos - ctx->start;
                rc = NGX_OK;
                break;

            case NGX_HTTP_MIXPANEL_JSON_FAILED:
                rc = NGX_DECLINED;

                if (ctx->too_large && !ctx->logged) {
                    ctx->logged = 1;
                    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                                  "mixpanel: the response body is larger "
                                  "than mixpanel_json_max_size, its fields "
                                  "are empty");
                }

                break;

            default:
                rc = NGX_AGAIN;
            }
        }

        /* not there yet: an empty value now, the field later */

        if (rc == NGX_AGAIN) {
            if (ctx->watch && source == NGX_HTTP_MIXPANEL_JSON_RESPONSE) {
                ctx->awaited = 1;
            }

            return NGX_OK;
        }

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        jmcf = ngx_http_get_module_main_conf(r, ngx_http_mixpanel_json_module);

        values = ngx_pcalloc(r->pool,
                             jmcf->paths[source].nelts * sizeof(ngx_str_t));
        if (values == NULL) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK) {
            rc = ngx_http_mixpanel_json_find(r->pool, body.data, body.len,
                                             &jmcf->paths[source], values, 0,
                                             NULL, 1);
            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc == NGX_DECLINED) {
                ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                              "mixpanel: the %s body is not valid JSON, "
                              "its fields are empty",
                              source ? "response" : "request");
            }
        }

        ctx->values[source] = values;
    }

    value = &ctx->values[source][index];

    if (value->len == 0) {
        return NGX_OK;
    }

    v->len = value->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = value->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_mixpanel_json_request_body(ngx_http_request_t *r, ngx_str_t *body)
{
    off_t                               total;
    u_char                             *p;
    ngx_buf_t                          *b;
    ngx_chain_t                        *cl;
    ngx_http_request_t                 *mr;
    ngx_http_request_body_t            *rb;
    ngx_http_mixpanel_json_loc_conf_t  *jlcf;

    mr = r->main;
    rb = mr->request_body;

    /* never read here: only what nginx has read for a module that wanted it */

    if (rb == NULL || rb->rest != 0) {
        return NGX_AGAIN;
    }

    if (rb->temp_file || mr->request_body_no_buffering) {
        return NGX_DECLINED;
    }

    if (mr->headers_in.content_type == NULL
        || ngx_http_mixpanel_json_type(&mr->headers_in.content_type->value)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_mixpanel_json_module);

    if (mr->headers_in.content_length_n <= 0
        || mr->headers_in.content_length_n > (off_t) jlcf->max_size)
    {
        return NGX_DECLINED;
    }

    total = 0;

    for (cl = rb->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            total += b->last - b->pos;

        } else if (b->in_file && b->file_last > b->file_pos) {
            return NGX_DECLINED;
        }
    }

    if (total != mr->headers_in.content_length_n) {
        return NGX_DECLINED;
    }

    b = rb->bufs->buf;

    if (b->last - b->pos == total) {
        body->data = b->pos;
        body->len = (size_t) total;
        return NGX_OK;
    }

    body->data = ngx_pnalloc(r->pool, (size_t) total);
    if (body->data == NULL) {
        return NGX_ERROR;
    }

    p = body->data;

    for (cl = rb->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    body->len = (size_t) total;

    return NGX_OK;
}


static ngx_http_mixpanel_json_ctx_t *
ngx_http_mixpanel_json_get_ctx(ngx_http_request_t *r, ngx_uint_t create)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_mixpanel_json_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_mixpanel_json_module);

    if (ctx != NULL) {
        return ctx;
    }

    /*
     * an internal redirect wipes the module context, not the pool
     * cleanup the context is anchored to
     */

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_mixpanel_json_cleanup) {
            ctx = cln->data;
            ngx_http_set_ctx(r->main, ctx, ngx_http_mixpanel_json_module);
            return ctx;
        }
    }

    if (!create) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_mixpanel_json_ctx_t));
    if (cln == NULL) {
        return NULL;
    }

    ctx = cln->data;
    ngx_memzero(ctx, sizeof(ngx_http_mixpanel_json_ctx_t));

    cln->handler = ngx_http_mixpanel_json_cleanup;

    ngx_http_set_ctx(r->main, ctx, ngx_http_mixpanel_json_module);

    return ctx;
}


static void
ngx_http_mixpanel_json_cleanup(void *data)
{
    /* the context lives in the pool; the handler only marks it */
}


/* application/json, text/json and any "+json" type, parameters aside */

static ngx_int_t
ngx_http_mixpanel_json_type(ngx_str_t *type)
{
    u_char  *p, *last, *slash;

    p = type->data;
    last = p + type->len;

    slash = NULL;

    for ( /* void */ ; p < last; p++) {
        if (*p == ';' || *p == ' ' || *p == '\t') {
            break;
        }

        if (*p == '/' && slash == NULL) {
            slash = p;
        }
    }

    if (slash == NULL) {
        return NGX_DECLINED;
    }

    last = p;

    if (last - type->data == 16
        && ngx_strncasecmp(type->data, (u_char *) "application/json", 16)
           == 0)
    {
        return NGX_OK;
    }

    if (last - type->data == 9
        && ngx_strncasecmp(type->data, (u_char *) "text/json", 9) == 0)
    {
        return NGX_OK;
    }

    if (last - slash > 5
        && ngx_strncasecmp(last - 5, (u_char *) "+json", 5) == 0)
    {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_mixpanel_json_header_filter(ngx_http_request_t *r)
{
    ngx_int_t                           rc;
    ngx_table_elt_t                    *ce;
    ngx_http_mixpanel_json_ctx_t       *ctx;
    ngx_http_mixpanel_json_loc_conf_t  *jlcf;

    if (r != r->main || r->header_only) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_mixpanel_json_get_ctx(r, 0);

    if (ngx_http_mixpanel_json_type(&r->headers_out.content_type) != NGX_OK) {
        if (ctx != NULL) {
            ctx->state = NGX_HTTP_MIXPANEL_JSON_IDLE;
            ctx->values[NGX_HTTP_MIXPANEL_JSON_RESPONSE] = NULL;
        }

        return ngx_http_next_header_filter(r);
    }

    if (ctx == NULL) {
        ctx = ngx_http_mixpanel_json_get_ctx(r, 1);
        if (ctx == NULL) {
            return NGX_ERROR;
        }
    }

    /*
     * a header again (an error page after a held header, which nginx
     * took for unsent): what was held is dropped with its response
     */

    if (ctx->holding) {
        ctx->holding = 0;
        r->buffered &= ~NGX_HTTP_MIXPANEL_JSON_BUFFERED;
    }

    ctx->values[NGX_HTTP_MIXPANEL_JSON_RESPONSE] = NULL;
    ctx->start = NULL;
    ctx->pos = NULL;
    ctx->end = NULL;
    ctx->state = NGX_HTTP_MIXPANEL_JSON_READING;
    ctx->too_large = 0;
    ctx->logged = 0;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_mixpanel_json_module);

    ce = r->headers_out.content_encoding;

    if (ce != NULL && ce->hash != 0 && ce->value.len
        && (ce->value.len != 8
            || ngx_strncasecmp(ce->value.data, (u_char *) "identity", 8)
               != 0))
    {
        ctx->state = NGX_HTTP_MIXPANEL_JSON_FAILED;
    }

    if (r->headers_out.content_length_n > (off_t) jlcf->max_size) {
        ctx->state = NGX_HTTP_MIXPANEL_JSON_FAILED;
        ctx->too_large = 1;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mixpanel json: %s response body",
                   ctx->state == NGX_HTTP_MIXPANEL_JSON_READING
                   ? "copying" : "not copying");

    if (ctx->state != NGX_HTTP_MIXPANEL_JSON_READING) {
        return ngx_http_next_header_filter(r);
    }

    /* file buffers reach the body filter read into memory */

    r->filter_need_in_memory = 1;

    ctx->watch = 1;
    ctx->awaited = 0;

    rc = ngx_http_mixpanel_identity_needs_body(r);

    ctx->watch = 0;

    if (rc == NGX_OK && ctx->awaited) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "mixpanel json: header held for the body");

        ctx->holding = 1;
        r->buffered |= NGX_HTTP_MIXPANEL_JSON_BUFFERED;

        /*
         * the range body filter runs before this one and would see the
         * body before the range header filter, after it, saw the header:
         * a 206 header over the whole body; a held response is whole
         */

        r->allow_ranges = 0;

        return NGX_OK;
    }

    return ngx_http_next_header_filter(r);
}


/* buffers are copied, never changed, held back or reordered */

static ngx_int_t
ngx_http_mixpanel_json_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t                     *b;
    ngx_chain_t                   *cl;
    ngx_http_mixpanel_json_ctx_t  *ctx;

    if (in == NULL || r != r->main) {
        return ngx_http_next_body_filter(r, in);
    }

    ctx = ngx_http_mixpanel_json_get_ctx(r, 0);

    if (ctx == NULL || ctx->state != NGX_HTTP_MIXPANEL_JSON_READING) {
        return ngx_http_next_body_filter(r, in);
    }

    if (ctx->holding) {
        return ngx_http_mixpanel_json_hold(r, ctx, in);
    }

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            if (b->last > b->pos
                && ngx_http_mixpanel_json_copy(r, ctx, b->pos,
                                               b->last - b->pos)
                   != NGX_OK)
            {
                break;
            }

        } else if (b->in_file && b->file_last > b->file_pos) {

            /* reading the file back here would block: give up */

            ctx->state = NGX_HTTP_MIXPANEL_JSON_FAILED;
            break;
        }

        if (b->last_buf) {
            ctx->state = NGX_HTTP_MIXPANEL_JSON_DONE;
            break;
        }
    }

    if (ctx->state == NGX_HTTP_MIXPANEL_JSON_FAILED && ctx->start != NULL) {
        ngx_pfree(r->pool, ctx->start);
        ctx->start = NULL;
        ctx->pos = NULL;
        ctx->end = NULL;
    }

    return ngx_http_next_body_filter(r, in);
}


/* the held response: its buffers are copied and consumed */

static ngx_int_t
ngx_http_mixpanel_json_hold(ngx_http_request_t *r,
    ngx_http_mixpanel_json_ctx_t *ctx, ngx_chain_t *in)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            if (b->last > b->pos) {
                rc = ngx_http_mixpanel_json_copy(r, ctx, b->pos,
                                                 b->last - b->pos);

                if (rc == NGX_ERROR) {
                    return NGX_ERROR;
                }

                if (rc == NGX_DECLINED) {
                    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                                  "mixpanel: the response body is larger "
                                  "than mixpanel_json_max_size, its header "
                                  "is not held for the account");
                    return ngx_http_mixpanel_json_release(r, ctx, cl);
                }

                b->pos = b->last;
            }

            if (b->in_file) {
                b->file_pos = b->file_last;
            }

        } else if (b->in_file && b->file_last > b->file_pos) {

            /* not read into memory by the copy filter: not expected */

            ctx->state = NGX_HTTP_MIXPANEL_JSON_FAILED;
            return ngx_http_mixpanel_json_release(r, ctx, cl);
        }

        if (b->last_buf) {
            ctx->state = NGX_HTTP_MIXPANEL_JSON_DONE;
            return ngx_http_mixpanel_json_release(r, ctx, NULL);
        }

        if (b->flush && ngx_http_mixpanel_json_upstream_failed(r)) {

            /*
             * the upstream failed after its header: nginx flushes what
             * was sent and closes; held, the flush would leave the
             * request waiting for a body that never comes
             */

            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "mixpanel: the upstream failed in the middle of "
                          "a response held for its account, the account "
                          "is unknown");

            ctx->state = NGX_HTTP_MIXPANEL_JSON_FAILED;
            return ngx_http_mixpanel_json_release(r, ctx, cl);
        }
    }

    return NGX_OK;
}


/*
 * The upstream module flushes without a last buffer once it has closed
 * its connection only when the response ended in an error
 */

static ngx_int_t
ngx_http_mixpanel_json_upstream_failed(ngx_http_request_t *r)
{
    return r->upstream != NULL && r->upstream->peer.connection == NULL;
}


/*
 * The header goes on (the tracker decides now, with the body read), then
 * what was held, then the buffers not held ("rest", past the size limit)
 */

static ngx_int_t
ngx_http_mixpanel_json_release(ngx_http_request_t *r,
    ngx_http_mixpanel_json_ctx_t *ctx, ngx_chain_t *rest)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t  *out;

    ctx->holding = 0;
    r->buffered &= ~NGX_HTTP_MIXPANEL_JSON_BUFFERED;

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    if (ctx->pos == ctx->start && rest != NULL) {
        return ngx_http_next_body_filter(r, rest);
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    if (ctx->pos > ctx->start) {
        b->pos = ctx->start;
        b->last = ctx->pos;
        b->memory = 1;
    }

    b->last_buf = (rest == NULL);

    out = ngx_alloc_chain_link(r->pool);
    if (out == NULL) {
        return NGX_ERROR;
    }

    out->buf = b;
    out->next = rest;

    return ngx_http_next_body_filter(r, out);
}


static ngx_int_t
ngx_http_mixpanel_json_copy(ngx_http_request_t *r,
    ngx_http_mixpanel_json_ctx_t *ctx, u_char *data, size_t size)
{
    off_t                               length;
    size_t                              used, need, alloc;
    u_char                             *p;
    ngx_http_mixpanel_json_loc_conf_t  *jlcf;

    used = ctx->pos - ctx->start;

    if (size <= (size_t) (ctx->end - ctx->pos)) {
        ctx->pos = ngx_cpymem(ctx->pos, data, size);
        return NGX_OK;
    }

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_mixpanel_json_module);

    need = used + size;

    if (need > jlcf->max_size) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "mixpanel json: response body larger than %uz",
                       jlcf->max_size);
        ctx->state = NGX_HTTP_MIXPANEL_JSON_FAILED;
        ctx->too_large = 1;
        return NGX_DECLINED;
    }

    length = r->headers_out.content_length_n;

    if (length >= (off_t) need) {
        alloc = (size_t) length;

    } else {
        alloc = ngx_max(need, 2 * (size_t) (ctx->end - ctx->start));
        alloc = ngx_max(alloc, NGX_HTTP_MIXPANEL_JSON_MIN_BUF);
        alloc = ngx_min(alloc, jlcf->max_size);
    }

    p = ngx_palloc(r->pool, alloc);
    if (p == NULL) {
        ctx->state = NGX_HTTP_MIXPANEL_JSON_FAILED;
        return NGX_ERROR;
    }

    if (used) {
        ngx_memcpy(p, ctx->start, used);
    }

    if (ctx->start != NULL) {
        ngx_pfree(r->pool, ctx->start);
    }

    ctx->start = p;
    ctx->pos = ngx_cpymem(p + used, data, size);
    ctx->end = p + alloc;

    return NGX_OK;
}


/*
 * The values of the paths (arrays of NUL-terminated names or array
 * indexes) in a JSON document: strings as they are, numbers as text,
 * booleans as "true" or "false", arrays as their scalar elements joined
 * with commas; objects, null and missing fields are empty.  NGX_DECLINED
 * for invalid JSON, duplicate keys included.
 */

ngx_int_t
ngx_http_mixpanel_json_values(ngx_pool_t *pool, u_char *data, size_t len,
    ngx_array_t *paths, ngx_str_t *values)
{
    return ngx_http_mixpanel_json_find(pool, data, len, paths, values, 0,
                                       NULL, 0);
}


/*
 * The same, and which of the first 32 paths are in the document, whatever
 * their value: a member that is there but empty (null, {}, []) is told
 * from one that is not there.
 */

ngx_int_t
ngx_http_mixpanel_json_present(ngx_pool_t *pool, u_char *data, size_t len,
    ngx_array_t *paths, ngx_str_t *values, uint32_t *present)
{
    return ngx_http_mixpanel_json_find(pool, data, len, paths, values, 0,
                                       present, 0);
}


/*
 * the same, strings only: any other type is empty; numbers too large for
 * the parser are read as JSON.parse() reads them, as in a body
 */

ngx_int_t
ngx_http_mixpanel_json_strings(ngx_pool_t *pool, u_char *data, size_t len,
    ngx_array_t *paths, ngx_str_t *values)
{
    return ngx_http_mixpanel_json_find(pool, data, len, paths, values, 1,
                                       NULL, 1);
}


static ngx_int_t
ngx_http_mixpanel_json_find(ngx_pool_t *pool, u_char *data, size_t len,
    ngx_array_t *paths, ngx_str_t *values, ngx_uint_t strings,
    uint32_t *present, ngx_uint_t lenient)
{
    json_t        *root, *json;
    ngx_int_t      rc;
    ngx_uint_t     i;
    ngx_array_t   *path;
    json_error_t   err;

    /*
     * a NUL byte is in no JSON text (JSON.parse() refuses it), but jansson
     * skips one after a number or a literal
     */

    if (memchr(data, '\0', len) != NULL) {
        return NGX_DECLINED;
    }

    root = json_loadb((const char *) data, len, JSON_REJECT_DUPLICATES, &err);

    if (root == NULL && lenient
        && json_error_code(&err) == json_error_numeric_overflow)
    {
        root = ngx_http_mixpanel_json_load_lenient(pool, data, len, &err);
    }

    if (root == NULL) {
        return NGX_DECLINED;
    }

    rc = NGX_OK;
    path = paths->elts;

    if (present) {
        *present = 0;
    }

    for (i = 0; i < paths->nelts; i++) {

        json = ngx_http_mixpanel_json_lookup(root, &path[i]);

        if (present && json != NULL && i < 32) {
            *present |= (uint32_t) 1 << i;
        }

        if (json == NULL || (strings && !json_is_string(json))) {
            ngx_str_null(&values[i]);
            continue;
        }

        if (ngx_http_mixpanel_json_text(pool, json, 0, &values[i]) != NGX_OK) {
            rc = NGX_ERROR;
            break;
        }
    }

    json_decref(root);

    return rc;
}


/*
 * A body with a number jansson cannot hold, read as JSON.parse() reads it
 * instead of refused whole: an integer past 2^63 - 1 is a double
 * (12345678901234567890 is 12345678901234567000), and a real past the
 * largest double, which JavaScript makes Infinity and JSON.stringify()
 * null, is null; either way every integer of the body is a double, as in
 * JavaScript.  Each such real is overwritten by "null" in a copy of the body,
 * and the copy parsed again, NGX_HTTP_MIXPANEL_JSON_OVERFLOWS times at
 * most.  Tokens (JWTs) are not read so: a claim is what the issuer wrote,
 * or nothing.
 */

static json_t *
ngx_http_mixpanel_json_load_lenient(ngx_pool_t *pool, u_char *data,
    size_t len, json_error_t *err)
{
    u_char      *copy, *p, *end;
    json_t      *root;
    ngx_uint_t   n;

    copy = NULL;

    for (n = 0; n <= NGX_HTTP_MIXPANEL_JSON_OVERFLOWS; n++) {

        root = json_loadb((const char *) (copy ? copy : data), len,
                          JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL,
                          err);

        if (root != NULL
            || json_error_code(err) != json_error_numeric_overflow
            || err->position <= 0 || (size_t) err->position > len)
        {
            return root;
        }

        if (copy == NULL) {
            copy = ngx_pnalloc(pool, len);
            if (copy == NULL) {
                return NULL;
            }

            ngx_memcpy(copy, data, len);
        }

        /*
         * the real ends where jansson stopped ("1e400" at the shortest),
         * and starts after "[", ",", ":" or white space; anything else
         * there ("5-1e400") is no JSON
         */

        end = copy + err->position;
        p = end;

        while (p > copy
               && ((p[-1] >= '0' && p[-1] <= '9') || p[-1] == '.'
                   || p[-1] == 'e' || p[-1] == 'E' || p[-1] == '+'
                   || p[-1] == '-'))
        {
            p--;
        }

        if (end - p < 4
            || !ngx_http_mixpanel_json_is_number(p, end)
            || (p > copy && p[-1] != '[' && p[-1] != ',' && p[-1] != ':'
                && p[-1] != ' ' && p[-1] != '\t' && p[-1] != '\n'
                && p[-1] != '\r'))
        {
            return NULL;
        }

        p = ngx_cpymem(p, "null", 4);
        ngx_memset(p, ' ', end - p);
    }

    return NULL;
}


/* RFC 8259's number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */

static ngx_uint_t
ngx_http_mixpanel_json_is_number(u_char *p, u_char *last)
{
    u_char  *start;

    if (p < last && *p == '-') {
        p++;
    }

    if (p < last && *p == '0') {
        p++;

    } else {
        start = p;

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }

        if (p == start) {
            return 0;
        }
    }

    if (p < last && *p == '.') {
        start = ++p;

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }

        if (p == start) {
            return 0;
        }
    }

    if (p < last && (*p == 'e' || *p == 'E')) {
        p++;

        if (p < last && (*p == '+' || *p == '-')) {
            p++;
        }

        start = p;

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }

        if (p == start) {
            return 0;
        }
    }

    return p == last;
}


/*
 * The keys of a JWKS ({"keys": [...]}) or a single JWK, each as compact
 * JSON for libcjose.  NGX_DECLINED for anything else, with what is wrong
 * in "error": where the JSON is invalid, as jansson says, but never the
 * text near it, which may be a secret.
 */

ngx_int_t
ngx_http_mixpanel_json_jwks(ngx_pool_t *pool, u_char *data, size_t len,
    ngx_array_t *keys, ngx_str_t *error)
{
    char          *near;
    size_t         n;
    u_char        *p;
    json_t        *root, *set, *key;
    ngx_int_t      rc;
    ngx_str_t     *s;
    ngx_uint_t     i, nkeys;
    json_error_t   err;

    p = ngx_pnalloc(pool, NGX_MAX_CONF_ERRSTR);
    if (p == NULL) {
        return NGX_ERROR;
    }

    error->data = p;

    root = json_loadb((const char *) data, len, JSON_REJECT_DUPLICATES, &err);

    if (root == NULL) {
        near = ngx_strstr(err.text, " near '");
        n = (near == NULL) ? ngx_strlen(err.text) : (size_t) (near - err.text);

        error->len = ngx_snprintf(p, NGX_MAX_CONF_ERRSTR,
                                  "invalid JSON at line %d, column %d: %*s",
                                  err.line, err.column, n, err.text)
                     - p;
        return NGX_DECLINED;
    }

    rc = NGX_DECLINED;
    ngx_str_set(error, "not a JSON object");

    if (!json_is_object(root)) {
        goto done;
    }

    set = json_object_get(root, "keys");

    if (set == NULL) {
        if (json_object_get(root, "kty") == NULL) {
            ngx_str_set(error, "neither a \"keys\" array nor a \"kty\"");
            goto done;
        }

        nkeys = 1;

    } else {
        if (!json_is_array(set)) {
            ngx_str_set(error, "\"keys\" is not an array");
            goto done;
        }

        if (json_array_size(set) == 0) {
            ngx_str_set(error, "\"keys\" is an empty array");
            goto done;
        }

        nkeys = json_array_size(set);
    }

    for (i = 0; i < nkeys; i++) {
        key = (set == NULL) ? root : json_array_get(set, i);

        if (!json_is_object(key)) {
            error->data = p;
            error->len = ngx_snprintf(p, NGX_MAX_CONF_ERRSTR,
                                      "key %ui is not a JSON object", i + 1)
                         - p;
            goto done;
        }

        n = json_dumpb(key, NULL, 0, JSON_COMPACT);
        if (n == 0) {
            rc = NGX_ERROR;
            goto done;
        }

        s = ngx_array_push(keys);
        if (s == NULL) {
            rc = NGX_ERROR;
            goto done;
        }

        s->data = ngx_pnalloc(pool, n + 1);
        if (s->data == NULL) {
            rc = NGX_ERROR;
            goto done;
        }

        s->len = json_dumpb(key, (char *) s->data, n, JSON_COMPACT);
        s->data[s->len] = '\0';
    }

    rc = NGX_OK;

done:

    json_decref(root);

    return rc;
}


static json_t *
ngx_http_mixpanel_json_lookup(json_t *json, ngx_array_t *path)
{
    u_char      *p, *last;
    size_t       index;
    ngx_str_t   *name;
    ngx_uint_t   i;

    name = path->elts;

    for (i = 0; i < path->nelts && json != NULL; i++) {

        if (json_is_object(json)) {
            json = json_object_get(json, (const char *) name[i].data);
            continue;
        }

        if (!json_is_array(json)) {
            return NULL;
        }

        /* RFC 6901: decimal, no leading zeros; "-" is past the end */

        p = name[i].data;
        last = p + name[i].len;

        if (p == last || (*p == '0' && name[i].len > 1) || name[i].len > 9) {
            return NULL;
        }

        index = 0;

        for ( /* void */ ; p < last; p++) {
            if (*p < '0' || *p > '9') {
                return NULL;
            }

            index = index * 10 + (*p - '0');
        }

        json = json_array_get(json, index);
    }

    return json;
}


static ngx_int_t
ngx_http_mixpanel_json_text(ngx_pool_t *pool, json_t *json, ngx_uint_t depth,
    ngx_str_t *text)
{
    u_char      *p;
    size_t       n, len;
    ngx_str_t   *part;
    ngx_uint_t   i;

    ngx_str_null(text);

    switch (json_typeof(json)) {

    case JSON_STRING:
        len = json_string_length(json);

        text->data = ngx_pnalloc(pool, len);
        if (text->data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(text->data, json_string_value(json), len);
        text->len = len;

        return NGX_OK;

    case JSON_INTEGER:
        text->data = ngx_pnalloc(pool, NGX_INT64_LEN);
        if (text->data == NULL) {
            return NGX_ERROR;
        }

        text->len = ngx_sprintf(text->data, "%L",
                                (int64_t) json_integer_value(json))
                    - text->data;

        return NGX_OK;

    case JSON_REAL:

        /*
         * as JavaScript's String() writes it, as any other source of an id
         * would: "1000" for 1.0e3, "0.1", "9007199254740992" for 2^53,
         * "1e+300"
         */

        text->data = ngx_pnalloc(pool, NGX_HTTP_MIXPANEL_NUMBER_LEN);
        if (text->data == NULL) {
            return NGX_ERROR;
        }

        text->len = ngx_http_mixpanel_number(text->data,
                                             json_real_value(json));

        return NGX_OK;

    case JSON_TRUE:
        ngx_str_set(text, "true");
        return NGX_OK;

    case JSON_FALSE:
        ngx_str_set(text, "false");
        return NGX_OK;

    case JSON_ARRAY:
        if (depth > 0 || json_array_size(json) == 0) {
            return NGX_OK;
        }

        n = json_array_size(json);

        part = ngx_palloc(pool, n * sizeof(ngx_str_t));
        if (part == NULL) {
            return NGX_ERROR;
        }

        len = 0;

        for (i = 0; i < n; i++) {
            if (ngx_http_mixpanel_json_text(pool, json_array_get(json, i), 1,
                                            &part[i])
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            len += part[i].len + 1;
        }

        if (len == n) {
            return NGX_OK;
        }

        p = ngx_pnalloc(pool, len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        text->data = p;

        for (i = 0; i < n; i++) {
            if (part[i].len == 0) {
                continue;
            }

            if (p != text->data) {
                *p++ = ',';
            }

            p = ngx_cpymem(p, part[i].data, part[i].len);
        }

        text->len = p - text->data;

        return NGX_OK;

    default:
        return NGX_OK;
    }
}


static void *
ngx_http_mixpanel_json_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_mixpanel_json_main_conf_t  *jmcf;

    jmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_mixpanel_json_main_conf_t));
    if (jmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&jmcf->paths[NGX_HTTP_MIXPANEL_JSON_REQUEST],
                       cf->pool, 2, sizeof(ngx_array_t))
        != NGX_OK
        || ngx_array_init(&jmcf->paths[NGX_HTTP_MIXPANEL_JSON_RESPONSE],
                          cf->pool, 2, sizeof(ngx_array_t))
           != NGX_OK
        || ngx_array_init(&jmcf->response, cf->pool, 2, sizeof(ngx_str_t))
           != NGX_OK)
    {
        return NULL;
    }

    return jmcf;
}


static void *
ngx_http_mixpanel_json_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_mixpanel_json_loc_conf_t  *jlcf;

    jlcf = ngx_palloc(cf->pool, sizeof(ngx_http_mixpanel_json_loc_conf_t));
    if (jlcf == NULL) {
        return NULL;
    }

    jlcf->max_size = NGX_CONF_UNSET_SIZE;

    return jlcf;
}


static char *
ngx_http_mixpanel_json_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_mixpanel_json_loc_conf_t *prev = parent;
    ngx_http_mixpanel_json_loc_conf_t *conf = child;

    ngx_conf_merge_size_value(conf->max_size, prev->max_size, 64 * 1024);

    return NGX_CONF_OK;
}


static char *
ngx_http_mixpanel_json_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mixpanel_json_main_conf_t *jmcf = conf;

    ngx_str_t            *value, name, *s;
    ngx_uint_t            source;
    ngx_array_t          *path;
    ngx_http_variable_t  *v;

    value = cf->args->elts;

    if (value[1].len < 2 || value[1].data[0] != '$') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid variable name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_strcmp(value[2].data, "request") == 0) {
        source = NGX_HTTP_MIXPANEL_JSON_REQUEST;

    } else if (ngx_strcmp(value[2].data, "response") == 0) {
        source = NGX_HTTP_MIXPANEL_JSON_RESPONSE;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid body \"%V\", "
                           "it must be \"request\" or \"response\"",
                           &value[2]);
        return NGX_CONF_ERROR;
    }

    path = ngx_array_push(&jmcf->paths[source]);
    if (path == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_mixpanel_json_pointer(cf, &value[3], path) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    name.len = value[1].len - 1;
    name.data = value[1].data + 1;

    v = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE);
    if (v == NULL) {
        return NGX_CONF_ERROR;
    }

    v->get_handler = ngx_http_mixpanel_json_variable;
    v->data = ((jmcf->paths[source].nelts - 1) << 1) | source;

    if (source == NGX_HTTP_MIXPANEL_JSON_RESPONSE) {
        s = ngx_array_push(&jmcf->response);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        *s = name;
    }

    return NGX_CONF_OK;
}


/* an RFC 6901 pointer as its unescaped, NUL-terminated reference tokens */

static ngx_int_t
ngx_http_mixpanel_json_pointer(ngx_conf_t *cf, ngx_str_t *pointer,
    ngx_array_t *path)
{
    u_char     *p, *last, *q;
    ngx_str_t  *token;

    if (ngx_array_init(path, cf->pool, 2, sizeof(ngx_str_t)) != NGX_OK) {
        return NGX_ERROR;
    }

    if (pointer->len == 0) {
        return NGX_OK;
    }

    if (pointer->data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid JSON pointer \"%V\", "
                           "it must be empty or start with \"/\"", pointer);
        return NGX_ERROR;
    }

    p = pointer->data + 1;
    last = pointer->data + pointer->len;

    for ( ;; ) {
        token = ngx_array_push(path);
        if (token == NULL) {
            return NGX_ERROR;
        }

        token->data = ngx_pnalloc(cf->pool, last - p + 1);
        if (token->data == NULL) {
            return NGX_ERROR;
        }

        q = token->data;

        while (p < last && *p != '/') {

            if (*p != '~') {
                *q++ = *p++;
                continue;
            }

            if (p + 1 < last && (p[1] == '0' || p[1] == '1')) {
                *q++ = (p[1] == '0') ? '~' : '/';
                p += 2;
                continue;
            }

            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid JSON pointer \"%V\", "
                               "\"~\" must be followed by \"0\" or \"1\"",
                               pointer);
            return NGX_ERROR;
        }

        *q = '\0';
        token->len = q - token->data;

        if (p == last) {
            return NGX_OK;
        }

        p++;
    }
}


static ngx_int_t
ngx_http_mixpanel_json_init(ngx_conf_t *cf)
{
    ngx_str_t                           *name;
    ngx_uint_t                           i, j;
    ngx_http_variable_t                 *v;
    ngx_http_core_main_conf_t           *cmcf;
    ngx_http_mixpanel_json_main_conf_t  *jmcf;

    jmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_mixpanel_json_module);
    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    /*
     * the body filter is installed only when a response variable is
     * referenced: by then every use has been indexed
     */

    name = jmcf->response.elts;
    v = cmcf->variables.elts;

    for (i = 0; i < jmcf->response.nelts; i++) {
        for (j = 0; j < cmcf->variables.nelts; j++) {

            if (name[i].len == v[j].name.len
                && ngx_strncasecmp(name[i].data, v[j].name.data, name[i].len)
                   == 0)
            {
                goto used;
            }
        }
    }

    return NGX_OK;

used:

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_mixpanel_json_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_mixpanel_json_body_filter;

    return NGX_OK;
}
