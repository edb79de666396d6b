
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

    vv = ngx_http_get_flushed_variable(r, code->index);

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
