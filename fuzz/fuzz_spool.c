
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * The spool file header parser: any file content.  What it accepts must
 * lie within the file, with a token of 1 to 128 bytes and a record count.
 */


#include "ngx_mixpanel_fuzz.h"
#include "../ngx_mixpanel_module/ngx_http_mixpanel_spool.c"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                       *input, *last;
    ngx_str_t                     in;
    ngx_http_mixpanel_spooled_t   sp;

    ngx_mixpanel_fuzz_init();

    if (size == 0) {
        /* spool_read() never passes an empty file */
        return 0;
    }

    in.data = (u_char *) data;
    in.len = size;
    input = ngx_mixpanel_fuzz_copy(&in);
    last = input + size;

    ngx_memzero(&sp, sizeof(ngx_http_mixpanel_spooled_t));

    if (ngx_http_mixpanel_spool_parse(input, size, &sp) == NGX_OK) {

        if (sp.data != input
            || sp.token < input || sp.token + sp.token_len > last
            || sp.token_len == 0 || sp.token_len > 128
            || sp.body < input || sp.body + sp.len > last
            || sp.count == 0
            || (sp.kind != NGX_HTTP_MIXPANEL_RECORD_EVENT
                && sp.kind != NGX_HTTP_MIXPANEL_RECORD_ENGAGE))
        {
            abort();
        }
    }

    free(input);

    return 0;
}
