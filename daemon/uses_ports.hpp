#pragma once
// The daemon's runtime is written against the ports (the interfaces it owns and adapters implement) and
// names them unqualified, as it did when they lived in daemon/.
namespace promoter::ports {}

namespace promoter::daemon {
using namespace promoter::ports;
}  // namespace promoter::daemon
