/* route_exports.c — placeholder */
#include "server/server_http.h"
const struct server_route route_exports[] = {
    { NULL, NULL, 0, 0, NULL },
};
