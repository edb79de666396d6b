/*
 * A preloaded fsync() that fails with EIO while the file named by
 * $MIXPANEL_TEST_FSYNC_FAIL exists: a disk that fails under the spool
 * (t/114-spool-write-error.t).  The name is read once, when nginx's
 * master loads this, as nginx clears the workers' environment.
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char  flag[4096];
static int (*real_fsync)(int);

__attribute__((constructor))
static void
init(void)
{
    const char  *f;

    f = getenv("MIXPANEL_TEST_FSYNC_FAIL");

    if (f != NULL && strlen(f) < sizeof(flag)) {
        strcpy(flag, f);
    }

    real_fsync = (int (*)(int)) dlsym(RTLD_NEXT, "fsync");
}


int
fsync(int fd)
{
    if (flag[0] != '\0' && access(flag, F_OK) == 0) {
        errno = EIO;
        return -1;
    }

    return real_fsync(fd);
}
