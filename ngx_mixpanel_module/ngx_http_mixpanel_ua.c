
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


#include "ngx_http_mixpanel_module.h"


/*
 * $browser, $browser_version, $os and $device from a User-Agent, as
 * mixpanel-browser 2.83 computes them in _.info.browser(),
 * browserVersion(), os() and device(), so that the module's events group
 * with the SDK's; and whether the User-Agent is on the SDK's list of
 * crawlers (_.isBlockedUA()).  See docs/properties.md.
 *
 * The SDK tests substrings and a few regular expressions over the whole
 * User-Agent.  One pass over it notes which of the substrings occur (one
 * bit each) and where the first version number after each version prefix
 * begins; ordered rules then pick the values from the bits alone.
 * Nothing is allocated: names are static strings, the version points into
 * the input.  The results are remembered per worker
 * (ngx_http_mixpanel_ua_get()).
 */


#define NGX_HTTP_MIXPANEL_UA_MAX_MAJOR  309

/*
 * the characters of a version handed to strtod(): a major of 309 digits
 * at most, the point, and at least 1100 digits of the minor.  A tie
 * between two doubles has at most 1075 digits past the point, so a longer
 * version is cut and a "1" put after it: it rounds as the whole version
 * does (a minor ends in a digit that is not 0), as parseFloat() does
 */

#define NGX_HTTP_MIXPANEL_UA_MINOR      1100
#define NGX_HTTP_MIXPANEL_UA_NUMBER                                           \
    (NGX_HTTP_MIXPANEL_UA_MAX_MAJOR + 1 + NGX_HTTP_MIXPANEL_UA_MINOR)


/* presence bits: the substring occurs anywhere */

#define NGX_UA_OPR_SP                   0     /* " OPR/" */
#define NGX_UA_OPERA_MINI               1     /* "Opera Mini" */
#define NGX_UA_PRESTO                   2
#define NGX_UA_MINI                     3
#define NGX_UA_BLACKBERRY               4     /* any case, and PlayBook, BB10 */
#define NGX_UA_IEMOBILE                 5
#define NGX_UA_WPDESKTOP                6
#define NGX_UA_SAMSUNG                  7
#define NGX_UA_EDGE                     8     /* "Edge" or "Edg/" */
#define NGX_UA_FBIOS                    9
#define NGX_UA_WHALE                    10
#define NGX_UA_CHROME                   11
#define NGX_UA_CRIOS                    12
#define NGX_UA_UC                       13
#define NGX_UA_FXIOS                    14
#define NGX_UA_WEBKIT                   15
#define NGX_UA_MOBILE                   16
#define NGX_UA_ANDROID                  17
#define NGX_UA_KONQUEROR                18
#define NGX_UA_FIREFOX                  19
#define NGX_UA_MSIE                     20    /* "MSIE" or "Trident/" */
#define NGX_UA_GECKO                    21
#define NGX_UA_WINDOWS                  22    /* any case */
#define NGX_UA_WINPHONE                 23    /* "windows phone", any case */
#define NGX_UA_PHONE                    24
#define NGX_UA_IPHONE                   25
#define NGX_UA_IPAD                     26
#define NGX_UA_IPOD                     27
#define NGX_UA_MAC                      28    /* "mac", any case */
#define NGX_UA_LINUX                    29
#define NGX_UA_CROS                     30
#define NGX_UA_IOS                      31    /* native clients: "iOS" */
#define NGX_UA_MACOS                    32    /* "macOS", "Mac OS X", ... */
#define NGX_UA_DARWIN                   33    /* "Darwin/", "CFNetwork/" */
#define NGX_UA_MACARCH                  34    /* "(x86_64)", "(arm64)" */
#define NGX_UA_BOT                      35

#define NGX_UA(name)                    ((uint64_t) 1 << NGX_UA_##name)


/* version slots: the prefix of one of the SDK's version expressions */

#define NGX_UA_V_NONE                   0
#define NGX_UA_V_RV                     1     /* rv: */
#define NGX_UA_V_EDGE                   2     /* Edge?\/ */
#define NGX_UA_V_CHROME                 3
#define NGX_UA_V_CRIOS                  4
#define NGX_UA_V_UC                     5     /* (UCBrowser|UCWEB)\/ */
#define NGX_UA_V_VERSION                6
#define NGX_UA_V_OPERA                  7     /* (Opera|OPR)\/ */
#define NGX_UA_V_FIREFOX                8
#define NGX_UA_V_FXIOS                  9
#define NGX_UA_V_KONQUEROR              10    /* Konqueror: */
#define NGX_UA_V_BLACKBERRY             11    /* BlackBerry\x20 */
#define NGX_UA_V_ANDROID                12    /* android\s */
#define NGX_UA_V_SAMSUNG                13
#define NGX_UA_V_MSIE                   14    /* MSIE\x20 */
#define NGX_UA_V_WHALE                  15
#define NGX_UA_V_OPERA_SP               16    /* Opera\x20\d: old Opera */
#define NGX_UA_V_N                      17


/* marker flags */

#define NGX_UA_CASELESS                 0x01  /* the needle is lowercase */
#define NGX_UA_SPACE                    0x02  /* then one \s, then digits */


typedef struct {
    ngx_str_t                     needle;
    u_char                        bit;       /* presence bit + 1, or 0 */
    u_char                        version;   /* version slot, or 0 */
    u_char                        flags;
} ngx_http_mixpanel_ua_marker_t;


#define ngx_ua_p(s, name)                                                     \
    { ngx_string(s), NGX_UA_##name + 1, NGX_UA_V_NONE, 0 }
#define ngx_ua_pi(s, name)                                                    \
    { ngx_string(s), NGX_UA_##name + 1, NGX_UA_V_NONE, NGX_UA_CASELESS }
#define ngx_ua_v(s, slot)                                                     \
    { ngx_string(s), 0, NGX_UA_V_##slot, 0 }
#define ngx_ua_pv(s, name, slot)                                              \
    { ngx_string(s), NGX_UA_##name + 1, NGX_UA_V_##slot, 0 }


static void ngx_http_mixpanel_ua_init(void);
static void ngx_http_mixpanel_ua_json(ngx_http_mixpanel_ua_t *ua);
static void ngx_http_mixpanel_ua_native(uint64_t found,
    ngx_http_mixpanel_ua_t *out);
static void ngx_http_mixpanel_ua_version(u_char *p, u_char *last,
    ngx_str_t *v);


/*
 * Every substring and version prefix the SDK tests, case-sensitive unless
 * the SDK's expression has the "i" flag, and the SDK's 24 crawler strings
 * (matched in a lowercased User-Agent).
 */

static ngx_http_mixpanel_ua_marker_t  ngx_http_mixpanel_ua_markers[] = {

    ngx_ua_p(" OPR/", OPR_SP),
    ngx_ua_v("OPR/", OPERA),
    ngx_ua_v("Opera/", OPERA),
    ngx_ua_v("Opera ", OPERA_SP),
    ngx_ua_p("Opera Mini", OPERA_MINI),
    ngx_ua_p("Presto/", PRESTO),
    ngx_ua_p("Mini", MINI),
    ngx_ua_pi("blackberry", BLACKBERRY),
    ngx_ua_pi("playbook", BLACKBERRY),
    ngx_ua_pi("bb10", BLACKBERRY),
    ngx_ua_v("BlackBerry ", BLACKBERRY),
    ngx_ua_p("IEMobile", IEMOBILE),
    ngx_ua_p("WPDesktop", WPDESKTOP),
    ngx_ua_pv("SamsungBrowser/", SAMSUNG, SAMSUNG),
    ngx_ua_p("Edge", EDGE),
    ngx_ua_pv("Edg/", EDGE, EDGE),
    ngx_ua_v("Edge/", EDGE),
    ngx_ua_p("FBIOS", FBIOS),
    ngx_ua_pv("Whale/", WHALE, WHALE),
    ngx_ua_p("Chrome", CHROME),
    ngx_ua_v("Chrome/", CHROME),
    ngx_ua_p("CriOS", CRIOS),
    ngx_ua_v("CriOS/", CRIOS),
    ngx_ua_p("UCWEB", UC),
    ngx_ua_v("UCWEB/", UC),
    ngx_ua_p("UCBrowser", UC),
    ngx_ua_v("UCBrowser/", UC),
    ngx_ua_p("FxiOS", FXIOS),
    ngx_ua_v("FxiOS/", FXIOS),
    ngx_ua_p("AppleWebKit", WEBKIT),
    ngx_ua_v("Version/", VERSION),
    ngx_ua_p("Mobile", MOBILE),
    ngx_ua_p("Android", ANDROID),
    { ngx_string("android"), 0, NGX_UA_V_ANDROID, NGX_UA_SPACE },
    ngx_ua_p("Konqueror", KONQUEROR),
    ngx_ua_v("Konqueror:", KONQUEROR),
    ngx_ua_p("Firefox", FIREFOX),
    ngx_ua_v("Firefox/", FIREFOX),
    ngx_ua_p("MSIE", MSIE),
    ngx_ua_p("Trident/", MSIE),
    ngx_ua_v("MSIE ", MSIE),
    ngx_ua_v("rv:", RV),
    ngx_ua_p("Gecko", GECKO),

    ngx_ua_pi("windows", WINDOWS),
    ngx_ua_pi("windows phone", WINPHONE),
    ngx_ua_p("Phone", PHONE),
    ngx_ua_p("iPhone", IPHONE),
    ngx_ua_p("iPad", IPAD),
    ngx_ua_p("iPod", IPOD),
    ngx_ua_pi("mac", MAC),
    ngx_ua_p("Linux", LINUX),
    ngx_ua_p("CrOS", CROS),

    ngx_ua_p("iOS", IOS),
    ngx_ua_p("macOS", MACOS),
    ngx_ua_p("Mac OS X", MACOS),
    ngx_ua_p("Macintosh", MACOS),
    ngx_ua_p("Darwin/", DARWIN),
    ngx_ua_p("CFNetwork/", DARWIN),
    ngx_ua_p("(x86_64)", MACARCH),
    ngx_ua_p("(arm64)", MACARCH),
    ngx_ua_p("(i386)", MACARCH),

    ngx_ua_pi("ahrefsbot", BOT),
    ngx_ua_pi("ahrefssiteaudit", BOT),
    ngx_ua_pi("amazonbot", BOT),
    ngx_ua_pi("baiduspider", BOT),
    ngx_ua_pi("bingbot", BOT),
    ngx_ua_pi("bingpreview", BOT),
    ngx_ua_pi("chrome-lighthouse", BOT),
    ngx_ua_pi("facebookexternal", BOT),
    ngx_ua_pi("petalbot", BOT),
    ngx_ua_pi("pinterest", BOT),
    ngx_ua_pi("screaming frog", BOT),
    ngx_ua_pi("yahoo! slurp", BOT),
    ngx_ua_pi("yandex", BOT),
    ngx_ua_pi("adsbot-google", BOT),
    ngx_ua_pi("apis-google", BOT),
    ngx_ua_pi("duplexweb-google", BOT),
    ngx_ua_pi("feedfetcher-google", BOT),
    ngx_ua_pi("google favicon", BOT),
    ngx_ua_pi("google web preview", BOT),
    ngx_ua_pi("google-read-aloud", BOT),
    ngx_ua_pi("googlebot", BOT),
    ngx_ua_pi("googleweblight", BOT),
    ngx_ua_pi("mediapartners-google", BOT),
    ngx_ua_pi("storebot-google", BOT)
};


#define NGX_UA_NMARKERS                                                       \
    (sizeof(ngx_http_mixpanel_ua_markers)                                     \
     / sizeof(ngx_http_mixpanel_ua_marker_t))


/*
 * Chains of markers by a hash of their first two bytes, lowercased: 1-based
 * indexes into the markers, 0 ends a chain.  Most bytes of a User-Agent
 * start no marker's pair and cost one lookup.  Built on first use; it is
 * the same in every process.
 */

#define ngx_http_mixpanel_ua_pair(p)                                          \
    (((ngx_tolower((p)[0]) << 4) ^ ngx_tolower((p)[1])) & 0x7ff)

static ngx_uint_t  ngx_http_mixpanel_ua_ready;
static u_char      ngx_http_mixpanel_ua_head[0x800];
static u_char      ngx_http_mixpanel_ua_next[NGX_UA_NMARKERS + 1];


/*
 * parsed User-Agents: 1024 of up to 768 bytes, with their values and
 * their JSON, at most 1.2 MB per worker
 */

static ngx_http_mixpanel_cache_t  ngx_http_mixpanel_ua_cache =
    ngx_http_mixpanel_cache(1024, 768, 320);

/*
 * The JSON of the values: keys of 50 bytes, names of 24 at most, and a
 * version of at most NGX_HTTP_MIXPANEL_NUMBER_LEN
 */

#define NGX_HTTP_MIXPANEL_UA_JSON       256

static u_char  ngx_http_mixpanel_ua_json_buf[NGX_HTTP_MIXPANEL_UA_JSON];


/*
 * The last request's answer: a request asks twice (is it a bot, in the
 * rewrite phase; its properties, in the log phase).  The values stay
 * where they are until the next miss, which parses into the static
 * buffers and may evict an entry: "misses" counts them.
 */

typedef struct {
    ngx_atomic_uint_t             number;
    ngx_uint_t                    requests;
    u_char                       *data;
    size_t                        len;
    ngx_uint_t                    misses;
    ngx_http_mixpanel_ua_t        ua;
} ngx_http_mixpanel_ua_last_t;

static ngx_uint_t                   ngx_http_mixpanel_ua_misses;
static ngx_http_mixpanel_ua_last_t  ngx_http_mixpanel_ua_last;


static ngx_str_t  ngx_http_mixpanel_ua_opera = ngx_string("Opera");
static ngx_str_t  ngx_http_mixpanel_ua_opera_mini = ngx_string("Opera Mini");
static ngx_str_t  ngx_http_mixpanel_ua_blackberry = ngx_string("BlackBerry");
static ngx_str_t  ngx_http_mixpanel_ua_iemobile =
    ngx_string("Internet Explorer Mobile");
static ngx_str_t  ngx_http_mixpanel_ua_samsung =
    ngx_string("Samsung Internet");
static ngx_str_t  ngx_http_mixpanel_ua_edge = ngx_string("Microsoft Edge");
static ngx_str_t  ngx_http_mixpanel_ua_facebook =
    ngx_string("Facebook Mobile");
static ngx_str_t  ngx_http_mixpanel_ua_whale = ngx_string("Whale Browser");
static ngx_str_t  ngx_http_mixpanel_ua_chrome = ngx_string("Chrome");
static ngx_str_t  ngx_http_mixpanel_ua_chrome_ios = ngx_string("Chrome iOS");
static ngx_str_t  ngx_http_mixpanel_ua_uc = ngx_string("UC Browser");
static ngx_str_t  ngx_http_mixpanel_ua_firefox_ios =
    ngx_string("Firefox iOS");
static ngx_str_t  ngx_http_mixpanel_ua_mobile_safari =
    ngx_string("Mobile Safari");
static ngx_str_t  ngx_http_mixpanel_ua_safari = ngx_string("Safari");
static ngx_str_t  ngx_http_mixpanel_ua_android_mobile =
    ngx_string("Android Mobile");
static ngx_str_t  ngx_http_mixpanel_ua_konqueror = ngx_string("Konqueror");
static ngx_str_t  ngx_http_mixpanel_ua_firefox = ngx_string("Firefox");
static ngx_str_t  ngx_http_mixpanel_ua_ie = ngx_string("Internet Explorer");
static ngx_str_t  ngx_http_mixpanel_ua_mozilla = ngx_string("Mozilla");

static ngx_str_t  ngx_http_mixpanel_ua_windows_phone =
    ngx_string("Windows Phone");
static ngx_str_t  ngx_http_mixpanel_ua_windows = ngx_string("Windows");
static ngx_str_t  ngx_http_mixpanel_ua_ios = ngx_string("iOS");
static ngx_str_t  ngx_http_mixpanel_ua_android = ngx_string("Android");
static ngx_str_t  ngx_http_mixpanel_ua_mac_os_x = ngx_string("Mac OS X");
static ngx_str_t  ngx_http_mixpanel_ua_macos = ngx_string("macOS");
static ngx_str_t  ngx_http_mixpanel_ua_linux = ngx_string("Linux");
static ngx_str_t  ngx_http_mixpanel_ua_chrome_os = ngx_string("Chrome OS");

static ngx_str_t  ngx_http_mixpanel_ua_ipad = ngx_string("iPad");
static ngx_str_t  ngx_http_mixpanel_ua_ipod = ngx_string("iPod Touch");
static ngx_str_t  ngx_http_mixpanel_ua_iphone = ngx_string("iPhone");


void
ngx_http_mixpanel_ua_parse(u_char *ua, size_t len, ngx_http_mixpanel_ua_t *out)
{
    u_char                         *p, *q, *last, *ver, *vpos[NGX_UA_V_N];
    uint64_t                        found;
    ngx_str_t                      *browser;
    ngx_uint_t                      i, m, vslot, versions, native, opera;
    ngx_http_mixpanel_ua_marker_t  *mk;

    ngx_memzero(out, sizeof(ngx_http_mixpanel_ua_t));

    if (ua == NULL || len < 3) {
        return;
    }

    if (!ngx_http_mixpanel_ua_ready) {
        ngx_http_mixpanel_ua_init();
    }

    last = ua + len;
    found = 0;
    versions = 0;

    /* every needle is at least 3 bytes long */

    for (p = ua; p < last - 2; p++) {

        for (m = ngx_http_mixpanel_ua_head[ngx_http_mixpanel_ua_pair(p)];
             m;
             m = ngx_http_mixpanel_ua_next[m])
        {
            mk = &ngx_http_mixpanel_ua_markers[m - 1];

            if ((size_t) (last - p) < mk->needle.len) {
                continue;
            }

            if (mk->flags & NGX_UA_CASELESS) {
                for (i = 0; i < mk->needle.len; i++) {
                    if (ngx_tolower(p[i]) != mk->needle.data[i]) {
                        break;
                    }
                }

                if (i != mk->needle.len) {
                    continue;
                }

            } else if (p[2] != mk->needle.data[2]
                       || ngx_memcmp(p, mk->needle.data, mk->needle.len)
                          != 0)
            {
                continue;
            }

            if (mk->bit) {
                found |= (uint64_t) 1 << (mk->bit - 1);
            }

            vslot = mk->version;

            if (vslot == NGX_UA_V_NONE || (versions & (1 << vslot))) {
                continue;
            }

            q = p + mk->needle.len;

            if (mk->flags & NGX_UA_SPACE) {
                /* \s: the bytes of a header are Latin-1 characters in JS */

                if (q == last
                    || (*q != ' ' && *q != 0xa0 && (*q < '\t' || *q > '\r')))
                {
                    continue;
                }

                q++;
            }

            if (q < last && *q >= '0' && *q <= '9') {
                vpos[vslot] = q;
                versions |= 1 << vslot;
            }
        }
    }

    if (found & NGX_UA(BOT)) {
        out->bot = 1;
    }

    /*
     * Browsers, WebViews included, have sent "Mozilla/" first since the
     * 1990s; Presto Opera sent "Opera/".  Anything else is an app's HTTP
     * stack or a library, where no browser SDK runs: it gets what the
     * mobile SDKs send (ngx_http_mixpanel_ua_native()).
     */

    native = !((len >= 8 && ngx_strncmp(ua, "Mozilla/", 8) == 0)
               || (len >= 6 && ngx_strncmp(ua, "Opera/", 6) == 0));

    if (native) {
        ngx_http_mixpanel_ua_native(found, out);
        return;
    }

    /*
     * _.info.browser(userAgent, navigator.vendor, window.opera): what the
     * browser would report for the last two, inferred from the User-Agent.
     * window.opera exists in Presto Opera (and Opera Mini's Presto
     * servers) only, which says "Opera/", "Presto/", "Opera Mini" or, when
     * it poses as another browser, "Opera 9.51".  navigator.vendor is
     * "Apple Computer, Inc." in WebKit (WebCore's NavigatorBase default,
     * all ports but Chromium's and Android's, which report "Google Inc."),
     * "" in Gecko and Trident; the Chromium browsers all say "Chrome" and
     * are named before the vendor is looked at.
     */

    opera = (found & (NGX_UA(PRESTO)|NGX_UA(OPERA_MINI)))
            || (versions & (1 << NGX_UA_V_OPERA_SP))
            || (len >= 6 && ngx_strncmp(ua, "Opera/", 6) == 0);

    vslot = NGX_UA_V_NONE;

    if (opera || (found & NGX_UA(OPR_SP))) {
        if (found & NGX_UA(MINI)) {
            browser = &ngx_http_mixpanel_ua_opera_mini;

        } else {
            browser = &ngx_http_mixpanel_ua_opera;
            vslot = NGX_UA_V_OPERA;
        }

    } else if (found & NGX_UA(BLACKBERRY)) {
        browser = &ngx_http_mixpanel_ua_blackberry;
        vslot = NGX_UA_V_BLACKBERRY;

    } else if (found & (NGX_UA(IEMOBILE)|NGX_UA(WPDESKTOP))) {
        browser = &ngx_http_mixpanel_ua_iemobile;
        vslot = NGX_UA_V_RV;

    } else if (found & NGX_UA(SAMSUNG)) {
        browser = &ngx_http_mixpanel_ua_samsung;
        vslot = NGX_UA_V_SAMSUNG;

    } else if (found & NGX_UA(EDGE)) {
        browser = &ngx_http_mixpanel_ua_edge;
        vslot = NGX_UA_V_EDGE;

    } else if (found & NGX_UA(FBIOS)) {
        browser = &ngx_http_mixpanel_ua_facebook;

    } else if (found & NGX_UA(WHALE)) {
        browser = &ngx_http_mixpanel_ua_whale;
        vslot = NGX_UA_V_WHALE;

    } else if (found & NGX_UA(CHROME)) {
        browser = &ngx_http_mixpanel_ua_chrome;
        vslot = NGX_UA_V_CHROME;

    } else if (found & NGX_UA(CRIOS)) {
        browser = &ngx_http_mixpanel_ua_chrome_ios;
        vslot = NGX_UA_V_CRIOS;

    } else if (found & NGX_UA(UC)) {
        browser = &ngx_http_mixpanel_ua_uc;
        vslot = NGX_UA_V_UC;

    } else if (found & NGX_UA(FXIOS)) {
        browser = &ngx_http_mixpanel_ua_firefox_ios;
        vslot = NGX_UA_V_FXIOS;

    } else if ((found & (NGX_UA(WEBKIT)|NGX_UA(ANDROID))) == NGX_UA(WEBKIT)) {
        browser = (found & NGX_UA(MOBILE))
                  ? &ngx_http_mixpanel_ua_mobile_safari
                  : &ngx_http_mixpanel_ua_safari;
        vslot = NGX_UA_V_VERSION;

    } else if (found & NGX_UA(ANDROID)) {
        browser = &ngx_http_mixpanel_ua_android_mobile;
        vslot = NGX_UA_V_ANDROID;

    } else if (found & NGX_UA(KONQUEROR)) {
        browser = &ngx_http_mixpanel_ua_konqueror;
        vslot = NGX_UA_V_KONQUEROR;

    } else if (found & NGX_UA(FIREFOX)) {
        browser = &ngx_http_mixpanel_ua_firefox;
        vslot = NGX_UA_V_FIREFOX;

    } else if (found & NGX_UA(MSIE)) {
        browser = &ngx_http_mixpanel_ua_ie;
        vslot = NGX_UA_V_RV;

        /* /(rv:|MSIE )(\d+(\.\d+)?)/: the earlier of the two */

        if ((versions & (1 << NGX_UA_V_MSIE))
            && (!(versions & (1 << NGX_UA_V_RV))
                || vpos[NGX_UA_V_MSIE] < vpos[NGX_UA_V_RV]))
        {
            vslot = NGX_UA_V_MSIE;
        }

    } else if (found & NGX_UA(GECKO)) {
        browser = &ngx_http_mixpanel_ua_mozilla;
        vslot = NGX_UA_V_RV;

    } else {
        browser = NULL;
    }

    if (browser) {
        out->browser = *browser;

        if (vslot != NGX_UA_V_NONE && (versions & (1 << vslot))) {
            ver = vpos[vslot];
            ngx_http_mixpanel_ua_version(ver, last, &out->browser_version);
        }
    }

    /* _.info.os() */

    if (found & NGX_UA(WINDOWS)) {
        out->os = (found & (NGX_UA(PHONE)|NGX_UA(WPDESKTOP)))
                  ? ngx_http_mixpanel_ua_windows_phone
                  : ngx_http_mixpanel_ua_windows;

    } else if (found & (NGX_UA(IPHONE)|NGX_UA(IPAD)|NGX_UA(IPOD))) {
        out->os = ngx_http_mixpanel_ua_ios;

    } else if (found & NGX_UA(ANDROID)) {
        out->os = ngx_http_mixpanel_ua_android;

    } else if (found & NGX_UA(BLACKBERRY)) {
        out->os = ngx_http_mixpanel_ua_blackberry;

    } else if (found & NGX_UA(MAC)) {
        out->os = ngx_http_mixpanel_ua_mac_os_x;

    } else if (found & NGX_UA(LINUX)) {
        out->os = ngx_http_mixpanel_ua_linux;

    } else if (found & NGX_UA(CROS)) {
        out->os = ngx_http_mixpanel_ua_chrome_os;
    }

    /* _.info.device() */

    if (found & (NGX_UA(WINPHONE)|NGX_UA(WPDESKTOP))) {
        out->device = ngx_http_mixpanel_ua_windows_phone;

    } else if (found & NGX_UA(IPAD)) {
        out->device = ngx_http_mixpanel_ua_ipad;

    } else if (found & NGX_UA(IPOD)) {
        out->device = ngx_http_mixpanel_ua_ipod;

    } else if (found & NGX_UA(IPHONE)) {
        out->device = ngx_http_mixpanel_ua_iphone;

    } else if (found & NGX_UA(BLACKBERRY)) {
        out->device = ngx_http_mixpanel_ua_blackberry;

    } else if (found & NGX_UA(ANDROID)) {
        out->device = ngx_http_mixpanel_ua_android;
    }
}


/*
 * An app's own HTTP stack (okhttp, Dalvik, CFNetwork, Alamofire, Dart,
 * ...) or a library (curl, python-requests, ...): Mixpanel's mobile SDKs
 * send no $browser, $browser_version or $device, and $os as they name it:
 * "Android" (mixpanel-android), "iOS" and "macOS" (mixpanel-swift).  Apple
 * sends "CFNetwork/N Darwin/N" alike from iOS, iPadOS, macOS, tvOS and
 * watchOS; macOS alone adds its architecture, "(x86_64)" or "(arm64)".
 * Without that or a name of the platform, $os stays out: a guess would be
 * wrong for every Mac (see docs/properties.md).
 */

static void
ngx_http_mixpanel_ua_native(uint64_t found, ngx_http_mixpanel_ua_t *out)
{
    if (found & NGX_UA(ANDROID)) {
        out->os = ngx_http_mixpanel_ua_android;

    } else if (found & (NGX_UA(IPHONE)|NGX_UA(IPAD)|NGX_UA(IPOD)
                        |NGX_UA(IOS)))
    {
        out->os = ngx_http_mixpanel_ua_ios;

    } else if ((found & NGX_UA(MACOS))
               || (found & (NGX_UA(DARWIN)|NGX_UA(MACARCH)))
                  == (NGX_UA(DARWIN)|NGX_UA(MACARCH)))
    {
        out->os = ngx_http_mixpanel_ua_macos;
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


/*
 * The SDK sends parseFloat() of (\d+(\.\d+)?): "120.0.6099.109" is 120,
 * "17.2.1" is 17.2, "9.80" is 9.8, "0120" is 120.  The same digits without
 * leading zeros in the major and trailing zeros in the minor form a
 * substring of the input that is the SDK's number, as long as a double
 * holds every digit: up to 15, and the number is at least 1e-6.  Past
 * that the SDK sends the double as JavaScript writes it
 * ("12345678901234567" is 12345678901234568, "1" and 21 zeros is 1e+21,
 * "0.0000001" is 1e-7), and the text would be as long as the client
 * makes it: the number is written from the double, as JavaScript writes
 * it.  A number parseFloat() makes Infinity is sent as null by the SDK,
 * which Mixpanel shows as "not set": it is left out.
 */

static void
ngx_http_mixpanel_ua_version(u_char *p, u_char *last, ngx_str_t *v)
{
    u_char         *start, *end, *minor, *b;
    double          d;
    size_t          n;
    static char     buf[NGX_HTTP_MIXPANEL_UA_NUMBER + 2];
    static u_char   out[NGX_HTTP_MIXPANEL_NUMBER_LEN];

    start = p;

    while (p < last && *p >= '0' && *p <= '9') {
        p++;
    }

    end = p;

    while (start + 1 < end && *start == '0') {
        start++;
    }

    if (end - start > NGX_HTTP_MIXPANEL_UA_MAX_MAJOR) {
        return;                              /* at least 1e309: Infinity */
    }

    minor = NULL;

    if (last - p > 1 && *p == '.' && p[1] >= '0' && p[1] <= '9') {
        minor = ++p;

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }

        while (p > minor && p[-1] == '0') {
            p--;
        }

        if (p > minor) {
            end = p;

        } else {
            minor = NULL;
        }
    }

    v->data = start;
    v->len = end - start;

    if (v->len - (minor ? 1 : 0) <= 15
        && !(minor && *start == '0' && end - minor > 6
             && ngx_strncmp(minor, "000000", 6) == 0))
    {
        return;
    }

    n = ngx_min(v->len, NGX_HTTP_MIXPANEL_UA_NUMBER);
    b = ngx_cpymem(buf, start, n);

    if (v->len > NGX_HTTP_MIXPANEL_UA_NUMBER) {
        *b++ = '1';
    }

    *b = '\0';

    d = strtod(buf, NULL);

    if (d > 1.7976931348623157e308) {
        v->len = 0;
        return;
    }

    v->data = out;
    v->len = ngx_http_mixpanel_number(out, d);
}


/*
 * The parse of a User-Agent, remembered: a worker sees the same few
 * User-Agents over and over.  The values are good until the next call.
 */

void
ngx_http_mixpanel_ua_get(u_char *ua, size_t len, ngx_http_mixpanel_ua_t *out)
{
    ngx_str_t  v[6];

    if (ngx_http_mixpanel_cache_get(&ngx_http_mixpanel_ua_cache, 0, ua, len,
                                    v, 6, NULL)
        == NGX_OK)
    {
        out->browser = v[0];
        out->browser_version = v[1];
        out->os = v[2];
        out->device = v[3];
        out->bot = v[4].len;
        out->json = v[5];
        out->nprops = (v[0].len != 0) + (v[1].len != 0) + (v[2].len != 0)
                      + (v[3].len != 0);
        return;
    }

    ngx_http_mixpanel_ua_misses++;

    ngx_http_mixpanel_ua_parse(ua, len, out);
    ngx_http_mixpanel_ua_json(out);

    v[0] = out->browser;
    v[1] = out->browser_version;
    v[2] = out->os;
    v[3] = out->device;
    v[4].len = out->bot;
    v[4].data = (u_char *) "b";
    v[5] = out->json;

    ngx_http_mixpanel_cache_put(&ngx_http_mixpanel_ua_cache, 0, ua, len, v, 6);
}


/*
 * The values as props.c writes them, once per User-Agent: the names are
 * the static strings above, ASCII with nothing to escape, and the version
 * a JSON number.
 */

static void
ngx_http_mixpanel_ua_json(ngx_http_mixpanel_ua_t *ua)
{
    u_char      *p;
    ngx_str_t   *v[4];
    ngx_uint_t   i;

    static ngx_str_t  keys[] = {
        ngx_string(",\"$browser\":\""),
        ngx_string(",\"$browser_version\":"),
        ngx_string(",\"$os\":\""),
        ngx_string(",\"$device\":\"")
    };

    v[0] = &ua->browser;
    v[1] = &ua->browser_version;
    v[2] = &ua->os;
    v[3] = &ua->device;

    p = ngx_http_mixpanel_ua_json_buf;
    ua->nprops = 0;

    for (i = 0; i < 4; i++) {
        if (v[i]->len == 0) {
            continue;
        }

        p = ngx_cpymem(p, keys[i].data, keys[i].len);
        p = ngx_cpymem(p, v[i]->data, v[i]->len);

        if (i != 1) {
            *p++ = '"';
        }

        ua->nprops++;
    }

    ua->json.data = ngx_http_mixpanel_ua_json_buf;
    ua->json.len = p - ngx_http_mixpanel_ua_json_buf;
}


void
ngx_http_mixpanel_ua_exit(void)
{
    ngx_http_mixpanel_cache_empty(&ngx_http_mixpanel_ua_cache);
}


/*
 * The request's User-Agent as ngx_http_mixpanel_ua_get() parses it, the
 * second time without asking the cache again; 0 without a User-Agent.
 */

ngx_int_t
ngx_http_mixpanel_ua_request(ngx_http_request_t *r,
    ngx_http_mixpanel_ua_t *out)
{
    ngx_table_elt_t              *h;
    ngx_connection_t             *c;
    ngx_http_mixpanel_ua_last_t  *last;

    h = r->headers_in.user_agent;

    if (h == NULL) {
        return 0;
    }

    c = r->connection;
    last = &ngx_http_mixpanel_ua_last;

    if (last->data == h->value.data
        && last->len == h->value.len
        && last->number == c->number
        && last->requests == c->requests
        && last->misses == ngx_http_mixpanel_ua_misses)
    {
        *out = last->ua;
        return 1;
    }

    ngx_http_mixpanel_ua_get(h->value.data, h->value.len, out);

    last->number = c->number;
    last->requests = c->requests;
    last->data = h->value.data;
    last->len = h->value.len;
    last->misses = ngx_http_mixpanel_ua_misses;
    last->ua = *out;

    return 1;
}


/*
 * mixpanel_track_bots: the SDK drops every event of a User-Agent that
 * contains, in any case, one of its crawler strings.
 */

ngx_int_t
ngx_http_mixpanel_ua_is_bot(ngx_http_request_t *r)
{
    ngx_http_mixpanel_ua_t  parsed;

    return ngx_http_mixpanel_ua_request(r, &parsed) && parsed.bot;
}
