
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * The spool: batches that could not be delivered (retry time spent, or a
 * worker exiting) are written to files, atomically, and replayed later.
 * A file is a header line {"kind":"import","token":"..","count":N}
 * followed by the batch's JSON array.  Only the sender thread calls this.
 */


#include "ngx_http_mixpanel_module.h"

#include <dirent.h>


#define NGX_HTTP_MIXPANEL_SPOOL_MAX_FILE  (4 * 1024 * 1024)


static off_t ngx_http_mixpanel_spool_size(ngx_str_t *dir);
static ngx_int_t ngx_http_mixpanel_spool_parse(u_char *p, size_t len,
    ngx_http_mixpanel_spooled_t *sp);
static ngx_int_t ngx_http_mixpanel_spool_read(char *path, u_char **data,
    size_t *len);
static void ngx_http_mixpanel_spool_aside(char *path, ngx_log_t *log,
    const char *why);


static ngx_uint_t  ngx_http_mixpanel_spool_seq;


ngx_int_t
ngx_http_mixpanel_spool_write(ngx_str_t *dir, off_t max_size,
    ngx_uint_t kind, u_char *token, size_t token_len, u_char *body,
    size_t len, ngx_uint_t count, ngx_log_t *log)
{
    int        fd;
    u_char    *p, head[256], tmp[NGX_MAX_PATH], path[NGX_MAX_PATH];
    size_t     hlen;
    ngx_err_t  err;

    if (token_len > 128) {
        return NGX_ERROR;
    }

    if (max_size
        && ngx_http_mixpanel_spool_size(dir) + (off_t) len > max_size)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "mixpanel: spool \"%V\" is full (max_size=%O), "
                      "%ui events not spooled", dir, max_size, count);
        return NGX_DECLINED;
    }

    p = ngx_snprintf(head, sizeof(head),
                     "{\"kind\":\"%s\",\"token\":\"%*s\",\"count\":%ui}\n",
                     kind == NGX_HTTP_MIXPANEL_RECORD_ENGAGE ? "engage"
                                                             : "import",
                     token_len, token, count);
    hlen = p - head;

    ngx_snprintf(path, sizeof(path), "%V/mp-%P-%M-%ui.json%Z", dir, ngx_pid,
                 ngx_current_msec, ngx_http_mixpanel_spool_seq);
    ngx_snprintf(tmp, sizeof(tmp), "%V/.mp-%P-%M-%ui.tmp%Z", dir, ngx_pid,
                 ngx_current_msec, ngx_http_mixpanel_spool_seq++);

    fd = open((char *) tmp, O_WRONLY|O_CREAT|O_TRUNC, 0600);
    if (fd == -1) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "mixpanel: open(\"%s\") failed", tmp);
        return NGX_ERROR;
    }

    if (write(fd, head, hlen) != (ssize_t) hlen
        || write(fd, body, len) != (ssize_t) len
        || fsync(fd) == -1)
    {
        err = ngx_errno;
        goto failed;
    }

    if (close(fd) == -1) {
        err = ngx_errno;
        fd = -1;
        goto failed;
    }

    fd = -1;

    if (rename((char *) tmp, (char *) path) == -1) {
        err = ngx_errno;
        goto failed;
    }

    return NGX_OK;

failed:

    ngx_log_error(NGX_LOG_ERR, log, err,
                  "mixpanel: writing the spool file \"%s\" failed", tmp);

    if (fd != -1) {
        (void) close(fd);
    }

    (void) unlink((char *) tmp);

    return NGX_ERROR;
}


/* claims the next spool file, or NGX_DECLINED when there is none */

ngx_int_t
ngx_http_mixpanel_spool_next(ngx_str_t *dir, ngx_http_mixpanel_spooled_t *sp,
    ngx_log_t *log)
{
    DIR            *d;
    u_char         *data;
    size_t          len, nlen;
    ngx_int_t       rc;
    struct dirent  *de;

    d = opendir((char *) dir->data);
    if (d == NULL) {
        return NGX_DECLINED;
    }

    rc = NGX_DECLINED;

    while ((de = readdir(d)) != NULL) {

        nlen = ngx_strlen(de->d_name);

        if (nlen < 8 || ngx_strncmp(de->d_name, "mp-", 3) != 0
            || ngx_strcmp(de->d_name + nlen - 5, ".json") != 0)
        {
            continue;
        }

        ngx_snprintf(sp->path, sizeof(sp->path), "%V/%s%Z", dir,
                     de->d_name);
        ngx_snprintf(sp->claimed, sizeof(sp->claimed), "%V/%s.claimed%Z",
                     dir, de->d_name);

        /* another worker may take the same file: rename decides */

        if (rename((char *) sp->path, (char *) sp->claimed) == -1) {
            continue;
        }

        if (ngx_http_mixpanel_spool_read((char *) sp->claimed, &data, &len)
            != NGX_OK)
        {
            ngx_http_mixpanel_spool_aside((char *) sp->claimed, log,
                                          "cannot be read");
            continue;
        }

        if (ngx_http_mixpanel_spool_parse(data, len, sp) != NGX_OK) {
            free(data);
            ngx_http_mixpanel_spool_aside((char *) sp->claimed, log,
                                          "is corrupt");
            continue;
        }

        rc = NGX_OK;
        break;
    }

    (void) closedir(d);

    return rc;
}


/* a replayed file: removed when sent, put back for a later try if not */

void
ngx_http_mixpanel_spool_done(ngx_http_mixpanel_spooled_t *sp,
    ngx_uint_t sent)
{
    free(sp->data);
    sp->data = NULL;

    if (sent) {
        (void) unlink((char *) sp->claimed);

    } else {
        (void) rename((char *) sp->claimed, (char *) sp->path);
    }
}


/* claims left by a worker that died are put back on start */

void
ngx_http_mixpanel_spool_recover(ngx_str_t *dir)
{
    DIR            *d;
    size_t          nlen;
    u_char          from[NGX_MAX_PATH], to[NGX_MAX_PATH];
    struct stat     st;
    struct dirent  *de;

    d = opendir((char *) dir->data);
    if (d == NULL) {
        return;
    }

    while ((de = readdir(d)) != NULL) {
        nlen = ngx_strlen(de->d_name);

        if (nlen < 16 || ngx_strncmp(de->d_name, "mp-", 3) != 0
            || ngx_strcmp(de->d_name + nlen - 8, ".claimed") != 0)
        {
            continue;
        }

        ngx_snprintf(from, sizeof(from), "%V/%s%Z", dir, de->d_name);
        ngx_snprintf(to, sizeof(to), "%V/%*s%Z", dir, nlen - 8, de->d_name);

        /* a claim older than a minute is not another worker's replay */

        if (stat((char *) from, &st) == 0 && st.st_mtime + 60 < ngx_time()) {
            (void) rename((char *) from, (char *) to);
        }
    }

    (void) closedir(d);
}


static off_t
ngx_http_mixpanel_spool_size(ngx_str_t *dir)
{
    DIR            *d;
    off_t           size;
    u_char          path[NGX_MAX_PATH];
    struct stat     st;
    struct dirent  *de;

    d = opendir((char *) dir->data);
    if (d == NULL) {
        return 0;
    }

    size = 0;

    while ((de = readdir(d)) != NULL) {
        if (ngx_strncmp(de->d_name, "mp-", 3) != 0) {
            continue;
        }

        ngx_snprintf(path, sizeof(path), "%V/%s%Z", dir, de->d_name);

        if (stat((char *) path, &st) == 0) {
            size += st.st_size;
        }
    }

    (void) closedir(d);

    return size;
}


static ngx_int_t
ngx_http_mixpanel_spool_read(char *path, u_char **data, size_t *len)
{
    int          fd;
    u_char      *p;
    ssize_t      n;
    struct stat  st;

    fd = open(path, O_RDONLY);
    if (fd == -1) {
        return NGX_ERROR;
    }

    if (fstat(fd, &st) == -1 || st.st_size <= 0
        || st.st_size > NGX_HTTP_MIXPANEL_SPOOL_MAX_FILE)
    {
        (void) close(fd);
        return NGX_ERROR;
    }

    p = malloc(st.st_size);
    if (p == NULL) {
        (void) close(fd);
        return NGX_ERROR;
    }

    n = read(fd, p, st.st_size);
    (void) close(fd);

    if (n != st.st_size) {
        free(p);
        return NGX_ERROR;
    }

    *data = p;
    *len = n;

    return NGX_OK;
}


/*
 * {"kind":"import","token":"T","count":N}\n[ ... ]
 * The array itself is not parsed again: it was written by us, and
 * Mixpanel's answer tells about each record.
 */

static ngx_int_t
ngx_http_mixpanel_spool_parse(u_char *p, size_t len,
    ngx_http_mixpanel_spooled_t *sp)
{
    u_char     *nl, *last, *t, *e;
    ngx_int_t   count;

    last = p + len;

    nl = ngx_strlchr(p, last, '\n');
    if (nl == NULL || last - nl < 3 || nl[1] != '[' || last[-1] != ']') {
        return NGX_ERROR;
    }

    if (ngx_strncmp(p, "{\"kind\":\"import\",\"token\":\"", 26) == 0) {
        sp->kind = NGX_HTTP_MIXPANEL_RECORD_EVENT;

    } else if (ngx_strncmp(p, "{\"kind\":\"engage\",\"token\":\"", 26) == 0) {
        sp->kind = NGX_HTTP_MIXPANEL_RECORD_ENGAGE;

    } else {
        return NGX_ERROR;
    }

    t = p + 26;
    e = ngx_strlchr(t, nl, '"');

    if (e == NULL || e == t || e - t > 128
        || ngx_strncmp(e, "\",\"count\":", 10) != 0)
    {
        return NGX_ERROR;
    }

    count = ngx_atoi(e + 10, nl - 1 - (e + 10));

    if (count <= 0 || nl[-1] != '}') {
        return NGX_ERROR;
    }

    sp->data = p;
    sp->token = t;
    sp->token_len = e - t;
    sp->count = count;

    /* the records without the brackets */

    sp->body = nl + 2;
    sp->len = last - 1 - sp->body;

    return NGX_OK;
}


static void
ngx_http_mixpanel_spool_aside(char *path, ngx_log_t *log, const char *why)
{
    u_char  aside[NGX_MAX_PATH];

    ngx_snprintf(aside, sizeof(aside), "%s.corrupt%Z", path);

    (void) rename(path, (char *) aside);

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "mixpanel: spool file \"%s\" %s, moved aside as \"%s\"",
                  path, why, aside);
}
