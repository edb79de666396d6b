
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


#include "ngx_http_mixpanel_module.h"


/*
 * $browser, $browser_version, $os and $device from a User-Agent, named and
 * ordered as mixpanel-js does in _.info.browser(), browserVersion(), os()
 * and device(), so that server-side events group with the SDK's; plus the
 * HTTP clients and native app stacks that call APIs.
 *
 * One pass over the first 512 bytes notes which markers occur (one bit
 * each) and where the first version number after each begins; ordered
 * rule tables then pick the values from the bits alone.  Nothing is
 * allocated: names are static strings, the version points into the input.
 */


#define NGX_HTTP_MIXPANEL_UA_SCAN       512
#define NGX_HTTP_MIXPANEL_UA_MAJOR      16
#define NGX_HTTP_MIXPANEL_UA_MINOR      15


/* marker bits */

#define NGX_UA_OPERA                    0
#define NGX_UA_MINI                     1
#define NGX_UA_BLACKBERRY               2
#define NGX_UA_IEMOBILE                 3
#define NGX_UA_WPDESKTOP                4
#define NGX_UA_SAMSUNG                  5
#define NGX_UA_EDGE                     6
#define NGX_UA_FBIOS                    7
#define NGX_UA_WHALE                    8
#define NGX_UA_CHROME                   9
#define NGX_UA_CRIOS                    10
#define NGX_UA_UC                       11
#define NGX_UA_FXIOS                    12
#define NGX_UA_WEBKIT                   13
#define NGX_UA_VERSION                  14
#define NGX_UA_MOBILE                   15
#define NGX_UA_ANDROID                  16
#define NGX_UA_KONQUEROR                17
#define NGX_UA_FIREFOX                  18
#define NGX_UA_MSIE                     19
#define NGX_UA_TRIDENT                  20
#define NGX_UA_RV                       21
#define NGX_UA_GECKO                    22
#define NGX_UA_WINDOWS                  23
#define NGX_UA_PHONE                    24
#define NGX_UA_WINPHONE                 25
#define NGX_UA_IPHONE                   26
#define NGX_UA_IPAD                     27
#define NGX_UA_IPOD                     28
#define NGX_UA_MAC                      29
#define NGX_UA_LINUX                    30
#define NGX_UA_CROS                     31
#define NGX_UA_DARWIN                   32
#define NGX_UA_CFNETWORK                33
#define NGX_UA_DALVIK                   34
#define NGX_UA_OKHTTP                   35
#define NGX_UA_CURL                     36
#define NGX_UA_WGET                     37
#define NGX_UA_REQUESTS                 38
#define NGX_UA_URLLIB                   39
#define NGX_UA_AXIOS                    40
#define NGX_UA_NODE_FETCH               41
#define NGX_UA_GO                       42
#define NGX_UA_JAVA                     43
#define NGX_UA_DART                     44
#define NGX_UA_EXPO                     45
#define NGX_UA_REACT_NATIVE             46
#define NGX_UA_NBITS                    47

#define NGX_UA(name)                    ((uint64_t) 1 << NGX_UA_##name)


/* marker flags */

#define NGX_UA_SEP                      0x01  /* counts only if sep follows */
#define NGX_UA_VER                      0x02  /* a version may follow */


typedef struct {
    ngx_str_t                     needle;
    u_char                        bit;
    u_char                        sep;
    u_char                        flags;
} ngx_http_mixpanel_ua_marker_t;


/*
 * A rule matches when all of "all", at least one of "any" (if set) and
 * none of "none" occur; its version is the earliest of the "version"
 * markers followed by a number.
 */

typedef struct {
    ngx_str_t                     name;
    uint64_t                      any;
    uint64_t                      all;
    uint64_t                      none;
    uint64_t                      version;
} ngx_http_mixpanel_ua_rule_t;


static void ngx_http_mixpanel_ua_init(void);
static ngx_http_mixpanel_ua_rule_t *ngx_http_mixpanel_ua_match(
    ngx_http_mixpanel_ua_rule_t *rule, uint64_t found);
static void ngx_http_mixpanel_ua_version(u_char *p, u_char *last,
    ngx_str_t *v);


/*
 * Case-sensitive substrings, as mixpanel-js mostly tests them; the
 * needle, then the separator before a version ("Chrome" "/" "120.0").
 */

static ngx_http_mixpanel_ua_marker_t  ngx_http_mixpanel_ua_markers[] = {

    { ngx_string("Opera"), NGX_UA_OPERA, '/', NGX_UA_VER },
    { ngx_string("OPR"), NGX_UA_OPERA, '/', NGX_UA_SEP|NGX_UA_VER },
    { ngx_string("Mini"), NGX_UA_MINI, 0, 0 },
    { ngx_string("BlackBerry"), NGX_UA_BLACKBERRY, ' ', NGX_UA_VER },
    { ngx_string("PlayBook"), NGX_UA_BLACKBERRY, 0, 0 },
    { ngx_string("BB10"), NGX_UA_BLACKBERRY, 0, 0 },
    { ngx_string("IEMobile"), NGX_UA_IEMOBILE, 0, 0 },
    { ngx_string("WPDesktop"), NGX_UA_WPDESKTOP, 0, 0 },
    { ngx_string("SamsungBrowser"), NGX_UA_SAMSUNG, '/',
      NGX_UA_SEP|NGX_UA_VER },
    { ngx_string("Edge"), NGX_UA_EDGE, '/', NGX_UA_VER },
    { ngx_string("Edg"), NGX_UA_EDGE, '/', NGX_UA_SEP|NGX_UA_VER },
    { ngx_string("FBIOS"), NGX_UA_FBIOS, 0, 0 },
    { ngx_string("Whale"), NGX_UA_WHALE, '/', NGX_UA_SEP|NGX_UA_VER },
    { ngx_string("Chrome"), NGX_UA_CHROME, '/', NGX_UA_VER },
    { ngx_string("CriOS"), NGX_UA_CRIOS, '/', NGX_UA_VER },
    { ngx_string("UCBrowser"), NGX_UA_UC, '/', NGX_UA_VER },
    { ngx_string("UCWEB"), NGX_UA_UC, '/', NGX_UA_VER },
    { ngx_string("FxiOS"), NGX_UA_FXIOS, '/', NGX_UA_VER },
    { ngx_string("AppleWebKit"), NGX_UA_WEBKIT, 0, 0 },
    { ngx_string("Version"), NGX_UA_VERSION, '/', NGX_UA_SEP|NGX_UA_VER },
    { ngx_string("Mobile"), NGX_UA_MOBILE, 0, 0 },
    { ngx_string("Android"), NGX_UA_ANDROID, 0, 0 },
    { ngx_string("Konqueror"), NGX_UA_KONQUEROR, '/', NGX_UA_VER },
    { ngx_string("Firefox"), NGX_UA_FIREFOX, '/', NGX_UA_VER },
    { ngx_string("MSIE"), NGX_UA_MSIE, ' ', NGX_UA_VER },
    { ngx_string("Trident"), NGX_UA_TRIDENT, '/', NGX_UA_SEP },
    { ngx_string("rv:"), NGX_UA_RV, 0, NGX_UA_VER },
    { ngx_string("Gecko"), NGX_UA_GECKO, 0, 0 },

    { ngx_string("Windows"), NGX_UA_WINDOWS, 0, 0 },
    { ngx_string("windows"), NGX_UA_WINDOWS, 0, 0 },
    { ngx_string("Windows Phone"), NGX_UA_WINPHONE, 0, 0 },
    { ngx_string("Phone"), NGX_UA_PHONE, 0, 0 },
    { ngx_string("iPhone"), NGX_UA_IPHONE, 0, 0 },
    { ngx_string("iPad"), NGX_UA_IPAD, 0, 0 },
    { ngx_string("iPod"), NGX_UA_IPOD, 0, 0 },
    { ngx_string("Mac"), NGX_UA_MAC, 0, 0 },
    { ngx_string("Linux"), NGX_UA_LINUX, 0, 0 },
    { ngx_string("CrOS"), NGX_UA_CROS, 0, 0 },
    { ngx_string("Darwin"), NGX_UA_DARWIN, '/', NGX_UA_SEP },

    { ngx_string("CFNetwork"), NGX_UA_CFNETWORK, '/', NGX_UA_SEP|NGX_UA_VER },
    { ngx_string("Dalvik"), NGX_UA_DALVIK, '/', NGX_UA_SEP|NGX_UA_VER },
    { ngx_string("okhttp"), NGX_UA_OKHTTP, '/', NGX_UA_SEP|NGX_UA_VER },
    { ngx_string("curl"), NGX_UA_CURL, '/', NGX_UA_SEP|NGX_UA_VER },
    { ngx_string("Wget"), NGX_UA_WGET, '/', NGX_UA_SEP|NGX_UA_VER },
    { ngx_string("python-requests"), NGX_UA_REQUESTS, '/',
      NGX_UA_SEP|NGX_UA_VER },
    { ngx_string("Python-urllib"), NGX_UA_URLLIB, '/',
      NGX_UA_SEP|NGX_UA_VER },
    { ngx_string("axios"), NGX_UA_AXIOS, '/', NGX_UA_SEP|NGX_UA_VER },
    { ngx_string("node-fetch"), NGX_UA_NODE_FETCH, '/', NGX_UA_VER },
    { ngx_string("Go-http-client"), NGX_UA_GO, '/', NGX_UA_SEP|NGX_UA_VER },
    { ngx_string("Java"), NGX_UA_JAVA, '/', NGX_UA_SEP|NGX_UA_VER },
    { ngx_string("Java-http-client"), NGX_UA_JAVA, '/',
      NGX_UA_SEP|NGX_UA_VER },
    { ngx_string("Dart"), NGX_UA_DART, '/', NGX_UA_SEP|NGX_UA_VER },
    { ngx_string("Expo"), NGX_UA_EXPO, '/', NGX_UA_SEP|NGX_UA_VER },
    { ngx_string("Exponent"), NGX_UA_EXPO, '/', NGX_UA_SEP|NGX_UA_VER },
    { ngx_string("ReactNative"), NGX_UA_REACT_NATIVE, '/', NGX_UA_VER },
    { ngx_string("React-Native"), NGX_UA_REACT_NATIVE, '/', NGX_UA_VER },
    { ngx_string("react-native"), NGX_UA_REACT_NATIVE, '/', NGX_UA_VER }
};


#define NGX_UA_NMARKERS                                                       \
    (sizeof(ngx_http_mixpanel_ua_markers)                                     \
     / sizeof(ngx_http_mixpanel_ua_marker_t))


/*
 * Chains of markers by a hash of their first two bytes: 1-based indexes
 * into the markers, 0 ends a chain.  Most bytes of a User-Agent start no
 * marker's pair and cost one lookup.  Built on first use, as the module
 * has no hook for this file; it is the same in every process.
 */

#define ngx_http_mixpanel_ua_pair(p)    ((((p)[0] << 4) ^ (p)[1]) & 0x7ff)

static ngx_uint_t  ngx_http_mixpanel_ua_ready;
static u_char      ngx_http_mixpanel_ua_head[0x800];
static u_char      ngx_http_mixpanel_ua_next[NGX_UA_NMARKERS + 1];


/*
 * The order is mixpanel-js's, after the clients and app stacks it cannot
 * see: Dalvik says "Android", Expo runs over CFNetwork.  Where the server
 * cannot do as the browser does:
 *
 *   navigator.vendor "Apple" is AppleWebKit without Android, whatever came
 *   before having claimed Chrome and the other Chromium browsers;
 *   window.opera is "Opera" in the User-Agent, and "OPR/" needs no space;
 *   the Konqueror version follows "Konqueror/" (mixpanel-js looks for
 *   "Konqueror:", which no current browser sends).
 *
 * Like mixpanel-js, Opera Mini, Facebook Mobile and Android Mobile have no
 * version, and Edge on Android and iOS is Chrome and Mobile Safari.
 */

static ngx_http_mixpanel_ua_rule_t  ngx_http_mixpanel_ua_browsers[] = {

    { ngx_string("React Native"), NGX_UA(REACT_NATIVE), 0, 0,
      NGX_UA(REACT_NATIVE) },
    { ngx_string("Expo"), NGX_UA(EXPO), 0, 0, NGX_UA(EXPO) },
    { ngx_string("Dalvik"), NGX_UA(DALVIK), 0, 0, NGX_UA(DALVIK) },
    { ngx_string("CFNetwork"), NGX_UA(CFNETWORK), 0, 0, NGX_UA(CFNETWORK) },
    { ngx_string("okhttp"), NGX_UA(OKHTTP), 0, 0, NGX_UA(OKHTTP) },
    { ngx_string("curl"), NGX_UA(CURL), 0, 0, NGX_UA(CURL) },
    { ngx_string("Wget"), NGX_UA(WGET), 0, 0, NGX_UA(WGET) },
    { ngx_string("python-requests"), NGX_UA(REQUESTS), 0, 0,
      NGX_UA(REQUESTS) },
    { ngx_string("Python urllib"), NGX_UA(URLLIB), 0, 0, NGX_UA(URLLIB) },
    { ngx_string("axios"), NGX_UA(AXIOS), 0, 0, NGX_UA(AXIOS) },
    { ngx_string("node-fetch"), NGX_UA(NODE_FETCH), 0, 0,
      NGX_UA(NODE_FETCH) },
    { ngx_string("Go-http-client"), NGX_UA(GO), 0, 0, NGX_UA(GO) },
    { ngx_string("Java"), NGX_UA(JAVA), 0, 0, NGX_UA(JAVA) },
    { ngx_string("Dart"), NGX_UA(DART), 0, 0, NGX_UA(DART) },

    { ngx_string("Opera Mini"), 0, NGX_UA(OPERA)|NGX_UA(MINI), 0, 0 },
    { ngx_string("Opera"), NGX_UA(OPERA), 0, 0, NGX_UA(OPERA) },
    { ngx_string("BlackBerry"), NGX_UA(BLACKBERRY), 0, 0,
      NGX_UA(BLACKBERRY) },
    { ngx_string("Internet Explorer Mobile"),
      NGX_UA(IEMOBILE)|NGX_UA(WPDESKTOP), 0, 0, NGX_UA(RV) },
    { ngx_string("Samsung Internet"), NGX_UA(SAMSUNG), 0, 0,
      NGX_UA(SAMSUNG) },
    { ngx_string("Microsoft Edge"), NGX_UA(EDGE), 0, 0, NGX_UA(EDGE) },
    { ngx_string("Facebook Mobile"), NGX_UA(FBIOS), 0, 0, 0 },
    { ngx_string("Whale Browser"), NGX_UA(WHALE), 0, 0, NGX_UA(WHALE) },
    { ngx_string("Chrome"), NGX_UA(CHROME), 0, 0, NGX_UA(CHROME) },
    { ngx_string("Chrome iOS"), NGX_UA(CRIOS), 0, 0, NGX_UA(CRIOS) },
    { ngx_string("UC Browser"), NGX_UA(UC), 0, 0, NGX_UA(UC) },
    { ngx_string("Firefox iOS"), NGX_UA(FXIOS), 0, 0, NGX_UA(FXIOS) },
    { ngx_string("Mobile Safari"), 0, NGX_UA(WEBKIT)|NGX_UA(MOBILE),
      NGX_UA(ANDROID), NGX_UA(VERSION) },
    { ngx_string("Safari"), 0, NGX_UA(WEBKIT), NGX_UA(ANDROID),
      NGX_UA(VERSION) },
    { ngx_string("Android Mobile"), NGX_UA(ANDROID), 0, 0, 0 },
    { ngx_string("Konqueror"), NGX_UA(KONQUEROR), 0, 0, NGX_UA(KONQUEROR) },
    { ngx_string("Firefox"), NGX_UA(FIREFOX), 0, 0, NGX_UA(FIREFOX) },
    { ngx_string("Internet Explorer"), NGX_UA(MSIE)|NGX_UA(TRIDENT), 0, 0,
      NGX_UA(MSIE)|NGX_UA(RV) },
    { ngx_string("Mozilla"), NGX_UA(GECKO), 0, 0, NGX_UA(RV) },

    { ngx_null_string, 0, 0, 0, 0 }
};


/* a bare CFNetwork or Darwin is an iOS app: macOS clients say "Mac" */

static ngx_http_mixpanel_ua_rule_t  ngx_http_mixpanel_ua_oses[] = {

    { ngx_string("Windows Phone"), NGX_UA(PHONE)|NGX_UA(WPDESKTOP),
      NGX_UA(WINDOWS), 0, 0 },
    { ngx_string("Windows"), NGX_UA(WINDOWS), 0, 0, 0 },
    { ngx_string("iOS"), NGX_UA(IPHONE)|NGX_UA(IPAD)|NGX_UA(IPOD), 0, 0, 0 },
    { ngx_string("Android"), NGX_UA(ANDROID), 0, 0, 0 },
    { ngx_string("BlackBerry"), NGX_UA(BLACKBERRY), 0, 0, 0 },
    { ngx_string("Mac OS X"), NGX_UA(MAC), 0, 0, 0 },
    { ngx_string("iOS"), NGX_UA(CFNETWORK)|NGX_UA(DARWIN), 0, 0, 0 },
    { ngx_string("Linux"), NGX_UA(LINUX), 0, 0, 0 },
    { ngx_string("Chrome OS"), NGX_UA(CROS), 0, 0, 0 },

    { ngx_null_string, 0, 0, 0, 0 }
};


/*
 * Android devices are "Android", as in mixpanel-js, not the model that
 * Dalvik and Chrome give: models would split the property into thousands
 * of values that never match the SDK's.
 */

static ngx_http_mixpanel_ua_rule_t  ngx_http_mixpanel_ua_devices[] = {

    { ngx_string("Windows Phone"), NGX_UA(WINPHONE)|NGX_UA(WPDESKTOP), 0, 0,
      0 },
    { ngx_string("iPad"), NGX_UA(IPAD), 0, 0, 0 },
    { ngx_string("iPod Touch"), NGX_UA(IPOD), 0, 0, 0 },
    { ngx_string("iPhone"), NGX_UA(IPHONE), 0, 0, 0 },
    { ngx_string("BlackBerry"), NGX_UA(BLACKBERRY), 0, 0, 0 },
    { ngx_string("Android"), NGX_UA(ANDROID), 0, 0, 0 },

    { ngx_null_string, 0, 0, 0, 0 }
};


void
ngx_http_mixpanel_ua_parse(u_char *ua, size_t len, ngx_http_mixpanel_ua_t *out)
{
    u_char                         *p, *q, *last, *ver, *vpos[NGX_UA_NBITS];
    uint64_t                        found, versions, bit, mask;
    ngx_uint_t                      i, m;
    ngx_http_mixpanel_ua_rule_t    *r;
    ngx_http_mixpanel_ua_marker_t  *mk;

    ngx_memzero(out, sizeof(ngx_http_mixpanel_ua_t));

    if (ua == NULL || len < 3) {
        return;
    }

    if (!ngx_http_mixpanel_ua_ready) {
        ngx_http_mixpanel_ua_init();
    }

    last = ua + ngx_min(len, NGX_HTTP_MIXPANEL_UA_SCAN);

    found = 0;
    versions = 0;

    /* every needle is at least 3 bytes long */

    for (p = ua; p < last - 2; p++) {

        for (m = ngx_http_mixpanel_ua_head[ngx_http_mixpanel_ua_pair(p)];
             m;
             m = ngx_http_mixpanel_ua_next[m])
        {
            mk = &ngx_http_mixpanel_ua_markers[m - 1];

            if ((size_t) (last - p) < mk->needle.len
                || p[2] != mk->needle.data[2]
                || ngx_memcmp(p, mk->needle.data, mk->needle.len) != 0)
            {
                continue;
            }

            q = p + mk->needle.len;

            if (mk->sep) {
                if (q < last && *q == mk->sep) {
                    q++;

                } else if (mk->flags & NGX_UA_SEP) {
                    continue;

                } else {
                    /* the marker without a version */
                    q = last;
                }
            }

            bit = (uint64_t) 1 << mk->bit;
            found |= bit;

            if ((mk->flags & NGX_UA_VER)
                && (versions & bit) == 0
                && q < last
                && *q >= '0' && *q <= '9')
            {
                vpos[mk->bit] = q;
                versions |= bit;
            }
        }
    }

    if (found == 0) {
        return;
    }

    r = ngx_http_mixpanel_ua_match(ngx_http_mixpanel_ua_browsers, found);

    if (r) {
        out->browser = r->name;

        ver = NULL;
        mask = r->version & versions;

        for (i = 0; mask; i++, mask >>= 1) {
            if ((mask & 1) && (ver == NULL || vpos[i] < ver)) {
                ver = vpos[i];
            }
        }

        if (ver) {
            ngx_http_mixpanel_ua_version(ver, last, &out->browser_version);
        }
    }

    r = ngx_http_mixpanel_ua_match(ngx_http_mixpanel_ua_oses, found);

    if (r) {
        out->os = r->name;
    }

    r = ngx_http_mixpanel_ua_match(ngx_http_mixpanel_ua_devices, found);

    if (r) {
        out->device = r->name;
    }
}


static void
ngx_http_mixpanel_ua_init(void)
{
    u_char      *needle;
    ngx_uint_t   i, h;

    /* built backwards, so that each chain keeps the table's order */

    for (i = NGX_UA_NMARKERS; i > 0; i--) {
        needle = ngx_http_mixpanel_ua_markers[i - 1].needle.data;
        h = ngx_http_mixpanel_ua_pair(needle);

        ngx_http_mixpanel_ua_next[i] = ngx_http_mixpanel_ua_head[h];
        ngx_http_mixpanel_ua_head[h] = (u_char) i;
    }

    ngx_http_mixpanel_ua_ready = 1;
}


static ngx_http_mixpanel_ua_rule_t *
ngx_http_mixpanel_ua_match(ngx_http_mixpanel_ua_rule_t *rule, uint64_t found)
{
    for ( /* void */ ; rule->name.len; rule++) {

        if ((found & rule->all) == rule->all
            && (rule->any == 0 || (found & rule->any))
            && (found & rule->none) == 0)
        {
            return rule;
        }
    }

    return NULL;
}


/*
 * mixpanel-js sends parseFloat() of "major.minor": "120.0.6099.109" is
 * 120, "17.2.1" is 17.2, "9.80" is 9.8.  The same digits, without leading
 * zeros in the major and trailing zeros in the minor, form a substring of
 * the input that is also a JSON number.
 */

static void
ngx_http_mixpanel_ua_version(u_char *p, u_char *last, ngx_str_t *v)
{
    u_char  *start, *end, *minor;

    start = p;

    while (p < last && *p >= '0' && *p <= '9') {
        p++;
    }

    if (p - start > NGX_HTTP_MIXPANEL_UA_MAJOR) {
        return;
    }

    end = p;

    while (start + 1 < end && *start == '0') {
        start++;
    }

    if (last - p > 1 && *p == '.' && p[1] >= '0' && p[1] <= '9') {
        minor = ++p;

        while (p < last
               && p - minor < NGX_HTTP_MIXPANEL_UA_MINOR
               && *p >= '0' && *p <= '9')
        {
            p++;
        }

        while (p > minor && p[-1] == '0') {
            p--;
        }

        if (p > minor) {
            end = p;
        }
    }

    v->data = start;
    v->len = end - start;
}


ngx_int_t
ngx_http_mixpanel_ua_is_bot(u_char *ua, size_t len)
{
    /* TODO(ua): the JavaScript SDK's blocked list */

    return 0;
}
