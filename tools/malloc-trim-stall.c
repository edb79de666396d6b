/*
 * Why the sender does not call malloc_trim(0) after an outage (see
 * docs/delivery.md, "Memory"): the worker's malloc() waits for it.
 *
 *   cc -O2 -o /tmp/malloc-trim-stall tools/malloc-trim-stall.c -lpthread
 *   /tmp/malloc-trim-stall        # no trim
 *   /tmp/malloc-trim-stall trim   # the old sender's malloc_trim(0)
 *
 * The main thread plays the worker: it allocates 50,000 records of 500 to
 * 900 bytes (an outage's queue), keeps a few other blocks alive, then
 * mallocs and frees blocks of varied sizes (they miss glibc's per-thread
 * cache, as a worker's pool allocations do) while a second thread, the
 * sender, frees the records and, with "trim", calls malloc_trim(0).  It
 * prints how long the trim took and the longest malloc() the worker made
 * while it ran.  On the development machine (glibc 2.36): the trim takes
 * 2.3 to 5.5 ms for 36 MB, and the worker's worst malloc() during it is
 * as long; without the trim, 0.02 ms.
 */

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECORDS  50000
#define SAMPLES  4000000

static void             *records[RECORDS];
static volatile int      go, done;
static double            trim_start, trim_end;
static double            started[SAMPLES], took[SAMPLES];


static double
now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}


static void *
sender(void *trim)
{
    int  i;

    while (!go) { /* void */ }

    for (i = 0; i < RECORDS; i++) {
        free(records[i]);
    }

    trim_start = now_ms();

    if (trim) {
        malloc_trim(0);
    }

    trim_end = now_ms();
    done = 1;

    return NULL;
}


int
main(int argc, char **argv)
{
    int         i, trim;
    long        n, k;
    void       *p, *keep[RECORDS / 64];
    size_t      size;
    double      t0, worst;
    pthread_t   t;

    trim = (argc > 1);

    for (i = 0; i < RECORDS; i++) {
        records[i] = malloc(500 + (i * 7919) % 400);
        memset(records[i], 1, 500);
    }

    for (i = 0; i < RECORDS / 64; i++) {
        keep[i] = malloc(600);
    }

    pthread_create(&t, NULL, sender, trim ? (void *) 1 : NULL);

    go = 1;
    n = 0;

    while (!done && n < SAMPLES) {
        t0 = now_ms();
        size = 500 + (n * 2654435761u) % 16000;
        p = malloc(size);
        memset(p, 2, 64);
        free(p);
        started[n] = t0;
        took[n++] = now_ms() - t0;
    }

    pthread_join(t, NULL);

    worst = 0;

    for (k = 0; k < n; k++) {
        if (started[k] + took[k] >= trim_start && started[k] <= trim_end
            && took[k] > worst)
        {
            worst = took[k];
        }
    }

    printf("trim: %s, took %.3f ms; the worker's worst malloc() meanwhile: "
           "%.3f ms\n", trim ? "yes" : "no", trim_end - trim_start, worst);

    (void) keep;

    return 0;
}
