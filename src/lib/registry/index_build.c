/* index_build.c — placeholder until written. */
#include <errno.h>
