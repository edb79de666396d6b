
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * The default properties of an event: those of the request (method,
 * status, route, path, duration) and those a client SDK would add
 * (browser, OS and device from the User-Agent, campaign parameters, the
 * referrer).
 */


#include "ngx_http_mixpanel_module.h"


static void ngx_http_mixpanel_user_agent(u_char *data, size_t len,
    ngx_http_mixpanel_ua_t *ua);
static void ngx_http_mixpanel_utm_args(ngx_http_request_t *r,
    ngx_str_t *values);


#define ngx_http_mixpanel_key(name)  ngx_string(",\"" name "\":")


typedef struct {
    ngx_str_t                     name;
    ngx_str_t                     key;
} ngx_http_mixpanel_utm_t;


#define NGX_HTTP_MIXPANEL_UTM  5

static ngx_http_mixpanel_utm_t  ngx_http_mixpanel_utm[] = {
    { ngx_string("utm_source"), ngx_http_mixpanel_key("utm_source") },
    { ngx_string("utm_medium"), ngx_http_mixpanel_key("utm_medium") },
    { ngx_string("utm_campaign"), ngx_http_mixpanel_key("utm_campaign") },
    { ngx_string("utm_term"), ngx_http_mixpanel_key("utm_term") },
    { ngx_string("utm_content"), ngx_http_mixpanel_key("utm_content") }
};

static ngx_str_t  ngx_http_mixpanel_key_method =
    ngx_http_mixpanel_key("http_method");
static ngx_str_t  ngx_http_mixpanel_key_status =
    ngx_http_mixpanel_key("http_status");
static ngx_str_t  ngx_http_mixpanel_key_route =
    ngx_http_mixpanel_key("http_route");
static ngx_str_t  ngx_http_mixpanel_key_path =
    ngx_http_mixpanel_key("http_path");
static ngx_str_t  ngx_http_mixpanel_key_duration =
    ngx_http_mixpanel_key("duration_ms");
static ngx_str_t  ngx_http_mixpanel_key_browser =
    ngx_http_mixpanel_key("$browser");
static ngx_str_t  ngx_http_mixpanel_key_browser_version =
    ngx_http_mixpanel_key("$browser_version");
static ngx_str_t  ngx_http_mixpanel_key_os = ngx_http_mixpanel_key("$os");
static ngx_str_t  ngx_http_mixpanel_key_device =
    ngx_http_mixpanel_key("$device");
static ngx_str_t  ngx_http_mixpanel_key_referrer =
    ngx_http_mixpanel_key("$referrer");
static ngx_str_t  ngx_http_mixpanel_key_referring_domain =
    ngx_http_mixpanel_key("$referring_domain");


/* parsed User-Agents: 1024 of up to 768 bytes, at most 1 MB */

static ngx_http_mixpanel_cache_t    ngx_http_mixpanel_ua_cache =
    ngx_http_mixpanel_cache(1024, 768, 128);


void
ngx_http_mixpanel_props_exit(void)
{
    ngx_http_mixpanel_cache_empty(&ngx_http_mixpanel_ua_cache);
}


ngx_int_t
ngx_http_mixpanel_request_props(ngx_http_request_t *r,
    ngx_http_mixpanel_loc_conf_t *conf, ngx_http_mixpanel_buf_t *b)
{
    u_char      *p, *last;
    ngx_int_t    status;
    ngx_msec_t   ms;
    ngx_time_t  *tp;

    if (r->err_status) {
        status = r->err_status;

    } else if (r->headers_out.status) {
        status = r->headers_out.status;

    } else if (r->http_version == NGX_HTTP_VERSION_9) {
        status = 9;

    } else {
        status = 0;
    }

    tp = ngx_timeofday();
    ms = (ngx_msec_t) ((tp->sec - r->start_sec) * 1000
                       + (tp->msec - r->start_msec));

    p = r->unparsed_uri.data;
    last = p + r->unparsed_uri.len;

    if (p) {
        last = ngx_strlchr(p, last, '?');
        if (last == NULL) {
            last = p + r->unparsed_uri.len;
        }
    }

    if (ngx_http_mixpanel_json_string_prop(b, &ngx_http_mixpanel_key_method,
                                           r->method_name.data,
                                           r->method_name.len)
        != NGX_OK
        || ngx_http_mixpanel_json_number_prop(b,
                                              &ngx_http_mixpanel_key_status,
                                              status)
           != NGX_OK
        || ngx_http_mixpanel_json_string_prop(b,
                                              &ngx_http_mixpanel_key_route,
                                              conf->route.data,
                                              conf->route.len)
           != NGX_OK
        || ngx_http_mixpanel_json_string_prop(b, &ngx_http_mixpanel_key_path,
                                              p, last - p)
           != NGX_OK
        || ngx_http_mixpanel_json_number_prop(b,
                                              &ngx_http_mixpanel_key_duration,
                                              (int64_t) ms)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* what a client SDK would add: browser, OS, device, UTM and referrer */

ngx_int_t
ngx_http_mixpanel_client_props(ngx_http_request_t *r,
    ngx_http_mixpanel_buf_t *b)
{
    u_char                  *p, *last, *dst, *src;
    size_t                   len;
    ngx_str_t                utm[NGX_HTTP_MIXPANEL_UTM], *key;
    ngx_uint_t               i;
    ngx_table_elt_t         *h;
    ngx_http_mixpanel_ua_t   ua;

    h = r->headers_in.user_agent;

    if (h) {
        ngx_http_mixpanel_user_agent(h->value.data, h->value.len, &ua);

        if (ngx_http_mixpanel_json_string_prop(b,
                                               &ngx_http_mixpanel_key_browser,
                                               ua.browser.data,
                                               ua.browser.len)
            != NGX_OK
            || ngx_http_mixpanel_json_prop(b,
                                        &ngx_http_mixpanel_key_browser_version,
                                        NGX_HTTP_MIXPANEL_NUMBER,
                                        &ua.browser_version,
                                        r->connection->log)
               != NGX_OK
            || ngx_http_mixpanel_json_string_prop(b,
                                                  &ngx_http_mixpanel_key_os,
                                                  ua.os.data, ua.os.len)
               != NGX_OK
            || ngx_http_mixpanel_json_string_prop(b,
                                                &ngx_http_mixpanel_key_device,
                                                ua.device.data,
                                                ua.device.len)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (r->args.len > sizeof("utm_") - 1
        && ngx_strlcasestrn(r->args.data, r->args.data + r->args.len,
                            (u_char *) "utm_", sizeof("utm_") - 2)
           != NULL)
    {
        ngx_http_mixpanel_utm_args(r, utm);

        for (i = 0; i < NGX_HTTP_MIXPANEL_UTM; i++) {
            if (utm[i].len == 0) {
                continue;
            }

            len = ngx_min(utm[i].len, 1024);

            dst = ngx_pnalloc(r->pool, len);
            if (dst == NULL) {
                return NGX_ERROR;
            }

            p = dst;
            src = utm[i].data;
            ngx_unescape_uri(&dst, &src, len, NGX_UNESCAPE_URI);

            key = &ngx_http_mixpanel_utm[i].key;

            if (ngx_http_mixpanel_json_string_prop(b, key, p, dst - p)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    h = r->headers_in.referer;

    if (h && h->value.len) {
        if (ngx_http_mixpanel_json_string_prop(b,
                                              &ngx_http_mixpanel_key_referrer,
                                              h->value.data, h->value.len)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        p = h->value.data;
        last = p + h->value.len;

        p = ngx_strlcasestrn(p, last, (u_char *) "://", 3 - 1);

        if (p) {
            p += 3;

            for (dst = p; dst < last; dst++) {
                if (*dst == '/' || *dst == '?' || *dst == '#'
                    || *dst == ':')
                {
                    break;
                }
            }

            src = ngx_strlchr(p, dst, '@');
            if (src) {
                p = src + 1;
            }

            if (ngx_http_mixpanel_json_string_prop(b,
                                      &ngx_http_mixpanel_key_referring_domain,
                                      p, dst - p)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


/*
 * The utm_* arguments in one pass over the query string, as ngx_http_arg()
 * would find them: the first "name=value" of each name, names compared
 * without case.
 */

static void
ngx_http_mixpanel_utm_args(ngx_http_request_t *r, ngx_str_t *values)
{
    u_char      *p, *last, *name, *eq, *amp;
    size_t       len;
    ngx_uint_t   i, found;

    ngx_memzero(values, NGX_HTTP_MIXPANEL_UTM * sizeof(ngx_str_t));

    found = 0;
    p = r->args.data;
    last = p + r->args.len;

    while (p < last) {
        name = p;

        amp = ngx_strlchr(p, last, '&');
        if (amp == NULL) {
            amp = last;
        }

        p = amp + 1;

        eq = ngx_strlchr(name, amp, '=');

        if (eq == NULL
            || eq - name < (ssize_t) (sizeof("utm_") - 1)
            || ngx_strncasecmp(name, (u_char *) "utm_", sizeof("utm_") - 1)
               != 0)
        {
            continue;
        }

        len = eq - name;

        for (i = 0; i < NGX_HTTP_MIXPANEL_UTM; i++) {
            if (found & (1 << i)
                || ngx_http_mixpanel_utm[i].name.len != len
                || ngx_strncasecmp(name, ngx_http_mixpanel_utm[i].name.data,
                                   len)
                   != 0)
            {
                continue;
            }

            found |= 1 << i;
            values[i].data = eq + 1;
            values[i].len = amp - eq - 1;
            break;
        }
    }
}


/*
 * A worker sees the same few User-Agent strings over and over: results
 * are remembered (ngx_http_mixpanel_cache.c); the values are good until
 * the next call.
 */

static void
ngx_http_mixpanel_user_agent(u_char *data, size_t len,
    ngx_http_mixpanel_ua_t *ua)
{
    ngx_str_t  v[4];

    if (ngx_http_mixpanel_cache_get(&ngx_http_mixpanel_ua_cache, 0, data, len,
                                    v, 4, NULL)
        == NGX_OK)
    {
        ua->browser = v[0];
        ua->browser_version = v[1];
        ua->os = v[2];
        ua->device = v[3];
        return;
    }

    ngx_http_mixpanel_ua_parse(data, len, ua);

    v[0] = ua->browser;
    v[1] = ua->browser_version;
    v[2] = ua->os;
    v[3] = ua->device;

    ngx_http_mixpanel_cache_put(&ngx_http_mixpanel_ua_cache, 0, data, len,
                                v, 4);
}
