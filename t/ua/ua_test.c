
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * Unit test of ngx_http_mixpanel_ua_parse(), its cache
 * (ngx_http_mixpanel_cache.c) and its numbers (ngx_http_mixpanel_number.c),
 * linked with nothing of nginx:
 * ua_test cases.txt prints one line per check,
 *
 *     ok<TAB>description
 *     not ok<TAB>description<TAB>what went wrong
 *
 * which t/080-user-agent-unit.t turns into TAP.  ua_test --dump FILE
 * prints, for each User-Agent of FILE (one a line, escaped as in
 * cases.txt), what the parser makes of it:
 *
 *     browser<TAB>version<TAB>os<TAB>device<TAB>bot
 *
 * Every input is parsed from a malloc()ed block of exactly its length, so
 * a sanitizer or valgrind sees any read past it.
 */


#include "ngx_http_mixpanel_module.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define UA_TEST_MAX_INPUT   (64 * 1024)
#define UA_TEST_FUZZ        200000


typedef struct {
    u_char                       *data;
    size_t                        len;
} ua_test_buf_t;


static ngx_int_t ua_test_decode(u_char *s, size_t n, ua_test_buf_t *b);
static ngx_int_t ua_test_unescape(u_char *s, size_t n, u_char *out,
    size_t size, size_t *len);
static int ua_test_hex(u_char c);
static ngx_int_t ua_test_case(ngx_uint_t line, u_char *text);
static ngx_int_t ua_test_check(ngx_http_mixpanel_ua_t *ua, u_char *data,
    size_t len, char *err, size_t errlen);
static ngx_int_t ua_test_field(ngx_str_t *got, char *want);
static int ua_test_dump(char *file);
static void ua_test_dump_field(ngx_str_t *v);
static void ua_test_report(ngx_uint_t ok, const char *desc, const char *err);
static void ua_test_printable(char *dst, size_t size, u_char *src,
    size_t len);
static void ua_test_builtin(void);
static ngx_uint_t ua_test_same(ngx_http_mixpanel_ua_t *a,
    ngx_http_mixpanel_ua_t *b);
static ngx_uint_t ua_test_same_str(ngx_str_t *a, ngx_str_t *b);
static uint32_t ua_test_random(void);


static ngx_uint_t  ua_test_failed;
static ngx_uint_t  ua_test_cases;
static uint32_t    ua_test_seed = 20240611;


/* every name the parser may return: a value outside this set is a bug */

static const char  *ua_test_names[] = {
    "Chrome", "Chrome iOS", "Firefox", "Firefox iOS", "Safari",
    "Mobile Safari", "Microsoft Edge", "Opera", "Opera Mini",
    "Samsung Internet", "Android Mobile", "Facebook Mobile", "UC Browser",
    "Internet Explorer", "Internet Explorer Mobile", "BlackBerry",
    "Whale Browser", "Konqueror", "Mozilla",
    "Windows", "Windows Phone", "Mac OS X", "macOS", "iOS", "Android",
    "Linux", "Chrome OS",
    "iPhone", "iPad", "iPod Touch",
    NULL
};


int
main(int argc, char **argv)
{
    FILE        *f;
    size_t       n;
    ngx_uint_t   line;
    static char  text[4 * UA_TEST_MAX_INPUT];

    if (argc == 3 && strcmp(argv[1], "--dump") == 0) {
        return ua_test_dump(argv[2]);
    }

    if (argc != 2) {
        fprintf(stderr, "usage: %s cases.txt | --dump FILE\n", argv[0]);
        return 2;
    }

    f = fopen(argv[1], "r");
    if (f == NULL) {
        perror(argv[1]);
        return 2;
    }

    line = 0;

    while (fgets(text, sizeof(text), f) != NULL) {
        line++;

        n = strlen(text);

        if (n && text[n - 1] == '\n') {
            text[--n] = '\0';

        } else if (!feof(f)) {
            fprintf(stderr, "%s:%lu: line too long\n", argv[1],
                    (unsigned long) line);
            return 2;
        }

        if (n && text[n - 1] == '\r') {
            text[--n] = '\0';
        }

        if (text[0] == '#' || n == 0) {
            continue;
        }

        if (ua_test_case(line, (u_char *) text) != NGX_OK) {
            fprintf(stderr, "%s:%lu: malformed case\n", argv[1],
                    (unsigned long) line);
            return 2;
        }
    }

    fclose(f);

    ua_test_builtin();

    printf("cases\t%lu\n", (unsigned long) ua_test_cases);

    return ua_test_failed ? 1 : 0;
}


static ngx_int_t
ua_test_case(ngx_uint_t line, u_char *text)
{
    char                    *field[6], *p, err[1024], desc[160];
    size_t                   len;
    ngx_uint_t               i, ok;
    ua_test_buf_t            b;
    ngx_http_mixpanel_ua_t   ua;

    p = (char *) text;

    for (i = 0; i < 6; i++) {
        field[i] = p;
        p = strchr(p, '\t');

        if (i < 5) {
            if (p == NULL) {
                return NGX_ERROR;
            }

            *p++ = '\0';
        }
    }

    if (p != NULL) {
        return NGX_ERROR;
    }

    if (ua_test_decode((u_char *) field[0], strlen(field[0]), &b) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ua_test_cases++;

    /* garbage in the output must be overwritten */
    memset(&ua, 0x5a, sizeof(ngx_http_mixpanel_ua_t));

    ngx_http_mixpanel_ua_parse(b.data, b.len, &ua);

    len = snprintf(desc, sizeof(desc), "line %lu: %.40s/%.40s/%s/%s/%s <- ",
                   (unsigned long) line, field[1], field[2], field[3],
                   field[4], field[5]);

    if (len < sizeof(desc)) {
        ua_test_printable(desc + len, sizeof(desc) - len, b.data, b.len);
    }

    ok = (ua_test_check(&ua, b.data, b.len, err, sizeof(err)) == NGX_OK);

    if (ok
        && (ua_test_field(&ua.browser, field[1]) != NGX_OK
            || ua_test_field(&ua.browser_version, field[2]) != NGX_OK
            || ua_test_field(&ua.os, field[3]) != NGX_OK
            || ua_test_field(&ua.device, field[4]) != NGX_OK
            || ua.bot != (strcmp(field[5], "bot") == 0)))
    {
        ok = 0;
        snprintf(err, sizeof(err), "got %.*s/%.*s/%.*s/%.*s/%s",
                 (int) ua.browser.len, ua.browser.data,
                 (int) ngx_min(ua.browser_version.len, 64),
                 ua.browser_version.data,
                 (int) ua.os.len, ua.os.data,
                 (int) ua.device.len, ua.device.data,
                 ua.bot ? "bot" : "-");
    }

    ua_test_report(ok, desc, err);

    free(b.data);

    return NGX_OK;
}


/* invariants of any result, whatever the input */

static ngx_int_t
ua_test_check(ngx_http_mixpanel_ua_t *ua, u_char *data, size_t len,
    char *err, size_t errlen)
{
    size_t      i, k;
    ngx_str_t  *name[3];

    name[0] = &ua->browser;
    name[1] = &ua->os;
    name[2] = &ua->device;

    for (k = 0; k < 3; k++) {

        if (name[k]->len == 0) {
            continue;
        }

        for (i = 0; ua_test_names[i]; i++) {
            if (strlen(ua_test_names[i]) == name[k]->len
                && memcmp(ua_test_names[i], name[k]->data, name[k]->len)
                   == 0)
            {
                break;
            }
        }

        if (ua_test_names[i] == NULL) {
            snprintf(err, errlen, "unknown name \"%.*s\"",
                     (int) ngx_min(name[k]->len, 64), name[k]->data);
            return NGX_ERROR;
        }
    }

    if (ua->browser.len == 0 && ua->browser_version.len) {
        snprintf(err, errlen, "a version without a browser");
        return NGX_ERROR;
    }

    if (ua->bot > 1) {
        snprintf(err, errlen, "bot is %lu", (unsigned long) ua->bot);
        return NGX_ERROR;
    }

    if (ua->browser_version.len == 0) {
        return NGX_OK;
    }

    if (ua->browser_version.data < data
        || ua->browser_version.data + ua->browser_version.len > data + len)
    {
        /* past 17 digits: written from the double, at most %.17g */

        if (ua->browser_version.len > 24) {
            snprintf(err, errlen, "version outside the input and long");
            return NGX_ERROR;
        }

        for (i = 0; i < ua->browser_version.len; i++) {
            if (ngx_strchr("0123456789.e+-", ua->browser_version.data[i])
                == NULL)
            {
                snprintf(err, errlen, "version \"%.*s\" not a number",
                         (int) ua->browser_version.len,
                         ua->browser_version.data);
                return NGX_ERROR;
            }
        }

        return NGX_OK;
    }

    for (i = 0, k = 0; i < ua->browser_version.len; i++) {
        if (ua->browser_version.data[i] == '.') {
            k++;
            continue;
        }

        if (ua->browser_version.data[i] < '0'
            || ua->browser_version.data[i] > '9')
        {
            k = 2;
        }
    }

    if (k > 1) {
        snprintf(err, errlen, "version \"%.*s\" not digits and a dot",
                 (int) ngx_min(ua->browser_version.len, 64),
                 ua->browser_version.data);
        return NGX_ERROR;
    }

    /* a JSON number: no leading zeros, no dot at either end */

    if ((ua->browser_version.data[0] == '0'
         && ua->browser_version.len > 1
         && ua->browser_version.data[1] != '.')
        || ua->browser_version.data[0] == '.'
        || ua->browser_version.data[ua->browser_version.len - 1] == '.')
    {
        snprintf(err, errlen, "version \"%.*s\" is not a JSON number",
                 (int) ngx_min(ua->browser_version.len, 64),
                 ua->browser_version.data);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* an expected value: "-" is none; escapes as in the User-Agent */

static ngx_int_t
ua_test_field(ngx_str_t *got, char *want)
{
    ngx_int_t      rc;
    ua_test_buf_t  b;

    if (strcmp(want, "-") == 0) {
        return got->len == 0 ? NGX_OK : NGX_ERROR;
    }

    if (ua_test_decode((u_char *) want, strlen(want), &b) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = (got->len == b.len && memcmp(got->data, b.data, b.len) == 0)
         ? NGX_OK : NGX_ERROR;

    free(b.data);

    return rc;
}


static int
ua_test_dump(char *file)
{
    FILE                    *f;
    size_t                   n;
    ua_test_buf_t            b;
    ngx_http_mixpanel_ua_t   ua;
    static char              text[4 * UA_TEST_MAX_INPUT];

    f = fopen(file, "r");
    if (f == NULL) {
        perror(file);
        return 2;
    }

    while (fgets(text, sizeof(text), f) != NULL) {
        n = strlen(text);

        if (n && text[n - 1] == '\n') {
            text[--n] = '\0';
        }

        if (ua_test_decode((u_char *) text, n, &b) != NGX_OK) {
            fprintf(stderr, "%s: malformed line\n", file);
            return 2;
        }

        ngx_http_mixpanel_ua_parse(b.data, b.len, &ua);

        ua_test_dump_field(&ua.browser);
        ua_test_dump_field(&ua.browser_version);
        ua_test_dump_field(&ua.os);
        ua_test_dump_field(&ua.device);
        printf("%s\n", ua.bot ? "bot" : "-");

        free(b.data);
    }

    fclose(f);

    return 0;
}


static void
ua_test_dump_field(ngx_str_t *v)
{
    if (v->len == 0) {
        printf("-\t");
        return;
    }

    printf("%.*s\t", (int) v->len, v->data);
}


/* \\ \t \r \n \0 \xHH and \R{count}{text}, text itself escaped */

static ngx_int_t
ua_test_decode(u_char *s, size_t n, ua_test_buf_t *b)
{
    static u_char  buf[UA_TEST_MAX_INPUT];

    b->len = 0;

    if (ua_test_unescape(s, n, buf, sizeof(buf), &b->len) != NGX_OK) {
        return NGX_ERROR;
    }

    b->data = malloc(b->len ? b->len : 1);

    if (b->data == NULL) {
        return NGX_ERROR;
    }

    memcpy(b->data, buf, b->len);

    return NGX_OK;
}


static ngx_int_t
ua_test_unescape(u_char *s, size_t n, u_char *out, size_t size, size_t *len)
{
    u_char  *end, *close, c, text[256];
    size_t   count, tlen, i;

    end = s + n;

    while (s < end) {

        if (*s != '\\') {
            c = *s++;
            goto put;
        }

        if (++s == end) {
            return NGX_ERROR;
        }

        switch (*s++) {

        case '\\':
            c = '\\';
            break;

        case 't':
            c = '\t';
            break;

        case 'r':
            c = '\r';
            break;

        case 'n':
            c = '\n';
            break;

        case '0':
            c = '\0';
            break;

        case 'x':
            if (end - s < 2
                || ua_test_hex(s[0]) < 0 || ua_test_hex(s[1]) < 0)
            {
                return NGX_ERROR;
            }

            c = (u_char) (ua_test_hex(s[0]) * 16 + ua_test_hex(s[1]));
            s += 2;
            break;

        case 'R':
            if (s == end || *s != '{') {
                return NGX_ERROR;
            }

            count = strtoul((char *) s + 1, (char **) &s, 10);

            if (end - s < 3 || s[0] != '}' || s[1] != '{') {
                return NGX_ERROR;
            }

            s += 2;

            close = memchr(s, '}', end - s);
            if (close == NULL) {
                return NGX_ERROR;
            }

            tlen = 0;

            if (ua_test_unescape(s, close - s, text, sizeof(text), &tlen)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            for (i = 0; i < count; i++) {
                if (*len + tlen > size) {
                    return NGX_ERROR;
                }

                memcpy(out + *len, text, tlen);
                *len += tlen;
            }

            s = close + 1;
            continue;

        default:
            return NGX_ERROR;
        }

    put:

        if (*len == size) {
            return NGX_ERROR;
        }

        out[(*len)++] = c;
    }

    return NGX_OK;
}


static int
ua_test_hex(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


static void
ua_test_builtin(void)
{
    char                    err[1024];
    u_char                 *in, *p;
    size_t                  len, i, k;
    ngx_uint_t              n, ok;
    ngx_http_mixpanel_ua_t  ua, ua2;

    static const char  *frag[] = {
        "Chrome/", "CriOS/", "Firefox/", "FxiOS/", "Safari/", "Version/",
        "Edg/", "Edge/", "OPR/", "Opera", "Mini", "SamsungBrowser/",
        "FBIOS", "UCBrowser/", "MSIE ", "Trident/", "rv:", "Gecko",
        "AppleWebKit", "Mobile", "Android", "iPhone", "iPad", "iPod",
        "Windows", "Windows Phone", "WPDesktop", "Mac", "Linux", "CrOS",
        "BlackBerry ", "okhttp/", "curl/", "Dalvik/", "CFNetwork/",
        "Darwin/", "(x86_64)", "iOS", "macOS", "Mozilla/5.0 ", "Opera ",
        "Presto/", "android ", "Konqueror:", "googlebot", "YANDEX",
        "120", ".", "0", "9", " ", ";", "(", ")", "\xff", "\xa0", "\0"
    };

    /* no input at all */

    memset(&ua, 0x5a, sizeof(ngx_http_mixpanel_ua_t));
    ngx_http_mixpanel_ua_parse(NULL, 0, &ua);

    ok = (ua.browser.len == 0 && ua.browser_version.len == 0
          && ua.os.len == 0 && ua.device.len == 0 && ua.bot == 0);
    ua_test_report(ok, "builtin: NULL input gives nothing", "not empty");

    /* what JSON.stringify() writes as null is written as nothing */

    {
        u_char  num[NGX_HTTP_MIXPANEL_NUMBER_LEN];

        ok = (ngx_http_mixpanel_number(num, INFINITY) == 0
              && ngx_http_mixpanel_number(num, -INFINITY) == 0
              && ngx_http_mixpanel_number(num, NAN) == 0
              && ngx_http_mixpanel_number(num, 5e-324) == 6
              && memcmp(num, "5e-324", 6) == 0);
        ua_test_report(ok, "builtin: Infinity and NaN give no number",
                       "written");
    }

    /*
     * Random inputs built of markers, digits and junk, parsed from
     * buffers of their exact length: the invariants hold, the result is
     * the same twice, and the remembered result (ngx_http_mixpanel_ua_get)
     * is the parse.
     */

    in = malloc(UA_TEST_MAX_INPUT);
    if (in == NULL) {
        ua_test_report(0, "builtin: fuzz", "no memory");
        return;
    }

    ok = 1;

    for (n = 0; ok && n < UA_TEST_FUZZ; n++) {

        len = ua_test_random() % 700;
        i = 0;

        /* half of them look like browsers, whose rules then apply */

        if (len >= 12 && ua_test_random() % 2) {
            memcpy(in, "Mozilla/5.0 ", 12);
            i = 12;
        }

        while (i < len) {

            if (ua_test_random() % 3) {
                k = ua_test_random() % (sizeof(frag) / sizeof(frag[0]));

                if (frag[k][0] == '\0') {
                    in[i++] = '\0';
                    continue;
                }

                for (p = (u_char *) frag[k]; *p && i < len; p++) {
                    in[i++] = *p;
                }

            } else {
                in[i++] = (u_char) ua_test_random();
            }
        }

        p = malloc(len ? len : 1);
        if (p == NULL) {
            ok = 0;
            snprintf(err, sizeof(err), "no memory");
            break;
        }

        memcpy(p, in, len);

        ngx_http_mixpanel_ua_parse(p, len, &ua);

        if (ua_test_check(&ua, p, len, err, sizeof(err)) != NGX_OK) {
            ok = 0;
        }

        ngx_http_mixpanel_ua_parse(p, len, &ua2);

        if (ok && memcmp(&ua, &ua2, sizeof(ngx_http_mixpanel_ua_t)) != 0) {
            ok = 0;
            snprintf(err, sizeof(err), "two parses differ");
        }

        if (ok) {
            ngx_http_mixpanel_ua_get(p, len, &ua2);
            ngx_http_mixpanel_ua_get(p, len, &ua2);

            if (!ua_test_same(&ua, &ua2)) {
                ok = 0;
                snprintf(err, sizeof(err), "the remembered result differs");
            }
        }

        if (!ok) {
            ua_test_printable(err + strlen(err), sizeof(err) - strlen(err),
                              p, len);
        }

        free(p);
    }

    free(in);

    ua_test_report(ok, "builtin: 200000 random inputs keep the invariants",
                   err);
}


static ngx_uint_t
ua_test_same(ngx_http_mixpanel_ua_t *a, ngx_http_mixpanel_ua_t *b)
{
    return a->bot == b->bot
           && ua_test_same_str(&a->browser, &b->browser)
           && ua_test_same_str(&a->browser_version, &b->browser_version)
           && ua_test_same_str(&a->os, &b->os)
           && ua_test_same_str(&a->device, &b->device);
}


static ngx_uint_t
ua_test_same_str(ngx_str_t *a, ngx_str_t *b)
{
    return a->len == b->len
           && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}


static void
ua_test_report(ngx_uint_t ok, const char *desc, const char *err)
{
    if (ok) {
        printf("ok\t%s\n", desc);

    } else {
        ua_test_failed++;
        printf("not ok\t%s\t%s\n", desc, err);
    }
}


static void
ua_test_printable(char *dst, size_t size, u_char *src, size_t len)
{
    size_t  i, n;

    for (i = 0, n = 0; i < len && n + 5 < size; i++) {

        if (i == 64) {
            n += snprintf(dst + n, size - n, "...[%lu]", (unsigned long) len);
            break;
        }

        if (src[i] >= 0x20 && src[i] < 0x7f && src[i] != '\\') {
            dst[n++] = src[i];

        } else {
            n += snprintf(dst + n, size - n, "\\x%02x", src[i]);
        }
    }

    dst[ngx_min(n, size - 1)] = '\0';
}


/* xorshift32: the same inputs on every run */

/*
 * What the cache takes from nginx, which is not linked: a hash (any will
 * do), and pools, which the parser's callers never give it.
 */

void *
ngx_pnalloc(ngx_pool_t *pool, size_t size)
{
    return NULL;
}



uint32_t
ngx_murmur_hash2(u_char *data, size_t len)
{
    uint32_t  h;

    h = 2166136261u;

    while (len--) {
        h = (h ^ *data++) * 16777619u;
    }

    return h;
}


static uint32_t
ua_test_random(void)
{
    ua_test_seed ^= ua_test_seed << 13;
    ua_test_seed ^= ua_test_seed >> 17;
    ua_test_seed ^= ua_test_seed << 5;

    return ua_test_seed;
}
