
/* the second fixture file (see calc.c) */


#include <stdlib.h>
#include <string.h>


int
text_count(const char *s, int c)
{
    int  n;

    n = 0;

    /* each branch opens the loop's brace: only the live one is walked */
#if 0
    for ( /* void */ ; s != NULL && *s; s++) {
#else
    for ( /* void */ ; *s; s++) {
#endif
        if (*s == c) {
            n++;
        }
    }

    return n;
}


char *
text_dup(const char *s)
{
    char    *p;
    size_t   len;

    p = NULL;
    len = strlen(s);

    p = malloc(len + 1);
    if (p == NULL) {
        return NULL;
    }

    memcpy(p, s, len + 1);

    return p;
}
