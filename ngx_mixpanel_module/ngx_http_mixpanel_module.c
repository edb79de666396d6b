
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


#include "ngx_http_mixpanel_module.h"


static ngx_int_t ngx_http_mixpanel_rewrite_handler(ngx_http_request_t *r);
static ngx_http_mixpanel_ctx_t *ngx_http_mixpanel_tracked(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_mixpanel_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_mixpanel_log_handler(ngx_http_request_t *r);

static void *ngx_http_mixpanel_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_mixpanel_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_mixpanel_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_mixpanel_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_mixpanel_merge_props(ngx_conf_t *cf,
    ngx_array_t **child, ngx_array_t *parent);
static ngx_int_t ngx_http_mixpanel_merge_defaults(ngx_conf_t *cf,
    ngx_http_mixpanel_loc_conf_t *conf);

static char *ngx_http_mixpanel(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mixpanel_token(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mixpanel_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mixpanel_api_endpoint(ngx_conf_t *cf, ngx_str_t *url,
    u_char *host);
static char *ngx_http_mixpanel_check_sink(ngx_conf_t *cf, ngx_str_t *name);
static char *ngx_http_mixpanel_identity_mode(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_mixpanel_event(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mixpanel_ip(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mixpanel_property(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mixpanel_reserved(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *name);
static char *ngx_http_mixpanel_cookie(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mixpanel_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mixpanel_service_account(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_mixpanel_spool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mixpanel_cookie_secret(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_mixpanel_status_location(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);

static ngx_http_complex_value_t *ngx_http_mixpanel_compile(ngx_conf_t *cf,
    ngx_str_t *value);
static ngx_http_mixpanel_conf_src_t *ngx_http_mixpanel_conf_src(
    ngx_conf_t *cf, ngx_str_t *value);
static ngx_int_t ngx_http_mixpanel_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_mixpanel_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_mixpanel_init_process(ngx_cycle_t *cycle);
static void ngx_http_mixpanel_exit_process(ngx_cycle_t *cycle);


static char *ngx_http_mixpanel_check_batch_size(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_mixpanel_check_queue_size(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_mixpanel_check_ca_file(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_mixpanel_check_concurrency(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_mixpanel_check_timeout(ngx_conf_t *cf, void *post,
    void *data);

static ngx_conf_post_t  ngx_http_mixpanel_batch_size_post = {
    ngx_http_mixpanel_check_batch_size
};

static ngx_conf_post_t  ngx_http_mixpanel_queue_size_post = {
    ngx_http_mixpanel_check_queue_size
};

static ngx_conf_post_t  ngx_http_mixpanel_ca_file_post = {
    ngx_http_mixpanel_check_ca_file
};

static ngx_conf_post_t  ngx_http_mixpanel_concurrency_post = {
    ngx_http_mixpanel_check_concurrency
};

static ngx_conf_post_t  ngx_http_mixpanel_timeout_post = {
    ngx_http_mixpanel_check_timeout
};


static ngx_str_t  ngx_http_mixpanel_actions[] = {
    ngx_string("off"),
    ngx_string("track"),
    ngx_string("signup"),
    ngx_string("login"),
    ngx_string("logout"),
    ngx_string("profile_switch"),
    ngx_string("profile_update"),
    ngx_string("reset"),
    ngx_null_string
};


static ngx_conf_enum_t  ngx_http_mixpanel_identities[] = {
    { ngx_string("original"), NGX_HTTP_MIXPANEL_ORIGINAL },
    { ngx_string("simplified"), NGX_HTTP_MIXPANEL_SIMPLIFIED },
    { ngx_null_string, 0 }
};


/*
 * Property names the module writes itself (a second key of the same name
 * in the JSON would let a configured value, perhaps a client's header,
 * replace the identity), or that Mixpanel reserves for identity merging
 * and ingestion, or that are /engage parameters and operations.
 */

#define NGX_HTTP_MIXPANEL_RESERVED_EVENT     0x01
#define NGX_HTTP_MIXPANEL_RESERVED_SET       0x02
#define NGX_HTTP_MIXPANEL_RESERVED_SET_ONCE  0x04
#define NGX_HTTP_MIXPANEL_RESERVED_PEOPLE    0x1e
#define NGX_HTTP_MIXPANEL_RESERVED_ALL       0x1f

typedef struct {
    ngx_str_t                     name;
    ngx_uint_t                    where;
    ngx_uint_t                    why;
} ngx_http_mixpanel_reserved_t;


static ngx_http_mixpanel_reserved_t  ngx_http_mixpanel_reserved_names[] = {

    /* the module sends them */
    { ngx_string("distinct_id"), NGX_HTTP_MIXPANEL_RESERVED_ALL, 0 },
    { ngx_string("$device_id"), NGX_HTTP_MIXPANEL_RESERVED_ALL, 0 },
    { ngx_string("$user_id"), NGX_HTTP_MIXPANEL_RESERVED_ALL, 0 },
    { ngx_string("$identified_id"), NGX_HTTP_MIXPANEL_RESERVED_ALL, 0 },
    { ngx_string("$anon_id"), NGX_HTTP_MIXPANEL_RESERVED_ALL, 0 },
    { ngx_string("token"), NGX_HTTP_MIXPANEL_RESERVED_EVENT, 0 },
    { ngx_string("time"), NGX_HTTP_MIXPANEL_RESERVED_EVENT, 0 },
    { ngx_string("ip"), NGX_HTTP_MIXPANEL_RESERVED_EVENT, 0 },
    { ngx_string("$insert_id"), NGX_HTTP_MIXPANEL_RESERVED_EVENT, 0 },
    { ngx_string("mp_lib"), NGX_HTTP_MIXPANEL_RESERVED_EVENT, 0 },
    { ngx_string("$lib_version"), NGX_HTTP_MIXPANEL_RESERVED_EVENT, 0 },
    { ngx_string("account_id"), NGX_HTTP_MIXPANEL_RESERVED_EVENT
                                |NGX_HTTP_MIXPANEL_RESERVED_SET, 0 },
    { ngx_string("active_profile_id"), NGX_HTTP_MIXPANEL_RESERVED_EVENT
                                       |NGX_HTTP_MIXPANEL_RESERVED_SET, 0 },
    { ngx_string("previous_profile_id"), NGX_HTTP_MIXPANEL_RESERVED_EVENT,
      0 },
    { ngx_string("$created"), NGX_HTTP_MIXPANEL_RESERVED_SET_ONCE, 0 },

    /* Mixpanel's reserved event properties of identity and ingestion */
    { ngx_string("$distinct_id"), NGX_HTTP_MIXPANEL_RESERVED_EVENT, 1 },
    { ngx_string("$time"), NGX_HTTP_MIXPANEL_RESERVED_EVENT, 1 },
    { ngx_string("$anon_distinct_id"), NGX_HTTP_MIXPANEL_RESERVED_EVENT, 1 },
    { ngx_string("$distinct_ids"), NGX_HTTP_MIXPANEL_RESERVED_EVENT, 1 },
    { ngx_string("alias"), NGX_HTTP_MIXPANEL_RESERVED_EVENT, 1 },
    { ngx_string("$event_name"), NGX_HTTP_MIXPANEL_RESERVED_EVENT, 1 },
    { ngx_string("$bucket"), NGX_HTTP_MIXPANEL_RESERVED_EVENT, 1 },
    { ngx_string("bucket"), NGX_HTTP_MIXPANEL_RESERVED_EVENT, 1 },
    { ngx_string("$distinct_id_before_identity"),
      NGX_HTTP_MIXPANEL_RESERVED_EVENT, 1 },
    { ngx_string("$is_reshuffled"), NGX_HTTP_MIXPANEL_RESERVED_EVENT, 1 },
    { ngx_string("$preshuffle_distinct_id"),
      NGX_HTTP_MIXPANEL_RESERVED_EVENT, 1 },
    { ngx_string("mp_original_distinct_id"),
      NGX_HTTP_MIXPANEL_RESERVED_EVENT, 1 },
    { ngx_string("mp_original_event_name"),
      NGX_HTTP_MIXPANEL_RESERVED_EVENT, 1 },

    /* /engage parameters and operations */
    { ngx_string("$token"), NGX_HTTP_MIXPANEL_RESERVED_PEOPLE, 2 },
    { ngx_string("$distinct_id"), NGX_HTTP_MIXPANEL_RESERVED_PEOPLE, 2 },
    { ngx_string("$ip"), NGX_HTTP_MIXPANEL_RESERVED_PEOPLE, 2 },
    { ngx_string("$time"), NGX_HTTP_MIXPANEL_RESERVED_PEOPLE, 2 },
    { ngx_string("$ignore_time"), NGX_HTTP_MIXPANEL_RESERVED_PEOPLE, 2 },
    { ngx_string("$ignore_alias"), NGX_HTTP_MIXPANEL_RESERVED_PEOPLE, 2 },
    { ngx_string("$set"), NGX_HTTP_MIXPANEL_RESERVED_PEOPLE, 2 },
    { ngx_string("$set_once"), NGX_HTTP_MIXPANEL_RESERVED_PEOPLE, 2 },
    { ngx_string("$add"), NGX_HTTP_MIXPANEL_RESERVED_PEOPLE, 2 },
    { ngx_string("$append"), NGX_HTTP_MIXPANEL_RESERVED_PEOPLE, 2 },
    { ngx_string("$union"), NGX_HTTP_MIXPANEL_RESERVED_PEOPLE, 2 },
    { ngx_string("$remove"), NGX_HTTP_MIXPANEL_RESERVED_PEOPLE, 2 },
    { ngx_string("$unset"), NGX_HTTP_MIXPANEL_RESERVED_PEOPLE, 2 },
    { ngx_string("$delete"), NGX_HTTP_MIXPANEL_RESERVED_PEOPLE, 2 },

    { ngx_null_string, 0, 0 }
};


static char  *ngx_http_mixpanel_reserved_why[] = {
    "reserved property name \"%V\" in \"%V\": the module sends it itself, "
    "choose another name",
    "reserved property name \"%V\" in \"%V\": Mixpanel reserves it for "
    "identity merging and ingestion, choose another name",
    "reserved property name \"%V\" in \"%V\": it is a parameter or an "
    "operation of Mixpanel's /engage, choose another name"
};


/* endpoints the sender appends to the mixpanel_api base URL */

static ngx_str_t  ngx_http_mixpanel_endpoints[] = {
    ngx_string("import"),
    ngx_string("track"),
    ngx_string("engage"),
    ngx_string("decide"),
    ngx_string("groups"),
    ngx_null_string
};


static ngx_str_t  ngx_http_mixpanel_types[] = {
    ngx_string("string"),
    ngx_string("number"),
    ngx_string("boolean"),
    ngx_string("list"),
    ngx_string("json"),
    ngx_null_string
};


static ngx_command_t  ngx_http_mixpanel_commands[] = {

    { ngx_string("mixpanel"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_mixpanel,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mixpanel_token"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_mixpanel_token,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_loc_conf_t, token),
      NULL },

    { ngx_string("mixpanel_api"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_mixpanel_api,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mixpanel_event"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_mixpanel_event,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mixpanel_property"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE23,
      ngx_http_mixpanel_property,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_loc_conf_t, props),
      NULL },

    { ngx_string("mixpanel_ip"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_mixpanel_ip,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mixpanel_identity"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_mixpanel_identity_mode,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_loc_conf_t, identity),
      &ngx_http_mixpanel_identities },

    { ngx_string("mixpanel_account_id"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_loc_conf_t, account_id),
      NULL },

    { ngx_string("mixpanel_profile_id"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_loc_conf_t, profile_id),
      NULL },

    { ngx_string("mixpanel_device_id"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_loc_conf_t, device_id),
      NULL },

    { ngx_string("mixpanel_opt_out"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_loc_conf_t, opt_out),
      NULL },

    { ngx_string("mixpanel_device_cookie"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_mixpanel_cookie,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_loc_conf_t, device_cookie),
      NULL },

    { ngx_string("mixpanel_profile_cookie"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_mixpanel_cookie,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_loc_conf_t, profile_cookie),
      NULL },

    { ngx_string("mixpanel_logout_reset"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_loc_conf_t, logout_reset),
      NULL },

    { ngx_string("mixpanel_people_set"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE23,
      ngx_http_mixpanel_property,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_loc_conf_t, people_set),
      NULL },

    { ngx_string("mixpanel_people_set_once"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE23,
      ngx_http_mixpanel_property,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_loc_conf_t, people_set_once),
      NULL },

    { ngx_string("mixpanel_people_add"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_mixpanel_property,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_loc_conf_t, people_add),
      NULL },

    { ngx_string("mixpanel_people_unset"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_mixpanel_property,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_loc_conf_t, people_unset),
      NULL },

    { ngx_string("mixpanel_user_agent_properties"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_loc_conf_t, user_agent_properties),
      NULL },

    { ngx_string("mixpanel_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_mixpanel_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mixpanel_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_mixpanel_status_location,
      0,
      0,
      NULL },

    { ngx_string("mixpanel_cookie_secret"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_mixpanel_cookie_secret,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mixpanel_track_bots"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_loc_conf_t, track_bots),
      NULL },

    { ngx_string("mixpanel_spool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_mixpanel_spool,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mixpanel_service_account"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE3,
      ngx_http_mixpanel_service_account,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mixpanel_request_properties"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_loc_conf_t, request_properties),
      NULL },

    { ngx_string("mixpanel_batch_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_main_conf_t, sender.batch_size),
      &ngx_http_mixpanel_batch_size_post },

    { ngx_string("mixpanel_queue_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_main_conf_t, sender.queue_size),
      &ngx_http_mixpanel_queue_size_post },

    { ngx_string("mixpanel_concurrency"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_main_conf_t, sender.concurrency),
      &ngx_http_mixpanel_concurrency_post },

    { ngx_string("mixpanel_flush_interval"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_main_conf_t, sender.flush_interval),
      NULL },

    { ngx_string("mixpanel_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_main_conf_t, sender.timeout),
      &ngx_http_mixpanel_timeout_post },

    { ngx_string("mixpanel_retry_max_time"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_main_conf_t, sender.retry_max_time),
      NULL },

    { ngx_string("mixpanel_gzip"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_main_conf_t, sender.gzip),
      NULL },

    { ngx_string("mixpanel_ssl_verify"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_main_conf_t, sender.ssl_verify),
      NULL },

    { ngx_string("mixpanel_ssl_trusted_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_mixpanel_main_conf_t,
               sender.ssl_trusted_certificate),
      &ngx_http_mixpanel_ca_file_post },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_mixpanel_module_ctx = {
    ngx_http_mixpanel_add_variables,       /* preconfiguration */
    ngx_http_mixpanel_init,                /* postconfiguration */

    ngx_http_mixpanel_create_main_conf,    /* create main configuration */
    ngx_http_mixpanel_init_main_conf,      /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_mixpanel_create_loc_conf,     /* create location configuration */
    ngx_http_mixpanel_merge_loc_conf       /* merge location configuration */
};


ngx_module_t  ngx_http_mixpanel_module = {
    NGX_MODULE_V1,
    &ngx_http_mixpanel_module_ctx,         /* module context */
    ngx_http_mixpanel_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_mixpanel_init_module,         /* init module */
    ngx_http_mixpanel_init_process,        /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_mixpanel_exit_process,        /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;

static ngx_http_mixpanel_sender_t  *ngx_http_mixpanel_sender;


static ngx_int_t
ngx_http_mixpanel_rewrite_handler(ngx_http_request_t *r)
{
    ngx_http_mixpanel_loc_conf_t  *mlcf;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mixpanel_module);

    if (mlcf->action == NGX_HTTP_MIXPANEL_OFF || mlcf->untracked) {
        return NGX_DECLINED;
    }

    if (ngx_http_mixpanel_identity_start(r, mlcf) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DECLINED;
}


/*
 * The context of a request to track: the one the rewrite phase made, or
 * (a request that never reached it) one made now; NULL when nothing is
 * tracked.
 */

static ngx_http_mixpanel_ctx_t *
ngx_http_mixpanel_tracked(ngx_http_request_t *r)
{
    ngx_http_mixpanel_ctx_t       *ctx;
    ngx_http_mixpanel_loc_conf_t  *mlcf;

    ctx = ngx_http_mixpanel_get_ctx(r, 0);

    if (ctx == NULL || (ctx->conf == NULL && !ctx->ignored)) {
        mlcf = ngx_http_mixpanel_deciding_conf(r, ctx);

        if (mlcf == NULL) {
            return NULL;
        }

        if (ngx_http_mixpanel_identity_start(r, mlcf) != NGX_OK) {
            return NULL;
        }

        ctx = ngx_http_mixpanel_get_ctx(r, 0);
    }

    if (ctx == NULL || ctx->ignored) {
        return NULL;
    }

    return ctx;
}


static ngx_int_t
ngx_http_mixpanel_header_filter(ngx_http_request_t *r)
{
    ngx_http_mixpanel_ctx_t        *ctx;
    ngx_http_mixpanel_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mixpanel_module);

    if (r != r->main || !mmcf->enabled) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_mixpanel_tracked(r);

    if (ctx != NULL && !ctx->decided
        && ngx_http_mixpanel_identity_header(r, ctx) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_mixpanel_log_handler(ngx_http_request_t *r)
{
    ngx_http_mixpanel_ctx_t        *ctx;
    ngx_http_mixpanel_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mixpanel_module);

    if (r != r->main || !mmcf->enabled) {
        return NGX_OK;
    }

    ctx = ngx_http_mixpanel_tracked(r);

    if (ctx == NULL) {
        return NGX_OK;
    }

    if (ngx_http_mixpanel_identity_log(r, ctx) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "mixpanel: could not build the calls of a request");
    }

    return NGX_OK;
}


static void *
ngx_http_mixpanel_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_mixpanel_main_conf_t  *mmcf;

    mmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_mixpanel_main_conf_t));
    if (mmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mmcf->sender.sink = NGX_HTTP_MIXPANEL_SINK_HTTP;
     *     mmcf->sender.url = { 0, NULL };
     *     mmcf->sender.file = { 0, NULL };
     *     mmcf->sender.ssl_trusted_certificate = { 0, NULL };
     *     mmcf->file = NULL;
     *     mmcf->enabled = 0;
     */

    mmcf->sender.batch_size = NGX_CONF_UNSET_UINT;
    mmcf->sender.queue_size = NGX_CONF_UNSET_UINT;
    mmcf->sender.concurrency = NGX_CONF_UNSET_UINT;
    mmcf->sender.flush_interval = NGX_CONF_UNSET_MSEC;
    mmcf->sender.timeout = NGX_CONF_UNSET_MSEC;
    mmcf->sender.retry_max_time = NGX_CONF_UNSET_MSEC;
    mmcf->sender.gzip = NGX_CONF_UNSET;
    mmcf->sender.ssl_verify = NGX_CONF_UNSET;
    mmcf->zone_size = NGX_CONF_UNSET;

    return mmcf;
}


static char *
ngx_http_mixpanel_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_mixpanel_main_conf_t *mmcf = conf;

    u_char     *p;
    ngx_str_t   name;

    ngx_conf_init_uint_value(mmcf->sender.batch_size,
                             NGX_HTTP_MIXPANEL_MAX_BATCH);
    ngx_conf_init_uint_value(mmcf->sender.queue_size, 50000);
    ngx_conf_init_uint_value(mmcf->sender.concurrency, 8);
    ngx_conf_init_msec_value(mmcf->sender.flush_interval, 1000);
    ngx_conf_init_msec_value(mmcf->sender.timeout, 10000);
    ngx_conf_init_msec_value(mmcf->sender.retry_max_time, 600000);
    ngx_conf_init_value(mmcf->sender.gzip, 1);
    ngx_conf_init_value(mmcf->sender.ssl_verify, 1);

    if (mmcf->sender.url.len == 0 && mmcf->file == NULL) {
        ngx_str_set(&mmcf->sender.url, "https://api.mixpanel.com");
    }

    if (mmcf->sender.ssl_trusted_certificate.len) {
        if (ngx_conf_full_name(cf->cycle,
                               &mmcf->sender.ssl_trusted_certificate, 1)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    if (mmcf->sender.flush_interval == 0) {
        mmcf->sender.flush_interval = 1;
    }

    /*
     * with a service account, /import routes events by the project id, not
     * by their token, while /engage goes by token: several tokens' events
     * would all land in the one project
     */

    if (mmcf->sender.service_user.len && mmcf->variable_token) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"mixpanel_token %V\" varies per request, but "
                      "\"mixpanel_service_account\" sends every event to "
                      "project %V: Mixpanel would put all the tokens' "
                      "events in that one project; expected one literal "
                      "token with the service account, or no service "
                      "account in %s:%ui",
                      &mmcf->variable_token->value, &mmcf->sender.project_id,
                      mmcf->variable_token->file, mmcf->variable_token->line);
        return NGX_CONF_ERROR;
    }

    if (mmcf->sender.service_user.len && mmcf->other_token) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"mixpanel_token %V\" is another project's token than "
                      "\"mixpanel_token %V\", but \"mixpanel_service_account\" "
                      "sends every event to project %V: Mixpanel would put "
                      "both projects' events in that one project; expected "
                      "one literal token with the service account, or no "
                      "service account in %s:%ui",
                      &mmcf->other_token->value, &mmcf->literal_token->value,
                      &mmcf->sender.project_id, mmcf->other_token->file,
                      mmcf->other_token->line);
        return NGX_CONF_ERROR;
    }

    /* only a worker with a "mixpanel" action runs a sender */

    if (!mmcf->enabled && mmcf->spool_src) {
        ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                      "\"mixpanel_spool\" \"%V\" is set but no "
                      "\"mixpanel\" action is: no worker sends what it "
                      "holds in %s:%ui",
                      &mmcf->spool_src->value, mmcf->spool_src->file,
                      mmcf->spool_src->line);
    }

    mmcf->counters = &mmcf->local_counters;

    if (mmcf->zone_size == NGX_CONF_UNSET) {
        mmcf->zone_size = 4 * 1024 * 1024;
    }

    if (mmcf->enabled || mmcf->status) {
        ngx_str_set(&name, "mixpanel");

        mmcf->shm_zone = ngx_shared_memory_add(cf, &name, mmcf->zone_size,
                                               &ngx_http_mixpanel_module);
        if (mmcf->shm_zone == NULL) {
            return NGX_CONF_ERROR;
        }

        mmcf->shm_zone->init = ngx_http_mixpanel_zone_init;
        mmcf->shm_zone->data = mmcf;
    }

    if (ngx_http_mixpanel_identity_conf(cf, mmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* the properties every event carries, rendered once */

    mmcf->const_props.len = sizeof(",\"mp_lib\":\"nginx\",\"$lib_version\":\""
                                   NGX_HTTP_MIXPANEL_VERSION "\"") - 1;

    p = ngx_pnalloc(cf->pool, mmcf->const_props.len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(p, ",\"mp_lib\":\"nginx\",\"$lib_version\":\""
                  NGX_HTTP_MIXPANEL_VERSION "\"", mmcf->const_props.len);

    mmcf->const_props.data = p;

    return NGX_CONF_OK;
}


static void *
ngx_http_mixpanel_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_mixpanel_loc_conf_t  *mlcf;

    mlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_mixpanel_loc_conf_t));
    if (mlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mlcf->action_if = NULL;
     *     mlcf->event = NULL;
     *     mlcf->event_off = 0;
     *     mlcf->ip = NULL;
     *     mlcf->untracked = 0;
     *     mlcf->route = { 0, NULL };
     *     mlcf->head = { 0, NULL };
     */

    mlcf->action = NGX_CONF_UNSET_UINT;
    mlcf->token = NGX_CONF_UNSET_PTR;
    mlcf->props = NGX_CONF_UNSET_PTR;
    mlcf->ip_off = NGX_CONF_UNSET;
    mlcf->request_properties = NGX_CONF_UNSET;
    mlcf->user_agent_properties = NGX_CONF_UNSET;
    mlcf->identity = NGX_CONF_UNSET_UINT;
    mlcf->account_id = NGX_CONF_UNSET_PTR;
    mlcf->profile_id = NGX_CONF_UNSET_PTR;
    mlcf->device_id = NGX_CONF_UNSET_PTR;
    mlcf->opt_out = NGX_CONF_UNSET_PTR;
    mlcf->device_cookie = NGX_CONF_UNSET_PTR;
    mlcf->profile_cookie = NGX_CONF_UNSET_PTR;
    mlcf->logout_reset = NGX_CONF_UNSET;
    mlcf->people_set = NGX_CONF_UNSET_PTR;
    mlcf->people_set_once = NGX_CONF_UNSET_PTR;
    mlcf->people_add = NGX_CONF_UNSET_PTR;
    mlcf->people_unset = NGX_CONF_UNSET_PTR;
    mlcf->track_bots = NGX_CONF_UNSET;

    return mlcf;
}


static char *
ngx_http_mixpanel_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_mixpanel_loc_conf_t *prev = parent;
    ngx_http_mixpanel_loc_conf_t *conf = child;

    ngx_str_t                  remote_addr;
    ngx_http_core_loc_conf_t  *clcf;

    if (conf->action == NGX_CONF_UNSET_UINT) {
        conf->action = (prev->action == NGX_CONF_UNSET_UINT)
                       ? NGX_HTTP_MIXPANEL_OFF : prev->action;
        conf->action_if = prev->action_if;
        conf->action_src = prev->action_src;
    }

    ngx_conf_merge_ptr_value(conf->token, prev->token, NULL);

    if (conf->event == NULL && !conf->event_off) {
        conf->event = prev->event;
        conf->event_off = prev->event_off;
    }

    ngx_conf_merge_value(conf->ip_off, prev->ip_off, 0);

    if (conf->ip == NULL) {
        conf->ip = prev->ip;
    }

    if (conf->ip == NULL) {
        ngx_str_set(&remote_addr, "$remote_addr");

        conf->ip = ngx_http_mixpanel_compile(cf, &remote_addr);
        if (conf->ip == NULL) {
            return NGX_CONF_ERROR;
        }

        prev->ip = conf->ip;
    }

    if (ngx_http_mixpanel_merge_props(cf, &conf->props, prev->props)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    ngx_conf_merge_value(conf->request_properties,
                         prev->request_properties, 1);
    ngx_conf_merge_value(conf->user_agent_properties,
                         prev->user_agent_properties, 1);

    if (ngx_http_mixpanel_merge_defaults(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_conf_merge_uint_value(conf->identity, prev->identity,
                              NGX_HTTP_MIXPANEL_ORIGINAL);
    ngx_conf_merge_ptr_value(conf->account_id, prev->account_id, NULL);
    ngx_conf_merge_ptr_value(conf->profile_id, prev->profile_id, NULL);
    ngx_conf_merge_ptr_value(conf->device_id, prev->device_id, NULL);
    ngx_conf_merge_ptr_value(conf->opt_out, prev->opt_out, NULL);
    ngx_conf_merge_ptr_value(conf->profile_cookie, prev->profile_cookie,
                             NULL);

    if (conf->device_cookie == NGX_CONF_UNSET_PTR) {
        if (prev->device_cookie == NGX_CONF_UNSET_PTR) {

            /* mp_device_id path=/ max_age=365d samesite=lax */

            prev->device_cookie = ngx_pcalloc(cf->pool,
                                          sizeof(ngx_http_mixpanel_cookie_t));
            if (prev->device_cookie == NULL) {
                return NGX_CONF_ERROR;
            }

            ngx_str_set(&prev->device_cookie->name, "mp_device_id");
            ngx_str_set(&prev->device_cookie->path, "/");
            prev->device_cookie->max_age = 365 * 86400;
            prev->device_cookie->samesite = 2;
        }

        conf->device_cookie = prev->device_cookie;
    }

    ngx_conf_merge_value(conf->logout_reset, prev->logout_reset,
                         conf->identity == NGX_HTTP_MIXPANEL_SIMPLIFIED);
    ngx_conf_merge_value(conf->track_bots, prev->track_bots, 0);

    if (ngx_http_mixpanel_merge_props(cf, &conf->people_set,
                                      prev->people_set)
        != NGX_OK
        || ngx_http_mixpanel_merge_props(cf, &conf->people_set_once,
                                         prev->people_set_once)
           != NGX_OK
        || ngx_http_mixpanel_merge_props(cf, &conf->people_add,
                                         prev->people_add)
           != NGX_OK
        || ngx_http_mixpanel_merge_props(cf, &conf->people_unset,
                                         prev->people_unset)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    conf->route = clcf->name;

    if (ngx_http_mixpanel_record_head(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (conf->action != NGX_HTTP_MIXPANEL_OFF && conf->token == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mixpanel %V\" is used in location \"%V\" "
                           "but no \"mixpanel_token\" is set for it",
                           &ngx_http_mixpanel_actions[conf->action],
                           &clcf->name);
        return NGX_CONF_ERROR;
    }

    /* once per "mixpanel signup|login" directive, at its line */

    if ((conf->action == NGX_HTTP_MIXPANEL_SIGNUP
         || conf->action == NGX_HTTP_MIXPANEL_LOGIN)
        && conf->account_id == NULL
        && conf->action_src && !conf->action_src->warned)
    {
        conf->action_src->warned = 1;

        if (clcf->name.len) {
            ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                          "\"mixpanel %V\" applies to location \"%V\" "
                          "with no \"mixpanel_account_id\": it would send "
                          "anonymous events and identify no one; set the "
                          "account id in the location, its server or http "
                          "in %s:%ui",
                          &conf->action_src->value, &clcf->name,
                          conf->action_src->file, conf->action_src->line);

        } else {
            ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                          "\"mixpanel %V\" applies to the server with no "
                          "\"mixpanel_account_id\": it would send "
                          "anonymous events and identify no one; set the "
                          "account id in the location, its server or http "
                          "in %s:%ui",
                          &conf->action_src->value,
                          conf->action_src->file, conf->action_src->line);
        }
    }

    return NGX_CONF_OK;
}


/*
 * Properties add up across levels: a location has its own and those of
 * its server and http blocks whose names it does not set itself.
 */

static ngx_int_t
ngx_http_mixpanel_merge_props(ngx_conf_t *cf, ngx_array_t **child,
    ngx_array_t *parent)
{
    ngx_uint_t                 i, j, n;
    ngx_array_t               *merged;
    ngx_http_mixpanel_prop_t  *cp, *pp, *prop;

    if (parent == NGX_CONF_UNSET_PTR || parent == NULL) {
        if (*child == NGX_CONF_UNSET_PTR) {
            *child = NULL;
        }

        return NGX_OK;
    }

    if (*child == NGX_CONF_UNSET_PTR || *child == NULL) {
        *child = parent;
        return NGX_OK;
    }

    n = (*child)->nelts + parent->nelts;

    merged = ngx_array_create(cf->pool, n, sizeof(ngx_http_mixpanel_prop_t));
    if (merged == NULL) {
        return NGX_ERROR;
    }

    pp = parent->elts;
    cp = (*child)->elts;

    for (i = 0; i < parent->nelts; i++) {

        for (j = 0; j < (*child)->nelts; j++) {
            if (pp[i].name.len == cp[j].name.len
                && ngx_strncmp(pp[i].name.data, cp[j].name.data,
                               pp[i].name.len) == 0)
            {
                break;
            }
        }

        if (j < (*child)->nelts) {
            continue;
        }

        prop = ngx_array_push(merged);
        if (prop == NULL) {
            return NGX_ERROR;
        }

        *prop = pp[i];
    }

    for (j = 0; j < (*child)->nelts; j++) {
        prop = ngx_array_push(merged);
        if (prop == NULL) {
            return NGX_ERROR;
        }

        *prop = cp[j];
    }

    *child = merged;

    return NGX_OK;
}


/*
 * A property named like a default property that the location sends would
 * be a second key of that name in the event's JSON; which one Mixpanel
 * keeps is its parser's choice.
 */

static ngx_int_t
ngx_http_mixpanel_merge_defaults(ngx_conf_t *cf,
    ngx_http_mixpanel_loc_conf_t *conf)
{
    char                      *flag;
    ngx_uint_t                 i, group;
    ngx_http_mixpanel_prop_t  *prop;

    if (conf->props == NULL || conf->props == NGX_CONF_UNSET_PTR) {
        return NGX_OK;
    }

    prop = conf->props->elts;

    for (i = 0; i < conf->props->nelts; i++) {
        group = ngx_http_mixpanel_props_group(&prop[i].name);

        if (group == NGX_HTTP_MIXPANEL_PROPS_REQUEST
            && conf->request_properties)
        {
            flag = "mixpanel_request_properties";

        } else if (group == NGX_HTTP_MIXPANEL_PROPS_CLIENT
                   && conf->user_agent_properties)
        {
            flag = "mixpanel_user_agent_properties";

        } else {
            continue;
        }

        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "property \"%V\" of \"mixpanel_property\" is a default "
                      "property that \"%s on\" sends too (two \"%V\" keys "
                      "in one event): choose another name, or \"%s off\" "
                      "where you set it yourself in %s:%ui",
                      &prop[i].name, flag, &prop[i].name, flag,
                      prop[i].file, prop[i].line);

        return NGX_ERROR;
    }

    return NGX_OK;
}


static char *
ngx_http_mixpanel(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mixpanel_loc_conf_t *mlcf = conf;

    ngx_str_t                      *value, s;
    ngx_uint_t                      i;
    ngx_http_mixpanel_main_conf_t  *mmcf;

    if (mlcf->action != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 0; ngx_http_mixpanel_actions[i].len; i++) {
        if (value[1].len == ngx_http_mixpanel_actions[i].len
            && ngx_strncmp(value[1].data, ngx_http_mixpanel_actions[i].data,
                           value[1].len) == 0)
        {
            break;
        }
    }

    if (ngx_http_mixpanel_actions[i].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown mixpanel action \"%V\", expected "
                           "\"off\", \"track\", \"signup\", \"login\", "
                           "\"logout\", \"profile_switch\", "
                           "\"profile_update\" or \"reset\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    mlcf->action = i;

    mlcf->action_src = ngx_http_mixpanel_conf_src(cf, &value[1]);
    if (mlcf->action_src == NULL) {
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 2) {
        goto done;
    }

    if (i == NGX_HTTP_MIXPANEL_OFF) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" of \"mixpanel off\", "
                           "which takes none", &value[2]);
        return NGX_CONF_ERROR;
    }

    if (ngx_strncmp(value[2].data, "if=", 3) != 0 || value[2].len == 3) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" of \"mixpanel %V\", "
                           "expected \"if=COND\" (one action per location)",
                           &value[2], &value[1]);
        return NGX_CONF_ERROR;
    }

    s.len = value[2].len - 3;
    s.data = value[2].data + 3;

    mlcf->action_if = ngx_http_mixpanel_compile(cf, &s);
    if (mlcf->action_if == NULL) {
        return NGX_CONF_ERROR;
    }

done:

    if (i != NGX_HTTP_MIXPANEL_OFF) {
        mmcf = ngx_http_conf_get_module_main_conf(cf,
                                                  ngx_http_mixpanel_module);
        mmcf->enabled = 1;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_mixpanel_token(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mixpanel_loc_conf_t *mlcf = conf;

    char                           *rv;
    ngx_str_t                      *value;
    ngx_http_mixpanel_main_conf_t  *mmcf;

    value = cf->args->elts;

    if (value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "empty \"mixpanel_token\", expected the project "
                           "token of Mixpanel's project settings, or "
                           "variables that give it");
        return NGX_CONF_ERROR;
    }

    rv = ngx_http_set_complex_value_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mixpanel_module);

    if (mlcf->token->lengths && mmcf->variable_token == NULL) {
        mmcf->variable_token = ngx_http_mixpanel_conf_src(cf, &value[1]);
        if (mmcf->variable_token == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (mlcf->token->lengths == NULL) {

        if (mmcf->literal_token == NULL) {
            mmcf->literal_token = ngx_http_mixpanel_conf_src(cf, &value[1]);
            if (mmcf->literal_token == NULL) {
                return NGX_CONF_ERROR;
            }

        } else if (mmcf->other_token == NULL
                   && (mmcf->literal_token->value.len != value[1].len
                       || ngx_strncmp(mmcf->literal_token->value.data,
                                      value[1].data, value[1].len)
                          != 0))
        {
            mmcf->other_token = ngx_http_mixpanel_conf_src(cf, &value[1]);
            if (mmcf->other_token == NULL) {
                return NGX_CONF_ERROR;
            }
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_mixpanel_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mixpanel_main_conf_t *mmcf = conf;

    u_char     *p, *last;
    ngx_str_t  *value, name;

    if (mmcf->sender.url.len || mmcf->file) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len > 5 && ngx_strncmp(value[1].data, "file:", 5) == 0) {
        name.len = value[1].len - 5;
        name.data = value[1].data + 5;

        if (ngx_http_mixpanel_check_sink(cf, &name) != NGX_CONF_OK) {
            return NGX_CONF_ERROR;
        }

        mmcf->file = ngx_conf_open_file(cf->cycle, &name);
        if (mmcf->file == NULL) {
            return NGX_CONF_ERROR;
        }

        mmcf->sender.sink = NGX_HTTP_MIXPANEL_SINK_FILE;

        return NGX_CONF_OK;
    }

    if (value[1].len > 7
        && ngx_strncasecmp(value[1].data, (u_char *) "http://", 7) == 0)
    {
        p = value[1].data + 7;

    } else if (value[1].len > 8
               && ngx_strncasecmp(value[1].data, (u_char *) "https://", 8)
                  == 0)
    {
        p = value[1].data + 8;

    } else {
        goto invalid;
    }

    if (ngx_http_mixpanel_api_endpoint(cf, &value[1], p) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    last = value[1].data + value[1].len;

    while (last > p && last[-1] == '/') {
        last--;
    }

    if (p == last || *p == '/' || *p == ':' || ngx_strlchr(p, last, '?')
        || ngx_strlchr(p, last, '#') || ngx_strlchr(p, last, '@')
        || ngx_strlchr(p, last, ' '))
    {
        goto invalid;
    }

    /* the sender hands it to libcurl as a C string */

    mmcf->sender.url.len = last - value[1].data;
    mmcf->sender.url.data = ngx_pnalloc(cf->pool, mmcf->sender.url.len + 1);
    if (mmcf->sender.url.data == NULL) {
        return NGX_CONF_ERROR;
    }

    *ngx_cpymem(mmcf->sender.url.data, value[1].data, mmcf->sender.url.len)
        = '\0';

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid Mixpanel API URL \"%V\", expected "
                       "\"https://host[:port][/path]\", "
                       "\"http://host[:port][/path]\" or \"file:PATH\"",
                       &value[1]);

    return NGX_CONF_ERROR;
}


/*
 * "https://api.mixpanel.com/import" would post to "/import/import": Mixpanel
 * answers 404, which is not retried, and every event is lost
 */

static char *
ngx_http_mixpanel_api_endpoint(ngx_conf_t *cf, ngx_str_t *url, u_char *host)
{
    u_char      *p, *last, *segment;
    ngx_str_t    base;
    ngx_uint_t   i;

    last = url->data + url->len;

    /* no path, or no host: the URL is checked as a whole next */

    p = ngx_strlchr(host, last, '/');
    if (p == NULL || p == host) {
        return NGX_CONF_OK;
    }

    for (p = host; p < last; p++) {
        if (*p == '?' || *p == '#') {
            last = p;
            break;
        }
    }

    while (last > host && last[-1] == '/') {
        last--;
    }

    for (segment = last; segment > host && segment[-1] != '/'; segment--) {
        /* void */
    }

    if (segment == host) {
        return NGX_CONF_OK;
    }

    for (i = 0; ngx_http_mixpanel_endpoints[i].len; i++) {
        if ((size_t) (last - segment) == ngx_http_mixpanel_endpoints[i].len
            && ngx_strncasecmp(segment, ngx_http_mixpanel_endpoints[i].data,
                               last - segment)
               == 0)
        {
            break;
        }
    }

    if (ngx_http_mixpanel_endpoints[i].len == 0) {
        return NGX_CONF_OK;
    }

    /* the base: the URL up to that segment */

    base.data = url->data;
    base.len = segment - 1 - url->data;

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"mixpanel_api\" URL \"%V\" ends with the Mixpanel "
                       "endpoint \"/%V\": the module appends the endpoints "
                       "itself, expected the base URL, such as \"%V\"",
                       url, &ngx_http_mixpanel_endpoints[i], &base);

    return NGX_CONF_ERROR;
}


/*
 * nginx opens the file: sink with the log files, after "syntax is ok" and
 * naming neither the directive nor its line.  Check it here instead,
 * without creating anything: the file must be writable, or its directory
 * must exist and be writable.  The master opens it (as root) and the
 * workers write through the descriptor they inherit.
 */

static char *
ngx_http_mixpanel_check_sink(ngx_conf_t *cf, ngx_str_t *name)
{
    u_char          *p;
    ngx_fd_t         fd;
    ngx_str_t        full, dir;
    ngx_file_info_t  fi;

    full = *name;

    if (ngx_conf_full_name(cf->cycle, &full, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_file_info(full.data, &fi) != NGX_FILE_ERROR) {

        if (ngx_is_dir(&fi)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"mixpanel_api\" sink \"file:%V\" is a "
                               "directory, expected a file to append to",
                               name);
            return NGX_CONF_ERROR;
        }

        fd = ngx_open_file(full.data, NGX_FILE_APPEND, NGX_FILE_OPEN, 0);

        if (fd == NGX_INVALID_FILE) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "\"mixpanel_api\" sink \"file:%V\" cannot "
                               "be opened for appending", name);
            return NGX_CONF_ERROR;
        }

        (void) ngx_close_file(fd);

        return NGX_CONF_OK;
    }

    if (ngx_errno != NGX_ENOENT) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"mixpanel_api\" sink \"file:%V\" cannot be "
                           "opened", name);
        return NGX_CONF_ERROR;
    }

    /* ngx_conf_full_name() gave an absolute, NUL-terminated name */

    p = full.data + full.len;

    while (p > full.data + 1 && p[-1] != '/') {
        p--;
    }

    dir.len = (p > full.data + 1) ? (size_t) (p - 1 - full.data) : 1;
    dir.data = ngx_pnalloc(cf->temp_pool, dir.len + 1);
    if (dir.data == NULL) {
        return NGX_CONF_ERROR;
    }

    *ngx_cpymem(dir.data, full.data, dir.len) = '\0';

    if (access((char *) dir.data, W_OK|X_OK) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"mixpanel_api\" sink \"file:%V\" cannot be "
                           "created in \"%V\"", name, &dir);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_mixpanel_event(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mixpanel_loc_conf_t *mlcf = conf;

    ngx_str_t  *value;

    if (mlcf->event || mlcf->event_off) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        mlcf->event_off = 1;
        return NGX_CONF_OK;
    }

    if (value[1].len == 0) {
        return "takes an empty event name";
    }

    mlcf->event = ngx_http_mixpanel_compile(cf, &value[1]);
    if (mlcf->event == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_mixpanel_ip(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mixpanel_loc_conf_t *mlcf = conf;

    ngx_str_t  *value;

    if (mlcf->ip || mlcf->ip_off != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        mlcf->ip_off = 1;
        return NGX_CONF_OK;
    }

    mlcf->ip_off = 0;

    mlcf->ip = ngx_http_mixpanel_compile(cf, &value[1]);
    if (mlcf->ip == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * NAME VALUE [type=...], for mixpanel_property and the people operations;
 * NAME alone for mixpanel_people_unset
 */

static char *
ngx_http_mixpanel_property(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t                  *value, type;
    ngx_uint_t                  i;
    ngx_array_t               **props;
    ngx_http_mixpanel_prop_t   *prop;

    props = (ngx_array_t **) (p + cmd->offset);
    value = cf->args->elts;

    if (value[1].len == 0) {
        return "takes an empty property name";
    }

    if (ngx_http_mixpanel_reserved(cf, cmd, &value[1]) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (*props == NGX_CONF_UNSET_PTR) {
        *props = ngx_array_create(cf->pool, 4,
                                  sizeof(ngx_http_mixpanel_prop_t));
        if (*props == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    prop = (*props)->elts;

    for (i = 0; i < (*props)->nelts; i++) {
        if (prop[i].name.len == value[1].len
            && ngx_strncmp(prop[i].name.data, value[1].data,
                           value[1].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate property \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    if ((*props)->nelts >= NGX_HTTP_MIXPANEL_MAX_PROPS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "too many properties, Mixpanel keeps at most %d",
                           NGX_HTTP_MIXPANEL_MAX_PROPS);
        return NGX_CONF_ERROR;
    }

    prop = ngx_array_push(*props);
    if (prop == NULL) {
        return NGX_CONF_ERROR;
    }

    prop->name = value[1];
    prop->type = NGX_HTTP_MIXPANEL_STRING;
    prop->file = cf->conf_file->file.name.data;
    prop->line = cf->conf_file->line;

    if (cmd->offset == offsetof(ngx_http_mixpanel_loc_conf_t, people_add)) {
        prop->type = NGX_HTTP_MIXPANEL_NUMBER;
    }

    if (cf->args->nelts == 2) {
        ngx_str_null(&prop->key);
        prop->value = NULL;
        return NGX_CONF_OK;
    }

    if (ngx_http_mixpanel_json_key(&prop->key, cf->pool, &value[1])
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 4) {
        type = value[3];

        if (ngx_strncmp(value[3].data, "type=", 5) == 0) {
            type.len -= 5;
            type.data += 5;
        }

        for (i = 0; ngx_http_mixpanel_types[i].len; i++) {
            if (type.len == ngx_http_mixpanel_types[i].len
                && ngx_strncmp(type.data, ngx_http_mixpanel_types[i].data,
                               type.len) == 0)
            {
                break;
            }
        }

        if (type.data == value[3].data) {

            /* "number" for "type=number" */

            if (ngx_http_mixpanel_types[i].len) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid parameter \"%V\" of \"%V\", "
                                   "expected \"type=%V\"",
                                   &value[3], &value[0], &value[3]);
            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid parameter \"%V\" of \"%V\", "
                                   "expected \"type=string\", "
                                   "\"type=number\", \"type=boolean\", "
                                   "\"type=list\" or \"type=json\"",
                                   &value[3], &value[0]);
            }

            return NGX_CONF_ERROR;
        }

        if (ngx_http_mixpanel_types[i].len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown property type \"%V\" of \"%V\", "
                               "expected \"string\", \"number\", "
                               "\"boolean\", \"list\" or \"json\"",
                               &type, &value[0]);
            return NGX_CONF_ERROR;
        }

        prop->type = i;
    }

    prop->value = ngx_http_mixpanel_compile(cf, &value[2]);
    if (prop->value == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_mixpanel_reserved(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *name)
{
    ngx_uint_t                     where;
    ngx_http_mixpanel_reserved_t  *res;

    switch (cmd->offset) {

    case offsetof(ngx_http_mixpanel_loc_conf_t, props):
        where = NGX_HTTP_MIXPANEL_RESERVED_EVENT;
        break;

    case offsetof(ngx_http_mixpanel_loc_conf_t, people_set):
        where = NGX_HTTP_MIXPANEL_RESERVED_SET;
        break;

    case offsetof(ngx_http_mixpanel_loc_conf_t, people_set_once):
        where = NGX_HTTP_MIXPANEL_RESERVED_SET_ONCE;
        break;

    default: /* mixpanel_people_add, mixpanel_people_unset */
        where = NGX_HTTP_MIXPANEL_RESERVED_PEOPLE
                & ~(NGX_HTTP_MIXPANEL_RESERVED_SET
                    |NGX_HTTP_MIXPANEL_RESERVED_SET_ONCE);
        break;
    }

    for (res = ngx_http_mixpanel_reserved_names; res->name.len; res++) {
        if ((res->where & where)
            && res->name.len == name->len
            && ngx_strncmp(res->name.data, name->data, name->len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               ngx_http_mixpanel_reserved_why[res->why],
                               name, &cmd->name);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static ngx_http_complex_value_t *
ngx_http_mixpanel_compile(ngx_conf_t *cf, ngx_str_t *value)
{
    ngx_http_compile_complex_value_t  ccv;

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = value;
    ccv.complex_value = ngx_palloc(cf->pool,
                                   sizeof(ngx_http_complex_value_t));
    if (ccv.complex_value == NULL) {
        return NULL;
    }

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NULL;
    }

    return ccv.complex_value;
}


static ngx_http_mixpanel_conf_src_t *
ngx_http_mixpanel_conf_src(ngx_conf_t *cf, ngx_str_t *value)
{
    ngx_http_mixpanel_conf_src_t  *src;

    src = ngx_pcalloc(cf->pool, sizeof(ngx_http_mixpanel_conf_src_t));
    if (src == NULL) {
        return NULL;
    }

    src->file = cf->conf_file->file.name.data;
    src->line = cf->conf_file->line;
    src->value = *value;

    return src;
}


static char *
ngx_http_mixpanel_check_batch_size(ngx_conf_t *cf, void *post, void *data)
{
    ngx_uint_t  *np = data;

    if (*np < 1 || *np > NGX_HTTP_MIXPANEL_MAX_BATCH) {
        return "must be between 1 and 2000, the most Mixpanel accepts "
               "in one request";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_mixpanel_check_queue_size(ngx_conf_t *cf, void *post, void *data)
{
    ngx_uint_t  *np = data;

    if (*np < 1) {
        return "must be at least 1";
    }

    return NGX_CONF_OK;
}


/*
 * libcurl reads the bundle only when it sends: a name that cannot be read
 * would fail every TLS handshake, logged once a minute, and lose events
 */

static char *
ngx_http_mixpanel_check_ca_file(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *name = data;

    ngx_str_t  full;

    full = *name;

    if (ngx_conf_full_name(cf->cycle, &full, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (access((char *) full.data, R_OK) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"mixpanel_ssl_trusted_certificate\" file "
                           "\"%V\" cannot be read", name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_mixpanel_check_concurrency(ngx_conf_t *cf, void *post, void *data)
{
    ngx_uint_t  *np = data;

    if (*np < 1 || *np > 64) {
        return "must be between 1 and 64 requests in flight";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_mixpanel_check_timeout(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t  *tp = data;

    /* libcurl takes 0 as no limit at all */

    if (*tp == 0) {
        return "must be at least 1ms: 0 would let an exchange with "
               "Mixpanel wait for ever";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_mixpanel_cookie(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    return ngx_http_mixpanel_cookie_conf(cf,
                            (ngx_http_mixpanel_cookie_t **) (p + cmd->offset));
}


static char *
ngx_http_mixpanel_identity_mode(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_mixpanel_loc_conf_t *mlcf = conf;

    ngx_str_t        *value;
    ngx_conf_enum_t  *e;

    if (mlcf->identity != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (e = cmd->post; e->name.len; e++) {
        if (e->name.len == value[1].len
            && ngx_strcmp(e->name.data, value[1].data) == 0)
        {
            mlcf->identity = e->value;
            return NGX_CONF_OK;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" of \"mixpanel_identity\", "
                       "expected \"original\" or \"simplified\" (the ID "
                       "merge API of the Mixpanel project)", &value[1]);

    return NGX_CONF_ERROR;
}


static char *
ngx_http_mixpanel_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mixpanel_main_conf_t *mmcf = conf;

    ssize_t     size;
    ngx_str_t  *value;

    if (mmcf->zone_size != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[1]);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\" of \"mixpanel_zone\", "
                           "expected a size such as \"4m\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" of \"mixpanel_zone\" is too small, "
                           "expected at least %uz", &value[1],
                           (size_t) (8 * ngx_pagesize));
        return NGX_CONF_ERROR;
    }

    mmcf->zone_size = size;

    return NGX_CONF_OK;
}


/*
 * The key of the device cookie's tag.  Never logged, nor quoted in an
 * error: it is a secret.
 */

static char *
ngx_http_mixpanel_cookie_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_mixpanel_main_conf_t *mmcf = conf;

    ngx_str_t  *value;

    if (mmcf->cookie_secret.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len < 16) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"mixpanel_cookie_secret\" must be at least 16 "
                           "characters long (%uz given); a short key lets "
                           "the account ids in cookies be guessed",
                           value[1].len);
        return NGX_CONF_ERROR;
    }

    mmcf->cookie_secret = value[1];

    return NGX_CONF_OK;
}


/* the status location is never tracked, whatever the levels above say */

static char *
ngx_http_mixpanel_status_location(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_mixpanel_loc_conf_t  *mlcf;

    mlcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_mixpanel_module);
    mlcf->untracked = 1;

    return ngx_http_mixpanel_status(cf, cmd, conf);
}


/* DIR [max_size=SIZE]; nginx creates DIR for the workers' user */

static char *
ngx_http_mixpanel_spool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mixpanel_main_conf_t *mmcf = conf;

    off_t        max;
    u_char      *p;
    ngx_str_t   *value, s;
    ngx_path_t  *path;

    if (mmcf->sender.spool_dir.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        return NGX_CONF_OK;
    }

    max = 256 * 1024 * 1024;

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "max_size=", 9) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" of "
                               "\"mixpanel_spool\", expected "
                               "\"max_size=SIZE\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        s.data = value[2].data + 9;
        s.len = value[2].len - 9;

        max = ngx_parse_offset(&s);
        if (max == NGX_ERROR || max == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid spool size \"%V\" of "
                               "\"mixpanel_spool\", expected a size above "
                               "zero such as \"max_size=256m\"", &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    if (path == NULL) {
        return NGX_CONF_ERROR;
    }

    path->name = value[1];

    while (path->name.len > 1
           && path->name.data[path->name.len - 1] == '/')
    {
        path->name.len--;
    }

    if (ngx_conf_full_name(cf->cycle, &path->name, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    path->conf_file = cf->conf_file->file.name.data;
    path->line = cf->conf_file->line;

    if (ngx_add_path(cf, &path) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* the sender thread uses it as a C string */

    p = ngx_pnalloc(cf->pool, path->name.len + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    *ngx_cpymem(p, path->name.data, path->name.len) = '\0';

    mmcf->sender.spool_dir.data = p;
    mmcf->sender.spool_dir.len = path->name.len;
    mmcf->sender.spool_max = max;

    mmcf->spool_src = ngx_http_mixpanel_conf_src(cf, &value[1]);
    if (mmcf->spool_src == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* USER SECRET PROJECT_ID: /import with a service account */

static char *
ngx_http_mixpanel_service_account(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_mixpanel_main_conf_t *mmcf = conf;

    u_char     *p;
    ngx_str_t  *value;
    ngx_uint_t  i;

    if (mmcf->sender.service_user.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < 4; i++) {
        if (value[i].len == 0) {
            return "takes an empty value";
        }
    }

    if (ngx_strlchr(value[1].data, value[1].data + value[1].len, ':')) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid service account user name \"%V\", "
                           "it cannot contain \":\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    for (p = value[3].data; p < value[3].data + value[3].len; p++) {
        if (*p < '0' || *p > '9') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid Mixpanel project id \"%V\", "
                               "expected digits", &value[3]);
            return NGX_CONF_ERROR;
        }
    }

    /* libcurl takes C strings; the secret is never logged */

    for (i = 1; i < 4; i++) {
        p = ngx_pnalloc(cf->pool, value[i].len + 1);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        *ngx_cpymem(p, value[i].data, value[i].len) = '\0';
        value[i].data = p;
    }

    mmcf->sender.service_user = value[1];
    mmcf->sender.service_secret = value[2];
    mmcf->sender.project_id = value[3];

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_mixpanel_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_mixpanel_log_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_mixpanel_rewrite_handler;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_mixpanel_header_filter;

    return NGX_OK;
}


/* each configuration, once its variables have their handlers */

static ngx_int_t
ngx_http_mixpanel_init_module(ngx_cycle_t *cycle)
{
    return ngx_http_mixpanel_header_vars_init(cycle);
}


static ngx_int_t
ngx_http_mixpanel_init_process(ngx_cycle_t *cycle)
{
    ngx_http_mixpanel_main_conf_t  *mmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    mmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_mixpanel_module);

    if (mmcf == NULL || !mmcf->enabled) {
        return NGX_OK;
    }

    if (ngx_http_mixpanel_sender_init(cycle->log) != NGX_OK) {
        return NGX_OK;
    }

    ngx_http_mixpanel_sender = ngx_http_mixpanel_sender_start(&mmcf->sender,
                                                              mmcf->file,
                                                              cycle);

    if (ngx_http_mixpanel_sender == NULL) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "mixpanel: could not start the sender, "
                      "events will not be sent");
    }

    ngx_http_mixpanel_record_set_sender(ngx_http_mixpanel_sender);

    return NGX_OK;
}


static void
ngx_http_mixpanel_exit_process(ngx_cycle_t *cycle)
{
    ngx_msec_t        budget, spent, least;
    ngx_core_conf_t  *ccf;

    if (ngx_http_mixpanel_sender == NULL) {
        return;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    budget = NGX_HTTP_MIXPANEL_EXIT_BUDGET;

    if (ngx_terminate) {
        budget = NGX_HTTP_MIXPANEL_TERMINATE_BUDGET;

    } else if (ccf->shutdown_timeout) {

        /*
         * never more than 5 s, whatever the operator's bound: a service
         * manager kills what is left of a stop after about that (Debian's
         * nginx.service), and an exit's retries do not back off
         */

        budget = ngx_min(budget, ccf->shutdown_timeout * 3 / 4);

        /*
         * counted from the quit: connections that stayed open took some
         * of worker_shutdown_timeout, or all of it; what a fast shutdown
         * has at least, for one more try
         */

        spent = ngx_http_mixpanel_sender_exiting(ngx_http_mixpanel_sender);
        least = ngx_min(budget, NGX_HTTP_MIXPANEL_TERMINATE_BUDGET);

        budget = (budget > spent + least) ? budget - spent : least;
    }

    ngx_http_mixpanel_record_set_sender(NULL);
    ngx_http_mixpanel_props_exit();
    ngx_http_mixpanel_identity_exit();
    ngx_http_mixpanel_sender_stop(ngx_http_mixpanel_sender, budget);
    ngx_http_mixpanel_sender = NULL;
}
