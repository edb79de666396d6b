
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * The shared zone: the counters of all workers, the key of the cookie tag
 * when mixpanel_cookie_secret is not set (made when the zone is first
 * created, kept across reloads), and which account each device id was
 * last identified with, per project (token: one device may be used with
 * several).  The bindings serve device ids that come from the client in
 * a header, which carry no tag, and remember which bindings are
 * "unconfirmed": their $identify was refused or dropped, so the next
 * request of the device sends it again even if its cookie says bound.  A
 * dropped $identify reported by the sender names no token: its mark
 * holds for every project ("token" 0).  An rbtree with an LRU queue, as
 * in the limit_req module; the oldest entries make room for new ones.
 */


#include "ngx_http_mixpanel_module.h"

#include <openssl/rand.h>


typedef struct {
    u_char                          color;
    u_char                          unconfirmed;
    u_char                          has_tag;
    u_char                          dummy;
    ngx_queue_t                     queue;
    uint32_t                        token;      /* crc32 of the token */
    u_char                          device[NGX_HTTP_MIXPANEL_UUID_LEN];
    u_char                          tag[NGX_HTTP_MIXPANEL_TAG_LEN];
} ngx_http_mixpanel_node_t;


typedef struct {
    ngx_http_mixpanel_counters_t    counters;
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     queue;
    ngx_atomic_t                    unconfirmed;
    u_char                          secret[NGX_HTTP_MIXPANEL_SECRET_LEN];
} ngx_http_mixpanel_shctx_t;


static ngx_http_mixpanel_node_t *ngx_http_mixpanel_zone_node(
    ngx_http_mixpanel_main_conf_t *mmcf, ngx_log_t *log, u_char *device,
    uint32_t token);
static void ngx_http_mixpanel_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_http_mixpanel_node_t *ngx_http_mixpanel_zone_find(
    ngx_http_mixpanel_shctx_t *sh, u_char *device, uint32_t token);
static ngx_int_t ngx_http_mixpanel_zone_cmp(u_char *device, uint32_t token,
    ngx_http_mixpanel_node_t *node);


ngx_int_t
ngx_http_mixpanel_zone_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_mixpanel_main_conf_t  *mmcf = shm_zone->data;

    ngx_slab_pool_t                *shpool;
    ngx_http_mixpanel_shctx_t      *sh;
    ngx_http_mixpanel_main_conf_t  *omcf;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (data) {

        /*
         * A reload keeps the counters and the bindings: "data" is the
         * old cycle's configuration, still alive while this one starts.
         */

        omcf = data;
        mmcf->shctx = omcf->shctx;
        mmcf->counters = &((ngx_http_mixpanel_shctx_t *)
                               mmcf->shctx)->counters;

        return NGX_OK;
    }

    if (shm_zone->shm.exists) {
        sh = shpool->data;
        mmcf->shctx = sh;
        mmcf->counters = &sh->counters;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_mixpanel_shctx_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    /*
     * the key of the cookie tags unless mixpanel_cookie_secret is set: it
     * lives as long as the zone, so a reload keeps the tags valid.  Not
     * from ngx_http_mixpanel_random(): this is the master, whose pool of
     * random bytes every worker would inherit.
     */

    if (RAND_bytes(sh->secret, NGX_HTTP_MIXPANEL_SECRET_LEN) != 1) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "mixpanel: RAND_bytes() failed for the cookie key");
        return NGX_ERROR;
    }

    shpool->data = sh;

    ngx_rbtree_init(&sh->rbtree, &sh->sentinel,
                    ngx_http_mixpanel_rbtree_insert_value);
    ngx_queue_init(&sh->queue);

    shpool->log_ctx = ngx_slab_alloc(shpool,
                                     sizeof(" in mixpanel zone \"\"")
                                     + shm_zone->shm.name.len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in mixpanel zone \"%V\"%Z",
                &shm_zone->shm.name);

    shpool->log_nomem = 0;

    mmcf->shctx = sh;
    mmcf->counters = &sh->counters;

    return NGX_OK;
}


ngx_int_t
ngx_http_mixpanel_zone_secret(ngx_http_mixpanel_main_conf_t *mmcf,
    ngx_str_t *secret)
{
    ngx_http_mixpanel_shctx_t  *sh;

    if (mmcf->cookie_secret.len) {
        *secret = mmcf->cookie_secret;
        return NGX_OK;
    }

    sh = mmcf->shctx;

    if (sh == NULL) {
        return NGX_DECLINED;
    }

    secret->data = sh->secret;
    secret->len = NGX_HTTP_MIXPANEL_SECRET_LEN;

    return NGX_OK;
}


/* read without the lock: the common path never takes it for this */

ngx_uint_t
ngx_http_mixpanel_zone_unconfirmed(ngx_http_mixpanel_main_conf_t *mmcf)
{
    ngx_http_mixpanel_shctx_t  *sh;

    sh = mmcf->shctx;

    return sh != NULL && sh->unconfirmed != 0;
}


ngx_int_t
ngx_http_mixpanel_zone_lookup(ngx_http_mixpanel_main_conf_t *mmcf,
    ngx_str_t *token, u_char *device, u_char *tag, ngx_uint_t *unconfirmed)
{
    ngx_int_t                   rc;
    ngx_slab_pool_t            *shpool;
    ngx_http_mixpanel_node_t   *node, *any;
    ngx_http_mixpanel_shctx_t  *sh;

    *unconfirmed = 0;

    if (mmcf->shm_zone == NULL || mmcf->shctx == NULL) {
        return NGX_DECLINED;
    }

    shpool = (ngx_slab_pool_t *) mmcf->shm_zone->shm.addr;
    sh = mmcf->shctx;

    rc = NGX_DECLINED;

    ngx_shmtx_lock(&shpool->mutex);

    node = ngx_http_mixpanel_zone_find(sh, device,
                                       ngx_crc32_short(token->data,
                                                       token->len));

    if (node) {
        *unconfirmed = node->unconfirmed;

        if (node->has_tag) {
            ngx_memcpy(tag, node->tag, NGX_HTTP_MIXPANEL_TAG_LEN);
            rc = NGX_OK;
        }

        ngx_queue_remove(&node->queue);
        ngx_queue_insert_head(&sh->queue, &node->queue);
    }

    if (sh->unconfirmed && !*unconfirmed) {
        any = ngx_http_mixpanel_zone_find(sh, device, 0);

        if (any && any->unconfirmed) {
            *unconfirmed = 1;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return rc;
}


/*
 * The device's $identify was handed to the sender: the binding counts,
 * and a mark of a dropped one, for this project or any, is cleared.
 */

void
ngx_http_mixpanel_zone_bind(ngx_http_mixpanel_main_conf_t *mmcf,
    ngx_log_t *log, ngx_str_t *token, u_char *device, u_char *tag)
{
    ngx_slab_pool_t            *shpool;
    ngx_http_mixpanel_node_t   *node;
    ngx_http_mixpanel_shctx_t  *sh;

    if (mmcf->shm_zone == NULL || mmcf->shctx == NULL) {
        return;
    }

    shpool = (ngx_slab_pool_t *) mmcf->shm_zone->shm.addr;
    sh = mmcf->shctx;

    ngx_shmtx_lock(&shpool->mutex);

    node = ngx_http_mixpanel_zone_node(mmcf, log, device,
                                       ngx_crc32_short(token->data,
                                                       token->len));

    if (node) {
        ngx_memcpy(node->tag, tag, NGX_HTTP_MIXPANEL_TAG_LEN);
        node->has_tag = 1;

        if (node->unconfirmed) {
            node->unconfirmed = 0;
            sh->unconfirmed--;
        }
    }

    if (sh->unconfirmed) {
        node = ngx_http_mixpanel_zone_find(sh, device, 0);

        if (node && node->unconfirmed) {
            node->unconfirmed = 0;
            sh->unconfirmed--;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


/*
 * The device's $identify was refused or dropped: whatever its cookie says,
 * its next request identifies it again.  "token" and "tag" are NULL when
 * they are not known here (the sender's report of a dropped record): the
 * mark then holds for the device in every project.
 */

void
ngx_http_mixpanel_zone_unconfirm(ngx_http_mixpanel_main_conf_t *mmcf,
    ngx_log_t *log, ngx_str_t *token, u_char *device, u_char *tag)
{
    ngx_slab_pool_t            *shpool;
    ngx_http_mixpanel_node_t   *node;
    ngx_http_mixpanel_shctx_t  *sh;

    if (mmcf->shm_zone == NULL || mmcf->shctx == NULL) {
        return;
    }

    shpool = (ngx_slab_pool_t *) mmcf->shm_zone->shm.addr;
    sh = mmcf->shctx;

    ngx_shmtx_lock(&shpool->mutex);

    node = ngx_http_mixpanel_zone_node(mmcf, log, device,
                                       token ? ngx_crc32_short(token->data,
                                                               token->len)
                                             : 0);

    if (node) {
        if (tag) {
            ngx_memcpy(node->tag, tag, NGX_HTTP_MIXPANEL_TAG_LEN);
            node->has_tag = 1;
        }

        if (!node->unconfirmed) {
            node->unconfirmed = 1;
            sh->unconfirmed++;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


/* the device's node, made (the oldest ones making room) if new; locked */

static ngx_http_mixpanel_node_t *
ngx_http_mixpanel_zone_node(ngx_http_mixpanel_main_conf_t *mmcf,
    ngx_log_t *log, u_char *device, uint32_t token)
{
    size_t                      size;
    uint32_t                    hash;
    ngx_uint_t                  i;
    ngx_queue_t                *q;
    ngx_slab_pool_t            *shpool;
    ngx_rbtree_node_t          *rn;
    ngx_http_mixpanel_node_t   *node;
    ngx_http_mixpanel_shctx_t  *sh;

    shpool = (ngx_slab_pool_t *) mmcf->shm_zone->shm.addr;
    sh = mmcf->shctx;

    hash = ngx_crc32_short(device, NGX_HTTP_MIXPANEL_UUID_LEN);

    node = ngx_http_mixpanel_zone_find(sh, device, token);

    if (node) {
        ngx_queue_remove(&node->queue);
        ngx_queue_insert_head(&sh->queue, &node->queue);
        return node;
    }

    size = offsetof(ngx_rbtree_node_t, color)
           + sizeof(ngx_http_mixpanel_node_t);

    rn = ngx_slab_alloc_locked(shpool, size);

    for (i = 0; rn == NULL && i < 16 && !ngx_queue_empty(&sh->queue); i++) {

        /* the least recently used bindings make room */

        q = ngx_queue_last(&sh->queue);
        node = ngx_queue_data(q, ngx_http_mixpanel_node_t, queue);
        ngx_queue_remove(q);

        if (node->unconfirmed) {
            sh->unconfirmed--;
        }

        rn = (ngx_rbtree_node_t *)
                 ((u_char *) node - offsetof(ngx_rbtree_node_t, color));
        ngx_rbtree_delete(&sh->rbtree, rn);
        ngx_slab_free_locked(shpool, rn);

        rn = ngx_slab_alloc_locked(shpool, size);
    }

    if (rn == NULL) {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "mixpanel: zone is full, device binding not kept");
        return NULL;
    }

    rn->key = hash;
    node = (ngx_http_mixpanel_node_t *) &rn->color;

    node->unconfirmed = 0;
    node->has_tag = 0;
    node->token = token;
    ngx_memcpy(node->device, device, NGX_HTTP_MIXPANEL_UUID_LEN);

    ngx_rbtree_insert(&sh->rbtree, rn);
    ngx_queue_insert_head(&sh->queue, &node->queue);

    return node;
}


/* the tree is ordered by the device's crc32, then the device and token */

static ngx_http_mixpanel_node_t *
ngx_http_mixpanel_zone_find(ngx_http_mixpanel_shctx_t *sh, u_char *device,
    uint32_t token)
{
    uint32_t                   hash;
    ngx_int_t                  rc;
    ngx_rbtree_node_t         *node, *sentinel;
    ngx_http_mixpanel_node_t  *mn;

    hash = ngx_crc32_short(device, NGX_HTTP_MIXPANEL_UUID_LEN);

    node = sh->rbtree.root;
    sentinel = sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        mn = (ngx_http_mixpanel_node_t *) &node->color;

        rc = ngx_http_mixpanel_zone_cmp(device, token, mn);

        if (rc == 0) {
            return mn;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static ngx_int_t
ngx_http_mixpanel_zone_cmp(u_char *device, uint32_t token,
    ngx_http_mixpanel_node_t *node)
{
    ngx_int_t  rc;

    rc = ngx_memcmp(device, node->device, NGX_HTTP_MIXPANEL_UUID_LEN);

    if (rc != 0) {
        return rc;
    }

    if (token == node->token) {
        return 0;
    }

    return (token < node->token) ? -1 : 1;
}


static void
ngx_http_mixpanel_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t         **p;
    ngx_http_mixpanel_node_t   *mn, *mnt;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            mn = (ngx_http_mixpanel_node_t *) &node->color;
            mnt = (ngx_http_mixpanel_node_t *) &temp->color;

            p = (ngx_http_mixpanel_zone_cmp(mn->device, mn->token, mnt) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}
