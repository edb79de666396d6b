
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * The whole log-phase emission: a configuration read by the module's own
 * directive handlers at the http, server and location levels and merged
 * as nginx merges them, then one request run through the phases the
 * module hooks (a $mixpanel_* variable read at the server level, the
 * rewrite phase, the header filter, the log phase), once or up to three
 * times with the cookies the previous response set.  The records reach a
 * stub sender that checks each of them: valid UTF-8 JSON, no duplicate
 * key, the top-level shape of an event or an /engage update, and the ids
 * SPEC section 4 gives.  The per-worker scratch buffer starts each run at
 * a few bytes, so that every growth path runs.
 *
 * The input is lines; the first byte of a line says what it is:
 *
 *   H S L   a directive at the http, server or location level: its name
 *           and arguments separated by tabs
 *   h       a request header: name, a tab, the value
 *   v       $v0 .. $v7, the request's values ("v3", a tab, the value)
 *   a       $remote_addr
 *   u m     the request line's URI and method
 *   s e     the response status, and the r->err_status
 *   c       a Cache-Control of the response
 *   r       the location's name
 *   b       the size the scratch buffer starts with
 *   f       letters: H the header filter runs, S the header was sent
 *           before it, N the JSON module asks whether the body is needed,
 *           V the $mixpanel_* variables are read at the server level
 *           first, 2 and 3 passes, R the sender refuses every record, I
 *           it refuses an $identify, 9 HTTP/0.9
 *
 * Values take \n, \t, \\ and \xHH.  The directives nginx -t would refuse
 * make the input uninteresting, as do mixpanel_api, mixpanel_spool and
 * mixpanel_ssl_trusted_certificate (files, not emission).
 */


#include "ngx_mixpanel_fuzz.h"
#include <jansson.h>

/* the sender is a stub here: its queue is the list below */
#define ngx_http_mixpanel_sender_push  ngx_mixpanel_fuzz_sender_push

#include "../ngx_mixpanel_module/ngx_http_mixpanel_record.c"


#define NGX_MIXPANEL_FUZZ_VARS      8
#define NGX_MIXPANEL_FUZZ_RECORDS   16
#define NGX_MIXPANEL_FUZZ_ZONE      (128 * 1024)


typedef struct {
    ngx_str_t                       name;
    ngx_str_t                       value;
} ngx_mixpanel_fuzz_header_t;


typedef struct {
    ngx_uint_t                      kind;
    ngx_uint_t                      identify;
    ngx_uint_t                      refused;
    u_char                          device[NGX_HTTP_MIXPANEL_UUID_LEN];
    ngx_str_t                       token;
    ngx_str_t                       json;
} ngx_mixpanel_fuzz_record_t;


typedef struct {
    ngx_array_t                     directives;     /* ngx_str_t, a line */
    ngx_array_t                     headers;
    ngx_str_t                       vars[NGX_MIXPANEL_FUZZ_VARS];
    ngx_str_t                       remote_addr;
    ngx_str_t                       uri;
    ngx_str_t                       method;
    ngx_str_t                       cache_control;
    ngx_str_t                       route;
    ngx_uint_t                      status;
    ngx_uint_t                      err_status;
    size_t                          scratch;
    ngx_uint_t                      passes;
    unsigned                        header_filter:1;
    unsigned                        header_sent:1;
    unsigned                        needs_body:1;
    unsigned                        server_vars:1;
    unsigned                        refuse_all:1;
    unsigned                        refuse_identify:1;
    unsigned                        http09:1;
} ngx_mixpanel_fuzz_input_t;


/* what one pass leaves for the next */

typedef struct {
    ngx_str_t                       cookies;
    ngx_uint_t                      identified;
    u_char                          device[NGX_HTTP_MIXPANEL_UUID_LEN];
    ngx_str_t                       account;
    ngx_str_t                       token;
} ngx_mixpanel_fuzz_pass_t;


static ngx_int_t ngx_mixpanel_fuzz_parse(ngx_pool_t *pool, u_char *p,
    u_char *last, ngx_mixpanel_fuzz_input_t *in);
static ngx_int_t ngx_mixpanel_fuzz_unescape(ngx_pool_t *pool, ngx_str_t *s);
static ngx_int_t ngx_mixpanel_fuzz_configure(ngx_conf_t *cf,
    ngx_mixpanel_fuzz_input_t *in);
static ngx_int_t ngx_mixpanel_fuzz_directive(ngx_conf_t *cf, ngx_str_t *line,
    ngx_http_conf_ctx_t *ctx, ngx_uint_t type);
static void ngx_mixpanel_fuzz_variables(ngx_conf_t *cf);
static ngx_int_t ngx_mixpanel_fuzz_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_mixpanel_fuzz_zone(void);
static ngx_int_t ngx_mixpanel_fuzz_pass(ngx_mixpanel_fuzz_input_t *in,
    ngx_mixpanel_fuzz_pass_t *prev, ngx_mixpanel_fuzz_pass_t *next,
    ngx_pool_t *keep);
static ngx_http_request_t *ngx_mixpanel_fuzz_build(ngx_pool_t *pool,
    ngx_mixpanel_fuzz_input_t *in, ngx_mixpanel_fuzz_pass_t *prev);
static ngx_table_elt_t *ngx_mixpanel_fuzz_header(ngx_http_request_t *r,
    ngx_list_t *list, ngx_str_t *name, ngx_str_t *value);
static ngx_http_mixpanel_ctx_t *ngx_mixpanel_fuzz_tracked(
    ngx_http_request_t *r);
static void ngx_mixpanel_fuzz_check(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx);
static void ngx_mixpanel_fuzz_check_event(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx, ngx_mixpanel_fuzz_record_t *rec,
    ngx_uint_t identify);
static void ngx_mixpanel_fuzz_check_engage(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx, ngx_mixpanel_fuzz_record_t *rec,
    ngx_uint_t *op);
static void ngx_mixpanel_fuzz_check_cookies(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx, ngx_mixpanel_fuzz_pass_t *next,
    ngx_pool_t *keep);
static ngx_uint_t ngx_mixpanel_fuzz_set_cookies(ngx_http_request_t *r);
static void ngx_mixpanel_fuzz_check_zone(ngx_http_mixpanel_ctx_t *ctx);
static json_t *ngx_mixpanel_fuzz_load(ngx_mixpanel_fuzz_record_t *rec);
static void ngx_mixpanel_fuzz_strings(json_t *json, ngx_uint_t depth);
static void ngx_mixpanel_fuzz_string_is(json_t *obj, const char *key,
    u_char *data, size_t len, ngx_mixpanel_fuzz_record_t *rec);
static void ngx_mixpanel_fuzz_absent(json_t *obj, const char *key,
    ngx_mixpanel_fuzz_record_t *rec);
static ngx_uint_t ngx_mixpanel_fuzz_json_prop(ngx_array_t *props,
    const char *name);
static void ngx_mixpanel_fuzz_fail(ngx_mixpanel_fuzz_record_t *rec,
    const char *what);


static ngx_array_t                     ngx_mixpanel_fuzz_records;
static ngx_uint_t                      ngx_mixpanel_fuzz_refuse;
static ngx_mixpanel_fuzz_input_t      *ngx_mixpanel_fuzz_in;

static ngx_http_core_main_conf_t      *ngx_mixpanel_fuzz_cmcf;
static ngx_http_mixpanel_main_conf_t  *ngx_mixpanel_fuzz_mmcf;
static ngx_http_mixpanel_loc_conf_t   *ngx_mixpanel_fuzz_server;
static ngx_http_mixpanel_loc_conf_t   *ngx_mixpanel_fuzz_location;
static ngx_http_core_loc_conf_t       *ngx_mixpanel_fuzz_clcf;

static u_char                         *ngx_mixpanel_fuzz_zone_mem;
static ngx_cycle_t                     ngx_mixpanel_fuzz_cycle;

static int                             ngx_mixpanel_fuzz_dummy;

#define NGX_MIXPANEL_FUZZ_REFUSE_ALL       1
#define NGX_MIXPANEL_FUZZ_REFUSE_IDENTIFY  2


static ngx_str_t  ngx_mixpanel_fuzz_skipped[] = {
    ngx_string("mixpanel_api"),
    ngx_string("mixpanel_spool"),
    ngx_string("mixpanel_ssl_trusted_certificate"),
    ngx_null_string
};


/* nginx's argument_number[] of ngx_conf_file.c */

static ngx_uint_t  ngx_mixpanel_fuzz_argument_number[] = {
    NGX_CONF_NOARGS,
    NGX_CONF_TAKE1,
    NGX_CONF_TAKE2,
    NGX_CONF_TAKE3,
    NGX_CONF_TAKE4,
    NGX_CONF_TAKE5,
    NGX_CONF_TAKE6,
    NGX_CONF_TAKE7
};


/* the stub sender: every record is copied, checked, and freed */

ngx_int_t
ngx_mixpanel_fuzz_sender_push(ngx_http_mixpanel_sender_t *s,
    ngx_http_mixpanel_record_t *rec)
{
    ngx_mixpanel_fuzz_record_t  *r;

    if (s != (ngx_http_mixpanel_sender_t *) &ngx_mixpanel_fuzz_dummy) {
        abort();
    }

    r = ngx_array_push(&ngx_mixpanel_fuzz_records);
    if (r == NULL) {
        abort();
    }

    ngx_memzero(r, sizeof(ngx_mixpanel_fuzz_record_t));

    r->kind = rec->kind;
    r->identify = rec->identify;

    /* the token the sender batches by is NUL-terminated, after the JSON */

    if (rec->token != rec->data + rec->len
        || rec->token[rec->token_len] != '\0'
        || (rec->identify && rec->device == NULL)
        || (!rec->identify && rec->device != NULL))
    {
        abort();
    }

    if (rec->identify) {
        if (rec->device != rec->token + rec->token_len + 1) {
            abort();
        }

        ngx_memcpy(r->device, rec->device, NGX_HTTP_MIXPANEL_UUID_LEN);
    }

    r->json.len = rec->len;
    r->json.data = rec->data;
    r->json.data = ngx_mixpanel_fuzz_copy(&r->json);

    r->token.len = rec->token_len;
    r->token.data = rec->token;
    r->token.data = ngx_mixpanel_fuzz_copy(&r->token);

    /* FUZZ_EMIT_DEBUG=1 fuzz_emit FILE shows what an input sends */

    if (getenv("FUZZ_EMIT_DEBUG")) {
        fprintf(stderr, "record %s: %.*s\n",
                rec->kind == NGX_HTTP_MIXPANEL_RECORD_EVENT ? "event"
                                                            : "engage",
                (int) rec->len, rec->data);
    }

    if ((ngx_mixpanel_fuzz_refuse & NGX_MIXPANEL_FUZZ_REFUSE_ALL)
        || ((ngx_mixpanel_fuzz_refuse & NGX_MIXPANEL_FUZZ_REFUSE_IDENTIFY)
            && rec->identify))
    {
        /* the sender frees what it refuses (queue full) */

        r->refused = 1;
        free(rec);
        return NGX_DECLINED;
    }

    free(rec);

    return NGX_OK;
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_mixpanel_fuzz_init();

    ngx_slab_sizes_init();

    /* the shared memory mutex logs to the cycle's log */

    ngx_mixpanel_fuzz_cycle.log = &ngx_mixpanel_fuzz_log;
    ngx_cycle = &ngx_mixpanel_fuzz_cycle;

    /* no ngx_init_cycle() has numbered the modules */

    ngx_http_core_module.ctx_index = 0;
    ngx_http_mixpanel_module.ctx_index = 1;

    ngx_mixpanel_fuzz_zone_mem = mmap(NULL, NGX_MIXPANEL_FUZZ_ZONE,
                                      PROT_READ|PROT_WRITE,
                                      MAP_ANON|MAP_SHARED, -1, 0);
    if (ngx_mixpanel_fuzz_zone_mem == MAP_FAILED) {
        abort();
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                     *input;
    ngx_str_t                   in;
    ngx_uint_t                  i, n;
    ngx_conf_t                 *cf;
    ngx_pool_t                 *pool;
    ngx_slab_pool_t            *sp;
    ngx_mixpanel_fuzz_pass_t    pass[2];
    ngx_mixpanel_fuzz_input_t   fi;

    in.data = (u_char *) data;
    in.len = size;
    input = ngx_mixpanel_fuzz_copy(&in);

    pool = ngx_mixpanel_fuzz_pool();

    ngx_memzero(&fi, sizeof(ngx_mixpanel_fuzz_input_t));

    if (ngx_mixpanel_fuzz_parse(pool, input, input + size, &fi) != NGX_OK) {
        goto done;
    }

    ngx_mixpanel_fuzz_in = &fi;

    cf = ngx_mixpanel_fuzz_conf(pool);

    if (ngx_mixpanel_fuzz_configure(cf, &fi) != NGX_OK) {
        goto done;
    }

    if (ngx_mixpanel_fuzz_zone() != NGX_OK) {
        abort();
    }

    /* the worker's scratch buffer, from a few bytes: every growth runs */

    free(ngx_http_mixpanel_scratch.start);

    ngx_http_mixpanel_scratch.start = malloc(fi.scratch);
    if (ngx_http_mixpanel_scratch.start == NULL) {
        abort();
    }

    ngx_http_mixpanel_scratch.pos = ngx_http_mixpanel_scratch.start;
    ngx_http_mixpanel_scratch.end = ngx_http_mixpanel_scratch.start
                                    + fi.scratch;

    ngx_http_mixpanel_record_set_sender((ngx_http_mixpanel_sender_t *)
                                        &ngx_mixpanel_fuzz_dummy);

    ngx_mixpanel_fuzz_refuse = (fi.refuse_all ? NGX_MIXPANEL_FUZZ_REFUSE_ALL
                                              : 0)
                               | (fi.refuse_identify
                                  ? NGX_MIXPANEL_FUZZ_REFUSE_IDENTIFY : 0);

    ngx_memzero(pass, sizeof(pass));

    for (i = 0, n = 0; i < fi.passes; i++, n ^= 1) {
        ngx_memzero(&pass[n ^ 1], sizeof(ngx_mixpanel_fuzz_pass_t));

        if (ngx_mixpanel_fuzz_pass(&fi, i ? &pass[n] : NULL, &pass[n ^ 1],
                                   pool)
            != NGX_OK)
        {
            break;
        }
    }

    if (ngx_mixpanel_fuzz_mmcf->shm_zone) {
        sp = (ngx_slab_pool_t *) ngx_mixpanel_fuzz_mmcf->shm_zone->shm.addr;
        ngx_shmtx_destroy(&sp->mutex);
    }

done:

    /* each run starts from empty caches, as a new worker does */

    ngx_http_mixpanel_identity_exit();
    ngx_http_mixpanel_props_exit();

    ngx_mixpanel_fuzz_in = NULL;
    ngx_mixpanel_fuzz_cmcf = NULL;
    ngx_mixpanel_fuzz_mmcf = NULL;

    free(input);
    ngx_destroy_pool(pool);

    return 0;
}


static ngx_int_t
ngx_mixpanel_fuzz_parse(ngx_pool_t *pool, u_char *p, u_char *last,
    ngx_mixpanel_fuzz_input_t *in)
{
    u_char                      *c;
    ngx_str_t                    line, *s, name, value;
    ngx_int_t                    n;
    ngx_mixpanel_fuzz_header_t  *h;

    if (ngx_array_init(&in->directives, pool, 16, sizeof(ngx_str_t))
        != NGX_OK
        || ngx_array_init(&in->headers, pool, 8,
                          sizeof(ngx_mixpanel_fuzz_header_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&in->method, "GET");
    ngx_str_set(&in->uri, "/");
    ngx_str_set(&in->remote_addr, "192.0.2.1");
    ngx_str_set(&in->route, "/");
    in->status = 200;
    in->scratch = 16;
    in->passes = 1;

    while (ngx_mixpanel_fuzz_next(&p, last, '\n', &line) == NGX_OK) {

        if (line.len == 0) {
            continue;
        }

        value.data = line.data + 1;
        value.len = line.len - 1;

        switch (line.data[0]) {

        case 'H':
        case 'S':
        case 'L':
            s = ngx_array_push(&in->directives);
            if (s == NULL) {
                return NGX_ERROR;
            }

            *s = line;
            break;

        case 'h':
        case 'v':
            c = ngx_strlchr(value.data, value.data + value.len, '\t');
            if (c == NULL) {
                break;
            }

            name.data = value.data;
            name.len = c - value.data;
            value.data = c + 1;
            value.len = line.data + line.len - value.data;

            if (ngx_mixpanel_fuzz_unescape(pool, &value) != NGX_OK) {
                return NGX_ERROR;
            }

            if (line.data[0] == 'v') {
                if (name.len == 1 && name.data[0] >= '0'
                    && name.data[0] < '0' + NGX_MIXPANEL_FUZZ_VARS)
                {
                    in->vars[name.data[0] - '0'] = value;
                }

                break;
            }

            /* a header name is a token: nginx's parser makes sure */

            if (name.len == 0
                || ngx_strlchr(name.data, name.data + name.len, ':')
                || ngx_strlchr(name.data, name.data + name.len, ' '))
            {
                break;
            }

            h = ngx_array_push(&in->headers);
            if (h == NULL) {
                return NGX_ERROR;
            }

            h->name = name;
            h->value = value;
            break;

        case 'a':
        case 'u':
        case 'm':
        case 'c':
        case 'r':
            if (ngx_mixpanel_fuzz_unescape(pool, &value) != NGX_OK) {
                return NGX_ERROR;
            }

            switch (line.data[0]) {
            case 'a':
                in->remote_addr = value;
                break;
            case 'u':
                in->uri = value;
                break;
            case 'm':
                in->method = value;
                break;
            case 'c':
                in->cache_control = value;
                break;
            default: /* 'r' */
                in->route = value;
                break;
            }

            break;

        case 's':
        case 'e':
        case 'b':
            n = ngx_atoi(value.data, value.len);
            if (n == NGX_ERROR) {
                break;
            }

            if (line.data[0] == 'b') {
                in->scratch = ngx_max(1, ngx_min(n, 65536));

            } else if (line.data[0] == 's') {
                in->status = ngx_min(n, 999);

            } else {
                in->err_status = ngx_min(n, 999);
            }

            break;

        case 'f':
            for (c = value.data; c < value.data + value.len; c++) {
                switch (*c) {
                case 'H':
                    in->header_filter = 1;
                    break;
                case 'S':
                    in->header_sent = 1;
                    break;
                case 'N':
                    in->needs_body = 1;
                    break;
                case 'V':
                    in->server_vars = 1;
                    break;
                case '2':
                    in->passes = 2;
                    break;
                case '3':
                    in->passes = 3;
                    break;
                case 'R':
                    in->refuse_all = 1;
                    break;
                case 'I':
                    in->refuse_identify = 1;
                    break;
                case '9':
                    in->http09 = 1;
                    break;
                }
            }

            break;

        default: /* '#' and the rest: comments */
            break;
        }
    }

    return NGX_OK;
}


/* \n, \t, \\ and \xHH; anything else after a backslash stays as it is */

static ngx_int_t
ngx_mixpanel_fuzz_unescape(ngx_pool_t *pool, ngx_str_t *s)
{
    u_char     *p, *last, *d;
    ngx_int_t   n;

    d = ngx_pnalloc(pool, s->len + 1);
    if (d == NULL) {
        return NGX_ERROR;
    }

    p = s->data;
    last = p + s->len;
    s->data = d;

    while (p < last) {
        if (*p != '\\' || last - p < 2) {
            *d++ = *p++;
            continue;
        }

        switch (p[1]) {
        case 'n':
            *d++ = '\n';
            p += 2;
            break;
        case 't':
            *d++ = '\t';
            p += 2;
            break;
        case '\\':
            *d++ = '\\';
            p += 2;
            break;
        case 'x':
            if (last - p >= 4 && (n = ngx_hextoi(p + 2, 2)) != NGX_ERROR) {
                *d++ = (u_char) n;
                p += 4;
                break;
            }

            /* fall through */

        default:
            *d++ = *p++;
            break;
        }
    }

    s->len = d - s->data;
    *d = '\0';

    return NGX_OK;
}


/*
 * The three levels as ngx_http_block() builds them, through the module's
 * own handlers and merge; NGX_DECLINED where nginx -t would stop.
 */

static ngx_int_t
ngx_mixpanel_fuzz_configure(ngx_conf_t *cf, ngx_mixpanel_fuzz_input_t *in)
{
    char                           *rv;
    ngx_str_t                      *line;
    ngx_uint_t                      i, type;
    ngx_cycle_t                    *cycle;
    ngx_conf_file_t                *file;
    ngx_http_module_t              *module;
    ngx_http_conf_ctx_t            *http, *server, *location, *ctx;
    ngx_http_core_loc_conf_t       *sclcf;
    ngx_http_core_main_conf_t      *cmcf;
    ngx_http_mixpanel_main_conf_t  *mmcf;

    module = ngx_http_mixpanel_module.ctx;

    cycle = ngx_pcalloc(cf->pool, sizeof(ngx_cycle_t));
    file = ngx_pcalloc(cf->pool, sizeof(ngx_conf_file_t));
    cmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_core_main_conf_t));
    http = ngx_pcalloc(cf->pool, 3 * sizeof(ngx_http_conf_ctx_t));
    cf->args = ngx_array_create(cf->pool, 8, sizeof(ngx_str_t));

    if (cycle == NULL || file == NULL || cmcf == NULL || http == NULL
        || cf->args == NULL)
    {
        return NGX_ERROR;
    }

    cycle->pool = cf->pool;
    cycle->log = cf->log;

    if (ngx_list_init(&cycle->shared_memory, cf->pool, 1,
                      sizeof(ngx_shm_zone_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&file->file.name, "fuzz.conf");
    file->line = 1;

    cf->cycle = cycle;
    cf->conf_file = file;
    cf->module_type = NGX_HTTP_MODULE;

    server = &http[1];
    location = &http[2];

    http->main_conf = ngx_pcalloc(cf->pool, 2 * sizeof(void *));
    http->srv_conf = ngx_pcalloc(cf->pool, 2 * sizeof(void *));
    http->loc_conf = ngx_pcalloc(cf->pool, 2 * sizeof(void *));
    server->loc_conf = ngx_pcalloc(cf->pool, 2 * sizeof(void *));
    location->loc_conf = ngx_pcalloc(cf->pool, 2 * sizeof(void *));

    if (http->main_conf == NULL || http->srv_conf == NULL
        || http->loc_conf == NULL || server->loc_conf == NULL
        || location->loc_conf == NULL)
    {
        return NGX_ERROR;
    }

    server->main_conf = http->main_conf;
    server->srv_conf = http->srv_conf;
    location->main_conf = http->main_conf;
    location->srv_conf = http->srv_conf;

    http->main_conf[0] = cmcf;
    cf->ctx = http;

    /* ngx_http_variables_add_core_vars(), what of it the module needs */

    cmcf->variables_keys = ngx_pcalloc(cf->pool,
                                       sizeof(ngx_hash_keys_arrays_t));
    if (cmcf->variables_keys == NULL) {
        return NGX_ERROR;
    }

    cmcf->variables_keys->pool = cf->pool;
    cmcf->variables_keys->temp_pool = cf->pool;

    if (ngx_hash_keys_array_init(cmcf->variables_keys, NGX_HASH_SMALL)
        != NGX_OK
        || ngx_array_init(&cmcf->variables, cf->pool, 8,
                          sizeof(ngx_http_variable_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    mmcf = module->create_main_conf(cf);
    if (mmcf == NULL) {
        return NGX_ERROR;
    }

    http->main_conf[1] = mmcf;

    if (module->preconfiguration(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the core's location confs: a server's and a location's names */

    http->loc_conf[0] = ngx_pcalloc(cf->pool,
                                    sizeof(ngx_http_core_loc_conf_t));
    sclcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_core_loc_conf_t));
    ngx_mixpanel_fuzz_clcf = ngx_pcalloc(cf->pool,
                                         sizeof(ngx_http_core_loc_conf_t));

    if (http->loc_conf[0] == NULL || sclcf == NULL
        || ngx_mixpanel_fuzz_clcf == NULL)
    {
        return NGX_ERROR;
    }

    server->loc_conf[0] = sclcf;
    location->loc_conf[0] = ngx_mixpanel_fuzz_clcf;
    ngx_mixpanel_fuzz_clcf->name = in->route;

    http->loc_conf[1] = module->create_loc_conf(cf);
    server->loc_conf[1] = module->create_loc_conf(cf);
    location->loc_conf[1] = module->create_loc_conf(cf);

    if (http->loc_conf[1] == NULL || server->loc_conf[1] == NULL
        || location->loc_conf[1] == NULL)
    {
        return NGX_ERROR;
    }

    line = in->directives.elts;

    for (i = 0; i < in->directives.nelts; i++) {

        switch (line[i].data[0]) {

        case 'H':
            ctx = http;
            type = NGX_HTTP_MAIN_CONF;
            break;

        case 'S':
            ctx = server;
            type = NGX_HTTP_SRV_CONF;
            break;

        default: /* 'L' */
            ctx = location;
            type = NGX_HTTP_LOC_CONF;
            break;
        }

        file->line = i + 1;

        if (ngx_mixpanel_fuzz_directive(cf, &line[i], ctx, type) != NGX_OK) {
            return NGX_DECLINED;
        }
    }

    /* ngx_http_block(): init main, merge server, then location */

    cf->ctx = http;

    rv = module->init_main_conf(cf, mmcf);
    if (rv != NGX_CONF_OK) {
        return NGX_DECLINED;
    }

    cf->ctx = server;

    rv = module->merge_loc_conf(cf, http->loc_conf[1], server->loc_conf[1]);
    if (rv != NGX_CONF_OK) {
        return NGX_DECLINED;
    }

    cf->ctx = location;

    rv = module->merge_loc_conf(cf, server->loc_conf[1],
                                location->loc_conf[1]);
    if (rv != NGX_CONF_OK) {
        return NGX_DECLINED;
    }

    cf->ctx = http;

    ngx_mixpanel_fuzz_variables(cf);

    ngx_mixpanel_fuzz_cmcf = cmcf;
    ngx_mixpanel_fuzz_mmcf = mmcf;
    ngx_mixpanel_fuzz_server = server->loc_conf[1];
    ngx_mixpanel_fuzz_location = location->loc_conf[1];

    return NGX_OK;
}


/* ngx_conf_handler() for one line: context, arguments, the handler */

static ngx_int_t
ngx_mixpanel_fuzz_directive(ngx_conf_t *cf, ngx_str_t *line,
    ngx_http_conf_ctx_t *ctx, ngx_uint_t type)
{
    char           *rv;
    void          **confp;
    u_char         *p, *last;
    ngx_str_t       name, arg, *a;
    ngx_uint_t      i;
    ngx_command_t  *cmd;

    p = line->data + 1;
    last = line->data + line->len;

    (void) ngx_mixpanel_fuzz_next(&p, last, '\t', &name);

    for (i = 0; ngx_mixpanel_fuzz_skipped[i].len; i++) {
        if (name.len == ngx_mixpanel_fuzz_skipped[i].len
            && ngx_strncmp(name.data, ngx_mixpanel_fuzz_skipped[i].data,
                           name.len) == 0)
        {
            return NGX_DECLINED;
        }
    }

    for (cmd = ngx_http_mixpanel_module.commands; cmd->name.len; cmd++) {
        if (cmd->name.len == name.len
            && ngx_strncmp(cmd->name.data, name.data, name.len) == 0)
        {
            break;
        }
    }

    if (cmd->name.len == 0 || !(cmd->type & type)) {
        return NGX_DECLINED;
    }

    cf->args->nelts = 0;

    a = ngx_array_push(cf->args);
    if (a == NULL) {
        return NGX_ERROR;
    }

    *a = cmd->name;

    while (ngx_mixpanel_fuzz_next(&p, last, '\t', &arg) == NGX_OK) {

        if (ngx_mixpanel_fuzz_unescape(cf->pool, &arg) != NGX_OK) {
            return NGX_ERROR;
        }

        /* a word of nginx.conf cannot hold a NUL; handlers use strcmp() */

        if (ngx_strlchr(arg.data, arg.data + arg.len, '\0')) {
            return NGX_DECLINED;
        }

        a = ngx_array_push(cf->args);
        if (a == NULL) {
            return NGX_ERROR;
        }

        *a = arg;
    }

    if (!(cmd->type & NGX_CONF_ANY)) {

        if (cmd->type & NGX_CONF_FLAG) {
            if (cf->args->nelts != 2) {
                return NGX_DECLINED;
            }

        } else if (cmd->type & NGX_CONF_1MORE) {
            if (cf->args->nelts < 2) {
                return NGX_DECLINED;
            }

        } else if (cmd->type & NGX_CONF_2MORE) {
            if (cf->args->nelts < 3) {
                return NGX_DECLINED;
            }

        } else if (cf->args->nelts > NGX_CONF_MAX_ARGS
                   || !(cmd->type
                        & ngx_mixpanel_fuzz_argument_number[cf->args->nelts
                                                            - 1]))
        {
            return NGX_DECLINED;
        }
    }

    cf->ctx = ctx;
    cf->cmd_type = type;

    confp = *(void ***) ((char *) ctx + cmd->conf);

    rv = cmd->set(cf, cmd, confp[ngx_http_mixpanel_module.ctx_index]);

    return (rv == NGX_CONF_OK) ? NGX_OK : NGX_DECLINED;
}


/*
 * ngx_http_variables_init_vars(): the module's variables get their
 * handlers, $v0..$v7 and $remote_addr the input's values, and any other
 * name is not found, as a header the request does not have.
 */

static void
ngx_mixpanel_fuzz_variables(ngx_conf_t *cf)
{
    ngx_uint_t            i, n;
    ngx_hash_key_t       *key;
    ngx_http_variable_t  *v, *av;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    v = cmcf->variables.elts;
    key = cmcf->variables_keys->keys.elts;

    for (i = 0; i < cmcf->variables.nelts; i++) {

        for (n = 0; n < cmcf->variables_keys->keys.nelts; n++) {
            av = key[n].value;

            if (v[i].name.len == key[n].key.len
                && ngx_strncasecmp(v[i].name.data, key[n].key.data,
                                   v[i].name.len) == 0)
            {
                v[i].get_handler = av->get_handler;
                v[i].data = av->data;
                v[i].flags = av->flags;
                break;
            }
        }

        if (n < cmcf->variables_keys->keys.nelts) {
            continue;
        }

        v[i].get_handler = ngx_mixpanel_fuzz_variable;
        v[i].flags = NGX_HTTP_VAR_NOCACHEABLE;

        if (v[i].name.len == 2 && v[i].name.data[0] == 'v'
            && v[i].name.data[1] >= '0'
            && v[i].name.data[1] < '0' + NGX_MIXPANEL_FUZZ_VARS)
        {
            v[i].data = v[i].name.data[1] - '0';

        } else if (v[i].name.len == sizeof("remote_addr") - 1
                   && ngx_strncasecmp(v[i].name.data,
                                      (u_char *) "remote_addr",
                                      v[i].name.len) == 0)
        {
            v[i].data = NGX_MIXPANEL_FUZZ_VARS;

        } else {
            v[i].data = NGX_MIXPANEL_FUZZ_VARS + 1;
        }
    }
}


static ngx_int_t
ngx_mixpanel_fuzz_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t  *s;

    if (data > NGX_MIXPANEL_FUZZ_VARS) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (data == NGX_MIXPANEL_FUZZ_VARS)
        ? &ngx_mixpanel_fuzz_in->remote_addr
        : &ngx_mixpanel_fuzz_in->vars[data];

    if (s->data == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    /* a copy of exactly its bytes in the request's pool */

    v->data = ngx_pnalloc(r->pool, s->len + 1);
    if (v->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(v->data, s->data, s->len);
    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* ngx_init_zone_pool() and the zone's init, on a fresh slab pool */

static ngx_int_t
ngx_mixpanel_fuzz_zone(void)
{
    ngx_shm_zone_t   *zone;
    ngx_slab_pool_t  *sp;

    zone = ngx_mixpanel_fuzz_mmcf->shm_zone;

    if (zone == NULL) {
        return NGX_OK;
    }

    zone->shm.addr = ngx_mixpanel_fuzz_zone_mem;
    zone->shm.size = NGX_MIXPANEL_FUZZ_ZONE;
    zone->shm.exists = 0;

    sp = (ngx_slab_pool_t *) zone->shm.addr;

    ngx_memzero(sp, sizeof(ngx_slab_pool_t));

    sp->end = zone->shm.addr + zone->shm.size;
    sp->min_shift = 3;
    sp->addr = zone->shm.addr;

    if (ngx_shmtx_create(&sp->mutex, &sp->lock, NULL) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_slab_init(sp);

    return zone->init(zone, NULL);
}


/*
 * One request through the module's hooks: the rewrite handler, the header
 * filter, the log handler (ngx_http_mixpanel_module.c), then the checks.
 */

static ngx_int_t
ngx_mixpanel_fuzz_pass(ngx_mixpanel_fuzz_input_t *in,
    ngx_mixpanel_fuzz_pass_t *prev, ngx_mixpanel_fuzz_pass_t *next,
    ngx_pool_t *keep)
{
    ngx_uint_t                  i;
    ngx_pool_t                 *pool;
    ngx_http_variable_t        *v;
    ngx_http_request_t         *r;
    ngx_mixpanel_fuzz_record_t *rec;
    ngx_http_mixpanel_ctx_t    *ctx;

    pool = ngx_mixpanel_fuzz_pool();

    r = ngx_mixpanel_fuzz_build(pool, in, prev);

    if (ngx_array_init(&ngx_mixpanel_fuzz_records, pool,
                       NGX_MIXPANEL_FUZZ_RECORDS,
                       sizeof(ngx_mixpanel_fuzz_record_t))
        != NGX_OK)
    {
        abort();
    }

    /* a variable read before the location is known: the server's conf */

    if (in->server_vars) {
        r->loc_conf[1] = ngx_mixpanel_fuzz_server;

        v = ngx_mixpanel_fuzz_cmcf->variables.elts;

        for (i = 0; i < ngx_mixpanel_fuzz_cmcf->variables.nelts; i++) {
            if (v[i].name.len > sizeof("mixpanel_") - 1
                && ngx_strncmp(v[i].name.data, "mixpanel_",
                               sizeof("mixpanel_") - 1) == 0)
            {
                (void) ngx_http_get_flushed_variable(r, i);
            }
        }

        r->loc_conf[1] = ngx_mixpanel_fuzz_location;
    }

    /* ngx_http_mixpanel_rewrite_handler() */

    if (ngx_mixpanel_fuzz_location->action != NGX_HTTP_MIXPANEL_OFF
        && !ngx_mixpanel_fuzz_location->untracked
        && ngx_http_mixpanel_identity_start(r, ngx_mixpanel_fuzz_location)
           != NGX_OK)
    {
        abort();
    }

    /* the JSON module's header filter, then ours */

    if (in->needs_body) {
        (void) ngx_http_mixpanel_identity_needs_body(r);
    }

    if (in->header_filter) {
        ctx = ngx_mixpanel_fuzz_tracked(r);

        if (ctx != NULL && !ctx->decided
            && ngx_http_mixpanel_identity_header(r, ctx) != NGX_OK)
        {
            fprintf(stderr, "identity_header() failed\n");
            abort();
        }

        r->header_sent = 1;
    }

    /* ngx_http_mixpanel_log_handler() */

    ctx = ngx_mixpanel_fuzz_tracked(r);

    if (ctx != NULL && ngx_http_mixpanel_identity_log(r, ctx) != NGX_OK) {
        fprintf(stderr, "identity_log() failed\n");
        abort();
    }

    if (ctx == NULL) {
        if (ngx_mixpanel_fuzz_records.nelts) {
            ngx_mixpanel_fuzz_fail(NULL, "records of an untracked request");
        }

        if (ngx_mixpanel_fuzz_set_cookies(r)) {
            ngx_mixpanel_fuzz_fail(NULL, "a cookie for an untracked request");
        }

    } else {
        ngx_mixpanel_fuzz_check(r, ctx);
        ngx_mixpanel_fuzz_check_cookies(r, ctx, next, keep);
        ngx_mixpanel_fuzz_check_zone(ctx);

        /* the same device and account again: identified already */

        if (prev && prev->identified && ctx->identify
            && ngx_memcmp(prev->device, ctx->device,
                          NGX_HTTP_MIXPANEL_UUID_LEN) == 0
            && prev->account.len == ctx->account.len
            && ngx_strncmp(prev->account.data, ctx->account.data,
                           ctx->account.len) == 0
            && prev->token.len == ctx->token.len
            && ngx_strncmp(prev->token.data, ctx->token.data,
                           ctx->token.len) == 0)
        {
            ngx_mixpanel_fuzz_fail(NULL, "a second $identify of a device "
                                   "and account");
        }

        rec = ngx_mixpanel_fuzz_records.elts;

        for (i = 0; i < ngx_mixpanel_fuzz_records.nelts; i++) {
            if (rec[i].identify && !rec[i].refused) {
                next->identified = 1;
                ngx_memcpy(next->device, rec[i].device,
                           NGX_HTTP_MIXPANEL_UUID_LEN);

                next->account.len = ctx->account.len;
                next->account.data = ngx_pstrdup(keep, &ctx->account);
                next->token.len = ctx->token.len;
                next->token.data = ngx_pstrdup(keep, &ctx->token);

                if ((next->account.len && next->account.data == NULL)
                    || (next->token.len && next->token.data == NULL))
                {
                    abort();
                }
            }
        }
    }

    rec = ngx_mixpanel_fuzz_records.elts;

    for (i = 0; i < ngx_mixpanel_fuzz_records.nelts; i++) {
        free(rec[i].json.data);
        free(rec[i].token.data);
    }

    ngx_destroy_pool(pool);

    return NGX_OK;
}


static ngx_http_request_t *
ngx_mixpanel_fuzz_build(ngx_pool_t *pool, ngx_mixpanel_fuzz_input_t *in,
    ngx_mixpanel_fuzz_pass_t *prev)
{
    ngx_str_t                    name;
    ngx_uint_t                   i;
    ngx_table_elt_t             *h, **cookie;
    ngx_http_request_t          *r;
    ngx_mixpanel_fuzz_header_t  *fh;

    r = ngx_mixpanel_fuzz_request(pool);

    r->main_conf[0] = ngx_mixpanel_fuzz_cmcf;
    r->main_conf[1] = ngx_mixpanel_fuzz_mmcf;
    r->loc_conf[0] = ngx_mixpanel_fuzz_clcf;
    r->loc_conf[1] = ngx_mixpanel_fuzz_location;

    r->variables = ngx_pcalloc(pool, ngx_mixpanel_fuzz_cmcf->variables.nelts
                                     * sizeof(ngx_http_variable_value_t)
                                     + 1);
    if (r->variables == NULL) {
        abort();
    }

    /*
     * a start after "now" (the cached time is set once): as the wall
     * clock set back while the request ran
     */

    r->start_sec = ngx_time();
    r->start_msec = 999;
    r->http_version = in->http09 ? NGX_HTTP_VERSION_9 : NGX_HTTP_VERSION_11;
    r->headers_out.status = in->status;
    r->err_status = in->err_status;
    r->header_sent = in->header_sent;

    /* the request line's strings end where the input does: ASan sees */

    r->method_name.len = in->method.len;
    r->method_name.data = ngx_pnalloc(pool, 1);

    if (in->method.len) {
        r->method_name.data = ngx_mixpanel_fuzz_copy(&in->method);
        if (ngx_pool_cleanup_add(pool, 0) == NULL) {
            abort();
        }

        pool->cleanup->handler = free;
        pool->cleanup->data = r->method_name.data;
    }

    r->method = NGX_HTTP_GET;

    if (in->method.len == 7
        && ngx_strncmp(in->method.data, "OPTIONS", 7) == 0)
    {
        r->method = NGX_HTTP_OPTIONS;
    }

    r->unparsed_uri.len = in->uri.len;
    r->unparsed_uri.data = ngx_mixpanel_fuzz_copy(&in->uri);

    if (ngx_pool_cleanup_add(pool, 0) == NULL) {
        abort();
    }

    pool->cleanup->handler = free;
    pool->cleanup->data = r->unparsed_uri.data;

    cookie = &r->headers_in.cookie;

    /* the previous response's cookies come first: they are the newest */

    if (prev && prev->cookies.len) {
        ngx_str_set(&name, "Cookie");

        h = ngx_mixpanel_fuzz_header(r, &r->headers_in.headers, &name,
                                     &prev->cookies);
        *cookie = h;
        cookie = &h->next;
    }

    fh = in->headers.elts;

    for (i = 0; i < in->headers.nelts; i++) {
        h = ngx_mixpanel_fuzz_header(r, &r->headers_in.headers, &fh[i].name,
                                     &fh[i].value);

        if (fh[i].name.len == 6
            && ngx_strncasecmp(fh[i].name.data, (u_char *) "Cookie", 6) == 0)
        {
            *cookie = h;
            cookie = &h->next;

        } else if (fh[i].name.len == 10
                   && ngx_strncasecmp(fh[i].name.data,
                                      (u_char *) "User-Agent", 10) == 0
                   && r->headers_in.user_agent == NULL)
        {
            r->headers_in.user_agent = h;

        } else if (fh[i].name.len == 7
                   && ngx_strncasecmp(fh[i].name.data, (u_char *) "Referer",
                                      7) == 0
                   && r->headers_in.referer == NULL)
        {
            r->headers_in.referer = h;
        }
    }

    if (in->cache_control.data) {
        ngx_str_set(&name, "Cache-Control");

        r->headers_out.cache_control =
            ngx_mixpanel_fuzz_header(r, &r->headers_out.headers, &name,
                                     &in->cache_control);
    }

    return r;
}


/* a header as nginx's parser leaves it: the value NUL-terminated */

static ngx_table_elt_t *
ngx_mixpanel_fuzz_header(ngx_http_request_t *r, ngx_list_t *list,
    ngx_str_t *name, ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(list);
    if (h == NULL) {
        abort();
    }

    ngx_memzero(h, sizeof(ngx_table_elt_t));

    h->hash = 1;
    h->key = *name;
    h->lowcase_key = name->data;
    h->value.len = value->len;
    h->value.data = ngx_pnalloc(r->pool, value->len + 1);
    if (h->value.data == NULL) {
        abort();
    }

    ngx_memcpy(h->value.data, value->data, value->len);
    h->value.data[value->len] = '\0';

    return h;
}


/* ngx_http_mixpanel_tracked() of ngx_http_mixpanel_module.c */

static ngx_http_mixpanel_ctx_t *
ngx_mixpanel_fuzz_tracked(ngx_http_request_t *r)
{
    ngx_http_mixpanel_ctx_t       *ctx;
    ngx_http_mixpanel_loc_conf_t  *mlcf;

    ctx = ngx_http_mixpanel_get_ctx(r, 0);

    if (ctx == NULL || (ctx->conf == NULL && !ctx->ignored)) {
        mlcf = ngx_http_mixpanel_deciding_conf(r, ctx);

        if (mlcf == NULL) {
            return NULL;
        }

        if (ngx_http_mixpanel_identity_start(r, mlcf) != NGX_OK) {
            abort();
        }

        ctx = ngx_http_mixpanel_get_ctx(r, 0);
    }

    if (ctx == NULL || ctx->ignored) {
        return NULL;
    }

    return ctx;
}


/*
 * SPEC section 4: which records, in which order, and each one's shape.
 */

static void
ngx_mixpanel_fuzz_check(ngx_http_request_t *r, ngx_http_mixpanel_ctx_t *ctx)
{
    ngx_uint_t                     i, op, action, sent, identifies, events;
    ngx_http_mixpanel_loc_conf_t  *conf;
    ngx_mixpanel_fuzz_record_t    *rec;

    conf = ctx->conf;
    action = conf->action;
    rec = ngx_mixpanel_fuzz_records.elts;

    sent = !(ctx->opted_out || !ctx->active || ctx->token.len == 0);

    if (!sent) {
        if (ngx_mixpanel_fuzz_records.nelts) {
            ngx_mixpanel_fuzz_fail(&rec[0], "a record of a request that "
                                   "sends nothing");
        }

        return;
    }

    identifies = 0;
    events = 0;
    op = 0;

    for (i = 0; i < ngx_mixpanel_fuzz_records.nelts; i++) {

        if (rec[i].token.len != ctx->token.len
            || ngx_strncmp(rec[i].token.data, ctx->token.data,
                           ctx->token.len) != 0)
        {
            ngx_mixpanel_fuzz_fail(&rec[i], "the record's token");
        }

        if (ngx_strlchr(rec[i].json.data, rec[i].json.data + rec[i].json.len,
                        '\0'))
        {
            ngx_mixpanel_fuzz_fail(&rec[i], "a NUL in the record");
        }

        if (rec[i].identify) {

            /* Original only, first, once, for a device from the client */

            if (i != 0 || identifies++ || !ctx->identify
                || conf->identity != NGX_HTTP_MIXPANEL_ORIGINAL
                || ctx->account.len == 0 || !ctx->from_client
                || ctx->rotated
                || rec[i].kind != NGX_HTTP_MIXPANEL_RECORD_EVENT
                || ngx_memcmp(rec[i].device, ctx->device,
                              NGX_HTTP_MIXPANEL_UUID_LEN) != 0)
            {
                ngx_mixpanel_fuzz_fail(&rec[i], "an $identify");
            }

            ngx_mixpanel_fuzz_check_event(r, ctx, &rec[i], 1);
            continue;
        }

        if (rec[i].kind == NGX_HTTP_MIXPANEL_RECORD_EVENT) {
            if (events++ || op || action == NGX_HTTP_MIXPANEL_RESET
                || conf->event_off)
            {
                ngx_mixpanel_fuzz_fail(&rec[i], "an event");
            }

            ngx_mixpanel_fuzz_check_event(r, ctx, &rec[i], 0);
            continue;
        }

        if (rec[i].kind != NGX_HTTP_MIXPANEL_RECORD_ENGAGE) {
            ngx_mixpanel_fuzz_fail(&rec[i], "the kind of a record");
        }

        /* people updates: a known account, never at logout or reset */

        if (ctx->account.len == 0 || action == NGX_HTTP_MIXPANEL_LOGOUT
            || action == NGX_HTTP_MIXPANEL_RESET)
        {
            ngx_mixpanel_fuzz_fail(&rec[i], "a people update");
        }

        ngx_mixpanel_fuzz_check_engage(r, ctx, &rec[i], &op);
    }

    if (ctx->identify && !identifies) {
        ngx_mixpanel_fuzz_fail(NULL, "no $identify for a binding");
    }

    /* the events an action always sends */

    if (!events && action != NGX_HTTP_MIXPANEL_RESET && !conf->event_off
        && conf->event == NULL)
    {
        ngx_mixpanel_fuzz_fail(NULL, "no event");
    }

    if (ctx->account.len
        && (action == NGX_HTTP_MIXPANEL_SIGNUP
            || action == NGX_HTTP_MIXPANEL_LOGIN))
    {
        /* $set_once {$created} at signup, $set {account_id} at both */

        if (!(op & 2)
            || (action == NGX_HTTP_MIXPANEL_SIGNUP && !(op & 1)))
        {
            ngx_mixpanel_fuzz_fail(NULL, "no built-in people update");
        }
    }
}


/*
 * {"event":..,"properties":{"token":..,"time":..,"distinct_id":..,...}}
 */

static void
ngx_mixpanel_fuzz_check_event(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx, ngx_mixpanel_fuzz_record_t *rec,
    ngx_uint_t identify)
{
    u_char                        *device, buf[64], addr6[16];
    size_t                         i, len;
    json_t                        *json, *event, *props, *v;
    ngx_str_t                      name;
    ngx_uint_t                     simplified, from_client, logout, known;
    const char                    *s, *key;
    ngx_http_mixpanel_loc_conf_t  *conf;

    conf = ctx->conf;

    json = ngx_mixpanel_fuzz_load(rec);

    event = json_object_get(json, "event");
    props = json_object_get(json, "properties");

    if (json_object_size(json) != 2 || !json_is_string(event)
        || json_string_length(event) == 0 || !json_is_object(props))
    {
        ngx_mixpanel_fuzz_fail(rec, "the shape of an event");
    }

    /* SPEC section 6: at most 255 properties */

    if (json_object_size(props) > NGX_HTTP_MIXPANEL_MAX_STRING) {
        ngx_mixpanel_fuzz_fail(rec, "more than 255 properties");
    }

    if (identify) {
        ngx_str_set(&name, "$identify");

    } else if (conf->event == NULL) {
        name = ngx_http_mixpanel_event_names[conf->action];

    } else {
        ngx_str_null(&name);
    }

    if (name.len) {
        ngx_mixpanel_fuzz_string_is(json, "event", name.data, name.len, rec);
    }

    /* the token as it is, when JSON can carry it as it is */

    v = json_object_get(props, "token");

    if (!json_is_string(v)) {
        ngx_mixpanel_fuzz_fail(rec, "no token");
    }

    if (ctx->token.len <= NGX_HTTP_MIXPANEL_MAX_STRING
        && ngx_http_mixpanel_utf8_valid(ctx->token.data, ctx->token.len))
    {
        ngx_mixpanel_fuzz_string_is(props, "token", ctx->token.data,
                                    ctx->token.len, rec);
    }

    v = json_object_get(props, "time");

    if (!json_is_number(v)
        || json_number_value(v)
           != (double) ((int64_t) r->start_sec * 1000 + r->start_msec))
    {
        ngx_mixpanel_fuzz_fail(rec, "the time");
    }

    simplified = (conf->identity == NGX_HTTP_MIXPANEL_SIMPLIFIED);
    logout = (conf->action == NGX_HTTP_MIXPANEL_LOGOUT && !identify);
    known = (ctx->account.len != 0);

    device = logout ? ctx->old_device : ctx->device;
    from_client = logout ? ctx->old_from_client : ctx->from_client;

    /* distinct_id: A, else D (Original), else "$device:" + D */

    if (known) {
        ngx_mixpanel_fuzz_string_is(props, "distinct_id", ctx->account.data,
                                    ctx->account.len, rec);

    } else if (simplified || ctx->from_sdk) {
        len = ngx_sprintf(buf, "$device:%*s",
                          (size_t) NGX_HTTP_MIXPANEL_UUID_LEN, device)
              - buf;
        ngx_mixpanel_fuzz_string_is(props, "distinct_id", buf, len, rec);

    } else {
        ngx_mixpanel_fuzz_string_is(props, "distinct_id", device,
                                    NGX_HTTP_MIXPANEL_UUID_LEN, rec);
    }

    /* $device_id = D, in Simplified only one the client sent back */

    if (!simplified || !known || (from_client && !ctx->foreign)) {
        ngx_mixpanel_fuzz_string_is(props, "$device_id", device,
                                    NGX_HTTP_MIXPANEL_UUID_LEN, rec);

    } else {
        ngx_mixpanel_fuzz_absent(props, "$device_id", rec);
    }

    if (simplified && known) {
        ngx_mixpanel_fuzz_string_is(props, "$user_id", ctx->account.data,
                                    ctx->account.len, rec);

    } else {
        ngx_mixpanel_fuzz_absent(props, "$user_id", rec);
    }

    v = json_object_get(props, "$insert_id");

    if (!json_is_string(v) || json_string_length(v) != 32) {
        ngx_mixpanel_fuzz_fail(rec, "the $insert_id");
    }

    s = json_string_value(v);

    for (i = 0; i < 32; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            ngx_mixpanel_fuzz_fail(rec, "the $insert_id");
        }
    }

    /* ip: "0" or an address, always */

    v = json_object_get(props, "ip");

    if (!json_is_string(v) || json_string_length(v) == 0
        || json_string_length(v) > NGX_INET6_ADDRSTRLEN)
    {
        ngx_mixpanel_fuzz_fail(rec, "the ip");
    }

    s = json_string_value(v);
    len = json_string_length(v);

    if (!(len == 1 && s[0] == '0')
        && ngx_inet_addr((u_char *) s, len) == INADDR_NONE
        && ngx_inet6_addr((u_char *) s, len, addr6) != NGX_OK)
    {
        ngx_mixpanel_fuzz_fail(rec, "the ip");
    }

    if (conf->ip_off && !(len == 1 && s[0] == '0')) {
        ngx_mixpanel_fuzz_fail(rec, "an ip with mixpanel_ip off");
    }

    ngx_mixpanel_fuzz_string_is(props, "mp_lib", (u_char *) "nginx", 5, rec);

    if (!json_is_string(json_object_get(props, "$lib_version"))) {
        ngx_mixpanel_fuzz_fail(rec, "no $lib_version");
    }

    if (identify) {
        ngx_mixpanel_fuzz_string_is(props, "$identified_id",
                                    ctx->account.data, ctx->account.len, rec);

        if (ctx->from_sdk) {
            len = ngx_sprintf(buf, "$device:%*s",
                              (size_t) NGX_HTTP_MIXPANEL_UUID_LEN,
                              ctx->device)
                  - buf;
            ngx_mixpanel_fuzz_string_is(props, "$anon_id", buf, len, rec);

        } else {
            ngx_mixpanel_fuzz_string_is(props, "$anon_id", ctx->device,
                                        NGX_HTTP_MIXPANEL_UUID_LEN, rec);
        }

        if (json_object_size(props) != 10) {
            ngx_mixpanel_fuzz_fail(rec, "the properties of an $identify");
        }

        json_decref(json);
        return;
    }

    /* account_id = A and active_profile_id = P when known */

    if (known) {
        ngx_mixpanel_fuzz_string_is(props, "account_id", ctx->account.data,
                                    ctx->account.len, rec);

    } else {
        ngx_mixpanel_fuzz_absent(props, "account_id", rec);
    }

    if (ctx->profile.len) {
        if (ngx_http_mixpanel_utf8_valid(ctx->profile.data, ctx->profile.len))
        {
            ngx_mixpanel_fuzz_string_is(props, "active_profile_id",
                                        ctx->profile.data, ctx->profile.len,
                                        rec);

        } else if (!json_is_string(json_object_get(props,
                                                   "active_profile_id")))
        {
            ngx_mixpanel_fuzz_fail(rec, "active_profile_id");
        }

    } else {
        ngx_mixpanel_fuzz_absent(props, "active_profile_id", rec);
    }

    if (conf->action == NGX_HTTP_MIXPANEL_PROFILE_SWITCH
        && ctx->prev_profile.len)
    {
        ngx_mixpanel_fuzz_string_is(props, "previous_profile_id",
                                    ctx->prev_profile.data,
                                    ctx->prev_profile.len, rec);

    } else {
        ngx_mixpanel_fuzz_absent(props, "previous_profile_id", rec);
    }

    if (!conf->request_properties) {
        ngx_mixpanel_fuzz_absent(props, "http_method", rec);
        ngx_mixpanel_fuzz_absent(props, "duration_ms", rec);

    } else {

        /* the request started after "now" (see build()): 0, as nginx */

        v = json_object_get(props, "duration_ms");

        if (v && (!json_is_number(v) || json_number_value(v) < 0)) {
            ngx_mixpanel_fuzz_fail(rec, "a negative duration_ms");
        }
    }

    if (!conf->user_agent_properties) {
        ngx_mixpanel_fuzz_absent(props, "$browser", rec);
        ngx_mixpanel_fuzz_absent(props, "$os", rec);
        ngx_mixpanel_fuzz_absent(props, "$referrer", rec);
    }

    v = json_object_get(props, "$browser_version");

    if (v && !json_is_number(v)) {
        ngx_mixpanel_fuzz_fail(rec, "a $browser_version not a number");
    }

    /* every string 255 bytes at most, but in a type=json value */

    json_object_foreach(props, key, v) {
        if (!ngx_mixpanel_fuzz_json_prop(conf->props, key)) {
            ngx_mixpanel_fuzz_strings(v, 0);
        }
    }

    json_decref(json);
}


/*
 * {"$token":..,"$distinct_id":A,"$ip":..,"$time":..,["$ignore_time":true,]
 * OP:{...}}, the operations in the order set_once, set, add, unset
 */

static void
ngx_mixpanel_fuzz_check_engage(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx, ngx_mixpanel_fuzz_record_t *rec,
    ngx_uint_t *op)
{
    size_t                         i, n;
    json_t                        *json, *v, *body;
    ngx_int_t                      k;
    ngx_uint_t                     track;
    const char                    *key;
    ngx_array_t                   *props;
    ngx_http_mixpanel_loc_conf_t  *conf;

    /* by NGX_HTTP_MIXPANEL_PEOPLE_*, and their order of emission */

    static const char  *ops[] = { "$set", "$set_once", "$add", "$unset" };
    static ngx_uint_t   rank[] = { 1, 0, 2, 3 };

    conf = ctx->conf;
    json = ngx_mixpanel_fuzz_load(rec);

    track = (conf->action == NGX_HTTP_MIXPANEL_TRACK);

    if (json_object_size(json) != (track ? 6 : 5)) {
        ngx_mixpanel_fuzz_fail(rec, "the shape of a people update");
    }

    v = json_object_get(json, "$token");

    if (!json_is_string(v)) {
        ngx_mixpanel_fuzz_fail(rec, "no $token");
    }

    ngx_mixpanel_fuzz_string_is(json, "$distinct_id", ctx->account.data,
                                ctx->account.len, rec);

    if (!json_is_string(json_object_get(json, "$ip"))) {
        ngx_mixpanel_fuzz_fail(rec, "no $ip");
    }

    v = json_object_get(json, "$time");

    if (!json_is_number(v)
        || json_number_value(v)
           != (double) ((int64_t) r->start_sec * 1000 + r->start_msec))
    {
        ngx_mixpanel_fuzz_fail(rec, "the $time");
    }

    if (track && !json_is_true(json_object_get(json, "$ignore_time"))) {
        ngx_mixpanel_fuzz_fail(rec, "no $ignore_time");
    }

    body = NULL;
    k = -1;

    for (i = 0; i < 4; i++) {
        v = json_object_get(json, ops[i]);

        if (v == NULL) {
            continue;
        }

        if (body) {
            ngx_mixpanel_fuzz_fail(rec, "two operations in an update");
        }

        body = v;
        k = i;
    }

    /* each operation once, in order: *op has a bit per rank */

    if (body == NULL || (*op >> rank[k]) != 0) {
        ngx_mixpanel_fuzz_fail(rec, "the operation of an update");
    }

    *op |= 1 << rank[k];

    n = (k == NGX_HTTP_MIXPANEL_PEOPLE_UNSET) ? json_array_size(body)
                                               : json_object_size(body);

    if (n == 0 || (k == NGX_HTTP_MIXPANEL_PEOPLE_UNSET
                   ? !json_is_array(body) : !json_is_object(body)))
    {
        ngx_mixpanel_fuzz_fail(rec, "an empty operation");
    }

    if (n > NGX_HTTP_MIXPANEL_MAX_STRING) {
        ngx_mixpanel_fuzz_fail(rec, "more than 255 properties");
    }

    switch (k) {

    case NGX_HTTP_MIXPANEL_PEOPLE_UNSET:
        for (i = 0; i < n; i++) {
            v = json_array_get(body, i);

            if (!json_is_string(v) || json_string_length(v) == 0) {
                ngx_mixpanel_fuzz_fail(rec, "a name in $unset");
            }
        }

        props = NULL;
        break;

    case NGX_HTTP_MIXPANEL_PEOPLE_ADD:
        json_object_foreach(body, key, v) {
            if (!json_is_number(v)) {
                ngx_mixpanel_fuzz_fail(rec, "a value of $add");
            }
        }

        props = conf->people_add;
        break;

    case NGX_HTTP_MIXPANEL_PEOPLE_SET_ONCE:
        v = json_object_get(body, "$created");

        if (conf->action == NGX_HTTP_MIXPANEL_SIGNUP
            && (!json_is_string(v) || json_string_length(v) != 19))
        {
            ngx_mixpanel_fuzz_fail(rec, "the $created of a signup");
        }

        props = conf->people_set_once;
        break;

    default: /* NGX_HTTP_MIXPANEL_PEOPLE_SET */

        if (conf->action == NGX_HTTP_MIXPANEL_SIGNUP
            || conf->action == NGX_HTTP_MIXPANEL_LOGIN)
        {
            ngx_mixpanel_fuzz_string_is(body, "account_id",
                                        ctx->account.data, ctx->account.len,
                                        rec);
        }

        if ((conf->action == NGX_HTTP_MIXPANEL_SIGNUP
             || conf->action == NGX_HTTP_MIXPANEL_LOGIN
             || conf->action == NGX_HTTP_MIXPANEL_PROFILE_SWITCH)
            && ctx->profile.len
            && ngx_http_mixpanel_utf8_valid(ctx->profile.data,
                                            ctx->profile.len))
        {
            ngx_mixpanel_fuzz_string_is(body, "active_profile_id",
                                        ctx->profile.data, ctx->profile.len,
                                        rec);
        }

        props = conf->people_set;
        break;
    }

    if (props) {
        json_object_foreach(body, key, v) {
            if (!ngx_mixpanel_fuzz_json_prop(props, key)) {
                ngx_mixpanel_fuzz_strings(v, 0);
            }
        }

    } else {
        ngx_mixpanel_fuzz_strings(body, 0);
    }

    json_decref(json);
}


/*
 * The cookies the response sets: none where nothing may be set, the device
 * cookie as <uuid>[.|_<tag>] of the device the request ends with, never
 * for a device id from a header.  Their name=value pairs are the next
 * pass's Cookie header.
 */

static void
ngx_mixpanel_fuzz_check_cookies(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx, ngx_mixpanel_fuzz_pass_t *next,
    ngx_pool_t *keep)
{
    u_char                        *p, *semi, *eq;
    size_t                         len;
    ngx_str_t                      value;
    ngx_uint_t                     i, devices;
    ngx_list_part_t               *part;
    ngx_table_elt_t               *h;
    ngx_http_mixpanel_cookie_t    *dc;
    ngx_http_mixpanel_loc_conf_t  *conf;

    conf = ctx->conf;
    dc = conf->device_cookie;
    devices = 0;

    part = &r->headers_out.headers.part;
    h = part->elts;

    next->cookies.data = ngx_pnalloc(keep, 1024);
    if (next->cookies.data == NULL) {
        abort();
    }

    p = next->cookies.data;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != sizeof("Set-Cookie") - 1
            || ngx_strncmp(h[i].key.data, "Set-Cookie", h[i].key.len) != 0)
        {
            continue;
        }

        if (ctx->opted_out || ctx->no_cookies || !ctx->decided) {
            ngx_mixpanel_fuzz_fail(NULL, "a cookie where none may be set");
        }

        semi = ngx_strlchr(h[i].value.data,
                           h[i].value.data + h[i].value.len, ';');
        eq = ngx_strlchr(h[i].value.data, h[i].value.data + h[i].value.len,
                         '=');

        if (semi == NULL || eq == NULL || eq > semi
            || ngx_strlchr(h[i].value.data, semi, ' ')
            || ngx_strstrn(semi, "; Path=", sizeof("; Path=") - 2) == NULL
            || ngx_strstrn(semi, "; Expires=", sizeof("; Expires=") - 2)
               == NULL)
        {
            ngx_mixpanel_fuzz_fail(NULL, "a Set-Cookie");
        }

        value.data = eq + 1;
        value.len = semi - value.data;

        if (dc && (size_t) (eq - h[i].value.data) == dc->name.len
            && ngx_strncmp(h[i].value.data, dc->name.data, dc->name.len) == 0)
        {
            if (devices++ || ctx->from_header
                || (value.len != NGX_HTTP_MIXPANEL_UUID_LEN
                    && value.len != NGX_HTTP_MIXPANEL_COOKIE_LEN)
                || ngx_memcmp(value.data, ctx->device,
                              NGX_HTTP_MIXPANEL_UUID_LEN) != 0)
            {
                ngx_mixpanel_fuzz_fail(NULL, "the device cookie");
            }

            if (value.len == NGX_HTTP_MIXPANEL_COOKIE_LEN
                && value.data[NGX_HTTP_MIXPANEL_UUID_LEN]
                   != NGX_HTTP_MIXPANEL_BOUND
                && value.data[NGX_HTTP_MIXPANEL_UUID_LEN]
                   != NGX_HTTP_MIXPANEL_PENDING)
            {
                ngx_mixpanel_fuzz_fail(NULL, "the device cookie's tag");
            }
        }

        len = semi - h[i].value.data;

        if (p + len + 2 > next->cookies.data + 1024) {
            continue;
        }

        if (p != next->cookies.data) {
            *p++ = ';';
            *p++ = ' ';
        }

        p = ngx_cpymem(p, h[i].value.data, len);
    }

    next->cookies.len = p - next->cookies.data;

    /* a minted or rotated device is sent as the cookie when one can be */

    if (dc && !devices && (ctx->minted || ctx->rotated) && ctx->decided
        && !ctx->opted_out && !ctx->no_cookies && !ctx->from_header
        && ngx_mixpanel_fuzz_in->header_filter
        && !ngx_mixpanel_fuzz_in->header_sent)
    {
        ngx_mixpanel_fuzz_fail(NULL, "no cookie for a new device id");
    }
}


static ngx_uint_t
ngx_mixpanel_fuzz_set_cookies(ngx_http_request_t *r)
{
    ngx_uint_t        i, n;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    n = 0;
    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("Set-Cookie") - 1
            && ngx_strncmp(h[i].key.data, "Set-Cookie", h[i].key.len) == 0)
        {
            n++;
        }
    }

    return n;
}


/* a binding handed to the sender counts; a refused one is marked */

static void
ngx_mixpanel_fuzz_check_zone(ngx_http_mixpanel_ctx_t *ctx)
{
    u_char                      tag[NGX_HTTP_MIXPANEL_TAG_LEN];
    ngx_int_t                   rc;
    ngx_uint_t                  unconfirmed;
    ngx_mixpanel_fuzz_record_t *rec;

    if (!ctx->bind || !ctx->has_account_tag
        || ngx_mixpanel_fuzz_mmcf->shctx == NULL
        || ngx_mixpanel_fuzz_records.nelts == 0)
    {
        return;
    }

    rec = ngx_mixpanel_fuzz_records.elts;

    rc = ngx_http_mixpanel_zone_lookup(ngx_mixpanel_fuzz_mmcf, &ctx->token,
                                       ctx->device, tag, &unconfirmed);

    if (rc != NGX_OK
        || ngx_memcmp(tag, ctx->account_tag, NGX_HTTP_MIXPANEL_TAG_LEN) != 0)
    {
        ngx_mixpanel_fuzz_fail(NULL, "a binding not in the zone");
    }

    if (ctx->identify && unconfirmed != rec[0].refused) {
        ngx_mixpanel_fuzz_fail(NULL, "the zone's mark of a refused "
                               "$identify");
    }
}


static json_t *
ngx_mixpanel_fuzz_load(ngx_mixpanel_fuzz_record_t *rec)
{
    json_t        *json;
    json_error_t   err;

    /* jansson checks the UTF-8; integers past 64 bits are still numbers */

    json = json_loadb((char *) rec->json.data, rec->json.len,
                      JSON_REJECT_DUPLICATES|JSON_ALLOW_NUL
                      |JSON_DECODE_INT_AS_REAL, &err);

    if (json == NULL) {
        fprintf(stderr, "invalid JSON: %s at %d\n", err.text, err.position);
        ngx_mixpanel_fuzz_fail(rec, "the record is not JSON");
    }

    if (!json_is_object(json)) {
        ngx_mixpanel_fuzz_fail(rec, "the record is not an object");
    }

    return json;
}


/* the strings the module writes: 255 bytes at most (SPEC section 6) */

static void
ngx_mixpanel_fuzz_strings(json_t *json, ngx_uint_t depth)
{
    size_t       i;
    json_t      *v;
    const char  *key;

    if (json_is_string(json)) {
        if (json_string_length(json) > NGX_HTTP_MIXPANEL_MAX_STRING) {
            ngx_mixpanel_fuzz_fail(NULL, "a string of more than 255 bytes");
        }

        return;
    }

    if (depth > 1) {
        return;
    }

    if (json_is_array(json)) {
        json_array_foreach(json, i, v) {
            ngx_mixpanel_fuzz_strings(v, depth + 1);
        }

    } else if (json_is_object(json)) {
        json_object_foreach(json, key, v) {
            ngx_mixpanel_fuzz_strings(v, depth + 1);
        }
    }
}


static void
ngx_mixpanel_fuzz_string_is(json_t *obj, const char *key, u_char *data,
    size_t len, ngx_mixpanel_fuzz_record_t *rec)
{
    json_t  *v;

    v = json_object_get(obj, key);

    if (!json_is_string(v) || json_string_length(v) != len
        || ngx_memcmp(json_string_value(v), data, len) != 0)
    {
        fprintf(stderr, "\"%s\": expected \"%.*s\"\n", key, (int) len, data);
        ngx_mixpanel_fuzz_fail(rec, key);
    }
}


static void
ngx_mixpanel_fuzz_absent(json_t *obj, const char *key,
    ngx_mixpanel_fuzz_record_t *rec)
{
    if (json_object_get(obj, key) != NULL) {
        fprintf(stderr, "\"%s\": expected none\n", key);
        ngx_mixpanel_fuzz_fail(rec, key);
    }
}


/* whether a key is a configured type=json property's, as JSON names it */

static ngx_uint_t
ngx_mixpanel_fuzz_json_prop(ngx_array_t *props, const char *name)
{
    u_char                    *buf;
    size_t                     len;
    json_t                    *json;
    ngx_uint_t                 i, found;
    json_error_t               err;
    ngx_http_mixpanel_prop_t  *prop;

    if (props == NULL) {
        return 0;
    }

    prop = props->elts;

    for (i = 0; i < props->nelts; i++) {
        if (prop[i].type != NGX_HTTP_MIXPANEL_JSON) {
            continue;
        }

        /* the key is ,"name": and {"name":0} names it */

        len = prop[i].key.len + 2;

        buf = malloc(len);
        if (buf == NULL) {
            abort();
        }

        buf[0] = '{';
        ngx_memcpy(buf + 1, prop[i].key.data + 1, prop[i].key.len - 1);
        buf[len - 2] = '0';
        buf[len - 1] = '}';

        json = json_loadb((char *) buf, len, JSON_ALLOW_NUL, &err);
        free(buf);

        if (json == NULL) {
            abort();
        }

        found = (json_object_get(json, name) != NULL);
        json_decref(json);

        if (found) {
            return 1;
        }
    }

    return 0;
}


static void
ngx_mixpanel_fuzz_fail(ngx_mixpanel_fuzz_record_t *rec, const char *what)
{
    fprintf(stderr, "fuzz_emit: %s\n", what);

    if (rec) {
        fprintf(stderr, "record: %.*s\n", (int) rec->json.len,
                rec->json.data);
    }

    abort();
}
