
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


#include "ngx_http_mixpanel_module.h"

#include <jansson.h>
#include <math.h>

#if (defined __SSE2__)
#include <emmintrin.h>
#endif


static size_t ngx_http_mixpanel_utf8_next(u_char *p, u_char *last,
    uint32_t *cp);
static ngx_int_t ngx_http_mixpanel_json_is_number(u_char *p, size_t len);
static u_char *ngx_http_mixpanel_int64(u_char *p, int64_t n);
static ngx_int_t ngx_http_mixpanel_json_boolean(u_char *p, size_t len);
static ngx_int_t ngx_http_mixpanel_json_list(ngx_http_mixpanel_buf_t *b,
    u_char *p, size_t len, const char **reason);
static ngx_int_t ngx_http_mixpanel_json_raw(ngx_http_mixpanel_buf_t *b,
    u_char *p, size_t len, const char **reason);
static const char *ngx_http_mixpanel_json_limits(json_t *json,
    ngx_uint_t depth, ngx_uint_t profile);


/*
 * Mixpanel's limits on a value: an event property's lists and objects have
 * fewer than 255 items or keys, and are nested 3 deep at most;
 * /import?strict=1 rejects the whole event for one value past them.  A
 * profile property's objects have the same limits, its lists none of
 * items, but of 256 KB, as its objects (docs: data-type.mdx,
 * import-events.mdx).
 */

#define NGX_HTTP_MIXPANEL_MAX_ITEMS         254
#define NGX_HTTP_MIXPANEL_MAX_DEPTH         3
#define NGX_HTTP_MIXPANEL_MAX_PROFILE_LIST  (256 * 1024)


static time_t  ngx_http_mixpanel_limit_logged;


/* the bytes a JSON string takes as they are: printable ASCII but " and \ */

static const u_char  ngx_http_mixpanel_json_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,    /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,    /* 0x10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,    /* 0x20 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,    /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,    /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,    /* 0x50 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,    /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,    /* 0x70 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,    /* 0x80 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
};


/* the slow path of ngx_http_mixpanel_buf_reserve(): a bigger buffer */

ngx_int_t
ngx_http_mixpanel_buf_grow(ngx_http_mixpanel_buf_t *b, size_t size)
{
    size_t   used, cap;
    u_char  *p;

    used = b->pos - b->start;
    cap = b->end - b->start;

    if (cap == 0) {
        cap = 1024;
    }

    while (cap - used < size) {
        cap *= 2;
    }

    p = realloc(b->start, cap);
    if (p == NULL) {
        return NGX_ERROR;
    }

    b->start = p;
    b->pos = p + used;
    b->end = p + cap;

    return NGX_OK;
}


/*
 * Writes a JSON string: invalid UTF-8 becomes U+FFFD, control characters
 * are escaped, and the text is cut to Mixpanel's 255 bytes on a character
 * boundary.
 */

/*
 * Whether any of eight bytes needs escaping or a look at UTF-8: below 0x20,
 * '"', '\\', 0x7f and above.  The tests tell whether such a byte exists,
 * exactly; which one, the byte loop finds.
 */

#define NGX_HTTP_MIXPANEL_ONES   0x0101010101010101ULL
#define NGX_HTTP_MIXPANEL_HIGHS  0x8080808080808080ULL

#define ngx_http_mixpanel_has_zero(w)                                        \
    (((w) - NGX_HTTP_MIXPANEL_ONES) & ~(w) & NGX_HTTP_MIXPANEL_HIGHS)

static ngx_inline uint64_t
ngx_http_mixpanel_json_special(uint64_t w)
{
    return ((w - NGX_HTTP_MIXPANEL_ONES * 0x20) & ~w
            & NGX_HTTP_MIXPANEL_HIGHS)
           | ngx_http_mixpanel_has_zero(w ^ (NGX_HTTP_MIXPANEL_ONES * '"'))
           | ngx_http_mixpanel_has_zero(w ^ (NGX_HTTP_MIXPANEL_ONES * '\\'))
           | ((w | ((w & ~NGX_HTTP_MIXPANEL_HIGHS) + NGX_HTTP_MIXPANEL_ONES))
              & NGX_HTTP_MIXPANEL_HIGHS);
}


/*
 * Whether none of len bytes needs escaping or a look at UTF-8: the text
 * of most values.  Words are read whole, the last one overlapping the one
 * before, never past the end.
 */

static ngx_inline ngx_uint_t
ngx_http_mixpanel_json_is_plain(u_char *p, size_t len)
{
    u_char    *last;
    uint64_t   w;
#if (defined __SSE2__)
    __m128i    v, m;
#endif

    if (len < 8) {
        while (len--) {
            if (!ngx_http_mixpanel_json_plain[*p++]) {
                return 0;
            }
        }

        return 1;
    }

#if (defined __SSE2__)

    if (len >= 16) {
        last = p + len - 16;

        for ( ;; ) {
            if (p > last) {
                p = last;
            }

            /* a signed compare: below 0x20, and 0x80 and above */

            v = _mm_loadu_si128((__m128i *) p);
            m = _mm_or_si128(
                    _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                                 _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f))),
                    _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                 _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));

            if (_mm_movemask_epi8(m)) {
                return 0;
            }

            if (p == last) {
                return 1;
            }

            p += 16;
        }
    }

#endif

    last = p + len - 8;

    for ( ;; ) {
        if (p > last) {
            p = last;
        }

        ngx_memcpy(&w, p, 8);

        if (ngx_http_mixpanel_json_special(w)) {
            return 0;
        }

        if (p == last) {
            return 1;
        }

        p += 8;
    }
}


ngx_int_t
ngx_http_mixpanel_json_string(ngx_http_mixpanel_buf_t *b, u_char *data,
    size_t len)
{
    u_char         *p, *last, *o, *run, *stop;
    size_t          n, out;
    uint32_t        cp;
    uint64_t        w;
    static u_char   hex[] = "0123456789abcdef";

    if (len <= NGX_HTTP_MIXPANEL_MAX_STRING
        && ngx_http_mixpanel_json_is_plain(data, len))
    {
        if (ngx_http_mixpanel_buf_reserve(b, len + 2) != NGX_OK) {
            return NGX_ERROR;
        }

        o = b->pos;
        *o++ = '"';
        o = ngx_cpymem(o, data, len);
        *o++ = '"';
        b->pos = o;

        return NGX_OK;
    }

    /* the worst case: every byte becomes a 6-byte escape */

    n = ngx_min(len, NGX_HTTP_MIXPANEL_MAX_STRING);

    if (ngx_http_mixpanel_buf_reserve(b, n * 6 + 2) != NGX_OK) {
        return NGX_ERROR;
    }

    o = b->pos;
    *o++ = '"';

    p = data;
    last = data + len;
    out = 0;

    while (p < last) {

        /* the common case: a run of bytes copied as they are */

        run = p;
        stop = p + ngx_min((size_t) (last - p),
                           NGX_HTTP_MIXPANEL_MAX_STRING - out);

        while (stop - p >= 8) {
            ngx_memcpy(&w, p, 8);

            if (ngx_http_mixpanel_json_special(w)) {
                break;
            }

            p += 8;
        }

        while (p < stop && ngx_http_mixpanel_json_plain[*p]) {
            p++;
        }

        if (p != run) {
            o = ngx_cpymem(o, run, p - run);
            out += p - run;

            if (p == last) {
                break;
            }
        }

        if (*p < 0x80) {
            if (out + 1 > NGX_HTTP_MIXPANEL_MAX_STRING) {
                break;
            }

            out++;

            switch (*p) {

            case '"':
            case '\\':
                *o++ = '\\';
                *o++ = *p;
                break;

            case '\n':
                *o++ = '\\';
                *o++ = 'n';
                break;

            case '\r':
                *o++ = '\\';
                *o++ = 'r';
                break;

            case '\t':
                *o++ = '\\';
                *o++ = 't';
                break;

            default:
                if (*p < 0x20 || *p == 0x7f) {
                    *o++ = '\\';
                    *o++ = 'u';
                    *o++ = '0';
                    *o++ = '0';
                    *o++ = hex[*p >> 4];
                    *o++ = hex[*p & 0xf];

                } else {
                    *o++ = *p;
                }
            }

            p++;
            continue;
        }

        n = ngx_http_mixpanel_utf8_next(p, last, &cp);

        if (n == 0) {
            /* U+FFFD for one invalid byte */

            if (out + 3 > NGX_HTTP_MIXPANEL_MAX_STRING) {
                break;
            }

            *o++ = 0xef;
            *o++ = 0xbf;
            *o++ = 0xbd;
            out += 3;
            p++;
            continue;
        }

        if (out + n > NGX_HTTP_MIXPANEL_MAX_STRING) {
            break;
        }

        o = ngx_cpymem(o, p, n);
        out += n;
        p += n;
    }

    *o++ = '"';
    b->pos = o;

    return NGX_OK;
}


/* whether a text is UTF-8 as it is: no byte would become U+FFFD */

ngx_int_t
ngx_http_mixpanel_utf8_valid(u_char *p, size_t len)
{
    size_t     n;
    u_char    *last;
    uint32_t   cp;

    last = p + len;

    while (p < last) {
        if (*p < 0x80) {
            p++;
            continue;
        }

        n = ngx_http_mixpanel_utf8_next(p, last, &cp);

        if (n == 0) {
            return 0;
        }

        p += n;
    }

    return 1;
}


/* the length of a valid UTF-8 sequence of 2 to 4 bytes at p, or 0 */

static size_t
ngx_http_mixpanel_utf8_next(u_char *p, u_char *last, uint32_t *cp)
{
    size_t    n, i;
    uint32_t  c, min;

    c = *p;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        c &= 0x1f;
        min = 0x80;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        c &= 0x0f;
        min = 0x800;

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        c &= 0x07;
        min = 0x10000;

    } else {
        return 0;
    }

    if ((size_t) (last - p) < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        c = (c << 6) | (p[i] & 0x3f);
    }

    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return 0;
    }

    *cp = c;

    return n;
}


/* what ngx_sprintf("%L") writes, without parsing a format */

static u_char *
ngx_http_mixpanel_int64(u_char *p, int64_t n)
{
    u_char    digits[NGX_INT64_LEN], *d;
    uint64_t  u;

    if (n < 0) {
        *p++ = '-';
        u = (uint64_t) 0 - (uint64_t) n;

    } else {
        u = (uint64_t) n;
    }

    d = digits + NGX_INT64_LEN;

    do {
        *--d = (u_char) ('0' + u % 10);
        u /= 10;
    } while (u);

    return ngx_cpymem(p, d, digits + NGX_INT64_LEN - d);
}


/* renders ,"name": once at configuration time */

ngx_int_t
ngx_http_mixpanel_json_key(ngx_str_t *key, ngx_pool_t *pool, ngx_str_t *name)
{
    ngx_http_mixpanel_buf_t  b;

    ngx_memzero(&b, sizeof(ngx_http_mixpanel_buf_t));

    if (ngx_http_mixpanel_buf_append(&b, (u_char *) ",", 1) != NGX_OK
        || ngx_http_mixpanel_json_string(&b, name->data, name->len) != NGX_OK
        || ngx_http_mixpanel_buf_append(&b, (u_char *) ":", 1) != NGX_OK)
    {
        free(b.start);
        return NGX_ERROR;
    }

    key->len = b.pos - b.start;
    key->data = ngx_pnalloc(pool, key->len);

    if (key->data == NULL) {
        free(b.start);
        return NGX_ERROR;
    }

    ngx_memcpy(key->data, b.start, key->len);
    free(b.start);

    return NGX_OK;
}


ngx_int_t
ngx_http_mixpanel_json_string_prop(ngx_http_mixpanel_buf_t *b,
    ngx_str_t *key, u_char *data, size_t len)
{
    u_char  *o;

    if (len == 0 || b->nprops >= NGX_HTTP_MIXPANEL_MAX_PROPS) {
        return NGX_OK;
    }

    if (len <= NGX_HTTP_MIXPANEL_MAX_STRING
        && ngx_http_mixpanel_json_is_plain(data, len))
    {
        if (ngx_http_mixpanel_buf_reserve(b, key->len + len + 2) != NGX_OK) {
            return NGX_ERROR;
        }

        o = ngx_cpymem(b->pos, key->data, key->len);
        *o++ = '"';
        o = ngx_cpymem(o, data, len);
        *o++ = '"';

        b->pos = o;
        b->nprops++;

        return NGX_OK;
    }

    if (ngx_http_mixpanel_buf_append(b, key->data, key->len) != NGX_OK
        || ngx_http_mixpanel_json_string(b, data, len) != NGX_OK)
    {
        return NGX_ERROR;
    }

    b->nprops++;

    return NGX_OK;
}


ngx_int_t
ngx_http_mixpanel_json_number_prop(ngx_http_mixpanel_buf_t *b,
    ngx_str_t *key, int64_t n)
{
    if (b->nprops >= NGX_HTTP_MIXPANEL_MAX_PROPS) {
        return NGX_OK;
    }

    if (ngx_http_mixpanel_buf_reserve(b, key->len + NGX_INT64_LEN)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    b->pos = ngx_cpymem(b->pos, key->data, key->len);
    b->pos = ngx_http_mixpanel_int64(b->pos, n);
    b->nprops++;

    return NGX_OK;
}


/*
 * A typed property; a value that is empty, not valid for its type, or past
 * Mixpanel's limits is left out, and the event kept.
 */

ngx_int_t
ngx_http_mixpanel_json_prop(ngx_http_mixpanel_buf_t *b, ngx_str_t *key,
    ngx_uint_t type, ngx_str_t *value, ngx_log_t *log)
{
    size_t       mark;
    ngx_int_t    rc;
    const char  *reason;

    if (value->len == 0 || b->nprops >= NGX_HTTP_MIXPANEL_MAX_PROPS) {
        return NGX_OK;
    }

    if (type == NGX_HTTP_MIXPANEL_STRING) {
        return ngx_http_mixpanel_json_string_prop(b, key, value->data,
                                                  value->len);
    }

    if (ngx_http_mixpanel_buf_append(b, key->data, key->len) != NGX_OK) {
        return NGX_ERROR;
    }

    /* an offset: writing the value may move the buffer (realloc) */

    mark = b->pos - key->len - b->start;
    reason = NULL;

    switch (type) {

    case NGX_HTTP_MIXPANEL_NUMBER:
        if (!ngx_http_mixpanel_json_is_number(value->data, value->len)) {
            rc = NGX_DECLINED;
            break;
        }

        rc = ngx_http_mixpanel_buf_append(b, value->data, value->len);
        break;

    case NGX_HTTP_MIXPANEL_BOOLEAN:
        rc = ngx_http_mixpanel_json_boolean(value->data, value->len);

        if (rc == 1) {
            rc = ngx_http_mixpanel_buf_append(b, (u_char *) "true", 4);

        } else if (rc == 0) {
            rc = ngx_http_mixpanel_buf_append(b, (u_char *) "false", 5);
        }

        break;

    case NGX_HTTP_MIXPANEL_LIST:
        rc = ngx_http_mixpanel_json_list(b, value->data, value->len,
                                         &reason);
        break;

    default: /* NGX_HTTP_MIXPANEL_JSON */
        rc = ngx_http_mixpanel_json_raw(b, value->data, value->len,
                                        &reason);
        break;
    }

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        b->pos = b->start + mark;

        if (reason == NULL) {
            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                           "mixpanel: property %V left out, value is not "
                           "of its type %ui", key, type);
            return NGX_OK;
        }

        /* one line a second per worker: clients may send such values */

        if (ngx_http_mixpanel_limit_logged != ngx_time()) {
            ngx_http_mixpanel_limit_logged = ngx_time();

            ngx_log_error(NGX_LOG_INFO, log, 0,
                          "mixpanel: property %*s left out: %s, "
                          "Mixpanel would reject the %s",
                          key->len - 4, key->data + 2, reason,
                          b->profile ? "update" : "event");
        }

        return NGX_OK;
    }

    b->nprops++;

    return NGX_OK;
}


static ngx_int_t
ngx_http_mixpanel_json_is_number(u_char *p, size_t len)
{
    u_char  *last, buf[65];

    last = p + len;

    if (len > 64) {
        return 0;
    }

    if (p < last && *p == '-') {
        p++;
    }

    if (p == last) {
        return 0;
    }

    if (*p == '0') {
        p++;

    } else if (*p >= '1' && *p <= '9') {
        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }

    } else {
        return 0;
    }

    if (p < last && *p == '.') {
        p++;

        if (p == last || *p < '0' || *p > '9') {
            return 0;
        }

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p < last && (*p == 'e' || *p == 'E')) {
        p++;

        if (p < last && (*p == '+' || *p == '-')) {
            p++;
        }

        if (p == last || *p < '0' || *p > '9') {
            return 0;
        }

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p != last) {
        return 0;
    }

    /*
     * "1e400" is JSON, but beyond a double: parsers reject the event.
     * Without an exponent, 64 characters stay far below 1.8e308.
     */

    if (ngx_strlchr(last - len, last, 'e') == NULL
        && ngx_strlchr(last - len, last, 'E') == NULL)
    {
        return 1;
    }

    ngx_memcpy(buf, last - len, len);
    buf[len] = '\0';

    return !isinf(strtod((char *) buf, NULL));
}


static ngx_int_t
ngx_http_mixpanel_json_boolean(u_char *p, size_t len)
{
    switch (len) {

    case 1:
        if (*p == '1') {
            return 1;
        }

        if (*p == '0') {
            return 0;
        }

        break;

    case 2:
        if (ngx_strncasecmp(p, (u_char *) "on", 2) == 0) {
            return 1;
        }

        if (ngx_strncasecmp(p, (u_char *) "no", 2) == 0) {
            return 0;
        }

        break;

    case 3:
        if (ngx_strncasecmp(p, (u_char *) "yes", 3) == 0) {
            return 1;
        }

        if (ngx_strncasecmp(p, (u_char *) "off", 3) == 0) {
            return 0;
        }

        break;

    case 4:
        if (ngx_strncasecmp(p, (u_char *) "true", 4) == 0) {
            return 1;
        }

        break;

    case 5:
        if (ngx_strncasecmp(p, (u_char *) "false", 5) == 0) {
            return 0;
        }

        break;
    }

    return NGX_DECLINED;
}


/* "a, b,c" becomes ["a","b","c"]; empty items are left out */

static ngx_int_t
ngx_http_mixpanel_json_list(ngx_http_mixpanel_buf_t *b, u_char *p,
    size_t len, const char **reason)
{
    size_t       start;
    u_char      *last, *s, *e;
    ngx_uint_t   n;

    last = p + len;
    n = 0;
    start = b->pos - b->start;

    if (ngx_http_mixpanel_buf_append(b, (u_char *) "[", 1) != NGX_OK) {
        return NGX_ERROR;
    }

    while (p < last) {
        s = p;

        while (p < last && *p != ',') {
            p++;
        }

        e = p++;

        while (s < e && (*s == ' ' || *s == '\t')) {
            s++;
        }

        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }

        if (s == e) {
            continue;
        }

        if (n == NGX_HTTP_MIXPANEL_MAX_ITEMS && !b->profile) {
            *reason = "a list of more than 254 items";
            return NGX_DECLINED;
        }

        if (n++ && ngx_http_mixpanel_buf_append(b, (u_char *) ",", 1)
                   != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (ngx_http_mixpanel_json_string(b, s, e - s) != NGX_OK) {
            return NGX_ERROR;
        }

        /* the list as sent, its closing bracket counted, as type=json's */

        if (b->profile
            && (size_t) (b->pos - b->start) - start + 1
               > NGX_HTTP_MIXPANEL_MAX_PROFILE_LIST)
        {
            *reason = "a list of more than 256 KB";
            return NGX_DECLINED;
        }
    }

    return ngx_http_mixpanel_buf_append(b, (u_char *) "]", 1);
}


static ngx_int_t
ngx_http_mixpanel_json_raw(ngx_http_mixpanel_buf_t *b, u_char *p,
    size_t len, const char **reason)
{
    size_t        n;
    json_t       *json;
    json_error_t  err;

    json = json_loadb((char *) p, len,
                      JSON_REJECT_DUPLICATES|JSON_DECODE_ANY, &err);
    if (json == NULL) {
        return NGX_DECLINED;
    }

    *reason = ngx_http_mixpanel_json_limits(json, 0, b->profile);

    if (*reason) {
        json_decref(json);
        return NGX_DECLINED;
    }

    n = json_dumpb(json, NULL, 0, JSON_COMPACT|JSON_ENCODE_ANY);

    if (b->profile && n > NGX_HTTP_MIXPANEL_MAX_PROFILE_LIST
        && (json_is_array(json) || json_is_object(json)))
    {
        *reason = json_is_array(json) ? "a list of more than 256 KB"
                                      : "an object of more than 256 KB";
        json_decref(json);
        return NGX_DECLINED;
    }

    if (n == 0 || ngx_http_mixpanel_buf_reserve(b, n) != NGX_OK) {
        json_decref(json);
        return n == 0 ? NGX_DECLINED : NGX_ERROR;
    }

    b->pos += json_dumpb(json, (char *) b->pos, n,
                         JSON_COMPACT|JSON_ENCODE_ANY);

    json_decref(json);

    return NGX_OK;
}


/*
 * What breaks Mixpanel's limits in a value whose containers are nested
 * depth deep, or NULL.  The recursion stops at the fourth level.
 */

static const char *
ngx_http_mixpanel_json_limits(json_t *json, ngx_uint_t depth,
    ngx_uint_t profile)
{
    size_t       i;
    json_t      *v;
    const char  *key, *reason;

    if (!json_is_object(json) && !json_is_array(json)) {
        return NULL;
    }

    if (depth == NGX_HTTP_MIXPANEL_MAX_DEPTH) {
        return "objects and lists nested more than 3 deep";
    }

    if (json_is_object(json)) {
        if (json_object_size(json) > NGX_HTTP_MIXPANEL_MAX_ITEMS) {
            return "an object of more than 254 keys";
        }

        json_object_foreach(json, key, v) {
            reason = ngx_http_mixpanel_json_limits(v, depth + 1, profile);
            if (reason) {
                return reason;
            }
        }

        return NULL;
    }

    if (json_array_size(json) > NGX_HTTP_MIXPANEL_MAX_ITEMS && !profile) {
        return "a list of more than 254 items";
    }

    json_array_foreach(json, i, v) {
        reason = ngx_http_mixpanel_json_limits(v, depth + 1, profile);
        if (reason) {
            return reason;
        }
    }

    return NULL;
}


/*
 * Reads Mixpanel's answer: /import gives num_records_imported and, with
 * strict=1, failed_records; /engage?verbose=1 gives status and error.
 */

ngx_int_t
ngx_http_mixpanel_answer_parse(u_char *body, size_t len,
    ngx_int_t *imported, ngx_int_t *failed, ngx_str_t *error,
    u_char *errbuf, size_t errlen)
{
    json_t       *json, *v;
    const char   *s;
    json_error_t  err;

    *imported = -1;
    *failed = 0;
    error->len = 0;
    error->data = errbuf;

    json = json_loadb((char *) body, len, 0, &err);
    if (json == NULL) {
        return NGX_DECLINED;
    }

    if (!json_is_object(json)) {
        json_decref(json);
        return NGX_DECLINED;
    }

    v = json_object_get(json, "num_records_imported");
    if (json_is_integer(v)) {
        *imported = (ngx_int_t) json_integer_value(v);
    }

    v = json_object_get(json, "failed_records");
    if (json_is_array(v)) {
        *failed = (ngx_int_t) json_array_size(v);
    }

    v = json_object_get(json, "status");
    if (json_is_integer(v) && json_integer_value(v) == 0) {
        *failed = 1;
    }

    v = json_object_get(json, "error");
    if (json_is_string(v)) {
        s = json_string_value(v);
        error->len = ngx_min(ngx_strlen(s), errlen);
        error->data = errbuf;
        ngx_memcpy(errbuf, s, error->len);
    }

    json_decref(json);

    return NGX_OK;
}


/*
 * Marks in failed[] (n entries, zeroed by the caller) the records a strict
 * /import answer lists in failed_records, by their index; returns how
 * many distinct records were marked.
 */

ngx_uint_t
ngx_http_mixpanel_answer_failed(u_char *body, size_t len, u_char *failed,
    ngx_uint_t n)
{
    size_t        i;
    json_t       *json, *list, *v;
    json_int_t    index;
    ngx_uint_t    marked;
    json_error_t  err;

    json = json_loadb((char *) body, len, 0, &err);
    if (json == NULL) {
        return 0;
    }

    marked = 0;

    list = json_object_get(json, "failed_records");

    if (json_is_array(list)) {
        for (i = 0; i < json_array_size(list); i++) {
            v = json_object_get(json_array_get(list, i), "index");

            if (!json_is_integer(v)) {
                continue;
            }

            index = json_integer_value(v);

            if (index >= 0 && (ngx_uint_t) index < n && !failed[index]) {
                failed[index] = 1;
                marked++;
            }
        }
    }

    json_decref(json);

    return marked;
}
