
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * The spool file parsers: any file content, through the header parser
 * and, when it accepts the header, the records parser (a record a line,
 * or an earlier version's JSON array).  What they accept must lie within
 * the file: a token of 1 to 255 bytes, as many records as the header
 * counts, each a JSON object of the file, a people update's "$set" made
 * "$set_once".
 */


#include "ngx_mixpanel_fuzz.h"
#include "../ngx_mixpanel_module/ngx_http_mixpanel_spool.c"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                       *input, *last, *nl;
    ngx_str_t                     in;
    ngx_uint_t                    n;
    ngx_http_mixpanel_record_t   *rec;
    ngx_http_mixpanel_spooled_t   f;

    ngx_mixpanel_fuzz_init();

    if (size == 0) {
        /* spool_read() never passes an empty file */
        return 0;
    }

    in.data = (u_char *) data;
    in.len = size;
    input = ngx_mixpanel_fuzz_copy(&in);
    last = input + size;

    ngx_memzero(&f, sizeof(ngx_http_mixpanel_spooled_t));
    f.fd = -1;

    nl = ngx_strlchr(input, last, '\n');

    if (nl == NULL || ngx_http_mixpanel_spool_header(input, nl, &f) != NGX_OK)
    {
        free(input);
        return 0;
    }

    if (f.token_len == 0 || f.token_len > NGX_HTTP_MIXPANEL_TOKEN_MAX
        || f.count == 0
        || (f.kind != NGX_HTTP_MIXPANEL_RECORD_EVENT
            && f.kind != NGX_HTTP_MIXPANEL_RECORD_ENGAGE))
    {
        abort();
    }

    if (ngx_http_mixpanel_spool_records(nl + 1, last, &f) == NGX_OK) {
        n = 0;

        for (rec = f.records; rec; rec = rec->next) {
            n++;

            if (rec->len < 2 || rec->len > size + 5
                || rec->data[0] != '{' || rec->data[rec->len - 1] != '}'
                || rec->kind != f.kind || rec->token_len != f.token_len
                || ngx_memcmp(rec->token, f.token, f.token_len) != 0
                || rec->token[rec->token_len] != '\0')
            {
                abort();
            }
        }

        if (n != f.count) {
            abort();
        }
    }

    ngx_http_mixpanel_spool_free(&f);
    free(input);

    return 0;
}
