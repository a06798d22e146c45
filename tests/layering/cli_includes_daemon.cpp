// Must not compile: promotectl talks to the daemon over HTTP only, and does not link its code.
#include "daemon/config/config.hpp"
