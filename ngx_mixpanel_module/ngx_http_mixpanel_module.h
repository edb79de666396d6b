
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


#ifndef _NGX_HTTP_MIXPANEL_MODULE_H_INCLUDED_
#define _NGX_HTTP_MIXPANEL_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_MIXPANEL_VERSION         "0.1.0"

#define NGX_HTTP_MIXPANEL_MAX_BATCH       2000
#define NGX_HTTP_MIXPANEL_MAX_BODY        (2 * 1024 * 1024)
#define NGX_HTTP_MIXPANEL_MAX_PROPS       254
#define NGX_HTTP_MIXPANEL_MAX_STRING      255


#define NGX_HTTP_MIXPANEL_OFF             0
#define NGX_HTTP_MIXPANEL_TRACK           1
#define NGX_HTTP_MIXPANEL_SIGNUP          2
#define NGX_HTTP_MIXPANEL_LOGIN           3
#define NGX_HTTP_MIXPANEL_LOGOUT          4
#define NGX_HTTP_MIXPANEL_PROFILE_SWITCH  5
#define NGX_HTTP_MIXPANEL_PROFILE_UPDATE  6
#define NGX_HTTP_MIXPANEL_RESET           7


#define NGX_HTTP_MIXPANEL_STRING          0
#define NGX_HTTP_MIXPANEL_NUMBER          1
#define NGX_HTTP_MIXPANEL_BOOLEAN         2
#define NGX_HTTP_MIXPANEL_LIST            3
#define NGX_HTTP_MIXPANEL_JSON            4


#define NGX_HTTP_MIXPANEL_SINK_HTTP       0
#define NGX_HTTP_MIXPANEL_SINK_FILE       1


#define NGX_HTTP_MIXPANEL_RECORD_EVENT    0
#define NGX_HTTP_MIXPANEL_RECORD_ENGAGE   1


#define NGX_HTTP_MIXPANEL_ORIGINAL        0
#define NGX_HTTP_MIXPANEL_SIMPLIFIED      1


#define NGX_HTTP_MIXPANEL_UUID_LEN        36
#define NGX_HTTP_MIXPANEL_TAG_LEN         12
#define NGX_HTTP_MIXPANEL_KID_LEN         3      /* the key's id in a tag */
#define NGX_HTTP_MIXPANEL_COOKIE_LEN      (NGX_HTTP_MIXPANEL_UUID_LEN + 1     \
                                           + NGX_HTTP_MIXPANEL_TAG_LEN)
#define NGX_HTTP_MIXPANEL_PROFILE_MAX     128
#define NGX_HTTP_MIXPANEL_SECRET_LEN      32

/* the device cookie: <uuid>.<tag> bound, <uuid>_<tag> pending */
#define NGX_HTTP_MIXPANEL_BOUND           '.'
#define NGX_HTTP_MIXPANEL_PENDING         '_'


typedef struct {
    u_char                       *start;
    u_char                       *pos;
    u_char                       *end;
    ngx_uint_t                    nprops;
    ngx_uint_t                    profile;      /* a profile's values */
} ngx_http_mixpanel_buf_t;


typedef struct {
    ngx_str_t                     name;
    ngx_str_t                     key;
    ngx_http_complex_value_t     *value;
    ngx_uint_t                    type;
    u_char                       *file;         /* where it is set */
    ngx_uint_t                    line;
} ngx_http_mixpanel_prop_t;


#define NGX_HTTP_MIXPANEL_WORKERS         256


/* what each worker reports of its queue, for mixpanel_status */

typedef struct {
    ngx_atomic_t                  pid;          /* 0: a free slot */
    ngx_atomic_t                  seen;         /* its last report */
    ngx_atomic_t                  capacity;     /* its mixpanel_queue_size */
    ngx_atomic_t                  oldest;       /* when the oldest event it
                                                   holds was queued, or 0 */
    ngx_atomic_t                  held;         /* its part of queue_depth */
} ngx_http_mixpanel_worker_stat_t;


/* the counters of SPEC section 5, one set per worker or in the zone */

typedef struct {
    ngx_atomic_t                  events_queued;
    ngx_atomic_t                  events_sent;
    ngx_atomic_t                  events_rejected;
    ngx_atomic_t                  dropped_queue_full;
    ngx_atomic_t                  dropped_retry_expired;
    ngx_atomic_t                  dropped_shutdown;
    ngx_atomic_t                  dropped_worker_died;
    ngx_atomic_t                  dropped_memory;
    ngx_atomic_t                  events_spooled;
    ngx_atomic_t                  events_replayed;
    ngx_atomic_t                  events_replay_rejected;
    ngx_atomic_t                  batches_sent;
    ngx_atomic_t                  retries;
    ngx_atomic_t                  identify_sent;
    ngx_atomic_t                  queue_depth;
    ngx_atomic_t                  last_success_time;
    ngx_atomic_t                  last_error_time;
    ngx_atomic_t                  last_error_len;
    u_char                        last_error[128];
    ngx_http_mixpanel_worker_stat_t  workers[NGX_HTTP_MIXPANEL_WORKERS];
} ngx_http_mixpanel_counters_t;


/*
 * An event or people update as it leaves the request: a single
 * malloc()ed block the sender owns, the JSON object followed by the token.
 */

typedef struct ngx_http_mixpanel_record_s  ngx_http_mixpanel_record_t;

struct ngx_http_mixpanel_record_s {
    ngx_http_mixpanel_record_t   *next;
    uint32_t                      kind;
    uint32_t                      len;
    uint32_t                      token_len;
    uint32_t                      identify;
    ngx_msec_t                    at;       /* the sender's: when it took
                                               the record */
    u_char                       *token;

    /*
     * $identify: the device id it binds, UUID_LEN bytes in data.  When
     * the sender drops such a record after all (retry time spent, exit
     * without spool), it calls ngx_http_mixpanel_identity_unbind() on the
     * worker with this id.
     */
    u_char                       *device;
    u_char                        data[1];
};


/* where a directive was written: for checks made once the block is read */

typedef struct {
    u_char                       *file;
    ngx_uint_t                    line;
    ngx_str_t                     value;
    ngx_uint_t                    warned;       /* unsigned warned:1 */
} ngx_http_mixpanel_conf_src_t;


typedef struct {
    ngx_str_t                     name;
    ngx_str_t                     domain;
    ngx_str_t                     path;
    time_t                        max_age;
    ngx_uint_t                    samesite;
    unsigned                      secure:1;
    unsigned                      httponly:1;
} ngx_http_mixpanel_cookie_t;


typedef struct {
    ngx_uint_t                    sink;
    ngx_str_t                     url;
    ngx_str_t                     file;
    ngx_uint_t                    batch_size;
    ngx_uint_t                    queue_size;
    ngx_uint_t                    concurrency;
    ngx_msec_t                    flush_interval;
    ngx_msec_t                    timeout;
    ngx_msec_t                    retry_max_time;
    ngx_flag_t                    gzip;
    ngx_flag_t                    ssl_verify;
    ngx_str_t                     ssl_trusted_certificate;
    ngx_str_t                     spool_dir;
    off_t                         spool_max;
    ngx_str_t                     service_user;
    ngx_str_t                     service_secret;
    ngx_str_t                     project_id;
} ngx_http_mixpanel_sender_conf_t;


typedef struct ngx_http_mixpanel_sender_s  ngx_http_mixpanel_sender_t;


typedef struct {
    ngx_http_mixpanel_sender_conf_t   sender;

    ngx_http_mixpanel_counters_t     *counters;
    ngx_http_mixpanel_counters_t      local_counters;

    ngx_open_file_t                  *file;
    ngx_flag_t                        enabled;
    ngx_flag_t                        status;
    ngx_str_t                         const_props;

    ngx_shm_zone_t                   *shm_zone;
    void                             *shctx;
    ssize_t                           zone_size;

    /*
     * for the service account: the first mixpanel_token with variables,
     * the first literal one and the first literal one that differs
     */
    ngx_http_mixpanel_conf_src_t     *variable_token;
    ngx_http_mixpanel_conf_src_t     *literal_token;
    ngx_http_mixpanel_conf_src_t     *other_token;
    ngx_http_mixpanel_conf_src_t     *spool_src;
    ngx_str_t                         cookie_secret;  /* the zone's if empty */
    ngx_array_t                       sdk_paths;  /* the SDK cookie's keys */
} ngx_http_mixpanel_main_conf_t;


typedef struct {
    ngx_uint_t                    action;
    ngx_http_complex_value_t     *action_if;
    ngx_http_mixpanel_conf_src_t *action_src;

    ngx_http_complex_value_t     *token;
    ngx_http_complex_value_t     *event;
    ngx_uint_t                    event_off;     /* unsigned event_off:1 */
    ngx_http_complex_value_t     *ip;
    ngx_flag_t                    ip_off;

    ngx_array_t                  *props;         /* ngx_http_mixpanel_prop_t */

    ngx_flag_t                    request_properties;
    ngx_flag_t                    user_agent_properties;

    ngx_http_complex_value_t     *account_id;
    ngx_http_complex_value_t     *profile_id;
    ngx_http_complex_value_t     *device_id;
    ngx_http_complex_value_t     *opt_out;

    ngx_uint_t                    identity;
    ngx_http_mixpanel_cookie_t   *device_cookie;
    ngx_http_mixpanel_cookie_t   *profile_cookie;
    ngx_flag_t                    logout_reset;

    ngx_array_t                  *people_set;
    ngx_array_t                  *people_set_once;
    ngx_array_t                  *people_add;
    ngx_array_t                  *people_unset;

    ngx_flag_t                    track_bots;
    ngx_flag_t                    untracked;     /* mixpanel_status */

    ngx_str_t                     route;

    /* this worker's last "had no account/profile id" warning here */
    time_t                        no_id_logged;

    /*
     * {"event":"API Request","properties":{"token":"..." when neither
     * the event's name nor the token has variables: rendered once
     */
    ngx_str_t                     head;
} ngx_http_mixpanel_loc_conf_t;


/*
 * The request's identity, kept across internal redirects.  "conf" is the
 * location that decides (the first with an action the request passes
 * through); "resolved" the configuration the ids were read with, which a
 * variable read earlier may have chosen and the decision then replaces.
 */

typedef struct {
    ngx_http_mixpanel_loc_conf_t *conf;
    ngx_http_mixpanel_loc_conf_t *resolved;

    u_char                        device[NGX_HTTP_MIXPANEL_UUID_LEN];
    u_char                        old_device[NGX_HTTP_MIXPANEL_UUID_LEN];
    u_char                        minted_device[NGX_HTTP_MIXPANEL_UUID_LEN];
    u_char                        tag[NGX_HTTP_MIXPANEL_TAG_LEN];
    u_char                        account_tag[NGX_HTTP_MIXPANEL_TAG_LEN];

    ngx_str_t                     token;
    ngx_str_t                     account;
    ngx_str_t                     profile;
    ngx_str_t                     prev_profile;

    ngx_str_t                     sdk_token;
    ngx_str_t                     sdk_device;
    ngx_str_t                     sdk_distinct;
    ngx_str_t                     sdk_user;

    unsigned                      resolved_ok:1;
    unsigned                      from_client:1;
    unsigned                      old_from_client:1;
    unsigned                      from_header:1;
    unsigned                      from_sdk:1;
    unsigned                      has_tag:1;
    unsigned                      pending:1;
    unsigned                      unconfirmed:1;
    unsigned                      minted:1;
    unsigned                      has_minted:1;
    unsigned                      set_cookie:1;
    unsigned                      rotated:1;
    unsigned                      decided:1;
    unsigned                      decided_account:1;
    unsigned                      no_cookies:1;
    unsigned                      active:1;
    unsigned                      identify:1;
    unsigned                      bind:1;
    unsigned                      identify_refused:1;
    unsigned                      foreign:1;
    unsigned                      drop_profile:1;
    unsigned                      opted_out:1;
    unsigned                      ignored:1;
    unsigned                      profile_set:1;
    unsigned                      sdk_parsed:1;
    unsigned                      done:1;
    unsigned                      account_busy:1;
    unsigned                      old_key:1;
} ngx_http_mixpanel_ctx_t;


/* ngx_http_mixpanel_event.c */

ngx_int_t ngx_http_mixpanel_buf_grow(ngx_http_mixpanel_buf_t *b,
    size_t size);


static ngx_inline ngx_int_t
ngx_http_mixpanel_buf_reserve(ngx_http_mixpanel_buf_t *b, size_t size)
{
    if ((size_t) (b->end - b->pos) >= size) {
        return NGX_OK;
    }

    return ngx_http_mixpanel_buf_grow(b, size);
}


static ngx_inline ngx_int_t
ngx_http_mixpanel_buf_append(ngx_http_mixpanel_buf_t *b, u_char *data,
    size_t len)
{
    if (ngx_http_mixpanel_buf_reserve(b, len) != NGX_OK) {
        return NGX_ERROR;
    }

    b->pos = ngx_cpymem(b->pos, data, len);

    return NGX_OK;
}


ngx_int_t ngx_http_mixpanel_json_string(ngx_http_mixpanel_buf_t *b,
    u_char *data, size_t len);
ngx_int_t ngx_http_mixpanel_utf8_valid(u_char *p, size_t len);
ngx_int_t ngx_http_mixpanel_json_key(ngx_str_t *key, ngx_pool_t *pool,
    ngx_str_t *name);
ngx_int_t ngx_http_mixpanel_json_prop(ngx_http_mixpanel_buf_t *b,
    ngx_str_t *key, ngx_uint_t type, ngx_str_t *value, ngx_log_t *log);
ngx_int_t ngx_http_mixpanel_json_string_prop(ngx_http_mixpanel_buf_t *b,
    ngx_str_t *key, u_char *data, size_t len);
ngx_int_t ngx_http_mixpanel_json_number_prop(ngx_http_mixpanel_buf_t *b,
    ngx_str_t *key, int64_t n);
ngx_int_t ngx_http_mixpanel_answer_parse(u_char *body, size_t len,
    ngx_int_t *imported, ngx_int_t *failed, ngx_str_t *error,
    u_char *errbuf, size_t errlen);
ngx_uint_t ngx_http_mixpanel_answer_failed(u_char *body, size_t len,
    u_char *failed, ngx_uint_t n);


/* ngx_http_mixpanel_identity.c */

ngx_http_mixpanel_ctx_t *ngx_http_mixpanel_get_ctx(ngx_http_request_t *r,
    ngx_uint_t create);
ngx_http_mixpanel_loc_conf_t *ngx_http_mixpanel_deciding_conf(
    ngx_http_request_t *r, ngx_http_mixpanel_ctx_t *ctx);
ngx_int_t ngx_http_mixpanel_identity_start(ngx_http_request_t *r,
    ngx_http_mixpanel_loc_conf_t *conf);
ngx_int_t ngx_http_mixpanel_identity_header(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx);
ngx_int_t ngx_http_mixpanel_identity_log(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx);
ngx_int_t ngx_http_mixpanel_identity_needs_body(ngx_http_request_t *r);
void ngx_http_mixpanel_identity_exit(void);
ngx_int_t ngx_http_mixpanel_add_variables(ngx_conf_t *cf);
ngx_int_t ngx_http_mixpanel_identity_conf(ngx_conf_t *cf,
    ngx_http_mixpanel_main_conf_t *mmcf);
char *ngx_http_mixpanel_cookie_conf(ngx_conf_t *cf,
    ngx_http_mixpanel_cookie_t **cookie);

/*
 * Called on the worker (never on the sender thread) when an $identify
 * handed to the sender was dropped after all (retry time spent, exit
 * without spool): the device's binding must not count, so that the next
 * request of the device sends it again.
 */
void ngx_http_mixpanel_identity_unbind(ngx_cycle_t *cycle, u_char *device);


/* ngx_http_mixpanel_record.c */

void ngx_http_mixpanel_record_set_sender(ngx_http_mixpanel_sender_t *s);
ngx_int_t ngx_http_mixpanel_record_emit(ngx_http_request_t *r,
    ngx_http_mixpanel_ctx_t *ctx);
ngx_int_t ngx_http_mixpanel_record_head(ngx_conf_t *cf,
    ngx_http_mixpanel_loc_conf_t *conf);
void ngx_http_mixpanel_record_ip(ngx_str_t *value, ngx_str_t *ip);


/* ngx_http_mixpanel_props.c */

ngx_int_t ngx_http_mixpanel_request_props(ngx_http_request_t *r,
    ngx_http_mixpanel_loc_conf_t *conf, ngx_http_mixpanel_buf_t *b);
ngx_int_t ngx_http_mixpanel_client_props(ngx_http_request_t *r,
    ngx_http_mixpanel_buf_t *b);
void ngx_http_mixpanel_props_exit(void);
ngx_uint_t ngx_http_mixpanel_props_group(ngx_str_t *name);

#define NGX_HTTP_MIXPANEL_PROPS_NONE      0
#define NGX_HTTP_MIXPANEL_PROPS_REQUEST   1
#define NGX_HTTP_MIXPANEL_PROPS_CLIENT    2


/* ngx_http_mixpanel_spool.c: called on the sender thread only */

#define NGX_HTTP_MIXPANEL_TOKEN_MAX   255

typedef struct {
    dev_t                         dev;
    ino_t                         ino;
} ngx_http_mixpanel_spool_gone_t;

/* a file written at exit, not yet synced nor renamed */

typedef struct {
    ngx_msec_t                    ms;           /* its name */
    ngx_uint_t                    seq;
    ngx_uint_t                    count;        /* records in it */
    ngx_uint_t                    broken;       /* to be removed */
} ngx_http_mixpanel_spool_pending_t;

typedef struct {
    u_char                             *dir;        /* NUL-terminated */
    size_t                              len;
    off_t                               max_size;
    off_t                               size;       /* of the files, when */
    time_t                              sized;      /* last counted */
    ngx_uint_t                          seq;
    ngx_pid_t                           pid;
    uint64_t                            nonce;      /* in its names */

    /* files sent that could be neither removed nor emptied: skipped */
    ngx_http_mixpanel_spool_gone_t     *gone;
    ngx_uint_t                          ngone;
    ngx_uint_t                          nalloc;

    /*
     * at exit: the lanes go in sections of a few files, synced at once by
     * ngx_http_mixpanel_spool_commit(); the last one is open on wfd
     */
    ngx_uint_t                          defer;
    ngx_http_mixpanel_spool_pending_t  *pending;
    ngx_uint_t                          npending;
    ngx_uint_t                          palloc;
    int                                 wfd;
    ngx_uint_t                          wopen;
    off_t                               wsize;

    /* files the last claim could not open: how many, and the first */
    ngx_uint_t                          nbad;
    u_char                              bad[NGX_MAX_PATH + 64];
} ngx_http_mixpanel_spool_t;

/* a spool file claimed for a replay: locked on fd while it is read and sent */

typedef struct {
    int                           fd;
    u_char                        path[NGX_MAX_PATH];
    u_char                       *body;         /* the file, read whole */
    size_t                        len;
    size_t                        offset;       /* the section's header */
    size_t                        next;         /* the next section's */
    ngx_uint_t                    kind;
    u_char                        token[NGX_HTTP_MIXPANEL_TOKEN_MAX];
    size_t                        token_len;
    ngx_http_mixpanel_record_t   *records;      /* malloc()ed, in order */
    ngx_uint_t                    count;
    unsigned                      readonly:1;   /* its sections cannot
                                                   be marked sent */
} ngx_http_mixpanel_spooled_t;

ngx_int_t ngx_http_mixpanel_spool_own(ngx_http_mixpanel_spool_t *sp,
    ngx_http_mixpanel_spooled_t *f);
ngx_int_t ngx_http_mixpanel_spool_write(ngx_http_mixpanel_spool_t *sp,
    ngx_uint_t kind, u_char *token, size_t token_len,
    ngx_http_mixpanel_record_t *records, ngx_uint_t count, u_char *err,
    size_t errlen);
ngx_int_t ngx_http_mixpanel_spool_claim(ngx_http_mixpanel_spool_t *sp,
    ngx_http_mixpanel_spooled_t *f, ngx_int_t (*skip)(void *data,
    ngx_uint_t kind, u_char *token, size_t len), void *data, u_char *err,
    size_t errlen);
void ngx_http_mixpanel_spool_release(ngx_http_mixpanel_spooled_t *f,
    ngx_uint_t sent);
ngx_int_t ngx_http_mixpanel_spool_remove(ngx_http_mixpanel_spool_t *sp,
    ngx_http_mixpanel_spooled_t *f, u_char *err, size_t errlen);
ngx_uint_t ngx_http_mixpanel_spool_mark(ngx_http_mixpanel_spooled_t *f);
ngx_int_t ngx_http_mixpanel_spool_next(ngx_http_mixpanel_spool_t *sp,
    ngx_http_mixpanel_spooled_t *f, u_char *err, size_t errlen);
ngx_uint_t ngx_http_mixpanel_spool_commit(ngx_http_mixpanel_spool_t *sp,
    u_char *err, size_t errlen);
void ngx_http_mixpanel_spool_sweep(ngx_http_mixpanel_spool_t *sp);


/* ngx_http_mixpanel_status.c */

char *ngx_http_mixpanel_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


/* ngx_http_mixpanel_zone.c */

ngx_int_t ngx_http_mixpanel_zone_init(ngx_shm_zone_t *shm_zone, void *data);
ngx_int_t ngx_http_mixpanel_zone_secret(ngx_http_mixpanel_main_conf_t *mmcf,
    ngx_str_t *secret);
ngx_uint_t ngx_http_mixpanel_zone_unconfirmed(
    ngx_http_mixpanel_main_conf_t *mmcf);
ngx_int_t ngx_http_mixpanel_zone_lookup(ngx_http_mixpanel_main_conf_t *mmcf,
    ngx_str_t *token, u_char *device, u_char *tag, ngx_uint_t *unconfirmed);
void ngx_http_mixpanel_zone_bind(ngx_http_mixpanel_main_conf_t *mmcf,
    ngx_log_t *log, ngx_str_t *token, u_char *device, u_char *tag);
void ngx_http_mixpanel_zone_unconfirm(ngx_http_mixpanel_main_conf_t *mmcf,
    ngx_log_t *log, ngx_str_t *token, u_char *device, u_char *tag);


/*
 * ngx_http_mixpanel_json.c, for the JWT module and the SDK's cookie: the
 * only jansson parser
 */

ngx_int_t ngx_http_mixpanel_json_values(ngx_pool_t *pool, u_char *data,
    size_t len, ngx_array_t *paths, ngx_str_t *values);
ngx_int_t ngx_http_mixpanel_json_present(ngx_pool_t *pool, u_char *data,
    size_t len, ngx_array_t *paths, ngx_str_t *values, uint32_t *present);
ngx_int_t ngx_http_mixpanel_json_strings(ngx_pool_t *pool, u_char *data,
    size_t len, ngx_array_t *paths, ngx_str_t *values);
ngx_int_t ngx_http_mixpanel_json_jwks(ngx_pool_t *pool, u_char *data,
    size_t len, ngx_array_t *keys, ngx_str_t *error);


/* ngx_http_mixpanel_sender.c */

/* how long an exiting worker sends: a quit, a fast shutdown (SIGTERM) */
#define NGX_HTTP_MIXPANEL_EXIT_BUDGET       5000
#define NGX_HTTP_MIXPANEL_TERMINATE_BUDGET  300

ngx_int_t ngx_http_mixpanel_sender_init(ngx_log_t *log);
ngx_http_mixpanel_sender_t *ngx_http_mixpanel_sender_start(
    ngx_http_mixpanel_sender_conf_t *conf, ngx_open_file_t *file,
    ngx_cycle_t *cycle);
ngx_int_t ngx_http_mixpanel_sender_push(ngx_http_mixpanel_sender_t *sender,
    ngx_http_mixpanel_record_t *rec);
void ngx_http_mixpanel_sender_stop(ngx_http_mixpanel_sender_t *sender,
    ngx_msec_t budget);
ngx_msec_t ngx_http_mixpanel_sender_exiting(
    ngx_http_mixpanel_sender_t *sender);


/* ngx_http_mixpanel_ua.c */

typedef struct {
    ngx_str_t                     browser;
    ngx_str_t                     browser_version;
    ngx_str_t                     os;
    ngx_str_t                     device;
    ngx_uint_t                    bot;

    /*
     * by ngx_http_mixpanel_ua_get() only: the four as an event carries
     * them, ,"$browser":"Chrome","$browser_version":120,..., and how many
     */
    ngx_str_t                     json;
    ngx_uint_t                    nprops;
} ngx_http_mixpanel_ua_t;

void ngx_http_mixpanel_ua_parse(u_char *ua, size_t len,
    ngx_http_mixpanel_ua_t *out);
/* the same, remembered per worker; good until the next call */
void ngx_http_mixpanel_ua_get(u_char *ua, size_t len,
    ngx_http_mixpanel_ua_t *out);
void ngx_http_mixpanel_ua_exit(void);
/* a crawler of the JavaScript SDK's blocked list (mixpanel_track_bots) */
ngx_int_t ngx_http_mixpanel_ua_request(ngx_http_request_t *r,
    ngx_http_mixpanel_ua_t *out);
ngx_int_t ngx_http_mixpanel_ua_is_bot(ngx_http_request_t *r);


/* ngx_http_mixpanel_gzip.c */

typedef struct ngx_http_mixpanel_gzip_s  ngx_http_mixpanel_gzip_t;

/* called between slices of the work, to give the CPU back */
typedef void (*ngx_http_mixpanel_yield_pt)(void *data);

ngx_http_mixpanel_gzip_t *ngx_http_mixpanel_gzip_create(void);
void ngx_http_mixpanel_gzip_destroy(ngx_http_mixpanel_gzip_t *gz);
size_t ngx_http_mixpanel_gzip_bound(ngx_http_mixpanel_gzip_t *gz,
    size_t len);
size_t ngx_http_mixpanel_gzip(ngx_http_mixpanel_gzip_t *gz, u_char *in,
    size_t len, u_char *out, size_t size, ngx_http_mixpanel_yield_pt yield,
    void *data);


/* ngx_http_mixpanel_cache.c */

typedef struct ngx_http_mixpanel_cache_slot_s  ngx_http_mixpanel_cache_slot_t;

typedef struct {
    ngx_http_mixpanel_cache_slot_t  *slots;
    ngx_uint_t                       size;      /* a power of 2, >= 4 */
    size_t                           max_key;
    size_t                           max_values;
    ngx_uint_t                       clock;
} ngx_http_mixpanel_cache_t;

/* a static cache: ngx_http_mixpanel_cache(slots, longest key, values) */
#define ngx_http_mixpanel_cache(size, max_key, max_values)                   \
    { NULL, size, max_key, max_values, 0 }

void ngx_http_mixpanel_cache_empty(ngx_http_mixpanel_cache_t *cache);
ngx_int_t ngx_http_mixpanel_cache_get(ngx_http_mixpanel_cache_t *cache,
    uintptr_t tag, u_char *key, size_t len, ngx_str_t *values, ngx_uint_t n,
    ngx_pool_t *pool);
void ngx_http_mixpanel_cache_put(ngx_http_mixpanel_cache_t *cache,
    uintptr_t tag, u_char *key, size_t len, ngx_str_t *values, ngx_uint_t n);


/* ngx_http_mixpanel_number.c */

/* at most 25 bytes: "-0.00000" and 17 digits */
#define NGX_HTTP_MIXPANEL_NUMBER_LEN  32

size_t ngx_http_mixpanel_number(u_char *buf, double d);


/* ngx_http_mixpanel_util.c */

ngx_int_t ngx_http_mixpanel_random(u_char *buf, size_t len);
void ngx_http_mixpanel_hex(u_char *dst, u_char *src, size_t len);
void ngx_http_mixpanel_uuid4(u_char *dst, u_char *rnd);
ngx_int_t ngx_http_mixpanel_header_vars_init(ngx_cycle_t *cycle);
ngx_int_t ngx_http_mixpanel_complex_value(ngx_http_request_t *r,
    ngx_http_complex_value_t *val, ngx_str_t *value);
ngx_int_t ngx_http_mixpanel_complex_value_copy(ngx_http_request_t *r,
    ngx_http_complex_value_t *val, ngx_str_t *value);


extern ngx_module_t  ngx_http_mixpanel_module;


#endif /* _NGX_HTTP_MIXPANEL_MODULE_H_INCLUDED_ */
