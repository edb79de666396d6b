
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


#include "ngx_http_mixpanel_module.h"


void
ngx_http_mixpanel_ua_parse(u_char *ua, size_t len, ngx_http_mixpanel_ua_t *out)
{
    ngx_memzero(out, sizeof(ngx_http_mixpanel_ua_t));
}
