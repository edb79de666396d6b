
/*
 * Copyright (C) The ngx_http_mixpanel_module authors
 */


/*
 * The spool: records that could not be delivered (retry time spent, or a
 * worker exiting) are written to files, atomically, and replayed later.
 * A file is a header line {"kind":"import","token":"..","count":N,
 * "time":T} (the token JSON-escaped) and then one record a line; files of
 * earlier versions hold a single JSON array after the header, and are
 * read too.  A file written at exit holds several such sections, one per
 * lane: a section sent is marked "kind":"sent__" in place, so that the
 * rest of its file can be left for later, and sent alone.
 *
 * A file belongs to the worker that holds a flock() on it: locks die with
 * their process, so the claim of a worker that is gone is free at once,
 * and nothing is renamed to claim.  Only the sender thread calls this,
 * and nothing here touches nginx's structures or its logger: errors are
 * written to the caller's buffer.
 */


#include "ngx_http_mixpanel_module.h"

#include <dirent.h>
#include <sys/file.h>


#define NGX_HTTP_MIXPANEL_SPOOL_MAX_FILE  (8 * 1024 * 1024)
#define NGX_HTTP_MIXPANEL_SPOOL_STALE     60

/* at exit, sections are appended to a file until it holds this much */
#define NGX_HTTP_MIXPANEL_SPOOL_SECTIONS  (4 * 1024 * 1024)

/*
 * a file's name: the worker's pid, a monotonic time and a sequence
 * number, and a random number drawn when the worker starts: instances in
 * containers (pid namespaces of their own) may share a directory, and
 * their workers have the same pids and the same monotonic clock
 */
#define NGX_HTTP_MIXPANEL_SPOOL_PATH      "%s/mp-%P-%M-%ui-%016xL.json%Z"
#define NGX_HTTP_MIXPANEL_SPOOL_TMP       "%s/.mp-%P-%M-%ui-%016xL.tmp%Z"

/* the kind of a section sent already */
#define NGX_HTTP_MIXPANEL_SPOOL_SENT      ((ngx_uint_t) -1)


static ngx_int_t ngx_http_mixpanel_spool_flush(int fd, u_char *buf,
    u_char *p);
static ngx_int_t ngx_http_mixpanel_spool_gone(ngx_http_mixpanel_spool_t *sp,
    struct stat *st);
static ngx_int_t ngx_http_mixpanel_spool_open(ngx_http_mixpanel_spool_t *sp,
    u_char *err, u_char *last);
static ngx_int_t ngx_http_mixpanel_spool_section(
    ngx_http_mixpanel_spooled_t *f);
static off_t ngx_http_mixpanel_spool_size(ngx_http_mixpanel_spool_t *sp);
static ngx_int_t ngx_http_mixpanel_spool_name(u_char *name, size_t len,
    const char *suffix);
static ngx_int_t ngx_http_mixpanel_spool_read(int fd, u_char **data,
    size_t *len);
static ngx_int_t ngx_http_mixpanel_spool_header(u_char *p, u_char *last,
    ngx_http_mixpanel_spooled_t *f);
static u_char *ngx_http_mixpanel_spool_records(u_char *p, u_char *last,
    ngx_http_mixpanel_spooled_t *f, ngx_uint_t store);
static ngx_int_t ngx_http_mixpanel_spool_record(
    ngx_http_mixpanel_spooled_t *f, u_char *p, u_char *last,
    ngx_http_mixpanel_record_t ***tail);
static u_char *ngx_http_mixpanel_spool_value_end(u_char *p, u_char *last);
static u_char *ngx_http_mixpanel_spool_top_key(u_char *p, u_char *last,
    char *key, size_t len);
static void ngx_http_mixpanel_spool_free(ngx_http_mixpanel_spooled_t *f);
static void ngx_http_mixpanel_spool_errno(u_char *p, u_char *last,
    ngx_err_t e);
static u_char *ngx_http_mixpanel_spool_aside(ngx_http_mixpanel_spool_t *sp,
    int fd, u_char *path, u_char *err, u_char *last, const char *why);
static void ngx_http_mixpanel_spool_forget(ngx_http_mixpanel_spool_t *sp,
    struct stat *st);


/*
 * Writes count records, in one file, with the kind and token they all
 * have.  NGX_DECLINED: the spool is full; NGX_ERROR: the file could not be
 * written; err says why either way.  With sp->defer (at exit, with many
 * lanes) the records are a section appended to the file being written,
 * left under its temporary name, not synced, for
 * ngx_http_mixpanel_spool_commit(): a file and a sync per lane would take
 * longer than an exit may.
 */

ngx_int_t
ngx_http_mixpanel_spool_write(ngx_http_mixpanel_spool_t *sp, ngx_uint_t kind,
    u_char *token, size_t token_len, ngx_http_mixpanel_record_t *records,
    ngx_uint_t count, u_char *err, size_t errlen)
{
    int                                 fd;
    off_t                               size, start;
    u_char                             *p, *last, *t, buf[65536];
    u_char                              tmp[NGX_MAX_PATH], path[NGX_MAX_PATH];
    ngx_err_t                           e;
    ngx_uint_t                          seq;
    ngx_msec_t                          ms;
    struct timespec                     ts;
    ngx_http_mixpanel_record_t         *rec;
    ngx_http_mixpanel_spool_pending_t  *pf;

    last = err + errlen - 1;

    if (token_len > NGX_HTTP_MIXPANEL_TOKEN_MAX) {
        *ngx_slprintf(err, last, "a token of %uz bytes does not fit in a "
                      "spool file header", token_len) = '\0';
        return NGX_ERROR;
    }

    size = 0;

    for (rec = records; rec; rec = rec->next) {
        size += rec->len + 1;
    }

    if (sp->max_size) {

        /* counted again each second, but once at exit: many files come */

        if (sp->sized != time(NULL) && (!sp->defer || sp->sized == 0)) {
            sp->size = ngx_http_mixpanel_spool_size(sp);
            sp->sized = time(NULL);
        }

        if (sp->size + size > sp->max_size) {
            *ngx_slprintf(err, last, "spool \"%s\" is full (max_size=%O)",
                          sp->dir, sp->max_size) = '\0';
            return NGX_DECLINED;
        }
    }

    pf = NULL;
    start = 0;

    if (sp->defer) {

        /*
         * a section goes in a new file when it would take the file past
         * 4 MB: a lane's section holds up to 4 MB, and a file of two such
         * would be past the 8 MB a worker reads back
         */

        if (!sp->wopen
            || (sp->wsize
                && sp->wsize + size > NGX_HTTP_MIXPANEL_SPOOL_SECTIONS))
        {
            if (ngx_http_mixpanel_spool_open(sp, err, last) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        pf = &sp->pending[sp->npending - 1];
        fd = sp->wfd;
        start = sp->wsize;

        ngx_snprintf(tmp, sizeof(tmp), NGX_HTTP_MIXPANEL_SPOOL_TMP, sp->dir,
                     sp->pid, pf->ms, pf->seq, sp->nonce);

        goto write;
    }

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);
    ms = (ngx_msec_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    seq = sp->seq++;

    ngx_snprintf(path, sizeof(path), NGX_HTTP_MIXPANEL_SPOOL_PATH, sp->dir,
                 sp->pid, ms, seq, sp->nonce);
    ngx_snprintf(tmp, sizeof(tmp), NGX_HTTP_MIXPANEL_SPOOL_TMP, sp->dir,
                 sp->pid, ms, seq, sp->nonce);

    fd = open((char *) tmp, O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0600);
    if (fd == -1) {
        e = ngx_errno;
        p = ngx_slprintf(err, last, "open(\"%s\") failed ", tmp);
        ngx_http_mixpanel_spool_errno(p, last, e);
        return NGX_ERROR;
    }

    /* the start-up sweep leaves a locked temporary file alone */

    (void) flock(fd, LOCK_EX);

write:

    p = ngx_cpymem(buf, "{\"kind\":\"", sizeof("{\"kind\":\"") - 1);
    p = ngx_cpymem(p, kind == NGX_HTTP_MIXPANEL_RECORD_ENGAGE ? "engage"
                                                              : "import", 6);
    p = ngx_cpymem(p, "\",\"token\":\"", sizeof("\",\"token\":\"") - 1);

    for (t = token; t < token + token_len; t++) {
        if (*t == '"' || *t == '\\') {
            *p++ = '\\';
            *p++ = *t;

        } else if (*t < 0x20 || *t == 0x7f) {
            p = ngx_sprintf(p, "\\u%04xD", (uint32_t) *t);

        } else {
            *p++ = *t;
        }
    }

    p = ngx_sprintf(p, "\",\"count\":%ui,\"time\":%T}\n", count, time(NULL));

    for (rec = records; rec; rec = rec->next) {

        if ((size_t) (buf + sizeof(buf) - p) < (size_t) rec->len + 1) {
            if (ngx_http_mixpanel_spool_flush(fd, buf, p) != NGX_OK) {
                goto failed;
            }

            p = buf;
        }

        if ((size_t) rec->len + 1 > sizeof(buf)) {
            if (ngx_http_mixpanel_spool_flush(fd, rec->data,
                                              rec->data + rec->len)
                != NGX_OK)
            {
                goto failed;
            }

        } else {
            p = ngx_cpymem(p, rec->data, rec->len);
        }

        *p++ = '\n';
    }

    if (ngx_http_mixpanel_spool_flush(fd, buf, p) != NGX_OK) {
        goto failed;
    }

    if (pf) {
        sp->wsize = lseek(fd, 0, SEEK_CUR);
        pf->count += count;
        sp->size += size;

        return NGX_OK;
    }

    if (fsync(fd) == -1 || rename((char *) tmp, (char *) path) == -1) {
        goto failed;
    }

    (void) close(fd);

    sp->size += size;

    return NGX_OK;

failed:

    e = ngx_errno;

    if (pf) {

        /* the section is cut off; the file is removed if it cannot be */

        if (ftruncate(fd, start) == -1 || lseek(fd, start, SEEK_SET) == -1) {
            pf->broken = 1;
            sp->wopen = 0;
            (void) close(fd);
        }

    } else {
        (void) unlink((char *) tmp);
        (void) close(fd);
    }

    p = ngx_slprintf(err, last, "writing the spool file \"%s\" failed ", tmp);
    ngx_http_mixpanel_spool_errno(p, last, e);

    return NGX_ERROR;
}


/*
 * The files written with sp->defer: one syncfs() for all of them, then
 * each renamed to its name, and the directory synced.  Returns how many
 * records are in files that could not be written whole or renamed (err
 * says the first): those are removed, their records lost.
 */

ngx_uint_t
ngx_http_mixpanel_spool_commit(ngx_http_mixpanel_spool_t *sp, u_char *err,
    size_t errlen)
{
    int                                 dfd;
    u_char                             *p, *last;
    u_char                              tmp[NGX_MAX_PATH], path[NGX_MAX_PATH];
    ngx_err_t                           e;
    ngx_uint_t                          i, failed;
    ngx_http_mixpanel_spool_pending_t  *pf;

    sp->defer = 0;

    if (sp->wopen) {
        (void) close(sp->wfd);
        sp->wopen = 0;
    }

    if (sp->npending == 0) {
        return 0;
    }

    last = err + errlen - 1;
    failed = 0;

    dfd = open((char *) sp->dir, O_RDONLY|O_DIRECTORY|O_CLOEXEC);

    /* the data of every file on the disk before any is renamed */

    if (dfd == -1 || syncfs(dfd) == -1) {
        sync();
    }

    for (i = 0; i < sp->npending; i++) {
        pf = &sp->pending[i];

        ngx_snprintf(path, sizeof(path), NGX_HTTP_MIXPANEL_SPOOL_PATH, sp->dir,
                     sp->pid, pf->ms, pf->seq, sp->nonce);
        ngx_snprintf(tmp, sizeof(tmp), NGX_HTTP_MIXPANEL_SPOOL_TMP, sp->dir,
                     sp->pid, pf->ms, pf->seq, sp->nonce);

        if (pf->broken) {
            if (failed == 0) {
                *ngx_slprintf(err, last, "writing the spool file \"%s\" "
                              "failed", tmp) = '\0';
            }

            (void) unlink((char *) tmp);
            failed += pf->count;
            continue;
        }

        if (pf->count == 0) {
            (void) unlink((char *) tmp);
            continue;
        }

        if (rename((char *) tmp, (char *) path) == -1) {
            e = ngx_errno;

            if (failed == 0) {
                p = ngx_slprintf(err, last, "rename(\"%s\") failed ", tmp);
                ngx_http_mixpanel_spool_errno(p, last, e);
            }

            (void) unlink((char *) tmp);
            failed += pf->count;
        }
    }

    if (dfd != -1) {
        (void) fsync(dfd);
        (void) close(dfd);
    }

    sp->npending = 0;

    return failed;
}


/* at exit: the next file that sections are appended to */

static ngx_int_t
ngx_http_mixpanel_spool_open(ngx_http_mixpanel_spool_t *sp, u_char *err,
    u_char *last)
{
    int                                 fd;
    u_char                             *p, tmp[NGX_MAX_PATH];
    ngx_err_t                           e;
    struct timespec                     ts;
    ngx_http_mixpanel_spool_pending_t  *pf;

    if (sp->wopen) {
        (void) close(sp->wfd);
        sp->wopen = 0;
    }

    if (sp->npending == sp->palloc) {
        pf = realloc(sp->pending, (sp->palloc * 2 + 16) * sizeof(*pf));
        if (pf == NULL) {
            *ngx_slprintf(err, last, "out of memory") = '\0';
            return NGX_ERROR;
        }

        sp->pending = pf;
        sp->palloc = sp->palloc * 2 + 16;
    }

    pf = &sp->pending[sp->npending];

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);
    pf->ms = (ngx_msec_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    pf->seq = sp->seq++;
    pf->count = 0;
    pf->broken = 0;

    ngx_snprintf(tmp, sizeof(tmp), NGX_HTTP_MIXPANEL_SPOOL_TMP, sp->dir,
                 sp->pid, pf->ms, pf->seq, sp->nonce);

    fd = open((char *) tmp, O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0600);
    if (fd == -1) {
        e = ngx_errno;
        p = ngx_slprintf(err, last, "open(\"%s\") failed ", tmp);
        ngx_http_mixpanel_spool_errno(p, last, e);
        return NGX_ERROR;
    }

    (void) flock(fd, LOCK_EX);

    sp->npending++;
    sp->wfd = fd;
    sp->wopen = 1;
    sp->wsize = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_mixpanel_spool_flush(int fd, u_char *buf, u_char *p)
{
    ssize_t  n;

    while (buf < p) {
        n = write(fd, buf, p - buf);

        if (n == -1) {
            if (ngx_errno == NGX_EINTR) {
                continue;
            }

            return NGX_ERROR;
        }

        buf += n;
    }

    return NGX_OK;
}


/*
 * Claims the next file no live worker holds and whose kind and token
 * skip() does not refuse, and reads its records.  NGX_OK: f holds them
 * and the lock; NGX_DECLINED: none; NGX_ABORT: a file could not be used
 * and was moved aside, err says which (call again for the next).
 */

ngx_int_t
ngx_http_mixpanel_spool_claim(ngx_http_mixpanel_spool_t *sp,
    ngx_http_mixpanel_spooled_t *f, ngx_int_t (*skip)(void *data,
    ngx_uint_t kind, u_char *token, size_t len), void *data, u_char *err,
    size_t errlen)
{
    int             fd;
    DIR            *d;
    u_char         *body, *nl, *p, head[2048];
    size_t          len;
    ssize_t         n;
    ngx_err_t       e;
    ngx_int_t       rc;
    struct stat     st;
    struct dirent  *de;

    d = opendir((char *) sp->dir);
    if (d == NULL) {
        return NGX_DECLINED;
    }

    rc = NGX_DECLINED;
    sp->nbad = 0;

    while ((de = readdir(d)) != NULL) {

        if (ngx_http_mixpanel_spool_name((u_char *) de->d_name,
                                         ngx_strlen(de->d_name), ".json")
            != NGX_OK)
        {
            continue;
        }

        ngx_snprintf(f->path, sizeof(f->path), "%s/%s%Z", sp->dir,
                     de->d_name);

        /* writable if it may be: a section sent is marked in place */

        fd = open((char *) f->path, O_RDWR|O_CLOEXEC);
        f->readonly = 0;

        if (fd == -1 && (ngx_errno == NGX_EACCES || ngx_errno == EROFS)) {
            fd = open((char *) f->path, O_RDONLY|O_CLOEXEC);
            f->readonly = 1;
        }

        if (fd == -1) {
            e = ngx_errno;

            /* not ours to read (copied in by root?): the caller says so */

            if (e != NGX_ENOENT && sp->nbad++ == 0) {
                p = ngx_slprintf(sp->bad, sp->bad + sizeof(sp->bad) - 1,
                                 "\"%s\" (", f->path);
                p = ngx_strerror(e, p, sp->bad + sizeof(sp->bad) - 2 - p);
                *p++ = ')';
                *p = '\0';
            }

            continue;
        }

        /* another worker's, or sent and removed since readdir() */

        if (flock(fd, LOCK_EX|LOCK_NB) == -1
            || fstat(fd, &st) == -1 || st.st_nlink == 0)
        {
            (void) close(fd);
            continue;
        }

        /*
         * Sent already: emptied, or remembered, because it could not be
         * removed.  Files are written whole and renamed, so an empty one
         * can be nothing else.
         */

        if (st.st_size == 0 || ngx_http_mixpanel_spool_gone(sp, &st)) {
            if (st.st_size == 0) {
                (void) unlink((char *) f->path);
            }

            (void) close(fd);
            continue;
        }

        f->fd = fd;
        f->records = NULL;
        f->count = 0;

        /* the header first: a file the caller skips is not read whole */

        if (skip) {
            n = pread(fd, head, sizeof(head), 0);
            nl = (n > 0) ? ngx_strlchr(head, head + n, '\n') : NULL;

            if (nl && ngx_http_mixpanel_spool_header(head, nl, f) == NGX_OK
                && f->kind != NGX_HTTP_MIXPANEL_SPOOL_SENT
                && skip(data, f->kind, f->token, f->token_len))
            {
                (void) close(fd);
                f->fd = -1;
                continue;
            }
        }

        if (st.st_size < 0 || st.st_size > NGX_HTTP_MIXPANEL_SPOOL_MAX_FILE
            || ngx_http_mixpanel_spool_read(fd, &body, &len) != NGX_OK)
        {
            p = ngx_http_mixpanel_spool_aside(sp, fd, f->path, err,
                                              err + errlen - 1,
                                              "cannot be read");
            *p = '\0';
            (void) close(fd);
            f->fd = -1;
            rc = NGX_ABORT;
            break;
        }

        f->body = body;
        f->len = len;
        f->next = 0;

        rc = ngx_http_mixpanel_spool_section(f);

        if (rc == NGX_ERROR) {
            goto corrupt;
        }

        if (rc == NGX_DONE
            || (skip && skip(data, f->kind, f->token, f->token_len)))
        {
            /* every section sent (it could not be removed), or skipped */

            if (rc == NGX_DONE) {
                (void) unlink((char *) f->path);
            }

            ngx_http_mixpanel_spool_free(f);
            ngx_http_mixpanel_spool_release(f, 0);
            rc = NGX_DECLINED;
            continue;
        }

        if (f->readonly && f->next < f->len) {
            (void) ngx_http_mixpanel_spool_own(sp, f);
        }

        rc = NGX_OK;
        break;

    corrupt:

        free(body);
        f->body = NULL;
        ngx_http_mixpanel_spool_free(f);
        p = ngx_http_mixpanel_spool_aside(sp, fd, f->path, err,
                                          err + errlen - 1, "is corrupt");
        *p = '\0';
        (void) close(fd);
        f->fd = -1;
        rc = NGX_ABORT;
        break;
    }

    (void) closedir(d);

    return rc;
}


/*
 * A file of several sections that the workers may read but not write
 * (copied in by root, left by workers of another user): a section sent
 * could not be marked in it, and would be sent again with the rest.  It
 * is replaced by a copy of this worker's, from the section being sent on
 * (those before it are sent), locked before it takes the name.  When
 * that cannot be done (NGX_ERROR), it stays read-only; the sender tries
 * again before it gives the file back with a section sent.
 */

ngx_int_t
ngx_http_mixpanel_spool_own(ngx_http_mixpanel_spool_t *sp,
    ngx_http_mixpanel_spooled_t *f)
{
    int              fd;
    u_char           tmp[NGX_MAX_PATH];
    ngx_uint_t       seq;
    ngx_msec_t       ms;
    struct timespec  ts;

    if (!f->readonly) {
        return NGX_OK;
    }

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);
    ms = (ngx_msec_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    seq = sp->seq++;

    ngx_snprintf(tmp, sizeof(tmp), NGX_HTTP_MIXPANEL_SPOOL_TMP, sp->dir,
                 sp->pid, ms, seq, sp->nonce);

    fd = open((char *) tmp, O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC, 0600);
    if (fd == -1) {
        return NGX_ERROR;
    }

    (void) flock(fd, LOCK_EX);

    if (ngx_http_mixpanel_spool_flush(fd, f->body + f->offset,
                                      f->body + f->len)
        != NGX_OK
        || fsync(fd) == -1
        || rename((char *) tmp, (char *) f->path) == -1)
    {
        (void) unlink((char *) tmp);
        (void) close(fd);
        return NGX_ERROR;
    }

    (void) close(f->fd);

    /* the body as the copy has it: the records read are copies */

    ngx_memmove(f->body, f->body + f->offset, f->len - f->offset);
    f->len -= f->offset;
    f->next -= f->offset;
    f->offset = 0;

    f->fd = fd;
    f->readonly = 0;

    return NGX_OK;
}


/* a replayed file: removed (under the lock) when sent, left if not */

void
ngx_http_mixpanel_spool_release(ngx_http_mixpanel_spooled_t *f,
    ngx_uint_t sent)
{
    if (f->fd == -1) {
        return;
    }

    if (sent) {
        (void) unlink((char *) f->path);
    }

    free(f->body);
    f->body = NULL;

    (void) close(f->fd);
    f->fd = -1;
}


/*
 * The section being replayed was sent: when others follow it in its file,
 * it is marked so in place, and 1 is returned; 0: it is the file's last.
 */

ngx_uint_t
ngx_http_mixpanel_spool_mark(ngx_http_mixpanel_spooled_t *f)
{
    if (f->fd == -1 || f->next >= f->len) {
        return 0;
    }

    /* a failure leaves it unmarked: sent again later, events count once */

    (void) pwrite(f->fd, "sent__", 6,
                  f->offset + sizeof("{\"kind\":\"") - 1);

    return 1;
}


/*
 * The section being replayed was sent: it is marked so in the file, and
 * the next one not sent yet is read.  NGX_DONE: there is none; NGX_ERROR:
 * the rest is corrupt, the file was moved aside and released, err says.
 */

ngx_int_t
ngx_http_mixpanel_spool_next(ngx_http_mixpanel_spool_t *sp,
    ngx_http_mixpanel_spooled_t *f, u_char *err, size_t errlen)
{
    u_char     *p;
    ngx_int_t   rc;

    if (!ngx_http_mixpanel_spool_mark(f)) {
        return NGX_DONE;
    }

    ngx_http_mixpanel_spool_free(f);

    rc = ngx_http_mixpanel_spool_section(f);

    if (rc == NGX_ERROR) {
        ngx_http_mixpanel_spool_free(f);
        p = ngx_http_mixpanel_spool_aside(sp, f->fd, f->path, err,
                                          err + errlen - 1, "is corrupt");
        *p = '\0';
        ngx_http_mixpanel_spool_release(f, 0);
    }

    return rc;
}


/*
 * The next section of f->body not sent yet, from f->next: its kind,
 * token and records in f.  NGX_DONE: none is left.
 */

static ngx_int_t
ngx_http_mixpanel_spool_section(ngx_http_mixpanel_spooled_t *f)
{
    u_char      *p, *nl, *last, *end;
    ngx_uint_t   store;

    p = f->body + f->next;
    last = f->body + f->len;

    while (p < last) {
        nl = ngx_strlchr(p, last, '\n');

        if (nl == NULL
            || ngx_http_mixpanel_spool_header(p, nl, f) != NGX_OK)
        {
            return NGX_ERROR;
        }

        store = (f->kind != NGX_HTTP_MIXPANEL_SPOOL_SENT);

        end = ngx_http_mixpanel_spool_records(nl + 1, last, f, store);
        if (end == NULL) {
            return NGX_ERROR;
        }

        f->offset = p - f->body;
        f->next = end - f->body;

        if (store) {
            return NGX_OK;
        }

        p = end;
    }

    return NGX_DONE;
}


/*
 * A replayed file that was sent: removed, under the lock.  When it cannot
 * be (a read-only directory or file system), it is emptied, which every
 * worker reads as "sent"; when it cannot be emptied either, this worker
 * remembers it and never sends it again.  NGX_DECLINED: not removed, err
 * says what was done.
 */

ngx_int_t
ngx_http_mixpanel_spool_remove(ngx_http_mixpanel_spool_t *sp,
    ngx_http_mixpanel_spooled_t *f, u_char *err, size_t errlen)
{
    int           fd;
    u_char       *p, *last, why[128];
    ngx_err_t     e;
    ngx_uint_t    emptied;
    struct stat   st, now;

    if (f->fd == -1) {
        return NGX_OK;
    }

    free(f->body);
    f->body = NULL;

    if (unlink((char *) f->path) == 0) {
        (void) close(f->fd);
        f->fd = -1;
        return NGX_OK;
    }

    e = ngx_errno;
    emptied = 0;

    if (fstat(f->fd, &st) == 0) {
        fd = open((char *) f->path, O_WRONLY|O_CLOEXEC);

        if (fd != -1) {
            if (fstat(fd, &now) == 0 && now.st_dev == st.st_dev
                && now.st_ino == st.st_ino && ftruncate(fd, 0) == 0)
            {
                emptied = 1;
            }

            (void) close(fd);
        }

        if (!emptied) {
            ngx_http_mixpanel_spool_forget(sp, &st);
        }
    }

    (void) close(f->fd);
    f->fd = -1;

    *ngx_strerror(e, why, sizeof(why) - 1) = '\0';

    last = err + errlen - 1;

    if (emptied) {
        p = ngx_slprintf(err, last, "spool file \"%s\" was sent but cannot "
                         "be removed (%s), it was emptied instead and is not "
                         "sent again", f->path, why);

    } else {
        p = ngx_slprintf(err, last, "spool file \"%s\" was sent but cannot "
                         "be removed (%s) nor emptied: this worker does not "
                         "send it again, others would; remove it", f->path,
                         why);
    }

    *p = '\0';

    return NGX_DECLINED;
}


/* a file this worker skips from now on */

static void
ngx_http_mixpanel_spool_forget(ngx_http_mixpanel_spool_t *sp,
    struct stat *st)
{
    ngx_http_mixpanel_spool_gone_t  *gone;

    if (ngx_http_mixpanel_spool_gone(sp, st)) {
        return;
    }

    if (sp->ngone == sp->nalloc) {
        gone = realloc(sp->gone, (sp->nalloc * 2 + 16) * sizeof(*gone));
        if (gone == NULL) {
            return;
        }

        sp->gone = gone;
        sp->nalloc = sp->nalloc * 2 + 16;
    }

    sp->gone[sp->ngone].dev = st->st_dev;
    sp->gone[sp->ngone].ino = st->st_ino;
    sp->ngone++;
}


static ngx_int_t
ngx_http_mixpanel_spool_gone(ngx_http_mixpanel_spool_t *sp, struct stat *st)
{
    ngx_uint_t  i;

    for (i = 0; i < sp->ngone; i++) {
        if (sp->gone[i].dev == st->st_dev && sp->gone[i].ino == st->st_ino) {
            return 1;
        }
    }

    return 0;
}


/*
 * At start: temporary files no one writes any more are removed, and the
 * claims that earlier versions made by renaming to ".claimed" are put
 * back when no live worker holds them.
 */

void
ngx_http_mixpanel_spool_sweep(ngx_http_mixpanel_spool_t *sp)
{
    int             fd;
    DIR            *d;
    size_t          nlen;
    u_char          path[NGX_MAX_PATH], to[NGX_MAX_PATH];
    struct stat     st;
    struct dirent  *de;

    d = opendir((char *) sp->dir);
    if (d == NULL) {
        return;
    }

    while ((de = readdir(d)) != NULL) {
        nlen = ngx_strlen(de->d_name);

        if (nlen > 8 && ngx_strncmp(de->d_name, ".mp-", 4) == 0
            && ngx_strcmp(de->d_name + nlen - 4, ".tmp") == 0)
        {
            ngx_snprintf(path, sizeof(path), "%s/%s%Z", sp->dir, de->d_name);

            fd = open((char *) path, O_RDONLY|O_CLOEXEC);
            if (fd == -1) {
                continue;
            }

            /* a writer locks its file right after creating it */

            if (flock(fd, LOCK_EX|LOCK_NB) == 0 && fstat(fd, &st) == 0
                && st.st_mtime + NGX_HTTP_MIXPANEL_SPOOL_STALE < time(NULL))
            {
                (void) unlink((char *) path);
            }

            (void) close(fd);
            continue;
        }

        if (ngx_http_mixpanel_spool_name((u_char *) de->d_name, nlen,
                                         ".json.claimed")
            != NGX_OK)
        {
            continue;
        }

        ngx_snprintf(path, sizeof(path), "%s/%s%Z", sp->dir, de->d_name);
        ngx_snprintf(to, sizeof(to), "%s/%*s%Z", sp->dir,
                     nlen - sizeof(".claimed") + 1, de->d_name);

        fd = open((char *) path, O_RDONLY|O_CLOEXEC);
        if (fd == -1) {
            continue;
        }

        if (flock(fd, LOCK_EX|LOCK_NB) == 0) {
            (void) rename((char *) path, (char *) to);
        }

        (void) close(fd);
    }

    (void) closedir(d);
}


/* what counts against max_size: the files waiting to be sent */

static off_t
ngx_http_mixpanel_spool_size(ngx_http_mixpanel_spool_t *sp)
{
    DIR            *d;
    off_t           size;
    size_t          nlen;
    u_char          path[NGX_MAX_PATH];
    struct stat     st;
    struct dirent  *de;

    d = opendir((char *) sp->dir);
    if (d == NULL) {
        return 0;
    }

    size = 0;

    while ((de = readdir(d)) != NULL) {
        nlen = ngx_strlen(de->d_name);

        if (ngx_http_mixpanel_spool_name((u_char *) de->d_name, nlen,
                                         ".json") != NGX_OK
            && ngx_http_mixpanel_spool_name((u_char *) de->d_name, nlen,
                                            ".json.claimed") != NGX_OK)
        {
            continue;
        }

        ngx_snprintf(path, sizeof(path), "%s/%s%Z", sp->dir, de->d_name);

        /* a file the workers cannot read is never sent: not counted */

        if (stat((char *) path, &st) == 0
            && access((char *) path, R_OK) == 0)
        {
            size += st.st_size;
        }
    }

    (void) closedir(d);

    return size;
}


static ngx_int_t
ngx_http_mixpanel_spool_name(u_char *name, size_t len, const char *suffix)
{
    size_t  slen;

    slen = ngx_strlen(suffix);

    if (len <= 3 + slen || ngx_strncmp(name, "mp-", 3) != 0
        || ngx_strncmp(name + len - slen, suffix, slen) != 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_mixpanel_spool_read(int fd, u_char **data, size_t *len)
{
    u_char       *p;
    size_t        got;
    ssize_t       n;
    struct stat   st;

    if (fstat(fd, &st) == -1 || st.st_size <= 0) {
        return NGX_ERROR;
    }

    p = malloc(st.st_size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    got = 0;

    while (got < (size_t) st.st_size) {
        n = pread(fd, p + got, st.st_size - got, got);

        if (n == -1 && ngx_errno == NGX_EINTR) {
            continue;
        }

        if (n <= 0) {
            free(p);
            return NGX_ERROR;
        }

        got += n;
    }

    *data = p;
    *len = got;

    return NGX_OK;
}


/* {"kind":"import","token":"T","count":N[,"time":S]} */

static ngx_int_t
ngx_http_mixpanel_spool_header(u_char *p, u_char *last,
    ngx_http_mixpanel_spooled_t *f)
{
    u_char     *t, *e;
    ngx_int_t   count, n;

    if (last - p > 26
        && ngx_strncmp(p, "{\"kind\":\"import\",\"token\":\"", 26) == 0)
    {
        f->kind = NGX_HTTP_MIXPANEL_RECORD_EVENT;

    } else if (last - p > 26
               && ngx_strncmp(p, "{\"kind\":\"engage\",\"token\":\"", 26)
                  == 0)
    {
        f->kind = NGX_HTTP_MIXPANEL_RECORD_ENGAGE;

    } else if (last - p > 26
               && ngx_strncmp(p, "{\"kind\":\"sent__\",\"token\":\"", 26)
                  == 0)
    {
        f->kind = NGX_HTTP_MIXPANEL_SPOOL_SENT;

    } else {
        return NGX_ERROR;
    }

    p += 26;
    t = f->token;

    /* the escapes the writer makes: \" \\ \u00XX */

    while (p < last && *p != '"') {

        if (t == f->token + sizeof(f->token)) {
            return NGX_ERROR;
        }

        if (*p != '\\') {
            *t++ = *p++;
            continue;
        }

        if (last - p >= 2 && (p[1] == '"' || p[1] == '\\')) {
            *t++ = p[1];
            p += 2;
            continue;
        }

        if (last - p < 6 || p[1] != 'u') {
            return NGX_ERROR;
        }

        n = ngx_hextoi(p + 2, 4);
        if (n == NGX_ERROR || n > 0x7f) {
            return NGX_ERROR;
        }

        *t++ = (u_char) n;
        p += 6;
    }

    f->token_len = t - f->token;

    if (f->token_len == 0 || last - p < 11
        || ngx_strncmp(p, "\",\"count\":", 10) != 0)
    {
        return NGX_ERROR;
    }

    p += 10;

    for (e = p; e < last && *e >= '0' && *e <= '9'; e++) { /* void */ }

    count = ngx_atoi(p, e - p);

    if (count <= 0 || e == last) {
        return NGX_ERROR;
    }

    if (*e == ',') {
        if (last - e < 9 || ngx_strncmp(e, ",\"time\":", 8) != 0) {
            return NGX_ERROR;
        }

        for (e += 8; e < last && *e >= '0' && *e <= '9'; e++) { /* void */ }
    }

    if (e != last - 1 || *e != '}') {
        return NGX_ERROR;
    }

    f->count = count;

    return NGX_OK;
}


/*
 * A section's records: count lines, or, from earlier versions, one JSON
 * array (the rest of the file); stored in f unless "store" is 0 (a section
 * sent already).  Returns where the section ends, or NULL.
 */

static u_char *
ngx_http_mixpanel_spool_records(u_char *p, u_char *last,
    ngx_http_mixpanel_spooled_t *f, ngx_uint_t store)
{
    u_char                       *e, *end;
    ngx_uint_t                    n, array;
    ngx_http_mixpanel_record_t  **tail;

    f->records = NULL;
    tail = &f->records;
    n = 0;
    end = last;

    array = (p < last && *p == '[');

    if (array) {
        while (last > p && (last[-1] == '\n' || last[-1] == ' ')) {
            last--;
        }

        if (!store || last - p < 2 || last[-1] != ']') {
            return NULL;
        }

        p++;
        last--;
    }

    while (p < last && (array || n < f->count)) {

        if (array) {
            e = ngx_http_mixpanel_spool_value_end(p, last);

        } else {
            e = ngx_strlchr(p, last, '\n');

            if (e == NULL) {
                e = last;
            }
        }

        if (e == NULL || e == p) {
            return NULL;
        }

        if (store) {
            if (ngx_http_mixpanel_spool_record(f, p, e, &tail) != NGX_OK) {
                return NULL;
            }

        } else if (*p != '{') {
            return NULL;
        }

        n++;

        if (array && e < last && *e != ',') {
            return NULL;
        }

        p = (e < last) ? e + 1 : last;
    }

    if (n != f->count) {
        return NULL;
    }

    return array ? end : p;
}


/*
 * A record as the sender holds one.  A people update carries the "$time"
 * of its request, by which Mixpanel orders a profile's updates, so that a
 * replayed one never overwrites what a newer one set; one written without
 * it (a file of an earlier version) is replayed with "$set" made
 * "$set_once" instead.
 */

static ngx_int_t
ngx_http_mixpanel_spool_record(ngx_http_mixpanel_spooled_t *f, u_char *p,
    u_char *last, ngx_http_mixpanel_record_t ***tail)
{
    u_char                      *key, *d;
    size_t                       len;
    ngx_http_mixpanel_record_t  *rec;

    if (*p != '{' || last[-1] != '}') {
        return NGX_ERROR;
    }

    len = last - p;
    key = NULL;

    if (f->kind == NGX_HTTP_MIXPANEL_RECORD_ENGAGE
        && ngx_http_mixpanel_spool_top_key(p, last, "$time", 5) == NULL)
    {
        key = ngx_http_mixpanel_spool_top_key(p, last, "$set", 4);
    }

    rec = malloc(offsetof(ngx_http_mixpanel_record_t, data) + len
                 + (key ? 5 : 0) + f->token_len + 1);
    if (rec == NULL) {
        return NGX_ERROR;
    }

    if (key) {
        d = ngx_cpymem(rec->data, p, key + 5 - p);
        d = ngx_cpymem(d, "_once", 5);
        d = ngx_cpymem(d, key + 5, last - (key + 5));
        len += 5;

    } else {
        d = ngx_cpymem(rec->data, p, len);
    }

    rec->next = NULL;
    rec->kind = f->kind;
    rec->len = len;
    rec->identify = (len > 20 && ngx_strncmp(rec->data,
                                             "{\"event\":\"$identify\"", 20)
                                 == 0);
    rec->at = 0;
    rec->device = NULL;
    rec->token = d;
    rec->token_len = f->token_len;
    *ngx_cpymem(rec->token, f->token, f->token_len) = '\0';

    **tail = rec;
    *tail = &rec->next;

    return NGX_OK;
}


/* the end of the JSON value at p: strings skipped, brackets balanced */

static u_char *
ngx_http_mixpanel_spool_value_end(u_char *p, u_char *last)
{
    ngx_uint_t  depth, string;

    depth = 0;
    string = 0;

    for ( /* void */ ; p < last; p++) {

        if (string) {
            if (*p == '\\') {
                p++;

            } else if (*p == '"') {
                string = 0;
            }

            continue;
        }

        switch (*p) {

        case '"':
            string = 1;
            break;

        case '{':
        case '[':
            depth++;
            break;

        case '}':
        case ']':
            if (depth == 0) {
                return NULL;
            }

            depth--;
            break;

        case ',':
            if (depth == 0) {
                return p;
            }

            break;
        }
    }

    return (depth == 0 && !string) ? last : NULL;
}


/* the opening quote of a key of the object at p, on its top level */

static u_char *
ngx_http_mixpanel_spool_top_key(u_char *p, u_char *last, char *key,
    size_t len)
{
    u_char      *start;
    ngx_uint_t   depth;

    depth = 0;

    for ( /* void */ ; p < last; p++) {

        switch (*p) {

        case '"':
            start = p;

            for (p++; p < last && *p != '"'; p++) {
                if (*p == '\\') {
                    p++;
                }
            }

            /* a key: the next byte is the colon, as the writer puts it */

            if (depth == 1 && (size_t) (p - start - 1) == len
                && last - p > 1 && p[1] == ':'
                && ngx_strncmp(start + 1, key, len) == 0)
            {
                return start;
            }

            break;

        case '{':
        case '[':
            depth++;
            break;

        case '}':
        case ']':
            depth--;
            break;
        }
    }

    return NULL;
}


static void
ngx_http_mixpanel_spool_free(ngx_http_mixpanel_spooled_t *f)
{
    ngx_http_mixpanel_record_t  *rec, *next;

    for (rec = f->records; rec; rec = next) {
        next = rec->next;
        free(rec);
    }

    f->records = NULL;
}


/*
 * A file that cannot be used is moved aside; when it cannot be (a
 * read-only directory), this worker skips it from now on: it would be
 * found again at once, for ever.
 */

static u_char *
ngx_http_mixpanel_spool_aside(ngx_http_mixpanel_spool_t *sp, int fd,
    u_char *path, u_char *err, u_char *last, const char *why)
{
    u_char        aside[NGX_MAX_PATH], text[128];
    ngx_err_t     e;
    struct stat   st;

    ngx_snprintf(aside, sizeof(aside), "%s.corrupt%Z", path);

    if (rename((char *) path, (char *) aside) == 0) {
        return ngx_slprintf(err, last, "spool file \"%s\" %s, moved aside "
                            "as \"%s\"", path, why, aside);
    }

    e = ngx_errno;

    if (fstat(fd, &st) == 0) {
        ngx_http_mixpanel_spool_forget(sp, &st);
    }

    *ngx_strerror(e, text, sizeof(text) - 1) = '\0';

    return ngx_slprintf(err, last, "spool file \"%s\" %s and cannot be "
                        "moved aside (%s), this worker skips it", path, why,
                        text);
}


/*
 * An errno as nginx logs it, "(5: Input/output error)", at p; the text
 * ends with a NUL at last at the latest.
 */

static void
ngx_http_mixpanel_spool_errno(u_char *p, u_char *last, ngx_err_t e)
{
    p = ngx_slprintf(p, last, "(%d: ", e);

    if (last - p > 1) {
        p = ngx_strerror(e, p, last - p - 1);
        *p++ = ')';
    }

    *p = '\0';
}
