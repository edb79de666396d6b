
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * Ids and actions: which device, account and profile a request belongs to,
 * when the device id rotates, and which events, $identify calls and people
 * updates each action sends (SPEC section 4).
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

static ngx_int_t ngx_http_mixpanel_emit_identify(
    ngx_http_mixpanel_emit_t *e);
static ngx_int_t ngx_http_mixpanel_emit_event(ngx_http_mixpanel_emit_t *e);
static ngx_int_t ngx_http_mixpanel_emit_people(ngx_http_mixpanel_emit_t *e);
static ngx_int_t ngx_http_mixpanel_people_op(ngx_http_mixpanel_emit_t *e,
    ngx_uint_t op, ngx_array_t *props, ngx_uint_t builtin);
static ngx_int_t ngx_http_mixpanel_event_head(ngx_http_mixpanel_emit_t *e,
    ngx_http_mixpanel_buf_t *b, ngx_str_t *name, ngx_str_t *distinct_id);
static ngx_int_t ngx_http_mixpanel_request_props(ngx_http_request_t *r,
    ngx_http_mixpanel_loc_conf_t *conf, ngx_http_mixpanel_buf_t *b);
static ngx_int_t ngx_http_mixpanel_agent_props(ngx_http_request_t *r,
    ngx_http_mixpanel_buf_t *b);
static void ngx_http_mixpanel_user_agent(u_char *data, size_t len,
    ngx_http_mixpanel_ua_t *ua);
static void ngx_http_mixpanel_utm_args(ngx_http_request_t *r,
    ngx_str_t *values);
static ngx_int_t ngx_http_mixpanel_conf_props(ngx_http_request_t *r,
    ngx_array_t *props, ngx_http_mixpanel_buf_t *b);
static ngx_int_t ngx_http_mixpanel_push(ngx_http_mixpanel_emit_t *e,
    ngx_http_mixpanel_buf_t *b, ngx_uint_t kind, ngx_uint_t identify);

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


static ngx_str_t  ngx_http_mixpanel_event_names[] = {
    ngx_null_string,
    ngx_string("API Request"),
    ngx_string("Sign Up"),
    ngx_string("Log In"),
    ngx_string("Log Out"),
    ngx_string("Switch Profile"),
    ngx_string("Update Profile"),
    ngx_null_string
};


#define ngx_http_mixpanel_key(name)  ngx_string(",\"" name "\":")


typedef struct {
    ngx_str_t                     name;
    ngx_str_t                     key;
} ngx_http_mixpanel_utm_t;


#define NGX_HTTP_MIXPANEL_UTM  5

static ngx_http_mixpanel_utm_t  ngx_http_mixpanel_utm[] = {
    { ngx_string("utm_source"), ngx_http_mixpanel_key("utm_source") },
    { ngx_string("utm_medium"), ngx_http_mixpanel_key("utm_medium") },
    { ngx_string("utm_campaign"), ngx_http_mixpanel_key("utm_campaign") },
    { ngx_string("utm_term"), ngx_http_mixpanel_key("utm_term") },
    { ngx_string("utm_content"), ngx_http_mixpanel_key("utm_content") }
};

static ngx_str_t  ngx_http_mixpanel_key_token = ngx_http_mixpanel_key("token");
static ngx_str_t  ngx_http_mixpanel_key_time = ngx_http_mixpanel_key("time");
static ngx_str_t  ngx_http_mixpanel_key_distinct_id =
    ngx_http_mixpanel_key("distinct_id");
static ngx_str_t  ngx_http_mixpanel_key_device_id =
    ngx_http_mixpanel_key("$device_id");
static ngx_str_t  ngx_http_mixpanel_key_user_id =
    ngx_http_mixpanel_key("$user_id");
static ngx_str_t  ngx_http_mixpanel_key_insert_id =
    ngx_http_mixpanel_key("$insert_id");
static ngx_str_t  ngx_http_mixpanel_key_ip = ngx_http_mixpanel_key("ip");
static ngx_str_t  ngx_http_mixpanel_key_account =
    ngx_http_mixpanel_key("account_id");
static ngx_str_t  ngx_http_mixpanel_key_profile =
    ngx_http_mixpanel_key("active_profile_id");
static ngx_str_t  ngx_http_mixpanel_key_prev_profile =
    ngx_http_mixpanel_key("previous_profile_id");
static ngx_str_t  ngx_http_mixpanel_key_identified =
    ngx_http_mixpanel_key("$identified_id");
static ngx_str_t  ngx_http_mixpanel_key_anon =
    ngx_http_mixpanel_key("$anon_id");
static ngx_str_t  ngx_http_mixpanel_key_method =
    ngx_http_mixpanel_key("http_method");
static ngx_str_t  ngx_http_mixpanel_key_status =
    ngx_http_mixpanel_key("http_status");
static ngx_str_t  ngx_http_mixpanel_key_route =
    ngx_http_mixpanel_key("http_route");
static ngx_str_t  ngx_http_mixpanel_key_path =
    ngx_http_mixpanel_key("http_path");
static ngx_str_t  ngx_http_mixpanel_key_duration =
    ngx_http_mixpanel_key("duration_ms");
static ngx_str_t  ngx_http_mixpanel_key_browser =
    ngx_http_mixpanel_key("$browser");
static ngx_str_t  ngx_http_mixpanel_key_browser_version =
    ngx_http_mixpanel_key("$browser_version");
static ngx_str_t  ngx_http_mixpanel_key_os = ngx_http_mixpanel_key("$os");
static ngx_str_t  ngx_http_mixpanel_key_device =
    ngx_http_mixpanel_key("$device");
static ngx_str_t  ngx_http_mixpanel_key_referrer =
    ngx_http_mixpanel_key("$referrer");
static ngx_str_t  ngx_http_mixpanel_key_referring_domain =
    ngx_http_mixpanel_key("$referring_domain");
static ngx_str_t  ngx_http_mixpanel_key_created =
    ngx_http_mixpanel_key("$created");


static ngx_str_t  ngx_http_mixpanel_people_ops[] = {
    ngx_string(",\"$set\":{"),
    ngx_string(",\"$set_once\":{"),
    ngx_string(",\"$add\":{"),
    ngx_string(",\"$unset\":[")
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


static ngx_http_mixpanel_sender_t  *ngx_http_mixpanel_sender;
static ngx_http_mixpanel_buf_t      ngx_http_mixpanel_scratch;

/* parsed User-Agents: 1024 of up to 768 bytes, at most 1 MB */

static ngx_http_mixpanel_cache_t    ngx_http_mixpanel_ua_cache =
    ngx_http_mixpanel_cache(1024, 768, 128);


void
ngx_http_mixpanel_identity_set_sender(ngx_http_mixpanel_sender_t *s)
{
    ngx_http_mixpanel_sender = s;

    if (s == NULL) {
        free(ngx_http_mixpanel_scratch.start);
        ngx_memzero(&ngx_http_mixpanel_scratch,
                    sizeof(ngx_http_mixpanel_buf_t));

        ngx_http_mixpanel_cache_empty(&ngx_http_mixpanel_ua_cache);
    }
}


/*
 * The ctx lives on the main request and is also anchored in a pool
 * cleanup, so that it survives the ctx reset of an internal redirect
 * (error_page, try_files, named locations), as the realip module does.
 */

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


/* the log phase: the calls of SPEC section 4, in order */

ngx_int_t
ngx_http_mixpanel_identity_log(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx)
{
    ngx_http_mixpanel_emit_t       e;
    ngx_http_mixpanel_loc_conf_t  *conf;

    if (ctx->done || ngx_http_mixpanel_sender == NULL) {
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

    conf = ctx->conf;

    e.r = r;
    e.ctx = ctx;
    e.conf = conf;
    e.mmcf = ngx_http_get_module_main_conf(r, ngx_http_mixpanel_module);
    e.ms = (int64_t) r->start_sec * 1000 + r->start_msec;

    if (conf->ip_off) {
        ngx_str_set(&e.ip, "0");

    } else if (ngx_http_complex_value(r, conf->ip, &e.ip) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ctx->identify && ngx_http_mixpanel_emit_identify(&e) != NGX_OK) {
        return NGX_ERROR;
    }

    if (conf->action != NGX_HTTP_MIXPANEL_RESET
        && !conf->event_off
        && ngx_http_mixpanel_emit_event(&e) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->account.len
        && conf->action != NGX_HTTP_MIXPANEL_LOGOUT
        && conf->action != NGX_HTTP_MIXPANEL_RESET)
    {
        return ngx_http_mixpanel_emit_people(&e);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_mixpanel_emit_identify(ngx_http_mixpanel_emit_t *e)
{
    ngx_http_mixpanel_buf_t  *b;

    static ngx_str_t  name = ngx_string("$identify");

    b = &ngx_http_mixpanel_scratch;

    if (ngx_http_mixpanel_event_head(e, b, &name, &e->ctx->account)
           != NGX_OK
        || ngx_http_mixpanel_json_string_prop(b,
                                       &ngx_http_mixpanel_key_identified,
                                       e->ctx->account.data,
                                       e->ctx->account.len)
           != NGX_OK
        || ngx_http_mixpanel_json_string_prop(b, &ngx_http_mixpanel_key_anon,
                                       e->ctx->device,
                                       NGX_HTTP_MIXPANEL_UUID_LEN)
           != NGX_OK
        || ngx_http_mixpanel_buf_append(b, (u_char *) "}}", 2) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_mixpanel_push(e, b, NGX_HTTP_MIXPANEL_RECORD_EVENT, 1);
}


/*
 * {"event":NAME,"properties":{"token":..,"time":..,"distinct_id":..,
 * "$device_id":..,["$user_id":..,]"$insert_id":..,"mp_lib":..,...
 */

static ngx_int_t
ngx_http_mixpanel_event_head(ngx_http_mixpanel_emit_t *e,
    ngx_http_mixpanel_buf_t *b, ngx_str_t *name, ngx_str_t *distinct_id)
{
    u_char                    rnd[16], insert_id[32], *device;
    ngx_http_mixpanel_ctx_t  *ctx;

    ctx = e->ctx;

    if (ngx_http_mixpanel_random(rnd, sizeof(rnd)) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_mixpanel_hex(insert_id, rnd, 16);

    /* the logout event is the last of the old device */

    device = (e->conf->action == NGX_HTTP_MIXPANEL_LOGOUT) ? ctx->old_device
                                                           : ctx->device;

    b->pos = b->start;
    b->nprops = 0;

    if (ngx_http_mixpanel_buf_append(b, (u_char *) "{\"event\":",
                                     sizeof("{\"event\":") - 1)
        != NGX_OK
        || ngx_http_mixpanel_json_string(b, name->data, name->len) != NGX_OK
        || ngx_http_mixpanel_buf_append(b, (u_char *) ",\"properties\":{",
                                        sizeof(",\"properties\":{") - 1)
           != NGX_OK
        || ngx_http_mixpanel_buf_append(b,
                                        ngx_http_mixpanel_key_token.data + 1,
                                        ngx_http_mixpanel_key_token.len - 1)
           != NGX_OK
        || ngx_http_mixpanel_json_string(b, ctx->token.data, ctx->token.len)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    b->nprops = 1;

    if (ngx_http_mixpanel_json_number_prop(b, &ngx_http_mixpanel_key_time,
                                           e->ms)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (distinct_id->len) {
        if (ngx_http_mixpanel_json_string_prop(b,
                                            &ngx_http_mixpanel_key_distinct_id,
                                            distinct_id->data,
                                            distinct_id->len)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (e->conf->identity == NGX_HTTP_MIXPANEL_SIMPLIFIED) {
        if (ngx_http_mixpanel_buf_reserve(b, 64) != NGX_OK) {
            return NGX_ERROR;
        }

        b->pos = ngx_sprintf(b->pos, ",\"distinct_id\":\"$device:%*s\"",
                             (size_t) NGX_HTTP_MIXPANEL_UUID_LEN, device);
        b->nprops++;

    } else if (ngx_http_mixpanel_json_string_prop(b,
                                            &ngx_http_mixpanel_key_distinct_id,
                                            device,
                                            NGX_HTTP_MIXPANEL_UUID_LEN)
               != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_mixpanel_json_string_prop(b,
                                           &ngx_http_mixpanel_key_device_id,
                                           device, NGX_HTTP_MIXPANEL_UUID_LEN)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (e->conf->identity == NGX_HTTP_MIXPANEL_SIMPLIFIED
        && ngx_http_mixpanel_json_string_prop(b,
                                              &ngx_http_mixpanel_key_user_id,
                                              ctx->account.data,
                                              ctx->account.len)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_mixpanel_json_string_prop(b,
                                           &ngx_http_mixpanel_key_insert_id,
                                           insert_id, 32)
        != NGX_OK
        || ngx_http_mixpanel_buf_append(b, e->mmcf->const_props.data,
                                        e->mmcf->const_props.len)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    b->nprops += 2;

    return NGX_OK;
}


static ngx_int_t
ngx_http_mixpanel_emit_event(ngx_http_mixpanel_emit_t *e)
{
    ngx_str_t                      name;
    ngx_http_request_t            *r;
    ngx_http_mixpanel_buf_t       *b;
    ngx_http_mixpanel_ctx_t       *ctx;
    ngx_http_mixpanel_loc_conf_t  *conf;

    r = e->r;
    ctx = e->ctx;
    conf = e->conf;
    b = &ngx_http_mixpanel_scratch;

    if (conf->event) {
        if (ngx_http_complex_value(r, conf->event, &name) != NGX_OK) {
            return NGX_ERROR;
        }

    } else {
        name = ngx_http_mixpanel_event_names[conf->action];
    }

    if (name.len == 0) {
        return NGX_OK;
    }

    if (ngx_http_mixpanel_event_head(e, b, &name, &ctx->account) != NGX_OK
        || ngx_http_mixpanel_json_string_prop(b, &ngx_http_mixpanel_key_ip,
                                              e->ip.data, e->ip.len)
           != NGX_OK
        || ngx_http_mixpanel_json_string_prop(b,
                                              &ngx_http_mixpanel_key_account,
                                              ctx->account.data,
                                              ctx->account.len)
           != NGX_OK
        || ngx_http_mixpanel_json_string_prop(b,
                                              &ngx_http_mixpanel_key_profile,
                                              ctx->profile.data,
                                              ctx->profile.len)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (conf->action == NGX_HTTP_MIXPANEL_PROFILE_SWITCH
        && ngx_http_mixpanel_json_string_prop(b,
                                        &ngx_http_mixpanel_key_prev_profile,
                                        ctx->prev_profile.data,
                                        ctx->prev_profile.len)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (conf->request_properties
        && ngx_http_mixpanel_request_props(r, conf, b) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (conf->user_agent_properties
        && ngx_http_mixpanel_agent_props(r, b) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_mixpanel_conf_props(r, conf->props, b) != NGX_OK
        || ngx_http_mixpanel_buf_append(b, (u_char *) "}}", 2) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_mixpanel_push(e, b, NGX_HTTP_MIXPANEL_RECORD_EVENT, 0);
}


static ngx_int_t
ngx_http_mixpanel_emit_people(ngx_http_mixpanel_emit_t *e)
{
    ngx_uint_t                     action;
    ngx_http_mixpanel_loc_conf_t  *conf;

    conf = e->conf;
    action = conf->action;

    if (ngx_http_mixpanel_people_op(e, NGX_HTTP_MIXPANEL_PEOPLE_SET_ONCE,
                                    conf->people_set_once,
                                    action == NGX_HTTP_MIXPANEL_SIGNUP)
        != NGX_OK
        || ngx_http_mixpanel_people_op(e, NGX_HTTP_MIXPANEL_PEOPLE_SET,
                                       conf->people_set,
                                       action == NGX_HTTP_MIXPANEL_SIGNUP
                                       || action == NGX_HTTP_MIXPANEL_LOGIN
                                       || action
                                          == NGX_HTTP_MIXPANEL_PROFILE_SWITCH)
           != NGX_OK
        || ngx_http_mixpanel_people_op(e, NGX_HTTP_MIXPANEL_PEOPLE_ADD,
                                       conf->people_add, 0)
           != NGX_OK
        || ngx_http_mixpanel_people_op(e, NGX_HTTP_MIXPANEL_PEOPLE_UNSET,
                                       conf->people_unset, 0)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* one /engage update: {"$token":..,"$distinct_id":..,"$ip":..,OP:{...}} */

static ngx_int_t
ngx_http_mixpanel_people_op(ngx_http_mixpanel_emit_t *e, ngx_uint_t op,
    ngx_array_t *props, ngx_uint_t builtin)
{
    u_char                    *mark, *body, created[32];
    ngx_tm_t                   tm;
    ngx_str_t                  value;
    ngx_uint_t                 i;
    ngx_http_mixpanel_buf_t   *b;
    ngx_http_mixpanel_ctx_t   *ctx;
    ngx_http_mixpanel_prop_t  *prop;

    static ngx_str_t  key_ip = ngx_string(",\"$ip\":");
    static ngx_str_t  key_distinct_id = ngx_string(",\"$distinct_id\":");

    if ((props == NULL || props->nelts == 0) && !builtin) {
        return NGX_OK;
    }

    ctx = e->ctx;
    b = &ngx_http_mixpanel_scratch;
    b->pos = b->start;
    b->nprops = 0;

    if (ngx_http_mixpanel_buf_append(b, (u_char *) "{\"$token\":",
                                     sizeof("{\"$token\":") - 1)
        != NGX_OK
        || ngx_http_mixpanel_json_string(b, ctx->token.data, ctx->token.len)
           != NGX_OK
        || ngx_http_mixpanel_json_string_prop(b, &key_distinct_id,
                                              ctx->account.data,
                                              ctx->account.len)
           != NGX_OK
        || ngx_http_mixpanel_json_string_prop(b, &key_ip, e->ip.data,
                                              e->ip.len)
           != NGX_OK
        || ngx_http_mixpanel_buf_append(b,
                                        ngx_http_mixpanel_people_ops[op].data,
                                        ngx_http_mixpanel_people_ops[op].len)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    body = b->pos;

    /* the properties of the update open with a comma each; drop it below */

    b->nprops = 0;

    if (builtin) {
        switch (op) {

        case NGX_HTTP_MIXPANEL_PEOPLE_SET_ONCE:
            ngx_gmtime(e->r->start_sec, &tm);

            value.data = created;
            value.len = ngx_sprintf(created, "%4d-%02d-%02dT%02d:%02d:%02d",
                                    tm.ngx_tm_year, tm.ngx_tm_mon,
                                    tm.ngx_tm_mday, tm.ngx_tm_hour,
                                    tm.ngx_tm_min, tm.ngx_tm_sec)
                        - created;

            if (ngx_http_mixpanel_json_string_prop(b,
                                               &ngx_http_mixpanel_key_created,
                                               value.data, value.len)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            break;

        default: /* NGX_HTTP_MIXPANEL_PEOPLE_SET */

            if (e->conf->action != NGX_HTTP_MIXPANEL_PROFILE_SWITCH
                && ngx_http_mixpanel_json_string_prop(b,
                                               &ngx_http_mixpanel_key_account,
                                               ctx->account.data,
                                               ctx->account.len)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }

            if (ngx_http_mixpanel_json_string_prop(b,
                                               &ngx_http_mixpanel_key_profile,
                                               ctx->profile.data,
                                               ctx->profile.len)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            break;
        }
    }

    if (props) {
        prop = props->elts;

        for (i = 0; i < props->nelts; i++) {

            if (op == NGX_HTTP_MIXPANEL_PEOPLE_UNSET) {
                if (ngx_http_mixpanel_buf_append(b, (u_char *) ",", 1)
                    != NGX_OK
                    || ngx_http_mixpanel_json_string(b, prop[i].name.data,
                                                     prop[i].name.len)
                       != NGX_OK)
                {
                    return NGX_ERROR;
                }

                b->nprops++;
                continue;
            }

            if (ngx_http_complex_value(e->r, prop[i].value, &value)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            if (ngx_http_mixpanel_json_prop(b, &prop[i].key, prop[i].type,
                                            &value, e->r->connection->log)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    if (b->nprops == 0) {
        return NGX_OK;
    }

    /* "$set":{,"a":1} becomes "$set":{"a":1} */

    mark = body;
    ngx_memmove(mark, mark + 1, b->pos - mark - 1);
    b->pos--;

    if (ngx_http_mixpanel_buf_append(b,
                                     op == NGX_HTTP_MIXPANEL_PEOPLE_UNSET
                                     ? (u_char *) "]}" : (u_char *) "}}", 2)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_mixpanel_push(e, b, NGX_HTTP_MIXPANEL_RECORD_ENGAGE, 0);
}


static ngx_int_t
ngx_http_mixpanel_request_props(ngx_http_request_t *r,
    ngx_http_mixpanel_loc_conf_t *conf, ngx_http_mixpanel_buf_t *b)
{
    u_char      *p, *last;
    ngx_int_t    status;
    ngx_msec_t   ms;
    ngx_time_t  *tp;

    if (r->err_status) {
        status = r->err_status;

    } else if (r->headers_out.status) {
        status = r->headers_out.status;

    } else if (r->http_version == NGX_HTTP_VERSION_9) {
        status = 9;

    } else {
        status = 0;
    }

    tp = ngx_timeofday();
    ms = (ngx_msec_t) ((tp->sec - r->start_sec) * 1000
                       + (tp->msec - r->start_msec));

    p = r->unparsed_uri.data;
    last = p + r->unparsed_uri.len;

    if (p) {
        last = ngx_strlchr(p, last, '?');
        if (last == NULL) {
            last = p + r->unparsed_uri.len;
        }
    }

    if (ngx_http_mixpanel_json_string_prop(b, &ngx_http_mixpanel_key_method,
                                           r->method_name.data,
                                           r->method_name.len)
        != NGX_OK
        || ngx_http_mixpanel_json_number_prop(b,
                                              &ngx_http_mixpanel_key_status,
                                              status)
           != NGX_OK
        || ngx_http_mixpanel_json_string_prop(b,
                                              &ngx_http_mixpanel_key_route,
                                              conf->route.data,
                                              conf->route.len)
           != NGX_OK
        || ngx_http_mixpanel_json_string_prop(b, &ngx_http_mixpanel_key_path,
                                              p, last - p)
           != NGX_OK
        || ngx_http_mixpanel_json_number_prop(b,
                                              &ngx_http_mixpanel_key_duration,
                                              (int64_t) ms)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* what a client SDK would add: browser, OS, device, UTM and referrer */

static ngx_int_t
ngx_http_mixpanel_agent_props(ngx_http_request_t *r,
    ngx_http_mixpanel_buf_t *b)
{
    u_char                  *p, *last, *dst, *src;
    size_t                   len;
    ngx_str_t                utm[NGX_HTTP_MIXPANEL_UTM], *key;
    ngx_uint_t               i;
    ngx_table_elt_t         *h;
    ngx_http_mixpanel_ua_t   ua;

    h = r->headers_in.user_agent;

    if (h) {
        ngx_http_mixpanel_user_agent(h->value.data, h->value.len, &ua);

        if (ngx_http_mixpanel_json_string_prop(b,
                                               &ngx_http_mixpanel_key_browser,
                                               ua.browser.data,
                                               ua.browser.len)
            != NGX_OK
            || ngx_http_mixpanel_json_prop(b,
                                        &ngx_http_mixpanel_key_browser_version,
                                        NGX_HTTP_MIXPANEL_NUMBER,
                                        &ua.browser_version,
                                        r->connection->log)
               != NGX_OK
            || ngx_http_mixpanel_json_string_prop(b,
                                                  &ngx_http_mixpanel_key_os,
                                                  ua.os.data, ua.os.len)
               != NGX_OK
            || ngx_http_mixpanel_json_string_prop(b,
                                                &ngx_http_mixpanel_key_device,
                                                ua.device.data,
                                                ua.device.len)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (r->args.len > sizeof("utm_") - 1
        && ngx_strlcasestrn(r->args.data, r->args.data + r->args.len,
                            (u_char *) "utm_", sizeof("utm_") - 2)
           != NULL)
    {
        ngx_http_mixpanel_utm_args(r, utm);

        for (i = 0; i < NGX_HTTP_MIXPANEL_UTM; i++) {
            if (utm[i].len == 0) {
                continue;
            }

            len = ngx_min(utm[i].len, 1024);

            dst = ngx_pnalloc(r->pool, len);
            if (dst == NULL) {
                return NGX_ERROR;
            }

            p = dst;
            src = utm[i].data;
            ngx_unescape_uri(&dst, &src, len, NGX_UNESCAPE_URI);

            key = &ngx_http_mixpanel_utm[i].key;

            if (ngx_http_mixpanel_json_string_prop(b, key, p, dst - p)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    h = r->headers_in.referer;

    if (h && h->value.len) {
        if (ngx_http_mixpanel_json_string_prop(b,
                                              &ngx_http_mixpanel_key_referrer,
                                              h->value.data, h->value.len)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        p = h->value.data;
        last = p + h->value.len;

        p = ngx_strlcasestrn(p, last, (u_char *) "://", 3 - 1);

        if (p) {
            p += 3;

            for (dst = p; dst < last; dst++) {
                if (*dst == '/' || *dst == '?' || *dst == '#'
                    || *dst == ':')
                {
                    break;
                }
            }

            src = ngx_strlchr(p, dst, '@');
            if (src) {
                p = src + 1;
            }

            if (ngx_http_mixpanel_json_string_prop(b,
                                      &ngx_http_mixpanel_key_referring_domain,
                                      p, dst - p)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


/*
 * The utm_* arguments in one pass over the query string, as ngx_http_arg()
 * would find them: the first "name=value" of each name, names compared
 * without case.
 */

static void
ngx_http_mixpanel_utm_args(ngx_http_request_t *r, ngx_str_t *values)
{
    u_char      *p, *last, *name, *eq, *amp;
    size_t       len;
    ngx_uint_t   i, found;

    ngx_memzero(values, NGX_HTTP_MIXPANEL_UTM * sizeof(ngx_str_t));

    found = 0;
    p = r->args.data;
    last = p + r->args.len;

    while (p < last) {
        name = p;

        amp = ngx_strlchr(p, last, '&');
        if (amp == NULL) {
            amp = last;
        }

        p = amp + 1;

        eq = ngx_strlchr(name, amp, '=');

        if (eq == NULL
            || eq - name < (ssize_t) (sizeof("utm_") - 1)
            || ngx_strncasecmp(name, (u_char *) "utm_", sizeof("utm_") - 1)
               != 0)
        {
            continue;
        }

        len = eq - name;

        for (i = 0; i < NGX_HTTP_MIXPANEL_UTM; i++) {
            if (found & (1 << i)
                || ngx_http_mixpanel_utm[i].name.len != len
                || ngx_strncasecmp(name, ngx_http_mixpanel_utm[i].name.data,
                                   len)
                   != 0)
            {
                continue;
            }

            found |= 1 << i;
            values[i].data = eq + 1;
            values[i].len = amp - eq - 1;
            break;
        }
    }
}


/*
 * A worker sees the same few User-Agent strings over and over: results
 * are remembered (ngx_http_mixpanel_cache.c); the values are good until
 * the next call.
 */

static void
ngx_http_mixpanel_user_agent(u_char *data, size_t len,
    ngx_http_mixpanel_ua_t *ua)
{
    ngx_str_t  v[4];

    if (ngx_http_mixpanel_cache_get(&ngx_http_mixpanel_ua_cache, 0, data, len,
                                    v, 4, NULL)
        == NGX_OK)
    {
        ua->browser = v[0];
        ua->browser_version = v[1];
        ua->os = v[2];
        ua->device = v[3];
        return;
    }

    ngx_http_mixpanel_ua_parse(data, len, ua);

    v[0] = ua->browser;
    v[1] = ua->browser_version;
    v[2] = ua->os;
    v[3] = ua->device;

    ngx_http_mixpanel_cache_put(&ngx_http_mixpanel_ua_cache, 0, data, len,
                                v, 4);
}


static ngx_int_t
ngx_http_mixpanel_conf_props(ngx_http_request_t *r, ngx_array_t *props,
    ngx_http_mixpanel_buf_t *b)
{
    ngx_str_t                  value;
    ngx_uint_t                 i;
    ngx_http_mixpanel_prop_t  *prop;

    if (props == NULL) {
        return NGX_OK;
    }

    prop = props->elts;

    for (i = 0; i < props->nelts; i++) {
        if (ngx_http_complex_value(r, prop[i].value, &value) != NGX_OK) {
            return NGX_ERROR;
        }

        if (ngx_http_mixpanel_json_prop(b, &prop[i].key, prop[i].type,
                                        &value, r->connection->log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* the record leaves the request: one malloc()ed block the sender owns */

static ngx_int_t
ngx_http_mixpanel_push(ngx_http_mixpanel_emit_t *e,
    ngx_http_mixpanel_buf_t *b, ngx_uint_t kind, ngx_uint_t identify)
{
    size_t                       len;
    ngx_str_t                   *token;
    ngx_http_mixpanel_record_t  *rec;

    token = &e->ctx->token;
    len = b->pos - b->start;

    rec = malloc(offsetof(ngx_http_mixpanel_record_t, data) + len
                 + token->len + 1);
    if (rec == NULL) {
        ngx_log_error(NGX_LOG_ALERT, e->r->connection->log, 0,
                      "mixpanel: could not allocate an event");
        return NGX_ERROR;
    }

    rec->kind = kind;
    rec->len = len;
    rec->identify = identify;
    rec->token = ngx_cpymem(rec->data, b->start, len);
    rec->token_len = token->len;
    *ngx_cpymem(rec->token, token->data, token->len) = '\0';

    (void) ngx_http_mixpanel_sender_push(ngx_http_mixpanel_sender, rec);

    return NGX_OK;
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
                               "invalid parameter \"%V\" after \"off\"",
                               &value[2]);
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
                               "invalid cookie name \"%V\"", &c->name);
            return NGX_CONF_ERROR;
        }
    }

    if (c->samesite == 3 && !c->secure) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"samesite=none\" requires \"secure\", "
                           "browsers reject the cookie otherwise");
        return NGX_CONF_ERROR;
    }

    *cookie = c;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);

    return NGX_CONF_ERROR;
}
