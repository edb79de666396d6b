
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * The lean JSON writer: the input is "name\xff" then values separated by
 * "\xff", each prefixed with a type byte.  The event built from them must
 * be valid JSON (jansson), with every string from the writer at most 255
 * bytes of valid UTF-8, and the key rendered by json_key must round-trip.
 */


#include "ngx_mixpanel_fuzz.h"
#include "../ngx_mixpanel_module/ngx_http_mixpanel_event.c"


/* jansson has checked the UTF-8 when it loaded the event */

static void
ngx_mixpanel_fuzz_check_string(json_t *s)
{
    size_t  len;

    len = json_string_length(s);

    if (len > NGX_HTTP_MIXPANEL_MAX_STRING) {
        fprintf(stderr, "string of %zu bytes\n", len);
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                   *input, *p, *last;
    size_t                    i;
    json_t                   *json, *v, *item;
    ngx_str_t                 chunk, name, key, value, keys[6];
    ngx_uint_t                type, types[6], n;
    ngx_pool_t               *pool;
    const char               *k;
    json_error_t              err;
    ngx_http_mixpanel_buf_t   b;

    ngx_mixpanel_fuzz_init();

    chunk.data = (u_char *) data;
    chunk.len = size;
    input = ngx_mixpanel_fuzz_copy(&chunk);

    p = input;
    last = input + size;

    pool = ngx_mixpanel_fuzz_pool();

    ngx_memzero(&b, sizeof(ngx_http_mixpanel_buf_t));

    /* the configured name, rendered once as ,"name": */

    (void) ngx_mixpanel_fuzz_next(&p, last, 0xff, &name);

    /* a name comes from nginx.conf, which cannot hold a NUL */

    for (i = 0; i < name.len; i++) {
        if (name.data[i] == '\0') {
            name.data[i] = '0';
        }
    }

    if (ngx_http_mixpanel_json_key(&key, pool, &name) != NGX_OK) {
        abort();
    }

    if (ngx_http_mixpanel_buf_append(&b, (u_char *) "{\"k\":0", 6) != NGX_OK
        || ngx_http_mixpanel_buf_append(&b, key.data, key.len) != NGX_OK
        || ngx_http_mixpanel_buf_append(&b, (u_char *) "0", 1) != NGX_OK)
    {
        abort();
    }

    /* the key alone must make a valid member */

    if (ngx_http_mixpanel_buf_append(&b, (u_char *) "}", 1) != NGX_OK) {
        abort();
    }

    json = json_loadb((char *) b.start, b.pos - b.start, JSON_ALLOW_NUL,
                      &err);
    if (json == NULL) {
        fprintf(stderr, "invalid key JSON: %s: %.*s\n", err.text,
                (int) (b.pos - b.start), b.start);
        abort();
    }

    json_decref(json);

    b.pos = b.start;

    if (ngx_http_mixpanel_buf_append(&b, (u_char *) "{\"time\":1", 9)
        != NGX_OK)
    {
        abort();
    }

    n = 0;

    while (n < 6 && ngx_mixpanel_fuzz_next(&p, last, 0xff, &chunk) == NGX_OK)
    {
        if (chunk.len == 0) {
            continue;
        }

        type = chunk.data[0] % 6;
        value.data = chunk.data + 1;
        value.len = chunk.len - 1;

        keys[n].data = ngx_pnalloc(pool, 16);
        if (keys[n].data == NULL) {
            abort();
        }

        keys[n].len = ngx_sprintf(keys[n].data, ",\"p%ui\":", n)
                      - keys[n].data;
        types[n] = type;

        if (type == 5) {
            /* a bare string, as the identity code writes them */

            if (ngx_http_mixpanel_json_string_prop(&b, &keys[n], value.data,
                                                   value.len)
                != NGX_OK)
            {
                abort();
            }

        } else if (ngx_http_mixpanel_json_prop(&b, &keys[n], type, &value,
                                               &ngx_mixpanel_fuzz_log)
                   != NGX_OK)
        {
            abort();
        }

        n++;
    }

    if (ngx_http_mixpanel_buf_append(&b, (u_char *) "}", 1) != NGX_OK) {
        abort();
    }

    /* numbers as reals: Mixpanel takes integers beyond 64 bits as such */

    json = json_loadb((char *) b.start, b.pos - b.start,
                      JSON_REJECT_DUPLICATES|JSON_ALLOW_NUL
                      |JSON_DECODE_INT_AS_REAL, &err);

    if (json == NULL) {
        fprintf(stderr, "invalid event JSON: %s: %.*s\n", err.text,
                (int) (b.pos - b.start), b.start);
        abort();
    }

    if (json_object_size(json) > NGX_HTTP_MIXPANEL_MAX_PROPS + 1) {
        abort();
    }

    json_object_foreach(json, k, v) {

        if (k[0] != 'p') {
            continue;
        }

        i = ngx_atoi((u_char *) k + 1, ngx_strlen(k + 1));
        if (i >= n) {
            abort();
        }

        switch (types[i]) {

        case NGX_HTTP_MIXPANEL_STRING:
        case 5:
            if (!json_is_string(v)) {
                abort();
            }

            ngx_mixpanel_fuzz_check_string(v);
            break;

        case NGX_HTTP_MIXPANEL_NUMBER:
            if (!json_is_number(v)) {
                abort();
            }

            break;

        case NGX_HTTP_MIXPANEL_BOOLEAN:
            if (!json_is_boolean(v)) {
                abort();
            }

            break;

        case NGX_HTTP_MIXPANEL_LIST:
            if (!json_is_array(v)) {
                abort();
            }

            for (i = 0; i < json_array_size(v); i++) {
                item = json_array_get(v, i);

                if (!json_is_string(item) || json_string_length(item) == 0) {
                    abort();
                }

                ngx_mixpanel_fuzz_check_string(item);
            }

            break;

        default: /* NGX_HTTP_MIXPANEL_JSON, taken as the operator gave it */
            break;
        }
    }

    json_decref(json);

    free(b.start);
    free(input);
    ngx_destroy_pool(pool);

    return 0;
}
