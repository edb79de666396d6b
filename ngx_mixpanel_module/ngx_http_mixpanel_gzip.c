
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * gzip for the sender's /import bodies.  ISA-L's igzip (level 1) when the
 * module was built with it: on batches of realistic events it takes
 * 0.45 us an event against libdeflate's 1.25 us (level 1) for a ratio of
 * 0.124 against 0.118.  libdeflate otherwise, in one shot.  Only the
 * sender thread calls these; each sender has its own compressor.
 *
 * igzip is fed 128 KB at a time and the caller's yield runs in between:
 * a 2000-event batch is 1 ms of compression, which a worker sharing the
 * core with the sender would otherwise wait for.  Each isal_deflate()
 * call copies its first 32 KB into igzip's window and the last 32 KB
 * back out (about 100k instructions): with 64 KB slices that was a
 * quarter of the instructions and 10 % of the time of a batch, with
 * 128 KB an eighth and 5 %, for slices of about 70 us instead of 35 us.
 */


#include "ngx_http_mixpanel_module.h"

#if (NGX_HTTP_MIXPANEL_ISAL)
#include <isa-l/igzip_lib.h>

#define NGX_HTTP_MIXPANEL_GZIP_CHUNK  131072
#else
#include <libdeflate.h>
#endif


struct ngx_http_mixpanel_gzip_s {
#if (NGX_HTTP_MIXPANEL_ISAL)
    struct isal_zstream           stream;
    u_char                       *level_buf;
#else
    struct libdeflate_compressor *compressor;
#endif
};


ngx_http_mixpanel_gzip_t *
ngx_http_mixpanel_gzip_create(void)
{
    ngx_http_mixpanel_gzip_t  *gz;

    gz = calloc(1, sizeof(ngx_http_mixpanel_gzip_t));
    if (gz == NULL) {
        return NULL;
    }

#if (NGX_HTTP_MIXPANEL_ISAL)

    /*
     * zeroed: igzip reads its hash tables before it writes them, which
     * is harmless but makes memory checkers report it
     */

    gz->level_buf = calloc(1, ISAL_DEF_LVL1_DEFAULT);
    if (gz->level_buf == NULL) {
        free(gz);
        return NULL;
    }

#else

    gz->compressor = libdeflate_alloc_compressor(1);
    if (gz->compressor == NULL) {
        free(gz);
        return NULL;
    }

#endif

    return gz;
}


void
ngx_http_mixpanel_gzip_destroy(ngx_http_mixpanel_gzip_t *gz)
{
    if (gz == NULL) {
        return;
    }

#if (NGX_HTTP_MIXPANEL_ISAL)
    free(gz->level_buf);
#else
    libdeflate_free_compressor(gz->compressor);
#endif

    free(gz);
}


/* the largest output of len bytes of input */

size_t
ngx_http_mixpanel_gzip_bound(ngx_http_mixpanel_gzip_t *gz, size_t len)
{
#if (NGX_HTTP_MIXPANEL_ISAL)

    /* stored blocks at worst: 5 bytes per 64 KB, headers and the trailer */

    return len + 5 * (len / 65535 + 1) + ISAL_DEF_MAX_HDR_SIZE + 64;

#else

    return libdeflate_gzip_compress_bound(gz->compressor, len);

#endif
}


/* the size of the gzip data written to out, or 0 */

size_t
ngx_http_mixpanel_gzip(ngx_http_mixpanel_gzip_t *gz, u_char *in, size_t len,
    u_char *out, size_t size, ngx_http_mixpanel_yield_pt yield, void *data)
{
#if (NGX_HTTP_MIXPANEL_ISAL)

    size_t                n;
    uint32_t              before;
    struct isal_zstream  *s;

    if (len > 0xffffffff || size > 0xffffffff) {
        return 0;
    }

    s = &gz->stream;

    ngx_memzero(s, sizeof(struct isal_zstream));
    isal_deflate_init(s);

    s->level = 1;
    s->level_buf = gz->level_buf;
    s->level_buf_size = ISAL_DEF_LVL1_DEFAULT;
    s->gzip_flag = IGZIP_GZIP;
    s->flush = NO_FLUSH;
    s->next_out = out;
    s->avail_out = size;

    do {
        n = ngx_min(len, NGX_HTTP_MIXPANEL_GZIP_CHUNK);

        s->next_in = in;
        s->avail_in = n;
        s->end_of_stream = (n == len);

        in += n;
        len -= n;

        if (isal_deflate(s) != COMP_OK || s->avail_in != 0) {
            return 0;
        }

        if (len && yield) {
            yield(data);
        }

    } while (len);

    /* the last block and the trailer, should the output have waited */

    while (s->internal_state.state != ZSTATE_END) {
        before = s->avail_out;

        if (isal_deflate(s) != COMP_OK || s->avail_out == before) {
            return 0;
        }
    }

    return s->total_out;

#else

    (void) yield;
    (void) data;

    return libdeflate_gzip_compress(gz->compressor, in, len, out, size);

#endif
}
