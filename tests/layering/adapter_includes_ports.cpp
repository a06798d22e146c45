// Must compile: the allowed direction (an adapter implementing a port), the control for the probes that fail.
#include "adapters/pg_store.hpp"
#include "ports/store.hpp"
