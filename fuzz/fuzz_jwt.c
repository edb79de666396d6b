
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * The JWT decoder and verifier, against the keys of t/data/jwks.json
 * (HS256, RS256, ES256/384/512).  The first byte picks the mode:
 *
 *   0  the rest is a token, mixpanel_jwt_verify off
 *   1  the rest is a token, verification on
 *   2  "header\npayload", signed here with the HS256 key, verification on,
 *      so that claims behind a valid signature are fuzzed too
 *   3  "header\npayload\nsignature", encoded here, verification off
 *
 * Bit 2 sets a leeway.  Claims are "exp", "nbf", "sub" and "/user/id".
 */


#include "ngx_mixpanel_fuzz.h"
#include "../ngx_mixpanel_module/ngx_http_mixpanel_jwt.c"

#include <openssl/hmac.h>


#ifndef NGX_MIXPANEL_FUZZ_DATA
#define NGX_MIXPANEL_FUZZ_DATA  "t/data"
#endif


static ngx_http_mixpanel_jwt_main_conf_t  *ngx_mixpanel_fuzz_jmcf;
static ngx_array_t                        *ngx_mixpanel_fuzz_keys;
static u_char                              ngx_mixpanel_fuzz_secret[32];


static void
ngx_mixpanel_fuzz_jwt_init(void)
{
    u_char       *p, hex[64];
    FILE         *f;
    size_t        n;
    ngx_str_t     name, content;
    ngx_conf_t   *cf;
    ngx_pool_t   *pool;
    ngx_array_t  *path;
    ngx_str_t    *s;

    if (ngx_mixpanel_fuzz_jmcf) {
        return;
    }

    pool = ngx_mixpanel_fuzz_pool();
    cf = ngx_mixpanel_fuzz_conf(pool);

    ngx_mixpanel_fuzz_jmcf = ngx_http_mixpanel_jwt_create_main_conf(cf);
    if (ngx_mixpanel_fuzz_jmcf == NULL) {
        abort();
    }

    if (ngx_http_mixpanel_jwt_add_path(cf, &ngx_mixpanel_fuzz_jmcf->paths,
                                       "sub")
        != NGX_OK)
    {
        abort();
    }

    path = ngx_array_push(&ngx_mixpanel_fuzz_jmcf->paths);
    if (path == NULL
        || ngx_array_init(path, pool, 2, sizeof(ngx_str_t)) != NGX_OK)
    {
        abort();
    }

    s = ngx_array_push_n(path, 2);
    if (s == NULL) {
        abort();
    }

    ngx_str_set(&s[0], "user");
    ngx_str_set(&s[1], "id");

    /* the key set */

    f = fopen(NGX_MIXPANEL_FUZZ_DATA "/jwks.json", "r");
    if (f == NULL) {
        perror(NGX_MIXPANEL_FUZZ_DATA "/jwks.json");
        abort();
    }

    content.data = ngx_pnalloc(pool, 65536);
    if (content.data == NULL) {
        abort();
    }

    content.len = fread(content.data, 1, 65535, f);
    content.data[content.len] = '\0';
    fclose(f);

    ngx_str_set(&name, "jwks.json");

    ngx_mixpanel_fuzz_keys = ngx_array_create(pool, 8,
                                     sizeof(ngx_http_mixpanel_jwt_key_t));
    if (ngx_mixpanel_fuzz_keys == NULL
        || ngx_http_mixpanel_jwt_load_jwks(cf, &name, &content,
                                           ngx_mixpanel_fuzz_keys)
           != NGX_CONF_OK
        || ngx_mixpanel_fuzz_keys->nelts == 0)
    {
        abort();
    }

    /* the HS256 secret, for signing in mode 2 */

    f = fopen(NGX_MIXPANEL_FUZZ_DATA "/hs.hex", "r");
    if (f == NULL) {
        abort();
    }

    n = fread(hex, 1, sizeof(hex), f);
    fclose(f);

    if (n != 64) {
        abort();
    }

    for (p = hex, n = 0; n < 32; n++, p += 2) {
        ngx_mixpanel_fuzz_secret[n] = ngx_hextoi(p, 2);
    }
}


static void
ngx_mixpanel_fuzz_b64(ngx_pool_t *pool, ngx_str_t *src, ngx_str_t *dst)
{
    dst->data = ngx_pnalloc(pool, ngx_base64_encoded_length(src->len));
    if (dst->data == NULL) {
        abort();
    }

    ngx_encode_base64url(dst, src);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                            *input, *p, *last, *t, mode;
    ngx_str_t                          in, token, header, payload, sig;
    ngx_str_t                          eh, ep, es, values[4];
    ngx_uint_t                         i;
    ngx_pool_t                        *pool;
    unsigned int                       mdlen;
    ngx_http_request_t                *r;
    ngx_http_mixpanel_jwt_loc_conf_t   jlcf;
    u_char                             md[EVP_MAX_MD_SIZE];

    ngx_mixpanel_fuzz_init();
    ngx_mixpanel_fuzz_jwt_init();

    if (size == 0) {
        return 0;
    }

    in.data = (u_char *) data;
    in.len = size;
    input = ngx_mixpanel_fuzz_copy(&in);

    mode = input[0];
    p = input + 1;
    last = input + size;

    pool = ngx_mixpanel_fuzz_pool();
    r = ngx_mixpanel_fuzz_request(pool);

    /* no ngx_init_cycle() has numbered the modules */
    ngx_http_mixpanel_jwt_module.ctx_index = 1;
    r->main_conf[ngx_http_mixpanel_jwt_module.ctx_index] =
                                                      ngx_mixpanel_fuzz_jmcf;

    ngx_memzero(&jlcf, sizeof(ngx_http_mixpanel_jwt_loc_conf_t));
    jlcf.keys = ngx_mixpanel_fuzz_keys;
    jlcf.leeway = (mode & 4) ? 60 : 0;

    switch (mode & 3) {

    case 0:
    case 1:
        jlcf.verify = mode & 1;
        token.data = p;
        token.len = last - p;
        break;

    default:
        (void) ngx_mixpanel_fuzz_next(&p, last, '\n', &header);
        (void) ngx_mixpanel_fuzz_next(&p, last, '\n', &payload);

        ngx_mixpanel_fuzz_b64(pool, &header, &eh);
        ngx_mixpanel_fuzz_b64(pool, &payload, &ep);

        token.data = ngx_pnalloc(pool, eh.len + ep.len + 2
                                       + ngx_base64_encoded_length(
                                                         EVP_MAX_MD_SIZE
                                                         + size));
        if (token.data == NULL) {
            abort();
        }

        t = ngx_cpymem(token.data, eh.data, eh.len);
        *t++ = '.';
        t = ngx_cpymem(t, ep.data, ep.len);

        if ((mode & 3) == 2) {
            jlcf.verify = 1;

            if (HMAC(EVP_sha256(), ngx_mixpanel_fuzz_secret, 32, token.data,
                     t - token.data, md, &mdlen)
                == NULL)
            {
                abort();
            }

            sig.data = md;
            sig.len = mdlen;

        } else {
            jlcf.verify = 0;
            (void) ngx_mixpanel_fuzz_next(&p, last, '\n', &sig);
        }

        *t++ = '.';

        es.data = t;
        ngx_encode_base64url(&es, &sig);

        token.len = t + es.len - token.data;

        break;
    }

    /* a copy of the exact size: ASan sees any read past the token */

    token.data = ngx_mixpanel_fuzz_copy(&token);
    t = token.data;

    ngx_http_mixpanel_jwt_strip(&token);

    ngx_memzero(values, sizeof(values));

    if (ngx_http_mixpanel_jwt_decode(r, &jlcf, &token, values) == NGX_ERROR)
    {
        abort();
    }

    for (i = 0; i < ngx_mixpanel_fuzz_jmcf->paths.nelts; i++) {
        if (values[i].len && values[i].data == NULL) {
            abort();
        }
    }

    free(t);
    free(input);
    ngx_destroy_pool(pool);

    return 0;
}
