/* sockdiag.c — placeholder until written. */
#include <errno.h>
