// Must compile: the daemon may use every layer below it (core, ports, adapters).
#include "adapters/pg_store.hpp"
#include "core/decide.hpp"
#include "daemon/app.hpp"
#include "ports/store.hpp"
