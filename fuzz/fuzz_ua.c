
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * The User-Agent parser: any header value.  Names are the parser's own
 * constants; the version is a JSON number without a sign: a substring of
 * the input without an exponent, or, past 17 significant digits, the
 * parser's rendering of the double, at most 17 digits and an exponent.
 */


#include "ngx_mixpanel_fuzz.h"
#include <jansson.h>
#include "../ngx_mixpanel_module/ngx_http_mixpanel_ua.c"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                  *input;
    json_t                  *json;
    ngx_str_t                in, *v;
    ngx_uint_t               inside;
    json_error_t             err;
    ngx_http_mixpanel_ua_t   ua;

    ngx_mixpanel_fuzz_init();

    in.data = (u_char *) data;
    in.len = size;
    input = ngx_mixpanel_fuzz_copy(&in);

    ngx_http_mixpanel_ua_parse(input, size, &ua);

    v = &ua.browser_version;

    if (v->len) {
        inside = (v->data >= input && v->data + v->len <= input + size);

        if (ua.browser.len == 0 || (!inside && v->len > 24)) {
            abort();
        }

        json = json_loadb((char *) v->data, v->len, JSON_DECODE_ANY, &err);

        if (json == NULL || !json_is_number(json)
            || v->data[0] == '-'
            || (inside && ngx_strlchr(v->data, v->data + v->len, 'e')
                          != NULL))
        {
            fprintf(stderr, "bad version \"%.*s\"\n", (int) v->len, v->data);
            abort();
        }

        json_decref(json);
    }

    free(input);

    return 0;
}
