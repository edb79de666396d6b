
/*
 * The fixture of "tools/mutate --selftest": every mutant of calc.c and
 * text.c is listed in expected-sites and its result against the checks
 * (the file "checks") in expected-run.  Change them together.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT  10
#define ngx_log_debug1(level, fmt, arg)  (void) 0


int text_count(const char *s, int c);
char *text_dup(const char *s);


/* a comment with code in it: if (v > LIMIT) { v = 1; } */

static int
clamp(int v)
{
    int  r = 3;

    if (v > LIMIT) {
        return LIMIT;
    }

    r = v;
    return r;
}


static int
countdown(int n)
{
    int  steps;

    steps = 0;

    while (n > 0) {
        n--;
        steps++;
    }

    ngx_log_debug1(0, "countdown: %d steps", steps + 1);

    return steps;
}


static int
platform(void)
{
#if 0
    return 1;
#else
    return 7;
#endif
}


int
main(int argc, char **argv)
{
    char        *p;
    const char  *cmd = argv[1], *arg = argv[2], *ch = argv[3];

    switch (*cmd) {

    case 'c':
        printf("clamp(x) < 10: %d\n", clamp(atoi(arg)));
        break;

    case 'd':
        printf("%d\n", countdown(atoi(arg)));
        break;

    case 'n':
        printf("%d\n", text_count(arg, *ch));
        break;

    case 's':
        p = text_dup(arg);
        printf("%s\n", p);
        free(p);
        break;

    default:
        printf("%d\n", platform());
    }

    return 0;
}
