
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


#include "ngx_http_mixpanel_module.h"

#if (NGX_LINUX)
#include <sys/random.h>
#endif

#if (defined __SSE2__)
#include <emmintrin.h>
#endif


#define NGX_HTTP_MIXPANEL_RANDOM_POOL  4096


static ngx_int_t ngx_http_mixpanel_random_fill(u_char *buf, size_t len);
static ngx_int_t ngx_http_mixpanel_header_in(ngx_http_request_t *r,
    ngx_str_t *name, ngx_http_variable_value_t *v);
static ngx_uint_t ngx_http_mixpanel_header_is(u_char *key, u_char *name,
    size_t len);
static ngx_inline uint64_t ngx_http_mixpanel_header_fold(uint64_t w);


/*
 * Ids must be unpredictable, so they come from the kernel's CSPRNG;
 * a per-worker pool keeps that to one system call per 256 ids.
 */

static u_char  ngx_http_mixpanel_pool[NGX_HTTP_MIXPANEL_RANDOM_POOL];
static size_t  ngx_http_mixpanel_pool_left;


ngx_int_t
ngx_http_mixpanel_random(u_char *buf, size_t len)
{
    u_char  *p;

    if (len > NGX_HTTP_MIXPANEL_RANDOM_POOL) {
        return ngx_http_mixpanel_random_fill(buf, len);
    }

    if (ngx_http_mixpanel_pool_left < len) {
        if (ngx_http_mixpanel_random_fill(ngx_http_mixpanel_pool,
                                          NGX_HTTP_MIXPANEL_RANDOM_POOL)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_http_mixpanel_pool_left = NGX_HTTP_MIXPANEL_RANDOM_POOL;
    }

    p = ngx_http_mixpanel_pool + NGX_HTTP_MIXPANEL_RANDOM_POOL
        - ngx_http_mixpanel_pool_left;

    ngx_memcpy(buf, p, len);
    ngx_memzero(p, len);

    ngx_http_mixpanel_pool_left -= len;

    return NGX_OK;
}


static ngx_int_t
ngx_http_mixpanel_random_fill(u_char *buf, size_t len)
{
    ssize_t    n;
    ngx_fd_t   fd;
    size_t     got;

    got = 0;

#if (NGX_LINUX)

    while (got < len) {
        n = getrandom(buf + got, len - got, 0);

        if (n == -1) {
            if (ngx_errno == NGX_EINTR) {
                continue;
            }

            break;
        }

        got += n;
    }

    if (got == len) {
        return NGX_OK;
    }

#endif

    fd = ngx_open_file("/dev/urandom", NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        return NGX_ERROR;
    }

    while (got < len) {
        n = read(fd, buf + got, len - got);

        if (n <= 0) {
            if (n == -1 && ngx_errno == NGX_EINTR) {
                continue;
            }

            (void) ngx_close_file(fd);
            return NGX_ERROR;
        }

        got += n;
    }

    (void) ngx_close_file(fd);

    return NGX_OK;
}


void
ngx_http_mixpanel_hex(u_char *dst, u_char *src, size_t len)
{
#if (defined __SSE2__)
    __m128i        v, n, a;
#endif
    static u_char  hex[] = "0123456789abcdef";

#if (defined __SSE2__)

    /*
     * 8 bytes at a time (an insert id is two): the high and the low
     * nibbles interleaved, then '0' added, and 'a' - '0' - 10 more above 9
     */

    while (len >= 8) {
        v = _mm_loadl_epi64((__m128i *) src);
        n = _mm_unpacklo_epi8(_mm_and_si128(_mm_srli_epi16(v, 4),
                                            _mm_set1_epi8(0x0f)),
                              _mm_and_si128(v, _mm_set1_epi8(0x0f)));
        a = _mm_and_si128(_mm_cmpgt_epi8(n, _mm_set1_epi8(9)),
                          _mm_set1_epi8('a' - '0' - 10));
        n = _mm_add_epi8(n, _mm_add_epi8(a, _mm_set1_epi8('0')));

        _mm_storeu_si128((__m128i *) dst, n);

        src += 8;
        dst += 16;
        len -= 8;
    }

#endif

    while (len--) {
        *dst++ = hex[*src >> 4];
        *dst++ = hex[*src++ & 0xf];
    }
}


/*
 * The variables that are nginx's "http_" prefix variable, by index: the
 * header's name as the variable spells it, or an empty string; made for
 * each configuration (init module), and used for requests of that
 * configuration only.
 */

static ngx_http_core_main_conf_t  *ngx_http_mixpanel_hvars_cmcf;
static ngx_str_t                  *ngx_http_mixpanel_hvars;
static ngx_uint_t                  ngx_http_mixpanel_nhvars;


ngx_int_t
ngx_http_mixpanel_header_vars_init(ngx_cycle_t *cycle)
{
    ngx_uint_t                  i;
    ngx_http_variable_t        *v, *pv;
    ngx_http_get_variable_pt    handler;
    ngx_http_core_main_conf_t  *cmcf;

    ngx_http_mixpanel_hvars_cmcf = NULL;
    ngx_http_mixpanel_nhvars = 0;

    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_core_module);

    if (cmcf == NULL) {
        return NGX_OK;
    }

    handler = NULL;
    pv = cmcf->prefix_variables.elts;

    for (i = 0; i < cmcf->prefix_variables.nelts; i++) {
        if (pv[i].name.len == sizeof("http_") - 1
            && ngx_strncmp(pv[i].name.data, "http_", sizeof("http_") - 1)
               == 0)
        {
            handler = pv[i].get_handler;
            break;
        }
    }

    if (handler == NULL || cmcf->variables.nelts == 0) {
        return NGX_OK;
    }

    ngx_http_mixpanel_hvars = ngx_pcalloc(cycle->pool,
                                          cmcf->variables.nelts
                                          * sizeof(ngx_str_t));
    if (ngx_http_mixpanel_hvars == NULL) {
        return NGX_ERROR;
    }

    /* ngx_http_variables_init_vars() gave them the prefix's handler */

    v = cmcf->variables.elts;

    for (i = 0; i < cmcf->variables.nelts; i++) {
        if (v[i].get_handler == handler
            && v[i].data == (uintptr_t) &v[i].name
            && v[i].name.len > sizeof("http_") - 1
            && ngx_strncmp(v[i].name.data, "http_", sizeof("http_") - 1)
               == 0)
        {
            ngx_http_mixpanel_hvars[i].data = v[i].name.data
                                              + sizeof("http_") - 1;
            ngx_http_mixpanel_hvars[i].len = v[i].name.len
                                             - (sizeof("http_") - 1);
        }
    }

    ngx_http_mixpanel_hvars_cmcf = cmcf;
    ngx_http_mixpanel_nhvars = cmcf->variables.nelts;

    return NGX_OK;
}


/*
 * ngx_http_complex_value() for the request path.  A value that is one
 * variable and nothing else ("$jwt_sub", "$http_x_plan"), compiled as a
 * single variable code, is that variable's value, read without running
 * the script and without a copy: good for as long as the variable's own
 * value is.  Anything else goes to ngx_http_complex_value().  As there,
 * a variable that is not found or fails is empty.
 */

ngx_int_t
ngx_http_mixpanel_complex_value(ngx_http_request_t *r,
    ngx_http_complex_value_t *val, ngx_str_t *value)
{
    ngx_http_variable_value_t   *vv;
    ngx_http_script_var_code_t  *code;

    code = val->lengths;

    if (code == NULL
        || code->code != (ngx_http_script_code_pt) (void *)
                         ngx_http_script_copy_var_len_code
        || *(uintptr_t *) (code + 1) != (uintptr_t) NULL)
    {
        return ngx_http_complex_value(r, val, value);
    }

    vv = NULL;

    /*
     * a request header ("$http_x_plan"): read here as nginx would, only
     * faster; a value nginx already has is taken as it is, several
     * headers of the name are left to nginx (1.23 joins them)
     */

    if (code->index < ngx_http_mixpanel_nhvars
        && ngx_http_mixpanel_hvars[code->index].len
        && ngx_http_get_module_main_conf(r, ngx_http_core_module)
           == ngx_http_mixpanel_hvars_cmcf)
    {
        vv = &r->variables[code->index];

        if (vv->no_cacheable || !(vv->valid || vv->not_found)) {
            vv->valid = 0;
            vv->not_found = 0;

            if (ngx_http_mixpanel_header_in(r,
                                        &ngx_http_mixpanel_hvars[code->index],
                                        vv)
                != NGX_OK)
            {
                vv = NULL;
            }
        }
    }

    if (vv == NULL) {
        vv = ngx_http_get_flushed_variable(r, code->index);
    }

    if (vv == NULL || vv->not_found) {
        value->len = 0;
        value->data = (u_char *) "";
        return NGX_OK;
    }

    value->len = vv->len;
    value->data = vv->data;

    return NGX_OK;
}


/*
 * ngx_http_variable_unknown_header() for one header: names compared
 * with A-Z in lower case and '-' as '_'; NGX_DECLINED when there are
 * several.
 */

static ngx_int_t
ngx_http_mixpanel_header_in(ngx_http_request_t *r, ngx_str_t *name,
    ngx_http_variable_value_t *v)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *found;

    found = NULL;

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

        if (h[i].key.len != name->len
            || h[i].hash == 0
            || !ngx_http_mixpanel_header_is(h[i].key.data, name->data,
                                            name->len))
        {
            continue;
        }

        if (found) {
            return NGX_DECLINED;
        }

        found = &h[i];
    }

    if (found == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = found->value.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = found->value.data;

    return NGX_OK;
}


/* a header's name against a variable's, which is [a-z0-9_] */

static ngx_uint_t
ngx_http_mixpanel_header_is(u_char *key, u_char *name, size_t len)
{
    u_char    c;
    uint64_t  k, n;

    for ( /* void */ ; len >= 8; key += 8, name += 8, len -= 8) {
        ngx_memcpy(&k, key, 8);
        ngx_memcpy(&n, name, 8);

        if (ngx_http_mixpanel_header_fold(k) != n) {
            return 0;
        }
    }

    while (len--) {
        c = *key++;

        if (c >= 'A' && c <= 'Z') {
            c |= 0x20;

        } else if (c == '-') {
            c = '_';
        }

        if (c != *name++) {
            return 0;
        }
    }

    return 1;
}


/*
 * The same on 8 bytes: A-Z get 0x20, '-' becomes '_'.  A word with a
 * byte of 0x80 or more is returned as it is: it matches no name.  Below
 * that, adding a constant to the word carries into no other byte, and a
 * byte's top bit tells whether it was at least (or at most) a bound.
 */

static ngx_inline uint64_t
ngx_http_mixpanel_header_fold(uint64_t w)
{
    uint64_t  upper, z, dash;

#define NGX_HTTP_MIXPANEL_BYTES(c)  (0x0101010101010101ULL * (c))

    if (w & NGX_HTTP_MIXPANEL_BYTES(0x80)) {
        return w;
    }

    upper = (w + NGX_HTTP_MIXPANEL_BYTES(0x80 - 'A'))
            & ~(w + NGX_HTTP_MIXPANEL_BYTES(0x7f - 'Z'))
            & NGX_HTTP_MIXPANEL_BYTES(0x80);

    w |= upper >> 2;

    /* the bytes that are '-': zero in z, and only they */

    z = w ^ NGX_HTTP_MIXPANEL_BYTES('-');
    dash = ~(((z & NGX_HTTP_MIXPANEL_BYTES(0x7f))
              + NGX_HTTP_MIXPANEL_BYTES(0x7f)) | z)
           & NGX_HTTP_MIXPANEL_BYTES(0x80);

    return w ^ ((dash >> 7) * ('-' ^ '_'));

#undef NGX_HTTP_MIXPANEL_BYTES
}


/*
 * The same, for a value kept in the request's context: a copy, as
 * ngx_http_complex_value() makes, so that a variable that changes later
 * (the module's own, such as $mixpanel_device_id) leaves it as it was.
 */

ngx_int_t
ngx_http_mixpanel_complex_value_copy(ngx_http_request_t *r,
    ngx_http_complex_value_t *val, ngx_str_t *value)
{
    u_char  *p;

    if (val->lengths == NULL) {
        return ngx_http_complex_value(r, val, value);
    }

    if (ngx_http_mixpanel_complex_value(r, val, value) != NGX_OK) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, value->len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, value->data, value->len);
    value->data = p;

    return NGX_OK;
}


/* 16 bytes in, 36 characters out, laid out as a version 4 UUID */

void
ngx_http_mixpanel_uuid4(u_char *dst, u_char *rnd)
{
    u_char  b[16];

    ngx_memcpy(b, rnd, 16);

    b[6] = (u_char) ((b[6] & 0x0f) | 0x40);
    b[8] = (u_char) ((b[8] & 0x3f) | 0x80);

    ngx_http_mixpanel_hex(dst, b, 4);
    dst[8] = '-';
    ngx_http_mixpanel_hex(dst + 9, b + 4, 2);
    dst[13] = '-';
    ngx_http_mixpanel_hex(dst + 14, b + 6, 2);
    dst[18] = '-';
    ngx_http_mixpanel_hex(dst + 19, b + 8, 2);
    dst[23] = '-';
    ngx_http_mixpanel_hex(dst + 24, b + 10, 6);
}
