
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


static ngx_int_t ngx_http_mixpanel_marketing_props(
    ngx_http_mixpanel_buf_t *b, ngx_str_t *url);
static size_t ngx_http_mixpanel_param_value(u_char *dst, size_t size,
    u_char *src, size_t len);
static ngx_uint_t ngx_http_mixpanel_uri_component(u_char *p, u_char *last);
static ngx_int_t ngx_http_mixpanel_referer_props(ngx_http_request_t *r,
    ngx_http_mixpanel_buf_t *b, ngx_uint_t nav);
static ngx_int_t ngx_http_mixpanel_page_url(ngx_http_request_t *r,
    ngx_http_mixpanel_buf_t *b);
static ngx_int_t ngx_http_mixpanel_search_props(ngx_http_mixpanel_buf_t *b,
    ngx_str_t *referer);
static ngx_uint_t ngx_http_mixpanel_is_navigation(ngx_http_request_t *r);


/* what Sec-Fetch-Mode says of a request */

#define NGX_HTTP_MIXPANEL_NAV_CALL      0   /* a call a page makes */
#define NGX_HTTP_MIXPANEL_NAV_UNKNOWN   1   /* none: taken for a navigation */
#define NGX_HTTP_MIXPANEL_NAV_NAVIGATE  2   /* "navigate" */


#define ngx_http_mixpanel_key(name)  ngx_string(",\"" name "\":")


typedef struct {
    ngx_str_t                     name;
    ngx_str_t                     key;
} ngx_http_mixpanel_param_t;


#define ngx_http_mixpanel_param(name)                                         \
    { ngx_string(name), ngx_http_mixpanel_key(name) }


/*
 * mixpanel-browser's CAMPAIGN_KEYWORDS and CLICK_IDS, in its order: every
 * event it tracks carries those of the page's URL (_.info.campaignParams(),
 * clickParams()).
 */

#define NGX_HTTP_MIXPANEL_PARAMS  20

static ngx_http_mixpanel_param_t  ngx_http_mixpanel_params[] = {
    ngx_http_mixpanel_param("utm_source"),
    ngx_http_mixpanel_param("utm_medium"),
    ngx_http_mixpanel_param("utm_campaign"),
    ngx_http_mixpanel_param("utm_content"),
    ngx_http_mixpanel_param("utm_term"),
    ngx_http_mixpanel_param("utm_id"),
    ngx_http_mixpanel_param("utm_source_platform"),
    ngx_http_mixpanel_param("utm_campaign_id"),
    ngx_http_mixpanel_param("utm_creative_format"),
    ngx_http_mixpanel_param("utm_marketing_tactic"),
    ngx_http_mixpanel_param("dclid"),
    ngx_http_mixpanel_param("fbclid"),
    ngx_http_mixpanel_param("gclid"),
    ngx_http_mixpanel_param("ko_click_id"),
    ngx_http_mixpanel_param("li_fat_id"),
    ngx_http_mixpanel_param("msclkid"),
    ngx_http_mixpanel_param("sccid"),
    ngx_http_mixpanel_param("ttclid"),
    ngx_http_mixpanel_param("twclid"),
    ngx_http_mixpanel_param("wbraid")
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
static ngx_str_t  ngx_http_mixpanel_key_current_url =
    ngx_http_mixpanel_key("$current_url");
static ngx_str_t  ngx_http_mixpanel_key_search_engine =
    ngx_http_mixpanel_key("$search_engine");
static ngx_str_t  ngx_http_mixpanel_key_keyword =
    ngx_http_mixpanel_key("mp_keyword");


/*
 * mixpanel-browser's _.info.searchEngine(): the Referer is matched against
 * 'https?://(.*)WORD.TAIL' from its first byte ('.' any character)
 */

typedef struct {
    ngx_str_t                     name;
    ngx_str_t                     word;
    ngx_str_t                     tail;
    u_char                        param;
} ngx_http_mixpanel_engine_t;


static ngx_http_mixpanel_engine_t  ngx_http_mixpanel_engines[] = {
    { ngx_string("google"), ngx_string("google"), ngx_null_string, 'q' },
    { ngx_string("bing"), ngx_string("bing"), ngx_string("com"), 'q' },
    { ngx_string("yahoo"), ngx_string("yahoo"), ngx_string("com"), 'p' },
    { ngx_string("duckduckgo"), ngx_string("duckduckgo"), ngx_string("com"),
      'q' },
    { ngx_null_string, ngx_null_string, ngx_null_string, 0 }
};


/*
 * Which default properties a name is, for nginx -t: a property of the same
 * name would be a second key in the event's JSON.
 */

ngx_uint_t
ngx_http_mixpanel_props_group(ngx_str_t *name)
{
    ngx_str_t   **k;
    ngx_uint_t    i;

    static ngx_str_t  *request[] = {
        &ngx_http_mixpanel_key_method, &ngx_http_mixpanel_key_status,
        &ngx_http_mixpanel_key_route, &ngx_http_mixpanel_key_path,
        &ngx_http_mixpanel_key_duration, NULL
    };

    static ngx_str_t  *client[] = {
        &ngx_http_mixpanel_key_browser,
        &ngx_http_mixpanel_key_browser_version, &ngx_http_mixpanel_key_os,
        &ngx_http_mixpanel_key_device, &ngx_http_mixpanel_key_referrer,
        &ngx_http_mixpanel_key_referring_domain,
        &ngx_http_mixpanel_key_current_url,
        &ngx_http_mixpanel_key_search_engine, &ngx_http_mixpanel_key_keyword,
        NULL
    };

    /* a key is ,"name": */

    for (k = request; *k; k++) {
        if ((*k)->len - 4 == name->len
            && ngx_strncmp((*k)->data + 2, name->data, name->len) == 0)
        {
            return NGX_HTTP_MIXPANEL_PROPS_REQUEST;
        }
    }

    for (k = client; *k; k++) {
        if ((*k)->len - 4 == name->len
            && ngx_strncmp((*k)->data + 2, name->data, name->len) == 0)
        {
            return NGX_HTTP_MIXPANEL_PROPS_CLIENT;
        }
    }

    for (i = 0; i < NGX_HTTP_MIXPANEL_PARAMS; i++) {
        if (ngx_http_mixpanel_params[i].name.len == name->len
            && ngx_strncmp(ngx_http_mixpanel_params[i].name.data, name->data,
                           name->len)
               == 0)
        {
            return NGX_HTTP_MIXPANEL_PROPS_CLIENT;
        }
    }

    return NGX_HTTP_MIXPANEL_PROPS_NONE;
}


void
ngx_http_mixpanel_props_exit(void)
{
    ngx_http_mixpanel_ua_exit();
}


ngx_int_t
ngx_http_mixpanel_request_props(ngx_http_request_t *r,
    ngx_http_mixpanel_loc_conf_t *conf, ngx_http_mixpanel_buf_t *b)
{
    u_char          *p, *last;
    ngx_int_t        status;
    ngx_time_t      *tp;
    ngx_msec_int_t   ms;

    if (r->err_status) {
        status = r->err_status;

    } else if (r->headers_out.status) {
        status = r->headers_out.status;

    } else if (r->http_version == NGX_HTTP_VERSION_9) {
        status = 9;

    } else {
        status = 0;
    }

    /* as $request_time: the wall clock set back gives 0, not minus */

    tp = ngx_timeofday();
    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));
    ms = ngx_max(ms, 0);

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


/*
 * What a client SDK would add: browser, OS and device from the User-Agent,
 * the campaign keys and click ids of the URL, and the referrer; each as
 * mixpanel-browser computes it (docs/properties.md).
 */

ngx_int_t
ngx_http_mixpanel_client_props(ngx_http_request_t *r,
    ngx_http_mixpanel_buf_t *b)
{
    ngx_uint_t               n, nav, page;
    ngx_table_elt_t         *h;
    ngx_http_mixpanel_ua_t   ua;

    if (ngx_http_mixpanel_ua_request(r, &ua)) {

        /*
         * the four as the User-Agent cache wrote them; at most 17
         * properties come before them, far from Mixpanel's limit
         */

        if (b->nprops + ua.nprops <= NGX_HTTP_MIXPANEL_MAX_PROPS) {
            if (ngx_http_mixpanel_buf_append(b, ua.json.data, ua.json.len)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            b->nprops += ua.nprops;
        }
    }

    /*
     * the campaign keys and click ids of the request's query string; a
     * call a page makes (fetch, XHR) with none of its own carries the
     * page's URL in its Referer: the SDK's document.URL, where it reads
     * them for every event the page tracks
     */

    h = r->headers_in.referer;

    nav = ngx_http_mixpanel_is_navigation(r);

    page = (h != NULL && h->value.len && nav == NGX_HTTP_MIXPANEL_NAV_CALL);

    n = b->nprops;

    if (ngx_http_mixpanel_marketing_props(b, &r->unparsed_uri) != NGX_OK) {
        return NGX_ERROR;
    }

    if (page && b->nprops == n
        && ngx_http_mixpanel_marketing_props(b, &h->value) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_mixpanel_referer_props(r, b, nav);
}


/*
 * _.getQueryParam(document.URL, name) for each of the 20 names, in one
 * pass over a URL (the request's URI as the client sent it, or the
 * Referer of a call a page made): the SDK's expression
 * [?&]name=([^&#]*) finds the first "name=" right after a '?' or a '&'
 * anywhere in the URL, names compared with case, and takes the value up
 * to the next '&' or '#'.  An empty value is left out, as the SDK does;
 * the SDK does not look further for another.
 */

static ngx_int_t
ngx_http_mixpanel_marketing_props(ngx_http_mixpanel_buf_t *b, ngx_str_t *url)
{
    u_char                     *p, *q, *last, *v,
                                buf[NGX_HTTP_MIXPANEL_MAX_STRING + 4];
    size_t                      len;
    uint32_t                    found;
    ngx_str_t                   values[NGX_HTTP_MIXPANEL_PARAMS];
    ngx_uint_t                  i;
    ngx_http_mixpanel_param_t  *prm;

    p = url->data;

    if (p == NULL) {
        return NGX_OK;
    }

    last = p + url->len;
    found = 0;

    for ( /* void */ ; p < last; p++) {

        if (*p != '?' && *p != '&') {
            continue;
        }

        q = p + 1;

        /* a '?' or '&' that ends the URI: no byte of a name follows */

        if (q == last) {
            break;
        }

        for (i = 0; i < NGX_HTTP_MIXPANEL_PARAMS; i++) {
            prm = &ngx_http_mixpanel_params[i];

            if (prm->name.data[0] != *q
                || (size_t) (last - q) <= prm->name.len
                || q[prm->name.len] != '='
                || ngx_strncmp(q, prm->name.data, prm->name.len) != 0)
            {
                continue;
            }

            if (found & (1 << i)) {
                break;
            }

            found |= 1 << i;

            v = q + prm->name.len + 1;

            for (q = v; q < last && *q != '&' && *q != '#'; q++) {
                /* void */
            }

            values[i].data = v;
            values[i].len = q - v;

            break;
        }
    }

    for (i = 0; found; i++, found >>= 1) {

        if ((found & 1) == 0 || values[i].len == 0) {
            continue;
        }

        len = ngx_http_mixpanel_param_value(buf, sizeof(buf), values[i].data,
                                            values[i].len);

        prm = &ngx_http_mixpanel_params[i];

        if (ngx_http_mixpanel_json_string_prop(b, &prm->key, buf, len)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The SDK's decoding: decodeURIComponent(), or the value as it is when
 * that throws, then every '+' becomes a space (a "%2B" too, as it is
 * decoded first).  At most size bytes are written: more than the JSON
 * writer keeps (255 bytes, cut on a character), so the cut is the same.
 */

static size_t
ngx_http_mixpanel_param_value(u_char *dst, size_t size, u_char *src,
    size_t len)
{
    u_char      *last, *o, *end, c;
    ngx_uint_t   decode;

    last = src + len;

    decode = ngx_strlchr(src, last, '%') != NULL
             && ngx_http_mixpanel_uri_component(src, last);

    o = dst;
    end = dst + size;

    while (src < last && o < end) {
        c = *src++;

        if (c == '%' && decode) {
            c = (u_char) ((ngx_hextoi(src, 1) << 4) | ngx_hextoi(src + 1, 1));
            src += 2;
        }

        *o++ = (c == '+') ? ' ' : c;
    }

    return o - dst;
}


/*
 * Whether decodeURIComponent() takes the value (ECMAScript's Decode()):
 * every '%' starts %XX, and the bytes so escaped form UTF-8 sequences of
 * escapes only, neither overlong nor surrogates nor past U+10FFFF.
 */

static ngx_uint_t
ngx_http_mixpanel_uri_component(u_char *p, u_char *last)
{
    uint32_t    cp, min;
    ngx_int_t   c;
    ngx_uint_t  n, i;

    while (p < last) {

        p = ngx_strlchr(p, last, '%');
        if (p == NULL) {
            return 1;
        }

        if (last - p < 3 || (c = ngx_hextoi(p + 1, 2)) == NGX_ERROR) {
            return 0;
        }

        p += 3;

        if (c < 0x80) {
            continue;
        }

        if ((c & 0xe0) == 0xc0) {
            n = 2;
            cp = c & 0x1f;
            min = 0x80;

        } else if ((c & 0xf0) == 0xe0) {
            n = 3;
            cp = c & 0x0f;
            min = 0x800;

        } else if ((c & 0xf8) == 0xf0) {
            n = 4;
            cp = c & 0x07;
            min = 0x10000;

        } else {
            return 0;
        }

        for (i = 1; i < n; i++) {
            if (last - p < 3 || *p != '%'
                || (c = ngx_hextoi(p + 1, 2)) == NGX_ERROR
                || (c & 0xc0) != 0x80)
            {
                return 0;
            }

            cp = (cp << 6) | (c & 0x3f);
            p += 3;
        }

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
    }

    return 1;
}


/*
 * The Referer of a navigation is the page the user came from: the SDK's
 * $referrer, and $referring_domain as it splits it (referrer.split('/')[2],
 * port and user included), and $search_engine and mp_keyword when it is a
 * search engine's (the SDK registers them on every page load).  The
 * Referer of a call a page makes (fetch, XHR: Sec-Fetch-Mode other than
 * "navigate") is that page, the SDK's $current_url; the page's own
 * referrer is not known then.  A navigation the browser says is one
 * (Sec-Fetch-Mode: navigate) loads the request's URL, its $current_url.
 */

static ngx_int_t
ngx_http_mixpanel_referer_props(ngx_http_request_t *r,
    ngx_http_mixpanel_buf_t *b, ngx_uint_t nav)
{
    u_char           *p, *last, *domain;
    ngx_table_elt_t  *h;

    if (nav == NGX_HTTP_MIXPANEL_NAV_NAVIGATE
        && ngx_http_mixpanel_page_url(r, b) != NGX_OK)
    {
        return NGX_ERROR;
    }

    h = r->headers_in.referer;

    if (h == NULL || h->value.len == 0) {
        return NGX_OK;
    }

    if (nav == NGX_HTTP_MIXPANEL_NAV_CALL) {
        return ngx_http_mixpanel_json_string_prop(b,
                                            &ngx_http_mixpanel_key_current_url,
                                            h->value.data, h->value.len);
    }

    if (ngx_http_mixpanel_json_string_prop(b, &ngx_http_mixpanel_key_referrer,
                                           h->value.data, h->value.len)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_mixpanel_search_props(b, &h->value) != NGX_OK) {
        return NGX_ERROR;
    }

    p = h->value.data;
    last = p + h->value.len;

    p = ngx_strlchr(p, last, '/');
    if (p == NULL) {
        return NGX_OK;
    }

    p = ngx_strlchr(p + 1, last, '/');
    if (p == NULL) {
        return NGX_OK;
    }

    domain = ++p;

    p = ngx_strlchr(p, last, '/');
    if (p == NULL) {
        p = last;
    }

    return ngx_http_mixpanel_json_string_prop(b,
                                       &ngx_http_mixpanel_key_referring_domain,
                                       domain, p - domain);
}


/*
 * The URL a navigation loads, location.href: the scheme of the connection
 * (behind a proxy that terminates TLS, "http"), the Host header as the
 * browser sent it (port included) and the URI as it came; only its first
 * bytes are kept (the JSON writer cuts at 255 bytes on a character).
 */

static ngx_int_t
ngx_http_mixpanel_page_url(ngx_http_request_t *r, ngx_http_mixpanel_buf_t *b)
{
    u_char           *p, *last, buf[NGX_HTTP_MIXPANEL_MAX_STRING + 4];
    ngx_table_elt_t  *host;

    host = r->headers_in.host;

    if (host == NULL || host->value.len == 0) {
        return NGX_OK;
    }

    p = buf;
    last = buf + sizeof(buf);

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        p = ngx_cpymem(p, "https://", sizeof("https://") - 1);

    } else
#endif
    {
        p = ngx_cpymem(p, "http://", sizeof("http://") - 1);
    }

    p = ngx_cpymem(p, host->value.data,
                   ngx_min(host->value.len, (size_t) (last - p)));

    p = ngx_cpymem(p, r->unparsed_uri.data,
                   ngx_min(r->unparsed_uri.len, (size_t) (last - p)));

    return ngx_http_mixpanel_json_string_prop(b,
                                            &ngx_http_mixpanel_key_current_url,
                                            buf, p - buf);
}


/*
 * _.info.searchInfo(document.referrer): the engine, and its query
 * parameter (p for yahoo, q for the others) found and decoded as
 * _.getQueryParam() does, when not empty.  Browsers send a Referer in
 * ASCII (a serialized URL): '.' is taken as one byte.
 */

static ngx_int_t
ngx_http_mixpanel_search_props(ngx_http_mixpanel_buf_t *b,
    ngx_str_t *referer)
{
    u_char                      *p, *q, *start, *last, *end, *v,
                                 buf[NGX_HTTP_MIXPANEL_MAX_STRING + 4];
    size_t                       len;
    ngx_http_mixpanel_engine_t  *e;

    start = referer->data;
    last = start + referer->len;

    if ((size_t) (last - start) > sizeof("https://") - 1
        && ngx_strncmp(start, "https://", sizeof("https://") - 1) == 0)
    {
        start += sizeof("https://") - 1;

    } else if ((size_t) (last - start) > sizeof("http://") - 1
               && ngx_strncmp(start, "http://", sizeof("http://") - 1) == 0)
    {
        start += sizeof("http://") - 1;

    } else {
        return NGX_OK;
    }

    /*
     * Each engine in its turn over the whole Referer, as the SDK's regular
     * expressions are tried: memchr() finds the candidates for the word's
     * first byte, so that a Referer costs a few scans, not a comparison
     * at every byte for every engine.
     */

    for (e = ngx_http_mixpanel_engines; e->name.len; e++) {

        len = e->word.len + 1 + e->tail.len;

        if ((size_t) (last - start) < len) {
            continue;
        }

        end = last - len + 1;

        for (p = start; p < end; p++) {

            p = memchr(p, e->word.data[0], end - p);
            if (p == NULL) {
                break;
            }

            if (ngx_memcmp(p + 1, e->word.data + 1, e->word.len - 1) == 0
                && ngx_memcmp(p + e->word.len + 1, e->tail.data, e->tail.len)
                   == 0)
            {
                goto found;
            }
        }
    }

    return NGX_OK;

found:

    if (ngx_http_mixpanel_json_string_prop(b,
                                           &ngx_http_mixpanel_key_search_engine,
                                           e->name.data, e->name.len)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the first [?&]q=([^&#]*) of the whole Referer */

    for (p = referer->data; p + 2 < last; p++) {

        if ((*p != '?' && *p != '&') || p[1] != e->param || p[2] != '=') {
            continue;
        }

        v = p + 3;

        for (q = v; q < last && *q != '&' && *q != '#'; q++) {
            /* void */
        }

        if (q == v) {
            return NGX_OK;
        }

        len = ngx_http_mixpanel_param_value(buf, sizeof(buf), v, q - v);

        return ngx_http_mixpanel_json_string_prop(b,
                                                &ngx_http_mixpanel_key_keyword,
                                                buf, len);
    }

    return NGX_OK;
}


/*
 * Browsers send Sec-Fetch-Mode with every request since 2019-2023
 * (Chrome 76, Firefox 90, Safari 16.4).  A request without it is taken
 * for a navigation: an older browser's page load, or an app or a library,
 * which rarely sends a Referer at all (docs/properties.md).
 */

static ngx_uint_t
ngx_http_mixpanel_is_navigation(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("Sec-Fetch-Mode") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Sec-Fetch-Mode",
                               sizeof("Sec-Fetch-Mode") - 1)
               == 0)
        {
            if (h[i].value.len == sizeof("navigate") - 1
                && ngx_strncmp(h[i].value.data, "navigate",
                               sizeof("navigate") - 1)
                   == 0)
            {
                return NGX_HTTP_MIXPANEL_NAV_NAVIGATE;
            }

            return NGX_HTTP_MIXPANEL_NAV_CALL;
        }
    }

    return NGX_HTTP_MIXPANEL_NAV_UNKNOWN;
}
