/* iana_csv.c — placeholder until written. */
#include <errno.h>
