
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * A double as JavaScript writes it (ECMAScript's Number::toString(), what
 * JSON.stringify() and String() give): the fewest significant digits that
 * give the double back, written out from 1e-7 to below 1e21, as d.ddde+n
 * past them.  The SDK's numbers (a browser version is parseFloat() of the
 * User-Agent's digits) and a JSON body's reals are sent as this text.
 * Nothing of nginx's is called: the User-Agent unit test links this file
 * on its own.
 */


#include "ngx_http_mixpanel_module.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>


/*
 * buf has NGX_HTTP_MIXPANEL_NUMBER_LEN bytes; Infinity and NaN, which
 * JSON.stringify() writes as null, are written as nothing
 */

size_t
ngx_http_mixpanel_number(u_char *buf, double d)
{
    int      prec, exp, k, n, i;
    u_char  *o;
    char     sci[32], digits[20], *p;

    o = buf;

    if (!isfinite(d)) {
        return 0;
    }

    if (d == 0) {
        *o++ = '0';                          /* -0 too */
        return o - buf;
    }

    if (d < 0) {
        *o++ = '-';
        d = -d;
    }

    for (prec = 1; prec < 17; prec++) {
        (void) snprintf(sci, sizeof(sci), "%.*e", prec - 1, d);

        if (strtod(sci, NULL) == d) {
            break;
        }
    }

    if (prec == 17) {
        (void) snprintf(sci, sizeof(sci), "%.16e", d);
    }

    /* "d.ddde[+-]xx": the digits, without trailing zeros, and the exponent */

    k = 0;

    for (p = sci; *p != 'e'; p++) {
        if (*p != '.') {
            digits[k++] = *p;
        }
    }

    exp = atoi(p + 1);

    while (k > 1 && digits[k - 1] == '0') {
        k--;
    }

    n = exp + 1;

    if (k <= n && n <= 21) {
        o = ngx_cpymem(o, digits, k);

        for (i = k; i < n; i++) {
            *o++ = '0';
        }

    } else if (0 < n && n <= 21) {
        o = ngx_cpymem(o, digits, n);
        *o++ = '.';
        o = ngx_cpymem(o, digits + n, k - n);

    } else if (-6 < n && n <= 0) {
        *o++ = '0';
        *o++ = '.';

        for (i = n; i < 0; i++) {
            *o++ = '0';
        }

        o = ngx_cpymem(o, digits, k);

    } else {
        *o++ = digits[0];

        if (k > 1) {
            *o++ = '.';
            o = ngx_cpymem(o, digits + 1, k - 1);
        }

        *o++ = 'e';
        *o++ = n - 1 < 0 ? '-' : '+';
        o += snprintf((char *) o, 4, "%d", abs(n - 1));
    }

    return o - buf;
}
