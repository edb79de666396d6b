
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * The shared zone: the counters of all workers, and which account each
 * device id was last identified with, for device ids that come from the
 * client rather than from our cookie.  An rbtree with an LRU queue, as in
 * the limit_req module; the oldest entries make room for new ones.
 */


#include "ngx_http_mixpanel_module.h"


typedef struct {
    u_char                          color;
    u_char                          dummy;
    u_short                         dummy2;
    ngx_queue_t                     queue;
    u_char                          device[NGX_HTTP_MIXPANEL_UUID_LEN];
    u_char                          tag[NGX_HTTP_MIXPANEL_TAG_LEN];
} ngx_http_mixpanel_node_t;


typedef struct {
    ngx_http_mixpanel_counters_t    counters;
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     queue;
} ngx_http_mixpanel_shctx_t;


static void ngx_http_mixpanel_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_http_mixpanel_node_t *ngx_http_mixpanel_zone_find(
    ngx_http_mixpanel_shctx_t *sh, u_char *device, uint32_t hash);


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
ngx_http_mixpanel_zone_lookup(ngx_http_request_t *r, u_char *device,
    u_char *tag)
{
    uint32_t                        hash;
    ngx_int_t                       rc;
    ngx_slab_pool_t                *shpool;
    ngx_http_mixpanel_node_t       *node;
    ngx_http_mixpanel_shctx_t      *sh;
    ngx_http_mixpanel_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mixpanel_module);

    if (mmcf->shm_zone == NULL) {
        return NGX_DECLINED;
    }

    shpool = (ngx_slab_pool_t *) mmcf->shm_zone->shm.addr;
    sh = shpool->data;

    hash = ngx_crc32_short(device, NGX_HTTP_MIXPANEL_UUID_LEN);

    ngx_shmtx_lock(&shpool->mutex);

    node = ngx_http_mixpanel_zone_find(sh, device, hash);

    if (node) {
        ngx_memcpy(tag, node->tag, NGX_HTTP_MIXPANEL_TAG_LEN);
        ngx_queue_remove(&node->queue);
        ngx_queue_insert_head(&sh->queue, &node->queue);
        rc = NGX_OK;

    } else {
        rc = NGX_DECLINED;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return rc;
}


void
ngx_http_mixpanel_zone_bind(ngx_http_request_t *r, u_char *device,
    u_char *tag)
{
    size_t                          size;
    uint32_t                        hash;
    ngx_uint_t                      i;
    ngx_queue_t                    *q;
    ngx_slab_pool_t                *shpool;
    ngx_rbtree_node_t              *rn;
    ngx_http_mixpanel_node_t       *node;
    ngx_http_mixpanel_shctx_t      *sh;
    ngx_http_mixpanel_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mixpanel_module);

    if (mmcf->shm_zone == NULL) {
        return;
    }

    shpool = (ngx_slab_pool_t *) mmcf->shm_zone->shm.addr;
    sh = shpool->data;

    hash = ngx_crc32_short(device, NGX_HTTP_MIXPANEL_UUID_LEN);

    ngx_shmtx_lock(&shpool->mutex);

    node = ngx_http_mixpanel_zone_find(sh, device, hash);

    if (node) {
        ngx_memcpy(node->tag, tag, NGX_HTTP_MIXPANEL_TAG_LEN);
        ngx_queue_remove(&node->queue);
        ngx_queue_insert_head(&sh->queue, &node->queue);
        ngx_shmtx_unlock(&shpool->mutex);
        return;
    }

    size = offsetof(ngx_rbtree_node_t, color)
           + sizeof(ngx_http_mixpanel_node_t);

    rn = ngx_slab_alloc_locked(shpool, size);

    for (i = 0; rn == NULL && i < 16 && !ngx_queue_empty(&sh->queue); i++) {

        /* the least recently used bindings make room */

        q = ngx_queue_last(&sh->queue);
        node = ngx_queue_data(q, ngx_http_mixpanel_node_t, queue);
        ngx_queue_remove(q);

        rn = (ngx_rbtree_node_t *)
                 ((u_char *) node - offsetof(ngx_rbtree_node_t, color));
        ngx_rbtree_delete(&sh->rbtree, rn);
        ngx_slab_free_locked(shpool, rn);

        rn = ngx_slab_alloc_locked(shpool, size);
    }

    if (rn == NULL) {
        ngx_shmtx_unlock(&shpool->mutex);
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mixpanel: zone is full, device binding not kept");
        return;
    }

    rn->key = hash;
    node = (ngx_http_mixpanel_node_t *) &rn->color;

    ngx_memcpy(node->device, device, NGX_HTTP_MIXPANEL_UUID_LEN);
    ngx_memcpy(node->tag, tag, NGX_HTTP_MIXPANEL_TAG_LEN);

    ngx_rbtree_insert(&sh->rbtree, rn);
    ngx_queue_insert_head(&sh->queue, &node->queue);

    ngx_shmtx_unlock(&shpool->mutex);
}


static ngx_http_mixpanel_node_t *
ngx_http_mixpanel_zone_find(ngx_http_mixpanel_shctx_t *sh, u_char *device,
    uint32_t hash)
{
    ngx_int_t                  rc;
    ngx_rbtree_node_t         *node, *sentinel;
    ngx_http_mixpanel_node_t  *mn;

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

        rc = ngx_memcmp(device, mn->device, NGX_HTTP_MIXPANEL_UUID_LEN);

        if (rc == 0) {
            return mn;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
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

            p = (ngx_memcmp(mn->device, mnt->device,
                            NGX_HTTP_MIXPANEL_UUID_LEN) < 0)
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
