
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * Who a request belongs to: its device, account and profile, the device
 * cookie and its binding, when the device id rotates, and whether the
 * request is identified (SPEC section 4).  What is then sent is written
 * by ngx_http_mixpanel_record.c.
 */


#include "ngx_http_mixpanel_module.h"

#include <ngx_md5.h>


#define NGX_HTTP_MIXPANEL_PEOPLE_SET       0
#define NGX_HTTP_MIXPANEL_PEOPLE_SET_ONCE  1
#define NGX_HTTP_MIXPANEL_PEOPLE_ADD       2
#define NGX_HTTP_MIXPANEL_PEOPLE_UNSET     3


typedef struct {
    ngx_http_request_t            *r;
    ngx_http_mixpanel_ctx_t       *ctx;
    ngx_http_mixpanel_loc_conf_t  *conf;
    ngx_http_mixpanel_main_conf_t *mmcf;
    ngx_str_t                      ip;
    int64_t                        ms;
} ngx_http_mixpanel_emit_t;

static void ngx_http_mixpanel_ctx_cleanup(void *data);
static ngx_int_t ngx_http_mixpanel_resolve(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx);
static ngx_int_t ngx_http_mixpanel_eval_account(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx);
static ngx_int_t ngx_http_mixpanel_eval_profile(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx);
static ngx_int_t ngx_http_mixpanel_decide(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx);
static ngx_int_t ngx_http_mixpanel_active(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx);
static void ngx_http_mixpanel_bind(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx);
static ngx_int_t ngx_http_mixpanel_rotate(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx);
static ngx_int_t ngx_http_mixpanel_get_cookie(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *value);
static ngx_int_t ngx_http_mixpanel_set_cookie(ngx_http_request_t *r,
    ngx_http_mixpanel_cookie_t *cookie, u_char *value, size_t len,
    ngx_uint_t clear);
static ngx_int_t ngx_http_mixpanel_is_uuid4(u_char *p, size_t len);
static void ngx_http_mixpanel_map_device(u_char *dst, u_char *id, size_t len);
static void ngx_http_mixpanel_account_tag(ngx_http_mixpanel_ctx_t *ctx);
static ngx_int_t ngx_http_mixpanel_is_banned(ngx_str_t *id);
static ngx_int_t ngx_http_mixpanel_valid_profile(ngx_str_t *p);
static ngx_int_t ngx_http_mixpanel_condition(ngx_http_request_t *r,
    ngx_http_complex_value_t *cv);
static ngx_int_t ngx_http_mixpanel_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);




static ngx_str_t  ngx_http_mixpanel_banned[] = {
    ngx_string("00000000-0000-0000-0000-000000000000"),
    ngx_string("anon"),
    ngx_string("anonymous"),
    ngx_string("nil"),
    ngx_string("none"),
    ngx_string("null"),
    ngx_string("n/a"),
    ngx_string("na"),
    ngx_string("undefined"),
    ngx_string("unknown"),
    ngx_string("<nil>"),
    ngx_string("0"),
    ngx_string("-1"),
    ngx_string("true"),
    ngx_string("false"),
    ngx_string("[]"),
    ngx_string("{}"),
    ngx_null_string
};


static ngx_http_variable_t  ngx_http_mixpanel_vars[] = {

    { ngx_string("mixpanel_device_id"), NULL, ngx_http_mixpanel_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mixpanel_distinct_id"), NULL, ngx_http_mixpanel_variable,
      1, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mixpanel_account_id"), NULL, ngx_http_mixpanel_variable,
      2, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mixpanel_profile_id"), NULL, ngx_http_mixpanel_variable,
      3, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};



ngx_http_mixpanel_ctx_t *
ngx_http_mixpanel_get_ctx(ngx_http_request_t *r, ngx_uint_t create)
{
    ngx_pool_cleanup_t       *cln;
    ngx_http_mixpanel_ctx_t  *ctx;

    r = r->main;

    ctx = ngx_http_get_module_ctx(r, ngx_http_mixpanel_module);

    if (ctx == NULL && (r->internal || r->filter_finalize)) {

        for (cln = r->pool->cleanup; cln; cln = cln->next) {
            if (cln->handler == ngx_http_mixpanel_ctx_cleanup) {
                ctx = cln->data;
                ngx_http_set_ctx(r, ctx, ngx_http_mixpanel_module);
                break;
            }
        }
    }

    if (ctx || !create) {
        return ctx;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_mixpanel_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_mixpanel_ctx_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_mixpanel_module);

    return ctx;
}


static void
ngx_http_mixpanel_ctx_cleanup(void *data)
{
    /* the marker of our cleanup entry; the pool frees the ctx */
}


/* the device id, the account and the profile, once per request */

static ngx_int_t
ngx_http_mixpanel_resolve(ngx_http_request_t *r, ngx_http_mixpanel_ctx_t *ctx)
{
    u_char                        *p, rnd[16];
    ngx_str_t                      v;
    ngx_http_mixpanel_loc_conf_t  *conf;

    if (ctx->resolved) {
        return NGX_OK;
    }

    ctx->resolved = 1;
    conf = ctx->conf;

    if (conf->opt_out
        && ngx_http_mixpanel_condition(r, conf->opt_out) == NGX_OK)
    {
        ctx->opted_out = 1;
        return NGX_OK;
    }

    if (conf->token
        && ngx_http_complex_value(r, conf->token, &ctx->token) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (conf->device_id) {
        if (ngx_http_complex_value(r, conf->device_id, &v) != NGX_OK) {
            return NGX_ERROR;
        }

        if (v.len && v.len <= 256 && !ngx_http_mixpanel_is_banned(&v)) {

            if (ngx_http_mixpanel_is_uuid4(v.data, v.len)) {
                for (p = v.data; p < v.data + v.len; p++) {
                    ctx->device[p - v.data] = ngx_tolower(*p);
                }

            } else {
                ngx_http_mixpanel_map_device(ctx->device, v.data, v.len);
            }

            ctx->from_client = 1;
            ctx->from_header = 1;

        } else if (v.len) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "mixpanel: client device id ignored, it is "
                          "too long or a banned id");
        }
    }

    if (!ctx->from_client && conf->device_cookie) {

        if (ngx_http_mixpanel_get_cookie(r, &conf->device_cookie->name, &v)
            == NGX_OK)
        {
            if ((v.len == NGX_HTTP_MIXPANEL_UUID_LEN
                 || (v.len == NGX_HTTP_MIXPANEL_COOKIE_LEN
                     && v.data[NGX_HTTP_MIXPANEL_UUID_LEN] == '.'))
                && ngx_http_mixpanel_is_uuid4(v.data,
                                              NGX_HTTP_MIXPANEL_UUID_LEN))
            {
                for (p = v.data; p < v.data + NGX_HTTP_MIXPANEL_UUID_LEN;
                     p++)
                {
                    ctx->device[p - v.data] = ngx_tolower(*p);
                }

                ctx->from_client = 1;

                if (v.len == NGX_HTTP_MIXPANEL_COOKIE_LEN) {
                    ngx_memcpy(ctx->tag, v.data + NGX_HTTP_MIXPANEL_UUID_LEN
                               + 1, NGX_HTTP_MIXPANEL_TAG_LEN);
                    ctx->has_tag = 1;
                }

            } else {
                ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                              "mixpanel: malformed device cookie "
                              "replaced");
            }
        }
    }

    if (ctx->from_client && !ctx->has_tag) {
        if (ngx_http_mixpanel_zone_lookup(r, ctx->device, ctx->tag)
            == NGX_OK)
        {
            ctx->has_tag = 1;
        }
    }

    if (!ctx->from_client) {
        if (ngx_http_mixpanel_random(rnd, sizeof(rnd)) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_http_mixpanel_uuid4(ctx->device, rnd);
        ctx->minted = 1;
        ctx->set_cookie = (conf->device_cookie != NULL);
    }

    ngx_memcpy(ctx->old_device, ctx->device, NGX_HTTP_MIXPANEL_UUID_LEN);

    if (conf->profile_cookie
        && ngx_http_mixpanel_get_cookie(r, &conf->profile_cookie->name, &v)
           == NGX_OK
        && ngx_http_mixpanel_valid_profile(&v))
    {
        ctx->prev_profile = v;
    }

    return ngx_http_mixpanel_eval_profile(r, ctx);
}


/* mixpanel_profile_id, else the profile cookie; again later if empty */

static ngx_int_t
ngx_http_mixpanel_eval_profile(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx)
{
    ngx_str_t  v;

    if (ctx->conf->profile_id == NULL || ctx->profile_set) {
        if (ctx->profile.len == 0) {
            ctx->profile = ctx->prev_profile;
        }

        return NGX_OK;
    }

    if (ngx_http_complex_value(r, ctx->conf->profile_id, &v) != NGX_OK) {
        return NGX_ERROR;
    }

    if (v.len && !ngx_http_mixpanel_is_banned(&v)
        && v.len <= NGX_HTTP_MIXPANEL_MAX_STRING)
    {
        ctx->profile = v;
        ctx->profile_set = 1;
        return NGX_OK;
    }

    ctx->profile = ctx->prev_profile;

    return NGX_OK;
}


static ngx_int_t
ngx_http_mixpanel_eval_account(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx)
{
    if (ctx->account.len || ctx->conf->account_id == NULL
        || ctx->opted_out)
    {
        return NGX_OK;
    }

    if (ngx_http_complex_value(r, ctx->conf->account_id, &ctx->account)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_mixpanel_is_banned(&ctx->account)) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mixpanel: account id \"%V\" is one Mixpanel bans, "
                      "treated as unknown", &ctx->account);
        ctx->account.len = 0;
    }

    /* a cut id would be another account's: too long means unknown */

    if (ctx->account.len > NGX_HTTP_MIXPANEL_MAX_STRING) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mixpanel: account id of %uz bytes ignored, "
                      "Mixpanel keeps at most %d", ctx->account.len,
                      NGX_HTTP_MIXPANEL_MAX_STRING);
        ctx->account.len = 0;
    }

    if (ctx->account.len) {
        ngx_http_mixpanel_account_tag(ctx);
    }

    return NGX_OK;
}


/*
 * Called from the header filter (so that a rotated or newly bound device
 * id reaches the client in the same response) and, when that did not
 * happen or the account became known only later, from the log phase.
 */

ngx_int_t
ngx_http_mixpanel_identity_header(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx)
{
    size_t                         len;
    u_char                         value[NGX_HTTP_MIXPANEL_COOKIE_LEN];
    ngx_http_mixpanel_loc_conf_t  *conf;

    conf = ctx->conf;

    if (ngx_http_mixpanel_decide(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ctx->opted_out) {
        return NGX_OK;
    }

    if (ctx->set_cookie && conf->device_cookie) {
        ngx_memcpy(value, ctx->device, NGX_HTTP_MIXPANEL_UUID_LEN);
        len = NGX_HTTP_MIXPANEL_UUID_LEN;

        if (ctx->has_tag) {
            value[len++] = '.';
            ngx_memcpy(value + len, ctx->tag, NGX_HTTP_MIXPANEL_TAG_LEN);
            len += NGX_HTTP_MIXPANEL_TAG_LEN;
        }

        if (ngx_http_mixpanel_set_cookie(r, conf->device_cookie, value, len,
                                         0)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ctx->set_cookie = 0;
    }

    if (!ctx->active || conf->profile_cookie == NULL) {
        return NGX_OK;
    }

    if (conf->action == NGX_HTTP_MIXPANEL_LOGOUT && ctx->prev_profile.len) {
        return ngx_http_mixpanel_set_cookie(r, conf->profile_cookie,
                                            (u_char *) "", 0, 1);
    }

    if (conf->action == NGX_HTTP_MIXPANEL_PROFILE_SWITCH
        && ctx->profile.len
        && (ctx->profile.len != ctx->prev_profile.len
            || ngx_strncmp(ctx->profile.data, ctx->prev_profile.data,
                           ctx->profile.len) != 0))
    {
        if (!ngx_http_mixpanel_valid_profile(&ctx->profile)) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "mixpanel: profile id not stored in a cookie, "
                          "it is longer than %d bytes or has characters "
                          "other than letters, digits and \"-._~\"",
                          NGX_HTTP_MIXPANEL_PROFILE_MAX);
            return NGX_OK;
        }

        return ngx_http_mixpanel_set_cookie(r, conf->profile_cookie,
                                            ctx->profile.data,
                                            ctx->profile.len, 0);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_mixpanel_decide(ngx_http_request_t *r, ngx_http_mixpanel_ctx_t *ctx)
{
    ngx_uint_t                      known, bound_to_a, bound_other, late;
    ngx_http_mixpanel_loc_conf_t   *conf;

    if (ctx->decided) {

        if (!ctx->active || ctx->opted_out) {
            return NGX_OK;
        }

        /* ids may come from a response body, known only now */

        if (ngx_http_mixpanel_eval_profile(r, ctx) != NGX_OK) {
            return NGX_ERROR;
        }

        if (ctx->account.len) {
            return NGX_OK;
        }

        if (ngx_http_mixpanel_eval_account(r, ctx) != NGX_OK) {
            return NGX_ERROR;
        }

        if (ctx->account.len == 0
            || ctx->conf->action == NGX_HTTP_MIXPANEL_LOGOUT
            || ctx->conf->action == NGX_HTTP_MIXPANEL_RESET)
        {
            return NGX_OK;
        }

        /* the cookie is gone with the header: bind in the zone only */

        ctx->decided = 0;
        ctx->set_cookie = 0;
    }

    conf = ctx->conf;

    if (ngx_http_mixpanel_resolve(r, ctx) != NGX_OK
        || ngx_http_mixpanel_eval_account(r, ctx) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ctx->decided = 1;

    if (ctx->opted_out) {
        return NGX_OK;
    }

    if (ngx_http_mixpanel_active(r, ctx) != NGX_OK) {
        return NGX_OK;
    }

    ctx->active = 1;

    /* once the header is out, the device id can no longer change */

    late = r->header_sent;

    known = (ctx->account.len != 0);
    bound_to_a = known && ctx->has_tag
                 && ngx_memcmp(ctx->tag, ctx->account_tag,
                               NGX_HTTP_MIXPANEL_TAG_LEN) == 0;
    bound_other = ctx->has_tag && !bound_to_a;

    switch (conf->action) {

    case NGX_HTTP_MIXPANEL_SIGNUP:
    case NGX_HTTP_MIXPANEL_LOGIN:

        if (!known) {
            break;
        }

        if (bound_other) {
            if (late) {
                break;
            }

            if (ngx_http_mixpanel_rotate(r, ctx) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        if (!bound_to_a) {
            ctx->identify = (conf->identity == NGX_HTTP_MIXPANEL_ORIGINAL);
            ngx_http_mixpanel_bind(r, ctx);
        }

        break;

    case NGX_HTTP_MIXPANEL_LOGOUT:

        if (conf->logout_reset && !late) {
            if (ngx_http_mixpanel_rotate(r, ctx) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        break;

    case NGX_HTTP_MIXPANEL_RESET:

        if (ctx->has_tag && !late) {
            if (ngx_http_mixpanel_rotate(r, ctx) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        break;

    default: /* track, profile_switch, profile_update */

        if (!known || bound_to_a) {
            break;
        }

        if (conf->identity == NGX_HTTP_MIXPANEL_SIMPLIFIED) {

            /* the event itself, with $device_id and $user_id, merges */

            ngx_http_mixpanel_bind(r, ctx);
            break;
        }

        if (ctx->from_client) {
            ctx->identify = 1;
            ngx_http_mixpanel_bind(r, ctx);
        }

        break;
    }

    if (bound_other && ctx->identify && !ctx->rotated) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mixpanel: the device id is bound to another account "
                      "and cannot be rotated, $identify will not merge");
    }

    return NGX_OK;
}


/* identity actions need a 2xx answer, track happens for any; if= wins */

static ngx_int_t
ngx_http_mixpanel_active(ngx_http_request_t *r, ngx_http_mixpanel_ctx_t *ctx)
{
    ngx_uint_t  status;

    if (ctx->conf->action_if) {
        return ngx_http_mixpanel_condition(r, ctx->conf->action_if);
    }

    if (ctx->conf->action == NGX_HTTP_MIXPANEL_TRACK) {
        return NGX_OK;
    }

    status = r->headers_out.status;

    if (r->err_status) {
        status = r->err_status;
    }

    return (status >= 200 && status < 300) ? NGX_OK : NGX_DECLINED;
}


static void
ngx_http_mixpanel_bind(ngx_http_request_t *r, ngx_http_mixpanel_ctx_t *ctx)
{
    ngx_memcpy(ctx->tag, ctx->account_tag, NGX_HTTP_MIXPANEL_TAG_LEN);
    ctx->has_tag = 1;

    /* a device id the client sends in a header has its binding only here */

    if (!ctx->from_header) {
        ctx->set_cookie = 1;
    }

    ngx_http_mixpanel_zone_bind(r, ctx->device, ctx->tag);
}


/* a fresh device id: the next person on this device starts anonymous */

static ngx_int_t
ngx_http_mixpanel_rotate(ngx_http_request_t *r, ngx_http_mixpanel_ctx_t *ctx)
{
    u_char  rnd[16];

    if (ctx->conf->device_cookie == NULL || ctx->from_header) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mixpanel: the device id comes from the client's "
                      "mixpanel_device_id, not a cookie, so it is not "
                      "rotated");
        return NGX_OK;
    }

    if (ngx_http_mixpanel_random(rnd, sizeof(rnd)) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_mixpanel_uuid4(ctx->device, rnd);

    ctx->rotated = 1;
    ctx->from_client = 0;
    ctx->has_tag = 0;
    ctx->set_cookie = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_mixpanel_get_cookie(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value)
{
#if (nginx_version >= 1023000)

    if (ngx_http_parse_multi_header_lines(r, r->headers_in.cookie, name,
                                          value)
        == NULL)
    {
        return NGX_DECLINED;
    }

#else

    if (ngx_http_parse_multi_header_lines(&r->headers_in.cookies, name,
                                          value)
        == NGX_DECLINED)
    {
        return NGX_DECLINED;
    }

#endif

    return NGX_OK;
}


static ngx_int_t
ngx_http_mixpanel_set_cookie(ngx_http_request_t *r,
    ngx_http_mixpanel_cookie_t *cookie, u_char *value, size_t len,
    ngx_uint_t clear)
{
    u_char           *p;
    size_t            size;
    time_t            max_age;
    ngx_table_elt_t  *set_cookie;

    static ngx_str_t  samesite[] = {
        ngx_null_string,
        ngx_string("; SameSite=Strict"),
        ngx_string("; SameSite=Lax"),
        ngx_string("; SameSite=None")
    };

    max_age = clear ? 0 : cookie->max_age;

    size = cookie->name.len + 1 + len
           + sizeof("; Path=") - 1 + cookie->path.len
           + sizeof("; Max-Age=") - 1 + NGX_TIME_T_LEN
           + sizeof("; Expires=") - 1 + sizeof("Thu, 01 Jan 1970 00:00:00 GMT")
           + samesite[cookie->samesite].len
           + sizeof("; Secure; HttpOnly") - 1;

    if (cookie->domain.len) {
        size += sizeof("; Domain=") - 1 + cookie->domain.len;
    }

    p = ngx_pnalloc(r->pool, size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    set_cookie = ngx_list_push(&r->headers_out.headers);
    if (set_cookie == NULL) {
        return NGX_ERROR;
    }

    set_cookie->hash = 1;
    ngx_str_set(&set_cookie->key, "Set-Cookie");
    set_cookie->value.data = p;

#if (nginx_version >= 1023000)
    set_cookie->next = NULL;
#endif

    p = ngx_cpymem(p, cookie->name.data, cookie->name.len);
    *p++ = '=';
    p = ngx_cpymem(p, value, len);

    if (cookie->domain.len) {
        p = ngx_cpymem(p, "; Domain=", sizeof("; Domain=") - 1);
        p = ngx_cpymem(p, cookie->domain.data, cookie->domain.len);
    }

    p = ngx_cpymem(p, "; Path=", sizeof("; Path=") - 1);
    p = ngx_cpymem(p, cookie->path.data, cookie->path.len);

    p = ngx_sprintf(p, "; Max-Age=%T", max_age);
    p = ngx_cpymem(p, "; Expires=", sizeof("; Expires=") - 1);
    p = ngx_http_cookie_time(p, clear ? 0 : ngx_time() + max_age);

    p = ngx_cpymem(p, samesite[cookie->samesite].data,
                   samesite[cookie->samesite].len);

    if (cookie->secure) {
        p = ngx_cpymem(p, "; Secure", sizeof("; Secure") - 1);
    }

    if (cookie->httponly) {
        p = ngx_cpymem(p, "; HttpOnly", sizeof("; HttpOnly") - 1);
    }

    set_cookie->value.len = p - set_cookie->value.data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_mixpanel_is_uuid4(u_char *p, size_t len)
{
    u_char      c;
    ngx_uint_t  i;

    if (len != NGX_HTTP_MIXPANEL_UUID_LEN) {
        return 0;
    }

    for (i = 0; i < NGX_HTTP_MIXPANEL_UUID_LEN; i++) {
        c = p[i];

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') {
                return 0;
            }

            continue;
        }

        c = ngx_tolower(c);

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
    }

    c = ngx_tolower(p[19]);

    return p[14] == '4' && (c == '8' || c == '9' || c == 'a' || c == 'b');
}


/*
 * A client id that is not a UUIDv4 is laid out as one from a hash, the
 * same for the same id, because Original-mode $identify merges only
 * UUIDv4 anonymous ids.
 */

static void
ngx_http_mixpanel_map_device(u_char *dst, u_char *id, size_t len)
{
    u_char     hash[16];
    ngx_md5_t  md5;

    ngx_md5_init(&md5);
    ngx_md5_update(&md5, "mixpanel-device:", sizeof("mixpanel-device:") - 1);
    ngx_md5_update(&md5, id, len);
    ngx_md5_final(hash, &md5);

    ngx_http_mixpanel_uuid4(dst, hash);
}


/* a short keyed hash of the account id, the device cookie's binding tag */

static void
ngx_http_mixpanel_account_tag(ngx_http_mixpanel_ctx_t *ctx)
{
    u_char     hash[16];
    ngx_md5_t  md5;

    ngx_md5_init(&md5);
    ngx_md5_update(&md5, ctx->token.data, ctx->token.len);
    ngx_md5_update(&md5, ":", 1);
    ngx_md5_update(&md5, ctx->account.data, ctx->account.len);
    ngx_md5_final(hash, &md5);

    ngx_http_mixpanel_hex(ctx->account_tag, hash,
                          NGX_HTTP_MIXPANEL_TAG_LEN / 2);
    ctx->has_account_tag = 1;
}


static ngx_int_t
ngx_http_mixpanel_is_banned(ngx_str_t *id)
{
    ngx_uint_t  i;

    if (id->len == 0 || id->len > 36) {
        return 0;
    }

    for (i = 0; ngx_http_mixpanel_banned[i].len; i++) {
        if (id->len == ngx_http_mixpanel_banned[i].len
            && ngx_strncasecmp(id->data, ngx_http_mixpanel_banned[i].data,
                               id->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static ngx_int_t
ngx_http_mixpanel_valid_profile(ngx_str_t *p)
{
    size_t  i;
    u_char  c;

    if (p->len == 0 || p->len > NGX_HTTP_MIXPANEL_PROFILE_MAX) {
        return 0;
    }

    for (i = 0; i < p->len; i++) {
        c = p->data[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' || c == '_'
              || c == '~'))
        {
            return 0;
        }
    }

    return 1;
}


/* false when empty or "0", like access_log's if= */

static ngx_int_t
ngx_http_mixpanel_condition(ngx_http_request_t *r,
    ngx_http_complex_value_t *cv)
{
    ngx_str_t  val;

    if (ngx_http_complex_value(r, cv, &val) != NGX_OK) {
        return NGX_ERROR;
    }

    if (val.len == 0 || (val.len == 1 && val.data[0] == '0')) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* the log phase: decide, if the header filter could not, then send */

ngx_int_t
ngx_http_mixpanel_identity_log(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx)
{
    if (ctx->done) {
        return NGX_OK;
    }

    ctx->done = 1;

    if (ngx_http_mixpanel_decide(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ctx->opted_out || !ctx->active) {
        return NGX_OK;
    }

    if (ctx->token.len == 0) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "mixpanel: empty token, nothing sent");
        return NGX_OK;
    }

    return ngx_http_mixpanel_record_emit(r, ctx);
}


ngx_int_t
ngx_http_mixpanel_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_mixpanel_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_mixpanel_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                         *p;
    ngx_http_mixpanel_ctx_t       *ctx;
    ngx_http_mixpanel_loc_conf_t  *mlcf;

    ctx = ngx_http_mixpanel_get_ctx(r, 0);

    if (ctx == NULL) {
        mlcf = ngx_http_get_module_loc_conf(r->main, ngx_http_mixpanel_module);

        if (mlcf->action == NGX_HTTP_MIXPANEL_OFF) {
            v->not_found = 1;
            return NGX_OK;
        }

        ctx = ngx_http_mixpanel_get_ctx(r, 1);
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        ctx->conf = mlcf;
    }

    if (ctx->conf == NULL) {
        ctx->conf = ngx_http_get_module_loc_conf(r->main,
                                                 ngx_http_mixpanel_module);
    }

    if (ctx->opted_out) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (ngx_http_mixpanel_resolve(r->main, ctx) != NGX_OK
        || ngx_http_mixpanel_eval_account(r->main, ctx) != NGX_OK)
    {
        return NGX_ERROR;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    switch (data) {

    case 0:
        v->data = ctx->device;
        v->len = NGX_HTTP_MIXPANEL_UUID_LEN;
        break;

    case 1:
        if (ctx->account.len) {
            v->data = ctx->account.data;
            v->len = ctx->account.len;
            break;
        }

        if (ctx->conf->identity == NGX_HTTP_MIXPANEL_ORIGINAL) {
            v->data = ctx->device;
            v->len = NGX_HTTP_MIXPANEL_UUID_LEN;
            break;
        }

        p = ngx_pnalloc(r->pool, sizeof("$device:") - 1
                                 + NGX_HTTP_MIXPANEL_UUID_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->data = p;
        p = ngx_cpymem(p, "$device:", sizeof("$device:") - 1);
        p = ngx_cpymem(p, ctx->device, NGX_HTTP_MIXPANEL_UUID_LEN);
        v->len = p - v->data;
        break;

    case 2:
        v->data = ctx->account.data;
        v->len = ctx->account.len;
        break;

    default: /* 3 */
        v->data = ctx->profile.data;
        v->len = ctx->profile.len;
        break;
    }

    if (v->len == 0) {
        v->not_found = 1;
    }

    return NGX_OK;
}


/*
 * NAME | off [domain=D] [path=P] [max_age=T] [secure] [httponly]
 * [samesite=strict|lax|none]
 */

char *
ngx_http_mixpanel_cookie_conf(ngx_conf_t *cf,
    ngx_http_mixpanel_cookie_t **cookie)
{
    ngx_str_t                   *value, s;
    ngx_uint_t                   i;
    ngx_http_mixpanel_cookie_t  *c;

    if (*cookie != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts > 2) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" after \"off\" of "
                               "\"%V\", which takes none", &value[2],
                               &value[0]);
            return NGX_CONF_ERROR;
        }

        *cookie = NULL;
        return NGX_CONF_OK;
    }

    c = ngx_pcalloc(cf->pool, sizeof(ngx_http_mixpanel_cookie_t));
    if (c == NULL) {
        return NGX_CONF_ERROR;
    }

    c->name = value[1];
    ngx_str_set(&c->path, "/");
    c->max_age = 365 * 86400;
    c->samesite = 2;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "domain=", 7) == 0
            && value[i].len > 7)
        {
            c->domain.data = value[i].data + 7;
            c->domain.len = value[i].len - 7;
            continue;
        }

        if (ngx_strncmp(value[i].data, "path=", 5) == 0
            && value[i].len > 5)
        {
            c->path.data = value[i].data + 5;
            c->path.len = value[i].len - 5;
            continue;
        }

        if (ngx_strncmp(value[i].data, "max_age=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            c->max_age = ngx_parse_time(&s, 1);
            if (c->max_age == (time_t) NGX_ERROR) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strcmp(value[i].data, "secure") == 0) {
            c->secure = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "httponly") == 0) {
            c->httponly = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "samesite=strict") == 0) {
            c->samesite = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "samesite=lax") == 0) {
            c->samesite = 2;
            continue;
        }

        if (ngx_strcmp(value[i].data, "samesite=none") == 0) {
            c->samesite = 3;
            continue;
        }

        goto invalid;
    }

    for (i = 0; i < c->name.len; i++) {
        if (c->name.data[i] <= ' ' || c->name.data[i] >= 0x7f
            || ngx_strlchr((u_char *) "()<>@,;:\\\"/[]?={}",
                           (u_char *) "()<>@,;:\\\"/[]?={}" + 17,
                           c->name.data[i]))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid cookie name \"%V\" of \"%V\", "
                               "expected a token without spaces or any of "
                               "()<>@,;:\\\"/[]?={}", &c->name, &value[0]);
            return NGX_CONF_ERROR;
        }
    }

    if (c->samesite == 3 && !c->secure) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"samesite=none\" of \"%V\" requires "
                           "\"secure\", browsers reject the cookie otherwise",
                           &value[0]);
        return NGX_CONF_ERROR;
    }

    *cookie = c;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" of \"%V\", expected "
                       "\"domain=DOMAIN\", \"path=PATH\", "
                       "\"max_age=TIME\", \"secure\", \"httponly\" or "
                       "\"samesite=strict|lax|none\"", &value[i], &value[0]);

    return NGX_CONF_ERROR;
}


void
ngx_http_mixpanel_identity_unbind(ngx_cycle_t *cycle, u_char *device)
{
    /* TODO(identity): forget the zone binding of the device */
}
