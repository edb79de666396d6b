
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * JSON pointer extraction: the input is a pointer, "\n", then a JSON
 * document.  The pointer is parsed as mixpanel_json_set does at
 * configuration time, then looked up with two fixed ones; the document
 * is also read as a JWKS.
 */


#include "ngx_mixpanel_fuzz.h"
#include "../ngx_mixpanel_module/ngx_http_mixpanel_json.c"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char       *input, *p, *last;
    ngx_str_t     in, pointer, doc, values[3], fixed,
                  error;
    ngx_uint_t    i;
    ngx_conf_t   *cf;
    ngx_pool_t   *pool;
    ngx_array_t   paths, *path, keys;

    ngx_mixpanel_fuzz_init();

    in.data = (u_char *) data;
    in.len = size;
    input = ngx_mixpanel_fuzz_copy(&in);

    p = input;
    last = input + size;

    (void) ngx_mixpanel_fuzz_next(&p, last, '\n', &pointer);

    doc.data = (p <= last) ? p : last;
    doc.len = last - doc.data;

    pool = ngx_mixpanel_fuzz_pool();
    cf = ngx_mixpanel_fuzz_conf(pool);

    if (ngx_array_init(&paths, pool, 3, sizeof(ngx_array_t)) != NGX_OK) {
        abort();
    }

    path = ngx_array_push(&paths);
    if (path == NULL) {
        abort();
    }

    if (ngx_http_mixpanel_json_pointer(cf, &pointer, path) != NGX_OK) {
        paths.nelts = 0;
    }

    ngx_str_set(&fixed, "/a/0/b");

    path = ngx_array_push(&paths);
    if (path == NULL || ngx_http_mixpanel_json_pointer(cf, &fixed, path)
                        != NGX_OK)
    {
        abort();
    }

    ngx_str_set(&fixed, "/user/id");

    path = ngx_array_push(&paths);
    if (path == NULL || ngx_http_mixpanel_json_pointer(cf, &fixed, path)
                        != NGX_OK)
    {
        abort();
    }

    ngx_memzero(values, sizeof(values));

    if (ngx_http_mixpanel_json_values(pool, doc.data, doc.len, &paths,
                                      values)
        == NGX_ERROR)
    {
        abort();
    }

    for (i = 0; i < paths.nelts; i++) {
        if (values[i].len && values[i].data == NULL) {
            abort();
        }
    }

    if (ngx_array_init(&keys, pool, 2, sizeof(ngx_str_t)) != NGX_OK
        || ngx_http_mixpanel_json_jwks(pool, doc.data, doc.len, &keys,
                                       &error)
           == NGX_ERROR)
    {
        abort();
    }

    free(input);
    ngx_destroy_pool(pool);

    return 0;
}
