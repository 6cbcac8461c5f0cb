/* text_scan.c — placeholder until written. */
#include <errno.h>
