/* procmap.c — placeholder until written. */
#include <errno.h>
