
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * A per-worker memo of results that are costly to compute and repeat
 * from request to request: verified JWT claims (a returning user sends
 * the same token for its whole lifetime) and parsed User-Agent strings.
 *
 * Four-way set-associative: a key's hash picks a set of four slots, and
 * a new entry takes a free slot of the set or the one used least recently
 * (two hot keys of one set would evict each other in a direct-mapped
 * cache, request after request).  A hit compares the whole key,
 * byte for byte, and a tag (what the result was computed with, such as a
 * key set), so a different input can never be answered from the cache.
 * Each entry is one malloc() block: the key, then the values.  The memory
 * is bounded: slots * (max_key + max_values) bytes at most.  Workers are
 * single-threaded; nothing here is shared or locked.
 */


#include "ngx_http_mixpanel_module.h"


struct ngx_http_mixpanel_cache_slot_s {
    u_char                       *block;    /* key, ngx_str_t[n], bytes */
    size_t                        len;      /* of the key */
    uintptr_t                     tag;
    uint32_t                      hash;
    ngx_uint_t                    n;
    ngx_uint_t                    used;     /* when last hit or stored */
};


#define NGX_HTTP_MIXPANEL_CACHE_WAYS  4
#define NGX_HTTP_MIXPANEL_CACHE_K     0x9e3779b97f4a7c15ULL


/* the entries and the slots go; the cache can be used again */

void
ngx_http_mixpanel_cache_empty(ngx_http_mixpanel_cache_t *cache)
{
    ngx_uint_t  i;

    if (cache->slots == NULL) {
        return;
    }

    for (i = 0; i < cache->size; i++) {
        if (cache->slots[i].block) {
            ngx_free(cache->slots[i].block);
        }
    }

    ngx_free(cache->slots);
    cache->slots = NULL;
}


/*
 * The hash of a long key takes its first and last 32 bytes and its length:
 * where keys differ (a JWT's signature; a User-Agent's platform and its
 * browser's version), at a fixed cost.  Hits compare the whole key.
 * Eight bytes at a time, multiplied and folded (murmur2 took 4 at a time
 * and three times the instructions); nothing depends on the hash but
 * which set a key goes to.
 */

static ngx_inline uint64_t
ngx_http_mixpanel_cache_words(uint64_t h, u_char *p, size_t len)
{
    u_char    *last;
    uint64_t   w;

    /* len >= 8: the last word overlaps the one before */

    last = p + len - 8;

    for ( ;; ) {
        if (p > last) {
            p = last;
        }

        ngx_memcpy(&w, p, 8);

        h = (h ^ w) * NGX_HTTP_MIXPANEL_CACHE_K;
        h ^= h >> 32;

        if (p == last) {
            return h;
        }

        p += 8;
    }
}


static ngx_inline uint32_t
ngx_http_mixpanel_cache_hash(uintptr_t tag, u_char *key, size_t len)
{
    size_t    i;
    uint64_t  h, w;

    h = ((uint64_t) len * NGX_HTTP_MIXPANEL_CACHE_K) ^ (uint64_t) tag;

    if (len < 8) {
        w = 0;

        for (i = 0; i < len; i++) {
            w = (w << 8) | key[i];
        }

        h = (h ^ w) * NGX_HTTP_MIXPANEL_CACHE_K;

    } else if (len <= 64) {
        h = ngx_http_mixpanel_cache_words(h, key, len);

    } else {
        h = ngx_http_mixpanel_cache_words(h, key, 32);
        h = ngx_http_mixpanel_cache_words(h, key + len - 32, 32);
    }

    h ^= h >> 29;
    h *= NGX_HTTP_MIXPANEL_CACHE_K;
    h ^= h >> 32;

    return (uint32_t) h;
}


/*
 * NGX_OK and the values on a hit, NGX_DECLINED on a miss.  With a pool
 * the values are copied into it; without one they point into the cache
 * and are good until the next ngx_http_mixpanel_cache_put().
 */

ngx_int_t
ngx_http_mixpanel_cache_get(ngx_http_mixpanel_cache_t *cache, uintptr_t tag,
    u_char *key, size_t len, ngx_str_t *values, ngx_uint_t n,
    ngx_pool_t *pool)
{
    u_char                          *p;
    size_t                           size;
    uint32_t                         hash;
    ngx_str_t                       *v;
    ngx_uint_t                       i;
    ngx_http_mixpanel_cache_slot_t  *slot;

    if (cache->slots == NULL || len > cache->max_key) {
        return NGX_DECLINED;
    }

    hash = ngx_http_mixpanel_cache_hash(tag, key, len);
    slot = &cache->slots[(hash & (cache->size / NGX_HTTP_MIXPANEL_CACHE_WAYS
                                  - 1))
                         * NGX_HTTP_MIXPANEL_CACHE_WAYS];

    for (i = 0; /* void */ ; i++, slot++) {

        if (i == NGX_HTTP_MIXPANEL_CACHE_WAYS) {
            return NGX_DECLINED;
        }

        if (slot->block != NULL
            && slot->hash == hash
            && slot->tag == tag
            && slot->len == len
            && slot->n == n
            && ngx_memcmp(slot->block, key, len) == 0)
        {
            break;
        }
    }

    slot->used = ++cache->clock;

    v = (ngx_str_t *) (slot->block + ngx_align(len, sizeof(void *)));

    if (pool == NULL) {
        ngx_memcpy(values, v, n * sizeof(ngx_str_t));
        return NGX_OK;
    }

    size = 0;

    for (i = 0; i < n; i++) {
        size += v[i].len;
    }

    p = ngx_pnalloc(pool, size ? size : 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        values[i].len = v[i].len;
        values[i].data = v[i].len ? p : NULL;
        p = ngx_cpymem(p, v[i].data, v[i].len);
    }

    return NGX_OK;
}


/*
 * The slots are allocated by the first store; a failure to allocate only
 * means that the result is not remembered.
 */

void
ngx_http_mixpanel_cache_put(ngx_http_mixpanel_cache_t *cache, uintptr_t tag,
    u_char *key, size_t len, ngx_str_t *values, ngx_uint_t n)
{
    u_char                          *block, *p;
    size_t                           size, head;
    uint32_t                         hash;
    ngx_str_t                       *v;
    ngx_uint_t                       i;
    ngx_http_mixpanel_cache_slot_t  *slot, *set;

    if (len > cache->max_key) {
        return;
    }

    if (cache->slots == NULL) {
        cache->slots = calloc(cache->size,
                              sizeof(ngx_http_mixpanel_cache_slot_t));
        if (cache->slots == NULL) {
            return;
        }
    }

    size = 0;

    for (i = 0; i < n; i++) {
        size += values[i].len;
    }

    if (size > cache->max_values) {
        return;
    }

    head = ngx_align(len, sizeof(void *)) + n * sizeof(ngx_str_t);

    block = malloc(head + size);
    if (block == NULL) {
        return;
    }

    hash = ngx_http_mixpanel_cache_hash(tag, key, len);
    set = &cache->slots[(hash & (cache->size / NGX_HTTP_MIXPANEL_CACHE_WAYS
                                 - 1))
                        * NGX_HTTP_MIXPANEL_CACHE_WAYS];
    slot = set;

    for (i = 0; i < NGX_HTTP_MIXPANEL_CACHE_WAYS; i++) {
        if (set[i].block == NULL) {
            slot = &set[i];
            break;
        }

        if (set[i].used < slot->used) {
            slot = &set[i];
        }
    }

    if (slot->block) {
        ngx_free(slot->block);
    }

    ngx_memcpy(block, key, len);

    v = (ngx_str_t *) (block + ngx_align(len, sizeof(void *)));
    p = block + head;

    for (i = 0; i < n; i++) {
        v[i].len = values[i].len;
        v[i].data = p;

        /* an empty value may have no data: memcpy() wants a pointer */

        if (values[i].len) {
            p = ngx_cpymem(p, values[i].data, values[i].len);
        }
    }

    slot->block = block;
    slot->len = len;
    slot->tag = tag;
    slot->hash = hash;
    slot->n = n;
    slot->used = ++cache->clock;
}
