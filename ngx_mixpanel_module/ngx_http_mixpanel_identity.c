
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * Who a request belongs to: its device, account and profile, the device
 * cookie and its binding, when the device id rotates, and whether the
 * request is identified (SPEC section 4).  What is then sent is written
 * by ngx_http_mixpanel_record.c.
 *
 * Values and decisions are kept apart.  The ids are read once per
 * configuration ("resolved"), by the decision or by a $mixpanel_*
 * variable, whichever comes first; the decision (rotation, binding,
 * cookies) is taken by the first location with an action, at the header
 * filter, and taken again at the log phase when the account became known
 * only after it.  Reading a variable therefore never changes what is sent.
 */


#include "ngx_http_mixpanel_module.h"

#include <ngx_md5.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>


#define NGX_HTTP_MIXPANEL_SDK_COOKIE_MAX   16384
#define NGX_HTTP_MIXPANEL_MAX_AGE          (400 * 86400)


static void ngx_http_mixpanel_ctx_cleanup(void *data);
static ngx_int_t ngx_http_mixpanel_ignored(ngx_http_request_t *r,
    ngx_http_mixpanel_loc_conf_t *conf);
static ngx_int_t ngx_http_mixpanel_not_seen(ngx_http_request_t *r,
    ngx_table_elt_t *h);
static ngx_int_t ngx_http_mixpanel_resolve(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx, ngx_http_mixpanel_loc_conf_t *conf);
static ngx_int_t ngx_http_mixpanel_client_device(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx, ngx_str_t *v);
static ngx_int_t ngx_http_mixpanel_cookie_device(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx, ngx_str_t *v);
static void ngx_http_mixpanel_zone_binding(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx);
static ngx_int_t ngx_http_mixpanel_eval_account(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx);
static ngx_int_t ngx_http_mixpanel_eval_profile(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx);
static ngx_int_t ngx_http_mixpanel_decide(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx, ngx_uint_t final);
static ngx_int_t ngx_http_mixpanel_active(ngx_http_request_t *r,
    ngx_http_mixpanel_loc_conf_t *conf);
static void ngx_http_mixpanel_bind(ngx_http_mixpanel_ctx_t *ctx,
    ngx_uint_t late);
static void ngx_http_mixpanel_pending(ngx_http_mixpanel_ctx_t *ctx);
static ngx_int_t ngx_http_mixpanel_rotate(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx);
static ngx_int_t ngx_http_mixpanel_public(ngx_http_request_t *r);
static ngx_int_t ngx_http_mixpanel_cookie_domain(ngx_str_t *domain);
static ngx_int_t ngx_http_mixpanel_get_cookie(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *value);
static ngx_int_t ngx_http_mixpanel_set_cookie(ngx_http_request_t *r,
    ngx_http_mixpanel_cookie_t *cookie, u_char *value, size_t len,
    ngx_uint_t clear);
static ngx_int_t ngx_http_mixpanel_is_uuid4(u_char *p, size_t len);
static ngx_inline ngx_uint_t ngx_http_mixpanel_hex8(uint64_t w);
static ngx_int_t ngx_http_mixpanel_is_tag(u_char *p);
static void ngx_http_mixpanel_map_device(u_char *dst, u_char *id, size_t len);
static ngx_int_t ngx_http_mixpanel_key_id(ngx_str_t *secret, u_char *kid);
static ngx_int_t ngx_http_mixpanel_tag_current(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx);
static ngx_int_t ngx_http_mixpanel_account_tag(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx);
static ngx_int_t ngx_http_mixpanel_is_banned(ngx_str_t *id);
static ngx_int_t ngx_http_mixpanel_valid_profile(ngx_str_t *p);
static ngx_int_t ngx_http_mixpanel_condition(ngx_http_request_t *r,
    ngx_http_complex_value_t *cv);
static void ngx_http_mixpanel_no_account(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx);
static ngx_int_t ngx_http_mixpanel_sdk_cookie(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx, ngx_str_t *token);
static ngx_int_t ngx_http_mixpanel_sdk_anonymous(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx, u_char *id);
static ngx_int_t ngx_http_mixpanel_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_mixpanel_sdk_variable(ngx_http_request_t *r,
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


/* the keys of the JavaScript SDK's cookie we read, in this order */

static char  *ngx_http_mixpanel_sdk_keys[] = {
    "$device_id",
    "distinct_id",
    "$user_id",
    NULL
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

    { ngx_string("mixpanel_sdk_device_id"), NULL,
      ngx_http_mixpanel_sdk_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/* the binding tags of recent accounts: an HMAC per request costs ~2 us */

static ngx_http_mixpanel_cache_t  ngx_http_mixpanel_tag_cache =
    ngx_http_mixpanel_cache(1024, 512, NGX_HTTP_MIXPANEL_TAG_LEN);


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


/*
 * The configuration that decides for the request: that of the first
 * location with an action it passed through, else (a request finalized
 * before the rewrite phase, a variable read before the location is known)
 * the current one if it has an action.  NULL: nothing is tracked.
 */

ngx_http_mixpanel_loc_conf_t *
ngx_http_mixpanel_deciding_conf(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx)
{
    ngx_http_mixpanel_loc_conf_t  *mlcf;

    if (ctx != NULL) {
        if (ctx->ignored) {
            return NULL;
        }

        if (ctx->conf != NULL) {
            return ctx->conf;
        }
    }

    mlcf = ngx_http_get_module_loc_conf(r->main, ngx_http_mixpanel_module);

    if (mlcf->action == NGX_HTTP_MIXPANEL_OFF || mlcf->untracked) {
        return NULL;
    }

    return mlcf;
}


/* the first location with an action the request passes through decides */

ngx_int_t
ngx_http_mixpanel_identity_start(ngx_http_request_t *r,
    ngx_http_mixpanel_loc_conf_t *conf)
{
    ngx_http_mixpanel_ctx_t  *ctx;

    ctx = ngx_http_mixpanel_get_ctx(r, 1);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (ctx->conf != NULL || ctx->ignored) {
        return NGX_OK;
    }

    if (ngx_http_mixpanel_ignored(r->main, conf)) {
        ctx->ignored = 1;
        return NGX_OK;
    }

    ctx->conf = conf;

    return NGX_OK;
}


/*
 * Never tracked, never given a cookie: the status location, CORS
 * preflights, a browser's prefetches (no one has seen the page yet; the
 * JavaScript SDK never runs for them), and crawlers the JavaScript SDK
 * ignores (unless mixpanel_track_bots is on).
 */

static ngx_int_t
ngx_http_mixpanel_ignored(ngx_http_request_t *r,
    ngx_http_mixpanel_loc_conf_t *conf)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (conf->untracked) {
        return 1;
    }

    if (r->method & (NGX_HTTP_OPTIONS|NGX_HTTP_GET|NGX_HTTP_HEAD)) {
        part = &r->headers_in.headers.part;
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

            if (ngx_http_mixpanel_not_seen(r, &h[i])) {
                return 1;
            }
        }
    }

    if (!conf->track_bots && ngx_http_mixpanel_ua_is_bot(r)) {
        return 1;
    }

    return 0;
}


/*
 * A CORS preflight (OPTIONS with Access-Control-Request-Method) or a
 * prefetch: "Sec-Purpose: prefetch" (and "prefetch;prerender"), and the
 * older "Purpose: prefetch", "X-Moz: prefetch", "X-Purpose: preview"
 */

static ngx_int_t
ngx_http_mixpanel_not_seen(ngx_http_request_t *r, ngx_table_elt_t *h)
{
    if (r->method == NGX_HTTP_OPTIONS) {
        return h->key.len == sizeof("Access-Control-Request-Method") - 1
               && ngx_strncasecmp(h->key.data,
                                  (u_char *) "Access-Control-Request-Method",
                                  h->key.len)
                  == 0;
    }

    switch (h->key.len) {

    case sizeof("X-Moz") - 1:
        return ngx_strncasecmp(h->key.data, (u_char *) "X-Moz", 5) == 0
               && h->value.len == sizeof("prefetch") - 1
               && ngx_strncasecmp(h->value.data, (u_char *) "prefetch", 8)
                  == 0;

    case sizeof("Purpose") - 1:
        return ngx_strncasecmp(h->key.data, (u_char *) "Purpose", 7) == 0
               && h->value.len >= sizeof("prefetch") - 1
               && ngx_strncasecmp(h->value.data, (u_char *) "prefetch", 8)
                  == 0;

    case sizeof("X-Purpose") - 1:
        return ngx_strncasecmp(h->key.data, (u_char *) "X-Purpose", 9) == 0
               && ((h->value.len == sizeof("preview") - 1
                    && ngx_strncasecmp(h->value.data, (u_char *) "preview",
                                       7)
                       == 0)
                   || (h->value.len >= sizeof("prefetch") - 1
                       && ngx_strncasecmp(h->value.data,
                                          (u_char *) "prefetch", 8)
                          == 0));

    case sizeof("Sec-Purpose") - 1:
        return ngx_strncasecmp(h->key.data, (u_char *) "Sec-Purpose", 11)
               == 0
               && h->value.len >= sizeof("prefetch") - 1
               && ngx_strncasecmp(h->value.data, (u_char *) "prefetch", 8)
                  == 0;

    default:
        return 0;
    }
}


/*
 * The device id, the account and the profile as "conf" reads them, once
 * per configuration: a variable read at the server level resolves with
 * the server's, the deciding location then resolves again with its own.
 */

static ngx_int_t
ngx_http_mixpanel_resolve(ngx_http_request_t *r, ngx_http_mixpanel_ctx_t *ctx,
    ngx_http_mixpanel_loc_conf_t *conf)
{
    u_char     rnd[16];
    ngx_str_t  v;

    if (ctx->resolved == conf) {
        return ctx->resolved_ok ? NGX_OK : NGX_ERROR;
    }

    ctx->resolved = conf;
    ctx->resolved_ok = 0;

    ctx->from_client = 0;
    ctx->from_header = 0;
    ctx->from_sdk = 0;
    ctx->has_tag = 0;
    ctx->pending = 0;
    ctx->unconfirmed = 0;
    ctx->old_key = 0;
    ctx->minted = 0;
    ctx->set_cookie = 0;
    ctx->rotated = 0;
    ctx->opted_out = 0;
    ctx->profile_set = 0;

    ngx_str_null(&ctx->token);
    ngx_str_null(&ctx->account);
    ngx_str_null(&ctx->profile);
    ngx_str_null(&ctx->prev_profile);

    if (conf->opt_out
        && ngx_http_mixpanel_condition(r, conf->opt_out) == NGX_OK)
    {
        ctx->opted_out = 1;
        ctx->resolved_ok = 1;
        return NGX_OK;
    }

    if (conf->token
        && ngx_http_mixpanel_complex_value_copy(r, conf->token, &ctx->token)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* no project (a token variable empty for this host): as opted out */

    if (ctx->token.len == 0) {
        ctx->opted_out = 1;
        ctx->resolved_ok = 1;
        return NGX_OK;
    }

    if (conf->device_id) {
        if (ngx_http_mixpanel_complex_value(r, conf->device_id, &v)
            != NGX_OK
            || ngx_http_mixpanel_client_device(r, ctx, &v) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (!ctx->from_client && conf->device_cookie
        && ngx_http_mixpanel_get_cookie(r, &conf->device_cookie->name, &v)
           == NGX_OK)
    {
        (void) ngx_http_mixpanel_cookie_device(r, ctx, &v);
    }

    if (ctx->from_client) {

        /*
         * a cookie's tag of another key is no binding: the zone may know
         * one (a login whose new cookie has not reached the client yet)
         */

        if (ngx_http_mixpanel_tag_current(r, ctx) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_http_mixpanel_zone_binding(r, ctx);

    } else {

        /* a fresh id, the same one if a variable already showed it */

        if (!ctx->has_minted) {
            if (ngx_http_mixpanel_random(rnd, sizeof(rnd)) != NGX_OK) {
                return NGX_ERROR;
            }

            ngx_http_mixpanel_uuid4(ctx->minted_device, rnd);
            ctx->has_minted = 1;
        }

        ngx_memcpy(ctx->device, ctx->minted_device,
                   NGX_HTTP_MIXPANEL_UUID_LEN);
        ctx->minted = 1;
        ctx->set_cookie = (conf->device_cookie != NULL);
    }

    ngx_memcpy(ctx->old_device, ctx->device, NGX_HTTP_MIXPANEL_UUID_LEN);
    ctx->old_from_client = ctx->from_client;

    if (conf->profile_cookie
        && ngx_http_mixpanel_get_cookie(r, &conf->profile_cookie->name, &v)
           == NGX_OK
        && ngx_http_mixpanel_valid_profile(&v))
    {
        ctx->prev_profile = v;
    }

    if (ngx_http_mixpanel_eval_profile(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->resolved_ok = 1;

    return NGX_OK;
}


/*
 * mixpanel_device_id: "$device:X" (an SDK's anonymous distinct_id) means
 * X; a UUIDv4 is kept as it came, case included (Mixpanel's ids are
 * case-sensitive, the iOS SDK's are upper case); anything else is mapped
 * to a UUIDv4.
 */

static ngx_int_t
ngx_http_mixpanel_client_device(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx, ngx_str_t *v)
{
    ngx_int_t  rc;

    if (v->len == 0) {
        return NGX_OK;
    }

    if (v->len > 256 || ngx_http_mixpanel_is_banned(v)) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mixpanel: client device id ignored, it is "
                      "too long or a banned id");
        return NGX_OK;
    }

    if (v->len == sizeof("$device:") - 1 + NGX_HTTP_MIXPANEL_UUID_LEN
        && ngx_strncmp(v->data, "$device:", sizeof("$device:") - 1) == 0
        && ngx_http_mixpanel_is_uuid4(v->data + sizeof("$device:") - 1,
                                      NGX_HTTP_MIXPANEL_UUID_LEN))
    {
        ngx_memcpy(ctx->device, v->data + sizeof("$device:") - 1,
                   NGX_HTTP_MIXPANEL_UUID_LEN);
        ctx->from_sdk = 1;

    } else if (ngx_http_mixpanel_is_uuid4(v->data, v->len)) {
        ngx_memcpy(ctx->device, v->data, NGX_HTTP_MIXPANEL_UUID_LEN);

        rc = ngx_http_mixpanel_sdk_anonymous(r, ctx, v->data);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        ctx->from_sdk = (rc == 1);

    } else {
        ngx_http_mixpanel_map_device(ctx->device, v->data, v->len);
    }

    ctx->from_client = 1;
    ctx->from_header = 1;

    return NGX_OK;
}


/* <uuid>, <uuid>.<tag> (bound) or <uuid>_<tag> (pending) */

static ngx_int_t
ngx_http_mixpanel_cookie_device(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx, ngx_str_t *v)
{
    u_char  sep;

    if (v->len != NGX_HTTP_MIXPANEL_UUID_LEN
        && v->len != NGX_HTTP_MIXPANEL_COOKIE_LEN)
    {
        goto malformed;
    }

    if (!ngx_http_mixpanel_is_uuid4(v->data, NGX_HTTP_MIXPANEL_UUID_LEN)) {
        goto malformed;
    }

    if (v->len == NGX_HTTP_MIXPANEL_COOKIE_LEN) {
        sep = v->data[NGX_HTTP_MIXPANEL_UUID_LEN];

        if ((sep != NGX_HTTP_MIXPANEL_BOUND
             && sep != NGX_HTTP_MIXPANEL_PENDING)
            || !ngx_http_mixpanel_is_tag(v->data
                                         + NGX_HTTP_MIXPANEL_UUID_LEN + 1))
        {
            goto malformed;
        }

        ngx_memcpy(ctx->tag, v->data + NGX_HTTP_MIXPANEL_UUID_LEN + 1,
                   NGX_HTTP_MIXPANEL_TAG_LEN);
        ctx->has_tag = 1;
        ctx->pending = (sep == NGX_HTTP_MIXPANEL_PENDING);
    }

    ngx_memcpy(ctx->device, v->data, NGX_HTTP_MIXPANEL_UUID_LEN);
    ctx->from_client = 1;

    return NGX_OK;

malformed:

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "mixpanel: malformed device cookie replaced");

    return NGX_DECLINED;
}


/*
 * What the zone knows of a device from the client: the binding of a
 * device id from a header (which carries no tag) or of a device bound
 * too late for its cookie, and whether the $identify of a binding was
 * refused or dropped.  A device whose cookie says bound is looked up
 * only while the zone holds such marks: the common path takes no lock.
 */

static void
ngx_http_mixpanel_zone_binding(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx)
{
    u_char                          tag[NGX_HTTP_MIXPANEL_TAG_LEN];
    ngx_int_t                       rc;
    ngx_uint_t                      unconfirmed;
    ngx_http_mixpanel_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mixpanel_module);

    if (ctx->has_tag && !ctx->pending
        && !ngx_http_mixpanel_zone_unconfirmed(mmcf))
    {
        return;
    }

    rc = ngx_http_mixpanel_zone_lookup(mmcf, &ctx->token, ctx->device, tag,
                                       &unconfirmed);

    if (ctx->has_tag && !ctx->pending) {

        /* a mark of another binding than the cookie's is not this one's */

        ctx->unconfirmed = unconfirmed
                           && (rc != NGX_OK
                               || ngx_memcmp(tag, ctx->tag,
                                             NGX_HTTP_MIXPANEL_TAG_LEN)
                                  == 0);
        return;
    }

    if (rc == NGX_OK) {
        ngx_memcpy(ctx->tag, tag, NGX_HTTP_MIXPANEL_TAG_LEN);
        ctx->has_tag = 1;
        ctx->pending = 0;
        ctx->unconfirmed = unconfirmed;
    }
}


/* mixpanel_profile_id, else the profile cookie; again later if empty */

static ngx_int_t
ngx_http_mixpanel_eval_profile(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx)
{
    ngx_str_t  v;

    if (ctx->resolved->profile_id == NULL || ctx->profile_set) {
        if (ctx->profile.len == 0) {
            ctx->profile = ctx->prev_profile;
        }

        return NGX_OK;
    }

    if (ngx_http_mixpanel_complex_value_copy(r, ctx->resolved->profile_id,
                                             &v)
        != NGX_OK)
    {
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


/*
 * A known account is kept; an unknown one is evaluated again.  An account
 * id that reads $mixpanel_distinct_id or $mixpanel_account_id reads them
 * empty (account_busy): evaluating it again from inside would recurse
 * until nginx's variable depth limit, each level writing ctx->account, so
 * that the event, the variables and the cookie tag disagreed (found by
 * fuzz_emit).
 */

static ngx_int_t
ngx_http_mixpanel_eval_account(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx)
{
    ngx_int_t  rc;
    ngx_str_t  v;

    if (ctx->account.len || ctx->resolved->account_id == NULL
        || ctx->opted_out || ctx->account_busy)
    {
        return NGX_OK;
    }

    ctx->account_busy = 1;
    rc = ngx_http_mixpanel_complex_value_copy(r, ctx->resolved->account_id,
                                              &v);
    ctx->account_busy = 0;

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->account = v;

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

    /* each invalid byte would be sent as U+FFFD: two ids would be one */

    if (ctx->account.len
        && !ngx_http_mixpanel_utf8_valid(ctx->account.data, ctx->account.len))
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mixpanel: account id of %uz bytes ignored, it is not "
                      "valid UTF-8", ctx->account.len);
        ctx->account.len = 0;
    }

    if (ctx->account.len) {
        return ngx_http_mixpanel_account_tag(r, ctx);
    }

    return NGX_OK;
}


/*
 * For the JSON module's header filter, before the header goes on: would
 * the decision of this response need the account (or the profile) that
 * is still empty?  An identity action that decides cookies at the header
 * does (signup, login, profile_switch, profile_update); logout and reset
 * decide nothing that depends on them.  Nothing is recorded here: the
 * JSON module holds the header if, in addition, a response body variable
 * was read while the body was still on its way.
 */

ngx_int_t
ngx_http_mixpanel_identity_needs_body(ngx_http_request_t *r)
{
    ngx_str_t                      v;
    ngx_uint_t                     status;
    ngx_http_mixpanel_ctx_t       *ctx;
    ngx_http_mixpanel_loc_conf_t  *conf;

    ctx = ngx_http_mixpanel_get_ctx(r, 0);

    if (ctx != NULL && ctx->decided) {
        return NGX_DECLINED;
    }

    conf = ngx_http_mixpanel_deciding_conf(r, ctx);

    if (conf == NULL
        || ((ctx == NULL || ctx->conf == NULL)
            && ngx_http_mixpanel_ignored(r->main, conf)))
    {
        return NGX_DECLINED;
    }

    switch (conf->action) {

    case NGX_HTTP_MIXPANEL_SIGNUP:
    case NGX_HTTP_MIXPANEL_LOGIN:
    case NGX_HTTP_MIXPANEL_PROFILE_SWITCH:
    case NGX_HTTP_MIXPANEL_PROFILE_UPDATE:
        break;

    default:
        return NGX_DECLINED;
    }

    if (conf->opt_out
        && ngx_http_mixpanel_condition(r, conf->opt_out) == NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (conf->action_if) {
        if (ngx_http_mixpanel_condition(r, conf->action_if) != NGX_OK) {
            return NGX_OK;
        }

    } else {
        status = r->err_status ? r->err_status : r->headers_out.status;

        if (status < 200 || status >= 300) {
            return NGX_DECLINED;
        }
    }

    if (conf->account_id) {
        if (ngx_http_mixpanel_complex_value(r, conf->account_id, &v)
            != NGX_OK)
        {
            return NGX_DECLINED;
        }

        if (v.len == 0 || ngx_http_mixpanel_is_banned(&v)) {
            return NGX_OK;
        }
    }

    if (conf->action == NGX_HTTP_MIXPANEL_PROFILE_SWITCH && conf->profile_id) {
        if (ngx_http_mixpanel_complex_value(r, conf->profile_id, &v)
            != NGX_OK)
        {
            return NGX_DECLINED;
        }

        if (v.len == 0) {
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/*
 * The header filter: decide, so that a rotated, bound or new device id
 * reaches the client in this response.  A response marked cacheable by
 * shared caches gets no cookie: a CDN would hand it to everyone.
 */

ngx_int_t
ngx_http_mixpanel_identity_header(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx)
{
    size_t                         len;
    u_char                         value[NGX_HTTP_MIXPANEL_COOKIE_LEN];
    ngx_http_mixpanel_loc_conf_t  *conf;

    if (ctx->decided) {
        return NGX_OK;
    }

    conf = ctx->conf;

    ctx->no_cookies = (ngx_http_mixpanel_public(r) == NGX_OK);

    if (ngx_http_mixpanel_decide(r, ctx, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ctx->opted_out || ctx->no_cookies) {
        return NGX_OK;
    }

    if (ctx->set_cookie && conf->device_cookie && !ctx->from_header) {
        ngx_memcpy(value, ctx->device, NGX_HTTP_MIXPANEL_UUID_LEN);
        len = NGX_HTTP_MIXPANEL_UUID_LEN;

        if (ctx->has_tag) {
            value[len++] = ctx->pending ? NGX_HTTP_MIXPANEL_PENDING
                                        : NGX_HTTP_MIXPANEL_BOUND;
            ngx_memcpy(value + len, ctx->tag, NGX_HTTP_MIXPANEL_TAG_LEN);
            len += NGX_HTTP_MIXPANEL_TAG_LEN;
        }

        if (ngx_http_mixpanel_set_cookie(r, conf->device_cookie, value, len,
                                         0)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    ctx->set_cookie = 0;

    if (!ctx->active || conf->profile_cookie == NULL) {
        return NGX_OK;
    }

    if ((conf->action == NGX_HTTP_MIXPANEL_LOGOUT && ctx->prev_profile.len)
        || (ctx->drop_profile && !ctx->profile_set))
    {
        return ngx_http_mixpanel_set_cookie(r, conf->profile_cookie,
                                            (u_char *) "", 0, 1);
    }

    /*
     * the active profile a switch, a sign-up or a login names is
     * remembered, so that a later switch knows the previous one
     */

    if ((conf->action == NGX_HTTP_MIXPANEL_PROFILE_SWITCH
         || conf->action == NGX_HTTP_MIXPANEL_SIGNUP
         || conf->action == NGX_HTTP_MIXPANEL_LOGIN)
        && ctx->profile_set
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


/*
 * The decision of SPEC section 4.  "final": the log phase, when no
 * header can carry a cookie any more; neither can one that went out, or
 * one that must not get a cookie.  Then nothing rotates, and a binding
 * is kept in the zone only.
 */

static ngx_int_t
ngx_http_mixpanel_decide(ngx_http_request_t *r, ngx_http_mixpanel_ctx_t *ctx,
    ngx_uint_t final)
{
    ngx_uint_t                     late, known, bound_to_a, bound_other;
    ngx_http_mixpanel_loc_conf_t  *conf;

    conf = ctx->conf;

    /* values still unknown when a variable was read are read again */

    if (ngx_http_mixpanel_resolve(r, ctx, conf) != NGX_OK
        || ngx_http_mixpanel_eval_account(r, ctx) != NGX_OK
        || (!ctx->opted_out && ngx_http_mixpanel_eval_profile(r, ctx)
                               != NGX_OK))
    {
        return NGX_ERROR;
    }

    ctx->decided = 1;
    ctx->decided_account = (ctx->account.len != 0);
    ctx->identify = 0;
    ctx->bind = 0;
    ctx->active = 0;

    if (ctx->opted_out) {
        return NGX_OK;
    }

    if (ngx_http_mixpanel_active(r, conf) != NGX_OK) {
        return NGX_OK;
    }

    ctx->active = 1;

    late = final || r->header_sent || ctx->no_cookies;

    if (ngx_http_mixpanel_tag_current(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    known = (ctx->account.len != 0);
    bound_to_a = known && ctx->has_tag && !ctx->pending
                 && ngx_memcmp(ctx->tag, ctx->account_tag,
                               NGX_HTTP_MIXPANEL_TAG_LEN) == 0;
    bound_other = ctx->has_tag && !ctx->pending && !bound_to_a;

    /*
     * the SDK identified its device itself: the device is in the cluster
     * of the SDK's $user_id, whatever the module's cookie says
     */

    if (known && ctx->from_sdk && ctx->sdk_user.len) {
        bound_to_a = (ctx->sdk_user.len == ctx->account.len
                      && ngx_strncmp(ctx->sdk_user.data, ctx->account.data,
                                     ctx->account.len)
                         == 0);
        bound_other = !bound_to_a;
    }

    /*
     * a known account on a device another account's cluster holds: its
     * events must not claim the device (Simplified would try to merge it)
     */

    ctx->foreign = known && bound_other;

    /* the zone's binding replaces a cookie's tag of another key */

    if (ctx->old_key && ctx->has_tag && !late && !ctx->from_header) {
        ctx->set_cookie = 1;
    }

    switch (conf->action) {

    case NGX_HTTP_MIXPANEL_SIGNUP:
    case NGX_HTTP_MIXPANEL_LOGIN:

        if (!known) {
            break;
        }

        if (bound_other) {

            /*
             * the profile the cookie remembers is the other person's:
             * neither this account's nor worth keeping
             */

            if (ctx->prev_profile.len) {
                ctx->drop_profile = 1;

                if (!ctx->profile_set) {
                    ngx_str_null(&ctx->profile);
                }

                ngx_str_null(&ctx->prev_profile);
            }

            /* two people never merge: the new one gets a fresh device */

            if (!late && !ctx->from_header && conf->device_cookie) {
                if (ngx_http_mixpanel_rotate(r, ctx) != NGX_OK) {
                    return NGX_ERROR;
                }

                ctx->foreign = 0;
                ngx_http_mixpanel_pending(ctx);
                break;
            }

            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "mixpanel: the device id is bound to another "
                          "account and is not identified with this one; "
                          "it cannot be rotated: %s",
                          ctx->from_header || conf->device_cookie == NULL
                          ? "the client sends it in mixpanel_device_id"
                          : ctx->no_cookies
                            ? "the response is cacheable by shared caches"
                            : "no cookie can be set any more");
            break;
        }

        if (!ctx->from_client) {

            /* minted now: identified when it comes back, not before */

            if (!late) {
                ngx_http_mixpanel_pending(ctx);
            }

            break;
        }

        if (bound_to_a && !ctx->unconfirmed) {
            break;
        }

        ngx_http_mixpanel_bind(ctx, late);
        break;


    case NGX_HTTP_MIXPANEL_RESET:

        /*
         * the person the device is bound to is still here (the request
         * names its account): a new device would only join its cluster
         */

        if (ctx->has_tag && !late && !bound_to_a) {
            if (ngx_http_mixpanel_rotate(r, ctx) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        break;

    case NGX_HTTP_MIXPANEL_LOGOUT:

        if (conf->logout_reset && !late) {
            if (ngx_http_mixpanel_rotate(r, ctx) != NGX_OK) {
                return NGX_ERROR;
            }

            if (ctx->rotated) {
                break;
            }
        }

        /*
         * a device kept is bound as any request binds it: one minted at
         * the account's login may come back here for the first time
         */

        /* fall through */

    default: /* track, profile_switch, profile_update, logout */

        /*
         * only an id that came from the client, and never one identified
         * with another account: Mixpanel would refuse the merge
         */

        if (!known || !ctx->from_client || bound_other
            || (bound_to_a && !ctx->unconfirmed))
        {
            break;
        }

        ngx_http_mixpanel_bind(ctx, late);
        break;
    }

    return NGX_OK;
}


/* identity actions need a 2xx answer, track happens for any; if= wins */

static ngx_int_t
ngx_http_mixpanel_active(ngx_http_request_t *r,
    ngx_http_mixpanel_loc_conf_t *conf)
{
    ngx_uint_t  status;

    if (conf->action_if) {
        return ngx_http_mixpanel_condition(r, conf->action_if);
    }

    if (conf->action == NGX_HTTP_MIXPANEL_TRACK) {
        return NGX_OK;
    }

    status = r->headers_out.status;

    if (r->err_status) {
        status = r->err_status;
    }

    return (status >= 200 && status < 300) ? NGX_OK : NGX_DECLINED;
}


/*
 * The device from the client is identified with the account: Original
 * sends $identify; in Simplified the event, carrying $device_id and
 * $user_id, merges them.  The zone records the binding once the record is
 * handed to the sender (ngx_http_mixpanel_identity_log()).
 */

static void
ngx_http_mixpanel_bind(ngx_http_mixpanel_ctx_t *ctx, ngx_uint_t late)
{
    ctx->identify = (ctx->conf->identity == NGX_HTTP_MIXPANEL_ORIGINAL);
    ctx->bind = 1;

    if (late || ctx->from_header) {
        return;
    }

    ngx_memcpy(ctx->tag, ctx->account_tag, NGX_HTTP_MIXPANEL_TAG_LEN);
    ctx->has_tag = 1;
    ctx->pending = 0;
    ctx->set_cookie = 1;
}


/* a device minted for the account: the cookie says so until it returns */

static void
ngx_http_mixpanel_pending(ngx_http_mixpanel_ctx_t *ctx)
{
    ngx_memcpy(ctx->tag, ctx->account_tag, NGX_HTTP_MIXPANEL_TAG_LEN);
    ctx->has_tag = 1;
    ctx->pending = 1;
    ctx->set_cookie = 1;
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
    ctx->from_sdk = 0;
    ctx->has_tag = 0;
    ctx->pending = 0;
    ctx->unconfirmed = 0;
    ctx->set_cookie = 1;

    return NGX_OK;
}


/*
 * Cache-Control with a "public" or "s-maxage" directive: shared caches
 * keep it.  Read directive by directive (RFC 9111 5.2): a name is what
 * comes before "=", "," or white space, and a value, a token or a quoted
 * string, is skipped, so that no-cache="X-Public-Key" or x-public=1 is
 * neither.
 */

static ngx_int_t
ngx_http_mixpanel_public(ngx_http_request_t *r)
{
    u_char           *p, *last, *name, *quote;
    size_t            len;
    ngx_table_elt_t  *h;
#if (nginx_version < 1023000)
    ngx_uint_t        i;
    ngx_table_elt_t **hh;
#endif

#if (nginx_version >= 1023000)
    for (h = r->headers_out.cache_control; h; h = h->next) {
#else
    hh = r->headers_out.cache_control.elts;

    for (i = 0; i < r->headers_out.cache_control.nelts; i++) {
        h = hh[i];
#endif

        if (h->hash == 0) {
            continue;
        }

        p = h->value.data;
        last = p + h->value.len;

        while (p < last) {

            while (p < last && (*p == ',' || *p == ' ' || *p == '\t')) {
                p++;
            }

            name = p;

            while (p < last && *p != '=' && *p != ','
                   && *p != ' ' && *p != '\t')
            {
                p++;
            }

            len = p - name;

            if ((len == 6
                 && ngx_strncasecmp(name, (u_char *) "public", 6) == 0)
                || (len == 8
                    && ngx_strncasecmp(name, (u_char *) "s-maxage", 8) == 0))
            {
                return NGX_OK;
            }

            while (p < last && (*p == ' ' || *p == '\t')) {
                p++;
            }

            if (p < last && *p == '=') {
                p++;

                while (p < last && (*p == ' ' || *p == '\t')) {
                    p++;
                }

                if (p < last && *p == '"') {

                    /* a quoted string, with its backslash escapes */

                    quote = ++p;

                    for ( /* void */ ; p < last && *p != '"'; p++) {
                        if (*p == '\\' && p + 1 < last) {
                            p++;
                        }
                    }

                    /*
                     * a quote never closed is no quote: caches that split
                     * the header at commas would see a "public" after it
                     */

                    if (p == last) {
                        p = quote;
                    }
                }
            }

            /* what is left of the directive */

            while (p < last && *p != ',') {
                p++;
            }
        }
    }

    return NGX_DECLINED;
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

    /* max_age is at most 400 days: the year of Expires has 4 digits */

    size = cookie->name.len + 1 + len
           + sizeof("; Path=") - 1 + cookie->path.len
           + sizeof("; Max-Age=") - 1 + NGX_TIME_T_LEN
           + sizeof("; Expires=") - 1 + sizeof("Thu, 01-Jan-1970 00:00:00 GMT")
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


/*
 * a version 4 UUID, any case: the dashes, then the 32 hex digits as four
 * words of 8 (it runs on every tracked request)
 */

static ngx_int_t
ngx_http_mixpanel_is_uuid4(u_char *p, size_t len)
{
    u_char    c;
    uint64_t  w[4];

    if (len != NGX_HTTP_MIXPANEL_UUID_LEN
        || p[8] != '-' || p[13] != '-' || p[18] != '-' || p[23] != '-')
    {
        return 0;
    }

    ngx_memcpy(&w[0], p, 8);
    ngx_memcpy(&w[1], p + 9, 4);
    ngx_memcpy((u_char *) &w[1] + 4, p + 14, 4);
    ngx_memcpy(&w[2], p + 19, 4);
    ngx_memcpy((u_char *) &w[2] + 4, p + 24, 4);
    ngx_memcpy(&w[3], p + 28, 8);

    if (!ngx_http_mixpanel_hex8(w[0]) || !ngx_http_mixpanel_hex8(w[1])
        || !ngx_http_mixpanel_hex8(w[2]) || !ngx_http_mixpanel_hex8(w[3]))
    {
        return 0;
    }

    c = p[19] | 0x20;

    return p[14] == '4' && (c == '8' || c == '9' || c == 'a' || c == 'b');
}


/*
 * Whether each of the 8 bytes is 0-9, a-f or A-F.  With every byte
 * below 0x80, adding a constant to the word carries into no other byte:
 * a byte's top bit then tells whether it was at least, or at most, a
 * bound.  Letters are tested on the word with 0x20 set in every byte,
 * which maps A-F, and only them, to a-f.
 */

static ngx_inline ngx_uint_t
ngx_http_mixpanel_hex8(uint64_t w)
{
    uint64_t  l, digit, alpha;

#define NGX_HTTP_MIXPANEL_BYTES(c)  (0x0101010101010101ULL * (c))

    if (w & NGX_HTTP_MIXPANEL_BYTES(0x80)) {
        return 0;
    }

    l = w | NGX_HTTP_MIXPANEL_BYTES(0x20);

    digit = (w + NGX_HTTP_MIXPANEL_BYTES(0x80 - '0'))
            & ~(w + NGX_HTTP_MIXPANEL_BYTES(0x7f - '9'));
    alpha = (l + NGX_HTTP_MIXPANEL_BYTES(0x80 - 'a'))
            & ~(l + NGX_HTTP_MIXPANEL_BYTES(0x7f - 'f'));

    return ((digit | alpha) & NGX_HTTP_MIXPANEL_BYTES(0x80))
           == NGX_HTTP_MIXPANEL_BYTES(0x80);

#undef NGX_HTTP_MIXPANEL_BYTES
}


static ngx_int_t
ngx_http_mixpanel_is_tag(u_char *p)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_MIXPANEL_TAG_LEN; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
        {
            return 0;
        }
    }

    return 1;
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


/*
 * The first 3 hex digits of a tag name the key that made it: a tag of
 * another key (a restart without mixpanel_cookie_secret, a server of a
 * fleet with another secret) says nothing of whom the device was bound
 * to, which is not the same as "bound to another account".
 */

static ngx_int_t
ngx_http_mixpanel_key_id(ngx_str_t *secret, u_char *kid)
{
    u_char         md[EVP_MAX_MD_SIZE], hex[4];
    unsigned int   mdlen;

    static u_char   id[NGX_HTTP_MIXPANEL_KID_LEN];
    static u_char  *key;
    static size_t   key_len;

    if (key != secret->data || key_len != secret->len) {
        if (HMAC(EVP_sha256(), secret->data, (int) secret->len,
                 (u_char *) "mixpanel cookie key id",
                 sizeof("mixpanel cookie key id") - 1, md, &mdlen)
            == NULL)
        {
            return NGX_ERROR;
        }

        ngx_http_mixpanel_hex(hex, md, 2);
        ngx_memcpy(id, hex, NGX_HTTP_MIXPANEL_KID_LEN);

        key = secret->data;
        key_len = secret->len;
    }

    ngx_memcpy(kid, id, NGX_HTTP_MIXPANEL_KID_LEN);

    return NGX_OK;
}


/* a tag of another key than the current one is no binding */

static ngx_int_t
ngx_http_mixpanel_tag_current(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx)
{
    u_char                          kid[NGX_HTTP_MIXPANEL_KID_LEN];
    ngx_str_t                       secret;
    ngx_http_mixpanel_main_conf_t  *mmcf;

    if (!ctx->has_tag) {
        return NGX_OK;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mixpanel_module);

    if (ngx_http_mixpanel_zone_secret(mmcf, &secret) != NGX_OK
        || ngx_http_mixpanel_key_id(&secret, kid) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_memcmp(ctx->tag, kid, NGX_HTTP_MIXPANEL_KID_LEN) != 0) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "mixpanel: device tag of another key, binding "
                       "unknown");
        ctx->has_tag = 0;
        ctx->pending = 0;
        ctx->old_key = 1;
    }

    return NGX_OK;
}


/*
 * The device cookie's binding tag: HMAC-SHA256 of "token:account" keyed
 * by mixpanel_cookie_secret (or the zone's random key), 48 bits of it.
 * Without the key, the tag tells nothing of the account, even to someone
 * who knows the token (every browser does) and can try every phone number.
 */

static ngx_int_t
ngx_http_mixpanel_account_tag(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx)
{
    u_char                         *msg, *p, buf[512], md[EVP_MAX_MD_SIZE],
                                    hex[10];
    size_t                          len;
    unsigned int                    mdlen;
    ngx_str_t                       secret, value;
    ngx_http_mixpanel_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mixpanel_module);

    if (ngx_http_mixpanel_zone_secret(mmcf, &secret) != NGX_OK) {
        return NGX_OK;
    }

    len = ctx->token.len + 1 + ctx->account.len;

    if (len <= sizeof(buf)) {
        msg = buf;

    } else {
        msg = ngx_pnalloc(r->pool, len);
        if (msg == NULL) {
            return NGX_ERROR;
        }
    }

    p = ngx_cpymem(msg, ctx->token.data, ctx->token.len);
    *p++ = ':';
    ngx_memcpy(p, ctx->account.data, ctx->account.len);

    if (ngx_http_mixpanel_cache_get(&ngx_http_mixpanel_tag_cache,
                                    (uintptr_t) secret.data, msg, len,
                                    &value, 1, NULL)
        == NGX_OK)
    {
        ngx_memcpy(ctx->account_tag, value.data, NGX_HTTP_MIXPANEL_TAG_LEN);
        return NGX_OK;
    }

    if (HMAC(EVP_sha256(), secret.data, (int) secret.len, msg, len, md,
             &mdlen)
        == NULL)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "mixpanel: HMAC() failed");
        return NGX_ERROR;
    }

    /* the key's id, then 36 bits of the HMAC */

    if (ngx_http_mixpanel_key_id(&secret, ctx->account_tag) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "mixpanel: HMAC() failed");
        return NGX_ERROR;
    }

    ngx_http_mixpanel_hex(hex, md, sizeof(hex) / 2);
    ngx_memcpy(ctx->account_tag + NGX_HTTP_MIXPANEL_KID_LEN, hex,
               NGX_HTTP_MIXPANEL_TAG_LEN - NGX_HTTP_MIXPANEL_KID_LEN);

    value.data = ctx->account_tag;
    value.len = NGX_HTTP_MIXPANEL_TAG_LEN;

    ngx_http_mixpanel_cache_put(&ngx_http_mixpanel_tag_cache,
                                (uintptr_t) secret.data, msg, len, &value, 1);

    return NGX_OK;
}


static ngx_int_t
ngx_http_mixpanel_is_banned(ngx_str_t *id)
{
    ngx_uint_t  i;

    /* the list's ids have 1 to 9 characters, or 36 (the nil UUID) */

    if (id->len == 0 || (id->len > 9 && id->len != 36)) {
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

    if (ngx_http_mixpanel_complex_value(r, cv, &val) != NGX_OK) {
        return NGX_ERROR;
    }

    if (val.len == 0 || (val.len == 1 && val.data[0] == '0')) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * The log phase: the decision again if the account became known only
 * after it (a response body the header did not wait for), then the calls,
 * then the bindings they make count.
 */

ngx_int_t
ngx_http_mixpanel_identity_log(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx)
{
    ngx_uint_t                      action;
    ngx_http_mixpanel_main_conf_t  *mmcf;

    if (ctx->done || ctx->ignored) {
        return NGX_OK;
    }

    ctx->done = 1;
    action = ctx->conf->action;

    if (!ctx->decided) {
        if (ngx_http_mixpanel_decide(r, ctx, 1) != NGX_OK) {
            return NGX_ERROR;
        }

    } else if (ctx->active && !ctx->decided_account) {

        /*
         * logout and reset decided nothing that depends on the account,
         * the others decide again with it, as if no one had looked
         */

        if (ngx_http_mixpanel_eval_account(r, ctx) != NGX_OK) {
            return NGX_ERROR;
        }

        if (ctx->account.len
            && action != NGX_HTTP_MIXPANEL_LOGOUT
            && action != NGX_HTTP_MIXPANEL_RESET
            && ngx_http_mixpanel_decide(r, ctx, 1) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ctx->opted_out || !ctx->active) {
        return NGX_OK;
    }

    /* a profile from a response body is known only now */

    if (ngx_http_mixpanel_eval_profile(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    if ((ctx->account.len == 0
         && (action == NGX_HTTP_MIXPANEL_SIGNUP
             || action == NGX_HTTP_MIXPANEL_LOGIN))
        || (action == NGX_HTTP_MIXPANEL_PROFILE_SWITCH && !ctx->profile_set))
    {
        ngx_http_mixpanel_no_account(r, ctx);
    }

    if (ctx->token.len == 0) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "mixpanel: empty token, nothing sent");
        return NGX_OK;
    }

    ctx->identify_refused = 0;

    if (ngx_http_mixpanel_record_emit(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!ctx->bind) {
        return NGX_OK;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mixpanel_module);

    if (ctx->identify && ctx->identify_refused) {
        ngx_http_mixpanel_zone_unconfirm(mmcf, r->connection->log,
                                         &ctx->token, ctx->device,
                                         ctx->account_tag);

    } else {
        ngx_http_mixpanel_zone_bind(mmcf, r->connection->log, &ctx->token,
                                    ctx->device, ctx->account_tag);
    }

    return NGX_OK;
}


/*
 * A sign-up or login without an account, a switch without the profile it
 * switches to: once a minute per location and worker
 */

static void
ngx_http_mixpanel_no_account(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx)
{
    time_t                         now;
    ngx_http_mixpanel_loc_conf_t  *conf;

    conf = ctx->conf;
    now = ngx_time();

    if (conf->no_id_logged && now - conf->no_id_logged < 60) {
        return;
    }

    conf->no_id_logged = now;

    if (conf->action == NGX_HTTP_MIXPANEL_PROFILE_SWITCH) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "mixpanel: \"profile_switch\" in location \"%V\" "
                      "had no profile id (\"mixpanel_profile_id\" %s): "
                      "the switch names the profile the cookie remembers, "
                      "if any; logged at most once a minute",
                      &conf->route,
                      conf->profile_id ? "evaluated empty" : "is not set");
        return;
    }

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "mixpanel: \"%s\" in location \"%V\" had no account id "
                  "(\"mixpanel_account_id\" %s): the event is anonymous and "
                  "nothing is identified; logged at most once a minute",
                  conf->action == NGX_HTTP_MIXPANEL_SIGNUP
                  ? "signup" : "login",
                  &conf->route,
                  conf->account_id ? "evaluated empty" : "is not set");
}


/*
 * Called on the worker by the sender for an $identify it dropped: the
 * device's next request identifies it again, whatever its cookie says.
 */

void
ngx_http_mixpanel_identity_unbind(ngx_cycle_t *cycle, u_char *device)
{
    ngx_http_mixpanel_main_conf_t  *mmcf;

    if (device == NULL) {
        return;
    }

    mmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_mixpanel_module);
    if (mmcf == NULL) {
        return;
    }

    ngx_http_mixpanel_zone_unconfirm(mmcf, cycle->log, NULL, device, NULL);
}


void
ngx_http_mixpanel_identity_exit(void)
{
    ngx_http_mixpanel_cache_empty(&ngx_http_mixpanel_tag_cache);
}


/*
 * The JavaScript SDK's cookie "mp_<token>_mixpanel": encodeURIComponent()
 * of JSON.stringify() of its persisted properties.  Read at most once per
 * request and token; anything but a JSON object within the size gives
 * nothing.
 */

static ngx_int_t
ngx_http_mixpanel_sdk_cookie(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx, ngx_str_t *token)
{
    u_char                         *p, *src, *data, name[3 + 256 + 9];
    ngx_int_t                       rc;
    ngx_str_t                       n, value, values[3];
    ngx_http_mixpanel_main_conf_t  *mmcf;

    if (ctx->sdk_parsed
        && ctx->sdk_token.len == token->len
        && ngx_strncmp(ctx->sdk_token.data, token->data, token->len) == 0)
    {
        return NGX_OK;
    }

    ctx->sdk_parsed = 1;
    ctx->sdk_token = *token;
    ngx_str_null(&ctx->sdk_device);
    ngx_str_null(&ctx->sdk_distinct);
    ngx_str_null(&ctx->sdk_user);

    if (token->len == 0 || token->len > 256) {
        return NGX_OK;
    }

    p = ngx_cpymem(name, "mp_", 3);
    p = ngx_cpymem(p, token->data, token->len);
    p = ngx_cpymem(p, "_mixpanel", 9);

    n.data = name;
    n.len = p - name;

    if (ngx_http_mixpanel_get_cookie(r, &n, &value) != NGX_OK
        || value.len == 0)
    {
        return NGX_OK;
    }

    if (value.len > NGX_HTTP_MIXPANEL_SDK_COOKIE_MAX) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mixpanel: the Mixpanel SDK's cookie \"%V\" is "
                      "larger than %d bytes, ignored", &n,
                      NGX_HTTP_MIXPANEL_SDK_COOKIE_MAX);
        return NGX_OK;
    }

    data = ngx_pnalloc(r->pool, value.len);
    if (data == NULL) {
        return NGX_ERROR;
    }

    p = data;
    src = value.data;

    ngx_unescape_uri(&p, &src, value.len, 0);

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mixpanel_module);

    rc = ngx_http_mixpanel_json_strings(r->pool, data, p - data,
                                        &mmcf->sdk_paths, values);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mixpanel: the Mixpanel SDK's cookie \"%V\" is not "
                      "JSON, ignored", &n);
        return NGX_OK;
    }

    if (values[0].len <= NGX_HTTP_MIXPANEL_MAX_STRING) {
        ctx->sdk_device = values[0];
    }

    ctx->sdk_distinct = values[1];
    ctx->sdk_user = values[2];

    return NGX_OK;
}


/*
 * Whether a client device id is the SDK's own anonymous device: its
 * cookie names it as $device_id, and its distinct_id is "$device:" + it
 * (mixpanel-js 2.46 and later) or, once the SDK identified the user, the
 * $user_id that such a version registers.  Then the module's anonymous
 * distinct_id and $anon_id are the SDK's "$device:" form too.
 */

static ngx_int_t
ngx_http_mixpanel_sdk_anonymous(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx, u_char *id)
{
    if (ngx_http_mixpanel_sdk_cookie(r, ctx, &ctx->token) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ctx->sdk_device.len != NGX_HTTP_MIXPANEL_UUID_LEN
        || ngx_memcmp(ctx->sdk_device.data, id, NGX_HTTP_MIXPANEL_UUID_LEN)
           != 0)
    {
        return 0;
    }

    if (ctx->sdk_distinct.len
            == sizeof("$device:") - 1 + NGX_HTTP_MIXPANEL_UUID_LEN
        && ngx_strncmp(ctx->sdk_distinct.data, "$device:",
                       sizeof("$device:") - 1)
           == 0
        && ngx_memcmp(ctx->sdk_distinct.data + sizeof("$device:") - 1, id,
                      NGX_HTTP_MIXPANEL_UUID_LEN)
           == 0)
    {
        return 1;
    }

    return ctx->sdk_user.len
           && ctx->sdk_user.len == ctx->sdk_distinct.len
           && ngx_strncmp(ctx->sdk_user.data, ctx->sdk_distinct.data,
                          ctx->sdk_user.len) == 0;
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


/*
 * $mixpanel_device_id and friends: the values as the deciding location
 * reads them (or the current one, before a location decided), after the
 * decisions taken so far.  Nothing here is recorded as a decision.
 */

static ngx_int_t
ngx_http_mixpanel_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                        *p;
    ngx_http_request_t            *mr;
    ngx_http_mixpanel_ctx_t       *ctx;
    ngx_http_mixpanel_loc_conf_t  *conf;

    mr = r->main;

    ctx = ngx_http_mixpanel_get_ctx(mr, 0);
    conf = ngx_http_mixpanel_deciding_conf(mr, ctx);

    if (conf == NULL
        || ((ctx == NULL || ctx->conf == NULL)
            && ngx_http_mixpanel_ignored(mr, conf)))
    {
        v->not_found = 1;
        return NGX_OK;
    }

    if (ctx == NULL) {
        ctx = ngx_http_mixpanel_get_ctx(mr, 1);
        if (ctx == NULL) {
            return NGX_ERROR;
        }
    }

    if (ngx_http_mixpanel_resolve(mr, ctx, conf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ctx->opted_out) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (ngx_http_mixpanel_eval_account(mr, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    /* read by the account id itself: no account yet, no distinct id */

    if (ctx->account_busy && (data == 1 || data == 2)) {
        v->not_found = 1;
        return NGX_OK;
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

        if (conf->identity == NGX_HTTP_MIXPANEL_ORIGINAL && !ctx->from_sdk) {
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


/* $mixpanel_sdk_device_id: the SDK cookie of the location's token */

static ngx_int_t
ngx_http_mixpanel_sdk_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                      token;
    ngx_http_request_t            *mr;
    ngx_http_mixpanel_ctx_t       *ctx;
    ngx_http_mixpanel_loc_conf_t  *conf;

    mr = r->main;
    v->not_found = 1;

    ctx = ngx_http_mixpanel_get_ctx(mr, 1);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    conf = ctx->conf;

    if (conf == NULL) {
        conf = ngx_http_get_module_loc_conf(mr, ngx_http_mixpanel_module);
    }

    if (conf->token == NULL) {
        return NGX_OK;
    }

    if (ngx_http_complex_value(mr, conf->token, &token) != NGX_OK
        || ngx_http_mixpanel_sdk_cookie(mr, ctx, &token) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->sdk_device.len == 0) {
        return NGX_OK;
    }

    v->data = ctx->sdk_device.data;
    v->len = ctx->sdk_device.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* the paths of the SDK cookie's keys, for the JSON parser */

ngx_int_t
ngx_http_mixpanel_identity_conf(ngx_conf_t *cf,
    ngx_http_mixpanel_main_conf_t *mmcf)
{
    char         **key;
    ngx_str_t     *token;
    ngx_array_t   *path;

    if (ngx_array_init(&mmcf->sdk_paths, cf->pool, 3, sizeof(ngx_array_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (key = ngx_http_mixpanel_sdk_keys; *key; key++) {
        path = ngx_array_push(&mmcf->sdk_paths);
        if (path == NULL) {
            return NGX_ERROR;
        }

        if (ngx_array_init(path, cf->pool, 1, sizeof(ngx_str_t)) != NGX_OK) {
            return NGX_ERROR;
        }

        token = ngx_array_push(path);
        if (token == NULL) {
            return NGX_ERROR;
        }

        token->data = (u_char *) *key;
        token->len = ngx_strlen(*key);
    }

    return NGX_OK;
}


/*
 * A host name: labels of letters, digits, "-" and "_" (intranet names
 * have them), not starting or ending with "-", dot-separated, a dot first
 * at most (RFC 6265 drops it); a dot last or an empty label names a host
 * no browser sends the cookie to
 */

static ngx_int_t
ngx_http_mixpanel_cookie_domain(ngx_str_t *domain)
{
    u_char  *p, *last, *label;

    p = domain->data;
    last = p + domain->len;

    if (*p == '.') {
        p++;
    }

    label = p;

    for ( /* void */ ; p < last; p++) {

        if (*p == '.') {
            if (p == label || *label == '-' || p[-1] == '-') {
                return NGX_DECLINED;
            }

            label = p + 1;
            continue;
        }

        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
        {
            return NGX_DECLINED;
        }
    }

    if (p == label || *label == '-' || p[-1] == '-') {
        return NGX_DECLINED;                 /* "", "." or "example." */
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
    u_char                       ch;
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

            /* browsers keep a cookie 400 days at most (RFC 6265bis) */

            if (c->max_age == (time_t) NGX_ERROR || c->max_age < 1
                || c->max_age > NGX_HTTP_MIXPANEL_MAX_AGE)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\" of \"%V\", it must be "
                                   "a time from 1s to 400d, the longest "
                                   "browsers keep a cookie", &value[i],
                                   &value[0]);
                return NGX_CONF_ERROR;
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

    /* a token: one character at least, none of them a separator */

    for (i = 0; i < c->name.len; i++) {
        if (c->name.data[i] <= ' ' || c->name.data[i] >= 0x7f
            || ngx_strlchr((u_char *) "()<>@,;:\\\"/[]?={}",
                           (u_char *) "()<>@,;:\\\"/[]?={}" + 17,
                           c->name.data[i]))
        {
            break;
        }
    }

    if (c->name.len == 0 || i < c->name.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid cookie name \"%V\" of \"%V\", "
                           "expected a token without spaces or any of "
                           "()<>@,;:\\\"/[]?={}", &c->name, &value[0]);
        return NGX_CONF_ERROR;
    }

    /*
     * what goes into Set-Cookie as it is: a host name, and a path from
     * "/" without ";" (which would start another attribute), spaces or
     * control characters
     */

    if (c->domain.len
        && ngx_http_mixpanel_cookie_domain(&c->domain) != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"domain=%V\" of \"%V\", expected a "
                           "host name", &c->domain, &value[0]);
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < c->path.len; i++) {
        ch = c->path.data[i];

        if ((i == 0 && ch != '/') || ch <= ' ' || ch >= 0x7f || ch == ';') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"path=%V\" of \"%V\", expected "
                               "a path from \"/\" without \";\", spaces "
                               "or control characters", &c->path,
                               &value[0]);
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
