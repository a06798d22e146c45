#pragma once
// The /v1 API, /healthz, /readyz and /metrics, registered on a Router.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <string>
#include <vector>

#include "daemon/config/config.hpp"
#include "daemon/leadership.hpp"
#include "daemon/metrics.hpp"
#include "daemon/obligation_watch.hpp"
#include "daemon/release_service.hpp"
#include "daemon/http/auth.hpp"
#include "daemon/http/router.hpp"
#include "ports/store.hpp"
#include "daemon/uses_ports.hpp"

namespace promoter::daemon {

struct ApiContext {
  ReleaseService& releases;
  Store& store;
  boost::asio::any_io_executor blocking;
  Metrics& metrics;
  ObligationWatch& obligations;
  const Config& config;
  std::string version;
  const Leadership& leadership;
  const TokenRegistry& tokens;  // the operators a release lists as approvers (never their tokens)
};

void add_api_routes(Router&, ApiContext);

// Every role that may read (viewer, ci, operator): the access of each GET under /v1.
const std::vector<Role>& reader_roles();

// The HTTP status of an error value, and the one error body shape.
HttpResponse error_response(const core::Error&);

}  // namespace promoter::daemon
