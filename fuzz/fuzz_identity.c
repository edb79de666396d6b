
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * The device id from a client: the input is a flags byte, then, split on
 * "\n", two Cookie header lines, a client device id (the value of
 * mixpanel_device_id) and a profile id.  Whatever comes in, the resolved
 * device id is a UUIDv4, lowercase unless the client sent it, and a
 * previous profile taken from the cookie is one of the characters the
 * module sets.
 */


#include "ngx_mixpanel_fuzz.h"
#include "../ngx_mixpanel_module/ngx_http_mixpanel_identity.c"


static void
ngx_mixpanel_fuzz_cv(ngx_pool_t *pool, ngx_http_complex_value_t **cv,
    ngx_str_t *value)
{
    *cv = ngx_pcalloc(pool, sizeof(ngx_http_complex_value_t));
    if (*cv == NULL) {
        abort();
    }

    /* no lengths: ngx_http_complex_value() gives the value as it is */

    (*cv)->value = *value;
}


static void
ngx_mixpanel_fuzz_cookie(ngx_http_request_t *r, ngx_str_t *value)
{
    ngx_table_elt_t  *h, **last;

    h = ngx_list_push(&r->headers_in.headers);
    if (h == NULL) {
        abort();
    }

    ngx_memzero(h, sizeof(ngx_table_elt_t));

    h->hash = 1;
    ngx_str_set(&h->key, "Cookie");

    /* nginx's parser leaves header values NUL-terminated */

    h->value.len = value->len;
    h->value.data = ngx_pnalloc(r->pool, value->len + 1);
    if (h->value.data == NULL) {
        abort();
    }

    ngx_memcpy(h->value.data, value->data, value->len);
    h->value.data[value->len] = '\0';

    for (last = &r->headers_in.cookie; *last; last = &(*last)->next) {
        /* void */
    }

    *last = h;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                         *input, *p, *last, flags, c;
    ngx_str_t                       in, cookie[2], device, profile, token;
    ngx_uint_t                      i;
    ngx_pool_t                     *pool;
    ngx_http_request_t             *r;
    ngx_http_mixpanel_ctx_t        *ctx;
    ngx_http_mixpanel_cookie_t      dc, pc;
    ngx_http_mixpanel_loc_conf_t    conf;
    ngx_http_mixpanel_main_conf_t   mmcf;

    ngx_mixpanel_fuzz_init();

    if (size == 0) {
        return 0;
    }

    in.data = (u_char *) data;
    in.len = size;
    input = ngx_mixpanel_fuzz_copy(&in);

    flags = input[0];
    p = input + 1;
    last = input + size;

    (void) ngx_mixpanel_fuzz_next(&p, last, '\n', &cookie[0]);
    (void) ngx_mixpanel_fuzz_next(&p, last, '\n', &cookie[1]);
    (void) ngx_mixpanel_fuzz_next(&p, last, '\n', &device);
    (void) ngx_mixpanel_fuzz_next(&p, last, '\n', &profile);

    pool = ngx_mixpanel_fuzz_pool();
    r = ngx_mixpanel_fuzz_request(pool);

    /* no ngx_init_cycle() has numbered the modules */
    ngx_http_mixpanel_module.ctx_index = 1;

    ngx_memzero(&mmcf, sizeof(ngx_http_mixpanel_main_conf_t));
    r->main_conf[ngx_http_mixpanel_module.ctx_index] = &mmcf;

    /*
     * nginx always has a key (the zone's by default): a cookie's tag is
     * checked against it as soon as the device is resolved
     */

    ngx_str_set(&mmcf.cookie_secret, "0123456789abcdef0123");

    /* the paths of the SDK cookie's keys, read for a client UUID */

    if (ngx_http_mixpanel_identity_conf(ngx_mixpanel_fuzz_conf(pool), &mmcf)
        != NGX_OK)
    {
        abort();
    }

    ngx_memzero(&conf, sizeof(ngx_http_mixpanel_loc_conf_t));
    ngx_memzero(&dc, sizeof(ngx_http_mixpanel_cookie_t));
    ngx_memzero(&pc, sizeof(ngx_http_mixpanel_cookie_t));

    ngx_str_set(&dc.name, "mp_device");
    ngx_str_set(&pc.name, "mp_profile");

    conf.device_cookie = &dc;
    conf.profile_cookie = (flags & 1) ? &pc : NULL;

    for (i = 0; i < 2; i++) {
        if (cookie[i].len) {
            ngx_mixpanel_fuzz_cookie(r, &cookie[i]);
        }
    }

    /* without a token there is no project: nothing would be resolved */

    ngx_str_set(&token, "tok");
    ngx_mixpanel_fuzz_cv(pool, &conf.token, &token);

    if (flags & 2) {
        ngx_mixpanel_fuzz_cv(pool, &conf.device_id, &device);
    }

    if (flags & 4) {
        ngx_mixpanel_fuzz_cv(pool, &conf.profile_id, &profile);
    }

    ctx = ngx_http_mixpanel_get_ctx(r, 1);
    if (ctx == NULL) {
        abort();
    }

    ctx->conf = &conf;

    if (ngx_http_mixpanel_resolve(r, ctx, &conf) != NGX_OK) {
        abort();
    }

    if (!ngx_http_mixpanel_is_uuid4(ctx->device, NGX_HTTP_MIXPANEL_UUID_LEN))
    {
        fprintf(stderr, "device id \"%.36s\"\n", ctx->device);
        abort();
    }

    /* a client's UUID keeps its case (SPEC section 4), ours are lower */

    for (i = 0; !ctx->from_client && i < NGX_HTTP_MIXPANEL_UUID_LEN; i++) {
        c = ctx->device[i];

        if (c >= 'A' && c <= 'Z') {
            abort();
        }
    }

    if (ctx->prev_profile.len
        && !ngx_http_mixpanel_valid_profile(&ctx->prev_profile))
    {
        abort();
    }

    /* the helpers on the raw values too */

    (void) ngx_http_mixpanel_is_uuid4(device.data, device.len);
    (void) ngx_http_mixpanel_is_banned(&device);
    (void) ngx_http_mixpanel_valid_profile(&profile);

    free(input);
    ngx_destroy_pool(pool);

    return 0;
}
