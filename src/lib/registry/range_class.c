/* range_class.c — placeholder until written. */
#include <errno.h>
