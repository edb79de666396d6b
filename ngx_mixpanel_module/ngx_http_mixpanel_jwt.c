
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * JWT claims as nginx variables: "mixpanel_jwt_claim_set $var claim ...".
 *
 * A claim variable is computed when it is first read: the token is taken
 * from "mixpanel_jwt" of the request's location, checked (signature with
 * libcjose, "alg" against the key, "kid", "exp" and "nbf"), and every
 * configured claim is extracted at once and cached for the request.  An
 * unusable token yields empty variables: this module attributes requests,
 * it does not authenticate them, so a request is never refused here.
 *
 * This file parses no JSON itself: libcjose reads keys and token headers
 * for its own use, and claims, headers and key sets are read with the
 * helpers of ngx_http_mixpanel_json.c.  Signatures and keys are libcjose's;
 * OpenSSL only reads PEM files.
 */


#include "ngx_http_mixpanel_module.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
#include <openssl/core_names.h>
#else
#include <openssl/ec.h>
#include <openssl/rsa.h>
#endif

#include <cjose/cjose.h>


#define NGX_HTTP_MIXPANEL_JWT_MAX_SIZE      16384
#define NGX_HTTP_MIXPANEL_JWT_MAX_KEY_FILE  (1024 * 1024)


/* the first payload paths, before the claims of mixpanel_jwt_claim_set */
#define NGX_HTTP_MIXPANEL_JWT_EXP           0
#define NGX_HTTP_MIXPANEL_JWT_NBF           1

/* the members of a JWK read before libcjose imports it */
#define NGX_HTTP_MIXPANEL_JWT_JWK_USE       0
#define NGX_HTTP_MIXPANEL_JWT_JWK_ALG       1
#define NGX_HTTP_MIXPANEL_JWT_JWK_KTY       2
#define NGX_HTTP_MIXPANEL_JWT_JWK_KID       3
#define NGX_HTTP_MIXPANEL_JWT_JWK_K         4
#define NGX_HTTP_MIXPANEL_JWT_JWK_N         5
#define NGX_HTTP_MIXPANEL_JWT_JWK_E         6
#define NGX_HTTP_MIXPANEL_JWT_JWK_CRV       7
#define NGX_HTTP_MIXPANEL_JWT_JWK_X         8
#define NGX_HTTP_MIXPANEL_JWT_JWK_Y         9

/* header paths */
#define NGX_HTTP_MIXPANEL_JWT_ALG           0
#define NGX_HTTP_MIXPANEL_JWT_KID           1
#define NGX_HTTP_MIXPANEL_JWT_CRIT          2
#define NGX_HTTP_MIXPANEL_JWT_HEADERS       3


typedef struct {
    ngx_str_t                     name;
    cjose_jwk_kty_t               kty;
    ngx_int_t                     curve;
    size_t                        size;          /* of a signature */
} ngx_http_mixpanel_jwt_alg_t;


typedef struct {
    cjose_jwk_t                  *jwk;
    cjose_jwk_kty_t               kty;
    ngx_int_t                     curve;
    size_t                        size;          /* of an RSA signature */
    ngx_str_t                     kid;
    ngx_str_t                     alg;
} ngx_http_mixpanel_jwt_key_t;


typedef struct {
    ngx_array_t                   paths;         /* ngx_array_t of ngx_str_t */
    ngx_array_t                   names;         /* ngx_str_t, as paths */
    ngx_array_t                   header_paths;  /* ngx_array_t of ngx_str_t */

    ngx_uint_t                    generation;    /* of the configuration */

    u_char                       *claim_file;    /* of the first claim */
    ngx_uint_t                    claim_line;

    ngx_uint_t                    jwt;           /* unsigned jwt:1; */
    ngx_uint_t                    keys;          /* unsigned keys:1; */
    ngx_uint_t                    unverified;    /* unsigned unverified:1; */
} ngx_http_mixpanel_jwt_main_conf_t;


typedef struct {
    ngx_http_complex_value_t     *jwt;
    ngx_array_t                  *keys;     /* ngx_http_mixpanel_jwt_key_t */
    ngx_flag_t                    verify;
    ngx_flag_t                    off;      /* "mixpanel_jwt off" */
    time_t                        leeway;

    u_char                       *file;     /* where the block starts */
    ngx_uint_t                    line;
} ngx_http_mixpanel_jwt_loc_conf_t;


typedef struct {
    ngx_http_mixpanel_jwt_loc_conf_t  *conf;
    ngx_str_t                          raw;      /* mixpanel_jwt's value */
    ngx_str_t                         *values;
    ngx_uint_t                         busy;     /* unsigned busy:1; */
} ngx_http_mixpanel_jwt_ctx_t;



static ngx_int_t ngx_http_mixpanel_jwt_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_http_mixpanel_jwt_ctx_t *ngx_http_mixpanel_jwt_get_ctx(
    ngx_http_request_t *r);
static void ngx_http_mixpanel_jwt_cleanup(void *data);
static void ngx_http_mixpanel_jwt_strip(ngx_str_t *token);
static ngx_int_t ngx_http_mixpanel_jwt_decode(ngx_http_request_t *r,
    ngx_http_mixpanel_jwt_loc_conf_t *jlcf, ngx_str_t *token,
    ngx_str_t *values);
static ngx_int_t ngx_http_mixpanel_jwt_segment(u_char *p, u_char *last);
static ngx_int_t ngx_http_mixpanel_jwt_b64(ngx_pool_t *pool, u_char *data,
    size_t len, ngx_str_t *out);
static ngx_int_t ngx_http_mixpanel_jwt_verify(ngx_http_request_t *r,
    ngx_http_mixpanel_jwt_loc_conf_t *jlcf, ngx_str_t *token,
    ngx_http_mixpanel_jwt_alg_t *alg, ngx_str_t *kid, size_t size,
    ngx_str_t *payload, const char **reason);
static ngx_int_t ngx_http_mixpanel_jwt_time(ngx_str_t *value, time_t *t);
static void ngx_http_mixpanel_jwt_invalid(ngx_http_request_t *r,
    const char *reason);
static void ngx_http_mixpanel_jwt_unset(ngx_http_request_t *r,
    uintptr_t data);

static void *ngx_http_mixpanel_jwt_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_mixpanel_jwt_init_main_conf(ngx_conf_t *cf,
    void *conf);
static void *ngx_http_mixpanel_jwt_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_mixpanel_jwt_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_int_t ngx_http_mixpanel_jwt_add_path(ngx_conf_t *cf,
    ngx_array_t *paths, char *name);

static char *ngx_http_mixpanel_jwt(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mixpanel_jwt_key_file(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_mixpanel_jwt_claim_set(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_mixpanel_jwt_verify_post(ngx_conf_t *cf, void *post,
    void *data);

static ngx_int_t ngx_http_mixpanel_jwt_read_file(ngx_conf_t *cf,
    ngx_str_t *name, ngx_str_t *content);
static char *ngx_http_mixpanel_jwt_load_jwks(ngx_conf_t *cf,
    ngx_str_t *name, ngx_str_t *content, ngx_array_t *keys);
static char *ngx_http_mixpanel_jwt_load_pem(ngx_conf_t *cf,
    ngx_str_t *name, ngx_str_t *content, ngx_array_t *keys);
static cjose_jwk_t *ngx_http_mixpanel_jwt_pkey(EVP_PKEY *pkey,
    cjose_err *err);
static ngx_int_t ngx_http_mixpanel_jwt_add_key(ngx_conf_t *cf,
    ngx_array_t *keys, cjose_jwk_t *jwk, ngx_str_t *alg);
static void ngx_http_mixpanel_jwt_keys_cleanup(void *data);
static void ngx_http_mixpanel_jwt_exit_process(ngx_cycle_t *cycle);


static ngx_conf_post_t  ngx_http_mixpanel_jwt_verify_p = {
    ngx_http_mixpanel_jwt_verify_post
};


/*
 * Signature sizes are checked before libcjose sees a signature: its HMAC
 * comparison reads the computed digest's length from the signature.
 */

static ngx_http_mixpanel_jwt_alg_t  ngx_http_mixpanel_jwt_algs[] = {
    { ngx_string("HS256"), CJOSE_JWK_KTY_OCT, 0, 32 },
    { ngx_string("HS384"), CJOSE_JWK_KTY_OCT, 0, 48 },
    { ngx_string("HS512"), CJOSE_JWK_KTY_OCT, 0, 64 },
    { ngx_string("RS256"), CJOSE_JWK_KTY_RSA, 0, 0 },
    { ngx_string("RS384"), CJOSE_JWK_KTY_RSA, 0, 0 },
    { ngx_string("RS512"), CJOSE_JWK_KTY_RSA, 0, 0 },
    { ngx_string("PS256"), CJOSE_JWK_KTY_RSA, 0, 0 },
    { ngx_string("PS384"), CJOSE_JWK_KTY_RSA, 0, 0 },
    { ngx_string("PS512"), CJOSE_JWK_KTY_RSA, 0, 0 },
    { ngx_string("ES256"), CJOSE_JWK_KTY_EC, CJOSE_JWK_EC_P_256, 64 },
    { ngx_string("ES384"), CJOSE_JWK_KTY_EC, CJOSE_JWK_EC_P_384, 96 },
    { ngx_string("ES512"), CJOSE_JWK_KTY_EC, CJOSE_JWK_EC_P_521, 132 },
    { ngx_null_string, 0, 0, 0 }
};


/* in the order of NGX_HTTP_MIXPANEL_JWT_JWK_... */

static char  *ngx_http_mixpanel_jwt_members[] = {
    "use", "alg", "kty", "kid", "k", "n", "e", "crv", "x", "y", NULL
};


static ngx_command_t  ngx_http_mixpanel_jwt_commands[] = {

    { ngx_string("mixpanel_jwt"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_mixpanel_jwt,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mixpanel_jwt_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_mixpanel_jwt_key_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mixpanel_jwt_verify"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_jwt_loc_conf_t, verify),
      &ngx_http_mixpanel_jwt_verify_p },

    { ngx_string("mixpanel_jwt_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_jwt_loc_conf_t, leeway),
      NULL },

    { ngx_string("mixpanel_jwt_claim_set"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_mixpanel_jwt_claim_set,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_mixpanel_jwt_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_mixpanel_jwt_create_main_conf, /* create main configuration */
    ngx_http_mixpanel_jwt_init_main_conf,  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_mixpanel_jwt_create_loc_conf, /* create location configuration */
    ngx_http_mixpanel_jwt_merge_loc_conf   /* merge location configuration */
};


ngx_module_t  ngx_http_mixpanel_jwt_module = {
    NGX_MODULE_V1,
    &ngx_http_mixpanel_jwt_module_ctx,     /* module context */
    ngx_http_mixpanel_jwt_commands,        /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_mixpanel_jwt_exit_process,    /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static time_t                      ngx_http_mixpanel_jwt_logged;
static time_t                      ngx_http_mixpanel_jwt_unset_logged;

/*
 * Decoded tokens, keyed by the token and by what decoded it: the key set
 * (or none, unverified) of the current configuration.  A hit skips the
 * signature and the JSON; "exp" and "nbf" are checked every time.
 */

/* 4096 tokens of up to 2 KB with claims of up to 1 KB: at most 12 MB */

static ngx_http_mixpanel_cache_t  ngx_http_mixpanel_jwt_cache =
    ngx_http_mixpanel_cache(4096, 2048, 1024);

static ngx_uint_t                 ngx_http_mixpanel_jwt_generation;
static ngx_uint_t                 ngx_http_mixpanel_jwt_cache_generation;


static ngx_int_t
ngx_http_mixpanel_jwt_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                             *p;
    ngx_str_t                          *value, raw, token;
    ngx_http_mixpanel_jwt_ctx_t        *ctx;
    ngx_http_mixpanel_jwt_loc_conf_t   *jlcf;
    ngx_http_mixpanel_jwt_main_conf_t  *jmcf;

    v->not_found = 1;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_mixpanel_jwt_module);

    if (jlcf->jwt == NULL) {
        if (!jlcf->off) {
            ngx_http_mixpanel_jwt_unset(r, data);
        }

        return NGX_OK;
    }

    ctx = ngx_http_mixpanel_jwt_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    /* "mixpanel_jwt $jwt_sub;" must not recurse */

    if (ctx->busy) {
        return NGX_OK;
    }

    ctx->busy = 1;

    if (ngx_http_mixpanel_complex_value(r, jlcf->jwt, &raw) != NGX_OK) {
        ctx->busy = 0;
        return NGX_ERROR;
    }

    /*
     * each claim variable asks: the token is decoded once a request, and
     * again only if mixpanel_jwt's value changed; the value is compared
     * with a copy, as a variable may change in place
     */

    if (ctx->values == NULL
        || ctx->conf != jlcf
        || ctx->raw.len != raw.len
        || ngx_memcmp(ctx->raw.data, raw.data, raw.len) != 0)
    {
        jmcf = ngx_http_get_module_main_conf(r, ngx_http_mixpanel_jwt_module);

        p = ngx_pnalloc(r->pool, raw.len);
        ctx->values = ngx_pcalloc(r->pool,
                                  jmcf->paths.nelts * sizeof(ngx_str_t));

        if (p == NULL || ctx->values == NULL) {
            ctx->values = NULL;
            ctx->busy = 0;
            return NGX_ERROR;
        }

        ngx_memcpy(p, raw.data, raw.len);

        ctx->conf = jlcf;
        ctx->raw.data = p;
        ctx->raw.len = raw.len;

        token = ctx->raw;
        ngx_http_mixpanel_jwt_strip(&token);

        if (ngx_http_mixpanel_jwt_decode(r, jlcf, &token, ctx->values)
            == NGX_ERROR)
        {
            ctx->values = NULL;
            ctx->busy = 0;
            return NGX_ERROR;
        }
    }

    ctx->busy = 0;

    value = &ctx->values[data];

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


static ngx_http_mixpanel_jwt_ctx_t *
ngx_http_mixpanel_jwt_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t           *cln;
    ngx_http_mixpanel_jwt_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_mixpanel_jwt_module);

    if (ctx != NULL) {
        return ctx;
    }

    /*
     * the module context is wiped by an internal redirect: the cache is
     * anchored to a pool cleanup, which survives it
     */

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_mixpanel_jwt_cleanup) {
            ctx = cln->data;
            ngx_http_set_ctx(r->main, ctx, ngx_http_mixpanel_jwt_module);
            return ctx;
        }
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_mixpanel_jwt_ctx_t));
    if (cln == NULL) {
        return NULL;
    }

    ctx = cln->data;
    ngx_memzero(ctx, sizeof(ngx_http_mixpanel_jwt_ctx_t));

    cln->handler = ngx_http_mixpanel_jwt_cleanup;

    ngx_http_set_ctx(r->main, ctx, ngx_http_mixpanel_jwt_module);

    return ctx;
}


static void
ngx_http_mixpanel_jwt_cleanup(void *data)
{
    /* the context lives in the pool; the handler only marks it */
}


static void
ngx_http_mixpanel_jwt_strip(ngx_str_t *token)
{
    u_char  *p, *last;

    p = token->data;
    last = p + token->len;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    /* "Bearer " in any case, as ngx_strncasecmp() would take it */

    if (last - p > 7
        && (p[0] | 0x20) == 'b' && (p[1] | 0x20) == 'e'
        && (p[2] | 0x20) == 'a' && (p[3] | 0x20) == 'r'
        && (p[4] | 0x20) == 'e' && (p[5] | 0x20) == 'r' && p[6] == ' ')
    {
        p += 7;

        while (p < last && *p == ' ') {
            p++;
        }
    }

    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    token->data = p;
    token->len = last - p;
}


static ngx_int_t
ngx_http_mixpanel_jwt_decode(ngx_http_request_t *r,
    ngx_http_mixpanel_jwt_loc_conf_t *jlcf, ngx_str_t *token,
    ngx_str_t *values)
{
    size_t                              size;
    time_t                              now, exp, nbf;
    u_char                             *p, *dot1, *dot2, *last;
    uint32_t                            present;
    ngx_int_t                           rc;
    uintptr_t                           tag;
    ngx_str_t                           header, payload, *hv;
    const char                         *reason;
    ngx_http_mixpanel_jwt_alg_t        *alg;
    ngx_http_mixpanel_jwt_main_conf_t  *jmcf;

    if (token->len == 0) {
        return NGX_OK;
    }

    if (token->len > NGX_HTTP_MIXPANEL_JWT_MAX_SIZE) {
        ngx_http_mixpanel_jwt_invalid(r, "token too large");
        return NGX_OK;
    }

    /*
     * nginx -t refuses this in a location; a server's own scope (its
     * rewrite phase, a request no location matches) may still have it.
     * Nothing can be verified, so the cache is not even asked: its
     * unverified entries are tagged 0, like a verifying scope without
     * keys would be.
     */

    if (jlcf->verify && jlcf->keys == NULL) {
        ngx_http_mixpanel_jwt_invalid(r, "no \"mixpanel_jwt_key_file\"");
        return NGX_OK;
    }

    jmcf = ngx_http_get_module_main_conf(r, ngx_http_mixpanel_jwt_module);

    /*
     * the tag: what decoded the token, the key set that verified it (never
     * NULL) or 0, unverified.  Key sets are told apart by address, so a
     * new configuration in the same process (master_process off) starts a
     * new cache.
     */

    if (ngx_http_mixpanel_jwt_cache_generation != jmcf->generation) {
        ngx_http_mixpanel_cache_empty(&ngx_http_mixpanel_jwt_cache);
        ngx_http_mixpanel_jwt_cache_generation = jmcf->generation;
    }

    tag = jlcf->verify ? (uintptr_t) jlcf->keys : 0;

    rc = ngx_http_mixpanel_cache_get(&ngx_http_mixpanel_jwt_cache, tag,
                                     token->data, token->len, values,
                                     jmcf->paths.nelts, r->pool);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "mixpanel jwt: token found in the cache");
        goto times;
    }

    p = token->data;
    last = p + token->len;

    dot1 = ngx_strlchr(p, last, '.');
    dot2 = (dot1 == NULL) ? NULL : ngx_strlchr(dot1 + 1, last, '.');

    if (dot2 == NULL
        || ngx_strlchr(dot2 + 1, last, '.') != NULL
        || ngx_http_mixpanel_jwt_segment(p, dot1) != NGX_OK
        || ngx_http_mixpanel_jwt_segment(dot1 + 1, dot2) != NGX_OK)
    {
        ngx_http_mixpanel_jwt_invalid(r, "malformed token");
        return NGX_OK;
    }

    hv = ngx_pcalloc(r->pool,
                     NGX_HTTP_MIXPANEL_JWT_HEADERS * sizeof(ngx_str_t));
    if (hv == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_mixpanel_jwt_b64(r->pool, p, dot1 - p, &header);

    if (rc == NGX_OK) {
        rc = ngx_http_mixpanel_json_values(r->pool, header.data, header.len,
                                           &jmcf->header_paths, hv);
    }

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        ngx_http_mixpanel_jwt_invalid(r, "malformed header");
        return NGX_OK;
    }

    if (hv[NGX_HTTP_MIXPANEL_JWT_CRIT].len) {
        ngx_http_mixpanel_jwt_invalid(r, "unsupported \"crit\" header");
        return NGX_OK;
    }

    /* "none" and anything unknown are not in the table */

    for (alg = ngx_http_mixpanel_jwt_algs; alg->name.len; alg++) {
        if (alg->name.len == hv[NGX_HTTP_MIXPANEL_JWT_ALG].len
            && ngx_strncmp(alg->name.data, hv[NGX_HTTP_MIXPANEL_JWT_ALG].data,
                           alg->name.len)
               == 0)
        {
            break;
        }
    }

    if (alg->name.len == 0) {
        ngx_http_mixpanel_jwt_invalid(r, "unsupported algorithm");
        return NGX_OK;
    }

    /* after "alg": "none" has an empty signature */

    if (ngx_http_mixpanel_jwt_segment(dot2 + 1, last) != NGX_OK) {
        ngx_http_mixpanel_jwt_invalid(r, "malformed token");
        return NGX_OK;
    }

    if (jlcf->verify) {
        reason = NULL;

        /* the decoded size of the signature segment, padding aside */

        p = last;

        while (p[-1] == '=') {
            p--;
        }

        size = (p - dot2 - 1) * 3 / 4;

        rc = ngx_http_mixpanel_jwt_verify(r, jlcf, token, alg,
                                          &hv[NGX_HTTP_MIXPANEL_JWT_KID],
                                          size, &payload, &reason);

    } else {
        reason = "malformed payload";

        rc = ngx_http_mixpanel_jwt_b64(r->pool, dot1 + 1, dot2 - dot1 - 1,
                                       &payload);
    }

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        ngx_http_mixpanel_jwt_invalid(r, reason);
        return NGX_OK;
    }

    rc = ngx_http_mixpanel_json_present(r->pool, payload.data, payload.len,
                                        &jmcf->paths, values, &present);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        reason = "malformed claims";
        goto invalid;
    }

    /* "exp": null (or {}, [], "") is no time, not a token without one */

    if ((present & (1 << NGX_HTTP_MIXPANEL_JWT_EXP))
        && values[NGX_HTTP_MIXPANEL_JWT_EXP].len == 0)
    {
        reason = "malformed \"exp\" claim";
        goto invalid;
    }

    if ((present & (1 << NGX_HTTP_MIXPANEL_JWT_NBF))
        && values[NGX_HTTP_MIXPANEL_JWT_NBF].len == 0)
    {
        reason = "malformed \"nbf\" claim";
        goto invalid;
    }

    ngx_http_mixpanel_cache_put(&ngx_http_mixpanel_jwt_cache, tag,
                                token->data, token->len, values,
                                jmcf->paths.nelts);

times:

    now = ngx_time();

    if (values[NGX_HTTP_MIXPANEL_JWT_EXP].len) {

        if (ngx_http_mixpanel_jwt_time(&values[NGX_HTTP_MIXPANEL_JWT_EXP],
                                       &exp)
            != NGX_OK)
        {
            reason = "malformed \"exp\" claim";
            goto invalid;
        }

        if (now - jlcf->leeway >= exp) {
            reason = "token expired";
            goto invalid;
        }
    }

    if (values[NGX_HTTP_MIXPANEL_JWT_NBF].len) {

        if (ngx_http_mixpanel_jwt_time(&values[NGX_HTTP_MIXPANEL_JWT_NBF],
                                       &nbf)
            != NGX_OK)
        {
            reason = "malformed \"nbf\" claim";
            goto invalid;
        }

        if (now + jlcf->leeway < nbf) {
            reason = "token not yet valid";
            goto invalid;
        }
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mixpanel jwt: token accepted");

    return NGX_OK;

invalid:

    ngx_memzero(values, jmcf->paths.nelts * sizeof(ngx_str_t));

    ngx_http_mixpanel_jwt_invalid(r, reason);

    return NGX_OK;
}


/*
 * A base64url segment, with or without padding.  libcjose's decoder is
 * lenient about a few malformed inputs (and asserts on one), so nothing
 * reaches it unchecked.
 */

static ngx_int_t
ngx_http_mixpanel_jwt_segment(u_char *p, u_char *last)
{
    size_t  n, pad;
    u_char  c;

    n = 0;

    while (p < last) {
        c = *p;

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '-' || c == '_')
        {
            p++;
            n++;
            continue;
        }

        break;
    }

    if (n == 0 || n % 4 == 1) {
        return NGX_DECLINED;
    }

    pad = last - p;

    if (pad == 0) {
        return NGX_OK;
    }

    if ((n + pad) % 4 != 0 || pad > 2) {
        return NGX_DECLINED;
    }

    while (p < last) {
        if (*p++ != '=') {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_mixpanel_jwt_b64(ngx_pool_t *pool, u_char *data, size_t len,
    ngx_str_t *out)
{
    size_t     n;
    uint8_t   *buf;
    cjose_err  err;

    buf = NULL;

    if (!cjose_base64url_decode((const char *) data, len, &buf, &n, &err)) {
        return NGX_DECLINED;
    }

    out->len = n;
    out->data = ngx_pnalloc(pool, n + 1);

    if (out->data != NULL) {
        ngx_memcpy(out->data, buf, n);
    }

    cjose_get_dealloc()(buf);

    return (out->data == NULL) ? NGX_ERROR : NGX_OK;
}


static ngx_int_t
ngx_http_mixpanel_jwt_verify(ngx_http_request_t *r,
    ngx_http_mixpanel_jwt_loc_conf_t *jlcf, ngx_str_t *token,
    ngx_http_mixpanel_jwt_alg_t *alg, ngx_str_t *kid, size_t size,
    ngx_str_t *payload, const char **reason)
{
    size_t                        len;
    uint8_t                      *plain;
    ngx_int_t                     rc;
    cjose_err                     err;
    ngx_uint_t                    i, tried;
    cjose_jws_t                  *jws;
    ngx_http_mixpanel_jwt_key_t  *key;

    if (jlcf->keys == NULL) {
        *reason = "no \"mixpanel_jwt_key_file\"";
        return NGX_DECLINED;
    }

    key = jlcf->keys->elts;
    tried = 0;

    for (i = 0; i < jlcf->keys->nelts; i++) {

        /* the key decides the algorithm family, never the token */

        if (key[i].kty != alg->kty
            || (alg->kty == CJOSE_JWK_KTY_EC && key[i].curve != alg->curve))
        {
            continue;
        }

        if (key[i].alg.len
            && (key[i].alg.len != alg->name.len
                || ngx_strncmp(key[i].alg.data, alg->name.data, alg->name.len)
                   != 0))
        {
            continue;
        }

        if (kid->len && key[i].kid.len
            && (kid->len != key[i].kid.len
                || ngx_strncmp(kid->data, key[i].kid.data, kid->len) != 0))
        {
            continue;
        }

        tried++;

        if (size != (alg->size ? alg->size : key[i].size)) {
            continue;
        }

        /* a fresh import per key: a verified JWS is not reused */

        jws = cjose_jws_import((const char *) token->data, token->len, &err);
        if (jws == NULL) {
            *reason = "malformed token";
            return NGX_DECLINED;
        }

        if (!cjose_jws_verify(jws, key[i].jwk, &err)) {
            cjose_jws_release(jws);
            continue;
        }

        plain = NULL;
        len = 0;

        if (!cjose_jws_get_plaintext(jws, &plain, &len, &err)) {
            cjose_jws_release(jws);
            *reason = "malformed payload";
            return NGX_DECLINED;
        }

        rc = NGX_OK;

        payload->len = len;
        payload->data = ngx_pnalloc(r->pool, len + 1);

        if (payload->data == NULL) {
            rc = NGX_ERROR;

        } else {
            ngx_memcpy(payload->data, plain, len);
        }

        cjose_jws_release(jws);

        return rc;
    }

    *reason = tried ? "signature verification failed"
                    : "no key for the token's \"alg\" and \"kid\"";

    return NGX_DECLINED;
}


/* a NumericDate: integer seconds, a fraction is ignored */

static ngx_int_t
ngx_http_mixpanel_jwt_time(ngx_str_t *value, time_t *t)
{
    u_char  *p, *last;

    p = value->data;
    last = p + value->len;

    while (p < last && *p >= '0' && *p <= '9') {
        p++;
    }

    if (p == value->data) {
        return NGX_DECLINED;
    }

    *t = ngx_atotm(value->data, p - value->data);

    if (*t == NGX_ERROR) {
        return NGX_DECLINED;
    }

    if (p < last) {
        if (*p++ != '.') {
            return NGX_DECLINED;
        }

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }

        if (p != last) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static void
ngx_http_mixpanel_jwt_invalid(ngx_http_request_t *r, const char *reason)
{
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mixpanel jwt: %s", reason);

    /* one line a second per worker: a client can send bad tokens at will */

    if (ngx_http_mixpanel_jwt_logged == ngx_time()) {
        return;
    }

    ngx_http_mixpanel_jwt_logged = ngx_time();

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "mixpanel: JWT ignored: %s", reason);
}


/*
 * A claim variable read where no "mixpanel_jwt" applies: nginx cannot say
 * at configuration time where a variable is read (any module's directive
 * may read it), so this is said here, once a minute per worker.
 * "mixpanel_jwt off" is a choice, not a mistake, and is not logged.
 */

static void
ngx_http_mixpanel_jwt_unset(ngx_http_request_t *r, uintptr_t data)
{
    ngx_str_t                          *name;
    ngx_http_core_loc_conf_t           *clcf;
    ngx_http_mixpanel_jwt_main_conf_t  *jmcf;

    if (ngx_time() - ngx_http_mixpanel_jwt_unset_logged < 60) {
        return;
    }

    ngx_http_mixpanel_jwt_unset_logged = ngx_time();

    jmcf = ngx_http_get_module_main_conf(r, ngx_http_mixpanel_jwt_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    name = jmcf->names.elts;

    if (clcf->name.len) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mixpanel: claim variable \"$%V\" read in location "
                      "\"%V\", where no \"mixpanel_jwt\" applies: it is "
                      "empty", &name[data], &clcf->name);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "mixpanel: claim variable \"$%V\" read at the server "
                  "level, where no \"mixpanel_jwt\" applies: it is "
                  "empty", &name[data]);
}


static void *
ngx_http_mixpanel_jwt_create_main_conf(ngx_conf_t *cf)
{
    ngx_str_t                          *name;
    ngx_http_mixpanel_jwt_main_conf_t  *jmcf;

    jmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_mixpanel_jwt_main_conf_t));
    if (jmcf == NULL) {
        return NULL;
    }

    jmcf->generation = ++ngx_http_mixpanel_jwt_generation;

    if (ngx_array_init(&jmcf->paths, cf->pool, 4, sizeof(ngx_array_t))
        != NGX_OK
        || ngx_array_init(&jmcf->names, cf->pool, 4, sizeof(ngx_str_t))
           != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&jmcf->header_paths, cf->pool,
                       NGX_HTTP_MIXPANEL_JWT_HEADERS, sizeof(ngx_array_t))
        != NGX_OK)
    {
        return NULL;
    }

    /* in the order of NGX_HTTP_MIXPANEL_JWT_EXP... and _ALG... */

    if (ngx_http_mixpanel_jwt_add_path(cf, &jmcf->paths, "exp") != NGX_OK
        || ngx_http_mixpanel_jwt_add_path(cf, &jmcf->paths, "nbf") != NGX_OK
        || ngx_http_mixpanel_jwt_add_path(cf, &jmcf->header_paths, "alg")
           != NGX_OK
        || ngx_http_mixpanel_jwt_add_path(cf, &jmcf->header_paths, "kid")
           != NGX_OK
        || ngx_http_mixpanel_jwt_add_path(cf, &jmcf->header_paths, "crit")
           != NGX_OK)
    {
        return NULL;
    }

    /* "exp" and "nbf" are no variables */

    name = ngx_array_push_n(&jmcf->names, 2);
    if (name == NULL) {
        return NULL;
    }

    ngx_memzero(name, 2 * sizeof(ngx_str_t));

    return jmcf;
}


/*
 * No key file at all is an error here; a location without one is an
 * error at its merge.  Where claim variables are read cannot be known
 * (any module's directive may read a variable), so claims defined with no
 * "mixpanel_jwt" anywhere are warned about here, and a claim read where
 * none applies is logged at run time.
 */

static char *
ngx_http_mixpanel_jwt_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_mixpanel_jwt_main_conf_t *jmcf = conf;

    ngx_str_t                  *name, *used;
    ngx_uint_t                  i, j, n;
    ngx_http_variable_t        *v;
    ngx_http_core_main_conf_t  *cmcf;

    if (jmcf->jwt && !jmcf->keys && !jmcf->unverified) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mixpanel_jwt\" is set but no "
                           "\"mixpanel_jwt_key_file\" to verify it with "
                           "(or \"mixpanel_jwt_verify off\")");
        return NGX_CONF_ERROR;
    }

    if (jmcf->jwt || jmcf->names.nelts <= 2) {
        return NGX_CONF_OK;
    }

    /*
     * a claim variable the configuration reads (nginx has indexed it) with
     * no token anywhere; one that is only defined, as a shared preamble
     * may define it, costs nothing
     */

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    name = jmcf->names.elts;
    v = cmcf->variables.elts;
    used = NULL;
    n = 0;

    for (i = 2; i < jmcf->names.nelts; i++) {
        for (j = 0; j < cmcf->variables.nelts; j++) {
            if (name[i].len == v[j].name.len
                && ngx_strncasecmp(name[i].data, v[j].name.data, name[i].len)
                   == 0)
            {
                if (used == NULL) {
                    used = &name[i];
                }

                n++;
                break;
            }
        }
    }

    if (used) {
        ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                      "\"mixpanel_jwt_claim_set\" defines \"$%V\"%s but "
                      "no \"mixpanel_jwt\" is set anywhere, so claim "
                      "variables are always empty in %s:%ui",
                      used, n > 1 ? " and others" : "",
                      jmcf->claim_file, jmcf->claim_line);
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_mixpanel_jwt_add_path(ngx_conf_t *cf, ngx_array_t *paths,
    char *name)
{
    ngx_str_t    *s;
    ngx_array_t  *path;

    path = ngx_array_push(paths);
    if (path == NULL) {
        return NGX_ERROR;
    }

    if (ngx_array_init(path, cf->pool, 1, sizeof(ngx_str_t)) != NGX_OK) {
        return NGX_ERROR;
    }

    s = ngx_array_push(path);
    if (s == NULL) {
        return NGX_ERROR;
    }

    s->data = (u_char *) name;
    s->len = ngx_strlen(name);

    return NGX_OK;
}


static void *
ngx_http_mixpanel_jwt_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_mixpanel_jwt_loc_conf_t  *jlcf;

    jlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_mixpanel_jwt_loc_conf_t));
    if (jlcf == NULL) {
        return NULL;
    }

    jlcf->jwt = NGX_CONF_UNSET_PTR;
    jlcf->keys = NGX_CONF_UNSET_PTR;
    jlcf->verify = NGX_CONF_UNSET;
    jlcf->off = NGX_CONF_UNSET;
    jlcf->leeway = NGX_CONF_UNSET;

    jlcf->file = cf->conf_file->file.name.data;
    jlcf->line = cf->conf_file->line;

    return jlcf;
}


static char *
ngx_http_mixpanel_jwt_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_mixpanel_jwt_loc_conf_t *prev = parent;
    ngx_http_mixpanel_jwt_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t  *clcf;

    ngx_conf_merge_ptr_value(conf->jwt, prev->jwt, NULL);
    ngx_conf_merge_ptr_value(conf->keys, prev->keys, NULL);
    ngx_conf_merge_value(conf->verify, prev->verify, 1);
    ngx_conf_merge_value(conf->off, prev->off, 0);
    ngx_conf_merge_sec_value(conf->leeway, prev->leeway, 0);

    if (conf->jwt == NULL || !conf->verify || conf->keys != NULL) {
        return NGX_CONF_OK;
    }

    /*
     * Claims would be read here and nothing can verify them.  A server
     * may leave the key file to its locations (a server's own scope, its
     * rewrite phase and requests no location matches, gets no claims);
     * every location must have one.
     */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->name.len == 0) {
        return NGX_CONF_OK;
    }

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "\"mixpanel_jwt\" applies in location \"%V\" with "
                  "\"mixpanel_jwt_verify on\" but no "
                  "\"mixpanel_jwt_key_file\" is in scope: set a key file "
                  "there or above, \"mixpanel_jwt_verify off\" (a gateway "
                  "verified the token) or \"mixpanel_jwt off\" in %s:%ui",
                  &clcf->name, conf->file, conf->line);

    return NGX_CONF_ERROR;
}


static char *
ngx_http_mixpanel_jwt(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mixpanel_jwt_loc_conf_t *jlcf = conf;

    ngx_str_t                          *value;
    ngx_http_compile_complex_value_t    ccv;
    ngx_http_mixpanel_jwt_main_conf_t  *jmcf;

    if (jlcf->jwt != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        jlcf->jwt = NULL;
        jlcf->off = 1;
        return NGX_CONF_OK;
    }

    jlcf->off = 0;

    jlcf->jwt = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (jlcf->jwt == NULL) {
        return NGX_CONF_ERROR;
    }

    jmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_mixpanel_jwt_module);
    jmcf->jwt = 1;

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = jlcf->jwt;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_mixpanel_jwt_claim_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_mixpanel_jwt_main_conf_t *jmcf = conf;

    ngx_str_t            *value, *s, name;
    ngx_uint_t            i;
    ngx_array_t          *path;
    ngx_http_variable_t  *v;

    value = cf->args->elts;

    if (value[1].len < 2 || value[1].data[0] != '$') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid variable name \"%V\" in "
                           "\"mixpanel_jwt_claim_set\", it takes "
                           "\"$name\" and then the claim", &value[1]);
        return NGX_CONF_ERROR;
    }

    name.len = value[1].len - 1;
    name.data = value[1].data + 1;

    v = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE);
    if (v == NULL) {
        return NGX_CONF_ERROR;
    }

    path = ngx_array_push(&jmcf->paths);
    if (path == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_array_init(path, cf->pool, cf->args->nelts - 2, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* the arguments stay in memory, NUL-terminated, as the parser left them */

    for (i = 2; i < cf->args->nelts; i++) {

        if (value[i].len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "empty claim name in \"mixpanel_jwt_claim_set "
                               "%V\", it takes names of JSON members or "
                               "array indexes", &value[1]);
            return NGX_CONF_ERROR;
        }

        s = ngx_array_push(path);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        *s = value[i];
    }

    s = ngx_array_push(&jmcf->names);
    if (s == NULL) {
        return NGX_CONF_ERROR;
    }

    *s = name;

    if (jmcf->claim_file == NULL) {
        jmcf->claim_file = cf->conf_file->file.name.data;
        jmcf->claim_line = cf->conf_file->line;
    }

    v->get_handler = ngx_http_mixpanel_jwt_variable;
    v->data = jmcf->paths.nelts - 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_mixpanel_jwt_verify_post(ngx_conf_t *cf, void *post, void *data)
{
    ngx_flag_t  *fp = data;

    ngx_http_mixpanel_jwt_main_conf_t  *jmcf;

    if (*fp == 0) {
        jmcf = ngx_http_conf_get_module_main_conf(cf,
                                                  ngx_http_mixpanel_jwt_module);
        jmcf->unverified = 1;

        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"mixpanel_jwt_verify off\": JWT claims are "
                           "used without checking their signature");
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_mixpanel_jwt_key_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_mixpanel_jwt_loc_conf_t *jlcf = conf;

    u_char                             *p, *last;
    ngx_str_t                          *value, name, content;
    ngx_array_t                        *keys;
    ngx_pool_cleanup_t                 *cln;
    ngx_http_mixpanel_jwt_main_conf_t  *jmcf;

    if (jlcf->keys != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    name = value[1];

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_mixpanel_jwt_read_file(cf, &name, &content) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    keys = ngx_array_create(cf->pool, 4, sizeof(ngx_http_mixpanel_jwt_key_t));
    if (keys == NULL) {
        return NGX_CONF_ERROR;
    }

    /* registered first, so that keys are released on errors and reloads */

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_mixpanel_jwt_keys_cleanup;
    cln->data = keys;

    p = content.data;
    last = p + content.len;

    while (p < last && (*p == ' ' || *p == '\t' || *p == CR || *p == LF)) {
        p++;
    }

    if (last - p >= 10 && ngx_strncmp(p, "-----BEGIN", 10) == 0) {
        if (ngx_http_mixpanel_jwt_load_pem(cf, &name, &content, keys)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }

    } else {
        if (ngx_http_mixpanel_jwt_load_jwks(cf, &name, &content, keys)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    if (keys->nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mixpanel_jwt_key_file\" \"%V\": no signature "
                           "verification key, every key is \"use\":\"enc\"",
                           &name);
        return NGX_CONF_ERROR;
    }

    jlcf->keys = keys;

    jmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_mixpanel_jwt_module);
    jmcf->keys = 1;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_mixpanel_jwt_read_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *content)
{
    off_t            size;
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_int_t        rc;
    ngx_file_info_t  fi;

    fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", name);
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", name);
        goto done;
    }

    size = ngx_file_size(&fi);

    if (size > NGX_HTTP_MIXPANEL_JWT_MAX_KEY_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mixpanel_jwt_key_file\" \"%V\" is too large "
                           "(%O bytes), it may have at most %d bytes",
                           name, size, NGX_HTTP_MIXPANEL_JWT_MAX_KEY_FILE);
        goto done;
    }

    content->data = ngx_pnalloc(cf->temp_pool, (size_t) size + 1);
    if (content->data == NULL) {
        goto done;
    }

    n = ngx_read_fd(fd, content->data, (size_t) size);

    if (n == -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_read_fd_n " \"%V\" failed", name);
        goto done;
    }

    if ((off_t) n != size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           ngx_read_fd_n " \"%V\" returned only %z bytes "
                           "instead of %O", name, n, size);
        goto done;
    }

    content->len = n;
    content->data[n] = '\0';

    rc = NGX_OK;

done:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", name);
    }

    return rc;
}


static char *
ngx_http_mixpanel_jwt_load_jwks(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *content, ngx_array_t *keys)
{
    char          *need;
    ngx_int_t      rc;
    ngx_str_t     *json, *kv, *kid, *member, error;
    cjose_err      err;
    ngx_uint_t     i;
    ngx_array_t    set, paths;
    cjose_jwk_t   *jwk;

    if (ngx_array_init(&set, cf->temp_pool, 4, sizeof(ngx_str_t)) != NGX_OK
        || ngx_array_init(&paths, cf->temp_pool, 10, sizeof(ngx_array_t))
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    for (i = 0; ngx_http_mixpanel_jwt_members[i]; i++) {
        if (ngx_http_mixpanel_jwt_add_path(cf, &paths,
                                           ngx_http_mixpanel_jwt_members[i])
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    kv = ngx_palloc(cf->temp_pool, paths.nelts * sizeof(ngx_str_t));
    if (kv == NULL) {
        return NGX_CONF_ERROR;
    }

    rc = ngx_http_mixpanel_json_jwks(cf->temp_pool, content->data,
                                     content->len, &set, &error);

    if (rc == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    if (rc != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mixpanel_jwt_key_file\" \"%V\": %V; it takes "
                           "a JWKS ({\"keys\":[...]}), a single JWK, or a "
                           "PEM public key or certificate", name, &error);
        return NGX_CONF_ERROR;
    }

    json = set.elts;
    kid = &kv[NGX_HTTP_MIXPANEL_JWT_JWK_KID];

    for (i = 0; i < set.nelts; i++) {

        ngx_memzero(kv, paths.nelts * sizeof(ngx_str_t));

        if (ngx_http_mixpanel_json_values(cf->temp_pool, json[i].data,
                                          json[i].len, &paths, kv)
            == NGX_ERROR)
        {
            return NGX_CONF_ERROR;
        }

        /* encryption keys may share a set with signing keys */

        member = &kv[NGX_HTTP_MIXPANEL_JWT_JWK_USE];

        if (member->len && (member->len != 3
                            || ngx_strncmp(member->data, "sig", 3) != 0))
        {
            continue;
        }

        /* what libcjose would only call "invalid argument" */

        member = &kv[NGX_HTTP_MIXPANEL_JWT_JWK_KTY];
        need = NULL;

        if (member->len == 3 && ngx_strncmp(member->data, "oct", 3) == 0) {

            if (kv[NGX_HTTP_MIXPANEL_JWT_JWK_K].len == 0) {
                need = "\"k\"; an \"oct\" key needs \"k\", its secret "
                       "in base64url";
            }

        } else if (member->len == 3
                   && ngx_strncmp(member->data, "RSA", 3) == 0)
        {
            if (kv[NGX_HTTP_MIXPANEL_JWT_JWK_N].len == 0) {
                need = "\"n\"; an \"RSA\" key needs \"n\" and \"e\"";

            } else if (kv[NGX_HTTP_MIXPANEL_JWT_JWK_E].len == 0) {
                need = "\"e\"; an \"RSA\" key needs \"n\" and \"e\"";
            }

        } else if (member->len == 2
                   && ngx_strncmp(member->data, "EC", 2) == 0)
        {
            if (kv[NGX_HTTP_MIXPANEL_JWT_JWK_CRV].len == 0) {
                need = "\"crv\"; an \"EC\" key needs \"crv\", \"x\" and "
                       "\"y\"";

            } else if (kv[NGX_HTTP_MIXPANEL_JWT_JWK_X].len == 0) {
                need = "\"x\"; an \"EC\" key needs \"crv\", \"x\" and \"y\"";

            } else if (kv[NGX_HTTP_MIXPANEL_JWT_JWK_Y].len == 0) {
                need = "\"y\"; an \"EC\" key needs \"crv\", \"x\" and \"y\"";
            }

        } else if (member->len == 0) {
            need = "\"kty\"; the key types are \"oct\", \"RSA\" and \"EC\"";

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"mixpanel_jwt_key_file\" \"%V\": key %ui%s"
                               "%V%s has the unsupported \"kty\" \"%V\"; the "
                               "key types are \"oct\", \"RSA\" and \"EC\"",
                               name, i + 1, kid->len ? " (kid \"" : "", kid,
                               kid->len ? "\")" : "", member);
            return NGX_CONF_ERROR;
        }

        if (need != NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"mixpanel_jwt_key_file\" \"%V\": key %ui%s"
                               "%V%s has no %s",
                               name, i + 1, kid->len ? " (kid \"" : "", kid,
                               kid->len ? "\")" : "", need);
            return NGX_CONF_ERROR;
        }

        jwk = cjose_jwk_import((const char *) json[i].data, json[i].len,
                               &err);
        if (jwk == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"mixpanel_jwt_key_file\" \"%V\": key %ui%s"
                               "%V%s is invalid (libcjose: %s); see RFC 7518 "
                               "section 6 for the members of each key type",
                               name, i + 1, kid->len ? " (kid \"" : "", kid,
                               kid->len ? "\")" : "", err.message);
            return NGX_CONF_ERROR;
        }

        if (ngx_http_mixpanel_jwt_add_key(cf, keys, jwk,
                                          &kv[NGX_HTTP_MIXPANEL_JWT_JWK_ALG])
            != NGX_OK)
        {
            cjose_jwk_release(jwk);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_mixpanel_jwt_load_pem(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *content, ngx_array_t *keys)
{
    BIO          *bio;
    X509         *x509;
    EVP_PKEY     *pkey;
    ngx_str_t     alg;
    cjose_err     err;
    cjose_jwk_t  *jwk;

    bio = BIO_new_mem_buf(content->data, (int) content->len);
    if (bio == NULL) {
        return NGX_CONF_ERROR;
    }

    pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);

    if (pkey == NULL) {
        (void) BIO_reset(bio);

        x509 = PEM_read_bio_X509(bio, NULL, NULL, NULL);

        if (x509 != NULL) {
            pkey = X509_get_pubkey(x509);
            X509_free(x509);
        }
    }

    BIO_free(bio);

    if (pkey == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mixpanel_jwt_key_file\" \"%V\": no PEM public "
                           "key or certificate; it takes \"BEGIN PUBLIC KEY\" "
                           "or \"BEGIN CERTIFICATE\", never a private key",
                           name);
        return NGX_CONF_ERROR;
    }

    err.message = "unsupported key type";

    jwk = ngx_http_mixpanel_jwt_pkey(pkey, &err);

    EVP_PKEY_free(pkey);

    if (jwk == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mixpanel_jwt_key_file\" \"%V\": %s; it takes "
                           "RSA keys and EC keys on P-256, P-384 or P-521",
                           name, err.message);
        return NGX_CONF_ERROR;
    }

    ngx_str_null(&alg);

    if (ngx_http_mixpanel_jwt_add_key(cf, keys, jwk, &alg) != NGX_OK) {
        cjose_jwk_release(jwk);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* OpenSSL parses the PEM, libcjose builds the key from its numbers */

static cjose_jwk_t *
ngx_http_mixpanel_jwt_pkey(EVP_PKEY *pkey, cjose_err *err)
{
    int                     nid;
    size_t                  size;
    BIGNUM                 *a, *b;
    uint8_t                *p, *q;
    cjose_jwk_t            *jwk;
    cjose_jwk_ec_keyspec    ec;
    cjose_jwk_rsa_keyspec   rsa;
#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
    char                    group[64];
#else
    RSA                    *rk;
    EC_KEY                 *ek;
    const BIGNUM           *rn, *re;
#endif

    a = NULL;
    b = NULL;
    p = NULL;
    jwk = NULL;

    switch (EVP_PKEY_base_id(pkey)) {

    case EVP_PKEY_RSA:

#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
        if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &a)
            || !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &b))
        {
            goto done;
        }
#else
        rk = EVP_PKEY_get0_RSA(pkey);
        if (rk == NULL) {
            goto done;
        }

        RSA_get0_key(rk, &rn, &re, NULL);

        a = BN_dup(rn);
        b = BN_dup(re);

        if (a == NULL || b == NULL) {
            goto done;
        }
#endif

        p = OPENSSL_malloc(BN_num_bytes(a) + BN_num_bytes(b) + 2);
        if (p == NULL) {
            goto done;
        }

        q = p + BN_num_bytes(a) + 1;

        ngx_memzero(&rsa, sizeof(cjose_jwk_rsa_keyspec));

        rsa.n = p;
        rsa.nlen = BN_bn2bin(a, p);
        rsa.e = q;
        rsa.elen = BN_bn2bin(b, q);

        jwk = cjose_jwk_create_RSA_spec(&rsa, err);

        break;

    case EVP_PKEY_EC:

#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
        if (!EVP_PKEY_get_utf8_string_param(pkey,
                                            OSSL_PKEY_PARAM_GROUP_NAME,
                                            group, sizeof(group), NULL)
            || !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &a)
            || !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &b))
        {
            goto done;
        }

        nid = OBJ_txt2nid(group);
#else
        ek = EVP_PKEY_get0_EC_KEY(pkey);
        if (ek == NULL) {
            goto done;
        }

        nid = EC_GROUP_get_curve_name(EC_KEY_get0_group(ek));

        a = BN_new();
        b = BN_new();

        if (a == NULL || b == NULL
            || !EC_POINT_get_affine_coordinates_GFp(EC_KEY_get0_group(ek),
                                                    EC_KEY_get0_public_key(ek),
                                                    a, b, NULL))
        {
            goto done;
        }
#endif

        switch (nid) {

        case NID_X9_62_prime256v1:
            size = 32;
            break;

        case NID_secp384r1:
            size = 48;
            break;

        case NID_secp521r1:
            size = 66;
            break;

        default:
            err->message = "unsupported elliptic curve";
            goto done;
        }

        p = OPENSSL_malloc(2 * size);
        if (p == NULL) {
            goto done;
        }

        if (BN_bn2binpad(a, p, size) < 0
            || BN_bn2binpad(b, p + size, size) < 0)
        {
            goto done;
        }

        ngx_memzero(&ec, sizeof(cjose_jwk_ec_keyspec));

        ec.crv = (cjose_jwk_ec_curve) nid;
        ec.x = p;
        ec.xlen = size;
        ec.y = p + size;
        ec.ylen = size;

        jwk = cjose_jwk_create_EC_spec(&ec, err);

        break;

    default:
        break;
    }

done:

    OPENSSL_free(p);
    BN_free(a);
    BN_free(b);

    return jwk;
}


static ngx_int_t
ngx_http_mixpanel_jwt_add_key(ngx_conf_t *cf, ngx_array_t *keys,
    cjose_jwk_t *jwk, ngx_str_t *alg)
{
    ngx_str_t                     s;
    cjose_err                     err;
    const char                   *kid;
    ngx_http_mixpanel_jwt_key_t  *key;

    key = ngx_array_push(keys);
    if (key == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(key, sizeof(ngx_http_mixpanel_jwt_key_t));

    key->jwk = jwk;
    key->kty = cjose_jwk_get_kty(jwk, &err);

    if (key->kty == CJOSE_JWK_KTY_EC) {
        key->curve = cjose_jwk_EC_get_curve(jwk, &err);
    }

    if (key->kty == CJOSE_JWK_KTY_RSA) {
        key->size = cjose_jwk_get_keysize(jwk, &err) / 8;
    }

    kid = cjose_jwk_get_kid(jwk, &err);

    if (kid != NULL) {
        s.len = ngx_strlen(kid);
        s.data = (u_char *) kid;

        key->kid.data = ngx_pstrdup(cf->pool, &s);
        if (key->kid.data == NULL) {
            keys->nelts--;
            return NGX_ERROR;
        }

        key->kid.len = s.len;
    }

    if (alg->len) {
        key->alg.data = ngx_pstrdup(cf->pool, alg);
        if (key->alg.data == NULL) {
            keys->nelts--;
            return NGX_ERROR;
        }

        key->alg.len = alg->len;
    }

    return NGX_OK;
}


static void
ngx_http_mixpanel_jwt_keys_cleanup(void *data)
{
    ngx_array_t  *keys = data;

    ngx_uint_t                    i;
    ngx_http_mixpanel_jwt_key_t  *key;

    key = keys->elts;

    for (i = 0; i < keys->nelts; i++) {
        cjose_jwk_release(key[i].jwk);
    }

    keys->nelts = 0;
}


static void
ngx_http_mixpanel_jwt_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_mixpanel_cache_empty(&ngx_http_mixpanel_jwt_cache);
}
