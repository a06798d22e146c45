// Must not compile: core is the bottom layer and sees nothing above it.
#include "ports/store.hpp"
