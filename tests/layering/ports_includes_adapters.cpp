// Must not compile: ports are interfaces; they cannot depend on their implementations.
#include "adapters/pg_store.hpp"
