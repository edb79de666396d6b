
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * What a request sends, once identity.c has decided who it belongs to:
 * the $identify, the event and the people updates of SPEC section 4, each
 * written by the lean serializer into a per-worker scratch buffer and
 * handed to the sender as one record it owns.
 */


#include "ngx_http_mixpanel_module.h"


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


static ngx_int_t ngx_http_mixpanel_emit_identify(
    ngx_http_mixpanel_emit_t *e);
static ngx_int_t ngx_http_mixpanel_emit_event(ngx_http_mixpanel_emit_t *e);
static ngx_int_t ngx_http_mixpanel_emit_people(ngx_http_mixpanel_emit_t *e);
static ngx_int_t ngx_http_mixpanel_people_op(ngx_http_mixpanel_emit_t *e,
    ngx_uint_t op, ngx_array_t *props, ngx_uint_t builtin);
static ngx_int_t ngx_http_mixpanel_event_start(ngx_http_mixpanel_buf_t *b,
    ngx_str_t *name, ngx_str_t *token);
static ngx_int_t ngx_http_mixpanel_event_head(ngx_http_mixpanel_emit_t *e,
    ngx_http_mixpanel_buf_t *b, ngx_str_t *name, ngx_str_t *distinct_id,
    ngx_str_t *head);
static ngx_int_t ngx_http_mixpanel_conf_props(ngx_http_request_t *r,
    ngx_array_t *props, ngx_http_mixpanel_buf_t *b);
static ngx_int_t ngx_http_mixpanel_push(ngx_http_mixpanel_emit_t *e,
    ngx_http_mixpanel_buf_t *b, ngx_uint_t kind, ngx_uint_t identify);


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
static ngx_str_t  ngx_http_mixpanel_key_created =
    ngx_http_mixpanel_key("$created");


static ngx_str_t  ngx_http_mixpanel_people_ops[] = {
    ngx_string(",\"$set\":{"),
    ngx_string(",\"$set_once\":{"),
    ngx_string(",\"$add\":{"),
    ngx_string(",\"$unset\":[")
};


static ngx_http_mixpanel_sender_t  *ngx_http_mixpanel_sender;
static ngx_http_mixpanel_buf_t      ngx_http_mixpanel_scratch;


void
ngx_http_mixpanel_record_set_sender(ngx_http_mixpanel_sender_t *s)
{
    ngx_http_mixpanel_sender = s;

    if (s == NULL) {
        free(ngx_http_mixpanel_scratch.start);
        ngx_memzero(&ngx_http_mixpanel_scratch,
                    sizeof(ngx_http_mixpanel_buf_t));
    }
}


/* the calls of a decided request (SPEC section 4), in order */

ngx_int_t
ngx_http_mixpanel_record_emit(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx)
{
    ngx_http_mixpanel_emit_t       e;
    ngx_http_mixpanel_loc_conf_t  *conf;

    ngx_str_t                      ip;

    if (ngx_http_mixpanel_sender == NULL) {
        ctx->identify_refused = ctx->identify;
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

    } else {
        if (ngx_http_mixpanel_complex_value(r, conf->ip, &ip) != NGX_OK) {
            return NGX_ERROR;
        }

        /*
         * the connection's own address, as nginx printed it from an IPv4
         * or IPv6 socket address ($remote_addr, the default), is valid
         */

        if (ip.data == r->connection->addr_text.data
            && ip.len == r->connection->addr_text.len
            && (r->connection->sockaddr->sa_family == AF_INET
#if (NGX_HAVE_INET6)
                || r->connection->sockaddr->sa_family == AF_INET6
#endif
               ))
        {
            e.ip = ip;

        } else {
            ngx_http_mixpanel_record_ip(&ip, &e.ip);
        }
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


/*
 * {"$identified_id": A, "$anon_id": D}: D as the device's anonymous
 * distinct_id is, "$device:" + D for an SDK's device (mixpanel-js 2.46
 * and the mobile SDKs since 2023 send their anonymous events so).
 */

static ngx_int_t
ngx_http_mixpanel_emit_identify(ngx_http_mixpanel_emit_t *e)
{
    u_char                    anon[sizeof("$device:") - 1
                                   + NGX_HTTP_MIXPANEL_UUID_LEN];
    size_t                    len;
    ngx_int_t                 rc;
    ngx_http_mixpanel_buf_t  *b;
    ngx_http_mixpanel_ctx_t  *ctx;

    static ngx_str_t  name = ngx_string("$identify");

    b = &ngx_http_mixpanel_scratch;
    ctx = e->ctx;

    len = 0;

    if (ctx->from_sdk) {
        len = sizeof("$device:") - 1;
        ngx_memcpy(anon, "$device:", len);
    }

    ngx_memcpy(anon + len, ctx->device, NGX_HTTP_MIXPANEL_UUID_LEN);
    len += NGX_HTTP_MIXPANEL_UUID_LEN;

    if (ngx_http_mixpanel_event_head(e, b, &name, &ctx->account, NULL)
        != NGX_OK
        || ngx_http_mixpanel_json_string_prop(b, &ngx_http_mixpanel_key_ip,
                                              e->ip.data, e->ip.len)
           != NGX_OK
        || ngx_http_mixpanel_json_string_prop(b,
                                       &ngx_http_mixpanel_key_identified,
                                       ctx->account.data, ctx->account.len)
           != NGX_OK
        || ngx_http_mixpanel_json_string_prop(b, &ngx_http_mixpanel_key_anon,
                                              anon, len)
           != NGX_OK
        || ngx_http_mixpanel_buf_append(b, (u_char *) "}}", 2) != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_http_mixpanel_push(e, b, NGX_HTTP_MIXPANEL_RECORD_EVENT, 1);

    /* a binding counts only once its $identify is the sender's */

    if (rc == NGX_DECLINED) {
        ctx->identify_refused = 1;
        return NGX_OK;
    }

    return rc;
}


/*
 * The event's first bytes when neither its name nor the token has
 * variables: {"event":NAME,"properties":{"token":TOKEN, as
 * ngx_http_mixpanel_event_head() writes them.
 */

ngx_int_t
ngx_http_mixpanel_record_head(ngx_conf_t *cf,
    ngx_http_mixpanel_loc_conf_t *conf)
{
    ngx_str_t                *name;
    ngx_http_mixpanel_buf_t   b;

    if (conf->action == NGX_HTTP_MIXPANEL_OFF
        || conf->action == NGX_HTTP_MIXPANEL_RESET
        || conf->event != NULL
        || conf->token == NULL
        || conf->token->lengths != NULL)
    {
        return NGX_OK;
    }

    name = &ngx_http_mixpanel_event_names[conf->action];

    ngx_memzero(&b, sizeof(ngx_http_mixpanel_buf_t));

    if (ngx_http_mixpanel_event_start(&b, name, &conf->token->value)
        != NGX_OK)
    {
        free(b.start);
        return NGX_ERROR;
    }

    conf->head.len = b.pos - b.start;
    conf->head.data = ngx_pnalloc(cf->pool, conf->head.len);

    if (conf->head.data == NULL) {
        free(b.start);
        return NGX_ERROR;
    }

    ngx_memcpy(conf->head.data, b.start, conf->head.len);
    free(b.start);

    return NGX_OK;
}


/* {"event":NAME,"properties":{"token":TOKEN */

static ngx_int_t
ngx_http_mixpanel_event_start(ngx_http_mixpanel_buf_t *b, ngx_str_t *name,
    ngx_str_t *token)
{
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
        || ngx_http_mixpanel_json_string(b, token->data, token->len)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * {"event":NAME,"properties":{"token":..,"time":..,"distinct_id":..,
 * "$device_id":..,["$user_id":..,]"$insert_id":..,"mp_lib":..,...;
 * the first bytes up to the token as "head" has them, if given
 */

static ngx_int_t
ngx_http_mixpanel_event_head(ngx_http_mixpanel_emit_t *e,
    ngx_http_mixpanel_buf_t *b, ngx_str_t *name, ngx_str_t *distinct_id,
    ngx_str_t *head)
{
    u_char                    rnd[16], *device, *p;
    ngx_int_t                 rc;
    ngx_uint_t                from_client, simplified;
    ngx_http_mixpanel_ctx_t  *ctx;

    ctx = e->ctx;

    if (ngx_http_mixpanel_random(rnd, sizeof(rnd)) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the logout event is the last of the old device */

    if (e->conf->action == NGX_HTTP_MIXPANEL_LOGOUT) {
        device = ctx->old_device;
        from_client = ctx->old_from_client;

    } else {
        device = ctx->device;
        from_client = ctx->from_client;
    }

    simplified = (e->conf->identity == NGX_HTTP_MIXPANEL_SIMPLIFIED);

    b->pos = b->start;
    b->nprops = 0;
    b->profile = 0;

    /* the rendered head is the literal token's, which ctx->token is then */

    if (head && head->len
        && ctx->token.data == e->conf->token->value.data
        && ctx->token.len == e->conf->token->value.len)
    {
        rc = ngx_http_mixpanel_buf_append(b, head->data, head->len);

    } else {
        rc = ngx_http_mixpanel_event_start(b, name, &ctx->token);
    }

    if (rc != NGX_OK) {
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

    } else if (simplified || ctx->from_sdk) {

        /* an SDK's device: the SDK's own anonymous distinct_id */

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

    /*
     * Simplified: an identified event merges its $device_id into the
     * user, so a device id the client has not sent back yet is left out:
     * a client that keeps no cookie then adds nothing to the cluster; nor
     * is a device another account's cluster holds claimed (Mixpanel would
     * refuse the merge, one user id per cluster)
     */

    if ((!simplified || distinct_id->len == 0
         || (from_client && !ctx->foreign))
        && ngx_http_mixpanel_json_string_prop(b,
                                              &ngx_http_mixpanel_key_device_id,
                                              device,
                                              NGX_HTTP_MIXPANEL_UUID_LEN)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (simplified
        && ngx_http_mixpanel_json_string_prop(b,
                                              &ngx_http_mixpanel_key_user_id,
                                              ctx->account.data,
                                              ctx->account.len)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the insert id: 32 hex digits written in place */

    if (ngx_http_mixpanel_buf_reserve(b, ngx_http_mixpanel_key_insert_id.len
                                         + 34 + e->mmcf->const_props.len)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = ngx_cpymem(b->pos, ngx_http_mixpanel_key_insert_id.data,
                   ngx_http_mixpanel_key_insert_id.len);
    *p++ = '"';
    ngx_http_mixpanel_hex(p, rnd, 16);
    p += 32;
    *p++ = '"';

    b->pos = ngx_cpymem(p, e->mmcf->const_props.data,
                        e->mmcf->const_props.len);

    /* $insert_id, mp_lib and $lib_version */

    b->nprops += 3;

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
        if (ngx_http_mixpanel_complex_value(r, conf->event, &name)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else {
        name = ngx_http_mixpanel_event_names[conf->action];
    }

    if (name.len == 0) {
        return NGX_OK;
    }

    if (ngx_http_mixpanel_event_head(e, b, &name, &ctx->account,
                                     conf->event ? NULL : &conf->head)
        != NGX_OK
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
        && ngx_http_mixpanel_client_props(r, b) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_mixpanel_conf_props(r, conf->props, b) != NGX_OK
        || ngx_http_mixpanel_buf_append(b, (u_char *) "}}", 2) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* a record the sender refused (queue full) is counted there */

    if (ngx_http_mixpanel_push(e, b, NGX_HTTP_MIXPANEL_RECORD_EVENT, 0)
        == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
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
    u_char                     created[32], *p;
    size_t                     body;
    ngx_tm_t                   tm;
    ngx_str_t                  value;
    ngx_uint_t                 i, n;
    ngx_http_mixpanel_ua_t     ua;
    ngx_http_mixpanel_buf_t   *b;
    ngx_http_mixpanel_ctx_t   *ctx;
    ngx_http_mixpanel_prop_t  *prop;

    static ngx_str_t  key_ip = ngx_string(",\"$ip\":");
    static ngx_str_t  key_distinct_id = ngx_string(",\"$distinct_id\":");
    static ngx_str_t  key_time = ngx_string(",\"$time\":");

    if ((props == NULL || props->nelts == 0) && !builtin) {
        return NGX_OK;
    }

    ctx = e->ctx;
    b = &ngx_http_mixpanel_scratch;
    b->pos = b->start;
    b->nprops = 0;
    b->profile = 0;

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
        || ngx_http_mixpanel_json_number_prop(b, &key_time, e->ms) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /*
     * Mixpanel applies profile updates in "$time" order, so one replayed
     * late never undoes a newer one.  Updates a "track" location sends
     * with every request are not the person's doing: they leave "Updated
     * at" alone.
     */

    if (e->conf->action == NGX_HTTP_MIXPANEL_TRACK
        && ngx_http_mixpanel_buf_append(b, (u_char *) ",\"$ignore_time\":true",
                                        sizeof(",\"$ignore_time\":true") - 1)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_mixpanel_buf_append(b,
                                     ngx_http_mixpanel_people_ops[op].data,
                                     ngx_http_mixpanel_people_ops[op].len)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* a profile's lists have no limit of items, only of size */

    b->profile = 1;

    /*
     * an offset, not a pointer: writing the properties may move the
     * buffer (realloc)
     */

    body = b->pos - b->start;

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

            if (ngx_http_mixpanel_complex_value(e->r, prop[i].value, &value)
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

    /*
     * as the browser SDK's people.set(): the client's $browser,
     * $browser_version and $os ($device is the event's only), never an
     * update of their own
     */

    if (op == NGX_HTTP_MIXPANEL_PEOPLE_SET
        && e->conf->user_agent_properties
        && ngx_http_mixpanel_ua_request(e->r, &ua)
        && ua.json.len)
    {
        value = ua.json;
        n = ua.nprops;
        p = ngx_strlcasestrn(value.data, value.data + value.len,
                             (u_char *) ",\"$device\":", 11 - 1);

        if (p != NULL) {
            value.len = p - value.data;
            n--;
        }

        if (b->nprops + n <= NGX_HTTP_MIXPANEL_MAX_PROPS && value.len) {
            if (ngx_http_mixpanel_buf_append(b, value.data, value.len)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            b->nprops += n;
        }
    }

    /* "$set":{,"a":1} becomes "$set":{"a":1} */

    ngx_memmove(b->start + body, b->start + body + 1,
                b->pos - (b->start + body) - 1);
    b->pos--;

    if (ngx_http_mixpanel_buf_append(b,
                                     op == NGX_HTTP_MIXPANEL_PEOPLE_UNSET
                                     ? (u_char *) "]}" : (u_char *) "}}", 2)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* a record the sender refused (queue full) is counted there */

    if (ngx_http_mixpanel_push(e, b, NGX_HTTP_MIXPANEL_RECORD_ENGAGE, 0)
        == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
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
        if (ngx_http_mixpanel_complex_value(r, prop[i].value, &value)
            != NGX_OK)
        {
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
                 + token->len + 1
                 + (identify ? NGX_HTTP_MIXPANEL_UUID_LEN : 0));
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
    rec->device = NULL;

    if (identify) {
        rec->device = rec->token + token->len + 1;
        ngx_memcpy(rec->device, e->ctx->device, NGX_HTTP_MIXPANEL_UUID_LEN);
    }

    /* refused (queue full) is counted by the sender; NGX_DECLINED here */

    if (ngx_http_mixpanel_sender_push(ngx_http_mixpanel_sender, rec)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * mixpanel_ip's value as Mixpanel needs it: the first address of a list
 * (X-Forwarded-For), or "0" (no geolocation) for anything that is not an
 * IPv4 or IPv6 address; without "ip", Mixpanel would place the user where
 * this server is.
 */

void
ngx_http_mixpanel_record_ip(ngx_str_t *value, ngx_str_t *ip)
{
    u_char  *p, *q, *last;
#if (NGX_HAVE_INET6)
    u_char   addr6[16];
#endif

    p = value->data;
    last = p + value->len;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    ip->data = p;

    while (p < last && *p != ',') {
        p++;
    }

    while (p > ip->data && (p[-1] == ' ' || p[-1] == '\t')) {
        p--;
    }

    ip->len = p - ip->data;

    /*
     * a port, as some load balancers append to X-Forwarded-For:
     * "192.0.2.1:4711", "[2001:db8::1]:443", "[2001:db8::1]"
     */

    p = ip->data;
    last = p + ip->len;

    if (ip->len > 2 && *p == '[') {
        q = ngx_strlchr(p + 1, last, ']');

        if (q != NULL && (q + 1 == last || q[1] == ':')) {
            ip->data = p + 1;
            ip->len = q - ip->data;
        }

    } else {
        q = ngx_strlchr(p, last, ':');

        if (q != NULL && ngx_strlchr(q + 1, last, ':') == NULL) {
            ip->len = q - p;
        }
    }

    if (ip->len && ip->len <= NGX_INET6_ADDRSTRLEN) {

        if (ngx_inet_addr(ip->data, ip->len) != INADDR_NONE) {
            return;
        }

#if (NGX_HAVE_INET6)
        if (ngx_inet6_addr(ip->data, ip->len, addr6) == NGX_OK) {
            return;
        }
#endif
    }

    ngx_str_set(ip, "0");
}
