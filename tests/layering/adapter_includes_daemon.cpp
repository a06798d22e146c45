// Must not compile: adapters sit below the daemon and cannot see its headers.
#include "daemon/app.hpp"
